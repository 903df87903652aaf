package zatca

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// Canonical XML 1.1 (https://www.w3.org/TR/xml-c14n11/), without comments,
// of a whole document. For a whole document C14N 1.1 and 1.0 agree: the
// rules that tell them apart (xml:id, xml:base fix-ups) only apply to
// document subsets. The ZATCA invoice hash (spec/zatca.md §1) is SHA-256
// over this form, and xmllint --c14n11 is the reference it is tested
// against.
//
// The tokenizer is encoding/xml's Decoder.RawToken, which also checks most
// of well-formedness. Attribute values and character data are decoded again
// from the raw input bytes (InputOffset gives each token's extent) for two
// reasons: encoding/xml does not normalise whitespace in attribute values
// (a literal tab or newline becomes a space, a character reference does
// not), and it turns a character reference to a surrogate into U+FFFD
// instead of rejecting it.

const (
	c14nXMLNamespace   = "http://www.w3.org/XML/1998/namespace"
	c14nXMLNSNamespace = "http://www.w3.org/2000/xmlns/"
)

// ErrC14NDoctype is returned (inside a *C14NError) for a document with a
// document type declaration. Nothing egsd canonicalises has one, and
// supporting one would mean entity expansion and attribute defaults.
var ErrC14NDoctype = errors.New("document type declarations are not supported")

// C14NError reports why a document could not be canonicalised.
type C14NError struct {
	Offset int64 // byte offset in the input at or just after the problem
	Err    error
}

func (e *C14NError) Error() string {
	return fmt.Sprintf("c14n: at byte %d: %v", e.Offset, e.Err)
}

func (e *C14NError) Unwrap() error { return e.Err }

// Canonicalize returns the Canonical XML 1.1 form, without comments, of the
// whole document doc: no XML declaration, comments or whitespace outside
// the document element; empty elements written as start-end pairs;
// namespace declarations only where a binding changes, sorted by prefix;
// attributes sorted by namespace URI and local name; attribute values
// normalised and text and values escaped as the specification says.
//
// doc must be a namespace-well-formed XML 1.0 document in UTF-8 without a
// DTD. Anything else is rejected with a *C14NError, including namespace
// names that are not absolute URIs (C14N requires that relative ones fail).
// The input is not modified; the result is a new slice.
func Canonicalize(doc []byte) ([]byte, error) {
	c := c14nState{out: make([]byte, 0, len(doc))}
	if err := c.run(doc); err != nil {
		return nil, err
	}
	return c.out, nil
}

// c14nScope is the namespace bindings in scope, innermost last. top
// indexes the binding in force for each prefix, and each binding links to
// the one it shadows, so that lookups stay constant-time however deep the
// document nests.
type c14nScope struct {
	b   []c14nBinding
	top map[string]int
}

type c14nBinding struct {
	prefix, uri string
	shadows     int // index in b of the binding for prefix it hides, or -1
}

// init binds the empty prefix to no namespace and xml to the XML namespace,
// as every document implicitly does.
func (s *c14nScope) init() {
	s.b = s.b[:0]
	s.top = make(map[string]int, 8)
	s.push("", "")
	s.push("xml", c14nXMLNamespace)
}

func (s *c14nScope) push(prefix, uri string) {
	i, ok := s.top[prefix]
	if !ok {
		i = -1
	}
	s.b = append(s.b, c14nBinding{prefix, uri, i})
	s.top[prefix] = len(s.b) - 1
}

func (s *c14nScope) lookup(prefix string) (uri string, ok bool) {
	i, ok := s.top[prefix]
	if !ok {
		return "", false
	}
	return s.b[i].uri, true
}

// declaredSince reports whether prefix was bound at or after mark.
func (s *c14nScope) declaredSince(mark int, prefix string) bool {
	i, ok := s.top[prefix]
	return ok && i >= mark
}

// popTo drops the bindings made at or after mark.
func (s *c14nScope) popTo(mark int) {
	for len(s.b) > mark {
		last := s.b[len(s.b)-1]
		if last.shadows < 0 {
			delete(s.top, last.prefix)
		} else {
			s.top[last.prefix] = last.shadows
		}
		s.b = s.b[:len(s.b)-1]
	}
}

type c14nOpen struct {
	name xml.Name
	mark int // len(scope.b) before the element's own declarations
}

// c14nAttr is an attribute of the start tag being written. Its name is a
// slice of the input; its value, decoded and normalised, is
// arena[val0:val1].
type c14nAttr struct {
	qname, prefix, local []byte
	uri                  string
	val0, val1           int
	decl                 bool // a namespace declaration (xmlns or xmlns:p)
}

// c14nPlace is where a token sits relative to the document element.
type c14nPlace int

const (
	c14nProlog c14nPlace = iota
	c14nInRoot
	c14nEpilog
)

type c14nState struct {
	src   []byte // doc without a byte order mark
	base  int64  // bytes dropped from the front of doc (the BOM)
	out   []byte
	scope c14nScope
	open  []c14nOpen
	attrs []c14nAttr // scratch for the current start tag
	decls []c14nAttr // scratch: declarations to write
	arena []byte     // scratch: decoded attribute values
	where c14nPlace  // where the tokens are relative to the document element
}

func (c *c14nState) fail(off int64, format string, args ...any) error {
	return &C14NError{Offset: c.base + off, Err: fmt.Errorf(format, args...)}
}

func (c *c14nState) run(doc []byte) error {
	c.begin(doc)
	d := xml.NewDecoder(bytes.NewReader(c.src))
	for {
		start := d.InputOffset()
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return &C14NError{Offset: c.base + d.InputOffset(), Err: err}
		}
		if err := c.token(tok, start, d.InputOffset()); err != nil {
			return err
		}
	}
	return c.finish()
}

// begin starts the canonicalisation of doc, token by token (token, then
// finish).
func (c *c14nState) begin(doc []byte) {
	c.src = doc
	if bytes.HasPrefix(doc, []byte("\xEF\xBB\xBF")) {
		c.src, c.base = doc[3:], 3
	}
	c.scope.init()
	c.where = c14nProlog
}

// token writes the raw token tok (xml.Decoder.RawToken), which spans
// c.src[start:end].
func (c *c14nState) token(tok xml.Token, start, end int64) error {
	raw := c.src[start:end]
	switch t := tok.(type) {
	case xml.StartElement:
		if c.where == c14nEpilog {
			return c.fail(start, "content after the document element <%s>", c14nQName(t.Name))
		}
		c.where = c14nInRoot
		if err := c.startElement(t, raw, start); err != nil {
			return err
		}
	case xml.EndElement:
		n := len(c.open)
		if n == 0 || c.open[n-1].name != t.Name {
			return c.fail(start, "end tag </%s> does not match the open element", c14nQName(t.Name))
		}
		c.out = append(c.out, "</"...)
		c.out = c14nAppendQName(c.out, t.Name)
		c.out = append(c.out, '>')
		c.scope.popTo(c.open[n-1].mark)
		c.open = c.open[:n-1]
		if n == 1 {
			c.where = c14nEpilog
		}
	case xml.CharData:
		if c.where != c14nInRoot {
			if !c14nIsSpace(raw) {
				return c.fail(start, "character data outside the document element")
			}
			return nil
		}
		if err := c.text(raw, start); err != nil {
			return err
		}
	case xml.Comment:
		if err := c14nCheckChars(t); err != nil {
			return c.fail(start, "comment: %v", err)
		}
	case xml.ProcInst:
		if t.Target == "xml" {
			// encoding/xml has checked version and encoding; the
			// declaration is dropped, but only allowed first.
			if start != 0 {
				return c.fail(start, "XML declaration allowed only at the start of the document")
			}
			return nil
		}
		if err := c.procInst(t, raw, start, c.where); err != nil {
			return err
		}
	case xml.Directive:
		if bytes.HasPrefix(t, []byte("DOCTYPE")) {
			return &C14NError{Offset: c.base + start, Err: ErrC14NDoctype}
		}
		return c.fail(start, "unexpected markup declaration <!%.20s", t)
	}
	return nil
}

// finish checks the end of the document.
func (c *c14nState) finish() error {
	if len(c.open) > 0 {
		return c.fail(int64(len(c.src)), "unexpected end of document: <%s> is not closed", c14nQName(c.open[len(c.open)-1].name))
	}
	if c.where == c14nProlog {
		return c.fail(int64(len(c.src)), "no document element")
	}
	return nil
}

func (c *c14nState) startElement(t xml.StartElement, raw []byte, off int64) error {
	if err := c14nCheckQName(t.Name); err != nil {
		return c.fail(off, "element <%s>: %v", c14nQName(t.Name), err)
	}
	if err := c.parseAttrs(raw, off, t); err != nil {
		return err
	}
	// Namespace declarations: one is written when the binding differs from
	// the one in scope at the parent (the nearest output ancestor, since
	// the whole document is output). For the root that is every declaration
	// except xmlns="", which only undeclares a non-empty default.
	mark := len(c.scope.b)
	c.decls = c.decls[:0]
	for i := range c.attrs {
		a := &c.attrs[i]
		if !a.decl {
			continue
		}
		val := c.arena[a.val0:a.val1]
		if err := c14nCheckDecl(a.local, val); err != nil {
			return c.fail(off, "element <%s>: %s: %v", c14nQName(t.Name), a.qname, err)
		}
		prefix := string(a.local)
		if c.scope.declaredSince(mark, prefix) {
			return c.fail(off, "element <%s>: %s is declared twice", c14nQName(t.Name), a.qname)
		}
		// Not yet bound on this element, so this is the parent's binding.
		// The xml prefix is bound implicitly and its declaration never written.
		if parent, _ := c.scope.lookup(prefix); parent != string(val) && prefix != "xml" {
			c.decls = append(c.decls, *a)
		}
		c.scope.push(prefix, string(val))
	}
	if t.Name.Space == "xmlns" {
		return c.fail(off, "element <%s>: the xmlns prefix is reserved", c14nQName(t.Name))
	}
	if _, ok := c.scope.lookup(t.Name.Space); !ok {
		return c.fail(off, "element <%s>: namespace prefix %q is not declared", c14nQName(t.Name), t.Name.Space)
	}
	n := 0
	for i := range c.attrs {
		a := c.attrs[i]
		if a.decl {
			continue
		}
		if len(a.prefix) > 0 {
			uri, ok := c.scope.lookup(string(a.prefix))
			if !ok {
				return c.fail(off, "element <%s>: attribute %s: namespace prefix %q is not declared", c14nQName(t.Name), a.qname, a.prefix)
			}
			a.uri = uri
		}
		c.attrs[n] = a
		n++
	}
	attrs := c.attrs[:n]
	slices.SortFunc(attrs, func(a, b c14nAttr) int {
		if a.uri != b.uri {
			if a.uri < b.uri {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.local, b.local)
	})
	for i := 1; i < len(attrs); i++ {
		if attrs[i].uri == attrs[i-1].uri && bytes.Equal(attrs[i].local, attrs[i-1].local) {
			return c.fail(off, "element <%s>: attributes %s and %s have the same name", c14nQName(t.Name), attrs[i-1].qname, attrs[i].qname)
		}
	}
	slices.SortFunc(c.decls, func(a, b c14nAttr) int { return bytes.Compare(a.local, b.local) })

	c.out = append(c.out, '<')
	c.out = c14nAppendQName(c.out, t.Name)
	for _, a := range c.decls {
		c.out = append(c.out, " xmlns"...)
		if len(a.local) > 0 {
			c.out = append(c.out, ':')
			c.out = append(c.out, a.local...)
		}
		c.out = append(c.out, `="`...)
		c.out = c14nAppendAttrValue(c.out, c.arena[a.val0:a.val1])
		c.out = append(c.out, '"')
	}
	for _, a := range attrs {
		c.out = append(c.out, ' ')
		c.out = append(c.out, a.qname...)
		c.out = append(c.out, `="`...)
		c.out = c14nAppendAttrValue(c.out, c.arena[a.val0:a.val1])
		c.out = append(c.out, '"')
	}
	c.out = append(c.out, '>')
	c.open = append(c.open, c14nOpen{name: t.Name, mark: mark})
	return nil
}

// parseAttrs reads the attributes of the raw start tag into c.attrs,
// decoding and normalising each value into c.arena. encoding/xml has
// already accepted the tag, so this only has to split it; the names are
// checked against the decoder's as a guard against the two disagreeing.
func (c *c14nState) parseAttrs(raw []byte, off int64, t xml.StartElement) error {
	c.attrs = c.attrs[:0]
	c.arena = c.arena[:0]
	i := 1 // past '<'
	for i < len(raw) && !c14nIsSpaceByte(raw[i]) && raw[i] != '/' && raw[i] != '>' {
		i++
	}
	for {
		ws := i
		for i < len(raw) && c14nIsSpaceByte(raw[i]) {
			i++
		}
		if i >= len(raw) {
			return c.fail(off, "element <%s>: truncated start tag", c14nQName(t.Name))
		}
		if raw[i] == '/' || raw[i] == '>' {
			break
		}
		if i == ws {
			return c.fail(off+int64(i), "element <%s>: attributes must be separated by white space", c14nQName(t.Name))
		}
		n0 := i
		for i < len(raw) && !c14nIsSpaceByte(raw[i]) && raw[i] != '=' {
			i++
		}
		qname := raw[n0:i]
		for i < len(raw) && c14nIsSpaceByte(raw[i]) {
			i++
		}
		if i+1 >= len(raw) || raw[i] != '=' {
			return c.fail(off+int64(i), "element <%s>: attribute %s has no value", c14nQName(t.Name), qname)
		}
		i++
		for i < len(raw) && c14nIsSpaceByte(raw[i]) {
			i++
		}
		if i >= len(raw) || (raw[i] != '"' && raw[i] != '\'') {
			return c.fail(off+int64(i), "element <%s>: attribute %s: value is not quoted", c14nQName(t.Name), qname)
		}
		q := raw[i]
		v0 := i + 1
		v1 := bytes.IndexByte(raw[v0:], q)
		if v1 < 0 {
			return c.fail(off+int64(i), "element <%s>: attribute %s: unterminated value", c14nQName(t.Name), qname)
		}
		v1 += v0
		i = v1 + 1

		a := c14nAttr{qname: qname, local: qname}
		if p, l, ok := bytes.Cut(qname, []byte(":")); ok {
			a.prefix, a.local = p, l
		}
		if !c14nIsNCName(a.local) || (a.prefix != nil && !c14nIsNCName(a.prefix)) {
			return c.fail(off, "element <%s>: %q is not a valid attribute name", c14nQName(t.Name), qname)
		}
		switch {
		case string(a.prefix) == "xmlns":
			a.decl = true
		case a.prefix == nil && string(a.local) == "xmlns":
			a.decl, a.local = true, nil
		}
		var err error
		a.val0 = len(c.arena)
		c.arena, err = c14nDecodeAttr(c.arena, raw[v0:v1])
		if err != nil {
			return c.fail(off+int64(v0), "element <%s>: attribute %s: %v", c14nQName(t.Name), qname, err)
		}
		a.val1 = len(c.arena)
		c.attrs = append(c.attrs, a)
	}
	if len(c.attrs) != len(t.Attr) {
		return c.fail(off, "element <%s>: could not split the start tag", c14nQName(t.Name))
	}
	for i, a := range t.Attr {
		if !c14nQNameIs(a.Name, c.attrs[i].qname) {
			return c.fail(off, "element <%s>: could not split the start tag", c14nQName(t.Name))
		}
	}
	return nil
}

// text writes a character data token (a run of text or one CDATA section)
// from its raw bytes: line ends normalised to LF (XML 1.0 §2.11),
// references resolved, then & < > and CR escaped.
func (c *c14nState) text(raw []byte, off int64) error {
	if body, ok := bytes.CutPrefix(raw, []byte("<![CDATA[")); ok {
		body = body[:len(body)-len("]]>")]
		for i := 0; i < len(body); i++ {
			switch b := body[i]; b {
			case '&':
				c.out = append(c.out, "&amp;"...)
			case '<':
				c.out = append(c.out, "&lt;"...)
			case '>':
				c.out = append(c.out, "&gt;"...)
			case '\r':
				c.out = append(c.out, '\n')
				if i+1 < len(body) && body[i+1] == '\n' {
					i++
				}
			default:
				c.out = append(c.out, b)
			}
		}
		return nil
	}
	for i := 0; i < len(raw); {
		switch b := raw[i]; b {
		case '&':
			r, n, err := c14nRef(raw[i:])
			if err != nil {
				return c.fail(off+int64(i), "%v", err)
			}
			i += n
			switch r {
			case '&':
				c.out = append(c.out, "&amp;"...)
			case '<':
				c.out = append(c.out, "&lt;"...)
			case '>':
				c.out = append(c.out, "&gt;"...)
			case '\r':
				c.out = append(c.out, "&#xD;"...)
			default:
				c.out = utf8.AppendRune(c.out, r)
			}
		case '>':
			c.out = append(c.out, "&gt;"...)
			i++
		case '\r':
			c.out = append(c.out, '\n')
			i++
			if i < len(raw) && raw[i] == '\n' {
				i++
			}
		default:
			j := i + 1
			for j < len(raw) && raw[j] != '&' && raw[j] != '>' && raw[j] != '\r' {
				j++
			}
			c.out = append(c.out, raw[i:j]...)
			i = j
		}
	}
	return nil
}

// procInst writes a processing instruction: a line feed separates one
// outside the document element from the element.
func (c *c14nState) procInst(t xml.ProcInst, raw []byte, off int64, where c14nPlace) error {
	if !c14nIsNCName([]byte(t.Target)) {
		return c.fail(off, "processing instruction target %q is not a valid name", t.Target)
	}
	if len(t.Target) == 3 && (t.Target[0]|0x20) == 'x' && (t.Target[1]|0x20) == 'm' && (t.Target[2]|0x20) == 'l' {
		return c.fail(off, "processing instruction target %q is reserved", t.Target)
	}
	if after := raw[2+len(t.Target):]; !c14nIsSpaceByte(after[0]) && !bytes.HasPrefix(after, []byte("?>")) {
		return c.fail(off, "processing instruction %s: white space expected after the target", t.Target)
	}
	if err := c14nCheckChars(t.Inst); err != nil {
		return c.fail(off, "processing instruction %s: %v", t.Target, err)
	}
	if where == c14nEpilog {
		c.out = append(c.out, '\n')
	}
	c.out = append(c.out, "<?"...)
	c.out = append(c.out, t.Target...)
	if len(t.Inst) > 0 {
		c.out = append(c.out, ' ')
		for i := 0; i < len(t.Inst); i++ {
			b := t.Inst[i]
			if b == '\r' {
				b = '\n'
				if i+1 < len(t.Inst) && t.Inst[i+1] == '\n' {
					i++
				}
			}
			c.out = append(c.out, b)
		}
	}
	c.out = append(c.out, "?>"...)
	if where == c14nProlog {
		c.out = append(c.out, '\n')
	}
	return nil
}

// c14nDecodeAttr appends the normalised value of an attribute (XML 1.0
// §3.3.3, CDATA type since there is no DTD) to dst: references resolved,
// and each literal tab, line feed, carriage return or CR LF pair a space.
func c14nDecodeAttr(dst, raw []byte) ([]byte, error) {
	for i := 0; i < len(raw); {
		switch b := raw[i]; b {
		case '&':
			r, n, err := c14nRef(raw[i:])
			if err != nil {
				return dst, err
			}
			dst = utf8.AppendRune(dst, r)
			i += n
		case '\r':
			dst = append(dst, ' ')
			i++
			if i < len(raw) && raw[i] == '\n' {
				i++
			}
		case '\n', '\t':
			dst = append(dst, ' ')
			i++
		case '<':
			return dst, errors.New("< in attribute value")
		default:
			dst = append(dst, b)
			i++
		}
	}
	return dst, nil
}

// c14nAppendAttrValue escapes a normalised attribute value.
func c14nAppendAttrValue(dst, v []byte) []byte {
	for _, b := range v {
		switch b {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '"':
			dst = append(dst, "&quot;"...)
		case '\t':
			dst = append(dst, "&#x9;"...)
		case '\n':
			dst = append(dst, "&#xA;"...)
		case '\r':
			dst = append(dst, "&#xD;"...)
		default:
			dst = append(dst, b)
		}
	}
	return dst
}

// c14nRef decodes the entity or character reference at the start of s
// (which begins with '&') and returns the character and the reference's
// length. Only the five predefined entities exist without a DTD.
func c14nRef(s []byte) (rune, int, error) {
	semi := bytes.IndexByte(s, ';')
	if semi < 0 {
		return 0, 0, errors.New("reference without ';'")
	}
	name := s[1:semi]
	if len(name) > 1 && name[0] == '#' {
		digits, base := name[1:], rune(10)
		if digits[0] == 'x' {
			digits, base = digits[1:], 16
		}
		if len(digits) == 0 {
			return 0, 0, fmt.Errorf("invalid character reference &%s;", name)
		}
		var r rune
		for _, d := range digits {
			var v rune
			switch {
			case '0' <= d && d <= '9':
				v = rune(d - '0')
			case base == 16 && 'a' <= d && d <= 'f':
				v = rune(d-'a') + 10
			case base == 16 && 'A' <= d && d <= 'F':
				v = rune(d-'A') + 10
			default:
				return 0, 0, fmt.Errorf("invalid character reference &%s;", name)
			}
			r = r*base + v
			if r > utf8.MaxRune {
				return 0, 0, fmt.Errorf("character reference &%s; is out of range", name)
			}
		}
		if !c14nIsChar(r) {
			return 0, 0, fmt.Errorf("character reference &%s; is not an XML character", name)
		}
		return r, semi + 1, nil
	}
	switch string(name) {
	case "lt":
		return '<', semi + 1, nil
	case "gt":
		return '>', semi + 1, nil
	case "amp":
		return '&', semi + 1, nil
	case "apos":
		return '\'', semi + 1, nil
	case "quot":
		return '"', semi + 1, nil
	}
	return 0, 0, fmt.Errorf("undefined entity &%s;", name)
}

// c14nCheckDecl checks a namespace declaration against Namespaces in XML
// 1.0 §3 and C14N's requirement that relative namespace URIs fail.
func c14nCheckDecl(prefix, uri []byte) error {
	switch {
	case string(prefix) == "xmlns":
		return errors.New("the xmlns prefix cannot be declared")
	case string(prefix) == "xml":
		if string(uri) != c14nXMLNamespace {
			return errors.New("the xml prefix cannot be bound to another namespace")
		}
		return nil
	case string(uri) == c14nXMLNamespace:
		return errors.New("the XML namespace can only be bound to the xml prefix")
	case string(uri) == c14nXMLNSNamespace:
		return errors.New("the xmlns namespace cannot be declared")
	case len(uri) == 0:
		if len(prefix) > 0 {
			return errors.New("a prefix cannot be undeclared in XML 1.0")
		}
		return nil
	}
	return c14nCheckURI(uri)
}

// c14nCheckURI accepts an absolute URI (RFC 3986 §4.3, with a fragment
// allowed as namespace names do): a scheme, then only URI characters, with
// every % starting an escape. libxml2, the reference, refuses to
// canonicalise a document whose namespace names fail its URI parser.
func c14nCheckURI(u []byte) error {
	colon := bytes.IndexByte(u, ':')
	if colon <= 0 || !c14nIsAlpha(u[0]) {
		return fmt.Errorf("namespace name %q is not an absolute URI", u)
	}
	for _, b := range u[1:colon] {
		if !c14nIsAlpha(b) && !('0' <= b && b <= '9') && b != '+' && b != '-' && b != '.' {
			return fmt.Errorf("namespace name %q is not an absolute URI", u)
		}
	}
	rest := u[colon+1:]
	// Brackets only delimit an IP literal host in the authority.
	authority := 0
	if bytes.HasPrefix(rest, []byte("//")) {
		authority = 2
		for authority < len(rest) && rest[authority] != '/' && rest[authority] != '?' && rest[authority] != '#' {
			authority++
		}
	}
	fragment := false
	for i := 0; i < len(rest); i++ {
		b := rest[i]
		switch {
		case c14nIsAlpha(b) || '0' <= b && b <= '9':
		case bytes.IndexByte([]byte("-._~!$&'()*+,;=:@/?"), b) >= 0:
		case b == '%':
			if i+2 >= len(rest) || !c14nIsHex(rest[i+1]) || !c14nIsHex(rest[i+2]) {
				return fmt.Errorf("namespace name %q has a bad %% escape", u)
			}
			i += 2
		case (b == '[' || b == ']') && i < authority:
		case b == '#' && !fragment:
			fragment = true
		default:
			return fmt.Errorf("namespace name %q is not a valid URI", u)
		}
	}
	return nil
}

func c14nQName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func c14nAppendQName(dst []byte, n xml.Name) []byte {
	if n.Space != "" {
		dst = append(dst, n.Space...)
		dst = append(dst, ':')
	}
	return append(dst, n.Local...)
}

func c14nQNameIs(n xml.Name, qname []byte) bool {
	if n.Space == "" {
		return string(qname) == n.Local
	}
	return len(qname) == len(n.Space)+1+len(n.Local) &&
		string(qname[:len(n.Space)]) == n.Space && qname[len(n.Space)] == ':' &&
		string(qname[len(n.Space)+1:]) == n.Local
}

// c14nCheckQName checks an element name: encoding/xml splits at a colon but
// accepts names no XML parser would (a leading digit, a trailing colon).
func c14nCheckQName(n xml.Name) error {
	if !c14nIsNCName([]byte(n.Local)) || (n.Space != "" && !c14nIsNCName([]byte(n.Space))) {
		return errors.New("not a valid element name")
	}
	return nil
}

// c14nIsNCName reports whether s is a name without a colon, by the XML 1.0
// fifth edition NameStartChar and NameChar productions (as libxml2 uses).
func c14nIsNCName(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			return false
		}
		if !c14nIsNameStart(r) && (i == 0 || !c14nIsNameRest(r)) {
			return false
		}
		i += n
	}
	return true
}

func c14nIsNameStart(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', r == '_':
		return true
	case r < 0xC0:
		return false
	}
	return r <= 0xD6 || 0xD8 <= r && r <= 0xF6 || 0xF8 <= r && r <= 0x2FF ||
		0x370 <= r && r <= 0x37D || 0x37F <= r && r <= 0x1FFF || 0x200C <= r && r <= 0x200D ||
		0x2070 <= r && r <= 0x218F || 0x2C00 <= r && r <= 0x2FEF || 0x3001 <= r && r <= 0xD7FF ||
		0xF900 <= r && r <= 0xFDCF || 0xFDF0 <= r && r <= 0xFFFD || 0x10000 <= r && r <= 0xEFFFF
}

func c14nIsNameRest(r rune) bool {
	return r == '-' || r == '.' || '0' <= r && r <= '9' || r == 0xB7 ||
		0x300 <= r && r <= 0x36F || 0x203F <= r && r <= 0x2040
}

// c14nIsChar is the XML 1.0 Char production.
func c14nIsChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || 0x20 <= r && r <= 0xD7FF ||
		0xE000 <= r && r <= 0xFFFD || 0x10000 <= r && r <= 0x10FFFF
}

// c14nCheckChars checks content that encoding/xml passes through unchecked
// (comments, processing instructions).
func c14nCheckChars(s []byte) error {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			return errors.New("invalid UTF-8")
		}
		if !c14nIsChar(r) {
			return fmt.Errorf("illegal character %U", r)
		}
		i += n
	}
	return nil
}

func c14nIsSpaceByte(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func c14nIsSpace(s []byte) bool {
	for _, b := range s {
		if !c14nIsSpaceByte(b) {
			return false
		}
	}
	return true
}

func c14nIsAlpha(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }

func c14nIsHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

package zatca

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"unicode/utf8"
)

// errNotPlain stops Verify's fast reading (plainTokens, plainDecoder) at
// anything it leaves to encoding/xml, which then reads the whole document
// again: Verify's answer is the same either way.
var errNotPlain = errors.New("zatca: not a plain document")

// plainTokens gives the raw tokens of a document as xml.Decoder.RawToken
// gives them (the same tokens, with the same offsets) for the plain XML
// that egsd and ZATCA write, and stops with errNotPlain at anything else:
// a carriage return or byte order mark anywhere, a comment, CDATA section,
// document type or other declaration, a processing instruction other than
// the XML declaration of version 1.0 in UTF-8 at the start, a reference
// other than the five predefined entities, a name with a character beyond
// ASCII or a colon at its edge, and every error (of syntax, encoding or
// characters), which xml.Decoder then reports in its own words.
type plainTokens struct {
	b       []byte
	i       int
	closing bool // the last start tag was empty: its end element is next
	toClose xml.Name
	names   map[string]xml.Name // each name read, split, so that it is one string
}

// newPlainTokens returns the tokenizer for doc, or false when doc is not
// plain from the start.
func newPlainTokens(doc []byte) (*plainTokens, bool) {
	if bytes.IndexByte(doc, '\r') >= 0 || bytes.HasPrefix(doc, []byte("\xEF\xBB\xBF")) {
		return nil, false
	}
	return &plainTokens{b: doc, names: make(map[string]xml.Name, 64)}, true
}

// InputOffset is xml.Decoder.InputOffset: the end of the last token.
func (p *plainTokens) InputOffset() int64 { return int64(p.i) }

// RawToken is xml.Decoder.RawToken for a plain document.
func (p *plainTokens) RawToken() (xml.Token, error) {
	if p.closing {
		p.closing = false
		return xml.EndElement{Name: p.toClose}, nil
	}
	if p.i >= len(p.b) {
		return nil, io.EOF
	}
	if p.b[p.i] != '<' {
		data, ok := p.text(-1)
		if !ok {
			return nil, errNotPlain
		}
		return xml.CharData(data), nil
	}
	p.i++
	if p.i >= len(p.b) {
		return nil, errNotPlain
	}
	switch p.b[p.i] {
	case '/':
		p.i++
		name, ok := p.name()
		if !ok {
			return nil, errNotPlain
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '>' {
			return nil, errNotPlain
		}
		p.i++
		return xml.EndElement{Name: name}, nil
	case '?':
		return p.declaration()
	case '!':
		return nil, errNotPlain
	}
	name, ok := p.name()
	if !ok {
		return nil, errNotPlain
	}
	var attrs []xml.Attr
	for {
		p.space()
		if p.i >= len(p.b) {
			return nil, errNotPlain
		}
		switch p.b[p.i] {
		case '/':
			if p.i+1 >= len(p.b) || p.b[p.i+1] != '>' {
				return nil, errNotPlain
			}
			p.i += 2
			p.closing, p.toClose = true, name
			return xml.StartElement{Name: name, Attr: attrs}, nil
		case '>':
			p.i++
			return xml.StartElement{Name: name, Attr: attrs}, nil
		}
		an, ok := p.name()
		if !ok {
			return nil, errNotPlain
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '=' {
			return nil, errNotPlain
		}
		p.i++
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' && p.b[p.i] != '\'' {
			return nil, errNotPlain
		}
		q := p.b[p.i]
		p.i++
		val, ok := p.text(int(q))
		if !ok {
			return nil, errNotPlain
		}
		attrs = append(attrs, xml.Attr{Name: an, Value: string(val)})
	}
}

// plainDeclaration is the XML declaration plainTokens takes, after "<?".
const plainDeclaration = `xml version="1.0" encoding="UTF-8"?>`

func (p *plainTokens) declaration() (xml.Token, error) {
	if p.i != 1 || !bytes.HasPrefix(p.b[p.i+1:], []byte(plainDeclaration)) {
		return nil, errNotPlain
	}
	p.i += 1 + len(plainDeclaration)
	inst := plainDeclaration[len("xml ") : len(plainDeclaration)-len("?>")]
	return xml.ProcInst{Target: "xml", Inst: []byte(inst)}, nil
}

// space skips what xml.Decoder skips as white space inside tags (a
// carriage return cannot occur).
func (p *plainTokens) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\n' || p.b[p.i] == '\t') {
		p.i++
	}
}

// name reads a name of ASCII name characters that starts with a letter,
// '_' or ':' (xml.Decoder's rule for ASCII names), split at its one colon
// as xml.Decoder splits it.
func (p *plainTokens) name() (xml.Name, bool) {
	j := p.i
	for j < len(p.b) && plainNameByte(p.b[j]) {
		j++
	}
	if j == p.i || j < len(p.b) && p.b[j] >= utf8.RuneSelf {
		return xml.Name{}, false
	}
	s := p.b[p.i:j]
	if c := s[0]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':') {
		return xml.Name{}, false
	}
	n, ok := p.names[string(s)]
	if !ok {
		colon := bytes.IndexByte(s, ':')
		switch {
		case colon < 0:
			n.Local = string(s)
		case colon == 0 || colon == len(s)-1 || bytes.IndexByte(s[colon+1:], ':') >= 0:
			return xml.Name{}, false
		default:
			n.Space, n.Local = string(s[:colon]), string(s[colon+1:])
		}
		p.names[string(s)] = n
	}
	p.i = j
	return n, true
}

func plainNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

// text reads character data up to '<' (quote < 0) or an attribute value up
// to its closing quote, which it consumes, as xml.Decoder's text does. The
// bytes returned are the input's own unless a reference was replaced.
func (p *plainTokens) text(quote int) ([]byte, bool) {
	start := p.i
	var out []byte // the text so far once a reference was replaced; nil before
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '<':
			if quote >= 0 {
				return nil, false
			}
			return plainText(out, p.b[start:p.i]), true
		case quote >= 0 && int(c) == quote:
			t := plainText(out, p.b[start:p.i])
			p.i++
			return t, true
		case c == '&':
			r, n := plainEntity(p.b[p.i:])
			if n == 0 {
				return nil, false
			}
			out = append(append(out, p.b[start:p.i]...), r)
			p.i += n
			start = p.i
			continue
		case c == '>' && quote < 0 && p.i-2 >= start && p.b[p.i-1] == ']' && p.b[p.i-2] == ']':
			return nil, false // "]]>" outside a CDATA section
		case c < 0x20:
			if c != '\t' && c != '\n' {
				return nil, false
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 || !plainChar(r) {
				return nil, false
			}
			p.i += size
			continue
		}
		p.i++
	}
	if quote >= 0 {
		return nil, false
	}
	return plainText(out, p.b[start:p.i]), true
}

// plainText is out followed by the last run of input, or that run alone.
func plainText(out, run []byte) []byte {
	if out == nil {
		return run
	}
	return append(out, run...)
}

// plainEntity decodes one of the five predefined entities at the start of
// s, returning its character and the reference's length, or a length of 0.
func plainEntity(s []byte) (byte, int) {
	for _, e := range [...]struct {
		ref string
		c   byte
	}{{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&apos;", '\''}, {"&quot;", '"'}} {
		if bytes.HasPrefix(s, []byte(e.ref)) {
			return e.c, len(e.ref)
		}
	}
	return 0, 0
}

// plainChar is XML's Char production for characters beyond ASCII.
func plainChar(r rune) bool {
	return r >= 0x80 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// Package strictjson decodes a JSON request body exactly as the API
// documents it: one value and nothing after it, valid UTF-8, every key a
// documented field name spelt exactly (names are case-sensitive), no key
// twice in an object at any depth, no lone surrogate escapes, and each
// value of the JSON kind its field takes. encoding/json alone matches names
// case-insensitively and lets the last of two equal keys win, so that a
// body could say one thing to a reader and another to egsd.
//
// Every error is an *Error that names the field by its path
// ("lines[2].quantity") or, for the body as a whole, "body"; byte
// positions in messages count from 1.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays a body may have.
// The API's bodies nest four levels at most (a sale's buyer address).
const MaxDepth = 32

// Body is the field name of errors about the body as a whole.
const Body = "body"

// Error is one problem with a body: Field is the path of the value ("kind",
// "lines[2].quantity") or Body, and Rule says what is wrong and what the
// field must be. Got and Want are set when a value has the wrong JSON kind:
// what the body has ("number") and what the field takes ("string").
type Error struct {
	Field string
	Rule  string
	Got   string
	Want  string
}

func (e *Error) Error() string { return e.Field + ": " + e.Rule }

// Decode decodes data, one JSON value, into v, a non-nil pointer to a zero
// value. what names the body in messages ("a sale"; "" for "this
// request"). It returns nil or an *Error, and leaves v's contents
// unspecified when it returns an error.
func Decode(data []byte, v any, what string) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("strictjson: Decode needs a non-nil pointer, not %T", v)
	}
	if cleanBody(data, namesOf(rv.Type().Elem())) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if dec.Decode(v) == nil && len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) == 0 {
			return nil
		}
		rv.Elem().SetZero() // the walker names the problem
	}
	return decodeWalking(data, rv, what)
}

// decodeWalking is Decode by the walker alone.
func decodeWalking(data []byte, rv reflect.Value, what string) error {
	v := rv.Interface()
	if !utf8.Valid(data) {
		return &Error{Field: Body, Rule: fmt.Sprintf("is not valid UTF-8 (byte %d); send the body in UTF-8", invalidUTF8At(data)+1)}
	}
	w := walker{dec: json.NewDecoder(bytes.NewReader(data)), data: data, what: what}
	w.dec.UseNumber()
	if err := w.value(rv.Type().Elem(), ""); err != nil {
		return w.bodyError(err)
	}
	end := w.dec.InputOffset()
	if _, err := w.dec.Token(); err != io.EOF {
		rest := data[end:]
		at := end + int64(len(rest)-len(bytes.TrimLeft(rest, " \t\r\n")))
		return &Error{Field: Body, Rule: fmt.Sprintf("has data after %s, at byte %d; send exactly one JSON object", objectOf(what), at+1)}
	}
	// Every key and kind is known good: the standard decoder fills v.
	if err := json.Unmarshal(data, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return &Error{Field: typeErr.Field, Rule: "is not valid: " + strings.TrimPrefix(err.Error(), "json: ")}
		}
		return &Error{Field: Body, Rule: "is not valid: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	return nil
}

// objectOf is "the sale object" for what "a sale", else "the JSON object".
func objectOf(what string) string { return "the " + objectNoun(what) }

// objectNoun is "sale object" for what "a sale", else "JSON object".
func objectNoun(what string) string {
	for _, article := range []string{"a ", "an "} {
		if noun, ok := strings.CutPrefix(what, article); ok {
			return noun + " object"
		}
	}
	return "JSON object"
}

func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// walker reads the body token by token alongside the Go type it decodes
// into, checking what encoding/json lets pass.
type walker struct {
	dec   *json.Decoder
	data  []byte
	what  string
	depth int
}

// bodyError turns a tokeniser error into an *Error about the body.
func (w *walker) bodyError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &syntaxErr):
		// The tokeniser's offsets count from where it resumed; a whole
		// scan of the body finds the byte itself.
		var v any
		if errors.As(json.Unmarshal(w.data, &v), &syntaxErr) && syntaxErr.Offset < int64(len(w.data)) {
			err = syntaxErr
		}
		off := min(int(syntaxErr.Offset), len(w.data))
		line := 1 + bytes.Count(w.data[:off], []byte("\n"))
		return &Error{Field: Body, Rule: fmt.Sprintf("is not valid JSON (line %d, byte %d): %s", line, syntaxErr.Offset, strings.TrimPrefix(syntaxErr.Error(), "json: "))}
	case errors.Is(err, io.EOF) && len(bytes.TrimSpace(w.data)) == 0:
		return &Error{Field: Body, Rule: "is empty; send " + w.objectArticle()}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Field: Body, Rule: fmt.Sprintf("is truncated JSON: it ends after byte %d, before the value is complete", len(w.data))}
	}
	return &Error{Field: Body, Rule: "is not valid JSON: " + err.Error()}
}

// objectArticle is "a JSON sale object" for what "a sale", else "a JSON object".
func (w *walker) objectArticle() string {
	if noun := objectNoun(w.what); noun != "JSON object" {
		return "a JSON " + noun
	}
	return "a JSON object"
}

// token reads the next token and checks the escapes of a string in it.
func (w *walker) token(path string) (json.Token, error) {
	start := w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		return nil, err
	}
	if _, ok := tok.(string); ok {
		if esc, bad := loneSurrogate(w.data[start:w.dec.InputOffset()]); bad {
			return nil, &Error{Field: fieldOrBody(path), Rule: fmt.Sprintf(`contains the escape %s, half of a surrogate pair, which is not a character; send the character itself or both halves of its pair`, esc)}
		}
	}
	return tok, nil
}

// loneSurrogate finds a \uD800–\uDFFF escape that is not half of a pair
// in raw, which holds one string token (and the separators before it).
// encoding/json would decode it silently to U+FFFD.
func loneSurrogate(raw []byte) (string, bool) {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 < len(raw) && raw[i+1] != 'u' {
			i++ // a two-byte escape such as \\ or \"
			continue
		}
		r, ok := hex4(raw, i+2)
		if !ok {
			continue // the tokeniser has refused it already
		}
		switch {
		case r >= 0xD800 && r < 0xDC00:
			low, ok := hex4(raw, i+8)
			if i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' && ok && low >= 0xDC00 && low < 0xE000 {
				i += 11
				continue
			}
			return string(raw[i : i+6]), true
		case r >= 0xDC00 && r < 0xE000:
			return string(raw[i : i+6]), true
		}
		i += 5
	}
	return "", false
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[at:at+4]), 16, 16)
	return rune(n), err == nil
}

func fieldOrBody(path string) string {
	if path == "" {
		return Body
	}
	return path
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// value reads one value that decodes into t at path.
func (w *walker) value(t reflect.Type, path string) error {
	tok, err := w.token(path)
	if err != nil {
		return err
	}
	if tok == nil { // null leaves any Go value as it is
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		// The type reads its own JSON: check only keys and escapes.
		return w.skip(tok, path)
	}
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			return w.kindError(path, tok, "object")
		}
		return w.object(path, func(key, sub string) error {
			f, ok := fieldsOf(t)[key]
			if !ok {
				return w.unknownField(t, key, sub)
			}
			return w.value(f, sub)
		})
	case reflect.Map:
		if tok != json.Delim('{') {
			return w.kindError(path, tok, "object")
		}
		if t.Key().Kind() != reflect.String {
			return w.skipRest(json.Delim('{'), path)
		}
		return w.object(path, func(_, sub string) error { return w.value(t.Elem(), sub) })
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 { // []byte is a base64 string
			return w.want(path, tok, "string")
		}
		if tok != json.Delim('[') {
			return w.kindError(path, tok, "array")
		}
		if err := w.enter(path); err != nil {
			return err
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		w.depth--
		_, err := w.dec.Token() // ']'
		return err
	case reflect.String:
		return w.want(path, tok, "string")
	case reflect.Bool:
		return w.want(path, tok, "boolean")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if err := w.want(path, tok, "number"); err != nil {
			return err
		}
		if _, err := strconv.ParseInt(string(tok.(json.Number)), 10, t.Bits()); err != nil {
			return &Error{Field: fieldOrBody(path), Rule: fmt.Sprintf("must be a whole number that fits %d bits, not %s", t.Bits(), tok)}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if err := w.want(path, tok, "number"); err != nil {
			return err
		}
		if _, err := strconv.ParseUint(string(tok.(json.Number)), 10, t.Bits()); err != nil {
			return &Error{Field: fieldOrBody(path), Rule: fmt.Sprintf("must be a whole number from 0 that fits %d bits, not %s", t.Bits(), tok)}
		}
	case reflect.Float32, reflect.Float64:
		if err := w.want(path, tok, "number"); err != nil {
			return err
		}
		if _, err := strconv.ParseFloat(string(tok.(json.Number)), t.Bits()); err != nil {
			return &Error{Field: fieldOrBody(path), Rule: fmt.Sprintf("must be a number that fits a %d-bit float, not %s", t.Bits(), tok)}
		}
	default: // interfaces and the like take any value
		return w.skip(tok, path)
	}
	return nil
}

// object reads the members of an object whose '{' was read, refusing a
// key that appears twice, and hands each key and its path to member.
func (w *walker) object(path string, member func(key, sub string) error) error {
	if err := w.enter(path); err != nil {
		return err
	}
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.token(path)
		if err != nil {
			return err
		}
		key := tok.(string) // the tokeniser allows only strings as keys
		sub := pathSegment(key)
		if path != "" {
			sub = path + "." + sub
		}
		if seen[key] {
			return &Error{Field: sub, Rule: "appears twice in the object; send each field once"}
		}
		seen[key] = true
		if err := member(key, sub); err != nil {
			return err
		}
	}
	w.depth--
	_, err := w.dec.Token() // '}'
	return err
}

// pathSegment is key as it appears in a field path: as it is when it is a
// plain name, else quoted, so that "" or "a.b" cannot read as another path.
func pathSegment(key string) string {
	if key == "" {
		return `""`
	}
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return strconv.Quote(key)
		}
	}
	return key
}

func (w *walker) enter(path string) error {
	w.depth++
	if w.depth > MaxDepth {
		return &Error{Field: fieldOrBody(path), Rule: fmt.Sprintf("nests objects and arrays deeper than %d levels", MaxDepth)}
	}
	return nil
}

// skip reads the rest of a value whose first token is tok, of any shape,
// still refusing repeated keys and lone surrogates.
func (w *walker) skip(tok json.Token, path string) error {
	switch tok {
	case json.Delim('{'):
		return w.object(path, func(_, sub string) error {
			next, err := w.token(sub)
			if err != nil {
				return err
			}
			return w.skip(next, sub)
		})
	case json.Delim('['):
		return w.skipRest(tok, path)
	}
	return nil
}

// skipRest reads the elements of an array (or the members of a map with
// non-string keys) whose opening delimiter was read.
func (w *walker) skipRest(open json.Token, path string) error {
	if open == json.Delim('{') { // a map with keys of another kind than string
		return w.skip(open, path)
	}
	if err := w.enter(path); err != nil {
		return err
	}
	for i := 0; w.dec.More(); i++ {
		sub := fmt.Sprintf("%s[%d]", path, i)
		next, err := w.token(sub)
		if err != nil {
			return err
		}
		if err := w.skip(next, sub); err != nil {
			return err
		}
	}
	w.depth--
	_, err := w.dec.Token()
	return err
}

func (w *walker) want(path string, tok json.Token, kind string) error {
	if kindOf(tok) != kind {
		return w.kindError(path, tok, kind)
	}
	return nil
}

func (w *walker) kindError(path string, tok json.Token, want string) error {
	got := kindOf(tok)
	return &Error{Field: fieldOrBody(path), Rule: fmt.Sprintf("must be a JSON %s, not %s", want, article(got)), Got: got, Want: want}
}

func article(kind string) string {
	switch kind {
	case "object", "array":
		return "an " + kind
	case "string", "number", "boolean":
		return "a " + kind
	}
	return kind
}

func kindOf(tok json.Token) string {
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '{' {
			return "object"
		}
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

// unknownField explains a key that names no field of t: a different case
// of a field's name, or not a field at all.
func (w *walker) unknownField(t reflect.Type, key, sub string) error {
	for name := range fieldsOf(t) {
		if strings.EqualFold(name, key) {
			return &Error{Field: sub, Rule: fmt.Sprintf("is not a field of %s; field names are case-sensitive — did you mean %q?", w.whatOrDefault(), name)}
		}
	}
	return &Error{Field: sub, Rule: fmt.Sprintf("is not a field of %s; check the spelling against docs/api.md", w.whatOrDefault())}
}

func (w *walker) whatOrDefault() string {
	if w.what == "" {
		return "this request"
	}
	return w.what
}

// fieldCache holds fieldsOf's answer per struct type.
var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// fieldsOf maps the JSON names of t's fields to their types, as
// encoding/json names them: the tag's name, else the Go name; "-" and
// unexported fields left out; an untagged embedded struct's fields
// promoted.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			for k, v := range fieldsOf(ft) {
				if _, shadowed := m[k]; !shadowed {
					m[k] = v
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}

package zatca

import (
	"encoding/xml"
	"io"
	"reflect"
	"strings"
	"sync"
)

// plainDecoder decodes a view struct from the raw tokens of a plain
// document (verifyReader over plainTokens) as xml.Decoder.Decode decodes
// it from the same tokens: the same namespace translation of element
// names, and the same matching of fields (encoding/xml's unmarshal,
// unmarshalPath and Skip, for the kinds of field a view has: strings,
// structs and slices of structs; attributes and character data into
// strings). Whatever else it meets stops it with errNotPlain.
//
// The namespace bindings are those of the invoice hash's scan, which
// reads the same tokens first: for a document the scan accepts, they
// translate a prefixed element name as xml.Decoder does, except for the
// names xml.Decoder treats apart (the xml and xmlns prefixes, an element
// named xmlns), which stop the decoder.
type plainDecoder struct {
	r     *verifyReader
	depth int
}

// plainMaxDepth bounds the nesting the decoder follows (xml.Decoder's
// bound is far deeper than any invoice; the decoder leaves deeper ones to
// it).
const plainMaxDepth = 256

// next returns the next token with its element name translated.
func (d *plainDecoder) next() (xml.Token, error) {
	tok, err := d.r.Token()
	if err != nil {
		if err == io.EOF {
			return nil, errNotPlain // xml.Decoder reports the end
		}
		return nil, err
	}
	switch t := tok.(type) {
	case xml.StartElement:
		if d.depth++; d.depth > plainMaxDepth || d.r.cutErr != nil {
			return nil, errNotPlain
		}
		for _, a := range t.Attr {
			if a.Name.Space == "xmlns" && (a.Name.Local == "xml" || a.Name.Local == "xmlns") {
				return nil, errNotPlain
			}
		}
		switch t.Name.Space {
		case "xml", "xmlns":
			return nil, errNotPlain
		case "":
			if t.Name.Local == "xmlns" {
				return nil, errNotPlain
			}
		}
		uri, ok := d.r.cuts.scope.lookup(t.Name.Space)
		if !ok {
			return nil, errNotPlain
		}
		t.Name.Space = uri
		return t, nil
	case xml.EndElement:
		d.depth--
	case xml.Comment, xml.Directive:
		return nil, errNotPlain
	}
	return tok, nil
}

// decode is xml.Decoder.Decode(v), v a pointer to a view struct.
func (d *plainDecoder) decode(v any) error {
	rv := reflect.ValueOf(v).Elem()
	for {
		tok, err := d.next()
		if err != nil {
			return err
		}
		if t, ok := tok.(xml.StartElement); ok {
			return d.unmarshal(rv, &t)
		}
	}
}

// unmarshal is encoding/xml's unmarshal for the kinds of a view.
func (d *plainDecoder) unmarshal(v reflect.Value, start *xml.StartElement) error {
	var (
		data     []byte
		saveData reflect.Value
		sv       reflect.Value
		tinfo    *plainTypeInfo
	)
	switch v.Kind() {
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Struct {
			return errNotPlain
		}
		n := v.Len()
		v.Grow(1)
		v.SetLen(n + 1)
		if err := d.unmarshal(v.Index(n), start); err != nil {
			v.SetLen(n)
			return err
		}
		return nil
	case reflect.String:
		saveData = v
	case reflect.Struct:
		sv = v
		var err error
		if tinfo, err = plainTypeInfoOf(v.Type()); err != nil {
			return err
		}
		for _, a := range start.Attr {
			for i := range tinfo.fields {
				f := &tinfo.fields[i]
				if f.mode == plainAttr && a.Name.Local == f.name {
					sv.Field(f.index).SetString(a.Value)
				}
			}
		}
		for i := range tinfo.fields {
			if f := &tinfo.fields[i]; f.mode == plainCharData && !saveData.IsValid() {
				saveData = sv.Field(f.index)
			}
		}
	default:
		return errNotPlain
	}
	for {
		tok, err := d.next()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			consumed := false
			if sv.IsValid() {
				if consumed, err = d.unmarshalPath(tinfo, sv, nil, &t); err != nil {
					return err
				}
			}
			if !consumed {
				if err := d.skip(); err != nil {
					return err
				}
			}
		case xml.EndElement:
			if saveData.IsValid() {
				saveData.SetString(string(data))
			}
			return nil
		case xml.CharData:
			if saveData.IsValid() {
				data = append(data, t...)
			}
		}
	}
}

// unmarshalPath is encoding/xml's unmarshalPath: it finds the field the
// element start is for, directly or as a parent on the field's path.
func (d *plainDecoder) unmarshalPath(tinfo *plainTypeInfo, sv reflect.Value, parents []string, start *xml.StartElement) (consumed bool, err error) {
	recurse := false
Fields:
	for i := range tinfo.fields {
		f := &tinfo.fields[i]
		if f.mode != plainElement || len(f.parents) < len(parents) || f.xmlns != "" && f.xmlns != start.Name.Space {
			continue
		}
		for j := range parents {
			if parents[j] != f.parents[j] {
				continue Fields
			}
		}
		if len(f.parents) == len(parents) && f.name == start.Name.Local {
			return true, d.unmarshal(sv.Field(f.index), start)
		}
		if len(f.parents) > len(parents) && f.parents[len(parents)] == start.Name.Local {
			recurse = true
			parents = f.parents[:len(parents)+1]
			break
		}
	}
	if !recurse {
		return false, nil
	}
	for {
		tok, err := d.next()
		if err != nil {
			return true, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			consumed, err := d.unmarshalPath(tinfo, sv, parents, &t)
			if err != nil {
				return true, err
			}
			if !consumed {
				if err := d.skip(); err != nil {
					return true, err
				}
			}
		case xml.EndElement:
			return true, nil
		}
	}
}

// skip is xml.Decoder.Skip.
func (d *plainDecoder) skip() error {
	depth := 0
	for {
		tok, err := d.next()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			if depth == 0 {
				return nil
			}
			depth--
		}
	}
}

type plainMode int

const (
	plainElement plainMode = iota
	plainAttr
	plainCharData
)

// plainField is a struct field as encoding/xml's typeInfo describes it.
type plainField struct {
	index   int
	mode    plainMode
	xmlns   string
	name    string
	parents []string
}

type plainTypeInfo struct{ fields []plainField }

var plainTypeInfos sync.Map // reflect.Type → *plainTypeInfo, or errNotPlain

// plainTypeInfoOf reads the xml tags of a view struct: "[namespace ]a>b>c"
// for an element, "name,attr" and ",chardata". A field without a tag, or
// with any other tag, is left to encoding/xml (errNotPlain).
func plainTypeInfoOf(typ reflect.Type) (*plainTypeInfo, error) {
	if v, ok := plainTypeInfos.Load(typ); ok {
		if ti, ok := v.(*plainTypeInfo); ok {
			return ti, nil
		}
		return nil, errNotPlain
	}
	ti := &plainTypeInfo{}
	for i := range typ.NumField() {
		sf := typ.Field(i)
		tag, ok := sf.Tag.Lookup("xml")
		if !ok || !sf.IsExported() || sf.Anonymous || tag == "-" {
			plainTypeInfos.Store(typ, errNotPlain)
			return nil, errNotPlain
		}
		f := plainField{index: i}
		switch {
		case tag == ",chardata":
			f.mode = plainCharData
		case strings.HasSuffix(tag, ",attr") && !strings.ContainsAny(tag[:len(tag)-len(",attr")], " >,"):
			f.mode, f.name = plainAttr, tag[:len(tag)-len(",attr")]
		case tag != "" && !strings.Contains(tag, ","):
			if ns, path, ok := strings.Cut(tag, " "); ok {
				f.xmlns, tag = ns, path
			}
			parts := strings.Split(tag, ">")
			for _, p := range parts {
				if p == "" {
					plainTypeInfos.Store(typ, errNotPlain)
					return nil, errNotPlain
				}
			}
			f.parents, f.name = parts[:len(parts)-1], parts[len(parts)-1]
		default:
			plainTypeInfos.Store(typ, errNotPlain)
			return nil, errNotPlain
		}
		if k := sf.Type.Kind(); f.mode != plainElement && k != reflect.String {
			plainTypeInfos.Store(typ, errNotPlain)
			return nil, errNotPlain
		}
		ti.fields = append(ti.fields, f)
	}
	plainTypeInfos.Store(typ, ti)
	return ti, nil
}

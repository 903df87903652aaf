package zatcasim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// submittedBody is a submission's invoiceBody as the checks take it: the
// invoice's base64 text as bytes.
type submittedBody struct {
	hash, uuid string
	invoice    []byte // base64 text, possibly with white space
}

// readInvoiceBody reads the JSON body of a submission endpoint the way
// json.Decoder.Decode into an invoiceBody does, which is what it falls back
// to for anything but the common shape: one object of the three members,
// their values strings of printable ASCII without escapes, white space
// only between tokens. That shape is read in place, so that the document's
// base64 text (most of the body) is neither scanned by encoding/json nor
// copied into a string.
func readInvoiceBody(r *http.Request) (submittedBody, error) {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n < 10<<20 {
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, readErr := buf.ReadFrom(r.Body)
	data := buf.Bytes()
	if readErr == nil {
		if b, ok := scanInvoiceBody(data); ok {
			return b, nil
		}
	}
	// The decoder sees the bytes read, then the error that ended reading.
	var in io.Reader = bytes.NewReader(data)
	if readErr != nil {
		in = io.MultiReader(in, errReader{readErr})
	}
	var w invoiceBody
	if err := json.NewDecoder(in).Decode(&w); err != nil {
		return submittedBody{}, err
	}
	return submittedBody{hash: w.InvoiceHash, uuid: w.UUID, invoice: []byte(w.Invoice)}, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// scanInvoiceBody reads data when it has the common shape (see
// readInvoiceBody) and reports whether it had. Like json.Decoder.Decode it
// reads the first JSON value only and ignores what follows; a member
// given twice takes its last value.
func scanInvoiceBody(data []byte) (submittedBody, bool) {
	var b submittedBody
	i := skipJSONSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return b, false
	}
	i = skipJSONSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return b, true
	}
	for {
		key, next, ok := scanPlainString(data, i)
		if !ok {
			return b, false
		}
		i = skipJSONSpace(data, next)
		if i >= len(data) || data[i] != ':' {
			return b, false
		}
		i = skipJSONSpace(data, i+1)
		val, next, ok := scanPlainString(data, i)
		if !ok {
			return b, false
		}
		switch string(key) {
		case "invoiceHash":
			b.hash = string(val)
		case "uuid":
			b.uuid = string(val)
		case "invoice":
			b.invoice = val
		default:
			// encoding/json matches other spellings case-insensitively and
			// ignores unknown members: leave those bodies to it.
			return b, false
		}
		i = skipJSONSpace(data, next)
		if i >= len(data) {
			return b, false
		}
		switch data[i] {
		case '}':
			return b, true
		case ',':
			i = skipJSONSpace(data, i+1)
		default:
			return b, false
		}
	}
}

// scanPlainString reads the JSON string at data[i:] if it is printable
// ASCII without escapes, and returns its content and the index after its
// closing quote.
func scanPlainString(data []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return data[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

func skipJSONSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

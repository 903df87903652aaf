// Package tlv encodes and decodes the tag-length-value string inside a
// ZATCA QR code (spec/zatca.md §3.1, tags in §3.2, Phase 1 in §3.4).
//
// Each field is a 1-byte tag, a 1-byte length counted in bytes of the
// value, then the value; the fields are concatenated and the whole is
// base64-encoded. A value is therefore at most 255 bytes: about 127 Arabic
// letters in UTF-8. The package does not know what the tags mean; the ZATCA
// QR builder chooses them (1 seller name, 2 VAT number, 3 timestamp, 4
// total with VAT, 5 VAT total, 6 invoice hash, 7 signature, 8 public key,
// 9 certificate signature).
package tlv

import (
	"encoding/base64"
	"errors"
	"fmt"
)

// MaxValueLen is the longest value a one-byte length can describe.
const MaxValueLen = 255

// ErrTruncated is wrapped by Decode's error when the input ends inside a
// field.
var ErrTruncated = errors.New("truncated TLV")

// Field is one tag and its value.
type Field struct {
	Tag   byte
	Value []byte
}

// Encode concatenates the fields in the given order. It fails, naming the
// tag, if a value is longer than MaxValueLen bytes.
func Encode(fields []Field) ([]byte, error) {
	n := 0
	for _, f := range fields {
		if len(f.Value) > MaxValueLen {
			return nil, fmt.Errorf("tlv: tag %d: value is %d bytes, more than %d", f.Tag, len(f.Value), MaxValueLen)
		}
		n += 2 + len(f.Value)
	}
	out := make([]byte, 0, n)
	for _, f := range fields {
		out = append(out, f.Tag, byte(len(f.Value)))
		out = append(out, f.Value...)
	}
	return out, nil
}

// Decode splits b into fields in order. Empty input gives no fields. A
// field cut short is an error wrapping ErrTruncated. The values are copies.
func Decode(b []byte) ([]Field, error) {
	var fields []Field
	for off := 0; off < len(b); {
		if len(b)-off < 2 {
			return nil, fmt.Errorf("tlv: %w: tag %d at offset %d has no length byte", ErrTruncated, b[off], off)
		}
		tag, n := b[off], int(b[off+1])
		if len(b)-off-2 < n {
			return nil, fmt.Errorf("tlv: %w: tag %d at offset %d declares %d bytes, %d remain", ErrTruncated, tag, off, n, len(b)-off-2)
		}
		fields = append(fields, Field{Tag: tag, Value: append([]byte(nil), b[off+2:off+2+n]...)})
		off += 2 + n
	}
	return fields, nil
}

// EncodeBase64 returns the standard base64 of Encode(fields): the text of
// the QR code and of AdditionalDocumentReference[ID=QR].
func EncodeBase64(fields []Field) (string, error) {
	b, err := Encode(fields)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// DecodeBase64 decodes a QR text: standard base64, then Decode.
func DecodeBase64(s string) ([]Field, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("tlv: QR text is not standard base64: %w", err)
	}
	return Decode(b)
}

package kz

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// The protobuf wire types the protocol uses (fixed32/64 do not occur).
const (
	wireVarint = 0
	wireI64    = 1
	wireBytes  = 2
	wireI32    = 5
)

// maxDepth bounds the nesting a decoder follows: the deepest message of
// the protocol is six levels down.
const maxDepth = 16

// encoder appends proto2 fields. Required fields are written through the
// plain methods whatever their value (spec §0.3: a zero required field
// must be on the wire); optional ones through the opt… methods, which
// leave a zero value out.
type encoder struct{ b []byte }

func (e *encoder) varint(v uint64) {
	for v >= 0x80 {
		e.b = append(e.b, byte(v)|0x80)
		v >>= 7
	}
	e.b = append(e.b, byte(v))
}

func (e *encoder) tag(num, typ int) { e.varint(uint64(num)<<3 | uint64(typ)) }

func (e *encoder) uint(num int, v uint64) { e.tag(num, wireVarint); e.varint(v) }

// int32 writes a signed int32 the way proto2 does: sign-extended to 64 bits.
func (e *encoder) int32(num int, v int32) { e.tag(num, wireVarint); e.varint(uint64(int64(v))) }

func (e *encoder) bool(num int, v bool) {
	var x uint64
	if v {
		x = 1
	}
	e.uint(num, x)
}

func (e *encoder) bytes(num int, v []byte) {
	e.tag(num, wireBytes)
	e.varint(uint64(len(v)))
	e.b = append(e.b, v...)
}

func (e *encoder) string(num int, v string) {
	e.tag(num, wireBytes)
	e.varint(uint64(len(v)))
	e.b = append(e.b, v...)
}

// message writes a nested message: its body is built by fill after a
// one-byte length placeholder, which is widened when the body is longer.
func (e *encoder) message(num int, fill func(*encoder)) {
	e.tag(num, wireBytes)
	start := len(e.b)
	e.b = append(e.b, 0)
	fill(e)
	n := len(e.b) - start - 1
	if n < 0x80 {
		e.b[start] = byte(n)
		return
	}
	var lenBuf [10]byte
	k := 0
	for v := uint64(n); ; k++ {
		if v < 0x80 {
			lenBuf[k] = byte(v)
			k++
			break
		}
		lenBuf[k] = byte(v) | 0x80
		v >>= 7
	}
	e.b = append(e.b, lenBuf[:k-1]...)
	copy(e.b[start+k:], e.b[start+1:start+1+n])
	copy(e.b[start:], lenBuf[:k])
}

func (e *encoder) optUint(num int, v uint64) {
	if v != 0 {
		e.uint(num, v)
	}
}

func (e *encoder) optBool(num int, v bool) {
	if v {
		e.uint(num, 1)
	}
}

func (e *encoder) optString(num int, v string) {
	if v != "" {
		e.string(num, v)
	}
}

// Decoding errors.
var (
	errTruncated = errors.New("truncated field")
	errOverflow  = errors.New("varint longer than 10 bytes")
)

// field is one field read off the wire: its number and type, and its value
// (varint, fixed) or its bytes (length-delimited).
type field struct {
	num  int
	typ  int
	v    uint64
	data []byte
}

// readVarint reads one varint from b.
func readVarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b); i++ {
		if i == 10 {
			return 0, 0, errOverflow
		}
		c := b[i]
		if i == 9 && c > 1 {
			return 0, 0, errOverflow
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errTruncated
}

// fields calls fn for each field of the message b, in wire order. Fields
// fn does not know it ignores: unknown fields are skipped, never fatal
// (spec §1.2: the test server adds a field 11 of its own). Group wire
// types (3, 4), long since deprecated and never used here, are refused.
func fields(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		key, n, err := readVarint(b)
		if err != nil {
			return err
		}
		b = b[n:]
		f := field{num: int(key >> 3), typ: int(key & 7)}
		if key>>3 == 0 || key>>3 > 1<<29-1 {
			return fmt.Errorf("field number %d out of range", key>>3)
		}
		switch f.typ {
		case wireVarint:
			if f.v, n, err = readVarint(b); err != nil {
				return fmt.Errorf("field %d: %w", f.num, err)
			}
			b = b[n:]
		case wireI64:
			if len(b) < 8 {
				return fmt.Errorf("field %d: %w", f.num, errTruncated)
			}
			b = b[8:]
		case wireI32:
			if len(b) < 4 {
				return fmt.Errorf("field %d: %w", f.num, errTruncated)
			}
			b = b[4:]
		case wireBytes:
			l, n, err := readVarint(b)
			if err != nil {
				return fmt.Errorf("field %d: %w", f.num, err)
			}
			b = b[n:]
			if l > uint64(len(b)) {
				return fmt.Errorf("field %d: length %d exceeds the %d bytes left", f.num, l, len(b))
			}
			f.data, b = b[:l], b[l:]
		default:
			return fmt.Errorf("field %d: wire type %d is not supported", f.num, f.typ)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// The readers below check the wire type of a known field: a known field
// with the wrong type is a malformed message, not an unknown field.

func (f field) wantType(typ int) error {
	if f.typ != typ {
		return fmt.Errorf("field %d has wire type %d, want %d", f.num, f.typ, typ)
	}
	return nil
}

func (f field) uint64() (uint64, error) { return f.v, f.wantType(wireVarint) }

func (f field) uint32() (uint32, error) {
	if err := f.wantType(wireVarint); err != nil {
		return 0, err
	}
	if f.v > math.MaxUint32 {
		return 0, fmt.Errorf("field %d: %d does not fit in 32 bits", f.num, f.v)
	}
	return uint32(f.v), nil
}

// int32 reads an int32, which proto2 writes sign-extended to 64 bits.
func (f field) int32() (int32, error) {
	if err := f.wantType(wireVarint); err != nil {
		return 0, err
	}
	v := int64(f.v)
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, fmt.Errorf("field %d: %d does not fit in 32 bits", f.num, v)
	}
	return int32(v), nil
}

func (f field) bool() (bool, error) {
	if err := f.wantType(wireVarint); err != nil {
		return false, err
	}
	return f.v != 0, nil
}

func (f field) string() (string, error) {
	if err := f.wantType(wireBytes); err != nil {
		return "", err
	}
	if !utf8.Valid(f.data) {
		return "", fmt.Errorf("field %d is not valid UTF-8", f.num)
	}
	return string(f.data), nil
}

func (f field) bytes() ([]byte, error) {
	if err := f.wantType(wireBytes); err != nil {
		return nil, err
	}
	return append([]byte(nil), f.data...), nil
}

// decodable is a message that reads itself from its wire bytes.
type decodable interface {
	decode(b []byte, depth int) error
}

// sub decodes the nested message in f into m.
func (f field) sub(m decodable, depth int) error {
	if err := f.wantType(wireBytes); err != nil {
		return err
	}
	if depth >= maxDepth {
		return fmt.Errorf("field %d: messages nested more than %d deep", f.num, maxDepth)
	}
	return m.decode(f.data, depth+1)
}

// required records the required fields seen while decoding one message,
// so that a message missing one is refused naming it, as a proto2 parser
// does.
type required struct {
	msg  string
	seen uint64 // bit n: field n seen (required fields are all below 64)
}

func (r *required) saw(num int) {
	if num < 64 {
		r.seen |= 1 << num
	}
}

// need is an error naming the required field num when it was not seen.
func (r *required) need(num int, name string) error {
	if r.seen&(1<<num) != 0 {
		return nil
	}
	return fmt.Errorf("%s: required field %s (%d) is missing", r.msg, name, num)
}

// need names a required field of a message: its number and its name.
type need struct {
	num  int
	name string
}

// decodeMessage reads the fields of message msg from b through known,
// which decodes a field it knows and reports false for one to skip, and
// then checks that every required field was on the wire. Errors name msg.
func decodeMessage(b []byte, msg string, known func(f field) (bool, error), needs ...need) error {
	r := required{msg: msg}
	err := fields(b, func(f field) error {
		ok, err := known(f)
		if ok {
			r.saw(f.num)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", msg, err)
	}
	var missing []error
	for _, q := range needs {
		missing = append(missing, r.need(q.num, q.name))
	}
	return errors.Join(missing...)
}

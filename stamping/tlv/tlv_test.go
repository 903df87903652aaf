package tlv

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	long := bytes.Repeat([]byte{'x'}, 255)
	arabic := []byte("شركة توريد التكنولوجيا")
	tests := []struct {
		name   string
		fields []Field
		want   []byte
	}{
		{"none", nil, []byte{}},
		{"one", []Field{{1, []byte("abc")}}, []byte{1, 3, 'a', 'b', 'c'}},
		{"empty value", []Field{{5, []byte{}}}, []byte{5, 0}},
		{"order kept", []Field{{2, []byte("b")}, {1, []byte("a")}}, []byte{2, 1, 'b', 1, 1, 'a'}},
		{"255 bytes", []Field{{9, long}}, append([]byte{9, 255}, long...)},
		{"utf-8 length in bytes", []Field{{1, arabic}}, append([]byte{1, byte(len(arabic))}, arabic...)},
		{"tag 0 and 255", []Field{{0, []byte{0}}, {255, []byte{255}}}, []byte{0, 1, 0, 255, 1, 255}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(tt.fields)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("Encode = %x, want %x", got, tt.want)
			}
			back, err := Decode(got)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(back) != len(tt.fields) {
				t.Fatalf("Decode gives %d fields, want %d", len(back), len(tt.fields))
			}
			for i := range back {
				if back[i].Tag != tt.fields[i].Tag || !bytes.Equal(back[i].Value, tt.fields[i].Value) {
					t.Errorf("field %d = %v, want %v", i, back[i], tt.fields[i])
				}
			}
			s, err := EncodeBase64(tt.fields)
			if err != nil {
				t.Fatal(err)
			}
			back2, err := DecodeBase64(s)
			if err != nil || !reflect.DeepEqual(back2, back) {
				t.Errorf("DecodeBase64(EncodeBase64) = %v, %v; want %v", back2, err, back)
			}
		})
	}
}

func TestEncodeTooLong(t *testing.T) {
	fields := []Field{{1, []byte("ok")}, {7, make([]byte, 256)}}
	_, err := Encode(fields)
	if err == nil || !strings.Contains(err.Error(), "tag 7") || !strings.Contains(err.Error(), "256 bytes") {
		t.Errorf("Encode with a 256-byte value: %v, want an error naming tag 7 and its length", err)
	}
	if _, err := EncodeBase64(fields); err == nil {
		t.Error("EncodeBase64 with a 256-byte value did not fail")
	}
}

func TestDecodeTruncated(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"tag only", []byte{1}, "tag 1 at offset 0 has no length"},
		{"value short", []byte{1, 3, 'a', 'b'}, "tag 1 at offset 0 declares 3 bytes, 2 remain"},
		{"second field short", []byte{1, 1, 'a', 2, 5}, "tag 2 at offset 3 declares 5 bytes, 0 remain"},
		{"length 255, nothing", []byte{9, 255}, "declares 255 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Decode(tt.in)
			if !errors.Is(err, ErrTruncated) || f != nil {
				t.Fatalf("Decode(%x) = %v, %v; want nil, ErrTruncated", tt.in, f, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
	if _, err := DecodeBase64("AQ=*"); err == nil || errors.Is(err, ErrTruncated) {
		t.Errorf("DecodeBase64 of bad base64: %v, want a base64 error", err)
	}
	if _, err := DecodeBase64("AQM="); !errors.Is(err, ErrTruncated) {
		t.Errorf("DecodeBase64 of a truncated TLV: %v, want ErrTruncated", err)
	}
}

func TestDecodeCopiesValues(t *testing.T) {
	in := []byte{1, 2, 'a', 'b'}
	f, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	in[2] = 'z'
	if string(f[0].Value) != "ab" {
		t.Errorf("Decode's value changed with its input: %q", f[0].Value)
	}
}

// FuzzDecode: Decode never panics, and whatever it accepts, Encode gives
// back byte for byte.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 3, 'a', 'b', 'c'})
	f.Add([]byte{1, 3, 'a', 'b'})
	f.Add([]byte{5, 0, 9, 255})
	f.Add(append([]byte{9, 255}, make([]byte, 255)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		fields, err := Decode(in)
		if err != nil {
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("Decode error %v does not wrap ErrTruncated", err)
			}
			return
		}
		out, err := Encode(fields)
		if err != nil {
			t.Fatalf("Encode(Decode(%x)): %v", in, err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("Encode(Decode(%x)) = %x", in, out)
		}
	})
}

package escpos_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/egsd/egsd/device/escpos"
	"golang.org/x/text/encoding/charmap"
)

// Expected bytes are from the code page charts (IBM CP437, Microsoft
// Windows-1256), not from the encoder.
func TestEncodeText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		enc  escpos.TextEncoding
		want string
	}{
		{"ascii", "Total: 12.50 SAR", escpos.EncodingCP437, "54 6f 74 61 6c 3a 20 31 32 2e 35 30 20 53 41 52"},
		{"cp437 accents", "éüÄ£°", escpos.EncodingCP437, "82 81 8e 9c f8"},
		{"cp437 box drawing", "─═", escpos.EncodingCP437, "c4 cd"},
		{"empty", "", escpos.EncodingCP437, ""},
		// فاتورة: feh alef teh waw reh teh-marbuta, logical order.
		{"cp1256 arabic", "فاتورة", escpos.EncodingCP1256, "dd c7 ca e6 d1 c9"},
		{"cp1256 ascii digits", "VAT 15%", escpos.EncodingCP1256, "56 41 54 20 31 35 25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := escpos.EncodeText(tt.in, tt.enc)
			if err != nil {
				t.Fatal(err)
			}
			if want := mustHex(t, tt.want); !bytes.Equal(got, want) {
				t.Errorf("got % x, want % x", got, want)
			}
		})
	}
}

func TestEncodeTextErrors(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		enc         escpos.TextEncoding
		want        []string
		unencodable rune
	}{
		{"euro not in cp437", "5 €", escpos.EncodingCP437, []string{"U+20AC", "cp437", "byte 2"}, '€'},
		{"arabic not in cp437", "ab ف", escpos.EncodingCP437, []string{"U+0641", "cp437"}, 'ف'},
		{"cyrillic not in cp1256", "Ж", escpos.EncodingCP1256, []string{"U+0416", "cp1256"}, 'Ж'},
		{"replacement char", "\uFFFD", escpos.EncodingCP437, []string{"U+FFFD", "cp437"}, '\uFFFD'},
		{"line feed", "a\nb", escpos.EncodingCP437, []string{"control character U+000A", "byte 1"}, 0},
		{"escape", "\x1b@", escpos.EncodingCP1256, []string{"control character U+001B"}, 0},
		{"delete", "a\x7f", escpos.EncodingCP437, []string{"control character U+007F"}, 0},
		{"invalid utf-8", "ab\xff", escpos.EncodingCP437, []string{"invalid UTF-8", "byte 2"}, 0},
		{"unknown encoding", "a", "cp864", []string{`"cp864"`, "cp437, cp1256"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := escpos.EncodeText(tt.in, tt.enc)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			var ue *escpos.UnencodableError
			if got := errors.As(err, &ue); got != (tt.unencodable != 0) {
				t.Fatalf("UnencodableError: %v, want %v", got, tt.unencodable != 0)
			}
			if ue != nil && (ue.Rune != tt.unencodable || ue.Encoding != tt.enc) {
				t.Errorf("got %+v", ue)
			}
		})
	}
}

// Every printable character of each code page encodes to its own byte
// (0x20..0xFF without DEL and the bytes a table leaves undefined, such as
// 0x98 in Windows-1251), and all of them are text to Encoder.Text.
func TestEncodeTextWholeCodePage(t *testing.T) {
	tables := map[escpos.TextEncoding]*charmap.Charmap{
		escpos.EncodingCP437:  charmap.CodePage437,
		escpos.EncodingCP1256: charmap.Windows1256,
		escpos.EncodingCP866:  charmap.CodePage866,
		escpos.EncodingCP1251: charmap.Windows1251,
	}
	for _, enc := range escpos.TextEncodings() {
		var all strings.Builder
		var want []byte
		for b := 0x20; b <= 0xFF; b++ {
			r := tables[enc].DecodeByte(byte(b))
			if b == 0x7F || r == '\uFFFD' {
				continue
			}
			all.WriteRune(r)
			want = append(want, byte(b))
		}
		got, err := escpos.EncodeText(all.String(), enc)
		if err != nil {
			t.Fatalf("%s: %v", enc, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: got % x", enc, got)
		}
		if err := escpos.NewEncoder().Line(got).Err(); err != nil {
			t.Errorf("%s: %v", enc, err)
		}
	}
}

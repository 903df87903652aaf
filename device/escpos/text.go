package escpos

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// TextEncoding names a printer character table as the host encodes it.
// Which ESC t number selects it on a given printer is a profile setting.
type TextEncoding string

// Text encodings.
const (
	// EncodingCP437 is the IBM PC table: printable ASCII plus accented
	// Latin letters, box drawing and symbols in 0x80..0xFF.
	EncodingCP437 TextEncoding = "cp437"
	// EncodingCP1256 is Windows-1256: ASCII plus Arabic letters in logical
	// (unshaped) form, for printers that shape Arabic themselves.
	EncodingCP1256 TextEncoding = "cp1256"
	// EncodingCP866 is the DOS Cyrillic table (Epson "PC866"): ASCII plus
	// the Russian alphabet. It has none of the Kazakh letters nor ₸.
	EncodingCP866 TextEncoding = "cp866"
	// EncodingCP1251 is Windows-1251 (Epson "WPC1251"): ASCII plus the
	// Russian alphabet. It has none of the Kazakh letters nor ₸.
	EncodingCP1251 TextEncoding = "cp1251"
)

var charmaps = map[TextEncoding]*charmap.Charmap{
	EncodingCP437:  charmap.CodePage437,
	EncodingCP1256: charmap.Windows1256,
	EncodingCP866:  charmap.CodePage866,
	EncodingCP1251: charmap.Windows1251,
}

// TextEncodings lists the supported encodings: Latin, Arabic, Cyrillic.
func TextEncodings() []TextEncoding {
	return []TextEncoding{EncodingCP437, EncodingCP1256, EncodingCP866, EncodingCP1251}
}

func (t TextEncoding) valid() bool { return charmaps[t] != nil }

func (t TextEncoding) cyrillic() bool { return t == EncodingCP866 || t == EncodingCP1251 }

// UnencodableError reports a character that the code page cannot hold; the
// caller may print that line as an image instead.
type UnencodableError struct {
	Rune     rune
	Offset   int // byte offset of the character in the string
	Encoding TextEncoding
}

func (e *UnencodableError) Error() string {
	return fmt.Sprintf("escpos: text: character %q (U+%04X) at byte %d is not in code page %s",
		e.Rune, e.Rune, e.Offset, e.Encoding)
}

// EncodeText converts s to the bytes of a printer code page, for
// Encoder.Text. Control characters (below U+0020, and DEL) are refused,
// and so is every character the code page lacks (*UnencodableError).
func EncodeText(s string, enc TextEncoding) ([]byte, error) {
	cm := charmaps[enc]
	if cm == nil {
		return nil, fmt.Errorf("escpos: text encoding %q: must be one of %s", enc, encodingList())
	}
	out := make([]byte, 0, len(s))
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return nil, fmt.Errorf("escpos: text: invalid UTF-8 at byte %d", i)
			}
		}
		if r < 0x20 || r == 0x7F {
			return nil, fmt.Errorf("escpos: text: control character U+%04X at byte %d: text must be printable", r, i)
		}
		b, ok := cm.EncodeRune(r)
		if !ok {
			return nil, &UnencodableError{Rune: r, Offset: i, Encoding: enc}
		}
		out = append(out, b)
	}
	return out, nil
}

func encodingList() string {
	names := make([]string, 0, len(charmaps))
	for _, t := range TextEncodings() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

package textraster

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"

	"github.com/go-text/typesetting/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

// Noto Sans Arabic 2.005 and Noto Sans 2.004 from Debian's fonts-noto-core;
// licence in fonts/OFL.txt.
var (
	//go:embed fonts/NotoSansArabic-Regular.ttf
	notoSansArabicRegular []byte
	//go:embed fonts/NotoSansArabic-Bold.ttf
	notoSansArabicBold []byte
	//go:embed fonts/NotoSans-Regular.ttf
	notoSansRegular []byte
	//go:embed fonts/NotoSans-Bold.ttf
	notoSansBold []byte
)

// Face slots. Noto Sans Arabic has no Latin letters, parentheses or %, so
// the Go font draws those; both carry ASCII digits, and the Go font draws
// them on Arabic and Latin lines so that amounts look the same on both.
// The Go font has no Cyrillic and no tenge sign (₸): Noto Sans draws those,
// and with them the Latin letters, digits and punctuation of their line, so
// that a Russian or Kazakh line is set in one typeface.
const (
	faceArabic = iota
	faceLatin
	faceCyrillic
	numFaces
)

// fontSet holds the parsed fonts of one weight. A *font.Font is read-only and
// shared; each worker wraps it in its own *font.Face, which is not.
type fontSet [numFaces]*font.Font

var (
	regularFonts = sync.OnceValues(func() (fontSet, error) {
		return parseFonts(notoSansArabicRegular, goregular.TTF, notoSansRegular)
	})
	boldFonts = sync.OnceValues(func() (fontSet, error) {
		return parseFonts(notoSansArabicBold, gobold.TTF, notoSansBold)
	})
)

func parseFonts(arabic, latin, cyrillic []byte) (fontSet, error) {
	var set fontSet
	for slot, data := range [numFaces][]byte{faceArabic: arabic, faceLatin: latin, faceCyrillic: cyrillic} {
		face, err := font.ParseTTF(bytes.NewReader(data))
		if err != nil {
			return set, fmt.Errorf("textraster: parse embedded font %d: %w", slot, err)
		}
		set[slot] = face.Font
	}
	return set, nil
}

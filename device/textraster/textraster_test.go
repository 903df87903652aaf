package textraster

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden PNG files in testdata")

func newRenderer(t testing.TB, opt Options) *Renderer {
	t.Helper()
	r, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func render(t testing.TB, r *Renderer, text string) *image.Gray {
	t.Helper()
	img, err := r.Render(text, 576)
	if err != nil {
		t.Fatalf("Render(%q): %v", text, err)
	}
	return img
}

// TestGolden compares whole lines dot for dot with reviewed images.
func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		text string
	}{
		{"invoice_title", "فاتورة ضريبية مبسطة"},
		{"seller_name", "مؤسسة النور للتجارة"},
		{"total_line", "الإجمالي: 1150.00 ر.س"},
		{"latin_title", "Simplified Tax Invoice"},
		{"latin_word_in_arabic", "شركة ABC للتجارة"},
		{"kazakh_total", "Барлығы / Итого: 1 150,00 ₸"},
		{"kazakh_letters", "ӘҒҚҢӨҰҮҺ әғқңөұүһ Ёё"},
	}
	r := newRenderer(t, Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, r, tc.text)
			path := filepath.Join("testdata", tc.name+".png")
			if *update {
				var buf bytes.Buffer
				if err := png.Encode(&buf, got); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := readGray(t, path)
			if diff := compareGray(got, want); diff != "" {
				t.Errorf("%s: %s (run with -update and review the image if the change is intended)", path, diff)
			}
		})
	}
}

func readGray(t *testing.T, path string) *image.Gray {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("%s: %T, want an 8-bit grey PNG", path, img)
	}
	return g
}

func compareGray(got, want *image.Gray) string {
	if got.Rect.Size() != want.Rect.Size() {
		return fmt.Sprintf("size %v, want %v", got.Rect.Size(), want.Rect.Size())
	}
	differ := 0
	for y := 0; y < got.Rect.Dy(); y++ {
		for x := 0; x < got.Rect.Dx(); x++ {
			if got.GrayAt(x, y) != want.GrayAt(x, y) {
				differ++
			}
		}
	}
	if differ > 0 {
		return fmt.Sprintf("%d dots differ", differ)
	}
	return ""
}

// TestOutputIsBlackAndWhite: every dot is 0 or 255, every line has the same
// height, and the image is cropped to its ink.
func TestOutputIsBlackAndWhite(t *testing.T) {
	for _, opt := range []Options{{}, {Bold: true}, {SizePx: 32}} {
		r := newRenderer(t, opt)
		wantHeight := r.LineHeight()
		for _, text := range []string{"فاتورة ضريبية مبسطة", "Simplified Tax Invoice", "الإجمالي: 1150.00 ر.س", "gjpq ÅÉ إِ لأ"} {
			img := render(t, r, text)
			if img.Rect.Dy() != wantHeight {
				t.Errorf("%+v %q: height %d, want %d", opt, text, img.Rect.Dy(), wantHeight)
			}
			for i, v := range img.Pix {
				if v != 0 && v != 255 {
					t.Fatalf("%+v %q: dot %d is %d, want 0 or 255", opt, text, i, v)
				}
			}
			for _, x := range []int{0, img.Rect.Dx() - 1} {
				if !columnHasInk(img, x) {
					t.Errorf("%+v %q: column %d has no ink: not cropped", opt, text, x)
				}
			}
		}
	}
	if h := newRenderer(t, Options{}).LineHeight(); h != 36 {
		t.Errorf("default LineHeight = %d, want 36 (24 above the baseline, 12 below)", h)
	}
}

func columnHasInk(img *image.Gray, x int) bool {
	for y := 0; y < img.Rect.Dy(); y++ {
		if img.Pix[y*img.Stride+x] == 0 {
			return true
		}
	}
	return false
}

// findSubImage returns the x offsets at which sub appears dot for dot inside
// img (same height, ink-cropped images).
func findSubImage(img, sub *image.Gray) []int {
	var at []int
	w, sw := img.Rect.Dx(), sub.Rect.Dx()
	if img.Rect.Dy() != sub.Rect.Dy() {
		return nil
	}
	for x := 0; x+sw <= w; x++ {
		match := true
		for y := 0; y < img.Rect.Dy() && match; y++ {
			match = bytes.Equal(img.Pix[y*img.Stride+x:y*img.Stride+x+sw], sub.Pix[y*sub.Stride:y*sub.Stride+sw])
		}
		if match {
			at = append(at, x)
		}
	}
	return at
}

func locate(t *testing.T, r *Renderer, line *image.Gray, piece string) (left, right int) {
	t.Helper()
	sub := render(t, r, piece)
	at := findSubImage(line, sub)
	if len(at) != 1 {
		t.Fatalf("%q found at %v in the line, want exactly one place", piece, at)
	}
	return at[0], at[0] + sub.Rect.Dx()
}

// whiteRun counts the ink-free columns from x in direction step.
func whiteRun(img *image.Gray, x, step int) int {
	n := 0
	for ; x >= 0 && x < img.Rect.Dx() && !columnHasInk(img, x); x += step {
		n++
	}
	return n
}

// TestMixedLineOrder checks the visual order of "الإجمالي: 1150.00 ر.س"
// without golden files: each piece is rendered alone and found in the line.
// Read left to right on paper the line must be "ر.س", the number in
// left-to-right digit order, the colon, then the Arabic word at the right,
// with the spaces kept between the runs.
func TestMixedLineOrder(t *testing.T) {
	r := newRenderer(t, Options{})
	line := render(t, r, "الإجمالي: 1150.00 ر.س")
	currencyL, currencyR := locate(t, r, line, "ر.س")
	digitsL, digitsR := locate(t, r, line, "1150.00")
	wordL, wordR := locate(t, r, line, "الإجمالي")

	if !(currencyR <= digitsL && digitsR <= wordL) {
		t.Fatalf("columns: ر.س [%d,%d) 1150.00 [%d,%d) الإجمالي [%d,%d); want them in this order left to right",
			currencyL, currencyR, digitsL, digitsR, wordL, wordR)
	}
	if wordR != line.Rect.Dx() || currencyL != 0 {
		t.Errorf("the Arabic word must end the line on the right and ر.س start it on the left: %d..%d of %d", currencyL, wordR, line.Rect.Dx())
	}
	// The space between the currency and the number survives.
	if gap := digitsL - currencyR; gap < 4 {
		t.Errorf("gap between ر.س and 1150.00 is %d dots, want a space (>= 4)", gap)
	}
	// Between the number and the word: a space, then the colon hugging the
	// word's left side.
	spaceAfterDigits := whiteRun(line, digitsR, +1)
	if spaceAfterDigits < 4 {
		t.Errorf("gap after 1150.00 is %d dots, want a space (>= 4)", spaceAfterDigits)
	}
	colonL := digitsR + spaceAfterDigits
	if colonL >= wordL {
		t.Fatalf("no ink between the number and the word: the colon is missing or on the wrong side")
	}
	colonR := colonL
	for colonR < wordL && columnHasInk(line, colonR) {
		colonR++
	}
	if gap := whiteRun(line, colonR, +1); colonR+gap != wordL || gap >= spaceAfterDigits {
		t.Errorf("colon at [%d,%d), word at %d: want the colon next to the word (gap %d) and the space before it (%d)",
			colonL, colonR, wordL, gap, spaceAfterDigits)
	}
	if colonR-colonL > 6 {
		t.Errorf("ink between number and word is %d dots wide; want a colon", colonR-colonL)
	}
}

// TestLevelsNotJustDirections: in a left-to-right line, Arabic-Indic digits
// after an Arabic word belong to the right-to-left run (level 2 inside level
// 1), so they print right of the Arabic word. Ordering by direction alone
// puts them on its left.
func TestLevelsNotJustDirections(t *testing.T) {
	r := newRenderer(t, Options{})
	line := render(t, r, "Total ١٢٣ عربي")
	latinL, latinR := locate(t, r, line, "Total")
	wordL, wordR := locate(t, r, line, "عربي")
	digitsL, _ := locate(t, r, line, "١٢٣")
	if !(latinR <= wordL && wordR <= digitsL) || latinL != 0 {
		t.Errorf("columns: Total %d, عربي %d, ١٢٣ %d; want Total, then the Arabic word, then the digits", latinL, wordL, digitsL)
	}
}

// TestArabicLettersJoin: the shaped glyphs of "مبسطة" are the contextual
// (initial, medial, final) forms, not the isolated letters.
func TestArabicLettersJoin(t *testing.T) {
	r := newRenderer(t, Options{})
	w := r.workers.Get().(*worker)
	defer r.workers.Put(w)
	word := []rune("مبسطة")
	if err := w.layout(word, 1); err != nil {
		t.Fatal(err)
	}
	if len(w.glyphs) != len(word) {
		t.Fatalf("%d glyphs for %d letters", len(w.glyphs), len(word))
	}
	// Glyphs come left to right: the last letter first.
	for i, g := range w.glyphs {
		letter := word[len(word)-1-i]
		isolated, ok := w.faces[faceArabic].NominalGlyph(letter)
		if !ok {
			t.Fatalf("no glyph for %q", letter)
		}
		if g.key.face != faceArabic {
			t.Errorf("%q drawn with face %d, want Noto Sans Arabic", letter, g.key.face)
		}
		if g.key.gid == isolated {
			t.Errorf("%q: glyph %d is the isolated form; want a joined form", letter, g.key.gid)
		}
	}
}

// TestWrap: a long Arabic item name wraps into right-aligned lines, each
// maxWidth wide, at the same breaks as a greedy fill with Render decides.
func TestWrap(t *testing.T) {
	r := newRenderer(t, Options{})
	const name = "عصير برتقال طازج بدون سكر مضاف عبوة زجاجية سعة لتر واحد من مزارع الوادي الأخضر"
	const maxWidth = 220
	for _, tc := range []struct {
		align     Align
		inkAtLeft bool // ink touches column 0 (else column maxWidth-1)
	}{
		{AlignStart, false},
		{AlignEnd, true},
	} {
		lines, err := r.Wrap(name, maxWidth, tc.align)
		if err != nil {
			t.Fatal(err)
		}
		want := greedyLines(t, r, strings.Fields(name), maxWidth)
		if len(lines) != len(want) || len(lines) < 3 {
			t.Fatalf("align %d: %d lines, want %d (%q)", tc.align, len(lines), len(want), want)
		}
		for i, img := range lines {
			if img.Rect.Dx() != maxWidth || img.Rect.Dy() != r.LineHeight() {
				t.Fatalf("line %d: size %v, want %dx%d", i, img.Rect.Size(), maxWidth, r.LineHeight())
			}
			edge, far := maxWidth-1, 0
			if tc.inkAtLeft {
				edge, far = 0, maxWidth-1
			}
			if !columnHasInk(img, edge) || columnHasInk(img, far) {
				t.Errorf("align %d line %d: ink not against column %d", tc.align, i, edge)
			}
			ink := render(t, r, want[i])
			if got := findSubImage(img, ink); len(got) != 1 {
				t.Errorf("align %d line %d: want the text %q, found at %v", tc.align, i, want[i], got)
			}
		}
	}

	// Centred: the margins differ by at most one dot.
	lines, err := r.Wrap(name, maxWidth, AlignCenter)
	if err != nil {
		t.Fatal(err)
	}
	for i, img := range lines {
		left, right := whiteRun(img, 0, +1), whiteRun(img, maxWidth-1, -1)
		if d := left - right; d < -1 || d > 1 {
			t.Errorf("centred line %d: margins %d and %d", i, left, right)
		}
	}
}

// greedyLines is the reference: add words while Render still fits.
func greedyLines(t *testing.T, r *Renderer, words []string, maxWidth int) []string {
	var lines []string
	cur := ""
	for _, w := range words {
		try := w
		if cur != "" {
			try = cur + " " + w
		}
		_, err := r.Render(try, maxWidth)
		var tooWide *TooWideError
		switch {
		case err == nil:
			cur = try
		case errors.As(err, &tooWide) && cur != "":
			lines = append(lines, cur)
			cur = w
		default:
			t.Fatalf("reference Render(%q): %v", try, err)
		}
	}
	return append(lines, cur)
}

// TestWrapDirectionComesFromTheParagraph: a line of an Arabic paragraph that
// starts with a Latin word is still right-aligned.
func TestWrapDirectionComesFromTheParagraph(t *testing.T) {
	r := newRenderer(t, Options{})
	lines, err := r.Wrap("مشروب غازي Cola Zero", 130, AlignStart)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	for i, img := range lines {
		if !columnHasInk(img, 129) || columnHasInk(img, 0) {
			t.Errorf("line %d not right-aligned", i)
		}
	}
}

// TestWrapBreaksLongWord: a word wider than the line is cut between
// characters, and every piece fits.
func TestWrapBreaksLongWord(t *testing.T) {
	r := newRenderer(t, Options{})
	for _, text := range []string{"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "بالبالبالبالبالبالبالبالبالبالبال"} {
		lines, err := r.Wrap(text, 100, AlignStart)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if len(lines) < 2 {
			t.Errorf("%q: %d lines, want it cut", text, len(lines))
		}
		for i, img := range lines {
			if img.Rect.Dx() != 100 {
				t.Errorf("%q line %d: width %d", text, i, img.Rect.Dx())
			}
		}
	}
}

// TestFallbackGlyphs: a character the embedded fonts lack prints as one
// replacement glyph per grapheme cluster (never as a failed line), and a
// combining mark they lack is left off its base. Each line must render
// exactly as the same line written with U+FFFD in place.
func TestFallbackGlyphs(t *testing.T) {
	r := newRenderer(t, Options{})
	for _, tc := range []struct{ name, text, same string }{
		{"CJK in an Arabic line", "فاتورة 漢", "فاتورة \uFFFD"},
		{"emoji", "Cake \U0001F382", "Cake \uFFFD"},
		{"ZWJ family is one cluster", "a \U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466 b", "a \uFFFD b"},
		{"flag is one cluster", "\U0001F1F8\U0001F1E6 SA", "\uFFFD SA"},
		{"skin tone stays with its emoji", "ok \U0001F44D\U0001F3FD", "ok \uFFFD"},
		{"emoji with a variation selector", "\u2615\uFE0F tea", "\uFFFD\uFE0F tea"},
		{"a mark the fonts lack", "Cafe\u20D0", "Cafe"},
		{"Hebrew", "\u05E7\u05E4\u05D4 1", "\uFFFD\uFFFD\uFFFD 1"},
		{"Thai", "\u0E01\u0E32\u0E41\u0E1F", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"private use", "x\uE000y", "x\uFFFDy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Render(tc.text, 576)
			if err != nil {
				t.Fatalf("Render(%q): %v", tc.text, err)
			}
			want := render(t, r, tc.same)
			if d := compareGray(got, want); d != "" {
				t.Errorf("Render(%q) differs from Render(%q): %s", tc.text, tc.same, d)
			}
			lines, err := r.Wrap(tc.text, 576, AlignStart)
			if err != nil || len(lines) != 1 {
				t.Errorf("Wrap(%q) = %d lines, %v", tc.text, len(lines), err)
			}
		})
	}
	// The replacement has ink: a line of glyphs the fonts lack is not blank.
	if img := render(t, r, "\U0001F600"); img.Rect.Dx() == 0 {
		t.Error("the replacement glyph has no ink")
	}
}

// kazakhRussian is every letter Russian and Kazakh write with, and the
// tenge sign.
const kazakhRussian = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя" +
	"ӘҒҚҢӨҰҮҺІәғқңөұүһі₸"

// TestKazakhRussianGlyphs: every letter of Russian and Kazakh and the tenge
// sign has a glyph of its own, in both weights — none falls back to the
// replacement — and the letters of one line come from one typeface.
func TestKazakhRussianGlyphs(t *testing.T) {
	for _, bold := range []bool{false, true} {
		r := newRenderer(t, Options{Bold: bold})
		replacement := render(t, r, string(Replacement))
		for _, c := range kazakhRussian {
			if !r.canDraw(c) {
				t.Errorf("bold=%v: %U %q has no glyph in the embedded fonts", bold, c, c)
				continue
			}
			img := render(t, r, string(c))
			if compareGray(img, replacement) == "" {
				t.Errorf("bold=%v: %U %q prints as the replacement glyph", bold, c, c)
			}
		}
		w := r.workers.Get().(*worker)
		text := []rune("Итого: 1 150,00 ₸ (ҚҚС 16%)")
		if err := w.layout(text, 0); err != nil {
			t.Fatal(err)
		}
		for i, f := range w.faceOf {
			if text[i] != ' ' && f != faceCyrillic {
				t.Errorf("bold=%v: %q in %q is drawn with face %d, not Noto Sans with the rest of the line", bold, text[i], string(text), f)
			}
		}
		r.workers.Put(w)
	}
}

func TestErrors(t *testing.T) {
	r := newRenderer(t, Options{})
	tests := []struct {
		name string
		call func() error
		want []string // all must appear in the message
	}{
		{"maxWidth zero", func() error { _, err := r.Render("abc", 0); return err }, []string{"maxWidth = 0", "between 1 and 4096"}},
		{"maxWidth negative", func() error { _, err := r.Render("abc", -5); return err }, []string{"maxWidth = -5"}},
		{"maxWidth huge", func() error { _, err := r.Wrap("abc", 100000, AlignStart); return err }, []string{"maxWidth = 100000", "4096"}},
		{"wrap maxWidth zero", func() error { _, err := r.Wrap("abc", 0, AlignStart); return err }, []string{"maxWidth = 0"}},
		{"newline", func() error { _, err := r.Render("سطر\nثان", 576); return err }, []string{"text", "control character U+000A", "rune 3"}},
		{"tab", func() error { _, err := r.Wrap("a\tb", 576, AlignStart); return err }, []string{"control character U+0009"}},
		{"delete", func() error { _, err := r.Render("a\x7fb", 576); return err }, []string{"control character U+007F"}},
		{"bidi override", func() error { _, err := r.Render("abc\u202Edef", 576); return err }, []string{"bidirectional formatting character U+202E"}},
		{"bidi isolate", func() error { _, err := r.Render("\u2067abc", 576); return err }, []string{"U+2067"}},
		{"line separator", func() error { _, err := r.Render("a\u2028b", 576); return err }, []string{"line separator U+2028"}},
		{"invalid UTF-8", func() error { _, err := r.Render("ab\xffc", 576); return err }, []string{"invalid UTF-8 at byte 2"}},
		{"empty", func() error { _, err := r.Render("", 576); return err }, []string{"nothing to draw"}},
		{"spaces", func() error { _, err := r.Wrap("   ", 576, AlignStart); return err }, []string{"nothing to draw"}},
		{"align", func() error { _, err := r.Wrap("abc", 576, Align(9)); return err }, []string{"align = 9"}},
		{"narrower than a character", func() error { _, err := r.Wrap("WWW", 5, AlignStart); return err }, []string{"maxWidth = 5", `"W"`}},
		{"too long", func() error { _, err := r.Render(strings.Repeat("a", MaxRunes+1), 576); return err }, []string{"4097 characters"}},
		{"size", func() error { _, err := New(Options{SizePx: 4}); return err }, []string{"Options.SizePx = 4"}},
		{"size negative", func() error { _, err := New(Options{SizePx: -24}); return err }, []string{"Options.SizePx = -24"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestRenderTooWide(t *testing.T) {
	r := newRenderer(t, Options{})
	full := render(t, r, "الإجمالي: 1150.00 ر.س")
	_, err := r.Render("الإجمالي: 1150.00 ر.س", full.Rect.Dx()-10)
	var tooWide *TooWideError
	if !errors.As(err, &tooWide) {
		t.Fatalf("err = %v, want *TooWideError", err)
	}
	if tooWide.MaxWidth != full.Rect.Dx()-10 || tooWide.Width < full.Rect.Dx() {
		t.Errorf("TooWideError{Width: %d, MaxWidth: %d}; the line is %d dots", tooWide.Width, tooWide.MaxWidth, full.Rect.Dx())
	}
	if !strings.Contains(err.Error(), fmt.Sprint(tooWide.Width)) {
		t.Errorf("%q does not name the width", err)
	}
}

func TestNeedsRaster(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"Simplified Tax Invoice", false},
		{"Total 1150.00 SAR", false},
		{"Café Zürich ½", false}, // Latin-1
		{"فاتورة", true},
		{"Total ر.س", true},
		{"שלום", true},  // Hebrew, right to left
		{"Итого", true}, // Cyrillic: outside Latin-1
		{"100 €", true}, // U+20AC
		{"", false},
	}
	for _, tc := range tests {
		if got := NeedsRaster(tc.text); got != tc.want {
			t.Errorf("NeedsRaster(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

// TestConcurrentRender: one Renderer used from many goroutines gives the
// same images as used from one (run with -race).
func TestConcurrentRender(t *testing.T) {
	r := newRenderer(t, Options{Bold: true})
	texts := []string{"فاتورة ضريبية مبسطة", "الإجمالي: 1150.00 ر.س", "Simplified Tax Invoice", "شركة ABC للتجارة"}
	want := make([]*image.Gray, len(texts))
	for i, s := range texts {
		want[i] = render(t, r, s)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 20; k++ {
				i := (g + k) % len(texts)
				img, err := r.Render(texts[i], 576)
				if err != nil {
					errs <- err.Error()
					return
				}
				if d := compareGray(img, want[i]); d != "" {
					errs <- fmt.Sprintf("%q: %s", texts[i], d)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// BenchmarkRender40Arabic renders a 40-character Arabic line.
func BenchmarkRender40Arabic(b *testing.B) {
	r := newRenderer(b, Options{})
	text := "مؤسسة النور للتجارة: فاتورة ضريبية مبسطة"
	if n := len([]rune(text)); n != 40 {
		b.Fatalf("%d characters", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Render(text, 576); err != nil {
			b.Fatal(err)
		}
	}
}

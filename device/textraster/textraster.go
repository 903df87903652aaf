package textraster

import (
	"errors"
	"fmt"
	"image"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/go-text/typesetting/font"
	"github.com/go-text/typesetting/segmenter"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/unicode/bidi"
)

// Options configures a Renderer.
type Options struct {
	SizePx int  // em size in printer dots (default 24, the height of a Font A line at 203 dpi)
	Bold   bool // use the bold faces (Noto Sans Arabic Bold, Go Bold, Noto Sans Bold)
}

// Align places a wrapped line within maxWidth.
type Align int

const (
	AlignStart  Align = iota // left for a left-to-right paragraph, right for a right-to-left one
	AlignCenter              // centred
	AlignEnd                 // the side opposite AlignStart
)

// Limits. No receipt printer is wider than 4096 dots (80 mm paper is 576 dots
// at 203 dpi); a line of text longer than MaxRunes is not a receipt line.
const (
	DefaultSizePx = 24
	MinSizePx     = 8
	MaxSizePx     = 256
	MaxWidthDots  = 4096
	MaxRunes      = 4096
)

// TooWideError reports a line that does not fit: Render does not wrap, its
// caller does (or uses Wrap).
type TooWideError struct {
	Width    int // dots the line needs
	MaxWidth int
}

func (e *TooWideError) Error() string {
	return fmt.Sprintf("textraster: line is %d dots wide, more than maxWidth %d", e.Width, e.MaxWidth)
}

// Renderer lays out and rasterises lines of text. It is safe for concurrent use.
type Renderer struct {
	size    int
	ascent  int // dots above the baseline
	descent int // dots below it
	fonts   fontSet
	workers sync.Pool
}

// New returns a Renderer for opt.
func New(opt Options) (*Renderer, error) {
	size := opt.SizePx
	if size == 0 {
		size = DefaultSizePx
	}
	if size < MinSizePx || size > MaxSizePx {
		return nil, fmt.Errorf("textraster: Options.SizePx = %d: must be between %d and %d dots (0 for the default %d)",
			opt.SizePx, MinSizePx, MaxSizePx, DefaultSizePx)
	}
	load := regularFonts
	if opt.Bold {
		load = boldFonts
	}
	fonts, err := load()
	if err != nil {
		return nil, err
	}
	r := &Renderer{
		size: size,
		// The line box is one em above the baseline and half an em below.
		// It holds every Latin-1 letter (Go: 0.95 em up, 0.21 em down),
		// Cyrillic with its diacritics (Noto Sans: Ё, Й below 1 em) and
		// Arabic letters with hamza, a single vowel mark or shadda (Noto
		// Sans Arabic: up to 0.97 em up, 0.46 em down) without the fonts'
		// own 2.1 em line height, which is sized for stacked Quranic marks
		// and would cost a third more paper and bytes per line. Ink beyond
		// the box (a vowel mark stacked over a hamza) is clipped.
		ascent:  size,
		descent: (size + 1) / 2,
		fonts:   fonts,
	}
	r.workers.New = func() any {
		w := &worker{size: fixed.I(size), outlines: make(map[glyphKey]*outline)}
		for i, f := range r.fonts {
			w.faces[i] = font.NewFace(f)
		}
		return w
	}
	return r, nil
}

// LineHeight is the height in dots of every image the Renderer returns.
func (r *Renderer) LineHeight() int { return r.ascent + r.descent }

// Render lays out one line of text (Unicode, logical order), shapes Arabic
// with go-text/typesetting, orders runs with the Unicode Bidirectional
// Algorithm (paragraph direction right to left when the first strong
// character is Arabic or another right-to-left letter, else left to right)
// and rasterises it: white (255) background, black (0) ink, no grey; width
// the ink width, height LineHeight. A line wider than maxWidth dots returns a
// *TooWideError.
func (r *Renderer) Render(text string, maxWidth int) (*image.Gray, error) {
	if err := checkMaxWidth(maxWidth); err != nil {
		return nil, err
	}
	runes, err := validate(text)
	if err != nil {
		return nil, err
	}
	runes = r.withFallbackGlyphs(runes)
	w := r.workers.Get().(*worker)
	defer r.workers.Put(w)
	return r.renderLine(w, runes, paragraphOf(runes), maxWidth)
}

// Wrap renders text into as many lines as needed to fit maxWidth: it breaks
// at spaces, and breaks a word wider than a line between characters. Every
// line is maxWidth dots wide with its ink placed by align; the paragraph
// direction of the whole text decides AlignStart for every line.
func (r *Renderer) Wrap(text string, maxWidth int, align Align) ([]*image.Gray, error) {
	if err := checkMaxWidth(maxWidth); err != nil {
		return nil, err
	}
	if align < AlignStart || align > AlignEnd {
		return nil, fmt.Errorf("textraster: align = %d: must be AlignStart, AlignCenter or AlignEnd", align)
	}
	runes, err := validate(text)
	if err != nil {
		return nil, err
	}
	runes = r.withFallbackGlyphs(runes)
	w := r.workers.Get().(*worker)
	defer r.workers.Put(w)
	para := paragraphOf(runes)

	spans, err := r.breakLines(w, runes, para, maxWidth)
	if err != nil {
		return nil, err
	}
	var lines []*image.Gray
	for _, s := range spans {
		ink, err := r.renderLine(w, runes[s.start:s.end], para, maxWidth)
		if errors.Is(err, errNothingToDraw) {
			continue // a "word" of invisible characters only
		}
		if err != nil {
			return nil, err
		}
		lines = append(lines, placeLine(ink, maxWidth, para, align))
	}
	if len(lines) == 0 {
		return nil, errNothingToDraw
	}
	return lines, nil
}

// Replacement is drawn for a character the embedded fonts have no glyph
// for (an emoji, a CJK ideograph, a Thai letter): U+FFFD, which the Go
// font draws as a diamond with a question mark.
const Replacement = '\uFFFD'

// withFallbackGlyphs returns runes with every grapheme cluster whose base
// the embedded fonts cannot draw replaced by one Replacement — an emoji
// sequence, a flag or a letter with its marks print as one mark, never as
// a failed line — and with the combining marks they lack dropped from a
// base they can draw. Format characters need no glyph and stay.
func (r *Renderer) withFallbackGlyphs(runes []rune) []rune {
	all := true
	for _, c := range runes {
		if !r.canDraw(c) {
			all = false
			break
		}
	}
	if all {
		return runes
	}
	var seg segmenter.Segmenter
	seg.Init(runes)
	out := make([]rune, 0, len(runes))
	for it := seg.GraphemeIterator(); it.Next(); {
		g := it.Grapheme().Text
		if !r.canDraw(g[0]) {
			out = append(out, Replacement)
			continue
		}
		for _, c := range g {
			if r.canDraw(c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// canDraw reports whether one of the embedded fonts has a glyph for c, or
// c needs none.
func (r *Renderer) canDraw(c rune) bool {
	if c < 0x7F || isIgnorable(c) {
		return true
	}
	for _, f := range r.fonts {
		if _, ok := f.NominalGlyph(c); ok {
			return true
		}
	}
	return false
}

// NeedsRaster reports whether s holds characters that must be printed as an
// image: Arabic and other right-to-left scripts, and anything else outside
// Latin-1. (Invalid UTF-8 counts as needing it; Render then refuses it.)
func NeedsRaster(s string) bool {
	for _, r := range s {
		if r > 0xFF {
			return true
		}
	}
	return false
}

// RightToLeft reports whether s is a right-to-left paragraph: its first
// strong character is Arabic or another right-to-left letter.
func RightToLeft(s string) bool {
	return paragraphOf([]rune(s))%2 == 1
}

var errNothingToDraw = errors.New("textraster: text: nothing to draw (empty or only spaces)")

func checkMaxWidth(maxWidth int) error {
	if maxWidth < 1 || maxWidth > MaxWidthDots {
		return fmt.Errorf("textraster: maxWidth = %d: must be between 1 and %d dots", maxWidth, MaxWidthDots)
	}
	return nil
}

// validate decodes text and refuses what cannot be one printed line:
// invalid UTF-8, control characters (line breaks and tabs included), line
// and paragraph separators, and the explicit bidi embedding, override and
// isolate characters, which could reorder a receipt line behind the reader's
// back.
func validate(text string) ([]rune, error) {
	if !utf8.ValidString(text) {
		for i, r := range text {
			if r == utf8.RuneError {
				return nil, fmt.Errorf("textraster: text: invalid UTF-8 at byte %d", i)
			}
		}
	}
	if n := utf8.RuneCountInString(text); n > MaxRunes {
		return nil, fmt.Errorf("textraster: text: %d characters, more than %d", n, MaxRunes)
	}
	runes := []rune(text)
	for i, r := range runes {
		switch {
		case unicode.IsControl(r):
			return nil, fmt.Errorf("textraster: text: control character %U at rune %d is not allowed (one line of printable text)", r, i)
		case r == 0x2028 || r == 0x2029:
			return nil, fmt.Errorf("textraster: text: line separator %U at rune %d is not allowed (one line of printable text)", r, i)
		case classOf(r) >= bidi.LRO:
			return nil, fmt.Errorf("textraster: text: bidirectional formatting character %U at rune %d is not allowed (embeddings, overrides and isolates are refused)", r, i)
		}
	}
	return runes, nil
}

func paragraphOf(runes []rune) level {
	classes := make([]bidi.Class, len(runes))
	for i, r := range runes {
		classes[i] = classOf(r)
	}
	return paragraphLevel(classes)
}

// renderLine lays out and draws one line with a given paragraph level.
func (r *Renderer) renderLine(w *worker, runes []rune, para level, maxWidth int) (*image.Gray, error) {
	if err := w.layout(runes, para); err != nil {
		return nil, err
	}
	minX, maxX, ok := w.inkBounds()
	if !ok {
		return nil, errNothingToDraw
	}
	if width := maxX.Ceil() - minX.Floor(); width > maxWidth {
		return nil, &TooWideError{Width: width, MaxWidth: maxWidth}
	}
	img := w.draw(minX, maxX, r.ascent, r.LineHeight())
	if img == nil {
		return nil, errNothingToDraw
	}
	return img, nil
}

// lineWidth is the width in dots a line of runes needs, 0 when it has no ink.
func (r *Renderer) lineWidth(w *worker, runes []rune, para level) (int, error) {
	if err := w.layout(runes, para); err != nil {
		return 0, err
	}
	minX, maxX, ok := w.inkBounds()
	if !ok {
		return 0, nil
	}
	return maxX.Ceil() - minX.Floor(), nil
}

type span struct{ start, end int }

// breakLines splits runes into lines that fit maxWidth: greedily by words
// (separated by spaces, which a break swallows), and a word that does not
// fit on a line of its own between characters.
func (r *Renderer) breakLines(w *worker, runes []rune, para level, maxWidth int) ([]span, error) {
	var layoutErr error
	fits := func(s span) bool {
		width, err := r.lineWidth(w, runes[s.start:s.end], para)
		if err != nil {
			layoutErr = err
			return false
		}
		return width <= maxWidth
	}
	var lines []span
	words := splitWords(runes)
	line, open := span{}, false
	for k := 0; k < len(words); k++ {
		word := words[k]
		if open {
			if joined := (span{line.start, word.end}); fits(joined) {
				line = joined
				continue
			}
			lines = append(lines, line)
			open = false
		}
		if fits(word) {
			line, open = word, true
			continue
		}
		if layoutErr != nil {
			return nil, layoutErr
		}
		// The word alone is too wide: take the longest head that fits and
		// go on with the rest of the word.
		head, ok := longestFittingHead(runes, word, fits)
		if layoutErr != nil {
			return nil, layoutErr
		}
		if !ok {
			return nil, fmt.Errorf("textraster: maxWidth = %d: narrower than the character %q", maxWidth, string(runes[word.start:head]))
		}
		lines = append(lines, span{word.start, head})
		words[k].start = head
		k--
	}
	if layoutErr != nil {
		return nil, layoutErr
	}
	if open {
		lines = append(lines, line)
	}
	return lines, nil
}

// longestFittingHead returns the end of the longest head of word that fits,
// cutting only where a character starts (never before a combining mark or
// next to a joiner). When not even the first character fits it returns the
// end of that character and false.
func longestFittingHead(runes []rune, word span, fits func(span) bool) (int, bool) {
	var cuts []int
	for i := word.start + 1; i < word.end; i++ {
		if canCutBefore(runes, i) {
			cuts = append(cuts, i)
		}
	}
	// Width grows with the head: search for the last cut that fits.
	lo, hi := 0, len(cuts) // cuts[:lo] fit, cuts[hi:] do not
	for lo < hi {
		mid := (lo + hi) / 2
		if fits(span{word.start, cuts[mid]}) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		if len(cuts) == 0 {
			return word.end, false
		}
		return cuts[0], false
	}
	return cuts[lo-1], true
}

func canCutBefore(runes []rune, i int) bool {
	r, prev := runes[i], runes[i-1]
	if unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc) || r == 0x200D || prev == 0x200D {
		return false
	}
	return !isIgnorable(r)
}

// splitWords returns the runs of runes between spaces.
func splitWords(runes []rune) []span {
	var words []span
	start := -1
	for i, r := range runes {
		switch {
		case r == ' ' && start >= 0:
			words = append(words, span{start, i})
			start = -1
		case r != ' ' && start < 0:
			start = i
		}
	}
	if start >= 0 {
		words = append(words, span{start, len(runes)})
	}
	return words
}

// placeLine copies a line's ink into a maxWidth-wide white line.
func placeLine(ink *image.Gray, maxWidth int, para level, align Align) *image.Gray {
	h := ink.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, maxWidth, h))
	for i := range out.Pix {
		out.Pix[i] = 255
	}
	free := maxWidth - ink.Rect.Dx()
	x := 0
	rightToLeft := para%2 == 1
	switch {
	case align == AlignCenter:
		x = free / 2
	case (align == AlignStart) == rightToLeft:
		x = free
	}
	for y := 0; y < h; y++ {
		copy(out.Pix[y*out.Stride+x:], ink.Pix[y*ink.Stride:y*ink.Stride+ink.Rect.Dx()])
	}
	return out
}

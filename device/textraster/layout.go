package textraster

import (
	"fmt"
	"unicode"

	"github.com/go-text/typesetting/di"
	"github.com/go-text/typesetting/font"
	"github.com/go-text/typesetting/language"
	"github.com/go-text/typesetting/shaping"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/unicode/bidi"
)

var (
	langArabic  = language.NewLanguage("ar")
	langEnglish = language.NewLanguage("en")
)

// worker holds everything one line needs while it is laid out and drawn.
// Faces, the shaper and the rasteriser are not safe for concurrent use, so a
// Renderer keeps a pool of workers.
type worker struct {
	size   fixed.Int26_6
	faces  [numFaces]*font.Face
	shaper shaping.HarfbuzzShaper
	bidi   bidiScratch

	classes []bidi.Class
	levels  []level
	scripts []language.Script
	faceOf  []int8
	items   []item
	order   []int
	glyphs  []placedGlyph

	outlines map[glyphKey]*outline
	canvas   canvas
}

// item is a run of runes that share a level, a face and a script: the unit
// HarfBuzz shapes.
type item struct {
	start, end int
	level      level
	face       int8
	script     language.Script
	out        shaping.Output
}

// placedGlyph is a glyph at its origin on the line; x grows rightwards from
// the line's start, y upwards from the baseline, both in 1/64 dot.
type placedGlyph struct {
	key  glyphKey
	x, y fixed.Int26_6
}

// layout shapes text as one line with paragraph level para and leaves its
// glyphs, left to right, in w.glyphs.
func (w *worker) layout(text []rune, para level) error {
	n := len(text)
	w.classes = resize(w.classes, n)
	w.levels = resize(w.levels, n)
	w.scripts = resize(w.scripts, n)
	w.faceOf = resize(w.faceOf, n)
	for i, r := range text {
		w.classes[i] = classOf(r)
	}
	w.bidi.resolveLevels(text, w.classes, para, w.levels)
	w.resolveScripts(text)
	if err := w.chooseFaces(text); err != nil {
		return err
	}

	w.items = w.items[:0]
	for i := 0; i < n; {
		j := i + 1
		for j < n && w.levels[j] == w.levels[i] && w.faceOf[j] == w.faceOf[i] && w.scripts[j] == w.scripts[i] {
			j++
		}
		w.items = append(w.items, item{start: i, end: j, level: w.levels[i], face: w.faceOf[i], script: w.scripts[i]})
		i = j
	}
	for k := range w.items {
		it := &w.items[k]
		dir, lang := di.DirectionLTR, langEnglish
		if it.level%2 == 1 {
			dir = di.DirectionRTL
		}
		if it.script == language.Arabic {
			lang = langArabic
		}
		// The whole line goes in as context so that joining and marks see
		// their neighbours across item boundaries.
		it.out = w.shaper.Shape(shaping.Input{
			Text: text, RunStart: it.start, RunEnd: it.end,
			Direction: dir, Face: w.faces[it.face], Size: w.size,
			Script: it.script, Language: lang,
		})
	}

	w.order = resize(w.order, len(w.items))
	visualOrder(w.order, func(i int) level { return w.items[i].level })

	// HarfBuzz returns each item's glyphs left to right already. The pen is
	// rounded to a whole dot at the start of every glyph except inside a run
	// of Arabic letters, whose joins must not move: a word or number then
	// rasterises to the same dots wherever it stands on the line.
	w.glyphs = w.glyphs[:0]
	var pen fixed.Int26_6
	for _, k := range w.order {
		it := &w.items[k]
		prevArabic := false
		for _, g := range it.out.Glyphs {
			arabic := language.LookupScript(text[g.ClusterIndex]) == language.Arabic
			if !(arabic && prevArabic) {
				pen = (pen + 32) &^ 63
			}
			prevArabic = arabic
			w.glyphs = append(w.glyphs, placedGlyph{
				key: glyphKey{face: it.face, gid: g.GlyphID},
				x:   pen + g.XOffset,
				y:   g.YOffset,
			})
			pen += g.Advance
		}
	}
	return nil
}

// resolveScripts gives every rune a script for shaping and face choice.
// Common and inherited characters (spaces, punctuation, marks) take the
// script of their neighbours within the same level run, so the space and
// colon of "الإجمالي: " stay in the Arabic run. ASCII digits count as Latin:
// they are drawn with the Go font.
func (w *worker) resolveScripts(text []rune) {
	n := len(text)
	for i, r := range text {
		if r >= '0' && r <= '9' {
			w.scripts[i] = language.Latin
		} else {
			w.scripts[i] = language.LookupScript(r)
		}
	}
	for a := 0; a < n; {
		b := a + 1
		for b < n && w.levels[b] == w.levels[a] {
			b++
		}
		fallback := language.Unknown
		for i := a; i < b && fallback == language.Unknown; i++ {
			if w.scripts[i].Strong() {
				fallback = w.scripts[i]
			}
		}
		if fallback == language.Unknown { // a run of neutrals only: look along the line
			fallback = nearestStrongScript(w.scripts, a, b)
		}
		current := fallback
		for i := a; i < b; i++ {
			if w.scripts[i].Strong() {
				current = w.scripts[i]
			} else {
				w.scripts[i] = current
			}
		}
		a = b
	}
}

func nearestStrongScript(scripts []language.Script, a, b int) language.Script {
	for i := a - 1; i >= 0; i-- {
		if scripts[i].Strong() {
			return scripts[i]
		}
	}
	for i := b; i < len(scripts); i++ {
		if scripts[i].Strong() {
			return scripts[i]
		}
	}
	return language.Latin
}

// chooseFaces picks the face of every rune: the one made for its script when
// it has the glyph, else the first other one that has it. A mark stays with
// its base when that face has it.
func (w *worker) chooseFaces(text []rune) error {
	latin := w.latinFace(text)
	for i, r := range text {
		if isIgnorable(r) {
			// Invisible format characters (ZWJ, ZWNJ, LRM…) need no glyph
			// and must not split the run around them.
			w.faceOf[i] = -1
			continue
		}
		preferred := latin
		if w.scripts[i] == language.Arabic {
			preferred = faceArabic
		}
		candidates := [numFaces + 1]int8{preferred, faceArabic, faceLatin, faceCyrillic}
		if i > 0 && w.faceOf[i-1] >= 0 && unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc) {
			candidates = [numFaces + 1]int8{w.faceOf[i-1], preferred, latin, faceArabic}
		}
		w.faceOf[i] = -1
		for _, f := range candidates {
			if w.hasGlyph(f, r) {
				w.faceOf[i] = f
				break
			}
		}
		if w.faceOf[i] < 0 {
			return fmt.Errorf("textraster: text: %U %q at rune %d has no glyph in the embedded fonts (Noto Sans Arabic, Go, Noto Sans)", r, r, i)
		}
	}
	// Ignorables join the face of the rune before them (or after, at the start).
	for i := range text {
		if w.faceOf[i] >= 0 {
			continue
		}
		w.faceOf[i] = faceArabic
		if i > 0 {
			w.faceOf[i] = w.faceOf[i-1]
			continue
		}
		for _, f := range w.faceOf[1:] {
			if f >= 0 {
				w.faceOf[i] = f
				break
			}
		}
	}
	return nil
}

// latinFace is the face that draws the line's Latin letters, digits and
// punctuation: Noto Sans when the line holds a character outside Arabic
// that only Noto Sans has (Cyrillic, ₸, a combining mark), so that the
// whole line is set in one typeface; else the Go font, as on Arabic and
// Latin lines.
func (w *worker) latinFace(text []rune) int8 {
	for i, r := range text {
		if r < 0x7F || isIgnorable(r) || w.scripts[i] == language.Arabic {
			continue
		}
		if !w.hasGlyph(faceLatin, r) && w.hasGlyph(faceCyrillic, r) {
			return faceCyrillic
		}
	}
	return faceLatin
}

func (w *worker) hasGlyph(face int8, r rune) bool {
	_, ok := w.faces[face].NominalGlyph(r)
	return ok
}

// isIgnorable reports format characters that have no ink: joiners, bidi
// marks, soft hyphen, variation selectors. The Arabic number signs
// (U+0600…U+0605, U+06DD) are format characters with ink and are not.
func isIgnorable(r rune) bool {
	switch {
	case r >= 0x0600 && r <= 0x0605, r == 0x06DD, r == 0x08E2:
		return false
	case r >= 0xFE00 && r <= 0xFE0F:
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// inkBounds returns the horizontal extent of the laid-out glyphs in 1/64 dot
// (from the outlines' control points, which enclose the curves), and false
// when the line has no ink at all.
func (w *worker) inkBounds() (minX, maxX fixed.Int26_6, ok bool) {
	for _, g := range w.glyphs {
		o := w.outline(g.key)
		if o.empty {
			continue
		}
		lo, hi := g.x+o.minX, g.x+o.maxX
		if !ok || lo < minX {
			minX = lo
		}
		if !ok || hi > maxX {
			maxX = hi
		}
		ok = true
	}
	return minX, maxX, ok
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

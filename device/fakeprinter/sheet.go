package fakeprinter

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"strings"
)

const (
	black = 0x00
	white = 0xFF
)

// Receipt is one stretch of printed paper.
type Receipt struct {
	// Text is the transcript, one line per printed line or object, each
	// ending in "\n" (see the package documentation for the marks).
	Text string
	// Image is the paper: raster images and QR symbols where they printed,
	// text in Go Mono (characters the font lacks are left blank; the
	// transcript has them). Shared between copies: do not modify.
	Image *image.Gray
	// QR holds the data of each native QR symbol printed, in order.
	QR []string
	// Cut is true when a cut ended the receipt, false when it was torn off
	// at a paper end, or is still being printed (Pending).
	Cut bool

	symbols []symbolRegion
}

// symbolRegion is where a QR symbol landed on the paper, and how much white
// (four modules) surrounds it in QRImages.
type symbolRegion struct {
	bounds image.Rectangle
	quiet  int
}

// PNG encodes the receipt's paper. It favours speed over size (the demo
// writes every receipt it prints): half the time of the default
// compression for files about a fifth larger.
func (r Receipt) PNG() ([]byte, error) {
	if r.Image == nil {
		return nil, errors.New("fakeprinter: receipt has no image")
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, r.Image); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// QRImages returns each QR symbol on the receipt, top to bottom, cropped
// from the paper with a white quiet zone of four modules: the native
// symbols, and raster images whose top-left corner is a QR finder pattern.
// Decoding a crop is more robust than decoding the whole receipt.
func (r Receipt) QRImages() []image.Image {
	var out []image.Image
	for _, s := range r.symbols {
		b := s.bounds
		crop := image.NewGray(image.Rect(0, 0, b.Dx()+2*s.quiet, b.Dy()+2*s.quiet))
		for i := range crop.Pix {
			crop.Pix[i] = white
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			src := r.Image.Pix[r.Image.PixOffset(b.Min.X, y):r.Image.PixOffset(b.Max.X, y)]
			copy(crop.Pix[crop.PixOffset(s.quiet, y-b.Min.Y+s.quiet):], src)
		}
		out = append(out, crop)
	}
	return out
}

// sheet is the paper printed since the last cut.
type sheet struct {
	width   int
	maxRows int
	lines   []string
	pix     []byte // rows of width gray pixels
	rows    int
	clipped bool
	qr      []string
	symbols []symbolRegion
}

func newSheet(width, maxRows int) *sheet {
	return &sheet{width: width, maxRows: maxRows}
}

func (s *sheet) empty() bool { return len(s.lines) == 0 && s.rows == 0 }

// grow adds up to n rows of blank paper and returns the first new row and
// how many were added; past maxRows the paper is no longer drawn.
func (s *sheet) grow(n int) (first, added int) {
	first = s.rows
	added = min(n, s.maxRows-s.rows)
	if added < n && !s.clipped {
		s.clipped = true
		s.lines = append(s.lines, "[PAPER LIMIT: the rest of this receipt is not drawn]")
	}
	if added <= 0 {
		return first, 0
	}
	s.pix = append(s.pix, bytes.Repeat([]byte{white}, added*s.width)...)
	s.rows += added
	return first, added
}

func (s *sheet) feed(rows int) { s.grow(rows) }

// draw prints a w×h image at column x0 below the paper printed so far and
// returns its first row.
func (s *sheet) draw(x0, w, h int, ink func(x, y int) bool) int {
	first, added := s.grow(h)
	for y := 0; y < added; y++ {
		row := s.pix[(first+y)*s.width:]
		for x := 0; x < w; x++ {
			if ink(x, y) {
				row[x0+x] = black
			}
		}
	}
	return first
}

// addSymbol records a QR symbol drawn at (x0, y0), clipped to the paper drawn.
func (s *sheet) addSymbol(x0, y0, w, h, quiet int) {
	b := image.Rect(x0, y0, x0+w, y0+h).Intersect(image.Rect(0, 0, s.width, s.rows))
	if !b.Empty() {
		s.symbols = append(s.symbols, symbolRegion{bounds: b, quiet: quiet})
	}
}

// extendSymbol grows the last symbol region by a band drawn directly under
// it at the same x and width.
func (s *sheet) extendSymbol(x0, y0, w, h int) {
	if len(s.symbols) == 0 {
		return
	}
	last := &s.symbols[len(s.symbols)-1]
	if last.bounds.Min.X == x0 && last.bounds.Dx() == w && last.bounds.Max.Y == y0 {
		last.bounds.Max.Y = min(y0+h, s.rows)
	}
}

// looksLikeQR tells whether the image just drawn at (x0, y0) starts with a
// QR finder pattern (dark:light:dark:light:dark 1:1:3:1:1, the outer ring
// 7 modules wide) and if so returns the quiet zone for its module size.
func (s *sheet) looksLikeQR(x0, y0, w, h int) (quiet int, ok bool) {
	h = min(h, s.rows-y0)
	at := func(x, y int) bool { return x < w && y < h && s.pix[(y0+y)*s.width+x0+x] == black }
	top, left := -1, -1
	for y := 0; y < h && top < 0; y++ {
		for x := 0; x < w; x++ {
			if at(x, y) {
				top, left = y, x
				break
			}
		}
	}
	if top < 0 {
		return 0, false
	}
	run := func(x, y int, ink bool) int {
		n := 0
		for x+n < w && at(x+n, y) == ink {
			n++
		}
		return n
	}
	outer := run(left, top, true)
	if outer < 7 || outer%7 != 0 {
		return 0, false
	}
	m := outer / 7
	// Through the centre: 1 dark, 1 light, 3 dark, 1 light, 1 dark.
	y := top + 3*m + m/2
	x := left
	for _, want := range []struct {
		ink     bool
		modules int
	}{{true, 1}, {false, 1}, {true, 3}, {false, 1}, {true, 1}} {
		if run(x, y, want.ink) != want.modules*m {
			return 0, false
		}
		x += want.modules * m
	}
	return 4 * m, true
}

// image returns a copy of the paper; an empty sheet is one blank row.
func (s *sheet) image() *image.Gray {
	rows := max(s.rows, 1)
	img := image.NewGray(image.Rect(0, 0, s.width, rows))
	copy(img.Pix, s.pix)
	if s.rows == 0 {
		for i := range img.Pix {
			img.Pix[i] = white
		}
	}
	return img
}

func (s *sheet) receipt(cut bool) Receipt {
	text := ""
	if len(s.lines) > 0 {
		text = strings.Join(s.lines, "\n") + "\n"
	}
	return Receipt{
		Text:    text,
		Image:   s.image(),
		QR:      append([]string(nil), s.qr...),
		Cut:     cut,
		symbols: append([]symbolRegion(nil), s.symbols...),
	}
}

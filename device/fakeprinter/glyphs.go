package fakeprinter

import (
	"image"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// glyph is one text character waiting in the print buffer: where on the
// line it starts and in which style.
type glyph struct {
	x  int
	r  rune
	st style
}

// textFaces holds Go Mono faces by size and weight. Go Mono's advance is
// 0.6 em, so a 20-dot em fills Font A's 12-dot cell.
var textFaces sync.Map // faceKey → font.Face

type faceKey struct {
	size int
	bold bool
}

func textFace(size int, bold bool) font.Face {
	k := faceKey{size, bold}
	if f, ok := textFaces.Load(k); ok {
		return f.(font.Face)
	}
	data := gomono.TTF
	if bold {
		data = gomonobold.TTF
	}
	ft, err := opentype.Parse(data)
	if err != nil {
		return nil
	}
	face, err := opentype.NewFace(ft, &opentype.FaceOptions{Size: float64(size), DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil
	}
	f, _ := textFaces.LoadOrStore(k, face)
	return f.(font.Face)
}

// drawText draws a printed line's characters on the paper between rows
// top and top+height, so that the PNG reads like the receipt. Characters
// the font lacks (a code page's Arabic letters) are left blank: the
// transcript has them.
func (s *sheet) drawText(glyphs []glyph, offset, top, height int) {
	if len(glyphs) == 0 || top >= s.rows {
		return
	}
	baseline := height
	// At the paper's limit the line may be cut short: draw what is there.
	height = min(height, s.rows-top)
	paper := &image.Gray{Pix: s.pix[top*s.width : (top+height)*s.width], Stride: s.width, Rect: image.Rect(0, 0, s.width, height)}
	ink := image.NewGray(paper.Rect)
	for _, g := range glyphs {
		w, h := g.st.cell()
		face := textFace(h*20/fontAHeight, g.st.bold)
		if face == nil {
			continue
		}
		// The glyph is drawn at the cell's height, then stretched to its
		// width (GS ! and ESC ! scale the two directions separately). The
		// baseline sits where a 24-dot cell's descent starts.
		natural := h * fontAWidth / fontAHeight
		cell := image.NewGray(image.Rect(0, 0, natural, height))
		d := font.Drawer{Dst: cell, Src: image.White, Face: face, Dot: fixed.P(0, baseline-h/5)}
		d.DrawString(string(g.r))
		for y := range height {
			for x := range w {
				if v := cell.Pix[cell.PixOffset(x*natural/w, y)]; v > 0 {
					if px := offset + g.x + x; px >= 0 && px < s.width {
						ink.Pix[ink.PixOffset(px, y)] = max(ink.Pix[ink.PixOffset(px, y)], v)
					}
				}
			}
		}
	}
	// Thermal dots are on or off.
	for i, v := range ink.Pix {
		if v >= 0x80 {
			paper.Pix[i] = black
		}
	}

}

package textraster

import (
	"image"
	"math"

	"github.com/go-text/typesetting/font"
	ot "github.com/go-text/typesetting/font/opentype"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

type glyphKey struct {
	face int8
	gid  font.GID
}

// outline is a glyph's path scaled to the renderer's size, in 1/64 dot with y
// upwards. Whole 1/64 steps keep every coordinate exact in float32, so moving
// a glyph by whole dots moves its raster by exactly as many dots.
type outline struct {
	ops        []ot.SegmentOp
	pts        []fixed.Point26_6 // one per move/line, two per quad, three per cube
	minX, maxX fixed.Int26_6
	empty      bool
}

func (w *worker) outline(k glyphKey) *outline {
	if o, ok := w.outlines[k]; ok {
		return o
	}
	o := &outline{empty: true}
	face := w.faces[k.face]
	if data, ok := face.GlyphData(k.gid).(font.GlyphOutline); ok && len(data.Segments) > 0 {
		scale := float64(w.size) / float64(face.Upem())
		o.empty = false
		o.ops = make([]ot.SegmentOp, 0, len(data.Segments))
		for _, s := range data.Segments {
			o.ops = append(o.ops, s.Op)
			for _, p := range s.ArgsSlice() {
				q := fixed.Point26_6{
					X: fixed.Int26_6(math.Round(float64(p.X) * scale)),
					Y: fixed.Int26_6(math.Round(float64(p.Y) * scale)),
				}
				if len(o.pts) == 0 || q.X < o.minX {
					o.minX = q.X
				}
				if len(o.pts) == 0 || q.X > o.maxX {
					o.maxX = q.X
				}
				o.pts = append(o.pts, q)
			}
		}
	}
	w.outlines[k] = o
	return o
}

// canvas holds a worker's reusable buffers: the rasteriser, one glyph's
// coverage, and the line's summed coverage.
type canvas struct {
	rast  vector.Rasterizer
	glyph image.Alpha
	line  []uint16
}

// inkThreshold is the coverage from which a dot prints black: the printer has
// no grey, and half coverage keeps stroke widths true on average.
const inkThreshold = 128

// draw rasterises w.glyphs between minX and maxX (1/64 dot) on a line with
// the given ascent and height, thresholds the coverage and returns the image
// cropped to the columns that hold ink, or nil when none do.
//
// Each glyph is rasterised on its own and the coverages are added: a glyph
// then comes out the same wherever it stands on the line. Rasterising the
// whole line in one pass does not guarantee that, because the rasteriser
// carries rounding residue from the end of one row into the start of the
// next, so glyphs at the right end nudge the dots of glyphs at the left.
func (w *worker) draw(minX, maxX fixed.Int26_6, ascent, height int) *image.Gray {
	left := minX.Floor()
	width := maxX.Ceil() - left
	if width <= 0 {
		return nil
	}
	c := &w.canvas
	if n := width * height; cap(c.line) < n {
		c.line = make([]uint16, n)
	} else {
		c.line = c.line[:n]
		clear(c.line)
	}
	originX := fixed.I(left)
	baseline := fixed.I(ascent)
	for _, g := range w.glyphs {
		o := w.outline(g.key)
		if o.empty {
			continue
		}
		gx := g.x - originX
		gLeft := (gx + o.minX).Floor()
		gWidth := (gx + o.maxX).Ceil() - gLeft
		if gWidth <= 0 {
			continue
		}
		w.rasterizeGlyph(o, gx-fixed.I(gLeft), baseline-g.y, gWidth, height)
		for y := 0; y < height; y++ {
			src := c.glyph.Pix[y*gWidth : (y+1)*gWidth]
			dst := c.line[y*width+gLeft : y*width+gLeft+gWidth]
			for x, a := range src {
				dst[x] += uint16(a)
			}
		}
	}

	first, last := width, -1
	for y := 0; y < height; y++ {
		for x, a := range c.line[y*width : (y+1)*width] {
			if a >= inkThreshold {
				first = min(first, x)
				last = max(last, x)
			}
		}
	}
	if last < 0 {
		return nil
	}
	img := image.NewGray(image.Rect(0, 0, last-first+1, height))
	for y := 0; y < height; y++ {
		src := c.line[y*width+first : y*width+last+1]
		dst := img.Pix[y*img.Stride : y*img.Stride+len(src)]
		for x, a := range src {
			if a >= inkThreshold {
				dst[x] = 0
			} else {
				dst[x] = 255
			}
		}
	}
	return img
}

// rasterizeGlyph draws outline o with its origin at (x, baseline) (1/64 dot,
// y downwards from the top) into the worker's glyph buffer of width x height.
func (w *worker) rasterizeGlyph(o *outline, x, baseline fixed.Int26_6, width, height int) {
	c := &w.canvas
	c.rast.Reset(width, height)
	pt := func(p fixed.Point26_6) (float32, float32) {
		return float32(x+p.X) / 64, float32(baseline-p.Y) / 64
	}
	pts := o.pts
	for i, op := range o.ops {
		switch op {
		case ot.SegmentOpMoveTo:
			if i > 0 {
				c.rast.ClosePath()
			}
			c.rast.MoveTo(pt(pts[0]))
			pts = pts[1:]
		case ot.SegmentOpLineTo:
			c.rast.LineTo(pt(pts[0]))
			pts = pts[1:]
		case ot.SegmentOpQuadTo:
			bx, by := pt(pts[0])
			cx, cy := pt(pts[1])
			c.rast.QuadTo(bx, by, cx, cy)
			pts = pts[2:]
		case ot.SegmentOpCubeTo:
			bx, by := pt(pts[0])
			cx, cy := pt(pts[1])
			dx, dy := pt(pts[2])
			c.rast.CubeTo(bx, by, cx, cy, dx, dy)
			pts = pts[3:]
		}
	}
	c.rast.ClosePath()

	if n := width * height; cap(c.glyph.Pix) < n {
		c.glyph.Pix = make([]uint8, n)
	} else {
		c.glyph.Pix = c.glyph.Pix[:n]
		clear(c.glyph.Pix)
	}
	c.glyph.Stride = width
	c.glyph.Rect = image.Rect(0, 0, width, height)
	c.rast.Draw(&c.glyph, c.glyph.Rect, image.Opaque, image.Point{})
}

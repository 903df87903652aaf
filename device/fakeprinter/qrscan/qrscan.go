// Package qrscan reads QR symbols back from a printed image, so tests can
// check that what a receipt shows decodes to what was meant.
//
// It uses gozxing's multi-symbol detector. gozxing's default mode wrongly
// rejects about 0.1% of valid symbols (spec/escpos.md §3c); every symbol it
// locates but cannot read is retried, cropped, with the PURE_BARCODE hint.
// The detector also locates a symbol through false finder patterns in its
// own data area (about 7 in 1,000 stamped-receipt QR codes); a finder
// pattern belongs to one symbol, so detections that share one count once.
package qrscan

import (
	"errors"
	"fmt"
	"image"
	"image/draw"
	"math"
	"sort"

	"github.com/makiuchi-d/gozxing"
	multidetector "github.com/makiuchi-d/gozxing/multi/qrcode/detector"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// found is one decoded symbol and where it is.
type found struct {
	text string
	x, y float64 // top-left finder pattern centre
}

// Decode returns the data of every QR symbol in img, top to bottom (then
// left to right). Byte-mode data is read as UTF-8. An image without any
// symbol gives no data and no error; a symbol located but unreadable gives
// an error, alongside the symbols that were read.
func Decode(img image.Image) ([]string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return nil, fmt.Errorf("qrscan: %w", err)
	}
	matrix, err := bmp.GetBlackMatrix()
	if err != nil {
		return nil, fmt.Errorf("qrscan: %w", err)
	}
	hints := map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_CHARACTER_SET: "UTF-8"}
	detections, err := multidetector.NewMultiDetector(matrix).DetectMulti(hints)
	if err != nil || len(detections) == 0 {
		// Nothing located: a lone symbol may still read on its own.
		if res, err := qrcode.NewQRCodeReader().Decode(bmp, hints); err == nil {
			return []string{res.GetText()}, nil
		}
		if text, err := decodePure(img, hints); err == nil {
			return []string{text}, nil
		}
		return nil, nil
	}
	// Decode every detection first, then keep one reading per symbol: the
	// multi detector also pairs a symbol's real finder patterns with a
	// 1:1:3:1:1 run in its data area, and that false triple samples the
	// same symbol askew — sometimes well enough for error correction to
	// read it again, sometimes not at all.
	var read, unread []detection
	for _, d := range detections {
		points := d.GetPoints()
		if len(points) < 3 {
			continue
		}
		// Points are bottom-left, top-left, top-right finder centres.
		det := detection{finders: points[:3], found: found{x: points[1].GetX(), y: points[1].GetY()}}
		if text, err := decodeDetected(d.GetBits(), hints); err == nil {
			det.text = text
		} else if text, pureErr := decodePure(cropSymbol(img, points), hints); pureErr == nil {
			det.text = text
		} else {
			det.err = fmt.Errorf("qrscan: symbol at (%.0f, %.0f): %v; with PURE_BARCODE: %v", det.x, det.y, err, pureErr)
			unread = append(unread, det)
			continue
		}
		read = append(read, det)
	}
	var symbols []found
	var kept []detection
	var errs []error
	for _, d := range read {
		if k, ok := sharesFinder(kept, d); ok {
			if k.text != d.text {
				errs = append(errs, fmt.Errorf("qrscan: symbols at (%.0f, %.0f) and (%.0f, %.0f) share a finder pattern but read differently", k.x, k.y, d.x, d.y))
			}
			continue
		}
		kept = append(kept, d)
		symbols = append(symbols, d.found)
	}
	for _, d := range unread {
		if _, ok := sharesFinder(kept, d); !ok {
			errs = append(errs, d.err)
		}
	}
	sort.SliceStable(symbols, func(i, j int) bool {
		if math.Abs(symbols[i].y-symbols[j].y) > 1 {
			return symbols[i].y < symbols[j].y
		}
		return symbols[i].x < symbols[j].x
	})
	texts := make([]string, len(symbols))
	for i, s := range symbols {
		texts[i] = s.text
	}
	return texts, errors.Join(errs...)
}

// decodeDetected reads a located symbol's modules; a variable so tests can
// make it fail and exercise the PURE_BARCODE retry.
var decodeDetected = func(bits *gozxing.BitMatrix, hints map[gozxing.DecodeHintType]interface{}) (string, error) {
	res, err := qrcode.NewQRCodeReader().(*qrcode.QRCodeReader).GetDecoder().Decode(bits, hints)
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

// detection is one symbol the multi detector located: its finder pattern
// centres, and what it read (text) or why it could not (err).
type detection struct {
	found
	finders []gozxing.ResultPoint
	err     error
}

// sharesFinder returns the kept detection that uses one of d's finder
// patterns. A finder pattern belongs to one symbol only, so two detections
// sharing one are the same symbol (the detector reports a symbol once per
// plausible triple, and may report the same triple twice).
func sharesFinder(kept []detection, d detection) (detection, bool) {
	for _, k := range kept {
		for _, p := range k.finders {
			for _, q := range d.finders {
				if math.Abs(p.GetX()-q.GetX()) < 1 && math.Abs(p.GetY()-q.GetY()) < 1 {
					return k, true
				}
			}
		}
	}
	return detection{}, false
}

// decodePure reads an image holding one symbol on white.
func decodePure(img image.Image, hints map[gozxing.DecodeHintType]interface{}) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	pure := map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true}
	for k, v := range hints {
		pure[k] = v
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, pure)
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

// cropSymbol cuts the symbol whose finder centres are points out of img,
// on white, with a margin of four modules: the finder centres sit 3.5
// modules inside the symbol's edge.
func cropSymbol(img image.Image, points []gozxing.ResultPoint) image.Image {
	module := 1.0
	var sum float64
	var n int
	for _, p := range points[:3] {
		if fp, ok := p.(*detector.FinderPattern); ok {
			sum += fp.GetEstimatedModuleSize()
			n++
		}
	}
	if n > 0 {
		module = sum / float64(n)
	}
	bl, tl, tr := points[0], points[1], points[2]
	// The fourth corner completes the parallelogram.
	brX, brY := tr.GetX()+bl.GetX()-tl.GetX(), tr.GetY()+bl.GetY()-tl.GetY()
	minX := math.Min(math.Min(bl.GetX(), tl.GetX()), math.Min(tr.GetX(), brX))
	maxX := math.Max(math.Max(bl.GetX(), tl.GetX()), math.Max(tr.GetX(), brX))
	minY := math.Min(math.Min(bl.GetY(), tl.GetY()), math.Min(tr.GetY(), brY))
	maxY := math.Max(math.Max(bl.GetY(), tl.GetY()), math.Max(tr.GetY(), brY))
	edge := 4 * module // 3.5 modules to the edge, half a module of slack
	quiet := 4 * module
	src := image.Rect(int(minX-edge), int(minY-edge), int(math.Ceil(maxX+edge)), int(math.Ceil(maxY+edge))).Intersect(img.Bounds())
	q := int(math.Ceil(quiet))
	out := image.NewGray(image.Rect(0, 0, src.Dx()+2*q, src.Dy()+2*q))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(out, image.Rect(q, q, q+src.Dx(), q+src.Dy()), img, src.Min, draw.Src)
	return out
}

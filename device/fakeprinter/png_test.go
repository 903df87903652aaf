package fakeprinter

import (
	"bytes"
	"image"
	"image/png"
	"testing"
)

// jobReceipt is the receipt of job on 576-dot paper.
func jobReceipt(t testing.TB) Receipt {
	t.Helper()
	in := newInterpreter(576, defaultMaxRows)
	in.reply, in.sendASB = func([]byte) {}, func() {}
	in.feed(job(t, base64Payload(300, 7), "https://example.com/r/1"))
	done := in.takeDone()
	if len(done) != 1 {
		t.Fatalf("%d receipts, want 1", len(done))
	}
	return done[0]
}

// The PNG holds exactly the paper: every pixel decodes to the paper's
// value, for printed paper and for paper with grey.
func TestReceiptPNG(t *testing.T) {
	printed := jobReceipt(t)
	grey := printed
	grey.Image = image.NewGray(image.Rect(0, 0, 7, 3))
	for i := range grey.Image.Pix {
		grey.Image.Pix[i] = uint8(i * 11)
	}
	for name, r := range map[string]Receipt{"printed": printed, "grey": grey} {
		b, err := r.PNG()
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if img.Bounds() != r.Image.Bounds() {
			t.Fatalf("%s: bounds %v, want %v", name, img.Bounds(), r.Image.Bounds())
		}
		for y := range r.Image.Bounds().Dy() {
			for x := range r.Image.Bounds().Dx() {
				gy, _, _, _ := img.At(x, y).RGBA()
				if want := r.Image.GrayAt(x, y).Y; uint8(gy>>8) != want {
					t.Fatalf("%s: pixel (%d,%d) = %d, want %d", name, x, y, gy>>8, want)
				}
			}
		}
	}
}

func BenchmarkReceiptPNG(b *testing.B) {
	r := jobReceipt(b)
	var size int
	for b.Loop() {
		p, err := r.PNG()
		if err != nil {
			b.Fatal(err)
		}
		size = len(p)
	}
	b.ReportMetric(float64(size), "png-bytes")
	b.ReportMetric(float64(r.Image.Bounds().Dy()), "rows")
}

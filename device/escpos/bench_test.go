package escpos_test

import (
	"testing"

	"github.com/egsd/egsd/device/escpos"
)

// Wire bytes for a 600-character payload on 58 mm paper (spec/escpos.md
// §2.1: 641 native; 4,472 raster at m=3 in one band, 17,492 at full size),
// reported as wire-bytes and as seconds at 9600 baud 8N1.
func BenchmarkQRWireBytes(b *testing.B) {
	payload := base64Payload(1, 600)
	for _, bc := range []struct {
		name   string
		change func(p *escpos.Profile)
	}{
		{"native", func(p *escpos.Profile) { p.QRMaxBytes = 0 }},
		{"raster-scale2x", func(p *escpos.Profile) { p.QRNative = false }},
		{"raster-full-size", func(p *escpos.Profile) { p.QRNative, p.RasterScale2x = false, false }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := profile(b, "generic-58mm", bc.change)
			var n int
			for b.Loop() {
				plan, err := escpos.PlanQR(payload, p)
				if err != nil {
					b.Fatal(err)
				}
				e := escpos.NewEncoder()
				if plan.Native {
					e.QR(payload, escpos.QROptions{Module: plan.Module, ECC: plan.ECC})
				} else {
					img, err := escpos.RasterQR(payload, plan, p.RasterScale2x)
					if err != nil {
						b.Fatal(err)
					}
					e.Raster(img, escpos.RasterOptions{BandRows: p.RasterBandRows, Scale2x: p.RasterScale2x})
				}
				if err := e.Err(); err != nil {
					b.Fatal(err)
				}
				n = len(e.Bytes())
			}
			b.ReportMetric(float64(n), "wire-bytes")
			b.ReportMetric(float64(n)*10/9600, "s@9600")
		})
	}
}

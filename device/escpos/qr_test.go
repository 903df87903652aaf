package escpos_test

import (
	"encoding/base64"
	"image"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/egsd/egsd/device/escpos"
	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
)

// base64Payload is n characters of base64, like a ZATCA QR payload.
func base64Payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	raw := make([]byte, n)
	for i := range raw {
		raw[i] = byte(r.IntN(256))
	}
	return []byte(base64.StdEncoding.EncodeToString(raw)[:n])
}

func profile(t testing.TB, name string, change func(p *escpos.Profile)) escpos.Profile {
	t.Helper()
	p, err := escpos.LookupProfile(name)
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(&p)
	}
	return p
}

// nativeAnySize lets a profile take any payload natively.
func nativeAnySize(p *escpos.Profile) { p.QRNative, p.QRMaxBytes = true, 0 }

func TestPlanQR(t *testing.T) {
	// Versions are checked against the byte-mode capacities of ISO/IEC
	// 18004 (e.g. 255 bytes need version 14 at Q: v13-Q holds 241).
	tests := []struct {
		name    string
		profile escpos.Profile
		n       int
		want    escpos.QRPlan
	}{
		// Short payloads stay native on the cheap 58 mm printer, and get
		// ECC Q at the preferred module size.
		{"58mm 100 chars native", profile(t, "generic-58mm", nil), 100,
			escpos.QRPlan{Native: true, Module: 4, ECC: escpos.ECCQ, Version: 8, Modules: 49, WidthDots: 196}},
		{"58mm 255 chars native", profile(t, "generic-58mm", nil), 255,
			escpos.QRPlan{Native: true, Module: 4, ECC: escpos.ECCQ, Version: 14, Modules: 73, WidthDots: 292}},
		// Over its 255-byte limit: raster, version 19 as spec §2.1 says.
		{"58mm 600 chars raster", profile(t, "generic-58mm", nil), 600,
			escpos.QRPlan{Module: 4, ECC: escpos.ECCM, Version: 19, Modules: 93, WidthDots: 372, Scale2x: true}},
		// spec §2.3: on 384 dots, 600 fits at 4/M; 700 only at L or module 3.
		{"58mm 600 chars native", profile(t, "generic-58mm", nativeAnySize), 600,
			escpos.QRPlan{Native: true, Module: 4, ECC: escpos.ECCM, Version: 19, Modules: 93, WidthDots: 372}},
		{"58mm 700 chars native", profile(t, "generic-58mm", nativeAnySize), 700,
			escpos.QRPlan{Native: true, Module: 4, ECC: escpos.ECCL, Version: 18, Modules: 89, WidthDots: 356}},
		{"58mm 700 chars raster", profile(t, "generic-58mm", nil), 700,
			escpos.QRPlan{Module: 4, ECC: escpos.ECCL, Version: 18, Modules: 89, WidthDots: 356, Scale2x: true}},
		{"58mm 700 chars module 3", profile(t, "generic-58mm", func(p *escpos.Profile) { nativeAnySize(p); p.QRModule = 3 }), 700,
			escpos.QRPlan{Native: true, Module: 3, ECC: escpos.ECCQ, Version: 25, Modules: 117, WidthDots: 351}},
		// Module 3 does not exist at half resolution: a raster at scale2x
		// goes from 4 straight to 2.
		// Module 3 cannot be sent at half size: it goes at full resolution
		// rather than dropping to 2-dot modules.
		{"58mm raster 1000 chars", profile(t, "raster-58mm", nil), 1000,
			escpos.QRPlan{Module: 3, ECC: escpos.ECCM, Version: 26, Modules: 121, WidthDots: 363}},
		{"58mm raster 1000 chars unscaled", profile(t, "raster-58mm", func(p *escpos.Profile) { p.RasterScale2x = false }), 1000,
			escpos.QRPlan{Module: 3, ECC: escpos.ECCM, Version: 26, Modules: 121, WidthDots: 363}},
		// 80 mm fits 1,000 chars at module 4 even with ECC Q (spec §2.3: 1030).
		{"80mm 1000 chars", profile(t, "generic-80mm", nil), 1000,
			escpos.QRPlan{Native: true, Module: 4, ECC: escpos.ECCQ, Version: 31, Modules: 141, WidthDots: 564}},
		{"tm-t88 1000 chars", profile(t, "epson-tm-t88", nil), 1000,
			escpos.QRPlan{Native: true, Module: 4, ECC: escpos.ECCM, Version: 26, Modules: 121, WidthDots: 484}},
		// Q at 6 dots would be version 24, 678 dots: M at 6 dots wins.
		{"80mm preferred module 6", profile(t, "generic-80mm", func(p *escpos.Profile) { p.QRModule = 6 }), 600,
			escpos.QRPlan{Native: true, Module: 6, ECC: escpos.ECCM, Version: 19, Modules: 93, WidthDots: 558}},
		// Nothing fits at 6 or 5 dots with M: 4 dots, without the Q bonus.
		{"58mm preferred module 6", profile(t, "generic-58mm", func(p *escpos.Profile) { nativeAnySize(p); p.QRModule = 6 }), 600,
			escpos.QRPlan{Native: true, Module: 4, ECC: escpos.ECCM, Version: 19, Modules: 93, WidthDots: 372}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := escpos.PlanQR(base64Payload(1, tt.n), tt.profile)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if got.WidthDots > tt.profile.WidthDots {
				t.Errorf("symbol %d dots on %d-dot paper", got.WidthDots, tt.profile.WidthDots)
			}
		})
	}
}

// The largest base64 payloads that fit, from spec/escpos.md §2.3 (computed
// there in steps of 5 characters): each fits at its module size and ECC,
// and 5 more characters do not. The limits are those of byte mode, which
// is what the plan assumes for native QR.
func TestPlanQRLimits(t *testing.T) {
	tests := []struct {
		width, module int
		ecc           escpos.ECCLevel
		max           int
	}{
		{384, 3, escpos.ECCL, 1465}, {384, 3, escpos.ECCM, 1125}, {384, 3, escpos.ECCQ, 805},
		{384, 4, escpos.ECCL, 790}, {384, 4, escpos.ECCM, 620}, {384, 4, escpos.ECCQ, 440},
		{384, 5, escpos.ECCL, 455}, {384, 5, escpos.ECCM, 360}, {384, 5, escpos.ECCQ, 255},
		{512, 4, escpos.ECCL, 1465}, {512, 4, escpos.ECCM, 1125}, {512, 4, escpos.ECCQ, 805},
		{512, 5, escpos.ECCL, 925}, {512, 5, escpos.ECCM, 710}, {512, 5, escpos.ECCQ, 505},
		{576, 4, escpos.ECCM, 1450}, {576, 4, escpos.ECCQ, 1030},
		{576, 5, escpos.ECCL, 1170}, {576, 5, escpos.ECCM, 910}, {576, 5, escpos.ECCQ, 660},
	}
	for _, tt := range tests {
		p := profile(t, "generic-80mm", func(p *escpos.Profile) {
			p.WidthDots, p.Columns, p.QRModule = tt.width, 32, tt.module
		})
		// At least as strong as tt.ecc at exactly tt.module dots.
		atLeast := func(plan escpos.QRPlan) bool { return plan.Module == tt.module && plan.ECC >= tt.ecc }
		plan, err := escpos.PlanQR(base64Payload(2, tt.max), p)
		if err != nil || !atLeast(plan) {
			t.Errorf("%d dots, module %d, ECC %s: %d chars: got %+v, %v", tt.width, tt.module, tt.ecc, tt.max, plan, err)
		}
		plan, err = escpos.PlanQR(base64Payload(2, tt.max+5), p)
		if err == nil && atLeast(plan) {
			t.Errorf("%d dots, module %d, ECC %s: %d chars fit: %+v", tt.width, tt.module, tt.ecc, tt.max+5, plan)
		}
	}
}

func TestPlanQRErrors(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		profile escpos.Profile
		want    []string
	}{
		{"empty", nil, profile(t, "generic-58mm", nil), []string{"empty"}},
		{"too long for 58mm", base64Payload(3, 3000), profile(t, "generic-58mm", nil),
			[]string{"3000 bytes", "384 dots"}},
		{"too long for native 80mm", base64Payload(3, 2954), profile(t, "generic-80mm", nil),
			[]string{"2954 bytes", "576 dots", "native"}},
		{"bad profile", []byte("x"), profile(t, "generic-58mm", func(p *escpos.Profile) { p.WidthDots = 100 }),
			[]string{"width_dots"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := escpos.PlanQR(tt.payload, tt.profile)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestRasterQRErrors(t *testing.T) {
	good := escpos.QRPlan{Module: 4, ECC: escpos.ECCM, Version: 2, Modules: 25, WidthDots: 100}
	tests := []struct {
		name    string
		payload []byte
		change  func(p *escpos.QRPlan)
		scale2x bool
		want    string
	}{
		{"empty", nil, nil, false, "empty"},
		{"version 0", []byte("x"), func(p *escpos.QRPlan) { p.Version = 0 }, false, "version 0"},
		{"modules", []byte("x"), func(p *escpos.QRPlan) { p.Modules = 21 }, false, "modules 21"},
		{"module 0", []byte("x"), func(p *escpos.QRPlan) { p.Module = 0 }, false, "module 0"},
		{"ecc", []byte("x"), func(p *escpos.QRPlan) { p.ECC = 0 }, false, "ecc 0"},
		{"odd module at half size", []byte("x"), func(p *escpos.QRPlan) { p.Module = 3 }, true, "must be even"},
		{"payload too long for version", base64Payload(4, 100), nil, false, "100 bytes at version 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := good
			if tt.change != nil {
				tt.change(&plan)
			}
			_, err := escpos.RasterQR(tt.payload, plan, tt.scale2x)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// A raster plan, rendered, encoded as GS v 0 bands, redrawn as the printer
// prints them (m=3 doubled) and read back with a QR decoder, gives the
// payload, at the plan's size and error correction.
func TestRasterQRRoundTrip(t *testing.T) {
	rasterOnly := func(p *escpos.Profile) { p.QRNative = false }
	profiles := []escpos.Profile{
		profile(t, "raster-58mm", nil),
		profile(t, "raster-58mm", func(p *escpos.Profile) { p.RasterScale2x = false }),
		profile(t, "generic-80mm", rasterOnly),
		profile(t, "epson-tm-t88", func(p *escpos.Profile) { rasterOnly(p); p.RasterScale2x = false }),
	}
	for _, p := range profiles {
		for _, n := range []int{1, 50, 136, 255, 256, 600, 700, 1000} {
			payload := base64Payload(uint64(n), n)
			plan, err := escpos.PlanQR(payload, p)
			if err != nil {
				t.Fatalf("%s %d: %v", p.Name, n, err)
			}
			if plan.Native {
				t.Fatalf("%s %d: native plan on a raster profile", p.Name, n)
			}
			img, err := escpos.RasterQR(payload, plan, plan.Scale2x)
			if err != nil {
				t.Fatalf("%s %d: %v", p.Name, n, err)
			}
			e := escpos.NewEncoder().Raster(img, escpos.RasterOptions{BandRows: p.RasterBandRows, Scale2x: plan.Scale2x})
			if err := e.Err(); err != nil {
				t.Fatal(err)
			}
			paper := rasterBitmap(t, e.Bytes())
			if got := paper.Bounds().Dy(); got != plan.WidthDots {
				t.Errorf("%s %d: printed %d dots high, plan says %d", p.Name, n, got, plan.WidthDots)
			}
			// Rows are whole bytes: the printed width may carry white padding.
			if got := paper.Bounds().Dx(); got < plan.WidthDots || got >= plan.WidthDots+8*(1+boolInt(plan.Scale2x)) {
				t.Errorf("%s %d: printed %d dots wide, plan says %d", p.Name, n, got, plan.WidthDots)
			}
			text, ecc := decodeQR(t, paper, plan.Module)
			if text != string(payload) {
				t.Errorf("%s %d (%+v): decoded %d chars, not the payload", p.Name, n, plan, len(text))
			}
			if ecc != plan.ECC.String() {
				t.Errorf("%s %d: decoded ECC %s, plan says %s", p.Name, n, ecc, plan.ECC)
			}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// decodeQR reads one QR symbol from a printed image, adding the white quiet
// zone the paper margin gives. gozxing's detector rejects about 0.1 % of
// perfect symbols (spec/escpos.md §3c); the PURE_BARCODE hint reads those.
func decodeQR(t *testing.T, printed *image.Gray, module int) (text, ecc string) {
	t.Helper()
	quiet := 4 * module
	r := printed.Bounds()
	img := image.NewGray(image.Rect(0, 0, r.Dx()+2*quiet, r.Dy()+2*quiet))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y := 0; y < r.Dy(); y++ {
		copy(img.Pix[(y+quiet)*img.Stride+quiet:], printed.Pix[y*printed.Stride:y*printed.Stride+r.Dx()])
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	reader := gozxingqr.NewQRCodeReader()
	res, err := reader.Decode(bmp, nil)
	if err != nil {
		res, err = reader.Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	}
	if err != nil {
		t.Fatalf("QR not readable: %v", err)
	}
	level, _ := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL].(string)
	return res.GetText(), level
}

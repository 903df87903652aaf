package escpos

import (
	"fmt"
	"image"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// QRPlan is how one payload is printed on one printer.
type QRPlan struct {
	Native    bool     // GS ( k; otherwise a raster from RasterQR
	Module    int      // printed dots per module
	ECC       ECCLevel // error correction level
	Version   int      // QR version, 1..40
	Modules   int      // modules per side, without quiet zone: 17 + 4·Version
	WidthDots int      // printed width of the symbol: Modules·Module
	// Scale2x is set on raster plans sent at half resolution for the
	// printer to double (GS v 0 m=3): the profile asks for it and the
	// module size is even. Odd module sizes go at full resolution.
	Scale2x bool
}

// PlanQR chooses how to print payload on printer p. Native QR is used when
// the printer has it and accepts that many bytes; otherwise a raster. Then
// the largest module size from p.QRModule down to 2 wins, and at that size
// the strongest error correction whose symbol (without quiet zone, which
// the paper margin provides) fits p.WidthDots: Q is tried only at the
// first size tried, then M, then L at every size. A raster sent with
// p.RasterScale2x needs an even module size, so odd sizes are skipped.
//
// For native QR the printer chooses the version; the plan assumes byte mode
// throughout, the largest symbol any printer would choose for that length,
// so that the symbol fits whatever mode the firmware picks. A raster plan
// has exactly the version go-qrcode will draw.
func PlanQR(payload []byte, p Profile) (QRPlan, error) {
	if err := p.Validate(); err != nil {
		return QRPlan{}, err
	}
	if len(payload) == 0 {
		return QRPlan{}, fmt.Errorf("escpos: QR payload is empty")
	}
	limit := p.QRMaxBytes
	if limit == 0 {
		limit = QRMaxData
	}
	native := p.QRNative && len(payload) <= limit
	versions := map[ECCLevel]int{} // 0: does not fit any version
	versionFor := func(ecc ECCLevel) int {
		v, ok := versions[ecc]
		if !ok {
			v = qrVersion(payload, ecc, native)
			versions[ecc] = v
		}
		return v
	}
	preferred := true
	for module := p.QRModule; module >= 2; module-- {
		levels := []ECCLevel{ECCM, ECCL}
		if preferred {
			levels = []ECCLevel{ECCQ, ECCM, ECCL}
			preferred = false
		}
		for _, ecc := range levels {
			v := versionFor(ecc)
			if v == 0 {
				continue
			}
			modules := 17 + 4*v
			if modules*module <= p.WidthDots {
				return QRPlan{Native: native, Module: module, ECC: ecc, Version: v, Modules: modules, WidthDots: modules * module,
					Scale2x: !native && p.RasterScale2x && module%2 == 0}, nil
			}
		}
	}
	how := "raster"
	if native {
		how = "native"
	}
	return QRPlan{}, fmt.Errorf("escpos: QR payload of %d bytes does not fit %d dots wide (profile %q, %s, module %d down to 2, ECC L)",
		len(payload), p.WidthDots, p.Name, how, p.QRModule)
}

// qrVersion returns the smallest version holding payload at ecc, or 0. With
// byteMode it assumes byte mode for every byte, as a printer might encode it.
func qrVersion(payload []byte, ecc ECCLevel, byteMode bool) int {
	content := string(payload)
	if byteMode {
		// Lower-case letters are byte mode only, so this is the length in
		// pure byte mode.
		content = strings.Repeat("a", len(payload))
	}
	q, err := qrcode.New(content, recoveryLevel(ecc))
	if err != nil {
		return 0
	}
	return q.VersionNumber
}

func recoveryLevel(ecc ECCLevel) qrcode.RecoveryLevel {
	switch ecc {
	case ECCM:
		return qrcode.Medium
	case ECCQ:
		return qrcode.High // go-qrcode's High is 25 %, QR level Q
	case ECCH:
		return qrcode.Highest
	}
	return qrcode.Low
}

// RasterQR draws payload as plan says, without quiet zone, black on white,
// for Encoder.Raster: plan.Module pixels per module, or plan.Module/2 when
// scale2x (the printer doubles it back with GS v 0 m=3, which needs an even
// module size).
func RasterQR(payload []byte, plan QRPlan, scale2x bool) (image.Image, error) {
	switch {
	case len(payload) == 0:
		return nil, fmt.Errorf("escpos: QR payload is empty")
	case plan.Version < 1 || plan.Version > 40:
		return nil, fmt.Errorf("escpos: QR plan version %d: must be between 1 and 40", plan.Version)
	case plan.Modules != 17+4*plan.Version:
		return nil, fmt.Errorf("escpos: QR plan modules %d: must be 17 + 4 x version %d = %d", plan.Modules, plan.Version, 17+4*plan.Version)
	case plan.Module < 1 || plan.Module > qrMaxModule:
		return nil, fmt.Errorf("escpos: QR plan module %d: must be between 1 and %d dots", plan.Module, qrMaxModule)
	case !plan.ECC.valid():
		return nil, fmt.Errorf("escpos: QR plan ecc %d: must be 48 (L), 49 (M), 50 (Q) or 51 (H)", byte(plan.ECC))
	case scale2x && plan.Module%2 != 0:
		return nil, fmt.Errorf("escpos: QR plan module %d: must be even to be sent at half size (scale2x)", plan.Module)
	}
	q, err := qrcode.NewWithForcedVersion(string(payload), plan.Version, recoveryLevel(plan.ECC))
	if err != nil {
		return nil, fmt.Errorf("escpos: QR payload of %d bytes at version %d, ECC %s: %w", len(payload), plan.Version, plan.ECC, err)
	}
	q.DisableBorder = true
	bits := q.Bitmap()
	if len(bits) != plan.Modules {
		return nil, fmt.Errorf("escpos: QR symbol has %d modules, plan says %d", len(bits), plan.Modules)
	}
	px := plan.Module
	if scale2x {
		px /= 2
	}
	side := plan.Modules * px
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 0xFF
	}
	for y, row := range bits {
		for x, black := range row {
			if !black {
				continue
			}
			for dy := 0; dy < px; dy++ {
				line := img.Pix[(y*px+dy)*img.Stride:]
				for dx := 0; dx < px; dx++ {
					line[x*px+dx] = 0
				}
			}
		}
	}
	return img, nil
}

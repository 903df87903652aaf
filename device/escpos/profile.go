package escpos

import (
	"fmt"
	"slices"
	"strings"
)

// How Arabic lines are printed (Profile.Arabic).
const (
	// ArabicRaster: the host shapes and orders the line and prints it as an
	// image. ESC/POS printers mostly neither shape Arabic nor print it right
	// to left, so this is the default.
	ArabicRaster = "raster"
	// ArabicCodePage: the printer shapes; the host sends logical text in
	// ArabicEncoding after ESC t ArabicCodePage.
	ArabicCodePage = "codepage"
)

// How Cyrillic lines are printed (Profile.Cyrillic).
const (
	// CyrillicRaster: the host draws the line and prints it as an image,
	// which every printer can; the default.
	CyrillicRaster = "raster"
	// CyrillicCodePage: a line whose characters are all in CyrillicEncoding
	// goes as text after ESC t CyrillicCodePage; any other line (Kazakh
	// letters, ₸, which neither CP866 nor CP1251 holds) as an image.
	CyrillicCodePage = "codepage"
)

// Profile is what egsd must know about one printer model. The numbering of
// code pages, the QR support and the cutter differ between models, so none
// of them is assumed.
type Profile struct {
	Name           string
	WidthDots      int          // printable dots per line
	DPI            int          // dots per inch, for physical sizes
	Columns        int          // Font A characters per line
	TextEncoding   TextEncoding // Latin text
	TextCodePage   byte         // ESC t value selecting TextEncoding
	Arabic         string       // ArabicRaster or ArabicCodePage
	ArabicEncoding TextEncoding // code page for Arabic text in ArabicCodePage mode
	ArabicCodePage byte         // ESC t value selecting ArabicEncoding on this model
	// Cyrillic is CyrillicRaster ("" means raster) or CyrillicCodePage.
	Cyrillic         string
	CyrillicEncoding TextEncoding // code page for Russian text in CyrillicCodePage mode
	CyrillicCodePage byte         // ESC t value selecting CyrillicEncoding on this model
	QRNative         bool         // the printer draws QR codes itself (GS ( k)
	QRMaxBytes       int          // largest payload GS ( k accepts; 0 means QRMaxData
	QRModule         int          // preferred dots per module; smaller ones are tried after
	RasterBandRows   int          // rows per GS v 0 command
	RasterScale2x    bool         // let the printer scale rasters up: QR codes sent at half size (GS v 0 m=3), text lines at half width (m=1)
	Cut              CutMode
	CutFeed          int // motion units fed past the cutting position (0: cut in place)
	Baud             int
}

// Built-in profiles. "spec §n" below is a section of spec/escpos.md, where
// each fact carries its source: §1.2 native QR limits, §1.3 raster bands,
// §1.5 code pages (from receipt-print-hq/escpos-printer-db
// data/profile/*.yml), §1.6 serial, §2.3 what fits on the paper.
var builtinProfiles = []Profile{
	{
		// Cheap 58 mm printers (ZJ-58, POS-5890 class).
		Name:      "generic-58mm",
		WidthDots: 384, // 48 mm printable at 203 dpi: spec §2.3
		DPI:       203,
		Columns:   32, // 384 / 12-dot Font A
		// ESC t 0 is CP437 in the Epson numbering that cheap firmware keeps
		// for page 0 (escpos-printer-db POS-5890.yml, ZJ-5870.yml).
		TextEncoding: EncodingCP437,
		TextCodePage: 0,
		// ZJ-5870 lists no Arabic page, POS-5890 numbers them differently
		// from Epson (spec §1.5): raster until a test print proves better.
		Arabic:   ArabicRaster,
		Cyrillic: CyrillicRaster, // no built-in model's Cyrillic ESC t number is verified (spec §1.5 lists none)
		// Some cheap firmware refuses more than about 255 bytes (spec §1.2,
		// EscPosEncoder#6, #41; bluetooth_print#95): conservative.
		QRNative:       true,
		QRMaxBytes:     255,
		QRModule:       4,   // 0.5 mm at 203 dpi; 620 base64 chars at ECC M (spec §2.3)
		RasterBandRows: 128, // spec §1.3: bands of 128-256 rows
		// GS v 0 m=3 sends a quarter of the bytes (spec §2.1: 4,472 instead
		// of 17,492 bytes for a 600-char payload).
		RasterScale2x: true,
		// ZJ-58 manual p58: "Only the partial cut is available" (spec §1.1);
		// GS V 1 without feed is the form every cutter firmware takes.
		Cut:     CutPartial,
		CutFeed: 0,
		Baud:    9600, // factory default of cheap printers (spec §1.6)
	},
	{
		// Cheap 80 mm printers (Epson-compatible firmware).
		Name:           "generic-80mm",
		WidthDots:      576, // 72 mm printable at 203 dpi: spec §2.3
		DPI:            203,
		Columns:        48, // 576 / 12-dot Font A
		TextEncoding:   EncodingCP437,
		TextCodePage:   0,
		Arabic:         ArabicRaster,
		Cyrillic:       CyrillicRaster,
		QRNative:       true,
		QRMaxBytes:     QRMaxData, // GS ( k fn 180 limit (spec §1.2); ESC-POS-.NET#71: 2k chars print on capable printers
		QRModule:       4,
		RasterBandRows: 128,
		RasterScale2x:  true,
		Cut:            CutFull, // GS V m = 0 (spec §1.1)
		CutFeed:        0,
		Baud:           9600,
	},
	{
		Name:      "epson-tm-t20",
		WidthDots: 576, // TM-T20 80 mm paper, 203 dpi (spec §2.3)
		DPI:       203,
		Columns:   48,
		// escpos-printer-db TM-T20II.yml: 0 = CP437, 50 = CP1256 (spec §1.5).
		TextEncoding: EncodingCP437,
		TextCodePage: 0,
		// The printer has CP1256 but does not shape or reorder Arabic
		// (spec §1.5: EscPosEncoder#4, #26), so Arabic is rasterised.
		Arabic:         ArabicRaster,
		Cyrillic:       CyrillicRaster,
		ArabicEncoding: EncodingCP1256,
		ArabicCodePage: 50,
		QRNative:       true,
		QRMaxBytes:     QRMaxData, // Epson: 4 <= pL+pH*256 <= 7092 (spec §1.2)
		QRModule:       4,
		RasterBandRows: 128,
		RasterScale2x:  true, // GS v 0 m = 3 quadruple (spec §1.3)
		// Epson autocutter; GS V 66 n feeds to the cutting position first
		// (TM-U210 command reference p373, spec §1.1).
		Cut:     CutPartial,
		CutFeed: 1,
		// 38400/115200 are not verified for this model (spec §1.6, §7);
		// 9600 is the DIP-switch default.
		Baud: 9600,
	},
	{
		Name:           "epson-tm-t88",
		WidthDots:      512, // TM-T88 class at 180 dpi (spec §2.3)
		DPI:            180,
		Columns:        42, // 512 / 12-dot Font A
		TextEncoding:   EncodingCP437,
		TextCodePage:   0,
		Arabic:         ArabicRaster, // as TM-T20: CP1256 exists, shaping does not
		Cyrillic:       CyrillicRaster,
		ArabicEncoding: EncodingCP1256,
		ArabicCodePage: 50, // escpos-printer-db TM-T88V.yml (spec §1.5)
		QRNative:       true,
		QRMaxBytes:     QRMaxData,
		QRModule:       4, // 0.56 mm at 180 dpi; 1,125 base64 chars at ECC M (spec §2.3)
		RasterBandRows: 128,
		RasterScale2x:  true,
		Cut:            CutPartial,
		CutFeed:        1,
		Baud:           9600, // TM-T88II/III DIP default (spec §1.6)
	},
	{
		// A 58 mm printer without GS ( k (escpos-printer-db ZJ-5870.yml:
		// qrCode false; spec §1.2): every QR is a raster.
		Name:           "raster-58mm",
		WidthDots:      384,
		DPI:            203,
		Columns:        32,
		TextEncoding:   EncodingCP437,
		TextCodePage:   0,
		Arabic:         ArabicRaster,
		Cyrillic:       CyrillicRaster,
		QRNative:       false,
		QRMaxBytes:     0,
		QRModule:       4,
		RasterBandRows: 128,
		RasterScale2x:  true,
		Cut:            CutPartial,
		CutFeed:        0,
		Baud:           9600,
	},
}

// Profiles returns the built-in profiles sorted by name.
func Profiles() []Profile {
	ps := slices.Clone(builtinProfiles)
	slices.SortFunc(ps, func(a, b Profile) int { return strings.Compare(a.Name, b.Name) })
	return ps
}

// LookupProfile returns the built-in profile with that name.
func LookupProfile(name string) (Profile, error) {
	ps := Profiles()
	names := make([]string, len(ps))
	for i, p := range ps {
		if p.Name == name {
			return p, nil
		}
		names[i] = p.Name
	}
	return Profile{}, fmt.Errorf("escpos: unknown printer profile %q: known profiles are %s", name, strings.Join(names, ", "))
}

// Standard serial speeds a receipt printer may be set to.
var profileBauds = []int{2400, 4800, 9600, 19200, 38400, 57600, 115200}

// Validate checks every field; the error names the first bad field as it
// is spelled in configuration (snake_case) and the rule it breaks.
func (p Profile) Validate() error {
	fail := func(field, format string, args ...any) error {
		return fmt.Errorf("escpos: profile %q: %s: %s", p.Name, field, fmt.Sprintf(format, args...))
	}
	if p.Name == "" || strings.Trim(p.Name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return fail("name", "must be lower-case letters, digits and hyphens, not empty")
	}
	if p.WidthDots%8 != 0 || p.WidthDots < 128 || p.WidthDots > 832 {
		return fail("width_dots", "%d: must be a multiple of 8 between 128 and 832", p.WidthDots)
	}
	if p.DPI < 150 || p.DPI > 600 {
		return fail("dpi", "%d: must be between 150 and 600", p.DPI)
	}
	// Font B, the narrowest ESC/POS font, is 9 dots wide.
	if maxCols := p.WidthDots / 9; p.Columns < 16 || p.Columns > maxCols {
		return fail("columns", "%d: must be between 16 and %d (width_dots / 9)", p.Columns, maxCols)
	}
	if !p.TextEncoding.valid() {
		return fail("text_encoding", "%q: must be one of %s", p.TextEncoding, encodingList())
	}
	// text_code_page and arabic_code_page: every byte is a valid ESC t
	// value; which table it selects is the model's business.
	switch p.Arabic {
	case ArabicRaster:
		if p.ArabicEncoding != "" && !p.ArabicEncoding.valid() {
			return fail("arabic_encoding", "%q: must be empty or one of %s", p.ArabicEncoding, encodingList())
		}
	case ArabicCodePage:
		if p.ArabicEncoding != EncodingCP1256 {
			return fail("arabic_encoding", "%q: must be an Arabic code page (%s) when arabic is %q", p.ArabicEncoding, EncodingCP1256, ArabicCodePage)
		}
	default:
		return fail("arabic", "%q: must be %q or %q", p.Arabic, ArabicRaster, ArabicCodePage)
	}
	switch p.Cyrillic {
	case "", CyrillicRaster:
		if p.CyrillicEncoding != "" && !p.CyrillicEncoding.cyrillic() {
			return fail("cyrillic_encoding", "%q: must be empty, %q or %q", p.CyrillicEncoding, EncodingCP866, EncodingCP1251)
		}
	case CyrillicCodePage:
		if !p.CyrillicEncoding.cyrillic() {
			return fail("cyrillic_encoding", "%q: must be a Cyrillic code page (%s or %s) when cyrillic is %q", p.CyrillicEncoding, EncodingCP866, EncodingCP1251, CyrillicCodePage)
		}
	default:
		return fail("cyrillic", "%q: must be %q or %q", p.Cyrillic, CyrillicRaster, CyrillicCodePage)
	}
	if p.QRMaxBytes < 0 || p.QRMaxBytes > QRMaxData {
		return fail("qr_max_bytes", "%d: must be between 0 (no limit below %d) and %d", p.QRMaxBytes, QRMaxData, QRMaxData)
	}
	if p.QRModule < 2 || p.QRModule > qrMaxModule {
		return fail("qr_module", "%d: must be between 2 and %d dots", p.QRModule, qrMaxModule)
	}
	if p.RasterBandRows < 8 || p.RasterBandRows > 2048 {
		return fail("raster_band_rows", "%d: must be between 8 and 2048", p.RasterBandRows)
	}
	switch p.Cut {
	case CutFull, CutPartial, CutNone:
	default:
		return fail("cut", "%q: must be %q, %q or %q", p.Cut, CutFull, CutPartial, CutNone)
	}
	if p.CutFeed < 0 || p.CutFeed > 255 {
		return fail("cut_feed", "%d: must be between 0 and 255", p.CutFeed)
	}
	if p.Cut == CutNone && p.CutFeed != 0 {
		return fail("cut_feed", "%d: must be 0 when cut is %q", p.CutFeed, CutNone)
	}
	if !slices.Contains(profileBauds, p.Baud) {
		return fail("baud", "%d: must be one of %v", p.Baud, profileBauds)
	}
	return nil
}

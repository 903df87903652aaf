package escpos_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/egsd/egsd/device/escpos"
)

func TestBuiltinProfilesValidate(t *testing.T) {
	ps := escpos.Profiles()
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
	}
	want := []string{"epson-tm-t20", "epson-tm-t88", "generic-58mm", "generic-80mm", "raster-58mm"}
	if !slices.Equal(names, want) {
		t.Errorf("profiles %v, want %v (sorted)", names, want)
	}
}

// The values the printing depends on, as documented in spec/escpos.md.
func TestBuiltinProfileValues(t *testing.T) {
	tests := []struct {
		name             string
		width, dpi, cols int
		native           bool
		qrMax            int
		arabicPage       byte
		cut              escpos.CutMode
	}{
		{"generic-58mm", 384, 203, 32, true, 255, 0, escpos.CutPartial},
		{"generic-80mm", 576, 203, 48, true, 7089, 0, escpos.CutFull},
		{"epson-tm-t20", 576, 203, 48, true, 7089, 50, escpos.CutPartial},
		{"epson-tm-t88", 512, 180, 42, true, 7089, 50, escpos.CutPartial},
		{"raster-58mm", 384, 203, 32, false, 0, 0, escpos.CutPartial},
	}
	for _, tt := range tests {
		p, err := escpos.LookupProfile(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if p.WidthDots != tt.width || p.DPI != tt.dpi || p.Columns != tt.cols || p.QRNative != tt.native ||
			p.QRMaxBytes != tt.qrMax || p.ArabicCodePage != tt.arabicPage || p.Cut != tt.cut {
			t.Errorf("%s: %+v", tt.name, p)
		}
		if p.Arabic != escpos.ArabicRaster || p.TextEncoding != escpos.EncodingCP437 || p.TextCodePage != 0 || p.Baud != 9600 {
			t.Errorf("%s: text/Arabic/baud: %+v", tt.name, p)
		}
	}
}

func TestLookupProfile(t *testing.T) {
	p, err := escpos.LookupProfile("epson-tm-t88")
	if err != nil || p.Name != "epson-tm-t88" {
		t.Fatalf("got %+v, %v", p, err)
	}
	_, err = escpos.LookupProfile("tm-t88")
	if err == nil {
		t.Fatal("unknown profile accepted")
	}
	for _, name := range []string{`"tm-t88"`, "epson-tm-t20", "epson-tm-t88", "generic-58mm", "generic-80mm", "raster-58mm"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not mention %s", err, name)
		}
	}
	// Callers get copies: changing one does not change the built-in.
	ps := escpos.Profiles()
	ps[0].WidthDots = 1
	if q, _ := escpos.LookupProfile(ps[0].Name); q.WidthDots == 1 {
		t.Error("Profiles hands out the built-ins themselves")
	}
}

func TestProfileValidateErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *escpos.Profile)
		want   string
	}{
		{"empty name", func(p *escpos.Profile) { p.Name = "" }, "name:"},
		{"name with space", func(p *escpos.Profile) { p.Name = "my printer" }, "name:"},
		{"width not multiple of 8", func(p *escpos.Profile) { p.WidthDots = 380 }, "width_dots: 380: must be a multiple of 8 between 128 and 832"},
		{"width too small", func(p *escpos.Profile) { p.WidthDots = 120 }, "width_dots: 120"},
		{"width too large", func(p *escpos.Profile) { p.WidthDots = 840 }, "width_dots: 840"},
		{"dpi", func(p *escpos.Profile) { p.DPI = 0 }, "dpi: 0"},
		{"columns too many", func(p *escpos.Profile) { p.Columns = 48 }, "columns: 48: must be between 16 and 42"},
		{"columns too few", func(p *escpos.Profile) { p.Columns = 10 }, "columns: 10"},
		{"text encoding", func(p *escpos.Profile) { p.TextEncoding = "utf-8" }, `text_encoding: "utf-8"`},
		{"arabic mode", func(p *escpos.Profile) { p.Arabic = "shaped" }, `arabic: "shaped"`},
		{"arabic encoding unknown", func(p *escpos.Profile) { p.ArabicEncoding = "cp720" }, `arabic_encoding: "cp720"`},
		{"codepage mode needs an Arabic page", func(p *escpos.Profile) {
			p.Arabic = escpos.ArabicCodePage
			p.ArabicEncoding = escpos.EncodingCP437
		}, `arabic_encoding: "cp437"`},
		{"cyrillic mode", func(p *escpos.Profile) { p.Cyrillic = "text" }, `cyrillic: "text"`},
		{"cyrillic encoding not Cyrillic", func(p *escpos.Profile) { p.CyrillicEncoding = escpos.EncodingCP1256 }, `cyrillic_encoding: "cp1256"`},
		{"cyrillic codepage mode needs a Cyrillic page", func(p *escpos.Profile) {
			p.Cyrillic = escpos.CyrillicCodePage
			p.CyrillicEncoding = escpos.EncodingCP437
		}, `cyrillic_encoding: "cp437": must be a Cyrillic code page (cp866 or cp1251)`},
		{"cyrillic codepage mode without an encoding", func(p *escpos.Profile) { p.Cyrillic = escpos.CyrillicCodePage }, `cyrillic_encoding: ""`},
		{"qr max bytes negative", func(p *escpos.Profile) { p.QRMaxBytes = -1 }, "qr_max_bytes: -1"},
		{"qr max bytes over 7089", func(p *escpos.Profile) { p.QRMaxBytes = 7090 }, "qr_max_bytes: 7090"},
		{"qr module 1", func(p *escpos.Profile) { p.QRModule = 1 }, "qr_module: 1: must be between 2 and 16"},
		{"qr module 17", func(p *escpos.Profile) { p.QRModule = 17 }, "qr_module: 17"},
		{"band rows 0", func(p *escpos.Profile) { p.RasterBandRows = 0 }, "raster_band_rows: 0"},
		{"band rows 4096", func(p *escpos.Profile) { p.RasterBandRows = 4096 }, "raster_band_rows: 4096"},
		{"cut", func(p *escpos.Profile) { p.Cut = "" }, `cut: ""`},
		{"cut feed", func(p *escpos.Profile) { p.CutFeed = 256 }, "cut_feed: 256"},
		{"feed without cutter", func(p *escpos.Profile) { p.Cut, p.CutFeed = escpos.CutNone, 3 }, "cut_feed: 3"},
		{"baud", func(p *escpos.Profile) { p.Baud = 14400 }, "baud: 14400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := escpos.LookupProfile("generic-58mm")
			if err != nil {
				t.Fatal(err)
			}
			tt.change(&p)
			err = p.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// A printer with a Russian code page is a valid configuration, in either
// table; every built-in profile prints Cyrillic as raster.
func TestProfileCyrillicCodePage(t *testing.T) {
	for _, p := range escpos.Profiles() {
		if p.Cyrillic != escpos.CyrillicRaster {
			t.Errorf("%s: cyrillic = %q, want %q by default", p.Name, p.Cyrillic, escpos.CyrillicRaster)
		}
	}
	for _, enc := range []escpos.TextEncoding{escpos.EncodingCP866, escpos.EncodingCP1251} {
		p, _ := escpos.LookupProfile("epson-tm-t20")
		p.Cyrillic, p.CyrillicEncoding, p.CyrillicCodePage = escpos.CyrillicCodePage, enc, 17
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", enc, err)
		}
	}
}

// A printer that shapes Arabic itself is a valid configuration.
func TestProfileArabicCodePage(t *testing.T) {
	p, _ := escpos.LookupProfile("epson-tm-t20")
	p.Name = "tm-t88vi-shaping"
	p.Arabic = escpos.ArabicCodePage
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
}

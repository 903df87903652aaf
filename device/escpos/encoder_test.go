package escpos_test

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/egsd/egsd/device/escpos"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the encoder (review them by hand)")

// Each command alone, against the byte strings of spec/escpos.md §1.
func TestCommandBytes(t *testing.T) {
	tests := []struct {
		name  string
		build func(e *escpos.Encoder)
		want  string
	}{
		{"init", func(e *escpos.Encoder) { e.Init() }, "1b 40"},
		{"align left", func(e *escpos.Encoder) { e.Align(escpos.AlignLeft) }, "1b 61 00"},
		{"align center", func(e *escpos.Encoder) { e.Align(escpos.AlignCenter) }, "1b 61 01"},
		{"align right", func(e *escpos.Encoder) { e.Align(escpos.AlignRight) }, "1b 61 02"},
		{"bold on", func(e *escpos.Encoder) { e.Bold(true) }, "1b 45 01"},
		{"bold off", func(e *escpos.Encoder) { e.Bold(false) }, "1b 45 00"},
		// GS ! n: bits 4-6 width - 1, bits 0-2 height - 1.
		{"size 1x1", func(e *escpos.Encoder) { e.Size(1, 1) }, "1d 21 00"},
		{"size 2x1", func(e *escpos.Encoder) { e.Size(2, 1) }, "1d 21 10"},
		{"size 1x2", func(e *escpos.Encoder) { e.Size(1, 2) }, "1d 21 01"},
		{"size 8x8", func(e *escpos.Encoder) { e.Size(8, 8) }, "1d 21 77"},
		{"code page cp1256 on Epson", func(e *escpos.Encoder) { e.CodePage(50) }, "1b 74 32"},
		{"text", func(e *escpos.Encoder) { e.Text([]byte("Hi \x82")) }, "48 69 20 82"},
		// ESC $ nL nH: absolute position nL + nH·256 from the line start.
		{"position 0", func(e *escpos.Encoder) { e.Position(0) }, "1b 24 00 00"},
		{"position 300", func(e *escpos.Encoder) { e.Position(300) }, "1b 24 2c 01"},
		{"empty text", func(e *escpos.Encoder) { e.Text(nil) }, ""},
		{"line", func(e *escpos.Encoder) { e.Line([]byte("OK")) }, "4f 4b 0a"},
		{"empty line", func(e *escpos.Encoder) { e.Line(nil) }, "0a"},
		{"feed 0", func(e *escpos.Encoder) { e.Feed(0) }, "1b 64 00"},
		{"feed 255", func(e *escpos.Encoder) { e.Feed(255) }, "1b 64 ff"},
		{"cut full", func(e *escpos.Encoder) { e.Cut(escpos.CutFull, 0) }, "1d 56 00"},
		{"cut partial", func(e *escpos.Encoder) { e.Cut(escpos.CutPartial, 0) }, "1d 56 01"},
		{"cut full after feed", func(e *escpos.Encoder) { e.Cut(escpos.CutFull, 3) }, "1d 56 41 03"},
		{"cut partial after feed", func(e *escpos.Encoder) { e.Cut(escpos.CutPartial, 255) }, "1d 56 42 ff"},
		{"no cut", func(e *escpos.Encoder) { e.Cut(escpos.CutNone, 0) }, ""},
		{"status printer", func(e *escpos.Encoder) { e.RequestStatus(escpos.StatusPrinter) }, "10 04 01"},
		{"status offline cause", func(e *escpos.Encoder) { e.RequestStatus(escpos.StatusOffline) }, "10 04 02"},
		{"status error cause", func(e *escpos.Encoder) { e.RequestStatus(escpos.StatusError) }, "10 04 03"},
		{"status paper", func(e *escpos.Encoder) { e.RequestStatus(escpos.StatusPaper) }, "10 04 04"},
		{"transmit status", func(e *escpos.Encoder) { e.TransmitStatus() }, "1d 72 01"},
		// python-escpos test/test_function_qr_native.py test_defaults:
		// qr("1234", native=True) is model 2, size 3, ECC L.
		{"qr python-escpos default", func(e *escpos.Encoder) {
			e.QR([]byte("1234"), escpos.QROptions{Module: 3, ECC: escpos.ECCL})
		}, "1d 28 6b 04 00 31 41 32 00" + "1d 28 6b 03 00 31 43 03" + "1d 28 6b 03 00 31 45 30" +
			"1d 28 6b 07 00 31 50 30 31 32 33 34" + "1d 28 6b 03 00 31 51 30"},
		{"qr module 16 ECC H", func(e *escpos.Encoder) {
			e.QR([]byte("A"), escpos.QROptions{Module: 16, ECC: escpos.ECCH})
		}, "1d 28 6b 04 00 31 41 32 00" + "1d 28 6b 03 00 31 43 10" + "1d 28 6b 03 00 31 45 33" +
			"1d 28 6b 04 00 31 50 30 41" + "1d 28 6b 03 00 31 51 30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := escpos.NewEncoder()
			tt.build(e)
			if err := e.Err(); err != nil {
				t.Fatal(err)
			}
			want := mustHex(t, tt.want)
			if got := e.Bytes(); !bytes.Equal(got, want) {
				t.Errorf("got  % x\nwant % x", got, want)
			}
		})
	}
}

// The python-escpos expected output, byte for byte as that test writes it.
func TestQRMatchesPythonEscpos(t *testing.T) {
	want := []byte("\x1d(k\x04\x001A2\x00\x1d(k\x03\x001C\x03\x1d(k\x03\x001E0\x1d" +
		"(k\x07\x001P01234\x1d(k\x03\x001Q0")
	got := escpos.NewEncoder().QR([]byte("1234"), escpos.QROptions{Module: 3, ECC: escpos.ECCL}).Bytes()
	if !bytes.Equal(got, want) {
		t.Errorf("got  % x\nwant % x", got, want)
	}
}

// The store command's length is pL + pH·256 = k + 3; above 255 bytes pH
// must carry (EscPosEncoder#6: encoders that get pH wrong break there).
func TestQRStoreLength(t *testing.T) {
	for _, k := range []int{1, 252, 253, 254, 255, 256, 300, 7089} {
		data := bytes.Repeat([]byte{'x'}, k)
		b := escpos.NewEncoder().QR(data, escpos.QROptions{Module: 4, ECC: escpos.ECCM}).Bytes()
		store := b[9+8+8:]
		want := []byte{0x1d, 0x28, 0x6b, byte((k + 3) % 256), byte((k + 3) / 256), 0x31, 0x50, 0x30}
		if !bytes.Equal(store[:8], want) {
			t.Errorf("k=%d: store header % x, want % x", k, store[:8], want)
		}
		if len(b) != 9+8+8+8+k+8 {
			t.Errorf("k=%d: %d bytes, want %d", k, len(b), 9+8+8+8+k+8)
		}
	}
}

// rasterPattern is 13 dots wide (two bytes per row, 3 padding bits) and 5
// rows high, drawn in RGBA to go through the colour conversion:
//
//	row 0: all 13 black                       ff f8
//	row 1: dot 1 black                        40 00
//	row 2: dot 12 (last) black                00 08
//	row 3: dot 7 grey 0x7f (black), dot 8 black, dot 9 grey 0x80 (white),
//	       dot 10 transparent black (paper)   01 80
//	row 4: even dots black                    aa a8
func rasterPattern() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 13, 5))
	white := color.RGBA{0xff, 0xff, 0xff, 0xff}
	black := color.RGBA{0, 0, 0, 0xff}
	for y := range 5 {
		for x := range 13 {
			img.Set(x, y, white)
		}
	}
	for x := range 13 {
		img.Set(x, 0, black)
	}
	img.Set(1, 1, black)
	img.Set(12, 2, black)
	img.Set(7, 3, color.Gray{0x7f})
	img.Set(8, 3, black)
	img.Set(9, 3, color.Gray{0x80})
	img.Set(10, 3, color.RGBA{0, 0, 0, 0})
	for x := 0; x < 13; x += 2 {
		img.Set(x, 4, black)
	}
	return img
}

func TestRasterBytes(t *testing.T) {
	tests := []struct {
		name string
		img  image.Image
		opt  escpos.RasterOptions
		want string
	}{
		{"two bands, odd width", rasterPattern(), escpos.RasterOptions{BandRows: 3},
			"1d 76 30 00 02 00 03 00 ff f8 40 00 00 08" +
				"1d 76 30 00 02 00 02 00 01 80 aa a8"},
		{"one band by default", rasterPattern(), escpos.RasterOptions{},
			"1d 76 30 00 02 00 05 00 ff f8 40 00 00 08 01 80 aa a8"},
		{"scale2x is m=3", grayRows(8, 0xf0, 0x0f), escpos.RasterOptions{Scale2x: true},
			"1d 76 30 03 01 00 02 00 f0 0f"},
		{"double width is m=1", grayRows(8, 0xf0, 0x0f), escpos.RasterOptions{DoubleWidth: true},
			"1d 76 30 01 01 00 02 00 f0 0f"},
		{"scale2x wins over double width", grayRows(8, 0xf0, 0x0f), escpos.RasterOptions{Scale2x: true, DoubleWidth: true},
			"1d 76 30 03 01 00 02 00 f0 0f"},
		{"sub-image keeps its own origin", rasterPattern().(*image.RGBA).SubImage(image.Rect(8, 3, 13, 5)),
			escpos.RasterOptions{}, "1d 76 30 00 01 00 02 00 80 a8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := escpos.NewEncoder().Raster(tt.img, tt.opt)
			if err := e.Err(); err != nil {
				t.Fatal(err)
			}
			if got, want := e.Bytes(), mustHex(t, tt.want); !bytes.Equal(got, want) {
				t.Errorf("got  % x\nwant % x", got, want)
			}
		})
	}
}

// grayRows draws rows of width dots from bit patterns (MSB leftmost, 1 black).
func grayRows(width int, rows ...byte) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, width, len(rows)))
	for y, bits := range rows {
		for x := range width {
			if bits>>(7-x%8)&1 == 0 {
				img.Pix[y*img.Stride+x] = 0xff
			}
		}
	}
	return img
}

// Whole streams, byte-exact against the reviewed files in testdata/.
func TestGoldenStreams(t *testing.T) {
	qr300 := make([]byte, 300)
	for i := range qr300 {
		qr300[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i%64]
	}
	tests := []struct {
		name  string
		build func(e *escpos.Encoder)
	}{
		{"receipt_text", func(e *escpos.Encoder) {
			e.Init().Align(escpos.AlignCenter).Bold(true).Size(2, 2).CodePage(0).Line([]byte("TOTAL")).
				Bold(false).Size(1, 1).Align(escpos.AlignRight).Line([]byte("12.50")).Feed(3)
		}},
		{"qr_store_300", func(e *escpos.Encoder) {
			e.Align(escpos.AlignCenter).QR(qr300, escpos.QROptions{Module: 4, ECC: escpos.ECCM}).Line(nil)
		}},
		{"raster_two_bands", func(e *escpos.Encoder) {
			e.Raster(rasterPattern(), escpos.RasterOptions{BandRows: 3})
		}},
		{"raster_scale2x", func(e *escpos.Encoder) {
			e.Raster(grayRows(16, 0x81, 0x42, 0x24), escpos.RasterOptions{Scale2x: true, BandRows: 2})
		}},
		{"job_end", func(e *escpos.Encoder) {
			e.RequestStatus(escpos.StatusPrinter).RequestStatus(escpos.StatusOffline).
				RequestStatus(escpos.StatusError).RequestStatus(escpos.StatusPaper).
				Feed(1).Cut(escpos.CutPartial, 0).Cut(escpos.CutFull, 0).
				Cut(escpos.CutPartial, 16).Cut(escpos.CutFull, 1).Cut(escpos.CutNone, 0).TransmitStatus()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := escpos.NewEncoder()
			tt.build(e)
			if err := e.Err(); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.name, e.Bytes())
		})
	}
}

func TestEncoderErrors(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	tests := []struct {
		name  string
		build func(e *escpos.Encoder)
		want  []string // all must appear in the error
	}{
		{"align", func(e *escpos.Encoder) { e.Align(3) }, []string{"ESC a", "alignment 3"}},
		{"size width 0", func(e *escpos.Encoder) { e.Size(0, 1) }, []string{"GS !", "width 0", "between 1 and 8"}},
		{"size width 9", func(e *escpos.Encoder) { e.Size(9, 1) }, []string{"GS !", "width 9"}},
		{"size height 9", func(e *escpos.Encoder) { e.Size(1, 9) }, []string{"GS !", "height 9"}},
		{"text LF", func(e *escpos.Encoder) { e.Text([]byte("a\nb")) }, []string{"text", "byte 1", "0x0A"}},
		{"text ESC", func(e *escpos.Encoder) { e.Line([]byte("\x1b@")) }, []string{"text", "byte 0", "0x1B"}},
		{"feed -1", func(e *escpos.Encoder) { e.Feed(-1) }, []string{"ESC d", "lines -1"}},
		{"position -1", func(e *escpos.Encoder) { e.Position(-1) }, []string{"ESC $", "position -1", "0 and 65535"}},
		{"position 65536", func(e *escpos.Encoder) { e.Position(65536) }, []string{"ESC $", "position 65536"}},
		{"feed 256", func(e *escpos.Encoder) { e.Feed(256) }, []string{"ESC d", "lines 256", "0 and 255"}},
		{"cut feed 256", func(e *escpos.Encoder) { e.Cut(escpos.CutFull, 256) }, []string{"GS V", "feed 256"}},
		{"cut mode", func(e *escpos.Encoder) { e.Cut("guillotine", 0) }, []string{"GS V", `mode "guillotine"`}},
		{"qr empty", func(e *escpos.Encoder) { e.QR(nil, escpos.QROptions{Module: 3, ECC: escpos.ECCL}) },
			[]string{"GS ( k", "data is empty", "7089"}},
		{"qr too long", func(e *escpos.Encoder) {
			e.QR(make([]byte, 7090), escpos.QROptions{Module: 3, ECC: escpos.ECCL})
		}, []string{"GS ( k", "7090 bytes", "1 to 7089"}},
		{"qr module 0", func(e *escpos.Encoder) { e.QR([]byte("x"), escpos.QROptions{Module: 0, ECC: escpos.ECCL}) },
			[]string{"GS ( k", "module 0", "between 1 and 16"}},
		{"qr module 17", func(e *escpos.Encoder) { e.QR([]byte("x"), escpos.QROptions{Module: 17, ECC: escpos.ECCL}) },
			[]string{"module 17"}},
		{"qr ecc", func(e *escpos.Encoder) { e.QR([]byte("x"), escpos.QROptions{Module: 3, ECC: 'L'}) },
			[]string{"GS ( k", "ecc 76"}},
		{"raster nil", func(e *escpos.Encoder) { e.Raster(nil, escpos.RasterOptions{}) }, []string{"GS v 0", "nil"}},
		{"raster empty", func(e *escpos.Encoder) { e.Raster(image.NewGray(image.Rect(0, 0, 0, 4)), escpos.RasterOptions{}) },
			[]string{"GS v 0", "0x4"}},
		{"raster band", func(e *escpos.Encoder) { e.Raster(img, escpos.RasterOptions{BandRows: -1}) },
			[]string{"GS v 0", "band rows -1"}},
		{"status kind 0", func(e *escpos.Encoder) { e.RequestStatus(0) }, []string{"DLE EOT", "kind 0"}},
		{"status kind 5", func(e *escpos.Encoder) { e.RequestStatus(5) }, []string{"DLE EOT", "kind 5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := escpos.NewEncoder().Init()
			tt.build(e)
			err := e.Err()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if e.Bytes() != nil || e.Chunks(100) != nil {
				t.Error("a failed encoder still hands out bytes")
			}
			// The first error sticks and later calls add nothing.
			e.Feed(1).Init().Size(0, 0)
			if e.Err() != err {
				t.Errorf("error changed to %v", e.Err())
			}
		})
	}
}

// TestAlignment: the encoder reports the alignment its stream has selected,
// which a layout needs to know whether a line must send ESC a.
func TestAlignment(t *testing.T) {
	e := escpos.NewEncoder()
	if _, ok := e.Alignment(); ok {
		t.Error("a stream that has selected no alignment reports one")
	}
	for _, step := range []struct {
		do   func()
		want escpos.Alignment
	}{
		{func() { e.Init() }, escpos.AlignLeft},
		{func() { e.Align(escpos.AlignRight) }, escpos.AlignRight},
		{func() { e.Line([]byte("x")) }, escpos.AlignRight},
		{func() { e.Init() }, escpos.AlignLeft},
		{func() { e.Align(escpos.AlignCenter) }, escpos.AlignCenter},
		{func() { e.Align(7) }, escpos.AlignCenter}, // refused: nothing selected
	} {
		step.do()
		if got, ok := e.Alignment(); !ok || got != step.want {
			t.Fatalf("Alignment() = %d, %v; want %d", got, ok, step.want)
		}
	}
}

package fakeprinter

import (
	"bytes"
	"fmt"
	"image"
	"strings"
	"testing"

	"github.com/skip2/go-qrcode"
)

// run interprets input in one piece and returns the transcript of every
// receipt, finished or pending, and the bytes sent back.
func run(width int, feeds ...[]byte) (*interpreter, string, []byte) {
	in := newInterpreter(width, defaultMaxRows)
	var replies []byte
	in.reply = func(b []byte) { replies = append(replies, b...) }
	in.sendASB = func() { replies = append(replies, 0x10, 0, 0, 0) }
	for _, f := range feeds {
		in.feed(f)
	}
	var sb strings.Builder
	for _, r := range in.takeDone() {
		sb.WriteString(r.Text)
	}
	sb.WriteString(in.sheet.receipt(false).Text)
	return in, sb.String(), replies
}

func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			b = append(b, p...)
		case []byte:
			b = append(b, p...)
		case byte:
			b = append(b, p)
		case int:
			b = append(b, byte(p))
		default:
			panic(fmt.Sprintf("cat: %T", p))
		}
	}
	return b
}

func TestTranscript(t *testing.T) {
	long := strings.Repeat("x", 50)
	tests := []struct {
		name    string
		width   int
		in      []byte
		want    string
		unknown int
		invalid int
		replies []byte
	}{
		{name: "text and LF", in: cat("Hello\nWorld\n"), want: "Hello\nWorld\n"},
		{name: "CR ignored", in: cat("A\r\nB\r\n"), want: "A\nB\n"},
		{name: "LF on an empty buffer is an empty line", in: cat("\n\n"), want: "\n\n"},
		{name: "unprinted text is not in the transcript", in: cat("A\nB"), want: "A\n"},
		{name: "centre and bold", in: cat(esc('a', 1), esc('E', 1), "TOTAL\n", esc('E', 0), esc('a', 0), "x\n"), want: "[center] {bold}TOTAL\nx\n"},
		{name: "right with ASCII digit", in: cat(esc('a', '2'), "r\n"), want: "[right] r\n"},
		{name: "style change mid-line", in: cat("a", esc('E', 1), "b", esc('E', 0), "c\n"), want: "a{bold}b{normal}c\n"},
		{name: "ESC ! bold double both", in: cat(esc('!', 0x38), "X\n"), want: "{bold 2x2}X\n"},
		{name: "ESC ! font B underline", in: cat(esc('!', 0x81), "X\n"), want: "{fontB underline}X\n"},
		{name: "ESC ! double height only", in: cat(esc('!', 0x10), "X\n"), want: "{1x2}X\n"},
		{name: "GS ! sizes", in: cat(gs('!', 0x11), "A", gs('!', 0x70), "B", gs('!', 0x00), "C\n"), want: "{2x2}A{8x1}B{normal}C\n"},
		{name: "GS ! out of range", in: cat(gs('!', 0x80), "A\n"), want: "[INVALID GS ! 0x80: width and height nibbles must be 0-7]A\n", invalid: 1},
		{name: "ESC - and ESC M", in: cat(esc('-', 2), esc('M', 1), "u\n", esc('-', 48), esc('M', 48), "n\n"), want: "{fontB underline2}u\nn\n"},
		{name: "ESC - out of range", in: cat(esc('-', 3), "u\n"), want: "[INVALID ESC - 3: n must be 0-2 or 48-50]u\n", invalid: 1},
		{name: "ESC @ resets modes", in: cat(esc('E', 1), esc('a', 1), esc('t', 50), escInit, "a\x80\n"), want: "aÇ\n"},
		{name: "ESC @ mid-line loses the text", in: cat("lost", escInit, "a\n"), want: "[INVALID ESC @ discarded unprinted text \"lost\"]a\n", invalid: 1},
		{name: "code page 0 is CP437", in: cat(esc('t', 0), "\x80\xE1\n"), want: "Çß\n"},
		{name: "code page 50 is Windows-1256", in: cat(esc('t', 50), "\xC7\xE1\n"), want: "ال\n"},
		{name: "code page 92 is Windows-1256", in: cat(esc('t', 92), "\xC7\n"), want: "ا\n"},
		{name: "other code pages show hex", in: cat(esc('t', 37), "a\xC7\n"), want: `a\xC7` + "\n"},
		{name: "ESC d", in: cat(esc('d', 3)), want: "[FEED 3]\n"},
		// ESC $ nL nH: 300 dots is column 25 of 12-dot Font A cells.
		{name: "ESC $ right column", in: cat("VAT", esc('$', 300%256, 300/256), "15.00\n"), want: "VAT" + strings.Repeat(" ", 22) + "15.00\n"},
		{name: "ESC $ backwards", in: cat("ABCD", esc('$', 12, 0), "x\n"), want: "ABCD[<-36]x\n"},
		{name: "ESC $ past the paper", in: cat("a", esc('$', 0x41, 0x02), "b\n"), width: 576, want: "a[INVALID ESC $ 577: past the paper's 576 dots]b\n", invalid: 1},
		{name: "ESC d after text", in: cat("ab", esc('d', 2)), want: "ab\n[FEED 2]\n"},
		{name: "ESC a mid-line refused", in: cat("a", esc('a', 1), "b\n"), want: "a[INVALID ESC a: not at the start of a line]b\n", invalid: 1},
		{name: "ESC a out of range", in: cat(esc('a', 3), "b\n"), want: "[INVALID ESC a 3: n must be 0-2 or 48-50]b\n", invalid: 1},
		{name: "cut full", in: cat("a\n", cutFull, "b\n"), want: "a\n[CUT full]\nb\n"},
		{name: "cut partial ASCII", in: cat(gs('V', 49)), want: "[CUT partial]\n"},
		{name: "cut full with feed", in: cat(gs('V', 65, 5)), want: "[CUT full feed=5]\n"},
		{name: "cut partial with feed", in: cat(gs('V', 66, 0)), want: "[CUT partial feed=0]\n"},
		{name: "cut mode out of range", in: cat(gs('V', 2), "\n"), want: "[INVALID GS V 2: m must be 0, 1, 48, 49, 65 or 66]\n", invalid: 1},
		{name: "cut mid-line refused", in: cat("a", cutFull, "\n"), want: "a[INVALID GS V: not at the start of a line]\n", invalid: 1},
		{name: "unknown control byte", in: cat("a\tb\n"), want: "a[UNKNOWN 0x09]b\n", unknown: 1},
		{name: "unknown ESC", in: cat(esc('J', '@'), "\n"), want: "[UNKNOWN 0x1B 0x4A]@\n", unknown: 1},
		{name: "unknown GS", in: cat(gs('H', 2), "\n"), want: "[UNKNOWN 0x1D 0x48][UNKNOWN 0x02]\n", unknown: 2},
		{name: "unknown GS ( function skipped whole", in: cat(gs('(', 'L', 2, 0, 48, 69), "a\n"), want: "[UNKNOWN 0x1D 0x28 0x4C 0x02 0x00 0x30 0x45]a\n", unknown: 1},
		{name: "unknown DLE", in: cat(0x10, 0x14, 1, 0, 1, "\n"), want: "[UNKNOWN 0x10][UNKNOWN 0x14][UNKNOWN 0x01][UNKNOWN 0x01]\n", unknown: 4},
		{name: "NUL flush ignored", in: cat(make([]byte, 8192), "a\n"), want: "a\n"},
		{name: "DLE EOT leaves no mark", in: cat(dleEOT(1), dleEOT(4), "a\n"), want: "a\n"},
		{name: "DLE EOT 7 unknown", in: cat(dleEOT(7), "\n"), want: "[UNKNOWN 0x10 0x04 0x07]\n", unknown: 1},
		{name: "DLE ENQ", in: cat(0x10, 0x05, 2, "a\n"), want: "a\n"},
		{name: "GS r 1 answers 0", in: cat("a\n", gsR1, gs('r', 49)), want: "a\n", replies: []byte{0, 0}},
		{name: "GS r 2 drawer answers 0", in: cat(gs('r', 2)), want: "", replies: []byte{0}},
		{name: "GS r 3 refused", in: cat(gs('r', 3), "\n"), want: "[INVALID GS r 3: n must be 1, 2, 49 or 50]\n", invalid: 1},
		{name: "GS a enables status back", in: cat(gs('a', 255)), want: "", replies: []byte{0x10, 0, 0, 0}},
		{name: "GS a 0 sends nothing", in: cat(gs('a', 0)), want: ""},
		{name: "wrap at 48 columns on 576 dots", in: cat(long, "\n"), want: long[:48] + "\n" + long[48:] + "\n"},
		{name: "wrap at 32 columns on 384 dots", width: 384, in: cat(long, "\n"), want: long[:32] + "\n" + long[32:] + "\n"},
		{name: "double width wraps at 24", in: cat(gs('!', 0x10), long[:30], "\n"), want: "{2x1}" + long[:24] + "\n{2x1}" + long[24:30] + "\n"},
		{name: "font B fits 64", in: cat(esc('M', 1), long[:50], "\n"), want: "{fontB}" + long[:50] + "\n"},
		{name: "QR defaults", in: cat(qrFn(80, 48, 'h', 'i'), qrFn(81, 48)), want: "[QR native model=2 module=3 ecc=L bytes=2]\n"},
		{name: "QR settings", in: cat(qrFn(65, 49, 0), qrFn(67, 6), qrFn(69, 51), qrFn(80, 48, 'h', 'i'), qrFn(81, 48)), want: "[QR native model=1 module=6 ecc=H bytes=2]\n"},
		{name: "QR micro model", in: cat(qrFn(65, 51, 0), qrFn(80, 48, 'h'), qrFn(81, 48)), want: "[QR native model=micro module=3 ecc=L bytes=1]\n"},
		{name: "QR without data", in: cat(qrFn(81, 48)), want: "[QR native model=2 module=3 ecc=L bytes=0 NOT PRINTED: no data stored]\n"},
		{name: "ESC @ clears QR data and settings", in: cat(qrFn(67, 8), qrFn(80, 48, 'h'), escInit, qrFn(81, 48)), want: "[QR native model=2 module=3 ecc=L bytes=0 NOT PRINTED: no data stored]\n"},
		{name: "QR wider than the paper", width: 384, in: cat(nativeQR(base64Payload(600, 1), 5, 49)), want: "[QR native model=2 module=5 ecc=M bytes=600 NOT PRINTED: 465 dots wider than the paper's 384]\n"},
		{name: "QR 600 fits 58 mm at module 4", width: 384, in: cat(nativeQR(base64Payload(600, 1), 4, 49)), want: "[QR native model=2 module=4 ecc=M bytes=600]\n"},
		{name: "QR over capacity", in: cat(nativeQR(strings.Repeat("a", 3000), 1, 51)), want: "[QR native model=2 module=1 ecc=H bytes=3000 NOT PRINTED: data exceeds the symbol's capacity]\n"},
		{name: "QR module out of range", in: cat(qrFn(67, 17), qrFn(67, 0), "\n"), want: "[INVALID GS ( k fn 67 (QR module size): n must be 1-16, pL+pH·256 = 3][INVALID GS ( k fn 67 (QR module size): n must be 1-16, pL+pH·256 = 3]\n", invalid: 2},
		{name: "QR ECC out of range", in: cat(qrFn(69, 52), "\n"), want: "[INVALID GS ( k fn 69 (QR error correction): n must be 48-51, pL+pH·256 = 3]\n", invalid: 1},
		{name: "QR model out of range", in: cat(qrFn(65, 52, 0), "\n"), want: "[INVALID GS ( k fn 65 (QR model): n1 must be 49, 50 or 51 and n2 0, pL+pH·256 = 4]\n", invalid: 1},
		{name: "QR store empty", in: cat(qrFn(80, 48), "\n"), want: "[INVALID GS ( k fn 80 (QR store): m must be 48 and k = pL+pH·256-3 must be 1-7089]\n", invalid: 1},
		{name: "QR store too long", in: cat(qrFn(80, append([]byte{48}, make([]byte, 7090)...)...), "\n"), want: "[INVALID GS ( k fn 80 (QR store): m must be 48 and k = pL+pH·256-3 must be 1-7089]\n", invalid: 1},
		{name: "QR store longest", in: cat(qrFn(80, append([]byte{48}, bytes.Repeat([]byte{'1'}, 7089)...)...), qrFn(81, 48)), want: "[QR native model=2 module=3 ecc=L bytes=7089]\n"},
		{name: "QR print mid-line refused", in: cat(qrFn(80, 48, 'h'), "a", qrFn(81, 48), "\n"), want: "a[INVALID GS ( k fn 81 (QR print): not at the start of a line]\n", invalid: 1},
		{name: "QR size report not answered", in: cat(qrFn(82, 48)), want: ""},
		{name: "GS ( k other symbol", in: cat(0x1D, 0x28, 0x6B, 3, 0, 48, 67, 3, "\n"), want: "[UNKNOWN 0x1D 0x28 0x6B 0x03 0x00 0x30 0x43]\n", unknown: 1},
		{name: "raster", in: cat(rasterBytes(0, [][]bool{{true}, {false}})), want: "[RASTER 8x2 m=0]\n"},
		{name: "raster ASCII m", in: cat(rasterBytes(51, [][]bool{{true}})), want: "[RASTER 8x1 m=3]\n"},
		{name: "raster full width", in: cat(rasterBytes(0, [][]bool{make([]bool, 576)})), want: "[RASTER 576x1 m=0]\n"},
		{name: "raster wider than the paper", in: cat(rasterBytes(0, [][]bool{make([]bool, 584)})), want: "[RASTER 584x1 m=0 NOT PRINTED: 584 dots wider than the paper's 576]\n"},
		{name: "raster double width too wide", in: cat(rasterBytes(1, [][]bool{make([]bool, 296)})), want: "[RASTER 296x1 m=1 NOT PRINTED: 592 dots wider than the paper's 576]\n"},
		{name: "raster empty", in: cat(gs('v', '0', 0, 0, 0, 0, 0)), want: "[RASTER 0x0 m=0 NOT PRINTED: empty image]\n"},
		{name: "raster mode out of range", in: cat(rasterBytes(4, [][]bool{{true}}), "\n"), want: "[INVALID GS v 0 m=4: m must be 0-3 or 48-51]\n", invalid: 1},
		{name: "raster mid-line refused", in: cat("a", rasterBytes(0, [][]bool{{true}}), "\n"), want: "a[INVALID GS v 0: not at the start of a line]\n", invalid: 1},
		{name: "raster data holding DLE EOT and LF", in: cat(gs('v', '0', 0, 3, 0, 1, 0, 0x10, 0x04, 0x01), "\n"), want: "[RASTER 24x1 m=0]\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			width := tt.width
			if width == 0 {
				width = defaultWidthDots
			}
			in, got, replies := run(width, tt.in)
			if got != tt.want {
				t.Errorf("transcript\n got %q\nwant %q", got, tt.want)
			}
			if in.count.unknown != tt.unknown || in.count.invalid != tt.invalid {
				t.Errorf("unknown %d invalid %d, want %d and %d", in.count.unknown, in.count.invalid, tt.unknown, tt.invalid)
			}
			if !bytes.Equal(replies, tt.replies) {
				t.Errorf("replies % X, want % X", replies, tt.replies)
			}
			// The same bytes one at a time: every command split at every boundary.
			_, split, splitReplies := run(width, splitBytes(tt.in)...)
			if split != got || !bytes.Equal(splitReplies, replies) {
				t.Errorf("fed a byte at a time: %q, replies % X", split, splitReplies)
			}
		})
	}
}

func splitBytes(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

func TestJobTranscriptGolden(t *testing.T) {
	in, got, replies := run(defaultWidthDots, job(t, base64Payload(600, 1), kraURL))
	golden(t, "job.txt", got)
	if !bytes.Equal(replies, []byte{0}) {
		t.Errorf("replies % X, want the GS r 1 answer 00", replies)
	}
	if in.count.unknown+in.count.invalid+in.count.notPrinted+in.count.wraps != 0 {
		t.Errorf("counters %+v, want no unknown, invalid, unprinted or wrapped", in.count)
	}
}

// TestPaperGeometry checks where things land on the paper: text lines as
// blank rows of the line spacing (or the tallest character), QR symbols and
// rasters at their size, aligned per ESC a.
func TestPaperGeometry(t *testing.T) {
	url := qrBitmap(t, kraURL, qrcode.Medium, 4) // 41 modules: 164 dots, sent as 21 bytes = 168 dots
	tests := []struct {
		name    string
		width   int
		in      []byte
		rows    int
		symbols []image.Rectangle
	}{
		{name: "one text line", in: cat("a\n"), rows: 30},
		{name: "two blank lines", in: cat("\n\n"), rows: 60},
		{name: "ESC d 3", in: cat(esc('d', 3)), rows: 90},
		{name: "ESC d 0 prints without feeding", in: cat("a", esc('d', 0)), rows: 0},
		{name: "double height line", in: cat(gs('!', 0x11), "A\n"), rows: 48},
		{name: "line spacing below character height", in: cat(esc('3', 20), "a\n\n"), rows: 24 + 20},
		{name: "ESC 2 restores 30", in: cat(esc('3', 20), esc('2'), "\n"), rows: 30},
		{name: "cut feed", in: cat(gs('V', 65, 7)), rows: 7},
		{name: "raster left", in: cat(rasterBytes(0, url)), rows: 164, symbols: []image.Rectangle{image.Rect(0, 0, 168, 164)}},
		{name: "raster centred", in: cat("\n", esc('a', 1), rasterBytes(0, url)), rows: 30 + 164, symbols: []image.Rectangle{image.Rect(204, 30, 372, 194)}},
		{name: "raster right, double both", in: cat(esc('a', 2), rasterBytes(3, url)), rows: 328, symbols: []image.Rectangle{image.Rect(240, 0, 576, 328)}},
		{name: "native QR centred", in: cat(esc('a', 1), nativeQR(base64Payload(600, 1), 4, 49)), rows: 372, symbols: []image.Rectangle{image.Rect(102, 0, 474, 372)}},
		{name: "native QR right on 58 mm", width: 384, in: cat(esc('a', 2), nativeQR(kraURL, 3, 48)), rows: 111, symbols: []image.Rectangle{image.Rect(273, 0, 384, 111)}},
		{name: "raster that is not a QR", in: cat(rasterBytes(0, [][]bool{make([]bool, 8), {true, true, true}})), rows: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			width := tt.width
			if width == 0 {
				width = defaultWidthDots
			}
			in := newInterpreter(width, defaultMaxRows)
			in.feed(tt.in)
			r := in.sheet.receipt(false)
			if done := in.takeDone(); len(done) > 0 {
				r = done[len(done)-1]
			}
			if rows := r.Image.Bounds().Dy(); rows != max(tt.rows, 1) {
				t.Errorf("paper %d rows, want %d", rows, tt.rows)
			}
			if r.Image.Bounds().Dx() != width {
				t.Errorf("image %d dots wide, want %d", r.Image.Bounds().Dx(), width)
			}
			var got []image.Rectangle
			for _, s := range r.symbols {
				got = append(got, s.bounds)
				// A symbol's corner module is black, and the paper left of it white.
				if r.Image.GrayAt(s.bounds.Min.X, s.bounds.Min.Y).Y != black {
					t.Errorf("symbol %v: top-left dot not black", s.bounds)
				}
				if s.bounds.Min.X > 0 && r.Image.GrayAt(s.bounds.Min.X-1, s.bounds.Min.Y).Y != white {
					t.Errorf("symbol %v: paper left of it not white", s.bounds)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.symbols) {
				t.Errorf("symbols %v, want %v", got, tt.symbols)
			}
		})
	}
}

func TestJobPaperRows(t *testing.T) {
	in := newInterpreter(defaultWidthDots, defaultMaxRows)
	in.feed(job(t, base64Payload(600, 1), kraURL))
	done := in.takeDone()
	if len(done) != 1 || !done[0].Cut {
		t.Fatalf("%d receipts, want 1 cut", len(done))
	}
	// Title 2x2 (48) + 3 lines (30 each) + QR 93 modules × 4 + LF + raster
	// 41 × 4 + LF + ESC d 3.
	want := 48 + 3*30 + 372 + 30 + 164 + 30 + 90
	if h := done[0].Image.Bounds().Dy(); h != want {
		t.Errorf("receipt %d rows, want %d", h, want)
	}
}

func TestPaperLimit(t *testing.T) {
	in := newInterpreter(384, 100)
	in.feed(cat(esc('d', 5), esc('d', 5), "a\n", cutFull))
	done := in.takeDone()
	if len(done) != 1 {
		t.Fatalf("%d receipts, want 1", len(done))
	}
	want := "[FEED 5]\n[PAPER LIMIT: the rest of this receipt is not drawn]\n[FEED 5]\na\n[CUT full]\n"
	if done[0].Text != want || done[0].Image.Bounds().Dy() != 100 {
		t.Errorf("got %q, %d rows; want %q, 100 rows", done[0].Text, done[0].Image.Bounds().Dy(), want)
	}
}

// FuzzInterpret: no input panics the printer, and bytes split at any point
// give the same paper, transcript and replies as bytes in one piece.
func FuzzInterpret(f *testing.F) {
	f.Add(job(f, base64Payload(100, 2), kraURL), uint16(7))
	f.Add(cat(esc('a', 1), qrFn(67, 2), qrFn(80, 48, 'x'), qrFn(81, 48), gsR1, cutFull), uint16(3))
	f.Add(cat(rasterBytes(3, [][]bool{{true, false, true}}), dleEOT(2), "\x10\x04"), uint16(1))
	f.Add(cat(gs('(', 'k', 0xFF, 0xFF)), uint16(2))
	f.Fuzz(func(t *testing.T, data []byte, at uint16) {
		cut := int(at) % (len(data) + 1)
		whole := fuzzRun(data)
		split := fuzzRun(data[:cut], data[cut:])
		if whole != split {
			t.Errorf("split at %d:\n%s\nwhole:\n%s", cut, split, whole)
		}
	})
}

func fuzzRun(feeds ...[]byte) string {
	in := newInterpreter(384, 2048)
	var replies []byte
	in.reply = func(b []byte) { replies = append(replies, b...) }
	for _, f := range feeds {
		in.feed(f)
	}
	var sb strings.Builder
	for _, r := range append(in.takeDone(), in.sheet.receipt(false)) {
		fmt.Fprintf(&sb, "%q cut=%v qr=%q image=%x\n", r.Text, r.Cut, r.QR, r.Image.Pix)
	}
	fmt.Fprintf(&sb, "replies % X counts %+v pending %d", replies, in.count, len(in.pending))
	return sb.String()
}

//go:build linux

package fakeprinter

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"

	"github.com/egsd/egsd/device/fakeprinter/qrscan"
)

// patience bounds every wait for the printer; tests never assert on time.
const patience = 20 * time.Second

func startPrinter(t *testing.T, opt Options) *Printer {
	t.Helper()
	p, err := Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// host is the cash register's end of the line: the device opened as a
// file, in raw mode, with deadlines.
type host struct {
	t *testing.T
	f *os.File
}

func openHost(t *testing.T, path string) *host {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := makeRaw(f); err != nil {
		t.Fatal(err)
	}
	return &host{t: t, f: f}
}

func (h *host) write(b []byte) {
	h.t.Helper()
	if _, err := h.f.Write(b); err != nil {
		h.t.Fatalf("host write: %v", err)
	}
}

// read returns exactly n bytes from the printer.
func (h *host) read(n int) []byte {
	h.t.Helper()
	h.f.SetReadDeadline(time.Now().Add(patience))
	buf := make([]byte, n)
	for got := 0; got < n; {
		m, err := h.f.Read(buf[got:])
		if err != nil {
			h.t.Fatalf("host read (%d of %d bytes): %v", got, n, err)
		}
		got += m
	}
	return buf
}

// ask sends a request and returns the n-byte answer.
func (h *host) ask(req []byte, n int) []byte {
	h.t.Helper()
	h.write(req)
	return h.read(n)
}

func waitReceipts(t *testing.T, p *Printer, n int) []Receipt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	r, err := p.WaitReceipts(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func checkClean(t *testing.T, s Stats) {
	t.Helper()
	if s.Unknown != 0 || s.Invalid != 0 || s.NotPrinted != 0 || s.Wraps != 0 {
		t.Errorf("stats %+v: want no unknown, invalid, unprinted or wrapped", s)
	}
}

// decodeAll checks that the page and each cropped symbol decode to want.
func decodeAll(t *testing.T, r Receipt, want []string) {
	t.Helper()
	got, err := qrscan.Decode(r.Image)
	if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("page decodes to %q (%v), want %q", got, err, want)
	}
	imgs := r.QRImages()
	if len(imgs) != len(want) {
		t.Fatalf("%d QR images, want %d", len(imgs), len(want))
	}
	for i, img := range imgs {
		got, err := qrscan.Decode(img)
		if err != nil || len(got) != 1 || got[0] != want[i] {
			t.Errorf("QR image %d decodes to %q (%v), want %q", i, got, err, want[i])
		}
	}
}

func TestPrintJob(t *testing.T) {
	payload := base64Payload(600, 1)
	p := startPrinter(t, Options{})
	h := openHost(t, p.Path())
	if got := h.ask(job(t, payload, kraURL), 1); got[0] != 0x00 {
		t.Errorf("GS r 1 answered %02X, want 00", got[0])
	}
	r := waitReceipts(t, p, 1)[0]
	golden(t, "job.txt", r.Text)
	if !r.Cut || len(r.QR) != 1 || r.QR[0] != payload {
		t.Errorf("cut %v, native QR data %q; want cut and the 600-character payload", r.Cut, r.QR)
	}
	decodeAll(t, r, []string{payload, kraURL})
	s := p.Stats()
	checkClean(t, s)
	if s.TransmitStatusReplies != 1 || s.Commands["GS ( k QR print"] != 1 || s.Commands["GS v 0"] != 1 {
		t.Errorf("stats %+v: want one GS r answer, one QR print, one raster", s)
	}
	if p.Pending().Text != "" {
		t.Errorf("pending after the cut: %q", p.Pending().Text)
	}
}

// TestOneByteAtATime: every command split across reads at every boundary
// prints the same receipt.
func TestOneByteAtATime(t *testing.T) {
	payload := base64Payload(600, 1)
	stream := job(t, payload, kraURL)
	whole := newInterpreter(defaultWidthDots, defaultMaxRows)
	whole.feed(stream)
	want := whole.takeDone()[0]

	readChunk = 1 // and the printer reads a byte at a time
	p := startPrinter(t, Options{})
	readChunk = 512
	h := openHost(t, p.Path())
	for i := range stream {
		h.write(stream[i : i+1])
	}
	if got := h.read(1); got[0] != 0 {
		t.Errorf("GS r 1 answered %02X", got[0])
	}
	r := waitReceipts(t, p, 1)[0]
	if r.Text != want.Text || !bytes.Equal(r.Image.Pix, want.Image.Pix) {
		t.Errorf("byte-at-a-time receipt differs:\n%s", r.Text)
	}
	decodeAll(t, r, []string{payload, kraURL})
	if s := p.Stats(); s.BytesReceived != int64(len(stream)) {
		t.Errorf("received %d bytes, want %d", s.BytesReceived, len(stream))
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name          string
		paperOut      bool
		coverOpen     bool
		nearEnd       bool
		want          [4]byte // DLE EOT 1, 2, 3, 4
		asb           []byte
		offline       bool
		wantGSr1Reply byte
	}{
		{name: "online", want: [4]byte{0x12, 0x12, 0x12, 0x12}, asb: []byte{0x10, 0, 0, 0}},
		{name: "paper out", paperOut: true, want: [4]byte{0x1A, 0x32, 0x12, 0x72}, asb: []byte{0x18, 0, 0x0C, 0}, offline: true},
		{name: "cover open", coverOpen: true, want: [4]byte{0x1A, 0x16, 0x12, 0x12}, asb: []byte{0x38, 0, 0, 0}, offline: true},
		{name: "paper out, cover open", paperOut: true, coverOpen: true, want: [4]byte{0x1A, 0x36, 0x12, 0x72}, asb: []byte{0x38, 0, 0x0C, 0}, offline: true},
		{name: "near end", nearEnd: true, want: [4]byte{0x12, 0x12, 0x12, 0x1E}, asb: []byte{0x10, 0, 0x03, 0}, wantGSr1Reply: 0x03},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startPrinter(t, Options{})
			h := openHost(t, p.Path())
			h.ask(gs('a', 255), 4) // ASB on: the first status
			p.SetPaperOut(tt.paperOut)
			p.SetCoverOpen(tt.coverOpen)
			p.SetPaperNearEnd(tt.nearEnd)
			// Each fault that changed sent its own ASB message; the last is the current status.
			changes := 0
			for _, on := range []bool{tt.paperOut, tt.coverOpen, tt.nearEnd} {
				if on {
					changes++
				}
			}
			var last []byte
			for range changes {
				last = h.read(4)
			}
			if changes > 0 && !bytes.Equal(last, tt.asb) {
				t.Errorf("ASB % X, want % X", last, tt.asb)
			}
			for i, want := range tt.want {
				if got := h.ask(dleEOT(byte(i+1)), 1)[0]; got != want {
					t.Errorf("DLE EOT %d = %02X, want %02X", i+1, got, want)
				}
				if tt.want[i]&0x93 != 0x12 {
					t.Errorf("DLE EOT %d = %02X breaks the pattern 0xx1xx10", i+1, want)
				}
			}
			// GS r 1 then DLE EOT 1: the DLE EOT answer comes first only if GS r went unanswered.
			before := p.Stats().BytesDiscarded
			jobBytes := cat("lost?\n", gsR1, cutFull)
			h.write(jobBytes)
			first := h.ask(dleEOT(1), 1)[0]
			if tt.offline {
				if first != tt.want[0] {
					t.Errorf("offline: first answer %02X, want DLE EOT's %02X (GS r must not answer)", first, tt.want[0])
				}
				if got := p.Stats().BytesDiscarded - before; got != int64(len(jobBytes)+3) {
					t.Errorf("discarded %d bytes, want %d", got, len(jobBytes)+3)
				}
				if len(p.Receipts()) != 0 {
					t.Errorf("data sent while offline printed")
				}
				// Recovery: GS r answered again, and printing resumes.
				p.SetPaperOut(false)
				p.SetCoverOpen(false)
				for _, was := range []bool{tt.paperOut, tt.coverOpen} {
					if was {
						h.read(4) // ASB for each fault cleared
					}
				}
				if got := h.ask(gsR1, 1)[0]; got != tt.wantGSr1Reply {
					t.Errorf("GS r 1 after recovery = %02X, want %02X", got, tt.wantGSr1Reply)
				}
				h.write(cat("printed\n", cutFull))
				if r := waitReceipts(t, p, 1); r[0].Text != "printed\n[CUT full]\n" {
					t.Errorf("after recovery printed %q", r[0].Text)
				}
			} else {
				if first != tt.wantGSr1Reply {
					t.Errorf("online: first answer %02X, want GS r's %02X", first, tt.wantGSr1Reply)
				}
				if got := h.read(1)[0]; got != tt.want[0] {
					t.Errorf("then %02X, want DLE EOT's %02X", got, tt.want[0])
				}
			}
		})
	}
}

// TestStatusInsideRaster: DLE EOT bytes inside image data are answered, as
// on a real printer, and still print as image data.
func TestStatusInsideRaster(t *testing.T) {
	p := startPrinter(t, Options{})
	h := openHost(t, p.Path())
	img := cat(gs('v', '0', 0, 3, 0, 1, 0, 0x10, 0x04, 0x01), cutFull)
	if got := h.ask(img, 1)[0]; got != 0x12 {
		t.Errorf("answer %02X, want 12", got)
	}
	r := waitReceipts(t, p, 1)[0]
	if r.Text != "[RASTER 24x1 m=0]\n[CUT full]\n" {
		t.Errorf("transcript %q", r.Text)
	}
	// 0x10 = dots 3; 0x04 = dot 13; 0x01 = dot 23.
	for x := 0; x < 24; x++ {
		dark := r.Image.GrayAt(x, 0).Y == black
		if dark != (x == 3 || x == 13 || x == 23) {
			t.Errorf("dot %d dark=%v", x, dark)
		}
	}
}

func TestPaperOutAfter(t *testing.T) {
	p := startPrinter(t, Options{})
	h := openHost(t, p.Path())
	head := cat(escInit, "first line\n", "second line\n")
	rest := cat(nativeQR(kraURL, 4, 49), "\nthird line\n", gsR1, cutPartial)
	p.PaperOutAfter(len(head) + 20) // runs out inside the QR commands
	h.write(cat(head, rest))
	if got := h.ask(dleEOT(4), 1)[0]; got != 0x72 {
		t.Errorf("DLE EOT 4 = %02X, want 72 (paper end, GS r unanswered)", got)
	}
	r := p.Receipts()
	if len(r) != 1 || r[0].Cut {
		t.Fatalf("receipts %+v, want one torn off without a cut", r)
	}
	if r[0].Text != "first line\nsecond line\n" || len(r[0].QR) != 0 {
		t.Errorf("torn-off receipt %q, QR %q", r[0].Text, r[0].QR)
	}
	if s := p.Stats(); s.BytesDiscarded != int64(len(rest)-20+3) {
		t.Errorf("discarded %d bytes, want %d", s.BytesDiscarded, len(rest)-20+3)
	}
	if p.Pending().Text != "" {
		t.Errorf("pending %q, want nothing after the tear", p.Pending().Text)
	}
}

func TestUnplugReplug(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyPRN")
	p := startPrinter(t, Options{Link: link})
	if p.Path() != link {
		t.Fatalf("Path %q, want the link %q", p.Path(), link)
	}
	h := openHost(t, link)
	h.write(cat("one\n", cutFull))
	waitReceipts(t, p, 1)

	p.Unplug()
	if _, err := h.f.Write([]byte("two\n")); err == nil {
		t.Fatal("host write to an unplugged printer succeeded")
	}
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("link after Unplug: %v, want it gone", err)
	}
	p.Unplug() // twice is harmless

	if err := p.Replug(); err != nil {
		t.Fatal(err)
	}
	if err := p.Replug(); err == nil {
		t.Error("Replug while plugged in succeeded")
	}
	h2 := openHost(t, link)
	h2.write(cat("two\n", cutFull))
	if got := h2.ask(dleEOT(1), 1)[0]; got != 0x12 {
		t.Errorf("DLE EOT 1 after replug = %02X", got)
	}
	r := waitReceipts(t, p, 2)
	if r[0].Text != "one\n[CUT full]\n" || r[1].Text != "two\n[CUT full]\n" {
		t.Errorf("receipts %q, %q", r[0].Text, r[1].Text)
	}
}

func TestStall(t *testing.T) {
	p := startPrinter(t, Options{})
	h := openHost(t, p.Path())
	// 72 bytes × 900 rows: 64,800 bytes, far more than a pty buffers.
	rows := make([][]bool, 900)
	for i := range rows {
		rows[i] = make([]bool, 576)
		rows[i][i%576] = true
	}
	stream := cat(rasterBytes(0, rows), cutFull)

	p.SetStall(true)
	h.f.SetWriteDeadline(time.Now().Add(time.Second))
	n, err := h.f.Write(stream)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n >= len(stream) {
		t.Fatalf("write to a stalled printer: %d of %d bytes, %v; want it blocked", n, len(stream), err)
	}
	p.SetStall(false)
	h.f.SetWriteDeadline(time.Time{})
	h.write(stream[n:])
	r := waitReceipts(t, p, 1)[0]
	if r.Text != "[RASTER 576x900 m=0]\n[CUT full]\n" || r.Image.GrayAt(899%576, 899).Y != black {
		t.Errorf("after the stall: %q", r.Text)
	}
}

func permOf(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestOutDir: each receipt is saved as PNG and text, readable by the
// owner only (a receipt names the seller and the buyer), also where an
// earlier run left a file of the same name with wider permissions.
func TestOutDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	p := startPrinter(t, Options{OutDir: dir, WidthDots: 384})
	if perm := permOf(t, dir); perm != 0o700 {
		t.Errorf("OutDir mode = %o, want 0700", perm)
	}
	if err := os.WriteFile(filepath.Join(dir, "receipt-0001.txt"), []byte("an earlier run"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := openHost(t, p.Path())
	h.write(cat("one\n", cutFull, esc('a', 1), nativeQR("hello", 4, 48), cutPartial))
	r := waitReceipts(t, p, 2) // a receipt's files are written before it shows
	for i, want := range r {
		base := filepath.Join(dir, []string{"receipt-0001", "receipt-0002"}[i])
		txt, err := os.ReadFile(base + ".txt")
		if err != nil || string(txt) != want.Text {
			t.Errorf("%s.txt = %q (%v), want %q", base, txt, err, want.Text)
		}
		for _, ext := range []string{".png", ".txt"} {
			if perm := permOf(t, base+ext); perm != 0o600 {
				t.Errorf("%s%s mode = %o, want 0600", base, ext, perm)
			}
		}
		f, err := os.Open(base + ".png")
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds() != want.Image.Bounds() {
			t.Errorf("%s.png: %v, bounds %v, want %v", base, err, img.Bounds(), want.Image.Bounds())
		}
	}
	got, err := qrscan.Decode(r[1].Image)
	if err != nil || len(got) != 1 || got[0] != "hello" {
		t.Errorf("receipt 2 decodes to %q (%v)", got, err)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, ".*")); len(names) != 0 {
		t.Errorf("temporary files left in OutDir: %v", names)
	}
}

// TestThrottle: at 2,000 bytes a second a 1,000-byte job cannot be answered
// in less than the time to read all but its last chunk, even after the
// line was idle. A lower bound only: a slow machine can only make the wait
// longer.
func TestThrottle(t *testing.T) {
	p := startPrinter(t, Options{BytesPerSecond: 2000})
	h := openHost(t, p.Path())
	h.ask(gsR1, 1)
	time.Sleep(500 * time.Millisecond) // idle time must not let the next job burst through
	stream := cat(bytes.Repeat([]byte{0}, 996), gsR1)
	start := time.Now()
	h.ask(stream, 1)
	chunk := 2000 / 20
	if least := time.Duration(len(stream)-chunk) * time.Second / 2000; time.Since(start) < least {
		t.Errorf("answered after %v, before %v: not throttled", time.Since(start), least)
	}
}

// TestSerialLibrary: the serial library the daemon uses opens the printer.
func TestSerialLibrary(t *testing.T) {
	p := startPrinter(t, Options{})
	port, err := serial.Open(p.Path(), &serial.Mode{BaudRate: 9600})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	port.SetReadTimeout(patience)
	if _, err := port.Write(cat(dleEOT(2), "via serial\n", gsR1, cutFull)); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 2)
	for len(got) < 2 {
		n, err := port.Read(buf)
		if err != nil || n == 0 {
			t.Fatalf("read: %d, %v", n, err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, []byte{0x12, 0x00}) {
		t.Errorf("answers % X, want 12 00", got)
	}
	if r := waitReceipts(t, p, 1); r[0].Text != "via serial\n[CUT full]\n" {
		t.Errorf("printed %q", r[0].Text)
	}
}

func TestStartOptions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	tests := []struct {
		opt  Options
		want string
	}{
		{Options{WidthDots: 4}, "Options.WidthDots must be 8-4096 dots, got 4"},
		{Options{BytesPerSecond: -1}, "Options.BytesPerSecond must not be negative, got -1"},
		{Options{Link: file}, "Options.Link " + file + " exists and is not a symlink"},
	}
	for _, tt := range tests {
		if _, err := Start(tt.opt); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Start(%+v) = %v, want %q", tt.opt, err, tt.want)
		}
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	p, err := Start(Options{BytesPerSecond: 100000})
	if err != nil {
		t.Fatal(err)
	}
	h := openHost(t, p.Path())
	h.write(cat("a\n", cutFull))
	waitReceipts(t, p, 1)
	p.SetStall(true)
	p.Close()
	if _, err := p.WaitReceipts(context.Background(), 2); err == nil {
		t.Error("WaitReceipts on a closed printer did not fail")
	}
	if err := p.Replug(); err == nil {
		t.Error("Replug after Close succeeded")
	}
	deadline := time.Now().Add(patience)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

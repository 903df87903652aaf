//go:build linux

package fakeprinter

import (
	"fmt"
	"strings"
	"testing"

	"github.com/egsd/egsd/device/fakeprinter/qrscan"
)

// TestLongReceipt: a receipt far longer than the 4 m the printer once drew
// (a 1,000-line sale prints about 2,000 lines) is drawn whole, with its QR
// code at the end readable.
func TestLongReceipt(t *testing.T) {
	const lines = 2500
	payload := base64Payload(520, 3)
	var job []byte
	job = append(job, escInit...)
	for i := range lines {
		job = append(job, fmt.Sprintf("Item %d\n", i)...)
	}
	job = append(job, esc('a', 1)...)
	job = append(job, nativeQR(payload, 4, 50)...)
	job = append(job, cat(esc('d', 3), cutFull)...)
	p := startPrinter(t, Options{})
	h := openHost(t, p.Path())
	if got := h.ask(append(job, gsR1...), 1); got[0] != 0x00 {
		t.Errorf("GS r 1 answered %02X, want 00", got[0])
	}
	r := waitReceipts(t, p, 1)[0]
	if !r.Cut || strings.Contains(r.Text, "PAPER LIMIT") || strings.Count(r.Text, "Item ") != lines {
		t.Fatalf("cut %v, %d item lines; transcript ends:\n%s", r.Cut, strings.Count(r.Text, "Item "), r.Text[max(0, len(r.Text)-300):])
	}
	// Every line, the QR symbol (105 modules of 4 dots) and the feed are on the paper.
	if want := lines*30 + 105*4 + 3*30; r.Image.Bounds().Dy() != want {
		t.Errorf("paper %d rows, want %d", r.Image.Bounds().Dy(), want)
	}
	// The last item line has ink: it was drawn, not only listed.
	last := (lines - 1) * 30
	ink := false
	for y := last; y < last+30 && !ink; y++ {
		for x := range 12 * 9 {
			ink = ink || r.Image.GrayAt(x, y).Y == black
		}
	}
	if !ink {
		t.Errorf("line %d is blank on the paper", lines)
	}
	if imgs := r.QRImages(); len(imgs) != 1 {
		t.Errorf("%d QR symbols on the paper, want 1", len(imgs))
	} else if got, err := qrscan.Decode(imgs[0]); err != nil || len(got) != 1 || got[0] != payload {
		t.Errorf("the QR code decodes to %q (%v), want the payload", got, err)
	}
	if s := p.Stats(); s.Faults != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestTextAtPaperLimit: a text line that runs past the end of the paper a
// receipt may take is drawn as far as the paper goes.
func TestTextAtPaperLimit(t *testing.T) {
	in := newInterpreter(384, 110)
	in.feed(cat(esc('d', 3), "ABC\n", "DEF\n", cutFull))
	done := in.takeDone()
	want := "[FEED 3]\nABC\n[PAPER LIMIT: the rest of this receipt is not drawn]\nDEF\n[CUT full]\n"
	if len(done) != 1 || done[0].Text != want || done[0].Image.Bounds().Dy() != 110 {
		t.Fatalf("got %d receipts: %q; want %q on 110 rows", len(done), done[0].Text, want)
	}
	ink := false
	for y := 90; y < 110; y++ {
		for x := range 36 {
			ink = ink || done[0].Image.GrayAt(x, y).Y == black
		}
	}
	if !ink {
		t.Error("the line cut short by the paper's end was not drawn")
	}
}

// TestFault: a failure inside the printer's interpreter costs the receipt
// being printed, never the process: the paper is torn off with the reason,
// the job is not confirmed, DLE EOT reports the error once, and the next
// job prints.
func TestFault(t *testing.T) {
	var logged []string
	p := startPrinter(t, Options{WidthDots: 384, Log: func(format string, args ...any) {
		logged = append(logged, fmt.Sprintf(format, args...))
	}})
	p.mu.Lock()
	p.in.onCommand = func(name string) {
		if name == "GS V" {
			panic("cutter driver: index out of range")
		}
	}
	p.mu.Unlock()
	h := openHost(t, p.Path())
	h.write(cat(escInit, "one\n", cutFull, gsR1, "lost\n"))
	r := waitReceipts(t, p, 1)[0]
	if r.Cut || r.Text != "one\n[PRINTER FAULT: cutter driver: index out of range]\n" {
		t.Errorf("torn receipt: cut %v, %q", r.Cut, r.Text)
	}
	// Offline, with the error, until the host has asked DLE EOT 2.
	if got := h.ask(dleEOT(1), 1)[0]; got&rtOffline == 0 {
		t.Errorf("DLE EOT 1 after the fault = %02X, want offline", got)
	}
	if got := h.ask(dleEOT(2), 1)[0]; got&rtErrorOccurred == 0 {
		t.Errorf("DLE EOT 2 after the fault = %02X, want the error bit", got)
	}
	if got := h.ask(dleEOT(1), 1)[0]; got != realtimeFixed {
		t.Errorf("DLE EOT 1 once the error was reported = %02X, want online", got)
	}
	p.mu.Lock()
	p.in.onCommand = nil
	p.mu.Unlock()
	if got := h.ask(cat("two\n", cutFull, gsR1), 1); got[0] != 0x00 {
		t.Errorf("GS r 1 for the next job answered %02X, want 00", got[0])
	}
	rs := waitReceipts(t, p, 2)
	if !rs[1].Cut || rs[1].Text != "two\n[CUT full]\n" {
		t.Errorf("next receipt: cut %v, %q", rs[1].Cut, rs[1].Text)
	}
	s := p.Stats()
	if s.Faults != 1 || s.TransmitStatusReplies != 1 || s.BytesDiscarded == 0 {
		t.Errorf("stats %+v: want 1 fault, the first GS r 1 discarded and the second answered", s)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(logged) == 0 || !strings.Contains(strings.Join(logged, "\n"), "fault: cutter driver") {
		t.Errorf("the fault was not logged: %q", logged)
	}
}

// TestKeep: a printer that keeps the last receipts only still counts them
// all, and numbers its files by the count.
func TestKeep(t *testing.T) {
	dir := t.TempDir()
	p := startPrinter(t, Options{WidthDots: 384, Keep: 2, OutDir: dir})
	h := openHost(t, p.Path())
	for i := range 3 {
		h.write(cat(fmt.Sprintf("r%d\n", i+1), cutFull))
	}
	rs := waitReceipts(t, p, 3)
	if len(rs) != 2 || rs[0].Text != "r2\n[CUT full]\n" || rs[1].Text != "r3\n[CUT full]\n" {
		t.Errorf("kept %d receipts: %+v", len(rs), rs)
	}
	if perm := permOf(t, dir+"/receipt-0003.txt"); perm != 0o600 {
		t.Errorf("receipt-0003.txt mode %o", perm)
	}
}

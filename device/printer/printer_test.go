//go:build linux

package printer

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden wire transcripts in testdata")

// A small receipt in two chunks, each whole commands: ESC @ and a line;
// then ESC a 1, a line, and GS V 66 0 (feed and cut).
var (
	chunkA = append([]byte{0x1b, 0x40}, "SIMPLIFIED TAX INVOICE\n"...)
	chunkB = append(append([]byte{0x1b, 0x61, 0x01}, "TOTAL 115.00\n"...), 0x1d, 0x56, 0x42, 0x00)
	job    = [][]byte{chunkA, chunkB}
)

// rasterWithRequest is a 2×2-byte GS v 0 image whose data holds the bytes
// of DLE EOT 4, as an image can: the printer answers them.
var rasterWithRequest = []byte{0x1d, 0x76, 0x30, 0x00, 0x02, 0x00, 0x02, 0x00, 0x10, 0x04, 0x04, 0x00}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type rig struct {
	t     *testing.T
	clock *fakeClock
	open  *opener
	p     *Printer
}

// newRig starts a printer on a fresh pty responder. ChunkBytes is 32, so
// chunkA and chunkB travel in separate batches.
func newRig(t *testing.T, status map[byte]byte, tweak func(*Options)) (*rig, *responder) {
	t.Helper()
	noLeaks(t)
	r := newResponder(t, status)
	g := &rig{t: t, clock: &fakeClock{t: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}, open: &opener{}}
	g.open.point(r.path())
	opt := Options{
		Open:         g.open.open,
		Port:         "pty",
		Baud:         1_000_000,   // a pty has no wire time to allow for
		ReplyTimeout: time.Second, // a window a loaded machine meets: a test whose printer answers must not race the scheduler
		JobTimeout:   2 * time.Second,
		WriteTimeout: 2 * time.Second,
		ChunkBytes:   32,
		Now:          g.clock.now,
	}
	if tweak != nil {
		tweak(&opt)
	}
	g.p = New(opt)
	t.Cleanup(func() { g.p.Close() })
	return g, r
}

func requests() []byte { return []byte{0x10, 0x04, 0x01, 0x10, 0x04, 0x02, 0x10, 0x04, 0x04} }

// checkTranscript compares everything the printer received with a golden
// file. The files were checked by hand against spec/escpos.md; the comment
// of each test says what its file holds.
func checkTranscript(t *testing.T, r *responder, name string) {
	t.Helper()
	path := filepath.Join("testdata", name+".bin")
	if *update {
		time.Sleep(200 * time.Millisecond) // let the responder read the last bytes
		if err := os.WriteFile(path, r.receivedAtLeast(0), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	got := r.receivedAtLeast(len(want))
	if !bytes.Equal(got, want) {
		t.Errorf("the printer received %d bytes, %s holds %d; first difference: %s", len(got), path, len(want), firstDifference(got, want))
	}
}

func firstDifference(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	window := func(b []byte) []byte { return b[max(i-8, 0):min(i+8, len(b))] }
	return fmt.Sprintf("at byte %d: got % x, want % x", i, window(got), window(want))
}

func wantState(t *testing.T, s Snapshot, state State, detail string) {
	t.Helper()
	if s.State != state || !strings.Contains(s.Detail, detail) {
		t.Errorf("state %s (%q), want %s with %q", s.State, s.Detail, state, detail)
	}
}

// online_job.bin: DLE EOT 1, 2, 4 (10 04 01 10 04 02 10 04 04); chunkA;
// the three requests again; chunkB; GS r 1 (1d 72 01).
func TestPrintOnlineJob(t *testing.T) {
	g, r := newRig(t, online(), nil)
	start := g.clock.now()
	g.clock.advance(time.Minute)
	checkedAt := g.clock.now()
	snap, err := g.p.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, snap, StateOnline, "ready")
	if !snap.Since.Equal(checkedAt) || snap.Port != "pty" || snap.PaperLow {
		t.Errorf("snapshot %+v: want Since %v (the state changed from offline), Port pty, paper not low", snap, checkedAt)
	}
	if !start.Before(snap.Since) {
		t.Errorf("Since %v did not move from the initial %v", snap.Since, start)
	}

	r.set(func(r *responder) { r.received = nil })
	g.clock.advance(time.Minute)
	printedAt := g.clock.now()
	if err := g.p.Print(context.Background(), job); err != nil {
		t.Fatalf("Print: %v", err)
	}
	snap = g.p.Snapshot()
	wantState(t, snap, StateOnline, "ready")
	if !snap.LastJobAt.Equal(printedAt) {
		t.Errorf("LastJobAt %v, want %v", snap.LastJobAt, printedAt)
	}
	if !snap.Since.Equal(checkedAt) {
		t.Errorf("Since %v moved although the state stayed online (want %v)", snap.Since, checkedAt)
	}
	checkTranscript(t, r, "online_job")
	if n := g.open.opens.Load(); n != 1 {
		t.Errorf("port opened %d times, want 1", n)
	}
}

// paper_out_before_job.bin: only DLE EOT 1, 2, 4. Nothing of the job.
func TestPaperOutBeforeJob(t *testing.T) {
	g, r := newRig(t, outOfPaper(), nil)
	err := g.p.Print(context.Background(), job)
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "paper_out") {
		t.Fatalf("Print = %v, want ErrNotReady naming paper_out", err)
	}
	wantState(t, g.p.Snapshot(), StatePaperOut, "paper out")
	checkTranscript(t, r, "paper_out_before_job")
}

// paper_out_between_chunks.bin: the requests, chunkA, the requests; the
// paper ran out with chunkA, so chunkB and GS r 1 were never sent.
func TestPaperOutBetweenChunks(t *testing.T) {
	g, r := newRig(t, online(), nil)
	r.when(chunkA, func(r *responder) { r.status = outOfPaper() })
	err := g.p.Print(context.Background(), job)
	if err == nil || errors.Is(err, ErrNotReady) {
		t.Fatalf("Print = %v, want an error that is not ErrNotReady (part of the job went out)", err)
	}
	if want := fmt.Sprintf("job stopped after %d of %d bytes: paper_out: paper out", len(chunkA), len(chunkA)+len(chunkB)); !strings.Contains(err.Error(), want) {
		t.Errorf("Print = %q, want it to say %q", err, want)
	}
	wantState(t, g.p.Snapshot(), StatePaperOut, "paper out")
	checkTranscript(t, r, "paper_out_between_chunks")
}

// job_not_confirmed.bin: the online job, then DLE EOT 1, 2, 4 asked after
// the GS r 1 reply did not come.
func TestJobNotConfirmed(t *testing.T) {
	tests := []struct {
		name      string
		script    func(r *responder)
		wantErr   string
		state     State
		detail    string
		wantAfter State // what the next Check finds
	}{
		{
			name:      "printer answers status but not GS r",
			script:    func(r *responder) { r.confirm = false },
			wantErr:   "job not confirmed: no reply to GS r 1 within 300ms",
			state:     StateError,
			detail:    "the last job was not confirmed",
			wantAfter: StateOnline,
		},
		{
			name: "paper ran out during the last chunk",
			script: func(r *responder) {
				r.addHook(chunkB, func(r *responder) { r.status, r.confirm = outOfPaper(), false })
			},
			wantErr:   "job not confirmed: no reply to GS r 1 within 300ms; paper_out: paper out",
			state:     StatePaperOut,
			detail:    "paper out",
			wantAfter: StatePaperOut,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, r := newRig(t, online(), func(o *Options) { o.JobTimeout = 300 * time.Millisecond })
			r.set(tt.script)
			err := g.p.Print(context.Background(), job)
			if err == nil || errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Print = %v, want an error containing %q", err, tt.wantErr)
			}
			wantState(t, g.p.Snapshot(), tt.state, tt.detail)
			checkTranscript(t, r, "job_not_confirmed")
			if snap, _ := g.p.Check(context.Background()); snap.State != tt.wantAfter {
				t.Errorf("Check afterwards: %s (%s), want %s", snap.State, snap.Detail, tt.wantAfter)
			}
		})
	}
}

// TestPaperOutWhileConfirming: the paper runs out while the printer works
// through the job. The driver asks the printer's status while it waits for
// GS r 1, so the job fails with the reason long before a JobTimeout of an
// hour (the test's context would end a wait that relied on the timeout).
func TestPaperOutWhileConfirming(t *testing.T) {
	g, r := newRig(t, online(), func(o *Options) { o.JobTimeout = time.Hour })
	r.set(func(r *responder) {
		r.addHook(chunkB, func(r *responder) { r.status, r.confirm = outOfPaper(), false })
	})
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	err := g.p.Print(ctx, job)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "job not confirmed: paper_out: paper out") {
		t.Fatalf("Print = %v (context: %v), want the job not confirmed because of paper out", err, ctx.Err())
	}
	wantState(t, g.p.Snapshot(), StatePaperOut, "paper out")
}

// TestConfirmedDuringStatusQuery: a GS r 1 reply that arrives while the
// driver is asking the printer's status still confirms the job.
func TestConfirmedDuringStatusQuery(t *testing.T) {
	g, r := newRig(t, online(), func(o *Options) { o.JobTimeout = time.Hour })
	r.set(func(r *responder) {
		r.confirm = false
		// The confirmation comes only once the printer is asked its status.
		r.addHook(append(append([]byte(nil), transmitStatus...), 0x10, 0x04, 0x01), func(r *responder) { r.reply(0x00) })
	})
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	if err := g.p.Print(ctx, job); err != nil {
		t.Fatalf("Print = %v, want the late confirmation taken", err)
	}
}

// unsolicited_job.bin: the requests; chunkA; the requests; the raster
// image (holding 10 04 04) and chunkB in one batch; the requests; the
// raster again; GS r 1.
//
// The paper is near its end, so the reply to the 10 04 04 inside the image
// is 1e. Taken as the answer to DLE EOT 1 it would read "offline", as the
// answer to DLE EOT 2 "cover open": the job only succeeds if the driver
// tells the replies apart.
func TestUnsolicitedRepliesTolerated(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		name := "printer answers DLE EOT inside images"
		if ignore {
			name = "printer ignores DLE EOT inside images"
		}
		t.Run(name, func(t *testing.T) {
			status := online()
			status[4] = nearEnd
			g, r := newRig(t, status, nil)
			r.set(func(r *responder) { r.ignoreInRaster = ignore })
			chunks := [][]byte{chunkA, rasterWithRequest, chunkB, rasterWithRequest}
			if err := g.p.Print(context.Background(), chunks); err != nil {
				t.Fatalf("Print: %v", err)
			}
			snap := g.p.Snapshot()
			wantState(t, snap, StateOnline, "ready, paper low")
			if !snap.PaperLow {
				t.Error("PaperLow is false; DLE EOT 4 said near end")
			}
			checkTranscript(t, r, "unsolicited_job")
		})
	}
}

// A printer that stops taking data (its reader stalls, the pty fills):
// Print returns through the write watchdog with the state stalled, the
// blocked write's goroutine ends once the port is closed, and the next
// Check opens the port again.
func TestStalledPrinter(t *testing.T) {
	g, r := newRig(t, online(), func(o *Options) {
		o.WriteTimeout = 200 * time.Millisecond
		o.ChunkBytes = 4096
	})
	big := append([]byte("STALL"), bytes.Repeat([]byte{0x55}, 256<<10)...)
	r.when([]byte("STALL"), stall)

	err := g.p.Print(context.Background(), [][]byte{chunkA, big})
	if err == nil || !strings.Contains(err.Error(), "stalled: a write did not complete within 200ms") {
		t.Fatalf("Print = %v, want the stall", err)
	}
	wantState(t, g.p.Snapshot(), StateStalled, "a write did not complete within 200ms")
	// The responder still reads nothing, so only closing the port can have
	// ended the blocked write.
	if left := waitGoroutinesGone("printer.(*Printer).write"); left != "" {
		t.Fatalf("the blocked write is still running after the port was closed:\n%s", left)
	}

	r.unstall()
	snap, err := g.p.Check(context.Background())
	if err != nil {
		t.Fatalf("Check after the stall: %v", err)
	}
	wantState(t, snap, StateOnline, "ready")
	if n := g.open.opens.Load(); n != 2 {
		t.Errorf("port opened %d times, want 2 (reopened after the stall)", n)
	}
}

// Unplugging (the master closes, as a USB adapter's tty vanishes) gives
// unplugged; while the device is missing it stays unplugged; a new device
// brings the printer back.
func TestUnplugAndReplug(t *testing.T) {
	g, r := newRig(t, online(), nil)
	ctx := context.Background()
	if snap, err := g.p.Check(ctx); err != nil || snap.State != StateOnline {
		t.Fatalf("Check = %+v, %v", snap, err)
	}

	r.hangUp()
	snap, err := g.p.Check(ctx)
	if err == nil {
		t.Fatal("Check after hang-up succeeded")
	}
	wantState(t, snap, StateUnplugged, "disconnected")

	g.open.path.Store(nil) // the device node is gone
	snap, err = g.p.Check(ctx)
	if err == nil {
		t.Fatal("Check without a device succeeded")
	}
	wantState(t, snap, StateUnplugged, "cannot open the port: stat /dev/ttyUSB0: file does not exist")
	if err := g.p.Print(ctx, job); !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "unplugged") {
		t.Errorf("Print while unplugged = %v, want ErrNotReady naming unplugged", err)
	}

	r2 := newResponder(t, online())
	g.open.point(r2.path())
	snap, err = g.p.Check(ctx)
	if err != nil {
		t.Fatalf("Check after replug: %v", err)
	}
	wantState(t, snap, StateOnline, "ready")
	if err := g.p.Print(ctx, job); err != nil {
		t.Fatalf("Print after replug: %v", err)
	}
	if n := g.open.opens.Load(); n != 4 {
		t.Errorf("Open called %d times, want 4 (first, after hang-up, while missing, after replug)", n)
	}
}

// not_responding.bin: DLE EOT 1 unanswered, then three times 8192 NUL
// bytes and DLE EOT 1 again.
func TestNotResponding(t *testing.T) {
	tests := []struct {
		name   string
		status map[byte]byte
		detail string
	}{
		{"silent", online(), "no reply to DLE EOT within 150ms, also after 3 flushes of 8192 NUL bytes"},
		{"garbage", map[byte]byte{1: 0xff, 2: 0xff, 4: 0xff}, "bytes received were not status replies (wrong baud rate?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, r := newRig(t, tt.status, func(o *Options) { o.ReplyTimeout = 150 * time.Millisecond })
			if tt.name == "silent" {
				r.set(func(r *responder) { r.deafUntilNULs = 1 << 30 })
			}
			snap, err := g.p.Check(context.Background())
			if err == nil {
				t.Fatal("Check succeeded")
			}
			wantState(t, snap, StateNotResponding, tt.detail)
			checkTranscript(t, r, "not_responding")

			// Still silent: the next Check asks once and does not flush again.
			before := len(r.receivedAtLeast(0))
			if snap, err := g.p.Check(context.Background()); err == nil || snap.State != StateNotResponding {
				t.Fatalf("second Check = %+v, %v", snap, err)
			}
			after := r.receivedAtLeast(before + 3)
			if !bytes.Equal(after[before:], []byte{0x10, 0x04, 0x01}) {
				t.Errorf("second Check sent % x, want only 10 04 01", after[before:])
			}
			if err := g.p.Print(context.Background(), job); !errors.Is(err, ErrNotReady) {
				t.Errorf("Print = %v, want ErrNotReady", err)
			}
		})
	}
}

// TestNoRecoveryFlush: with NoRecoveryFlush a printer that does not
// answer is given one ReplyTimeout, and no NUL bytes; Progress is told
// each step as it starts.
func TestNoRecoveryFlush(t *testing.T) {
	var steps []string
	g, r := newRig(t, online(), func(o *Options) {
		o.NoRecoveryFlush = true
		o.Progress = func(step string) { steps = append(steps, step) }
	})
	r.set(func(r *responder) { r.deafUntilNULs = 1 << 30 })
	snap, err := g.p.Check(context.Background())
	if err == nil {
		t.Fatal("Check succeeded")
	}
	wantState(t, snap, StateNotResponding, "no reply to DLE EOT within 1s")
	if strings.Contains(snap.Detail, "flush") {
		t.Errorf("detail %q mentions flushes that were not sent", snap.Detail)
	}
	if got := r.receivedAtLeast(3); !bytes.Equal(got, []byte{0x10, 0x04, 0x01}) {
		t.Errorf("sent % x, want only DLE EOT 1", got)
	}
	want := []string{"opening pty at 1000000 baud", "asking the printer for its status (DLE EOT 1, 2 and 4)"}
	if strings.Join(steps, "|") != strings.Join(want, "|") {
		t.Errorf("progress %q, want %q", steps, want)
	}

	// A printer that answers: the job's steps too.
	r.set(func(r *responder) { r.deafUntilNULs = 0 })
	steps = nil
	if err := g.p.Print(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	want = []string{"asking the printer for its status (DLE EOT 1, 2 and 4)", fmt.Sprintf("sending %d bytes (0s at 1000000 baud)", len(chunkA)+len(chunkB)),
		"waiting up to 2s for the printer to confirm it has printed (GS r 1)"}
	if strings.Join(steps, "|") != strings.Join(want, "|") {
		t.Errorf("progress %q, want %q", steps, want)
	}
}

// recovered_by_flush.bin: DLE EOT 1 unanswered (the printer is inside a
// half-received command), 8192 NUL bytes, then DLE EOT 1, 2, 4 answered.
func TestRecoveredByFlush(t *testing.T) {
	g, r := newRig(t, online(), func(o *Options) { o.ReplyTimeout = 300 * time.Millisecond })
	r.set(func(r *responder) { r.deafUntilNULs = 8000 })
	snap, err := g.p.Check(context.Background())
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	wantState(t, snap, StateOnline, "ready")
	checkTranscript(t, r, "recovered_by_flush")
}

func TestPrintStopsWhenCancelled(t *testing.T) {
	g, r := newRig(t, online(), func(o *Options) { o.JobTimeout = eventually })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.set(func(r *responder) { r.confirm = false })
	r.when(transmitStatus, func(*responder) { cancel() })
	if err := g.p.Print(ctx, job); !errors.Is(err, context.Canceled) {
		t.Fatalf("Print = %v, want context.Canceled", err)
	}
}

func TestClose(t *testing.T) {
	g, _ := newRig(t, online(), nil)
	if _, err := g.p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := g.p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.p.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := g.p.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Check after Close = %v, want closed", err)
	}
	if err := g.p.Print(context.Background(), job); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Print after Close = %v, want closed", err)
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		want []string
	}{
		{"no open func", Options{}, []string{"printer options: open: must be set"}},
		{"negative values", Options{Open: (&opener{}).open, ReplyTimeout: -1, JobTimeout: -1, WriteTimeout: -1, ChunkBytes: -1, Baud: -1},
			[]string{"reply_timeout: must not be negative", "job_timeout: must not be negative", "write_timeout: must not be negative", "chunk_bytes: must not be negative", "baud: must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(tt.opt)
			_, checkErr := p.Check(context.Background())
			printErr := p.Print(context.Background(), job)
			for _, err := range []error{checkErr, printErr} {
				for _, w := range tt.want {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("error %v, want it to contain %q", err, w)
					}
				}
			}
		})
	}
	p := New(Options{Open: (&opener{}).open})
	if err := p.Print(context.Background(), [][]byte{{}, nil}); err == nil || err.Error() != "chunks: the job is empty" {
		t.Errorf("Print of an empty job = %v", err)
	}
	if s := p.Snapshot(); s.State != StateOffline || s.Detail != "not checked yet" {
		t.Errorf("initial snapshot %+v", s)
	}
}

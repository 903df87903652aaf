//go:build linux

package printer

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/egsd/egsd/device/serialport"
)

// eventually bounds waits for something that must happen; it guards
// against a hang and is never a timing assertion.
const eventually = 10 * time.Second

// responder plays the printer on the master side of a pty: it reads what
// the driver sends and answers DLE EOT n and GS r 1 from a scripted state.
// Like a real printer it answers DLE EOT wherever it appears, also inside
// raster data (GS v 0), unless told not to.
type responder struct {
	t      *testing.T
	master *os.File
	slave  *os.File // held open for the pair's life: without it the master reads EIO
	done   chan struct{}
	quit   chan struct{}

	mu             sync.Mutex
	status         map[byte]byte // DLE EOT n → reply
	confirm        bool          // answer GS r 1
	ignoreInRaster bool          // do not answer DLE EOT inside raster data
	deafUntilNULs  int           // answer nothing until this many NUL bytes arrived
	hooks          []hook
	received       []byte
	nuls           int
	window         []byte // the last bytes, to recognise commands
	rasterLeft     int    // data bytes of a GS v 0 still to come
	stalled        bool
	resume         chan struct{}
}

// A hook runs (with r.mu held) once the received bytes end with marker.
type hook struct {
	marker []byte
	fn     func(r *responder)
	fired  bool
}

func online() map[byte]byte { return map[byte]byte{1: okByte, 2: okByte, 3: okByte, 4: okByte} }
func outOfPaper() map[byte]byte {
	return map[byte]byte{1: offline, 2: paperStop, 3: okByte, 4: paperEnd}
}

func newResponder(t *testing.T, status map[byte]byte) *responder {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if master, err = pollable(master); err != nil {
		t.Fatal(err)
	}
	r := &responder{t: t, master: master, slave: slave, done: make(chan struct{}), quit: make(chan struct{}), status: status, confirm: true, resume: make(chan struct{})}
	go r.run()
	t.Cleanup(r.stop)
	return r
}

// pollable returns f as a non-blocking file on Go's poller, so that Close
// ends a Read in progress. pty.Open leaves the master blocking (it calls
// Fd), and a blocking Read would outlive Close.
func pollable(f *os.File) (*os.File, error) {
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return nil, err
	}
	f.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

func (r *responder) path() string { return r.slave.Name() }

func (r *responder) run() {
	defer close(r.done)
	buf := make([]byte, 512)
	for {
		n, err := r.master.Read(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		for _, b := range buf[:n] {
			r.feed(b)
		}
		stalled := r.stalled
		r.mu.Unlock()
		if stalled {
			select {
			case <-r.resume:
			case <-r.quit:
				return
			}
		}
	}
}

// feed takes one byte; called with r.mu held.
func (r *responder) feed(b byte) {
	r.received = append(r.received, b)
	if b == 0 {
		r.nuls++
	}
	inRaster := r.rasterLeft > 0
	if inRaster {
		r.rasterLeft--
	}
	r.window = append(r.window, b)
	if len(r.window) > 8 {
		r.window = r.window[1:]
	}
	w := r.window
	at := func(back int) int { // the byte `back` places before the last, or -1
		if len(w) <= back {
			return -1
		}
		return int(w[len(w)-1-back])
	}
	deaf := r.nuls < r.deafUntilNULs
	if at(2) == dle && at(1) == eot && b >= 1 && b <= 4 && !deaf && !(inRaster && r.ignoreInRaster) {
		r.reply(r.status[b])
	}
	if !inRaster {
		if at(2) == 0x1d && at(1) == 0x72 && (b == 0x01 || b == 0x31) && r.confirm && !deaf {
			r.reply(gsrPrinted)
		}
		if at(7) == 0x1d && at(6) == 0x76 && at(5) == 0x30 {
			r.rasterLeft = (at(3) + at(2)<<8) * (at(1) + int(b)<<8)
		}
	}
	for i := range r.hooks {
		h := &r.hooks[i]
		if !h.fired && bytes.HasSuffix(r.received, h.marker) {
			h.fired = true
			h.fn(r)
		}
	}
}

func (r *responder) reply(b byte) {
	if _, err := r.master.Write([]byte{b}); err != nil && !errors.Is(err, os.ErrClosed) {
		r.t.Errorf("responder: write reply: %v", err)
	}
}

func (r *responder) set(fn func(r *responder)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r)
}

// when arranges for fn to run once the bytes received end with marker.
func (r *responder) when(marker []byte, fn func(r *responder)) {
	r.set(func(r *responder) { r.addHook(marker, fn) })
}

// addHook is when for a caller that holds r.mu.
func (r *responder) addHook(marker []byte, fn func(r *responder)) {
	r.hooks = append(r.hooks, hook{marker: marker, fn: fn})
}

// stall makes the responder stop reading after the current read: the pty
// fills and the driver's writes block. Called with r.mu held, from a hook.
func stall(r *responder) { r.stalled = true }

// unstall lets a stalled responder read again.
func (r *responder) unstall() {
	r.mu.Lock()
	was := r.stalled
	r.stalled = false
	r.mu.Unlock()
	if was {
		r.resume <- struct{}{}
	}
}

// hangUp closes the master, which a tty sees as its device going away.
func (r *responder) hangUp() {
	r.master.Close()
	select {
	case <-r.done:
	case <-time.After(eventually):
		r.t.Fatal("responder did not stop after hang-up")
	}
}

func (r *responder) stop() {
	close(r.quit)
	r.master.Close()
	<-r.done
	r.slave.Close()
}

// receivedAtLeast waits until n bytes have arrived and returns them all.
func (r *responder) receivedAtLeast(n int) []byte {
	r.t.Helper()
	deadline := time.Now().Add(eventually)
	for {
		r.mu.Lock()
		got := bytes.Clone(r.received)
		r.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// opener is an Options.Open that opens whichever pty it currently points
// at, or fails as a missing device would.
type opener struct {
	path  atomic.Pointer[string]
	opens atomic.Int32
}

func (o *opener) point(path string) { o.path.Store(&path) }

func (o *opener) open() (serialport.Port, error) {
	o.opens.Add(1)
	path := o.path.Load()
	if path == nil {
		return nil, &fs.PathError{Op: "stat", Path: "/dev/ttyUSB0", Err: fs.ErrNotExist}
	}
	return serialport.Open(serialport.Config{Path: *path, Baud: 115200})
}

// noLeaks fails the test if goroutines of the driver outlive it. Register
// it first so that it runs after every other cleanup.
func noLeaks(t *testing.T) {
	t.Cleanup(func() {
		if leaked := waitGoroutinesGone("printer.(*Printer)"); leaked != "" {
			t.Errorf("goroutines left behind:\n%s", leaked)
		}
	})
}

// waitGoroutinesGone waits until no goroutine's stack mentions frame, and
// returns the stacks that still do if that does not happen.
func waitGoroutinesGone(frame string) string {
	deadline := time.Now().Add(eventually)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var left []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, frame) && !strings.Contains(g, "waitGoroutinesGone") {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

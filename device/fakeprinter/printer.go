package fakeprinter

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"
)

// Options configures a fake printer.
type Options struct {
	// Link, when set, is a symlink kept pointing at the current
	// pseudo-terminal slave: a stable path across Unplug and Replug.
	Link string
	// WidthDots is the paper width in dots: 576 (80 mm, the default) or 384 (58 mm).
	WidthDots int
	// OutDir, when set, receives receipt-NNNN.png and receipt-NNNN.txt for
	// each finished receipt, NNNN being its 1-based place in Receipts.
	// Receipts carry the seller's and buyer's details: the directory is
	// created 0700 and the files 0600.
	OutDir string
	// Keep, when positive, is how many finished receipts Receipts holds:
	// older ones are dropped (their files in OutDir stay), so that a
	// printer that runs for days does not hold every receipt in memory.
	// 0 keeps them all.
	Keep int
	// BytesPerSecond caps how fast the printer reads, like a slow mechanism
	// or a serial line (960 for 9600 baud); 0 reads as fast as data comes.
	BytesPerSecond int
	// Log, when set, receives the printer's events.
	Log func(format string, args ...any)
}

// Stats counts what the printer has seen since Start.
type Stats struct {
	BytesReceived  int64 // every byte read from the line, online or not
	BytesDiscarded int64 // bytes thrown away because the printer was offline
	TextBytes      int64 // bytes printed as text
	// Commands counts interpreted commands by name: "LF", "ESC @", "GS !",
	// "GS V", "GS v 0", "GS ( k QR store", "DLE EOT", "NUL", …
	Commands              map[string]int
	StatusReplies         int // DLE EOT answers sent
	TransmitStatusReplies int // GS r answers sent
	ASBReplies            int // automatic status back messages sent
	RepliesDropped        int // answers lost because the host did not read them
	Unknown               int // bytes or commands the printer does not know ([UNKNOWN …])
	Invalid               int // known commands refused: parameter out of range, or mid-line ([INVALID …])
	NotPrinted            int // QR symbols and raster images that did not print (too wide, no data)
	Wraps                 int // text lines longer than the paper, wrapped onto the next line
	Faults                int // internal errors of the printer's interpreter ([PRINTER FAULT …])
}

// Printer is an ESC/POS receipt printer on a pseudo-terminal. Its methods
// are safe for concurrent use.
type Printer struct {
	opt   Options
	chunk int // bytes per read

	// plugMu serialises Unplug, Replug and Close.
	plugMu sync.Mutex

	mu        sync.Mutex
	in        *interpreter
	paperOut  bool
	coverOpen bool
	nearEnd   bool
	outAfter  int // printable bytes left before the paper runs out; -1 when not armed
	dleState  int // progress through a DLE EOT n sequence in the raw stream
	stats     Stats
	receipts  []Receipt
	finished  int           // receipts finished since Start, kept or not
	fault     string        // the interpreter failed: offline until the host has asked DLE EOT 2
	changed   chan struct{} // closed and replaced when receipts are added or the printer closes
	closed    bool
	conn      *connection // nil while unplugged
	path      string      // slave path of the current (or last) pseudo-terminal
	unstalled chan struct{}
}

// connection is one pseudo-terminal: the printer plugged in.
type connection struct {
	master, slave *os.File
	done          chan struct{}
	replies       chan []byte
	wg            sync.WaitGroup
}

var errClosed = errors.New("fakeprinter: printer closed")

// readChunk is the most a read takes from the line: small, so commands
// arrive split across reads as they do from a serial port.
var readChunk = 512

// Start creates the pseudo-terminal and starts printing what arrives on it.
func Start(opt Options) (*Printer, error) {
	if opt.WidthDots == 0 {
		opt.WidthDots = defaultWidthDots
	}
	if opt.WidthDots < 8 || opt.WidthDots > 4096 {
		return nil, fmt.Errorf("fakeprinter: Options.WidthDots must be 8-4096 dots, got %d", opt.WidthDots)
	}
	if opt.Keep < 0 {
		return nil, fmt.Errorf("fakeprinter: Options.Keep must not be negative, got %d", opt.Keep)
	}
	if opt.BytesPerSecond < 0 {
		return nil, fmt.Errorf("fakeprinter: Options.BytesPerSecond must not be negative, got %d", opt.BytesPerSecond)
	}
	if opt.Link != "" {
		if fi, err := os.Lstat(opt.Link); err == nil && fi.Mode()&os.ModeSymlink == 0 {
			return nil, fmt.Errorf("fakeprinter: Options.Link %s exists and is not a symlink", opt.Link)
		}
	}
	if opt.OutDir != "" {
		if err := os.MkdirAll(opt.OutDir, 0o700); err != nil {
			return nil, fmt.Errorf("fakeprinter: Options.OutDir: %w", err)
		}
	}
	if opt.Log == nil {
		opt.Log = func(string, ...any) {}
	}
	p := &Printer{
		opt:      opt,
		chunk:    readChunk,
		in:       newInterpreter(opt.WidthDots, defaultMaxRows),
		outAfter: -1,
		changed:  make(chan struct{}),
	}
	if opt.BytesPerSecond > 0 {
		p.chunk = min(readChunk, max(1, opt.BytesPerSecond/20))
	}
	p.in.reply = p.replyLocked
	p.in.sendASB = p.sendASBLocked
	if err := p.plug(); err != nil {
		return nil, err
	}
	return p, nil
}

// Path is the device path for the host to open: Link when set, else the
// current pseudo-terminal slave.
func (p *Printer) Path() string {
	if p.opt.Link != "" {
		return p.opt.Link
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.path
}

// Close unplugs the printer for good. Receipts stay readable.
func (p *Printer) Close() error {
	p.plugMu.Lock()
	defer p.plugMu.Unlock()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.changed)
	p.mu.Unlock()
	p.unplug()
	return nil
}

// Unplug makes the device disappear: the pseudo-terminal closes, so the
// host's reads and writes fail, and Link is removed. What the printer has
// received but not finished (a half command) is kept, as in a printer
// whose USB cable was pulled.
func (p *Printer) Unplug() {
	p.plugMu.Lock()
	defer p.plugMu.Unlock()
	p.unplug()
}

func (p *Printer) unplug() {
	p.mu.Lock()
	c := p.conn
	p.conn = nil
	p.mu.Unlock()
	if c == nil {
		return
	}
	close(c.done)
	c.master.Close()
	c.slave.Close()
	c.wg.Wait()
	if p.opt.Link != "" {
		os.Remove(p.opt.Link)
	}
	p.opt.Log("fakeprinter: unplugged")
}

// Replug brings the device back on a new pseudo-terminal, with Link
// pointing at it. Printed receipts are kept.
func (p *Printer) Replug() error {
	p.plugMu.Lock()
	defer p.plugMu.Unlock()
	p.mu.Lock()
	closed, plugged := p.closed, p.conn != nil
	p.mu.Unlock()
	switch {
	case closed:
		return errClosed
	case plugged:
		return errors.New("fakeprinter: Replug: the printer is plugged in")
	}
	return p.plug()
}

func (p *Printer) plug() error {
	master, slave, err := openPTY()
	if err != nil {
		return fmt.Errorf("fakeprinter: %w", err)
	}
	if p.opt.Link != "" {
		// Re-point atomically: a host polling the link never sees it missing.
		tmp := p.opt.Link + ".new"
		os.Remove(tmp)
		if err := os.Symlink(slave.Name(), tmp); err == nil {
			err = os.Rename(tmp, p.opt.Link)
		}
		if err != nil {
			master.Close()
			slave.Close()
			return fmt.Errorf("fakeprinter: Options.Link: %w", err)
		}
	}
	c := &connection{master: master, slave: slave, done: make(chan struct{}), replies: make(chan []byte, 1024)}
	p.mu.Lock()
	p.conn = c
	p.path = slave.Name()
	p.dleState = 0 // a new line: no half-received DLE EOT
	p.mu.Unlock()
	c.wg.Add(2)
	go p.read(c)
	go p.write(c)
	p.opt.Log("fakeprinter: plugged in at %s", slave.Name())
	return nil
}

// read feeds the line to the interpreter, honouring stall and throttle.
func (p *Printer) read(c *connection) {
	defer c.wg.Done()
	buf := make([]byte, p.chunk)
	var next time.Time // when the throttled line has delivered what was read
	for {
		p.mu.Lock()
		gate := p.unstalled
		p.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-c.done:
				return
			}
		}
		n, err := c.master.Read(buf)
		if n > 0 {
			p.consume(buf[:n])
			if p.opt.BytesPerSecond > 0 {
				// Idle time earns no burst: a serial line never runs ahead.
				if now := time.Now(); next.Before(now) {
					next = now
				}
				next = next.Add(time.Duration(n) * time.Second / time.Duration(p.opt.BytesPerSecond))
				t := time.NewTimer(time.Until(next))
				select {
				case <-t.C:
				case <-c.done:
					t.Stop()
					return
				}
			}
		}
		if err != nil {
			select {
			case <-c.done:
			default:
				p.opt.Log("fakeprinter: read: %v", err)
			}
			return
		}
	}
}

// write sends replies to the host without ever blocking the reader.
func (p *Printer) write(c *connection) {
	defer c.wg.Done()
	for {
		select {
		case b := <-c.replies:
			if _, err := c.master.Write(b); err != nil {
				select {
				case <-c.done:
					return
				default:
					p.opt.Log("fakeprinter: write: %v", err)
				}
			}
		case <-c.done:
			return
		}
	}
}

// consume handles one read: real-time status requests are answered where
// they occur in the raw stream (even inside another command's data, as a
// real printer does); the rest is printed, or discarded while offline.
func (p *Printer) consume(data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.BytesReceived += int64(len(data))
	start := 0
	for i, b := range data {
		switch {
		case p.dleState == 2 && b >= 1 && b <= 4:
			p.print(data[start : i+1])
			start = i + 1
			p.dleState = 0
			p.stats.StatusReplies++
			p.replyLocked([]byte{p.realtimeStatus(b)})
			if b == 2 && p.fault != "" {
				// The host has seen the error: the printer recovers, as
				// from an automatically recoverable error.
				p.clearFaultLocked()
			}
		case b == 0x10:
			p.dleState = 1
		case p.dleState == 1 && b == 0x04:
			p.dleState = 2
		default:
			p.dleState = 0
		}
	}
	p.print(data[start:])
	p.collectLocked()
}

// print interprets data while the printer is online and discards it while
// offline, running out of paper where PaperOutAfter said.
func (p *Printer) print(data []byte) {
	defer p.recoverFaultLocked()
	for len(data) > 0 {
		if p.offline() {
			p.stats.BytesDiscarded += int64(len(data))
			return
		}
		n := len(data)
		if p.outAfter >= 0 {
			n = min(n, p.outAfter)
		}
		p.in.feed(data[:n])
		data = data[n:]
		if p.outAfter >= 0 {
			p.outAfter -= n
			if p.outAfter == 0 {
				p.setPaperOutLocked(true)
			}
		}
	}
}

// recoverFaultLocked catches a panic of the interpreter: a defect of the
// fake printer must not take down the process it runs in (the demo runs
// it inside egsd). Like a printer whose firmware hit an error, it tears
// off what it printed, marked "[PRINTER FAULT: …]", forgets the job in
// progress, and is offline, discarding data (so the host's GS r 1 is not
// answered and the job does not count as printed), until the host has
// asked DLE EOT 2, which reports the error.
func (p *Printer) recoverFaultLocked() {
	r := recover()
	if r == nil {
		return
	}
	defer p.statusChangeLocked()()
	p.fault = fmt.Sprint(r)
	p.stats.Faults++
	p.opt.Log("fakeprinter: fault: %v\n%s", r, debug.Stack())
	p.in.faulted(p.fault)
	p.collectLocked()
}

func (p *Printer) clearFaultLocked() {
	defer p.statusChangeLocked()()
	p.fault = ""
}

// collectLocked moves the interpreter's finished receipts to the printer,
// saving them to OutDir first so that their files exist once they show.
func (p *Printer) collectLocked() {
	done := p.in.takeDone()
	if len(done) == 0 {
		return
	}
	for _, r := range done {
		p.finished++
		p.writeOut(p.finished, r)
		p.receipts = append(p.receipts, r)
		if k := p.opt.Keep; k > 0 && len(p.receipts) > k {
			p.receipts = append([]Receipt(nil), p.receipts[len(p.receipts)-k:]...)
		}
	}
	if !p.closed {
		close(p.changed)
		p.changed = make(chan struct{})
	}
}

// writeOut saves receipt number n to OutDir.
func (p *Printer) writeOut(n int, r Receipt) {
	if p.opt.OutDir == "" {
		return
	}
	base := filepath.Join(p.opt.OutDir, fmt.Sprintf("receipt-%04d", n))
	img, err := r.PNG()
	if err == nil {
		err = writePrivate(base+".png", img)
	}
	if err == nil {
		err = writePrivate(base+".txt", []byte(r.Text))
	}
	if err != nil {
		p.opt.Log("fakeprinter: OutDir: %v", err)
		return
	}
	p.opt.Log("fakeprinter: receipt printed: %s.png and %s.txt", base, base)
}

// writePrivate writes a file readable by its owner only, whole or not at
// all: it is written under a temporary name (created 0600) and renamed, so
// a reader never sees half a receipt, and a file left by an earlier run
// with other permissions is replaced, not reused.
func writePrivate(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func (p *Printer) replyLocked(b []byte) {
	if p.conn == nil {
		return
	}
	select {
	case p.conn.replies <- b:
	default:
		p.stats.RepliesDropped++
	}
}

// SetPaperOut runs the printer out of paper (true) or loads a new roll
// (false). While out the printer is offline: DLE EOT reports the paper end,
// GS r is not answered, and data is discarded. Paper running out tears off
// what has printed since the last cut: it joins Receipts with Cut false.
// Either call cancels a pending PaperOutAfter.
func (p *Printer) SetPaperOut(out bool) {
	p.mu.Lock()
	p.outAfter = -1
	p.setPaperOutLocked(out)
	p.collectLocked()
	p.mu.Unlock()
}

func (p *Printer) setPaperOutLocked(out bool) {
	defer p.statusChangeLocked()()
	if out && !p.paperOut && !p.in.sheet.empty() {
		p.in.finishReceipt(false)
	}
	p.paperOut = out
	if out {
		p.opt.Log("fakeprinter: paper out")
	}
}

// SetCoverOpen opens (true) or closes the cover. While open the printer is
// offline, as with paper out, but the paper is not torn off.
func (p *Printer) SetCoverOpen(open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.statusChangeLocked()()
	p.coverOpen = open
}

// SetPaperNearEnd sets the roll's near-end sensor, reported by DLE EOT 4,
// GS r 1 and automatic status back. The printer stays online.
func (p *Printer) SetPaperNearEnd(near bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.statusChangeLocked()()
	p.nearEnd = near
	p.in.nearEnd = near
}

// PaperOutAfter runs the printer out of paper once n more bytes have been
// printed (n ≤ 0: now). Bytes after that are discarded.
func (p *Printer) PaperOutAfter(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n <= 0 {
		p.outAfter = -1
		p.setPaperOutLocked(true)
		p.collectLocked()
		return
	}
	p.outAfter = n
}

// SetStall stops (true) or resumes reading. A stalled printer answers
// nothing; once the pseudo-terminal's buffer is full the host's writes block.
func (p *Printer) SetStall(stall bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case stall && p.unstalled == nil:
		p.unstalled = make(chan struct{})
	case !stall && p.unstalled != nil:
		close(p.unstalled)
		p.unstalled = nil
	}
}

// Receipts returns the finished receipts (the last Keep of them, when
// Options.Keep is set): ended by a cut, or torn off at a paper end or a
// fault (Cut false).
func (p *Printer) Receipts() []Receipt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Receipt(nil), p.receipts...)
}

// Pending returns what has printed since the last cut (text still in the
// print buffer, without its LF, has not printed).
func (p *Printer) Pending() Receipt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.in.sheet.receipt(false)
}

// WaitReceipts waits until at least n receipts have finished since Start
// and returns those Receipts holds, or returns them with an error when ctx
// ends or the printer closes first.
func (p *Printer) WaitReceipts(ctx context.Context, n int) ([]Receipt, error) {
	for {
		p.mu.Lock()
		got := append([]Receipt(nil), p.receipts...)
		finished, closed, changed := p.finished, p.closed, p.changed
		p.mu.Unlock()
		switch {
		case finished >= n:
			return got, nil
		case closed:
			return got, fmt.Errorf("fakeprinter: waiting for %d receipts, have %d: %w", n, finished, errClosed)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return got, fmt.Errorf("fakeprinter: waiting for %d receipts, have %d: %w", n, finished, ctx.Err())
		}
	}
}

// Stats returns the counters.
func (p *Printer) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	c := p.in.count
	s.Commands = maps.Clone(c.commands)
	s.TextBytes = c.textBytes
	s.TransmitStatusReplies = c.transmitStatus
	s.Unknown, s.Invalid, s.NotPrinted, s.Wraps = c.unknown, c.invalid, c.notPrinted, c.wraps
	return s
}

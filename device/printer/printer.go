// Package printer drives one ESC/POS receipt printer: it owns the port,
// keeps the printer's state for the status page, and sends jobs so that a
// job counts as printed only when the printer confirms it.
//
// The conversation, after spec/escpos.md §1.4 and §1.6: before each job
// DLE EOT 1, 2 and 4 ask the printer's real-time status; the job goes out in
// chunks of at most the printer's receive buffer, with the same status
// questions between chunks (never inside a command), because a printer
// without flow control drops what it receives while offline; GS r 1 ends the
// job, and only its reply means printed. Replies triggered by DLE EOT bytes
// inside the data (raster images) are expected and counted, not mistaken for
// answers. A printer that stops answering gets 8 KiB of NUL bytes, which
// complete any command it was left halfway through, before it is declared
// not responding; a write that does not finish in time closes the port,
// which unblocks it, and the next Check opens the port again.
package printer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"
	"sync"
	"time"

	"github.com/egsd/egsd/device/serialport"
)

// State is the printer's condition as the status page shows it.
type State string

// The states. The first five come from the printer's own status replies;
// the last three from the link to it.
const (
	StateOnline        State = "online"
	StatePaperOut      State = "paper_out"
	StateCoverOpen     State = "cover_open"
	StateOffline       State = "offline" // offline for another reason, or not checked yet
	StateError         State = "error"   // the printer reports an error, or the port cannot be used
	StateUnplugged     State = "unplugged"
	StateNotResponding State = "not_responding"
	StateStalled       State = "stalled" // a write did not complete: the printer stopped taking data
)

// Snapshot is the printer's state at one moment.
type Snapshot struct {
	State     State
	Detail    string // human text for the status page, e.g. "paper out", "no reply to DLE EOT within 2s"
	PaperLow  bool
	Since     time.Time // when State last changed
	LastJobAt time.Time // when the last job was confirmed printed
	Port      string
}

// Options configure a Printer. Zero values take the defaults.
type Options struct {
	Open func() (serialport.Port, error) // how to (re)open the port; reopened after an unplug (the driver may Close a port more than once)
	Port string                          // the port's name for Snapshot.Port, e.g. "/dev/ttyUSB0"
	Baud int                             // the line's baud rate, to allow for the time queued bytes take on the wire (default 9600)

	ReplyTimeout time.Duration    // wait for a DLE EOT reply (default 2s), plus the wire time of bytes queued before the request
	JobTimeout   time.Duration    // wait for the GS r 1 confirmation after the last byte (default 30s: mechanism + wire time)
	WriteTimeout time.Duration    // watchdog on each write (default 10s): a stalled printer must not hang the driver
	ChunkBytes   int              // write at most this much between status checks (default 4096: the printer's receive buffer)
	Now          func() time.Time // the clock for Since and LastJobAt (default time.Now); timeouts run on real time

	// NoRecoveryFlush makes Check give up on a printer that does not
	// answer after one ReplyTimeout, without the NUL bytes that free a
	// printer stuck halfway through a command (8192 bytes, 8.5 s at 9600
	// baud, three times). For a technician's check at installation, where
	// a printer that does not answer is nearly always off, unplugged or at
	// another baud rate.
	NoRecoveryFlush bool
	// Progress, when set, is told each step as it starts ("opening
	// /dev/ttyUSB0 at 9600 baud", "asking the printer for its status (DLE
	// EOT)", …), for a person waiting at a terminal. It is called with the
	// conversation under way and must not call the Printer.
	Progress func(step string)
}

const (
	defaultBaud         = 9600
	defaultReplyTimeout = 2 * time.Second
	defaultJobTimeout   = 30 * time.Second
	defaultWriteTimeout = 10 * time.Second
	defaultChunkBytes   = 4096

	// Recovery, as receiptio does it: NUL bytes complete a command the
	// printer was left halfway through, so that it hears DLE EOT again.
	flushBytes    = 8192
	flushAttempts = 3

	readSlice = 100 * time.Millisecond // how often a wait for a reply looks at its context
	drainWait = 5 * time.Millisecond   // quiet time that ends a drain of stale input
)

// ErrNotReady is returned (wrapped, with the state) by Print when it sent
// nothing because the printer was not online. Any other Print error means
// the job may have been partly printed.
var ErrNotReady = errors.New("printer not ready")

var (
	errClosed  = errors.New("printer: closed")
	errTimeout = errors.New("timed out")
)

// PanicError is what Print and Check panic with when the port panicked on
// the goroutine that writes to it: the panic is raised again on the
// caller's goroutine, where the caller can recover it, with the stack of
// the goroutine it happened on.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic in the port's Write: %v", e.Value) }

// Printer drives one printer. Its methods are safe for concurrent use;
// Check and Print take turns, and Snapshot never waits for them.
type Printer struct {
	opt    Options
	optErr error

	op sync.Mutex // one conversation with the printer at a time

	// Owned by the goroutine holding op.
	in    []byte // bytes read and not yet looked at
	owed  int    // status replies the printer owes for DLE EOT sent so far
	noise int    // bytes received that were no reply, since the last good one
	// awaiting is set while a job waits for its GS r 1 reply, and confirmed
	// once that reply arrives, also in the middle of a status query.
	awaiting, confirmed bool
	trigger             triggerCounter
	buf                 [256]byte

	mu     sync.Mutex // guards port, snap and closed
	port   serialport.Port
	snap   Snapshot
	closed bool
}

// New returns a Printer; the port is opened by the first Check or Print.
// Until then the state is offline, "not checked yet".
func New(opt Options) *Printer {
	p := &Printer{opt: opt}
	var errs []error
	if opt.Open == nil {
		errs = append(errs, errors.New("open: must be set"))
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"reply_timeout", &p.opt.ReplyTimeout, defaultReplyTimeout},
		{"job_timeout", &p.opt.JobTimeout, defaultJobTimeout},
		{"write_timeout", &p.opt.WriteTimeout, defaultWriteTimeout},
	} {
		switch {
		case *d.v < 0:
			errs = append(errs, fmt.Errorf("%s: must not be negative (got %s)", d.name, *d.v))
		case *d.v == 0:
			*d.v = d.def
		}
	}
	switch {
	case opt.ChunkBytes < 0:
		errs = append(errs, fmt.Errorf("chunk_bytes: must not be negative (got %d)", opt.ChunkBytes))
	case opt.ChunkBytes == 0:
		p.opt.ChunkBytes = defaultChunkBytes
	}
	switch {
	case opt.Baud < 0:
		errs = append(errs, fmt.Errorf("baud: must not be negative (got %d)", opt.Baud))
	case opt.Baud == 0:
		p.opt.Baud = defaultBaud
	}
	if p.opt.Now == nil {
		p.opt.Now = time.Now
	}
	if p.opt.Progress == nil {
		p.opt.Progress = func(string) {}
	}
	if len(errs) > 0 {
		p.optErr = fmt.Errorf("printer options: %w", errors.Join(errs...))
	}
	p.snap = Snapshot{State: StateOffline, Detail: "not checked yet", Since: p.opt.Now(), Port: opt.Port}
	return p
}

// Snapshot returns the state as last seen, without talking to the printer.
func (p *Printer) Snapshot() Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snap
}

// Check opens the port if it is not open, asks the printer DLE EOT 1, 2 and
// 4, and updates the state. It returns an error when the printer could not
// be asked or did not answer; an answer that says "paper out" is not an
// error, it is the state.
func (p *Printer) Check(ctx context.Context) (Snapshot, error) {
	p.op.Lock()
	defer p.op.Unlock()
	defer p.dropPortOnPanic()
	err := p.check(ctx)
	return p.Snapshot(), err
}

// Print sends one job and waits until the printer confirms it. chunks are
// pieces of the job that each hold whole ESC/POS commands; consecutive
// chunks are sent together up to ChunkBytes, and the printer's status is
// checked between these batches. A chunk larger than ChunkBytes goes out
// whole. If the printer is not online nothing is sent and the error wraps
// ErrNotReady.
func (p *Printer) Print(ctx context.Context, chunks [][]byte) error {
	batches := batch(chunks, p.opt.ChunkBytes)
	if len(batches) == 0 {
		return errors.New("chunks: the job is empty")
	}
	if p.optErr != nil {
		return p.optErr
	}
	p.op.Lock()
	defer p.op.Unlock()
	defer p.dropPortOnPanic()
	err := p.check(ctx)
	switch snap := p.Snapshot(); {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, errClosed):
		return err
	case err != nil:
		return fmt.Errorf("%w: %s: %w", ErrNotReady, snap.State, err)
	case snap.State != StateOnline:
		return fmt.Errorf("%w: %s: %s", ErrNotReady, snap.State, snap.Detail)
	}
	port := p.currentPort()
	if port == nil {
		return errClosed
	}

	total, sent := 0, 0
	for _, b := range batches {
		total += len(b)
	}
	p.opt.Progress(fmt.Sprintf("sending %d bytes (%s at %d baud)", total, p.wireTime(total).Round(100*time.Millisecond), p.opt.Baud))
	stopped := func(err error) error {
		return fmt.Errorf("printer: job stopped after %d of %d bytes: %w", sent, total, err)
	}
	for i, b := range batches {
		if i > 0 {
			if err := p.askStatus(ctx, port, p.opt.ReplyTimeout+p.wireTime(len(batches[i-1]))); err != nil {
				return stopped(err)
			}
			if snap := p.Snapshot(); snap.State != StateOnline {
				return stopped(fmt.Errorf("%s: %s", snap.State, snap.Detail))
			}
		}
		if err := p.write(ctx, port, b); err != nil {
			return stopped(err)
		}
		sent += len(b)
	}
	if err := p.write(ctx, port, transmitStatus); err != nil {
		return stopped(err)
	}
	p.opt.Progress(fmt.Sprintf("waiting up to %s for the printer to confirm it has printed (GS r 1)", p.opt.JobTimeout))
	if err := p.awaitConfirmation(ctx, port, total); err != nil {
		return err
	}
	p.mu.Lock()
	p.snap.LastJobAt = p.opt.Now()
	p.mu.Unlock()
	return nil
}

// Close closes the port. A Check or Print in progress fails; later ones
// return an error.
func (p *Printer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	port := p.port
	p.port = nil
	p.mu.Unlock()
	if port != nil {
		return port.Close()
	}
	return nil
}

// dropPortOnPanic, deferred by Check and Print, lets a panic go on to the
// caller but not the conversation it interrupted: the port is closed (the
// next Check opens it afresh, with the recovery flush), and the state says
// what happened.
func (p *Printer) dropPortOnPanic() {
	r := recover()
	if r == nil {
		return
	}
	if port := p.currentPort(); port != nil {
		p.dropPort(port)
	}
	p.setState(StateError, fmt.Sprintf("the printer driver failed: %v", r), false)
	panic(r)
}

// check is Check under op.
func (p *Printer) check(ctx context.Context) error {
	if p.optErr != nil {
		return p.optErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	port, err := p.openPort()
	if err != nil {
		return err
	}
	if err := p.drain(ctx, port); err != nil {
		return err
	}
	flush := p.Snapshot().State != StateNotResponding && !p.opt.NoRecoveryFlush
	p.opt.Progress("asking the printer for its status (DLE EOT 1, 2 and 4)")
	st, err := p.queryStatus(ctx, port, p.opt.ReplyTimeout)
	// A printer that just stopped answering may be stuck halfway through a
	// command (a job cut off by an unplug or a stall). One that was already
	// not answering is only asked again: it is most likely switched off,
	// and does not need 24 KiB of NULs on every check.
	for attempt := 0; flush && errors.Is(err, errNoReply) && attempt < flushAttempts; attempt++ {
		p.opt.Progress(fmt.Sprintf("no answer in %s; sending %d NUL bytes (%s) in case the printer is stuck in the middle of a command, then asking again",
			p.opt.ReplyTimeout, flushBytes, p.wireTime(flushBytes).Round(100*time.Millisecond)))
		if err = p.write(ctx, port, make([]byte, flushBytes)); err != nil {
			return err
		}
		st, err = p.queryStatus(ctx, port, p.opt.ReplyTimeout+p.wireTime(flushBytes))
	}
	if errors.Is(err, errNoReply) {
		detail := fmt.Sprintf("no reply to DLE EOT within %s", p.opt.ReplyTimeout)
		if flush {
			detail += fmt.Sprintf(", also after %d flushes of %d NUL bytes", flushAttempts, flushBytes)
		}
		if p.noise > 0 {
			detail += fmt.Sprintf("; %d bytes received were not status replies (wrong baud rate?)", p.noise)
		}
		p.setState(StateNotResponding, detail, false)
		return fmt.Errorf("printer: %s", detail)
	}
	if err != nil {
		return err
	}
	state, detail, low := st.decode()
	p.setState(state, detail, low)
	return nil
}

// askStatus asks DLE EOT 1, 2 and 4 and records the state; no reply marks
// the printer not responding. The first reply may take firstWait, for the
// bytes queued ahead of the request.
func (p *Printer) askStatus(ctx context.Context, port serialport.Port, firstWait time.Duration) error {
	st, err := p.queryStatus(ctx, port, firstWait)
	if errors.Is(err, errNoReply) {
		detail := fmt.Sprintf("no reply to DLE EOT within %s", firstWait)
		p.setState(StateNotResponding, detail, false)
		return errors.New(detail)
	}
	if err != nil {
		return err
	}
	state, detail, low := st.decode()
	p.setState(state, detail, low)
	return nil
}

var errNoReply = errors.New("no reply to DLE EOT")

// queryStatus sends DLE EOT 1, 2 and 4, each after the previous answer.
func (p *Printer) queryStatus(ctx context.Context, port serialport.Port, firstWait time.Duration) (status, error) {
	var replies [3]byte
	wait := firstWait
	for i, n := range []byte{1, 2, 4} {
		if err := p.write(ctx, port, statusRequest(n)); err != nil {
			return status{}, err
		}
		b, ok, err := p.awaitStatus(ctx, port, wait)
		if err != nil {
			return status{}, err
		}
		if !ok {
			return status{}, errNoReply
		}
		replies[i] = b
		wait = p.opt.ReplyTimeout
	}
	return status{printer: replies[0], offlineCause: replies[1], paperSensor: replies[2]}, nil
}

// awaitStatus waits for the replies owed, the last of which answers the
// request just sent. If some never come (a printer that ignores DLE EOT
// inside data), the last reply that did come is taken once the wait is over.
func (p *Printer) awaitStatus(ctx context.Context, port serialport.Port, wait time.Duration) (reply byte, ok bool, err error) {
	deadline := time.Now().Add(wait)
	for p.owed > 0 {
		b, err := p.readByte(ctx, port, deadline)
		if errors.Is(err, errTimeout) {
			break
		}
		if err != nil {
			return 0, false, err
		}
		switch {
		case isStatusReply(b):
			p.owed--
			p.noise = 0
			reply, ok = b, true
		case p.awaiting && isTransmitStatusReply(b):
			p.confirmed = true
		default:
			p.noise++
		}
	}
	p.owed = 0
	return reply, ok, nil
}

// awaitConfirmation waits for the reply to GS r 1. Status replies owed for
// DLE EOT bytes in the job may come first, and are skipped. Once the job has
// had time to cross the wire, the printer is asked its status every
// ReplyTimeout meanwhile (DLE EOT is answered at once, also offline): paper
// running out or the cover opening mid-job ends the wait then, not after
// JobTimeout. Without a confirmation the printer is asked why.
func (p *Printer) awaitConfirmation(ctx context.Context, port serialport.Port, sent int) error {
	p.awaiting, p.confirmed = true, false
	defer func() { p.awaiting = false }()
	start := time.Now()
	deadline := start.Add(p.opt.JobTimeout)
	probeAt := start.Add(p.wireTime(sent) + p.opt.ReplyTimeout)
	for {
		b, err := p.readByte(ctx, port, minTime(deadline, probeAt))
		if errors.Is(err, errTimeout) {
			if !time.Now().Before(deadline) {
				break
			}
			if err := p.askStatus(ctx, port, p.opt.ReplyTimeout); err != nil {
				return fmt.Errorf("printer: job not confirmed: %w", err)
			}
			if p.confirmed {
				return nil
			}
			if snap := p.Snapshot(); snap.State != StateOnline {
				return fmt.Errorf("printer: job not confirmed: %s: %s", snap.State, snap.Detail)
			}
			probeAt = time.Now().Add(p.opt.ReplyTimeout)
			continue
		}
		if err != nil {
			return fmt.Errorf("printer: job not confirmed: %w", err)
		}
		switch {
		case isTransmitStatusReply(b):
			return nil
		case isStatusReply(b):
			p.owed = max(p.owed-1, 0)
		}
	}
	reason := fmt.Sprintf("no reply to GS r 1 within %s", p.opt.JobTimeout)
	if err := p.askStatus(ctx, port, p.opt.ReplyTimeout); err != nil {
		return fmt.Errorf("printer: job not confirmed: %s; %w", reason, err)
	}
	if p.confirmed {
		return nil
	}
	if snap := p.Snapshot(); snap.State != StateOnline {
		return fmt.Errorf("printer: job not confirmed: %s; %s: %s", reason, snap.State, snap.Detail)
	}
	// The printer answers but did not confirm: it may lack GS r, or the
	// job may have jammed the mechanism. Either way the job is not printed.
	p.setState(StateError, "the last job was not confirmed: "+reason, p.Snapshot().PaperLow)
	return fmt.Errorf("printer: job not confirmed: %s", reason)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// readByte returns the next byte from the printer, or errTimeout once the
// deadline has passed.
func (p *Printer) readByte(ctx context.Context, port serialport.Port, deadline time.Time) (byte, error) {
	for len(p.in) == 0 {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return 0, errTimeout
		}
		if err := port.SetReadTimeout(min(left, readSlice)); err != nil {
			return 0, p.portFailed(port, err)
		}
		n, err := port.Read(p.buf[:])
		p.in = append(p.in, p.buf[:n]...)
		if err != nil && n == 0 {
			return 0, p.portFailed(port, err)
		}
	}
	b := p.in[0]
	p.in = p.in[1:]
	return b, nil
}

// drain reads what arrived while nobody was asking: late replies, replies
// to DLE EOT bytes in the last job. It stops at the first quiet moment.
func (p *Printer) drain(ctx context.Context, port serialport.Port) error {
	deadline := time.Now().Add(p.opt.ReplyTimeout)
	for time.Now().Before(deadline) {
		b, err := p.readByte(ctx, port, time.Now().Add(drainWait))
		if errors.Is(err, errTimeout) {
			break
		}
		if err != nil {
			return err
		}
		if isStatusReply(b) {
			p.owed = max(p.owed-1, 0)
		}
	}
	p.noise = 0
	return nil
}

// write sends b with a watchdog on each piece of at most ChunkBytes. A
// piece that does not go out within WriteTimeout marks the printer
// stalled and closes the port, which makes the blocked Write return.
func (p *Printer) write(ctx context.Context, port serialport.Port, b []byte) error {
	p.owed += p.trigger.count(b)
	for len(b) > 0 {
		piece := b[:min(len(b), p.opt.ChunkBytes)]
		b = b[len(piece):]
		done := make(chan error, 1)
		go func() {
			// A panic here would end the process: no caller can recover
			// it on this goroutine. It goes to the caller's instead.
			defer func() {
				if r := recover(); r != nil {
					done <- &PanicError{Value: r, Stack: debug.Stack()}
				}
			}()
			_, err := port.Write(piece)
			done <- err
		}()
		watchdog := time.NewTimer(p.opt.WriteTimeout)
		select {
		case err := <-done:
			watchdog.Stop()
			if pe, ok := errors.AsType[*PanicError](err); ok {
				panic(pe)
			}
			if err != nil {
				return p.portFailed(port, err)
			}
		case <-watchdog.C:
			p.dropPort(port)
			detail := fmt.Sprintf("a write did not complete within %s", p.opt.WriteTimeout)
			p.setState(StateStalled, detail, false)
			return fmt.Errorf("printer: stalled: %s", detail)
		case <-ctx.Done():
			watchdog.Stop()
			// The write may be blocked, and a command may be cut in two:
			// only a fresh port (and the recovery flush) makes sense now.
			p.dropPort(port)
			return ctx.Err()
		}
	}
	return nil
}

// portFailed records what a failed Read or Write says about the printer
// and returns the error to report.
func (p *Printer) portFailed(port serialport.Port, err error) error {
	p.dropPort(port)
	switch {
	case errors.Is(err, serialport.ErrClosed):
		if p.isClosed() {
			return errClosed
		}
		return fmt.Errorf("printer: %w", err)
	case errors.Is(err, serialport.ErrDisconnected):
		p.setState(StateUnplugged, err.Error(), false)
	default:
		p.setState(StateError, err.Error(), false)
	}
	return fmt.Errorf("printer: %w", err)
}

// openPort returns the open port, opening it if needed.
func (p *Printer) openPort() (serialport.Port, error) {
	if port := p.currentPort(); port != nil {
		return port, nil
	}
	if p.isClosed() {
		return nil, errClosed
	}
	p.opt.Progress(fmt.Sprintf("opening %s at %d baud", p.opt.Port, p.opt.Baud))
	port, err := p.opt.Open()
	if err != nil {
		state := StateError
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, serialport.ErrDisconnected) {
			state = StateUnplugged
		}
		p.setState(state, "cannot open the port: "+err.Error(), false)
		return nil, fmt.Errorf("printer: open the port: %w", err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		port.Close()
		return nil, errClosed
	}
	p.port = port
	p.mu.Unlock()
	p.in, p.owed, p.noise = nil, 0, 0
	p.trigger.reset()
	return port, nil
}

func (p *Printer) currentPort() serialport.Port {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.port
}

func (p *Printer) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// dropPort closes port and forgets it, so that the next Check reopens.
func (p *Printer) dropPort(port serialport.Port) {
	p.mu.Lock()
	if p.port == port {
		p.port = nil
	}
	p.mu.Unlock()
	port.Close()
}

// setState records a state; Since moves only when the state changes.
func (p *Printer) setState(s State, detail string, paperLow bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if s != p.snap.State {
		p.snap.Since = p.opt.Now()
	}
	p.snap.State, p.snap.Detail, p.snap.PaperLow = s, detail, paperLow
}

// wireTime is how long n bytes take on the line (8N1: 10 bits a byte).
func (p *Printer) wireTime(n int) time.Duration {
	return time.Duration(n) * 10 * time.Second / time.Duration(p.opt.Baud)
}

// batch joins consecutive chunks into batches of at most limit bytes; a
// chunk larger than limit is a batch of its own. The batches are copies, so
// nothing the caller owns is read after Print returns.
func batch(chunks [][]byte, limit int) [][]byte {
	var out [][]byte
	var cur []byte
	for _, c := range chunks {
		if len(c) == 0 {
			continue
		}
		if len(cur) > 0 && len(cur)+len(c) > limit {
			out = append(out, cur)
			cur = nil
		}
		cur = append(cur, c...)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

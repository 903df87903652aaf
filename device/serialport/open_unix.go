//go:build unix

package serialport

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// Open opens the device the Config names (or the one USB port matching
// Config.USB) for reading and writing.
//
// A tty is set to the configured line parameters by go.bug.st/serial, raw
// and without flow control, its pending input is discarded, and it is held
// exclusively (TIOCEXCL) until Close. A character device that is not a tty,
// such as a USB printer-class device (/dev/usb/lp0), is opened as a plain
// file and the line parameters are ignored; so is a named pipe, which lets a
// program stand in for a printer.
//
// Read timeouts and Close unblocking a pending Read or Write rely on the
// device supporting poll(2): ttys, usblp devices and pipes do. For a device
// that does not (a parallel port, /dev/lp0), reads run in a helper goroutine
// so that timeouts and Close still return, but a Read or Write in progress
// inside the kernel only ends when the device completes it.
func Open(c Config) (Port, error) {
	path, err := c.devicePath()
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("path: %w", err)
	}
	if typ := info.Mode().Type(); typ&fs.ModeCharDevice == 0 && typ&fs.ModeNamedPipe == 0 {
		return nil, fmt.Errorf("path: %s is %s, not a serial port or printer device", path, describeType(info.Mode()))
	}
	// O_NONBLOCK keeps open from waiting for carrier detect on a serial
	// line, and makes os.File hand the descriptor to Go's poller, which is
	// what lets deadlines and Close interrupt reads and writes.
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("path: %w", openHint(err))
	}
	p := &filePort{f: f, name: path}
	if err := p.control(func(fd int) error {
		p.tty = term.IsTerminal(fd)
		return nil
	}); err != nil {
		f.Close()
		return nil, fmt.Errorf("path: %s: %w", path, err)
	}
	if p.tty {
		if err := configureLine(path, c); err != nil {
			f.Close()
			return nil, err
		}
		if err := p.control(func(fd int) error { return unix.IoctlSetInt(fd, unix.TIOCEXCL, 0) }); err != nil {
			f.Close()
			return nil, fmt.Errorf("path: %s: take exclusive access: %w", path, err)
		}
		return p, nil
	}
	if errors.Is(f.SetReadDeadline(time.Time{}), os.ErrNoDeadline) {
		// Not pollable: make the descriptor blocking again (it still carries
		// O_NONBLOCK from open) and read from a goroutine instead.
		if err := p.control(func(fd int) error { return unix.SetNonblock(fd, false) }); err != nil {
			f.Close()
			return nil, fmt.Errorf("path: %s: %w", path, err)
		}
		p.blocking = &blockingReader{f: f, closed: make(chan struct{})}
	}
	return p, nil
}

// configureLine sets the tty's line parameters through a second, short-lived
// descriptor owned by go.bug.st/serial. Termios belongs to the tty, not to
// the descriptor, so the settings stay in force on ours.
func configureLine(path string, c Config) error {
	sp, err := serial.Open(path, c.mode())
	if err != nil {
		return fmt.Errorf("path: %s: set the line parameters: %w", path, err)
	}
	// Bytes that arrived before anyone listened (an old status reply, line
	// noise while the printer powered up) would be taken for answers.
	resetErr := sp.ResetInputBuffer()
	if err := errors.Join(resetErr, sp.Close()); err != nil {
		return fmt.Errorf("path: %s: set the line parameters: %w", path, err)
	}
	return nil
}

func describeType(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	default:
		return "not a device"
	}
}

// openHint adds what a technician can do about the usual open failures.
func openHint(err error) error {
	switch {
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%w (the service user needs to be in the device's group, usually dialout or lp)", err)
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("%w (another program has the port open)", err)
	case errors.Is(err, syscall.ENXIO), errors.Is(err, syscall.ENODEV):
		// The node exists but nothing is behind it: an adapter being
		// unplugged, or a COM port without hardware.
		return fmt.Errorf("%w: %w", err, fs.ErrNotExist)
	}
	return err
}

// filePort is a Port on an *os.File.
type filePort struct {
	f        *os.File
	name     string
	tty      bool
	blocking *blockingReader // set when the device cannot be polled
	timeout  atomic.Int64    // read timeout, a time.Duration
	closed   atomic.Bool
}

// control runs fn on the raw descriptor. Unlike File.Fd it leaves the file
// non-blocking and registered with the poller.
func (p *filePort) control(fn func(fd int) error) error {
	rc, err := p.f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := rc.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return err
	}
	return fnErr
}

func (p *filePort) SetReadTimeout(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("read timeout: must not be negative (got %s)", d)
	}
	p.timeout.Store(int64(d))
	return nil
}

func (p *filePort) Read(b []byte) (int, error) {
	if p.closed.Load() {
		return 0, ErrClosed
	}
	timeout := time.Duration(p.timeout.Load())
	if p.blocking != nil {
		n, err := p.blocking.read(b, timeout)
		return n, p.ioError(err)
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	if err := p.f.SetReadDeadline(deadline); err != nil {
		return 0, p.ioError(err)
	}
	n, err := p.f.Read(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	return n, p.ioError(err)
}

func (p *filePort) Write(b []byte) (int, error) {
	if p.closed.Load() {
		return 0, ErrClosed
	}
	n, err := p.f.Write(b)
	return n, p.ioError(err)
}

// Close releases the port. Output still queued in the kernel is discarded:
// otherwise closing a tty waits for it to drain, up to 30 s on a serial
// line, and Close is what the printer driver calls on a printer that has
// stopped taking data.
func (p *filePort) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	if p.blocking != nil {
		close(p.blocking.closed)
	}
	if p.tty {
		// Best effort: after an unplug these fail, and the close below is
		// all that matters.
		_ = p.control(func(fd int) error {
			return errors.Join(discardOutput(fd), unix.IoctlSetInt(fd, unix.TIOCNXCL, 0))
		})
	}
	return p.f.Close()
}

// ioError maps the errors of a Read or Write to ErrClosed, ErrDisconnected
// or the system error itself.
func (p *filePort) ioError(err error) error {
	switch {
	case err == nil:
		return nil
	case p.closed.Load(), errors.Is(err, os.ErrClosed), errors.Is(err, ErrClosed):
		return ErrClosed
	case err == io.EOF:
		// A tty reads zero bytes once it has been hung up.
		return fmt.Errorf("%w: %s: end of file", ErrDisconnected, p.name)
	case errors.Is(err, syscall.EIO), errors.Is(err, syscall.ENXIO), errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("%w: %w", ErrDisconnected, err)
	}
	return err
}

// blockingReader reads a device that cannot be polled: each read runs in a
// goroutine, so a Read can time out or be abandoned by Close. A read that
// timed out stays pending and its data goes to the next Read.
type blockingReader struct {
	f       *os.File
	closed  chan struct{}
	mu      sync.Mutex // one Read at a time
	pending chan readResult
	left    []byte // data from a read that did not fit the caller's buffer
}

type readResult struct {
	data []byte
	err  error
}

func (r *blockingReader) read(b []byte, timeout time.Duration) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.left) > 0 {
		n := copy(b, r.left)
		r.left = r.left[n:]
		return n, nil
	}
	if r.pending == nil {
		ch := make(chan readResult, 1)
		buf := make([]byte, max(len(b), 512))
		go func() {
			n, err := r.f.Read(buf)
			ch <- readResult{buf[:max(n, 0)], err}
		}()
		r.pending = ch
	}
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case res := <-r.pending:
		r.pending = nil
		n := copy(b, res.data)
		r.left = res.data[n:]
		return n, res.err
	case <-expired:
		return 0, nil
	case <-r.closed:
		return 0, ErrClosed
	}
}

package serialport

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// eventually bounds the wait for something that must happen; it is a
// deadlock guard, not a timing assertion.
const eventually = 5 * time.Second

// newPTY returns a pseudo-terminal pair. The test keeps the slave open for
// the pair's whole life: with no slave descriptor open, reads on the master
// fail with EIO.
func newPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}

func openPath(t *testing.T, c Config) Port {
	t.Helper()
	p, err := Open(c)
	if err != nil {
		t.Fatalf("Open(%+v): %v", c, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestOpenSetsLineParameters reads the termios back from the pty. A pty
// forces CS8 and clears PARENB whatever is asked (pty_set_termios), so data
// bits and parity are covered by TestMode; baud rate, stop bits, flow
// control and raw mode land in termios as set.
func TestOpenSetsLineParameters(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		speed uint32 // the CBAUD value termios must hold
		stop2 bool
	}{
		{"9600 8N1 by default", Config{}, unix.B9600, false},
		{"115200 8N1", Config{Baud: 115200}, unix.B115200, false},
		{"19200 7E2", Config{Baud: 19200, DataBits: 7, Parity: ParityEven, StopBits: 2}, unix.B19200, true},
		{"38400 8O1", Config{Baud: 38400, Parity: ParityOdd}, unix.B38400, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, slave := newPTY(t)
			// Start from settings the port must change: 2400 baud, hardware
			// flow control, cooked, echo.
			before, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			before.Cflag = before.Cflag&^unix.CBAUD | unix.B2400 | unix.CRTSCTS
			before.Lflag |= unix.ICANON | unix.ECHO
			if err := unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, before); err != nil {
				t.Fatal(err)
			}

			c := tt.cfg
			c.Path = slave.Name()
			openPath(t, c)

			tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			if got := tio.Cflag & unix.CBAUD; got != tt.speed {
				t.Errorf("CBAUD = %#o, want %#o", got, tt.speed)
			}
			if got := tio.Cflag&unix.CSTOPB != 0; got != tt.stop2 {
				t.Errorf("CSTOPB = %v, want %v", got, tt.stop2)
			}
			if tio.Cflag&unix.CRTSCTS != 0 {
				t.Error("CRTSCTS still set: the port must run without hardware flow control")
			}
			if tio.Lflag&(unix.ICANON|unix.ECHO) != 0 {
				t.Errorf("lflag = %#o: the line is not raw", tio.Lflag)
			}
		})
	}
}

func TestOpenTakesExclusiveAccessUntilClose(t *testing.T) {
	_, slave := newPTY(t)
	exclusive := func() bool {
		v, err := unix.IoctlGetInt(int(slave.Fd()), unix.TIOCGEXCL)
		if err != nil {
			t.Skipf("TIOCGEXCL: %v", err)
		}
		return v != 0
	}
	p, err := Open(Config{Path: slave.Name()})
	if err != nil {
		t.Fatal(err)
	}
	if !exclusive() {
		t.Error("the tty is not exclusive while open")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if exclusive() {
		t.Error("the tty is still exclusive after Close: a non-root service could not open it again")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestReadWriteAndTimeout(t *testing.T) {
	master, slave := newPTY(t)
	p := openPath(t, Config{Path: slave.Name()})

	if err := p.SetReadTimeout(-time.Second); err == nil || !strings.Contains(err.Error(), "read timeout: must not be negative") {
		t.Errorf("SetReadTimeout(-1s) = %v", err)
	}
	if err := p.SetReadTimeout(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := p.Read(buf); n != 0 || err != nil {
		t.Fatalf("Read with nothing to read = %d, %v; want 0, nil", n, err)
	}

	if _, err := p.Write([]byte{0x10, 0x04, 0x01}); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 3)
	if _, err := io.ReadFull(master, got); err != nil || !bytes.Equal(got, []byte{0x10, 0x04, 0x01}) {
		t.Fatalf("master read %x, %v", got, err)
	}

	if _, err := master.Write([]byte{0x12}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetReadTimeout(eventually); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Read(buf); n != 1 || err != nil || buf[0] != 0x12 {
		t.Fatalf("Read = %d, %v, % x; want the byte 12", n, err, buf[:n])
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	_, slave := newPTY(t)
	p := openPath(t, Config{Path: slave.Name()})
	if err := p.SetReadTimeout(0); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := p.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the Read block; the test holds without it too
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("blocked Read returned %v, want ErrClosed", err)
		}
	case <-time.After(eventually):
		t.Fatal("Close did not unblock Read")
	}
}

// TestCloseUnblocksWrite is the stalled printer: nobody reads the other
// end, the pty buffer fills and Write blocks until Close.
func TestCloseUnblocksWrite(t *testing.T) {
	_, slave := newPTY(t)
	p := openPath(t, Config{Path: slave.Name()})
	done := make(chan error, 1)
	go func() {
		_, err := p.Write(make([]byte, 1<<20))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a 1 MiB Write to a pty nobody reads returned %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("blocked Write returned %v, want ErrClosed", err)
		}
	case <-time.After(eventually):
		t.Fatal("Close did not unblock Write")
	}
	if _, err := p.Write([]byte{0}); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if _, err := p.Read(make([]byte, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
}

// TestHangup closes the master, as unplugging a USB adapter removes the tty
// under an open port.
func TestHangup(t *testing.T) {
	master, slave := newPTY(t)
	p := openPath(t, Config{Path: slave.Name()})
	if err := p.SetReadTimeout(eventually); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := p.Read(make([]byte, 1))
		done <- err
	}()
	master.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrDisconnected) {
			t.Errorf("Read after hang-up = %v, want ErrDisconnected", err)
		}
	case <-time.After(2 * eventually):
		t.Fatal("Read did not return after hang-up")
	}
	if _, err := p.Write([]byte{0x10, 0x04, 0x01}); !errors.Is(err, ErrDisconnected) {
		t.Errorf("Write after hang-up = %v, want ErrDisconnected", err)
	}
}

func TestOpenRefusesWhatIsNotADevice(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "receipt.bin")
	if err := os.WriteFile(regular, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		want     string
		notExist bool
	}{
		{"regular file", regular, "path: " + regular + " is a regular file, not a serial port or printer device", false},
		{"directory", dir, "path: " + dir + " is a directory, not a serial port or printer device", false},
		{"missing", filepath.Join(dir, "ttyUSB9"), "path: stat " + filepath.Join(dir, "ttyUSB9") + ": no such file or directory", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Open(Config{Path: tt.path})
			if err == nil {
				p.Close()
				t.Fatal("Open succeeded")
			}
			if err.Error() != tt.want {
				t.Errorf("Open error = %q, want %q", err, tt.want)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", got, tt.notExist)
			}
		})
	}
	if _, err := Open(Config{Path: "/dev/ttyS0", Baud: 14400}); err == nil || !strings.HasPrefix(err.Error(), "baud: ") {
		t.Errorf("Open with an invalid config = %v, want the Validate error", err)
	}
}

// TestOpenNamedPipe covers the plain-file path on a pollable device: a
// FIFO opened read-write reads back what it was sent.
func TestOpenNamedPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "printer")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	p := openPath(t, Config{Path: path, Baud: 115200})
	if err := p.SetReadTimeout(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := p.Read(buf); n != 0 || err != nil {
		t.Fatalf("Read of an empty pipe = %d, %v; want 0, nil", n, err)
	}
	if _, err := p.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Read(buf); err != nil || string(buf[:n]) != "ok" {
		t.Fatalf("Read = %q, %v; want \"ok\"", buf[:n], err)
	}
	if err := p.SetReadTimeout(0); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := p.Read(buf)
		done <- err
	}()
	p.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("blocked Read returned %v, want ErrClosed", err)
		}
	case <-time.After(eventually):
		t.Fatal("Close did not unblock Read on a pipe")
	}
}

// TestOpenDevNull: /dev/null is a character device that is not a tty and
// cannot be polled, so it takes the goroutine reader. Writes vanish; a read
// sees end of file, which for a device means it is gone.
func TestOpenDevNull(t *testing.T) {
	p := openPath(t, Config{Path: "/dev/null"})
	fp, ok := p.(*filePort)
	if !ok || fp.blocking == nil || fp.tty {
		t.Fatalf("/dev/null opened as %#v, want a non-tty port with the goroutine reader", p)
	}
	if n, err := p.Write([]byte{0x1d, 0x72, 0x01}); n != 3 || err != nil {
		t.Errorf("Write = %d, %v", n, err)
	}
	if err := p.SetReadTimeout(eventually); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Read(make([]byte, 1)); !errors.Is(err, ErrDisconnected) {
		t.Errorf("Read = %v, want ErrDisconnected", err)
	}
}

// TestBlockingReader drives the goroutine reader on a pipe the poller does
// not know: timeouts, data kept for the next Read, and Close.
func TestBlockingReader(t *testing.T) {
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		t.Fatal(err)
	}
	r := os.NewFile(uintptr(fds[0]), "pipe-r") // blocking descriptor: not polled
	w := os.NewFile(uintptr(fds[1]), "pipe-w")
	defer w.Close()
	if err := r.SetReadDeadline(time.Time{}); !errors.Is(err, os.ErrNoDeadline) {
		t.Fatalf("the test pipe is pollable (%v); it would not exercise the goroutine reader", err)
	}
	p := &filePort{f: r, name: "pipe", blocking: &blockingReader{f: r, closed: make(chan struct{})}}
	if err := p.SetReadTimeout(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if n, err := p.Read(buf); n != 0 || err != nil {
		t.Fatalf("Read with nothing to read = %d, %v; want 0, nil", n, err)
	}
	// The read that timed out is still pending; its data reaches the next
	// Read, and what does not fit waits for the one after.
	if _, err := w.Write([]byte{0x12, 0x16, 0x1a}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetReadTimeout(eventually); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < 3 {
		n, err := p.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, []byte{0x12, 0x16, 0x1a}) {
		t.Fatalf("read % x, want 12 16 1a", got)
	}
	if err := p.SetReadTimeout(0); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := p.Read(buf)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	p.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Read pending at Close returned %v, want ErrClosed", err)
		}
	case <-time.After(eventually):
		t.Fatal("Close did not release the Read")
	}
	w.Write([]byte{0}) // end the helper goroutine's read
}

//go:build !unix

package serialport

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.bug.st/serial"
)

// Open opens the serial port the Config names (or the one USB port matching
// Config.USB) through go.bug.st/serial. Close unblocks a pending Read; a
// Write blocked inside the driver is not known to be interrupted by Close on
// these systems.
func Open(c Config) (Port, error) {
	path, err := c.devicePath()
	if err != nil {
		return nil, err
	}
	sp, err := serial.Open(path, c.mode())
	if err != nil {
		return nil, fmt.Errorf("path: %s: %w", path, err)
	}
	return &libraryPort{p: sp, name: path}, nil
}

// libraryPort adapts a go.bug.st/serial port to Port.
type libraryPort struct {
	p      serial.Port
	name   string
	closed atomic.Bool
}

func (l *libraryPort) SetReadTimeout(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("read timeout: must not be negative (got %s)", d)
	}
	if d == 0 {
		d = serial.NoTimeout
	}
	return l.p.SetReadTimeout(d)
}

func (l *libraryPort) Read(b []byte) (int, error) {
	if l.closed.Load() {
		return 0, ErrClosed
	}
	n, err := l.p.Read(b)
	return n, l.ioError(err)
}

func (l *libraryPort) Write(b []byte) (int, error) {
	if l.closed.Load() {
		return 0, ErrClosed
	}
	n, err := l.p.Write(b)
	return n, l.ioError(err)
}

func (l *libraryPort) Close() error {
	if !l.closed.CompareAndSwap(false, true) {
		return nil
	}
	return l.p.Close()
}

func (l *libraryPort) ioError(err error) error {
	if err == nil {
		return nil
	}
	if l.closed.Load() {
		return ErrClosed
	}
	var pe *serial.PortError
	if errors.As(err, &pe) && pe.Code() == serial.PortClosed {
		return fmt.Errorf("%w: %s: %w", ErrDisconnected, l.name, err)
	}
	return err
}

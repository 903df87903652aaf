package serialport

import (
	"errors"
	"io"
	"time"
)

// Port is an open link to a printer.
type Port interface {
	io.ReadWriteCloser
	// SetReadTimeout bounds each later Read: a Read that gets no data within
	// d returns (0, nil). Zero means a Read waits until data arrives; a
	// negative d is an error.
	SetReadTimeout(d time.Duration) error
}

// ErrClosed is returned by Read and Write once the Port has been closed,
// including a Read or Write that was blocked when Close was called.
var ErrClosed = errors.New("serial port closed")

// ErrDisconnected is returned (wrapped, with the system's error) when the
// device went away under an open Port: a USB adapter or printer unplugged, or
// the other end of a pseudo-terminal closed. The Port is useless afterwards;
// close it and open the device again.
var ErrDisconnected = errors.New("serial port disconnected")

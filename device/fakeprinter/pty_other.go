//go:build !linux

package fakeprinter

import (
	"errors"
	"fmt"
	"os"
)

// openPTY: the fake printer runs on Linux pseudo-terminals only.
func openPTY() (master, slave *os.File, err error) {
	return nil, nil, fmt.Errorf("pseudo-terminal printer: %w", errors.ErrUnsupported)
}

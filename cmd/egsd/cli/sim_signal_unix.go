//go:build unix

package cli

import (
	"os"
	"syscall"
)

// ofdToggleSignals take `egsd sim ofd` down and up again.
var ofdToggleSignals = []os.Signal{syscall.SIGUSR1}

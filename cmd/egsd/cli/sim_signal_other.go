//go:build !unix

package cli

import "os"

// ofdToggleSignals: no SIGUSR1 here; restart with --down instead.
var ofdToggleSignals []os.Signal

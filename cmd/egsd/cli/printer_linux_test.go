//go:build linux

package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// TestPrinterDirectNoAnswer: on a port where nothing answers (a pty whose
// other end nobody reads), status and test say what they try, ask once
// within the configured --timeout, send nothing else (no recovery flush:
// half a minute at 9600 baud), and fail with the reason and what to try.
func TestPrinterDirectNoAnswer(t *testing.T) {
	for _, action := range []string{"status", "test"} {
		t.Run(action, func(t *testing.T) {
			master, slave, err := pty.Open()
			if err != nil {
				t.Skipf("no pseudo-terminals here: %v", err)
			}
			defer master.Close()
			defer slave.Close()
			out, errOut, err := run(t, nil, "", "printer", action, "--port", slave.Name(), "--timeout", "150ms")
			if err == nil {
				t.Fatalf("%s succeeded with nothing attached:\n%s", action, out)
			}
			for _, want := range []string{"no answer from the printer on " + slave.Name() + " in 150ms", "baud rate 9600", "--baud 19200"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			for _, want := range []string{"opening " + slave.Name() + " at 9600 baud…", "asking the printer for its status (DLE EOT 1, 2 and 4)…"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr does not say %q:\n%s", want, errOut)
				}
			}
			// One status request went out, and nothing after it.
			if err := unix.SetNonblock(int(master.Fd()), true); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			n, _ := master.Read(buf)
			if !bytes.Equal(buf[:n], []byte{0x10, 0x04, 0x01}) {
				t.Errorf("the port received % x, want only DLE EOT 1 (10 04 01)", buf[:n])
			}
		})
	}
}

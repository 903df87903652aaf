package keystore

import (
	"runtime"
	"testing"

	"github.com/egsd/egsd/stamping/stampingtest"
)

// readTestkey reads a file of the ZATCA SDK test material, zatca/testkeys in
// the shared directory (see stampingtest). Tests that need it skip when it
// is absent; CI always has it.
func readTestkey(t testing.TB, name string) []byte {
	t.Helper()
	return stampingtest.Read(t, "zatca", "testkeys", name)
}

func isWindows() bool { return runtime.GOOS == "windows" }

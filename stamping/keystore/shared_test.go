package keystore

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// testkeysDir is the ZATCA SDK test material, from $EGSD_SHARED (default
// ../../../shared, the shared directory beside the repository). Tests that
// need it skip when it is absent; CI always has it.
func testkeysDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("EGSD_SHARED")
	if dir == "" {
		dir = "../../../shared"
	}
	tk := filepath.Join(dir, "zatca", "testkeys")
	if _, err := os.Stat(filepath.Join(tk, "key_pkcs8.der")); err != nil {
		t.Skipf("ZATCA test keys not found under %s (set EGSD_SHARED to the shared directory): %v", dir, err)
	}
	return tk
}

func readTestkey(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkeysDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func isWindows() bool { return runtime.GOOS == "windows" }

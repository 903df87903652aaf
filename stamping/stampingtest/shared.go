// Package stampingtest finds the reference material that stamping tests
// check against: the shared directory beside the repository (authority
// fact sheets, the ZATCA SDK's signed samples, test keys, rule sets). It is
// $EGSD_SHARED if set, otherwise ../shared next to the module root. Tests
// that need it skip with a message saying so when it is absent; CI always
// has it. It also lists the forms in which a private key could leak into
// what a program prints ([SecretForms]), for the tests that prove it never
// does.
package stampingtest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// SharedDir is the shared directory's path; it may not exist.
func SharedDir() string {
	if dir := os.Getenv("EGSD_SHARED"); dir != "" {
		return dir
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "../shared"
	}
	// This file is <module>/stamping/stampingtest/shared.go.
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared")
}

// Path returns parts joined under the shared directory, skipping t when
// that path does not exist.
func Path(t testing.TB, parts ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{SharedDir()}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("reference material %s not found (set EGSD_SHARED to the shared directory): %v", p, err)
	}
	return p
}

// Read reads a file under the shared directory, skipping t when it is absent.
func Read(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(Path(t, parts...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

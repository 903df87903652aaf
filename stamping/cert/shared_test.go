package cert

import (
	"os"
	"path/filepath"
	"testing"
)

// testkeysDir is the ZATCA SDK test material, from $EGSD_SHARED (default
// ../../../shared, the shared directory beside the repository). Tests that
// need it skip when it is absent; CI always has it.
func testkeysDir(t testing.TB) string {
	t.Helper()
	dir := sharedDir()
	tk := filepath.Join(dir, "zatca", "testkeys")
	if _, err := os.Stat(filepath.Join(tk, "cert.pem")); err != nil {
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

// sdkCertDER is the SDK test certificate, DER.
func sdkCertDER(t testing.TB) []byte {
	t.Helper()
	c, err := ParseBase64(string(readTestkey(t, "cert.b64")))
	if err != nil {
		t.Fatalf("ParseBase64(cert.b64): %v", err)
	}
	return c.Raw
}

func sharedDir() string {
	if dir := os.Getenv("EGSD_SHARED"); dir != "" {
		return dir
	}
	return "../../../shared"
}

package cert

import (
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

// sdkCertDER is the SDK test certificate, DER.
func sdkCertDER(t testing.TB) []byte {
	t.Helper()
	c, err := ParseBase64(string(readTestkey(t, "cert.b64")))
	if err != nil {
		t.Fatalf("ParseBase64(cert.b64): %v", err)
	}
	return c.Raw
}

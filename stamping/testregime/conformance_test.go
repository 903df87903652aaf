package testregime

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/stampingtest"
)

// TestConformanceGenesisHash checks that the chain starts where ZATCA's
// does: the first document's previous hash is the constant of
// spec/zatca.md §1.3 (base64 of the hex SHA-256 of "0"), which the test
// regime shares so that chains look alike across regimes.
func TestConformanceGenesisHash(t *testing.T) {
	spec, err := os.ReadFile(filepath.Join(stampingtest.Path(t, "spec"), "zatca.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)### 1\\.3 First-invoice PIH.*?`([A-Za-z0-9+/=]{80,})`").FindSubmatch(spec)
	if m == nil {
		t.Fatal("spec/zatca.md §1.3 no longer states the first PIH")
	}
	r, err := stamping.New(Local, stamping.Config{Seller: stamping.Seller{Name: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.GenesisHash(); got != string(m[1]) {
		t.Errorf("GenesisHash() = %s, spec/zatca.md §1.3 says %s", got, m[1])
	}
}

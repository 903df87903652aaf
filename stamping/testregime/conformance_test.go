package testregime

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/egsd/egsd/stamping"
)

// sharedDir is the reference material (authority specs and samples), from
// $EGSD_SHARED, or ../shared beside the repository.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("EGSD_SHARED")
	if dir == "" {
		dir = "../../../shared"
	}
	if _, err := os.Stat(filepath.Join(dir, "spec")); err != nil {
		t.Skipf("reference material not found at %s (set EGSD_SHARED): %v", dir, err)
	}
	return dir
}

// TestConformanceGenesisHash checks that the chain starts where ZATCA's
// does: the first document's previous hash is the constant of
// spec/zatca.md §1.3 (base64 of the hex SHA-256 of "0"), which the test
// regime shares so that chains look alike across regimes.
func TestConformanceGenesisHash(t *testing.T) {
	spec, err := os.ReadFile(filepath.Join(sharedDir(t), "spec", "zatca.md"))
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

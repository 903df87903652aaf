package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/offsite"
	"github.com/egsd/egsd/queue"
)

// dirObjects is an object store in a directory: what it stores is at once
// a downloaded copy of the archive.
type dirObjects struct{ root string }

func (d dirObjects) path(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

func (d dirObjects) Stat(_ context.Context, key string) (string, bool, error) {
	data, err := os.ReadFile(d.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), err == nil, err
}

func (d dirObjects) Put(_ context.Context, key string, data []byte, _ string) error {
	if err := os.MkdirAll(filepath.Dir(d.path(key)), 0o700); err != nil {
		return err
	}
	return os.WriteFile(d.path(key), data, 0o600)
}

func (d dirObjects) Get(_ context.Context, key string) ([]byte, bool, error) {
	data, err := os.ReadFile(d.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	return data, err == nil, err
}

// TestVerifyArchive: egsd verify on a copy of an archive checks its
// manifests and the signatures of its audit checkpoints, says which
// documents' signatures it cannot check (the test regime's), and names what
// was changed.
func TestVerifyArchive(t *testing.T) {
	cfg := testDemoConfig(t.TempDir())
	a := newDemoAgent(t, cfg)
	defer a.Close()
	for _, key := range []string{"s1", "s2", "s3"} {
		if _, _, err := a.Issue(context.Background(), "cashier", key, []byte(`{"kind":"invoice","lines":[{"name":"Tea","quantity":"1","unit_price":"4.00","vat_category":"S","vat_rate":"15"}]}`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Store().Checkpoint("for the archive", time.Now()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	up, err := offsite.New(a.Store(), dirObjects{dir}, offsite.Config{Seller: cfg.Seller.VATNumber, Device: cfg.Device.Serial, Target: "dir"})
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := run(t, nil, "", "verify", "--chain", dir)
	if err != nil || !strings.Contains(stdout, "documents 1–3 checked against the manifests; document 1 is of regime test") ||
		!strings.Contains(stdout, "OK audit checkpoints") || strings.Contains(stdout, "FAIL") {
		t.Fatalf("verify of a fresh archive: %v\n%s", err, stdout)
	}

	// A checkpoint rewritten with its manifest entry fixed up still fails
	// its signature.
	units, err := offsite.ReadArchive(dir)
	if err != nil {
		t.Fatal(err)
	}
	dayDir := filepath.Join(units[0].Dir, units[0].Days[0])
	var m offsite.Manifest
	readJSON(t, filepath.Join(dayDir, offsite.ManifestName), &m)
	last := &m.Checkpoints[len(m.Checkpoints)-1]
	var cp queue.AuditCheckpoint
	readJSON(t, filepath.Join(dayDir, last.Object.Name), &cp)
	cp.Reason = "nothing happened"
	data, _ := json.Marshal(cp)
	os.WriteFile(filepath.Join(dayDir, last.Object.Name), data, 0o600)
	sum := sha256.Sum256(data)
	last.Object.SHA256, last.Object.Size = hex.EncodeToString(sum[:]), len(data)
	data, _ = json.Marshal(m)
	os.WriteFile(filepath.Join(dayDir, offsite.ManifestName), data, 0o600)
	// And a document changed.
	os.WriteFile(units[0].Documents[1], []byte(`{"forged":true}`), 0o600)

	stdout, _, err = run(t, nil, "", "verify", "--chain", dir)
	if err == nil || !strings.Contains(stdout, "FAIL checkpoint") || !strings.Contains(stdout, "signature does not verify") ||
		!strings.Contains(stdout, "document 2: documents/") {
		t.Errorf("verify of a tampered archive: %v\n%s", err, stdout)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/stampingtest"
	"github.com/egsd/egsd/stamping/zatca"
)

// sharedZATCA is the shared directory's zatca folder (see stampingtest), or
// the test is skipped.
func sharedZATCA(t *testing.T) string {
	t.Helper()
	return filepath.Dir(stampingtest.Path(t, "zatca", "samples"))
}

// TestVerifyCommand: the SDK samples verify; tampered copies fail with the
// reason; the samples are not one chain, and three documents stamped in a
// row are.
func TestVerifyCommand(t *testing.T) {
	shared := sharedZATCA(t)
	dir := t.TempDir()
	samples, _ := filepath.Glob(filepath.Join(shared, "samples", "*.xml"))
	if len(samples) != 10 {
		t.Fatalf("%d samples", len(samples))
	}
	out, _, err := run(t, nil, "", append([]string{"verify"}, samples...)...)
	if err != nil || strings.Count(out, "OK ") != 10 {
		t.Fatalf("verify of the SDK samples: %v\n%s", err, out)
	}
	doc, _ := os.ReadFile(samples[0])
	tampered := filepath.Join(dir, "tampered.xml")
	os.WriteFile(tampered, bytes.Replace(doc, []byte("<cbc:IssueTime>"), []byte("<cbc:IssueTime>0"), 1), 0o600)
	out, _, err = run(t, nil, "", "verify", samples[0], tampered)
	if err == nil || !strings.Contains(out, "OK "+samples[0]) || !strings.Contains(out, "FAIL "+tampered+" invoice hash mismatch") {
		t.Fatalf("verify with a tampered file: %v\n%s", err, out)
	}
	out, _, err = run(t, nil, "", "verify", "--chain", samples[0], samples[1])
	if err == nil || !strings.Contains(out, "FAIL chain") {
		t.Fatalf("--chain over unrelated samples: %v\n%s", err, out)
	}

	// A real chain, stamped with the SDK test key.
	der, _ := os.ReadFile(filepath.Join(shared, "testkeys", "key_pkcs8.der"))
	key, err := keystore.ParsePKCS8DER(der)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(filepath.Join(shared, "testkeys", "cert.pem"))
	seller := stamping.Seller{Name: "Maximum Speed Tech Supply LTD", VATNumber: "399999999900003", IDScheme: "CRN", ID: "1010010000",
		Address: sale.Address{Street: "Prince Sultan", BuildingNumber: "2322", District: "Al-Murabba", City: "Riyadh", PostalCode: "23333", Country: "SA"}}
	r, err := zatca.NewWithKey(seller, zatca.Options{InvoicePrefix: "T-"}, key, pem)
	if err != nil {
		t.Fatal(err)
	}
	prev := r.GenesisHash()
	var files []string
	for i := 1; i <= 3; i++ {
		s := &sale.Sale{Kind: sale.Invoice, Currency: "SAR", Lines: []sale.Line{{Name: "Tea", Quantity: money.MustParse(fmt.Sprint(i)),
			UnitPrice: money.MustParse("4.35"), Category: sale.Standard, Rate: money.MustParse("15")}}}
		d, err := r.Stamp(stamping.Slot{Counter: uint64(i), PrevHash: prev, UUID: fmt.Sprintf("00000000-0000-4000-8000-00000000000%d", i),
			IssuedAt: time.Date(2026, 11, 21, 10, 0, i, 0, time.UTC)}, s)
		if err != nil {
			t.Fatal(err)
		}
		prev = d.Hash
		f := filepath.Join(dir, fmt.Sprintf("%d.xml", i))
		os.WriteFile(f, d.Bytes, 0o600)
		files = append(files, f)
	}
	out, _, err = run(t, nil, "", append([]string{"verify", "--chain"}, files...)...)
	if err != nil || !strings.Contains(out, "OK chain ICV 1–3") {
		t.Fatalf("--chain over a stamped chain: %v\n%s", err, out)
	}
	out, _, err = run(t, nil, "", "verify", "--chain", files[0], files[2])
	if err == nil || !strings.Contains(out, "FAIL chain ICV 3 follows 1") {
		t.Fatalf("--chain with a gap: %v\n%s", err, out)
	}
	// A pruned journal starts after its anchor: the hash of document 1.
	first, err := zatca.Verify(mustRead(t, files[0]))
	if err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, nil, "", "verify", "--chain", "--after", first.Hash, files[1], files[2])
	if err != nil || !strings.Contains(out, "OK chain ICV 2–3") {
		t.Fatalf("--chain --after the anchor: %v\n%s", err, out)
	}
	out, _, err = run(t, nil, "", "verify", "--chain", "--after", first.Hash, files[2])
	if err == nil || !strings.Contains(out, "FAIL chain the first document has PIH") {
		t.Fatalf("--chain --after an anchor the file does not continue: %v\n%s", err, out)
	}
}

// TestJournalExport writes every stored document byte for byte.
func TestJournalExport(t *testing.T) {
	a, _, env := startAgent(t)
	if _, _, err := run(t, env, "cashier-demo\n", "login", "--user", "cashier"); err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile("../../../examples/sale.json")
	for i := range 3 {
		if _, _, err := run(t, env, string(body), "sale", "--key", fmt.Sprint("k", i), "-"); err != nil {
			t.Fatal(err)
		}
	}
	recs, _, err := a.Store().Documents(0, 10, nil)
	if err != nil || len(recs) != 3 {
		t.Fatalf("journal: %d records, %v", len(recs), err)
	}
	dataDir := filepath.Dir(a.Store().Path())
	_, _, err = run(t, nil, "", "journal", "export", "--data", dataDir, "--out", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("export while the agent runs: %v, want a hint to stop it", err)
	}
	a.Close()
	out := t.TempDir()
	stdout, _, err := run(t, nil, "", "journal", "export", "--data", dataDir, "--out", out, "--since", "1")
	if err != nil || !strings.Contains(stdout, "exported 2 documents") {
		t.Fatalf("export: %q, %v", stdout, err)
	}
	for _, r := range recs[1:] {
		got, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("%010d-%s.json", r.Counter, r.UUID)))
		if err != nil || !bytes.Equal(got, r.Document) {
			t.Errorf("document %d exported as %d bytes (%v), stored %d", r.Counter, len(got), err, len(r.Document))
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

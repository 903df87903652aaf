package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/kz"
	"github.com/egsd/egsd/stamping/kz/archive"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

const exportedUUID = "0f8fad5b-d9cb-469f-a165-70867728950e"

// writeExport writes an export of one document with one record, as
// `egsd journal export` lays it out, and returns its directory and the
// record's path.
func writeExport(t *testing.T) (dir, recordPath string) {
	t.Helper()
	s := &sale.Sale{Kind: sale.Invoice, Currency: "KZT", Payments: []sale.Payment{{Means: sale.Cash}},
		Lines: []sale.Line{{Name: "Сүт", Quantity: money.MustParse("1"), UnitPrice: money.MustParse("480"), Category: sale.Standard, Rate: money.MustParse("16")}}}
	ticket, err := kz.BuildTicket(s, kz.TicketInput{IssuedAt: time.Date(2026, 3, 14, 12, 30, 0, 0, time.UTC), Operator: kz.Operator{Code: 1, Name: "Кассир"},
		ShiftNumber: 1, ShiftDocumentNumber: 1, SellerTaxID: "940140000385"})
	if err != nil {
		t.Fatal(err)
	}
	doc := (&kz.Request{Command: kz.CommandTicket, Ticket: ticket}).Marshal()
	key, err := keystore.Create(filepath.Join(t.TempDir(), "archive-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := archive.Seal(archive.Facts{Unit: archive.Unit{RNM: "620300000011", ZNM: "EGSD-0001", OFDID: 203539, BIN: "940140000385"},
		Ticket: ticket, FiscalSign: "4228143549", Document: archive.DocumentOf(5, exportedUUID, doc)}, key)
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	recordPath = filepath.Join(dir, archiveDir, archiveFileName(5, 1))
	for path, data := range map[string][]byte{
		filepath.Join(dir, "0000000005-"+exportedUUID+".bin"): doc,
		recordPath: rec,
		filepath.Join(dir, archiveDir, archive.PublicKeyFile): archive.PublicKeyPEM(key.PublicKeyDER()),
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, recordPath
}

// Every single-byte change anywhere in an exported record fails verify,
// naming the record's file.
func TestVerifyArchiveEveryByte(t *testing.T) {
	dir, path := writeExport(t)
	if out, _, err := run(t, nil, "", "verify", dir); err != nil || !strings.Contains(out, "OK "+path+" document 5") {
		t.Fatalf("verify of the export: %v\n%s", err, out)
	}
	rec, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rec {
		edited := bytes.Clone(rec)
		edited[i] ^= 0x01
		if err := os.WriteFile(path, edited, 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		checked, failed, err := verifyExportRecords(IO{Stdout: &out}, dir, "")
		if err != nil || checked != 1 || failed != 1 || !strings.HasPrefix(out.String(), "FAIL "+path+" ") {
			t.Fatalf("byte %d (%q→%q) changed: %d checked, %d failed, %v\n%s", i, rec[i], edited[i], checked, failed, err, out.String())
		}
	}
	t.Logf("%d single-byte edits refused", len(rec))
}

// What is not a readable export is a clear error, and files that are
// not records fail.
func TestVerifyArchiveRefuses(t *testing.T) {
	if _, _, err := run(t, nil, "", "verify", t.TempDir()); err == nil || !strings.Contains(err.Error(), "has no archive directory") {
		t.Errorf("verify of a directory without records: %v", err)
	}

	dir, _ := writeExport(t)
	keyFile := filepath.Join(dir, archiveDir, archive.PublicKeyFile)
	if err := os.Rename(keyFile, filepath.Join(dir, "moved.pem")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, nil, "", "verify", dir); err == nil || !strings.Contains(err.Error(), "--key") {
		t.Errorf("verify without the key: %v, want a hint to give --key", err)
	}
	if out, _, err := run(t, nil, "", "verify", "--key", filepath.Join(dir, "moved.pem"), dir); err != nil || !strings.Contains(out, "OK ") {
		t.Errorf("verify --key: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.pem"), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, nil, "", "verify", "--key", filepath.Join(dir, "bad.pem"), dir); err == nil || !strings.Contains(err.Error(), "PUBLIC KEY") {
		t.Errorf("verify with a bad key: %v", err)
	}

	stray := filepath.Join(dir, archiveDir, "0000000005-1.xml.bak")
	if err := os.WriteFile(stray, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, nil, "", "verify", "--key", filepath.Join(dir, "moved.pem"), dir)
	if err == nil || !strings.Contains(out, "FAIL "+stray+" is not an archive record") || !strings.Contains(err.Error(), "1 of 2 checks failed") {
		t.Errorf("verify with a stray file: %v\n%s", err, out)
	}
}

// A record or document file larger than it may be is refused without
// reading it whole.
func TestVerifyArchiveBoundsReads(t *testing.T) {
	dir, path := writeExport(t)
	big := func(p string, size int64) {
		t.Helper()
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
	}
	big(path, queue.MaxArchiveRecord+1)
	out, _, err := run(t, nil, "", "verify", dir)
	if err == nil || !strings.Contains(out, "FAIL "+path+" the file is larger than the") {
		t.Errorf("verify of an oversized record: %v\n%s", err, out)
	}
	dir, _ = writeExport(t)
	docs, _ := filepath.Glob(filepath.Join(dir, "0000000005-*"))
	big(docs[0], maxExportedDocument+1)
	out, _, err = run(t, nil, "", "verify", dir)
	if err == nil || !strings.Contains(out, "document "+docs[0]+": the file is larger than the") {
		t.Errorf("verify of an oversized document: %v\n%s", err, out)
	}
}

// journal export writes the records of the documents after --since, and
// says so when the unit's archive key cannot be read: the records are
// exported all the same, and verify then asks for the key.
func TestExportArchiveSinceAndWithoutKey(t *testing.T) {
	data := t.TempDir()
	store, err := queue.Open(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		req := queuetest.Request("alice", fmt.Sprint(i), []byte(`{}`))
		stamp := req.Stamp
		req.Stamp = func(slot queue.Slot) (queue.Stamped, error) {
			doc, err := stamp(slot)
			doc.Archive = fmt.Appendf(nil, "<R n=\"%d\"/>", slot.Counter)
			return doc, err
		}
		if _, err := store.Issue(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()
	out := t.TempDir()
	stale := filepath.Join(out, archiveDir, archive.PublicKeyFile) // from an earlier export of another unit
	if err := os.MkdirAll(filepath.Dir(stale), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := run(t, nil, "", "journal", "export", "--data", data, "--out", out, "--since", "1")
	if err != nil || !strings.Contains(stdout, "exported 2 signed archive records") || !strings.Contains(stdout, "the archive's public key is not in the export") {
		t.Fatalf("export: %v\n%s", err, stdout)
	}
	files, _ := filepath.Glob(filepath.Join(out, archiveDir, "*"))
	for i, want := range []string{archiveFileName(2, 1), archiveFileName(3, 1)} {
		if len(files) != 2 || filepath.Base(files[i]) != want {
			t.Fatalf("exported %v, want records 2/1 and 3/1 only", files)
		}
		if got, err := os.ReadFile(files[i]); err != nil || string(got) != fmt.Sprintf("<R n=\"%d\"/>", i+2) {
			t.Errorf("%s = %q, %v", files[i], got, err)
		}
	}
	if _, _, err := run(t, nil, "", "verify", out); err == nil || !strings.Contains(err.Error(), "give the unit's key with --key") {
		t.Errorf("verify of an export without its key: %v", err)
	}
}

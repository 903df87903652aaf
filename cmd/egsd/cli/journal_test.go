package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
)

// journalDoc is a document of about 12 KB in the shape of an invoice's XML.
func journalDoc(slot queue.Slot) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<Invoice><cbc:ID>%d</cbc:ID><cbc:UUID>%s</cbc:UUID><PIH>%s</PIH>`, slot.Counter, slot.UUID, slot.PrevHash)
	for i := range 40 {
		fmt.Fprintf(&b, `<cac:InvoiceLine><cbc:ID>%d</cbc:ID><cbc:InvoicedQuantity unitCode="PCE">%d.000000</cbc:InvoicedQuantity><cac:Item><cbc:Name>Item %d</cbc:Name></cac:Item></cac:InvoiceLine>`, i, i%5+1, i)
	}
	b.WriteString(`</Invoice>`)
	return []byte(b.String())
}

// TestJournalCompactAndExport: compact refuses while the store is open;
// once closed it removes the documents past ZATCA's six years that the
// authority answered, keeps the rest, and shrinks the file; the export
// says where the journal starts and writes every remaining document
// exactly as the stamp gave it.
func TestJournalCompactAndExport(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2015, 6, 1, 10, 0, 0, 0, time.UTC)
	store, err := queue.Open(dir, &queue.Options{NoSync: true, Clock: func() (time.Time, error) { return clock, nil }})
	if err != nil {
		t.Fatal(err)
	}
	given := map[uint64][]byte{} // counter → the bytes the stamp returned
	issue := func(i int, answered bool) {
		t.Helper()
		res, err := store.Issue(context.Background(), &queue.IssueRequest{
			User: "ana", IdempotencyKey: fmt.Sprint("k", i), Regime: "zatca", Kind: "invoice", Submit: true,
			UUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), GenesisHash: "genesis",
			Stamp: func(slot queue.Slot) (queue.Stamped, error) {
				doc := journalDoc(slot)
				sum := sha256.Sum256(doc)
				given[slot.Counter] = bytes.Clone(doc)
				return queue.Stamped{Bytes: doc, ContentType: "application/xml", Hash: hex.EncodeToString(sum[:])}, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if answered {
			if err := store.RecordAnswer(res.Record.Counter, queue.Answer{Status: queue.StatusAccepted, Body: []byte(`{"reportingStatus":"REPORTED"}`), At: clock}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 30 { // 2015: past six years, answered
		issue(i, true)
	}
	issue(30, false) // 2015, but never answered: it and all after it stay
	issue(31, true)
	clock = time.Now()
	issue(32, true)

	if _, _, err := run(t, nil, "", "journal", "compact", "--data", dir); err == nil || !strings.Contains(err.Error(), "stop the service") {
		t.Fatalf("compact while the store is open: %v, want a hint to stop the service", err)
	}
	store.Close()
	out, _, err := run(t, nil, "", "journal", "compact", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"removed 30 documents (1–30)", "past their 6 years", "kept from document 31 on: document 31 has not been delivered", "checked 33 documents", "the store file went from"} {
		if !strings.Contains(out, want) {
			t.Errorf("compact said %q; want it to say %q", out, want)
		}
	}

	exported := t.TempDir()
	out, _, err = run(t, nil, "", "journal", "export", "--data", dir, "--out", exported)
	if err != nil || !strings.Contains(out, "documents 1–30 were pruned") || !strings.Contains(out, "exported 3 documents") {
		t.Fatalf("export: %q, %v", out, err)
	}
	files, err := filepath.Glob(filepath.Join(exported, "*.xml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("exported %v, %v", files, err)
	}
	for i, f := range files {
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if want := given[uint64(31+i)]; !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes that differ from the %d the stamp gave", f, len(got), len(want))
		}
	}

	store, err = queue.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rep, err := store.Check(queue.CheckOptions{Rehash: func(_ string, doc []byte) (string, error) {
		sum := sha256.Sum256(doc)
		return hex.EncodeToString(sum[:]), nil
	}})
	if err != nil || rep.Pruned != 30 || rep.Documents != 33 {
		t.Errorf("check after compact: %+v, %v", rep, err)
	}
	if _, err := store.Document(5); !errors.Is(err, queue.ErrPruned) {
		t.Errorf("document 5 after compact: %v, want it pruned", err)
	}
}

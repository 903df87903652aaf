package queue_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	bolt "go.etcd.io/bbolt"
)

var bucketAnswers = []byte("answers")

// xmlLike is a document body of about 15 KB that repeats itself the way
// an invoice's XML does (namespaces, tags, lines), with a random part that
// does not compress (a signature, a certificate).
func xmlLike(t testing.TB, lines int) []byte {
	t.Helper()
	noise := make([]byte, 1200)
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range lines {
		fmt.Fprintf(&b, `<cac:InvoiceLine><cbc:ID>%d</cbc:ID><cbc:InvoicedQuantity unitCode="PCE">%d.000000</cbc:InvoicedQuantity>`+
			`<cbc:LineExtensionAmount currencyID="SAR">%d.35</cbc:LineExtensionAmount><cac:Item><cbc:Name>Item %d</cbc:Name>`+
			`<cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>15.00</cbc:Percent></cac:ClassifiedTaxCategory></cac:Item></cac:InvoiceLine>`, i, i%7+1, i*3, i)
	}
	body, err := json.Marshal(map[string]string{"xml": b.String(), "signature": fmt.Sprintf("%x", noise)})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// issueWithAnswer issues body for the outbox and records answer for it.
func issueWithAnswer(t *testing.T, s *queue.Store, key string, body, answer []byte) *queue.Record {
	t.Helper()
	req := queuetest.Request("alice", key, body)
	req.Submit = true
	res, err := s.Issue(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if answer != nil {
		if err := s.RecordAnswer(res.Record.Counter, queue.Answer{Status: queue.StatusAccepted, Body: answer, At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	return res.Record
}

// TestPackedValuesRoundTrip stores documents and answers that compress,
// that do not, and that are tiny, and reads every one back byte for byte
// through each reader, before and after reopening the file; Check rehashes
// what it unpacks. Large compressible documents must take less room than
// their bytes.
func TestPackedValuesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openChecked(t, dir, &queue.Options{NoSync: true})
	random := make([]byte, 9000)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	randomBody, err := json.Marshal(map[string][]byte{"noise": random})
	if err != nil {
		t.Fatal(err)
	}
	bigAnswer := bytes.Repeat([]byte(`{"validationResults":{"status":"PASS","infoMessages":[{"type":"INFO","code":"XSD_ZATCA_VALID"}]}}`), 80)
	bodies := [][]byte{xmlLike(t, 60), randomBody, []byte(`{"n":1}`), xmlLike(t, 3)}
	answers := [][]byte{bigAnswer, random, nil, []byte("ok")}
	var recs []*queue.Record
	for i, b := range bodies {
		recs = append(recs, issueWithAnswer(t, s, fmt.Sprint("k", i), b, answers[i]))
	}
	check := func(s *queue.Store) {
		t.Helper()
		for i, want := range recs {
			byCounter, err := s.Document(want.Counter)
			if err != nil {
				t.Fatal(err)
			}
			byUUID, err := s.DocumentByUUID(want.UUID)
			if err != nil {
				t.Fatal(err)
			}
			listed, _, err := s.Documents(want.Counter-1, 1, nil)
			if err != nil || len(listed) != 1 {
				t.Fatalf("Documents(%d) = %d records, %v", want.Counter-1, len(listed), err)
			}
			for _, got := range []*queue.Record{byCounter, byUUID, listed[0]} {
				if !bytes.Equal(got.Document, want.Document) {
					t.Errorf("document %d: read %d bytes that differ from the %d issued", want.Counter, len(got.Document), len(want.Document))
				}
				if !bytes.Equal(got.Answer, answers[i]) {
					t.Errorf("document %d: answer of %d bytes read back as %d bytes that differ", want.Counter, len(answers[i]), len(got.Answer))
				}
			}
		}
		if _, err := s.Check(queue.CheckOptions{Rehash: queuetest.Rehash}); err != nil {
			t.Fatal(err)
		}
	}
	check(s)
	s.Close()
	stored := map[uint64]int{}
	editFile(t, dir, func(tx *bolt.Tx) {
		for _, r := range recs {
			stored[r.Counter] = len(mustBucket(t, tx, bucketDocuments).Get(u64(r.Counter)))
		}
		if got := len(mustBucket(t, tx, bucketAnswers).Get(u64(recs[0].Counter))); got*4 > len(bigAnswer) {
			t.Errorf("an answer of %d repetitive bytes is stored in %d", len(bigAnswer), got)
		}
		if v := mustBucket(t, tx, bucketJournal).Get(u64(recs[0].Counter)); bytes.Contains(v, []byte(`"answer"`)) {
			t.Errorf("the journal record still carries the answer inline: %s", v)
		}
	})
	if big := recs[0]; stored[big.Counter]*3 > len(big.Document) {
		t.Errorf("a %d-byte repetitive document is stored in %d bytes", len(big.Document), stored[big.Counter])
	}
	if noisy := recs[1]; stored[noisy.Counter] > len(noisy.Document)+1 {
		t.Errorf("a %d-byte document that does not compress is stored in %d bytes (more than one format byte extra)", len(noisy.Document), stored[noisy.Counter])
	}
	s = openChecked(t, dir, nil)
	check(s)
}

// TestCheckFindsDamagedPackedValue flips one byte inside a compressed
// document and inside a compressed answer: Check names each, and reading
// the document fails instead of returning other bytes.
func TestCheckFindsDamagedPackedValue(t *testing.T) {
	for _, tc := range []struct {
		bucket []byte
		want   string
	}{
		{bucketDocuments, "journal[1]: document bytes of 1: stored value is damaged"},
		{bucketAnswers, "journal[1]: answer of 1: stored value is damaged"},
	} {
		t.Run(string(tc.bucket), func(t *testing.T) {
			dir := t.TempDir()
			s, err := queue.Open(dir, &queue.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			big := xmlLike(t, 60)
			issueWithAnswer(t, s, "k1", big, big)
			issueWithAnswer(t, s, "k2", xmlLike(t, 5), nil)
			s.Close()
			editFile(t, dir, func(tx *bolt.Tx) {
				b := mustBucket(t, tx, tc.bucket)
				v := bytes.Clone(b.Get(u64(1)))
				if v[0] != 1 {
					t.Fatalf("value is stored in format %d, not zstd", v[0])
				}
				v[len(v)/2] ^= 0x20
				if err := b.Put(u64(1), v); err != nil {
					t.Fatal(err)
				}
			})
			s, err = queue.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.Check(queue.CheckOptions{Rehash: queuetest.Rehash})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v, want it to report %q", err, tc.want)
			}
			if r, err := s.Document(1); err == nil {
				t.Errorf("Document(1) read %d bytes from a damaged value", len(r.Document))
			}
		})
	}
}

// TestPackingShrinksTheFile issues the same repetitive documents into a
// store and compares the file with the bytes given: the file must be
// smaller than the documents alone.
func TestPackingShrinksTheFile(t *testing.T) {
	dir := t.TempDir()
	s := openChecked(t, dir, &queue.Options{NoSync: true})
	doc := xmlLike(t, 60)
	total := 0
	for i := range 300 {
		r := issueWithAnswer(t, s, fmt.Sprint("k", i), doc, doc)
		total += len(r.Document) + len(doc)
	}
	s.Close()
	fi, err := os.Stat(filepath.Join(dir, queue.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size()*2 > int64(total) {
		t.Errorf("the file is %d bytes for %d bytes of documents and answers", fi.Size(), total)
	}
	openChecked(t, dir, nil)
}

// TestDictionary: from the 32nd document on, documents and answers are
// packed against a dictionary made of the store's earlier ones, take a
// fraction of the room packed alone, and read back byte for byte; a store
// that lost its dictionary fails the check on every value that used it.
func TestDictionary(t *testing.T) {
	dir := t.TempDir()
	s, err := queue.Open(dir, &queue.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var recs []*queue.Record
	var answers [][]byte
	for i := range 40 {
		doc := xmlLike(t, 60)
		answers = append(answers, append([]byte(`{"clearedInvoice":"`), doc...))
		recs = append(recs, issueWithAnswer(t, s, fmt.Sprint("k", i), doc, answers[i]))
	}
	for i, want := range recs {
		got, err := s.Document(want.Counter)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Document, want.Document) || !bytes.Equal(got.Answer, answers[i]) {
			t.Errorf("document %d does not read back as issued", want.Counter)
		}
	}
	if _, err := s.Check(queue.CheckOptions{Rehash: queuetest.Rehash}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	editFile(t, dir, func(tx *bolt.Tx) {
		docs, ans := mustBucket(t, tx, bucketDocuments), mustBucket(t, tx, bucketAnswers)
		alone, withDict := docs.Get(u64(31)), docs.Get(u64(32))
		if alone[0] != 1 || withDict[0] != 2 || ans.Get(u64(32))[0] != 2 {
			t.Fatalf("formats of documents 31 and 32, answer 32: %d, %d, %d; want zstd, then with the dictionary", alone[0], withDict[0], ans.Get(u64(32))[0])
		}
		if len(withDict)*4 > len(alone)*3 {
			t.Errorf("document 32 takes %d bytes against the dictionary, document 31 %d alone", len(withDict), len(alone))
		}
		if err := tx.DeleteBucket([]byte("pack_dictionaries")); err != nil {
			t.Fatal(err)
		}
	})
	s, err = queue.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Check(queue.CheckOptions{Rehash: queuetest.Rehash})
	if err == nil || !strings.Contains(err.Error(), "journal[32]: record of 32: stored value is damaged: its dictionary") {
		t.Errorf("Check without the dictionary = %v", err)
	}
	if _, err := s.Document(30); err != nil {
		t.Errorf("a document packed without the dictionary no longer reads: %v", err)
	}
}

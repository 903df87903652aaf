package queue_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	bolt "go.etcd.io/bbolt"
)

var bucketArchive = []byte("archive")

// xmlRecord is a well-formed record naming its document and what it says.
func xmlRecord(counter uint64, what string) []byte {
	return fmt.Appendf(nil, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<R counter=\"%d\">%s</R>\n", counter, what)
}

// issueArchived issues a submitted document whose stamp gives it archive
// (nil: none).
func issueArchived(t *testing.T, s *queue.Store, key string, archive func(queue.Slot) []byte) (*queue.Record, error) {
	t.Helper()
	req := queuetest.Request("alice", key, body(len(key)))
	req.Submit = true
	stamp := req.Stamp
	req.Stamp = func(slot queue.Slot) (queue.Stamped, error) {
		doc, err := stamp(slot)
		if archive != nil {
			doc.Archive = archive(slot)
		}
		return doc, err
	}
	res, err := s.Issue(context.Background(), req)
	return res.Record, err
}

func wantArchive(t *testing.T, s *queue.Store, counter uint64, want ...[]byte) {
	t.Helper()
	got, err := s.Archive(counter)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("document %d has %d archive records, want %d", counter, len(got), len(want))
	}
	for i, r := range got {
		if r.Counter != counter || r.Seq != i+1 || !bytes.Equal(r.XML, want[i]) {
			t.Errorf("document %d record %d = %d/%d %q, want %d/%d %q", counter, i, r.Counter, r.Seq, r.XML, counter, i+1, want[i])
		}
	}
}

// A record given with the issue is stored with the document; one given
// with the answer follows it; both are read back in order, byte for byte.
func TestArchiveIssueAndAnswer(t *testing.T) {
	s := queuetest.OpenWithRehash(t, nil, queuetest.Rehash)
	first := xmlRecord(1, "autonomous")
	r1, err := issueArchived(t, s, "1", func(slot queue.Slot) []byte { return xmlRecord(slot.Counter, "autonomous") })
	if err != nil {
		t.Fatal(err)
	}
	r2, err := issueArchived(t, s, "2", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantArchive(t, s, r1.Counter, first)
	wantArchive(t, s, r2.Counter)

	second := xmlRecord(1, "accepted")
	if err := s.RecordAnswer(r1.Counter, queue.Answer{Status: queue.StatusAccepted, At: t0, Archive: second}); err != nil {
		t.Fatal(err)
	}
	online := xmlRecord(2, "accepted")
	if err := s.RecordAnswer(r2.Counter, queue.Answer{Status: queue.StatusAccepted, At: t0, Archive: online}); err != nil {
		t.Fatal(err)
	}
	wantArchive(t, s, r1.Counter, first, second)
	wantArchive(t, s, r2.Counter, online)
	if rep, err := s.Check(queue.CheckOptions{}); err != nil || rep.Archive != 3 {
		t.Errorf("Check = %d archive records, %v; want 3", rep.Archive, err)
	}
}

// A record that is not well-formed XML, empty or too large refuses the
// issue: no document, no record, the counter unchanged.
func TestArchiveIssueRefused(t *testing.T) {
	s := queuetest.Open(t, nil)
	for name, rec := range map[string][]byte{
		"not XML":       []byte("<R>unclosed"),
		"two roots":     []byte("<R/><S/>"),
		"text outside":  []byte("<R/>tail"),
		"empty":         {},
		"too large":     append(append([]byte("<R>"), bytes.Repeat([]byte("x"), queue.MaxArchiveRecord)...), "</R>"...),
		"bad character": []byte("<R>\x01</R>"),
	} {
		_, err := issueArchived(t, s, name, func(queue.Slot) []byte { return rec })
		if !errors.Is(err, queue.ErrArchiveRecord) {
			t.Errorf("%s: Issue err = %v, want ErrArchiveRecord", name, err)
		}
	}
	if h := head(t, s); h.Counter != 0 {
		t.Errorf("head after refused issues = %d, want 0", h.Counter)
	}
	if recs, _, err := s.ArchiveRecords(0, 10); err != nil || len(recs) != 0 {
		t.Errorf("archive after refused issues = %d records, %v", len(recs), err)
	}
}

// An answer and its record are stored together or not at all: an answer
// refused before it writes, and one that fails after its writes (the
// document's records are full), leave neither the answer nor the record.
func TestArchiveAtomicWithAnswer(t *testing.T) {
	s := queuetest.Open(t, nil)
	r1, err := issueArchived(t, s, "1", nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := issueArchived(t, s, "2", nil)
	if err != nil {
		t.Fatal(err)
	}
	pending := func(counter uint64) {
		t.Helper()
		rec, err := s.Document(counter)
		if err != nil || rec.Status != queue.StatusPending || len(rec.Answer) != 0 {
			t.Errorf("document %d = %+v, %v; want still pending, no answer", counter, rec, err)
		}
		if st, err := s.OutboxStats(); err != nil || st.Pending != 2 {
			t.Errorf("outbox = %+v, %v; want both documents", st, err)
		}
	}

	// Refused before writing: the record is not well-formed.
	err = s.RecordAnswer(r1.Counter, queue.Answer{Status: queue.StatusAccepted, At: t0, Body: []byte("a"), Archive: []byte("<R>")})
	if !errors.Is(err, queue.ErrArchiveRecord) {
		t.Fatalf("answer with a malformed record: err = %v, want ErrArchiveRecord", err)
	}
	pending(r1.Counter)
	wantArchive(t, s, r1.Counter)

	// Failing after the answer's writes: document 2 has every record it
	// may have, so its next one fails once the answer is written.
	var full [][]byte
	for i := range queue.MaxArchivePerDocument {
		rec := xmlRecord(2, fmt.Sprint(i))
		full = append(full, rec)
		if err := s.Update(func(tx *queue.Tx) error { return tx.AppendArchive(r2.Counter, rec) }); err != nil {
			t.Fatal(err)
		}
	}
	err = s.RecordAnswer(r2.Counter, queue.Answer{Status: queue.StatusAccepted, At: t0, Body: []byte("a"), Archive: xmlRecord(2, "one too many")})
	if err == nil || !strings.Contains(err.Error(), "records already") {
		t.Fatalf("answer whose record cannot be stored: err = %v, want the refusal of the record", err)
	}
	pending(r2.Counter)
	wantArchive(t, s, r2.Counter, full...)

	// A document answered already takes no record with a second answer.
	if err := s.RecordAnswer(r1.Counter, queue.Answer{Status: queue.StatusAccepted, At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAnswer(r1.Counter, queue.Answer{Status: queue.StatusAccepted, At: t0, Archive: xmlRecord(1, "again")}); err == nil {
		t.Error("a second answer was taken")
	}
	wantArchive(t, s, r1.Counter)
}

// Tx.AppendArchive refuses a record of a document that does not exist.
func TestAppendArchiveUnknownDocument(t *testing.T) {
	s := queuetest.Open(t, nil)
	err := s.Update(func(tx *queue.Tx) error { return tx.AppendArchive(1, xmlRecord(1, "x")) })
	if !errors.Is(err, queue.ErrArchiveRecord) || !strings.Contains(err.Error(), "document 1 does not exist") {
		t.Errorf("AppendArchive(1) on an empty journal: err = %v", err)
	}
}

// ArchiveRecords pages by whole documents, in counter and record order.
func TestArchiveRecordsPages(t *testing.T) {
	s := queuetest.Open(t, &queue.Options{NoSync: true})
	var want []string
	for i := range 7 {
		r, err := issueArchived(t, s, fmt.Sprint(i), func(slot queue.Slot) []byte { return xmlRecord(slot.Counter, "1") })
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%d/1", r.Counter))
		if r.Counter%2 == 0 { // even documents get a second record
			if err := s.RecordAnswer(r.Counter, queue.Answer{Status: queue.StatusAccepted, At: t0, Archive: xmlRecord(r.Counter, "2")}); err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("%d/2", r.Counter))
		}
	}
	var got []string
	pages := 0
	for since := uint64(0); ; pages++ {
		recs, next, err := s.ArchiveRecords(since, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range recs {
			got = append(got, fmt.Sprintf("%d/%d", r.Counter, r.Seq))
			if !bytes.Equal(r.XML, xmlRecord(r.Counter, fmt.Sprint(r.Seq))) {
				t.Errorf("record %d/%d = %q", r.Counter, r.Seq, r.XML)
			}
			if i > 0 && r.Counter == recs[i-1].Counter && r.Seq != recs[i-1].Seq+1 {
				t.Errorf("records out of order: %v", got)
			}
		}
		if next == 0 {
			break
		}
		if last := recs[len(recs)-1]; next != last.Counter {
			t.Fatalf("next = %d, want the last document of the page %d", next, last.Counter)
		}
		since = next
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("paged archive = %v, want %v", got, want)
	}
	if pages < 2 {
		t.Errorf("%d pages of 3 for %d records", pages+1, len(want))
	}
}

// A schema 4 file has no archive bucket: opening it migrates to schema 5
// with an empty archive, the documents as they were, and records can be
// stored.
func TestArchiveMigrationFromSchema4(t *testing.T) {
	dir := t.TempDir()
	s := openChecked(t, dir, nil)
	r1, err := issueArchived(t, s, "1", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	editFile(t, dir, func(tx *bolt.Tx) {
		if err := tx.DeleteBucket(bucketArchive); err != nil {
			t.Fatal(err)
		}
		mustBucket(t, tx, bucketMeta).Put(keySchema, u64(4))
	})
	s = openChecked(t, dir, nil)
	if got, err := s.Document(r1.Counter); err != nil || !sameRecord(got, r1) {
		t.Fatalf("document after the migration = %+v, %v", got, err)
	}
	wantArchive(t, s, r1.Counter)
	rec := xmlRecord(1, "after")
	if err := s.RecordAnswer(r1.Counter, queue.Answer{Status: queue.StatusAccepted, At: t0, Archive: rec}); err != nil {
		t.Fatal(err)
	}
	wantArchive(t, s, r1.Counter, rec)
	s.Close()
	editFile(t, dir, func(tx *bolt.Tx) {
		if v := binary.BigEndian.Uint64(mustBucket(t, tx, bucketMeta).Get(keySchema)); v != queue.SchemaVersion {
			t.Errorf("schema after the migration = %d, want %d", v, queue.SchemaVersion)
		}
	})
}

// Check finds gaps, records of missing documents, records that are not
// well-formed, and the caller's verification failures.
func TestCheckArchive(t *testing.T) {
	setup := func(t *testing.T) (*queue.Store, string) {
		dir := t.TempDir()
		s, err := queue.Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if _, err := issueArchived(t, s, fmt.Sprint(i), func(slot queue.Slot) []byte { return xmlRecord(slot.Counter, "1") }); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Update(func(tx *queue.Tx) error { return tx.AppendArchive(2, xmlRecord(2, "2")) }); err != nil {
			t.Fatal(err)
		}
		s.Close()
		return s, dir
	}
	key := func(counter uint64, seq uint32) []byte {
		return append(u64(counter), byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq))
	}
	for name, tc := range map[string]struct {
		edit func(t *testing.T, b *bolt.Bucket)
		want string
	}{
		"gap":              {func(t *testing.T, b *bolt.Bucket) { mustDelete(t, b, key(2, 1)) }, "archive[2/2]: record 2 of its document follows 0"},
		"missing document": {func(t *testing.T, b *bolt.Bucket) { b.Put(key(9, 1), xmlRecord(9, "1")) }, "archive[9/1]: document 9 does not exist"},
		"not XML":          {func(t *testing.T, b *bolt.Bucket) { b.Put(key(1, 1), []byte("<R")) }, "archive[1/1]: archive record refused: not well-formed XML"},
		"short key":        {func(t *testing.T, b *bolt.Bucket) { b.Put(u64(1), xmlRecord(1, "1")) }, "is not a counter and a sequence number"},
	} {
		t.Run(name, func(t *testing.T) {
			_, dir := setup(t)
			editFile(t, dir, func(tx *bolt.Tx) { tc.edit(t, mustBucket(t, tx, bucketArchive)) })
			s, err := queue.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.Check(queue.CheckOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v, want %q", err, tc.want)
			}
		})
	}

	t.Run("verification", func(t *testing.T) {
		_, dir := setup(t)
		s, err := queue.Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var seen []string
		rep, err := s.Check(queue.CheckOptions{Archive: func(r queue.ArchiveRecord, doc *queue.Record) error {
			seen = append(seen, fmt.Sprintf("%d/%d", r.Counter, r.Seq))
			if doc.Counter != r.Counter || len(doc.Document) == 0 {
				return fmt.Errorf("given document %d with %d bytes", doc.Counter, len(doc.Document))
			}
			if !bytes.Contains(r.XML, fmt.Appendf(nil, `counter="%d"`, doc.Counter)) {
				return errors.New("names another document")
			}
			if r.Seq == 2 {
				return errors.New("signature does not verify")
			}
			return nil
		}})
		if fmt.Sprint(seen) != "[1/1 2/1 2/2]" || rep.Archive != 3 {
			t.Errorf("Check verified %v (%d records), want [1/1 2/1 2/2]", seen, rep.Archive)
		}
		if err == nil || !strings.Contains(err.Error(), "archive[2/2]: signature does not verify") || strings.Contains(err.Error(), "archive[1/1]") {
			t.Errorf("Check = %v, want only archive[2/2]'s failure", err)
		}
	})
}

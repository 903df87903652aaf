package queue

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bigStamp stamps a document of about 10 KB that compresses well.
func bigStamp(slot Slot) (Stamped, error) {
	b := []byte(fmt.Sprintf(`{"counter":%d,"prev":%q,"uuid":%q,"lines":%q}`, slot.Counter, slot.PrevHash, slot.UUID,
		strings.Repeat("<cac:InvoiceLine><cbc:ID>1</cbc:ID></cac:InvoiceLine>", 200)))
	sum := sha256.Sum256(b)
	return Stamped{Bytes: b, Hash: hex.EncodeToString(sum[:])}, nil
}

// unpackRecord rewrites document counter in the layout of schema 4, the
// last before packing: the document's bytes raw, the answer inline in the
// journal record's JSON, no answers bucket entry, no Packed flag.
func unpackRecord(t *testing.T, tx *bolt.Tx, counter uint64) {
	t.Helper()
	r, err := getRecord(tx, counter)
	if err != nil {
		t.Fatal(err)
	}
	key := u64(counter)
	if err := tx.Bucket(bucketDocuments).Put(key, r.Document); err != nil {
		t.Fatal(err)
	}
	if err := tx.Bucket(bucketAnswers).Delete(key); err != nil {
		t.Fatal(err)
	}
	meta := *r
	meta.Document = nil
	// The schema 4 storedRecord: the record and its status number, nothing else.
	old := struct {
		*Record
		Status int `json:"status"`
	}{&meta, int(r.Status)}
	if err := putJSON(tx.Bucket(bucketJournal), key, old); err != nil {
		t.Fatal(err)
	}
}

// TestOpenMigratesUnpackedStore opens a schema-4 store whose documents and
// answers were stored before packing: they read back byte for byte, the
// check passes, documents issued after the upgrade are packed, and an
// answer recorded for an old pending document goes to the answers bucket
// while its document stays as stored.
func TestOpenMigratesUnpackedStore(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(key string, submit bool) *Record {
		t.Helper()
		req := request("alice", key, key, bigStamp)
		req.Submit = submit
		res, err := s.Issue(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return res.Record
	}
	answered, pending := issue("1", true), issue("2", true)
	answer := bytes.Repeat([]byte(`{"status":"REPORTED"}`), 100)
	if err := s.RecordAnswer(answered.Counter, Answer{Status: StatusAccepted, Body: answer, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(dir+"/"+FileName, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		unpackRecord(t, tx, answered.Counter)
		unpackRecord(t, tx, pending.Counter)
		if err := tx.DeleteBucket(bucketAnswers); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(4))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s, err = Open(dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checked := func() {
		t.Helper()
		if _, err := s.Check(CheckOptions{Rehash: rehashOf}); err != nil {
			t.Fatal(err)
		}
	}
	checked()
	got, err := s.Document(answered.Counter)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Document, answered.Document) || !bytes.Equal(got.Answer, answer) || got.packed {
		t.Errorf("old document %d: read %d document bytes (packed %v) and %d answer bytes, want them as stored",
			answered.Counter, len(got.Document), got.packed, len(got.Answer))
	}
	if err := s.RecordAnswer(pending.Counter, Answer{Status: StatusAccepted, Body: answer, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	fresh := issue("3", false)
	checked()
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketDocuments).Get(u64(pending.Counter)); !bytes.Equal(v, pending.Document) {
			t.Errorf("the old document's bytes were rewritten by its answer")
		}
		if tx.Bucket(bucketAnswers).Get(u64(pending.Counter)) == nil {
			t.Errorf("the answer recorded after the upgrade is not in the answers bucket")
		}
		if v := tx.Bucket(bucketDocuments).Get(u64(fresh.Counter)); len(v) == 0 || v[0] != formatZstd {
			t.Errorf("a document issued after the upgrade is not packed")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*Record{answered, pending, fresh} {
		got, err := s.Document(want.Counter)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Document, want.Document) {
			t.Errorf("document %d does not read back as issued", want.Counter)
		}
	}
}

// TestCompactShrinksAndLosesNothing compacts a store whose older half was
// stored before compression, pruning its oldest documents: the file
// shrinks, the older documents are compressed, every remaining document
// and answer reads back as issued, the check passes, and the new file is
// in place of the old one.
func TestCompactShrinksAndLosesNothing(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := Open(dir, &Options{NoSync: true, Clock: func() (time.Time, error) { return clock, nil }})
	if err != nil {
		t.Fatal(err)
	}
	answer := bytes.Repeat([]byte(`{"status":"REPORTED"}`), 100)
	var recs []*Record
	for i := range 400 {
		clock = clock.Add(time.Hour)
		req := request("alice", fmt.Sprint(i), fmt.Sprint(i), bigStamp)
		req.Submit = true
		res, err := s.Issue(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RecordAnswer(res.Record.Counter, Answer{Status: StatusAccepted, Body: answer, At: clock}); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, res.Record)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		for _, r := range recs[:200] {
			unpackRecord(t, tx, r.Counter)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	rep, err := Compact(dir, CompactOptions{Rehash: rehashOf, Prune: func(s *Store) (PruneReport, error) {
		return s.Prune(PruneOptions{Before: recs[100].IssuedAt})
	}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pruned.Removed != 100 || rep.Repacked != 100 || rep.After >= rep.Before || rep.Check.Documents != 400 {
		t.Errorf("Compact = %+v, want 100 pruned, 100 compressed, a smaller file", rep)
	}
	if size, err := fileSize(dir + "/" + FileName); err != nil || size != rep.After {
		t.Errorf("file is %d bytes (%v), the report says %d", size, err, rep.After)
	}
	s, err = Open(dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Check(CheckOptions{Rehash: rehashOf}); err != nil {
		t.Fatal(err)
	}
	for _, want := range recs[100:] {
		got, err := s.Document(want.Counter)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Document, want.Document) || !bytes.Equal(got.Answer, answer) || !got.packed {
			t.Errorf("document %d after compaction: %d document bytes, %d answer bytes, packed %v", want.Counter, len(got.Document), len(got.Answer), got.packed)
		}
	}
	if _, err := s.Document(recs[99].Counter); !errors.Is(err, ErrPruned) {
		t.Errorf("document %d after compaction: %v, want it pruned", recs[99].Counter, err)
	}
}

// TestCompactRefusesAnOpenOrDamagedStore: while another handle holds the
// file, Compact fails with ErrLocked; a store that does not check keeps
// every key and value as it was, and no new file is left beside it.
func TestCompactRefusesAnOpenOrDamagedStore(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.Issue(context.Background(), request("alice", fmt.Sprint(i), "b", bigStamp)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Compact(dir, CompactOptions{}); !errors.Is(err, ErrLocked) {
		t.Errorf("Compact of an open store = %v, want ErrLocked", err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDocuments).Put(u64(2), []byte("\x00tampered"))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := dumpFile(t, dir)
	if _, err := Compact(dir, CompactOptions{Rehash: rehashOf}); err == nil || !strings.Contains(err.Error(), "left as it was") {
		t.Errorf("Compact of a damaged store = %v", err)
	}
	if after := dumpFile(t, dir); !maps.Equal(before, after) {
		t.Errorf("Compact changed the contents of a store that does not check")
	}
	if _, err := os.Stat(dir + "/" + FileName + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a compacted copy was left beside the store: %v", err)
	}
}

// dumpFile returns every bucket's keys and values of the closed store in dir.
func dumpFile(t *testing.T, dir string) map[string]string {
	t.Helper()
	db, err := bolt.Open(dir+"/"+FileName, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				out[string(name)+"/"+string(k)] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDictionaryWaitsForAnswers: while the authority has answered too few
// of the latest documents, no dictionary is made (it would pack answers
// badly); once enough are answered, the next document makes it with their
// answers in it; a unit that gets no answers by document 1024 makes it
// from documents alone.
func TestDictionaryWaitsForAnswers(t *testing.T) {
	s, err := Open(t.TempDir(), &Options{NoSync: true, MaxBatch: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	issue := func(key string) *Record {
		t.Helper()
		req := request("alice", key, key, bigStamp)
		req.Submit = true
		res, err := s.Issue(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return res.Record
	}
	dictionary := func() []byte {
		var d []byte
		s.db.View(func(tx *bolt.Tx) error {
			_, v := tx.Bucket(bucketDictionaries).Cursor().First()
			d = bytes.Clone(v)
			return nil
		})
		return d
	}
	for i := range 40 {
		issue(fmt.Sprint(i))
	}
	if d := dictionary(); d != nil {
		t.Fatalf("a dictionary of %d bytes was made before any answer", len(d))
	}
	answer := []byte(`{"validationResults":{"status":"PASS"},"reportingStatus":"REPORTED"}`)
	for c := uint64(30); c < 34; c++ {
		if err := s.RecordAnswer(c, Answer{Status: StatusAccepted, Body: answer, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	issue("41")
	if d := dictionary(); !bytes.Contains(d, answer) {
		t.Errorf("the dictionary made once four documents were answered has no answer (%d bytes)", len(d))
	}

	s2, err := Open(t.TempDir(), &Options{NoSync: true, MaxBatch: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var wg sync.WaitGroup
	for i := range dictionaryLatest - 1 {
		wg.Go(func() {
			if _, err := s2.Issue(context.Background(), request("alice", fmt.Sprint(i), "b", stampOf)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s, s2 = s2, s
	if d := dictionary(); d != nil {
		t.Fatalf("a dictionary was made before document %d without answers", dictionaryLatest)
	}
	issue("last")
	if d := dictionary(); len(d) == 0 {
		t.Errorf("no dictionary from documents alone at document %d", dictionaryLatest)
	}
}

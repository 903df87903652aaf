package queue

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
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

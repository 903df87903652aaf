package queue_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	bolt "go.etcd.io/bbolt"
)

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := openChecked(t, dir, nil)
	var recs []*queue.Record
	for i := range 10 {
		recs = append(recs, queuetest.Issue(t, s, "alice", fmt.Sprint(i), body(i)).Record)
	}
	id1, err := s.Identity()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openChecked(t, dir, nil)
	if id2, err := s.Identity(); err != nil || id2.DeviceID != id1.DeviceID || !id2.CreatedAt.Equal(id1.CreatedAt) {
		t.Errorf("Identity after reopen = %+v, %v; want %+v", id2, err, id1)
	}
	if h := head(t, s); h.Counter != 10 || h.Hash != recs[9].Hash {
		t.Fatalf("Head after reopen = %+v, want 10/%s", h, recs[9].Hash)
	}
	for _, want := range recs {
		if got, err := s.Document(want.Counter); err != nil || !sameRecord(got, want) {
			t.Errorf("Document(%d) after reopen = %+v, %v", want.Counter, got, err)
		}
	}
	// Idempotency keys survive too.
	if res := queuetest.Issue(t, s, "alice", "3", body(3)); !res.Replayed || res.Record.Counter != 4 {
		t.Errorf("resend after reopen = %+v", res)
	}
	for i := 10; i < 20; i++ {
		res := queuetest.Issue(t, s, "alice", fmt.Sprint(i), body(i))
		if res.Record.Counter != uint64(i+1) {
			t.Fatalf("issue %d after reopen took counter %d", i, res.Record.Counter)
		}
		if i == 10 && res.Record.PrevHash != recs[9].Hash {
			t.Errorf("document 11 chains to %q, want document 10's hash %q", res.Record.PrevHash, recs[9].Hash)
		}
	}
	if n := auditCount(t, s); n != 20 {
		t.Errorf("audit has %d entries, want 20", n)
	}
}

func TestSchemaTooNew(t *testing.T) {
	dir := t.TempDir()
	s, err := queue.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	editFile(t, dir, func(tx *bolt.Tx) {
		mustBucket(t, tx, bucketMeta).Put(keySchema, u64(queue.SchemaVersion+1))
	})

	_, err = queue.Open(dir, nil)
	var se *queue.SchemaError
	if !errors.As(err, &se) || se.Found != queue.SchemaVersion+1 || se.Known != queue.SchemaVersion {
		t.Fatalf("Open of a newer file: err = %v, want SchemaError{%d, %d}", err, queue.SchemaVersion+1, queue.SchemaVersion)
	}
	// The refused open left the file as it was.
	editFile(t, dir, func(tx *bolt.Tx) {
		if v := binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keySchema)); v != queue.SchemaVersion+1 {
			t.Errorf("schema_version is %d after a refused open, want %d", v, queue.SchemaVersion+1)
		}
	})
}

func TestSchemaWithoutMigration(t *testing.T) {
	dir := t.TempDir()
	s, err := queue.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	editFile(t, dir, func(tx *bolt.Tx) { mustBucket(t, tx, bucketMeta).Put(keySchema, u64(0)) })
	if _, err := queue.Open(dir, nil); err == nil {
		t.Error("Open of a schema 0 file with no migration succeeded")
	}
}

func TestLocked(t *testing.T) {
	s := queuetest.Open(t, nil)
	dir := filepath.Dir(s.Path())
	other, err := queue.Open(dir, &queue.Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, queue.ErrLocked) {
		if other != nil {
			other.Close()
		}
		t.Fatalf("second Open while open: err = %v, want ErrLocked", err)
	}
	// The first store is unharmed.
	queuetest.Issue(t, s, "alice", "1", body(1))
}

func TestDocuments(t *testing.T) {
	s := queuetest.OpenWithRehash(t, &queue.Options{NoSync: true}, queuetest.Rehash)
	var uuids []string
	for i := range 25 {
		user := []string{"alice", "bob"}[i%2] // alice issues the odd counters
		uuids = append(uuids, queuetest.Issue(t, s, user, fmt.Sprint(i), body(i)).Record.UUID)
	}
	alice := func(r *queue.Record) bool { return r.User == "alice" }
	for _, tc := range []struct {
		since uint64
		limit int
		keep  func(*queue.Record) bool
		want  []uint64
		next  uint64
	}{
		{0, 10, nil, seq(1, 10), 10},
		{10, 10, nil, seq(11, 20), 20},
		{20, 10, nil, seq(21, 25), 0},
		{20, 5, nil, seq(21, 25), 0}, // the limit reached at the end: no next page
		{25, 10, nil, nil, 0},
		{0, 5, alice, []uint64{1, 3, 5, 7, 9}, 9},
		{9, 5, alice, []uint64{11, 13, 15, 17, 19}, 19},
		{19, 5, alice, []uint64{21, 23, 25}, 0},
	} {
		recs, next, err := s.Documents(tc.since, tc.limit, tc.keep)
		var got []uint64
		for _, r := range recs {
			got = append(got, r.Counter)
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) || next != tc.next {
			t.Errorf("Documents(%d, %d, keep %v) = %v, next %d, %v; want %v, next %d", tc.since, tc.limit, tc.keep != nil, got, next, err, tc.want, tc.next)
		}
	}

	for i, u := range uuids {
		if r, err := s.DocumentByUUID(u); err != nil || r.Counter != uint64(i+1) || r.UUID != u {
			t.Errorf("DocumentByUUID(%s) = %v, %v; want counter %d", u, r, err, i+1)
		}
	}
	if _, err := s.DocumentByUUID(queuetest.UUID()); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("DocumentByUUID(unknown) err = %v, want ErrNotFound", err)
	}
	for _, c := range []uint64{0, 26} {
		if _, err := s.Document(c); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("Document(%d) err = %v, want ErrNotFound", c, err)
		}
	}
}

func seq(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// TestDocumentsScanLimit: a filter that keeps nothing stops after 10000
// records and says where to go on.
func TestDocumentsScanLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("issues 10005 documents")
	}
	s := queuetest.Open(t, &queue.Options{NoSync: true})
	const n = 10005
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			var err error
			for i := g; i < n && err == nil; i += 8 {
				_, err = s.Issue(context.Background(), queuetest.Request("alice", fmt.Sprint(i), body(i)))
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	none := func(*queue.Record) bool { return false }
	recs, next, err := s.Documents(0, 10, none)
	if err != nil || len(recs) != 0 || next != 10000 {
		t.Errorf("Documents(0, 10, none) = %d records, next %d, %v; want 0, next 10000", len(recs), next, err)
	}
	recs, next, err = s.Documents(next, 10, none)
	if err != nil || len(recs) != 0 || next != 0 {
		t.Errorf("Documents(10000, 10, none) = %d records, next %d, %v; want 0, next 0", len(recs), next, err)
	}
}

package queue_test

import (
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	"github.com/klauspost/compress/zstd"
	bolt "go.etcd.io/bbolt"
)

// Bucket and key names as queue/store.go writes them. The corruption tests
// edit the file behind the store's back with these.
var (
	bucketMeta        = []byte("meta")
	bucketJournal     = []byte("journal")
	bucketDocuments   = []byte("documents")
	bucketUUID        = []byte("journal_uuid")
	bucketOutbox      = []byte("outbox")
	bucketIdempotency = []byte("idempotency")
	bucketAudit       = []byte("audit")
	bucketNotes       = []byte("notes")
	bucketRejected    = []byte("rejected")
	keySchema         = []byte("schema_version")
	keyHead           = []byte("chain_head")
	keyRejectedN      = []byte("rejected_count")
	keyRejectedOpen   = []byte("rejected_without_credit_note")
)

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// fakeClock is an Options.Clock that tests set by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
	err error
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Clock() (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now, c.err
}

func (c *fakeClock) Set(now time.Time, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now, c.err = now, err
}

func body(n int) []byte {
	b, _ := json.Marshal(map[string]any{"sale": n})
	return b
}

// openChecked is queuetest.OpenDir with the queuetest rehash.
func openChecked(t *testing.T, dir string, opts *queue.Options) *queue.Store {
	t.Helper()
	return queuetest.OpenDir(t, dir, opts, queuetest.Rehash)
}

// editFile opens the closed store's file with bbolt and runs fn in a
// read-write transaction, the way a tamperer or a disk fault would change it.
func editFile(t *testing.T, dir string, fn func(tx *bolt.Tx)) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, queue.FileName), 0o600, &bolt.Options{
		Timeout: 5 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { fn(tx); return nil }); err != nil {
		t.Fatal(err)
	}
}

func mustBucket(t *testing.T, tx *bolt.Tx, name []byte) *bolt.Bucket {
	t.Helper()
	b := tx.Bucket(name)
	if b == nil {
		t.Fatalf("the file has no bucket %q (queue/store.go renamed it?)", name)
	}
	return b
}

// editJSON rewrites the JSON value at key through a generic map. A
// packed journal record (format byte 1, zstd) is unpacked and written back
// plain, which the store reads as it reads records from before packing.
func editJSON(t *testing.T, b *bolt.Bucket, key []byte, edit func(m map[string]any)) {
	t.Helper()
	v := b.Get(key)
	if v == nil {
		t.Fatalf("no value at key %x", key)
	}
	switch {
	case v[0] == 0:
		v = v[1:]
	case v[0] == 1:
		dec, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		if v, err = dec.DecodeAll(v[1:], nil); err != nil {
			t.Fatal(err)
		}
	case v[0] != '{':
		t.Fatalf("value at key %x is in format %d, which the test cannot edit", key, v[0])
	}
	var m map[string]any
	if err := json.Unmarshal(v, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	v, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(key, v); err != nil {
		t.Fatal(err)
	}
}

func mustDelete(t *testing.T, b *bolt.Bucket, key []byte) {
	t.Helper()
	if b.Get(key) == nil {
		t.Fatalf("no value at key %q to delete", key)
	}
	if err := b.Delete(key); err != nil {
		t.Fatal(err)
	}
}

func head(t *testing.T, s *queue.Store) queue.Head {
	t.Helper()
	h, err := s.Head()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func auditCount(t *testing.T, s *queue.Store) int {
	t.Helper()
	n, err := s.VerifyAudit()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

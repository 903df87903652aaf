package queuetest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/egsd/egsd/queue"
)

// RewriteAudit rewrites audit entry seq of the closed store in dir with
// edit and recomputes the hash of it and of every later entry, and the
// audit head: the careful rewrite of someone who has the data file and
// knows how the chain is made, but not the unit's audit key. The bucket
// and key names are the store's own.
func RewriteAudit(t testing.TB, dir string, seq uint64, edit func(*queue.AuditEntry)) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, queue.FileName), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		if b == nil {
			return errors.New("no audit bucket")
		}
		var prev string
		var last uint64
		c := b.Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, seq)); k != nil; k, v = c.Next() {
			var e queue.AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if e.Seq == seq {
				edit(&e)
			} else {
				e.Prev = prev
			}
			e.Hash = AuditHash(t, e)
			prev, last = e.Hash, e.Seq
			data, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if err := b.Put(k, data); err != nil {
				return err
			}
		}
		head, err := json.Marshal(map[string]any{"seq": last, "hash": prev})
		if err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("audit_head"), head)
	})
	if err != nil {
		t.Fatalf("rewrite the audit log: %v", err)
	}
}

// AuditHash is an audit entry's hash as queue.AuditEntry's doc comment
// defines it: the SHA-256 of its JSON with the hash empty, in hex.
func AuditHash(t testing.TB, e queue.AuditEntry) string {
	t.Helper()
	e.Hash = ""
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

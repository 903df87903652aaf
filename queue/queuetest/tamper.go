package queuetest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
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

// JournalJSON returns the JSON of a journal record value v read from the
// store's file in tx, for tests that edit records behind the store's back:
// packed (a format byte: 0 raw, 1 zstd, 2 zstd with the store's dictionary
// whose 8-byte key follows) or plain, as written before packing. A record
// written back as plain JSON reads as such.
func JournalJSON(tx *bolt.Tx, v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] == '{' {
		return v, nil
	}
	var opts []zstd.DOption
	switch v[0] {
	case 0:
		return v[1:], nil
	case 1:
		v = v[1:]
	case 2:
		if len(v) < 9 {
			return nil, fmt.Errorf("truncated journal value")
		}
		dict := tx.Bucket([]byte("pack_dictionaries")).Get(v[1:9])
		opts, v = append(opts, zstd.WithDecoderDictRaw(1, dict)), v[9:]
	default:
		return nil, fmt.Errorf("journal value in unknown format %d", v[0])
	}
	dec, err := zstd.NewReader(nil, opts...)
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	return dec.DecodeAll(v, nil)
}

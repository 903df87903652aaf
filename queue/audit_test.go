package queue_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	bolt "go.etcd.io/bbolt"
)

// entryHash is the audit hash as AuditEntry's doc comment defines it: the
// SHA-256 of the entry's JSON with Hash empty, in hex.
func entryHash(t *testing.T, e queue.AuditEntry) string { return queuetest.AuditHash(t, e) }

// auditStore makes a store with five audit entries: three documents, a
// login and a config event, and closes it.
func auditStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := queue.Open(dir, &queue.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	queuetest.Issue(t, s, "alice", "1", body(1))
	queuetest.Issue(t, s, "alice", "2", body(2))
	if err := s.Audit(queue.AuditEntry{Actor: "bob", Action: queue.AuditLogin}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(tx *queue.Tx) error {
		return tx.Audit(queue.AuditEntry{Actor: "system", Action: queue.AuditConfig, Details: map[string]string{"file": "egsd.toml"}})
	}); err != nil {
		t.Fatal(err)
	}
	queuetest.Issue(t, s, "alice", "3", body(3))
	return dir
}

func TestAuditChain(t *testing.T) {
	dir := auditStore(t)
	s := openChecked(t, dir, nil)
	entries, err := s.AuditEntries(0, 100)
	if err != nil || len(entries) != 5 {
		t.Fatalf("AuditEntries = %d entries, %v; want 5", len(entries), err)
	}
	prev := "0000000000000000000000000000000000000000000000000000000000000000"
	actions := []string{queue.AuditDocument, queue.AuditDocument, queue.AuditLogin, queue.AuditConfig, queue.AuditDocument}
	for i, e := range entries {
		if e.Seq != uint64(i+1) || e.Prev != prev || e.Hash != entryHash(t, e) || e.Action != actions[i] {
			t.Errorf("entry %d = %+v; want seq %d, prev %s, action %s and the documented hash %s", i, e, i+1, prev, actions[i], entryHash(t, e))
		}
		if e.Time.IsZero() {
			t.Errorf("entry %d has no time", e.Seq)
		}
		prev = e.Hash
	}
	if e := entries[4]; e.Actor != "alice" || e.Subject != "3" || e.Details["hash"] == "" {
		t.Errorf("document entry = %+v, want alice issuing document 3 with its hash", e)
	}
	if page, _ := s.AuditEntries(3, 1); len(page) != 1 || page[0].Seq != 4 {
		t.Errorf("AuditEntries(3, 1) = %+v, want entry 4", page)
	}
	if n, err := s.VerifyAudit(); n != 5 || err != nil {
		t.Errorf("VerifyAudit = %d, %v; want 5, nil", n, err)
	}
}

// TestAuditTamper edits the closed store's audit bucket and expects
// VerifyAudit to name the first entry that does not verify.
func TestAuditTamper(t *testing.T) {
	rehashed := func(t *testing.T, b *bolt.Bucket, seq uint64, edit func(*queue.AuditEntry)) {
		var e queue.AuditEntry
		if err := json.Unmarshal(b.Get(u64(seq)), &e); err != nil {
			t.Fatal(err)
		}
		edit(&e)
		e.Hash = entryHash(t, e)
		v, _ := json.Marshal(e)
		b.Put(u64(seq), v)
	}
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, b *bolt.Bucket)
		wantSeq uint64
	}{
		{"edited entry", func(t *testing.T, b *bolt.Bucket) {
			editJSON(t, b, u64(3), func(m map[string]any) { m["actor"] = "mallory" })
		}, 3},
		{"edited details", func(t *testing.T, b *bolt.Bucket) {
			editJSON(t, b, u64(4), func(m map[string]any) { m["details"] = map[string]any{"file": "other.toml"} })
		}, 4},
		{"edited entry with its hash recomputed", func(t *testing.T, b *bolt.Bucket) {
			rehashed(t, b, 2, func(e *queue.AuditEntry) { e.Actor = "mallory" })
		}, 3}, // entry 2 verifies on its own; entry 3's prev no longer matches
		{"last entry rewritten with its hash recomputed", func(t *testing.T, b *bolt.Bucket) {
			rehashed(t, b, 5, func(e *queue.AuditEntry) { e.Actor = "mallory" })
		}, 5}, // only the head's hash can tell
		{"field added", func(t *testing.T, b *bolt.Bucket) {
			editJSON(t, b, u64(2), func(m map[string]any) { m["approved_by"] = "mallory" })
		}, 2},
		{"removed first entry", func(t *testing.T, b *bolt.Bucket) { mustDelete(t, b, u64(1)) }, 1},
		{"removed middle entry", func(t *testing.T, b *bolt.Bucket) { mustDelete(t, b, u64(3)) }, 3},
		{"removed last entry", func(t *testing.T, b *bolt.Bucket) { mustDelete(t, b, u64(5)) }, 5},
		{"removed last two entries", func(t *testing.T, b *bolt.Bucket) { mustDelete(t, b, u64(5)); mustDelete(t, b, u64(4)) }, 4},
		{"swapped entries", func(t *testing.T, b *bolt.Bucket) {
			two, three := append([]byte(nil), b.Get(u64(2))...), append([]byte(nil), b.Get(u64(3))...)
			b.Put(u64(2), three)
			b.Put(u64(3), two)
		}, 2},
		{"entry appended without the head", func(t *testing.T, b *bolt.Bucket) {
			var last queue.AuditEntry
			json.Unmarshal(b.Get(u64(5)), &last)
			e := queue.AuditEntry{Seq: 6, Time: last.Time, Actor: "mallory", Action: queue.AuditLogin, Prev: last.Hash}
			e.Hash = entryHash(t, e)
			v, _ := json.Marshal(e)
			b.Put(u64(6), v)
		}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := auditStore(t)
			editFile(t, dir, func(tx *bolt.Tx) { tc.damage(t, mustBucket(t, tx, bucketAudit)) })
			s, err := queue.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.VerifyAudit()
			var brk *queue.AuditBreak
			if !errors.As(err, &brk) || brk.Seq != tc.wantSeq {
				t.Errorf("VerifyAudit = %v, want an AuditBreak at entry %d", err, tc.wantSeq)
			}
		})
	}
}

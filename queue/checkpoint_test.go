package queue_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	bolt "go.etcd.io/bbolt"
)

var bucketCheckpoints = []byte("audit_checkpoints")

// testKey is a checkpoint signer for these tests. The queue takes any
// ECDSA signer; the agent's is secp256k1 from the keystore, which queue may
// not import.
type testKey struct {
	priv *ecdsa.PrivateKey
	pub  []byte
}

func newTestKey(t *testing.T) *testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{priv, pub}
}

func (k *testKey) sign(msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	return ecdsa.SignASN1(rand.Reader, k.priv, h[:])
}

func (k *testKey) signer(every uint64) *queue.AuditSigner {
	return &queue.AuditSigner{PublicKey: k.pub, Sign: k.sign, Every: every}
}

func verifyP256(pub, msg, sig []byte) error {
	key, err := x509.ParsePKIXPublicKey(pub)
	if err != nil {
		return err
	}
	ec, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return errors.New("not an ECDSA key")
	}
	h := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(ec, h[:], sig) {
		return errors.New("signature does not match")
	}
	return nil
}

// keyChange reads the replacement entries checkpointStore writes.
func keyChange(e *queue.AuditEntry) (previous, next []byte, ok bool) {
	if e.Action != queue.AuditKey || e.Subject != "replaced" {
		return nil, nil, false
	}
	p, _ := hex.DecodeString(e.Details["previous"])
	n, _ := hex.DecodeString(e.Details["next"])
	return p, n, true
}

func (k *testKey) options(every uint64) queue.AuditVerifyOptions {
	return queue.AuditVerifyOptions{Key: k.pub, VerifySignature: verifyP256, Every: every, KeyChange: keyChange}
}

const testEvery = 4

// checkpointStore makes a closed store of n audit entries signed by key at
// testEvery entries, plus a checkpoint at the head.
func checkpointStore(t *testing.T, key *testKey, n int) string {
	t.Helper()
	dir := t.TempDir()
	s, err := queue.Open(dir, &queue.Options{NoSync: true, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetAuditSigner(key.signer(testEvery))
	for i := range n {
		if err := s.Audit(queue.AuditEntry{Action: queue.AuditLogin, Details: map[string]string{"n": fmt.Sprint(i)}}.By(queue.UserActor("bob"))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Checkpoint("stop", t0); err != nil {
		t.Fatal(err)
	}
	return dir
}

func verifyDir(t *testing.T, dir string, opts queue.AuditVerifyOptions) (queue.AuditReport, error) {
	t.Helper()
	s, err := queue.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.VerifyAuditWith(opts)
}

func binaryU64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

func TestAuditCheckpointCadence(t *testing.T) {
	key := newTestKey(t)
	dir := checkpointStore(t, key, 10)
	s := openChecked(t, dir, nil)
	cps, err := s.AuditCheckpoints(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, cp := range cps {
		seqs = append(seqs, cp.Seq)
		if err := verifyP256(cp.PublicKey, cp.SignedMessage(), cp.Signature); err != nil {
			t.Errorf("checkpoint %d does not verify: %v", cp.Seq, err)
		}
	}
	if fmt.Sprint(seqs) != "[4 8 10]" {
		t.Errorf("checkpoints at %v, want [4 8 10]: every %d entries and the one asked for", seqs, testEvery)
	}
	rep, err := s.VerifyAuditWith(key.options(testEvery))
	if err != nil || rep.Entries != 10 || rep.Checkpoints != 3 || rep.AnchoredThrough != 10 {
		t.Errorf("VerifyAuditWith = %+v, %v; want 10 entries, 3 checkpoints, anchored through 10", rep, err)
	}
	// Asking again with nothing new answers the same checkpoint.
	s.SetAuditSigner(key.signer(testEvery))
	again, err := s.Checkpoint("again", t0.Add(time.Hour))
	if err != nil || again.Seq != 10 || again.Reason != "stop" {
		t.Errorf("Checkpoint with nothing new = %+v, %v; want the checkpoint of entry 10", again, err)
	}
}

// edit is a damage done in one transaction on the closed store's file.
func edit(fn func(t *testing.T, tx *bolt.Tx)) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) { editFile(t, dir, func(tx *bolt.Tx) { fn(t, tx) }) }
}

// TestAuditCheckpointTamper: a careful rewrite, which recomputes every later
// hash and the head, passed the chain check. Each case damages a closed
// store and names the entry and checkpoint verification must fail at.
func TestAuditCheckpointTamper(t *testing.T) {
	key := newTestKey(t)
	other := newTestKey(t)
	for _, tc := range []struct {
		name           string
		damage         func(t *testing.T, dir string)
		seq, cp        uint64
		reasonContains string
	}{
		{"untouched", func(*testing.T, string) {}, 0, 0, ""},
		{"entry rewritten, hashes recomputed", func(t *testing.T, dir string) {
			queuetest.RewriteAudit(t, dir, 2, func(e *queue.AuditEntry) { e.Actor = "mallory" })
		}, 4, 4, "rewritten after the checkpoint"},
		{"last entries rewritten, hashes recomputed", func(t *testing.T, dir string) {
			queuetest.RewriteAudit(t, dir, 9, func(e *queue.AuditEntry) { e.Details = map[string]string{"n": "forged"} })
		}, 10, 10, "rewritten after the checkpoint"},
		{"checkpoint's signature forged", edit(func(t *testing.T, tx *bolt.Tx) {
			editJSON(t, mustBucket(t, tx, bucketCheckpoints), u64(8), func(m map[string]any) {
				sig, _ := other.sign([]byte("anything"))
				m["signature"] = sig
			})
		}), 8, 8, "signature does not verify"},
		{"rewritten and re-signed with another key", func(t *testing.T, dir string) {
			queuetest.RewriteAudit(t, dir, 2, func(e *queue.AuditEntry) { e.Actor = "mallory" })
			editFile(t, dir, func(tx *bolt.Tx) {
				b := mustBucket(t, tx, bucketCheckpoints)
				b.ForEach(func(k, v []byte) error {
					var cp queue.AuditCheckpoint
					json.Unmarshal(v, &cp)
					var e queue.AuditEntry
					json.Unmarshal(mustBucket(t, tx, bucketAudit).Get(k), &e)
					cp.Hash, cp.PublicKey = e.Hash, other.pub
					cp.Signature, _ = other.sign(cp.SignedMessage())
					data, _ := json.Marshal(cp)
					return b.Put(k, data)
				})
			})
		}, 10, 10, "not the unit's audit key"},
		{"checkpoint's hash changed", edit(func(t *testing.T, tx *bolt.Tx) {
			editJSON(t, mustBucket(t, tx, bucketCheckpoints), u64(4), func(m map[string]any) { m["hash"] = strings.Repeat("0", 64) })
		}), 4, 4, ""},
		// The newest checkpoint vouches for every entry before it: older
		// ones add nothing, and removing them hides nothing.
		{"older checkpoints removed", edit(func(t *testing.T, tx *bolt.Tx) {
			mustDelete(t, mustBucket(t, tx, bucketCheckpoints), u64(4))
			mustDelete(t, mustBucket(t, tx, bucketCheckpoints), u64(8))
		}), 0, 0, ""},
		{"every checkpoint removed", edit(func(t *testing.T, tx *bolt.Tx) {
			for _, seq := range []uint64{4, 8, 10} {
				mustDelete(t, mustBucket(t, tx, bucketCheckpoints), u64(seq))
			}
		}), 1, 0, "no signed checkpoint"},
		{"rewritten, newest checkpoints removed", func(t *testing.T, dir string) {
			queuetest.RewriteAudit(t, dir, 6, func(e *queue.AuditEntry) { e.Actor = "mallory" })
			editFile(t, dir, func(tx *bolt.Tx) {
				for _, seq := range []uint64{8, 10} {
					mustDelete(t, mustBucket(t, tx, bucketCheckpoints), u64(seq))
				}
			})
		}, 5, 0, "not covered by a signed checkpoint"},
		{"checkpoint moved", edit(func(t *testing.T, tx *bolt.Tx) {
			b := mustBucket(t, tx, bucketCheckpoints)
			v := append([]byte(nil), b.Get(u64(8))...)
			mustDelete(t, b, u64(8))
			b.Put(u64(7), v)
		}), 8, 8, "moved"},
		{"entries removed under a checkpoint", func(t *testing.T, dir string) {
			editFile(t, dir, func(tx *bolt.Tx) { mustDelete(t, mustBucket(t, tx, bucketAudit), u64(10)) })
			queuetest.RewriteAudit(t, dir, 9, func(*queue.AuditEntry) {})
		}, 10, 10, "log ends at entry 9"},
		{"key replacement forged at the end", edit(func(t *testing.T, tx *bolt.Tx) {
			appendEntry(t, tx, queue.AuditEntry{Action: queue.AuditKey, Subject: "replaced",
				Details: map[string]string{"previous": hex.EncodeToString(other.pub), "next": hex.EncodeToString(key.pub)}})
		}), 11, 0, "not covered by a checkpoint signed with the new key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := checkpointStore(t, key, 10)
			tc.damage(t, dir)
			rep, err := verifyDir(t, dir, key.options(testEvery))
			if tc.seq == 0 {
				if err != nil {
					t.Fatalf("VerifyAuditWith = %v, want nil", err)
				}
				if rep.AnchoredThrough != 10 {
					t.Errorf("anchored through %d, want 10", rep.AnchoredThrough)
				}
				return
			}
			var brk *queue.AuditBreak
			if !errors.As(err, &brk) {
				t.Fatalf("VerifyAuditWith = %v, want an AuditBreak", err)
			}
			if brk.Seq != tc.seq || brk.Checkpoint != tc.cp || !strings.Contains(brk.Reason, tc.reasonContains) {
				t.Errorf("break at entry %d, checkpoint %d: %q; want entry %d, checkpoint %d, and %q", brk.Seq, brk.Checkpoint, brk.Reason, tc.seq, tc.cp, tc.reasonContains)
			}
			if tc.cp != 0 && !strings.Contains(brk.Error(), fmt.Sprintf("checkpoint for entry %d", tc.cp)) {
				t.Errorf("error %q does not name the checkpoint", brk.Error())
			}
			// The chain alone does not see a careful rewrite.
			if n, err := verifyDir(t, dir, queue.AuditVerifyOptions{}); strings.Contains(tc.name, "recomputed") && (err != nil || n.Entries != 10) {
				t.Errorf("chain check of a careful rewrite = %+v, %v; the rewrite was not careful", n, err)
			}
		})
	}
}

// appendEntry appends a well-chained entry without the store (and without
// its key).
func appendEntry(t *testing.T, tx *bolt.Tx, e queue.AuditEntry) {
	t.Helper()
	b := mustBucket(t, tx, bucketAudit)
	k, v := b.Cursor().Last()
	var last queue.AuditEntry
	if err := json.Unmarshal(v, &last); err != nil {
		t.Fatal(err)
	}
	e.Seq, e.Prev, e.Time, e.Actor, e.ActorKind = binaryU64(k)+1, last.Hash, last.Time, "system", "system"
	e.Hash = entryHash(t, e)
	data, _ := json.Marshal(e)
	b.Put(u64(e.Seq), data)
	head, _ := json.Marshal(map[string]any{"seq": e.Seq, "hash": e.Hash})
	mustBucket(t, tx, bucketMeta).Put([]byte("audit_head"), head)
}

// TestAuditKeyReplaced: after a key is replaced, checkpoints before the
// replacement verify with the previous key, which the replacement entry
// names and a checkpoint by the new key covers.
func TestAuditKeyReplaced(t *testing.T) {
	oldKey, newKey := newTestKey(t), newTestKey(t)
	dir := checkpointStore(t, oldKey, 6)
	s := openChecked(t, dir, nil)
	if err := s.Audit(queue.AuditEntry{Action: queue.AuditKey, Subject: "replaced",
		Details: map[string]string{"previous": hex.EncodeToString(oldKey.pub), "next": hex.EncodeToString(newKey.pub)}}.By(queue.OwnerActor)); err != nil {
		t.Fatal(err)
	}
	// Not yet covered by the new key.
	var brk *queue.AuditBreak
	if _, err := s.VerifyAuditWith(newKey.options(testEvery)); !errors.As(err, &brk) || brk.Seq != 7 || !strings.Contains(brk.Reason, "not covered") {
		t.Errorf("replacement without a checkpoint by the new key: %v, want a break at entry 7", err)
	}
	s.SetAuditSigner(newKey.signer(testEvery))
	if _, err := s.Checkpoint("audit key replaced", t0); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := s.Audit(queue.AuditEntry{Action: queue.AuditLogin}.By(queue.UserActor("bob"))); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := s.VerifyAuditWith(newKey.options(testEvery))
	if err != nil || rep.Checkpoints != 5 || rep.AnchoredThrough != 12 {
		t.Errorf("VerifyAuditWith after the replacement = %+v, %v; want 5 checkpoints (4, 6 by the old key; 7, 8, 12 by the new), anchored through 12", rep, err)
	}
	// The old key is no longer the unit's.
	if _, err := s.VerifyAuditWith(oldKey.options(testEvery)); !errors.As(err, &brk) {
		t.Errorf("verified against the replaced key: %v, want a break", err)
	}
}

// TestAuditEntriesWithoutKind: entries written before actor kinds existed
// have no actor_kind in their JSON and still verify; new entries get a kind
// even when the caller gives none.
func TestAuditEntriesWithoutKind(t *testing.T) {
	dir := t.TempDir()
	s, err := queue.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(queue.AuditEntry{Actor: "system", Action: queue.AuditStart}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The entry as an egsd without kinds wrote it: the same fields, no
	// actor_kind, hashed over that JSON.
	type oldEntry struct {
		Seq     uint64            `json:"seq"`
		Time    time.Time         `json:"time"`
		Actor   string            `json:"actor"`
		Action  string            `json:"action"`
		Subject string            `json:"subject,omitempty"`
		Details map[string]string `json:"details,omitempty"`
		Prev    string            `json:"prev"`
		Hash    string            `json:"hash"`
	}
	editFile(t, dir, func(tx *bolt.Tx) {
		b := mustBucket(t, tx, bucketAudit)
		var first queue.AuditEntry
		json.Unmarshal(b.Get(u64(1)), &first)
		old := oldEntry{Seq: 2, Time: first.Time, Actor: "alice", Action: queue.AuditLogin, Prev: first.Hash}
		data, _ := json.Marshal(old)
		sum := sha256.Sum256(data)
		old.Hash = hex.EncodeToString(sum[:])
		data, _ = json.Marshal(old)
		if strings.Contains(string(data), "actor_kind") {
			t.Fatal("the old layout has actor_kind")
		}
		b.Put(u64(2), data)
		head, _ := json.Marshal(map[string]any{"seq": 2, "hash": old.Hash})
		mustBucket(t, tx, bucketMeta).Put([]byte("audit_head"), head)
	})
	s = openChecked(t, dir, nil)
	if err := s.Audit(queue.AuditEntry{Actor: "bob", Action: queue.AuditLogout}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.VerifyAudit(); n != 3 || err != nil {
		t.Fatalf("VerifyAudit = %d, %v; want 3 entries, nil", n, err)
	}
	es, err := s.AuditEntries(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{queue.ActorSystem, "", queue.ActorUser} {
		if es[i].ActorKind != want {
			t.Errorf("entry %d: actor kind %q, want %q", es[i].Seq, es[i].ActorKind, want)
		}
	}
	queuetest.Issue(t, s, "alice", "1", body(1))
}

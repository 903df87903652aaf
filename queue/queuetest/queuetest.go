// Package queuetest opens queue stores for tests and checks them after
// every test, like bbolt's btesting.MustCreateDB: [Open] puts the store in
// t.TempDir() and registers a cleanup that runs [queue.Store.Check] and
// fails the test on any violation of the store's invariants.
//
// It also has a minimal stamp function, so that queue's tests issue real
// documents without importing a regime (queue knows no document format).
package queuetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	berrors "go.etcd.io/bbolt/errors"
)

// Regime is the regime name Request puts on documents.
const Regime = "queuetest"

// Genesis is the PrevHash of the first document Request issues.
const Genesis = "queuetest-genesis"

// Open opens a store in a new t.TempDir() and checks it when the test ends;
// see [OpenDir].
func Open(t testing.TB, opts *queue.Options) *queue.Store {
	t.Helper()
	return OpenDir(t, t.TempDir(), opts, nil)
}

// OpenWithRehash is Open with a Check that also recomputes every
// document's hash from its stored bytes with rehash (for example [Rehash],
// or a regime's).
func OpenWithRehash(t testing.TB, opts *queue.Options, rehash func(regime string, doc []byte) (string, error)) *queue.Store {
	t.Helper()
	return OpenDir(t, t.TempDir(), opts, rehash)
}

// OpenDir opens the store in dir and registers a cleanup that runs Check
// (with rehash, if not nil), fails the test on any violation, and closes
// the store. If the test closed the store itself, the cleanup reopens dir
// to check the file as it was left.
func OpenDir(t testing.TB, dir string, opts *queue.Options, rehash func(regime string, doc []byte) (string, error)) *queue.Store {
	t.Helper()
	s, err := queue.Open(dir, opts)
	if err != nil {
		t.Fatalf("queue.Open(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		check := queue.CheckOptions{Rehash: rehash}
		rep, err := s.Check(check)
		if errors.Is(err, berrors.ErrDatabaseNotOpen) {
			// Closed by the test: check what is on disk.
			again, oerr := queue.Open(dir, &queue.Options{LockTimeout: 5 * time.Second})
			if oerr != nil {
				t.Errorf("queuetest: reopen %s for the check: %v", dir, oerr)
				return
			}
			defer again.Close()
			rep, err = again.Check(check)
		}
		if err != nil {
			t.Errorf("queuetest: store check failed (%d documents, %d pending, %d audit entries):\n%v", rep.Documents, rep.Pending, rep.Audit, err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("queuetest: close: %v", err)
		}
	})
	return s
}

// Hash is the hash Stamp gives a document: base64 of its SHA-256.
func Hash(doc []byte) string {
	sum := sha256.Sum256(doc)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Rehash is a queue.CheckOptions.Rehash for documents made by Stamp.
func Rehash(_ string, doc []byte) (string, error) { return Hash(doc), nil }

// Document is the JSON layout of a document made by Stamp.
type Document struct {
	Counter  uint64          `json:"counter"`
	PrevHash string          `json:"prev_hash"`
	UUID     string          `json:"uuid"`
	IssuedAt time.Time       `json:"issued_at"`
	Body     json.RawMessage `json:"body"`
}

// Stamp returns a stamp function that freezes the slot and body (which
// must be JSON) into a document hashed with Hash.
func Stamp(body []byte) func(queue.Slot) (queue.Stamped, error) {
	return func(slot queue.Slot) (queue.Stamped, error) {
		b, err := json.Marshal(Document{slot.Counter, slot.PrevHash, slot.UUID, slot.IssuedAt.UTC(), body})
		if err != nil {
			return queue.Stamped{}, err
		}
		return queue.Stamped{Bytes: b, ContentType: "application/json", Hash: Hash(b)}, nil
	}
}

// UUID returns a random RFC 4122 version 4 UUID.
func UUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Request is an IssueRequest of regime Regime for body (JSON), stamped by
// Stamp, with a new UUID; BodyHash is the SHA-256 of body.
func Request(user, key string, body []byte) *queue.IssueRequest {
	sum := sha256.Sum256(body)
	return &queue.IssueRequest{
		User: user, IdempotencyKey: key, BodyHash: sum[:],
		Regime: Regime, GenesisHash: Genesis, Kind: "invoice", UUID: UUID(),
		Stamp: Stamp(body),
	}
}

// Issue issues body as user with idempotency key key and fails the test if
// the store refuses it.
func Issue(t testing.TB, s *queue.Store, user, key string, body []byte) queue.IssueResult {
	t.Helper()
	res, err := s.Issue(context.Background(), Request(user, key, body))
	if err != nil {
		t.Fatalf("Issue(%s, %s): %v", user, key, err)
	}
	return res
}

package queue

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"

	bolt "go.etcd.io/bbolt"
)

// bucketRegimeState holds state that a regime asks the agent to keep for
// it, such as where its onboarding stands: key → the regime's own bytes,
// which the store does not interpret.
var bucketRegimeState = []byte("regime_state")

// maxRegimeStateKey bounds a regime state key.
const maxRegimeStateKey = 64

// RegimeState returns the bytes stored under key, or nil if there are
// none. The slice is a copy, valid after the transaction.
func (t *Tx) RegimeState(key string) ([]byte, error) {
	if err := checkRegimeStateKey(key); err != nil {
		return nil, err
	}
	v := t.tx.Bucket(bucketRegimeState).Get([]byte(key))
	if v == nil {
		return nil, nil
	}
	return bytes.Clone(v), nil
}

// PutRegimeState stores value under key and appends e to the audit log in
// the same transaction, so that no change of a regime's state goes
// unrecorded. e names the actor and the action (required); its Subject
// defaults to key, and its Details gain "key" and "state_sha256" (the
// SHA-256 of value, which ties the entry to the bytes stored without
// showing them: they may hold credentials).
func (t *Tx) PutRegimeState(key string, value []byte, e AuditEntry) error {
	if err := checkRegimeStateKey(key); err != nil {
		return err
	}
	if e.Action == "" || e.Actor == "" {
		return errors.New("queue: a regime state change needs an audit entry with an actor and an action")
	}
	if value == nil {
		value = []byte{}
	}
	if err := t.tx.Bucket(bucketRegimeState).Put([]byte(key), value); err != nil {
		return err
	}
	if e.Subject == "" {
		e.Subject = key
	}
	sum := sha256.Sum256(value)
	details := maps.Clone(e.Details)
	if details == nil {
		details = map[string]string{}
	}
	details["key"] = key
	details["state_sha256"] = hex.EncodeToString(sum[:])
	e.Details = details
	return t.Audit(e)
}

// RegimeState reads the bytes stored under key in its own read
// transaction; nil if there are none.
func (s *Store) RegimeState(key string) ([]byte, error) {
	var out []byte
	err := s.View(func(tx *Tx) error {
		var err error
		out, err = tx.RegimeState(key)
		return err
	})
	return out, err
}

func checkRegimeStateKey(key string) error {
	if key == "" || len(key) > maxRegimeStateKey {
		return errors.New("queue: a regime state key is 1 to 64 bytes")
	}
	return nil
}

// StateWrite is regime state written together with something else, in
// its transaction: a protocol session (the Kazakh OFD's TOKEN and
// REQNUM) stored atomically with the answer it came with.
type StateWrite struct {
	Key   string
	Value []byte
}

// putState writes w without an audit entry of its own: a session changes
// with every request, and the answer it comes with is audited.
func putState(tx *bolt.Tx, w *StateWrite) error {
	if err := checkRegimeStateKey(w.Key); err != nil {
		return err
	}
	v := w.Value
	if v == nil {
		v = []byte{}
	}
	return tx.Bucket(bucketRegimeState).Put([]byte(w.Key), v)
}

// PutSessionState stores a regime's protocol session under key through
// the writer, durably, before the request it holds goes out. It is not
// audited: the session is the protocol's bookkeeping of the request in
// flight, and the answer it leads to is recorded with its audit entry.
func (s *Store) PutSessionState(key string, value []byte) error {
	w := &StateWrite{Key: key, Value: value}
	return s.write(func(tx *bolt.Tx, _ *batchState) (err, abort error) {
		if err := checkRegimeStateKey(key); err != nil {
			return err, nil
		}
		return nil, putState(tx, w)
	})
}

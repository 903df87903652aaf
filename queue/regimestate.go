package queue

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
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

package queue

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	// ErrNotFound is returned when a document, user, session or incident
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrIdempotencyConflict is returned by Issue when the idempotency key
	// was already used by the same user for a different sale body.
	ErrIdempotencyConflict = errors.New("idempotency key already used for a different sale")
	// ErrRegimeMismatch is returned by Issue when the store already holds
	// documents of another regime: a unit has one chain, so switching regime
	// needs a new data directory.
	ErrRegimeMismatch = errors.New("the journal belongs to another regime")
	// ErrIdentityMismatch is returned (wrapped in an *IdentityError) by
	// Issue when the request's identity differs from the one the unit's
	// chain is bound to.
	ErrIdentityMismatch = errors.New("the unit's chain belongs to another identity")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("store is closed")
	// ErrLocked is returned by Open when another process holds the data file.
	ErrLocked = errors.New("the data file is in use by another egsd process (is the service running?)")
	// ErrNoStore is returned by Open with MustExist when dir has no store.
	ErrNoStore = errors.New("no egsd store here (wrong data directory?)")
	// ErrExists is returned when creating something that already exists.
	ErrExists = errors.New("already exists")
)

// ClockError is returned by Issue when the clock reads earlier than the last
// issued document; issuing stays refused until the clock is right.
type ClockError struct {
	Now        time.Time // what the clock said
	LastIssued time.Time // the previous document's time
	Cause      error     // set when the clock source itself refused (a jump)
}

func (e *ClockError) Error() string {
	if e.Cause != nil {
		return e.Cause.Error()
	}
	return fmt.Sprintf("clock reads %s, earlier than the last issued document (%s); fix the system clock before issuing",
		e.Now.UTC().Format(time.RFC3339Nano), e.LastIssued.UTC().Format(time.RFC3339Nano))
}

func (e *ClockError) Unwrap() error { return e.Cause }

// SchemaError is returned by Open when the file was written by a newer egsd.
type SchemaError struct{ Found, Known int }

func (e *SchemaError) Error() string {
	return fmt.Sprintf("data file has schema version %d but this egsd knows up to %d; install the newer egsd", e.Found, e.Known)
}

// IdentityError is returned by Issue when the request's identity differs
// from the unit's bound identity (Identity.Bound).
type IdentityError struct{ Mismatches []IdentityMismatch }

func (e *IdentityError) Error() string {
	parts := make([]string, len(e.Mismatches))
	for i, m := range e.Mismatches {
		parts[i] = fmt.Sprintf("%s is %q, but the unit's chain is bound to %q", m.Key, m.Given, m.Bound)
	}
	return ErrIdentityMismatch.Error() + ": " + strings.Join(parts, "; ")
}

func (e *IdentityError) Unwrap() error { return ErrIdentityMismatch }

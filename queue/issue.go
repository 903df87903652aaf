package queue

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Slot is the place in the chain a new document takes; see stamping.Slot.
type Slot struct {
	Counter  uint64
	PrevHash string
	UUID     string
	IssuedAt time.Time
}

// Stamped is what a stamp function returns: the frozen document.
type Stamped struct {
	Bytes       []byte
	ContentType string
	Hash        string
	Receipt     []byte
	// Number is the document's number as printed; notes may name the
	// document by it (ResolveDocument).
	Number string
	// Archive, when set, is the document's first archive record
	// (archive.go), stored with it.
	Archive []byte
}

// IssueRequest asks the store to issue one document.
type IssueRequest struct {
	User           string // who issued it (audit, "read own")
	IdempotencyKey string // required (except for a corrective note, see NoteRef); scoped to User
	BodyHash       []byte // SHA-256 of the request body, to detect a reused key
	Regime         string
	GenesisHash    string // PrevHash of counter 1
	Kind           string
	UUID           string
	// Stamp builds the document for the slot. It runs inside the write
	// transaction, must not block, and must not call the store.
	Stamp func(Slot) (Stamped, error)
	// Submit says whether the document goes to the outbox.
	Submit bool
	// Sale is the sale as the POS sent it (JSON; a note's with its
	// reference resolved), kept with the record so that a correction can
	// be built from it.
	Sale []byte
	// Note, for a note that references a document of this unit, is that
	// reference: checked and recorded in the issue transaction.
	Note *NoteRef
	// Identity is what the document is issued under (see Identity.Bound):
	// the first document binds the unit to it, and a request with another
	// one is refused with an *IdentityError. Nil skips the check.
	Identity map[string]string
	// AuditDetails are added to the document's audit entry.
	AuditDetails map[string]string
	// Print queues the original receipt in the same transaction.
	Print PrintRequest
	// HoldPrint, when set, is asked about the stamped document: true holds
	// its receipt until the authority has accepted it (a submitted
	// document only).
	HoldPrint func(doc []byte) bool
	// Late, for a sale entered after a unit failure, names the incident
	// it is entered for and when the transaction took place: the
	// incident's count of late entries goes up in the same transaction.
	Late *LateEntry
	// ProvisionalSlip queues, with a held receipt, a provisional slip
	// that prints at once (PrintJob.Copy ProvisionalSlip): the buyer gets
	// a paper that is not the fiscal receipt while the authority has not
	// signed the document yet.
	ProvisionalSlip bool
}

// LateEntry is a document issued late for an incident.
type LateEntry struct {
	Incident        uint64
	TransactionTime time.Time
}

// IssueResult is the outcome of Issue.
type IssueResult struct {
	Record *Record
	// Replayed is true when the idempotency key had been used before with
	// the same body: Record is the document issued then.
	Replayed bool
}

// OutboxEntry is a document waiting for submission.
type OutboxEntry struct {
	Counter     uint64    `json:"counter"`
	Regime      string    `json:"regime"`
	EnqueuedAt  time.Time `json:"enqueued_at"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

type idempotencyEntry struct {
	Counter  uint64 `json:"counter"`
	BodyHash []byte `json:"body_hash"`
}

// Issue issues one document and returns after it is durably committed. A
// resend with the same user, key and body returns the original document
// with Replayed set; the same key with another body is ErrIdempotencyConflict.
// The context only bounds the wait: once queued, a document is issued even
// if ctx ends, and a resend with the same key finds it.
func (s *Store) Issue(ctx context.Context, req *IssueRequest) (IssueResult, error) {
	// An empty UUID would fail bbolt's Put halfway through the document's
	// writes, so it is refused here.
	corrective := req.Note != nil && req.Note.Corrective
	if req.IdempotencyKey == "" && !corrective || req.User == "" || req.UUID == "" || req.Stamp == nil {
		return IssueResult{}, fmt.Errorf("queue: IssueRequest needs User, IdempotencyKey, UUID and Stamp")
	}
	// The read lock keeps Close from closing the file under the lookup.
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return IssueResult{}, ErrClosed
	}
	// A resend is answered from a read transaction without waiting for the writer.
	if res, ok, err := s.lookupIdempotent(req); ok || err != nil {
		s.mu.RUnlock()
		return res, err
	}
	if r, err := s.correctiveNote(req.Note); r != nil || err != nil {
		s.mu.RUnlock()
		return IssueResult{Record: r, Replayed: true}, err
	}
	s.mu.RUnlock()
	var res IssueResult
	call := &writeCall{done: make(chan struct{}), apply: func(tx *bolt.Tx, b *batchState) (err, abort error) {
		res, err, abort = s.issueOne(tx, b, req)
		return err, abort
	}}
	if err := s.enqueue(call); err != nil {
		return IssueResult{}, err
	}
	select {
	case <-call.done:
		return res, call.err
	case <-ctx.Done():
		return IssueResult{}, ctx.Err()
	}
}

// IssuedWithKey returns the document user issued with key, if any: found
// is false when the key is unused, and err is ErrIdempotencyConflict when
// it was used for another body than the one bodyHash is of.
func (s *Store) IssuedWithKey(user, key string, bodyHash []byte) (res IssueResult, found bool, err error) {
	if key == "" {
		return IssueResult{}, false, nil
	}
	return s.lookupIdempotent(&IssueRequest{User: user, IdempotencyKey: key, BodyHash: bodyHash})
}

func (s *Store) lookupIdempotent(req *IssueRequest) (res IssueResult, found bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		r, ok, err := idempotent(tx, req)
		res, found = r, ok
		return err
	})
	return res, found, err
}

func idempotencyKey(user, key string) []byte { return []byte(user + "\x00" + key) }

// idempotent reports whether req's key was used before, and with what.
func idempotent(tx *bolt.Tx, req *IssueRequest) (IssueResult, bool, error) {
	if req.IdempotencyKey == "" { // a corrective note: the original is its key
		return IssueResult{}, false, nil
	}
	v := tx.Bucket(bucketIdempotency).Get(idempotencyKey(req.User, req.IdempotencyKey))
	if v == nil {
		return IssueResult{}, false, nil
	}
	var e idempotencyEntry
	if err := json.Unmarshal(v, &e); err != nil {
		return IssueResult{}, true, err
	}
	if !bytes.Equal(e.BodyHash, req.BodyHash) {
		return IssueResult{}, true, ErrIdempotencyConflict
	}
	r, err := getRecord(tx, e.Counter)
	if err != nil {
		return IssueResult{}, true, fmt.Errorf("idempotency key points at counter %d: %w", e.Counter, err)
	}
	return IssueResult{Record: r, Replayed: true}, true, nil
}

// issueOne issues req's document into tx. A problem with this one
// document (clock, idempotency, stamp) is err and writes nothing; abort is
// a storage failure after some of its writes.
func (s *Store) issueOne(tx *bolt.Tx, b *batchState, req *IssueRequest) (res IssueResult, err, abort error) {
	// A resend may have queued behind its original in the same batch.
	if res, ok, err := idempotent(tx, req); ok || err != nil {
		return res, err, nil
	}
	if err := b.chain(tx); err != nil {
		return IssueResult{}, nil, err
	}
	meta := tx.Bucket(bucketMeta)
	if b.ident.Regime != "" && b.ident.Regime != req.Regime {
		return IssueResult{}, fmt.Errorf("%w: the journal is %s, the request is %s", ErrRegimeMismatch, b.ident.Regime, req.Regime), nil
	}
	if m := b.ident.Mismatches(req.Identity); req.Identity != nil && len(m) > 0 {
		return IssueResult{}, &IdentityError{Mismatches: m}, nil
	}
	// A note is checked against its original before it takes a slot.
	var refs References
	var credit *Credit
	if req.Note != nil {
		var existing *Record
		var noteErr, err error
		refs, credit, existing, noteErr, err = checkNote(tx, req.Note)
		if err != nil {
			return IssueResult{}, nil, err
		}
		if existing != nil {
			return IssueResult{Record: existing, Replayed: true}, nil, nil
		}
		if noteErr != nil {
			return IssueResult{}, noteErr, nil
		}
	}
	var lateFor Incident
	if req.Late != nil {
		if err := getJSON(tx.Bucket(bucketIncidents), u64(req.Late.Incident), &lateFor); err != nil {
			return IssueResult{}, fmt.Errorf("incident %d: %w", req.Late.Incident, err), nil
		}
	}
	// A reused UUID would re-point the UUID index away from its document.
	if k := tx.Bucket(bucketUUID).Get([]byte(req.UUID)); k != nil {
		return IssueResult{}, fmt.Errorf("%w: UUID %s is document %d", ErrExists, req.UUID, decodeCounter(k)), nil
	}
	now, err := s.opts.Clock()
	if err != nil {
		return IssueResult{}, &ClockError{Now: now, LastIssued: b.head.LastIssued, Cause: err}, nil
	}
	if now.Before(b.head.LastIssued) {
		return IssueResult{}, &ClockError{Now: now, LastIssued: b.head.LastIssued}, nil
	}
	prev := b.head.Hash
	if b.head.Counter == 0 {
		prev = req.GenesisHash
	}
	slot := Slot{Counter: b.head.Counter + 1, PrevHash: prev, UUID: req.UUID, IssuedAt: now}
	doc, err := stampSafely(req.Stamp, slot)
	if err != nil {
		return IssueResult{}, err, nil
	}
	if doc.Hash == "" || len(doc.Bytes) == 0 {
		return IssueResult{}, fmt.Errorf("stamp returned an empty document or hash"), nil
	}
	if doc.Archive != nil {
		if err := checkArchiveRecord(doc.Archive); err != nil {
			return IssueResult{}, err, nil
		}
	}
	rec := &Record{
		Counter: slot.Counter, UUID: slot.UUID, Regime: req.Regime, Kind: req.Kind,
		IssuedAt: now.UTC(), User: req.User, IdempotencyKey: req.IdempotencyKey,
		PrevHash: prev, Hash: doc.Hash, ContentType: doc.ContentType,
		Document: doc.Bytes, Receipt: doc.Receipt, Status: StatusPending, Sale: req.Sale,
		Number: doc.Number,
	}
	if req.Note != nil {
		rec.Original = req.Note.Original
	}
	if !req.Submit {
		rec.Status = StatusAccepted
	}
	key := u64(rec.Counter)
	if err := putRecord(tx, rec, true); err != nil {
		return IssueResult{}, nil, err
	}
	if err := tx.Bucket(bucketUUID).Put([]byte(rec.UUID), key); err != nil {
		return IssueResult{}, nil, err
	}
	if req.Submit {
		if err := putJSON(appendOnly(tx.Bucket(bucketOutbox)), key, OutboxEntry{Counter: rec.Counter, Regime: rec.Regime, EnqueuedAt: rec.IssuedAt}); err != nil {
			return IssueResult{}, nil, err
		}
		if err := addOutboxCount(meta, 1); err != nil {
			return IssueResult{}, nil, err
		}
	}
	if how := req.Print; how != PrintNone {
		if how == PrintNow && req.Submit && req.HoldPrint != nil && req.HoldPrint(rec.Document) {
			how = PrintAfterAnswer
		}
		if err := queueOriginal(tx, rec, how); err != nil {
			return IssueResult{}, nil, err
		}
		if how == PrintAfterAnswer && req.ProvisionalSlip {
			if err := queueProvisional(tx, rec); err != nil {
				return IssueResult{}, nil, err
			}
		}
	}
	if req.IdempotencyKey != "" {
		if err := putJSON(tx.Bucket(bucketIdempotency), idempotencyKey(req.User, req.IdempotencyKey), idempotencyEntry{rec.Counter, req.BodyHash}); err != nil {
			return IssueResult{}, nil, err
		}
	}
	if err := indexNumber(tx, rec.Number, rec.Counter); err != nil {
		return IssueResult{}, nil, err
	}
	if doc.Archive != nil {
		if err, abort := appendArchive(tx, rec.Counter, doc.Archive); err != nil || abort != nil {
			return IssueResult{}, nil, errors.Join(err, abort) // after the document's writes: never a partial issue
		}
	}
	if req.Note != nil {
		if err := recordNote(tx, req.Note, refs, credit, rec); err != nil {
			return IssueResult{}, nil, err
		}
	}
	details := map[string]string{"uuid": rec.UUID, "kind": rec.Kind, "hash": rec.Hash}
	if req.Late != nil {
		lateFor.LateEntries++
		if err := putJSON(tx.Bucket(bucketIncidents), u64(lateFor.ID), lateFor); err != nil {
			return IssueResult{}, nil, err
		}
		details["late_entry.incident"] = fmt.Sprint(lateFor.ID)
		details["late_entry.transaction_time"] = req.Late.TransactionTime.Format(time.RFC3339)
	}
	if b.ident.Regime == "" || b.ident.Bound == nil && req.Identity != nil {
		if b.ident.Regime == "" {
			b.ident.Regime, b.ident.Genesis = req.Regime, prev
		}
		if b.ident.Bound == nil && req.Identity != nil {
			b.ident.Bound, b.ident.BoundAt, b.ident.BoundBy = maps.Clone(req.Identity), now.UTC(), "first_document"
			for k, v := range b.ident.Bound {
				details["identity."+k] = v // this document bound the unit's identity
			}
		}
		if err := putJSON(meta, keyIdentity, b.ident); err != nil {
			return IssueResult{}, nil, err
		}
	}
	for k, v := range req.AuditDetails {
		if _, taken := details[k]; !taken {
			details[k] = v
		}
	}
	if err := s.appendAudit(tx, &AuditEntry{
		Time: now, Actor: req.User, ActorKind: ActorUser, Action: AuditDocument, Subject: fmt.Sprint(rec.Counter), Details: details,
	}); err != nil {
		return IssueResult{}, nil, err
	}
	b.head, b.issued = Head{Counter: rec.Counter, Hash: rec.Hash, LastIssued: now}, true
	return IssueResult{Record: rec}, nil, nil
}

// stampSafely runs the caller's stamp function and turns a panic into an
// error, so that one bad document cannot take the writer down.
func stampSafely(stamp func(Slot) (Stamped, error), slot Slot) (doc Stamped, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("stamping panicked: %v", p)
		}
	}()
	return stamp(slot)
}

// decodeCounter reads a big-endian counter key.
func decodeCounter(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

package queue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Retention: documents older than the law requires them to be kept may be
// removed from the journal (Prune). Only a prefix of the journal is ever
// removed — from the oldest document up to the first that must stay — so
// that what remains is one unbroken chain. The last removed document's
// counter and hash become the chain anchor: the check starts from it
// instead of the genesis hash, and a reader asking for a removed document
// is told it was pruned (ErrPruned) rather than that it never existed.

// keyAnchor is the meta key of the ChainAnchor, absent until a prune.
var keyAnchor = []byte("chain_anchor")

// AuditPruned is the audit action of a prune.
const AuditPruned = "journal_pruned"

// documentBuckets are the buckets whose keys begin with a document's
// counter (8 bytes, big-endian) and hold data that lives exactly as long
// as the document: removeDocument deletes every key with the counter as
// prefix from each of them. A new bucket of per-document data is kept for
// as long as its document, and no longer, by being listed here.
var documentBuckets = [][]byte{
	bucketJournal, bucketDocuments, bucketAnswers, bucketOutbox,
	bucketPrintJobs, bucketNotes, bucketRejected, bucketArchive,
}

// ChainAnchor is where a pruned journal begins: the last removed document.
type ChainAnchor struct {
	// Counter and Hash are the last removed document's: the first
	// remaining document's PrevHash is Hash.
	Counter uint64 `json:"counter"`
	Hash    string `json:"hash"`
	// IssuedAt is when that document was issued.
	IssuedAt time.Time `json:"issued_at"`
	// AuthorityNumber is the highest authority number among the removed
	// documents (see AuthoritySequence); the remaining ones continue it.
	AuthorityNumber uint64 `json:"authority_number,omitempty"`
	// Removed counts the documents removed so far, over every prune.
	Removed  uint64    `json:"removed"`
	PrunedAt time.Time `json:"pruned_at"`
}

// ErrPruned is returned (wrapped in a *PrunedError) for a document that was
// removed after its retention period. It also matches ErrNotFound.
var ErrPruned = errors.New("removed from the journal after its retention period")

// PrunedError names a removed document and the anchor it was removed under.
type PrunedError struct {
	Counter uint64
	Anchor  ChainAnchor
}

func (e *PrunedError) Error() string {
	return fmt.Sprintf("document %d was %s (documents 1–%d were pruned on %s; an offsite archive or export made before then holds them)",
		e.Counter, ErrPruned, e.Anchor.Counter, e.Anchor.PrunedAt.UTC().Format(time.DateOnly))
}

func (e *PrunedError) Is(target error) bool { return target == ErrPruned || target == ErrNotFound }

func getAnchor(tx *bolt.Tx) (ChainAnchor, error) {
	var a ChainAnchor
	if err := getJSON(tx.Bucket(bucketMeta), keyAnchor, &a); err != nil && err != ErrNotFound {
		return a, fmt.Errorf("chain anchor: %w", err)
	}
	return a, nil
}

// Anchor returns the chain anchor: the zero ChainAnchor when nothing was
// ever pruned.
func (s *Store) Anchor() (ChainAnchor, error) {
	var a ChainAnchor
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		a, err = getAnchor(tx)
		return err
	})
	return a, err
}

// missingRecord is the error for a journal key that has no record: pruned,
// or not found.
func missingRecord(tx *bolt.Tx, key []byte) error {
	counter := binary.BigEndian.Uint64(key)
	a, err := getAnchor(tx)
	if err != nil {
		return err
	}
	if counter != 0 && counter <= a.Counter {
		return &PrunedError{Counter: counter, Anchor: a}
	}
	return ErrNotFound
}

// PruneOptions say what Prune may remove.
type PruneOptions struct {
	// Before: only documents issued before it are removed (the caller
	// computes it from the retention period). The zero time removes none.
	Before time.Time
	// HoldFrom, when not 0, keeps every document with a counter of
	// HoldFrom or above, whatever its age: an offsite archive's upload
	// cursor (the next document it has not stored yet).
	HoldFrom uint64
	// Actor is who asked, for the audit entry; empty means ActorSystem.
	Actor string
}

// PruneReport says what Prune removed and why it stopped.
type PruneReport struct {
	Removed  uint64      // documents removed by this call
	From, To uint64      // the counters removed, when Removed > 0
	Anchor   ChainAnchor // the anchor after the call
	// Kept is the first document that stays, 0 when the journal is empty;
	// Reason says why it stays.
	Kept   uint64
	Reason string
}

// pruneBatch is the most documents one prune transaction removes, so that
// a first prune of years of documents does not hold the file's write lock
// (and the sales behind it) for long, nor build one huge transaction.
const pruneBatch = 2000

// Prune removes, oldest first, the documents that are issued before
// opts.Before, delivered (the authority's final answer is recorded, or the
// regime submits nothing) and not held by opts.HoldFrom, stopping at the
// first document that is not all three. Each batch commits with an audit
// entry naming the counters removed and the new anchor.
func (s *Store) Prune(opts PruneOptions) (PruneReport, error) {
	var rep PruneReport
	if opts.Actor == "" {
		opts.Actor = ActorSystem
	}
	for {
		more := false
		err := s.db.Update(func(tx *bolt.Tx) error {
			var err error
			more, err = s.pruneBatch(tx, opts, &rep)
			return err
		})
		if err != nil || !more {
			return rep, err
		}
	}
}

// pruneBatch removes up to pruneBatch documents in tx; more says it
// stopped at the batch size, not at a document to keep.
func (s *Store) pruneBatch(tx *bolt.Tx, opts PruneOptions, rep *PruneReport) (more bool, err error) {
	anchor, err := getAnchor(tx)
	if err != nil {
		return false, err
	}
	first := anchor.Counter + 1
	var removed uint64
	rep.Kept, rep.Reason = 0, "the journal holds no more documents"
	for removed < pruneBatch {
		key := u64(anchor.Counter + 1)
		r, err := recordMeta(tx, key)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if err != nil {
			return false, fmt.Errorf("journal[%d]: %w", anchor.Counter+1, err)
		}
		if why := keepReason(tx, r, opts); why != "" {
			rep.Kept, rep.Reason = r.Counter, why
			break
		}
		if err := removeDocument(tx, r); err != nil {
			return false, fmt.Errorf("remove document %d: %w", r.Counter, err)
		}
		anchor.Counter, anchor.Hash, anchor.IssuedAt = r.Counter, r.Hash, r.IssuedAt
		anchor.AuthorityNumber = max(anchor.AuthorityNumber, r.AuthorityNumber)
		removed++
	}
	rep.Anchor = anchor
	if removed == 0 {
		return false, nil
	}
	anchor.Removed += removed
	anchor.PrunedAt = s.opts.Now().UTC()
	rep.Anchor = anchor
	if rep.Removed == 0 {
		rep.From = first
	}
	rep.Removed += removed
	rep.To = anchor.Counter
	if err := putJSON(tx.Bucket(bucketMeta), keyAnchor, anchor); err != nil {
		return false, err
	}
	details := map[string]string{
		"from": fmt.Sprint(first), "to": fmt.Sprint(anchor.Counter), "removed": fmt.Sprint(removed),
		"anchor_hash": anchor.Hash, "issued_before": opts.Before.UTC().Format(time.RFC3339),
	}
	if opts.HoldFrom != 0 {
		details["hold_from"] = fmt.Sprint(opts.HoldFrom)
	}
	if err := s.appendAudit(tx, &AuditEntry{Actor: opts.Actor, Action: AuditPruned,
		Subject: fmt.Sprintf("%d-%d", first, anchor.Counter), Details: details}); err != nil {
		return false, err
	}
	return removed == pruneBatch, nil
}

// keepReason says why r may not be removed, or "" when it may.
func keepReason(tx *bolt.Tx, r *Record, opts PruneOptions) string {
	switch {
	case !r.IssuedAt.Before(opts.Before):
		return fmt.Sprintf("document %d was issued on %s, within its retention period", r.Counter, r.IssuedAt.UTC().Format(time.DateOnly))
	case r.Status == StatusPending || tx.Bucket(bucketOutbox).Get(u64(r.Counter)) != nil:
		return fmt.Sprintf("document %d has not been delivered to the authority", r.Counter)
	case opts.HoldFrom != 0 && r.Counter >= opts.HoldFrom:
		return fmt.Sprintf("document %d is held from %d on (not yet in the offsite archive)", r.Counter, opts.HoldFrom)
	}
	return ""
}

// removeDocument deletes document r and everything kept for it: every key
// with its counter as prefix in documentBuckets, its idempotency key, and
// the counts kept of them. Its UUID and its number stay indexed to its
// counter, so that a note or a reader naming it by either is told it was
// pruned rather than that it never existed (about 60 bytes a document). It
// is the only way a document leaves the store.
func removeDocument(tx *bolt.Tx, r *Record) error {
	key := u64(r.Counter)
	meta := tx.Bucket(bucketMeta)
	if tx.Bucket(bucketOutbox).Get(key) != nil {
		if err := addOutboxCount(meta, -1); err != nil {
			return err
		}
	}
	var rejected RejectedEntry
	switch err := getJSON(tx.Bucket(bucketRejected), key, &rejected); {
	case err == nil:
		if err := addMetaCount(meta, keyRejectedN, -1); err != nil {
			return err
		}
		if rejected.CreditNote == 0 {
			if err := addOpen(tx, rejected.Kind, -1); err != nil {
				return err
			}
		}
	case err != ErrNotFound:
		return fmt.Errorf("rejected[%d]: %w", r.Counter, err)
	}
	for _, name := range documentBuckets {
		if err := deletePrefix(tx.Bucket(name), key); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if r.IdempotencyKey != "" {
		b := tx.Bucket(bucketIdempotency)
		k := idempotencyKey(r.User, r.IdempotencyKey)
		var e idempotencyEntry
		if getJSON(b, k, &e) == nil && e.Counter == r.Counter {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// deletePrefix deletes every key of b that begins with prefix.
func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	var keys [][]byte // deleted after the walk: a delete moves the cursor
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// migratePruning prepares a store for pruning: nothing to rewrite, as the
// anchor is absent until the first prune.
func migratePruning(*bolt.Tx) error { return nil }

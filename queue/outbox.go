package queue

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Outbox returns up to limit entries waiting for submission, oldest first.
func (s *Store) Outbox(limit int) ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var e OutboxEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("outbox[%d]: %w", decodeCounter(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// OutboxStats is a summary of the outbox.
type OutboxStats struct {
	Pending int       `json:"pending"`
	Oldest  time.Time `json:"oldest,omitzero"` // when the oldest pending document was issued
}

// OutboxStats counts the outbox.
func (s *Store) OutboxStats() (OutboxStats, error) {
	var st OutboxStats
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		st.Pending = int(outboxCount(tx.Bucket(bucketMeta)))
		if k, v := b.Cursor().First(); k != nil {
			var e OutboxEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			st.Oldest = e.EnqueuedAt
		}
		return nil
	})
	return st, err
}

// Answer is an authority's final answer to a submission.
type Answer struct {
	Status   Status // Accepted, AcceptedWithWarnings or Rejected
	Body     []byte // the authority's full answer
	Messages []string
	At       time.Time
	// AssignNext, when not 0, is a pending document that takes the
	// authority's next number in the same transaction, once this answer
	// has settled the number the answered document held (numbered
	// regimes: the next document to send). It saves the next document a
	// commit of its own; it is skipped when the next number is still held.
	AssignNext uint64
	// Archive, when set, is stored as the document's next archive record
	// (archive.go), with the answer or not at all.
	Archive []byte
	// State, when set, is regime state stored in the same transaction (a
	// protocol session with the TOKEN that came with this answer): both
	// are on disk, or neither.
	State *StateWrite
}

// RecordAnswer stores the authority's final answer in the journal and takes
// the document out of the outbox, with its audit entry, all or nothing; an
// authority number the document holds (AssignNumber) is committed to it
// when it is accepted and released when it is rejected. It
// returns once that is on disk: the writer commits it together with the
// documents being issued and the other answers waiting (group commit). The
// stored document bytes are never touched. A second answer for the same
// document finds it out of the outbox and changes nothing.
func (s *Store) RecordAnswer(counter uint64, a Answer) error {
	if a.Status == StatusPending {
		return fmt.Errorf("queue: RecordAnswer needs a final status")
	}
	return s.write(func(tx *bolt.Tx, _ *batchState) (err, abort error) {
		key := u64(counter)
		rec, err := answeredRecord(tx, key)
		if err != nil {
			return err, nil
		}
		if tx.Bucket(bucketOutbox).Get(key) == nil {
			return fmt.Errorf("document %d is not in the outbox", counter), nil
		}
		if a.Archive != nil {
			if err := checkArchiveRecord(a.Archive); err != nil {
				return err, nil
			}
		}
		return nil, s.recordAnswer(tx, rec, a)
	})
}

// recordAnswer writes a's answer for rec, which is in the outbox.
func (s *Store) recordAnswer(tx *bolt.Tx, rec *Record, a Answer) error {
	key := u64(rec.Counter)
	rec.Status, rec.Answer, rec.Messages, rec.AnsweredAt = a.Status, a.Body, a.Messages, a.At.UTC()
	details := map[string]string{"status": a.Status.String()}
	if err := settleNumber(tx, rec, a.Status, details); err != nil {
		return err
	}
	if a.AssignNext != 0 && a.AssignNext != rec.Counter {
		if err := assignNext(tx, a.AssignNext, a.At); err != nil {
			return err
		}
	}
	if a.State != nil {
		if err := putState(tx, a.State); err != nil {
			return err
		}
	}
	if err := putRecord(tx, rec, false); err != nil {
		return err
	}
	if a.Archive != nil {
		if err, abort := appendArchive(tx, rec.Counter, a.Archive); err != nil || abort != nil {
			return errors.Join(err, abort)
		}
	}
	if rec.Status == StatusRejected {
		if err := indexRejected(tx, rec); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketOutbox).Delete(key); err != nil {
		return err
	}
	if err := addOutboxCount(tx.Bucket(bucketMeta), -1); err != nil {
		return err
	}
	if err := s.releasePrint(tx, rec.Counter, a.Status, a.At); err != nil {
		return err
	}
	if a.Status == StatusRejected && rec.Original != 0 {
		// A rejected note takes nothing from its original any more.
		details["released_from"] = fmt.Sprint(rec.Original)
		failed, err := s.releaseNote(tx, rec)
		if err != nil {
			return err
		}
		if failed != "" {
			details["release_error"] = failed
		}
	}
	return s.appendAudit(tx, &AuditEntry{Time: a.At, Actor: ActorSystem, ActorKind: ActorSystem, Action: AuditDocumentState,
		Subject: fmt.Sprint(rec.Counter), Details: details})
}

// answeredRecord reads the journal record under key for RecordAnswer. It is
// getRecord without the copy of the document bytes, which an answer never
// touches (putRecord leaves them alone); like getRecord, it fails when
// they are missing.
func answeredRecord(tx *bolt.Tx, key []byte) (*Record, error) {
	r, err := recordMeta(tx, key)
	if err != nil {
		return nil, err
	}
	if tx.Bucket(bucketDocuments).Get(key) == nil {
		return nil, fmt.Errorf("document bytes of %d are missing", binary.BigEndian.Uint64(key))
	}
	return r, nil
}

// Defer records a failed attempt and when to try again; the entry keeps its
// place in the queue. Like RecordAnswer, it is committed with whatever else
// the writer has waiting.
func (s *Store) Defer(counter uint64, next time.Time, lastErr string) error {
	return s.write(func(tx *bolt.Tx, _ *batchState) (err, abort error) {
		b := tx.Bucket(bucketOutbox)
		var e OutboxEntry
		if err := getJSON(b, u64(counter), &e); err != nil {
			return err, nil
		}
		e.Attempts++
		e.NextAttempt, e.LastError = next.UTC(), lastErr
		return nil, putJSON(b, u64(counter), e)
	})
}

func outboxCount(meta *bolt.Bucket) uint64 { return metaCount(meta, keyOutboxN) }

func addOutboxCount(meta *bolt.Bucket, delta int64) error {
	return addMetaCount(meta, keyOutboxN, delta)
}

// RetryNow makes every outbox entry due at once (a manager's replay after
// an outage) and returns their counters, in order. Attempts are kept.
func (s *Store) RetryNow() ([]uint64, error) {
	var pending []uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		var due []OutboxEntry // written after the walk: bbolt cursors do not survive writes
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var e OutboxEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("outbox[%d]: %w", decodeCounter(k), err)
			}
			pending = append(pending, decodeCounter(k))
			if !e.NextAttempt.IsZero() {
				e.NextAttempt = time.Time{}
				due = append(due, e)
			}
		}
		for _, e := range due {
			if err := putJSON(b, u64(e.Counter), e); err != nil {
				return err
			}
		}
		return nil
	})
	return pending, err
}

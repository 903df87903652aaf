package queue

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RejectedEntry is a document the authority rejected, as the index of
// rejected documents keeps it. Each one keeps its slot in the chain; an
// invoice or a debit note needs a credit note that corrects it.
type RejectedEntry struct {
	Counter    uint64    `json:"counter"`
	Kind       string    `json:"kind"`
	IssuedAt   time.Time `json:"issued_at"`
	AnsweredAt time.Time `json:"answered_at"`
	// Message is the authority's first message about the rejection.
	Message string `json:"message,omitempty"`
	// CreditNote is the credit note that corrects the document: its
	// References.Correction, kept in step with them in the transaction
	// that changes them; 0 while there is none.
	CreditNote uint64 `json:"credit_note,omitempty"`
}

// RejectedStats summarises the index of rejected documents.
type RejectedStats struct {
	Count int
	// WithoutCreditNote counts, per kind, the rejected documents that no
	// credit note corrects. Which kinds need one is the caller's to say
	// (for egsd, a rejected credit note is issued again instead).
	WithoutCreditNote map[string]int
	// Newest are the most recently issued rejected documents, newest first.
	Newest []RejectedEntry
}

var (
	bucketRejected = []byte("rejected") // counter → RejectedEntry
	// keyRejectedN counts the index, and keyRejectedOpen (JSON: kind →
	// count) its entries without a credit note, so that a status need not
	// walk it.
	keyRejectedN    = []byte("rejected_count")
	keyRejectedOpen = []byte("rejected_without_credit_note")
)

func metaCount(meta *bolt.Bucket, key []byte) uint64 {
	if v := meta.Get(key); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func addMetaCount(meta *bolt.Bucket, key []byte, delta int64) error {
	return meta.Put(key, u64(uint64(int64(metaCount(meta, key))+delta)))
}

func openCounts(meta *bolt.Bucket) (map[string]int, error) {
	open := map[string]int{}
	if err := getJSON(meta, keyRejectedOpen, &open); err != nil && err != ErrNotFound {
		return nil, fmt.Errorf("%s: %w", keyRejectedOpen, err)
	}
	return open, nil
}

// addOpen adds delta to the count of kind's rejected documents without a
// credit note.
func addOpen(tx *bolt.Tx, kind string, delta int) error {
	meta := tx.Bucket(bucketMeta)
	open, err := openCounts(meta)
	if err != nil {
		return err
	}
	if open[kind] += delta; open[kind] == 0 {
		delete(open, kind)
	}
	return putJSON(meta, keyRejectedOpen, open)
}

// indexRejected adds rec, just answered with a rejection, to the index,
// with the credit note that already corrects it, if any (notes issued
// while it waited for the answer).
func indexRejected(tx *bolt.Tx, rec *Record) error {
	b := tx.Bucket(bucketRejected)
	key := u64(rec.Counter)
	if b.Get(key) != nil {
		return nil
	}
	refs, err := getReferences(tx, rec.Counter)
	if err != nil {
		return err
	}
	e := RejectedEntry{Counter: rec.Counter, Kind: rec.Kind, IssuedAt: rec.IssuedAt, AnsweredAt: rec.AnsweredAt, CreditNote: refs.Correction()}
	if len(rec.Messages) > 0 {
		e.Message = rec.Messages[0]
	}
	if err := putJSON(appendOnly(b), key, e); err != nil {
		return err
	}
	if err := addMetaCount(tx.Bucket(bucketMeta), keyRejectedN, 1); err != nil {
		return err
	}
	if e.CreditNote != 0 {
		return nil
	}
	return addOpen(tx, e.Kind, 1)
}

// syncRejected keeps the index entry of a rejected document in step with
// its references, just changed (putReferences): the credit note that
// corrects it, and whether it counts as without one.
func syncRejected(tx *bolt.Tx, counter uint64, refs References) error {
	b := tx.Bucket(bucketRejected)
	var e RejectedEntry
	switch err := getJSON(b, u64(counter), &e); {
	case err == ErrNotFound: // not rejected
		return nil
	case err != nil:
		return fmt.Errorf("rejected[%d]: %w", counter, err)
	}
	was, now := e.CreditNote, refs.Correction()
	if was == now {
		return nil
	}
	e.CreditNote = now
	if err := putJSON(b, u64(counter), e); err != nil {
		return err
	}
	switch {
	case was == 0:
		return addOpen(tx, e.Kind, -1)
	case now == 0:
		return addOpen(tx, e.Kind, 1)
	}
	return nil
}

// Rejected returns the counts of the index of rejected documents and its
// newest entries (at most limit). It reads two counters and limit entries,
// however many documents were rejected.
func (s *Store) Rejected(limit int) (RejectedStats, error) {
	var st RejectedStats
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		st.Count = int(metaCount(meta, keyRejectedN))
		var err error
		if st.WithoutCreditNote, err = openCounts(meta); err != nil {
			return err
		}
		c := tx.Bucket(bucketRejected).Cursor()
		for k, v := c.Last(); k != nil && len(st.Newest) < limit; k, v = c.Prev() {
			var e RejectedEntry
			if err := jsonUnmarshal(v, &e); err != nil {
				return fmt.Errorf("rejected[%d]: %w", decodeCounter(k), err)
			}
			st.Newest = append(st.Newest, e)
		}
		return nil
	})
	return st, err
}

// RejectedDocument returns the index entry of the rejected document
// counter, or ErrNotFound when the authority has not rejected it.
func (s *Store) RejectedDocument(counter uint64) (RejectedEntry, error) {
	var e RejectedEntry
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketRejected), u64(counter), &e) })
	return e, err
}

// RejectedWithoutCreditNote calls fn with each rejected document that no
// credit note corrects yet, oldest first, until fn returns false.
func (t *Tx) RejectedWithoutCreditNote(fn func(RejectedEntry) bool) error {
	c := t.tx.Bucket(bucketRejected).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var e RejectedEntry
		if err := jsonUnmarshal(v, &e); err != nil {
			return fmt.Errorf("rejected[%d]: %w", decodeCounter(k), err)
		}
		if e.CreditNote == 0 && !fn(e) {
			return nil
		}
	}
	return nil
}

// migrateRejectedIndex (schema 2 → 3) builds the index of rejected
// documents from the journal, in one walk of the journal's metadata (the
// document bytes are not read), each with the credit note its references
// name as its correction. The references of a file from schema 1 are
// built after the migrations, by the caller's reindex (Tx.Reindex), which
// links the corrections through them.
func migrateRejectedIndex(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketRejected); err != nil {
		return err
	}
	c := tx.Bucket(bucketJournal).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		v, err := journalJSON(tx, v)
		if err != nil {
			return fmt.Errorf("journal[%d]: %w", decodeCounter(k), err)
		}
		// The stored status is written once, as a number; no string in a
		// record can hold these bytes unescaped. Only candidates are decoded.
		if !bytes.Contains(v, []byte(`"status":4`)) {
			continue
		}
		sr := storedRecord{Record: new(Record)}
		if err := jsonUnmarshal(v, &sr); err != nil {
			return fmt.Errorf("journal[%d]: %w", decodeCounter(k), err)
		}
		if Status(sr.Status) != StatusRejected {
			continue
		}
		if err := indexRejected(tx, sr.Record); err != nil {
			return err
		}
	}
	return nil
}

// checkRejectedIndex checks, during Check, that the index of rejected
// documents lists only rejected documents (Check's walk of the journal
// checks that it lists every one), each with the credit note its
// references name as its correction, and that its counts are right.
func checkRejectedIndex(tx *bolt.Tx, bad func(format string, args ...any)) error {
	journal := tx.Bucket(bucketJournal)
	count, open := 0, map[string]int{}
	err := tx.Bucket(bucketRejected).ForEach(func(k, v []byte) error {
		counter := binary.BigEndian.Uint64(k)
		var e RejectedEntry
		if err := jsonUnmarshal(v, &e); err != nil || e.Counter != counter {
			bad("rejected[%d]: unreadable or misplaced entry", counter)
			return nil
		}
		count++
		if e.CreditNote == 0 {
			open[e.Kind]++
		}
		sr := storedRecord{Record: new(Record)}
		if v := journal.Get(k); v == nil || unmarshalJournal(tx, v, &sr) != nil || Status(sr.Status) != StatusRejected || sr.Kind != e.Kind {
			bad("rejected[%d]: the journal does not hold it as a rejected %s", counter, e.Kind)
		}
		refs, err := getReferences(tx, counter)
		if err != nil {
			bad("rejected[%d]: its references: %v", counter, err)
		} else if refs.Correction() != e.CreditNote {
			bad("rejected[%d]: credit note %d, but its references say %d corrects it", counter, e.CreditNote, refs.Correction())
		}
		return nil
	})
	if err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	if n := metaCount(meta, keyRejectedN); n != uint64(count) {
		bad("rejected count says %d, the index has %d", n, count)
	}
	switch kept, err := openCounts(meta); {
	case err != nil:
		bad("%v", err)
	case !maps.Equal(kept, open):
		bad("rejected without a credit note says %v, the index has %v", kept, open)
	}
	return nil
}

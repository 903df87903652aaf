package queue

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RejectedEntry is a document the authority rejected, as the index of
// rejected documents keeps it. Each one keeps its slot in the chain and
// needs a credit note that corrects it.
type RejectedEntry struct {
	Counter    uint64    `json:"counter"`
	Kind       string    `json:"kind"`
	IssuedAt   time.Time `json:"issued_at"`
	AnsweredAt time.Time `json:"answered_at"`
	// Message is the authority's first message about the rejection.
	Message string `json:"message,omitempty"`
	// CreditNote is the counter of the first credit note issued to correct
	// the document; 0 while there is none.
	CreditNote uint64 `json:"credit_note,omitempty"`
}

// RejectedStats summarises the index of rejected documents.
type RejectedStats struct {
	Count             int `json:"count"`
	WithoutCreditNote int `json:"without_credit_note"`
	// Newest are the most recently issued rejected documents, newest first.
	Newest []RejectedEntry `json:"newest"`
}

var (
	bucketRejected = []byte("rejected") // counter → RejectedEntry
	// keyRejectedN and keyRejectedOpen count the index and the entries
	// without a credit note, so that a status need not walk it.
	keyRejectedN    = []byte("rejected_count")
	keyRejectedOpen = []byte("rejected_without_credit_note")
	// keyCreditNoteLinks is set by the migration that built the index from
	// an older file: which earlier credit notes correct which rejected
	// documents is known only to the caller (see CreditNoteLinksPending).
	keyCreditNoteLinks = []byte("rejected_links_pending")
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

// indexRejected adds rec, just answered with a rejection, to the index.
func indexRejected(tx *bolt.Tx, rec *Record) error {
	e := RejectedEntry{Counter: rec.Counter, Kind: rec.Kind, IssuedAt: rec.IssuedAt, AnsweredAt: rec.AnsweredAt}
	if len(rec.Messages) > 0 {
		e.Message = rec.Messages[0]
	}
	b := tx.Bucket(bucketRejected)
	key := u64(rec.Counter)
	if b.Get(key) != nil {
		return nil
	}
	if err := putJSON(appendOnly(b), key, e); err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	if err := addMetaCount(meta, keyRejectedN, 1); err != nil {
		return err
	}
	return addMetaCount(meta, keyRejectedOpen, 1)
}

// linkCreditNote records note as the credit note that corrects the
// rejected document original, unless that has one already. It reports
// whether original is in the index.
func linkCreditNote(tx *bolt.Tx, original, note uint64) (bool, error) {
	b := tx.Bucket(bucketRejected)
	var e RejectedEntry
	if err := getJSON(b, u64(original), &e); err == ErrNotFound {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("rejected[%d]: %w", original, err)
	}
	if e.CreditNote != 0 || note <= original {
		return true, nil
	}
	e.CreditNote = note
	if err := putJSON(b, u64(original), e); err != nil {
		return true, err
	}
	return true, addMetaCount(tx.Bucket(bucketMeta), keyRejectedOpen, -1)
}

// Rejected returns the counts of the index of rejected documents and its
// newest entries (at most limit). It reads two counters and limit entries,
// however many documents were rejected.
func (s *Store) Rejected(limit int) (RejectedStats, error) {
	var st RejectedStats
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		st.Count = int(metaCount(meta, keyRejectedN))
		st.WithoutCreditNote = int(metaCount(meta, keyRejectedOpen))
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
func (s *Store) RejectedWithoutCreditNote(fn func(RejectedEntry) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRejected).Cursor()
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
	})
}

// LinkCreditNote records note as the credit note that corrects the
// rejected document original, unless that has one already (the first note
// stays). It is a no-op when original was not rejected.
func (s *Store) LinkCreditNote(original, note uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		_, err := linkCreditNote(tx, original, note)
		return err
	})
}

// CreditNoteLinksPending reports whether the index of rejected documents
// was built from an older file that did not record which credit notes
// correct them, and from which counter the caller, which knows what a
// credit note names, should look for them (the oldest rejected document).
func (s *Store) CreditNoteLinksPending() (from uint64, pending bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta).Get(keyCreditNoteLinks) == nil {
			return nil
		}
		pending = true
		if k, _ := tx.Bucket(bucketRejected).Cursor().First(); k != nil {
			from = decodeCounter(k)
		}
		return nil
	})
	return from, pending, err
}

// CreditNoteLinksDone records that the caller has linked the credit notes
// of an older file (see CreditNoteLinksPending).
func (s *Store) CreditNoteLinksDone() error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyCreditNoteLinks) })
}

// migrateRejectedIndex (schema 2 → 3) builds the index of rejected
// documents from the journal, in one walk of the journal's metadata (the
// document bytes are not read). When it finds any, the links to their
// credit notes are left for the caller (CreditNoteLinksPending).
func migrateRejectedIndex(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketRejected); err != nil {
		return err
	}
	found := false
	c := tx.Bucket(bucketJournal).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
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
		found = true
		if err := indexRejected(tx, sr.Record); err != nil {
			return err
		}
	}
	if !found {
		return nil
	}
	return tx.Bucket(bucketMeta).Put(keyCreditNoteLinks, []byte{1})
}

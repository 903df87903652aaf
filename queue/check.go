package queue

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// CheckOptions configure Check.
type CheckOptions struct {
	// Rehash, if set, recomputes a document's hash from its stored bytes,
	// proving that the stored bytes are the bytes that were chained.
	Rehash func(regime string, doc []byte) (string, error)
	// Archive, if set, verifies each archive record against its document
	// (its signature, and that it records that document).
	Archive func(rec ArchiveRecord, doc *Record) error
}

// CheckReport summarises a successful Check.
type CheckReport struct {
	Documents uint64 // the last counter
	Pending   int    // outbox entries
	Audit     int    // audit entries
	Archive   int    // archive records
	Pruned    uint64 // the chain anchor's counter: documents 1..Pruned were pruned
}

// anchorNote explains a chain break at the first document after a prune.
func anchorNote(a ChainAnchor, counter uint64) string {
	if a.Counter == 0 || counter != a.Counter+1 {
		return ""
	}
	return " (the chain anchor left by pruning documents 1–" + fmt.Sprint(a.Counter) + ")"
}

// Check verifies the store's invariants and returns every violation found
// (joined), like bbolt's Tx.Check: counters contiguous from 1 with no gap,
// each document's PrevHash equal to the previous document's Hash (the first
// one's to the genesis hash), the chain head at the last document, the UUID
// index and idempotency keys pointing at real documents, every pending
// document in the outbox and every outbox entry pending, and the audit
// chain intact; the number index, the notes' references and the index of
// rejected documents agree with the journal; the authority's numbers of the
// accepted documents run 1..n with no gap or duplicate, and at most one
// pending document holds the next one; the archive's records are numbered
// without gaps per document, well-formed and of existing documents. In a
// pruned journal the counters, the chain and the authority's numbers start
// from the chain anchor.
func (s *Store) Check(opts CheckOptions) (CheckReport, error) {
	var rep CheckReport
	var problems []error
	bad := func(format string, args ...any) {
		if len(problems) < 50 {
			problems = append(problems, fmt.Errorf(format, args...))
		}
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		var ident Identity
		if err := getJSON(tx.Bucket(bucketMeta), keyIdentity, &ident); err != nil {
			return fmt.Errorf("identity: %w", err)
		}
		head, err := getHead(tx)
		if err != nil {
			return err
		}
		outbox := tx.Bucket(bucketOutbox)
		seq, err := getSequence(tx)
		if err != nil {
			return fmt.Errorf("authority numbers: %w", err)
		}
		anchor, err := getAnchor(tx)
		if err != nil {
			return err
		}
		rep.Pruned = anchor.Counter
		numbers := numberCheck{last: anchor.AuthorityNumber}
		originals := map[uint64]uint64{} // note → original, for checkNotes
		want := anchor.Counter + 1
		prevHash := ident.Genesis
		if anchor.Counter != 0 {
			prevHash = anchor.Hash // the chain goes on from the last pruned document
		}
		c := tx.Bucket(bucketJournal).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			counter := binary.BigEndian.Uint64(k)
			if counter != want {
				bad("journal: counter %d follows %d (gap or duplicate)", counter, want-1)
			}
			want = counter + 1
			r, err := decodeRecord(tx, k, v)
			if err != nil {
				bad("journal[%d]: %v", counter, err)
				continue
			}
			if r.Counter != counter {
				bad("journal[%d]: record says counter %d", counter, r.Counter)
			}
			checkNumber(tx, r, bad)
			numbers.visit(r, seq, bad)
			if r.Original != 0 {
				originals[counter] = r.Original
			}
			if r.PrevHash != prevHash {
				bad("journal[%d]: previous hash %q, but document %d has hash %q%s", counter, r.PrevHash, counter-1, prevHash, anchorNote(anchor, counter))
			}
			prevHash = r.Hash
			if opts.Rehash != nil {
				h, err := opts.Rehash(r.Regime, r.Document)
				switch {
				case err != nil:
					bad("journal[%d]: rehash: %v", counter, err)
				case h != r.Hash:
					bad("journal[%d]: stored bytes hash to %q, record says %q", counter, h, r.Hash)
				}
			}
			if u := tx.Bucket(bucketUUID).Get([]byte(r.UUID)); u == nil || binary.BigEndian.Uint64(u) != counter {
				bad("journal[%d]: UUID %s is not indexed to it", counter, r.UUID)
			}
			inOutbox := outbox.Get(k) != nil
			if r.Status == StatusPending && !inOutbox {
				bad("journal[%d]: pending but not in the outbox (lost submission)", counter)
			}
			if r.Status != StatusPending && inOutbox {
				bad("journal[%d]: %s but still in the outbox", counter, r.Status)
			}
			if r.Status == StatusRejected && tx.Bucket(bucketRejected).Get(k) == nil {
				bad("journal[%d]: rejected but not in the index of rejected documents", counter)
			}
		}
		rep.Documents = want - 1
		numbers.finish(seq, bad)
		if head.Counter != rep.Documents || head.Hash != prevHash {
			bad("chain head is %d/%q but the journal ends at %d/%q", head.Counter, head.Hash, rep.Documents, prevHash)
		}
		err = outbox.ForEach(func(k, _ []byte) error {
			rep.Pending++
			if tx.Bucket(bucketJournal).Get(k) == nil {
				bad("outbox entry %d has no journal record", binary.BigEndian.Uint64(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n := outboxCount(tx.Bucket(bucketMeta)); n != uint64(rep.Pending) {
			bad("outbox count says %d entries, the outbox has %d", n, rep.Pending)
		}
		err = tx.Bucket(bucketPrintJobs).ForEach(func(k, v []byte) error {
			var job PrintJob
			if len(k) != 12 || jsonUnmarshal(v, &job) != nil {
				bad("print job %x is unreadable", k)
				return nil
			}
			counter := binary.BigEndian.Uint64(k)
			if job.Counter != counter || tx.Bucket(bucketJournal).Get(k[:8]) == nil {
				bad("print job %x has no journal record", k)
			}
			if job.State == PrintAwaitingAnswer && outbox.Get(k[:8]) == nil {
				bad("print job %d waits for an answer that was already recorded", counter)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := checkNotes(tx, originals, anchor.Counter, bad); err != nil {
			return err
		}
		if err := checkRejectedIndex(tx, bad); err != nil {
			return err
		}
		if rep.Archive, err = checkArchive(tx, opts, bad); err != nil {
			return err
		}
		if n := tx.Bucket(bucketDocuments).Stats().KeyN; uint64(n) != rep.Documents-anchor.Counter {
			bad("%d document bodies for %d journal records", n, rep.Documents-anchor.Counter)
		}
		err = tx.Bucket(bucketAnswers).ForEach(func(k, _ []byte) error {
			if len(k) != 8 || tx.Bucket(bucketJournal).Get(k) == nil {
				bad("answer %x has no journal record", k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketIdempotency).ForEach(func(k, v []byte) error {
			var e idempotencyEntry
			if err := json.Unmarshal(v, &e); err != nil {
				bad("idempotency key %q: %v", k, err)
			} else if e.Counter <= anchor.Counter || e.Counter > rep.Documents {
				bad("idempotency key %q points at missing document %d", k, e.Counter)
			}
			return nil
		})
	})
	if err != nil {
		return rep, err
	}
	n, err := s.VerifyAudit()
	rep.Audit = n
	if err != nil {
		problems = append(problems, err)
	}
	return rep, errors.Join(problems...)
}

package queue

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The authority's own numbering of the documents it accepts (KRA's
// invcNo), for regimes whose authority needs it gap-free: the store keeps
// where the sequence stands, and the journal records each accepted
// document's number with its answer (Record.AuthorityNumber).
//
// A number is assigned to the oldest pending document before its request
// goes out (AssignNumber, on disk before it returns), committed by an
// accepted answer and released by a rejected one (both in RecordAnswer's
// transaction). At most one document holds an unanswered number, and it
// always holds Next: committing advances Next, releasing leaves it for the
// next document.
var (
	bucketAuthority = []byte("authority_numbers")
	keySequence     = []byte("sequence")
)

// AuthoritySequence is where the authority's numbering stands.
type AuthoritySequence struct {
	// Next is the number the authority expects next: one more than the
	// last number it accepted (1 before the first).
	Next uint64 `json:"next"`
	// Holder is the document that holds Next without a final answer (it
	// was, or is about to be, sent with it); 0 when none does.
	Holder uint64 `json:"holder,omitempty"`
	// AssignedAt is when Holder was given Next.
	AssignedAt time.Time `json:"assigned_at,omitzero"`
}

// ErrNumberHeld is returned by AssignNumber when another document holds the
// authority's next number unanswered: numbers go to documents in order, one
// at a time.
var ErrNumberHeld = errors.New("the authority's next number is held by another document")

func getSequence(tx *bolt.Tx) (AuthoritySequence, error) {
	seq := AuthoritySequence{Next: 1}
	err := getJSON(tx.Bucket(bucketAuthority), keySequence, &seq)
	if err == ErrNotFound {
		return AuthoritySequence{Next: 1}, nil
	}
	return seq, err
}

// AuthoritySequence returns where the authority's numbering stands.
func (s *Store) AuthoritySequence() (AuthoritySequence, error) {
	var seq AuthoritySequence
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		seq, err = getSequence(tx)
		return err
	})
	return seq, err
}

// AssignNumber gives the pending document counter the authority's next
// number, or returns the number it holds already; fresh reports which. It
// returns once the assignment is on disk, so that a request sent after it
// can never carry a number the store has forgotten. A document that is not
// pending, or a number held by another document, is an error and changes
// nothing.
func (s *Store) AssignNumber(counter uint64, at time.Time) (n uint64, fresh bool, err error) {
	err = s.write(func(tx *bolt.Tx, _ *batchState) (err, abort error) {
		seq, err := getSequence(tx)
		if err != nil {
			return nil, err
		}
		if seq.Holder == counter {
			n = seq.Next
			return nil, nil
		}
		if seq.Holder != 0 {
			return fmt.Errorf("%w: document %d holds number %d, document %d must wait for its answer", ErrNumberHeld, seq.Holder, seq.Next, counter), nil
		}
		if tx.Bucket(bucketOutbox).Get(u64(counter)) == nil {
			return fmt.Errorf("document %d is not in the outbox: only a pending document takes a number", counter), nil
		}
		seq.Holder, seq.AssignedAt = counter, at.UTC()
		n, fresh = seq.Next, true
		return nil, putJSON(tx.Bucket(bucketAuthority), keySequence, seq)
	})
	if err != nil {
		return 0, false, err
	}
	return n, fresh, nil
}

// assignNext gives pending document counter the authority's next number
// if no document holds it (Answer.AssignNext).
func assignNext(tx *bolt.Tx, counter uint64, at time.Time) error {
	seq, err := getSequence(tx)
	if err != nil || seq.Holder != 0 || tx.Bucket(bucketOutbox).Get(u64(counter)) == nil {
		return err
	}
	seq.Holder, seq.AssignedAt = counter, at.UTC()
	return putJSON(tx.Bucket(bucketAuthority), keySequence, seq)
}

// settleNumber decides the fate of the number rec holds, if any, as its
// answer is recorded (inside RecordAnswer's transaction): an accepted
// document keeps it for good, a rejected one gives it back. It notes what it
// did in the answer's audit details.
func settleNumber(tx *bolt.Tx, rec *Record, status Status, details map[string]string) error {
	seq, err := getSequence(tx)
	if err != nil || seq.Holder != rec.Counter {
		return err
	}
	n := seq.Next
	if status == StatusRejected {
		details["authority_number_released"] = fmt.Sprint(n)
	} else {
		rec.AuthorityNumber = n
		seq.Next++
		details["authority_number"] = fmt.Sprint(n)
	}
	seq.Holder, seq.AssignedAt = 0, time.Time{}
	return putJSON(tx.Bucket(bucketAuthority), keySequence, seq)
}

// numberCheck follows the journal for Check: the accepted documents'
// authority numbers run 1, 2, 3, … in issue order, only accepted documents
// have one, and the sequence's Next and Holder agree with them.
type numberCheck struct {
	last   uint64
	holder bool // the holder was seen pending
}

func (nc *numberCheck) visit(r *Record, seq AuthoritySequence, bad func(string, ...any)) {
	if r.Counter == seq.Holder {
		nc.holder = true
		if r.Status != StatusPending {
			bad("authority numbers: document %d holds number %d but is %s", r.Counter, seq.Next, r.Status)
		}
	}
	if r.AuthorityNumber == 0 {
		return
	}
	if r.Status != StatusAccepted && r.Status != StatusAcceptedWithWarnings {
		bad("journal[%d]: %s, yet it has the authority's number %d", r.Counter, r.Status, r.AuthorityNumber)
	}
	if r.AuthorityNumber != nc.last+1 {
		bad("journal[%d]: the authority's number %d follows %d (gap or duplicate)", r.Counter, r.AuthorityNumber, nc.last)
	}
	nc.last = r.AuthorityNumber
}

func (nc *numberCheck) finish(seq AuthoritySequence, bad func(string, ...any)) {
	if seq.Next != nc.last+1 {
		bad("authority numbers: next is %d, but the last accepted document has %d", seq.Next, nc.last)
	}
	if seq.Holder != 0 && !nc.holder {
		bad("authority numbers: number %d is held by document %d, which is not in the journal", seq.Next, seq.Holder)
	}
}

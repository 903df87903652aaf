package queue

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PrintState is where a print job stands.
type PrintState string

// The print job states. Stored values.
const (
	// PrintQueued jobs are printed in key order as soon as the printer
	// is ready.
	PrintQueued PrintState = "queued"
	// PrintAwaitingAnswer jobs wait for the authority's answer to their
	// document (ZATCA: a standard invoice is handed over only once
	// cleared); RecordAnswer releases them, or cancels them when the
	// document is rejected.
	PrintAwaitingAnswer PrintState = "awaiting_answer"
	// PrintFailed jobs cannot print as they are (the receipt cannot be
	// laid out for this printer); they stay listed for the manager and are
	// skipped, so that one bad receipt does not block the others.
	PrintFailed PrintState = "failed"
)

// PrintJob is one receipt to print: the original of a document (Copy 0) or
// its n-th marked copy. A job stays in the print queue until the printer has
// confirmed it, across restarts; then it is removed and the document's
// record notes the print.
type PrintJob struct {
	Counter     uint64     `json:"counter"`
	Copy        int        `json:"copy"`
	State       PrintState `json:"state"`
	RequestedBy string     `json:"requested_by"`
	CreatedAt   time.Time  `json:"created_at"`
	Attempts    int        `json:"attempts"`
	LastAttempt time.Time  `json:"last_attempt,omitzero"`
	LastError   string     `json:"last_error,omitempty"`
}

// PrintRequest says whether Issue queues the document's original receipt.
type PrintRequest int

const (
	PrintNone        PrintRequest = iota // no printer: nothing queued
	PrintNow                             // print as soon as the printer is ready
	PrintAfterAnswer                     // print once the authority has accepted the document
)

// ProvisionalSlip is the Copy of a provisional slip: a paper handed over at
// once for a document whose fiscal receipt waits for the authority's
// signature. It is not a copy and not the original; printing it changes
// neither Copies nor PrintedAt.
const ProvisionalSlip = -1

// queueProvisional queues rec's provisional slip, in the issue transaction.
func queueProvisional(tx *bolt.Tx, rec *Record) error {
	return putJSON(tx.Bucket(bucketPrintJobs), printKey(rec.Counter, ProvisionalSlip),
		PrintJob{Counter: rec.Counter, Copy: ProvisionalSlip, State: PrintQueued, RequestedBy: rec.User, CreatedAt: rec.IssuedAt})
}

// printKey orders jobs by document, then copy: an original never prints after
// a copy of the same document. A provisional slip (copy -1, 0xFFFFFFFF in
// the key) comes after them; it is the only job of its document that may
// print before the answer.
func printKey(counter uint64, copyNo int) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint64(k, counter)
	binary.BigEndian.PutUint32(k[8:], uint32(copyNo))
	return k
}

// queueOriginal puts the original receipt of rec in the print queue, inside
// the issue transaction, so that an acknowledged sale always has its receipt
// queued.
func queueOriginal(tx *bolt.Tx, rec *Record, how PrintRequest) error {
	state := PrintQueued
	if how == PrintAfterAnswer {
		state = PrintAwaitingAnswer
	}
	return putJSON(tx.Bucket(bucketPrintJobs), printKey(rec.Counter, 0),
		PrintJob{Counter: rec.Counter, State: state, RequestedBy: rec.User, CreatedAt: rec.IssuedAt})
}

// releasePrint moves a document's original receipt on once the authority
// has answered: an accepted document is printed, a rejected one never is
// (the buyer must not get a document the authority refused).
func (s *Store) releasePrint(tx *bolt.Tx, counter uint64, status Status, at time.Time) error {
	b := tx.Bucket(bucketPrintJobs)
	key := printKey(counter, 0)
	var job PrintJob
	if v := b.Get(key); v == nil {
		return nil
	} else if err := jsonUnmarshal(v, &job); err != nil {
		return err
	}
	if job.State != PrintAwaitingAnswer {
		return nil
	}
	if status == StatusRejected {
		if err := b.Delete(key); err != nil {
			return err
		}
		return s.appendAudit(tx, &AuditEntry{Time: at, Actor: ActorSystem, ActorKind: ActorSystem, Action: AuditPrint,
			Subject: fmt.Sprint(counter), Details: map[string]string{"event": "cancelled", "reason": "rejected by the authority"}})
	}
	job.State = PrintQueued
	return putJSON(b, key, job)
}

// PrintJobs lists the print queue in print order.
func (s *Store) PrintJobs(limit int) ([]PrintJob, error) {
	var jobs []PrintJob
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPrintJobs).Cursor()
		for k, v := c.First(); k != nil && (limit <= 0 || len(jobs) < limit); k, v = c.Next() {
			var j PrintJob
			if err := jsonUnmarshal(v, &j); err != nil {
				return fmt.Errorf("print job %x: %w", k, err)
			}
			jobs = append(jobs, j)
		}
		return nil
	})
	return jobs, err
}

// NextPrintJob returns the first job that may print now.
func (s *Store) NextPrintJob() (PrintJob, bool, error) {
	var job PrintJob
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPrintJobs).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if err := jsonUnmarshal(v, &job); err != nil {
				return fmt.Errorf("print job %x: %w", k, err)
			}
			if job.State == PrintQueued {
				found = true
				return nil
			}
		}
		return nil
	})
	return job, found && err == nil, err
}

// PrintStats counts the print queue.
type PrintStats struct {
	Queued         int `json:"queued"`
	AwaitingAnswer int `json:"awaiting_answer"`
	Failed         int `json:"failed"`
}

// PrintStats counts the jobs in the print queue by state.
func (s *Store) PrintStats() (PrintStats, error) {
	var st PrintStats
	jobs, err := s.PrintJobs(0)
	for _, j := range jobs {
		switch j.State {
		case PrintQueued:
			st.Queued++
		case PrintAwaitingAnswer:
			st.AwaitingAnswer++
		case PrintFailed:
			st.Failed++
		}
	}
	return st, err
}

// QueueCopy queues a marked copy of a document's receipt, requested by user.
// It returns the job; the copy number counts the copies printed and queued.
// When the original failed to print, it is queued again instead: the buyer
// has had no receipt, so this one is the original.
func (s *Store) QueueCopy(counter uint64, user string, at time.Time) (PrintJob, error) {
	var job PrintJob
	err := s.db.Update(func(tx *bolt.Tx) error {
		rec, err := getRecord(tx, counter)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketPrintJobs)
		// An original that never printed is retried as the original.
		var orig PrintJob
		if getJSON(b, printKey(counter, 0), &orig) == nil && orig.State == PrintFailed {
			orig.State, orig.LastError = PrintQueued, ""
			job = orig
			if err := putJSON(b, printKey(counter, 0), orig); err != nil {
				return err
			}
			return s.appendAudit(tx, &AuditEntry{Time: at, Actor: user, ActorKind: ActorUser, Action: AuditPrint,
				Subject: fmt.Sprint(counter), Details: map[string]string{"event": "original_retried"}})
		}
		n := rec.Copies + 1
		for b.Get(printKey(counter, n)) != nil {
			n++
		}
		job = PrintJob{Counter: counter, Copy: n, State: PrintQueued, RequestedBy: user, CreatedAt: at.UTC()}
		if err := putJSON(b, printKey(counter, n), job); err != nil {
			return err
		}
		return s.appendAudit(tx, &AuditEntry{Time: at, Actor: user, ActorKind: ActorUser, Action: AuditPrint,
			Subject: fmt.Sprint(counter), Details: map[string]string{"event": "copy_requested", "copy": fmt.Sprint(n)}})
	})
	return job, err
}

// PrintDone records that the printer confirmed a job: the job leaves the
// queue and the document's record notes the original's print time or counts
// the copy.
func (s *Store) PrintDone(counter uint64, copyNo int, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPrintJobs)
		key := printKey(counter, copyNo)
		if b.Get(key) == nil {
			return fmt.Errorf("print job %d/%d: %w", counter, copyNo, ErrNotFound)
		}
		rec, err := getRecord(tx, counter)
		if err != nil {
			return err
		}
		switch copyNo {
		case ProvisionalSlip:
			// Not the fiscal receipt: the record does not change.
			return b.Delete(key)
		case 0:
			rec.PrintedAt = at.UTC()
		default:
			rec.Copies = max(rec.Copies, copyNo)
		}
		if err := putRecord(tx, rec, false); err != nil {
			return err
		}
		return b.Delete(key)
	})
}

// PrintAttemptFailed records a failed attempt. The job keeps its place and
// is tried again, unless permanent: then it is marked failed and skipped.
func (s *Store) PrintAttemptFailed(counter uint64, copyNo int, at time.Time, reason string, permanent bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPrintJobs)
		key := printKey(counter, copyNo)
		var job PrintJob
		if err := getJSON(b, key, &job); err != nil {
			return fmt.Errorf("print job %d/%d: %w", counter, copyNo, err)
		}
		job.Attempts++
		job.LastAttempt, job.LastError = at.UTC(), reason
		if permanent {
			job.State = PrintFailed
		}
		return putJSON(b, key, job)
	})
}

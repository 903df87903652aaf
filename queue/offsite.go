package queue

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketOffsite    = []byte("offsite") // keyOffsiteCursor → OffsiteCursor
	keyOffsiteCursor = []byte("cursor")
)

// OffsiteCursor is how far the unit's journal has been copied to its
// off-site archive. Each field is advanced only once everything up to it is
// confirmed stored there, so a restart resumes from it and skips nothing.
type OffsiteCursor struct {
	// Target names the archive the cursor counts for (endpoint, bucket and
	// prefix): a cursor kept for another target counts as nothing sent.
	Target string `json:"target"`
	// Documents is the highest counter whose document is archived, with
	// every counter below it.
	Documents uint64 `json:"documents"`
	// Answers is the highest counter up to which every document's answer
	// from the authority is archived (answers arrive after documents, and
	// not in order: this stays below the oldest unanswered document).
	Answers uint64 `json:"answers"`
	// Checkpoints is the sequence number of the newest signed audit
	// checkpoint archived, with every one before it.
	Checkpoints uint64 `json:"checkpoints"`
}

// HoldFrom is the lowest counter whose document or answer is not yet in
// the archive: pruning must keep it and everything after it. It means
// something only while an archive is configured, for the target the
// cursor names (offsite.Uploader.HoldFrom checks both).
func (c OffsiteCursor) HoldFrom() uint64 { return min(c.Documents, c.Answers) + 1 }

// OffsiteCursor returns the stored cursor; the zero cursor when nothing
// was archived yet.
func (s *Store) OffsiteCursor() (OffsiteCursor, error) {
	var c OffsiteCursor
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketOffsite), keyOffsiteCursor, &c)
	})
	if errors.Is(err, ErrNotFound) {
		return OffsiteCursor{}, nil
	}
	return c, err
}

// SetOffsiteCursor stores c. A cursor never moves back for the same
// target: that would be a bug in the caller, and is refused.
func (s *Store) SetOffsiteCursor(c OffsiteCursor) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOffsite)
		var old OffsiteCursor
		switch err := getJSON(b, keyOffsiteCursor, &old); {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case old.Target == c.Target && (c.Documents < old.Documents || c.Answers < old.Answers || c.Checkpoints < old.Checkpoints):
			return fmt.Errorf("queue: the archive cursor cannot move back (from %+v to %+v)", old, c)
		}
		return putJSON(b, keyOffsiteCursor, c)
	})
}

// migrateOffsite adds the archive cursor's bucket to a file written before
// it existed (initOrMigrate creates every bucket; this keeps the step
// explicit for the version bump).
func migrateOffsite(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketOffsite)
	return err
}

package queue

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// writeCall is one caller's change for the writer: an issued document, an
// authority's answer, a deferred submission.
type writeCall struct {
	// apply makes the change in tx and sets the call's own result. err is
	// a problem of this change alone, found before it wrote anything;
	// abort means tx holds part of the change, which must not be
	// committed. apply may run again in a new transaction (when another
	// call in its batch aborted), so it starts by clearing its result.
	apply func(tx *bolt.Tx, b *batchState) (err, abort error)
	err   error
	done  chan struct{} // closed once err (and the caller's result) is final
}

// batchState is what the calls of one transaction share: the chain head
// and the identity, read once and written once for the documents issued.
type batchState struct {
	loaded bool
	head   Head
	ident  Identity
	issued bool // head changed: write it before the commit
}

// chain reads the head and the identity on first use in tx.
func (b *batchState) chain(tx *bolt.Tx) error {
	if b.loaded {
		return nil
	}
	head, err := getHead(tx)
	if err != nil {
		return err
	}
	if err := getJSON(tx.Bucket(bucketMeta), keyIdentity, &b.ident); err != nil {
		return err
	}
	b.head, b.loaded = head, true
	return nil
}

func (b *batchState) save(tx *bolt.Tx) error {
	if !b.issued {
		return nil
	}
	return putJSON(tx.Bucket(bucketMeta), keyHead, b.head)
}

// write hands apply to the writer and waits for the commit that carries it.
func (s *Store) write(apply func(tx *bolt.Tx, b *batchState) (err, abort error)) error {
	c := &writeCall{apply: apply, done: make(chan struct{})}
	if err := s.enqueue(c); err != nil {
		return err
	}
	<-c.done
	return c.err
}

// enqueue passes c to the writer; the read lock keeps Close from closing
// the channel under the send.
func (s *Store) enqueue(c *writeCall) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	s.writes <- c
	return nil
}

// writer is the single goroutine that changes the journal and the outbox.
// It takes every call already waiting (up to MaxBatch) into one
// transaction, so that concurrent sales, and the authority's answers that
// arrive meanwhile, share one fsync and never wait for each other's, while
// a lone call never waits for a batch to fill.
func (s *Store) writer() {
	defer close(s.done)
	batch := make([]*writeCall, 0, s.opts.MaxBatch)
	for first := range s.writes {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < s.opts.MaxBatch {
			select {
			case c, ok := <-s.writes:
				if !ok {
					break fill
				}
				batch = append(batch, c)
			default:
				break fill
			}
		}
		s.commitBatch(batch)
	}
}

// commitBatch applies the calls in one transaction, in order, and commits
// it. Each call is all-or-nothing on its own: one that fails before it
// writes anything keeps its error and leaves the others be; one that
// fails halfway through its writes is dropped with its error and the
// transaction is run again without it, from scratch. A failed commit fails
// every call in it.
func (s *Store) commitBatch(batch []*writeCall) {
	pending := batch
	for len(pending) > 0 {
		aborted := -1
		err := s.db.Update(func(tx *bolt.Tx) error {
			var b batchState
			for i, c := range pending {
				var abort error
				if c.err, abort = c.apply(tx, &b); abort != nil {
					aborted = i
					return abort
				}
			}
			return b.save(tx)
		})
		if err != nil && aborted >= 0 {
			pending[aborted].err = fmt.Errorf("commit: %w", err)
			close(pending[aborted].done)
			pending = append(pending[:aborted:aborted], pending[aborted+1:]...)
			continue
		}
		for _, c := range pending {
			if err != nil {
				c.err = fmt.Errorf("commit: %w", err)
			}
			close(c.done)
		}
		return
	}
}

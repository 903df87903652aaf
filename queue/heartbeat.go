package queue

import (
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
)

// keyHeartbeat holds the unit's last Heartbeat in the meta bucket.
var keyHeartbeat = []byte("heartbeat")

// Heartbeat is the last sign of life the unit recorded: the time it was
// last known to be up, and whether it then stopped on purpose. At start,
// a gap since a heartbeat that was not a clean stop is time the unit
// could not issue (a power cut, a crash, a broken till).
type Heartbeat struct {
	At time.Time `json:"at"`
	// Stopped is set by the last heartbeat of a clean stop.
	Stopped bool `json:"stopped,omitempty"`
}

// Beat records hb as the unit's last heartbeat. It goes through the
// writer, so that a beat shares the commit (and the fsync) of the
// documents issued at the time instead of adding one of its own.
func (s *Store) Beat(hb Heartbeat) error {
	hb.At = hb.At.UTC()
	return s.write(func(tx *bolt.Tx, _ *batchState) (err, abort error) {
		return nil, putJSON(tx.Bucket(bucketMeta), keyHeartbeat, hb)
	})
}

// LastHeartbeat returns the last heartbeat recorded; ok is false on a
// unit that never recorded one (new, or from before heartbeats).
func (s *Store) LastHeartbeat() (hb Heartbeat, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketMeta), keyHeartbeat, &hb) })
	if errors.Is(err, ErrNotFound) {
		return Heartbeat{}, false, nil
	}
	return hb, err == nil, err
}

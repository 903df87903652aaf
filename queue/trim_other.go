//go:build !linux

package queue

// trimMapping is a no-op where the resident set of a file mapping is not
// worth managing by hand.
func (s *Store) trimMapping() error { return nil }

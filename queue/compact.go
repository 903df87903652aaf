package queue

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// CompactOptions configure Compact.
type CompactOptions struct {
	// Prune, if set, runs on the open store before the rewrite: it removes
	// what the retention allows (the caller picks the retention from the
	// store's regime, Store.Identity).
	Prune func(s *Store) (PruneReport, error)
	// Rehash is handed to the check that runs before the file is replaced
	// (CheckOptions.Rehash).
	Rehash func(regime string, doc []byte) (string, error)
}

// CompactReport says what Compact did.
type CompactReport struct {
	Before, After int64 // the file's size, in bytes
	Pruned        PruneReport
	Repacked      uint64 // documents stored before compression, now compressed
	Check         CheckReport
}

// compactTxSize bounds one transaction of the copy, so that a large file
// is copied without holding all of it in memory.
const compactTxSize = 64 << 20

// Compact rewrites the store in dir into a new file without free pages and
// renames it over the old one. The store must not be open elsewhere: like
// Open, Compact fails with ErrLocked while another process (the service)
// holds the file. It checks the store first (a store that does not check is
// left as it was), then prunes (opts.Prune) and compresses the documents and
// answers stored before compression. The new file is written
// beside the old one (so the disk needs room for both), synced, compared
// key for key, and renamed into place; an interruption at any point leaves
// either the old file or the new one whole.
func Compact(dir string, opts CompactOptions) (CompactReport, error) {
	var rep CompactReport
	s, err := Open(dir, &Options{MustExist: true, TrimInterval: -1})
	if err != nil {
		return rep, err
	}
	defer s.Close()
	path := s.Path()
	if rep.Before, err = fileSize(path); err != nil {
		return rep, err
	}
	if rep.Check, err = s.Check(CheckOptions{Rehash: opts.Rehash}); err != nil {
		return rep, fmt.Errorf("the store does not check, so it is left as it was: %w", err)
	}
	if opts.Prune != nil {
		if rep.Pruned, err = opts.Prune(s); err != nil {
			return rep, fmt.Errorf("prune: %w", err)
		}
	}
	if rep.Repacked, err = s.repack(); err != nil {
		return rep, fmt.Errorf("compress older documents: %w", err)
	}
	tmp := path + ".compact"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return rep, err
	}
	if err := copyCompacted(s.db, tmp); err != nil {
		os.Remove(tmp)
		return rep, err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return rep, err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return rep, err
	}
	rep.After, err = fileSize(path)
	return rep, err
}

// copyCompacted copies src into a new file at path, syncs it and checks
// that every bucket holds the same keys and values.
func copyCompacted(src *bolt.DB, path string) error {
	dst, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := bolt.Compact(dst, src, compactTxSize); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if err := sameContents(src, dst); err != nil {
		return err
	}
	if err := dst.Sync(); err != nil {
		return err
	}
	return dst.Close()
}

// sameContents compares every top-level bucket of a and b key for key.
func sameContents(a, b *bolt.DB) error {
	return a.View(func(atx *bolt.Tx) error {
		return b.View(func(btx *bolt.Tx) error {
			return atx.ForEach(func(name []byte, ab *bolt.Bucket) error {
				bb := btx.Bucket(name)
				if bb == nil {
					return fmt.Errorf("compacted file lacks bucket %s", name)
				}
				ac, bc := ab.Cursor(), bb.Cursor()
				ak, av := ac.First()
				bk, bv := bc.First()
				for ; ak != nil || bk != nil; ak, av, bk, bv = nextPair(ac, bc) {
					if !bytes.Equal(ak, bk) || !bytes.Equal(av, bv) {
						return fmt.Errorf("compacted file differs from the store in bucket %s at key %x", name, ak)
					}
				}
				return nil
			})
		})
	})
}

func nextPair(a, b *bolt.Cursor) (ak, av, bk, bv []byte) {
	ak, av = a.Next()
	bk, bv = b.Next()
	return
}

// repackBatch is the most documents one repack transaction rewrites.
const repackBatch = 1000

// repack compresses documents and answers stored before compression, in
// batches, and returns how many documents it rewrote.
func (s *Store) repack() (uint64, error) {
	var n uint64
	next := uint64(0)
	for {
		done := true
		err := s.db.Update(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketJournal).Cursor()
			var old []*Record // rewritten after the walk: a cursor does not survive writes
			for k, v := c.Seek(u64(next + 1)); k != nil; k, v = c.Next() {
				if len(old) == repackBatch {
					done = false
					break
				}
				next = decodeCounter(k)
				// A record written before packing is plain JSON; only
				// such a record carries its answer in it, or a raw document.
				if len(v) > 0 && v[0] != '{' {
					continue
				}
				r, err := decodeRecord(tx, k, v)
				if err != nil {
					return fmt.Errorf("journal[%d]: %w", next, err)
				}
				old = append(old, r)
			}
			for _, r := range old {
				if err := putRecord(tx, r, !r.packed); err != nil {
					return err
				}
			}
			n += uint64(len(old))
			return nil
		})
		if err != nil || done {
			return n, err
		}
	}
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// CopyTo writes a consistent copy of the store's file to w while the store
// is open (a read transaction's view), and returns the bytes written.
func (s *Store) CopyTo(w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

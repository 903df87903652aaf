package queue

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// trimMapping drops this process's page-table entries for the store's
// memory map, so that the resident set stays small. bbolt maps the whole
// file and, being copy-on-write, reads each commit's pages from new places;
// without this the resident set grows with the file. The pages stay in the
// kernel's page cache (the mapping is read-only and shared, so nothing is
// lost) and fault back in when read.
//
// It runs inside a read transaction, which keeps bbolt from remapping the
// file meanwhile, and it trims exactly the mapping /proc/self/maps reports
// at bbolt's base address, never a neighbouring one.
func (s *Store) trimMapping() error {
	return s.db.View(func(tx *bolt.Tx) error {
		start := tx.DB().Info().Data
		end, err := mappingEnd(start)
		if err != nil {
			return err
		}
		_, _, errno := unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_DONTNEED)
		if errno != 0 {
			return fmt.Errorf("madvise: %w", errno)
		}
		return nil
	})
}

// mappingEnd returns the end address of the mapping that starts at start.
func mappingEnd(start uintptr) (uintptr, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	want := strconv.FormatUint(uint64(start), 16)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lo, rest, ok := strings.Cut(sc.Text(), "-")
		if !ok || lo != want {
			continue
		}
		hi, _, _ := strings.Cut(rest, " ")
		end, err := strconv.ParseUint(hi, 16, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/self/maps: %w", err)
		}
		return uintptr(end), nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no mapping at %#x in /proc/self/maps", start)
}

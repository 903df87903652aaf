// Package securefile writes the unit's secret files (the stamping key, the
// authority's credentials and certificate): mode 0600, atomically and
// durably, so that a crash leaves the old file or the new one, never half
// of one.
package securefile

import (
	"os"
	"path/filepath"
	"runtime"
)

// Write replaces path with data: a 0600 temporary file beside it, synced,
// renamed into place, and the directory synced. The directory is created
// 0700 if missing.
func Write(path string, data []byte) error { return write(path, data, os.Rename) }

// Create is Write that refuses to replace an existing file: the error then
// matches fs.ErrExist.
func Create(path string, data []byte) error { return write(path, data, os.Link) }

func write(path string, data []byte, place func(tmp, path string) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after Rename it is gone; after Link it is the second name
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := place(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir makes a new directory entry durable. Windows cannot open a
// directory for syncing and does not need to.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

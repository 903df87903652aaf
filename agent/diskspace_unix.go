//go:build unix

package agent

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// noSpaceMessage is how ENOSPC reads in an error's text.
var noSpaceMessage = syscall.ENOSPC.Error()

// freeBytes is the space on dir's file system available to this process
// (not counting the blocks reserved for root).
func freeBytes(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}

func isNoSpaceErrno(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

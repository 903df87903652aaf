//go:build windows

package agent

import (
	"errors"

	"golang.org/x/sys/windows"
)

// noSpaceMessage is how ERROR_DISK_FULL reads in an error's text.
var noSpaceMessage = windows.ERROR_DISK_FULL.Error()

// freeBytes is the space on dir's volume available to this process (its
// quota included).
func freeBytes(dir string) (uint64, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, err
	}
	var avail, total, totalFree uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &totalFree); err != nil {
		return 0, err
	}
	return avail, nil
}

func isNoSpaceErrno(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}

package serialport

import "golang.org/x/sys/unix"

// discardOutput drops the bytes queued for sending (tcflush TCOFLUSH).
func discardOutput(fd int) error { return unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCOFLUSH) }

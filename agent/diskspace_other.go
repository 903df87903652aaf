//go:build !unix && !windows

package agent

// noSpaceMessage is how a full disk reads in an error's text.
const noSpaceMessage = "no space left on device"

func freeBytes(string) (uint64, error) { return 0, errNoFreeSpaceReading }

func isNoSpaceErrno(error) bool { return false }

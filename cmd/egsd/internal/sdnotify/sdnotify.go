// Package sdnotify speaks systemd's notification protocol (sd_notify(3)):
// a unit of Type=notify is started once the daemon says READY=1, and one
// with WatchdogSec is restarted when the daemon stops saying WATCHDOG=1.
// Outside systemd (no NOTIFY_SOCKET) every call does nothing.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Messages a daemon sends (sd_notify(3)).
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Watchdog = "WATCHDOG=1"
)

// Notify sends state to the service manager. It reports false, and no
// error, when the process was not started with a notification socket.
func Notify(state string) (bool, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return false, nil
	}
	// A leading @ names a socket in the abstract namespace; the net
	// package maps it.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("sd_notify %s: %w", state, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("sd_notify %s: %w", state, err)
	}
	return true, nil
}

// WatchdogInterval is the unit's WatchdogSec as systemd passes it
// (WATCHDOG_USEC, for this process when WATCHDOG_PID says so); ok is false
// when no watchdog watches this process.
func WatchdogInterval() (d time.Duration, ok bool, err error) {
	usec := os.Getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, false, nil
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || n <= 0 {
		return 0, false, errors.New("WATCHDOG_USEC=" + usec + " is not a positive number of microseconds")
	}
	return time.Duration(n) * time.Microsecond, true, nil
}

package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/egsd/egsd/queue"
)

// incidentDiskSpace is the incident open while the disk that holds the
// data directory is low on space or full. Stored value.
const incidentDiskSpace = "disk_space"

// diskRoom is the least free space that counts as space returned after a
// write failed for lack of it, whatever store.min_free_bytes says (0 turns
// only the warning off): a few pages free do not make a disk usable.
const diskRoom = 1 << 20

// lowMarginDivisor sets the margin above store.min_free_bytes (a
// sixteenth of it) that a low disk must regain before it counts as fine.
const lowMarginDivisor = 16

// diskCheckEvery is how often the free space is looked at without anyone
// asking (status and scrapes look at it too).
const diskCheckEvery = 10 * time.Second

// diskMonitor watches the free space on the file system of the data
// directory. Below store.min_free_bytes it warns (status, metrics and an
// incident) while the unit still issues; a write that failed for lack of
// space marks the disk full until space returns, and the API answers such
// a write with 507 (insufficientStorage). Nothing is lost either way: a
// write that fails is rolled back whole, and issuing resumes once space is
// freed.
type diskMonitor struct {
	a   *Agent
	dir string
	min uint64
	// free reads the bytes available to the agent on dir's file system;
	// tests replace it.
	free func(dir string) (uint64, error)

	mu       sync.Mutex // guards the fields below
	incident uint64     // the open disk_space incident, or 0
	last     diskSpace  // what the last check found
	// full is set by a write that failed for lack of space, and cleared by
	// a check that finds store.min_free_bytes free (and at least diskRoom)
	// or by a write that succeeds.
	full bool
}

// diskSpace is what one look at the disk found.
type diskSpace struct {
	Free    uint64 // bytes available to the agent; meaningful when Err is nil
	Min     uint64 // store.min_free_bytes
	Low     bool   // Free is below Min
	Full    bool   // a write failed for lack of space since space last returned
	Err     error  // the free space could not be read
	Checked bool   // a check has run
}

func newDiskMonitor(a *Agent) *diskMonitor {
	return &diskMonitor{a: a, dir: a.cfg.DataDir, min: uint64(a.cfg.Store.MinFreeBytes), free: freeBytes}
}

// check reads the free space, opens the disk_space incident when space is
// low or a write failed for lack of it, closes it when space has returned,
// and returns what it found. It is cheap (one statfs) and safe to call
// from any goroutine.
func (m *diskMonitor) check() diskSpace {
	free, err := m.free(m.dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	s := diskSpace{Min: m.min, Err: err, Checked: true}
	if err == nil {
		s.Free = free
		// Once low, space counts as back only with a margin above the
		// threshold, so that a disk hovering at it (or a process filling
		// and emptying it) does not open an incident every check.
		s.Low = free < m.min || (m.last.Low && free < m.min+m.min/lowMarginDivisor)
		if m.full && free >= max(m.min, diskRoom) {
			m.full = false
		}
	} else if !m.last.Checked || m.last.Err == nil {
		m.a.log.Error().Err(err).Str("data_dir", m.dir).Msg("read the free disk space")
	}
	s.Full = m.full
	m.last = s
	m.syncIncidentLocked(s)
	return s
}

// noSpace records that a write failed for lack of space (err), and looks
// at the disk at once.
func (m *diskMonitor) noSpace(err error) diskSpace {
	m.mu.Lock()
	if !m.full {
		m.a.log.Error().Err(err).Str("data_dir", m.dir).Msg("disk full: a write failed for lack of space; free space on the disk of the data directory")
	}
	m.full = true
	m.mu.Unlock()
	return m.check()
}

// wrote notes a write that succeeded: the disk is not full (any more).
func (m *diskMonitor) wrote() {
	m.mu.Lock()
	m.full = false
	m.mu.Unlock()
}

// state is what the last check found, without looking again.
func (m *diskMonitor) state() diskSpace {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// syncIncidentLocked opens or closes the disk_space incident to match s.
// Opening it is itself a write: on a full disk it may fail, and the next
// check tries again.
func (m *diskMonitor) syncIncidentLocked(s diskSpace) {
	trouble := s.Err == nil && (s.Low || s.Full)
	switch {
	case trouble && m.incident == 0:
		inc, err := m.a.store.RaiseIncident(queue.Incident{Kind: incidentDiskSpace, Title: "Disk space low",
			Detail: m.detail(s), Data: map[string]string{"data_dir": m.dir, "free_bytes": strconv.FormatUint(s.Free, 10),
				"min_free_bytes": strconv.FormatUint(s.Min, 10)}}, "system")
		if err != nil {
			m.a.log.Error().Err(err).Msg("raise disk space incident")
			return
		}
		m.incident = inc.ID
		m.a.log.Warn().Uint64("incident", inc.ID).Uint64("free_bytes", s.Free).Msg("disk space incident opened")
	case !trouble && s.Err == nil && m.incident != 0:
		if err := m.a.store.CloseIncident(m.incident, "disk space back: "+formatBytes(s.Free)+" free", "system"); err != nil {
			m.a.log.Error().Err(err).Uint64("incident", m.incident).Msg("close disk space incident")
			return
		}
		m.a.log.Info().Uint64("incident", m.incident).Uint64("free_bytes", s.Free).Msg("disk space incident closed")
		m.incident = 0
	}
}

// detail says what is wrong with the disk and what to do.
func (m *diskMonitor) detail(s diskSpace) string {
	if s.Full {
		return fmt.Sprintf("the disk that holds the data directory %s is full (%s free): sales are refused with 507 until space is freed. "+
			"Free space on that disk (old logs, other files) or move the data directory to a larger disk; issuing resumes by itself, and nothing issued is lost",
			m.dir, formatBytes(s.Free))
	}
	return fmt.Sprintf("only %s is free on the disk that holds the data directory %s (store.min_free_bytes is %s): "+
		"free space on that disk (old logs, other files) or move the data directory to a larger disk before it fills and sales are refused",
		formatBytes(s.Free), m.dir, formatBytes(s.Min))
}

// insufficientStorage is the 507 answer to a request whose write failed
// for lack of space.
func (m *diskMonitor) insufficientStorage(s diskSpace) Problem {
	return Problem{Type: problemInsufficientStorage, Title: "Disk full: nothing was stored", Status: http.StatusInsufficientStorage,
		Detail: fmt.Sprintf("the disk that holds the data directory %s is full (%s free): this request was not carried out and nothing was stored. "+
			"Free space on that disk (old logs, other files) or move the data directory to a larger disk, then send the request again "+
			"(a sale with the same Idempotency-Key: it is issued once)", m.dir, formatBytes(s.Free))}
}

// isNoSpace reports whether err is a write that failed for lack of space.
// bbolt reports a failed growth of its file with the cause formatted into
// the message ("file resize error: %s"), not wrapped, so the message is
// read too.
func isNoSpace(err error) bool {
	if err == nil {
		return false
	}
	return isNoSpaceErrno(err) || strings.Contains(err.Error(), noSpaceMessage)
}

// errNoFreeSpaceReading is returned where the platform cannot report free
// space.
var errNoFreeSpaceReading = errors.New("free disk space cannot be read on this platform")

// formatBytes writes n in binary units: "512 B", "3.2 MiB".
func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// watchDisk checks the free space every interval until ctx ends, so that
// the incident opens (and closes) without anyone looking at the status.
func (a *Agent) watchDisk(ctx context.Context, every time.Duration) {
	a.disk.check()
	runEvery(ctx, every, func() { a.disk.check() })
}

// DiskStatus is the disk part of GET /v1/status.
type DiskStatus struct {
	DataDir      string `json:"data_dir"`
	FreeBytes    uint64 `json:"free_bytes"`
	MinFreeBytes uint64 `json:"min_free_bytes"`
	// Low is set while FreeBytes is below MinFreeBytes, Full while a write
	// has failed for lack of space and space has not returned.
	Low  bool `json:"low,omitempty"`
	Full bool `json:"full,omitempty"`
}

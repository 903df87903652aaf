package agent

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/egsd/egsd/queue"
)

// refusalWindow is how long refused logins of one kind are counted before
// the count is written to the audit log as one entry.
const refusalWindow = time.Minute

// maxDistinctNames and maxSources bound the memory a burst of refusals
// can take.
const (
	maxDistinctNames = 1024
	maxSources       = 16
)

// Reasons for a refused login that are tallied rather than written one by
// one: they cost no password guess, so nothing else bounds how often an
// anonymous caller can provoke them.
const (
	refusedUnknownUser = "unknown user"
	refusedLocked      = "locked"
	refusedBusy        = "too many attempts at once"
	refusedDisabled    = "disabled"
)

// refusalTally keeps the audit log's record of refused logins bounded,
// whatever a caller sends: the first refusal of a kind (reason and
// account) in a window is written at once, the rest of that window are
// counted and written as one entry when the window is over (at the next
// refusal of that kind, by Serve's ticker, before the audit log is read,
// and when the agent stops). So each kind costs at most two entries a
// minute, and the number of kinds is bounded by the number of users.
//
// A name that belongs to no user is never stored, nor logged: it may be a
// password typed into the wrong field. Entries say only whether it had the
// form of a user name, and a burst's entry how many distinct names it
// tried, counted by a keyed hash whose key exists only in memory.
type refusalTally struct {
	store *queue.Store
	now   func() time.Time

	mu   sync.Mutex // guards open
	open map[refusalKey]*refusals
	// nameKey keys the hashes that count distinct unknown names; it is
	// random per process and never stored.
	nameKey [32]byte
}

type refusalKey struct{ subject, reason string }

// refusals is one kind's window.
type refusals struct {
	start, last time.Time
	counted     int // refusals after the first, not yet written
	names       map[uint64]struct{}
	malformed   int
	from        map[string]int
}

func newRefusalTally(store *queue.Store, now func() time.Time) *refusalTally {
	t := &refusalTally{store: store, now: now, open: map[refusalKey]*refusals{}}
	rand.Read(t.nameKey[:]) // never fails (crypto/rand)
	return t
}

// refuse records one refused login. subject is the account's name, or ""
// for a name that belongs to no user; name is what was sent, used only to
// count distinct names.
func (t *refusalTally) refuse(subject, reason, name, from string) error {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	k := refusalKey{subject, reason}
	r := t.open[k]
	if r != nil && now.Sub(r.start) >= refusalWindow {
		if err := t.writeLocked(k, r); err != nil {
			return err
		}
		r = nil
	}
	if r != nil {
		r.counted++
		r.last = now
		if _, seen := r.from[from]; !seen && len(r.from) >= maxSources {
			from = "other addresses"
		}
		r.from[from]++
		if subject == "" {
			r.noteName(name, t.nameKey[:])
		}
		return nil
	}
	t.open[k] = &refusals{start: now, last: now, names: map[uint64]struct{}{}, from: map[string]int{}}
	details := map[string]string{"reason": reason, "from": from, "count": "1"}
	if subject == "" {
		details["name"] = nameForm(name)
	}
	return t.store.Audit(queue.AuditEntry{Action: queue.AuditLoginFailed, Subject: subject, Details: details}.By(queue.AnonymousActor))
}

// flush writes every window that is over, or every window when all is set.
func (t *refusalTally) flush(all bool) error {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for k, r := range t.open {
		if all || now.Sub(r.start) >= refusalWindow {
			errs = append(errs, t.writeLocked(k, r))
		}
	}
	return errors.Join(errs...)
}

// writeLocked closes k's window, writing its count if there is one.
func (t *refusalTally) writeLocked(k refusalKey, r *refusals) error {
	delete(t.open, k)
	if r.counted == 0 {
		return nil
	}
	details := map[string]string{"reason": k.reason, "count": strconv.Itoa(r.counted),
		"first": r.start.UTC().Format(time.RFC3339), "last": r.last.UTC().Format(time.RFC3339), "from": joinCounts(r.from)}
	if k.subject == "" {
		distinct := strconv.Itoa(len(r.names))
		if len(r.names) >= maxDistinctNames {
			distinct += " or more"
		}
		details["distinct_names"] = distinct
		details["malformed_names"] = strconv.Itoa(r.malformed)
	}
	return t.store.Audit(queue.AuditEntry{Action: queue.AuditLoginFailed, Subject: k.subject, Details: details}.By(queue.AnonymousActor))
}

func (r *refusals) noteName(name string, key []byte) {
	if !userNamePattern.MatchString(name) {
		r.malformed++
	}
	if len(r.names) >= maxDistinctNames {
		return
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(name))
	r.names[binary.BigEndian.Uint64(m.Sum(nil))] = struct{}{}
}

// nameForm describes an unknown name without saying what it was.
func nameForm(name string) string {
	if userNamePattern.MatchString(name) {
		return "well-formed"
	}
	return "malformed"
}

// joinCounts renders {"127.0.0.1": 3} as "127.0.0.1 ×3".
func joinCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " ×" + strconv.Itoa(m[k])
	}
	return strings.Join(parts, ", ")
}

// sourceHost is the host part of a request's remote address: the port of a
// loopback client changes with every connection and says nothing.
func sourceHost(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	if remoteAddr == "" || remoteAddr == "@" {
		return "unix socket"
	}
	return remoteAddr
}

package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/device"
	"github.com/egsd/egsd/queue"
)

// fileSize is the size of the store's bbolt file.
func fileSize(t *testing.T, h *harness) int64 {
	t.Helper()
	fi, err := os.Stat(h.a.Store().Path())
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestUnknownNamesBounded: a failed login for a name that belongs to no
// user stored the name (up to 64 KB) as a permanent audit entry, so that
// 200 requests grew the data file by 16 MB, and a password typed into the
// user field landed in the log. Now the body is bounded, the name is never
// stored or logged, and a burst costs one entry a window.
func TestUnknownNamesBounded(t *testing.T) {
	var logged bytes.Buffer
	h := startLoggingHarness(t, testConfig(t), device.NewFakeTime(t0), zerolog.New(&logged).Level(zerolog.DebugLevel))
	manager := h.user("boss", RoleManager)
	const budget = 2 << 20

	// What a caller could type into the user field: a password, and a
	// name far too long for any user. Each is unique so it can be searched.
	secret := "hunter2-secret-typed-as-name"
	long := func(i int, size int) string {
		return fmt.Sprintf("%s-%03d-%s", secret, i, strings.Repeat("x", size))
	}

	before := fileSize(t, h)
	t.Run("60 KB names over HTTP", func(t *testing.T) {
		for i := range 200 {
			w := h.sendJSON("POST", "/v1/sessions", "", map[string]string{"user": long(i, 60<<10), "password": "whatever it is"})
			problemOf(t, w, http.StatusRequestEntityTooLarge)
		}
	})
	t.Run("names within the body limit", func(t *testing.T) {
		for i := range 200 {
			name := long(i, 3<<10)
			if i%2 == 0 {
				name = fmt.Sprintf("%s%d", secret, i)
			}
			w := h.sendJSON("POST", "/v1/sessions", "", map[string]string{"user": name, "password": "whatever it is"})
			problemOf(t, w, http.StatusUnauthorized)
		}
	})
	t.Run("60 KB names through Login", func(t *testing.T) {
		for i := range 200 {
			if _, _, err := h.a.Auth().Login(long(i, 60<<10), "whatever it is", "127.0.0.1:4242"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("Login with an unknown 60 KB name: %v, want ErrBadCredentials", err)
			}
		}
	})
	entries := h.audit(manager) // writes the tallied counts
	if grew := fileSize(t, h) - before; grew >= budget {
		t.Errorf("600 failed logins with unknown names grew the data file by %d bytes, want less than %d", grew, budget)
	}

	unknown := 0
	for _, e := range entries {
		if e.Action == queue.AuditLoginFailed && e.Subject == "" {
			unknown++
			if e.Details["reason"] != refusedUnknownUser {
				t.Errorf("entry %d: reason %q, want %q", e.Seq, e.Details["reason"], refusedUnknownUser)
			}
		}
	}
	if unknown > 2 {
		t.Errorf("%d audit entries for one burst of unknown names, want at most 2 (the first, then the count)", unknown)
	}
	if n := failedLogins(t, entries, ""); n != 400 {
		t.Errorf("the audit log accounts for %d failed logins for unknown names, want 400", n)
	}
	last := entries[len(entries)-1]
	if last.Details["distinct_names"] != "399" || last.Details["malformed_names"] != "300" {
		t.Errorf("burst entry %+v, want 399 distinct names of which 300 malformed (the first, well-formed, has its own entry)", last.Details)
	}

	// The names are nowhere: not in the audit log, the agent's log, or the
	// data file itself.
	raw, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	h.close()
	file, err := os.ReadFile(h.cfg.DataDir + "/" + queue.FileName)
	if err != nil {
		t.Fatal(err)
	}
	for what, data := range map[string][]byte{"the audit log": raw, "the agent's log": logged.Bytes(), "the data file": file} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("%s holds a name that belongs to no user", what)
		}
	}
	if logged.Len() == 0 {
		t.Error("the agent logged nothing; the search above proves nothing")
	}
}

// TestRefusalWindows: refusals that cost no guess (unknown names, logins to
// a locked account) are written once at the start of a window and as one
// count when it ends.
func TestRefusalWindows(t *testing.T) {
	h := newHarness(t, nil)
	h.addUser("boss", RoleManager)
	h.addUser("alice", RoleCashier)
	for range h.cfg.Auth.LockoutAttempts {
		h.tryLogin("alice", "wrong password")
	}
	count := func() (entries int) {
		es, err := h.a.Store().AuditEntries(0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	start := count()
	for range 50 {
		if code := h.tryLogin("alice", testPassword); code != http.StatusTooManyRequests {
			t.Fatalf("login during the lock = %d, want 429", code)
		}
		h.tryLogin("nobody", "whatever it is")
	}
	if got := count() - start; got != 2 {
		t.Errorf("50 refusals of each kind wrote %d entries, want 2 (the first of each)", got)
	}
	// Nothing is written while the window lasts; the ticker's flush
	// writes the counts once it is over.
	if err := h.a.auth.FlushRefusals(false); err != nil {
		t.Fatal(err)
	}
	if got := count() - start; got != 2 {
		t.Errorf("a flush within the window wrote %d entries, want none", got-2)
	}
	h.ft.Advance(refusalWindow)
	if err := h.a.auth.FlushRefusals(false); err != nil {
		t.Fatal(err)
	}
	es, err := h.a.Store().AuditEntries(uint64(start), 1000)
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]string{}
	for _, e := range es {
		if e.Details["first"] != "" {
			counted[e.Subject+"/"+e.Details["reason"]] = e.Details["count"]
		}
	}
	want := map[string]string{"alice/" + refusedLocked: "49", "/" + refusedUnknownUser: "49"}
	if fmt.Sprint(counted) != fmt.Sprint(want) {
		t.Errorf("counts written at the window's end: %v, want %v", counted, want)
	}
}

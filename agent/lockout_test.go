package agent

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
)

// countCompares makes the agent's password checks count the comparisons
// made against real users' hashes (not the dummy hash of unknown names),
// each taking as long as a bcrypt comparison at the default cost, so that
// parallel logins overlap as they do on a unit.
func countCompares(h *harness) *atomic.Int64 {
	var n atomic.Int64
	auth := h.a.auth
	compare := auth.compare
	auth.compare = func(hash, pw []byte) error {
		if !bytes.Equal(hash, auth.dummyHash) {
			n.Add(1)
		}
		time.Sleep(5 * time.Millisecond)
		return compare(hash, pw)
	}
	return &n
}

// TestLoginGuessBudget: an account allows lockout_attempts password guesses
// per lockout window, however many logins arrive at once. The lock was
// checked before bcrypt and outside the transaction that counted the
// failure, so 40 parallel wrong passwords got 32 real guesses and the right
// password was then accepted on a "locked" account.
func TestLoginGuessBudget(t *testing.T) {
	for _, parallel := range []int{40, 200} {
		t.Run(fmt.Sprint(parallel), func(t *testing.T) {
			h := newHarness(t, nil)
			manager := h.user("boss", RoleManager)
			h.addUser("alice", RoleCashier)
			compares := countCompares(h)
			budget := h.cfg.Auth.LockoutAttempts

			var wg sync.WaitGroup
			start := make(chan struct{})
			codes := make([]int, parallel)
			for i := range parallel {
				wg.Go(func() {
					<-start
					codes[i] = h.tryLogin("alice", fmt.Sprintf("wrong password %d", i))
				})
			}
			close(start)
			wg.Wait()

			if got := compares.Load(); got != int64(budget) {
				t.Errorf("%d parallel wrong passwords made %d password comparisons, want exactly %d (the budget)", parallel, got, budget)
			}
			byCode := map[int]int{}
			for _, c := range codes {
				byCode[c]++
			}
			if byCode[http.StatusCreated] != 0 || byCode[http.StatusUnauthorized]+byCode[http.StatusTooManyRequests] != parallel {
				t.Errorf("answers %v: want only 401 and 429", byCode)
			}

			// Locked: the right password is refused, without a comparison.
			if code := h.tryLogin("alice", testPassword); code != http.StatusTooManyRequests {
				t.Errorf("right password on the locked account = %d, want 429", code)
			}
			if got := compares.Load(); got != int64(budget) {
				t.Errorf("a login on a locked account compared the password (%d comparisons)", got)
			}
			// Every guess is in the audit log, by an anonymous actor.
			wrong := 0
			for _, e := range h.audit(manager) {
				if e.Action == queue.AuditLoginFailed && e.Subject == "alice" && e.Details["count"] == "" {
					wrong++
				}
			}
			if wrong != budget {
				t.Errorf("%d wrong-password entries for alice, want %d", wrong, budget)
			}
			if n := failedLogins(t, h.audit(manager), "alice"); n != parallel+1 {
				t.Errorf("the audit log accounts for %d failed logins, want %d", n, parallel+1)
			}

			// After the lock, a new window with the same budget.
			h.ft.Advance(h.cfg.Auth.LockoutDuration.Duration)
			h.login("alice", testPassword)
			if got := compares.Load(); got != int64(budget)+1 {
				t.Errorf("%d comparisons after the lock, want %d", got, budget+1)
			}
		})
	}
}

// TestLockedManagerGetsInThroughOwner: a process that keeps failing logins
// for the only manager keeps its account locked, but the owner (whoever can
// read the owner token in the data directory) opens a session for it.
func TestLockedManagerGetsInThroughOwner(t *testing.T) {
	h := newHarness(t, nil)
	h.addUser("boss", RoleManager)
	h.addUser("off", RoleManager)
	owner := h.ownerToken()

	stop := make(chan struct{})
	var attacker sync.WaitGroup
	attacker.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
				h.tryLogin("boss", fmt.Sprint("guess ", i))
			}
		}
	})
	defer func() { close(stop); attacker.Wait() }()
	locked := func() bool {
		users, err := h.a.Auth().Users()
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			if u.Name == "boss" {
				return !u.LockedUntil.IsZero()
			}
		}
		t.Fatal("boss is gone")
		return false
	}
	for !locked() {
		time.Sleep(time.Millisecond)
	}
	if code := h.tryLogin("boss", testPassword); code != http.StatusTooManyRequests {
		t.Fatalf("the manager's own password during the lock = %d, want 429", code)
	}

	w := h.do(request{method: "POST", path: "/v1/users/boss/sessions", token: owner})
	if w.Code != http.StatusCreated {
		t.Fatalf("owner opens a session for boss = %d %s, want 201", w.Code, w.Body)
	}
	var s SessionView
	decodeBody(t, w, &s)
	if s.User != "boss" || s.Role != string(RoleManager) || s.Token == "" {
		t.Fatalf("session %+v, want boss as manager", s)
	}
	// The manager works while the attacker goes on.
	for range 3 {
		if w := h.get(s.Token, "/v1/users"); w.Code != http.StatusOK {
			t.Fatalf("manager session from the owner: GET /v1/users = %d %s", w.Code, w.Body)
		}
	}
	entries := h.audit(s.Token)
	found := false
	for _, e := range entries {
		if e.Action == queue.AuditLogin && e.Subject == "boss" && e.Actor == queue.ActorOwner && e.ActorKind == queue.ActorOwner && e.Details["via"] == "owner token" {
			found = true
		}
	}
	if !found {
		t.Error("the owner's session for boss is not in the audit log as a login by the owner")
	}

	// Only the owner can do this, and only for an enabled user.
	problemOf(t, h.do(request{method: "POST", path: "/v1/users/off/sessions", token: s.Token}), http.StatusForbidden)
	problemOf(t, h.do(request{method: "POST", path: "/v1/users/ghost/sessions", token: owner}), http.StatusNotFound)
	if w := h.sendJSON("PATCH", "/v1/users/off", owner, map[string]any{"disabled": true}); w.Code != http.StatusOK {
		t.Fatalf("disable off: %d %s", w.Code, w.Body)
	}
	problemOf(t, h.do(request{method: "POST", path: "/v1/users/off/sessions", token: owner}), http.StatusConflict)
}

// TestInterruptedGuessCounts: a guess reserved when the agent stops before
// its password is checked counts as a failure at the next start, so a crash
// at the right moment gives no free guess (and leaves no budget held).
func TestInterruptedGuessCounts(t *testing.T) {
	h := newHarness(t, nil)
	h.addUser("boss", RoleManager)
	h.addUser("alice", RoleCashier)
	for range h.cfg.Auth.LockoutAttempts - 1 {
		if code := h.tryLogin("alice", "wrong password"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password = %d, want 401", code)
		}
	}
	// The last guess is reserved, and the agent stops before it settles.
	if _, err := h.a.auth.reserveGuess("alice"); err != nil {
		t.Fatal(err)
	}
	h.close()

	h2 := startHarness(t, h.cfg, h.ft)
	if code := h2.tryLogin("alice", testPassword); code != http.StatusTooManyRequests {
		t.Errorf("after the restart, the right password = %d, want 429: the interrupted guess must count as the last failure", code)
	}
	manager := h2.login("boss", testPassword)
	interrupted := false
	for _, e := range h2.audit(manager) {
		if e.Action == queue.AuditLoginFailed && e.Subject == "alice" && e.ActorKind == queue.ActorSystem && e.Details["count"] == "1" {
			interrupted = true
		}
	}
	if !interrupted {
		t.Error("no audit entry for the interrupted guess")
	}
	h2.ft.Advance(h2.cfg.Auth.LockoutDuration.Duration)
	h2.login("alice", testPassword)
}

package agent

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
)

func TestLoginLockout(t *testing.T) {
	h := newHarness(t, nil)
	h.addUser("cashier1", RoleCashier)
	manager := h.user("boss", RoleManager)
	attempts := h.cfg.Auth.LockoutAttempts
	lockout := h.cfg.Auth.LockoutDuration.Duration
	if attempts != 5 || lockout != 5*time.Minute {
		t.Fatalf("defaults changed: %d attempts, %v lockout; update this test", attempts, lockout)
	}

	login := func(pw string) *http.Response {
		t.Helper()
		return h.sendJSON("POST", "/v1/sessions", "", map[string]string{"user": "cashier1", "password": pw}).Result()
	}
	for i := 1; i < attempts; i++ {
		w := h.sendJSON("POST", "/v1/sessions", "", map[string]string{"user": "cashier1", "password": "wrong password"})
		problemOf(t, w, http.StatusUnauthorized)
	}
	// The attempt that reaches the limit locks the account.
	w := h.sendJSON("POST", "/v1/sessions", "", map[string]string{"user": "cashier1", "password": "wrong password"})
	p := problemOf(t, w, http.StatusTooManyRequests)
	if p.Type != problemLocked {
		t.Errorf("type = %q, want %q", p.Type, problemLocked)
	}

	// Locked: even the right password is refused, and the caller is told
	// how long to wait, by the agent's clock.
	h.ft.Advance(time.Minute)
	w = h.sendJSON("POST", "/v1/sessions", "", map[string]string{"user": "cashier1", "password": testPassword})
	p = problemOf(t, w, http.StatusTooManyRequests)
	if p.Type != problemLocked {
		t.Errorf("type = %q, want %q", p.Type, problemLocked)
	}
	ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
	wantRA := int((lockout - time.Minute).Seconds())
	if err != nil || ra < wantRA || ra > wantRA+1 {
		t.Errorf("Retry-After = %q, want about %d seconds (the rest of the lockout)", w.Header().Get("Retry-After"), wantRA)
	}
	if strings.Contains(w.Body.String(), `"token"`) {
		t.Errorf("locked login answered a token: %s", w.Body)
	}

	// Still locked one second before the end.
	h.ft.Advance(lockout - time.Minute - time.Second)
	if r := login(testPassword); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("one second before the lockout ends: %d, want 429", r.StatusCode)
	}
	h.ft.Advance(time.Second)
	token := h.login("cashier1", testPassword)
	if w := h.get(token, "/v1/sessions/current"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"cashier1"`) {
		t.Errorf("session after the lockout: %d %s", w.Code, w.Body)
	}

	// attempts wrong passwords, and two refusals while locked.
	if failed := failedLogins(t, h.audit(manager), "cashier1"); failed != attempts+2 {
		t.Errorf("%d failed logins for cashier1 in the audit log, want %d", failed, attempts+2)
	}

	// A successful login resets the count: attempts-1 failures do not lock.
	for i := 1; i < attempts; i++ {
		login("wrong password")
	}
	h.login("cashier1", testPassword)
}

func TestLoginFailures(t *testing.T) {
	h := newHarness(t, nil)
	manager := h.user("boss", RoleManager)
	tests := []struct {
		name   string
		body   string
		ctype  string
		status int
	}{
		{"unknown user", `{"user":"ghost","password":"correct horse"}`, "application/json", 401},
		{"wrong password", `{"user":"boss","password":"wrong horse"}`, "application/json", 401},
		{"empty password", `{"user":"boss","password":""}`, "application/json", 400},
		{"no user", `{"password":"correct horse"}`, "application/json", 400},
		{"unknown field", `{"user":"boss","password":"correct horse","remember":true}`, "application/json", 400},
		{"not JSON", `user=boss&password=x`, "application/x-www-form-urlencoded", 415},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := h.do(request{method: "POST", path: "/v1/sessions", body: []byte(tc.body), header: map[string]string{"Content-Type": tc.ctype}})
			problemOf(t, w, tc.status)
			if strings.Contains(w.Body.String(), `"token"`) {
				t.Errorf("failed login answered a token: %s", w.Body)
			}
		})
	}
	entries := h.audit(manager)
	if unknown := failedLogins(t, entries, ""); unknown != 1 {
		t.Errorf("%d failed logins for an unknown user in the audit log, want 1", unknown)
	}
	for _, e := range entries {
		if strings.Contains(fmt.Sprint(e), "ghost") {
			t.Errorf("the unknown name is in the audit log: %+v", e)
		}
	}
}

// failedLogins adds up the failed logins the audit log records for the
// account subject ("" for names that belong to no user), single or
// counted in one entry, checking that each is by an anonymous actor.
func failedLogins(t *testing.T, entries []queue.AuditEntry, subject string) int {
	t.Helper()
	n := 0
	for _, e := range entries {
		if e.Action != queue.AuditLoginFailed || e.Subject != subject {
			continue
		}
		if e.Actor != queue.ActorAnonymous && e.ActorKind != queue.ActorSystem {
			t.Errorf("failed login recorded as by %s (%s), want anonymous: %+v", e.Actor, e.ActorKind, e)
		}
		count, err := strconv.Atoi(e.Details["count"])
		if err != nil {
			count = 1
		}
		n += count
	}
	return n
}

func TestUserManagement(t *testing.T) {
	h := newHarness(t, nil)
	manager := h.user("boss", RoleManager)

	listUsers := func(token string) (map[string]UserView, string) {
		t.Helper()
		w := h.get(token, "/v1/users")
		if w.Code != http.StatusOK {
			t.Fatalf("GET /v1/users = %d %s", w.Code, w.Body)
		}
		var out struct{ Users []UserView }
		decodeBody(t, w, &out)
		m := map[string]UserView{}
		for _, u := range out.Users {
			m[u.Name] = u
		}
		return m, w.Body.String()
	}

	// Add.
	w := h.sendJSON("POST", "/v1/users", manager, map[string]string{"name": "cashier1", "role": "cashier", "password": testPassword})
	if w.Code != http.StatusCreated {
		t.Fatalf("add user = %d %s", w.Code, w.Body)
	}
	var added UserView
	decodeBody(t, w, &added)
	if added.Name != "cashier1" || added.Role != "cashier" || added.Disabled || !added.CreatedAt.Equal(t0) {
		t.Errorf("added user %+v", added)
	}
	cashier := h.login("cashier1", testPassword)

	bad := []struct {
		name   string
		body   map[string]string
		status int
		field  string
	}{
		{"password too short", map[string]string{"name": "c2", "role": "cashier", "password": "short"}, 400, "password"},
		{"password too long", map[string]string{"name": "c2", "role": "cashier", "password": strings.Repeat("p", 73)}, 400, "password"},
		{"bad role", map[string]string{"name": "c2", "role": "admin", "password": testPassword}, 400, "role"},
		{"owner is no role", map[string]string{"name": "c2", "role": "owner", "password": testPassword}, 400, "role"},
		{"bad name", map[string]string{"name": "Bob Smith", "role": "cashier", "password": testPassword}, 400, "name"},
		{"empty name", map[string]string{"name": "", "role": "cashier", "password": testPassword}, 400, "name"},
		{"duplicate", map[string]string{"name": "cashier1", "role": "cashier", "password": testPassword}, 409, ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			p := problemOf(t, h.sendJSON("POST", "/v1/users", manager, tc.body), tc.status)
			if tc.field != "" && !namesField(p, tc.field) {
				t.Errorf("problem names %q, want %q", fields(p), tc.field)
			}
		})
	}

	// List: never a password hash.
	users, raw := listUsers(manager)
	if len(users) != 2 || users["boss"].Role != "manager" || users["cashier1"].Role != "cashier" {
		t.Errorf("users = %+v", users)
	}
	if strings.Contains(raw, "password") || strings.Contains(raw, "$2a$") {
		t.Errorf("GET /v1/users shows password material: %s", raw)
	}
	if _, ok := users["c2"]; ok {
		t.Error("a refused user was created")
	}

	// Patch: a role change ends the user's sessions and applies at the
	// next login.
	w = h.sendJSON("PATCH", "/v1/users/cashier1", manager, map[string]any{"role": "technician"})
	if w.Code != http.StatusOK {
		t.Fatalf("PATCH role = %d %s", w.Code, w.Body)
	}
	if w := h.get(cashier, "/v1/status"); w.Code != http.StatusUnauthorized {
		t.Errorf("session after a role change = %d, want 401", w.Code)
	}
	tech := h.login("cashier1", testPassword)
	if w := h.get(tech, "/v1/incidents"); w.Code != http.StatusOK {
		t.Errorf("technician's GET /v1/incidents = %d", w.Code)
	}
	problemOf(t, h.sendJSON("PATCH", "/v1/users/cashier1", manager, map[string]any{"role": "root"}), http.StatusBadRequest)
	problemOf(t, h.sendJSON("PATCH", "/v1/users/cashier1", manager, map[string]any{"password": "short"}), http.StatusBadRequest)
	problemOf(t, h.sendJSON("PATCH", "/v1/users/ghost", manager, map[string]any{"disabled": true}), http.StatusNotFound)

	// Password change: the old session ends, the old password stops
	// working, the new one works.
	newPW := "battery staple"
	w = h.sendJSON("PATCH", "/v1/users/cashier1", manager, map[string]any{"password": newPW})
	if w.Code != http.StatusOK {
		t.Fatalf("PATCH password = %d %s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), "password") {
		t.Errorf("PATCH answer shows password material: %s", w.Body)
	}
	problemOf(t, h.get(tech, "/v1/status"), http.StatusUnauthorized)
	problemOf(t, h.sendJSON("POST", "/v1/sessions", "", map[string]string{"user": "cashier1", "password": testPassword}), http.StatusUnauthorized)
	tech = h.login("cashier1", newPW)

	// Disable: sessions end and login fails.
	if w := h.sendJSON("PATCH", "/v1/users/cashier1", manager, map[string]any{"disabled": true}); w.Code != http.StatusOK {
		t.Fatalf("PATCH disabled = %d %s", w.Code, w.Body)
	}
	problemOf(t, h.get(tech, "/v1/status"), http.StatusUnauthorized)
	problemOf(t, h.sendJSON("POST", "/v1/sessions", "", map[string]string{"user": "cashier1", "password": newPW}), http.StatusUnauthorized)
	if users, _ := listUsers(manager); !users["cashier1"].Disabled {
		t.Error("user not shown as disabled")
	}
	if w := h.sendJSON("PATCH", "/v1/users/cashier1", manager, map[string]any{"disabled": false}); w.Code != http.StatusOK {
		t.Fatalf("PATCH enable = %d %s", w.Code, w.Body)
	}
	tech = h.login("cashier1", newPW)

	// The last manager can be neither demoted, disabled nor removed.
	for name, req := range map[string]request{
		"demote":  {method: "PATCH", path: "/v1/users/boss", body: []byte(`{"role":"cashier"}`)},
		"disable": {method: "PATCH", path: "/v1/users/boss", body: []byte(`{"disabled":true}`)},
		"remove":  {method: "DELETE", path: "/v1/users/boss"},
	} {
		req.token = manager
		p := problemOf(t, h.do(req), http.StatusConflict)
		if !strings.Contains(p.Detail, "last") {
			t.Errorf("%s the last manager: detail %q does not say why", name, p.Detail)
		}
	}
	if users, _ := listUsers(manager); users["boss"].Role != "manager" || users["boss"].Disabled {
		t.Errorf("last manager changed: %+v", users["boss"])
	}
	// With a second manager, the first can go.
	h.addUser("boss2", RoleManager)
	if w := h.do(request{method: "DELETE", path: "/v1/users/boss", token: manager}); w.Code != http.StatusNoContent {
		t.Fatalf("remove a manager with another left = %d %s", w.Code, w.Body)
	}
	problemOf(t, h.get(manager, "/v1/users"), http.StatusUnauthorized) // its session ended with it
	manager = h.login("boss2", testPassword)

	// Remove: sessions end, the name is free again.
	if w := h.do(request{method: "DELETE", path: "/v1/users/cashier1", token: manager}); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE user = %d %s", w.Code, w.Body)
	}
	problemOf(t, h.get(tech, "/v1/status"), http.StatusUnauthorized)
	problemOf(t, h.do(request{method: "DELETE", path: "/v1/users/cashier1", token: manager}), http.StatusNotFound)
	if users, _ := listUsers(manager); len(users) != 1 {
		t.Errorf("users after removals: %+v", users)
	}

	// Every change is in the audit log, by who made it.
	want := map[string]int{queue.AuditUserAdded: 1, queue.AuditUserChanged: 4, queue.AuditUserRemoved: 2}
	got := map[string]int{}
	for _, e := range h.audit(manager) {
		if e.Actor == "boss" || e.Actor == "boss2" {
			got[e.Action]++
		}
	}
	for action, n := range want {
		if got[action] != n {
			t.Errorf("%d %s audit entries by a manager, want %d", got[action], action, n)
		}
	}
	if w := h.get(manager, "/v1/audit/verify"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"ok":true`) {
		t.Errorf("audit verify: %d %s", w.Code, w.Body)
	}
}

// TestOwnerToken: the owner token from the data directory can create the
// first manager (and recover a locked-out one), and nothing else.
func TestOwnerToken(t *testing.T) {
	h := newHarness(t, nil)
	owner := h.ownerToken()
	w := h.sendJSON("POST", "/v1/users", owner, map[string]string{"name": "boss", "role": "manager", "password": testPassword})
	if w.Code != http.StatusCreated {
		t.Fatalf("owner adds the first manager: %d %s", w.Code, w.Body)
	}
	h.login("boss", testPassword)
	for range h.cfg.Auth.LockoutAttempts {
		h.sendJSON("POST", "/v1/sessions", "", map[string]string{"user": "boss", "password": "forgotten it"})
	}
	problemOf(t, h.sendJSON("POST", "/v1/sessions", "", map[string]string{"user": "boss", "password": testPassword}), http.StatusTooManyRequests)
	if w := h.sendJSON("PATCH", "/v1/users/boss", owner, map[string]any{"unlock": true}); w.Code != http.StatusOK {
		t.Fatalf("owner unlocks: %d %s", w.Code, w.Body)
	}
	h.login("boss", testPassword)
	problemOf(t, h.do(request{method: "POST", path: "/v1/sales", token: owner, body: []byte(goodSale),
		header: map[string]string{"Idempotency-Key": "k"}}), http.StatusForbidden)

	// A new owner token replaces the old one.
	owner2 := h.ownerToken()
	if owner2 == owner {
		t.Fatal("owner token did not change")
	}
	problemOf(t, h.get(owner, "/v1/users"), http.StatusUnauthorized)
	if w := h.get(owner2, "/v1/users"); w.Code != http.StatusOK {
		t.Errorf("new owner token: %d", w.Code)
	}
}

// TestDocumentsAccess: cashiers read their own documents only; managers
// read all of them.
func TestDocumentsAccess(t *testing.T) {
	h := newHarness(t, nil)
	alice := h.user("alice", RoleCashier)
	bob := h.user("bob", RoleCashier)
	manager := h.user("boss", RoleManager)

	a1 := h.mustSale(alice, "a1", goodSale)
	b1 := h.mustSale(bob, "b1", goodSale)
	a2 := h.mustSale(alice, "a2", goodSale)
	m1 := h.mustSale(manager, "m1", goodSale)

	list := func(token, query string) []DocumentView {
		t.Helper()
		w := h.get(token, "/v1/documents"+query)
		if w.Code != http.StatusOK {
			t.Fatalf("GET /v1/documents%s = %d %s", query, w.Code, w.Body)
		}
		var out struct {
			Documents []DocumentView
			Next      uint64
		}
		decodeBody(t, w, &out)
		return out.Documents
	}
	counters := func(docs []DocumentView) []uint64 {
		var c []uint64
		for _, d := range docs {
			c = append(c, d.Counter)
		}
		return c
	}
	if got := counters(list(alice, "")); len(got) != 2 || got[0] != a1.Counter || got[1] != a2.Counter {
		t.Errorf("alice lists %v, want [%d %d]", got, a1.Counter, a2.Counter)
	}
	if got := counters(list(bob, "")); len(got) != 1 || got[0] != b1.Counter {
		t.Errorf("bob lists %v, want [%d]", got, b1.Counter)
	}
	if got := counters(list(manager, "")); len(got) != 4 || got[3] != m1.Counter {
		t.Errorf("manager lists %v, want all four", got)
	}
	for _, d := range list(manager, "") {
		if d.Document != nil {
			t.Errorf("list without include=document carries document %d's bytes", d.Counter)
		}
	}
	if docs := list(manager, "?include=document"); docs[0].Document == nil {
		t.Error("include=document left the bytes out")
	}
	if got := counters(list(manager, "?since=1&limit=2")); len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Errorf("since=1&limit=2 lists %v, want [2 3]", got)
	}
	problemOf(t, h.get(manager, "/v1/documents?limit=0"), http.StatusBadRequest)
	problemOf(t, h.get(manager, "/v1/documents?since=-1"), http.StatusBadRequest)

	// One document, by counter and by UUID.
	for _, id := range []string{strconv.FormatUint(a1.Counter, 10), a1.UUID} {
		w := h.get(alice, "/v1/documents/"+id)
		if w.Code != http.StatusOK {
			t.Fatalf("alice GET /v1/documents/%s = %d %s", id, w.Code, w.Body)
		}
		var v DocumentView
		decodeBody(t, w, &v)
		if v.Counter != a1.Counter || v.UUID != a1.UUID || v.Hash != a1.Hash || string(v.Document) != string(a1.Document) {
			t.Errorf("GET /v1/documents/%s = %+v, want %+v", id, v, a1)
		}
	}
	// Another cashier's document: forbidden by counter, UUID and content.
	for _, path := range []string{"/v1/documents/" + strconv.FormatUint(b1.Counter, 10), "/v1/documents/" + b1.UUID,
		"/v1/documents/" + b1.UUID + "/content"} {
		p := problemOf(t, h.get(alice, path), http.StatusForbidden)
		if strings.Contains(p.Detail, b1.Hash) {
			t.Errorf("403 leaks the document: %s", p.Detail)
		}
	}
	if w := h.get(manager, "/v1/documents/"+b1.UUID); w.Code != http.StatusOK {
		t.Errorf("manager reads bob's document: %d", w.Code)
	}
	for _, id := range []string{"0", "99", "no-such-uuid"} {
		problemOf(t, h.get(manager, "/v1/documents/"+id), http.StatusNotFound)
	}

	// The content is the stored bytes, as stored.
	rec, err := h.a.Store().Document(a2.Counter)
	if err != nil {
		t.Fatal(err)
	}
	w := h.get(alice, "/v1/documents/"+strconv.FormatUint(a2.Counter, 10)+"/content")
	if w.Code != http.StatusOK {
		t.Fatalf("content = %d %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != rec.ContentType || ct == "" {
		t.Errorf("Content-Type = %q, want the record's %q", ct, rec.ContentType)
	}
	if got := w.Body.String(); got != string(rec.Document) {
		t.Errorf("content = %q, want the journal's bytes %q", got, rec.Document)
	}
	if got := w.Header().Get("X-Document-Hash"); got != rec.Hash {
		t.Errorf("X-Document-Hash = %q, want %q", got, rec.Hash)
	}
	// The JSON view's base64 decodes to the same bytes.
	var view struct{ Document string }
	decodeBody(t, h.get(alice, "/v1/documents/"+a2.UUID), &view)
	if b, err := base64.StdEncoding.DecodeString(view.Document); err != nil || string(b) != string(rec.Document) {
		t.Errorf("view's document decodes to %q (%v), want %q", b, err, rec.Document)
	}
}

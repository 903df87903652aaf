package agent

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/egsd/egsd/device"
	"github.com/egsd/egsd/queue"
	_ "github.com/egsd/egsd/stamping/testregime" // registers regimes "test" and "test-remote"
)

// t0 is where every fake clock starts. It is deliberately far from the
// real date, so that code reading the system clock instead of the agent's
// time source shows up as a wrong answer.
var t0 = time.Date(2031, time.March, 1, 9, 0, 0, 0, time.UTC)

// testPassword is every test user's password (the minimum is MinPasswordFloor).
const testPassword = "correct horse"

// goodSale is a valid invoice: 2 × 5.00 at 15 %.
const goodSale = `{"kind":"invoice","lines":[{"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"15"}]}`

// harness is one in-process agent on a fake clock.
type harness struct {
	t      *testing.T
	cfg    Config
	ft     *device.FakeTime
	a      *Agent
	closed bool
}

// testConfig is DemoConfig in a fresh directory with cheap password hashing.
func testConfig(t *testing.T) Config {
	t.Helper()
	cfg := DemoConfig(t.TempDir())
	cfg.Auth.BcryptCost = bcrypt.MinCost
	return cfg
}

// newHarness starts an agent on testConfig (changed by mod, if not nil)
// and a fake clock at t0. Its cleanup checks the store's invariants and
// closes the agent.
func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	cfg := testConfig(t)
	if mod != nil {
		mod(&cfg)
	}
	return startHarness(t, cfg, device.NewFakeTime(t0))
}

// startHarness starts an agent on cfg and ft, e.g. a restart on a data
// directory an earlier harness used.
func startHarness(t *testing.T, cfg Config, ft *device.FakeTime) *harness {
	t.Helper()
	a, err := New(cfg, Options{Time: ft, Logger: zerolog.Nop(), Version: "test"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := &harness{t: t, cfg: cfg, ft: ft, a: a}
	t.Cleanup(h.close)
	return h
}

// close checks the store and closes the agent; it may be called twice.
func (h *harness) close() {
	h.t.Helper()
	if h.closed {
		return
	}
	h.closed = true
	h.checkStore()
	if err := h.a.Close(); err != nil {
		h.t.Errorf("Close: %v", err)
	}
}

// checkStore runs the store's consistency check, re-hashing every stored
// document with the regime.
func (h *harness) checkStore() queue.CheckReport {
	h.t.Helper()
	rep, err := h.a.Store().Check(queue.CheckOptions{Rehash: func(_ string, doc []byte) (string, error) {
		return h.a.regime.Rehash(doc)
	}})
	if err != nil {
		h.t.Errorf("store check: %v", err)
	}
	return rep
}

// request is one API call.
type request struct {
	method, path string
	token        string
	body         []byte
	header       map[string]string // set after the defaults; "" deletes
}

// do sends req to the agent's handler. A request with a body is sent as
// application/json unless req.header says otherwise.
func (h *harness) do(req request) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(req.method, req.path, bytes.NewReader(req.body))
	if req.body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.token != "" {
		r.Header.Set("Authorization", "Bearer "+req.token)
	}
	for k, v := range req.header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.a.Handler().ServeHTTP(w, r)
	return w
}

// get is a GET with a token.
func (h *harness) get(token, path string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do(request{method: "GET", path: path, token: token})
}

// sendJSON sends v as a JSON body.
func (h *harness) sendJSON(method, path, token string, v any) *httptest.ResponseRecorder {
	h.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do(request{method: method, path: path, token: token, body: b})
}

// sale posts body as a sale with an Idempotency-Key.
func (h *harness) sale(token, key, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do(request{method: "POST", path: "/v1/sales", token: token, body: []byte(body),
		header: map[string]string{"Idempotency-Key": key}})
}

// mustSale posts a sale that must be issued (201) and returns its view.
func (h *harness) mustSale(token, key, body string) DocumentView {
	h.t.Helper()
	w := h.sale(token, key, body)
	if w.Code != http.StatusCreated {
		h.t.Fatalf("POST /v1/sales (key %s) = %d %s, want 201", key, w.Code, w.Body)
	}
	var v DocumentView
	decodeBody(h.t, w, &v)
	return v
}

// login logs in and returns the token, failing the test otherwise.
func (h *harness) login(user, password string) string {
	h.t.Helper()
	w := h.sendJSON("POST", "/v1/sessions", "", map[string]string{"user": user, "password": password})
	if w.Code != http.StatusCreated {
		h.t.Fatalf("login %s = %d %s, want 201", user, w.Code, w.Body)
	}
	var s SessionView
	decodeBody(h.t, w, &s)
	if s.Token == "" {
		h.t.Fatalf("login %s: no token in %s", user, w.Body)
	}
	return s.Token
}

// addUser creates a user directly through the auth service.
func (h *harness) addUser(name string, role Role) {
	h.t.Helper()
	if _, err := h.a.Auth().AddUser("test", name, string(role), testPassword); err != nil {
		h.t.Fatalf("AddUser %s: %v", name, err)
	}
}

// user creates a user and logs it in.
func (h *harness) user(name string, role Role) string {
	h.t.Helper()
	h.addUser(name, role)
	return h.login(name, testPassword)
}

// ownerToken enables the owner token as Serve does and reads it back from
// the data directory, as `egsd users` does.
func (h *harness) ownerToken() string {
	h.t.Helper()
	if err := h.a.writeOwnerToken(""); err != nil {
		h.t.Fatalf("writeOwnerToken: %v", err)
	}
	path := filepath.Join(h.cfg.DataDir, OwnerTokenFile)
	fi, err := os.Stat(path)
	if err != nil {
		h.t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		h.t.Errorf("%s has mode %v, want 0600", OwnerTokenFile, perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatal(err)
	}
	var ot OwnerToken
	if err := json.Unmarshal(data, &ot); err != nil || ot.Token == "" {
		h.t.Fatalf("%s = %q: no token (%v)", OwnerTokenFile, data, err)
	}
	return ot.Token
}

// status reads GET /v1/status.
func (h *harness) status(token string) Status {
	h.t.Helper()
	w := h.get(token, "/v1/status")
	if w.Code != http.StatusOK {
		h.t.Fatalf("GET /v1/status = %d %s", w.Code, w.Body)
	}
	var st Status
	decodeBody(h.t, w, &st)
	return st
}

// audit reads the whole audit log as a manager.
func (h *harness) audit(managerToken string) []queue.AuditEntry {
	h.t.Helper()
	w := h.get(managerToken, "/v1/audit?limit=1000")
	if w.Code != http.StatusOK {
		h.t.Fatalf("GET /v1/audit = %d %s", w.Code, w.Body)
	}
	var out struct{ Entries []queue.AuditEntry }
	decodeBody(h.t, w, &out)
	return out.Entries
}

// incidents reads GET /v1/incidents.
func (h *harness) incidents(token string) []queue.Incident {
	h.t.Helper()
	w := h.get(token, "/v1/incidents")
	if w.Code != http.StatusOK {
		h.t.Fatalf("GET /v1/incidents = %d %s", w.Code, w.Body)
	}
	var out struct{ Incidents []queue.Incident }
	decodeBody(h.t, w, &out)
	return out.Incidents
}

// journalLen counts the records in the journal, read from the store.
func (h *harness) journalLen() int {
	h.t.Helper()
	recs, next, err := h.a.Store().Documents(0, 1000, nil)
	if err != nil || next != 0 {
		h.t.Fatalf("Documents: next %d, %v", next, err)
	}
	return len(recs)
}

// decodeBody decodes a JSON answer strictly.
func decodeBody(t *testing.T, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, w.Body, err)
	}
}

// problemOf checks that w is a problem document with the given status and
// returns it.
func problemOf(t *testing.T, w *httptest.ResponseRecorder, status int) Problem {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p Problem
	decodeBody(t, w, &p)
	if p.Status != status {
		t.Errorf("problem status = %d, want %d", p.Status, status)
	}
	if p.Type == "" || p.Title == "" {
		t.Errorf("problem without type or title: %+v", p)
	}
	return p
}

// fields lists the fields a problem names.
func fields(p Problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// namesField reports whether p names field among its errors.
func namesField(p Problem, field string) bool {
	for _, e := range p.Errors {
		if e.Field == field {
			return true
		}
	}
	return false
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

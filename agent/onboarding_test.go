package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/sale"
)

// fakeOnboarding is regime "test-onboard": the test regime plus a
// three-step onboarding whose state is {"steps": n, "error": "…"}, with
// knobs to fail a step, hold after the first save, and set the
// certificate's expiry. One per data directory, so a test finds its own.
type fakeOnboarding struct {
	stamping.Regime

	mu       sync.Mutex
	failAt   int           // the step (1–3) that fails, once; 0 for none
	hold     chan struct{} // when set, Onboard waits on it after its first save
	saved1   chan struct{} // closed after the first save, when hold is set
	notAfter time.Time     // the certificate's expiry once done
	delay    time.Duration // how long the first step takes (ends early if ctx does)
	got      []fakeCall
	// onboarded is set when an Onboard completes; Submit refuses the
	// credentials until then.
	onboarded bool
}

func (f *fakeOnboarding) Submit(ctx context.Context, sub stamping.Submission) stamping.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.onboarded {
		return stamping.Result{Outcome: stamping.CredentialError, Messages: []string{"401: not onboarded"}}
	}
	return stamping.Result{Outcome: stamping.Accepted, Answer: []byte(`{}`)}
}

type fakeCall struct {
	req   stamping.OnboardRequest
	state []byte
}

type fakeState struct {
	Steps int    `json:"steps"`
	Error string `json:"error,omitempty"`
}

var (
	fakesMu sync.Mutex
	fakes   = map[string]*fakeOnboarding{} // by data directory
)

func init() {
	stamping.Register("test-onboard", func(cfg stamping.Config) (stamping.Regime, error) {
		inner, err := stamping.New("test", cfg)
		if err != nil {
			return nil, err
		}
		f := &fakeOnboarding{Regime: inner}
		fakesMu.Lock()
		fakes[cfg.DataDir] = f
		fakesMu.Unlock()
		return f, nil
	})
}

func (f *fakeOnboarding) Name() string { return "test-onboard" }

func (f *fakeOnboarding) Onboard(ctx context.Context, req stamping.OnboardRequest, state []byte, save func([]byte) error) error {
	f.mu.Lock()
	f.got = append(f.got, fakeCall{req, state})
	failAt, hold, saved1, delay := f.failAt, f.hold, f.saved1, f.delay
	f.failAt = 0
	f.mu.Unlock()
	if req.OTP != "" && (len(req.OTP) != 6 || strings.Trim(req.OTP, "0123456789") != "") {
		return &stamping.OnboardingInputError{Errors: sale.Errors{{Field: "otp", Rule: "must be 6 digits"}}}
	}
	var s fakeState
	if len(state) > 0 {
		if err := json.Unmarshal(state, &s); err != nil {
			return err
		}
	}
	s.Error = ""
	put := func() error {
		b, _ := json.Marshal(s)
		return save(b)
	}
	for s.Steps < 3 {
		if failAt == s.Steps+1 {
			s.Error = "HTTP 400: E-1: the authority says no"
			if err := put(); err != nil {
				return err
			}
			return &stamping.OnboardingStepError{Step: "step", Messages: []string{"E-1: the authority says no"}, Err: errors.New(s.Error)}
		}
		if s.Steps == 0 && delay > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return &stamping.OnboardingStepError{Step: "step", Err: ctx.Err()}
			}
		}
		s.Steps++
		if err := put(); err != nil {
			return err
		}
		if hold != nil && s.Steps == 1 {
			close(saved1)
			<-hold
		}
	}
	f.mu.Lock()
	f.onboarded = true
	f.mu.Unlock()
	return nil
}

func (f *fakeOnboarding) OnboardingStatus(state []byte, now time.Time) stamping.OnboardingStatus {
	var s fakeState
	json.Unmarshal(state, &s)
	st := stamping.OnboardingStatus{State: []string{"not_started", "one", "two", "done"}[s.Steps]}
	if s.Steps == 3 {
		f.mu.Lock()
		st.NotAfter = f.notAfter
		f.mu.Unlock()
		st.RenewalDue = stamping.RenewalDueAt(st.NotAfter, now)
	}
	if s.Error != "" {
		st.State, st.LastError, st.Messages = "failed", s.Error, []string{"E-1: the authority says no"}
	}
	st.Summary = "fake " + st.State
	return st
}

func (f *fakeOnboarding) calls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// onboardingHarness is a harness on regime test-onboard, with a
// technician and a manager logged in.
type onboardingHarness struct {
	*harness
	fake                *fakeOnboarding
	technician, manager string
}

func newOnboardingHarness(t *testing.T, mods ...func(*Config)) *onboardingHarness {
	t.Helper()
	h := newHarness(t, func(c *Config) {
		c.Regime.Name = "test-onboard"
		for _, mod := range mods {
			mod(c)
		}
	})
	fakesMu.Lock()
	fake := fakes[h.cfg.DataDir]
	fakesMu.Unlock()
	return &onboardingHarness{harness: h, fake: fake, technician: h.user("tech", RoleTechnician), manager: h.user("boss", RoleManager)}
}

func (h *onboardingHarness) post(body string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do(request{method: "POST", path: "/v1/onboarding", token: h.technician, body: []byte(body)})
}

func (h *onboardingHarness) storedState() fakeState {
	h.t.Helper()
	raw, err := h.a.Store().RegimeState(OnboardingStateKey)
	if err != nil {
		h.t.Fatal(err)
	}
	var s fakeState
	if raw != nil {
		if err := json.Unmarshal(raw, &s); err != nil {
			h.t.Fatal(err)
		}
	}
	return s
}

// statusJSON is GET /v1/status as a generic map, to see exactly which
// fields it has.
func statusJSON(t *testing.T, h *harness, token string) map[string]json.RawMessage {
	t.Helper()
	w := h.get(token, "/v1/status")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /v1/status = %d %s", w.Code, w.Body)
	}
	var m map[string]json.RawMessage
	decodeBody(t, w, &m)
	return m
}

func TestOnboardingNotAvailable(t *testing.T) {
	h := newHarness(t, nil) // the test regime has no onboarding
	tech := h.user("tech", RoleTechnician)
	p := problemOf(t, h.sendJSON("POST", "/v1/onboarding", tech, map[string]any{"otp": "123345"}), http.StatusConflict)
	if !containsFold(p.Detail, "no onboarding") {
		t.Errorf("problem %+v", p)
	}
	problemOf(t, h.get(tech, "/v1/onboarding"), http.StatusConflict)
	if _, ok := statusJSON(t, h, tech)["onboarding"]; ok {
		t.Error("GET /v1/status has an onboarding field for a regime without onboarding")
	}
}

// TestOnboardingRuns: a technician's POST runs every step, each saved in
// the store with an audit entry naming the technician; the answer lists
// the steps; GET and the status show the result.
func TestOnboardingRuns(t *testing.T) {
	h := newOnboardingHarness(t)
	w := h.post(`{"otp":"123345"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("POST /v1/onboarding = %d %s", w.Code, w.Body)
	}
	var v OnboardingView
	decodeBody(t, w, &v)
	var states []string
	for _, s := range v.Steps {
		states = append(states, s.State)
		if s.Summary == "" || s.At.IsZero() {
			t.Errorf("step %+v lacks a summary or time", s)
		}
	}
	if v.State != "done" || !slices.Equal(states, []string{"one", "two", "done"}) {
		t.Errorf("answer %+v, steps %v", v.OnboardingStatus, states)
	}
	if s := h.storedState(); s.Steps != 3 {
		t.Errorf("stored state %+v, want 3 steps", s)
	}
	var audited []string
	for _, e := range h.audit(h.manager) {
		if e.Action == queue.AuditOnboarding {
			if e.Actor != "tech" || e.Details["key"] != OnboardingStateKey {
				t.Errorf("audit entry %+v", e)
			}
			audited = append(audited, e.Subject)
		}
	}
	if !slices.Equal(audited, []string{"one", "two", "done"}) {
		t.Errorf("audited onboarding states %v", audited)
	}
	if c := h.fake.calls(); len(c) != 1 || c[0].req.OTP != "123345" || c[0].state != nil {
		t.Errorf("regime calls %+v", c)
	}

	for _, token := range []string{h.manager, h.technician} {
		w = h.get(token, "/v1/onboarding")
		if w.Code != http.StatusOK {
			t.Fatalf("GET /v1/onboarding = %d %s", w.Code, w.Body)
		}
		v = OnboardingView{}
		decodeBody(t, w, &v)
		if v.State != "done" || v.Steps != nil {
			t.Errorf("GET /v1/onboarding = %+v", v)
		}
	}
	var sum OnboardingSummary
	if err := json.Unmarshal(statusJSON(t, h.harness, h.manager)["onboarding"], &sum); err != nil || sum.State != "done" || sum.Warning != "" {
		t.Errorf("status onboarding = %+v, %v", sum, err)
	}
	// The classic status fields are still there.
	if st := h.status(h.manager); st.Regime != "test-onboard" || st.State != "ready" {
		t.Errorf("status %+v", st)
	}
}

// TestOnboardingStepFails: a failed step answers 502 with the status and
// the authority's message; the next POST resumes from the saved state.
func TestOnboardingStepFails(t *testing.T) {
	h := newOnboardingHarness(t)
	h.fake.failAt = 2
	w := h.post(`{"otp":"123345"}`)
	if w.Code != http.StatusBadGateway || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("POST with a failing step = %d %s %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var p OnboardingProblem
	decodeBody(t, w, &p)
	if p.Status != http.StatusBadGateway || !strings.Contains(p.Detail, "E-1") || p.Onboarding.State != "failed" ||
		!slices.Equal(p.Onboarding.Messages, []string{"E-1: the authority says no"}) || len(p.Onboarding.Steps) != 2 {
		t.Errorf("problem %+v", p)
	}
	w = h.get(h.technician, "/v1/onboarding")
	var v OnboardingView
	decodeBody(t, w, &v)
	if v.State != "failed" || v.LastError == "" {
		t.Errorf("GET after the failure: %+v", v)
	}

	if w := h.post(`{"otp":"123345"}`); w.Code != http.StatusOK {
		t.Fatalf("retry = %d %s", w.Code, w.Body)
	}
	calls := h.fake.calls()
	var resumed fakeState
	if err := json.Unmarshal(calls[1].state, &resumed); err != nil || resumed.Steps != 1 {
		t.Errorf("the retry started from %s, want the saved state with 1 step", calls[1].state)
	}
}

func TestOnboardingBadRequests(t *testing.T) {
	h := newOnboardingHarness(t)
	p := problemOf(t, h.post(`{"otp":"12 34"}`), http.StatusBadRequest)
	if !namesField(p, "otp") {
		t.Errorf("malformed OTP: %+v, want otp named", p)
	}
	problemOf(t, h.post(`{"otp":"123345","pin":"1"}`), http.StatusBadRequest)
	problemOf(t, h.post(`{"otp":123345}`), http.StatusBadRequest)
	if c := h.fake.calls(); len(c) != 1 {
		t.Errorf("%d regime calls, want 1 (bodies that do not decode never reach the regime)", len(c))
	}
	if raw, _ := h.a.Store().RegimeState(OnboardingStateKey); raw != nil {
		t.Errorf("state saved by a refused request: %s", raw)
	}
	cashier := h.user("ana", RoleCashier)
	problemOf(t, h.sendJSON("POST", "/v1/onboarding", cashier, map[string]any{"otp": "123345"}), http.StatusForbidden)
	problemOf(t, h.sendJSON("POST", "/v1/onboarding", h.manager, map[string]any{"otp": "123345"}), http.StatusForbidden)
	problemOf(t, h.get(cashier, "/v1/onboarding"), http.StatusForbidden)
}

// TestOnboardingOneAtATime: a second POST while one runs is 409 and does
// not reach the regime.
func TestOnboardingOneAtATime(t *testing.T) {
	h := newOnboardingHarness(t)
	h.fake.hold, h.fake.saved1 = make(chan struct{}), make(chan struct{})
	first := make(chan *httptest.ResponseRecorder, 1)
	go func() { first <- h.post(`{"otp":"123345"}`) }()
	<-h.fake.saved1
	p := problemOf(t, h.post(`{"otp":"123345"}`), http.StatusConflict)
	if !containsFold(p.Title, "in progress") {
		t.Errorf("busy problem %+v", p)
	}
	close(h.fake.hold)
	if w := <-first; w.Code != http.StatusOK {
		t.Errorf("first POST = %d %s", w.Code, w.Body)
	}
	if n := len(h.fake.calls()); n != 1 {
		t.Errorf("%d regime calls, want 1", n)
	}
}

// TestOnboardingExpiryWarning: from 30 days before the certificate
// expires, the status warns and says how to renew.
func TestOnboardingExpiryWarning(t *testing.T) {
	h := newOnboardingHarness(t)
	h.fake.notAfter = t0.Add(60 * 24 * time.Hour)
	if w := h.post(`{"otp":"123345"}`); w.Code != http.StatusOK {
		t.Fatalf("POST = %d %s", w.Code, w.Body)
	}
	summary := func() OnboardingSummary {
		var sum OnboardingSummary
		token := h.login("boss", testPassword) // the fake clock outruns sessions
		if err := json.Unmarshal(statusJSON(t, h.harness, token)["onboarding"], &sum); err != nil {
			t.Fatal(err)
		}
		return sum
	}
	if s := summary(); s.RenewalDue || s.Warning != "" || !s.NotAfter.Equal(h.fake.notAfter) {
		t.Errorf("60 days before expiry: %+v", s)
	}
	h.ft.Advance(31 * 24 * time.Hour)
	s := summary()
	if !s.RenewalDue || !strings.Contains(s.Warning, "certificate expires on 2031-04-30") || !strings.Contains(s.Warning, "egsd onboard --renew --otp") {
		t.Errorf("29 days before expiry: %+v", s)
	}
	h.ft.Advance(30 * 24 * time.Hour)
	if s := summary(); !strings.Contains(s.Warning, "certificate expired on 2031-04-30") {
		t.Errorf("after expiry: %+v", s)
	}
}

// TestOnboardingZATCAAuthorityRefuses drives the real ZATCA regime against
// a stand-in for ZATCA that refuses every OTP: the answer is 502 with
// ZATCA's message, and the failure is what GET and the status show.
func TestOnboardingZATCAAuthorityRefuses(t *testing.T) {
	var compliance int
	var mu sync.Mutex
	zatcaAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/compliance") {
			compliance++
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"errors":[{"code":"Invalid-OTP","message":"The provided OTP is invalid"}]}`))
			return
		}
		http.NotFound(w, r)
	}))
	defer zatcaAPI.Close()
	h := newHarness(t, func(c *Config) {
		c.Regime.Name = "zatca"
		c.Regime.Options = map[string]any{"base_url": zatcaAPI.URL + "/e-invoicing/developer-portal"}
	})
	tech := h.user("tech", RoleTechnician)

	p := problemOf(t, h.sendJSON("POST", "/v1/onboarding", tech, map[string]any{"otp": "12ab56"}), http.StatusBadRequest)
	if !namesField(p, "otp") {
		t.Errorf("malformed OTP: %+v", p)
	}
	w := h.sendJSON("POST", "/v1/onboarding", tech, map[string]any{"otp": "111111"})
	if w.Code != http.StatusBadGateway {
		t.Fatalf("POST with a refused OTP = %d %s", w.Code, w.Body)
	}
	var op OnboardingProblem
	decodeBody(t, w, &op)
	if !strings.Contains(op.Detail, "Invalid-OTP") || op.Onboarding.State != "failed" || op.Onboarding.Step != "compliance_csid" ||
		len(op.Onboarding.Steps) == 0 || op.Onboarding.Steps[0].State != "csr_ready" {
		t.Errorf("502 answer %+v", op)
	}
	var v OnboardingView
	decodeBody(t, h.get(tech, "/v1/onboarding"), &v)
	if v.State != "failed" || !strings.Contains(strings.Join(v.Messages, " "), "Invalid-OTP") {
		t.Errorf("GET after the refusal: %+v", v)
	}
	var sum OnboardingSummary
	if err := json.Unmarshal(statusJSON(t, h, tech)["onboarding"], &sum); err != nil || sum.State != "failed" {
		t.Errorf("status onboarding %+v, %v", sum, err)
	}
	if compliance != 1 {
		t.Errorf("%d compliance CSID requests, want 1", compliance)
	}
	raw, _ := h.a.Store().RegimeState(OnboardingStateKey)
	if strings.Contains(string(raw), "111111") {
		t.Error("the stored state holds the OTP")
	}
}

// TestOnboardingResumesSubmission: submission paused because the authority
// refused the credentials goes on once onboarding installed new ones.
func TestOnboardingResumesSubmission(t *testing.T) {
	h := newOnboardingHarness(t, func(c *Config) { c.Submit.Enabled = true })
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "k1", goodSale)
	h.step()
	if st := h.status(h.manager); st.Submission.Paused == "" {
		t.Fatalf("submission not paused by refused credentials: %+v", st.Submission)
	}
	if w := h.post(`{"otp":"123345"}`); w.Code != http.StatusOK {
		t.Fatalf("POST = %d %s", w.Code, w.Body)
	}
	if st := h.status(h.manager); st.Submission.Paused != "" {
		t.Fatalf("submission still paused after onboarding: %+v", st.Submission)
	}
	h.step()
	if st := h.status(h.manager); st.Outbox.Pending != 0 {
		t.Errorf("%d documents pending after onboarding and a submission step", st.Outbox.Pending)
	}
}

// TestOnboardingOutlastsServerTimeouts: a run longer than the server's
// read and write timeouts (egsd's are 30 s and 60 s) still completes and
// is answered.
func TestOnboardingOutlastsServerTimeouts(t *testing.T) {
	h := newOnboardingHarness(t)
	h.fake.delay = 600 * time.Millisecond
	srv := httptest.NewUnstartedServer(h.a.Handler())
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	srv.Start()
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/v1/onboarding", strings.NewReader(`{"otp":"123345"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+h.technician)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST through a server with 200 ms timeouts: %v", err)
	}
	defer resp.Body.Close()
	var v OnboardingView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK || v.State != "done" {
		t.Fatalf("POST = %d %+v, %v; want 200 done", resp.StatusCode, v, err)
	}
}

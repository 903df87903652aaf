package zatcasim

import (
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/sale"
)

// Every fault knob, driven from Go (SetFaults), the admin endpoint or the
// flags, against a unit that is onboarded first.

func freshClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{}}
}

func (u *egs) report(d stamped, client *http.Client) (*http.Response, error) {
	resp, _, err := u.h.send(req{path: "/" + EndpointReporting, auth: &u.pcsid, body: d.body()}, client)
	return resp, err
}

func setFaults(t *testing.T, s *Server, f Faults) {
	t.Helper()
	if err := s.SetFaults(f); err != nil {
		t.Fatal(err)
	}
}

func TestFaultLatency(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("0100")
	setFaults(t, h.sim, Faults{Latency: time.Minute, Endpoints: []string{EndpointReporting}})
	d := u.stamp(sale.Invoice, false)
	if _, err := u.report(d, freshClient(200*time.Millisecond)); err == nil {
		t.Fatal("a request delayed by a minute answered within the client's 200 ms")
	}
	if n := len(h.sim.Accepted(u.pcsid.BinarySecurityToken)); n != 0 {
		t.Errorf("a request the client gave up on during the latency was processed (%d accepted)", n)
	}
	// Latency on reporting only: onboarding another unit is not delayed.
	other := h.newEGS("0100")
	resp, _, err := h.send(req{path: "/compliance", header: map[string]string{"OTP": DeveloperPortalOTP}, body: other.csrBody()}, freshClient(10*time.Second))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("compliance under a reporting-only latency: %v %v", resp, err)
	}
	setFaults(t, h.sim, Faults{})
	if resp, err := u.report(d, freshClient(10*time.Second)); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("without latency: %v %v", resp, err)
	}
}

// A timeout fault records the document, then never answers (§6.9: the
// result is unknown); the identical resubmission is a duplicate.
func TestFaultTimeout(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("0100")
	setFaults(t, h.sim, Faults{TimeoutCount: 1})
	d := u.stamp(sale.Invoice, false)
	if resp, err := u.report(d, freshClient(300*time.Millisecond)); err == nil {
		t.Fatalf("answered %d despite the timeout fault", resp.StatusCode)
	}
	recs := h.sim.Accepted(u.pcsid.BinarySecurityToken)
	if len(recs) != 1 || recs[0].Hash != d.Hash {
		t.Fatalf("the timed-out document was not recorded: %+v", recs)
	}
	resp, err := u.report(d, freshClient(10*time.Second))
	if err != nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("resubmission: %v %v, want 409", resp, err)
	}
	if f := h.sim.CurrentFaults(); f.TimeoutCount != 0 {
		t.Errorf("TimeoutCount left %d", f.TimeoutCount)
	}
	if st := h.sim.Stats(); st.Faults != 1 || st.Duplicates != 1 {
		t.Errorf("Stats %+v", st)
	}
}

func TestFaultReset(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("0100")
	setFaults(t, h.sim, Faults{ResetCount: 1})
	d := u.stamp(sale.Invoice, false)
	if resp, err := u.report(d, freshClient(10*time.Second)); err == nil {
		t.Fatalf("answered %d despite the reset fault", resp.StatusCode)
	}
	if n := len(h.sim.Accepted(u.pcsid.BinarySecurityToken)); n != 0 {
		t.Errorf("a reset request was processed")
	}
	if resp, err := u.report(d, freshClient(10*time.Second)); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after the reset: %v %v", resp, err)
	}
	setFaults(t, h.sim, Faults{ResetPercent: 100})
	for range 3 {
		if _, err := u.report(d, freshClient(10*time.Second)); err == nil {
			t.Fatal("ResetPercent 100 let a request through")
		}
	}
}

func TestFaultStatus(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("0100")
	d := u.stamp(sale.Invoice, false)
	for _, c := range []struct {
		name       string
		f          Faults
		want       []int
		retryAfter string
	}{
		{"503 twice", Faults{Status: 503, StatusCount: 2, RetryAfter: 3 * time.Second}, []int{503, 503, 200}, "3"},
		{"429 rounds Retry-After up", Faults{Status: 429, StatusCount: 1, RetryAfter: 1500 * time.Millisecond}, []int{429, 409}, "2"},
		{"500 always", Faults{Status: 500}, []int{500, 500, 500}, ""},
		{"500 to every request by percent", Faults{Status: 500, StatusPercent: 100}, []int{500, 500}, ""},
		{"500 only on clearance", Faults{Status: 500, Endpoints: []string{EndpointClearance}}, []int{409}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			setFaults(t, h.sim, c.f)
			for i, want := range c.want {
				resp, err := u.report(d, nil)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != want {
					t.Fatalf("request %d: %d, want %d", i+1, resp.StatusCode, want)
				}
				if ra := resp.Header.Get("Retry-After"); want != 200 && want != 409 && ra != c.retryAfter {
					t.Errorf("Retry-After %q, want %q", ra, c.retryAfter)
				}
			}
		})
	}
	if n := len(h.sim.Accepted(u.pcsid.BinarySecurityToken)); n != 1 {
		t.Errorf("%d accepted, want 1", n)
	}
}

// Reject faults give 400 for the chosen documents; they keep their slot.
func TestFaultReject(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("1100")
	d1 := u.stamp(sale.Invoice, false)
	d2 := u.stamp(sale.Invoice, true)
	d3 := u.stamp(sale.Invoice, false)
	setFaults(t, h.sim, Faults{RejectUUIDs: []string{d1.slot.UUID}, RejectICVs: []uint64{d2.slot.Counter}})
	for _, c := range []struct {
		d        stamped
		standard bool
		status   int
	}{{d1, false, 400}, {d2, true, 400}, {d3, false, 200}} {
		status, a := u.submit(endpointFor(c.standard), u.pcsid, c.d.body())
		if status != c.status || (status == 400 && !a.has("ERROR", "simulated-rejection")) {
			t.Errorf("ICV %d: %d %s, want %d", c.d.slot.Counter, status, a, c.status)
		}
	}
	if b := h.sim.ChainBreaks(u.pcsid.BinarySecurityToken); len(b) != 0 {
		t.Errorf("rejected documents did not keep their slots: %v", b)
	}
}

// Clearance deactivated (§5.5): 303, and standard documents are reported.
func TestFaultClearanceOff(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("1100")
	setFaults(t, h.sim, Faults{ClearanceOff: true})
	d := u.stamp(sale.Invoice, true)
	status, a := u.submit(EndpointClearance, u.pcsid, d.body())
	if status != http.StatusSeeOther || !a.has("WARNING", "clearance-deactivated") || deref(a.ClearanceStatus) != "NOT_CLEARED" {
		t.Fatalf("clearance while deactivated: %d %s", status, a)
	}
	status, a = u.submit(EndpointReporting, u.pcsid, d.body())
	if status != http.StatusOK || deref(a.ReportingStatus) != "REPORTED" {
		t.Fatalf("reporting a standard invoice while clearance is off: %d %s", status, a)
	}
	setFaults(t, h.sim, Faults{})
	next := u.stamp(sale.Invoice, true)
	if status, a := u.submit(EndpointReporting, u.pcsid, next.body()); status != http.StatusBadRequest {
		t.Errorf("reporting a standard invoice with clearance on: %d %s", status, a)
	}
}

func TestFaultDown(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("0100")
	d := u.stamp(sale.Invoice, false)
	h.sim.SetDown(true)
	if _, err := u.report(d, freshClient(10*time.Second)); err == nil {
		t.Fatal("answered while down")
	}
	// Down resets onboarding too, whatever Endpoints says.
	setFaults(t, h.sim, Faults{Down: true, Endpoints: []string{EndpointClearance}})
	if _, _, err := h.send(req{path: "/compliance", header: map[string]string{"OTP": DeveloperPortalOTP}, body: u.csrBody()}, freshClient(10*time.Second)); err == nil {
		t.Fatal("onboarding answered while down")
	}
	// The admin endpoints still work, and bring it back up.
	if resp := h.do(req{path: "/admin/up", abs: true}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /admin/up = %d", resp.StatusCode)
	}
	if resp, err := u.report(d, freshClient(10*time.Second)); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after /admin/up: %v %v", resp, err)
	}
	if resp := h.do(req{path: "/admin/down", abs: true}, nil); resp.StatusCode != http.StatusOK || !h.sim.CurrentFaults().Down {
		t.Fatalf("POST /admin/down = %d", resp.StatusCode)
	}
}

// TestAdminEndpoint drives the faults and reads the state over HTTP, as
// integration tests of the real daemon do.
func TestAdminEndpoint(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("0100")
	var got Faults
	body := []byte(`{"endpoints":["invoices/reporting/single"],"status":503,"status_count":1,"retry_after":"2s","reject_icvs":[99]}`)
	if resp := h.do(req{path: "/admin/faults", abs: true, body: body}, &got); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /admin/faults = %d", resp.StatusCode)
	}
	want := Faults{Endpoints: []string{EndpointReporting}, Status: 503, StatusCount: 1, RetryAfter: 2 * time.Second, RejectICVs: []uint64{99}}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(h.sim.CurrentFaults(), want) {
		t.Errorf("faults = %+v, want %+v", got, want)
	}
	d := u.stamp(sale.Invoice, false)
	if resp, _ := u.report(d, nil); resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("first report: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, _ := u.report(d, nil); resp.StatusCode != 200 {
		t.Errorf("second report: %d", resp.StatusCode)
	}
	h.do(req{method: http.MethodGet, path: "/admin/faults", abs: true}, &got)
	if got.StatusCount != 0 || got.Status != 0 || got.RetryAfter != 0 || !reflect.DeepEqual(got.RejectICVs, []uint64{99}) {
		t.Errorf("GET /admin/faults after the count ran out: %+v", got)
	}
	for _, bad := range []string{`{"stauts":503}`, `{"status":42}`, `{"latency":"soon"}`, `{"status_percent":101}`, `{"endpoints":["nowhere"]}`, `[`} {
		if resp := h.do(req{path: "/admin/faults", abs: true, body: []byte(bad)}, nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST /admin/faults %s = %d, want 400", bad, resp.StatusCode)
		}
	}
	if resp := h.do(req{method: http.MethodDelete, path: "/admin/faults", abs: true}, &got); resp.StatusCode != 200 || !reflect.DeepEqual(got, Faults{}) {
		t.Errorf("DELETE /admin/faults = %d %+v", resp.StatusCode, got)
	}
	var st State
	if resp := h.do(req{method: http.MethodGet, path: "/admin/state", abs: true}, &st); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/state = %d", resp.StatusCode)
	}
	if len(st.Units) != 1 || len(st.Units[0].Accepted) != 1 || st.Units[0].Accepted[0].Hash != d.Hash ||
		st.Units[0].VATNumber != testVAT || st.Units[0].EGSSerial != u.req.SerialNumber || st.Stats.Reported != 1 || st.Stats.Faults != 1 {
		t.Errorf("state %+v", st)
	}
	b, _ := json.Marshal(h.sim.State())
	if strings.Contains(string(b), u.pcsid.Secret) || strings.Contains(string(b), u.ccsid.Secret) {
		t.Error("the state shows a CSID's secret")
	}
}

func TestFaultsFlags(t *testing.T) {
	var cfg Config
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	cfg.AddFlags(fs)
	err := fs.Parse([]string{"-otp", "111111", "-otp", "222222", "-latency", "150ms", "-fail-status", "429", "-fail-count", "3",
		"-retry-after", "5s", "-timeout-count", "1", "-reset-percent", "10", "-clearance-off", "-reject-uuid", "u-1",
		"-reject-icv", "7", "-reject-icv", "9", "-fault-endpoint", EndpointReporting, "-cert-validity", "1h",
		"-clearance-duplicate-status", "208"})
	if err != nil {
		t.Fatal(err)
	}
	want := Faults{Endpoints: []string{EndpointReporting}, Latency: 150 * time.Millisecond, Status: 429, StatusCount: 3,
		RetryAfter: 5 * time.Second, TimeoutCount: 1, ResetPercent: 10, ClearanceOff: true,
		RejectUUIDs: []string{"u-1"}, RejectICVs: []uint64{7, 9}}
	if !reflect.DeepEqual(cfg.Faults, want) || !reflect.DeepEqual(cfg.OTPs, []string{"111111", "222222"}) ||
		cfg.CertValidity != time.Hour || cfg.ClearanceDuplicateStatus != 208 {
		t.Errorf("config %+v", cfg)
	}
	if err := cfg.Faults.Validate(); err != nil {
		t.Error(err)
	}
	for _, bad := range [][]string{{"-otp", "12345"}, {"-reject-icv", "x"}, {"-fault-endpoint", "nowhere"}} {
		fs := flag.NewFlagSet("sim", flag.ContinueOnError)
		fs.SetOutput(new(strings.Builder))
		new(Config).AddFlags(fs)
		if err := fs.Parse(bad); err == nil {
			t.Errorf("%v parsed", bad)
		}
	}
	// Flags (New) and JSON give the same faults.
	s := New(cfg)
	b, err := json.Marshal(s.CurrentFaults())
	if err != nil {
		t.Fatal(err)
	}
	var back Faults
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, want) {
		t.Errorf("JSON round trip %s → %+v, %v", b, back, err)
	}
}

func TestFaultsValidate(t *testing.T) {
	for _, f := range []Faults{
		{Status: 200}, {Status: 700}, {StatusPercent: -1}, {TimeoutPercent: 101}, {ResetCount: -1},
		{Latency: -time.Second}, {Endpoints: []string{"/compliance"}},
	} {
		if err := new(Server).SetFaults(f); err == nil {
			t.Errorf("SetFaults(%+v) accepted", f)
		}
	}
}

// HoldRequests keeps requests waiting until released.
func TestHoldRequests(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("0100")
	d := u.stamp(sale.Invoice, false)
	before := h.sim.Stats().Requests
	release := h.sim.HoldRequests()
	done := make(chan int, 1)
	go func() {
		resp, err := u.report(d, freshClient(time.Minute))
		if err != nil {
			done <- -1
			return
		}
		done <- resp.StatusCode
	}()
	for h.sim.Stats().Requests == before {
		time.Sleep(time.Millisecond) // until the request has arrived
	}
	select {
	case status := <-done:
		t.Fatalf("a held request finished with %d", status)
	default:
	}
	if n := len(h.sim.Accepted(u.pcsid.BinarySecurityToken)); n != 0 {
		t.Fatal("a held request was processed")
	}
	release()
	if status := <-done; status != http.StatusOK {
		t.Fatalf("released request: %d", status)
	}
	release() // a second call does nothing
}

// GET /admin/faults answers the faults in force with every key, so that
// it shows what POST takes; a fault set with the flags shows there too.
func TestAdminFaultsShowsEveryKey(t *testing.T) {
	h := newHarness(t, nil)
	var got map[string]json.RawMessage
	if resp := h.do(req{method: http.MethodGet, path: "/admin/faults", abs: true}, &got); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/faults = %d", resp.StatusCode)
	}
	want := map[string]string{"endpoints": "[]", "latency": `"0s"`, "status": "0", "status_count": "0", "status_percent": "0",
		"retry_after": `"0s"`, "timeout_count": "0", "timeout_percent": "0", "reset_count": "0", "reset_percent": "0",
		"down": "false", "clearance_off": "false", "reject_uuids": "[]", "reject_icvs": "[]"}
	if len(got) != len(want) {
		t.Errorf("GET /admin/faults has %d keys, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Errorf("GET /admin/faults: %s = %s, want %s", k, got[k], v)
		}
	}
	// The answer is a valid POST body that changes nothing.
	body, _ := json.Marshal(got)
	var back Faults
	if resp := h.do(req{path: "/admin/faults", abs: true, body: body}, &back); resp.StatusCode != http.StatusOK || !reflect.DeepEqual(back, Faults{}) {
		t.Errorf("POST of the GET answer = %d %+v", resp.StatusCode, back)
	}

	var cfg Config
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	cfg.AddFlags(fs)
	if err := fs.Parse([]string{"-down", "-latency", "1s", "-reject-icv", "3"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(cfg))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/admin/faults")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var shown Faults
	if err := json.NewDecoder(resp.Body).Decode(&shown); err != nil || !shown.Down || shown.Latency != time.Second || !reflect.DeepEqual(shown.RejectICVs, []uint64{3}) {
		t.Errorf("GET /admin/faults of a simulator started with fault flags = %+v, %v", shown, err)
	}
}

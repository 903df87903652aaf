package zatcasim

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Faults are the failures the simulator injects, in the spirit of coredns
// erratic: the ways the real service fails that a unit must survive
// (design.md §4: retryable, duplicate, rejected, credential). Set them in
// Config.Faults, with Server.SetFaults, with the `egsd sim zatca` flags
// (Config.AddFlags) or with POST /admin/faults. The zero value injects
// nothing.
//
// A "Count" fault fires for the next Count matching requests, counting
// down; a "Percent" fault fires at random for that share of matching
// requests (0–100). Count takes precedence while it lasts.
type Faults struct {
	// Endpoints limits Latency, Status, Timeout and Reset faults to these
	// endpoints (Endpoint* names); empty means every API endpoint.
	Endpoints []string
	// Latency delays every matching request before it is processed.
	Latency time.Duration
	// Status, when not zero, is answered instead of processing (500, 503,
	// 429, …): to the next StatusCount requests (after which Status
	// returns to zero), or to StatusPercent of them, or, with both zero,
	// to every matching request.
	Status        int
	StatusCount   int
	StatusPercent int
	// RetryAfter is sent as Retry-After (whole seconds, rounded up) with a
	// 429 or 503 status fault; zero sends none.
	RetryAfter time.Duration
	// Timeout faults process the request, record the document if it is
	// accepted, then withhold the answer until the client gives up, and
	// reset the connection: the result is unknown to the client, and the
	// identical resubmission it must make gets 409 (§6.9).
	TimeoutCount   int
	TimeoutPercent int
	// Reset faults reset the connection before the request is processed.
	ResetCount   int
	ResetPercent int
	// Down resets the connection of every API request, whatever
	// Endpoints says: the service is unreachable.
	Down bool
	// ClearanceOff makes clearance answer 303 (clearance deactivated for
	// the taxpayer, §5.5), and reporting accept standard documents.
	ClearanceOff bool
	// RejectUUIDs and RejectICVs make reporting, clearance and compliance
	// checks answer 400 (simulated-rejection) for the documents with these
	// cbc:UUID or ICV values. A rejected document keeps its chain slot
	// (§6.9).
	RejectUUIDs []string
	RejectICVs  []uint64
}

func (f Faults) clone() Faults {
	f.Endpoints = slices.Clone(f.Endpoints)
	f.RejectUUIDs = slices.Clone(f.RejectUUIDs)
	f.RejectICVs = slices.Clone(f.RejectICVs)
	return f
}

// Validate checks the ranges: counts not negative, percentages 0–100, a
// status from 300 to 599, durations not negative, known endpoints.
func (f Faults) Validate() error {
	var errs []error
	for _, p := range []struct {
		name string
		v    int
	}{{"status_percent", f.StatusPercent}, {"timeout_percent", f.TimeoutPercent}, {"reset_percent", f.ResetPercent}} {
		if p.v < 0 || p.v > 100 {
			errs = append(errs, fmt.Errorf("%s is %d; it must be 0 to 100", p.name, p.v))
		}
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"status_count", f.StatusCount}, {"timeout_count", f.TimeoutCount}, {"reset_count", f.ResetCount}} {
		if c.v < 0 {
			errs = append(errs, fmt.Errorf("%s is %d; it must not be negative", c.name, c.v))
		}
	}
	if f.Status != 0 && (f.Status < 300 || f.Status > 599) {
		errs = append(errs, fmt.Errorf("status is %d; it must be 0 (none) or 300 to 599", f.Status))
	}
	if f.Latency < 0 || f.RetryAfter < 0 {
		errs = append(errs, errors.New("latency and retry_after must not be negative"))
	}
	for _, e := range f.Endpoints {
		if !slices.Contains(endpoints, e) {
			errs = append(errs, fmt.Errorf("endpoint %q is not one of %s", e, strings.Join(endpoints, ", ")))
		}
	}
	return errors.Join(errs...)
}

// faultsJSON is the JSON form of Faults: durations as Go duration strings
// ("250ms"), keys in snake case. Every key is written, zero or not, so that
// GET /admin/faults shows what can be set; POST may leave any out.
type faultsJSON struct {
	Endpoints      []string `json:"endpoints"`
	Latency        string   `json:"latency"`
	Status         int      `json:"status"`
	StatusCount    int      `json:"status_count"`
	StatusPercent  int      `json:"status_percent"`
	RetryAfter     string   `json:"retry_after"`
	TimeoutCount   int      `json:"timeout_count"`
	TimeoutPercent int      `json:"timeout_percent"`
	ResetCount     int      `json:"reset_count"`
	ResetPercent   int      `json:"reset_percent"`
	Down           bool     `json:"down"`
	ClearanceOff   bool     `json:"clearance_off"`
	RejectUUIDs    []string `json:"reject_uuids"`
	RejectICVs     []uint64 `json:"reject_icvs"`
}

// MarshalJSON writes the snake-case form that POST /admin/faults takes,
// with every key.
func (f Faults) MarshalJSON() ([]byte, error) {
	j := faultsJSON{Endpoints: f.Endpoints, Latency: f.Latency.String(), Status: f.Status, StatusCount: f.StatusCount,
		StatusPercent: f.StatusPercent, RetryAfter: f.RetryAfter.String(), TimeoutCount: f.TimeoutCount,
		TimeoutPercent: f.TimeoutPercent, ResetCount: f.ResetCount, ResetPercent: f.ResetPercent,
		Down: f.Down, ClearanceOff: f.ClearanceOff, RejectUUIDs: f.RejectUUIDs, RejectICVs: f.RejectICVs}
	if j.Endpoints == nil {
		j.Endpoints = []string{}
	}
	if j.RejectUUIDs == nil {
		j.RejectUUIDs = []string{}
	}
	if j.RejectICVs == nil {
		j.RejectICVs = []uint64{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the snake-case form strictly: unknown keys and bad
// durations are errors; keys left out are zero.
func (f *Faults) UnmarshalJSON(data []byte) error {
	var j faultsJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	out := Faults{Status: j.Status, StatusCount: j.StatusCount, StatusPercent: j.StatusPercent,
		TimeoutCount: j.TimeoutCount, TimeoutPercent: j.TimeoutPercent, ResetCount: j.ResetCount, ResetPercent: j.ResetPercent,
		Down: j.Down, ClearanceOff: j.ClearanceOff}
	// An empty list is no list, as in Faults' zero value.
	if len(j.Endpoints) > 0 {
		out.Endpoints = j.Endpoints
	}
	if len(j.RejectUUIDs) > 0 {
		out.RejectUUIDs = j.RejectUUIDs
	}
	if len(j.RejectICVs) > 0 {
		out.RejectICVs = j.RejectICVs
	}
	var err error
	if j.Latency != "" {
		if out.Latency, err = time.ParseDuration(j.Latency); err != nil {
			return fmt.Errorf("latency: %w", err)
		}
	}
	if j.RetryAfter != "" {
		if out.RetryAfter, err = time.ParseDuration(j.RetryAfter); err != nil {
			return fmt.Errorf("retry_after: %w", err)
		}
	}
	*f = out
	return nil
}

// SetFaults replaces the faults in force (counts start afresh). It
// returns Validate's error and changes nothing then.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("zatcasim: faults: %w", err)
	}
	s.init()
	s.mu.Lock()
	s.faults = f.clone()
	s.mu.Unlock()
	return nil
}

// CurrentFaults returns the faults in force, with the counts left.
func (s *Server) CurrentFaults() Faults {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.clone()
}

// SetDown takes the whole service down (every API request gets a
// connection reset) or brings it back up, leaving the other faults alone.
func (s *Server) SetDown(down bool) {
	s.init()
	s.mu.Lock()
	s.faults.Down = down
	s.mu.Unlock()
}

// faultDecision is what the faults decided for one request.
type faultDecision struct {
	down, reset, timeout bool
	latency              time.Duration
	status               int
	retryAfter           time.Duration
	clearanceOff         bool
	rejectUUIDs          []string
	rejectICVs           []uint64
}

// takeFaults decides the faults of one request to endpoint and counts
// them down. A request fires at most one of reset, status and timeout.
func (s *Server) takeFaults(endpoint string) faultDecision {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &s.faults
	d := faultDecision{down: f.Down, clearanceOff: f.ClearanceOff,
		rejectUUIDs: slices.Clone(f.RejectUUIDs), rejectICVs: slices.Clone(f.RejectICVs)}
	if d.down || len(f.Endpoints) > 0 && !slices.Contains(f.Endpoints, endpoint) {
		return d
	}
	d.latency = f.Latency
	if fire(&f.ResetCount, f.ResetPercent) {
		d.reset = true
		return d
	}
	switch {
	case f.Status == 0:
	case f.StatusCount > 0:
		d.status, d.retryAfter = f.Status, f.RetryAfter
		// The last of the count switches the status fault off, so that
		// "the next N requests" does not turn into "every request".
		if f.StatusCount--; f.StatusCount == 0 {
			f.Status, f.RetryAfter = 0, 0
		}
		return d
	case f.StatusPercent == 0 || rand.IntN(100) < f.StatusPercent:
		d.status, d.retryAfter = f.Status, f.RetryAfter
		return d
	}
	d.timeout = fire(&f.TimeoutCount, f.TimeoutPercent)
	return d
}

func fire(count *int, percent int) bool {
	if *count > 0 {
		*count--
		return true
	}
	return percent > 0 && rand.IntN(100) < percent
}

// serveAdmin serves the /admin/ endpoints (see ServeHTTP). They are never
// subject to faults.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	bad := func(status int, msg string) {
		s.write(w, r, errorResponse(status, http.StatusText(status), msg))
	}
	switch r.URL.Path {
	case "/admin/faults":
		switch r.Method {
		case http.MethodGet:
		case http.MethodPost, http.MethodPut:
			var f Faults
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&f); err != nil {
				bad(http.StatusBadRequest, "the body is not a JSON Faults object: "+err.Error())
				return
			}
			if err := s.SetFaults(f); err != nil {
				bad(http.StatusBadRequest, err.Error())
				return
			}
		case http.MethodDelete:
			s.SetFaults(Faults{})
		default:
			bad(http.StatusMethodNotAllowed, "use GET, POST or DELETE")
			return
		}
		s.write(w, r, jsonResponse(http.StatusOK, s.CurrentFaults()))
	case "/admin/down", "/admin/up":
		if r.Method != http.MethodPost {
			bad(http.StatusMethodNotAllowed, "use POST")
			return
		}
		s.SetDown(r.URL.Path == "/admin/down")
		s.write(w, r, jsonResponse(http.StatusOK, s.CurrentFaults()))
	case "/admin/state":
		if r.Method != http.MethodGet {
			bad(http.StatusMethodNotAllowed, "use GET")
			return
		}
		s.write(w, r, jsonResponse(http.StatusOK, s.State()))
	default:
		bad(http.StatusNotFound, "admin endpoints: /admin/faults, /admin/down, /admin/up, /admin/state")
	}
}

// AddFlags registers the flags of `egsd sim zatca` that set c: --otp (may
// repeat), --cert-validity, --clearance-duplicate-status, and the faults:
// --latency, --fail-status, --fail-count, --fail-percent, --retry-after,
// --timeout-count, --timeout-percent, --reset-count, --reset-percent, --down,
// --clearance-off, --reject-uuid and --reject-icv (may repeat),
// --fault-endpoint (may repeat). Call c.Faults.Validate after parsing.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	f := &c.Faults
	fs.Func("otp", "an `OTP` accepted in every environment besides the developer portal's 123345 (may repeat)", func(v string) error {
		if len(v) != 6 || strings.Trim(v, "0123456789") != "" {
			return errors.New("an OTP is six digits")
		}
		c.OTPs = append(c.OTPs, v)
		return nil
	})
	fs.DurationVar(&c.CertValidity, "cert-validity", c.CertValidity, "validity of issued certificates (0: five years)")
	fs.IntVar(&c.ClearanceDuplicateStatus, "clearance-duplicate-status", c.ClearanceDuplicateStatus, "status for an already cleared invoice (0: 409; 208 per one Swagger summary)")
	fs.DurationVar(&f.Latency, "latency", f.Latency, "delay every request by this `duration`")
	fs.IntVar(&f.Status, "fail-status", f.Status, "answer this HTTP `status` (500, 503, 429, …) instead of processing")
	fs.IntVar(&f.StatusCount, "fail-count", f.StatusCount, "… for the next `n` requests only")
	fs.IntVar(&f.StatusPercent, "fail-percent", f.StatusPercent, "… for this `percent` of requests (with --fail-count 0)")
	fs.DurationVar(&f.RetryAfter, "retry-after", f.RetryAfter, "Retry-After sent with a 429 or 503 --fail-status")
	fs.IntVar(&f.TimeoutCount, "timeout-count", f.TimeoutCount, "process, then never answer, the next `n` requests")
	fs.IntVar(&f.TimeoutPercent, "timeout-percent", f.TimeoutPercent, "… this `percent` of requests")
	fs.IntVar(&f.ResetCount, "reset-count", f.ResetCount, "reset the connection of the next `n` requests")
	fs.IntVar(&f.ResetPercent, "reset-percent", f.ResetPercent, "… of this `percent` of requests")
	fs.BoolVar(&f.Down, "down", f.Down, "start down: every request gets a connection reset (POST /admin/up to recover)")
	fs.BoolVar(&f.ClearanceOff, "clearance-off", f.ClearanceOff, "clearance deactivated: 303, report standard invoices instead")
	fs.Func("reject-uuid", "answer 400 for the document with this `uuid` (may repeat)", func(v string) error {
		f.RejectUUIDs = append(f.RejectUUIDs, v)
		return nil
	})
	fs.Func("reject-icv", "answer 400 for the document with this `ICV` (may repeat)", func(v string) error {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return errors.New("an ICV is a positive integer")
		}
		f.RejectICVs = append(f.RejectICVs, n)
		return nil
	})
	fs.Func("fault-endpoint", "limit latency, status, timeout and reset faults to this `endpoint` (may repeat): "+strings.Join(endpoints, ", "), func(v string) error {
		if !slices.Contains(endpoints, v) {
			return fmt.Errorf("not one of %s", strings.Join(endpoints, ", "))
		}
		f.Endpoints = append(f.Endpoints, v)
		return nil
	})
}

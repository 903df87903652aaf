package etimssim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/egsd/egsd/sim/simnet"
	"github.com/egsd/egsd/stamping/etims"
)

// Device is a device registered on the eTIMS portal's commitment form
// (spec/etims.md §A3): the taxpayer's PIN, the branch, the serial chosen
// by the integrator, and the profile it was registered for.
type Device struct {
	Profile etims.Profile `json:"profile"`
	Tin     string        `json:"tin"`
	BhfID   string        `json:"bhf_id"`
	Serial  string        `json:"serial"`
}

// Config configures a Server. Every field's zero value is usable.
type Config struct {
	// Profile, when set, serves only that profile's routes (the other's
	// answer HTTP 404), as a real OSCU or VSCU would; empty serves both.
	Profile etims.Profile
	// Devices are the devices registered with KRA. Empty means any
	// well-formed PIN, branch and serial may initialise, on either
	// profile.
	Devices []Device
	// Reinitialise lets a device that is initialised call init again and
	// get its key once more, instead of KRA's 902 (for demos: a unit
	// whose data directory was wiped).
	Reinitialise bool
	// Rates are the rates of bands B and E in code class 04; zero means
	// etims.DefaultRates (16 and 8).
	Rates etims.Rates
	// CodesChangedAt is when the code lists last changed: a request with
	// a later lastReqDt gets 001 (nothing new). Zero means 2024-01-01.
	CodesChangedAt time.Time
	// Faults are in force from the first request; change them later with
	// Server.SetFaults (or POST /admin/faults).
	Faults Faults
	// Now is the clock of the answers and the control unit's time; nil
	// means time.Now.
	Now func() time.Time
	// Logf, when set, receives one line per API request (method, path,
	// result), never a key.
	Logf func(format string, args ...any)
}

// New returns a Server with cfg.
func New(cfg Config) *Server { return &Server{Config: cfg} }

// Server is the simulated control unit. The zero value is ready to use.
// The Config fields must be set before the Server is first used;
// everything else is safe for concurrent use.
type Server struct {
	Config

	initOnce  sync.Once
	done      chan struct{} // closed by Close: ends every held or hanging request
	closeOnce sync.Once

	hold simnet.Hold // HoldRequests

	mu sync.Mutex // guards the fields below
	// faults are the faults in force; counts are decremented as they fire.
	faults  Faults
	units   map[unitKey]*unit
	byKey   map[string]*unit // OSCU units by cmcKey
	order   []*unit
	devices int // devices initialised so far, for their IDs
	stats   Stats
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.done = make(chan struct{})
		s.units = make(map[unitKey]*unit)
		s.byKey = make(map[string]*unit)
		s.faults = s.Config.Faults.clone()
	})
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) rates() etims.Rates {
	if s.Rates.B.IsZero() && s.Rates.E.IsZero() {
		return etims.DefaultRates
	}
	return s.Rates
}

// BaseURL is the base URL a unit of profile p configures
// (regime.options.base_url) for a simulator served at root.
func BaseURL(root string, p etims.Profile) string {
	if p == etims.VSCU {
		return root
	}
	return root + "/etims-api"
}

// ChangeRates makes KRA change the rates of bands B and E in code class
// 04 at at: a unit that asks for the code lists changed since a time
// before at gets the new rates, and sales are checked with them from now
// on (spec/etims.md §A4.3: the rates are read from the code list).
func (s *Server) ChangeRates(r etims.Rates, at time.Time) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Rates, s.CodesChangedAt = r, at
}

func (s *Server) codesChangedAt() time.Time {
	if s.CodesChangedAt.IsZero() {
		return time.Date(2024, 1, 1, 0, 0, 0, 0, etims.Nairobi)
	}
	return s.CodesChangedAt
}

// Close ends every request that a hold or a timeout fault keeps waiting,
// and any that would wait later, so that the server in front of it can
// shut down. It is safe to call more than once.
func (s *Server) Close() {
	s.init()
	s.closeOnce.Do(func() { close(s.done) })
}

// HoldRequests makes API requests that arrive from now on wait, before
// latency, status, reset and timeout faults and processing (Down still
// resets them), until release is called, the client gives up, or Close.
func (s *Server) HoldRequests() (release func()) { return s.hold.Start() }

// route is what a path serves.
type route struct {
	profile etims.Profile
	op      etims.Operation
}

// routes are the paths of both profiles (spec/etims.md §A2): OSCU's
// below /etims-api, VSCU's at the root (with both init paths of §A2's
// conflict, and the simulator's own lookup path).
var routes = func() map[string]route {
	m := map[string]route{}
	for op, p := range etims.DefaultPaths(etims.OSCU) {
		m["/etims-api"+p] = route{etims.OSCU, op}
	}
	for op, p := range etims.DefaultPaths(etims.VSCU) {
		if p != "" {
			m[p] = route{etims.VSCU, op}
		}
	}
	m["/selectInitOsdcInfo"] = route{etims.VSCU, etims.OpInit}
	m[VSCULookupPath] = route{etims.VSCU, etims.OpLookup}
	return m
}()

// VSCULookupPath is where the simulator serves VSCU's invoice lookup,
// which spec/etims.md §A2 does not know; a unit reaches it with
// regime.options.paths.lookup.
const VSCULookupPath = "/trnsSales/selectInvoiceDetails"

// answer is an API answer before faults decide whether it is sent.
type answer struct {
	status int
	code   etims.Text
	msg    string
	data   any
}

// The messages of KRA's result codes (spec/etims.md §A4.3).
var resultMessages = map[etims.Text]string{
	etims.ResultOK: "It is succeeded", etims.ResultNoSearchResult: "There is no search result",
	etims.ResultNoHeader: "There is no Header information", etims.ResultInvalidDevice: "It is not valid device",
	etims.ResultAlreadyInstall: "This device is installed", etims.ResultOnlyOSCU: "Only an OSCU device can be verified",
	etims.ResultParameterError: "Request parameter error", etims.ResultNoBody: "There is no request full text",
	etims.ResultMethodError:     "Request method error",
	etims.ResultSalesNotReceive: "Sales or sales invoice data which is declared cannot be received",
	etims.ResultSalesOrder:      "Sales invoice data can be received after receiving the sales data",
	etims.ResultDuplicate:       "There is an overlapped Data", etims.ResultUnknown: "Unknown error",
}

func result(code etims.Text, detail string, data any) answer {
	msg := resultMessages[code]
	if detail != "" {
		msg += ": " + detail
	}
	return answer{status: http.StatusOK, code: code, msg: msg, data: data}
}

func ok(data any) answer { return result(etims.ResultOK, "", data) }

// ServeHTTP serves the routes of the package comment and the admin
// endpoints:
//
//	GET    /admin/faults   the faults in force (JSON Faults)
//	POST   /admin/faults   replace them (JSON Faults; unknown keys are errors)
//	DELETE /admin/faults   clear them
//	POST   /admin/down     every API request gets a connection reset
//	POST   /admin/up       undo /admin/down
//	GET    /admin/state    counters, units, sales, gaps, findings
//
// For every API request, in this order: Down resets the connection; a
// hold (HoldRequests) waits; Latency delays; a reset fault resets the
// connection; a status fault answers that HTTP status; the request is
// processed (POST only: 912 otherwise; then authentication, then the
// operation's own rules); a timeout fault then keeps the answer back
// until the client gives up, and resets the connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	if strings.HasPrefix(r.URL.Path, "/admin/") {
		s.serveAdmin(w, r)
		return
	}
	rt, found := routes[r.URL.Path]
	if !found || (s.Profile != "" && rt.profile != s.Profile) {
		s.write(w, r, answer{status: http.StatusNotFound, code: etims.ResultMethodError, msg: "no such call: " + r.URL.Path})
		return
	}
	d := s.takeFaults(rt.op)
	s.mu.Lock()
	s.stats.Requests++
	if d.Down || d.Reset || d.Status != 0 {
		s.stats.Faults++
	}
	s.mu.Unlock()
	ctx := r.Context()
	hold := s.hold.Current()
	switch {
	case d.Down:
		s.logf("%s %s: down: connection reset", r.Method, r.URL.Path)
		simnet.ResetConn(w)
		return
	case hold != nil && !simnet.Wait(ctx, s.done, hold, 0):
		simnet.ResetConn(w)
		return
	case d.Latency > 0 && !simnet.Wait(ctx, s.done, nil, d.Latency):
		simnet.ResetConn(w)
		return
	case d.Reset:
		s.logf("%s %s: fault: connection reset", r.Method, r.URL.Path)
		simnet.ResetConn(w)
		return
	case d.Status != 0:
		s.write(w, r, answer{status: d.Status, code: etims.ResultUnknown, msg: "simulated fault: " + http.StatusText(d.Status)})
		return
	}
	a := s.serve(rt, r)
	if d.Timeout {
		s.mu.Lock()
		s.stats.Faults++
		s.mu.Unlock()
		s.logf("%s %s: fault: timeout after processing (answer %s withheld)", r.Method, r.URL.Path, a.code)
		simnet.Wait(ctx, s.done, nil, -1)
		simnet.ResetConn(w)
		return
	}
	s.write(w, r, a)
}

// maxBody bounds a request body: a sale of 1,000 lines is some 500 KB.
const maxBody = 4 << 20

// serve checks the method, reads the body and dispatches.
func (s *Server) serve(rt route, r *http.Request) answer {
	if r.Method != http.MethodPost {
		return result(etims.ResultMethodError, r.Method+" is not allowed: every call is a POST", nil)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return result(etims.ResultParameterError, "the body cannot be read: "+err.Error(), nil)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return result(etims.ResultNoBody, "", nil)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt.op == etims.OpInit {
		return s.initLocked(rt.profile, body)
	}
	u, a := s.authLocked(rt.profile, r.Header, body)
	if u == nil {
		return a
	}
	switch rt.op {
	case etims.OpCodeList:
		return s.codeListLocked(body)
	case etims.OpItemClasses:
		return s.itemClassesLocked(body)
	case etims.OpSaveItem:
		return s.saveItemLocked(u, body)
	case etims.OpSaveSale:
		return s.saveSaleLocked(u, body)
	default:
		return s.lookupLocked(u, body)
	}
}

// authLocked finds the calling unit (spec/etims.md §A3): on OSCU by the
// tin, bhfId and cmcKey headers, on VSCU by tin and bhfId in the body.
func (s *Server) authLocked(p etims.Profile, h http.Header, body []byte) (*unit, answer) {
	if p == etims.OSCU {
		tin, bhf, key := h.Get("tin"), h.Get("bhfId"), h.Get("cmcKey")
		if tin == "" || bhf == "" || key == "" {
			return nil, result(etims.ResultNoHeader, "send the tin, bhfId and cmcKey headers", nil)
		}
		u := s.byKey[key]
		if u == nil || u.key.tin != tin || u.key.bhf != bhf {
			return nil, result(etims.ResultInvalidDevice, "the cmcKey was not issued to this tin and bhfId", nil)
		}
		return u, answer{}
	}
	var id struct {
		Tin   string `json:"tin"`
		BhfID string `json:"bhfId"`
	}
	if err := json.Unmarshal(body, &id); err != nil {
		return nil, result(etims.ResultParameterError, "the body is not a JSON object: "+err.Error(), nil)
	}
	if id.Tin == "" || id.BhfID == "" {
		return nil, result(etims.ResultParameterError, "a VSCU request carries tin and bhfId in its body", nil)
	}
	u := s.units[unitKey{etims.VSCU, id.Tin, id.BhfID}]
	if u == nil {
		return nil, result(etims.ResultInvalidDevice, "no VSCU device is initialised for this tin and bhfId", nil)
	}
	return u, answer{}
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, a answer) {
	body, err := etims.Marshal(struct {
		ResultCd  etims.Text `json:"resultCd"`
		ResultMsg string     `json:"resultMsg"`
		ResultDt  string     `json:"resultDt"`
		Data      any        `json:"data"`
	}{a.code, a.msg, etims.FormatDateTime(s.now()), a.data})
	if err != nil {
		a.status, body = http.StatusInternalServerError, []byte(`{"resultCd":"999","resultMsg":"encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	w.Write(body)
	if !strings.HasPrefix(r.URL.Path, "/admin/") {
		s.logf("%s %s: HTTP %d, %s", r.Method, r.URL.Path, a.status, a.code)
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// serveAdmin serves the /admin/ endpoints. They are never subject to
// faults.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	reply := func(status int, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			status, b = http.StatusInternalServerError, []byte(`{"error":"encode"}`)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(b)
	}
	bad := func(status int, msg string) { reply(status, map[string]string{"error": msg}) }
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
		reply(http.StatusOK, s.CurrentFaults())
	case "/admin/down", "/admin/up":
		if r.Method != http.MethodPost {
			bad(http.StatusMethodNotAllowed, "use POST")
			return
		}
		s.SetDown(r.URL.Path == "/admin/down")
		reply(http.StatusOK, s.CurrentFaults())
	case "/admin/state":
		if r.Method != http.MethodGet {
			bad(http.StatusMethodNotAllowed, "use GET")
			return
		}
		reply(http.StatusOK, s.State())
	default:
		bad(http.StatusNotFound, "admin endpoints: /admin/faults, /admin/down, /admin/up, /admin/state")
	}
}

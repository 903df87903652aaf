package zatcasim

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/egsd/egsd/sim/simnet"
	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/csr"
	"github.com/egsd/egsd/stamping/keystore"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// DeveloperPortalOTP is the fixed OTP of ZATCA's developer portal
// (spec/zatca.md §5.1); it is accepted there, and only there, always.
const DeveloperPortalOTP = "123345"

// Endpoints, named by their path below the base URL (spec/zatca.md §5.3).
// Faults.Endpoints takes these names.
const (
	EndpointCompliance         = "compliance"
	EndpointComplianceInvoices = "compliance/invoices"
	EndpointProductionCSIDs    = "production/csids"
	EndpointReporting          = "invoices/reporting/single"
	EndpointClearance          = "invoices/clearance/single"
)

var endpoints = []string{EndpointCompliance, EndpointComplianceInvoices, EndpointProductionCSIDs, EndpointReporting, EndpointClearance}

// Config configures a Server. Every field's zero value is usable.
type Config struct {
	// OTPs are accepted by POST /compliance and PATCH /production/csids
	// in every environment, as if issued by the Fatoora portal (§5.1). The
	// developer portal always accepts DeveloperPortalOTP as well. An OTP
	// may be used any number of times.
	OTPs []string
	// CheckOTP, when set, is asked about an OTP that is six digits and
	// neither DeveloperPortalOTP (in the developer portal) nor in OTPs.
	// env is "developer-portal", "simulation" or "core".
	CheckOTP func(env, otp string) bool
	// Faults are in force from the first request; change them later with
	// Server.SetFaults (or POST /admin/faults).
	Faults Faults
	// Now is the clock for certificate validity and BR-KSA-98; nil means
	// time.Now.
	Now func() time.Time
	// CAKey signs the certificates the simulator issues and its clearance
	// stamp; nil means a new key, made at first use.
	CAKey *keystore.Key
	// CertValidity is how long issued certificates are valid; zero means
	// five years, like the SDK's certificate (§2.6).
	CertValidity time.Duration
	// ClearanceDuplicateStatus is the status of a clearance request for an
	// invoice that was already cleared: zero means 409, the same as
	// reporting. Set it to 208 to model the "Invoice Hash Previously
	// Submitted" answer that one third-party summary of ZATCA's Swagger
	// describes (§5.5; unverified).
	ClearanceDuplicateStatus int
	// Logf, when set, receives one line per API request (method, path,
	// status), never credentials.
	Logf func(format string, args ...any)
}

// New returns a Server with cfg.
func New(cfg Config) *Server {
	return &Server{Config: cfg}
}

// Server is the simulated ZATCA API. The zero value is ready to use: it
// makes its secp256k1 CA key and in-memory state at the first request or
// method call. The Config fields must be set before the Server is first
// used; everything else is safe for concurrent use.
type Server struct {
	Config

	initOnce  sync.Once
	done      chan struct{} // closed by Close: ends every held or hanging request
	closeOnce sync.Once

	caKey  *keystore.Key     // immutable after init
	caCert *cert.Certificate // immutable after init
	caName []cert.Attribute  // issuer of every certificate, DER order

	mu sync.Mutex // guards the fields below
	// faults are the faults in force; counts are decremented as they fire.
	faults Faults
	// hold, when not nil, makes API requests wait until it is closed.
	hold      chan struct{}
	nextID    int64
	csids     map[string]*csid // by binarySecurityToken
	serials   map[string]*csid // by certificate serial (decimal)
	units     map[unitKey]*unit
	unitOrder []*unit
	stats     Stats
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.done = make(chan struct{})
		s.csids = make(map[string]*csid)
		s.serials = make(map[string]*csid)
		s.units = make(map[unitKey]*unit)
		s.nextID = 1234567890100
		s.faults = s.Config.Faults.clone()
		s.caKey = s.CAKey
		if s.caKey == nil {
			s.caKey = newKey()
		}
		s.caName = []cert.Attribute{
			{Type: cert.OIDDomainComponent, Value: "local"},
			{Type: cert.OIDDomainComponent, Value: "gov"},
			{Type: cert.OIDDomainComponent, Value: "extgazt"},
			{Type: cert.OIDCommonName, Value: "EGSDSIMZEINVOICESCA1-CA"},
		}
		now := s.now()
		der, err := cert.Create(cert.Template{
			SerialNumber: randomSerial(), Issuer: s.caName, Subject: s.caName,
			NotBefore: now.Add(-24 * time.Hour), NotAfter: now.AddDate(20, 0, 0),
			PublicKeyDER: s.caKey.PublicKeyDER(), CA: true,
		}, s.caKey)
		if err != nil {
			panic("zatcasim: create CA certificate: " + err.Error())
		}
		if s.caCert, err = cert.Parse(der); err != nil {
			panic("zatcasim: parse CA certificate: " + err.Error())
		}
	})
}

// newKey makes a secp256k1 key in memory: the simulator's CA key has no
// business on disk. keystore only creates keys in files, so the scalar is
// handed to it as SEC1 DER.
func newKey() *keystore.Key {
	priv, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		panic("zatcasim: generate CA key: " + err.Error())
	}
	defer priv.Zero()
	scalar := priv.Serialize()
	defer clear(scalar)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1OctetString(scalar)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier([]int{1, 3, 132, 0, 10}) // secp256k1
		})
	})
	der := b.BytesOrPanic()
	defer clear(der)
	k, err := keystore.ParseSEC1DER(der)
	if err != nil {
		panic("zatcasim: CA key: " + err.Error())
	}
	return k
}

// randomSerial is a positive 19-octet serial like ZATCA's (§2.6).
func randomSerial() *big.Int {
	b := make([]byte, 19)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[0] = 0x10 | b[0]&0x3f
	return new(big.Int).SetBytes(b)
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// CACertificate returns the DER of the simulator's CA certificate: the
// issuer of every CSID and the signer of clearance stamps.
func (s *Server) CACertificate() []byte {
	s.init()
	return append([]byte(nil), s.caCert.Raw...)
}

// Close ends every request that a hold or a timeout fault keeps waiting,
// and any that would wait later (their connections are reset), so that an
// http.Server or httptest.Server in front of it can shut down. The Server
// keeps answering other requests. It is safe to call more than once.
func (s *Server) Close() {
	s.init()
	s.closeOnce.Do(func() { close(s.done) })
}

// HoldRequests makes API requests that arrive from now on wait, before
// latency, status, reset and timeout faults and processing (Down still
// resets them), until release is called, the client gives up, or Close.
// Tests use it to have requests in flight at a known point. Admin
// requests are never held.
func (s *Server) HoldRequests() (release func()) {
	s.init()
	ch := make(chan struct{})
	s.mu.Lock()
	s.hold = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.hold == ch {
				s.hold = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// response is an API answer before faults decide whether it is sent.
type response struct {
	status int
	header http.Header
	body   any // marshalled as JSON; nil for no body
}

func jsonResponse(status int, body any) response { return response{status: status, body: body} }

// apiError is one error of an onboarding answer.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorAnswer is the body of a refused onboarding or authentication
// request. ZATCA's own bodies for these are not pinned down (§4.4 notes
// one that "lacks the usual error keys"); the simulator gives the code
// both flat and as an errors list, so that clients reading either find it.
type errorAnswer struct {
	Code    string     `json:"code"`
	Message string     `json:"message"`
	Errors  []apiError `json:"errors"`
}

func errorResponse(status int, code, message string) response {
	return jsonResponse(status, errorAnswer{Code: code, Message: message, Errors: []apiError{{code, message}}})
}

// ServeHTTP serves the API under the base paths described in the package
// comment, and the admin endpoints:
//
//	GET    /admin/faults   the faults in force (JSON Faults)
//	POST   /admin/faults   replace them (JSON Faults; unknown keys are errors)
//	DELETE /admin/faults   clear them
//	POST   /admin/down     every API request gets a connection reset
//	POST   /admin/up       undo /admin/down
//	GET    /admin/state    counters, units, accepted documents, chain breaks
//
// For every API request, in this order (§5.2, §5.5): Faults.Down resets the
// connection; a hold (HoldRequests) waits; Latency delays; a reset fault
// resets the connection; a status fault answers that status (with
// Retry-After for 429 and 503); the request is processed; a timeout fault
// then keeps the answer back until the client gives up, and resets the
// connection. Processing checks, in order: the path (404) and method (405),
// Accept-Version: V2 (406, spec §5.2 lists it among the common headers, so
// every endpoint requires it), HTTP Basic credentials where the endpoint
// needs them (401), then the endpoint's own rules (see the handlers).
//
// Error codes from spec/zatca.md §5.4–§5.5 and §3.3: Missing-OTP,
// Invalid-OTP, Missing-CSR, Invalid-CSR, XSD_ZATCA_VALID/INVALID,
// invalid-invoice-hash, certificate-hashing, signed-properties-hashing,
// certificate-permissions, invalid-certificate, QRCODE_INVALID, BR-KSA-98.
// The simulator's own, where the spec names none: Invalid-Request,
// Missing-Compliance-Steps, Invalid-Request-ID, invalid-uuid,
// invalid-signature, invalid-signing-certificate, invalid-invoice-type,
// icv-sequence, pih-mismatch, invoice-already-reported,
// invoice-already-cleared, clearance-deactivated, simulated-rejection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	if strings.HasPrefix(r.URL.Path, "/admin/") {
		s.serveAdmin(w, r)
		return
	}
	env, endpoint, ok := splitPath(r.URL.Path)
	if !ok {
		s.write(w, r, errorResponse(http.StatusNotFound, "Not-Found",
			"no such endpoint: ZATCA's API is under /e-invoicing/{developer-portal,simulation,core}/"))
		return
	}
	d := s.takeFaults(endpoint)
	s.mu.Lock()
	s.stats.Requests++
	hold := s.hold
	if d.down || d.reset || d.status != 0 {
		s.stats.Faults++
	}
	s.mu.Unlock()
	ctx := r.Context()
	if d.down {
		s.logf("%s %s: down: connection reset", r.Method, r.URL.Path)
		simnet.ResetConn(w)
		return
	}
	if hold != nil && !s.wait(ctx, hold, 0) {
		simnet.ResetConn(w)
		return
	}
	if d.latency > 0 && !s.wait(ctx, nil, d.latency) {
		simnet.ResetConn(w)
		return
	}
	if d.reset {
		s.logf("%s %s: fault: connection reset", r.Method, r.URL.Path)
		simnet.ResetConn(w)
		return
	}
	if d.status != 0 {
		resp := errorResponse(d.status, http.StatusText(d.status), "simulated fault: "+http.StatusText(d.status))
		if (d.status == http.StatusTooManyRequests || d.status == http.StatusServiceUnavailable) && d.retryAfter > 0 {
			resp.header = http.Header{"Retry-After": {fmt.Sprint(int64((d.retryAfter + time.Second - 1) / time.Second))}}
		}
		s.write(w, r, resp)
		return
	}
	resp := s.route(env, endpoint, r, d)
	if d.timeout {
		s.mu.Lock()
		s.stats.Faults++
		s.mu.Unlock()
		s.logf("%s %s: fault: timeout after processing (answer %d withheld)", r.Method, r.URL.Path, resp.status)
		s.wait(ctx, nil, -1)
		simnet.ResetConn(w)
		return
	}
	s.write(w, r, resp)
}

// splitPath finds the environment and the endpoint in a request path:
// "<prefix>/e-invoicing/<env>/<endpoint>".
func splitPath(p string) (csr.Environment, string, bool) {
	i := strings.Index(p, "/e-invoicing/")
	if i < 0 {
		return 0, "", false
	}
	rest := p[i+len("/e-invoicing/"):]
	name, endpoint, _ := strings.Cut(rest, "/")
	var env csr.Environment
	switch name {
	case "developer-portal":
		env = csr.DeveloperPortal
	case "simulation":
		env = csr.Simulation
	case "core":
		env = csr.Core
	default:
		return 0, "", false
	}
	endpoint = strings.TrimSuffix(endpoint, "/")
	for _, e := range endpoints {
		if endpoint == e {
			return env, endpoint, true
		}
	}
	return 0, "", false
}

// route checks the method, the common headers and dispatches.
func (s *Server) route(env csr.Environment, endpoint string, r *http.Request, d faultDecision) response {
	allowed := map[string]string{
		EndpointCompliance:         "POST",
		EndpointComplianceInvoices: "POST",
		EndpointProductionCSIDs:    "POST, PATCH",
		EndpointReporting:          "POST",
		EndpointClearance:          "POST",
	}[endpoint]
	if !slices.Contains(strings.Split(allowed, ", "), r.Method) {
		resp := errorResponse(http.StatusMethodNotAllowed, "Method-Not-Allowed", r.Method+" is not allowed here; use "+allowed)
		resp.header = http.Header{"Allow": {allowed}}
		return resp
	}
	// §5.2: Accept-Version: V2 on every call; fatoora-rs handles the 406.
	if v := r.Header.Get("Accept-Version"); v != "V2" {
		return errorResponse(http.StatusNotAcceptable, "Unsupported-Version",
			fmt.Sprintf("Accept-Version %q is not supported; send Accept-Version: V2", v))
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 10<<20)
	switch endpoint {
	case EndpointCompliance:
		return s.handleComplianceCSID(env, r)
	case EndpointComplianceInvoices:
		return s.handleSubmission(env, r, kindCompliance, d)
	case EndpointProductionCSIDs:
		if r.Method == http.MethodPatch {
			return s.handleRenewal(env, r)
		}
		return s.handleProductionCSID(env, r)
	case EndpointReporting:
		return s.handleSubmission(env, r, kindReporting, d)
	default:
		return s.handleSubmission(env, r, kindClearance, d)
	}
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, resp response) {
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	var body []byte
	if resp.body != nil {
		var err error
		if body, err = json.Marshal(resp.body); err != nil {
			resp.status, body = http.StatusInternalServerError, []byte(`{"code":"Internal","message":"encode answer"}`)
		}
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(resp.status)
	w.Write(body)
	if !strings.HasPrefix(r.URL.Path, "/admin/") {
		s.logf("%s %s: %d", r.Method, r.URL.Path, resp.status)
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// wait is simnet.Wait, cut short by the Server's closing too.
func (s *Server) wait(ctx context.Context, ch <-chan struct{}, d time.Duration) bool {
	return simnet.Wait(ctx, s.done, ch, d)
}

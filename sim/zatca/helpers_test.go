package zatcasim

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/csr"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/zatca"
)

// The test harness: a simulator on a loopback httptest server, and EGS
// units made of the real egsd pieces (keystore, csr, stamping/zatca)
// that onboard with it and submit what they stamp.

const testVAT = "399999999900003"

func testSeller() stamping.Seller {
	return stamping.Seller{
		Name: "Maximum Speed Tech Supply LTD", VATNumber: testVAT, IDScheme: "CRN", ID: "1010010000",
		Address: sale.Address{Street: "Prince Sultan", BuildingNumber: "2322", District: "Al-Murabba",
			City: "Riyadh", PostalCode: "23333", Country: "SA"},
	}
}

func testRequest(env csr.Environment, title string) csr.Request {
	return csr.Request{
		CommonName: "TST-886431145-" + testVAT, SerialNumber: "1-egsd|2-sim|3-" + newUUID(),
		OrganizationIdentifier: testVAT, OrganizationUnit: "Riyadh Branch", Organization: "Maximum Speed Tech Supply LTD",
		Country: "SA", InvoiceType: title, Location: "RRRD2929", Industry: "Supply activities", Environment: env,
	}
}

func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// testSale is a one-line sale of the given kind; standard gives it a
// VAT-registered buyer, which makes it a standard (B2B) document.
func testSale(kind sale.Kind, standard bool) *sale.Sale {
	s := &sale.Sale{
		Kind: kind, Currency: "SAR",
		Lines: []sale.Line{{Name: "Coffee beans 1 kg", Quantity: money.MustParse("2"), UnitPrice: money.MustParse("42.50"),
			Category: sale.Standard, Rate: money.MustParse("15")}},
		Payments: []sale.Payment{{Means: sale.Cash}},
	}
	if standard {
		s.Buyer = &sale.Buyer{Name: "Fatoora Samples LTD", VATNumber: "399999999800003",
			Address: &sale.Address{Street: "Salah Al-Din", BuildingNumber: "1111", District: "Al-Murooj",
				City: "Riyadh", PostalCode: "12222", Country: "SA"}}
	}
	if kind.IsNote() {
		s.Original, s.Reason = "INV-1", "Returned goods"
	}
	return s
}

// allKinds are the six kinds of the compliance checks (§5.3).
var allKinds = []struct {
	kind     sale.Kind
	standard bool
}{
	{sale.Invoice, true}, {sale.CreditNote, true}, {sale.DebitNote, true},
	{sale.Invoice, false}, {sale.CreditNote, false}, {sale.DebitNote, false},
}

type harness struct {
	t   testing.TB
	sim *Server
	srv *httptest.Server
	env csr.Environment
}

// newHarness serves sim (nil: a zero Server) on loopback.
func newHarness(t testing.TB, sim *Server) *harness {
	t.Helper()
	if sim == nil {
		sim = &Server{}
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close() // ends requests held by a fault, so that srv.Close returns
		srv.Close()
	})
	return &harness{t: t, sim: sim, srv: srv, env: csr.DeveloperPortal}
}

func (h *harness) base() string { return BaseURL(h.srv.URL, h.env) }

// creds are a CSID's credentials as issued.
type creds struct {
	RequestID           int64  `json:"requestID"`
	TokenType           string `json:"tokenType"`
	DispositionMessage  string `json:"dispositionMessage"`
	BinarySecurityToken string `json:"binarySecurityToken"`
	Secret              string `json:"secret"`
	Errors              any    `json:"errors"`
}

// certText is the base64 DER text of the CSID's certificate: the token
// decoded once (§5.2).
func (c creds) certText(t testing.TB) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(c.BinarySecurityToken)
	if err != nil {
		t.Fatalf("binarySecurityToken is not base64: %v", err)
	}
	return string(b)
}

func (c creds) cert(t testing.TB) *cert.Certificate {
	t.Helper()
	cc, err := cert.DecodeBinarySecurityToken(c.BinarySecurityToken)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// req is one HTTP request to the simulator.
type req struct {
	method, path string // path below the base URL, or absolute from "/" with abs
	abs          bool
	auth         *creds
	user, pass   string // raw Basic credentials when auth is nil and user is set
	header       map[string]string
	noVersion    bool // leave out Accept-Version
	body         any  // JSON-encoded; a []byte is sent as is
}

// do sends r and returns the answer; a transport error fails the test
// unless wantErr, in which case it is returned.
func (h *harness) send(r req, client *http.Client) (*http.Response, []byte, error) {
	h.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	url := h.base() + r.path
	if r.abs {
		url = h.srv.URL + r.path
	}
	if r.method == "" {
		r.method = http.MethodPost
	}
	hr, err := http.NewRequest(r.method, url, body)
	if err != nil {
		h.t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("Accept-Language", "en")
	if !r.noVersion {
		hr.Header.Set("Accept-Version", "V2")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	switch {
	case r.auth != nil:
		hr.SetBasicAuth(r.auth.BinarySecurityToken, r.auth.Secret)
	case r.user != "":
		hr.SetBasicAuth(r.user, r.pass)
	}
	if client == nil {
		client = h.srv.Client()
	}
	resp, err := client.Do(hr)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp, data, err
}

// do is send that must reach the server; it decodes a JSON answer into out.
func (h *harness) do(r req, out any) *http.Response {
	h.t.Helper()
	resp, data, err := h.send(r, nil)
	if err != nil {
		h.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatalf("%s %s: %d answer is not JSON: %v\n%s", r.method, r.path, resp.StatusCode, err, data)
		}
	}
	return resp
}

// apiErr is an onboarding error answer.
type apiErr struct {
	Code    string     `json:"code"`
	Message string     `json:"message"`
	Errors  []apiError `json:"errors"`
}

// answerT is a submission answer (§5.4).
type answerT struct {
	ValidationResults validationResults `json:"validationResults"`
	ReportingStatus   *string           `json:"reportingStatus"`
	ClearanceStatus   *string           `json:"clearanceStatus"`
	ClearedInvoice    *string           `json:"clearedInvoice"`
}

func (a answerT) codes(typ string) []string {
	var ms []message
	switch typ {
	case "ERROR":
		ms = a.ValidationResults.ErrorMessages
	case "WARNING":
		ms = a.ValidationResults.WarningMessages
	default:
		ms = a.ValidationResults.InfoMessages
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Code)
	}
	return out
}

func (a answerT) has(typ, code string) bool {
	for _, c := range a.codes(typ) {
		if c == code {
			return true
		}
	}
	return false
}

func (a answerT) String() string {
	b, _ := json.MarshalIndent(a, "", " ")
	return string(b)
}

func deref(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

// egs is one EGS unit: its key, its regime (stamping/zatca) with the
// certificate in use, and its chain.
type egs struct {
	h            *harness
	key          *keystore.Key
	req          csr.Request
	ccsid, pcsid creds
	regime       stamping.Regime
	counter      uint64
	prev         string
	// issuedAt is the time of the next document; zero means now.
	issuedAt time.Time
}

// newEGS makes a unit with a fresh key (stored in t.TempDir, as the agent
// does) and a CSR for invoice types title.
func (h *harness) newEGS(title string) *egs {
	h.t.Helper()
	key, err := keystore.Create(filepath.Join(h.t.TempDir(), "stamping-key.pem"))
	if err != nil {
		h.t.Fatal(err)
	}
	return &egs{h: h, key: key, req: testRequest(h.env, title)}
}

func (u *egs) csrBody() map[string]string {
	u.h.t.Helper()
	der, err := csr.Build(u.key, u.req)
	if err != nil {
		u.h.t.Fatal(err)
	}
	return map[string]string{"csr": csr.APIBody(der)}
}

// onboard gets a compliance CSID with the developer portal's OTP and
// starts stamping with its certificate.
func (u *egs) onboard() {
	t := u.h.t
	t.Helper()
	resp := u.h.do(req{path: "/compliance", header: map[string]string{"OTP": DeveloperPortalOTP}, body: u.csrBody()}, &u.ccsid)
	if resp.StatusCode != http.StatusOK || u.ccsid.DispositionMessage != "ISSUED" || u.ccsid.Secret == "" {
		t.Fatalf("POST /compliance = %d %+v", resp.StatusCode, u.ccsid)
	}
	u.use(u.ccsid)
}

// use makes the unit stamp with the CSID's certificate.
func (u *egs) use(c creds) {
	t := u.h.t
	t.Helper()
	seller := testSeller()
	seller.VATNumber = u.req.OrganizationIdentifier
	r, err := zatca.NewWithKey(seller, zatca.Options{InvoicePrefix: "INV-"}, u.key, []byte(c.certText(t)))
	if err != nil {
		t.Fatalf("zatca.NewWithKey with the issued certificate: %v", err)
	}
	u.regime = r
}

// stamped is a stamped document and the slot it took.
type stamped struct {
	stamping.Document
	slot stamping.Slot
}

func (d stamped) body() map[string]string {
	return map[string]string{"invoiceHash": d.Hash, "uuid": d.slot.UUID, "invoice": base64.StdEncoding.EncodeToString(d.Bytes)}
}

// nextSlot takes the unit's next chain slot (§6.9).
func (u *egs) nextSlot() stamping.Slot {
	if u.prev == "" {
		u.prev = u.regime.GenesisHash()
	}
	u.counter++
	at := u.issuedAt
	if at.IsZero() {
		at = time.Now()
	}
	return stamping.Slot{Counter: u.counter, PrevHash: u.prev, UUID: newUUID(), IssuedAt: at}
}

// stamp issues the next document of the chain with the unit's regime.
func (u *egs) stamp(kind sale.Kind, standard bool) stamped {
	t := u.h.t
	t.Helper()
	s := testSale(kind, standard)
	if err := u.regime.Validate(s); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	slot := u.nextSlot()
	doc, err := u.regime.Stamp(slot, s)
	if err != nil {
		t.Fatalf("Stamp: %v", err)
	}
	u.prev = doc.Hash
	return stamped{doc, slot}
}

// submit posts a document body to endpoint with c's credentials.
func (u *egs) submit(endpoint string, c creds, body any) (int, answerT) {
	u.h.t.Helper()
	var a answerT
	resp := u.h.do(req{path: "/" + endpoint, auth: &c, header: map[string]string{"Clearance-Status": "1"}, body: body}, &a)
	return resp.StatusCode, a
}

// passCompliance stamps and checks the documents the title needs.
func (u *egs) passCompliance() {
	t := u.h.t
	t.Helper()
	for _, k := range allKinds {
		if k.standard && u.req.InvoiceType[0] != '1' || !k.standard && u.req.InvoiceType[1] != '1' {
			continue
		}
		d := u.stamp(k.kind, k.standard)
		status, a := u.submit(EndpointComplianceInvoices, u.ccsid, d.body())
		if status != http.StatusOK || a.ValidationResults.Status != "PASS" {
			t.Fatalf("compliance check of %s (standard %v) = %d\n%s", k.kind, k.standard, status, a)
		}
	}
}

// goProduction gets the production CSID and stamps with it from then on.
func (u *egs) goProduction() {
	t := u.h.t
	t.Helper()
	resp := u.h.do(req{path: "/production/csids", auth: &u.ccsid,
		body: map[string]any{"compliance_request_id": fmt.Sprint(u.ccsid.RequestID)}}, &u.pcsid)
	if resp.StatusCode != http.StatusOK || u.pcsid.DispositionMessage != "ISSUED" {
		t.Fatalf("POST /production/csids = %d %+v", resp.StatusCode, u.pcsid)
	}
	u.use(u.pcsid)
}

// ready is a unit onboarded through to its production CSID.
func (h *harness) ready(title string) *egs {
	h.t.Helper()
	u := h.newEGS(title)
	u.onboard()
	u.passCompliance()
	u.goProduction()
	return u
}

// endpointFor is where a document of the kind goes in production.
func endpointFor(standard bool) string {
	if standard {
		return EndpointClearance
	}
	return EndpointReporting
}

// stampRaw stamps a document with the exported pieces of stamping/zatca
// (what regime.Stamp does), for documents the regime refuses to make: a
// seller VAT number that is not the certificate's, or a certificate of
// another key.
func stampRaw(t *testing.T, seller stamping.Seller, key *keystore.Key, certB64 string, slot stamping.Slot, s *sale.Sale) stamped {
	t.Helper()
	c, err := cert.ParseBase64(certB64)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := zatca.FromSale(s, slot, seller, zatca.Options{InvoicePrefix: "INV-"})
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := zatca.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(rendered.Hashed)
	hash := base64.StdEncoding.EncodeToString(digest[:])
	der, err := key.SignSHA256(digest[:])
	if err != nil {
		t.Fatal(err)
	}
	date, clock := zatca.IssueDateTime(slot.IssuedAt)
	sig := &zatca.Signature{InvoiceHash: hash, SignatureValue: base64.StdEncoding.EncodeToString(der),
		Certificate: certB64, IssuerName: c.IssuerName, SerialNumber: c.SerialNumber.String(), SigningTime: date + "T" + clock}
	qr := zatca.QR{SellerName: rendered.SellerName, VATNumber: rendered.SellerVAT, Timestamp: rendered.Timestamp,
		Total: rendered.PayableAmount, VATTotal: rendered.VATTotal, InvoiceHash: hash, SignatureValue: sig.SignatureValue,
		PublicKey: c.PublicKeyDER, CertificateSignature: c.Signature}
	text, err := qr.Encode(true, rendered.Simplified)
	if err != nil {
		t.Fatal(err)
	}
	return stamped{stamping.Document{Bytes: rendered.Assemble(sig.UBLExtensions(), text), Hash: hash}, slot}
}

// tamper replaces the first old in the document with repl, keeping the
// body's invoiceHash and uuid.
func tamper(t *testing.T, d stamped, old, repl string) stamped {
	t.Helper()
	if !bytes.Contains(d.Bytes, []byte(old)) {
		t.Fatalf("nothing to tamper with: %q", old)
	}
	d.Bytes = bytes.Replace(d.Bytes, []byte(old), []byte(repl), 1)
	return d
}

func mustContain(t *testing.T, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%s lacks %q:\n%s", what, p, s)
		}
	}
}

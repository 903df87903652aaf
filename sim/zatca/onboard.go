package zatcasim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/csr"
)

// tokenType is the tokenType of every CSID answer (§5.3).
const tokenType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"

// csidAnswer is the answer to the three CSID requests (§5.3).
type csidAnswer struct {
	RequestID           int64      `json:"requestID"`
	TokenType           string     `json:"tokenType"`
	DispositionMessage  string     `json:"dispositionMessage"`
	BinarySecurityToken string     `json:"binarySecurityToken"`
	Secret              string     `json:"secret"`
	Errors              []apiError `json:"errors"`
}

func csidResponse(c *csid) response {
	return jsonResponse(http.StatusOK, csidAnswer{RequestID: c.requestID, TokenType: tokenType,
		DispositionMessage: "ISSUED", BinarySecurityToken: c.token, Secret: c.secret})
}

// checkOTP applies §5.1 and §5.3: the OTP header is required and is six
// digits; the developer portal's is fixed, the others come from the
// Fatoora portal (here Config.OTPs or Config.CheckOTP).
func (s *Server) checkOTP(env csr.Environment, r *http.Request) *response {
	otp := r.Header.Get("OTP")
	if otp == "" {
		resp := errorResponse(http.StatusBadRequest, "Missing-OTP", "the OTP header is required: the one-time password from the Fatoora portal")
		return &resp
	}
	ok := len(otp) == 6 && strings.Trim(otp, "0123456789") == ""
	if ok {
		ok = env == csr.DeveloperPortal && otp == DeveloperPortalOTP ||
			slices.Contains(s.OTPs, otp) ||
			s.CheckOTP != nil && s.CheckOTP(env.String(), otp)
	}
	if !ok {
		resp := errorResponse(http.StatusBadRequest, "Invalid-OTP", "The provided OTP is invalid")
		return &resp
	}
	return nil
}

// readCSR reads {"csr": base64 of PEM} (§4.3) and applies ZATCA's rules
// to the request: proof of possession, the SDK layout's fields and values
// (csr.Request.Validate), and at most 64 characters in any value, extra
// subject attributes included (§4.4).
func readCSR(r *http.Request) (*csr.Parsed, *response) {
	var body struct {
		CSR string `json:"csr"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		resp := errorResponse(http.StatusBadRequest, "Invalid-Request", "the body is not JSON {\"csr\": \"…\"}: "+err.Error())
		return nil, &resp
	}
	if strings.TrimSpace(body.CSR) == "" {
		resp := errorResponse(http.StatusBadRequest, "Missing-CSR", "the csr field is required: base64 of the PEM certificate signing request")
		return nil, &resp
	}
	invalid := func(format string, args ...any) (*csr.Parsed, *response) {
		resp := errorResponse(http.StatusBadRequest, "Invalid-CSR", fmt.Sprintf(format, args...))
		return nil, &resp
	}
	p, err := csr.ParseAPIBody(body.CSR)
	if err != nil {
		return invalid("the CSR is not valid: %v", err)
	}
	for _, a := range append(slices.Clone(p.Subject), p.SANAttributes...) {
		if n := utf8.RuneCountInString(a.Value); n > csr.MaxFieldLen {
			return invalid("the value of %s is %d characters; at most %d are accepted", a.Type, n, csr.MaxFieldLen)
		}
	}
	if err := p.Request().Validate(); err != nil {
		return invalid("the CSR does not meet ZATCA's requirements: %v", err)
	}
	return p, nil
}

// handleComplianceCSID is POST /compliance (§5.3): OTP, CSR, and a
// compliance CSID whose certificate carries the CSR's subject and SAN.
func (s *Server) handleComplianceCSID(env csr.Environment, r *http.Request) response {
	if resp := s.checkOTP(env, r); resp != nil {
		return *resp
	}
	p, resp := readCSR(r)
	if resp != nil {
		return *resp
	}
	c, err := s.issue(env, p, false)
	if err != nil {
		return errorResponse(http.StatusBadRequest, "Invalid-CSR", err.Error())
	}
	return csidResponse(c)
}

// handleProductionCSID is POST /production/csids (§5.3): Basic with the
// compliance CSID, {"compliance_request_id"}; issued only when the
// compliance checks that the certificate's invoice types require have
// passed: T (standard) needs the standard invoice, credit and debit
// notes, S (simplified) the simplified ones; "1100" all six (§5.3 and the
// ZATCA moderator cited there). The production certificate has a new
// serial and the same key. Asking again (a lost answer) issues another
// one, which replaces the first.
func (s *Server) handleProductionCSID(env csr.Environment, r *http.Request) response {
	c, resp := s.authenticate(env, r, false)
	if resp != nil {
		return *resp
	}
	var body struct {
		ID json.RawMessage `json:"compliance_request_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.ID) == 0 {
		return errorResponse(http.StatusBadRequest, "Invalid-Request", `the body must be JSON {"compliance_request_id": …}`)
	}
	// The requestID is a number in the CSID answer; accept it quoted too.
	id, err := strconv.ParseInt(strings.Trim(string(body.ID), `"`), 10, 64)
	if err != nil || id != c.requestID {
		return errorResponse(http.StatusBadRequest, "Invalid-Request-ID",
			fmt.Sprintf("compliance_request_id %s is not the requestID of the compliance CSID used to authenticate", body.ID))
	}
	s.mu.Lock()
	var missing []string
	for _, k := range requiredKinds(c.cert.SAN[cert.OIDTitle]) {
		if !c.passed[k] {
			missing = append(missing, k.String())
		}
	}
	s.mu.Unlock()
	if len(missing) > 0 {
		return errorResponse(http.StatusBadRequest, "Missing-Compliance-Steps",
			fmt.Sprintf("the compliance checks for invoice types %s have not passed: %s (POST /compliance/invoices)",
				c.cert.SAN[cert.OIDTitle], strings.Join(missing, ", ")))
	}
	pc, err := s.issueFromCert(c)
	if err != nil {
		return errorResponse(http.StatusInternalServerError, "Internal", err.Error())
	}
	return csidResponse(pc)
}

// handleRenewal is PATCH /production/csids (§5.3): Basic with the current
// production CSID, OTP, a new CSR for the same unit (same VAT number and
// EGS serial; the key may be new). The new production CSID replaces the
// old one, whose credentials are refused from then on; documents stamped
// with the old certificate are still accepted from the new CSID, since
// they may be waiting in the unit's outbox.
func (s *Server) handleRenewal(env csr.Environment, r *http.Request) response {
	c, resp := s.authenticate(env, r, true)
	if resp != nil {
		return *resp
	}
	if resp := s.checkOTP(env, r); resp != nil {
		return *resp
	}
	p, resp := readCSR(r)
	if resp != nil {
		return *resp
	}
	if p.SAN[cert.OIDUID] != c.unit.key.vat || p.SAN[cert.OIDSurname] != c.unit.key.egs {
		return errorResponse(http.StatusBadRequest, "Invalid-CSR",
			"the renewal CSR is for another EGS unit: its VAT number (UID) and EGS serial (SN) must be those of the certificate being renewed")
	}
	nc, err := s.issue(env, p, true)
	if err != nil {
		return errorResponse(http.StatusBadRequest, "Invalid-CSR", err.Error())
	}
	return csidResponse(nc)
}

// requiredKinds are the compliance checks an invoice-type map "TSCZ"
// requires (§4.2, §5.3).
func requiredKinds(title string) []docKind {
	var ks []docKind
	for i, simplified := range []bool{false, true} {
		if len(title) > i && title[i] == '1' {
			for _, code := range []string{"388", "381", "383"} {
				ks = append(ks, docKind{simplified: simplified, code: code})
			}
		}
	}
	return ks
}

// issue makes a CSID for a verified CSR: a compliance CSID, or (renewal)
// a production one.
func (s *Server) issue(env csr.Environment, p *csr.Parsed, production bool) (*csid, error) {
	subject := make([]cert.Attribute, len(p.Subject))
	for i, a := range p.Subject {
		subject[i] = cert.Attribute(a)
	}
	san := make([]cert.Attribute, len(p.SANAttributes))
	for i, a := range p.SANAttributes {
		san[i] = cert.Attribute(a)
	}
	return s.newCSID(env, cert.Template{Subject: subject, SAN: san, PublicKeyDER: p.PublicKeyDER, TemplateName: p.TemplateName}, production)
}

// issueFromCert makes the production CSID for compliance CSID c: the same
// subject, SAN and key, a new serial (§5.3).
func (s *Server) issueFromCert(c *csid) (*csid, error) {
	t := cert.Template{Subject: c.cert.Subject, PublicKeyDER: c.cert.PublicKeyDER}
	for _, e := range c.cert.Extensions {
		if e.OID == cert.OIDTemplateName {
			if v, ok := utf8String(e.Value); ok {
				t.TemplateName = v
			}
		}
	}
	t.SAN = sanAttributes(c.cert)
	return s.newCSID(c.env, t, true)
}

// sanAttributes lists a ZATCA certificate's SAN attributes in the order
// of §4.2.
func sanAttributes(c *cert.Certificate) []cert.Attribute {
	var out []cert.Attribute
	for _, oid := range []string{cert.OIDSurname, cert.OIDUID, cert.OIDTitle, cert.OIDRegisteredAddress, cert.OIDBusinessCategory} {
		if v, ok := c.SAN[oid]; ok {
			out = append(out, cert.Attribute{Type: oid, Value: v})
		}
	}
	return out
}

// utf8String decodes a DER UTF8String (or PrintableString).
func utf8String(der []byte) (string, bool) {
	if len(der) < 2 || (der[0] != 0x0c && der[0] != 0x13) || int(der[1]) != len(der)-2 {
		return "", false
	}
	return string(der[2:]), true
}

// newCSID signs a certificate from t with the CA and registers the CSID.
// A production CSID replaces every earlier production CSID of its unit.
func (s *Server) newCSID(env csr.Environment, t cert.Template, production bool) (*csid, error) {
	validity := s.CertValidity
	if validity <= 0 {
		validity = 5 * 365 * 24 * time.Hour
	}
	now := s.now().UTC().Truncate(time.Second)
	t.SerialNumber = randomSerial()
	t.Issuer = s.caName
	t.NotBefore, t.NotAfter = now, now.Add(validity)
	der, err := cert.Create(t, s.caKey)
	if err != nil {
		return nil, fmt.Errorf("cannot issue a certificate for this CSR: %v", err)
	}
	c := &csid{production: production, env: env, secret: randomSecret()}
	if c.cert, err = cert.Parse(der); err != nil {
		return nil, err
	}
	c.token = base64.StdEncoding.EncodeToString([]byte(c.cert.Base64()))
	if !production {
		c.passed = make(map[docKind]bool)
	}
	key := unitKey{env: env, vat: c.cert.SAN[cert.OIDUID], egs: c.cert.SAN[cert.OIDSurname]}

	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.units[key]
	if u == nil {
		u = &unit{key: key, slots: make(map[uint64][]slot), accepted: make(map[string]int)}
		s.units[key] = u
		s.unitOrder = append(s.unitOrder, u)
	}
	if production {
		for _, old := range u.csids {
			if old.production {
				old.replaced = true
			}
		}
	}
	s.nextID++
	c.requestID = s.nextID
	c.unit = u
	u.csids = append(u.csids, c)
	s.csids[c.token] = c
	s.serials[c.cert.SerialNumber.String()] = c
	s.stats.CSIDs++
	return c, nil
}

func randomSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// authenticate checks HTTP Basic credentials (§5.2): the user name is the
// binarySecurityToken as issued, the password its secret. The CSID must
// belong to env, be of the kind the endpoint needs (production or
// compliance), not be replaced by a renewal, and be within its validity.
func (s *Server) authenticate(env csr.Environment, r *http.Request, production bool) (*csid, *response) {
	deny := func(why string) (*csid, *response) {
		resp := errorResponse(http.StatusUnauthorized, "Unauthorized", why)
		return nil, &resp
	}
	token, secret, ok := r.BasicAuth()
	if !ok {
		return deny("HTTP Basic authentication with binarySecurityToken:secret is required")
	}
	s.mu.Lock()
	c := s.csids[token]
	var replaced bool
	if c != nil {
		replaced = c.replaced
	}
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) != 1 || c.env != env {
		return deny("invalid credentials: unknown binarySecurityToken, wrong secret, or a CSID of another environment")
	}
	switch {
	case production && !c.production:
		return deny("this endpoint needs a production CSID; this is a compliance CSID")
	case !production && c.production:
		return deny("this endpoint needs a compliance CSID; this is a production CSID")
	case replaced:
		return deny("this production CSID was replaced by a renewal; use the new one")
	}
	if now := s.now(); now.Before(c.cert.NotBefore) || now.After(c.cert.NotAfter) {
		return deny("the CSID's certificate is not valid now (expired on " + c.cert.NotAfter.Format(time.RFC3339) + "); renew it")
	}
	return c, nil
}

package zatcasim

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/csr"
	"github.com/egsd/egsd/stamping/zatca"
)

// submissionKind says which endpoint a document came to.
type submissionKind int

const (
	kindCompliance submissionKind = 1 // POST /compliance/invoices: checked, not recorded
	kindReporting  submissionKind = 2 // POST /invoices/reporting/single
	kindClearance  submissionKind = 3 // POST /invoices/clearance/single
)

// docKind is one of the six document kinds of the compliance checks
// (§5.3): standard or simplified (KSA-2) × 388, 381, 383 (§6.1).
type docKind struct {
	simplified bool
	code       string // InvoiceTypeCode
}

func (k docKind) String() string {
	s := "standard "
	if k.simplified {
		s = "simplified "
	}
	switch k.code {
	case "381":
		return s + "credit note"
	case "383":
		return s + "debit note"
	}
	return s + "invoice"
}

// message is one item of validationResults (§5.4).
type message struct {
	Type     string `json:"type"` // INFO, WARNING or ERROR
	Code     string `json:"code"`
	Category string `json:"category"`
	Message  string `json:"message"`
	Status   string `json:"status"` // PASS, WARNING or ERROR
}

type validationResults struct {
	InfoMessages    []message `json:"infoMessages"`
	WarningMessages []message `json:"warningMessages"`
	ErrorMessages   []message `json:"errorMessages"`
	Status          string    `json:"status"`
}

// invoiceAnswer is ZATCA's answer to a submission (§5.4), misspellings
// included.
type invoiceAnswer struct {
	ValidationResults validationResults `json:"validationResults"`
	ReportingStatus   *string           `json:"reportingStatus"`
	ClearanceStatus   *string           `json:"clearanceStatus"`
	ClearedInvoice    *string           `json:"clearedInvoice,omitempty"`
	QRSellertStatus   *string           `json:"qrSellertStatus"`
	QRBuyertStatus    *string           `json:"qrBuyertStatus"`
}

func strPtr(s string) *string { return &s }

// results collects the messages of one submission.
type results struct{ info, warn, errs []message }

func (rs *results) info1(code, category, text string) {
	rs.info = append(rs.info, message{"INFO", code, category, text, "PASS"})
}

func (rs *results) warning(code, category, text string) {
	rs.warn = append(rs.warn, message{"WARNING", code, category, text, "WARNING"})
}

// error adds an error, once per code: one cause often shows in two checks
// (a changed amount breaks both the body's hash and the signed digest).
func (rs *results) error(code, category, text string) {
	for _, m := range rs.errs {
		if m.Code == code {
			return
		}
	}
	rs.errs = append(rs.errs, message{"ERROR", code, category, text, "ERROR"})
}

func (rs *results) validation() validationResults {
	v := validationResults{InfoMessages: rs.info, WarningMessages: rs.warn, ErrorMessages: rs.errs, Status: "PASS"}
	for _, p := range []*[]message{&v.InfoMessages, &v.WarningMessages, &v.ErrorMessages} {
		if *p == nil {
			*p = []message{}
		}
	}
	switch {
	case len(rs.errs) > 0:
		v.Status = "ERROR"
	case len(rs.warn) > 0:
		v.Status = "WARNING"
	}
	return v
}

// httpStatus is §5.5: 200 PASS, 202 WARNING (still reported or cleared),
// 400 ERROR.
func (rs *results) httpStatus() int {
	switch {
	case len(rs.errs) > 0:
		return http.StatusBadRequest
	case len(rs.warn) > 0:
		return http.StatusAccepted
	}
	return http.StatusOK
}

// invoiceBody is the body of the three submission endpoints (§5.3).
type invoiceBody struct {
	InvoiceHash string `json:"invoiceHash"`
	UUID        string `json:"uuid"`
	Invoice     string `json:"invoice"`
}

const (
	nsCBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
	nsCAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
	nsExt = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
)

// checked is a submission after the checks that need no state.
type checked struct {
	rs       results
	doc      []byte
	view     zatca.Verified // what the document says (zatca.Verify reads it)
	hash     string         // recomputed invoice hash; "" when the XML cannot be hashed
	kind     docKind
	haveKind bool
	icv      uint64
	pih      string
	// ownStamp: the stamp verified and its certificate is one the
	// simulator issued to the calling unit, so the document takes a slot
	// in that unit's chain (§6.9), whatever else is wrong with it.
	ownStamp bool
}

// handleSubmission serves the three submission endpoints (§5.3–§5.5).
//
// POST /compliance/invoices (Basic with a compliance CSID) runs the
// document checks without recording anything and marks the document's
// kind as passed for that CSID when there is no error. POST
// /invoices/reporting/single (simplified documents and their notes) and
// POST /invoices/clearance/single (standard ones) need a production CSID,
// check the document, follow the unit's ICV/PIH chain (breaks are
// warnings, §6.9), refuse a document whose hash was already accepted (409,
// or Config.ClearanceDuplicateStatus for clearance; the body repeats the
// stored outcome and, for clearance, the clearedInvoice), and record what
// they accept. Clearance, when deactivated (Faults.ClearanceOff), answers
// 303 and reporting then takes standard documents too (§5.5).
//
// A cleared invoice (clearedInvoice, §5.4, §6.8) is the submitted XML with
// the simulator's stamp in place of the unit's: ext:UBLExtensions holds a
// XAdES signature by the simulator's CA key with its CA certificate, and
// the QR (tags 1–8, like ZATCA's cleared standard invoices, §3.2) carries
// that signature and key. Everything the invoice hash covers is unchanged,
// so the cleared invoice has the same hash and zatca.Verify accepts it.
func (s *Server) handleSubmission(env csr.Environment, r *http.Request, sk submissionKind, d faultDecision) response {
	c, resp := s.authenticate(env, r, sk != kindCompliance)
	if resp != nil {
		return *resp
	}
	var rs results
	body, err := readInvoiceBody(r)
	if err != nil || len(body.invoice) == 0 || body.hash == "" || body.uuid == "" {
		rs.error("Invalid-Request", "REQUEST", `the body must be JSON {"invoiceHash", "uuid", "invoice"}, all three non-empty`)
		s.mu.Lock()
		if sk == kindCompliance {
			s.stats.ComplianceChecks++
		} else {
			s.stats.Rejected++
		}
		s.mu.Unlock()
		return s.answer(sk, &rs, docKind{}, false, "")
	}
	if sk == kindClearance && d.clearanceOff {
		// §5.5: clearance deactivated for the taxpayer; report instead.
		rs.warning("clearance-deactivated", "CLEARANCE",
			"Clearance is deactivated; submit standard invoices with POST /invoices/reporting/single")
		v := rs.validation()
		return jsonResponse(http.StatusSeeOther, invoiceAnswer{ValidationResults: v, ClearanceStatus: strPtr("NOT_CLEARED")})
	}

	ck := s.check(c, body, sk, d)
	var cleared string
	if len(ck.rs.errs) == 0 && !ck.kind.simplified && sk != kindReporting {
		cleared = s.clearedInvoice(ck.doc, ck.hash)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	u := c.unit
	if sk == kindCompliance {
		s.stats.ComplianceChecks++
		if len(ck.rs.errs) == 0 && ck.haveKind {
			c.passed[ck.kind] = true
		}
		return s.answer(sk, &ck.rs, ck.kind, ck.haveKind, cleared)
	}
	if i, ok := u.accepted[ck.hash]; ok && ck.hash != "" {
		s.stats.Duplicates++
		return s.duplicate(sk, u.records[i])
	}
	if ck.ownStamp {
		for _, w := range u.chainWarningsLocked(ck.icv, ck.pih, ck.hash) {
			ck.rs.warn = append(ck.rs.warn, w)
		}
		u.addSlotLocked(ck.icv, ck.pih, ck.hash, ck.view.UUID)
	}
	if len(ck.rs.errs) > 0 {
		s.stats.Rejected++
		return s.answer(sk, &ck.rs, ck.kind, ck.haveKind, "")
	}
	rec := Record{Endpoint: EndpointReporting, Hash: ck.hash, UUID: ck.view.UUID, ICV: ck.icv, PIH: ck.pih,
		Kind: ck.kind.String(), Status: ck.rs.validation().Status, RequestID: c.requestID, At: s.now(), ClearedInvoice: cleared}
	for _, w := range ck.rs.warn {
		rec.Warnings = append(rec.Warnings, w.Code)
	}
	if sk == kindClearance {
		rec.Endpoint = EndpointClearance
		s.stats.Cleared++
	} else {
		s.stats.Reported++
	}
	u.accepted[ck.hash] = len(u.records)
	u.records = append(u.records, rec)
	return s.answer(sk, &ck.rs, ck.kind, ck.haveKind, cleared)
}

// answer builds the §5.4 answer: reportingStatus for reporting (and
// compliance checks of simplified documents), clearanceStatus and
// clearedInvoice for clearance (and compliance checks of standard ones).
func (s *Server) answer(sk submissionKind, rs *results, kind docKind, haveKind bool, cleared string) response {
	a := invoiceAnswer{ValidationResults: rs.validation()}
	ok := len(rs.errs) == 0
	reporting := sk == kindReporting || sk == kindCompliance && haveKind && kind.simplified
	clearing := sk == kindClearance || sk == kindCompliance && haveKind && !kind.simplified
	switch {
	case reporting && ok:
		a.ReportingStatus = strPtr("REPORTED")
	case reporting:
		a.ReportingStatus = strPtr("NOT_REPORTED")
	case clearing && ok:
		a.ClearanceStatus = strPtr("CLEARED")
		if cleared != "" {
			a.ClearedInvoice = strPtr(cleared)
		}
	case clearing:
		a.ClearanceStatus = strPtr("NOT_CLEARED")
	}
	return jsonResponse(rs.httpStatus(), a)
}

// duplicate answers a document whose hash was accepted before (§5.5):
// 409 "Invoice was already Reported successfully earlier" for reporting;
// for clearance 409 too unless Config.ClearanceDuplicateStatus says
// otherwise. The body says what ZATCA holds: REPORTED or CLEARED, with the
// clearedInvoice, so that a client whose first answer was lost can
// recover it.
func (s *Server) duplicate(sk submissionKind, rec Record) response {
	var rs results
	a := invoiceAnswer{}
	status := http.StatusConflict
	if rec.Endpoint == EndpointClearance {
		rs.error("invoice-already-cleared", "DUPLICATE", "Invoice Hash Previously Submitted: the invoice was already cleared")
		a.ClearanceStatus = strPtr("CLEARED")
		if rec.ClearedInvoice != "" {
			a.ClearedInvoice = strPtr(rec.ClearedInvoice)
		}
		if sk == kindClearance && s.ClearanceDuplicateStatus != 0 {
			status = s.ClearanceDuplicateStatus
		}
	} else {
		rs.error("invoice-already-reported", "DUPLICATE", "Invoice was already Reported successfully earlier")
		a.ReportingStatus = strPtr("REPORTED")
	}
	a.ValidationResults = rs.validation()
	return jsonResponse(status, a)
}

// check runs the checks that need no chain state, in the order ZATCA's
// answers list them (§5.4): the XML, the body against it, the stamp
// (zatca.Verify: hash, signature, digests, QR, §1–3), the signing
// certificate, the seller's VAT number against the certificate
// (certificate-permissions), the invoice types the certificate allows
// (§4.4), the endpoint for the kind, BR-KSA-98 (§6.8) and the reject
// faults.
func (s *Server) check(c *csid, body submittedBody, sk submissionKind, d faultDecision) *checked {
	ck := &checked{}
	rs := &ck.rs
	doc, err := decodeInvoice(body.invoice)
	if err != nil {
		rs.error("XSD_ZATCA_INVALID", "XSD validation", "the invoice field is not base64 of the XML document")
		return ck
	}
	ck.doc = doc
	// Verify reads the XML once for every check here: it returns what the
	// document says besides what it verified, and recomputes the invoice
	// hash on its way (canonicalising the document is the costly part of a
	// check), so the hash is taken from it. It returns nothing only when
	// the XML cannot be read.
	v, verr := zatca.Verify(doc)
	if v == nil {
		msg := verr.Error()
		if err := errors.Unwrap(verr); err != nil {
			msg = err.Error() // the XML decoder's own message
		}
		rs.error("XSD_ZATCA_INVALID", "XSD validation", "Schema validation failed; the XML is not well-formed: "+msg)
		return ck
	}
	ck.view = *v
	hash := v.Hash
	if hash == "" {
		_, h, err := zatca.InvoiceHash(doc)
		if err != nil {
			rs.error("XSD_ZATCA_INVALID", "XSD validation", "Schema validation failed: "+err.Error())
			return ck
		}
		hash = h
	}
	ck.hash = hash
	// The simulator runs no XSD; the message is the one ZATCA's passing
	// answers carry (§5.4).
	rs.info1("XSD_ZATCA_VALID", "XSD validation", "Complied with UBL 2.1 standards in line with ZATCA specifications")
	if body.hash != hash {
		rs.error("invalid-invoice-hash", "INVOICE_HASHING_ERRORS",
			fmt.Sprintf("The invoice hash API body does not match the (calculated) Hash of the XML: body %s, XML %s", body.hash, hash))
	}
	if body.uuid != ck.view.UUID {
		rs.error("invalid-uuid", "INVOICE_ERRORS", fmt.Sprintf("the uuid in the body (%s) is not the invoice's cbc:UUID (%s)", body.uuid, ck.view.UUID))
	}
	switch name, code := ck.view.TypeCodeName, ck.view.TypeCode; {
	case len(name) < 2 || (name[:2] != "01" && name[:2] != "02"):
		rs.error("invalid-invoice-type", "KSA", fmt.Sprintf("InvoiceTypeCode name %q is neither standard (01…) nor simplified (02…) (BR-KSA-06)", name))
	case code != "388" && code != "381" && code != "383":
		rs.error("invalid-invoice-type", "KSA", fmt.Sprintf("InvoiceTypeCode %q is not 388, 381 or 383 (BR-KSA-05)", code))
	default:
		ck.kind, ck.haveKind = docKind{simplified: name[:2] == "02", code: code}, true
	}

	ck.icv, ck.pih = v.ICV, v.PIH
	if verr != nil {
		code, category := classifyVerify(verr)
		rs.error(code, category, verr.Error())
	}
	if sc, err := zatca.ParseCertificate(ck.view.Certificate); err == nil {
		s.mu.Lock()
		issued := s.serials[sc.SerialNumber.String()]
		s.mu.Unlock()
		switch {
		case issued == nil || !sameCert(issued.cert, sc):
			rs.error("invalid-certificate", "CERTIFICATE_ERRORS", "the X509Certificate used for signing was not issued by ZATCA (this simulator)")
		case issued.unit != c.unit:
			// ZATCA has been seen to only warn here (certificate-issuer-name,
			// §5.4); the simulator refuses, so that a unit signing with
			// another unit's certificate fails its tests.
			rs.error("invalid-signing-certificate", "CERTIFICATE_ERRORS",
				"the X509Certificate used for signing was issued to another EGS unit, not to the one of this CSID")
		case sk == kindCompliance && issued != c:
			rs.error("invalid-signing-certificate", "CERTIFICATE_ERRORS",
				"compliance checks must be signed with the certificate of the compliance CSID that submits them")
		case sk != kindCompliance && !issued.production:
			rs.error("invalid-signing-certificate", "CERTIFICATE_ERRORS",
				"the document is signed with a compliance certificate; sign production documents with the production CSID's certificate")
		default:
			ck.ownStamp = verr == nil
		}
	}
	if vat, certVAT := ck.view.SellerVAT, c.cert.SAN[cert.OIDUID]; vat != certVAT {
		rs.error("certificate-permissions", "CERTIFICATE_ERRORS",
			fmt.Sprintf("User only allowed to use the vat number that exists in the authentication certificate: the invoice's seller VAT number is %s, the certificate's %s", vat, certVAT))
	}
	if ck.haveKind {
		title := c.cert.SAN[cert.OIDTitle]
		what, pos := "Standard", 0
		if ck.kind.simplified {
			what, pos = "Simplified", 1
		}
		if len(title) <= pos || title[pos] != '1' {
			csidName := "Production"
			if !c.production {
				csidName = "Compliance"
			}
			rs.error("certificate-permissions", "CERTIFICATE_ERRORS",
				fmt.Sprintf("%s CSID does not cover %s documents (invoice types %s)", csidName, what, title))
		}
		switch {
		case sk == kindReporting && !ck.kind.simplified && !d.clearanceOff:
			rs.error("invalid-invoice-type", "INVOICE_TYPE",
				"standard invoices and their notes must be cleared (POST /invoices/clearance/single), not reported")
		case sk == kindClearance && ck.kind.simplified:
			rs.error("invalid-invoice-type", "INVOICE_TYPE",
				"simplified invoices and their notes are reported (POST /invoices/reporting/single), not cleared")
		}
		if sk == kindReporting && ck.kind.simplified {
			if at, ok := issuedAt(ck.view.IssueDate, ck.view.IssueTime); ok && s.now().Sub(at) > 24*time.Hour {
				rs.warning("BR-KSA-98", "KSA",
					"The simplified invoice should be submitted within 24 hours of the issue date and time (BR-KSA-98)")
			}
		}
	}
	if slices.Contains(d.rejectUUIDs, ck.view.UUID) || (ck.icv != 0 && slices.Contains(d.rejectICVs, ck.icv)) {
		rs.error("simulated-rejection", "SIMULATOR", fmt.Sprintf("rejected by the simulator's fault injection (UUID %s, ICV %d)", ck.view.UUID, ck.icv))
	}
	return ck
}

// decodeInvoice decodes the invoice member of a submission: standard
// base64, white space anywhere ignored (strings.Fields' white space).
func decodeInvoice(text []byte) ([]byte, error) {
	for _, c := range text {
		// Text with white space or beyond ASCII (where Fields also
		// finds white space) goes through Fields.
		if c >= 0x80 || c == ' ' || '\t' <= c && c <= '\r' {
			return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(text)), ""))
		}
	}
	doc := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(doc, text)
	return doc[:n], err
}

func sameCert(a, b *cert.Certificate) bool { return string(a.Raw) == string(b.Raw) }

// classifyVerify maps zatca.Verify's first problem onto ZATCA's codes
// (§5.4, §3.3). Verify's errors are not typed, so the mapping reads their
// text; the tests tamper with each part to keep it honest.
func classifyVerify(err error) (code, category string) {
	s := err.Error()
	switch {
	case strings.Contains(s, "invoice hash mismatch"):
		return "invalid-invoice-hash", "INVOICE_HASHING_ERRORS"
	case strings.Contains(s, "not stamped"), strings.Contains(s, "SignatureValue"), strings.Contains(s, "signature does not verify"):
		return "invalid-signature", "SIGNATURE_ERROR"
	case strings.Contains(s, "CertDigest"):
		return "certificate-hashing", "CERTIFICATE_ERRORS"
	case strings.Contains(s, "SignedProperties digest"):
		return "signed-properties-hashing", "CERTIFICATE_ERRORS"
	case strings.Contains(s, "embedded certificate"), strings.Contains(s, "IssuerSerial"):
		return "invalid-certificate", "CERTIFICATE_ERRORS"
	case strings.Contains(s, "QR"):
		return "QRCODE_INVALID", "QRCODE_VALIDATION"
	}
	return "XSD_ZATCA_INVALID", "XSD validation"
}

// saudiTime is UTC+3, the zone of IssueDate and IssueTime (docs/zatca.md).
var saudiTime = time.FixedZone("AST", 3*60*60)

// issuedAt reads IssueDate and IssueTime: Saudi local time, or UTC with
// a trailing Z (BR-KSA-70, §6.2).
func issuedAt(date, clock string) (time.Time, bool) {
	loc := saudiTime
	if strings.HasSuffix(clock, "Z") {
		clock, loc = strings.TrimSuffix(clock, "Z"), time.UTC
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05", date+" "+clock, loc)
	return t, err == nil
}

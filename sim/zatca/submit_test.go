package zatcasim

import (
	"bytes"
	"encoding/base64"
	"math/big"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/zatca"
)

// TestHappyPath onboards a unit made of egsd's own pieces (keystore, csr,
// stamping/zatca) through all six compliance checks (§5.3), gets its
// production CSID, then reports simplified documents and clears standard
// ones: all accepted, with an unbroken chain (§6.9), and a resend is a
// duplicate (§5.5).
func TestHappyPath(t *testing.T) {
	h := newHarness(t, nil)
	u := h.newEGS("1100")
	u.onboard()
	cc := u.ccsid.cert(t)
	if cc.IssuerName != "CN=EGSDSIMZEINVOICESCA1-CA, DC=extgazt, DC=gov, DC=local" {
		t.Errorf("issuer %q", cc.IssuerName)
	}
	if err := cc.CheckSignature(must(cert.Parse(h.sim.CACertificate())).PublicKeyDER); err != nil {
		t.Errorf("compliance certificate is not signed by the simulator's CA: %v", err)
	}
	if !bytes.Equal(cc.PublicKeyDER, u.key.PublicKeyDER()) || cc.SAN[cert.OIDUID] != testVAT ||
		cc.SAN[cert.OIDTitle] != "1100" || cc.SAN[cert.OIDSurname] != u.req.SerialNumber {
		t.Errorf("compliance certificate does not carry the CSR: SAN %v", cc.SAN)
	}
	if u.ccsid.TokenType != tokenType || u.ccsid.Errors != nil {
		t.Errorf("CSID answer %+v", u.ccsid)
	}

	u.passCompliance()
	u.goProduction()
	pc := u.pcsid.cert(t)
	if pc.SerialNumber.Cmp(cc.SerialNumber) == 0 || !bytes.Equal(pc.PublicKeyDER, cc.PublicKeyDER) {
		t.Error("production certificate must have a new serial and the same key")
	}
	if u.pcsid.RequestID == u.ccsid.RequestID {
		t.Error("production CSID has the compliance CSID's requestID")
	}

	var sent []stamped
	for round := 0; round < 2; round++ {
		for _, k := range allKinds {
			d := u.stamp(k.kind, k.standard)
			status, a := u.submit(endpointFor(k.standard), u.pcsid, d.body())
			if status != http.StatusOK || a.ValidationResults.Status != "PASS" || len(a.codes("WARNING")) > 0 {
				t.Fatalf("%s standard=%v: %d\n%s", k.kind, k.standard, status, a)
			}
			if !a.has("INFO", "XSD_ZATCA_VALID") {
				t.Errorf("no XSD_ZATCA_VALID info: %s", a)
			}
			if k.standard {
				if deref(a.ClearanceStatus) != "CLEARED" || a.ReportingStatus != nil || a.ClearedInvoice == nil {
					t.Fatalf("clearance answer %s", a)
				}
				checkCleared(t, h, d, *a.ClearedInvoice)
			} else if deref(a.ReportingStatus) != "REPORTED" || a.ClearanceStatus != nil || a.ClearedInvoice != nil {
				t.Fatalf("reporting answer %s", a)
			}
			sent = append(sent, d)
		}
	}

	recs := h.sim.Accepted(u.pcsid.BinarySecurityToken)
	if len(recs) != len(sent) {
		t.Fatalf("Accepted has %d records, sent %d", len(recs), len(sent))
	}
	hashes := map[string]bool{}
	for i, r := range recs {
		if r.Hash != sent[i].Hash || r.UUID != sent[i].slot.UUID || r.ICV != sent[i].slot.Counter || r.PIH != sent[i].slot.PrevHash {
			t.Errorf("record %d = %+v, sent ICV %d", i, r, sent[i].slot.Counter)
		}
		if hashes[r.Hash] {
			t.Errorf("hash %s accepted twice", r.Hash)
		}
		hashes[r.Hash] = true
	}
	if got := h.sim.Accepted(u.ccsid.BinarySecurityToken); len(got) != len(recs) {
		t.Errorf("Accepted(compliance token) = %d records; the unit's are %d", len(got), len(recs))
	}
	if b := h.sim.ChainBreaks(u.pcsid.BinarySecurityToken); len(b) != 0 {
		t.Errorf("chain breaks: %v", b)
	}
	var verified []*zatca.Verified
	for _, d := range sent {
		v, err := zatca.Verify(d.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		verified = append(verified, v)
	}
	if err := zatca.VerifyChain(verified); err != nil {
		t.Errorf("zatca.VerifyChain: %v", err)
	}

	// A resend of an accepted document, reporting and clearance alike.
	for _, d := range []stamped{sent[3], sent[0]} {
		standard := strings.Contains(string(d.Bytes), `name="0100000"`)
		status, a := u.submit(endpointFor(standard), u.pcsid, d.body())
		if status != http.StatusConflict {
			t.Errorf("resend (standard %v) = %d, want 409\n%s", standard, status, a)
		}
		if standard && (deref(a.ClearanceStatus) != "CLEARED" || a.ClearedInvoice == nil || !a.has("ERROR", "invoice-already-cleared")) {
			t.Errorf("clearance resend answer %s", a)
		}
		if !standard && (deref(a.ReportingStatus) != "REPORTED" || !a.has("ERROR", "invoice-already-reported")) {
			t.Errorf("reporting resend answer %s", a)
		}
	}
	st := h.sim.Stats()
	if st.Reported != 6 || st.Cleared != 6 || st.Duplicates != 2 || st.Rejected != 0 || st.ComplianceChecks != 6 || st.CSIDs != 2 {
		t.Errorf("Stats = %+v", st)
	}
	if got := len(h.sim.Accepted(u.pcsid.BinarySecurityToken)); got != 12 {
		t.Errorf("a duplicate was recorded: %d records", got)
	}
	state := h.sim.State()
	if len(state.Units) != 1 || len(state.Units[0].Accepted) != 12 || len(state.Units[0].CSIDs) != 2 ||
		!slices.Equal(state.Units[0].CSIDs[0].Passed, []string{"simplified credit note", "simplified debit note",
			"simplified invoice", "standard credit note", "standard debit note", "standard invoice"}) {
		t.Errorf("State = %+v", state)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// checkCleared: the cleared invoice is the submitted one re-stamped by the
// simulator: same invoice hash, verifies, signed with the CA certificate,
// QR tags 1–8 (§3.2, §6.8).
func checkCleared(t *testing.T, h *harness, d stamped, cleared64 string) {
	t.Helper()
	cleared, err := base64.StdEncoding.DecodeString(cleared64)
	if err != nil {
		t.Fatal(err)
	}
	v, err := zatca.Verify(cleared)
	if err != nil {
		t.Fatalf("cleared invoice does not verify: %v", err)
	}
	if v.Hash != d.Hash || v.ICV != d.slot.Counter {
		t.Errorf("cleared invoice hash %s ICV %d, submitted %s %d", v.Hash, v.ICV, d.Hash, d.slot.Counter)
	}
	ca := must(cert.Parse(h.sim.CACertificate()))
	if !bytes.Contains(cleared, []byte(ca.Base64())) {
		t.Error("cleared invoice is not signed with the simulator's certificate")
	}
	if bytes.Equal(cleared, d.Bytes) {
		t.Error("cleared invoice is the submitted one unchanged")
	}
	qr := qrOf(t, cleared)
	if !bytes.Equal(qr.PublicKey, ca.PublicKeyDER) || qr.CertificateSignature != nil {
		t.Errorf("cleared QR: tag 8 is not the simulator's key, or tag 9 is present")
	}
}

func qrOf(t *testing.T, doc []byte) *zatca.QR {
	t.Helper()
	_, r, err := locateStamp(doc)
	if err != nil {
		t.Fatal(err)
	}
	q, err := zatca.DecodeQR(string(doc[r[0]:r[1]]))
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestRejections: the checks of §5.4 each give their error, 400 and
// NOT_REPORTED or NOT_CLEARED, and nothing is recorded.
func TestRejections(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("1100")
	seller := testSeller()

	otherCA := newKey()
	foreignDER, err := cert.Create(cert.Template{
		SerialNumber: big.NewInt(77), Issuer: []cert.Attribute{{Type: cert.OIDCommonName, Value: "Not ZATCA"}},
		Subject: u.pcsid.cert(t).Subject, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		PublicKeyDER: u.key.PublicKeyDER(), SAN: sanAttributes(u.pcsid.cert(t)),
	}, otherCA)
	if err != nil {
		t.Fatal(err)
	}
	foreign := base64.StdEncoding.EncodeToString(foreignDER)

	tests := []struct {
		name     string
		standard bool
		make     func() stamped
		body     func(d stamped) map[string]string
		code     string
	}{
		{"tampered amount", false, func() stamped {
			d := u.stamp(sale.Invoice, false)
			return tamper(t, d, `>97.75</cbc:PayableAmount>`, `>9.75</cbc:PayableAmount>`)
		}, nil, "invalid-invoice-hash"},
		{"body hash wrong", true, func() stamped { return u.stamp(sale.Invoice, true) },
			func(d stamped) map[string]string {
				b := d.body()
				b["invoiceHash"] = base64.StdEncoding.EncodeToString(make([]byte, 32))
				return b
			}, "invalid-invoice-hash"},
		{"body uuid wrong", false, func() stamped { return u.stamp(sale.Invoice, false) },
			func(d stamped) map[string]string { b := d.body(); b["uuid"] = newUUID(); return b }, "invalid-uuid"},
		{"signature changed", false, func() stamped {
			d := u.stamp(sale.Invoice, false)
			i := bytes.Index(d.Bytes, []byte("<ds:SignatureValue>")) + len("<ds:SignatureValue>") + 10
			d.Bytes = bytes.Clone(d.Bytes)
			d.Bytes[i] ^= 1
			if d.Bytes[i] == '+' || d.Bytes[i] == '/' || d.Bytes[i] == '=' {
				d.Bytes[i] = 'A'
			}
			return d
		}, nil, "invalid-signature"},
		{"signing time changed", true, func() stamped {
			d := u.stamp(sale.Invoice, true)
			return tamper(t, d, "<xades:SigningTime>2", "<xades:SigningTime>1")
		}, nil, "signed-properties-hashing"},
		{"QR changed", false, func() stamped {
			d := u.stamp(sale.Invoice, false)
			// The QR's own reference: the PIH before it has the same
			// element, and its text may start with the same letter.
			const qr = "<cbc:ID>QR</cbc:ID>\n        <cac:Attachment>\n            <cbc:EmbeddedDocumentBinaryObject mimeCode=\"text/plain\">A"
			return tamper(t, d, qr, strings.TrimSuffix(qr, "A")+"B")
		}, nil, "QRCODE_INVALID"},
		{"wrong VAT", false, func() stamped {
			s := seller
			s.VATNumber = "300000000000003"
			return stampRaw(t, s, u.key, u.pcsid.certText(t), u.nextSlot(), testSale(sale.Invoice, false))
		}, nil, "certificate-permissions"},
		{"certificate not issued by the simulator", false, func() stamped {
			return stampRaw(t, seller, u.key, foreign, u.nextSlot(), testSale(sale.Invoice, false))
		}, nil, "invalid-certificate"},
		{"signed with the compliance certificate", true, func() stamped {
			return stampRaw(t, seller, u.key, u.ccsid.certText(t), u.nextSlot(), testSale(sale.Invoice, true))
		}, nil, "invalid-signing-certificate"},
		{"standard document reported", false, func() stamped { return u.stamp(sale.Invoice, true) }, nil, "invalid-invoice-type"},
		{"simplified document cleared", true, func() stamped { return u.stamp(sale.CreditNote, false) }, nil, "invalid-invoice-type"},
		{"not XML", false, func() stamped {
			d := u.stamp(sale.Invoice, false)
			d.Bytes = []byte("<Invoice>")
			return d
		}, nil, "XSD_ZATCA_INVALID"},
		{"not base64", false, func() stamped { return u.stamp(sale.Invoice, false) },
			func(d stamped) map[string]string { b := d.body(); b["invoice"] = "!!" + b["invoice"]; return b }, "XSD_ZATCA_INVALID"},
		{"empty body", false, func() stamped { return u.stamp(sale.Invoice, false) },
			func(d stamped) map[string]string { return map[string]string{} }, "Invalid-Request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.sim.Accepted(u.pcsid.BinarySecurityToken))
			d := tt.make()
			body := d.body()
			if tt.body != nil {
				body = tt.body(d)
			}
			status, a := u.submit(endpointFor(tt.standard), u.pcsid, body)
			if status != http.StatusBadRequest || a.ValidationResults.Status != "ERROR" || !a.has("ERROR", tt.code) {
				t.Fatalf("status %d, want 400 with error %s:\n%s", status, tt.code, a)
			}
			if tt.standard && deref(a.ClearanceStatus) != "NOT_CLEARED" || !tt.standard && deref(a.ReportingStatus) != "NOT_REPORTED" {
				t.Errorf("statuses: %s", a)
			}
			if a.ClearedInvoice != nil {
				t.Error("a rejected invoice has a clearedInvoice")
			}
			if after := len(h.sim.Accepted(u.pcsid.BinarySecurityToken)); after != before {
				t.Errorf("a rejected document was recorded (%d → %d)", before, after)
			}
		})
	}
	if got := h.sim.Stats().Rejected; got != len(tests) {
		t.Errorf("Stats.Rejected = %d, want %d", got, len(tests))
	}
}

// TestRejectedKeepsSlot: a document rejected after its stamp verified
// keeps its chain slot; the next document chains from it without a
// warning (§6.9).
func TestRejectedKeepsSlot(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("0100")
	d1 := u.stamp(sale.Invoice, false)
	d2 := u.stamp(sale.Invoice, false)
	d3 := u.stamp(sale.Invoice, false)
	for _, d := range []stamped{d1, d2, d3} {
		if status, a := u.submit(EndpointReporting, u.pcsid, d.body()); status != http.StatusOK {
			t.Fatalf("%d %s", status, a)
		}
	}
	// ICV 4 is rejected (reported as a standard invoice would be, wrong
	// VAT), ICV 5 follows it.
	s := testSeller()
	s.VATNumber = "300000000000003"
	bad := stampRaw(t, s, u.key, u.pcsid.certText(t), u.nextSlot(), testSale(sale.Invoice, false))
	u.prev = bad.Hash
	if status, a := u.submit(EndpointReporting, u.pcsid, bad.body()); status != http.StatusBadRequest {
		t.Fatalf("%d %s", status, a)
	}
	d5 := u.stamp(sale.Invoice, false)
	if status, a := u.submit(EndpointReporting, u.pcsid, d5.body()); status != http.StatusOK {
		t.Fatalf("the document after a rejected one = %d, want 200 without chain warnings\n%s", status, a)
	}
	if b := h.sim.ChainBreaks(u.pcsid.BinarySecurityToken); len(b) != 0 {
		t.Errorf("chain breaks %v", b)
	}
}

// TestChainBreakWarns: a gap, a wrong PIH and a reused ICV are accepted
// with warnings (202, §5.5, §6.9), and ChainBreaks reports them.
func TestChainBreakWarns(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("0100")
	first := u.stamp(sale.Invoice, false)
	if status, _ := u.submit(EndpointReporting, u.pcsid, first.body()); status != http.StatusOK {
		t.Fatal(status)
	}
	u.stamp(sale.Invoice, false) // never submitted: a gap
	gap := u.stamp(sale.Invoice, false)
	status, a := u.submit(EndpointReporting, u.pcsid, gap.body())
	if status != http.StatusAccepted || a.ValidationResults.Status != "WARNING" || deref(a.ReportingStatus) != "REPORTED" || !a.has("WARNING", "icv-sequence") {
		t.Fatalf("after a gap: %d\n%s", status, a)
	}
	u.prev = first.Hash // the next document chains from the wrong one
	wrong := u.stamp(sale.Invoice, false)
	status, a = u.submit(EndpointReporting, u.pcsid, wrong.body())
	if status != http.StatusAccepted || !a.has("WARNING", "pih-mismatch") {
		t.Fatalf("wrong PIH: %d\n%s", status, a)
	}
	u.counter-- // the same ICV again, a different document
	again := u.stamp(sale.CreditNote, false)
	status, a = u.submit(EndpointReporting, u.pcsid, again.body())
	if status != http.StatusAccepted || !a.has("WARNING", "icv-sequence") {
		t.Fatalf("reused ICV: %d\n%s", status, a)
	}
	breaks := h.sim.ChainBreaks(u.pcsid.BinarySecurityToken)
	if len(breaks) != 3 {
		t.Errorf("ChainBreaks = %q, want a gap, a wrong PIH and a reused ICV", breaks)
	}
	recs := h.sim.Accepted(u.pcsid.BinarySecurityToken)
	if len(recs) != 4 || recs[1].Status != "WARNING" || !slices.Contains(recs[1].Warnings, "icv-sequence") {
		t.Errorf("records %+v", recs)
	}
}

// Out of order (an earlier document retried after a later one) is a
// break only while the earlier one is missing.
func TestChainOutOfOrder(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("0100")
	d := []stamped{u.stamp(sale.Invoice, false), u.stamp(sale.Invoice, false), u.stamp(sale.Invoice, false)}
	for _, i := range []int{0, 2, 1} {
		u.submit(EndpointReporting, u.pcsid, d[i].body())
	}
	if b := h.sim.ChainBreaks(u.pcsid.BinarySecurityToken); len(b) != 0 {
		t.Errorf("chain breaks %v", b)
	}
	if n := len(h.sim.Accepted(u.pcsid.BinarySecurityToken)); n != 3 {
		t.Errorf("%d accepted", n)
	}
}

// BR-KSA-98 (§6.8): a simplified invoice reported more than 24 hours
// after its issue is accepted with a warning.
func TestLateReportingWarns(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("0100")
	u.issuedAt = time.Now().Add(-49 * time.Hour)
	d := u.stamp(sale.Invoice, false)
	status, a := u.submit(EndpointReporting, u.pcsid, d.body())
	if status != http.StatusAccepted || !a.has("WARNING", "BR-KSA-98") || deref(a.ReportingStatus) != "REPORTED" {
		t.Fatalf("%d\n%s", status, a)
	}
}

// A CSID whose invoice types do not include a kind cannot submit it
// (§4.4: "does not cover Simplified documents").
func TestInvoiceTypePermissions(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("1000")
	d := u.stamp(sale.Invoice, false)
	status, a := u.submit(EndpointReporting, u.pcsid, d.body())
	if status != http.StatusBadRequest || !a.has("ERROR", "certificate-permissions") ||
		!strings.Contains(a.ValidationResults.ErrorMessages[0].Message, "does not cover Simplified documents") {
		t.Fatalf("%d\n%s", status, a)
	}
	d = u.stamp(sale.Invoice, true)
	if status, a := u.submit(EndpointClearance, u.pcsid, d.body()); status != http.StatusOK {
		t.Fatalf("standard invoice with types 1000: %d\n%s", status, a)
	}
}

// TestAuth: Basic credentials (§5.2) are required, must match, must be of
// the right kind and environment; 401 otherwise (§5.5).
func TestAuth(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("0100")
	d := u.stamp(sale.Invoice, false)
	wrongSecret := u.pcsid
	wrongSecret.Secret = "x" + wrongSecret.Secret
	for _, c := range []struct {
		name string
		r    req
	}{
		{"no credentials", req{path: "/" + EndpointReporting, body: d.body()}},
		{"wrong secret", req{path: "/" + EndpointReporting, auth: &wrongSecret, body: d.body()}},
		{"unknown token", req{path: "/" + EndpointReporting, user: "TUlJQg==", pass: "secret", body: d.body()}},
		{"compliance CSID for reporting", req{path: "/" + EndpointReporting, auth: &u.ccsid, body: d.body()}},
		{"production CSID for compliance checks", req{path: "/" + EndpointComplianceInvoices, auth: &u.pcsid, body: d.body()}},
		{"production CSID for a production CSID", req{path: "/production/csids", auth: &u.pcsid,
			body: map[string]any{"compliance_request_id": u.ccsid.RequestID}}},
		{"another environment", req{path: "/e-invoicing/simulation/" + EndpointReporting, abs: true, auth: &u.pcsid, body: d.body()}},
	} {
		var e apiErr
		if resp := h.do(c.r, &e); resp.StatusCode != http.StatusUnauthorized || e.Code != "Unauthorized" {
			t.Errorf("%s: %d %+v, want 401", c.name, resp.StatusCode, e)
		}
	}
	if n := len(h.sim.Accepted(u.pcsid.BinarySecurityToken)); n != 0 {
		t.Errorf("%d documents accepted without valid credentials", n)
	}
	// The same document with the right credentials goes through.
	if status, a := u.submit(EndpointReporting, u.pcsid, d.body()); status != http.StatusOK {
		t.Fatalf("%d %s", status, a)
	}
}

// An expired certificate's credentials are refused.
func TestExpiredCSID(t *testing.T) {
	var now time.Time
	sim := &Server{Config: Config{CertValidity: time.Hour, Now: func() time.Time {
		if now.IsZero() {
			return time.Now()
		}
		return now
	}}}
	h := newHarness(t, sim)
	u := h.ready("0100")
	now = time.Now().Add(2 * time.Hour)
	u.issuedAt = now
	d := u.stamp(sale.Invoice, false)
	var e apiErr
	if resp := h.do(req{path: "/" + EndpointReporting, auth: &u.pcsid, body: d.body()}, &e); resp.StatusCode != http.StatusUnauthorized ||
		!strings.Contains(e.Message, "expired") {
		t.Errorf("%d %+v, want 401 expired", resp.StatusCode, e)
	}
}

// TestAcceptVersion: every endpoint wants Accept-Version: V2 (§5.2), 406
// otherwise (§5.5).
func TestAcceptVersion(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("0100")
	d := u.stamp(sale.Invoice, false)
	for _, r := range []req{
		{path: "/" + EndpointReporting, auth: &u.pcsid, body: d.body(), noVersion: true},
		{path: "/" + EndpointReporting, auth: &u.pcsid, body: d.body(), header: map[string]string{"Accept-Version": "V1"}},
		{path: "/" + EndpointClearance, auth: &u.pcsid, body: d.body(), noVersion: true},
		{path: "/compliance", header: map[string]string{"OTP": DeveloperPortalOTP}, body: u.csrBody(), noVersion: true},
	} {
		if resp := h.do(r, nil); resp.StatusCode != http.StatusNotAcceptable {
			t.Errorf("%s without V2: %d, want 406", r.path, resp.StatusCode)
		}
	}
	if n := len(h.sim.Accepted(u.pcsid.BinarySecurityToken)); n != 0 {
		t.Errorf("%d accepted", n)
	}
}

// TestCompliance: compliance checks record nothing, pass per kind, and
// the production CSID needs the kinds of the CSR's invoice types (§5.3).
func TestCompliance(t *testing.T) {
	h := newHarness(t, nil)
	t.Run("1100 needs all six", func(t *testing.T) {
		u := h.newEGS("1100")
		u.onboard()
		prod := func() (int, apiErr) {
			var e apiErr
			resp := h.do(req{path: "/production/csids", auth: &u.ccsid, body: map[string]any{"compliance_request_id": u.ccsid.RequestID}}, &e)
			return resp.StatusCode, e
		}
		for i, k := range allKinds {
			if status, e := prod(); status != http.StatusBadRequest || e.Code != "Missing-Compliance-Steps" {
				t.Fatalf("after %d checks: %d %+v, want 400 Missing-Compliance-Steps", i, status, e)
			}
			d := u.stamp(k.kind, k.standard)
			status, a := u.submit(EndpointComplianceInvoices, u.ccsid, d.body())
			if status != http.StatusOK {
				t.Fatalf("%d %s", status, a)
			}
			if k.standard && (deref(a.ClearanceStatus) != "CLEARED" || a.ClearedInvoice == nil) ||
				!k.standard && deref(a.ReportingStatus) != "REPORTED" {
				t.Errorf("compliance answer %s", a)
			}
			// The same document again is no duplicate: compliance
			// checks are not recorded.
			if status, _ := u.submit(EndpointComplianceInvoices, u.ccsid, d.body()); status != http.StatusOK {
				t.Errorf("second compliance check of the same document: %d", status)
			}
		}
		// A failed check does not count.
		if len(h.sim.Accepted(u.ccsid.BinarySecurityToken)) != 0 {
			t.Error("compliance checks were recorded")
		}
		var wrongID apiErr
		if resp := h.do(req{path: "/production/csids", auth: &u.ccsid, body: map[string]any{"compliance_request_id": "1"}}, &wrongID); resp.StatusCode != http.StatusBadRequest || wrongID.Code != "Invalid-Request-ID" {
			t.Errorf("wrong compliance_request_id: %d %+v", resp.StatusCode, wrongID)
		}
		if status, e := prod(); status != http.StatusOK {
			t.Errorf("after all six: %d %+v", status, e)
		}
	})
	t.Run("0100 needs the simplified three", func(t *testing.T) {
		u := h.newEGS("0100")
		u.onboard()
		bad := tamper(t, u.stamp(sale.Invoice, false), "Coffee", "Tea")
		if status, a := u.submit(EndpointComplianceInvoices, u.ccsid, bad.body()); status != http.StatusBadRequest {
			t.Fatalf("tampered compliance document: %d %s", status, a)
		}
		u.passCompliance()
		u.goProduction()
	})
	t.Run("signed with another CSID's certificate", func(t *testing.T) {
		u := h.newEGS("0100")
		u.onboard()
		first := u.ccsid
		u.onboard() // a second compliance CSID for the same unit
		d := stampRaw(t, testSeller(), u.key, first.certText(t), u.nextSlot(), testSale(sale.Invoice, false))
		if status, a := u.submit(EndpointComplianceInvoices, u.ccsid, d.body()); status != http.StatusBadRequest || !a.has("ERROR", "invalid-signing-certificate") {
			t.Fatalf("%d %s", status, a)
		}
	})
}

// TestClearanceDuplicateStatus: ClearanceDuplicateStatus 208 models the
// unverified Swagger answer (§5.5).
func TestClearanceDuplicateStatus(t *testing.T) {
	h := newHarness(t, New(Config{ClearanceDuplicateStatus: http.StatusAlreadyReported}))
	u := h.ready("1000")
	d := u.stamp(sale.Invoice, true)
	status, first := u.submit(EndpointClearance, u.pcsid, d.body())
	if status != http.StatusOK {
		t.Fatal(status)
	}
	status, again := u.submit(EndpointClearance, u.pcsid, d.body())
	if status != http.StatusAlreadyReported || deref(again.ClearedInvoice) != deref(first.ClearedInvoice) {
		t.Errorf("resend = %d, want 208 with the same clearedInvoice", status)
	}
}

// A renewal (§5.3) gives a new production CSID for a new key; the old
// one is refused, documents stamped with the old certificate are still
// accepted, and the chain continues.
func TestRenewal(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("1100")
	queued := u.stamp(sale.Invoice, false) // stamped before the renewal, sent after it
	if status, a := u.submit(EndpointReporting, u.pcsid, u.stamp(sale.Invoice, false).body()); status != http.StatusOK {
		t.Fatalf("%d %s", status, a)
	}

	old := u.pcsid
	newKey, err := keystore.Create(filepath.Join(t.TempDir(), "renewed.pem"))
	if err != nil {
		t.Fatal(err)
	}
	u.key = newKey
	var renewed creds
	resp := h.do(req{method: http.MethodPatch, path: "/production/csids", auth: &old,
		header: map[string]string{"OTP": DeveloperPortalOTP}, body: u.csrBody()}, &renewed)
	if resp.StatusCode != http.StatusOK || renewed.DispositionMessage != "ISSUED" {
		t.Fatalf("PATCH /production/csids = %d %+v", resp.StatusCode, renewed)
	}
	if !bytes.Equal(renewed.cert(t).PublicKeyDER, newKey.PublicKeyDER()) {
		t.Error("renewed certificate is not for the new key")
	}
	u.pcsid = renewed
	u.use(renewed)

	next := u.stamp(sale.Invoice, false)
	var e apiErr
	if resp := h.do(req{path: "/" + EndpointReporting, auth: &old, body: next.body()}, &e); resp.StatusCode != http.StatusUnauthorized ||
		!strings.Contains(e.Message, "renewal") {
		t.Errorf("old PCSID after renewal: %d %+v, want 401", resp.StatusCode, e)
	}
	for _, d := range []stamped{queued, next} {
		if status, a := u.submit(EndpointReporting, renewed, d.body()); status != http.StatusOK {
			t.Errorf("with the renewed CSID: %d\n%s", status, a)
		}
	}
	if b := h.sim.ChainBreaks(renewed.BinarySecurityToken); len(b) != 0 {
		t.Errorf("chain breaks across the renewal: %v", b)
	}
	if n := len(h.sim.Accepted(old.BinarySecurityToken)); n != 3 {
		t.Errorf("the unit has %d accepted documents, want 3", n)
	}

	// Renewal needs the OTP and a CSR for the same unit.
	other := h.newEGS("1100")
	for _, c := range []struct {
		name, otp string
		body      any
		code      string
	}{
		{"no OTP", "", u.csrBody(), "Missing-OTP"},
		{"another unit", DeveloperPortalOTP, other.csrBody(), "Invalid-CSR"},
	} {
		var e apiErr
		hdr := map[string]string{}
		if c.otp != "" {
			hdr["OTP"] = c.otp
		}
		if resp := h.do(req{method: http.MethodPatch, path: "/production/csids", auth: &renewed, header: hdr, body: c.body}, &e); resp.StatusCode != http.StatusBadRequest || e.Code != c.code {
			t.Errorf("%s: %d %+v, want 400 %s", c.name, resp.StatusCode, e, c.code)
		}
	}
}

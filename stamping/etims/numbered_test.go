package etims_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/etims"
	"github.com/egsd/egsd/stamping/sale"
)

var _ stamping.Numbered = (*etims.Regime)(nil)

// onboarded is an initialised regime against a recorder answering the
// OSCU paths given (the base URL has no /etims-api prefix).
func onboarded(t *testing.T, answers map[string]string) (*etims.Regime, *recorder) {
	t.Helper()
	answers["/selectInitOsdcInfo"] = initAnswer
	answers["/saveItem"] = `{"resultCd":"000","resultMsg":"It is succeeded","resultDt":"20260115103000","data":null}`
	rc, srv := newRecorder(t, answers)
	r := newRegime(t, t.TempDir(), etims.Options{BaseURL: srv.URL}, nil)
	if err := r.Onboard(context.Background(), stamping.OnboardRequest{}, nil, func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.requests = nil
	rc.mu.Unlock()
	return r, rc
}

// saleRequests are the requests rc received other than item registrations,
// which the regime makes before an item's first sale.
func saleRequests(rc *recorder) []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []recorded
	for _, r := range rc.requests {
		if r.path != "/saveItem" {
			out = append(out, r)
		}
	}
	return out
}

func stamped(t *testing.T, r *etims.Regime, counter uint64, s *sale.Sale) stamping.Submission {
	t.Helper()
	doc, err := r.Stamp(stamping.Slot{Counter: counter, IssuedAt: nairobi("2026-01-15 10:30:00")}, s)
	if err != nil {
		t.Fatal(err)
	}
	return stamping.Submission{Slot: stamping.Slot{Counter: counter}, Document: doc.Bytes, Hash: doc.Hash, Attempt: 1}
}

// SubmitNumbered sends the template numbered n, and the journal's answer
// holds the exact request sent and KRA's answer; Signed reads the
// receipt's facts out of it: the CU invoice number, the hyphenated
// signature, the band table, and the QR built from KRA's rcptSign.
func TestSubmitNumberedKeepsRequestAndAnswer(t *testing.T) {
	r, rc := onboarded(t, map[string]string{"/saveTrnsSalesOsdc": oscuSave})
	res := r.SubmitNumbered(context.Background(), stamped(t, r, 12, sampleSale()), 7, false)
	if res.Outcome != stamping.Accepted {
		t.Fatalf("outcome %v %v", res.Outcome, res.Messages)
	}
	reqs := saleRequests(rc)
	if len(reqs) != 1 || reqs[0].path != "/saveTrnsSalesOsdc" {
		t.Fatalf("requests %+v", reqs)
	}
	sent := reqs[0].body
	if n, org, err := etims.Numbers(sent); n != 7 || org != 0 || err != nil {
		t.Errorf("sent invcNo %d orgInvcNo %d %v", n, org, err)
	}
	sa, err := etims.DecodeStoredAnswer(res.Answer)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sa.Request, sent) || string(sa.Answer) != oscuSave {
		t.Errorf("stored request equal to the sent one: %v; stored answer %s", bytes.Equal(sa.Request, sent), sa.Answer)
	}
	info, err := r.Signed(res.Answer)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, f := range info.Fields {
		fields[f.Label] = f.Value
	}
	want := map[string]string{"SCU ID": "KRACU0100000001", "CU Invoice No": "KRACU0100000001/7", "Receipt No": "1/1",
		"Internal Data": "EAHS-AV6E-CUUX-SY6P-CCJY-AUP6-MI", "Receipt Signature": "QUII-27MA-TATS-HFRB"}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("field %s = %q, want %q", k, fields[k], v)
		}
	}
	if _, ok := fields["Original CU Invoice No"]; ok {
		t.Error("a sale prints an original CU invoice number")
	}
	if info.QR != etims.QRURL(etims.Sandbox, seller.VATNumber, "00", "QUII27MATATSHFRB") || info.Number != "KE-12" || info.TaxNumberLabel != "KRA PIN" {
		t.Errorf("info %+v", info)
	}
	var bands []string
	for _, row := range info.TaxTable[1:] {
		bands = append(bands, row.Label[:1])
	}
	if strings.Join(bands, "") != "BECDAT" || !strings.HasPrefix(info.TaxTable[1].Value, "500000.00  80000.00  580000.00") {
		t.Errorf("tax table %+v", info.TaxTable)
	}
}

// A credit note goes with its original's number; without one it is
// rejected without calling KRA, so that its number is released.
func TestSubmitNumberedCreditNote(t *testing.T) {
	r, rc := onboarded(t, map[string]string{"/saveTrnsSalesOsdc": oscuSave})
	note := stamped(t, r, 13, creditNote())
	if res := r.SubmitNumbered(context.Background(), note, 8, false); res.Outcome != stamping.Rejected ||
		!strings.Contains(strings.Join(res.Messages, " "), "no KRA invoice number") || len(rc.requests) != 0 {
		t.Fatalf("note without its original's number: %+v, %d requests", res, len(rc.requests))
	}
	note.OriginalNumber = 7
	res := r.SubmitNumbered(context.Background(), note, 8, false)
	reqs := saleRequests(rc)
	if res.Outcome != stamping.Accepted || len(reqs) != 1 {
		t.Fatalf("note: %+v", res)
	}
	if n, org, _ := etims.Numbers(reqs[0].body); n != 8 || org != 7 {
		t.Errorf("sent invcNo %d orgInvcNo %d", n, org)
	}
	info, err := r.Signed(res.Answer)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range info.Fields {
		found = found || f.Label == "Original CU Invoice No" && f.Value == "KRACU0100000001/7"
	}
	if !found || info.Title != "CREDIT NOTE" {
		t.Errorf("credit note receipt %+v", info)
	}
}

// A resend looks the number up first and sends nothing when KRA has it;
// the lookup's answer is what the journal keeps beside the request.
func TestSubmitNumberedResendLooksUp(t *testing.T) {
	lookup7 := strings.Replace(lookup, `"invcNo":2`, `"invcNo":7`, 1)
	r, rc := onboarded(t, map[string]string{"/saveTrnsSalesOsdc": oscuSave, "/selectInvoiceDetails": lookup7})
	res := r.SubmitNumbered(context.Background(), stamped(t, r, 12, sampleSale()), 7, true)
	reqs := saleRequests(rc)
	if res.Outcome != stamping.Duplicate || len(reqs) != 1 || reqs[0].path != "/selectInvoiceDetails" {
		t.Fatalf("resend: %+v, requests %+v", res, reqs)
	}
	var lk struct {
		InvcNo int64 `json:"invcNo"`
	}
	if err := json.Unmarshal(reqs[0].body, &lk); err != nil || lk.InvcNo != 7 {
		t.Errorf("lookup of %d, %v", lk.InvcNo, err)
	}
	info, err := r.Signed(res.Answer)
	if err != nil || !strings.HasSuffix(info.QR, "123456789ODOOGR3") {
		t.Errorf("signed from the lookup: %+v %v", info, err)
	}
}

// Before KRA signs, the stored receipt facts say what a provisional slip
// can: the trader's number, and that tax numbers are KRA PINs.
func TestStampReceiptBeforeTheSignature(t *testing.T) {
	r, _ := onboarded(t, map[string]string{})
	doc, err := r.Stamp(stamping.Slot{Counter: 12, IssuedAt: nairobi("2026-01-15 10:30:00")}, sampleSale())
	if err != nil {
		t.Fatal(err)
	}
	var info stamping.ReceiptInfo
	if err := json.Unmarshal(doc.Receipt, &info); err != nil {
		t.Fatalf("receipt facts %s: %v", doc.Receipt, err)
	}
	if info.Number != doc.Number || info.TaxNumberLabel != "KRA PIN" || info.QR != "" {
		t.Errorf("receipt facts before the signature %+v, want number %s, label KRA PIN and no QR", info, doc.Number)
	}
}

package etims_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/etims"
)

// The sample's sale (two lines, 400,000.00 and 100,000.00 KES at 16 %)
// gives 500,000.00 / 80,000.00 / 580,000.00 in the request sent to KRA
// and in the readable export, which is compared field by field with a
// golden written by hand from the sample, KRA's codes and the canned
// signature; the wire export is the numbered template byte for byte, and
// KRA's answer as it came.
func TestExportSample(t *testing.T) {
	r, err := etims.BuildSale(sampleSale(), etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-12", IssuedAt: nairobi("2026-01-15 10:30:00")})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := etims.Template(r)
	if err != nil {
		t.Fatal(err)
	}
	req, err := etims.WireRequest(tmpl, 12, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wire map[string]any
	dec := json.NewDecoder(bytes.NewReader(req))
	dec.UseNumber()
	if err := dec.Decode(&wire); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"invcNo": "12", "totTaxblAmt": "500000.00", "totTaxAmt": "80000.00", "totAmt": "580000.00",
		"taxblAmtB": "500000.00", "taxAmtB": "80000.00", "taxRtB": "16.00"} {
		if got := wire[k]; got != json.Number(want) {
			t.Errorf("request %s = %v, want %s", k, got, want)
		}
	}

	dir := t.TempDir()
	if err := etims.WriteWire(dir, 12, "6f1c2b0a-0000-4000-8000-000000000012", req, []byte(oscuSave)); err != nil {
		t.Fatal(err)
	}
	reqName, ansName := etims.WireNames(12, "6f1c2b0a-0000-4000-8000-000000000012")
	if reqName != "0000000012-6f1c2b0a-0000-4000-8000-000000000012.json" {
		t.Errorf("request file %s", reqName)
	}
	for name, want := range map[string][]byte{reqName: req, ansName: []byte(oscuSave)} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		fi, serr := os.Stat(filepath.Join(dir, name))
		if err != nil || serr != nil || !bytes.Equal(got, want) || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %q %v %v", name, got, err, serr)
		}
	}

	sum, err := etims.Summarise(req, []byte(oscuSave), etims.SummaryInput{Seller: oscu, SellerName: "Duka Ltd",
		DeviceSerial: "EGSD/P000000001A/1", Device: etims.Device{SdcID: "KRACU0100000001", MrcNo: "WIS01000150"}, Environment: etims.Sandbox})
	if err != nil {
		t.Fatal(err)
	}
	if err := etims.WriteSummary(dir, 12, "6f1c2b0a-0000-4000-8000-000000000012", sum); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, etims.SummaryName(12, "6f1c2b0a-0000-4000-8000-000000000012")))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "summary-sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	compareJSON(t, got, want)
}

// A credit note's summary names its original and its reason.
func TestExportCreditNoteSummary(t *testing.T) {
	r, err := etims.BuildSale(creditNote(), etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-13", IssuedAt: nairobi("2026-01-16 09:00:00")})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := etims.Template(r)
	if err != nil {
		t.Fatal(err)
	}
	req, err := etims.WireRequest(tmpl, 13, 12)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := etims.Summarise(req, []byte(oscuSave), etims.SummaryInput{Seller: oscu, Device: etims.Device{SdcID: "KRACU0100000001"}})
	if err != nil {
		t.Fatal(err)
	}
	h := sum.Header
	if h.ReceiptTypeCode != "R" || h.ReceiptType != "Credit Note" || h.OriginalCUInvoiceNumber != "KRACU0100000001/12" || h.OrgInvcNo != 12 ||
		h.RefundReasonCode != "06" || h.TotalAmount.String() != "116000.00" || len(sum.TaxSummary) != 1 {
		t.Errorf("credit note summary %+v", sum)
	}
	// No signature, no summary.
	if _, err := etims.Summarise(req, []byte(`{"resultCd":"910","resultMsg":"bad"}`), etims.SummaryInput{Seller: oscu, Device: etims.Device{SdcID: "X"}}); err == nil {
		t.Error("a summary without KRA's signature")
	}
}

func compareJSON(t *testing.T, got, want []byte) {
	t.Helper()
	decode := func(b []byte) any {
		var v any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%v in %s", err, b)
		}
		return v
	}
	g, w := decode(got), decode(want)
	var walk func(path string, g, w any)
	walk = func(path string, g, w any) {
		switch wv := w.(type) {
		case map[string]any:
			gv, ok := g.(map[string]any)
			if !ok {
				t.Errorf("%s: %v, want an object", path, g)
				return
			}
			for k := range wv {
				walk(path+"."+k, gv[k], wv[k])
			}
			for k := range gv {
				if _, ok := wv[k]; !ok {
					t.Errorf("%s.%s: unexpected %v", path, k, gv[k])
				}
			}
		case []any:
			gv, ok := g.([]any)
			if !ok || len(gv) != len(wv) {
				t.Errorf("%s: %v, want %d entries", path, g, len(wv))
				return
			}
			for i := range wv {
				walk(path+"["+string(rune('0'+i))+"]", gv[i], wv[i])
			}
		default:
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s = %v, want %v", path, g, w)
			}
		}
	}
	walk("", g, w)
}

// A stored request with an item in no band A–E (a damaged journal) gives
// an error naming the field, never a panic.
func TestSummaryOfAnUnknownBand(t *testing.T) {
	r, err := etims.BuildSale(sampleSale(), etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-12", IssuedAt: nairobi("2026-01-15 10:30:00")})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := etims.Template(r)
	if err != nil {
		t.Fatal(err)
	}
	req, err := etims.WireRequest(tmpl, 12, 0)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(req, []byte(`"taxTyCd":"B"`), []byte(`"taxTyCd":"X"`), 1)
	if bytes.Equal(bad, req) {
		t.Fatal("the request has no item in band B")
	}
	if _, err := etims.Summarise(bad, []byte(oscuSave), etims.SummaryInput{Seller: oscu, Device: etims.Device{SdcID: "KRACU0100000001"}}); err == nil || !strings.Contains(err.Error(), "taxTyCd") {
		t.Errorf("summary of an item in band X: %v, want an error naming taxTyCd", err)
	}
}

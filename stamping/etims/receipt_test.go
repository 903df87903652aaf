package etims_test

import (
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/etims"
)

func TestHyphenate(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "",
		"ABC":                        "ABC",
		"ABCD":                       "ABCD",
		"ABCDE":                      "ABCD-E",
		"QUII27MATATSHFRB":           "QUII-27MA-TATS-HFRB",
		"EAHSAV6ECUUXSY6PCCJYAUP6MI": "EAHS-AV6E-CUUX-SY6P-CCJY-AUP6-MI",
	} {
		if got := etims.Hyphenate(in); got != want {
			t.Errorf("Hyphenate(%q) = %q, want %q", in, got, want)
		}
	}
}

// The QR is KRA's verification page with PIN, branch and signature
// concatenated (spec/etims.md §A6), on the environment's host.
func TestQRURL(t *testing.T) {
	const path = "/common/link/etims/receipt/indexEtimsReceiptData?Data="
	if got, want := etims.QRURL(etims.Production, "P051234567X", "00", "QUII27MATATSHFRB"),
		"https://etims.kra.go.ke"+path+"P051234567X00QUII27MATATSHFRB"; got != want {
		t.Errorf("production QR %q, want %q", got, want)
	}
	if got, want := etims.QRURL(etims.Sandbox, "P051234567X", "01", "QUII27MATATSHFRB"),
		"https://etims-sbx.kra.go.ke"+path+"P051234567X01QUII27MATATSHFRB"; got != want {
		t.Errorf("sandbox QR %q, want %q", got, want)
	}
}

func TestReceiptOf(t *testing.T) {
	seller := etims.Identity{Tin: sellerPIN, BhfID: "00"}
	dev := etims.Device{SdcID: "KRACU0100000001", MrcNo: "WIS00000001"}
	req := numbered(t, creditNote(), etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-14", IssuedAt: nairobi("2026-01-20 09:15:00")}, 13, 12)
	f, err := etims.ReceiptOf(req, []byte(oscuSave), seller, dev, etims.Production)
	if err != nil {
		t.Fatal(err)
	}
	if f.Title != "CREDIT NOTE" || f.CUInvoiceNumber != "KRACU0100000001/13" || f.OriginalCUInvoiceNumber != "KRACU0100000001/12" ||
		f.SCUID != dev.SdcID || f.SellerPIN != sellerPIN || f.ReceiptNumber != 1 || f.TraderInvoiceNo != "KE-14" {
		t.Errorf("facts %+v", f)
	}
	if f.InternalData != "EAHS-AV6E-CUUX-SY6P-CCJY-AUP6-MI" || f.Signature != "QUII-27MA-TATS-HFRB" {
		t.Errorf("internal data %q, signature %q", f.InternalData, f.Signature)
	}
	if want := etims.QRURL(etims.Production, sellerPIN, "00", "QUII27MATATSHFRB"); f.QR != want {
		t.Errorf("QR %q, want %q", f.QR, want)
	}
	var order []string
	for _, b := range f.Bands {
		order = append(order, b.Band.String()+" "+b.Rate.String()+" "+b.Taxable.String()+" "+b.Tax.String()+" "+b.Total.String())
	}
	if got := strings.Join(order, "; "); got != "B 16.00 100000.00 16000.00 116000.00; E 8.00 0.00 0.00 0.00; C 0.00 0.00 0.00 0.00; D 0.00 0.00 0.00 0.00; A 0.00 0.00 0.00 0.00" {
		t.Errorf("bands %s", got)
	}
	if f.Total.Taxable.String() != "100000.00" || f.Total.Tax.String() != "16000.00" || f.Total.Total.String() != "116000.00" {
		t.Errorf("total row %+v", f.Total)
	}
	info := f.Info()
	if info.Number != "KRACU0100000001/13" || info.Timestamp != "2021-05-02 11:51:45" || info.Total != "116000.00" || info.QR != f.QR {
		t.Errorf("info %+v", info)
	}

	// A VSCU answer names its own control unit.
	f, err = etims.ReceiptOf(req, []byte(vscuSave), seller, etims.Device{}, etims.Sandbox)
	if err != nil || f.SCUID != "KRACU0100000001" || f.MRCNo != "WIS00000001" || f.ReceiptNumber != 27 {
		t.Errorf("VSCU facts %+v, %v", f, err)
	}
	// A template is not a receipt; a lookup answer for another sale
	// neither; nor a unit without a control unit ID.
	tmpl, err := etims.Template(mustBuild(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := etims.ReceiptOf(tmpl, []byte(oscuSave), seller, dev, etims.Sandbox); err == nil {
		t.Error("a receipt from a template")
	}
	if _, err := etims.ReceiptOf(req, []byte(lookup), seller, dev, etims.Sandbox); err == nil {
		t.Error("a receipt from the lookup of invcNo 2 for invcNo 13")
	}
	if _, err := etims.ReceiptOf(req, []byte(oscuSave), seller, etims.Device{}, etims.Sandbox); err == nil {
		t.Error("a receipt without an SCU ID")
	}
}

func mustBuild(t *testing.T) *etims.SaleRequest {
	t.Helper()
	r, err := etims.BuildSale(sampleSale(), etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-1", IssuedAt: nairobi("2026-01-15 10:30:00")})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

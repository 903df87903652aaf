package tlv_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/stampingtest"
	"github.com/egsd/egsd/stamping/tlv"
)

// samplesDir is the ZATCA SDK sample invoices in the shared directory (see
// stampingtest); tests that need them skip when they are absent.
func samplesDir(t *testing.T) string {
	t.Helper()
	return filepath.Dir(stampingtest.Path(t, "zatca", "samples", "simplified_invoice.xml"))
}

var (
	reQR = regexp.MustCompile(`(?s)<cac:AdditionalDocumentReference>\s*<cbc:ID>QR</cbc:ID>.*?<cbc:EmbeddedDocumentBinaryObject[^>]*>([^<]*)<`)
	// The invoice's own digest is the Reference with Id invoiceSignedData.
	reDigest    = regexp.MustCompile(`(?s)<ds:Reference Id="invoiceSignedData".*?<ds:DigestValue>([^<]*)<`)
	reSigValue  = regexp.MustCompile(`<ds:SignatureValue>([^<]*)<`)
	reCert      = regexp.MustCompile(`<ds:X509Certificate>([^<]*)<`)
	reSeller    = regexp.MustCompile(`(?s)<cac:AccountingSupplierParty>.*?<cbc:RegistrationName>([^<]*)<`)
	reSellerVAT = regexp.MustCompile(`(?s)<cac:AccountingSupplierParty>.*?<cac:PartyTaxScheme>\s*<cbc:CompanyID>([^<]*)<`)
	reIssueDate = regexp.MustCompile(`<cbc:IssueDate>([^<]*)<`)
	reIssueTime = regexp.MustCompile(`<cbc:IssueTime>([^<]*)<`)
	rePayable   = regexp.MustCompile(`<cbc:PayableAmount[^>]*>([^<]*)<`)
	reTaxTotal  = regexp.MustCompile(`(?s)<cac:TaxTotal>\s*<cbc:TaxAmount[^>]*>([^<]*)</cbc:TaxAmount>\s*</cac:TaxTotal>`)
)

func find(t *testing.T, re *regexp.Regexp, doc []byte, what string) string {
	t.Helper()
	m := re.FindSubmatch(doc)
	if m == nil {
		t.Fatalf("no %s in the sample", what)
	}
	return string(m[1])
}

// TestConformanceSampleQR decodes the QR of every SDK sample and checks
// each tag against the rest of the document (spec/zatca.md §3.2, §7.3).
func TestConformanceSampleQR(t *testing.T) {
	dir := samplesDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil || len(files) != 10 {
		t.Fatalf("want the 10 SDK samples in %s, found %d (%v)", dir, len(files), err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			doc, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			qr := strings.TrimSpace(find(t, reQR, doc, "QR"))
			raw, err := base64.StdEncoding.DecodeString(qr)
			if err != nil {
				t.Fatal(err)
			}
			fields, err := tlv.DecodeBase64(qr)
			if err != nil {
				t.Fatalf("DecodeBase64: %v", err)
			}
			again, err := tlv.Encode(fields)
			if err != nil || !bytes.Equal(again, raw) {
				t.Errorf("Encode(Decode(qr)) differs from the QR (err %v)", err)
			}
			if s, _ := tlv.EncodeBase64(fields); s != qr {
				t.Error("EncodeBase64(DecodeBase64(qr)) differs from the QR text")
			}

			c, err := cert.ParseBase64(find(t, reCert, doc, "ds:X509Certificate"))
			if err != nil {
				t.Fatal(err)
			}
			want := [][]byte{
				[]byte(find(t, reSeller, doc, "seller RegistrationName")),
				[]byte(find(t, reSellerVAT, doc, "seller VAT")),
				[]byte(find(t, reIssueDate, doc, "IssueDate") + "T" + find(t, reIssueTime, doc, "IssueTime")),
				[]byte(find(t, rePayable, doc, "PayableAmount")),
				[]byte(find(t, reTaxTotal, doc, "TaxTotal without subtotals")),
				[]byte(find(t, reDigest, doc, "invoice DigestValue")),
				[]byte(find(t, reSigValue, doc, "SignatureValue")),
				c.PublicKeyDER,
				c.Signature,
			}
			// Simplified documents carry tags 1–9, standard ones 1–8.
			if strings.HasPrefix(name, "standard") {
				want = want[:8]
			}
			if len(fields) != len(want) {
				t.Fatalf("QR has %d fields, want %d", len(fields), len(want))
			}
			for i, f := range fields {
				if f.Tag != byte(i+1) {
					t.Errorf("field %d has tag %d, want %d", i, f.Tag, i+1)
				}
				if !bytes.Equal(f.Value, want[i]) {
					t.Errorf("tag %d = %q, want %q", f.Tag, f.Value, want[i])
				}
			}
		})
	}
}

// TestConformanceSimplifiedInvoiceQR pins the values spec/zatca.md §7.3
// gives for Simplified_Invoice.xml.
func TestConformanceSimplifiedInvoiceQR(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(samplesDir(t), "simplified_invoice.xml"))
	if err != nil {
		t.Fatal(err)
	}
	qr := strings.TrimSpace(find(t, reQR, doc, "QR"))
	if len(qr) != 632 {
		t.Errorf("QR text is %d characters, spec/zatca.md §7.3 says 632", len(qr))
	}
	fields, err := tlv.DecodeBase64(qr)
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != 9 {
		t.Fatalf("QR has %d fields, want 9", len(fields))
	}
	want := map[byte]string{
		2: "399999999900003",
		3: "2022-08-17T17:41:08",
		4: "231.15",
		5: "30.15",
		6: "z5F9qsS6oWyDhehD8u8S0DaxV+2CUiUz9Y+UsR61JgQ=",
	}
	for _, f := range fields {
		if w, ok := want[f.Tag]; ok && string(f.Value) != w {
			t.Errorf("tag %d = %q, want %q", f.Tag, f.Value, w)
		}
	}
	if n := len(fields[0].Value); n != 111 {
		t.Errorf("tag 1 is %d bytes, spec/zatca.md §7.3 says 111", n)
	}
	if n := len(fields[7].Value); n != 88 {
		t.Errorf("tag 8 is %d bytes, want 88", n)
	}
	if n := len(fields[8].Value); n < 70 || n > 72 {
		t.Errorf("tag 9 is %d bytes, want 70–72", n)
	}
}

package zatca

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/sale"
)

// sdkRegime is a Phase 2 regime that signs with the ZATCA SDK's test key
// and certificate (../shared/zatca/testkeys), whose VAT number is the
// fixture seller's.
func sdkRegime(t testing.TB) stamping.Regime {
	t.Helper()
	keys := filepath.Join(filepath.Dir(zatcaSamples(t)), "testkeys")
	der, err := os.ReadFile(filepath.Join(keys, "key_pkcs8.der"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := keystore.ParsePKCS8DER(der)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(filepath.Join(keys, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewWithKey(fxSeller(), fxOpts, key, pem)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// stampChain stamps every shape in order as one chain from the genesis.
func stampChain(t testing.TB, r stamping.Regime, shapes []ublShape) []stamping.Document {
	t.Helper()
	prev := r.GenesisHash()
	var docs []stamping.Document
	for i, sh := range shapes {
		if err := r.Validate(sh.sale); err != nil {
			t.Fatalf("%s: Validate: %v", sh.name, err)
		}
		slot := fxSlot(uint64(i + 1))
		slot.PrevHash = prev
		doc, err := r.Stamp(slot, sh.sale)
		if err != nil {
			t.Fatalf("%s: Stamp: %v", sh.name, err)
		}
		docs = append(docs, doc)
		prev = doc.Hash
	}
	return docs
}

// TestStampedDocumentsVerify stamps every document shape with the SDK test
// key as one chain; each verifies (hash, signature, digests, QR), the chain
// verifies, and the generic C14N hash equals the fast path's.
func TestStampedDocumentsVerify(t *testing.T) {
	r := sdkRegime(t)
	shapes := ublShapes()
	docs := stampChain(t, r, shapes)
	var verified []*Verified
	for i, d := range docs {
		v, err := Verify(d.Bytes)
		if err != nil {
			t.Fatalf("%s: Verify: %v", shapes[i].name, err)
		}
		if v.Hash != d.Hash || v.ICV != uint64(i+1) {
			t.Errorf("%s: verified hash %s ICV %d; stamped hash %s ICV %d", shapes[i].name, v.Hash, v.ICV, d.Hash, i+1)
		}
		if h, err := r.Rehash(d.Bytes); err != nil || h != d.Hash {
			t.Errorf("%s: Rehash = %s, %v; Stamp hashed %s", shapes[i].name, h, err, d.Hash)
		}
		verified = append(verified, v)
	}
	if err := VerifyChain(verified); err != nil {
		t.Fatal(err)
	}
	if verified[0].PIH != genesisHash {
		t.Errorf("first PIH = %s, want the genesis %s", verified[0].PIH, genesisHash)
	}
	// Out of order, the chain check fails.
	verified[1], verified[2] = verified[2], verified[1]
	if err := VerifyChain(verified); err == nil {
		t.Error("VerifyChain accepted documents out of order")
	}
}

// tamper returns doc with the first match of re replaced by repl.
func tamper(t *testing.T, doc []byte, re, repl string) []byte {
	t.Helper()
	rx := regexp.MustCompile(re)
	loc := rx.FindIndex(doc)
	if loc == nil {
		t.Fatalf("nothing to tamper with: %s", re)
	}
	return bytes.Join([][]byte{doc[:loc[0]], rx.ReplaceAll(doc[loc[0]:loc[1]], []byte(repl)), doc[loc[1]:]}, nil)
}

// TestVerifySDKSamples: every SDK sample verifies, and tampered copies fail
// for the right reason.
func TestVerifySDKSamples(t *testing.T) {
	dir := zatcaSamples(t)
	for _, v := range sampleVectors(t) {
		t.Run(v.file, func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join(dir, v.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Verify(doc)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Hash != v.invoiceHash || got.ICV == 0 || got.PIH != genesisHash {
				t.Errorf("Verify = %+v; want hash %s", got, v.invoiceHash)
			}
			for _, c := range []struct{ name, re, repl, want string }{
				{"amount changed", `(<cbc:PayableAmount currencyID="[A-Z]+">)[0-9]`, `${1}9`, "invoice hash mismatch"},
				{"QR changed", `<cbc:ID>QR</cbc:ID>\s*<cac:Attachment>\s*<cbc:EmbeddedDocumentBinaryObject mimeCode="text/plain">A`, "${0}B", "QR"},
				{"signature changed", `<ds:SignatureValue>M`, `<ds:SignatureValue>N`, "signature"},
				{"signing time changed", `<xades:SigningTime>2`, `<xades:SigningTime>1`, "SignedProperties digest"},
			} {
				if _, err := Verify(tamper(t, doc, c.re, c.repl)); err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: Verify = %v, want an error about %q", c.name, err, c.want)
				}
			}
		})
	}
}

// TestQRReproducesSDKSamples builds each sample's QR from its XML values,
// invoice hash, signature and certificate, and requires it byte for byte.
func TestQRReproducesSDKSamples(t *testing.T) {
	dir := zatcaSamples(t)
	for _, v := range sampleVectors(t) {
		raw, err := os.ReadFile(filepath.Join(dir, v.file))
		if err != nil {
			t.Fatal(err)
		}
		doc := string(raw)
		c, err := cert.ParseBase64(textOf(t, doc, "ds:X509Certificate"))
		if err != nil {
			t.Fatal(err)
		}
		sellerParty := doc[strings.Index(doc, "<cac:AccountingSupplierParty>"):]
		bareVAT := regexp.MustCompile(`<cac:TaxTotal>\s*<cbc:TaxAmount currencyID="SAR">([^<]*)</cbc:TaxAmount>\s*</cac:TaxTotal>`).FindStringSubmatch(doc)
		if bareVAT == nil {
			t.Fatalf("%s: no TaxTotal without subtotals in SAR", v.file)
		}
		q := &QR{
			SellerName:  textOf(t, sellerParty, "cbc:RegistrationName"),
			VATNumber:   textOf(t, sellerParty, "cbc:CompanyID"),
			Timestamp:   textOf(t, doc, "cbc:IssueDate") + "T" + textOf(t, doc, "cbc:IssueTime"),
			Total:       textOf(t, doc, "cbc:PayableAmount"),
			VATTotal:    bareVAT[1],
			InvoiceHash: v.invoiceHash, SignatureValue: textOf(t, doc, "ds:SignatureValue"),
			PublicKey: c.PublicKeyDER, CertificateSignature: c.Signature,
		}
		got, err := q.Encode(true, strings.HasPrefix(v.typeName, "02"))
		if err != nil {
			t.Fatal(err)
		}
		want := regexp.MustCompile(`<cbc:ID>QR</cbc:ID>\s*<cac:Attachment>\s*<cbc:EmbeddedDocumentBinaryObject mimeCode="text/plain">([^<]*)<`).FindStringSubmatch(doc)
		if want == nil || got != want[1] {
			t.Errorf("%s: QR differs from the sample's", v.file)
		}
	}
}

// Phase 1 documents carry QR tags 1–5 and no stamp.
func TestPhase1(t *testing.T) {
	r, err := New(stamping.Config{Seller: fxSeller(), Decode: func(v any) error {
		v.(*RegimeOptions).Phase = 1
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(fxSale()); err != nil {
		t.Fatal(err)
	}
	d, err := r.Stamp(fxSlot(1), fxSale())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(d.Bytes, []byte("<ext:UBLExtensions>")) {
		t.Error("a Phase 1 document carries a signature block")
	}
	m := regexp.MustCompile(`<cbc:ID>QR</cbc:ID>\s*<cac:Attachment>\s*<cbc:EmbeddedDocumentBinaryObject mimeCode="text/plain">([^<]*)<`).FindSubmatch(d.Bytes)
	if m == nil {
		t.Fatal("no QR")
	}
	q, err := DecodeQR(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if q.VATNumber != "399999999900003" || q.Timestamp != "2022-08-17T17:41:08" || q.Total != "231.15" || q.VATTotal != "30.15" || q.InvoiceHash != "" || q.PublicKey != nil {
		t.Errorf("Phase 1 QR = %+v", q)
	}
	if h, err := r.Rehash(d.Bytes); err != nil || h != d.Hash {
		t.Errorf("Rehash = %s, %v; want %s", h, err, d.Hash)
	}
}

// A Phase 2 unit without a certificate refuses to issue, saying why.
func TestPhase2NeedsCertificate(t *testing.T) {
	dir := t.TempDir()
	r, err := New(stamping.Config{Seller: fxSeller(), DataDir: dir, Decode: func(any) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(dir, "zatca", "stamping-key.pem")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("stamping key not created 0600: %v %v", info, err)
	}
	err = r.Validate(fxSale())
	if err == nil || !strings.Contains(err.Error(), "onboard") {
		t.Fatalf("Validate without a certificate = %v, want a not-ready error", err)
	}
	// A certificate for another key is refused at start.
	keys := filepath.Join(filepath.Dir(zatcaSamples(t)), "testkeys")
	pem, _ := os.ReadFile(filepath.Join(keys, "cert.pem"))
	os.WriteFile(filepath.Join(dir, "zatca", "certificate.pem"), pem, 0o600)
	if _, err := New(stamping.Config{Seller: fxSeller(), DataDir: dir, Decode: func(any) error { return nil }}); err == nil || !strings.Contains(err.Error(), "not for this unit's stamping key") {
		t.Fatalf("New with a foreign certificate = %v", err)
	}
}

// BenchmarkStamp is the whole per-document cost inside the issue
// transaction: build, canonical hash (no re-parse), ECDSA signature, XAdES
// block, QR and assembly, for 3, 10 and 100 lines, and for 10 lines each
// with a discount and the document with a discount and a charge.
func BenchmarkStamp(b *testing.B) {
	r := sdkRegime(b)
	sales := map[string]*sale.Sale{}
	var names []string
	for _, n := range []int{3, 10, 100} {
		name := fmt.Sprintf("lines=%d", n)
		sales[name], names = benchSale(n), append(names, name)
	}
	sales["lines=10-discounted"], names = benchDiscountedSale(10), append(names, "lines=10-discounted")
	for _, name := range names {
		s := sales[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				d, err := r.Stamp(fxSlot(1), s)
				if err != nil {
					b.Fatal(err)
				}
				size = len(d.Bytes)
			}
			b.ReportMetric(float64(size), "doc-bytes")
		})
	}
}

// A Phase 2 unit must have each document reported within 24 hours; a
// Phase 1 unit sends nothing, so it has no deadline.
func TestDeliveryDeadline(t *testing.T) {
	phase2, err := New(stamping.Config{Seller: fxSeller(), DataDir: t.TempDir(), Decode: func(any) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	phase1, err := New(stamping.Config{Seller: fxSeller(), Decode: func(v any) error {
		v.(*RegimeOptions).Phase = 1
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		r    stamping.Regime
		want time.Duration
	}{{"phase 2", phase2, 24 * time.Hour}, {"phase 1", phase1, 0}} {
		d, ok := c.r.(stamping.Deadlined)
		if !ok {
			t.Fatalf("%s: the regime does not say its delivery deadline", c.name)
		}
		if got := d.DeliveryDeadline(); got != c.want {
			t.Errorf("%s: DeliveryDeadline() = %v, want %v", c.name, got, c.want)
		}
	}
}

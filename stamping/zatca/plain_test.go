package zatca

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/keystore"
)

// ownKeyRegime is a Phase 2 regime with a key made for the test and a
// certificate it signs itself: documents signed as a unit signs them,
// without the SDK's test keys.
func ownKeyRegime(t testing.TB) stamping.Regime {
	t.Helper()
	key, err := keystore.Create(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	der, err := cert.Create(cert.Template{
		SerialNumber: big.NewInt(4242), Issuer: []cert.Attribute{{Type: cert.OIDCommonName, Value: "Test CA"}},
		Subject:   []cert.Attribute{{Type: cert.OIDCommonName, Value: "EGS-TEST-0001"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		PublicKeyDER: key.PublicKeyDER(),
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewWithKey(fxSeller(), fxOpts, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// plainSamples are documents of every shape egsd stamps, signed, and the
// UBL goldens.
func plainSamples(t testing.TB) [][]byte {
	var docs [][]byte
	for _, d := range stampChain(t, ownKeyRegime(t), ublShapes()) {
		docs = append(docs, d.Bytes)
	}
	goldens, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldens {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b)
	}
	return docs
}

// checkPlain fails unless readPlain, where it reads doc, reads what
// encoding/xml reads: the same view and the same invoice hash, without an
// error. It reports whether readPlain read doc.
func checkPlain(t *testing.T, what string, doc []byte) bool {
	t.Helper()
	_, v, hash, err := readPlain(doc)
	if err == errNotPlain {
		return false
	}
	if err != nil {
		t.Fatalf("%s: readPlain: %v, want nil or errNotPlain", what, err)
	}
	xr, xv, xerr := readXML(doc)
	if xerr != nil {
		t.Fatalf("%s: read plainly, but encoding/xml fails: %v\n%q", what, xerr, doc)
	}
	if !reflect.DeepEqual(v, xv) {
		t.Fatalf("%s: plain view %+v\nencoding/xml %+v\n%q", what, v, xv, doc)
	}
	_, xhash, herr := xr.invoiceHash()
	if herr != nil || xhash != hash {
		t.Fatalf("%s: plain hash %s, encoding/xml's %s, %v\n%q", what, hash, xhash, herr, doc)
	}
	return true
}

// TestVerifyReadsStampedDocumentsPlainly: every shape of document egsd
// stamps takes Verify's fast reading, with the view and hash encoding/xml
// reads.
func TestVerifyReadsStampedDocumentsPlainly(t *testing.T) {
	for i, doc := range plainSamples(t) {
		if !checkPlain(t, fmt.Sprint("sample ", i), doc) {
			t.Errorf("sample %d is not read plainly", i)
		}
	}
}

// TestPlainReadingMatchesXML: documents whose shape differs from egsd's in
// what encoding/xml's matching of fields depends on are read plainly with
// the same outcome, or left to encoding/xml.
func TestPlainReadingMatchesXML(t *testing.T) {
	for _, doc := range plainVariantBases(t) {
		plain := 0
		variants := plainVariants(doc)
		for _, m := range variants {
			if checkPlain(t, m.what, m.doc) {
				plain++
			}
		}
		// Many variants are read plainly; otherwise this test would prove
		// little about the plain reading.
		if plain < len(variants)/2 {
			t.Errorf("only %d of %d variants were read plainly", plain, len(variants))
		}
	}
}

// plainVariantBases are the signed documents the variants edit: a plain
// invoice, and one with allowances and charges at every level, a price
// allowance and a rounding amount.
func plainVariantBases(t testing.TB) [][]byte {
	samples := plainSamples(t)
	i := slices.IndexFunc(ublShapes(), func(sh ublShape) bool { return sh.name == "discounts_everything" })
	if i < 0 {
		t.Fatal("no discounts_everything shape")
	}
	return [][]byte{samples[0], samples[i]}
}

type plainVariant struct {
	what string
	doc  []byte
}

func plainVariants(doc []byte) []plainVariant {
	var vs []plainVariant
	replace := func(what, old, repl string, n int) {
		if bytes.Contains(doc, []byte(old)) {
			vs = append(vs, plainVariant{what, bytes.Replace(doc, []byte(old), []byte(repl), n)})
		}
	}
	// edit replaces the first of each old, new pair in turn.
	edit := func(what string, pairs ...string) {
		d := doc
		for i := 0; i < len(pairs); i += 2 {
			if !bytes.Contains(d, []byte(pairs[i])) {
				return
			}
			d = bytes.Replace(d, []byte(pairs[i]), []byte(pairs[i+1]), 1)
		}
		vs = append(vs, plainVariant{what, d})
	}
	replace("a second ID", "<cbc:UUID>", "<cbc:ID>SECOND</cbc:ID><cbc:UUID>", 1)
	replace("an empty ID", "<cbc:UUID>", "<cbc:ID/><cbc:UUID>", 1)
	replace("ID split by an element", "</cbc:IssueDate>", "</cbc:IssueDate><cbc:IssueTime>1<x:y xmlns:x=\"urn:x\">2</x:y>3</cbc:IssueTime>", 1)
	replace("a second type code without a name", "<cbc:DocumentCurrencyCode>", "<cbc:InvoiceTypeCode>381</cbc:InvoiceTypeCode><cbc:DocumentCurrencyCode>", 1)
	replace("type code name in another space", `<cbc:InvoiceTypeCode name="`, `<cbc:InvoiceTypeCode xmlns:n="urn:n" n:name="X" name="`, 1)
	replace("type code name declared as a prefix", `<cbc:InvoiceTypeCode name="`, `<cbc:InvoiceTypeCode xmlns:name="urn:n" name="`, 1)
	replace("type code name last", `<cbc:InvoiceTypeCode name="`, `<cbc:InvoiceTypeCode xmlns:n="urn:n" n:name="X" name="Y" n:name2="`, 1)
	replace("entities in a value", "<cbc:IssueTime>", "<cbc:IssueTime>&lt;&amp;&gt;&apos;&quot;", 1)
	replace("text beyond ASCII", "<cbc:IssueTime>", "<cbc:IssueTime>ساعة ", 1)
	replace("a reference in another space", "<cac:AdditionalDocumentReference>", "<x:AdditionalDocumentReference xmlns:x=\"urn:x\"><cbc:ID>ICV</cbc:ID><cbc:UUID>9</cbc:UUID></x:AdditionalDocumentReference><cac:AdditionalDocumentReference>", 1)
	replace("a reference without a prefix", "<cac:AdditionalDocumentReference>", "<AdditionalDocumentReference xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2\"><ID xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2\">ICV</ID></AdditionalDocumentReference><cac:AdditionalDocumentReference>", 1)
	replace("prefix rebound for the body", "<cac:AccountingSupplierParty>", "<cac:AccountingSupplierParty xmlns:cac=\"urn:x\">", 1)
	replace("a second seller", "<cac:AccountingCustomerParty>", "<cac:AccountingSupplierParty><cac:Party><cac:PartyTaxScheme><cbc:CompanyID>300000000000003</cbc:CompanyID></cac:PartyTaxScheme></cac:Party></cac:AccountingSupplierParty><cac:AccountingCustomerParty>", 1)
	replace("a second party in the seller", "</cac:AccountingSupplierParty>", "<cac:Party><cac:PartyLegalEntity><cbc:RegistrationName>Other</cbc:RegistrationName></cac:PartyLegalEntity></cac:Party></cac:AccountingSupplierParty>", 1)
	replace("path element in another space", "<cac:PartyTaxScheme>", "<x:PartyTaxScheme xmlns:x=\"urn:x\"><cbc:CompanyID>1</cbc:CompanyID></x:PartyTaxScheme><cac:PartyTaxScheme>", 1)
	replace("a second signed info", "<ds:SignatureValue>", "<ds:SignedInfo><ds:Reference Id=\"invoiceSignedData\"><ds:DigestValue>X</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>", 1)
	replace("a second signature value", "</ds:SignatureValue>", "</ds:SignatureValue><ds:SignatureValue>again</ds:SignatureValue>", 1)
	replace("a tax subtotal in the totals", "<cac:TaxTotal>", "<cac:TaxTotal><cac:TaxSubtotal/>", 1)
	replace("currency attribute in another space", `<cbc:TaxAmount currencyID="`, `<cbc:TaxAmount xmlns:c="urn:c" c:currencyID="USD" currencyID="`, 1)
	replace("payable nested deeper", "<cbc:PayableAmount", "<x><cbc:PayableAmount>1</cbc:PayableAmount></x><cbc:PayableAmount", 1)
	replace("a payable amount in an allowance", "<cbc:ChargeIndicator>", "<cbc:PayableAmount>9.99</cbc:PayableAmount><cbc:ChargeIndicator>", 1)
	replace("a tax total in an allowance", "<cbc:ChargeIndicator>", `<cac:TaxTotal><cbc:TaxAmount currencyID="SAR">1.00</cbc:TaxAmount></cac:TaxTotal><cbc:ChargeIndicator>`, 1)
	replace("a legal monetary total in a price", "<cac:Price>", "<cac:Price><cac:LegalMonetaryTotal><cbc:PayableAmount>1</cbc:PayableAmount></cac:LegalMonetaryTotal>", 1)
	replace("allowances before the payment means", "<cac:PaymentMeans>", "<cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator></cac:AllowanceCharge><cac:PaymentMeans>", 1)
	replace("a rounding amount after the payable", "</cbc:PayableAmount>", `</cbc:PayableAmount><cbc:PayableRoundingAmount currencyID="SAR">-0.01</cbc:PayableRoundingAmount><cbc:PayableAmount currencyID="SAR">5.00</cbc:PayableAmount>`, 1)
	edit("cbc bound to another prefix", "<cbc:UUID>", `<b:UUID xmlns:b="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">`, "</cbc:UUID>", "</b:UUID>")
	edit("UUID in no namespace", "<cbc:UUID>", `<UUID xmlns="">`, "</cbc:UUID>", "</UUID>")
	edit("UUID in the default namespace", "<cbc:UUID>", `<UUID xmlns="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">`, "</cbc:UUID>", "</UUID>")
	edit("the document element in another prefix", `<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"`,
		`<inv:Invoice xmlns:inv="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"`, "</Invoice>", "</inv:Invoice>")
	replace("an element named xmlns", "<cbc:UUID>", "<xmlns/><cbc:UUID>", 1)
	replace("an element in the xml prefix", "<cbc:UUID>", "<xml:x/><cbc:UUID>", 1)
	replace("single quotes", `name="`, `name='0200000' x="`, 1)
	replace("white space in tags", "<cbc:UUID>", "<cbc:UUID \n\t>", 1)
	// What the plain reading leaves to encoding/xml, which refuses some.
	replace("]]> in text", "<cbc:IssueTime>", "<cbc:IssueTime>]]>", 1)
	replace("]] > in text", "<cbc:IssueTime>", "<cbc:IssueTime>]]&gt;]>", 1)
	replace("a control character", "<cbc:IssueTime>", "<cbc:IssueTime>\x01", 1)
	replace("a control character in a value", `name="`, "name=\"\x1f", 1)
	replace("a NUL", "<cbc:IssueTime>", "<cbc:IssueTime>\x00", 1)
	replace("DEL", "<cbc:IssueTime>", "<cbc:IssueTime>\x7f", 1)
	replace("a character reference", "<cbc:IssueTime>", "<cbc:IssueTime>&#x41;", 1)
	replace("an unknown entity", "<cbc:IssueTime>", "<cbc:IssueTime>&nbsp;", 1)
	replace("an entity without a semicolon", "<cbc:IssueTime>", "<cbc:IssueTime>&amp", 1)
	replace("invalid UTF-8", "<cbc:IssueTime>", "<cbc:IssueTime>\xc3(", 1)
	replace("U+FFFE", "<cbc:IssueTime>", "<cbc:IssueTime>\uFFFE", 1)
	replace("< in a value", `name="`, `name="<`, 1)
	replace("a comment", "<cbc:IssueTime>", "<cbc:IssueTime><!-- c -->", 1)
	replace("CDATA", "<cbc:IssueTime>", "<cbc:IssueTime><![CDATA[x]]>", 1)
	replace("a processing instruction", "<cbc:IssueTime>", "<cbc:IssueTime><?pi x?>", 1)
	replace("a name beyond ASCII", "<cbc:IssueTime>", "<cbc:IssueTime><cbc:Zeit\u00e4/>", 1)
	replace("a colon at the end of a name", "<cbc:IssueTime>", "<cbc:IssueTime><cbc:/>", 1)
	replace("two colons in a name", "<cbc:IssueTime>", "<cbc:IssueTime><cbc:a:b/>", 1)
	replace("a name starting with a digit", "<cbc:IssueTime>", "<cbc:IssueTime><cbc:1a/>", 1)
	replace("attributes not separated", `name="`, `a="1"name="`, 1)
	replace("an unquoted value", `name="`, `a=1 name="`, 1)
	replace("another XML declaration", `<?xml version="1.0" encoding="UTF-8"?>`, `<?xml version="1.0" encoding="utf-8"?>`, 1)
	replace("a declaration of version 1.1", `<?xml version="1.0"`, `<?xml version="1.1"`, 1)
	vs = append(vs,
		plainVariant{"trailing white space", append(bytes.Clone(doc), "\n \t\n"...)},
		plainVariant{"truncated", doc[:len(doc)/2]},
		plainVariant{"truncated in a tag", doc[:bytes.Index(doc, []byte("<cbc:UUID"))+5]},
		plainVariant{"trailing element", append(bytes.Clone(doc), "<x/>"...)},
		plainVariant{"trailing text", append(bytes.Clone(doc), "x"...)},
		plainVariant{"stray end tag", bytes.Replace(doc, []byte("</cbc:UUID>"), []byte("</cbc:UUID></cbc:X>"), 1)},
		plainVariant{"mismatched end tag", bytes.Replace(doc, []byte("</cbc:UUID>"), []byte("</cbc:UUI>"), 1)},
	)
	return vs
}

// TestPlainReadingMatchesXMLUnderMutation edits a signed document at
// random (a fixed seed: the same edits every run), a few bytes replaced,
// dropped or inserted at a time, and compares the plain reading with
// encoding/xml's on each.
func TestPlainReadingMatchesXMLUnderMutation(t *testing.T) {
	bases := plainVariantBases(t)
	rng := rand.New(rand.NewPCG(23, 2026))
	n := 3000
	if testing.Short() {
		n = 500
	}
	const markup = "<>/&;:\"'= x]!?-"
	plain := 0
	for i := range n {
		d := bytes.Clone(bases[i%len(bases)])
		for range 1 + rng.IntN(3) {
			j := rng.IntN(len(d))
			switch rng.IntN(3) {
			case 0:
				d[j] = markup[rng.IntN(len(markup))]
			case 1:
				d = append(d[:j], d[j+1:]...)
			default:
				d = slices.Insert(d, j, markup[rng.IntN(len(markup))])
			}
		}
		if checkPlain(t, "mutated", d) {
			plain++
		}
	}
	if plain == 0 {
		t.Error("no mutated document was read plainly")
	}
}

func FuzzPlainReadingMatchesXML(f *testing.F) {
	for _, doc := range plainVariantBases(f) {
		f.Add(doc)
		for _, v := range plainVariants(doc) {
			f.Add(v.doc)
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkPlain(t, "fuzzed", doc)
	})
}

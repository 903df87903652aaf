package zatcasim

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/zatca"
)

// checkVerifyMatchesReference fails unless zatca.Verify and verifyReference
// return the same for doc: what they read, the hash, and the same error.
func checkVerifyMatchesReference(t *testing.T, what string, doc []byte) {
	t.Helper()
	got, err := zatca.Verify(doc)
	want, wantErr := verifyReference(doc)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("%s: Verify error %v, before %v\n%q", what, err, wantErr, doc)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: Verify = %+v, before %+v\n%q", what, got, want, doc)
	}
}

// verifySamples are signed documents of every kind, and a simplified
// invoice with a declaration, a comment and a processing instruction.
func verifySamples(tb testing.TB) [][]byte {
	h := newHarness(tb, nil)
	u := h.ready("1100")
	var docs [][]byte
	for _, k := range allKinds {
		docs = append(docs, u.stamp(k.kind, k.standard).Bytes)
	}
	d := u.stamp(sale.Invoice, false).Bytes
	docs = append(docs, append([]byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c -->\n"), bytes.TrimPrefix(d, []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"))...))
	return docs
}

// TestVerifyMatchesReference: Verify, which tokenises a document once for
// the view it decodes and for the invoice hash, answers as it did when it
// decoded the document and then hashed it, for signed documents and for
// every way of breaking them tried here: edits of the signed content,
// truncation at any point, stray markup in and around the excluded
// elements, and syntax errors inside and after the document element.
func TestVerifyMatchesReference(t *testing.T) {
	samples := verifySamples(t)
	for i, doc := range samples {
		checkVerifyMatchesReference(t, fmt.Sprint("sample ", i), doc)
		every := 997 // byte replaced every so many bytes
		if i == 0 {
			every = 97
		}
		for _, m := range verifyMutations(doc, every) {
			checkVerifyMatchesReference(t, fmt.Sprintf("sample %d, %s", i, m.what), m.doc)
		}
		// Cut finely in the first document and the last (with its
		// prolog), coarsely in the others.
		step := 101
		if i == 0 || i == len(samples)-1 {
			step = 7
		}
		if testing.Short() {
			step *= 5
		}
		for n := 0; n < len(doc); n += step {
			checkVerifyMatchesReference(t, fmt.Sprintf("sample %d cut at %d", i, n), doc[:n])
		}
	}
}

type verifyMutation struct {
	what string
	doc  []byte
}

func verifyMutations(doc []byte, every int) []verifyMutation {
	var ms []verifyMutation
	replace := func(what, old, repl string, n int) {
		if bytes.Contains(doc, []byte(old)) {
			ms = append(ms, verifyMutation{what, bytes.Replace(doc, []byte(old), []byte(repl), n)})
		}
	}
	replace("end tag mismatch in the extensions", "</ds:SignatureValue>", "</ds:SignatureValu>", 1)
	replace("end tag in another space", "</ds:SignatureValue>", "</xades:SignatureValue>", 1)
	replace("end tag mismatch in the body", "</cbc:IssueDate>", "</cbc:IssueDat>", 1)
	replace("end tag in no space", "</cbc:IssueDate>", "</IssueDate>", 1)
	replace("stray end tag", "</cbc:IssueDate>", "</cbc:IssueDate></cbc:X>", 1)
	replace("undeclared prefix in the extensions", "<ds:SignatureValue>", "<zz:SignatureValue>", 1)
	replace("undeclared prefix in the body", "<cbc:IssueDate>", "<zz:IssueDate>", 1)
	replace("undeclared prefix on both tags", "cbc:IssueDate>", "zz:IssueDate>", 2)
	replace("doctype", "<Invoice", "<!DOCTYPE Invoice><Invoice", 1)
	replace("entity", "<cbc:IssueDate>", "<cbc:IssueDate>&nbsp;", 1)
	replace("bad character reference", "<cbc:IssueDate>", "<cbc:IssueDate>&#0;", 1)
	replace("CDATA", "<cbc:IssueDate>", "<cbc:IssueDate><![CDATA[x]]>", 1)
	replace("comment in the QR", "<cbc:ID>QR</cbc:ID>", "<cbc:ID>Q<!---->R</cbc:ID>", 1)
	replace("QR split by an element", "<cbc:ID>QR</cbc:ID>", "<cbc:ID>Q<b>x</b>R</cbc:ID>", 1)
	replace("two IDs", "<cbc:ID>QR</cbc:ID>", "<cbc:ID>QR</cbc:ID><cbc:ID>X</cbc:ID>", 1)
	replace("second type code", "<cbc:DocumentCurrencyCode>", "<cbc:InvoiceTypeCode>381</cbc:InvoiceTypeCode><cbc:DocumentCurrencyCode>", 1)
	replace("redeclared default namespace", "<cac:AccountingSupplierParty>", "<cac:AccountingSupplierParty xmlns=\"urn:x\">", 1)
	replace("prefix rebound", "<cac:AccountingSupplierParty>", "<cac:AccountingSupplierParty xmlns:cbc=\"urn:x\">", 1)
	replace("attribute without value", "<cbc:IssueDate>", "<cbc:IssueDate a>", 1)
	replace("duplicate attribute", "<cbc:IssueDate>", "<cbc:IssueDate a=\"1\" a=\"2\">", 1)
	// Around and inside the excluded elements, which Verify cuts from the
	// canonical form it writes as it reads.
	replace("CR before the extensions", "<ext:UBLExtensions>", "\r<ext:UBLExtensions>", 1)
	around := func(what, start, end, before, after string) {
		if i := bytes.Index(doc, []byte(start)); i >= 0 {
			j := i + bytes.Index(doc[i:], []byte(end)) + len(end)
			ms = append(ms, verifyMutation{what, slices.Concat(doc[:i], []byte(before), doc[i:j], []byte(after), doc[j:])})
		}
	}
	around("CR LF around the extensions", "<ext:UBLExtensions>", "</ext:UBLExtensions>", "\r", "\n")
	around("CR LF around the signature", "<cac:Signature>", "</cac:Signature>", "\r", "\n")
	around("CDATA end around the signature", "<cac:Signature>", "</cac:Signature>", "]]", ">")
	around("CR LF around the QR", "<cac:AdditionalDocumentReference>\n        <cbc:ID>QR</cbc:ID>", "</cac:AdditionalDocumentReference>", "\r", "\n")
	replace("bracket before the extensions", "<ext:UBLExtensions>", "]]<ext:UBLExtensions>", 1)
	replace("CR before the signature", "<cac:Signature>", "x\r<cac:Signature>", 1)
	replace("bracket split by the QR", "<cac:AdditionalDocumentReference>\n        <cbc:ID>QR</cbc:ID>", "]]<cac:AdditionalDocumentReference>\n        <cbc:ID>QR</cbc:ID>", 1)
	replace("relative namespace in the extensions", "<ext:UBLExtension>", "<ext:UBLExtension xmlns:r=\"rel\">", 1)
	replace("bad comment in the extensions", "<ext:UBLExtension>", "<ext:UBLExtension><!-- \x01 -->", 1)
	replace("bad name in the extensions", "<ext:UBLExtension>", "<ext:UBLExtension 1a=\"x\">", 1)
	replace("bad attribute in the QR", "<cbc:ID>QR</cbc:ID>", "<cbc:ID a=\"1\" a=\"2\">QR</cbc:ID>", 1)
	replace("bad attribute in a kept reference", "<cbc:ID>ICV</cbc:ID>", "<cbc:ID a=\"1\" a=\"2\">ICV</cbc:ID>", 1)
	replace("declaration repeated", "<ext:UBLExtensions>", "<ext:UBLExtensions xmlns:ext=\"urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2\">", 1)
	replace("extensions emptied", "<ext:UBLExtensions>", "<ext:UBLExtensions/><ext:UBLExtensions>", 1)
	replace("BOM", "<?xml", "\xef\xbb\xbf<?xml", 1)
	replace("PI in the extensions", "<ext:UBLExtension>", "<ext:UBLExtension><?pi x?>", 1)
	replace("text around the extensions", "<ext:UBLExtensions>", "a&amp;b<ext:UBLExtensions>", 1)
	ms = append(ms,
		verifyMutation{"trailing text", append(bytes.Clone(doc), "x"...)},
		verifyMutation{"trailing element", append(bytes.Clone(doc), "<Invoice/>"...)},
		verifyMutation{"trailing end tag", append(bytes.Clone(doc), "</Invoice>"...)},
		verifyMutation{"trailing comment", append(bytes.Clone(doc), "<!-- x -->"...)},
		verifyMutation{"trailing doctype", append(bytes.Clone(doc), "<!DOCTYPE x>"...)},
		verifyMutation{"trailing truncated tag", append(bytes.Clone(doc), "<"...)},
		verifyMutation{"trailing bad byte", append(bytes.Clone(doc), 0xff)},
		verifyMutation{"empty", nil},
		verifyMutation{"not XML", []byte("<Invoice>")},
	)
	// Single bytes replaced, at intervals through the document.
	for i := 0; i < len(doc); i += every {
		for _, c := range []byte("<>/\"&x ") {
			m := bytes.Clone(doc)
			m[i] = c
			ms = append(ms, verifyMutation{fmt.Sprintf("byte %d is %q", i, c), m})
		}
	}
	return ms
}

func FuzzVerifyMatchesReference(f *testing.F) {
	for _, doc := range verifySamples(f) {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkVerifyMatchesReference(t, "fuzzed", doc)
	})
}

package zatca

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/stampingtest"
)

// hashTestVector is one row of hashes.tsv: a sample and its invoice hash.
type hashTestVector struct {
	file, hash string
}

func hashTestVectors(t testing.TB) []hashTestVector {
	t.Helper()
	dir := zatcaSamples(t)
	f, err := os.Open(filepath.Join(dir, "hashes.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []hashTestVector
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		cols := strings.Split(sc.Text(), "\t")
		if first {
			if len(cols) < 4 || cols[0] != "file" || cols[3] != "invoice_hash" {
				t.Fatalf("hashes.tsv header %q: want file and invoice_hash in columns 1 and 4", cols)
			}
			continue
		}
		if len(cols) < 4 {
			t.Fatalf("hashes.tsv row %q: too few columns", sc.Text())
		}
		out = append(out, hashTestVector{file: filepath.Join(dir, cols[0]), hash: cols[3]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != 10 {
		t.Fatalf("hashes.tsv lists %d samples, want 10", len(out))
	}
	return out
}

func hashTestRead(t testing.TB, file string) []byte {
	t.Helper()
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

var hashTestSignedDigest = regexp.MustCompile(`(?s)<ds:Reference Id="invoiceSignedData"[^>]*>.*?<ds:DigestValue>([^<]*)</ds:DigestValue>`)

// hashTestRemoveTextually cuts the three excluded elements out of an SDK
// sample with plain string search, written against the samples' fixed
// prefixes, to check InvoiceHashInput's token scan against.
func hashTestRemoveTextually(t testing.TB, doc string) string {
	t.Helper()
	remove := func(doc, open, close string) string {
		i := strings.Index(doc, open)
		j := strings.Index(doc, close)
		if i < 0 || j < i || strings.Count(doc, open) != 1 {
			t.Fatalf("want exactly one %s…%s", open, close)
		}
		return doc[:i] + doc[j+len(close):]
	}
	doc = remove(doc, "<ext:UBLExtensions>", "</ext:UBLExtensions>")
	doc = remove(doc, "<cac:Signature>", "</cac:Signature>")
	qr := strings.Index(doc, "<cbc:ID>QR</cbc:ID>")
	if qr < 0 {
		t.Fatal("no QR AdditionalDocumentReference")
	}
	start := strings.LastIndex(doc[:qr], "<cac:AdditionalDocumentReference>")
	end := strings.Index(doc[qr:], "</cac:AdditionalDocumentReference>")
	if start < 0 || end < 0 {
		t.Fatal("QR AdditionalDocumentReference not delimited")
	}
	return doc[:start] + doc[qr+end+len("</cac:AdditionalDocumentReference>"):]
}

// TestConformanceInvoiceHash checks the invoice hash of each SDK sample
// against hashes.tsv and against the DigestValue the SDK signed.
func TestConformanceInvoiceHash(t *testing.T) {
	for _, v := range hashTestVectors(t) {
		t.Run(filepath.Base(v.file), func(t *testing.T) {
			doc := hashTestRead(t, v.file)
			m := hashTestSignedDigest.FindSubmatch(doc)
			if m == nil {
				t.Fatal("no invoiceSignedData DigestValue in the sample")
			}
			if string(m[1]) != v.hash {
				t.Fatalf("sample signs %s but hashes.tsv says %s", m[1], v.hash)
			}
			digest, b64, err := InvoiceHash(doc)
			if err != nil {
				t.Fatal(err)
			}
			if b64 != v.hash {
				t.Errorf("InvoiceHash = %s, want %s", b64, v.hash)
			}
			if base64.StdEncoding.EncodeToString(digest[:]) != b64 {
				t.Errorf("digest %x and base64 %s disagree", digest, b64)
			}
		})
	}
}

// TestInvoiceHashInputMatchesXmllint checks the hashed bytes themselves:
// the sample with the three elements cut out as text, canonicalised by
// xmllint (which is how spec/zatca.md §1.4 reproduced the SDK's hashes).
func TestInvoiceHashInputMatchesXmllint(t *testing.T) {
	for _, v := range hashTestVectors(t) {
		t.Run(filepath.Base(v.file), func(t *testing.T) {
			doc := hashTestRead(t, v.file)
			got, err := InvoiceHashInput(doc)
			if err != nil {
				t.Fatal(err)
			}
			ref, stderr, ok := c14nXmllint(t, []byte(hashTestRemoveTextually(t, string(doc))))
			if !ok {
				t.Fatalf("xmllint: %s", stderr)
			}
			if sum := sha256.Sum256(ref); base64.StdEncoding.EncodeToString(sum[:]) != v.hash {
				t.Fatalf("the test's own removal does not reproduce the SDK hash: the reference is wrong")
			}
			if !bytes.Equal(got, ref) {
				i := c14nFirstDiff(got, ref)
				t.Errorf("differs from xmllint at byte %d:\n    got …%q…\nxmllint …%q…", i, c14nAround(got, i), c14nAround(ref, i))
			}
		})
	}
}

// TestInvoiceHashCoverage changes a sample in one place at a time: the
// hash must change for anything it covers and stay for what BR-KSA-26
// excludes.
func TestInvoiceHashCoverage(t *testing.T) {
	doc := string(hashTestRead(t, filepath.Join(zatcaSamples(t), "simplified_invoice.xml")))
	_, orig, err := InvoiceHash([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	// replace swaps the one occurrence of old, so that a case cannot pass
	// by changing nothing.
	replace := func(old, new string) func(string) string {
		return func(s string) string {
			if strings.Count(s, old) != 1 {
				t.Fatalf("want exactly one %q in the sample, found %d", old, strings.Count(s, old))
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	for _, tc := range []struct {
		name    string
		mutate  func(string) string
		changes bool
	}{
		{"an amount digit", replace(`<cbc:PayableAmount currencyID="SAR">231.15<`, `<cbc:PayableAmount currencyID="SAR">231.16<`), true},
		{"an attribute value", replace(`<cbc:InvoiceTypeCode name="0200000">`, `<cbc:InvoiceTypeCode name="0100000">`), true},
		{"indentation in the body", replace("\n    <cbc:ProfileID>", "\n     <cbc:ProfileID>"), true},
		{"white space left where the QR reference was", replace("\n    \n    \n    <cac:AdditionalDocumentReference>\n        <cbc:ID>QR", "\n    \n    <cac:AdditionalDocumentReference>\n        <cbc:ID>QR"), true},
		{"line end CRLF in the body", replace("<cbc:ProfileID>reporting:1.0</cbc:ProfileID>\n", "<cbc:ProfileID>reporting:1.0</cbc:ProfileID>\r\n\t"), true},
		{"the ICV", replace("<cbc:UUID>10</cbc:UUID>", "<cbc:UUID>11</cbc:UUID>"), true},
		{"the PIH", replace(">NWZlY2Vi", ">MWZlY2Vi"), true},
		{"the ICV reference renamed QR", replace("<cbc:ID>ICV</cbc:ID>", "<cbc:ID>QR</cbc:ID>"), true},
		{"an attribute written with single quotes", replace(`name="0200000"`, `name='0200000'`), false},
		{"a newline written as a reference", replace("<cac:AccountingCustomerParty>\n    </cac:AccountingCustomerParty>", "<cac:AccountingCustomerParty>&#10;    </cac:AccountingCustomerParty>"), false},
		{"a character written as a reference", replace("<cbc:ProfileID>reporting:1.0<", "<cbc:ProfileID>&#x72;eporting:1.0<"), false},
		{"the QR text", replace(">AW/YtNix", ">AX/YtNix"), false},
		{"the signature value", replace("<ds:SignatureValue>MEYCIQCYovp", "<ds:SignatureValue>MEYCIQCYovq"), false},
		{"white space in the signature block", replace("<sac:SignatureInformation> \n", "<sac:SignatureInformation>\n\n"), false},
		{"the cac:Signature content", replace("<cbc:ID>urn:oasis:names:specification:ubl:signature:Invoice</cbc:ID>\n      <cbc:SignatureMethod>", "<cbc:ID>urn:example:other</cbc:ID>\n      <cbc:SignatureMethod>"), false},
		{"the QR reference's attachment", replace("</cac:Attachment>\n</cac:AdditionalDocumentReference><cac:Signature>", "</cac:Attachment><cbc:Extra/>\n</cac:AdditionalDocumentReference><cac:Signature>"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := tc.mutate(doc)
			_, got, err := InvoiceHash([]byte(changed))
			if err != nil {
				t.Fatal(err)
			}
			if tc.changes && got == orig {
				t.Errorf("hash unchanged (%s), but the change is covered by the hash", got)
			}
			if !tc.changes && got != orig {
				t.Errorf("hash changed to %s from %s, but the change is excluded or not significant", got, orig)
			}
		})
	}
}

// TestInvoiceHashAnyPrefix renames the sample's prefixes: the same
// elements must be excluded, and the canonical form differs only in the
// prefixes (whose sort order on the root is unchanged: cac, cbc, ext →
// a, b, x).
func TestInvoiceHashAnyPrefix(t *testing.T) {
	doc := string(hashTestRead(t, filepath.Join(zatcaSamples(t), "simplified_invoice.xml")))
	rename := strings.NewReplacer(
		"xmlns:cac=", "xmlns:a=", "<cac:", "<a:", "</cac:", "</a:",
		"xmlns:cbc=", "xmlns:b=", "<cbc:", "<b:", "</cbc:", "</b:",
		"xmlns:ext=", "xmlns:x=", "<ext:", "<x:", "</ext:", "</x:",
	)
	want, err := InvoiceHashInput([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	got, err := InvoiceHashInput([]byte(rename.Replace(doc)))
	if err != nil {
		t.Fatal(err)
	}
	if renamed := rename.Replace(string(want)); string(got) != renamed {
		i := c14nFirstDiff(got, []byte(renamed))
		t.Errorf("differs at byte %d:\n got …%q…\nwant …%q…", i, c14nAround(got, i), c14nAround([]byte(renamed), i))
	}
}

// TestInvoiceHashInputChildrenOnly uses a small invoice with decoys: only
// the three kinds of direct children of Invoice go, matched by namespace
// and not by prefix.
func TestInvoiceHashInputChildrenOnly(t *testing.T) {
	const head = `<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:a="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" xmlns:b="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  `
	const (
		ext      = `<e:UBLExtensions xmlns:e="urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"><e:UBLExtension><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/></e:UBLExtension></e:UBLExtensions>`
		qrDefNS  = `<AdditionalDocumentReference xmlns="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"><ID xmlns="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">QR</ID></AdditionalDocumentReference>`
		qrCDATA  = `<a:AdditionalDocumentReference><b:UUID>1</b:UUID><b:ID><![CDATA[Q]]>&#x52;</b:ID></a:AdditionalDocumentReference>`
		sig      = `<a:Signature><b:ID>urn:oasis:names:specification:ubl:signature:Invoice</b:ID></a:Signature>`
		pih      = `<a:AdditionalDocumentReference><b:ID>PIH</b:ID></a:AdditionalDocumentReference>`
		qrSpaced = `<a:AdditionalDocumentReference><b:ID> QR</b:ID></a:AdditionalDocumentReference>`
		qrDeep   = `<a:AdditionalDocumentReference><a:Attachment><b:ID>QR</b:ID></a:Attachment></a:AdditionalDocumentReference>`
		qrCACID  = `<a:AdditionalDocumentReference><a:ID>QR</a:ID></a:AdditionalDocumentReference>`
		otherSig = `<Signature><b:ID>Invoice namespace, not cac</b:ID></Signature>`
		deepSig  = `<a:Party><a:Signature>nested</a:Signature><a:AdditionalDocumentReference><b:ID>QR</b:ID></a:AdditionalDocumentReference></a:Party>`
		tail     = "\n</Invoice>\n"
	)
	in := head + ext + "\n  <b:ID>1</b:ID>\n  " + qrDefNS + pih + qrCDATA + "\n  " + sig + "\n  " +
		otherSig + qrSpaced + qrDeep + qrCACID + deepSig + tail
	kept := head + "\n  <b:ID>1</b:ID>\n  " + pih + "\n  " + "\n  " +
		otherSig + qrSpaced + qrDeep + qrCACID + deepSig + tail
	got, err := InvoiceHashInput([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Canonicalize([]byte(kept))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("InvoiceHashInput\n got %s\nwant %s", got, want)
	}
	if c14nHaveXmllint() {
		if ref, stderr, ok := c14nXmllint(t, []byte(kept)); !ok || !bytes.Equal(ref, want) {
			t.Errorf("xmllint gives %s (%s)", ref, stderr)
		}
	}

	// Without any excluded element the document is hashed whole.
	plain := head + "<b:ID>1</b:ID>" + tail
	got, err = InvoiceHashInput([]byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := Canonicalize([]byte(plain)); !bytes.Equal(got, want) {
		t.Errorf("InvoiceHashInput(%q) = %q, want %q", plain, got, want)
	}
}

func TestInvoiceHashRejects(t *testing.T) {
	const inv = `xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"`
	for _, tc := range []struct {
		name string
		in   string
		is   error
	}{
		{"credit note root", `<CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"/>`, ErrNotInvoice},
		{"Invoice without namespace", `<Invoice/>`, ErrNotInvoice},
		{"DTD", `<!DOCTYPE Invoice><Invoice ` + inv + `/>`, ErrC14NDoctype},
		{"unclosed", `<Invoice ` + inv + `><cac:Signature>`, nil},
		{"mismatched inside an excluded element", `<Invoice ` + inv + `><cac:Signature><x></y></cac:Signature></Invoice>`, nil},
		{"undeclared prefix", `<Invoice ` + inv + `><p:x/></Invoice>`, nil},
		{"not XML", `Invoice`, nil},
		{"bad reference in the body", `<Invoice ` + inv + `>&#xD800;</Invoice>`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, b64, err := InvoiceHash([]byte(tc.in))
			if err == nil {
				t.Fatalf("InvoiceHash(%q) = %s, want an error", tc.in, b64)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
		})
	}
}

// FuzzInvoiceHashInput checks that the token scan never panics and that
// what it returns is canonical XML (a fixed point of Canonicalize).
func FuzzInvoiceHashInput(f *testing.F) {
	const inv = `<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2" xmlns:ext="urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2">`
	f.Add([]byte(inv + "\n <ext:UBLExtensions><ext:UBLExtension/></ext:UBLExtensions>\n <cbc:ID>1</cbc:ID>\n</Invoice>"))
	f.Add([]byte(inv + "<cac:AdditionalDocumentReference><cbc:ID>QR</cbc:ID></cac:AdditionalDocumentReference><cac:Signature/></Invoice>"))
	f.Add([]byte(inv + "<cac:AdditionalDocumentReference><cbc:ID>Q<![CDATA[R]]></cbc:ID></cac:AdditionalDocumentReference><x:Signature xmlns:x=\"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2\"/></Invoice>"))
	if doc, err := os.ReadFile(filepath.Join(stampingtest.SharedDir(), "zatca", "samples", "simplified_invoice.xml")); err == nil {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, err := InvoiceHashInput(doc)
		if err != nil {
			return
		}
		again, err := Canonicalize(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("InvoiceHashInput(%q) = %q, not canonical: %q, %v", doc, out, again, err)
		}
	})
}

// BenchmarkInvoiceHash is the full path: token scan, cut, parse and
// canonicalise, SHA-256.
func BenchmarkInvoiceHash(b *testing.B) {
	doc := hashTestRead(b, filepath.Join(zatcaSamples(b), "simplified_invoice.xml"))
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := InvoiceHash(doc); err != nil {
			b.Fatal(err)
		}
	}
}

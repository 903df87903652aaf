package zatcasim

import (
	"encoding/xml"
	"errors"
	"testing"

	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/zatca"
)

// docView is what the checks read from the XML besides the stamp, decoded
// on its own: the reference for what zatca.Verify returns about the
// document, which the checks use instead of decoding it a second time.
type docView struct {
	UUID     string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 UUID"`
	TypeCode struct {
		Code string `xml:",chardata"`
		Name string `xml:"name,attr"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 InvoiceTypeCode"`
	IssueDate string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 IssueDate"`
	IssueTime string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 IssueTime"`
	Seller    struct {
		VAT string `xml:"Party>PartyTaxScheme>CompanyID"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2 AccountingSupplierParty"`
	Extensions struct {
		Certificate string `xml:"UBLExtension>ExtensionContent>UBLDocumentSignatures>SignatureInformation>Signature>KeyInfo>X509Data>X509Certificate"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2 UBLExtensions"`
}

// TestVerifiedView: what zatca.Verify reports about a document (UUID, type,
// issue time, seller VAT number, certificate) is what decoding the document
// on its own reads, for every kind, whether or not the stamp verifies; and
// a document that is not XML gives no view and the decoder's error.
func TestVerifiedView(t *testing.T) {
	h := newHarness(t, nil)
	u := h.ready("1100")
	var docs []stamped
	for _, k := range allKinds {
		docs = append(docs, u.stamp(k.kind, k.standard))
	}
	d := u.stamp(sale.Invoice, false)
	docs = append(docs,
		tamper(t, d, `>97.75</cbc:PayableAmount>`, `>9.75</cbc:PayableAmount>`),
		tamper(t, d, "<xades:SigningTime>2", "<xades:SigningTime>1"),
		tamper(t, d, `<cbc:EmbeddedDocumentBinaryObject mimeCode="text/plain">A`, `<cbc:EmbeddedDocumentBinaryObject mimeCode="text/plain">B`),
		tamper(t, d, `<ds:X509Certificate>`, `<ds:X509Certificate>AAAA`),
		tamper(t, d, `<cbc:ID>ICV</cbc:ID>`, `<cbc:ID>ICV</cbc:ID><cbc:UUID>x</cbc:UUID>`),
	)
	for i, d := range docs {
		var want docView
		if err := xml.Unmarshal(d.Bytes, &want); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		v, verr := zatca.Verify(d.Bytes)
		if v == nil {
			t.Fatalf("document %d: Verify returned no view (%v)", i, verr)
		}
		got := docView{UUID: v.UUID, IssueDate: v.IssueDate, IssueTime: v.IssueTime}
		got.TypeCode.Code, got.TypeCode.Name = v.TypeCode, v.TypeCodeName
		got.Seller.VAT, got.Extensions.Certificate = v.SellerVAT, v.Certificate
		if got != want {
			t.Errorf("document %d (Verify: %v): view %+v, decoded %+v", i, verr, got, want)
		}
		if i < len(allKinds) && verr != nil {
			t.Errorf("document %d: %v", i, verr)
		}
		if i >= len(allKinds) && verr == nil {
			t.Errorf("tampered document %d verified", i)
		}
	}

	var want docView
	wantErr := xml.Unmarshal([]byte("<Invoice>"), &want)
	v, err := zatca.Verify([]byte("<Invoice>"))
	if v != nil || err == nil || wantErr == nil {
		t.Fatalf("Verify(not XML) = %+v, %v", v, err)
	}
	if got := errors.Unwrap(err); got == nil || got.Error() != wantErr.Error() {
		t.Errorf("Verify(not XML) wraps %v, want the decoder's %v", got, wantErr)
	}
}

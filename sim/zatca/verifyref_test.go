package zatcasim

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"

	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/zatca"
)

// refView is the view zatca.Verify decoded before it shared one
// tokenisation of the document with the invoice hash.
// encoding/xml matches elements by namespace URI and local name, so any
// prefix bindings work.
type refView struct {
	Extensions struct {
		Signature struct {
			Digests        []xmlReference `xml:"SignedInfo>Reference"`
			SignatureValue string         `xml:"SignatureValue"`
			Certificate    string         `xml:"KeyInfo>X509Data>X509Certificate"`
			Signed         struct {
				SigningTime string `xml:"SignedSignatureProperties>SigningTime"`
				CertDigest  string `xml:"SignedSignatureProperties>SigningCertificate>Cert>CertDigest>DigestValue"`
				Issuer      string `xml:"SignedSignatureProperties>SigningCertificate>Cert>IssuerSerial>X509IssuerName"`
				Serial      string `xml:"SignedSignatureProperties>SigningCertificate>Cert>IssuerSerial>X509SerialNumber"`
			} `xml:"Object>QualifyingProperties>SignedProperties"`
		} `xml:"UBLExtension>ExtensionContent>UBLDocumentSignatures>SignatureInformation>Signature"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2 UBLExtensions"`
	ID        string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 ID"`
	UUID      string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 UUID"`
	IssueDate string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 IssueDate"`
	IssueTime string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 IssueTime"`
	TypeCode  struct {
		Name string `xml:"name,attr"`
		Code string `xml:",chardata"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 InvoiceTypeCode"`
	References []struct {
		ID     string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 ID"`
		UUID   string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 UUID"`
		Binary string `xml:"Attachment>EmbeddedDocumentBinaryObject"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2 AdditionalDocumentReference"`
	Seller struct {
		Name string `xml:"Party>PartyLegalEntity>RegistrationName"`
		VAT  string `xml:"Party>PartyTaxScheme>CompanyID"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2 AccountingSupplierParty"`
	TaxTotals []struct {
		Amount struct {
			Value    string `xml:",chardata"`
			Currency string `xml:"currencyID,attr"`
		} `xml:"TaxAmount"`
		Subtotals []struct{} `xml:"TaxSubtotal"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2 TaxTotal"`
	TaxCurrency string `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2 TaxCurrencyCode"`
	Totals      struct {
		Payable string `xml:"PayableAmount"`
	} `xml:"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2 LegalMonetaryTotal"`
}

type xmlReference struct {
	ID     string `xml:"Id,attr"`
	URI    string `xml:"URI,attr"`
	Digest string `xml:"DigestValue"`
}

// verifyReference is zatca.Verify as it was before it shared one
// tokenisation of the document between decoding the view and the invoice
// hash's scan: a decoder over the bytes, then zatca.InvoiceHash. Verify
// must agree with it on every document, valid or not.
func verifyReference(doc []byte) (*zatca.Verified, error) {
	var v refView
	dec := xml.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not a readable UBL invoice: %w", err)
	}
	out := &zatca.Verified{ID: v.ID, Simplified: len(v.TypeCode.Name) >= 2 && v.TypeCode.Name[:2] == "02",
		UUID: v.UUID, TypeCode: v.TypeCode.Code, TypeCodeName: v.TypeCode.Name, IssueDate: v.IssueDate, IssueTime: v.IssueTime,
		SellerVAT: v.Seller.VAT, Certificate: v.Extensions.Signature.Certificate}
	var qrText string
	for _, r := range v.References {
		switch r.ID {
		case "ICV":
			n, err := strconv.ParseUint(r.UUID, 10, 64)
			if err != nil {
				return out, fmt.Errorf("ICV %q is not a number", r.UUID)
			}
			out.ICV = n
		case "PIH":
			out.PIH = r.Binary
		case "QR":
			qrText = r.Binary
		}
	}
	_, hash, err := zatca.InvoiceHash(doc)
	if err != nil {
		return out, fmt.Errorf("invoice hash: %w", err)
	}
	out.Hash = hash

	sig := &v.Extensions.Signature
	var signedHash, signedPropsDigest string
	for _, r := range sig.Digests {
		switch {
		case r.ID == "invoiceSignedData":
			signedHash = r.Digest
		case r.URI == "#xadesSignedProperties":
			signedPropsDigest = r.Digest
		}
	}
	if signedHash == "" {
		return out, errors.New("no signed invoice digest (ds:Reference Id=\"invoiceSignedData\"): the document is not stamped")
	}
	if signedHash != hash {
		return out, fmt.Errorf("invoice hash mismatch: the document hashes to %s but its signature covers %s (content changed after signing)", hash, signedHash)
	}
	c, err := cert.ParseBase64(sig.Certificate)
	if err != nil {
		return out, fmt.Errorf("embedded certificate: %w", err)
	}
	digest, _ := base64.StdEncoding.DecodeString(hash)
	sigBytes, err := base64.StdEncoding.DecodeString(sig.SignatureValue)
	if err != nil {
		return out, fmt.Errorf("SignatureValue is not base64: %w", err)
	}
	if err := keystore.VerifySHA256(c.PublicKeyDER, digest, sigBytes); err != nil {
		return out, fmt.Errorf("signature does not verify with the embedded certificate: %w", err)
	}
	if want := zatca.CertDigest(sig.Certificate); sig.Signed.CertDigest != want {
		return out, fmt.Errorf("CertDigest is %s, the certificate's is %s", sig.Signed.CertDigest, want)
	}
	if sig.Signed.Issuer != c.IssuerName || sig.Signed.Serial != c.SerialNumber.String() {
		return out, fmt.Errorf("IssuerSerial (%s, %s) does not name the certificate (%s, %s)", sig.Signed.Issuer, sig.Signed.Serial, c.IssuerName, c.SerialNumber)
	}
	props := &zatca.Signature{Certificate: sig.Certificate, IssuerName: sig.Signed.Issuer, SerialNumber: sig.Signed.Serial, SigningTime: sig.Signed.SigningTime}
	if want := props.SignedPropertiesDigest(); signedPropsDigest != want {
		return out, fmt.Errorf("SignedProperties digest is %s, recomputed %s", signedPropsDigest, want)
	}

	if qrText == "" {
		return out, errors.New("no QR (AdditionalDocumentReference ID=QR)")
	}
	if len(qrText) > zatca.MaxQRLength {
		return out, fmt.Errorf("QR is %d characters, over ZATCA's %d", len(qrText), zatca.MaxQRLength)
	}
	qr, err := zatca.DecodeQR(qrText)
	if err != nil {
		return out, err
	}
	vat := ""
	for _, t := range v.TaxTotals {
		if len(t.Subtotals) == 0 && t.Amount.Currency == v.TaxCurrency {
			vat = t.Amount.Value
		}
	}
	checks := []struct {
		tag       int
		got, want string
	}{
		{1, qr.SellerName, v.Seller.Name},
		{2, qr.VATNumber, v.Seller.VAT},
		{3, qr.Timestamp, v.IssueDate + "T" + v.IssueTime},
		{4, qr.Total, v.Totals.Payable},
		{5, qr.VATTotal, vat},
		{6, qr.InvoiceHash, hash},
		{7, qr.SignatureValue, sig.SignatureValue},
		{8, string(qr.PublicKey), string(c.PublicKeyDER)},
	}
	if out.Simplified {
		checks = append(checks, struct {
			tag       int
			got, want string
		}{9, string(qr.CertificateSignature), string(c.Signature)})
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			return out, fmt.Errorf("QR tag %d does not match the document", ch.tag)
		}
	}
	return out, nil
}

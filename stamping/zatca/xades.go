package zatca

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Signature is everything the XAdES block carries (spec/zatca.md §2).
type Signature struct {
	InvoiceHash    string // base64 SHA-256 of the hashed form: the first Reference's DigestValue
	SignatureValue string // base64 DER ECDSA over the 32 digest bytes (§2.5)
	Certificate    string // base64 DER of the signing certificate only (§2.1)
	IssuerName     string // "CN=…, DC=…" most specific first (§2.3)
	SerialNumber   string // the certificate serial in decimal (§2.3)
	SigningTime    string // "2006-01-02T15:04:05", no zone (§2.2)
}

const (
	nsDS      = "http://www.w3.org/2000/09/xmldsig#"
	nsXAdES   = "http://uri.etsi.org/01903/v1.3.2#"
	sha256URI = "http://www.w3.org/2001/04/xmlenc#sha256"
)

// hexBase64SHA256 is ZATCA's digest form for the certificate and the
// signed properties: base64 of the lower-case hex of SHA-256 (§2.3, §2.4).
func hexBase64SHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(sum[:])))
}

// CertDigest is xades:CertDigest's value: the digest of the ASCII text of
// the certificate's base64 DER, not of the DER bytes (§2.3).
func CertDigest(certBase64 string) string { return hexBase64SHA256(certBase64) }

// signedProperties writes xades:SignedProperties in the SDK's layout.
// detached adds the namespace declarations a serialiser puts on a detached
// subtree (xmlns:xades on the root, xmlns:ds on every ds: element): that
// text is what the SignedProperties digest is taken over (§2.4); inside the
// document the declarations are inherited and not written.
func signedProperties(b *strings.Builder, s *Signature, detached bool) {
	ds := ""
	xades := ""
	if detached {
		ds = ` xmlns:ds="` + nsDS + `"`
		xades = ` xmlns:xades="` + nsXAdES + `"`
	}
	pad := func(n int) { b.WriteString("\n" + strings.Repeat(" ", n)) }
	b.WriteString(`<xades:SignedProperties` + xades + ` Id="xadesSignedProperties">`)
	pad(36)
	b.WriteString(`<xades:SignedSignatureProperties>`)
	pad(40)
	b.WriteString(`<xades:SigningTime>` + s.SigningTime + `</xades:SigningTime>`)
	pad(40)
	b.WriteString(`<xades:SigningCertificate>`)
	pad(44)
	b.WriteString(`<xades:Cert>`)
	pad(48)
	b.WriteString(`<xades:CertDigest>`)
	pad(52)
	b.WriteString(`<ds:DigestMethod` + ds + ` Algorithm="` + sha256URI + `"/>`)
	pad(52)
	b.WriteString(`<ds:DigestValue` + ds + `>` + CertDigest(s.Certificate) + `</ds:DigestValue>`)
	pad(48)
	b.WriteString(`</xades:CertDigest>`)
	pad(48)
	b.WriteString(`<xades:IssuerSerial>`)
	pad(52)
	b.WriteString(`<ds:X509IssuerName` + ds + `>` + xadesText(s.IssuerName) + `</ds:X509IssuerName>`)
	pad(52)
	b.WriteString(`<ds:X509SerialNumber` + ds + `>` + s.SerialNumber + `</ds:X509SerialNumber>`)
	pad(48)
	b.WriteString(`</xades:IssuerSerial>`)
	pad(44)
	b.WriteString(`</xades:Cert>`)
	pad(40)
	b.WriteString(`</xades:SigningCertificate>`)
	pad(36)
	b.WriteString(`</xades:SignedSignatureProperties>`)
	pad(32)
	b.WriteString(`</xades:SignedProperties>`)
}

// SignedPropertiesDigest is the second Reference's DigestValue (§2.4).
func (s *Signature) SignedPropertiesDigest() string {
	var b strings.Builder
	signedProperties(&b, s, true)
	return hexBase64SHA256(b.String())
}

// UBLExtensions renders the ext:UBLExtensions block exactly as the ZATCA
// SDK lays it out, from "<ext:UBLExtensions>" to "</ext:UBLExtensions>".
// The layout matters: the SignedProperties digest is taken over the same
// indentation.
func (s *Signature) UBLExtensions() string {
	var b strings.Builder
	b.Grow(4096)
	b.WriteString(`<ext:UBLExtensions>
    <ext:UBLExtension>
        <ext:ExtensionURI>urn:oasis:names:specification:ubl:dsig:enveloped:xades</ext:ExtensionURI>
        <ext:ExtensionContent>
            <sig:UBLDocumentSignatures xmlns:sig="urn:oasis:names:specification:ubl:schema:xsd:CommonSignatureComponents-2" xmlns:sac="urn:oasis:names:specification:ubl:schema:xsd:SignatureAggregateComponents-2" xmlns:sbc="urn:oasis:names:specification:ubl:schema:xsd:SignatureBasicComponents-2">
                <sac:SignatureInformation> 
                    <cbc:ID>urn:oasis:names:specification:ubl:signature:1</cbc:ID>
                    <sbc:ReferencedSignatureID>urn:oasis:names:specification:ubl:signature:Invoice</sbc:ReferencedSignatureID>
                    <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="signature">
                        <ds:SignedInfo>
                            <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2006/12/xml-c14n11"/>
                            <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>
                            <ds:Reference Id="invoiceSignedData" URI="">
                                <ds:Transforms>
                                    <ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116">
                                        <ds:XPath>not(//ancestor-or-self::ext:UBLExtensions)</ds:XPath>
                                    </ds:Transform>
                                    <ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116">
                                        <ds:XPath>not(//ancestor-or-self::cac:Signature)</ds:XPath>
                                    </ds:Transform>
                                    <ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116">
                                        <ds:XPath>not(//ancestor-or-self::cac:AdditionalDocumentReference[cbc:ID='QR'])</ds:XPath>
                                    </ds:Transform>
                                    <ds:Transform Algorithm="http://www.w3.org/2006/12/xml-c14n11"/>
                                </ds:Transforms>
                                <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
                                <ds:DigestValue>`)
	b.WriteString(s.InvoiceHash)
	b.WriteString(`</ds:DigestValue>
                            </ds:Reference>
                            <ds:Reference Type="http://www.w3.org/2000/09/xmldsig#SignatureProperties" URI="#xadesSignedProperties">
                                <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
                                <ds:DigestValue>`)
	b.WriteString(s.SignedPropertiesDigest())
	b.WriteString(`</ds:DigestValue>
                            </ds:Reference>
                        </ds:SignedInfo>
                        <ds:SignatureValue>`)
	b.WriteString(s.SignatureValue)
	b.WriteString(`</ds:SignatureValue>
                        <ds:KeyInfo>
                            <ds:X509Data>
                                <ds:X509Certificate>`)
	b.WriteString(s.Certificate)
	b.WriteString(`</ds:X509Certificate>
                            </ds:X509Data>
                        </ds:KeyInfo>
                        <ds:Object>
                            <xades:QualifyingProperties xmlns:xades="http://uri.etsi.org/01903/v1.3.2#" Target="signature">
                                `)
	signedProperties(&b, s, false)
	b.WriteString(`
                            </xades:QualifyingProperties>
                        </ds:Object>
                    </ds:Signature>
                </sac:SignatureInformation>
            </sig:UBLDocumentSignatures>
        </ext:ExtensionContent>
    </ext:UBLExtension>
</ext:UBLExtensions>`)
	return b.String()
}

// xadesText escapes character data inside the signature block.
func xadesText(s string) string {
	if !strings.ContainsAny(s, "&<>\r") {
		return s
	}
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;")
	return r.Replace(s)
}

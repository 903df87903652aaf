package csr

import (
	"bytes"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/egsd/egsd/stamping/keystore"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Errors of Parse, ParsePEM and ParseAPIBody. (The sentinels of Build are in
// errors.go.)
var (
	// ErrMalformed is wrapped by every error about input that is not a
	// well-formed DER PKCS#10 request in the layout of spec/zatca.md §4.2,
	// or not in the expected encoding (PEM, base64 of PEM). The text says
	// which part could not be read.
	ErrMalformed = errors.New("malformed certificate signing request")

	// ErrSignature is returned (wrapping the keystore error) when a
	// well-formed CSR's signature does not verify with its own public key:
	// the requester has not proved possession of the key (§4.2).
	ErrSignature = errors.New("CSR signature does not verify with its own public key")
)

// Attribute is one AttributeTypeAndValue of a name: the dotted OID and the
// decoded string. It has the fields of cert.Attribute, so either converts
// to the other.
type Attribute struct {
	Type  string // dotted OID, e.g. "2.5.4.3"
	Value string
}

// Parsed is a certificate signing request read by Parse, with its
// signature verified. Raw, Info, PublicKeyDER and Signature share one
// private copy of the input; do not modify them.
type Parsed struct {
	// Raw is the whole CSR, DER.
	Raw []byte
	// Info is the DER of the CertificationRequestInfo: the signed bytes.
	Info []byte
	// Subject lists the subject's attributes in DER order: C, OU, O, CN
	// in an SDK-style CSR (spec/zatca.md §4.2); Odoo's also carry
	// organizationIdentifier, ST and L.
	Subject []Attribute
	// SANAttributes are the attributes of the first directoryName of the
	// subjectAltName extension, in order: surname (EGS serial), UID (VAT
	// number), title (invoice types), registeredAddress, businessCategory.
	// SAN maps the same attributes by dotted OID (the first of each).
	// Both are nil when the CSR has no directoryName.
	SANAttributes []Attribute
	SAN           map[string]string
	// TemplateName is the value of the certificate template name extension
	// 1.3.6.1.4.1.311.20.2 (TSTZATCA-, PREZATCA- or ZATCA-Code-Signing),
	// whatever its string type; "" without the extension.
	TemplateName string
	// PublicKeyDER is the exact DER SubjectPublicKeyInfo, a secp256k1 key
	// (the signature check proved that).
	PublicKeyDER []byte
	// Signature is the DER ECDSA-Sig-Value by that key over Info.
	Signature []byte
}

// SubjectValue returns the value of the first subject attribute of the
// dotted OID typ, or "".
func (p *Parsed) SubjectValue(typ string) string {
	for _, a := range p.Subject {
		if a.Type == typ {
			return a.Value
		}
	}
	return ""
}

// Request maps the CSR back onto the Request that Build would make it from.
// Subject attributes other than C, OU, O and CN are not carried; the
// Environment is the one whose TemplateName the CSR names, or 0 when it
// names none. Call Validate on the result to apply egsd's (and ZATCA's)
// rules to the values, such as the 64-character limit (spec/zatca.md §4.4).
func (p *Parsed) Request() Request {
	r := Request{
		CommonName:       p.SubjectValue(oidCommonName.String()),
		OrganizationUnit: p.SubjectValue(oidOrgUnit.String()),
		Organization:     p.SubjectValue(oidOrganization.String()),
		Country:          p.SubjectValue(oidCountry.String()),
	}
	r.SerialNumber = p.SAN[oidSurname.String()]
	r.OrganizationIdentifier = p.SAN[oidUID.String()]
	r.InvoiceType = p.SAN[oidTitle.String()]
	r.Location = p.SAN[oidRegisteredAddress.String()]
	r.Industry = p.SAN[oidBusinessCategory.String()]
	for _, e := range []Environment{DeveloperPortal, Simulation, Core} {
		if p.TemplateName == e.TemplateName() {
			r.Environment = e
		}
	}
	return r
}

// Parse reads a DER PKCS#10 certificate signing request (RFC 2986) in the
// ZATCA layout (spec/zatca.md §4.2) and verifies its signature: ecdsa-with-
// SHA256 over the CertificationRequestInfo by the secp256k1 key the CSR
// itself carries. Malformed input gives an error wrapping ErrMalformed, a
// signature that does not verify one wrapping ErrSignature. Trailing data
// is an error. Attributes other than the extension request, and extensions
// other than the template name and subjectAltName, are skipped.
func Parse(der []byte) (*Parsed, error) {
	p, err := parseRequest(bytes.Clone(der))
	if err != nil {
		if errors.Is(err, ErrSignature) {
			return nil, fmt.Errorf("csr: %w", err)
		}
		return nil, fmt.Errorf("csr: %w: %v", ErrMalformed, err)
	}
	return p, nil
}

// ParsePEM parses the first "CERTIFICATE REQUEST" (or "NEW CERTIFICATE
// REQUEST") block of a PEM text.
func ParsePEM(data []byte) (*Parsed, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("csr: %w: no PEM CERTIFICATE REQUEST block", ErrMalformed)
		}
		if block.Type == "CERTIFICATE REQUEST" || block.Type == "NEW CERTIFICATE REQUEST" {
			return Parse(block.Bytes)
		}
	}
}

// ParseAPIBody parses the "csr" field of ZATCA's CSID requests: standard
// base64 of the PEM text, header lines included (spec/zatca.md §4.3), as
// APIBody writes it. Base64 of the DER and base64 of the base64 DER text
// (the SDK's "encoded base64" without -pem) are accepted too. White space
// in the field is ignored.
func ParseAPIBody(field string) (*Parsed, error) {
	data, err := decodeStdBase64(field)
	if err != nil {
		return nil, fmt.Errorf("csr: %w: the csr field is not base64: %v", ErrMalformed, err)
	}
	switch {
	case bytes.Contains(data, []byte("-----BEGIN")):
		return ParsePEM(data)
	case len(data) > 0 && data[0] == 0x30:
		return Parse(data)
	}
	der, err := decodeStdBase64(string(data))
	if err != nil || len(der) == 0 || der[0] != 0x30 {
		return nil, fmt.Errorf("csr: %w: the csr field is base64 of neither PEM, DER nor base64 DER", ErrMalformed)
	}
	return Parse(der)
}

func decodeStdBase64(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	if s == "" {
		return nil, errors.New("empty")
	}
	return base64.StdEncoding.DecodeString(s)
}

func parseRequest(raw []byte) (*Parsed, error) {
	p := &Parsed{Raw: raw}
	in := cryptobyte.String(raw)
	var outer, info, alg cryptobyte.String
	var algOID asn1.ObjectIdentifier
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) {
		return nil, errors.New("not a DER SEQUENCE")
	}
	if !in.Empty() {
		return nil, errors.New("trailing data after the request")
	}
	if !outer.ReadASN1Element(&info, cbasn1.SEQUENCE) {
		return nil, errors.New("bad CertificationRequestInfo")
	}
	p.Info = info
	if !outer.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&algOID) {
		return nil, errors.New("bad signatureAlgorithm")
	}
	// RFC 5758 §3.2: ecdsa-with-SHA256 has no parameters.
	if !algOID.Equal(oidECDSAWithSHA256) || !alg.Empty() {
		return nil, fmt.Errorf("signature algorithm %s is not ecdsa-with-SHA256 without parameters", algOID)
	}
	var sig asn1.BitString
	if !outer.ReadASN1BitString(&sig) || sig.BitLength%8 != 0 {
		return nil, errors.New("bad signature BIT STRING")
	}
	p.Signature = sig.Bytes
	if !outer.Empty() {
		return nil, errors.New("trailing data after the signature")
	}

	var body, subject, spki cryptobyte.String
	var version int64
	if !info.ReadASN1(&body, cbasn1.SEQUENCE) || !body.ReadASN1Integer(&version) {
		return nil, errors.New("bad CertificationRequestInfo")
	}
	if version != 0 {
		return nil, fmt.Errorf("version %d is not 0 (v1)", version)
	}
	if !body.ReadASN1(&subject, cbasn1.SEQUENCE) {
		return nil, errors.New("bad subject")
	}
	var err error
	if p.Subject, err = readName(subject); err != nil {
		return nil, fmt.Errorf("subject: %v", err)
	}
	if !body.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return nil, errors.New("bad subjectPKInfo")
	}
	p.PublicKeyDER = spki
	// attributes [0] is required by RFC 2986 but may be empty; some
	// encoders leave it out altogether.
	var attrs cryptobyte.String
	var hasAttrs bool
	if !body.ReadOptionalASN1(&attrs, &hasAttrs, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, errors.New("bad attributes")
	}
	if !body.Empty() {
		return nil, errors.New("trailing data in CertificationRequestInfo")
	}
	for !attrs.Empty() {
		var a, values cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !attrs.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&oid) ||
			!a.ReadASN1(&values, cbasn1.SET) || !a.Empty() {
			return nil, errors.New("bad attribute")
		}
		if !oid.Equal(oidExtensionRequest) {
			continue
		}
		var exts cryptobyte.String
		if !values.ReadASN1(&exts, cbasn1.SEQUENCE) || !values.Empty() {
			return nil, errors.New("extensionRequest is not one SEQUENCE of extensions")
		}
		if err := p.readExtensions(exts); err != nil {
			return nil, err
		}
	}

	// Proof of possession (§4.2). VerifySHA256 also checks that the key
	// is a secp256k1 id-ecPublicKey.
	if err := keystore.VerifySHA256(p.PublicKeyDER, p.Info, p.Signature); err != nil {
		if errors.Is(err, keystore.ErrMalformedPublicKey) {
			return nil, fmt.Errorf("subjectPKInfo: %v", err)
		}
		return nil, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	return p, nil
}

func (p *Parsed) readExtensions(exts cryptobyte.String) error {
	for !exts.Empty() {
		var ext, value cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&oid) {
			return errors.New("bad extension")
		}
		if ext.PeekASN1Tag(cbasn1.BOOLEAN) {
			var critical bool
			if !ext.ReadASN1Boolean(&critical) {
				return fmt.Errorf("bad critical flag of extension %s", oid)
			}
		}
		if !ext.ReadASN1(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			return fmt.Errorf("bad extension %s", oid)
		}
		switch {
		case oid.Equal(oidTemplateName):
			var v cryptobyte.String
			var tag cbasn1.Tag
			if !value.ReadAnyASN1(&v, &tag) || !value.Empty() {
				return errors.New("bad certificate template name")
			}
			s, ok := decodeNameString(tag, v)
			if !ok {
				return fmt.Errorf("certificate template name has string type %#x or invalid contents", int(tag))
			}
			p.TemplateName = s
		case oid.Equal(oidSubjectAltName) && p.SAN == nil:
			attrs, err := readSANDirectoryName(value)
			if err != nil {
				return fmt.Errorf("subjectAltName: %v", err)
			}
			if attrs != nil {
				p.SANAttributes = attrs
				p.SAN = make(map[string]string, len(attrs))
				for _, a := range attrs {
					if _, dup := p.SAN[a.Type]; !dup {
						p.SAN[a.Type] = a.Value
					}
				}
			}
		}
	}
	return nil
}

// readSANDirectoryName returns the attributes of the first directoryName of
// a GeneralNames value, or nil when there is none.
func readSANDirectoryName(der cryptobyte.String) ([]Attribute, error) {
	var names cryptobyte.String
	if !der.ReadASN1(&names, cbasn1.SEQUENCE) || !der.Empty() {
		return nil, errors.New("not a GeneralNames SEQUENCE")
	}
	for !names.Empty() {
		var gn cryptobyte.String
		var tag cbasn1.Tag
		if !names.ReadAnyASN1(&gn, &tag) {
			return nil, errors.New("bad GeneralName")
		}
		// directoryName [4] is EXPLICIT: Name is a CHOICE.
		if tag != cbasn1.Tag(4).Constructed().ContextSpecific() {
			continue
		}
		var name cryptobyte.String
		if !gn.ReadASN1(&name, cbasn1.SEQUENCE) || !gn.Empty() {
			return nil, errors.New("bad directoryName")
		}
		attrs, err := readName(name)
		if err != nil {
			return nil, fmt.Errorf("directoryName: %v", err)
		}
		if attrs == nil {
			attrs = []Attribute{}
		}
		return attrs, nil
	}
	return nil, nil
}

// readName reads the content of a Name (RDNSequence) and flattens it into
// its attributes in DER order. Values must be strings.
func readName(seq cryptobyte.String) ([]Attribute, error) {
	var out []Attribute
	for !seq.Empty() {
		var set cryptobyte.String
		if !seq.ReadASN1(&set, cbasn1.SET) || set.Empty() {
			return nil, errors.New("RDN is not a non-empty SET")
		}
		for !set.Empty() {
			var atv, value cryptobyte.String
			var oid asn1.ObjectIdentifier
			var tag cbasn1.Tag
			if !set.ReadASN1(&atv, cbasn1.SEQUENCE) || !atv.ReadASN1ObjectIdentifier(&oid) ||
				!atv.ReadAnyASN1(&value, &tag) || !atv.Empty() {
				return nil, errors.New("bad AttributeTypeAndValue")
			}
			s, ok := decodeNameString(tag, value)
			if !ok {
				return nil, fmt.Errorf("attribute %s has string type %#x or invalid contents", oid, int(tag))
			}
			out = append(out, Attribute{Type: oid.String(), Value: s})
		}
	}
	return out, nil
}

// decodeNameString decodes the string types that occur in ZATCA CSRs:
// UTF8String, PrintableString and IA5String.
func decodeNameString(tag cbasn1.Tag, b []byte) (string, bool) {
	switch tag {
	case cbasn1.UTF8String:
		return string(b), utf8.Valid(b)
	case cbasn1.PrintableString, cbasn1.IA5String:
		for _, c := range b {
			if c >= 0x80 {
				return "", false
			}
		}
		return string(b), true
	}
	return "", false
}

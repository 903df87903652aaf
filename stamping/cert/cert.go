package cert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/egsd/egsd/stamping/keystore"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// OIDs of algorithms and extensions, dotted.
const (
	OIDECDSAWithSHA256 = "1.2.840.10045.4.3.2"
	OIDSubjectAltName  = "2.5.29.17"
)

// Certificate is a parsed X.509 certificate. Raw, TBS, PublicKeyDER and
// Signature share one private copy of the input; do not modify them.
type Certificate struct {
	// Raw is the whole certificate, DER.
	Raw []byte
	// TBS is the DER of the TBSCertificate, the bytes the issuer signed.
	TBS []byte
	// Version is 1, 2 or 3.
	Version int
	// SerialNumber is the serial; ZATCA's X509SerialNumber is its decimal
	// String (spec/zatca.md §2.3).
	SerialNumber *big.Int
	// SignatureAlgorithm is the dotted OID of the issuer's signature
	// algorithm, OIDECDSAWithSHA256 for ZATCA certificates.
	SignatureAlgorithm string
	// Issuer and Subject are the attributes of the names in DER order
	// (least specific first).
	Issuer, Subject []Attribute
	// IssuerName and SubjectName are the names as ZATCA prints them: most
	// specific first, joined with ", " (spec/zatca.md §2.3), e.g.
	// "CN=PRZEINVOICESCA4-CA, DC=extgazt, DC=gov, DC=local".
	IssuerName, SubjectName string
	// NotBefore and NotAfter bound the validity period, in UTC.
	NotBefore, NotAfter time.Time
	// PublicKeyDER is the exact DER SubjectPublicKeyInfo (QR tag 8).
	PublicKeyDER []byte
	// SAN holds the attributes of the first directoryName of the
	// subjectAltName extension by dotted OID, or is nil without one. In a
	// ZATCA certificate: OIDSurname (EGS serial), OIDUID (VAT number),
	// OIDTitle (invoice types), OIDRegisteredAddress, OIDBusinessCategory
	// (spec/zatca.md §2.6).
	SAN map[string]string
	// Extensions are all extensions in certificate order.
	Extensions []Extension
	// Signature is the content of the signatureValue BIT STRING: for
	// ECDSA a DER ECDSA-Sig-Value (QR tag 9, spec/zatca.md §3.2).
	Signature []byte
}

// Extension is one X.509 extension.
type Extension struct {
	OID      string // dotted
	Critical bool
	Value    []byte // the content of extnValue
}

// Parse parses one DER certificate. Trailing data is an error.
func Parse(der []byte) (*Certificate, error) {
	c, err := parseDER(der)
	if err != nil {
		return nil, fmt.Errorf("cert: %w", err)
	}
	return c, nil
}

// parseDER is Parse without the package prefix on errors.
func parseDER(der []byte) (*Certificate, error) {
	c, err := parse(bytes.Clone(der))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, err)
	}
	return c, nil
}

func parse(raw []byte) (*Certificate, error) {
	c := &Certificate{Raw: raw}
	in := cryptobyte.String(raw)
	var certSeq, tbs cryptobyte.String
	if !in.ReadASN1(&certSeq, cbasn1.SEQUENCE) {
		return nil, errors.New("not a DER SEQUENCE")
	}
	if !in.Empty() {
		return nil, errors.New("trailing data after the certificate")
	}
	var tbsRaw cryptobyte.String
	if !certSeq.ReadASN1Element(&tbsRaw, cbasn1.SEQUENCE) {
		return nil, errors.New("bad TBSCertificate")
	}
	c.TBS = tbsRaw
	outerAlg, err := readAlgorithm(&certSeq)
	if err != nil {
		return nil, fmt.Errorf("signatureAlgorithm: %v", err)
	}
	c.SignatureAlgorithm = outerAlg
	var sig asn1.BitString
	if !certSeq.ReadASN1BitString(&sig) || sig.BitLength%8 != 0 {
		return nil, errors.New("bad signatureValue")
	}
	c.Signature = sig.Bytes
	if !certSeq.Empty() {
		return nil, errors.New("trailing data after signatureValue")
	}

	if !tbsRaw.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, errors.New("bad TBSCertificate")
	}
	c.Version = 1
	var versionField cryptobyte.String
	var hasVersion bool
	if !tbs.ReadOptionalASN1(&versionField, &hasVersion, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, errors.New("bad version")
	}
	if hasVersion {
		var v int64
		if !versionField.ReadASN1Integer(&v) || !versionField.Empty() || v < 0 || v > 2 {
			return nil, errors.New("bad version")
		}
		c.Version = int(v) + 1
	}
	c.SerialNumber = new(big.Int)
	if !tbs.ReadASN1Integer(c.SerialNumber) {
		return nil, errors.New("bad serialNumber")
	}
	innerAlg, err := readAlgorithm(&tbs)
	if err != nil {
		return nil, fmt.Errorf("TBSCertificate signature: %v", err)
	}
	if innerAlg != outerAlg {
		return nil, fmt.Errorf("signature algorithm %s in TBSCertificate differs from %s outside it", innerAlg, outerAlg)
	}
	var issuerSeq, validity, subjectSeq cryptobyte.String
	if !tbs.ReadASN1(&issuerSeq, cbasn1.SEQUENCE) {
		return nil, errors.New("bad issuer")
	}
	issuer, err := parseName(issuerSeq)
	if err != nil {
		return nil, fmt.Errorf("issuer: %v", err)
	}
	c.Issuer, c.IssuerName = flatten(issuer), formatName(issuer)
	if !tbs.ReadASN1(&validity, cbasn1.SEQUENCE) {
		return nil, errors.New("bad validity")
	}
	if c.NotBefore, err = readTime(&validity); err != nil {
		return nil, fmt.Errorf("notBefore: %v", err)
	}
	if c.NotAfter, err = readTime(&validity); err != nil {
		return nil, fmt.Errorf("notAfter: %v", err)
	}
	if !validity.Empty() {
		return nil, errors.New("trailing data in validity")
	}
	if !tbs.ReadASN1(&subjectSeq, cbasn1.SEQUENCE) {
		return nil, errors.New("bad subject")
	}
	subject, err := parseName(subjectSeq)
	if err != nil {
		return nil, fmt.Errorf("subject: %v", err)
	}
	c.Subject, c.SubjectName = flatten(subject), formatName(subject)

	var spki cryptobyte.String
	if !tbs.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return nil, errors.New("bad subjectPublicKeyInfo")
	}
	if err := checkSPKI(spki); err != nil {
		return nil, fmt.Errorf("subjectPublicKeyInfo: %v", err)
	}
	c.PublicKeyDER = spki

	// issuerUniqueID [1] and subjectUniqueID [2] (IMPLICIT BIT STRING) are
	// skipped; extensions [3] follow.
	if !tbs.SkipOptionalASN1(cbasn1.Tag(1).ContextSpecific()) ||
		!tbs.SkipOptionalASN1(cbasn1.Tag(2).ContextSpecific()) {
		return nil, errors.New("bad unique identifier")
	}
	var extField cryptobyte.String
	var hasExt bool
	if !tbs.ReadOptionalASN1(&extField, &hasExt, cbasn1.Tag(3).Constructed().ContextSpecific()) {
		return nil, errors.New("bad extensions")
	}
	if hasExt {
		if err := c.parseExtensions(extField); err != nil {
			return nil, err
		}
	}
	if !tbs.Empty() {
		return nil, errors.New("trailing data in TBSCertificate")
	}
	return c, nil
}

func readAlgorithm(s *cryptobyte.String) (string, error) {
	var alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return "", errors.New("bad AlgorithmIdentifier")
	}
	// Parameters, if any (NULL for RSA), are not needed.
	return oid.String(), nil
}

func readTime(s *cryptobyte.String) (time.Time, error) {
	var t time.Time
	switch {
	case s.PeekASN1Tag(cbasn1.UTCTime):
		if !s.ReadASN1UTCTime(&t) {
			return t, errors.New("bad UTCTime")
		}
	case s.PeekASN1Tag(cbasn1.GeneralizedTime):
		if !s.ReadASN1GeneralizedTime(&t) {
			return t, errors.New("bad GeneralizedTime")
		}
	default:
		return t, errors.New("not a UTCTime or GeneralizedTime")
	}
	return t.UTC(), nil
}

// checkSPKI checks the shape of a SubjectPublicKeyInfo: an
// AlgorithmIdentifier and a BIT STRING, nothing else.
func checkSPKI(spki cryptobyte.String) error {
	var seq cryptobyte.String
	var bits asn1.BitString
	if !spki.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return errors.New("not a SEQUENCE")
	}
	if _, err := readAlgorithm(&seq); err != nil {
		return err
	}
	if !seq.ReadASN1BitString(&bits) || !seq.Empty() {
		return errors.New("bad subjectPublicKey")
	}
	return nil
}

func (c *Certificate) parseExtensions(field cryptobyte.String) error {
	var exts cryptobyte.String
	if !field.ReadASN1(&exts, cbasn1.SEQUENCE) || !field.Empty() {
		return errors.New("bad extensions")
	}
	for !exts.Empty() {
		var ext, value cryptobyte.String
		var oid asn1.ObjectIdentifier
		var e Extension
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&oid) {
			return errors.New("bad extension")
		}
		if ext.PeekASN1Tag(cbasn1.BOOLEAN) && !ext.ReadASN1Boolean(&e.Critical) {
			return fmt.Errorf("bad critical flag of extension %s", oid)
		}
		if !ext.ReadASN1(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			return fmt.Errorf("bad extension %s", oid)
		}
		e.OID, e.Value = oid.String(), value
		c.Extensions = append(c.Extensions, e)
		if e.OID == OIDSubjectAltName && c.SAN == nil {
			san, err := parseSANDirName(value)
			if err != nil {
				return fmt.Errorf("subjectAltName: %v", err)
			}
			c.SAN = san
		}
	}
	return nil
}

// parseSANDirName returns the attributes of the first directoryName in a
// GeneralNames, or nil if there is none.
func parseSANDirName(der cryptobyte.String) (map[string]string, error) {
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
		// directoryName [4] is EXPLICIT because Name is a CHOICE.
		if tag != cbasn1.Tag(4).Constructed().ContextSpecific() {
			continue
		}
		var nameSeq cryptobyte.String
		if !gn.ReadASN1(&nameSeq, cbasn1.SEQUENCE) || !gn.Empty() {
			return nil, errors.New("bad directoryName")
		}
		rdns, err := parseName(nameSeq)
		if err != nil {
			return nil, fmt.Errorf("directoryName: %v", err)
		}
		m := make(map[string]string)
		for _, a := range flatten(rdns) {
			if _, dup := m[a.Type]; !dup {
				m[a.Type] = a.Value
			}
		}
		return m, nil
	}
	return nil, nil
}

// ParsePEM parses the first "CERTIFICATE" block of a PEM text.
func ParsePEM(data []byte) (*Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("cert: %w: no PEM CERTIFICATE block", ErrMalformed)
		}
		if block.Type == "CERTIFICATE" {
			return Parse(block.Bytes)
		}
	}
}

// ParseBase64 parses the base64 text of a DER certificate, as found in
// ds:X509Certificate and in testkeys/cert.b64. White space is ignored.
func ParseBase64(text string) (*Certificate, error) {
	c, err := parseBase64(text)
	if err != nil {
		return nil, fmt.Errorf("cert: %w", err)
	}
	return c, nil
}

func parseBase64(text string) (*Certificate, error) {
	der, err := decodeBase64(text)
	if err != nil {
		return nil, fmt.Errorf("%w: base64 DER text: %v", ErrMalformed, err)
	}
	return parseDER(der)
}

// DecodeBinarySecurityToken parses a certificate in the form ZATCA's CSID
// answers carry it as binarySecurityToken: base64 of the base64 DER text,
// "double base64" (spec/zatca.md §4.3, §5). The token itself, undecoded,
// is the user name of HTTP Basic authentication.
func DecodeBinarySecurityToken(token string) (*Certificate, error) {
	text, err := decodeBase64(token)
	if err != nil {
		return nil, fmt.Errorf("cert: binary security token: %w: %v", ErrMalformed, err)
	}
	c, err := parseBase64(string(text))
	if err != nil {
		return nil, fmt.Errorf("cert: binary security token: %w", err)
	}
	return c, nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	if s == "" {
		return nil, errors.New("empty")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("not standard base64")
	}
	return b, nil
}

// Base64 returns the standard base64 of Raw on one line: the content of
// ds:X509Certificate and the input of ZATCA's CertDigest (spec/zatca.md
// §2.3).
func (c *Certificate) Base64() string {
	return base64.StdEncoding.EncodeToString(c.Raw)
}

// CheckSignature verifies that the certificate was signed, with
// ecdsa-with-SHA256, by the key in issuerSPKI (a DER SubjectPublicKeyInfo).
// secp256k1 keys are checked with keystore.VerifySHA256, NIST curves with
// crypto/ecdsa. A mismatch wraps keystore.ErrVerification.
func (c *Certificate) CheckSignature(issuerSPKI []byte) error {
	if c.SignatureAlgorithm != OIDECDSAWithSHA256 {
		return fmt.Errorf("cert: check signature: %w %s", ErrUnsupportedAlgorithm, c.SignatureAlgorithm)
	}
	err := keystore.VerifySHA256(issuerSPKI, c.TBS, c.Signature)
	if err == nil || !errors.Is(err, keystore.ErrMalformedPublicKey) {
		if err != nil {
			return fmt.Errorf("cert: check signature: %w", err)
		}
		return nil
	}
	// Not a secp256k1 key: a NIST curve, which crypto/x509 knows.
	pub, perr := x509.ParsePKIXPublicKey(issuerSPKI)
	if perr != nil {
		return fmt.Errorf("cert: check signature: %w", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("cert: check signature: %w: issuer key is %T", ErrUnsupportedAlgorithm, pub)
	}
	h := sha256.Sum256(c.TBS)
	if !ecdsa.VerifyASN1(ec, h[:], c.Signature) {
		return fmt.Errorf("cert: check signature: %w", keystore.ErrVerification)
	}
	return nil
}

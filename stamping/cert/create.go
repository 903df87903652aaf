package cert

import (
	"crypto/sha1"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/egsd/egsd/stamping/keystore"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Template is what Create puts into a certificate. It describes the
// certificates ZATCA issues to EGS units (spec/zatca.md §2.6, §4.2), so that
// a simulator can issue the same kind; with CA set, the issuing CA's own
// certificate.
type Template struct {
	// SerialNumber must be positive and at most 20 octets (RFC 5280
	// §4.1.2.2). ZATCA's are about 19 octets.
	SerialNumber *big.Int
	// Issuer and Subject are the names' attributes in DER order, least
	// specific first, one attribute per RDN: ZATCA's issuer is DC=local,
	// DC=gov, DC=extgazt, CN=<CA name>; the subject is copied from the CSR
	// (C, OU, O, CN). countryName and serialNumber are written as
	// PrintableString, domainComponent as IA5String, everything else as
	// UTF8String.
	Issuer, Subject []Attribute
	// NotBefore and NotAfter bound the validity period; they are written in
	// UTC, to the second (UTCTime up to 2049, GeneralizedTime after).
	NotBefore, NotAfter time.Time
	// PublicKeyDER is the subject's DER SubjectPublicKeyInfo, copied as it
	// is (from the CSR for an EGS certificate).
	PublicKeyDER []byte
	// SAN are the attributes of the subjectAltName's one directoryName, in
	// order (from the CSR: surname, UID, title, registeredAddress,
	// businessCategory), all UTF8String. Empty means no subjectAltName.
	SAN []Attribute
	// TemplateName is the Microsoft certificate template name extension
	// (1.3.6.1.4.1.311.20.2) as a UTF8String, e.g. "ZATCA-Code-Signing";
	// "" leaves it out.
	TemplateName string
	// CA makes a CA certificate: basicConstraints CA:TRUE (critical) and
	// keyUsage digitalSignature, keyCertSign, cRLSign, no extKeyUsage.
	// Otherwise the certificate is an end entity's like ZATCA's: keyUsage
	// digitalSignature (critical), extKeyUsage codeSigning and clientAuth.
	CA bool
}

// OIDs of the extensions Create writes, dotted.
const (
	OIDKeyUsage               = "2.5.29.15"
	OIDExtKeyUsage            = "2.5.29.37"
	OIDBasicConstraints       = "2.5.29.19"
	OIDSubjectKeyIdentifier   = "2.5.29.14"
	OIDAuthorityKeyIdentifier = "2.5.29.35"
	OIDTemplateName           = "1.3.6.1.4.1.311.20.2"
	OIDCodeSigning            = "1.3.6.1.5.5.7.3.3"
	OIDClientAuth             = "1.3.6.1.5.5.7.3.2"
)

var (
	oidECDSAWithSHA256Create = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidSANCreate             = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// Create builds a DER X.509 v3 certificate from t and signs it with
// issuerKey: ecdsa-with-SHA256 over the DER of the TBSCertificate
// (keystore.Key.SignSHA256). The issuer's public key only enters as the
// authorityKeyIdentifier. Extensions, in order: subjectAltName (when SAN
// is set), subjectKeyIdentifier, authorityKeyIdentifier, then keyUsage and
// extKeyUsage or basicConstraints and keyUsage (CA), then the template name
// (when set). Go's crypto/x509 cannot do this for secp256k1 keys
// (spec/zatca.md §4.5), so the DER is written by hand.
//
// Parse reads every field back; Certificate.CheckSignature with the
// issuer's public key verifies it.
func Create(t Template, issuerKey *keystore.Key) ([]byte, error) {
	der, err := create(t, issuerKey)
	if err != nil {
		return nil, fmt.Errorf("cert: create: %w", err)
	}
	return der, nil
}

func create(t Template, issuerKey *keystore.Key) ([]byte, error) {
	if issuerKey == nil {
		return nil, errors.New("no issuer key")
	}
	if t.SerialNumber == nil || t.SerialNumber.Sign() <= 0 {
		return nil, errors.New("serial number must be positive")
	}
	if len(t.SerialNumber.Bytes()) > 20 {
		return nil, errors.New("serial number is longer than 20 octets")
	}
	if len(t.Issuer) == 0 || len(t.Subject) == 0 {
		return nil, errors.New("issuer and subject must not be empty")
	}
	if t.NotBefore.IsZero() || !t.NotAfter.After(t.NotBefore) {
		return nil, errors.New("validity: NotAfter must be after a non-zero NotBefore")
	}
	subjectKeyID, err := keyIdentifier(t.PublicKeyDER)
	if err != nil {
		return nil, fmt.Errorf("subject public key: %v", err)
	}
	issuerKeyID, err := keyIdentifier(issuerKey.PublicKeyDER())
	if err != nil {
		return nil, fmt.Errorf("issuer public key: %v", err)
	}
	issuer, err := encodeName(t.Issuer)
	if err != nil {
		return nil, fmt.Errorf("issuer: %v", err)
	}
	subject, err := encodeName(t.Subject)
	if err != nil {
		return nil, fmt.Errorf("subject: %v", err)
	}
	var san []byte
	if len(t.SAN) > 0 {
		dirName, err := encodeName(t.SAN)
		if err != nil {
			return nil, fmt.Errorf("subjectAltName: %v", err)
		}
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
			// directoryName [4] is EXPLICIT: Name is a CHOICE.
			b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(dirName) })
		})
		if san, err = b.Bytes(); err != nil {
			return nil, err
		}
	}
	if !utf8.ValidString(t.TemplateName) {
		return nil, errors.New("template name is not valid UTF-8")
	}

	type ext struct {
		oid      string
		critical bool
		value    func(b *cryptobyte.Builder)
	}
	var exts []ext
	if san != nil {
		exts = append(exts, ext{OIDSubjectAltName, false, func(b *cryptobyte.Builder) { b.AddBytes(san) }})
	}
	exts = append(exts,
		ext{OIDSubjectKeyIdentifier, false, func(b *cryptobyte.Builder) { b.AddASN1OctetString(subjectKeyID) }},
		ext{OIDAuthorityKeyIdentifier, false, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(issuerKeyID) })
			})
		}},
	)
	// keyUsage is a named BIT STRING: DER drops trailing zero bits, so the
	// first octet counts the unused bits of the last. digitalSignature is
	// bit 0 (0x80), keyCertSign bit 5 (0x04), cRLSign bit 6 (0x02).
	if t.CA {
		exts = append(exts,
			ext{OIDBasicConstraints, true, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1Boolean(true) })
			}},
			ext{OIDKeyUsage, true, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) { b.AddBytes([]byte{1, 0x86}) })
			}},
		)
	} else {
		exts = append(exts,
			ext{OIDKeyUsage, true, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) { b.AddBytes([]byte{7, 0x80}) })
			}},
			ext{OIDExtKeyUsage, false, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(mustOID(OIDCodeSigning))
					b.AddASN1ObjectIdentifier(mustOID(OIDClientAuth))
				})
			}},
		)
	}
	if t.TemplateName != "" {
		exts = append(exts, ext{OIDTemplateName, false, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(t.TemplateName)) })
		}})
	}

	var tb cryptobyte.Builder
	tb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(2) }) // v3
		b.AddASN1BigInt(t.SerialNumber)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidECDSAWithSHA256Create) })
		b.AddBytes(issuer)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addCertTime(b, t.NotBefore)
			addCertTime(b, t.NotAfter)
		})
		b.AddBytes(subject)
		b.AddBytes(t.PublicKeyDER)
		b.AddASN1(cbasn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, e := range exts {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(mustOID(e.oid))
						if e.critical {
							b.AddASN1Boolean(true)
						}
						b.AddASN1(cbasn1.OCTET_STRING, e.value)
					})
				}
			})
		})
	})
	tbs, err := tb.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode TBSCertificate: %v", err)
	}
	sig, err := issuerKey.SignSHA256(tbs)
	if err != nil {
		return nil, err
	}
	var cb cryptobyte.Builder
	cb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidECDSAWithSHA256Create) })
		b.AddASN1BitString(sig)
	})
	return cb.Bytes()
}

// keyIdentifier is RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey
// BIT STRING's bits. It also checks the SPKI's shape.
func keyIdentifier(spki []byte) ([]byte, error) {
	if err := checkSPKI(cryptobyte.String(spki)); err != nil {
		return nil, err
	}
	in := cryptobyte.String(spki)
	var seq cryptobyte.String
	var bits asn1.BitString
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() ||
		!seq.SkipASN1(cbasn1.SEQUENCE) || !seq.ReadASN1BitString(&bits) {
		return nil, errors.New("not a single DER SubjectPublicKeyInfo")
	}
	sum := sha1.Sum(bits.Bytes)
	return sum[:], nil
}

// encodeName returns the DER Name with one attribute per RDN, in order.
func encodeName(attrs []Attribute) ([]byte, error) {
	type enc struct {
		oid   asn1.ObjectIdentifier
		tag   cbasn1.Tag
		value string
	}
	encs := make([]enc, len(attrs))
	for i, a := range attrs {
		oid, err := parseOID(a.Type)
		if err != nil {
			return nil, err
		}
		if a.Value == "" || !utf8.ValidString(a.Value) {
			return nil, fmt.Errorf("attribute %s: value is empty or not UTF-8", a.Type)
		}
		tag := cbasn1.Tag(cbasn1.UTF8String)
		switch a.Type {
		case OIDCountry, "2.5.4.5": // countryName, serialNumber: PrintableString (RFC 5280 Appendix A)
			if !isPrintable(a.Value) {
				return nil, fmt.Errorf("attribute %s: %q is not a PrintableString", a.Type, a.Value)
			}
			tag = cbasn1.PrintableString
		case OIDDomainComponent: // IA5String (RFC 4519)
			for _, c := range []byte(a.Value) {
				if c >= 0x80 {
					return nil, fmt.Errorf("attribute %s: %q is not an IA5String", a.Type, a.Value)
				}
			}
			tag = cbasn1.IA5String
		}
		encs[i] = enc{oid, tag, a.Value}
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, e := range encs {
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(e.oid)
					b.AddASN1(e.tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(e.value)) })
				})
			})
		}
	})
	return b.Bytes()
}

// isPrintable reports whether s fits the PrintableString character set.
func isPrintable(s string) bool {
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte(" '()+,-./:=?", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// addCertTime writes a validity time as RFC 5280 §4.1.2.5 requires:
// UTCTime through 2049, GeneralizedTime from 2050, in UTC, to the second.
func addCertTime(b *cryptobyte.Builder, t time.Time) {
	t = t.UTC().Truncate(time.Second)
	if t.Year() >= 1950 && t.Year() < 2050 {
		b.AddASN1UTCTime(t)
	} else {
		b.AddASN1GeneralizedTime(t)
	}
}

// parseOID reads a dotted OID such as "2.5.4.3".
func parseOID(dotted string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(dotted, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("%q is not a dotted OID", dotted)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || (len(p) > 1 && p[0] == '0') {
			return nil, fmt.Errorf("%q is not a dotted OID", dotted)
		}
		oid[i] = n
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] > 39) {
		return nil, fmt.Errorf("%q is not a valid OID", dotted)
	}
	return oid, nil
}

func mustOID(dotted string) asn1.ObjectIdentifier {
	oid, err := parseOID(dotted)
	if err != nil {
		panic(err)
	}
	return oid
}

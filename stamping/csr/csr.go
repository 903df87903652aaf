package csr

import (
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/egsd/egsd/stamping/keystore"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Environment is the ZATCA environment the certificate is requested for;
// it selects the certificate template name (spec/zatca.md §4.2). Values are
// explicit because they may be stored in configuration; the zero value is
// invalid.
type Environment int

const (
	// DeveloperPortal is the sandbox ("developer-portal"), template
	// TSTZATCA-Code-Signing.
	DeveloperPortal Environment = 1
	// Simulation is the simulation environment, template
	// PREZATCA-Code-Signing.
	Simulation Environment = 2
	// Core is production ("core"), template ZATCA-Code-Signing.
	Core Environment = 3
)

// String returns the environment's name as in ZATCA's base URLs:
// "developer-portal", "simulation" or "core".
func (e Environment) String() string {
	switch e {
	case DeveloperPortal:
		return "developer-portal"
	case Simulation:
		return "simulation"
	case Core:
		return "core"
	}
	return fmt.Sprintf("Environment(%d)", int(e))
}

// TemplateName returns the certificate template name that goes into the
// 1.3.6.1.4.1.311.20.2 extension, or "" for an invalid environment.
func (e Environment) TemplateName() string {
	switch e {
	case DeveloperPortal:
		return "TSTZATCA-Code-Signing"
	case Simulation:
		return "PREZATCA-Code-Signing"
	case Core:
		return "ZATCA-Code-Signing"
	}
	return ""
}

// ParseEnvironment reads an environment name: "developer-portal" (or
// "sandbox"), "simulation", or "core" (or "production").
func ParseEnvironment(s string) (Environment, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "developer-portal", "sandbox":
		return DeveloperPortal, nil
	case "simulation":
		return Simulation, nil
	case "core", "production":
		return Core, nil
	}
	return 0, fmt.Errorf("csr: unknown environment %q: want developer-portal, simulation or core", s)
}

// Request is what goes into a CSR. The comments give the ZATCA SDK property
// of each field (spec/zatca.md §4.1). Every string is at most 64 characters
// (§4.4).
type Request struct {
	// CommonName is the EGS unit's name (csr.common.name), e.g.
	// "TST-886431145-399999999900003".
	CommonName string
	// SerialNumber identifies the EGS unit as
	// "1-<solution/manufacturer>|2-<model/version>|3-<serial>"
	// (csr.serial.number); it goes into the SAN as surname.
	SerialNumber string
	// OrganizationIdentifier is the 15-digit VAT number, beginning and
	// ending with 3 (csr.organization.identifier); SAN UID.
	OrganizationIdentifier string
	// OrganizationUnit is the branch name (csr.organization.unit.name);
	// for a VAT group (11th VAT digit 1) the member's 10-digit TIN.
	OrganizationUnit string
	// Organization is the taxpayer's name (csr.organization.name).
	Organization string
	// Country is the ISO 3166 two-letter code, "SA" (csr.country.name).
	Country string
	// InvoiceType is the four-digit functionality map "TSCZ"
	// (csr.invoice.type): T standard, S simplified, C and Z reserved;
	// "1100" covers both kinds of documents. SAN title.
	InvoiceType string
	// Location is the branch address (csr.location.address); SAN
	// registeredAddress.
	Location string
	// Industry is the business category
	// (csr.industry.business.category); SAN businessCategory.
	Industry string
	// Environment selects the certificate template name.
	Environment Environment
}

// MaxFieldLen is the longest value, in characters, that ZATCA accepts in a
// CSR field (spec/zatca.md §4.4).
const MaxFieldLen = 64

var (
	reSerial = regexp.MustCompile(`^1-[^|]+\|2-[^|]+\|3-[^|]+$`)
	reVAT    = regexp.MustCompile(`^3[0-9]{13}3$`)
	reTIN    = regexp.MustCompile(`^[0-9]{10}$`)
	reType   = regexp.MustCompile(`^[01]{4}$`)
)

// Validate checks every field and returns Errors listing all problems, or
// nil.
func (r Request) Validate() error {
	var es Errors
	add := func(field, prop, format string, args ...any) {
		es = append(es, FieldError{Field: field, Property: prop, Rule: fmt.Sprintf(format, args...)})
	}
	text := func(field, prop, v string) bool {
		switch {
		case v == "":
			add(field, prop, "required")
		case !utf8.ValidString(v):
			add(field, prop, "not valid UTF-8")
		case strings.IndexFunc(v, unicode.IsControl) >= 0:
			add(field, prop, "contains a control character")
		case utf8.RuneCountInString(v) > MaxFieldLen:
			add(field, prop, "%d characters; ZATCA accepts at most %d", utf8.RuneCountInString(v), MaxFieldLen)
		default:
			return true
		}
		return false
	}
	text("CommonName", "csr.common.name", r.CommonName)
	if text("SerialNumber", "csr.serial.number", r.SerialNumber) && !reSerial.MatchString(r.SerialNumber) {
		add("SerialNumber", "csr.serial.number", "%q is not of the form 1-<solution>|2-<model>|3-<serial>", r.SerialNumber)
	}
	vatOK := text("OrganizationIdentifier", "csr.organization.identifier", r.OrganizationIdentifier)
	if vatOK && !reVAT.MatchString(r.OrganizationIdentifier) {
		add("OrganizationIdentifier", "csr.organization.identifier", "%q is not a VAT number: 15 digits, first and last 3", r.OrganizationIdentifier)
		vatOK = false
	}
	if text("OrganizationUnit", "csr.organization.unit.name", r.OrganizationUnit) &&
		vatOK && r.OrganizationIdentifier[10] == '1' && !reTIN.MatchString(r.OrganizationUnit) {
		add("OrganizationUnit", "csr.organization.unit.name",
			"%q must be the member's 10-digit TIN, because the VAT number is a group's (11th digit 1)", r.OrganizationUnit)
	}
	text("Organization", "csr.organization.name", r.Organization)
	if r.Country == "" {
		add("Country", "csr.country.name", "required")
	} else if !isCountry(r.Country) {
		add("Country", "csr.country.name", "%q is not a two-letter upper-case country code such as SA", r.Country)
	}
	switch {
	case r.InvoiceType == "":
		add("InvoiceType", "csr.invoice.type", "required")
	case !reType.MatchString(r.InvoiceType):
		add("InvoiceType", "csr.invoice.type", "%q is not four digits 0 or 1 (TSCZ, e.g. 1100)", r.InvoiceType)
	case r.InvoiceType[:2] == "00":
		add("InvoiceType", "csr.invoice.type", "%q covers neither standard (T) nor simplified (S) documents", r.InvoiceType)
	}
	text("Location", "csr.location.address", r.Location)
	text("Industry", "csr.industry.business.category", r.Industry)
	if r.Environment.TemplateName() == "" {
		add("Environment", "", "%v is not DeveloperPortal, Simulation or Core", r.Environment)
	}
	if len(es) > 0 {
		return es
	}
	return nil
}

func isCountry(s string) bool {
	return len(s) == 2 && 'A' <= s[0] && s[0] <= 'Z' && 'A' <= s[1] && s[1] <= 'Z'
}

var (
	oidCountry           = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidOrgUnit           = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidOrganization      = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidCommonName        = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidSurname           = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidUID               = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	oidTitle             = asn1.ObjectIdentifier{2, 5, 4, 12}
	oidRegisteredAddress = asn1.ObjectIdentifier{2, 5, 4, 26}
	oidBusinessCategory  = asn1.ObjectIdentifier{2, 5, 4, 15}
	oidExtensionRequest  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 14}
	oidTemplateName      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2}
	oidSubjectAltName    = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidECDSAWithSHA256   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
)

// Build validates r and returns the DER of a CSR for key's public key,
// signed by key. A validation failure is an Errors.
func Build(key *keystore.Key, r Request) (der []byte, err error) {
	if key == nil {
		return nil, errors.New("csr: no key")
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	info, err := buildInfo(key.PublicKeyDER(), r)
	if err != nil {
		return nil, err
	}
	sig, err := key.SignSHA256(info)
	if err != nil {
		return nil, fmt.Errorf("csr: sign: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(info)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidECDSAWithSHA256)
		})
		b.AddASN1BitString(sig)
	})
	der, err = b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("csr: encode: %w", err)
	}
	return der, nil
}

// buildInfo returns the DER CertificationRequestInfo for a validated r and
// the DER SubjectPublicKeyInfo spki.
func buildInfo(spki []byte, r Request) ([]byte, error) {
	utf8Attr := func(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, v string) {
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oid)
				b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(v)) })
			})
		})
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // subject
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidCountry)
					b.AddASN1(cbasn1.PrintableString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(r.Country)) })
				})
			})
			utf8Attr(b, oidOrgUnit, r.OrganizationUnit)
			utf8Attr(b, oidOrganization, r.Organization)
			utf8Attr(b, oidCommonName, r.CommonName)
		})
		b.AddBytes(spki)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // Attribute
				b.AddASN1ObjectIdentifier(oidExtensionRequest)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // Extensions
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(oidTemplateName)
							b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
								b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) {
									b.AddBytes([]byte(r.Environment.TemplateName()))
								})
							})
						})
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(oidSubjectAltName)
							b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
								b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
									// directoryName [4] is EXPLICIT: Name is a CHOICE.
									b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
										b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
											utf8Attr(b, oidSurname, r.SerialNumber)
											utf8Attr(b, oidUID, r.OrganizationIdentifier)
											utf8Attr(b, oidTitle, r.InvoiceType)
											utf8Attr(b, oidRegisteredAddress, r.Location)
											utf8Attr(b, oidBusinessCategory, r.Industry)
										})
									})
								})
							})
						})
					})
				})
			})
		})
	})
	info, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("csr: encode: %w", err)
	}
	return info, nil
}

// PEM wraps a DER CSR as PEM "CERTIFICATE REQUEST".
func PEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// APIBody returns the value of the "csr" field of ZATCA's compliance CSID
// request: standard base64 of the whole PEM text, header lines included
// (spec/zatca.md §4.3).
func APIBody(der []byte) string {
	return base64.StdEncoding.EncodeToString(PEM(der))
}

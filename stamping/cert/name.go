package cert

import (
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Attribute is one AttributeTypeAndValue of a distinguished name.
type Attribute struct {
	// Type is the dotted OID, e.g. "2.5.4.3" for commonName. The OID
	// constants of this package name the ones ZATCA uses.
	Type string
	// Value is the decoded string. A value that is not a string type is
	// given in RFC 4514 form: "#" and the hex of its DER.
	Value string
}

// OIDs of the name attributes in ZATCA certificates and CSRs
// (spec/zatca.md §2.6, §4.2), for use as Attribute.Type and SAN keys.
const (
	OIDCommonName         = "2.5.4.3"
	OIDSurname            = "2.5.4.4" // EGS serial "1-…|2-…|3-…" in the SAN
	OIDCountry            = "2.5.4.6"
	OIDLocality           = "2.5.4.7"
	OIDState              = "2.5.4.8"
	OIDStreet             = "2.5.4.9"
	OIDOrganization       = "2.5.4.10"
	OIDOrganizationalUnit = "2.5.4.11"
	OIDTitle              = "2.5.4.12" // invoice types "TSCZ", e.g. "1100"
	OIDBusinessCategory   = "2.5.4.15" // industry
	OIDRegisteredAddress  = "2.5.4.26" // branch location
	OIDOrganizationID     = "2.5.4.97"
	OIDUID                = "0.9.2342.19200300.100.1.1"  // VAT number in the SAN
	OIDDomainComponent    = "0.9.2342.19200300.100.1.25" // DC
)

// rfc4514Keywords are the attribute type names of RFC 4514 §3; every other
// type is printed as its dotted OID.
var rfc4514Keywords = map[string]string{
	OIDCommonName:         "CN",
	OIDLocality:           "L",
	OIDState:              "ST",
	OIDOrganization:       "O",
	OIDOrganizationalUnit: "OU",
	OIDCountry:            "C",
	OIDStreet:             "STREET",
	OIDDomainComponent:    "DC",
	OIDUID:                "UID",
}

// atv is one parsed AttributeTypeAndValue with what formatName needs.
type atv struct {
	Attribute
	der      []byte // the DER of the value
	isString bool   // Value is a decoded string, not "#hex"
}

// rdn is one RelativeDistinguishedName; almost always one attribute.
type rdn []atv

// parseName reads a Name (an RDNSequence) from its DER SEQUENCE content.
func parseName(seq cryptobyte.String) ([]rdn, error) {
	var out []rdn
	for !seq.Empty() {
		var set cryptobyte.String
		if !seq.ReadASN1(&set, cbasn1.SET) {
			return nil, fmt.Errorf("RDN is not a SET")
		}
		if set.Empty() {
			return nil, fmt.Errorf("empty RDN")
		}
		var r rdn
		for !set.Empty() {
			var seq cryptobyte.String
			var oid asn1.ObjectIdentifier
			var value cryptobyte.String
			var tag cbasn1.Tag
			if !set.ReadASN1(&seq, cbasn1.SEQUENCE) ||
				!seq.ReadASN1ObjectIdentifier(&oid) {
				return nil, fmt.Errorf("bad AttributeTypeAndValue")
			}
			der := []byte(seq)
			if !seq.ReadAnyASN1(&value, &tag) || !seq.Empty() {
				return nil, fmt.Errorf("bad value of attribute %s", oid)
			}
			a := atv{Attribute: Attribute{Type: oid.String()}, der: der}
			a.Value, a.isString = decodeString(tag, value)
			if !a.isString {
				a.Value = "#" + hex.EncodeToString(der)
			}
			r = append(r, a)
		}
		out = append(out, r)
	}
	return out, nil
}

// flatten lists the attributes of a name in DER order.
func flatten(rdns []rdn) []Attribute {
	var out []Attribute
	for _, r := range rdns {
		for _, a := range r {
			out = append(out, a.Attribute)
		}
	}
	return out
}

// decodeString decodes the ASN.1 string types that occur in names. It
// reports false for other types and for invalid contents.
func decodeString(tag cbasn1.Tag, b []byte) (string, bool) {
	switch tag {
	case cbasn1.UTF8String:
		return string(b), utf8.Valid(b)
	case cbasn1.PrintableString, cbasn1.IA5String, 18 /* NumericString */, 26 /* VisibleString */ :
		for _, c := range b {
			if c >= 0x80 {
				return "", false
			}
		}
		return string(b), true
	case cbasn1.T61String: // in practice Latin-1
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r), true
	case 30: // BMPString, UTF-16BE
		if len(b)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		return string(utf16.Decode(u)), true
	case 28: // UniversalString, UTF-32BE
		if len(b)%4 != 0 {
			return "", false
		}
		r := make([]rune, len(b)/4)
		for i := range r {
			r[i] = rune(uint32(b[4*i])<<24 | uint32(b[4*i+1])<<16 | uint32(b[4*i+2])<<8 | uint32(b[4*i+3]))
			if !utf8.ValidRune(r[i]) {
				return "", false
			}
		}
		return string(r), true
	}
	return "", false
}

// formatName prints a name the way ZATCA expects X509IssuerName
// (spec/zatca.md §2.3): RFC 4514 syntax, most specific RDN first (the
// reverse of the DER order), RDNs joined with ", " and the attributes of a
// multi-valued RDN with "+". Types without an RFC 4514 keyword are printed
// as dotted OIDs with the value as "#" and the hex of its DER (§2.4).
func formatName(rdns []rdn) string {
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i != len(rdns)-1 {
			b.WriteString(", ")
		}
		for j, a := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			kw, ok := rfc4514Keywords[a.Type]
			switch {
			case ok && a.isString:
				b.WriteString(kw + "=" + escapeValue(a.Value))
			case ok:
				b.WriteString(kw + "=#" + hex.EncodeToString(a.der))
			default:
				b.WriteString(a.Type + "=#" + hex.EncodeToString(a.der))
			}
		}
	}
	return b.String()
}

// escapeValue escapes a string value per RFC 4514 §2.4.
func escapeValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == 0:
			b.WriteString(`\00`)
		case (c == '#' || c == ' ') && i == 0, c == ' ' && i == len(s)-1:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

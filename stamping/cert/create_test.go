package cert

import (
	"bytes"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/keystore"
)

func createKey(t *testing.T, name string) *keystore.Key {
	t.Helper()
	k, err := keystore.Create(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// zatcaIssuer is a ZATCA-style issuer in DER order (spec/zatca.md §2.3).
var zatcaIssuer = []Attribute{
	{OIDDomainComponent, "local"}, {OIDDomainComponent, "gov"}, {OIDDomainComponent, "extgazt"},
	{OIDCommonName, "PRZEINVOICESCA4-CA"},
}

// egsTemplate is an EGS certificate as ZATCA issues it, with the SDK's EN
// example values and an Arabic organisation name.
func egsTemplate(spki []byte) Template {
	serial, _ := new(big.Int).SetString("1100003803c5f74023b3fc5c5f000100003803", 16)
	return Template{
		SerialNumber: serial,
		Issuer:       zatcaIssuer,
		Subject: []Attribute{
			{OIDCountry, "SA"}, {OIDOrganizationalUnit, "Riyadh Branch"},
			{OIDOrganization, "شركة توريد التكنولوجيا بأقصى سرعة المحدودة"}, {OIDCommonName, "TST-886431145-399999999900003"},
		},
		NotBefore:    time.Date(2024, 1, 11, 9, 19, 30, 0, time.UTC),
		NotAfter:     time.Date(2029, 1, 9, 9, 19, 30, 0, time.UTC),
		PublicKeyDER: spki,
		SAN: []Attribute{
			{OIDSurname, "1-TST|2-TST|3-ed22f1d8-e6a2-1118-9b58-d9a8f11e445f"},
			{OIDUID, "399999999900003"}, {OIDTitle, "1100"},
			{OIDRegisteredAddress, "RRRD2929"}, {OIDBusinessCategory, "Supply activities"},
		},
		TemplateName: "ZATCA-Code-Signing",
	}
}

func TestCreateRoundTrip(t *testing.T) {
	ca, egs := createKey(t, "ca"), createKey(t, "egs")
	late := egsTemplate(egs.PublicKeyDER())
	late.NotAfter = time.Date(2051, 2, 3, 4, 5, 6, 0, time.UTC) // GeneralizedTime
	for name, tmpl := range map[string]Template{"ZATCA-like": egsTemplate(egs.PublicKeyDER()), "after 2049": late} {
		t.Run(name, func(t *testing.T) {
			der, err := Create(tmpl, ca)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			c, err := Parse(der)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for _, f := range []struct {
				field     string
				got, want any
			}{
				{"Version", c.Version, 3},
				{"SerialNumber", c.SerialNumber.String(), tmpl.SerialNumber.String()},
				{"SignatureAlgorithm", c.SignatureAlgorithm, OIDECDSAWithSHA256},
				{"Issuer", c.Issuer, tmpl.Issuer},
				{"IssuerName", c.IssuerName, "CN=PRZEINVOICESCA4-CA, DC=extgazt, DC=gov, DC=local"},
				{"Subject", c.Subject, tmpl.Subject},
				{"NotBefore", c.NotBefore, tmpl.NotBefore},
				{"NotAfter", c.NotAfter, tmpl.NotAfter},
				{"PublicKeyDER", c.PublicKeyDER, tmpl.PublicKeyDER},
				{"SAN", c.SAN, map[string]string{
					OIDSurname: tmpl.SAN[0].Value, OIDUID: "399999999900003", OIDTitle: "1100",
					OIDRegisteredAddress: "RRRD2929", OIDBusinessCategory: "Supply activities",
				}},
			} {
				if !reflect.DeepEqual(f.got, f.want) {
					t.Errorf("%s = %v, want %v", f.field, f.got, f.want)
				}
			}
			var oids []string
			exts := map[string]Extension{}
			for _, e := range c.Extensions {
				oids = append(oids, e.OID)
				exts[e.OID] = e
			}
			wantOIDs := []string{OIDSubjectAltName, OIDSubjectKeyIdentifier, OIDAuthorityKeyIdentifier, OIDKeyUsage, OIDExtKeyUsage, OIDTemplateName}
			if !reflect.DeepEqual(oids, wantOIDs) {
				t.Errorf("extensions %v, want %v", oids, wantOIDs)
			}
			for _, e := range []struct {
				oid      string
				critical bool
				value    []byte
			}{
				{OIDKeyUsage, true, []byte{0x03, 0x02, 0x07, 0x80}}, // digitalSignature
				{OIDExtKeyUsage, false, []byte{0x30, 0x14,
					0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03, // codeSigning
					0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02}}, // clientAuth
				{OIDTemplateName, false, append([]byte{0x0c, 18}, "ZATCA-Code-Signing"...)},
			} {
				got := exts[e.oid]
				if got.Critical != e.critical || !bytes.Equal(got.Value, e.value) {
					t.Errorf("extension %s = critical %v %x, want critical %v %x", e.oid, got.Critical, got.Value, e.critical, e.value)
				}
			}
			if err := c.CheckSignature(ca.PublicKeyDER()); err != nil {
				t.Errorf("CheckSignature(issuer key): %v", err)
			}
			if err := c.CheckSignature(egs.PublicKeyDER()); !errors.Is(err, keystore.ErrVerification) {
				t.Errorf("CheckSignature(subject key) = %v, want ErrVerification", err)
			}
		})
	}
}

func TestCreateRejects(t *testing.T) {
	ca, egs := createKey(t, "ca"), createKey(t, "egs")
	tests := []struct {
		name string
		edit func(*Template)
	}{
		{"no serial", func(t *Template) { t.SerialNumber = nil }},
		{"zero serial", func(t *Template) { t.SerialNumber = big.NewInt(0) }},
		{"negative serial", func(t *Template) { t.SerialNumber = big.NewInt(-5) }},
		{"21-octet serial", func(t *Template) { t.SerialNumber = new(big.Int).Lsh(big.NewInt(1), 161) }},
		{"no issuer", func(t *Template) { t.Issuer = nil }},
		{"no subject", func(t *Template) { t.Subject = nil }},
		{"no validity", func(t *Template) { t.NotBefore = time.Time{} }},
		{"ends before it starts", func(t *Template) { t.NotAfter = t.NotBefore.Add(-time.Second) }},
		{"no public key", func(t *Template) { t.PublicKeyDER = nil }},
		{"garbage public key", func(t *Template) { t.PublicKeyDER = []byte{0x30, 0x03, 0x02, 0x01, 0x00} }},
		{"bad OID", func(t *Template) { t.Subject = []Attribute{{"2.5.x.3", "a"}} }},
		{"empty value", func(t *Template) { t.SAN = []Attribute{{OIDUID, ""}} }},
		{"Arabic country", func(t *Template) { t.Subject = []Attribute{{OIDCountry, "سع"}} }},
		{"invalid UTF-8", func(t *Template) { t.Subject = []Attribute{{OIDCommonName, "\xff"}} }},
	}
	for _, tt := range tests {
		tmpl := egsTemplate(egs.PublicKeyDER())
		tt.edit(&tmpl)
		if der, err := Create(tmpl, ca); err == nil || !strings.HasPrefix(err.Error(), "cert: create: ") {
			t.Errorf("%s: Create = %d bytes, %v; want an error", tt.name, len(der), err)
		}
	}
	if _, err := Create(egsTemplate(egs.PublicKeyDER()), nil); err == nil {
		t.Error("Create without an issuer key did not fail")
	}
}

// TestCreateOpenSSL has an independent implementation read and verify
// the certificates: openssl prints every field, and verifies the EGS
// certificate against a CA certificate made by Create (self-signed).
func TestCreateOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed (CI installs it): cannot cross-check the certificate")
	}
	caKey, egs := createKey(t, "ca"), createKey(t, "egs")
	now := time.Now()
	caDER, err := Create(Template{
		SerialNumber: big.NewInt(1), Issuer: zatcaIssuer, Subject: zatcaIssuer,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		PublicKeyDER: caKey.PublicKeyDER(), CA: true,
	}, caKey)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := egsTemplate(egs.PublicKeyDER())
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(time.Hour)
	egsDER, err := Create(tmpl, caKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caPath, egsPath := write("ca.pem", caDER), write("egs.pem", egsDER)

	out, err := exec.Command("openssl", "x509", "-in", egsPath, "-noout", "-text", "-nameopt", "sep_comma_plus_space,utf8,sname").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl x509 -text: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Version: 3 (0x2)",
		"11:00:00:38:03:c5:f7:40:23:b3:fc:5c:5f:00:01:00:00:38:03",
		"Signature Algorithm: ecdsa-with-SHA256",
		"Issuer: DC=local, DC=gov, DC=extgazt, CN=PRZEINVOICESCA4-CA",
		"Subject: C=SA, OU=Riyadh Branch, O=شركة توريد التكنولوجيا بأقصى سرعة المحدودة, CN=TST-886431145-399999999900003",
		"CN=TST-886431145-399999999900003",
		"ASN1 OID: secp256k1",
		"DirName:/SN=1-TST|2-TST|3-ed22f1d8-e6a2-1118-9b58-d9a8f11e445f/UID=399999999900003/title=1100/registeredAddress=RRRD2929/businessCategory=Supply activities",
		"X509v3 Key Usage: critical",
		"Digital Signature",
		"Code Signing, TLS Web Client Authentication",
		"1.3.6.1.4.1.311.20.2:",
		"ZATCA-Code-Signing",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("openssl x509 -text lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command("openssl", "verify", "-CAfile", caPath, egsPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": OK") {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
}

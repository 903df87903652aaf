package csr

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/keystore"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func newKey(t *testing.T) *keystore.Key {
	t.Helper()
	k, err := keystore.Create(filepath.Join(t.TempDir(), "stamp.key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// exampleEN is csr-config-example-EN.properties (spec/zatca.md §4.1), so
// that tests without the shared directory have it too.
var exampleEN = Request{
	CommonName:             "TST-886431145-399999999900003",
	SerialNumber:           "1-TST|2-TST|3-ed22f1d8-e6a2-1118-9b58-d9a8f11e445f",
	OrganizationIdentifier: "399999999900003",
	OrganizationUnit:       "Riyadh Branch",
	Organization:           "Maximum Speed Tech Supply LTD",
	Country:                "SA",
	InvoiceType:            "1100",
	Location:               "RRRD2929",
	Industry:               "Supply activities",
	Environment:            Core,
}

const (
	utf8Tag      = cbasn1.UTF8String
	printableTag = cbasn1.PrintableString
)

func wantSubject(r Request) []attr {
	return []attr{
		{"2.5.4.6", printableTag, r.Country},
		{"2.5.4.11", utf8Tag, r.OrganizationUnit},
		{"2.5.4.10", utf8Tag, r.Organization},
		{"2.5.4.3", utf8Tag, r.CommonName},
	}
}

func wantSAN(r Request) []attr {
	return []attr{
		{"2.5.4.4", utf8Tag, r.SerialNumber},
		{"0.9.2342.19200300.100.1.1", utf8Tag, r.OrganizationIdentifier},
		{"2.5.4.12", utf8Tag, r.InvoiceType},
		{"2.5.4.26", utf8Tag, r.Location},
		{"2.5.4.15", utf8Tag, r.Industry},
	}
}

func TestBuildStructure(t *testing.T) {
	k := newKey(t)
	for _, env := range []Environment{DeveloperPortal, Simulation, Core} {
		t.Run(env.String(), func(t *testing.T) {
			r := exampleEN
			r.Environment = env
			der, err := Build(k, r)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			p := parseCSR(t, der)
			if p.sigAlg != "1.2.840.10045.4.3.2" {
				t.Errorf("signature algorithm %s, want ecdsa-with-SHA256", p.sigAlg)
			}
			if !bytes.Equal(p.spki, k.PublicKeyDER()) {
				t.Errorf("SPKI %x, want the key's %x", p.spki, k.PublicKeyDER())
			}
			if !reflect.DeepEqual(p.subject, wantSubject(r)) {
				t.Errorf("subject %v, want %v", p.subject, wantSubject(r))
			}
			if want := []string{"1.3.6.1.4.1.311.20.2", "2.5.29.17"}; !reflect.DeepEqual(p.extOIDs, want) {
				t.Errorf("extensions %v, want %v", p.extOIDs, want)
			}
			wantTemplate := map[Environment]string{
				DeveloperPortal: "TSTZATCA-Code-Signing",
				Simulation:      "PREZATCA-Code-Signing",
				Core:            "ZATCA-Code-Signing",
			}[env]
			if p.template.tag != utf8Tag || p.template.value != wantTemplate {
				t.Errorf("template name %v, want UTF8String %s", p.template, wantTemplate)
			}
			if !reflect.DeepEqual(p.san, wantSAN(r)) {
				t.Errorf("SAN %v, want %v", p.san, wantSAN(r))
			}
			// Proof of possession: ECDSA over SHA-256 of the info DER.
			if err := keystore.VerifySHA256(k.PublicKeyDER(), p.info, p.sig); err != nil {
				t.Errorf("CSR signature does not verify: %v", err)
			}
		})
	}
}

func TestPEMAndAPIBody(t *testing.T) {
	der, err := Build(newKey(t), exampleEN)
	if err != nil {
		t.Fatal(err)
	}
	p := PEM(der)
	block, rest := pem.Decode(p)
	if block == nil || block.Type != "CERTIFICATE REQUEST" || !bytes.Equal(block.Bytes, der) || len(rest) != 0 {
		t.Fatalf("PEM = %s, want one CERTIFICATE REQUEST block of the DER", p)
	}
	body := APIBody(der)
	dec, err := base64.StdEncoding.DecodeString(body)
	if err != nil || !bytes.Equal(dec, p) {
		t.Errorf("APIBody does not decode to the PEM text (err %v)", err)
	}
	if !strings.HasPrefix(body, "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS") {
		t.Errorf("APIBody = %.50s…, want base64 of \"-----BEGIN CERTIFICATE REQUEST-----\"", body)
	}
}

// TestGoldenSDKCSR builds the CSR of csr-config-example-EN.properties and
// compares it with the SDK's own, testkeys/csr_en1.pem.
func TestGoldenSDKCSR(t *testing.T) {
	block, _ := pem.Decode(readTestkey(t, "csr_en1.pem"))
	if block == nil {
		t.Fatal("csr_en1.pem holds no PEM block")
	}
	b64, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(readTestkey(t, "csr_en1.b64"))))
	if err != nil || !bytes.Equal(b64, block.Bytes) {
		t.Fatalf("csr_en1.b64 and csr_en1.pem differ (err %v)", err)
	}
	sdk := parseCSR(t, block.Bytes)
	// The SDK signed its CSR the way Build does: over SHA-256 of the info.
	if err := keystore.VerifySHA256(sdk.spki, sdk.info, sdk.sig); err != nil {
		t.Errorf("csr_en1's own signature does not verify: %v", err)
	}

	r := requestFromProperties(readProperties(t, "csr-config-example-EN.properties"), Core)
	if r != exampleEN {
		t.Errorf("csr-config-example-EN.properties gives %+v, want %+v", r, exampleEN)
	}
	key := sdkKey(t)
	der, err := Build(key, r)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	ours := parseCSR(t, der)
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"subject", ours.subject, sdk.subject},
		{"extensions", ours.extOIDs, sdk.extOIDs},
		{"template name", ours.template, sdk.template},
		{"subjectAltName", ours.san, sdk.san},
		{"signature algorithm", ours.sigAlg, sdk.sigAlg},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, csr_en1 has %v", c.field, c.got, c.want)
		}
	}

	// With the same public key the whole CertificationRequestInfo must be
	// byte-identical. csr_en1 was made with a key other than the SDK test
	// key (testkeys README), so put its key into ours.
	sameKey := bytes.Equal(sdk.spki, key.PublicKeyDER())
	if !sameKey {
		t.Logf("csr_en1's public key is not the SDK test key's; comparing with csr_en1's key")
	}
	info, err := buildInfo(sdk.spki, r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(info, sdk.info) {
		t.Errorf("CertificationRequestInfo differs from csr_en1's:\n got %s\nwant %s", hex.EncodeToString(info), hex.EncodeToString(sdk.info))
	}
	if sameKey && !bytes.Equal(ours.info, sdk.info) {
		t.Error("same key, yet Build's CertificationRequestInfo differs from csr_en1's")
	}
}

// TestSDKConfigs builds a CSR from each SDK example configuration,
// including the Arabic and VAT-group ones.
func TestSDKConfigs(t *testing.T) {
	dir := filepath.Join(testkeysDir(t), "csr-configs")
	files, err := filepath.Glob(filepath.Join(dir, "csr-config-example-*.properties"))
	if err != nil || len(files) != 4 {
		t.Fatalf("want 4 example configurations in %s, found %d (%v)", dir, len(files), err)
	}
	key := sdkKey(t)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			r := requestFromProperties(readProperties(t, name), Simulation)
			der, err := Build(key, r)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			p := parseCSR(t, der)
			if !reflect.DeepEqual(p.subject, wantSubject(r)) || !reflect.DeepEqual(p.san, wantSAN(r)) {
				t.Errorf("subject %v / SAN %v do not carry the configuration", p.subject, p.san)
			}
			opensslVerify(t, der)
		})
	}
	// The blank template is rejected, naming every field.
	_, err = Build(key, requestFromProperties(readProperties(t, "csr-config-template.properties"), Core))
	var es Errors
	if !errors.As(err, &es) || len(es) != 9 {
		t.Errorf("Build(blank template) = %v, want 9 field errors", err)
	}
}

// opensslVerify runs `openssl req -verify` on the CSR and returns the text
// of `openssl req -text`.
func opensslVerify(t *testing.T, der []byte) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed (CI installs it): cannot cross-check the CSR")
	}
	path := filepath.Join(t.TempDir(), "req.pem")
	if err := os.WriteFile(path, PEM(der), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "req", "-in", path, "-noout", "-verify").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verify OK") {
		t.Fatalf("openssl req -verify: %v\n%s", err, out)
	}
	text, err := exec.Command("openssl", "req", "-in", path, "-noout", "-text", "-nameopt", "sep_comma_plus_space,utf8,sname").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl req -text: %v\n%s", err, text)
	}
	return string(text)
}

// TestOpenSSL checks the CSR with an independent implementation: openssl
// verifies the signature and prints the fields in the expected order.
func TestOpenSSL(t *testing.T) {
	der, err := Build(newKey(t), exampleEN)
	if err != nil {
		t.Fatal(err)
	}
	text := opensslVerify(t, der)
	for _, want := range []string{
		"Subject: C=SA, OU=Riyadh Branch, O=Maximum Speed Tech Supply LTD, CN=TST-886431145-399999999900003",
		"ASN1 OID: secp256k1",
		"Public Key Algorithm: id-ecPublicKey",
		"1.3.6.1.4.1.311.20.2:",
		"..ZATCA-Code-Signing",
		"DirName:/SN=1-TST|2-TST|3-ed22f1d8-e6a2-1118-9b58-d9a8f11e445f/UID=399999999900003/title=1100/registeredAddress=RRRD2929/businessCategory=Supply activities",
		"Signature Algorithm: ecdsa-with-SHA256",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl req -text lacks %q:\n%s", want, text)
		}
	}

	path := filepath.Join(t.TempDir(), "req.der")
	os.WriteFile(path, der, 0o600)
	out, err := exec.Command("openssl", "asn1parse", "-inform", "DER", "-in", path).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl asn1parse: %v\n%s", err, out)
	}
	order := []string{
		"INTEGER           :00",
		":countryName", "PRINTABLESTRING   :SA",
		":organizationalUnitName", "UTF8STRING        :Riyadh Branch",
		":organizationName", "UTF8STRING        :Maximum Speed Tech Supply LTD",
		":commonName", "UTF8STRING        :TST-886431145-399999999900003",
		":id-ecPublicKey", ":secp256k1",
		"cont [ 0 ]", ":Extension Request",
		":1.3.6.1.4.1.311.20.2", ":X509v3 Subject Alternative Name",
		":ecdsa-with-SHA256", "BIT STRING",
	}
	s := string(out)
	for _, w := range order {
		i := strings.Index(s, w)
		if i < 0 {
			t.Fatalf("openssl asn1parse: %q missing or out of order:\n%s", w, out)
		}
		s = s[i+len(w):]
	}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("x", 65)
	arabic64 := strings.Repeat("ش", 64) // 64 characters, 128 bytes
	tests := []struct {
		name   string
		edit   func(r *Request)
		fields []string // fields named by the errors, in order; nil means valid
	}{
		{"example", func(r *Request) {}, nil},
		{"64 arabic characters", func(r *Request) { r.Organization, r.Location, r.Industry = arabic64, arabic64, arabic64 }, nil},
		{"vat group", func(r *Request) { r.OrganizationIdentifier, r.OrganizationUnit = "399999999910003", "3999999999" }, nil},
		{"standard only", func(r *Request) { r.InvoiceType = "1000" }, nil},
		{"simplified only", func(r *Request) { r.InvoiceType = "0100" }, nil},
		{"all four", func(r *Request) { r.InvoiceType = "1111" }, nil},

		{"long CommonName", func(r *Request) { r.CommonName = long }, []string{"CommonName"}},
		{"long SerialNumber", func(r *Request) { r.SerialNumber = "1-a|2-b|3-" + long }, []string{"SerialNumber"}},
		{"long OrganizationUnit", func(r *Request) { r.OrganizationUnit = long }, []string{"OrganizationUnit"}},
		{"long Organization", func(r *Request) { r.Organization = strings.Repeat("ش", 65) }, []string{"Organization"}},
		{"long Location", func(r *Request) { r.Location = long }, []string{"Location"}},
		{"long Industry", func(r *Request) { r.Industry = long }, []string{"Industry"}},
		{"long VAT", func(r *Request) { r.OrganizationIdentifier = long }, []string{"OrganizationIdentifier"}},
		{"everything long", func(r *Request) {
			r.CommonName, r.OrganizationUnit, r.Organization, r.Location, r.Industry = long, long, long, long, long
		}, []string{"CommonName", "OrganizationUnit", "Organization", "Location", "Industry"}},

		{"missing CommonName", func(r *Request) { r.CommonName = "" }, []string{"CommonName"}},
		{"missing Industry", func(r *Request) { r.Industry = "" }, []string{"Industry"}},
		{"control character", func(r *Request) { r.Location = "RRRD\n2929" }, []string{"Location"}},
		{"invalid utf-8", func(r *Request) { r.Organization = "\xff" }, []string{"Organization"}},

		{"serial without parts", func(r *Request) { r.SerialNumber = "ed22f1d8" }, []string{"SerialNumber"}},
		{"serial out of order", func(r *Request) { r.SerialNumber = "2-TST|1-TST|3-x" }, []string{"SerialNumber"}},
		{"serial empty part", func(r *Request) { r.SerialNumber = "1-TST|2-|3-x" }, []string{"SerialNumber"}},
		{"serial extra part", func(r *Request) { r.SerialNumber = "1-a|2-b|3-c|4-d" }, []string{"SerialNumber"}},

		{"VAT 14 digits", func(r *Request) { r.OrganizationIdentifier = "39999999990003" }, []string{"OrganizationIdentifier"}},
		{"VAT starts with 2", func(r *Request) { r.OrganizationIdentifier = "299999999900003" }, []string{"OrganizationIdentifier"}},
		{"VAT ends with 4", func(r *Request) { r.OrganizationIdentifier = "399999999900004" }, []string{"OrganizationIdentifier"}},
		{"VAT letters", func(r *Request) { r.OrganizationIdentifier = "3999999999O0003" }, []string{"OrganizationIdentifier"}},
		{"vat group OU not TIN", func(r *Request) { r.OrganizationIdentifier = "399999999910003" }, []string{"OrganizationUnit"}},

		{"country lower case", func(r *Request) { r.Country = "sa" }, []string{"Country"}},
		{"country three letters", func(r *Request) { r.Country = "SAU" }, []string{"Country"}},
		{"country missing", func(r *Request) { r.Country = "" }, []string{"Country"}},
		{"invoice type 2", func(r *Request) { r.InvoiceType = "1102" }, []string{"InvoiceType"}},
		{"invoice type short", func(r *Request) { r.InvoiceType = "110" }, []string{"InvoiceType"}},
		{"invoice type none", func(r *Request) { r.InvoiceType = "0011" }, []string{"InvoiceType"}},
		{"no environment", func(r *Request) { r.Environment = 0 }, []string{"Environment"}},
		{"bad environment", func(r *Request) { r.Environment = 7 }, []string{"Environment"}},
	}
	k := newKey(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := exampleEN
			tt.edit(&r)
			err := r.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				der, err := Build(k, r)
				if err != nil {
					t.Fatalf("Build: %v", err)
				}
				p := parseCSR(t, der)
				if !reflect.DeepEqual(p.subject, wantSubject(r)) || !reflect.DeepEqual(p.san, wantSAN(r)) {
					t.Error("CSR does not carry the request")
				}
				return
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("Validate = %v, want Errors", err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Field)
				if !strings.Contains(err.Error(), e.Field) {
					t.Errorf("error text %q does not name %s", err, e.Field)
				}
			}
			if !reflect.DeepEqual(got, tt.fields) {
				t.Errorf("errors name %v, want %v: %v", got, tt.fields, err)
			}
			if _, berr := Build(k, r); berr == nil || berr.Error() != err.Error() {
				t.Errorf("Build = %v, want the Validate error", berr)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	r := exampleEN
	r.Location = strings.Repeat("x", 70)
	err := r.Validate()
	want := "csr: invalid request: Location (csr.location.address): 70 characters; ZATCA accepts at most 64"
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %s", err, want)
	}
	if _, err := Build(nil, exampleEN); err == nil {
		t.Error("Build(nil key) did not fail")
	}
}

func TestEnvironment(t *testing.T) {
	tests := []struct {
		in   string
		want Environment
	}{
		{"developer-portal", DeveloperPortal}, {"sandbox", DeveloperPortal},
		{"simulation", Simulation}, {" Core ", Core}, {"production", Core},
	}
	for _, tt := range tests {
		got, err := ParseEnvironment(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseEnvironment(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if back, _ := ParseEnvironment(got.String()); back != got {
			t.Errorf("ParseEnvironment(%v.String()) = %v", got, back)
		}
	}
	if _, err := ParseEnvironment("test"); err == nil {
		t.Error("ParseEnvironment(\"test\") did not fail")
	}
	if Environment(0).TemplateName() != "" || Environment(0).String() != "Environment(0)" {
		t.Error("the zero Environment has a template name")
	}
}

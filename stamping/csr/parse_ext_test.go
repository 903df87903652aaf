package csr

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/keystore"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Tests of Parse, the reader the ZATCA simulator uses (spec/zatca.md §4).

func attrsOf(as []attr) []Attribute {
	out := make([]Attribute, len(as))
	for i, a := range as {
		out[i] = Attribute{Type: a.oid, Value: a.value}
	}
	return out
}

func TestParseRoundTrip(t *testing.T) {
	k := newKey(t)
	for _, env := range []Environment{DeveloperPortal, Simulation, Core} {
		t.Run(env.String(), func(t *testing.T) {
			r := exampleEN
			r.Environment = env
			der, err := Build(k, r)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name  string
				parse func() (*Parsed, error)
			}{
				{"DER", func() (*Parsed, error) { return Parse(der) }},
				{"PEM", func() (*Parsed, error) { return ParsePEM(append([]byte("junk before\n"), PEM(der)...)) }},
				{"APIBody", func() (*Parsed, error) { return ParseAPIBody(APIBody(der)) }},
				{"base64 DER", func() (*Parsed, error) { return ParseAPIBody(base64.StdEncoding.EncodeToString(der)) }},
				{"base64 of base64 DER", func() (*Parsed, error) {
					return ParseAPIBody(base64.StdEncoding.EncodeToString([]byte(base64.StdEncoding.EncodeToString(der))))
				}},
			} {
				p, err := c.parse()
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if !bytes.Equal(p.Raw, der) || !bytes.Equal(p.PublicKeyDER, k.PublicKeyDER()) {
					t.Errorf("%s: Raw or PublicKeyDER differ from the built CSR", c.name)
				}
				if got, want := p.Subject, attrsOf(wantSubject(r)); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: Subject = %v, want %v", c.name, got, want)
				}
				if got, want := p.SANAttributes, attrsOf(wantSAN(r)); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: SANAttributes = %v, want %v", c.name, got, want)
				}
				if p.SAN["0.9.2342.19200300.100.1.1"] != r.OrganizationIdentifier || p.SAN["2.5.4.12"] != r.InvoiceType || len(p.SAN) != 5 {
					t.Errorf("%s: SAN = %v", c.name, p.SAN)
				}
				if p.TemplateName != env.TemplateName() {
					t.Errorf("%s: TemplateName = %q, want %q", c.name, p.TemplateName, env.TemplateName())
				}
				if got := p.Request(); got != r {
					t.Errorf("%s: Request() = %+v, want %+v", c.name, got, r)
				}
				if err := keystore.VerifySHA256(p.PublicKeyDER, p.Info, p.Signature); err != nil {
					t.Errorf("%s: Info/Signature do not verify: %v", c.name, err)
				}
			}
		})
	}
}

// The SDK's own CSR (testkeys/csr_en1.pem) parses and carries the EN
// example configuration.
func TestParseSDKCSR(t *testing.T) {
	p, err := ParsePEM(readTestkey(t, "csr_en1.pem"))
	if err != nil {
		t.Fatalf("ParsePEM(csr_en1.pem): %v", err)
	}
	want := requestFromProperties(readProperties(t, "csr-config-example-EN.properties"), Core)
	if got := p.Request(); got != want {
		t.Errorf("Request() = %+v\nwant %+v", got, want)
	}
	if err := p.Request().Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if sdk := parseCSR(t, p.Raw); !bytes.Equal(sdk.spki, p.PublicKeyDER) || !bytes.Equal(sdk.info, p.Info) {
		t.Error("PublicKeyDER or Info differ from the test reader's")
	}
	b64 := strings.TrimSpace(string(readTestkey(t, "csr_en1.b64")))
	p2, err := ParseAPIBody(b64)
	if err != nil {
		t.Fatalf("ParseAPIBody(csr_en1.b64): %v", err)
	}
	if !bytes.Equal(p2.Raw, p.Raw) {
		t.Error("csr_en1.b64 and csr_en1.pem parse to different CSRs")
	}
}

// signedCSR builds a CSR from r without validating it (so that it can
// carry values Build refuses) and signs it with k.
func signedCSR(t *testing.T, k *keystore.Key, r Request) []byte {
	t.Helper()
	info, err := buildInfo(k.PublicKeyDER(), r)
	if err != nil {
		t.Fatal(err)
	}
	return assemble(t, k, info)
}

func assemble(t *testing.T, k *keystore.Key, info []byte) []byte {
	t.Helper()
	sig, err := k.SignSHA256(info)
	if err != nil {
		t.Fatal(err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(info)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidECDSAWithSHA256) })
		b.AddASN1BitString(sig)
	})
	return b.BytesOrPanic()
}

// A CSR with a value over 64 characters parses (its signature is fine), and
// Validate on its Request names the field (spec/zatca.md §4.4).
func TestParseLongValue(t *testing.T) {
	k := newKey(t)
	r := exampleEN
	r.Location = strings.Repeat("x", 65)
	p, err := Parse(signedCSR(t, k, r))
	if err != nil {
		t.Fatal(err)
	}
	var es Errors
	if err := p.Request().Validate(); !errors.As(err, &es) || len(es) != 1 || es[0].Field != "Location" {
		t.Errorf("Validate = %v, want one error about Location", err)
	}
}

func TestParseRejects(t *testing.T) {
	k := newKey(t)
	der, err := Build(k, exampleEN)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0x01
		return b
	}
	cn := bytes.Index(der, []byte(exampleEN.CommonName))
	// The last byte is always a value byte of the signature's s. A fixed
	// offset from the end is not: r and s are 31 to 33 bytes long, so it
	// can land on a tag, a length or a leading zero (a malformed DER).
	sigLast := len(der) - 1
	other := newKey(t)
	otherInfo, _ := buildInfo(other.PublicKeyDER(), exampleEN)
	mixed := assemble(t, k, otherInfo) // info carries other's key, signed by k

	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	nist, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, p256)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		der  []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"truncated", der[:len(der)-1], ErrMalformed},
		{"trailing data", append(bytes.Clone(der), 0), ErrMalformed},
		{"not a SEQUENCE", []byte{0x04, 0x00}, ErrMalformed},
		{"subject changed", flip(der, cn), ErrSignature},
		{"signature changed", flip(der, sigLast), ErrSignature},
		{"signed by another key", mixed, ErrSignature},
		{"P-256 key", nist, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.der)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, %v; want an error wrapping %v", p, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "csr: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}

	for _, body := range []string{"", "!!!", base64.StdEncoding.EncodeToString([]byte("hello")),
		base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))} {
		if _, err := ParseAPIBody(body); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseAPIBody(%q) = %v, want ErrMalformed", body, err)
		}
	}
}

// FuzzParseCSR: Parse never panics, and what it accepts parses again to
// the same result.
func FuzzParseCSR(f *testing.F) {
	k, err := keystore.Create(f.TempDir() + "/k.pem")
	if err != nil {
		f.Fatal(err)
	}
	der, err := Build(k, exampleEN)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	f.Add(der[:100])
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Parse(in)
		if err != nil {
			return
		}
		again, err := Parse(p.Raw)
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("Parse(Raw) = %v, %v; want the same result", again, err)
		}
	})
}

package cert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/stampingtest"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func TestSDKCertificate(t *testing.T) {
	pemCert, err := ParsePEM(readTestkey(t, "cert.pem"))
	if err != nil {
		t.Fatalf("ParsePEM(cert.pem): %v", err)
	}
	b64 := string(readTestkey(t, "cert.b64"))
	b64Cert, err := ParseBase64(b64)
	if err != nil {
		t.Fatalf("ParseBase64(cert.b64): %v", err)
	}
	tokenCert, err := DecodeBinarySecurityToken(string(readTestkey(t, "cert_binary_security_token.txt")))
	if err != nil {
		t.Fatalf("DecodeBinarySecurityToken(cert_binary_security_token.txt): %v", err)
	}
	derCert, err := Parse(b64Cert.Raw)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for name, c := range map[string]*Certificate{"cert.b64": b64Cert, "token": tokenCert, "der": derCert} {
		if !bytes.Equal(c.Raw, pemCert.Raw) {
			t.Errorf("%s parses to a different Raw than cert.pem", name)
		}
		if !reflect.DeepEqual(c, pemCert) {
			t.Errorf("%s parses to different fields than cert.pem", name)
		}
	}
	c := pemCert
	if got := c.Base64(); got != strings.TrimSpace(b64) {
		t.Errorf("Base64() = %.40s…, want the text of cert.b64", got)
	}
	// spec/zatca.md §2.3: CertDigest = base64(hex(SHA-256(Base64()))).
	sum := sha256.Sum256([]byte(c.Base64()))
	const certDigest = "ZDMwMmI0MTE1NzVjOTU2NTk4YzVlODhhYmI0ODU2NDUyNTU2YTVhYjhhMDFmN2FjYjk1YTA2OWQ0NjY2MjQ4NQ=="
	if got := base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(sum[:]))); got != certDigest {
		t.Errorf("CertDigest of Base64() = %s, want %s (spec/zatca.md §2.3)", got, certDigest)
	}

	checks := []struct {
		field     string
		got, want any
	}{
		{"Version", c.Version, 3},
		{"IssuerName", c.IssuerName, "CN=PRZEINVOICESCA4-CA, DC=extgazt, DC=gov, DC=local"},
		{"SubjectName", c.SubjectName, "CN=TST-886431145-399999999900003, OU=Riyadh Branch, O=Maximum Speed Tech Supply LTD, C=SA"},
		{"SerialNumber", c.SerialNumber.String(), "379112742831380471835263969587287663520528387"},
		{"SerialNumber hex", strings.ToUpper(c.SerialNumber.Text(16)), "1100003803C5F74023B3FC5C5F000100003803"},
		{"NotBefore", c.NotBefore, time.Date(2024, 1, 11, 9, 19, 30, 0, time.UTC)},
		{"NotAfter", c.NotAfter, time.Date(2029, 1, 9, 9, 19, 30, 0, time.UTC)},
		{"SignatureAlgorithm", c.SignatureAlgorithm, OIDECDSAWithSHA256},
		{"PublicKeyDER length", len(c.PublicKeyDER), 88},
		{"PublicKeyDER prefix", hex.EncodeToString(c.PublicKeyDER[:24]), "3056301006072a8648ce3d020106052b8104000a03420004"},
		{"Issuer", c.Issuer, []Attribute{
			{OIDDomainComponent, "local"}, {OIDDomainComponent, "gov"}, {OIDDomainComponent, "extgazt"},
			{OIDCommonName, "PRZEINVOICESCA4-CA"},
		}},
		{"Subject", c.Subject, []Attribute{
			{OIDCountry, "SA"}, {OIDOrganization, "Maximum Speed Tech Supply LTD"},
			{OIDOrganizationalUnit, "Riyadh Branch"}, {OIDCommonName, "TST-886431145-399999999900003"},
		}},
		// spec/zatca.md §2.6.
		{"SAN", c.SAN, map[string]string{
			OIDSurname:           "1-TST|2-TST|3-ed22f1d8-e6a2-1118-9b58-d9a8f11e445f",
			OIDUID:               "399999999900003",
			OIDTitle:             "1100",
			OIDRegisteredAddress: "RRRD2929",
			OIDBusinessCategory:  "Supply activities",
		}},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.field, ck.got, ck.want)
		}
	}
	if n := len(c.Signature); n < 70 || n > 72 || c.Signature[0] != 0x30 {
		t.Errorf("Signature = %x, want a 70–72 byte DER ECDSA-Sig-Value", c.Signature)
	}
	if !bytes.HasPrefix(c.Raw[len(c.Raw)-len(c.Signature)-3:], []byte{0x03, byte(len(c.Signature) + 1), 0x00}) {
		t.Error("Signature is not the content of the final BIT STRING")
	}
	if !bytes.Contains(c.Raw, c.TBS) || c.TBS[0] != 0x30 || !bytes.Contains(c.TBS, c.PublicKeyDER) {
		t.Error("TBS is not the TBSCertificate of Raw")
	}
	var exts []string
	for _, e := range c.Extensions {
		if e.Critical {
			exts = append(exts, e.OID+"!")
		} else {
			exts = append(exts, e.OID)
		}
	}
	if got, want := strings.Join(exts, " "), "2.5.29.17 2.5.29.14 2.5.29.35 1.3.6.1.5.5.7.1.1 2.5.29.15! 1.3.6.1.4.1.311.21.7 2.5.29.37 1.3.6.1.4.1.311.21.10"; got != want {
		t.Errorf("Extensions = %s, want %s", got, want)
	}

	// The SDK private key belongs to this certificate.
	key, err := keystore.ParsePKCS8DER(readTestkey(t, "key_pkcs8.der"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key.PublicKeyDER(), c.PublicKeyDER) {
		t.Error("PublicKeyDER differs from the SDK private key's public key")
	}
	// The certificate is not self-signed: its own key does not verify it.
	if err := c.CheckSignature(c.PublicKeyDER); !errors.Is(err, keystore.ErrVerification) {
		t.Errorf("CheckSignature(own key) = %v, want ErrVerification", err)
	}
}

func newTestCert(spki []byte) testCert {
	return testCert{
		version: 3,
		serial:  big.NewInt(0x1100003803),
		sigAlg:  oidECDSASHA256,
		issuer: [][]testATV{
			{{asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, cbasn1.IA5String, []byte("local")}},
			{utf8ATV(asn1.ObjectIdentifier{2, 5, 4, 3}, "Test CA")},
		},
		subject:   [][]testATV{{utf8ATV(asn1.ObjectIdentifier{2, 5, 4, 3}, "EGS1")}},
		notBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		notAfter:  time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC),
		spki:      spki,
	}
}

func TestCheckSignature(t *testing.T) {
	dir := t.TempDir()
	ca, err := keystore.Create(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	egs, err := keystore.Create(filepath.Join(dir, "egs"))
	if err != nil {
		t.Fatal(err)
	}
	signK1 := func(tbs []byte) []byte {
		sig, err := ca.SignSHA256(tbs)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256SPKI, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	signP256 := func(tbs []byte) []byte {
		h := sha256.Sum256(tbs)
		sig, err := ecdsa.SignASN1(rand.Reader, p256, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	tc := newTestCert(egs.PublicKeyDER())
	good := tc.signed(signK1)
	tampered := bytes.Clone(good)
	tampered[bytes.Index(tampered, []byte("EGS1"))] = 'X'
	sha384 := tc
	sha384.sigAlg = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}

	tests := []struct {
		name   string
		der    []byte
		issuer []byte
		want   error
	}{
		{"secp256k1 issuer", good, ca.PublicKeyDER(), nil},
		{"wrong issuer", good, egs.PublicKeyDER(), keystore.ErrVerification},
		{"tampered subject", tampered, ca.PublicKeyDER(), keystore.ErrVerification},
		{"P-256 issuer", tc.signed(signP256), p256SPKI, nil},
		{"P-256 issuer, wrong key", tc.signed(signP256), ca.PublicKeyDER(), keystore.ErrVerification},
		{"secp256k1 signature, P-256 key", good, p256SPKI, keystore.ErrVerification},
		{"issuer key garbage", good, []byte{1, 2, 3}, keystore.ErrMalformedPublicKey},
		{"ecdsa-with-SHA384", sha384.signed(signK1), ca.PublicKeyDER(), ErrUnsupportedAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.der)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			err = c.CheckSignature(tt.issuer)
			if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Errorf("CheckSignature = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNames(t *testing.T) {
	oid := func(s ...int) asn1.ObjectIdentifier { return s }
	cn, o, dc := oid(2, 5, 4, 3), oid(2, 5, 4, 10), oid(0, 9, 2342, 19200300, 100, 1, 25)
	bmp := []byte{0x06, 0x27, 0x06, 0x44} // "ال" in UTF-16BE
	tests := []struct {
		name  string
		rdns  [][]testATV
		want  string
		attrs []Attribute
	}{
		{"reversed", [][]testATV{{{dc, cbasn1.IA5String, []byte("sa")}}, {utf8ATV(cn, "CA")}}, "CN=CA, DC=sa", nil},
		{"escaped", [][]testATV{{utf8ATV(o, `A, B+C "D" <E>;\`)}}, `O=A\, B\+C \"D\" \<E\>\;\\`, nil},
		{"leading and trailing", [][]testATV{{utf8ATV(cn, "#x ")}, {utf8ATV(o, " y")}}, `O=\ y, CN=\#x\ `, nil},
		{"multi-valued RDN", [][]testATV{{utf8ATV(cn, "a"), utf8ATV(o, "b")}}, "CN=a+O=b", nil},
		{"arabic utf8", [][]testATV{{utf8ATV(o, "شركة")}}, "O=شركة", nil},
		{"bmpstring", [][]testATV{{{o, 30, bmp}}}, "O=ال", nil},
		{"teletex", [][]testATV{{{o, cbasn1.T61String, []byte{'M', 0xfc, 'n'}}}}, "O=Mün", nil},
		{"unknown type", [][]testATV{{utf8ATV(oid(2, 5, 4, 97), "VATSA-399999999900003")}},
			"2.5.4.97=#0c1556415453412d333939393939393939393030303033",
			[]Attribute{{"2.5.4.97", "VATSA-399999999900003"}}},
		{"non-string value", [][]testATV{{{cn, cbasn1.INTEGER, []byte{5}}}}, "CN=#020105",
			[]Attribute{{OIDCommonName, "#020105"}}},
		{"invalid utf8", [][]testATV{{{cn, cbasn1.UTF8String, []byte{0xff}}}}, "CN=#0c01ff", nil},
		{"empty name", nil, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCert(egsSPKI(t))
			tc.subject = tt.rdns
			c, err := Parse(tc.signed(func([]byte) []byte { return []byte{0x30, 0} }))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c.SubjectName != tt.want {
				t.Errorf("SubjectName = %q, want %q", c.SubjectName, tt.want)
			}
			if tt.attrs != nil && !reflect.DeepEqual(c.Subject, tt.attrs) {
				t.Errorf("Subject = %v, want %v", c.Subject, tt.attrs)
			}
		})
	}
}

func egsSPKI(t *testing.T) []byte {
	t.Helper()
	p, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&p.PublicKey)
	return der
}

func TestVariants(t *testing.T) {
	sig := func([]byte) []byte { return []byte{0x30, 0} }
	surname := asn1.ObjectIdentifier{2, 5, 4, 4}
	uid := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	san := asn1.ObjectIdentifier{2, 5, 29, 17}

	v1 := newTestCert(egsSPKI(t))
	v1.version = 0
	c, err := Parse(v1.signed(sig))
	if err != nil {
		t.Fatalf("v1 certificate: %v", err)
	}
	if c.Version != 1 || c.SAN != nil || c.Extensions != nil {
		t.Errorf("v1 certificate: Version %d, SAN %v, Extensions %v", c.Version, c.SAN, c.Extensions)
	}

	gen := newTestCert(egsSPKI(t))
	gen.notAfter = time.Date(2060, 2, 3, 4, 5, 6, 0, time.UTC)
	gen.serial = big.NewInt(-5)
	gen.extensions = []testExt{
		{oid: asn1.ObjectIdentifier{2, 5, 29, 15}, critical: true, value: []byte{3, 2, 7, 0x80}},
		{oid: san, value: sanDirName("egs.example", utf8ATV(surname, "1-A|2-B|3-C"), utf8ATV(uid, "300000000000003"))},
	}
	c, err = Parse(gen.signed(sig))
	if err != nil {
		t.Fatalf("GeneralizedTime, negative serial, SAN after dNSName: %v", err)
	}
	if !c.NotAfter.Equal(gen.notAfter) {
		t.Errorf("NotAfter = %v, want %v", c.NotAfter, gen.notAfter)
	}
	if c.SerialNumber.Int64() != -5 {
		t.Errorf("SerialNumber = %v, want -5", c.SerialNumber)
	}
	if want := map[string]string{OIDSurname: "1-A|2-B|3-C", OIDUID: "300000000000003"}; !reflect.DeepEqual(c.SAN, want) {
		t.Errorf("SAN = %v, want %v", c.SAN, want)
	}
	if len(c.Extensions) != 2 || !c.Extensions[0].Critical || c.Extensions[1].Critical {
		t.Errorf("Extensions = %+v", c.Extensions)
	}

	noDir := newTestCert(egsSPKI(t))
	noDir.extensions = []testExt{{oid: san, value: []byte{0x30, 0x04, 0x82, 0x02, 'a', 'b'}}}
	if c, err = Parse(noDir.signed(sig)); err != nil || c.SAN != nil {
		t.Errorf("SAN without directoryName: SAN %v, err %v; want nil, nil", c.SAN, err)
	}
}

// syntheticDER is a well-formed v3 certificate with a SAN, made here.
func syntheticDER(t testing.TB) []byte {
	p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(&p.PublicKey)
	tc := newTestCert(spki)
	tc.extensions = []testExt{{oid: asn1.ObjectIdentifier{2, 5, 29, 17},
		value: sanDirName("", utf8ATV(asn1.ObjectIdentifier{2, 5, 4, 4}, "1-a|2-b|3-c"))}}
	return tc.signed(func(tbs []byte) []byte {
		h := sha256.Sum256(tbs)
		sig, _ := ecdsa.SignASN1(rand.Reader, p, h[:])
		return sig
	})
}

// certsForRobustness are the SDK certificate when available and a
// synthetic one.
func certsForRobustness(t testing.TB) [][]byte {
	ders := [][]byte{syntheticDER(t)}
	if _, err := os.Stat(filepath.Join(stampingtest.SharedDir(), "zatca", "testkeys", "cert.b64")); err == nil {
		ders = append(ders, sdkCertDER(t))
	}
	return ders
}

func TestMalformed(t *testing.T) {
	der := syntheticDER(t)
	sig := func([]byte) []byte { return []byte{0x30, 0} }
	mismatch := newTestCert(egsSPKI(t))
	mismatch.innerAlg = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	badSAN := newTestCert(egsSPKI(t))
	badSAN.extensions = []testExt{{oid: asn1.ObjectIdentifier{2, 5, 29, 17}, value: []byte{0x30, 0x03, 0xa4, 0x01}}}

	tests := []struct {
		name string
		der  []byte
		want string
	}{
		{"empty", nil, "not a DER SEQUENCE"},
		{"trailing byte", append(bytes.Clone(der), 0), "trailing data after the certificate"},
		{"not der", []byte("-----BEGIN CERTIFICATE-----"), "not a DER SEQUENCE"},
		{"algorithm mismatch", mismatch.signed(sig), "differs"},
		{"bad SAN", badSAN.signed(sig), "subjectAltName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.der)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want ErrMalformed saying %q", err, tt.want)
			}
		})
	}

	pemOnlyKey := "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
	token := base64.StdEncoding.EncodeToString([]byte("not base64 at all!"))
	textCases := []struct {
		name string
		fn   func() (*Certificate, error)
	}{
		{"pem without certificate", func() (*Certificate, error) { return ParsePEM([]byte(pemOnlyKey)) }},
		{"pem empty", func() (*Certificate, error) { return ParsePEM(nil) }},
		{"base64 garbage", func() (*Certificate, error) { return ParseBase64("!!!!") }},
		{"base64 empty", func() (*Certificate, error) { return ParseBase64("  \n") }},
		{"base64 of garbage", func() (*Certificate, error) { return ParseBase64("AAAA") }},
		{"token not base64", func() (*Certificate, error) { return DecodeBinarySecurityToken("%%%") }},
		{"token of non-base64", func() (*Certificate, error) { return DecodeBinarySecurityToken(token) }},
		{"token of DER", func() (*Certificate, error) {
			return DecodeBinarySecurityToken(base64.StdEncoding.EncodeToString(der)) // decoded once only
		}},
	}
	for _, tt := range textCases {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.fn(); !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v, want ErrMalformed", err)
			}
		})
	}
}

// Every truncation and every single-byte change of the SDK certificate
// gives an error or a certificate, never a panic; truncations always fail.
func TestTruncatedAndGarbled(t *testing.T) {
	for _, der := range certsForRobustness(t) {
		if _, err := Parse(der); err != nil {
			t.Fatalf("Parse(whole certificate): %v", err)
		}
		for i := range len(der) {
			if _, err := Parse(der[:i]); !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(first %d bytes) = %v, want ErrMalformed", i, err)
			}
		}
		b := bytes.Clone(der)
		for i := range b {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				b[i] ^= x
				Parse(b)
				b[i] ^= x
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, der := range certsForRobustness(f) {
		f.Add(der)
		for _, n := range []int{0, 1, 4, 8, 100, len(der) / 2, len(der) - 1} {
			f.Add(der[:n])
		}
	}
	v1 := newTestCert([]byte{0x30, 0x05, 0x30, 0x00, 0x03, 0x01, 0x00})
	v1.version = 0
	f.Add(v1.signed(func([]byte) []byte { return nil }))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := Parse(in)
		if err != nil {
			if c != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse = %v, %v: want nil and ErrMalformed", c, err)
			}
			return
		}
		if !bytes.Equal(c.Raw, in) {
			t.Fatal("Raw differs from the input")
		}
		if !bytes.Contains(c.Raw, c.TBS) || !bytes.Contains(c.TBS, c.PublicKeyDER) {
			t.Fatal("TBS or PublicKeyDER is not part of Raw")
		}
		c2, err := Parse(c.Raw)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("parsing Raw again: %v", err)
		}
	})
}

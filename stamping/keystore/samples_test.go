package keystore_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/stampingtest"
)

var (
	reDigest   = regexp.MustCompile(`(?s)<ds:Reference Id="invoiceSignedData".*?<ds:DigestValue>([^<]*)<`)
	reSigValue = regexp.MustCompile(`<ds:SignatureValue>([^<]*)<`)
	reCert     = regexp.MustCompile(`<ds:X509Certificate>([^<]*)<`)
)

// TestConformanceSampleSignatures checks that every SDK sample's
// SignatureValue verifies as ECDSA over SHA-256 of the raw 32-byte invoice
// digest by the embedded certificate's key (spec/zatca.md §2.5, §7.3), and
// that it stops verifying when one byte of the digest changes.
func TestConformanceSampleSignatures(t *testing.T) {
	tsv := stampingtest.Read(t, "zatca", "samples", "hashes.tsv")
	dir := stampingtest.SharedDir()
	samples := filepath.Join(dir, "zatca", "samples")
	sdkKey, err := os.ReadFile(filepath.Join(dir, "zatca", "testkeys", "key_pkcs8.der"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := keystore.ParsePKCS8DER(sdkKey)
	if err != nil {
		t.Fatal(err)
	}

	lines := strings.Split(strings.TrimSpace(string(tsv)), "\n")[1:]
	if len(lines) != 10 {
		t.Fatalf("hashes.tsv lists %d samples, want 10", len(lines))
	}
	for _, line := range lines {
		cols := strings.Split(line, "\t")
		name, wantDigest := cols[0], cols[3]
		t.Run(name, func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join(samples, name))
			if err != nil {
				t.Fatal(err)
			}
			get := func(re *regexp.Regexp) string {
				m := re.FindSubmatch(doc)
				if m == nil {
					t.Fatalf("%s: nothing matches %s", name, re)
				}
				return string(m[1])
			}
			digestText := get(reDigest)
			if digestText != wantDigest {
				t.Errorf("DigestValue %s, hashes.tsv says %s", digestText, wantDigest)
			}
			digest, err := base64.StdEncoding.DecodeString(digestText)
			if err != nil || len(digest) != 32 {
				t.Fatalf("DigestValue is not base64 of 32 bytes: %v", err)
			}
			sig, err := base64.StdEncoding.DecodeString(get(reSigValue))
			if err != nil {
				t.Fatal(err)
			}
			c, err := cert.ParseBase64(get(reCert))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.PublicKeyDER, key.PublicKeyDER()) {
				t.Error("the sample's certificate is not the SDK test key's")
			}

			if err := keystore.VerifySHA256(c.PublicKeyDER, digest, sig); err != nil {
				t.Errorf("VerifySHA256(certificate key, digest, SignatureValue) = %v", err)
			}
			// The base64 text is not the message: the SDK signs the raw bytes.
			if err := keystore.VerifySHA256(c.PublicKeyDER, []byte(digestText), sig); !errors.Is(err, keystore.ErrVerification) {
				t.Errorf("signature verifies over the base64 text too (%v)", err)
			}
			for _, i := range []int{0, 13, 31} {
				bad := bytes.Clone(digest)
				bad[i] ^= 0x01
				if err := keystore.VerifySHA256(c.PublicKeyDER, bad, sig); !errors.Is(err, keystore.ErrVerification) {
					t.Errorf("digest byte %d changed: VerifySHA256 = %v, want ErrVerification", i, err)
				}
			}

			// Our signature over the same digest verifies with the same key.
			ours, err := key.SignSHA256(digest)
			if err != nil {
				t.Fatal(err)
			}
			if err := keystore.VerifySHA256(c.PublicKeyDER, digest, ours); err != nil {
				t.Errorf("our signature with the SDK key does not verify: %v", err)
			}
		})
	}
}

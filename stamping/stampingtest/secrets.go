package stampingtest

import (
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
)

// PrivateScalar digs the 32-byte private scalar out of a PKCS#8 secp256k1
// key (DER), so that a test can look for it in everything a program says.
func PrivateScalar(t testing.TB, pkcs8 []byte) []byte {
	t.Helper()
	var p8 struct {
		Version int
		Algo    asn1.RawValue
		Key     []byte
	}
	if _, err := asn1.Unmarshal(pkcs8, &p8); err != nil {
		t.Fatal(err)
	}
	var sec1 struct {
		Version int
		Key     []byte
		Rest    asn1.RawValue `asn1:"optional,explicit,tag:0"`
		Pub     asn1.RawValue `asn1:"optional,explicit,tag:1"`
	}
	if _, err := asn1.Unmarshal(p8.Key, &sec1); err != nil {
		t.Fatal(err)
	}
	if len(sec1.Key) != 32 {
		t.Fatalf("scalar is %d bytes", len(sec1.Key))
	}
	return sec1.Key
}

// SecretForms lists the ways a private key could show up in text, by name:
// its scalar in hex (both cases), base64, base64url and decimal, and the
// start of the key file's DER in base64.
func SecretForms(t testing.TB, pkcs8 []byte) map[string]string {
	t.Helper()
	scalar := PrivateScalar(t, pkcs8)
	return map[string]string{
		"hex":          hex.EncodeToString(scalar),
		"HEX":          strings.ToUpper(hex.EncodeToString(scalar)),
		"base64":       base64.StdEncoding.EncodeToString(scalar),
		"base64url":    base64.RawURLEncoding.EncodeToString(scalar),
		"decimal":      new(big.Int).SetBytes(scalar).String(),
		"key file b64": base64.StdEncoding.EncodeToString(pkcs8)[:40],
	}
}

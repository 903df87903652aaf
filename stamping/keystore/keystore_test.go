package keystore

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// sdkPublicKeyHex is the SPKI of the SDK test key, as printed by
// `openssl pkey -in key_pkcs8.pem -pubout -outform DER | xxd -p`.
const sdkPublicKeyHex = "3056301006072a8648ce3d020106052b8104000a03420004" +
	"a1608a6b449af45204ad33afd2e0240b5548297c54f673e9c76be57f8ca131e8" +
	"f2f1cd365c96e50eaeed3f2768f26ab46a138c98da3c8309e2ed7b75293f5478"

const spkiPrefixHex = "3056301006072a8648ce3d020106052b8104000a03420004"

func sdkKey(t *testing.T) *Key {
	t.Helper()
	k, err := ParsePKCS8DER(readTestkey(t, "key_pkcs8.der"))
	if err != nil {
		t.Fatalf("ParsePKCS8DER(key_pkcs8.der): %v", err)
	}
	return k
}

// someKey returns a fresh key with its PKCS#8 DER and PEM, for tests that
// need no particular key.
func someKey(t testing.TB) (k *Key, der, pemText []byte) {
	t.Helper()
	priv, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err = marshalPKCS8(priv)
	if err != nil {
		t.Fatal(err)
	}
	return newKey(priv), der, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestSDKKey(t *testing.T) {
	der := readTestkey(t, "key_pkcs8.der")
	k := sdkKey(t)
	if got := hex.EncodeToString(k.PublicKeyDER()); got != sdkPublicKeyHex {
		t.Errorf("PublicKeyDER = %s, want %s", got, sdkPublicKeyHex)
	}
	// Our storage encoding is the SDK's (and OpenSSL's) byte for byte.
	again, err := marshalPKCS8(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, der) {
		t.Errorf("marshalPKCS8(ParsePKCS8DER(key_pkcs8.der)) differs from key_pkcs8.der:\n got %x\nwant %x", again, der)
	}
	k2, err := Parse(readTestkey(t, "key_pkcs8.pem"))
	if err != nil {
		t.Fatalf("Parse(key_pkcs8.pem): %v", err)
	}
	if !bytes.Equal(k2.PublicKeyDER(), k.PublicKeyDER()) {
		t.Error("key_pkcs8.pem and key_pkcs8.der give different keys")
	}
}

// marshalSEC1 builds a SEC1 ECPrivateKey with parameters, as
// `openssl ec -outform DER` writes it and the ZATCA SDK stores it.
func marshalSEC1(t *testing.T, priv *secp256k1.PrivateKey, withParams bool) []byte {
	t.Helper()
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1OctetString(priv.Serialize())
		if withParams {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidSecp256k1)
			})
		}
		b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1BitString(priv.PubKey().SerializeUncompressed())
		})
	})
	return b.BytesOrPanic()
}

func TestParseEncodings(t *testing.T) {
	k, pkcs8, pkcs8PEM := someKey(t)
	sec1 := marshalSEC1(t, k.priv, true)
	tests := []struct {
		name string
		data []byte
	}{
		{"pkcs8 pem", pkcs8PEM},
		{"pkcs8 der", pkcs8},
		{"pkcs8 base64", []byte(base64.StdEncoding.EncodeToString(pkcs8) + "\n")},
		{"sec1 pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})},
		{"sec1 der", sec1},
		{"sdk sec1 base64 without header", []byte(base64.StdEncoding.EncodeToString(sec1))},
		{"sec1 base64 wrapped", []byte(wrap64(base64.StdEncoding.EncodeToString(sec1)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !bytes.Equal(got.PublicKeyDER(), k.PublicKeyDER()) {
				t.Errorf("Parse gives public key %x, want %x", got.PublicKeyDER(), k.PublicKeyDER())
			}
		})
	}
	if _, err := ParseSEC1DER(sec1); err != nil {
		t.Errorf("ParseSEC1DER: %v", err)
	}
	if _, err := ParseSEC1DER(marshalSEC1(t, k.priv, false)); err == nil {
		t.Error("ParseSEC1DER accepted a SEC1 key that does not name its curve")
	}
}

func wrap64(s string) string {
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	return b.String() + s + "\n"
}

// pkcs8With builds a PKCS#8 EC key from raw parts, for malformed cases.
func pkcs8With(curve []int, scalar, pub []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidECPublicKey)
			b.AddASN1ObjectIdentifier(curve)
		})
		b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1OctetString(scalar)
				if pub != nil {
					b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1BitString(pub)
					})
				}
			})
		})
	})
	return b.BytesOrPanic()
}

func TestParseMalformed(t *testing.T) {
	k, pkcs8, _ := someKey(t)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256der, err := x509.MarshalPKCS8PrivateKey(p256)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := secp256k1.GeneratePrivateKey()
	n := secp256k1.Params().N.Bytes()
	secp := []int{1, 3, 132, 0, 10}
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "neither PEM, DER nor base64"},
		{"text", "hello, world", "neither PEM, DER nor base64"},
		{"certificate pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pkcs8})), `"CERTIFICATE" is not a private key`},
		{"p256 key", string(p256der), "is not secp256k1"},
		{"trailing byte", string(append(bytes.Clone(pkcs8), 0)), "neither PKCS#8"},
		{"zero scalar", string(pkcs8With(secp, make([]byte, 32), nil)), "out of range"},
		{"scalar equal to n", string(pkcs8With(secp, n, nil)), "out of range"},
		{"33-byte scalar", string(pkcs8With(secp, append([]byte{1}, k.priv.Serialize()...), nil)), "longer than 32"},
		{"foreign public key", string(pkcs8With(secp, k.priv.Serialize(), other.PubKey().SerializeUncompressed())), "does not belong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data))
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			if !errors.Is(err, ErrMalformedKey) {
				t.Errorf("error %q does not wrap ErrMalformedKey", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// Every truncation of a valid key is an error, never a panic.
func TestParseTruncated(t *testing.T) {
	_, pkcs8, _ := someKey(t)
	for i := range len(pkcs8) {
		if _, err := ParsePKCS8DER(pkcs8[:i]); err == nil {
			t.Errorf("ParsePKCS8DER accepted the first %d bytes", i)
		}
		if _, err := Parse(pkcs8[:i]); err == nil {
			t.Errorf("Parse accepted the first %d bytes", i)
		}
	}
}

func TestCreateLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "keys")
	path := filepath.Join(dir, "stamp.key")
	k, err := Create(path)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("key file mode = %#o, want 0600", m)
		}
		di, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m := di.Mode().Perm(); m != 0o700 {
			t.Errorf("key directory mode = %#o, want 0700", m)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("key directory holds %d entries, want only the key (temporary file left behind?)", len(entries))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(data); block == nil || block.Type != "PRIVATE KEY" {
		t.Errorf("key file is not PEM PRIVATE KEY:\n%s", data)
	}

	l, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !bytes.Equal(l.PublicKeyDER(), k.PublicKeyDER()) {
		t.Error("Load returned a different key than Create")
	}
	pub := k.PublicKeyDER()
	if len(pub) != 88 || hex.EncodeToString(pub[:24]) != spkiPrefixHex {
		t.Errorf("PublicKeyDER = %x, want 88 bytes beginning %s", pub, spkiPrefixHex)
	}

	_, err = Create(path)
	if !errors.Is(err, ErrExist) || !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Create: error %v, want ErrExist and fs.ErrExist", err)
	}
	if l2, err := Load(path); err != nil || !bytes.Equal(l2.PublicKeyDER(), pub) {
		t.Errorf("second Create changed the stored key (err %v)", err)
	}

	// Two keys from Create differ.
	k2, err := Create(filepath.Join(dir, "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(k2.PublicKeyDER(), pub) {
		t.Error("two calls of Create made the same key")
	}

	// OpenSSL reads our file and derives the same public key.
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Log("openssl not installed: skipping the cross-check with openssl pkey")
		return
	}
	out, err := exec.Command("openssl", "pkey", "-in", path, "-pubout", "-outform", "DER").Output()
	if err != nil {
		t.Fatalf("openssl pkey could not read the key file: %v", err)
	}
	if !bytes.Equal(out, pub) {
		t.Errorf("openssl derives public key %x, want %x", out, pub)
	}
}

func TestLoadRefusesInsecureFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits do not describe access on Windows")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "stamp.key")
	if _, err := Create(path); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o620, 0o602, 0o644, 0o666} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if !errors.Is(err, ErrInsecureMode) {
			t.Errorf("Load of a file with mode %#o: error %v, want ErrInsecureMode", mode, err)
		} else if !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("error %q does not say how to fix it", err)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		os.Chmod(path, mode)
		if _, err := Load(path); err != nil {
			t.Errorf("Load of a file with mode %#o: %v", mode, err)
		}
	}
	if _, err := Load(dir); err == nil {
		t.Error("Load accepted a directory")
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestSignVerify(t *testing.T) {
	k, err := Create(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := Create(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("<Invoice/>"))
	sig, err := k.SignSHA256(digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) < 8 || len(sig) > 72 || sig[0] != 0x30 {
		t.Errorf("signature %x is not a DER ECDSA-Sig-Value", sig)
	}
	flipped := bytes.Clone(digest[:])
	flipped[7] ^= 1
	badSig := bytes.Clone(sig)
	badSig[len(badSig)-1] ^= 1

	tests := []struct {
		name           string
		spki, msg, sig []byte
		want           error
	}{
		{"valid", k.PublicKeyDER(), digest[:], sig, nil},
		{"message changed", k.PublicKeyDER(), flipped, sig, ErrVerification},
		{"signature changed", k.PublicKeyDER(), digest[:], badSig, ErrVerification},
		{"other key", other.PublicKeyDER(), digest[:], sig, ErrVerification},
		{"not a signature", k.PublicKeyDER(), digest[:], []byte("signature"), ErrMalformedSignature},
		{"truncated signature", k.PublicKeyDER(), digest[:], sig[:len(sig)-1], ErrMalformedSignature},
		{"not a key", []byte{0x30, 0}, digest[:], sig, ErrMalformedPublicKey},
		{"truncated key", k.PublicKeyDER()[:87], digest[:], sig, ErrMalformedPublicKey},
		{"p256 key", p256SPKI(t), digest[:], sig, ErrMalformedPublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySHA256(tt.spki, tt.msg, tt.sig)
			if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Errorf("VerifySHA256 = %v, want %v", err, tt.want)
			}
		})
	}
}

func p256SPKI(t *testing.T) []byte {
	p, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.MarshalPKIXPublicKey(&p.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// OpenSSL verifies our signatures, and we verify OpenSSL's: an independent
// check of the ECDSA and DER code on secp256k1.
func TestSignaturesAgainstOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed (CI installs it)")
	}
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "k.pem")
	k, err := Create(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	pubPath := filepath.Join(dir, "pub.pem")
	os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: k.PublicKeyDER()}), 0o600)
	msgPath := filepath.Join(dir, "msg")
	msg := []byte("z5F9qsS6oWyDhehD8u8S0DaxV+2CUiUz9Y+UsR61JgQ=")
	os.WriteFile(msgPath, msg, 0o600)

	sig, _ := k.SignSHA256(msg)
	sigPath := filepath.Join(dir, "sig")
	os.WriteFile(sigPath, sig, 0o600)
	if out, err := exec.Command("openssl", "dgst", "-sha256", "-verify", pubPath, "-signature", sigPath, msgPath).CombinedOutput(); err != nil {
		t.Errorf("openssl rejects our signature: %v\n%s", err, out)
	}

	osslSig, err := exec.Command("openssl", "dgst", "-sha256", "-sign", keyPath, msgPath).Output()
	if err != nil {
		t.Fatalf("openssl dgst -sign: %v", err)
	}
	if err := VerifySHA256(k.PublicKeyDER(), msg, osslSig); err != nil {
		t.Errorf("VerifySHA256 rejects openssl's signature: %v", err)
	}
}

func TestSignNilKey(t *testing.T) {
	var k *Key
	if _, err := k.SignSHA256(nil); err == nil {
		t.Error("SignSHA256 on a nil key did not fail")
	}
	if _, err := (&Key{}).SignSHA256(nil); err == nil {
		t.Error("SignSHA256 on a zero Key did not fail")
	}
}

// FuzzParse: no input makes Parse panic, and an accepted key round-trips
// through the storage encoding.
func FuzzParse(f *testing.F) {
	_, der, pemText := someKey(f)
	for _, b := range [][]byte{der, pemText} {
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte("MHQCAQEEI"))
	f.Fuzz(func(t *testing.T, in []byte) {
		k, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrMalformedKey) {
				t.Fatalf("Parse error %v does not wrap ErrMalformedKey", err)
			}
			return
		}
		der, err := marshalPKCS8(k.priv)
		if err != nil {
			t.Fatal(err)
		}
		k2, err := ParsePKCS8DER(der)
		if err != nil || !bytes.Equal(k2.PublicKeyDER(), k.PublicKeyDER()) {
			t.Fatalf("stored key does not parse back to the same key: %v", err)
		}
	})
}

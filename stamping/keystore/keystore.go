package keystore

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/egsd/egsd/stamping/securefile"
)

// Key is a secp256k1 stamping key. The zero value is not usable; get a Key
// from Create, Load or one of the Parse functions. A Key is immutable and
// safe for concurrent use.
//
// Key has no accessor for its private scalar. All its printing and
// marshalling methods (String, GoString, Format, MarshalJSON, MarshalText)
// give "keystore.Key(secp256k1, public <fingerprint>)". They have value
// receivers so that a Key value, not only a *Key, prints that way.
type Key struct {
	// priv is behind a pointer so that even reflection-based printing of
	// a struct holding a Key in an unexported field shows an address, not
	// the scalar.
	priv *secp256k1.PrivateKey
	spki []byte
}

func newKey(priv *secp256k1.PrivateKey) *Key {
	return &Key{priv: priv, spki: marshalSPKI(priv.PubKey())}
}

// Create generates a new key on the device and writes it to path as PEM
// PKCS#8 with mode 0600. The parent directory is created with mode 0700 if
// it does not exist. Create refuses to replace an existing file: the error
// then wraps both ErrExist and fs.ErrExist.
//
// The file appears atomically: it is written and synced under a temporary
// name in the same directory, then hard-linked to path (which fails if path
// exists), so a crash never leaves a half-written key at path.
func Create(path string) (*Key, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("keystore: create %s: %w (%w); refusing to overwrite it", path, ErrExist, fs.ErrExist)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore: create %s: %w", path, err)
	}
	priv, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		return nil, fmt.Errorf("keystore: create %s: generate key: %w", path, err)
	}
	k := newKey(priv)
	der, err := marshalPKCS8(priv)
	if err != nil {
		return nil, fmt.Errorf("keystore: create %s: encode key: %w", path, err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	defer clear(data)
	if err := securefile.Create(path, data); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("keystore: create %s: %w (%w); refusing to overwrite it", path, ErrExist, fs.ErrExist)
		}
		return nil, fmt.Errorf("keystore: create %s: %w", path, err)
	}
	return k, nil
}

// Load reads the key at path. It refuses a file that its group or others
// may read or write (ErrInsecureMode; not checked on Windows, where mode
// bits do not describe access) and anything that is not a regular file.
// Every encoding that Parse accepts is accepted.
//
// Error messages name the file and the problem, never the key's bytes.
func Load(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: load: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keystore: load: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("keystore: load %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("keystore: load %s: %w (mode %#o); run `chmod 600 %s` and check who could have copied it",
			path, ErrInsecureMode, perm, path)
	}
	// A key file is a few hundred bytes; the limit keeps a wrong path from
	// reading a huge file into memory.
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("keystore: load %s: %w", path, err)
	}
	defer clear(data)
	k, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("keystore: load %s: %w", path, err)
	}
	return k, nil
}

// Parse reads a private key in any of these encodings: PEM "PRIVATE KEY"
// (PKCS#8), PEM "EC PRIVATE KEY" (SEC1), DER PKCS#8, DER SEC1, or the base64
// text of either DER without a PEM header (how the ZATCA SDK writes keys,
// spec/zatca.md §4.3). The key must be on secp256k1.
func Parse(data []byte) (*Key, error) {
	k, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return k, nil
}

func parse(data []byte) (*Key, error) {
	if block, _ := pem.Decode(data); block != nil {
		defer clear(block.Bytes)
		var priv *secp256k1.PrivateKey
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			priv, err = parsePKCS8(block.Bytes)
		case "EC PRIVATE KEY":
			priv, err = parseSEC1(block.Bytes, true)
		default:
			return nil, fmt.Errorf("%w: PEM block %q is not a private key", ErrMalformedKey, block.Type)
		}
		if err != nil {
			return nil, err
		}
		return newKey(priv), nil
	}
	// DER is taken as it is: trimming "spaces" could cut its last byte.
	der := data
	if len(der) == 0 || der[0] != 0x30 {
		trimmed := bytes.TrimSpace(data)
		buf := make([]byte, base64.StdEncoding.DecodedLen(len(trimmed)))
		defer clear(buf)
		n, err := base64.StdEncoding.Decode(buf, bytes.Join(bytes.Fields(trimmed), nil))
		if err != nil || n == 0 || buf[0] != 0x30 {
			return nil, fmt.Errorf("%w: neither PEM, DER nor base64 DER", ErrMalformedKey)
		}
		der = buf[:n]
	}
	priv, err8 := parsePKCS8(der)
	if err8 == nil {
		return newKey(priv), nil
	}
	priv, err1 := parseSEC1(der, true)
	if err1 == nil {
		return newKey(priv), nil
	}
	detail := func(err error) string {
		return strings.TrimPrefix(err.Error(), ErrMalformedKey.Error()+": ")
	}
	return nil, fmt.Errorf("%w: neither PKCS#8 (%s) nor SEC1 (%s)", ErrMalformedKey, detail(err8), detail(err1))
}

// ParsePKCS8DER parses a DER PKCS#8 PrivateKeyInfo holding a secp256k1 key,
// such as the SDK test key (testkeys/key_pkcs8.der).
func ParsePKCS8DER(der []byte) (*Key, error) {
	priv, err := parsePKCS8(der)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return newKey(priv), nil
}

// ParseSEC1DER parses a DER SEC1 ECPrivateKey (RFC 5915) whose parameters
// name secp256k1.
func ParseSEC1DER(der []byte) (*Key, error) {
	priv, err := parseSEC1(der, true)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return newKey(priv), nil
}

// PublicKeyDER returns the key's DER SubjectPublicKeyInfo: id-ecPublicKey,
// secp256k1, uncompressed point (88 bytes). The caller may modify the
// returned slice.
func (k *Key) PublicKeyDER() []byte {
	return bytes.Clone(k.spki)
}

// Fingerprint returns the first 8 hex digits of SHA-256 of PublicKeyDER:
// enough to tell keys apart in logs and status pages, and public.
func (k Key) Fingerprint() string {
	if k.priv == nil {
		return "none"
	}
	sum := sha256.Sum256(k.spki)
	return hex.EncodeToString(sum[:4])
}

// SignSHA256 returns the DER ECDSA-Sig-Value of an ECDSA signature over
// SHA-256(msg). For a ZATCA invoice, msg is the 32 raw bytes of the invoice
// digest, which therefore gets hashed a second time (spec/zatca.md §2.5).
// Signatures are deterministic (RFC 6979) and low-S.
func (k *Key) SignSHA256(msg []byte) ([]byte, error) {
	if k == nil || k.priv == nil {
		return nil, errors.New("keystore: sign with a nil key")
	}
	h := sha256.Sum256(msg)
	return ecdsa.Sign(k.priv, h[:]).Serialize(), nil
}

// String returns "keystore.Key(secp256k1, public <Fingerprint>)".
func (k Key) String() string {
	return "keystore.Key(secp256k1, public " + k.Fingerprint() + ")"
}

// GoString makes %#v print the same as String.
func (k Key) GoString() string { return k.String() }

// Format makes every fmt verb (%v, %+v, %#v, %s, %x, %d, ...) print String,
// so that no formatting reaches the key's fields.
func (k Key) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// MarshalText returns String, so that encoders of text (and slog, zerolog)
// log the fingerprint, never the scalar.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// MarshalJSON returns String as a JSON string.
func (k Key) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

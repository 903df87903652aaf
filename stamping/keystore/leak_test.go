package keystore

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretForms lists the ways the private scalar could show up in text.
func secretForms(k *Key) []string {
	s := k.priv.Serialize()
	forms := []string{
		hex.EncodeToString(s),
		strings.ToUpper(hex.EncodeToString(s)),
		base64.StdEncoding.EncodeToString(s),
		base64.RawStdEncoding.EncodeToString(s),
		base64.URLEncoding.EncodeToString(s),
		new(big.Int).SetBytes(s).String(),
		string(s),
		fmt.Sprint(s), // [189 120 37 ...]
	}
	// Each byte run of 12 from the scalar, in hex, catches partial dumps
	// such as the limbs of a ModNScalar.
	for i := 0; i+6 <= len(s); i += 6 {
		forms = append(forms, hex.EncodeToString(s[i:i+6]))
	}
	// The limbs of the ModNScalar as decimal words, as %v of the struct
	// would print them.
	forms = append(forms, fmt.Sprint(k.priv.Key))
	return forms
}

func assertNoSecret(t *testing.T, k *Key, what, out string) {
	t.Helper()
	for _, f := range secretForms(k) {
		if strings.Contains(out, f) {
			t.Errorf("%s leaks the private scalar (as %q): %s", what, f, out)
			return
		}
	}
}

type holder struct {
	Exported   *Key
	Value      Key
	unexported Key
	ptr        *Key
}

func TestKeyNeverPrintsScalar(t *testing.T) {
	k, _, _ := someKey(t)
	want := "keystore.Key(secp256k1, public " + k.Fingerprint() + ")"
	if len(k.Fingerprint()) != 8 {
		t.Errorf("Fingerprint() = %q, want 8 hex digits", k.Fingerprint())
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
		for _, v := range []any{k, *k} {
			out := fmt.Sprintf(verb, v)
			if out != want {
				t.Errorf("Sprintf(%q, %T) = %q, want %q", verb, v, out, want)
			}
		}
	}
	if got := k.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	h := holder{Exported: k, Value: *k, unexported: *k, ptr: k}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d"} {
		out := fmt.Sprintf(verb, h)
		assertNoSecret(t, k, "Sprintf("+verb+", struct holding a Key)", out)
		out = fmt.Sprintf(verb, &h)
		assertNoSecret(t, k, "Sprintf("+verb+", pointer to struct holding a Key)", out)
	}
	for _, v := range []any{k, *k, h, []*Key{k}, map[string]Key{"k": *k}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		assertNoSecret(t, k, fmt.Sprintf("json.Marshal(%T)", v), string(b))
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("json.Marshal(%T) = %s, want it to contain %q", v, b, want)
		}
	}
	if b, _ := k.MarshalText(); string(b) != want {
		t.Errorf("MarshalText() = %s, want %s", b, want)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("key", "key", k, "value", *k)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("key", "key", k, "value", *k)
	assertNoSecret(t, k, "slog output", logs.String())
	if strings.Count(logs.String(), want) != 4 {
		t.Errorf("slog output does not show the key as %q four times:\n%s", want, logs.String())
	}
}

// The errors of Load never quote the key file, whatever is wrong with it.
func TestLoadErrorsNeverShowScalar(t *testing.T) {
	k, der, pemKey := someKey(t)
	corrupt := bytes.Clone(der)
	corrupt[len(corrupt)-1] ^= 1 // public point no longer on the curve or not the key's
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"world-readable", pemKey, 0o644},
		{"group-readable", pemKey, 0o640},
		{"trailing garbage", append(bytes.Clone(der), 1, 2, 3), 0o600},
		{"corrupt public key", corrupt, 0o600},
		{"wrong pem type", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600},
		{"truncated", der[:len(der)-20], 0o600},
		{"pem with garbage", append([]byte("xx"), pemKey[:len(pemKey)/2]...), 0o600},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "stamp.key")
			if err := os.WriteFile(path, f.data, f.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, f.mode)
			_, err := Load(path)
			if err == nil {
				if f.mode&0o077 != 0 && isWindows() {
					return
				}
				t.Fatal("Load accepted it")
			}
			assertNoSecret(t, k, "Load error", err.Error())
			assertNoSecret(t, k, "Load error %+v", fmt.Sprintf("%+v", err))
			for _, line := range strings.Split(string(pemKey), "\n") {
				if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
					t.Errorf("Load error quotes the key file: %v", err)
				}
			}
		})
	}
}

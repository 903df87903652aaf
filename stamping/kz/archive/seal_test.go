package archive

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/keystore"
)

const docUUID = "0f8fad5b-d9cb-469f-a165-70867728950e"

// A sealed record verifies, names its document, and matches exactly that
// document: another counter, UUID or byte of the document does not.
func TestSealMatches(t *testing.T) {
	k := newKey(t, "unit.key")
	stored := []byte("the ticket as stored")
	f := facts(t, "request_ticket_offline.frame")
	f.FiscalSign = "4228143549" // accepted later: both signs
	f.Document = DocumentOf(7, docUUID, stored)
	sealed, err := Seal(f, k)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Verify(sealed, k.PublicKeyDER())
	if err != nil {
		t.Fatal(err)
	}
	if r.Sign.Autonomous == "" || r.Sign.OFD != "4228143549" {
		t.Errorf("signs = %+v, want the autonomous and the OFD's", r.Sign)
	}
	if err := r.Matches(7, docUUID, stored); err != nil {
		t.Errorf("Matches its own document: %v", err)
	}
	for _, c := range []struct {
		counter uint64
		uuid    string
		doc     []byte
		want    string
	}{
		{8, docUUID, stored, "the record is of document 7, not of document 8"},
		{7, "1b4e28ba-2fa1-11d2-883f-0016d3cca427", stored, "with UUID " + docUUID},
		{7, docUUID, append(bytes.Clone(stored), ' '), "document 7's bytes are not the ones the record was signed for"},
	} {
		if err := r.Matches(c.counter, c.uuid, c.doc); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Matches(%d, %s, %q) = %v, want %q", c.counter, c.uuid, c.doc, err, c.want)
		}
	}

	if _, err := Seal(f, nil); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Errorf("Seal without a key: %v", err)
	}
	f.Document = DocumentRef{}
	if _, err := Seal(f, k); err == nil || !strings.Contains(err.Error(), "document is required") {
		t.Errorf("Seal without a document: %v", err)
	}
	r, err = Verify(sign(t, build(t, f), k), k.PublicKeyDER())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Matches(7, docUUID, stored); err == nil || !strings.Contains(err.Error(), "names no document") {
		t.Errorf("Matches of a record without a document: %v", err)
	}
}

// The archive key is created once, where the keystore keeps keys and with
// its modes, and then loaded; a file that cannot be used is never replaced.
func TestLoadOrCreateKey(t *testing.T) {
	dataDir := t.TempDir()
	path := KeyPath(dataDir)
	k1, created, err := LoadOrCreateKey(path)
	if err != nil || !created {
		t.Fatalf("first LoadOrCreateKey = %v, created %v", err, created)
	}
	k2, created, err := LoadOrCreateKey(path)
	if err != nil || created || !bytes.Equal(k1.PublicKeyDER(), k2.PublicKeyDER()) {
		t.Fatalf("second LoadOrCreateKey = %v, created %v, same key %v", err, created, err == nil && bytes.Equal(k1.PublicKeyDER(), k2.PublicKeyDER()))
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode().Perm(), err, want)
			}
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadOrCreateKey(path); !errors.Is(err, keystore.ErrInsecureMode) {
			t.Errorf("a key others may read: %v, want ErrInsecureMode", err)
		}
	}
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKey(path); err == nil {
		t.Error("an unreadable key file was accepted")
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "not a key" {
		t.Errorf("the unreadable key file was replaced: %q, %v", data, err)
	}
}

// The exported public key is the key the records verify with, and openssl
// reads it as a secp256k1 key.
func TestPublicKeyPEM(t *testing.T) {
	k := newKey(t, "unit.key")
	pemKey := PublicKeyPEM(k.PublicKeyDER())
	der, err := ParsePublicKeyPEM(pemKey)
	if err != nil || !bytes.Equal(der, k.PublicKeyDER()) {
		t.Fatalf("ParsePublicKeyPEM = %x, %v; want the key's DER", der, err)
	}
	for name, bad := range map[string][]byte{
		"empty":       nil,
		"private key": []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		"not a key":   []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
		"trailing":    append(bytes.Clone(pemKey), "junk"...),
	} {
		if _, err := ParsePublicKeyPEM(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	p := filepath.Join(t.TempDir(), PublicKeyFile)
	if err := os.WriteFile(p, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "pkey", "-pubin", "-in", p, "-noout", "-text").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("secp256k1")) {
		t.Errorf("openssl pkey -pubin: %v\n%s", err, out)
	}
}

// BenchmarkSealVerify measures what a record costs the unit when it is
// sealed (in the issue or answer transaction) and an auditor to check it.
func BenchmarkSealVerify(b *testing.B) {
	k := newKey(b, "unit.key")
	f := facts(b, "request_ticket_sell.frame")
	var sealed []byte
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			var err error
			if sealed, err = Seal(f, k); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(sealed)), "bytes/record")
	})
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if _, err := Verify(sealed, k.PublicKeyDER()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

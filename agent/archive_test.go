package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/device"
)

// TestArchiveConfig: an enabled archive needs a store, a bucket and the
// credentials' files, and folder names the layout can hold; each refusal
// names its key.
func TestArchiveConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no endpoint", func(c *Config) { c.Archive.Endpoint = "" }, "archive.endpoint"},
		{"a URL", func(c *Config) { c.Archive.Endpoint = "https://s3.example.com:443" }, "archive.endpoint"},
		{"bucket", func(c *Config) { c.Archive.Bucket = "My_Bucket" }, "archive.bucket"},
		{"prefix", func(c *Config) { c.Archive.Prefix = "/journals/" }, "archive.prefix"},
		{"keys", func(c *Config) { c.Archive.SecretKeyFile = "" }, "archive.secret_key_file"},
		{"interval", func(c *Config) { c.Archive.Interval.Duration = 0 }, "archive.interval"},
		{"serial", func(c *Config) { c.Device.Serial = "" }, "device.serial"},
		{"vat", func(c *Config) { c.Seller.VATNumber = "3999 9999" }, "seller.vat_number"},
	} {
		cfg := testConfig(t)
		enableArchive(t, &cfg)
		c.mod(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Validate = %v, want an error naming %s", c.name, err, c.want)
		}
	}
	cfg := testConfig(t)
	enableArchive(t, &cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("a complete [archive]: %v", err)
	}
	os.Chmod(cfg.Archive.SecretKeyFile, 0o644)
	if _, err := New(cfg, Options{Time: device.NewFakeTime(t0), Logger: zerolog.Nop()}); err == nil || !strings.Contains(err.Error(), "archive.secret_key_file") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("New with a secret key file others can read = %v, want an error naming archive.secret_key_file and the fix", err)
	}
	os.Chmod(cfg.Archive.SecretKeyFile, 0o600)
	os.WriteFile(cfg.Archive.AccessKeyFile, []byte("\n"), 0o600)
	if _, err := New(cfg, Options{Time: device.NewFakeTime(t0), Logger: zerolog.Nop()}); err == nil || !strings.Contains(err.Error(), "archive.access_key_file") {
		t.Errorf("New with an empty access key file = %v, want an error naming archive.access_key_file", err)
	}
}

// TestArchiveOutageDoesNotBlockIssuing: with the object store unreachable
// the unit issues as before, and the archive's cursor stays where it was.
func TestArchiveOutageDoesNotBlockIssuing(t *testing.T) {
	h := newHarness(t, func(c *Config) { enableArchive(t, c) })
	if h.a.Archive() == nil {
		t.Fatal("no uploader with [archive] enabled")
	}
	err := h.a.Archive().Sync(t.Context())
	if err == nil {
		t.Fatal("a pass to a closed port succeeded")
	}
	tok := h.user("ana", RoleCashier)
	for _, key := range []string{"k1", "k2", "k3"} {
		h.mustSale(tok, key, goodSale)
	}
	st := h.status(h.user("boss", RoleManager))
	if ar := st.Archive; ar == nil || ar.LastError == "" || ar.FailingSince.IsZero() || ar.Documents != 0 || ar.Pending != 3 || !st.Issuing {
		t.Errorf("status during the outage: issuing %v, archive %+v; want issuing, 3 pending and the error", st.Issuing, ar)
	}
}

// enableArchive turns the archive on towards a closed loopback port.
func enableArchive(t *testing.T, c *Config) {
	dir := t.TempDir()
	c.Archive.Enabled = true
	c.Archive.Endpoint = "127.0.0.1:1"
	c.Archive.TLS = false
	c.Archive.Bucket = "egsd-archive"
	c.Archive.AccessKeyFile = filepath.Join(dir, "access")
	c.Archive.SecretKeyFile = filepath.Join(dir, "secret")
	os.WriteFile(c.Archive.AccessKeyFile, []byte("access\n"), 0o600)
	os.WriteFile(c.Archive.SecretKeyFile, []byte("secret\n"), 0o600)
}

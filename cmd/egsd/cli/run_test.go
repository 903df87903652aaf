package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/cmd/egsd/internal/cmdtest"
)

// The demo on another port prints commands that reach it as printed, even
// where the configuration would send the CLI elsewhere.
func TestDemoBannerAddress(t *testing.T) {
	dir := t.TempDir()
	elsewhere := filepath.Join(dir, "egsd.toml")
	os.WriteFile(elsewhere, []byte("data_dir = \"/x\"\n[api]\nlisten = \""+cmdtest.FreeAddr(t)+"\"\n[regime]\nname = \"test\"\n"), 0o600)
	env := map[string]string{"EGSD_CONFIG": elsewhere, "EGSD_SESSION_FILE": filepath.Join(dir, "session.json")}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var banner cmdtest.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"run", "--demo", "--demo-regime", "test", "--demo-printer=false", "--data", filepath.Join(dir, "demo"),
			"--listen", "127.0.0.1:0"}, IO{Stdin: strings.NewReader(""), Stdout: &banner, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }})
	}()
	loginLine := regexp.MustCompile(`(?m)^  \./bin/egsd (login .*)$`)
	var m []string
	for deadline := time.After(20 * time.Second); m == nil; m = loginLine.FindStringSubmatch(banner.String()) {
		select {
		case err := <-done:
			t.Fatalf("the demo stopped: %v\n%s", err, banner.String())
		case <-deadline:
			t.Fatalf("no login command in the banner:\n%s", banner.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	api := regexp.MustCompile(`(?m)^  API\s+(\S+)$`).FindStringSubmatch(banner.String())
	if api == nil || strings.HasSuffix(api[1], ":7070") || !strings.Contains(m[1], "--api "+api[1]) {
		t.Fatalf("banner API %v, login command %q; want the login to name the address the demo listens on", api, m[1])
	}
	out, _, err := run(t, env, "", strings.Fields(m[1])...)
	if err != nil || !strings.Contains(out, "logged in as cashier") {
		t.Fatalf("the banner's %q: %q, %v", m[1], out, err)
	}
	sale, err := os.ReadFile("../../../examples/sale.json")
	if err != nil {
		t.Fatal(err)
	}
	if out, _, err := run(t, env, string(sale), "sale", "-"); err != nil || !strings.Contains(out, "issued document 1") {
		t.Errorf("the banner's sale after its login: %q, %v", out, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("the demo stopped with %v", err)
	}
}

package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/device/fakeprinter"
	_ "github.com/egsd/egsd/stamping/testregime"
)

// run runs the CLI in-process with env as its environment.
func run(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = Run(context.Background(), args, IO{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
	})
	return out.String(), errOut.String(), err
}

// startAgent serves a demo agent in-process and returns its URL and an
// environment whose saved session lives in a temp dir.
func startAgent(t *testing.T) (*agent.Agent, string, map[string]string) {
	t.Helper()
	a := newDemoAgent(t, testDemoConfig(t.TempDir()))
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	env := map[string]string{"EGSD_SESSION_FILE": filepath.Join(t.TempDir(), "session.json"), "EGSD_API": srv.URL}
	return a, srv.URL, env
}

// testDemoConfig is the demo configuration in dir, with cheap password
// hashing.
func testDemoConfig(dir string) agent.Config {
	cfg := agent.DemoConfig(dir)
	cfg.Auth.BcryptCost = 4
	return cfg
}

// newDemoAgent makes an agent on cfg with the demo users; the caller closes
// it.
func newDemoAgent(t *testing.T, cfg agent.Config) *agent.Agent {
	t.Helper()
	a, err := agent.New(cfg, agent.Options{Logger: zerolog.Nop(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ensureDemoUsers(a); err != nil {
		a.Close()
		t.Fatal(err)
	}
	return a
}

// serveAgent serves an agent with the demo users on cfg (which should
// listen on 127.0.0.1:0) until the test ends, as `egsd run` does, owner
// token included, and returns it and its URL.
func serveAgent(t *testing.T, cfg agent.Config) (*agent.Agent, string) {
	t.Helper()
	a := newDemoAgent(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, func(url string) { urls <- url }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		a.Close()
	})
	select {
	case url := <-urls:
		return a, url
	case err := <-served:
		t.Fatalf("Serve: %v", err)
		return nil, ""
	}
}

var singleDash = regexp.MustCompile(`\n  -[^-]`)

func TestVersionAndHelp(t *testing.T) {
	Version = "v9.9.9"
	out, _, err := run(t, nil, "", "version")
	if err != nil || strings.TrimSpace(out) != "egsd v9.9.9" {
		t.Fatalf("version = %q, %v", out, err)
	}
	// --help is asked for: the usage goes to standard output, and the flag
	// list writes each flag as the usage line does, --name.
	for _, c := range commands() {
		stdout, stderr, err := run(t, nil, "", c.name, "--help")
		if err != nil {
			t.Errorf("%s --help: %v", c.name, err)
		}
		if !strings.HasPrefix(stdout, "Usage: egsd "+c.name) || stderr != "" {
			t.Errorf("%s --help: stdout %q, stderr %q; want the usage on stdout only", c.name, stdout, stderr)
		}
		if singleDash.MatchString(stdout) {
			t.Errorf("%s --help lists flags with a single dash:\n%s", c.name, stdout)
		}
	}
	// A mistake prints the usage on standard error and names the flag as
	// the usage does.
	stdout, stderr, err := run(t, nil, "", "status", "--no-such-flag")
	if err == nil || err.Error() != "unknown flag --no-such-flag" || stdout != "" || !strings.HasPrefix(stderr, "Usage: egsd status") {
		t.Errorf("status --no-such-flag: err %v, stdout %q, stderr %q", err, stdout, stderr)
	}
	if _, _, err := run(t, nil, "", "login", "--token", "t"); err == nil || !strings.Contains(err.Error(), "unknown flag --token") {
		t.Errorf("login --token: %v; login opens a session and takes no token", err)
	}
	out, _, err = run(t, nil, "", "--help")
	if err != nil || !strings.Contains(out, "Commands:") {
		t.Fatalf("--help = %q, %v", out, err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"run", "--demo", "--config", "x.toml"},
		{"users"},
		{"users", "add", "--role", "cashier"},
		{"sale", "a.json", "b.json"},
		{"service", "dance"},
		{"audit"},
		{"bench", "--clients", "0"},
		{"status", "--no-such-flag"},
	} {
		_, _, err := run(t, nil, "", args...)
		if err == nil || ExitCode(err) != 2 {
			t.Errorf("egsd %v: err = %v, exit %d; want a usage error (exit 2)", args, err, ExitCode(err))
		}
	}
}

func TestSaleNeedsLogin(t *testing.T) {
	_, url, env := startAgent(t)
	_, _, err := run(t, env, `{}`, "sale", "-")
	if err == nil || !strings.Contains(err.Error(), "not logged in to the agent at "+url) || !strings.Contains(err.Error(), "egsd login") {
		t.Fatalf("err = %v, want a hint to log in", err)
	}
}

func TestLoginSaleStatusLogout(t *testing.T) {
	_, _, env := startAgent(t)
	if _, _, err := run(t, env, "wrong-password\n", "login", "--user", "cashier"); err == nil {
		t.Fatal("login with a wrong password from stdin succeeded")
	}
	out, _, err := run(t, env, "cashier-demo\n", "login", "--user", "cashier")
	if err != nil || !strings.Contains(out, "logged in as cashier (cashier)") {
		t.Fatalf("login: %q, %v", out, err)
	}
	info, err := os.Stat(env["EGSD_SESSION_FILE"])
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("session file: %v, mode %v; want 0600", err, info.Mode().Perm())
	}
	sale, err := os.ReadFile("../../../examples/sale.json")
	if err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, env, string(sale), "sale", "--key", "k-1", "-")
	if err != nil || !strings.Contains(out, "issued document 1 (invoice)") {
		t.Fatalf("sale: %q, %v", out, err)
	}
	out, _, err = run(t, env, string(sale), "sale", "--key", "k-1")
	if err != nil || !strings.Contains(out, "already issued earlier document 1") {
		t.Fatalf("resend: %q, %v", out, err)
	}
	bad := strings.Replace(string(sale), `"quantity": "2"`, `"quantity": 2`, 1)
	_, stderr, err := run(t, env, bad, "sale", "-")
	if err == nil || !strings.Contains(stderr, "lines[0].quantity") {
		t.Fatalf("bad sale: stderr %q, err %v; want the field named", stderr, err)
	}
	out, _, err = run(t, env, "", "status")
	if err != nil || !strings.Contains(out, "documents    1") || !strings.Contains(out, "outbox       1 pending") {
		t.Fatalf("status: %q, %v", out, err)
	}
	if out, _, err = run(t, env, "", "logout"); err != nil || !strings.Contains(out, "logged out") {
		t.Fatalf("logout: %q, %v", out, err)
	}
	if _, err := os.Stat(env["EGSD_SESSION_FILE"]); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("session file still there after logout: %v", err)
	}
}

func TestUsersOnStoppedUnit(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"EGSD_CONFIG": filepath.Join(dir, "absent.toml")}
	out, _, err := run(t, env, "", "users", "add", "--data", dir, "--name", "boss", "--role", "manager", "--password", "long enough 1")
	if err != nil || !strings.Contains(out, "added boss (manager)") {
		t.Fatalf("add: %q, %v", out, err)
	}
	_, _, err = run(t, env, "", "users", "add", "--data", dir, "--name", "kid", "--role", "cashier", "--password", "short")
	if err == nil || !strings.Contains(err.Error(), "password") {
		t.Fatalf("short password: %v", err)
	}
	_, _, err = run(t, env, "", "users", "remove", "--data", dir, "--name", "boss")
	if err == nil || !strings.Contains(err.Error(), "last enabled manager") {
		t.Fatalf("removing the last manager: %v", err)
	}
	out, _, err = run(t, env, "", "users", "list", "--data", dir)
	if err != nil || !strings.Contains(out, "boss") || strings.Contains(out, "kid") {
		t.Fatalf("list: %q, %v", out, err)
	}
	out, _, err = run(t, env, "", "audit", "verify", "--data", dir)
	if err != nil || !strings.HasPrefix(out, "OK audit log: 2 entries") {
		t.Fatalf("audit verify: %q, %v", out, err)
	}
	_, _, err = run(t, env, "", "audit", "verify", "--data", filepath.Join(dir, "nothing-here"))
	if err == nil || !strings.Contains(err.Error(), "no egsd store") {
		t.Fatalf("audit verify on an empty dir: %v", err)
	}
}

func TestUsersThroughSession(t *testing.T) {
	_, _, env := startAgent(t)
	if _, _, err := run(t, env, "manager-demo\n", "login", "--user", "manager"); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, env, "", "users", "add", "--session", "--name", "amal", "--role", "cashier", "--password", "amal-password")
	if err != nil || !strings.Contains(out, "added amal (cashier)") {
		t.Fatalf("add: %q, %v", out, err)
	}
	out, _, err = run(t, env, "", "users", "role", "--session", "--name", "amal", "--role", "technician")
	if err != nil || !strings.Contains(out, "amal is now technician") {
		t.Fatalf("role: %q, %v", out, err)
	}
	out, _, err = run(t, env, "", "users", "list", "--session")
	if err != nil || !strings.Contains(out, "amal") || !strings.Contains(out, "technician") {
		t.Fatalf("list: %q, %v", out, err)
	}
	for action, want := range map[string]string{"unlock": "amal: unlocked", "disable": "amal: disabled", "enable": "amal: enabled"} {
		if out, _, err := run(t, env, "", "users", action, "--session", "--name", "amal"); err != nil || strings.TrimSpace(out) != want {
			t.Errorf("users %s: %q, %v; want %q", action, out, err, want)
		}
	}
	// A cashier may not manage users.
	if _, _, err := run(t, env, "cashier-demo\n", "login", "--user", "cashier"); err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, env, "", "users", "list", "--session")
	if err == nil || !strings.Contains(err.Error(), "role cashier may not") {
		t.Fatalf("cashier listing users: %v", err)
	}
}

func TestBenchAgainstAgent(t *testing.T) {
	_, _, env := startAgent(t)
	out, _, err := run(t, env, "", "bench", "--clients", "2", "--sales", "20")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sales      20 in", "0 failed", "p99", "20 documents in the journal"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
}

// A unit that submits: the bench says what the run left in the outbox and
// waits until it is delivered, with the rate of sales issued and delivered.
func TestBenchReportsDelivery(t *testing.T) {
	cfg := testDemoConfig(t.TempDir())
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Regime.Name = "test-remote"
	cfg.Submit.Enabled = true
	a, url := serveAgent(t, cfg)
	env := map[string]string{"EGSD_SESSION_FILE": filepath.Join(t.TempDir(), "session.json"), "EGSD_API": url}
	out, _, err := run(t, env, "", "bench", "--clients", "2", "--sales", "20")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`outbox     \d+ pending right after the run`).MatchString(out) {
		t.Errorf("bench output lacks the outbox after the run:\n%s", out)
	}
	if strings.Contains(out, "still pending") || !strings.Contains(out, "0 pending right after the run") && !strings.Contains(out, "sales/s issued and delivered") {
		t.Errorf("bench output does not say the outbox was delivered:\n%s", out)
	}
	if st, err := a.Status(); err != nil || st.Outbox.Pending != 0 || st.Counter != 20 {
		t.Errorf("after the bench: %d documents, %d pending, %v; want 20 delivered", st.Counter, st.Outbox.Pending, err)
	}
	// Submission off: nothing about an outbox.
	_, _, env = startAgent(t)
	if out, _, err := run(t, env, "", "bench", "--clients", "1", "--sales", "3"); err != nil || strings.Contains(out, "outbox") {
		t.Errorf("bench without submission: %v\n%s", err, out)
	}
}

// With a printer, the bench says how many receipts wait for it: here all
// of them, the paper being out.
func TestBenchReportsPrintQueue(t *testing.T) {
	p, err := fakeprinter.Start(fakeprinter.Options{WidthDots: 576})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetPaperOut(true)
	cfg := testDemoConfig(t.TempDir())
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Printer.Enabled, cfg.Printer.Profile, cfg.Printer.Port = true, "generic-80mm", p.Path()
	_, url := serveAgent(t, cfg)
	env := map[string]string{"EGSD_SESSION_FILE": filepath.Join(t.TempDir(), "session.json"), "EGSD_API": url}
	out, _, err := run(t, env, "", "bench", "--clients", "2", "--sales", "5")
	if err != nil || !strings.Contains(out, "printer    5 receipts queued right after the run") {
		t.Errorf("bench with the paper out: %v\n%s", err, out)
	}
}

func TestBenchPrefill(t *testing.T) {
	dir := t.TempDir()
	out, _, err := run(t, nil, "", "bench", "--prefill", "50", "--demo", "--data", dir)
	if err != nil || !strings.Contains(out, "prefilled 50 documents") {
		t.Fatalf("prefill: %q, %v", out, err)
	}
	cfg := agent.DemoConfig(dir)
	a, err := agent.New(cfg, agent.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	st, err := a.Status()
	if err != nil || st.Counter != 50 {
		t.Fatalf("counter after prefill = %d, %v; want 50", st.Counter, err)
	}
}

func TestProgressLine(t *testing.T) {
	p := agent.ReplayProgress{Total: 500, Done: 120}
	now := time.Date(2031, 3, 1, 9, 0, 0, 0, time.Local)
	got := progressLine(p, 5*time.Second, now)
	if !strings.HasPrefix(got, "[#######-----------------------] 120/500  24.0/s  ETA 16s") {
		t.Errorf("progressLine = %q", got)
	}
	if got := progressLine(agent.ReplayProgress{Total: 3, Done: 3}, time.Second, now); !strings.Contains(got, "3/3") || !strings.Contains(got, "ETA 0s") {
		t.Errorf("finished: %q", got)
	}
	// The authority keeps failing: the line says why and when it tries again.
	failing := agent.ReplayProgress{Total: 3, LastError: "connection refused", FailingSince: now.Add(-time.Minute), NextAttempt: now.Add(25 * time.Second)}
	if got := progressLine(failing, time.Minute, now); !strings.Contains(got, "0/3") ||
		!strings.Contains(got, "failing since 08:59:00: connection refused; next attempt in 25s") {
		t.Errorf("failing: %q", got)
	}
	paused := agent.ReplayProgress{Total: 3, Paused: "the authority refused the unit's credentials: 401"}
	if got := progressLine(paused, time.Minute, now); !strings.Contains(got, "PAUSED: the authority refused the unit's credentials: 401") {
		t.Errorf("paused: %q", got)
	}
}

func TestReplayCommand(t *testing.T) {
	_, _, env := startAgent(t)
	if _, _, err := run(t, env, "manager-demo\n", "login", "--user", "manager"); err != nil {
		t.Fatal(err)
	}
	// The demo unit has submission off: the command says so.
	_, _, err := run(t, env, "", "replay")
	if err == nil || !strings.Contains(err.Error(), "submission.enabled") {
		t.Fatalf("replay with submission off: %v", err)
	}
}

// Commands on the till find the agent where its configuration says it
// listens; flags and the environment still win.
func TestConfiguredAPI(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "egsd.toml")
	os.WriteFile(cfg, []byte("data_dir = \"/x\"\n[api]\nlisten = \"127.0.0.1:7099\"\n[regime]\nname = \"test\"\n"), 0o600)
	env := map[string]string{"EGSD_CONFIG": cfg, "EGSD_SESSION_FILE": filepath.Join(dir, "none.json")}
	io := IO{Getenv: func(k string) string { return env[k] }}
	empty := ""
	c, err := apiFlags{api: &empty, token: &empty}.client(io, false)
	if err != nil || c.api != "http://127.0.0.1:7099" {
		t.Fatalf("client api = %q, %v; want the configured listen address", c.api, err)
	}
	env["EGSD_API"] = "http://127.0.0.1:7100"
	if c, _ := (apiFlags{api: &empty, token: &empty}).client(io, false); c.api != "http://127.0.0.1:7100" {
		t.Errorf("with EGSD_API the client uses %q", c.api)
	}
	env = map[string]string{"EGSD_CONFIG": filepath.Join(dir, "absent.toml"), "EGSD_SESSION_FILE": filepath.Join(dir, "none.json")}
	if c, _ := (apiFlags{api: &empty, token: &empty}).client(io, false); c.api != defaultAPI {
		t.Errorf("without a configuration the client uses %q", c.api)
	}
}

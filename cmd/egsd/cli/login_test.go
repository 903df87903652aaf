package cli

import (
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLoginOwner: a manager kept locked out logs in through the owner
// token with `egsd login --owner`.
func TestLoginOwner(t *testing.T) {
	dir := t.TempDir()
	cfg := testDemoConfig(dir)
	cfg.API.Listen = "127.0.0.1:0"
	env := map[string]string{"EGSD_CONFIG": filepath.Join(dir, "absent.toml"), "EGSD_SESSION_FILE": filepath.Join(t.TempDir(), "session.json")}
	if _, _, err := run(t, env, "", "login", "--owner", "--user", "manager", "--data", dir); err == nil || !strings.Contains(err.Error(), "no running agent") {
		t.Fatalf("login --owner without an agent: %v", err)
	}
	_, url := serveAgent(t, cfg)
	env["EGSD_API"] = url

	for range cfg.Auth.LockoutAttempts {
		run(t, env, "not the password\n", "login", "--user", "manager")
	}
	_, _, err := run(t, env, "manager-demo\n", "login", "--user", "manager")
	var apiErr *apiError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusTooManyRequests || !strings.Contains(err.Error(), "login --owner") {
		t.Fatalf("the manager's password during the lock: %v, want 429 pointing at login --owner", err)
	}
	out, _, err := run(t, env, "", "login", "--owner", "--user", "manager", "--data", dir)
	if err != nil || !strings.HasPrefix(out, "logged in as manager (manager)") {
		t.Fatalf("login --owner: %q, %v", out, err)
	}
	// The session is the manager's: user management works with it.
	out, _, err = run(t, env, "", "users", "list", "--session")
	if err != nil || !regexp.MustCompile(`(?m)^manager\s+manager\s+locked until`).MatchString(out) {
		t.Errorf("users list --session with the owner's session: %q, %v", out, err)
	}
	out, _, err = run(t, env, "", "audit", "list", "--session", "--limit", "1000")
	if err != nil || !regexp.MustCompile(`(?m)\sowner\s+owner\s+login\s+manager\s+.*via="owner token"`).MatchString(out) {
		t.Errorf("the manager's session from the owner: audit list %q, %v", out, err)
	}
}

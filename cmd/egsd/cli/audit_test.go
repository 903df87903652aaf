package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
)

// stoppedUnit runs a demo agent in dir once (demo users, a failed login, a
// sale) and stops it, leaving a data directory with an audit key and
// checkpoints.
func stoppedUnit(t *testing.T) (dir string, env map[string]string) {
	t.Helper()
	dir = t.TempDir()
	a := newDemoAgent(t, testDemoConfig(dir))
	if _, _, err := a.Auth().Login("cashier", "not the password", "127.0.0.1:1"); err == nil {
		t.Fatal("a wrong password logged in")
	}
	if _, _, err := a.Auth().Login("cashier", "cashier-demo", "127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, map[string]string{"EGSD_CONFIG": filepath.Join(dir, "absent.toml")}
}

// TestAuditList: `egsd audit list` shows the kind of each entry's actor.
func TestAuditList(t *testing.T) {
	dir, env := stoppedUnit(t)
	out, _, err := run(t, env, "", "audit", "list", "--data", dir)
	if err != nil {
		t.Fatalf("audit list: %v", err)
	}
	for _, want := range []string{
		`(?m)^SEQ\s+TIME\s+KIND\s+ACTOR\s+ACTION\s+SUBJECT\s+DETAILS$`,
		`(?m)^1\s+\S+\s+system\s+system\s+key_event\s+audit_key_created\s+fingerprint=`,
		`(?m)^\d+\s+\S+\s+system\s+system\s+agent_started\s`,
		`(?m)^\d+\s+\S+\s+system\s+system\s+user_added\s+cashier\s+role=cashier$`,
		`(?m)^\d+\s+\S+\s+anonymous\s+anonymous\s+login_failed\s+cashier\s+from=127\.0\.0\.1 reason="wrong password"$`,
		`(?m)^\d+\s+\S+\s+user\s+cashier\s+login\s+`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("audit list does not match %s:\n%s", want, out)
		}
	}
	out, _, err = run(t, env, "", "audit", "list", "--data", dir, "--since", "1", "--limit", "2")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); err != nil || len(lines) != 4 || !strings.HasPrefix(lines[1], "2 ") || lines[3] != "more: egsd audit list --since 3" {
		t.Errorf("audit list --since 1 --limit 2:\n%s%v", out, err)
	}
}

// TestAuditVerifyCheckpoints: a careful rewrite of the audit log (every
// later hash recomputed) passed `egsd audit verify`; the signed checkpoints
// catch it, offline and against an exported checkpoint.
func TestAuditVerifyCheckpoints(t *testing.T) {
	dir, env := stoppedUnit(t)
	exported := filepath.Join(t.TempDir(), "checkpoint.json")
	out, _, err := run(t, env, "", "audit", "checkpoint", "--data", dir, "--out", exported)
	if err != nil || !strings.Contains(out, "keep a copy off the unit") {
		t.Fatalf("audit checkpoint: %q, %v", out, err)
	}
	out, _, err = run(t, env, "", "audit", "verify", "--data", dir, "--checkpoint", exported)
	if err != nil || !regexp.MustCompile(`^OK audit log: \d+ entries, chain intact; \d+ signed checkpoints by audit key [0-9a-f]{8}, the newest covering entry \d+\n`).MatchString(out) ||
		!strings.Contains(out, "OK checkpoint "+exported) {
		t.Fatalf("audit verify of an untouched log: %q, %v", out, err)
	}

	queuetest.RewriteAudit(t, dir, 3, func(e *queue.AuditEntry) { e.Subject = "mallory" })
	out, _, err = run(t, env, "", "audit", "verify", "--data", dir)
	if err == nil || !regexp.MustCompile(`^FAIL audit log: entry \d+: checkpoint for entry \d+ \(signed .*\): the entry's hash is`).MatchString(out) {
		t.Errorf("audit verify of a carefully rewritten log: %q, %v; want FAIL naming the checkpoint", out, err)
	}
	out, _, err = run(t, env, "", "audit", "verify", "--data", dir, "--checkpoint", exported)
	if err == nil || !strings.Contains(out, "FAIL") {
		t.Errorf("audit verify --checkpoint of a rewritten log: %q, %v", out, err)
	}

	// A forged exported checkpoint: the hash of the rewritten log, the
	// signature as it was.
	var cp queue.AuditCheckpoint
	data, _ := os.ReadFile(exported)
	json.Unmarshal(data, &cp)
	cp.Hash = strings.Repeat("a", 64)
	forged := filepath.Join(t.TempDir(), "forged.json")
	data, _ = json.Marshal(cp)
	os.WriteFile(forged, data, 0o600)
	other, _ := stoppedUnit(t)
	out, _, err = run(t, env, "", "audit", "verify", "--data", other, "--checkpoint", forged)
	if err == nil || !strings.Contains(out, "FAIL checkpoint "+forged) || !strings.Contains(out, "not the unit's audit key") {
		t.Errorf("another unit's checkpoint: %q, %v", out, err)
	}
}

// TestAuditRekey: a unit whose audit key file is lost refuses to start
// until `egsd audit rekey` records a new key; its log then verifies.
func TestAuditRekey(t *testing.T) {
	dir, env := stoppedUnit(t)
	if _, _, err := run(t, env, "", "audit", "rekey", "--data", dir); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("rekey with the key file present: %v, want a refusal", err)
	}
	os.Remove(filepath.Join(dir, agent.AuditKeyFile))
	cfg := agent.DemoConfig(dir)
	if _, err := agent.New(cfg, agent.Options{Logger: zerolog.Nop()}); err == nil || !strings.Contains(err.Error(), "egsd audit rekey") {
		t.Fatalf("start without the audit key: %v", err)
	}
	out, _, err := run(t, env, "", "audit", "rekey", "--data", dir)
	if err != nil || !strings.Contains(out, "new audit key") {
		t.Fatalf("rekey: %q, %v", out, err)
	}
	out, _, err = run(t, env, "", "audit", "verify", "--data", dir)
	if err != nil || !strings.HasPrefix(out, "OK audit log") {
		t.Errorf("verify after rekey: %q, %v", out, err)
	}
	a, err := agent.New(cfg, agent.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatalf("start after rekey: %v", err)
	}
	a.Close()
}

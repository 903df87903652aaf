package agent

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/device"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/stampingtest"
)

// auditVerify reads GET /v1/audit/verify.
func (h *harness) auditVerify(token string) AuditVerifyView {
	h.t.Helper()
	w := h.get(token, "/v1/audit/verify")
	if w.Code != http.StatusOK {
		h.t.Fatalf("GET /v1/audit/verify = %d %s", w.Code, w.Body)
	}
	var v AuditVerifyView
	decodeBody(h.t, w, &v)
	return v
}

// TestAuditKey: the unit's audit key is created at its first start, 0600,
// recorded in the store and in full in the audit log, and kept across
// restarts; checkpoints are signed at start and stop, on request, and
// verify.
func TestAuditKey(t *testing.T) {
	h := newHarness(t, nil)
	path := filepath.Join(h.cfg.DataDir, AuditKeyFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", AuditKeyFile, fi.Mode().Perm())
	}
	key, err := keystore.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	manager := h.user("boss", RoleManager)
	created, started := 0, 0
	for _, e := range h.audit(manager) {
		switch {
		case e.Action == queue.AuditKey && e.Subject == auditKeyCreated:
			created++
			if e.Details["public_key"] != hex.EncodeToString(key.PublicKeyDER()) || e.Details["fingerprint"] != key.Fingerprint() {
				t.Errorf("audit_key_created entry %+v does not record the key file's public key", e.Details)
			}
		case e.Action == queue.AuditStart:
			started++
			if e.Details["audit_key"] != key.Fingerprint() {
				t.Errorf("agent_started names audit key %q, want %q", e.Details["audit_key"], key.Fingerprint())
			}
		}
	}
	if created != 1 || started != 1 {
		t.Errorf("%d audit_key_created and %d agent_started entries, want 1 and 1", created, started)
	}
	v := h.auditVerify(manager)
	if !v.OK || v.Key != key.Fingerprint() || !bytes.Equal(v.PublicKey, key.PublicKeyDER()) || v.Checkpoints != 2 {
		t.Errorf("audit verify %+v, want ok with key %s and 2 checkpoints (key created, start)", v, key.Fingerprint())
	}

	// A manager asks for a checkpoint to keep off the unit.
	h.mustSale(manager, "k1", goodSale)
	w := h.do(request{method: "POST", path: "/v1/audit/checkpoints", token: manager})
	if w.Code != http.StatusCreated {
		t.Fatalf("POST /v1/audit/checkpoints = %d %s", w.Code, w.Body)
	}
	var cp queue.AuditCheckpoint
	decodeBody(t, w, &cp)
	entries := h.audit(manager)
	last := entries[len(entries)-1]
	if cp.Seq != last.Seq || cp.Hash != last.Hash || cp.Reason != "requested by boss" {
		t.Errorf("checkpoint %+v, want entry %d with hash %s, requested by boss", cp, last.Seq, last.Hash)
	}
	if err := keystore.VerifySHA256(key.PublicKeyDER(), cp.SignedMessage(), cp.Signature); err != nil {
		t.Errorf("the exported checkpoint does not verify with the key: %v", err)
	}
	var list struct{ Checkpoints []queue.AuditCheckpoint }
	decodeBody(t, h.get(manager, "/v1/audit/checkpoints"), &list)
	if n := len(list.Checkpoints); n != 3 || list.Checkpoints[n-1].Seq != cp.Seq {
		t.Errorf("GET /v1/audit/checkpoints lists %d, want 3 ending with entry %d", n, cp.Seq)
	}

	// A restart keeps the key, and signs at stop and start.
	h.mustSale(manager, "k2", goodSale)
	h.close()
	h2 := startHarness(t, h.cfg, h.ft)
	if !bytes.Equal(h2.a.auditKey.PublicKeyDER(), key.PublicKeyDER()) {
		t.Fatal("the restarted agent has another audit key")
	}
	manager = h2.login("boss", testPassword)
	v = h2.auditVerify(manager)
	if !v.OK || v.Checkpoints != 5 {
		t.Errorf("after a restart: %+v, want ok with 5 checkpoints (stop, start)", v)
	}
	for _, e := range h2.audit(manager) {
		if e.Subject == auditKeyCreated && e.Seq > cp.Seq {
			t.Error("the restart created another audit key")
		}
	}
}

// TestAuditVerifyAPI: GET /v1/audit/verify catches a careful rewrite (every
// later hash recomputed) made while the agent was stopped, and names the
// checkpoint that caught it; the chain alone passes it.
func TestAuditVerifyAPI(t *testing.T) {
	h := newHarness(t, nil)
	h.addUser("boss", RoleManager)
	cfg, ft := h.cfg, h.ft
	h.close()
	queuetest.RewriteAudit(t, cfg.DataDir, 2, func(e *queue.AuditEntry) { e.Subject = "mallory" })

	h2 := startHarness(t, cfg, ft)
	if n, err := h2.a.Store().VerifyAudit(); err != nil {
		t.Fatalf("the chain alone: %d entries, %v; the rewrite was not careful", n, err)
	}
	v := h2.auditVerify(h2.login("boss", testPassword))
	if v.OK || v.Checkpoint == 0 || v.BrokenAt != v.Checkpoint || !strings.Contains(v.Reason, fmt.Sprintf("checkpoint for entry %d", v.Checkpoint)) {
		t.Errorf("audit verify of a rewritten log: %+v, want a failure naming the checkpoint", v)
	}
}

// TestAuditKeyStartRefusals: a unit whose audit key is missing, replaced or
// readable by others does not start; a lost key is replaced with `egsd
// audit rekey` (RekeyAudit), which records the change in the log.
func TestAuditKeyStartRefusals(t *testing.T) {
	h := newHarness(t, nil)
	h.addUser("boss", RoleManager)
	cfg, ft := h.cfg, h.ft
	h.close()
	path := filepath.Join(cfg.DataDir, AuditKeyFile)
	start := func() error {
		a, err := New(cfg, Options{Time: ft, Logger: zerolog.Nop()})
		if err == nil {
			a.Close()
		}
		return err
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := start(); !errors.Is(err, keystore.ErrInsecureMode) {
		t.Errorf("start with the audit key readable by others: %v, want ErrInsecureMode", err)
	}
	os.Chmod(path, 0o600)

	aside := path + ".aside"
	if err := os.Rename(path, aside); err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.Create(path); err != nil {
		t.Fatal(err)
	}
	if err := start(); err == nil || !strings.Contains(err.Error(), "this unit's audit log is signed with key") {
		t.Errorf("start with another key file: %v, want a refusal naming the unit's key", err)
	}
	os.Remove(path)
	if err := start(); err == nil || !strings.Contains(err.Error(), "is missing") || !strings.Contains(err.Error(), "egsd audit rekey") {
		t.Errorf("start without the key file: %v, want a refusal that says so and names egsd audit rekey", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Error("a refused start created a key file")
	}

	fp, err := RekeyAudit(cfg.DataDir, queue.OwnerActor)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RekeyAudit(cfg.DataDir, queue.OwnerActor); err == nil {
		t.Error("a second rekey replaced the new key")
	}
	h2 := startHarness(t, cfg, ft)
	manager := h2.login("boss", testPassword)
	v := h2.auditVerify(manager)
	if !v.OK || v.Key != fp {
		t.Errorf("after rekey: %+v, want ok with the new key %s", v, fp)
	}
	replaced := false
	for _, e := range h2.audit(manager) {
		if e.Subject == auditKeyReplaced && e.ActorKind == queue.ActorOwner && e.Details["fingerprint"] == fp && e.Details["previous_public_key"] != "" {
			replaced = true
		}
	}
	if !replaced {
		t.Error("no audit_key_replaced entry by the owner")
	}
}

// TestAuditKeyNeverShown: nothing the API answers or the agent logs holds
// the audit key's private part (design.md invariant 6, as for the
// stamping key).
func TestAuditKeyNeverShown(t *testing.T) {
	var logged bytes.Buffer
	h := startLoggingHarness(t, testConfig(t), device.NewFakeTime(t0), zerolog.New(&logged).Level(zerolog.DebugLevel))
	manager := h.user("boss", RoleManager)
	h.mustSale(manager, "k1", goodSale)
	var said []string
	for _, path := range []string{"/v1/status", "/v1/config", "/v1/audit?limit=1000", "/v1/audit/verify", "/v1/audit/checkpoints"} {
		w := h.get(manager, path)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, w.Code)
		}
		said = append(said, w.Body.String())
	}
	said = append(said, h.do(request{method: "POST", path: "/v1/audit/checkpoints", token: manager}).Body.String())
	h.close()
	said = append(said, logged.String())

	data, err := os.ReadFile(filepath.Join(h.cfg.DataDir, AuditKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("%s is not a PEM private key", AuditKeyFile)
	}
	all := strings.Join(said, "\n")
	if !strings.Contains(all, `"public_key"`) || len(all) < 2000 {
		t.Fatalf("collected only %d bytes of output; the test would prove nothing", len(all))
	}
	for form, secret := range stampingtest.SecretForms(t, block.Bytes) {
		if strings.Contains(all, secret) {
			t.Errorf("the audit key's private part (%s) appears in what the agent says", form)
		}
	}
}

package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/agent"
	zatcasim "github.com/egsd/egsd/sim/zatca"
)

func TestDocumentsCommand(t *testing.T) {
	a, _, env := startAgent(t)
	if _, _, err := run(t, env, "cashier-demo\n", "login", "--user", "cashier"); err != nil {
		t.Fatal(err)
	}
	sale, err := os.ReadFile("../../../examples/sale.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"k-1", "k-2"} {
		if _, _, err := run(t, env, string(sale), "sale", "--key", key, "-"); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err := run(t, env, "", "documents", "list")
	if err != nil || strings.Count(out, "\n") != 3 || !strings.Contains(out, "COUNTER") || !strings.Contains(out, "pending") {
		t.Fatalf("documents list: %q, %v", out, err)
	}
	if out, _, err := run(t, env, "", "documents", "list", "--since", "1"); err != nil || strings.Count(out, "\n") != 2 {
		t.Errorf("documents list --since 1: %q, %v", out, err)
	}
	if out, _, err := run(t, env, "", "documents", "list", "--status", "rejected"); err != nil || strings.TrimSpace(out) != "no documents" {
		t.Errorf("documents list --status rejected: %q, %v", out, err)
	}
	if _, _, err := run(t, env, "", "documents", "list", "--status", "lost"); err == nil || !strings.Contains(err.Error(), "status") {
		t.Errorf("documents list --status lost: %v, want the field named", err)
	}
	out, _, err = run(t, env, "", "documents", "show", "1")
	rec, _ := a.Store().Document(1)
	if err != nil || !strings.Contains(out, "document     1 (invoice)") || !strings.Contains(out, rec.Hash) || !strings.Contains(out, "printed      not yet") {
		t.Errorf("documents show 1: %q, %v", out, err)
	}
	// The stored bytes, to standard output and (by UUID) to a new file.
	out, _, err = run(t, env, "", "documents", "content", "1")
	if err != nil || out != string(rec.Document) {
		t.Errorf("documents content 1: %d bytes, %v; want the %d stored bytes", len(out), err, len(rec.Document))
	}
	file := filepath.Join(t.TempDir(), "doc-1.json")
	if _, stderr, err := run(t, env, "", "documents", "content", rec.UUID, "--out", file); err != nil || !strings.Contains(stderr, "to "+file) {
		t.Fatalf("documents content --out: %q, %v", stderr, err)
	}
	if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, rec.Document) {
		t.Errorf("the file holds %d bytes, %v; want the stored document", len(got), err)
	}
	if _, _, err := run(t, env, "", "documents", "content", "1", "--out", file); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("content over an existing file: %v, want a refusal", err)
	}
	if _, _, err := run(t, env, "", "documents", "content", "1", "--form", "sideways"); err == nil || !strings.Contains(err.Error(), "form") {
		t.Errorf("content --form sideways: %v", err)
	}
	if _, _, err := run(t, env, "", "documents", "print", "1"); err == nil || !strings.Contains(err.Error(), "no receipt printer") {
		t.Errorf("print without a printer: %v", err)
	}
	if _, _, err := run(t, env, "", "documents", "credit-note", "1"); err == nil || !strings.Contains(err.Error(), "role cashier may not") {
		t.Errorf("credit-note as a cashier: %v", err)
	}
	if _, _, err := run(t, env, "manager-demo\n", "login", "--user", "manager"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, env, "", "documents", "credit-note", "1"); err == nil || !strings.Contains(err.Error(), "only a rejected invoice") {
		t.Errorf("credit-note for an accepted document: %v", err)
	}
	if _, _, err := run(t, env, "", "documents", "show", "99"); err == nil || !strings.Contains(err.Error(), "No such document") {
		t.Errorf("show 99: %v", err)
	}
	for _, args := range [][]string{{"documents"}, {"documents", "frob"}, {"documents", "show"}, {"documents", "show", "1", "2"},
		{"documents", "list", "x"}, {"documents", "list", "--limit", "0"}} {
		if _, _, err := run(t, env, "", args...); err == nil || ExitCode(err) != 2 {
			t.Errorf("egsd %v: %v, want a usage error", args, err)
		}
	}
}

// onboarded logs the technician in and onboards the unit with the
// simulator; the manager is logged in afterwards.
func (z *zatcaAgent) onboarded(t *testing.T) {
	t.Helper()
	z.login(t, "technician")
	if _, _, err := run(t, z.env, "", "onboard", "--otp", zatcasim.DeveloperPortalOTP); err != nil {
		t.Fatalf("onboard: %v", err)
	}
	z.login(t, "manager")
}

// waitStatus polls the status until ok accepts it.
func (z *zatcaAgent) waitStatus(t *testing.T, what string, ok func(agent.Status) bool) agent.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		st, err := z.a.Status()
		if err != nil {
			t.Fatal(err)
		}
		if ok(st) {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: status %+v", what, st)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A document ZATCA rejects shows in the status with what it needs; the
// manager issues its corrective credit note from the command line, and
// the status then names it.
func TestCorrectiveCreditNoteCommand(t *testing.T) {
	z := startZATCAAgent(t, zatcasim.Config{})
	z.onboarded(t)
	if err := z.sim.SetFaults(zatcasim.Faults{RejectICVs: []uint64{1}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, z.env, simplifiedSale, "sale", "-"); err != nil {
		t.Fatal(err)
	}
	z.waitStatus(t, "the rejection", func(st agent.Status) bool { return st.Rejected.Count == 1 })
	out, _, err := run(t, z.env, "", "status")
	if err != nil || !strings.Contains(out, "REJECTED     1 document by the authority, 1 without a credit note: a manager issues each one's credit note with egsd documents credit-note N") ||
		!strings.Contains(out, "EGS1-1") || !strings.Contains(out, "NO CREDIT NOTE") {
		t.Fatalf("status with a rejected document: %q, %v", out, err)
	}
	if out, _, err := run(t, z.env, "", "documents", "show", "1"); err != nil || !strings.Contains(out, "REJECTED") ||
		!strings.Contains(out, "egsd documents credit-note 1") || !strings.Contains(out, "authority:") {
		t.Errorf("documents show of the rejected document: %q, %v", out, err)
	}
	out, _, err = run(t, z.env, "", "documents", "credit-note", "1")
	if err != nil || !strings.Contains(out, "issued corrective credit note 2 for document 1") {
		t.Fatalf("documents credit-note 1: %q, %v", out, err)
	}
	out, _, err = run(t, z.env, "", "documents", "credit-note", "1")
	if err != nil || !strings.Contains(out, "already issued earlier: corrective credit note 2") {
		t.Errorf("documents credit-note 1 again: %q, %v", out, err)
	}
	out, _, err = run(t, z.env, "", "status")
	if err != nil || !strings.Contains(out, "0 without a credit note") || !strings.Contains(out, "credit note 2") {
		t.Errorf("status after the credit note: %q, %v", out, err)
	}
	if resp, err := http.Get(z.url + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("agent health after the test: %v", err)
	}
}

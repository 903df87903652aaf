package agent

import (
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/testregime"
)

// refusedStarts lists the audit entries of refused starts in dir's store.
func refusedStarts(t *testing.T, dir string) []queue.AuditEntry {
	t.Helper()
	s, err := queue.Open(dir, &queue.Options{MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, err := s.AuditEntries(0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []queue.AuditEntry
	for _, e := range all {
		if e.Action == queue.AuditIdentity && e.Subject == "start_refused" {
			out = append(out, e)
		}
	}
	return out
}

// startRefused starts an agent on cfg, which must refuse to start naming
// key and the way out, and returns the error.
func startRefused(t *testing.T, h *harness, cfg Config, key string) *IdentityChangedError {
	t.Helper()
	a, err := New(cfg, Options{Time: h.ft, Logger: zerolog.Nop(), Version: "test"})
	if err == nil {
		a.Close()
		t.Fatalf("New with %s changed started", key)
	}
	var ie *IdentityChangedError
	if !errors.As(err, &ie) {
		t.Fatalf("New with %s changed: %v, want an IdentityChangedError", key, err)
	}
	for _, want := range []string{key + " back to", "data_dir", "new unit", "did not start"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, err)
		}
	}
	return ie
}

// A unit's chain is bound to the identity of its first document: the
// same data directory with another regime, seller VAT number or device
// serial does not start, says which key and what to do, and audits the
// refusal (once while it repeats); the configuration put back starts.
func TestIdentityChangeRefusesStart(t *testing.T) {
	changes := map[string]func(*Config){
		"regime.name":       func(c *Config) { c.Regime.Name = testregime.Remote },
		"seller.vat_number": func(c *Config) { c.Seller.VATNumber = "311111111111113" },
		"device.serial":     func(c *Config) { c.Device.Serial = "EGS-REPLACED" },
	}
	for key, change := range changes {
		t.Run(key, func(t *testing.T) {
			h := newHarness(t, nil)
			cashier := h.user("ana", RoleCashier)
			first := h.mustSale(cashier, "k1", goodSale)
			h.close()

			cfg := h.cfg
			change(&cfg)
			ie := startRefused(t, h, cfg, key)
			if len(ie.Mismatches) != 1 || ie.Mismatches[0].Key != key {
				t.Errorf("mismatches %+v, want only %s", ie.Mismatches, key)
			}
			startRefused(t, h, cfg, key) // a service manager restarting it
			if got := refusedStarts(t, cfg.DataDir); len(got) != 1 || !strings.Contains(got[0].Details[key], "configured") || got[0].Actor != "system" {
				t.Errorf("refused-start audit entries %+v, want one naming %s", got, key)
			}

			h2 := startHarness(t, h.cfg, h.ft)
			next := h2.mustSale(h2.login("ana", testPassword), "k2", goodSale)
			if next.PrevHash != first.Hash || next.Counter != 2 {
				t.Errorf("after the configuration was put back: counter %d prev %q, want 2 chained to %q", next.Counter, next.PrevHash, first.Hash)
			}
			h2.close()
			// Another refusal after something else was recorded is recorded again.
			startRefused(t, h, cfg, key)
			if got := refusedStarts(t, cfg.DataDir); len(got) != 2 {
				t.Errorf("%d refused-start entries after a second episode, want 2", len(got))
			}
		})
	}
}

// Before its first document a unit has no chain to continue: its
// configuration may still change.
func TestIdentityFreeBeforeTheFirstDocument(t *testing.T) {
	h := newHarness(t, nil)
	h.close()
	cfg := h.cfg
	cfg.Seller.VATNumber = "311111111111113"
	h2 := startHarness(t, cfg, h.ft)
	doc := h2.mustSale(h2.user("ana", RoleCashier), "k1", goodSale)
	h2.close()
	id, err := openIdentity(t, cfg.DataDir)
	if err != nil || id.Bound["seller.vat_number"] != "311111111111113" || id.BoundBy != "first_document" || doc.Counter != 1 {
		t.Errorf("identity %+v (%v), want bound to the new VAT number by the first document", id, err)
	}
}

func openIdentity(t *testing.T, dir string) (queue.Identity, error) {
	t.Helper()
	s, err := queue.Open(dir, &queue.Options{MustExist: true})
	if err != nil {
		return queue.Identity{}, err
	}
	defer s.Close()
	return s.Identity()
}

// Onboarding fixes the identity before anything is issued: the
// certificate carries it.
func TestIdentityBoundByOnboarding(t *testing.T) {
	h := newOnboardingHarness(t)
	if w := h.post(`{"otp":"123345"}`); w.Code != http.StatusOK {
		t.Fatalf("onboarding = %d %s", w.Code, w.Body)
	}
	var bound bool
	for _, e := range h.audit(h.manager) {
		bound = bound || e.Action == queue.AuditIdentity && e.Subject == "bound" && e.Details["by"] == "onboarding" &&
			e.Details["seller.vat_number"] == h.cfg.Seller.VATNumber
	}
	if !bound {
		t.Error("no audit entry says onboarding bound the identity")
	}
	h.close()
	cfg := h.cfg
	cfg.Device.Serial = "EGS-OTHER"
	startRefused(t, h.harness, cfg, "device.serial")
}

// A unit from before identities were recorded (documents, no identity)
// gets the identity it runs with now, audited, and is held to it.
func TestIdentityOfAnOlderUnit(t *testing.T) {
	h := newHarness(t, nil)
	h.mustSale(h.user("ana", RoleCashier), "k1", goodSale)
	h.close()
	unbind(t, h.cfg.DataDir)

	h2 := startHarness(t, h.cfg, h.ft)
	manager := h2.user("boss", RoleManager)
	var by string
	for _, e := range h2.audit(manager) {
		if e.Action == queue.AuditIdentity && e.Subject == "bound" {
			by = e.Details["by"]
		}
	}
	if by != "upgrade" {
		t.Errorf("identity bound by %q, want upgrade", by)
	}
	h2.close()
	cfg := h.cfg
	cfg.Seller.VATNumber = "311111111111113"
	startRefused(t, h, cfg, "seller.vat_number")
}

// unbind makes dir's store look like one written before identities were
// recorded: its identity has no Bound.
func unbind(t *testing.T, dir string) {
	t.Helper()
	editStore(t, dir, func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte("meta"))
		var id map[string]any
		if err := json.Unmarshal(meta.Get([]byte("identity")), &id); err != nil {
			return err
		}
		delete(id, "bound")
		delete(id, "bound_at")
		delete(id, "bound_by")
		b, err := json.Marshal(id)
		if err != nil {
			return err
		}
		return meta.Put([]byte("identity"), b)
	})
}

// editStore changes the stopped unit's store file behind egsd's back, the
// way an older egsd left it.
func editStore(t *testing.T, dir string, edit func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, queue.FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(edit); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/cmd/egsd/internal/cmdtest"
	"github.com/egsd/egsd/queue"
	zatcasim "github.com/egsd/egsd/sim/zatca"
	"github.com/egsd/egsd/stamping"
)

// writeIdentityConfig writes a test-regime configuration whose seller VAT
// number and device serial are given.
func writeIdentityConfig(t *testing.T, dir, data, addr, vat, serial string) string {
	t.Helper()
	path := filepath.Join(dir, "egsd.toml")
	config := fmt.Sprintf("data_dir = %s\n\n[api]\nlisten = %s\n\n[regime]\nname = \"test\"\n\n[seller]\nname = \"Shop\"\nvat_number = %s\n\n[device]\nserial = %s\n\n[auth]\nbcrypt_cost = 4\n",
		strconv.Quote(data), strconv.Quote(addr), strconv.Quote(vat), strconv.Quote(serial))
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestIdentityChangeRefusesToStart runs the real daemon: a unit that has
// issued a document, restarted with its seller VAT number or its device
// serial changed in the configuration, exits with an error that names the
// key and the way out, records the refusal in its audit log and issues
// nothing; with the configuration put back it starts and continues its
// chain.
func TestIdentityChangeRefusesToStart(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	addr := cmdtest.FreeAddr(t)
	cfg := writeIdentityConfig(t, tmp, data, addr, "300000000000003", "TILL-1")
	env := cliEnv(tmp)
	if res := runEgsd(t, env, "users", "add", "--config", cfg, "--name", "ana", "--role", "cashier", "--password", "ana-password-1"); res.Code != 0 {
		t.Fatalf("users add: %s", res)
	}
	sale := func(key string) saleAnswer {
		t.Helper()
		d := startDaemon(t, data, addr, "run", "--config", cfg)
		api := newAPIClient(d.url)
		api.login(t, "ana", "ana-password-1")
		ans, err := api.postSale(context.Background(), key, []byte(`{"kind":"invoice","lines":[{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15"}]}`))
		if err != nil || ans.Status != http.StatusCreated {
			t.Fatalf("sale = %d %s (%v)", ans.Status, ans.Body, err)
		}
		s, err := decodeSale(ans)
		if err != nil {
			t.Fatal(err)
		}
		d.stop()
		return s
	}
	first := sale("k1")

	for _, tc := range []struct{ key, vat, serial string }{
		{"seller.vat_number", "311111111111113", "TILL-1"},
		{"device.serial", "300000000000003", "TILL-2"},
	} {
		writeIdentityConfig(t, tmp, data, addr, tc.vat, tc.serial)
		res := runEgsd(t, env, "run", "--config", cfg)
		if res.Code == 0 {
			t.Fatalf("egsd run with %s changed: %s\nwant a refusal", tc.key, res)
		}
		t.Logf("the refusal: %s", res.Stderr)
		for _, want := range []string{tc.key, "data_dir", "did not start"} {
			if !strings.Contains(res.Stderr, want) {
				t.Errorf("egsd run with %s changed says %q, which does not name %q", tc.key, res.Stderr, want)
			}
		}
		s := openStore(t, data)
		entries, err := s.AuditEntries(0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		refused := false
		for _, e := range entries {
			refused = refused || e.Action == queue.AuditIdentity && e.Subject == "start_refused" && e.Details[tc.key] != ""
		}
		if !refused {
			t.Errorf("no audit entry records the refused start with %s changed", tc.key)
		}
		if rep := checkStore(t, s); rep.Documents != 1 {
			t.Errorf("%d documents after a refused start, want 1", rep.Documents)
		}
		s.Close()
	}

	writeIdentityConfig(t, tmp, data, addr, "300000000000003", "TILL-1")
	if next := sale("k2"); next.Counter != 2 || next.PrevHash != first.Hash {
		t.Errorf("with the configuration put back: counter %d prev %q, want 2 chained to %q", next.Counter, next.PrevHash, first.Hash)
	}
}

// TestZATCACertificateForAnotherVATNumber: a unit onboarded before its
// identity was recorded has it in its certificate; started with another
// seller VAT number, it refuses, says what to do, and audits the refusal.
func TestZATCACertificateForAnotherVATNumber(t *testing.T) {
	sim := zatcasim.New(zatcasim.Config{})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); srv.Close() })
	base := srv.URL + "/e-invoicing/developer-portal"
	data := t.TempDir()
	onboardUnit(t, base, data)

	cfg := agent.DefaultConfig()
	cfg.DataDir = data
	cfg.Regime.Name = "zatca"
	cfg.Regime.Options = map[string]any{"base_url": base, "invoice_prefix": "EGS1-"}
	cfg.Seller = zatcaSeller()
	cfg.Seller.VATNumber = "311111111111113"
	a, err := agent.New(cfg, agent.Options{Logger: zerolog.Nop()})
	if err == nil {
		a.Close()
		t.Fatal("a unit whose certificate names another VAT number started")
	}
	if !errors.Is(err, stamping.ErrIdentityChanged) || !strings.Contains(err.Error(), "seller.vat_number back to 399999999900003") || !strings.Contains(err.Error(), "new data_dir") {
		t.Errorf("refusal: %v", err)
	}
	s := openStore(t, data)
	defer s.Close()
	entries, err := s.AuditEntries(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(entries, func(e queue.AuditEntry) bool {
		return e.Action == queue.AuditIdentity && e.Subject == "start_refused" && strings.Contains(e.Details["detail"], "311111111111113")
	}) {
		t.Errorf("no audit entry records the refused start: %+v", entries)
	}
}

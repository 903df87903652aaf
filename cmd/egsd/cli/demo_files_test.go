package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/agent"
)

// TestDemoFilePermissions: demo mode keeps its data as a real unit does —
// the data directory 0700, and the virtual printer's receipts (they name
// the seller and the buyer) 0600 in a 0700 directory.
func TestDemoFilePermissions(t *testing.T) {
	data := filepath.Join(t.TempDir(), "demo-data")
	cfg := agent.DemoConfig(data)
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Auth.BcryptCost = 4
	unit, err := startDemoUnit(&cfg, "test", true, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer unit.Close()
	a, err := agent.New(cfg, agent.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, nil) }()
	defer func() { cancel(); <-served }()
	if _, _, err := a.Issue(context.Background(), "cashier", "perm-1",
		[]byte(`{"kind":"invoice","lines":[{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15"}]}`)); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	if _, err := unit.printer.WaitReceipts(wctx, 1); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		data:          0o700,
		unit.receipts: 0o700,
		filepath.Join(unit.receipts, "receipt-0001.png"): 0o600,
		filepath.Join(unit.receipts, "receipt-0001.txt"): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Error(err)
			continue
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", path, got, want)
		}
	}
}

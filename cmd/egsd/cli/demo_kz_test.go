package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/kz"
)

// TestDemoKZExamples: the Kazakh demo unit (the OFD simulator on
// loopback, a virtual printer) takes examples/sale-kz.json and then
// examples/return-kz.json, which returns it: the OFD registers both, the
// return names the sale's fiscal sign as its parent, and the receipts
// print the OFD's consumer QR, the fiscal sign, the unit's RNM and ЗНМ and
// the OFD's website.
func TestDemoKZExamples(t *testing.T) {
	data := filepath.Join(t.TempDir(), "demo-data")
	cfg := agent.DemoConfig(data)
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Auth.BcryptCost = 4
	unit, err := startDemoUnit(&cfg, "kz", true, zerolog.Nop())
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
	answered := func(counter uint64) *queue.Record {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			rec, err := a.Store().Document(counter)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Status != queue.StatusPending {
				return rec
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("document %d was not answered", counter)
		return nil
	}
	var recs []*queue.Record
	for _, name := range []string{"sale-kz.json", "return-kz.json"} {
		body, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		rec, _, err := a.Issue(context.Background(), "cashier", name, body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rec = answered(rec.Counter)
		if rec.Status != queue.StatusAccepted {
			t.Fatalf("%s: %s %v", name, rec.Status, rec.Messages)
		}
		recs = append(recs, rec)
	}
	reg := unit.ofd.Tickets(DemoKKMID)
	if len(reg) != 2 {
		t.Fatalf("the OFD registered %d tickets", len(reg))
	}
	sale, err := kz.DecodeStoredAnswer(recs[0].Answer)
	if err != nil {
		t.Fatal(err)
	}
	if p := reg[1].Ticket.Parent; reg[1].Ticket.Operation != kz.OperationSellReturn || p == nil || p.Number != sale.FiscalSign || p.Number == "" {
		t.Errorf("the return's parent %+v, want the sale's fiscal sign %q", p, sale.FiscalSign)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	receipts, err := unit.printer.WaitReceipts(wctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range receipts[len(receipts)-2:] {
		a, err := kz.DecodeStoredAnswer(recs[i].Answer)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.QR) != 1 || r.QR[0] != a.QR || !strings.Contains(a.QR, "i="+a.FiscalSign+"&f=620300000011") {
			t.Errorf("receipt %d: QR %q, the OFD's %q", i, r.QR, a.QR)
		}
		// The labels are Cyrillic and print as raster lines (so does the
		// seller's "БИН/ИИН …" line); the values beside them are text.
		for _, want := range []string{"EGSD-DEMO-0001", "620300000011", a.FiscalSign, "consumer.test-oofd.kz"} {
			if !strings.Contains(r.Text, want) {
				t.Errorf("receipt %d lacks %q:\n%s", i, want, r.Text)
			}
		}
	}
}

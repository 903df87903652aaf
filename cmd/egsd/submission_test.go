package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
	zatcasim "github.com/egsd/egsd/sim/zatca"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/csr"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/zatca"
)

func zatcaSeller() agent.SellerConfig {
	return agent.SellerConfig{Name: "Maximum Speed Tech Supply LTD", VATNumber: "399999999900003", IDScheme: "CRN", ID: "1010010000",
		Street: "Prince Sultan", BuildingNumber: "2322", District: "Al-Murabba", City: "Riyadh", PostalCode: "23333", Country: "SA"}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, deadline time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestZATCASubmissionAgainstSimulator onboards a unit against the
// simulator, issues simplified and standard documents and notes, and
// checks that the agent reports and clears every one, once, keeping the
// chain; then the simulator goes down while documents are issued, an
// outage incident opens, and everything drains when it comes back.
func TestZATCASubmissionAgainstSimulator(t *testing.T) {
	sim := zatcasim.New(zatcasim.Config{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	defer sim.Close()
	base := srv.URL + "/e-invoicing/developer-portal"

	data := t.TempDir()
	key, err := keystore.Create(filepath.Join(data, "zatca", "stamping-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	sc := zatcaSeller()
	seller := stamping.Seller{Name: sc.Name, VATNumber: sc.VATNumber, IDScheme: sc.IDScheme, ID: sc.ID,
		Address: sale.Address{Street: sc.Street, BuildingNumber: sc.BuildingNumber, District: sc.District, City: sc.City, PostalCode: sc.PostalCode, Country: sc.Country}}
	client := &zatca.Client{BaseURL: base}
	onboarded, err := zatca.Onboard(context.Background(), client, key, zatca.OnboardRequest{
		OTP: "123345", Seller: seller, Options: zatca.Options{InvoicePrefix: "EGS1-"},
		CSR: csr.Request{CommonName: "TST-886431145-399999999900003", SerialNumber: "1-egsd|2-1.0|3-till-0001",
			OrganizationIdentifier: sc.VATNumber, OrganizationUnit: "Riyadh Branch", Organization: sc.Name, Country: "SA",
			InvoiceType: "1100", Location: "RRRD2929", Industry: "Retail", Environment: csr.DeveloperPortal},
	})
	if err != nil {
		t.Fatalf("onboarding against the simulator: %v", err)
	}
	if err := onboarded.Save(data); err != nil {
		t.Fatal(err)
	}

	cfg := agent.DefaultConfig()
	cfg.DataDir = data
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Regime.Name = "zatca"
	cfg.Regime.Options = map[string]any{"base_url": base, "invoice_prefix": "EGS1-"}
	cfg.Seller = sc
	cfg.Auth.BcryptCost = 4
	cfg.Submit.Enabled = true
	cfg.Submit.OutageAfter = agent.Duration{Duration: time.Second}
	cfg.Submit.MaxBackoff = agent.Duration{Duration: time.Second}
	a, err := agent.New(cfg, agent.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, nil) }()
	defer func() {
		cancel()
		<-served
		a.Close()
	}()

	standardBuyer := `"buyer":{"name":"Fatoora Samples LTD","vat_number":"399999999800003","address":{"street":"Salah Al-Din","building_number":"1111","district":"Al-Murooj","city":"Riyadh","postal_code":"12222","country":"SA"}},`
	line := `"lines":[{"name":"Tea","quantity":"%d","unit_price":"4.35","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]`
	issue := func(i int) {
		var body string
		switch i % 4 {
		case 0:
			body = `{"kind":"invoice",` + fmt.Sprintf(line, i+1) + `}`
		case 1:
			body = `{"kind":"invoice",` + standardBuyer + fmt.Sprintf(line, i+1) + `}`
		case 2:
			body = `{"kind":"credit_note","original":"EGS1-1","reason":"Returned",` + fmt.Sprintf(line, 1) + `}`
		case 3:
			body = `{"kind":"debit_note","original":"EGS1-2","reason":"Price corrected",` + standardBuyer + fmt.Sprintf(line, 1) + `}`
		}
		if _, _, err := a.Issue(context.Background(), "cashier", fmt.Sprint("key-", i), []byte(body)); err != nil {
			t.Fatalf("sale %d: %v", i, err)
		}
	}
	pending := func() int {
		st, err := a.Status()
		if err != nil {
			t.Fatal(err)
		}
		return st.Outbox.Pending
	}
	const first = 40
	for i := range first {
		issue(i)
	}
	waitFor(t, "the first documents to be delivered", 30*time.Second, func() bool { return pending() == 0 })
	token := onboarded.Credentials.Token
	if got := len(sim.Accepted(token)); got != first {
		t.Fatalf("simulator accepted %d documents, want %d", got, first)
	}
	if breaks := sim.ChainBreaks(token); len(breaks) != 0 {
		t.Fatalf("chain breaks: %v", breaks)
	}
	recs, _, err := a.Store().Documents(0, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	cleared := 0
	for _, r := range recs {
		if r.Status != queue.StatusAccepted && r.Status != queue.StatusAcceptedWithWarnings {
			t.Errorf("document %d is %s: %v", r.Counter, r.Status, r.Messages)
		}
		var ans struct {
			ClearedInvoice string `json:"clearedInvoice"`
		}
		if json.Unmarshal(r.Answer, &ans) == nil && ans.ClearedInvoice != "" {
			cleared++
		}
	}
	if cleared != first/2 {
		t.Errorf("%d documents carry ZATCA's cleared invoice, want the %d standard ones", cleared, first/2)
	}

	// Outage: issuing goes on, an incident opens, and all drains afterwards.
	sim.SetDown(true)
	for i := first; i < first+20; i++ {
		issue(i)
	}
	waitFor(t, "an outage incident", 30*time.Second, func() bool {
		st, _ := a.Status()
		for _, inc := range st.Incidents {
			if inc.Kind == "outage" {
				return true
			}
		}
		return false
	})
	sim.SetDown(false)
	waitFor(t, "the backlog to drain", 60*time.Second, func() bool { return pending() == 0 })
	waitFor(t, "the outage incident to close", 30*time.Second, func() bool {
		incs, _ := a.Store().Incidents(false, 10)
		return len(incs) == 1 && !incs[0].Open()
	})
	incs, _ := a.Store().Incidents(false, 10)
	if !strings.Contains(incs[0].Summary, "20 documents delivered after the outage") {
		t.Errorf("outage summary: %q", incs[0].Summary)
	}
	if got := len(sim.Accepted(token)); got != first+20 {
		t.Errorf("simulator accepted %d documents, want %d (none twice)", got, first+20)
	}
	if breaks := sim.ChainBreaks(token); len(breaks) != 0 {
		t.Errorf("chain breaks after the outage: %v", breaks)
	}
}

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/agent"
	zatcasim "github.com/egsd/egsd/sim/zatca"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/csr"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/zatca"
)

// zatcaUnit is an in-process agent on the zatca regime, onboarded against
// an in-process simulator, with submission on and short backoffs.
type zatcaUnit struct {
	t     testing.TB
	sim   *zatcasim.Server
	a     *agent.Agent
	token string // the unit's production CSID
	url   string // where the unit's API listens (http://127.0.0.1:port)
	// dropAfterAccept makes the proxy in front of the simulator let it
	// process the next reporting or clearance requests, then drop the
	// connection: accepted, but the unit never hears so.
	dropAfterAccept atomic.Int32
	// stopServing stops the agent's API and background workers (it may
	// be called twice); the agent closes at the test's end.
	stopServing func()
}

func newZATCAUnit(t testing.TB, mod func(*agent.Config)) *zatcaUnit {
	t.Helper()
	u := &zatcaUnit{t: t, sim: zatcasim.New(zatcasim.Config{})}
	srv := httptest.NewServer(http.HandlerFunc(u.proxy))
	t.Cleanup(func() { u.sim.Close(); srv.Close() })
	base := srv.URL + "/e-invoicing/developer-portal"
	data := t.TempDir()
	u.token = onboardUnit(t, base, data)

	cfg := agent.DefaultConfig()
	cfg.DataDir = data
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Regime.Name = "zatca"
	cfg.Regime.Options = map[string]any{"base_url": base, "invoice_prefix": "EGS1-"}
	cfg.Seller = zatcaSeller()
	cfg.Auth.BcryptCost = 4
	cfg.Submit.Enabled = true
	cfg.Submit.OutageAfter = agent.Duration{Duration: time.Second}
	cfg.Submit.MaxBackoff = agent.Duration{Duration: time.Second}
	if mod != nil {
		mod(&cfg)
	}
	var err error
	u.a, err = agent.New(cfg, agent.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	ready := make(chan string, 1)
	go func() { served <- u.a.Serve(ctx, func(url string) { ready <- url }) }()
	var stop sync.Once
	u.stopServing = func() {
		stop.Do(func() {
			cancel()
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		u.stopServing()
		u.a.Close()
	})
	select {
	case u.url = <-ready:
	case err := <-served:
		served <- err // for stopServing
		t.Fatalf("Serve: %v", err)
	}
	return u
}

// onboardUnit creates a stamping key in data and onboards it against the
// ZATCA API at base (the simulator), installing the certificate and CSID
// where the regime loads them; it returns the production CSID's token.
func onboardUnit(t testing.TB, base, data string) string {
	t.Helper()
	key, err := keystore.Create(filepath.Join(data, "zatca", "stamping-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	sc := zatcaSeller()
	seller := stamping.Seller{Name: sc.Name, VATNumber: sc.VATNumber, IDScheme: sc.IDScheme, ID: sc.ID,
		Address: sale.Address{Street: sc.Street, BuildingNumber: sc.BuildingNumber, District: sc.District, City: sc.City, PostalCode: sc.PostalCode, Country: sc.Country}}
	onboarded, err := zatca.Onboard(context.Background(), &zatca.Client{BaseURL: base}, key, zatca.OnboardRequest{
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
	return onboarded.Credentials.Token
}

func (u *zatcaUnit) proxy(w http.ResponseWriter, r *http.Request) {
	invoice := strings.HasSuffix(r.URL.Path, "/invoices/reporting/single") || strings.HasSuffix(r.URL.Path, "/invoices/clearance/single")
	if invoice && u.dropAfterAccept.Add(-1) >= 0 {
		u.sim.ServeHTTP(httptest.NewRecorder(), r) // processed and recorded
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	u.sim.ServeHTTP(w, r)
}

const standardBuyerJSON = `"buyer":{"name":"Fatoora Samples LTD","vat_number":"399999999800003","address":{"street":"Salah Al-Din","building_number":"1111","district":"Al-Murooj","city":"Riyadh","postal_code":"12222","country":"SA"}},`

// saleJSON is sale i of a mix: simplified and standard invoices, a
// simplified credit note for one item of the simplified invoice before it
// (sale i-2: counter i-1 on a unit that issued sales 0, 1, … in order) and
// a standard debit note for the first standard invoice.
func saleJSON(i int) string {
	line := fmt.Sprintf(`"lines":[{"name":"Tea","quantity":"%d","unit_price":"4.35","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]`, i%7+1)
	switch i % 4 {
	case 0:
		return `{"kind":"invoice",` + line + `}`
	case 1:
		return `{"kind":"invoice",` + standardBuyerJSON + line + `}`
	case 2:
		return fmt.Sprintf(`{"kind":"credit_note","original":"EGS1-%d","reason":"Returned",`+
			`"lines":[{"name":"Tea","quantity":"1","unit_price":"4.35","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]}`, i-1)
	default:
		return `{"kind":"debit_note","original":"EGS1-2","reason":"Price corrected",` + standardBuyerJSON + line + `}`
	}
}

// issue issues sales [from, to) of the mix.
func (u *zatcaUnit) issue(from, to int) {
	u.t.Helper()
	for i := from; i < to; i++ {
		if _, _, err := u.a.Issue(context.Background(), "cashier", fmt.Sprint("key-", i), []byte(saleJSON(i))); err != nil {
			u.t.Fatalf("sale %d: %v", i, err)
		}
	}
}

func (u *zatcaUnit) pending() int {
	u.t.Helper()
	st, err := u.a.Status()
	if err != nil {
		u.t.Fatal(err)
	}
	return st.Outbox.Pending
}

func (u *zatcaUnit) drained(deadline time.Duration) {
	u.t.Helper()
	waitFor(u.t, "the outbox to drain", deadline, func() bool { return u.pending() == 0 })
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/egsd/egsd/cmd/egsd/internal/cmdtest"
	"github.com/egsd/egsd/queue"
	zatcasim "github.com/egsd/egsd/sim/zatca"
	"github.com/egsd/egsd/stamping/zatca"
)

// TestSIGKILLDuringReplay runs the real daemon against the simulator:
// documents issued while the simulator is down wait in the outbox; after
// it returns the manager replays, and the daemon is killed with SIGKILL
// several times while it drains. Every document is delivered exactly once
// (a retry of a document whose answer was lost gets 409, which counts as
// success), nothing is lost, and the chain stays whole.
func TestSIGKILLDuringReplay(t *testing.T) {
	sim := zatcasim.New(zatcasim.Config{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	defer sim.Close()
	base := srv.URL + "/e-invoicing/developer-portal"
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	token := onboardUnit(t, base, data)

	addr := cmdtest.FreeAddr(t)
	sc := zatcaSeller()
	cfg := filepath.Join(tmp, "egsd.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir = %s
[api]
listen = %s
[regime]
name = "zatca"
[regime.options]
base_url = %s
invoice_prefix = "EGS1-"
[seller]
name = %q
vat_number = %q
id_scheme = %q
id = %q
street = %q
building_number = %q
district = %q
city = %q
postal_code = %q
country = %q
[auth]
bcrypt_cost = 4
[submission]
enabled = true
concurrency = 8
outage_after = "1h"
max_backoff = "1s"
`, strconv.Quote(data), strconv.Quote(addr), strconv.Quote(base), sc.Name, sc.VATNumber, sc.IDScheme, sc.ID, sc.Street,
		sc.BuildingNumber, sc.District, sc.City, sc.PostalCode, sc.Country)), 0o600)
	env := cliEnv(tmp)
	for _, u := range [][2]string{{"ana", "cashier"}, {"boss", "manager"}} {
		if res := runEgsd(t, env, "users", "add", "--config", cfg, "--name", u[0], "--role", u[1], "--password", u[0]+"-password-1"); res.Code != 0 {
			t.Fatalf("users add: %s", res)
		}
	}
	d := startDaemon(t, data, addr, "run", "--config", cfg)
	cashier, manager := newAPIClient(d.url), newAPIClient(d.url)
	cashier.login(t, "ana", "ana-password-1")
	manager.login(t, "boss", "boss-password-1")

	sim.SetDown(true)
	const n = 300
	for i := range n {
		ans, err := cashier.postSale(context.Background(), fmt.Sprint("sale-", i), []byte(saleJSON(i)))
		if err != nil || ans.Status != http.StatusCreated {
			t.Fatalf("sale %d: %d %s %v", i, ans.Status, ans.Body, err)
		}
	}
	if err := sim.SetFaults(zatcasim.Faults{Latency: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	sim.SetDown(false)
	if ans, err := manager.do(context.Background(), http.MethodPost, "/v1/replay", nil, nil); err != nil || ans.Status != http.StatusAccepted {
		t.Fatalf("POST /v1/replay = %d %s, %v", ans.Status, ans.Body, err)
	}
	pending := func() int {
		ans, err := manager.do(context.Background(), http.MethodGet, "/v1/status", nil, nil)
		if err != nil {
			return -1
		}
		var st struct{ Outbox struct{ Pending int } }
		json.Unmarshal(ans.Body, &st)
		return st.Outbox.Pending
	}
	rng := rand.New(rand.NewPCG(7, 7))
	kills := 0
	for kills < 6 {
		time.Sleep(time.Duration(50+rng.IntN(250)) * time.Millisecond)
		if p := pending(); p == 0 {
			break
		}
		d.kill()
		kills++
		d = startDaemon(t, data, addr, "run", "--config", cfg) // resumes on its own
	}
	waitFor(t, "the outbox to drain after the kills", 90*time.Second, func() bool { return pending() == 0 })
	d.stop()
	t.Logf("%d kills during the replay; simulator %+v", kills, sim.Stats())
	if kills == 0 {
		t.Fatal("the replay finished before the first kill: the test proved nothing")
	}

	if got := len(sim.Accepted(token)); got != n {
		t.Errorf("simulator accepted %d documents, want each of the %d exactly once", got, n)
	}
	if breaks := sim.ChainBreaks(token); len(breaks) != 0 {
		t.Errorf("chain breaks: %v", breaks)
	}
	s := openStore(t, data)
	defer s.Close()
	rep, err := s.Check(queue.CheckOptions{Rehash: func(_ string, doc []byte) (string, error) {
		_, h, err := zatca.InvoiceHash(doc)
		return h, err
	}})
	if err != nil || rep.Documents != n || rep.Pending != 0 {
		t.Fatalf("store after the replay: %+v, %v", rep, err)
	}
	for _, r := range journal(t, s) {
		if r.Status != queue.StatusAccepted && r.Status != queue.StatusAcceptedWithWarnings {
			t.Errorf("document %d: %s %v", r.Counter, r.Status, r.Messages)
		}
	}
}

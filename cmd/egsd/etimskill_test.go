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
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/cmd/egsd/internal/cmdtest"
	"github.com/egsd/egsd/queue"
	etimssim "github.com/egsd/egsd/sim/etims"
	"github.com/egsd/egsd/sim/simnet"
	"github.com/egsd/egsd/stamping/etims"
)

// TestETIMSSIGKILLDuringReplay runs the real daemon on the etims regime
// against the simulator in this process (so that KRA outlives the
// daemon). The technician initialises the unit with `egsd onboard`; 300
// sales are issued while KRA is down; the manager replays and the daemon
// is killed with SIGKILL several times while it drains. KRA has every
// sale exactly once under invcNo 1…300, and the journal agrees; the
// communication key appears in nothing the daemon, its API or the CLI
// said.
func TestETIMSSIGKILLDuringReplay(t *testing.T) {
	sim := etimssim.New(etimssim.Config{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	defer sim.Close()
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	addr := cmdtest.FreeAddr(t)
	cfg := filepath.Join(tmp, "egsd.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir = %s
[api]
listen = %s
[regime]
name = "etims"
currency = "KES"
[regime.options]
base_url = %s
timeout = "1s"
[seller]
name = "Duka Ltd"
vat_number = %q
street = "Moi Avenue"
city = "Nairobi"
country = "KE"
[device]
serial = "EGSD-KE-0001"
[auth]
bcrypt_cost = 4
[submission]
enabled = true
outage_after = "1h"
max_backoff = "1s"
[log]
level = "debug"
format = "json"
`, strconv.Quote(data), strconv.Quote(addr), strconv.Quote(srv.URL+"/etims-api"), kePIN)), 0o600)
	env := cliEnv(tmp)
	for _, u := range [][2]string{{"ana", "cashier"}, {"boss", "manager"}, {"tech", "technician"}} {
		if res := runEgsd(t, env, "users", "add", "--config", cfg, "--name", u[0], "--role", u[1], "--password", u[0]+"-password-1"); res.Code != 0 {
			t.Fatalf("users add: %s", res)
		}
	}
	d := startDaemon(t, data, addr, "run", "--config", cfg)
	var said []string
	if res := runEgsd(t, env, "login", "--api", d.url, "--user", "tech", "--password", "tech-password-1"); res.Code != 0 {
		t.Fatalf("login: %s", res)
	}
	onboard := runEgsd(t, env, "onboard")
	if onboard.Code != 0 || !strings.Contains(onboard.Stdout, "onboarding done") {
		t.Fatalf("egsd onboard: %s", onboard)
	}
	said = append(said, onboard.String(), runEgsd(t, env, "onboard", "--status").String())
	key := cmcKey(t, data)
	if fi, err := os.Stat(etims.DeviceFile(data)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("device record %v %v, want mode 0600", fi, err)
	}

	cashier, manager := newAPIClient(d.url), newAPIClient(d.url)
	cashier.login(t, "ana", "ana-password-1")
	manager.login(t, "boss", "boss-password-1")
	sim.SetDown(true)
	const n = 300
	for i := range n {
		ans, err := cashier.postSale(context.Background(), fmt.Sprint("sale-", i), []byte(keSale(i)))
		if err != nil || ans.Status != http.StatusCreated {
			t.Fatalf("sale %d: %d %s %v", i, ans.Status, ans.Body, err)
		}
		if i < 3 {
			said = append(said, string(ans.Body))
		}
	}
	if err := sim.SetFaults(etimssim.Faults{Knobs: simnet.Knobs{Latency: 10 * time.Millisecond}}); err != nil {
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
	rng := rand.New(rand.NewPCG(11, 11))
	kills := 0
	var logs []string
	for kills < 6 {
		time.Sleep(time.Duration(50+rng.IntN(250)) * time.Millisecond)
		if p := pending(); p == 0 {
			break
		}
		d.kill()
		logs = append(logs, d.log.String())
		kills++
		d = startDaemon(t, data, addr, "run", "--config", cfg)
	}
	waitFor(t, "the outbox to drain after the kills", 2*time.Minute, func() bool { return pending() == 0 })
	for _, path := range []string{"/v1/status", "/v1/config", "/v1/documents?include=document", "/v1/audit?limit=1000", "/v1/incidents", "/v1/onboarding"} {
		ans, err := manager.do(context.Background(), http.MethodGet, path, nil, nil)
		if err != nil || ans.Status != http.StatusOK {
			t.Fatalf("GET %s = %d, %v", path, ans.Status, err)
		}
		said = append(said, string(ans.Body))
	}
	d.stop()
	t.Logf("%d kills during the replay; simulator %+v", kills, sim.Stats())
	if kills == 0 {
		t.Fatal("the replay finished before the first kill: the test proved nothing")
	}
	s := openStore(t, data)
	defer s.Close()
	recs := checkKRA(t, sim, s)
	if len(recs) != n {
		t.Errorf("%d documents in the journal, want %d", len(recs), n)
	}
	for _, r := range recs {
		if r.Status != queue.StatusAccepted {
			t.Errorf("document %d: %s %v", r.Counter, r.Status, r.Messages)
		}
	}
	if st := sim.Stats(); st.Sales != n {
		t.Errorf("KRA accepted %d sales, want %d", st.Sales, n)
	}
	rep, err := s.Check(queue.CheckOptions{})
	if err != nil || rep.Documents != n || rep.Pending != 0 {
		t.Errorf("store check: %+v, %v", rep, err)
	}

	said = append(said, logs...)
	said = append(said, d.log.String())
	all := strings.Join(said, "\n")
	if !strings.Contains(all, kePIN) || !strings.Contains(all, sim.Sales(etims.OSCU, kePIN, "00")[0].RcptSign) || len(all) < 10000 {
		t.Fatalf("collected only %d bytes of output; the test would prove nothing", len(all))
	}
	if strings.Contains(all, key) {
		t.Error("the communication key cmcKey appears in what the daemon, its API or the CLI said")
	}
}

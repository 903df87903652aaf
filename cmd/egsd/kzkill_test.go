package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/cmd/egsd/internal/cmdtest"
	"github.com/egsd/egsd/queue"
	ofdsim "github.com/egsd/egsd/sim/ofd"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/kz"
	"github.com/egsd/egsd/stamping/kz/archive"
)

// TestKZSIGKILLBeforeTokenStored runs the real daemon on the kz regime
// against the OFD simulator in this process. For each of three sales the
// OFD registers the ticket, rotates the TOKEN and holds its answer; the
// daemon is killed with SIGKILL meanwhile, so the answer and the new
// TOKEN are never stored. After a restart the daemon resends the very
// same frame (same REQNUM, TOKEN and command); the OFD recognises the
// retry and answers it from its store. Every ticket is at the OFD once,
// the journal has each with the OFD's fiscal sign, and the session ends
// with the OFD's last TOKEN, and each ticket one signed record with its
// fiscal sign.
func TestKZSIGKILLBeforeTokenStored(t *testing.T) {
	sim := &ofdsim.Server{Config: ofdsim.Config{ID: kzKKMID, Token: kzToken, KeepFrames: true}}
	ofdAddr, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	addr := cmdtest.FreeAddr(t)
	cfg := filepath.Join(tmp, "egsd.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir = %s
[api]
listen = %s
[regime]
name = "kz"
currency = "KZT"
[regime.options]
ofd_address = %s
kkm_id = %d
token = %d
rnm = %q
znm = "EGSD-KZ-0001"
ofd_name = "OFD"
ofd_website = "oofd.kz"
read_timeout = "10s"
[seller]
name = "Demo LLP"
vat_number = %q
street = "Abay Ave"
city = "Almaty"
country = "KZ"
[device]
serial = "EGSD-KZ-0001"
[auth]
bcrypt_cost = 4
[submission]
enabled = true
outage_after = "1h"
max_backoff = "1s"
[log]
level = "debug"
format = "json"
`, strconv.Quote(data), strconv.Quote(addr), strconv.Quote(ofdAddr), kzKKMID, kzToken, kzRNM, kzBIN)), 0o600)
	env := cliEnv(tmp)
	if res := runEgsd(t, env, "users", "add", "--config", cfg, "--name", "ana", "--role", "cashier", "--password", "ana-password-1"); res.Code != 0 {
		t.Fatalf("users add: %s", res)
	}
	const n = 3
	for i := range n {
		sim.SetFaults(ofdsim.Faults{AnswerDelay: 3 * time.Second})
		d := startDaemon(t, data, addr, "run", "--config", cfg)
		cashier := newAPIClient(d.url)
		cashier.login(t, "ana", "ana-password-1")
		if ans, err := cashier.postSale(context.Background(), fmt.Sprint("sale-", i), []byte(kzSale(i))); err != nil || ans.Status != http.StatusCreated {
			t.Fatalf("sale %d: %d %s %v", i, ans.Status, ans.Body, err)
		}
		waitFor(t, "the OFD to register the ticket", 30*time.Second, func() bool { return sim.Stats().Tickets == i+1 })
		d.kill() // the answer and its TOKEN are still at the OFD
		// A request built anew would carry another time in its service
		// block than the one the OFD answered.
		time.Sleep(1100 * time.Millisecond)
		sim.SetFaults(ofdsim.Faults{})
		d = startDaemon(t, data, addr, "run", "--config", cfg)
		cashier = newAPIClient(d.url)
		cashier.login(t, "ana", "ana-password-1")
		waitFor(t, "the retry to be answered", 30*time.Second, func() bool {
			ans, err := cashier.do(context.Background(), http.MethodGet, "/v1/status", nil, nil)
			return err == nil && ans.Status == http.StatusOK && outboxPending(ans.Body) == 0
		})
		d.stop()
	}
	st := sim.Stats()
	if st.Tickets != n || st.Replays != n {
		t.Errorf("the OFD registered %d tickets and answered %d retries, want %d and %d", st.Tickets, st.Replays, n, n)
	}
	// Each retry is the first frame again, byte for byte.
	frames := sim.Frames()
	if len(frames) != 2*n {
		t.Fatalf("the OFD read %d frames, want %d", len(frames), 2*n)
	}
	for i := 0; i < len(frames); i += 2 {
		if string(frames[i]) != string(frames[i+1]) {
			t.Errorf("retry %d differs from the frame the OFD answered", i/2)
		}
	}
	s := openStore(t, data)
	defer s.Close()
	reg := sim.Tickets(kzKKMID)
	recs := journal(t, s)
	if len(recs) != n || len(reg) != n {
		t.Fatalf("%d documents, %d at the OFD", len(recs), len(reg))
	}
	key, err := keystore.Load(archive.KeyPath(data))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if r.Status != queue.StatusAccepted || answerOf(t, r).FiscalSign != reg[i].FiscalSign {
			t.Errorf("document %d: %s, fiscal sign %q; the OFD's %q", r.Counter, r.Status, answerOf(t, r).FiscalSign, reg[i].FiscalSign)
		}
		// One signed record, sealed with the answer that was stored: none
		// was left by the answer the kill lost.
		sealed, err := s.Archive(r.Counter)
		if err != nil || len(sealed) != 1 {
			t.Fatalf("document %d has %d signed records (%v), want 1", r.Counter, len(sealed), err)
		}
		v, err := archive.Verify(sealed[0].XML, key.PublicKeyDER())
		if err != nil || v.Sign.OFD != reg[i].FiscalSign || v.Matches(r.Counter, r.UUID, r.Document) != nil {
			t.Errorf("document %d's record: %+v, %v", r.Counter, v, err)
		}
	}
	b, err := s.RegimeState(agent.SessionStateKey)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := kz.UnmarshalSession(b)
	if err != nil || sess.Pending != nil || sess.ReqNum != n {
		t.Fatalf("stored session %+v, %v", sess, err)
	}
	// The token stored is the one the OFD issued last: a new request is
	// accepted with it.
	last, _, err := kz.SplitFrame(frames[len(frames)-1])
	if err != nil {
		t.Fatal(err)
	}
	if sess.Token == last.Token {
		t.Errorf("the session kept the TOKEN of the last request, %d, not the OFD's new one", last.Token)
	}
	c := &kz.Client{Addr: ofdAddr}
	p, err := sess.Begin(&kz.Request{Command: kz.CommandSystem})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := c.Send(context.Background(), p)
	if err != nil || reply.Response.Result.Code != kz.ResultOK {
		t.Errorf("a request with the stored session: %+v, %v", reply, err)
	}
	u := &kzUnit{t: t, sim: sim}
	u.checkFrames(0)
}

// outboxPending reads outbox.pending from a GET /v1/status answer; -1 if
// it cannot.
func outboxPending(status []byte) int {
	var st struct{ Outbox struct{ Pending *int } }
	if err := json.Unmarshal(status, &st); err != nil || st.Outbox.Pending == nil {
		return -1
	}
	return *st.Outbox.Pending
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
	ofdsim "github.com/egsd/egsd/sim/ofd"
	"github.com/egsd/egsd/stamping/kz"
	"github.com/egsd/egsd/stamping/kz/kzspec"
)

// The Kazakh unit of the tests: its KKM at the OFD, its seller's BIN, and
// a buyer's.
const (
	kzKKMID    = 203539
	kzToken    = 2376246852
	kzRNM      = "620300000011"
	kzBIN      = "940140000385"
	kzBuyerBIN = "990740002223"
)

// kzItems are the lines Kazakh test sales take from, 16 % and exempt.
var kzItems = []string{
	`{"name":"Хлеб пшеничный","quantity":"%s","unit_price":"250.00","vat_category":"S","vat_rate":"16","item_code":"02000000000012345","quantity_unit":"796"}`,
	`{"name":"Сыр «Қазақ»","quantity":"%s","unit_price":"3999.99","vat_category":"S","vat_rate":"16","item_code":"02000000000054321","quantity_unit":"166"}`,
	`{"name":"Газета","quantity":"%s","unit_price":"150.00","vat_category":"E","exemption_reason":"periodicals","item_code":"02000000000099999","quantity_unit":"796"}`,
}

// kzSale is sale i: two or three lines, paid in cash or by card, every
// fourth to a buyer with a BIN.
func kzSale(i int) string {
	var lines []string
	for k := range 2 + i%2 {
		lines = append(lines, fmt.Sprintf(kzItems[(i+k)%len(kzItems)], fmt.Sprint(2+(i+k)%3)))
	}
	pay := `{"means":"cash"}`
	if i%3 == 1 {
		pay = `{"means":"card"}`
	}
	return `{"kind":"invoice",` + kzBuyer(i) + `"lines":[` + strings.Join(lines, ",") + `],"payments":[` + pay + `]}`
}

// kzBuyer is the buyer of sale i: every fourth has a BIN.
func kzBuyer(i int) string {
	if i%4 != 0 {
		return ""
	}
	return `"buyer":{"name":"ТОО «Покупатель»","vat_number":"` + kzBuyerBIN + `"},`
}

// kzReturn returns one unit of the first line of sale i, issued as
// original.
func kzReturn(i int, original string) string {
	return `{"kind":"credit_note","original":"` + original + `","reason":"Возврат товара",` + kzBuyer(i) +
		`"lines":[` + fmt.Sprintf(kzItems[i%len(kzItems)], "1") + `],"payments":[{"means":"cash"}]}`
}

// kzConfig is a Kazakh unit's configuration against the OFD at addr.
func kzConfig(data, addr string) agent.Config {
	cfg := agent.DefaultConfig()
	cfg.DataDir = data
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Regime.Name = "kz"
	cfg.Regime.Currency = "KZT"
	cfg.Regime.Options = map[string]any{"ofd_address": addr, "kkm_id": kzKKMID, "token": kzToken, "rnm": kzRNM, "znm": "EGSD-KZ-0001",
		"ofd_name": "АО «Казахтелеком» (ОФД)", "ofd_website": "oofd.kz", "consumer_host": "http://consumer.test-oofd.kz",
		"dial_timeout": "1s", "read_timeout": "2s", "write_timeout": "1s"}
	cfg.Seller = agent.SellerConfig{Name: "ТОО «Демо»", VATNumber: kzBIN, Street: "пр. Абая", BuildingNumber: "10", City: "Алматы", Country: "KZ"}
	cfg.Device = agent.DeviceConfig{Serial: "EGSD-KZ-0001", Model: "egsd"}
	cfg.Auth.BcryptCost = 4
	cfg.Submit.Enabled = true
	cfg.Submit.OutageAfter = agent.Duration{Duration: 1e9}
	cfg.Submit.MaxBackoff = agent.Duration{Duration: 1e9}
	return cfg
}

// kzUnit is an in-process Kazakh agent against an in-process OFD
// simulator on loopback that keeps every frame it reads.
type kzUnit struct {
	t       testing.TB
	sim     *ofdsim.Server
	addr    string
	data    string
	a       *agent.Agent
	url     string
	cashier *apiClient
	manager *apiClient
	log     *lockedBuffer
	stop    func()
	mod     func(*agent.Config)
	opts    agent.Options
}

func newKZUnit(t testing.TB, sim *ofdsim.Server, mod func(*agent.Config), opts agent.Options) *kzUnit {
	t.Helper()
	if sim == nil {
		sim = &ofdsim.Server{}
	}
	sim.Config.ID, sim.Config.Token, sim.KeepFrames = kzKKMID, kzToken, true
	addr, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	u := &kzUnit{t: t, sim: sim, addr: addr, data: t.TempDir(), log: &lockedBuffer{}, mod: mod, opts: opts}
	u.start(true)
	return u
}

// start starts the agent on the unit's data directory (with its users the
// first time) and logs the cashier and the manager in.
func (u *kzUnit) start(first bool) {
	t := u.t
	t.Helper()
	cfg := kzConfig(u.data, u.addr)
	if u.mod != nil {
		u.mod(&cfg)
	}
	opts := u.opts
	opts.Logger = zerolog.New(u.log).Level(zerolog.DebugLevel)
	var err error
	if u.a, err = agent.New(cfg, opts); err != nil {
		t.Fatal(err)
	}
	for _, usr := range [][3]string{{"ana", "cashier"}, {"boss", "manager"}} {
		if _, err := u.a.Auth().AddUser(queue.SystemActor, usr[0], usr[1], usr[0]+"-password-1"); first && err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	served, ready := make(chan error, 1), make(chan string, 1)
	go func() { served <- u.a.Serve(ctx, func(url string) { ready <- url }) }()
	select {
	case u.url = <-ready:
	case err := <-served:
		t.Fatalf("serve: %v", err)
	}
	stopped := false
	u.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-served
		u.a.Close()
	}
	t.Cleanup(u.stop)
	u.cashier, u.manager = newAPIClient(u.url), newAPIClient(u.url)
	u.cashier.login(t, "ana", "ana-password-1")
	u.manager.login(t, "boss", "boss-password-1")
}

// restart stops the agent and starts it again on the same data.
func (u *kzUnit) restart() {
	u.t.Helper()
	u.stop()
	u.start(false)
}

// issue issues body through the API and returns the document's counter
// and number.
func (u *kzUnit) issue(key, body string) (uint64, string) {
	u.t.Helper()
	ans, err := u.cashier.postSale(context.Background(), key, []byte(body))
	if err != nil || ans.Status != http.StatusCreated {
		u.t.Fatalf("sale %s = %d %s, %v\n%s", key, ans.Status, ans.Body, err, body)
	}
	var doc struct {
		Counter uint64 `json:"counter"`
		Number  string `json:"number"`
	}
	if err := json.Unmarshal(ans.Body, &doc); err != nil {
		u.t.Fatal(err)
	}
	return doc.Counter, doc.Number
}

func (u *kzUnit) pending() int {
	st, err := u.a.Store().OutboxStats()
	if err != nil {
		u.t.Fatal(err)
	}
	return st.Pending
}

func (u *kzUnit) replay() {
	u.t.Helper()
	if ans, err := u.manager.do(context.Background(), http.MethodPost, "/v1/replay", nil, nil); err != nil || ans.Status != http.StatusAccepted {
		u.t.Fatalf("POST /v1/replay = %d %s, %v", ans.Status, ans.Body, err)
	}
}

// closeShift closes the shift through the API.
func (u *kzUnit) closeShift() agent.ShiftCloseResult {
	u.t.Helper()
	ans, err := u.manager.do(context.Background(), http.MethodPost, "/v1/shift/close", nil, nil)
	if err != nil || ans.Status != http.StatusCreated {
		u.t.Fatalf("POST /v1/shift/close = %d %s, %v", ans.Status, ans.Body, err)
	}
	var res agent.ShiftCloseResult
	if err := json.Unmarshal(ans.Body, &res); err != nil {
		u.t.Fatal(err)
	}
	return res
}

// checkFrames runs every frame the OFD read through protoc --decode_raw
// and the spec's field tables (kzspec); limit 0 checks them all.
func (u *kzUnit) checkFrames(limit int) {
	u.t.Helper()
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		u.t.Log("protoc is not installed (apt-get install protobuf-compiler): the frames sent are not cross-checked here; CI installs it")
		return
	}
	frames := u.sim.Frames()
	if len(frames) == 0 {
		u.t.Fatal("the OFD read no frame")
	}
	for i, f := range frames {
		if limit > 0 && i >= limit {
			break
		}
		kzspec.CheckFrame(u.t, protoc, f, "Request")
	}
}

// answerOf is a document's stored OFD answer.
func answerOf(t testing.TB, r *queue.Record) kz.StoredAnswer {
	t.Helper()
	a, err := kz.DecodeStoredAnswer(r.Answer)
	if err != nil {
		t.Fatalf("document %d: %v", r.Counter, err)
	}
	return a
}

// ticketOf is a stored document's TICKET.
func ticketOf(t testing.TB, r *queue.Record) *kz.TicketRequest {
	t.Helper()
	req, err := kz.UnmarshalRequest(r.Document)
	if err != nil || req.Ticket == nil {
		t.Fatalf("document %d is not a ticket: %v", r.Counter, err)
	}
	return req.Ticket
}

// relogin logs the cashier and the manager in again (after the clock
// passed their sessions' end).
func (u *kzUnit) relogin() {
	u.t.Helper()
	u.cashier.login(u.t, "ana", "ana-password-1")
	u.manager.login(u.t, "boss", "boss-password-1")
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/device/fakeprinter"
	"github.com/egsd/egsd/queue"
	etimssim "github.com/egsd/egsd/sim/etims"
	"github.com/egsd/egsd/stamping/etims"
)

// The Kenyan unit of the tests: its seller's KRA PIN, a buyer's, and the
// items its sales sell, one per band but D (their quantity is %s).
const (
	kePIN      = "P051234567A"
	keBuyerPIN = "A000123456F"
)

var keItems = []string{
	`{"name":"Maize flour 2 kg","quantity":"%s","unit_price":"150.00","vat_category":"S","vat_rate":"16","item_class":"5010150100","packaging_unit":"NT","quantity_unit":"KG","item_code":"KE2NTKG0000011"}`,
	`{"name":"Diesel 1 l","quantity":"%s","unit_price":"180.50","vat_category":"S","vat_rate":"8","item_class":"1510150500","packaging_unit":"NT","quantity_unit":"L","item_code":"KE1NTL0000012"}`,
	`{"name":"Milk 500 ml","quantity":"%s","unit_price":"65.00","vat_category":"Z","item_class":"5013170100","packaging_unit":"BT","quantity_unit":"U","item_code":"KE2BTU0000013"}`,
	`{"name":"Maize seed 2 kg","quantity":"%s","unit_price":"500.00","vat_category":"E","item_class":"1010150100","packaging_unit":"BG","quantity_unit":"KG","item_code":"KE1BGKG0000014"}`,
}

// keBuyer is the buyer of sale i: every third sale is to a buyer with a
// KRA PIN.
func keBuyer(i int) string {
	if i%3 != 0 {
		return ""
	}
	return `"buyer":{"name":"Mfano Technologies Ltd.","vat_number":"` + keBuyerPIN + `"},`
}

// keSale is sale i: two or three of the items, each quantity 2 or more
// so that a credit note can take one back.
func keSale(i int) string {
	var lines []string
	for k := range 2 + i%2 {
		lines = append(lines, fmt.Sprintf(keItems[(i+k)%len(keItems)], fmt.Sprint(2+(i+k)%3)))
	}
	return `{"kind":"invoice",` + keBuyer(i) + `"lines":[` + strings.Join(lines, ",") + `],"payments":[{"means":"cash"}]}`
}

// keCreditNote returns one unit of the first line of sale i, issued as
// original.
func keCreditNote(i int, original string) string {
	return `{"kind":"credit_note","original":"` + original + `","reason":"Goods returned","reason_code":"01",` + keBuyer(i) +
		`"lines":[` + fmt.Sprintf(keItems[i%len(keItems)], "1") + `],"payments":[{"means":"cash"}]}`
}

// etimsConfig is a Kenyan unit's configuration against the simulator at
// base (its OSCU prefix included).
func etimsConfig(data, base string) agent.Config {
	cfg := agent.DefaultConfig()
	cfg.DataDir = data
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Regime.Name = "etims"
	cfg.Regime.Currency = "KES"
	cfg.Regime.Options = map[string]any{"base_url": base, "timeout": "1s"}
	cfg.Seller = agent.SellerConfig{Name: "Duka Ltd", VATNumber: kePIN, Street: "Moi Avenue", BuildingNumber: "12", City: "Nairobi", Country: "KE"}
	cfg.Device = agent.DeviceConfig{Serial: "EGSD-KE-0001", Model: "egsd"}
	cfg.Auth.BcryptCost = 4
	cfg.Submit.Enabled = true
	cfg.Submit.OutageAfter = agent.Duration{Duration: time.Second}
	cfg.Submit.MaxBackoff = agent.Duration{Duration: time.Second}
	return cfg
}

// etimsUnit is an in-process Kenyan agent, initialised with KRA through
// its onboarding API against an in-process simulator, its items
// registered.
type etimsUnit struct {
	t       testing.TB
	sim     *etimssim.Server
	base    string
	data    string
	a       *agent.Agent
	url     string
	cashier *apiClient
	manager *apiClient
	log     *lockedBuffer
	stop    func()
}

// lockedBuffer is a log sink the agent writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newETIMSUnit(t testing.TB, mod func(*agent.Config)) *etimsUnit {
	return newETIMSUnitWith(t, mod, agent.Options{})
}

// newETIMSUnitWith is newETIMSUnit with the agent's options (its clock);
// the logger is the unit's.
func newETIMSUnitWith(t testing.TB, mod func(*agent.Config), opts agent.Options) *etimsUnit {
	t.Helper()
	u := &etimsUnit{t: t, sim: etimssim.New(etimssim.Config{}), data: t.TempDir(), log: &lockedBuffer{}}
	srv := httptest.NewServer(u.sim)
	t.Cleanup(func() { u.sim.Close(); srv.Close() })
	u.base = srv.URL + "/etims-api"
	cfg := etimsConfig(u.data, u.base)
	if mod != nil {
		mod(&cfg)
	}
	var err error
	opts.Logger = zerolog.New(u.log).Level(zerolog.DebugLevel)
	u.a, err = agent.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, usr := range [][3]string{{"ana", "cashier"}, {"boss", "manager"}, {"tech", "technician"}} {
		if _, err := u.a.Auth().AddUser(queue.SystemActor, usr[0], usr[1], usr[0]+"-password-1"); err != nil {
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
	tech := newAPIClient(u.url)
	tech.login(t, "tech", "tech-password-1")
	if ans, err := tech.do(context.Background(), http.MethodPost, "/v1/onboarding", nil, []byte(`{}`)); err != nil || ans.Status != http.StatusOK {
		t.Fatalf("POST /v1/onboarding = %d %s, %v", ans.Status, ans.Body, err)
	}
	u.cashier, u.manager = newAPIClient(u.url), newAPIClient(u.url)
	u.cashier.login(t, "ana", "ana-password-1")
	u.manager.login(t, "boss", "boss-password-1")
	return u
}

// cmcKey is the unit's communication key, from its device record.
func cmcKey(t testing.TB, data string) string {
	t.Helper()
	b, err := os.ReadFile(etims.DeviceFile(data))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		CmcKey string `json:"cmc_key"`
	}
	if err := json.Unmarshal(b, &rec); err != nil || rec.CmcKey == "" {
		t.Fatalf("device record: %v", err)
	}
	return rec.CmcKey
}

// issue issues body through the API and returns the document's counter
// and number.
func (u *etimsUnit) issue(key, body string) (uint64, string) {
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

func (u *etimsUnit) pending() int {
	st, err := u.a.Store().OutboxStats()
	if err != nil {
		u.t.Fatal(err)
	}
	return st.Pending
}

func (u *etimsUnit) replay() {
	u.t.Helper()
	if ans, err := u.manager.do(context.Background(), http.MethodPost, "/v1/replay", nil, nil); err != nil || ans.Status != http.StatusAccepted {
		u.t.Fatalf("POST /v1/replay = %d %s, %v", ans.Status, ans.Body, err)
	}
}

// checkKRA checks the journal against what the simulator holds: every
// accepted document is at KRA once, under the number the journal gives
// it, 1, 2, 3, … with no gap; rejected documents have no number; KRA
// found nothing to object to. It returns the journal.
func checkKRA(t testing.TB, sim *etimssim.Server, s *queue.Store) []*queue.Record {
	t.Helper()
	if b := sim.Breaks(etims.OSCU, kePIN, "00"); len(b) != 0 {
		t.Errorf("KRA saw invcNo gaps: %v", b)
	}
	if f := sim.Findings(etims.OSCU, kePIN, "00"); len(f) != 0 {
		t.Errorf("KRA's findings: %v", f)
	}
	sales := sim.Sales(etims.OSCU, kePIN, "00")
	byNumber := map[int64]etimssim.Sale{}
	for _, sl := range sales {
		if _, dup := byNumber[sl.InvcNo]; dup {
			t.Errorf("KRA has invcNo %d twice", sl.InvcNo)
		}
		byNumber[sl.InvcNo] = sl
	}
	recs := journal(t, s)
	var n int64
	for _, r := range recs {
		switch r.Status {
		case queue.StatusAccepted:
			n++
			sl, ok := byNumber[n]
			if r.AuthorityNumber != uint64(n) || !ok || sl.TrdInvcNo != r.Number {
				t.Errorf("document %d (%s): number %d; KRA's invcNo %d is %q", r.Counter, r.Number, r.AuthorityNumber, n, sl.TrdInvcNo)
			}
		case queue.StatusRejected:
			if r.AuthorityNumber != 0 {
				t.Errorf("rejected document %d has number %d", r.Counter, r.AuthorityNumber)
			}
		default:
			t.Errorf("document %d is %s", r.Counter, r.Status)
		}
	}
	if int64(len(sales)) != n {
		t.Errorf("KRA has %d sales, the journal %d accepted", len(sales), n)
	}
	return recs
}

// signatureOf is the stored answer's receipt signature and the request's
// invcNo.
func signatureOf(t testing.TB, r *queue.Record) (etims.Signature, int64) {
	t.Helper()
	sa, err := etims.DecodeStoredAnswer(r.Answer)
	if err != nil {
		t.Fatalf("document %d: %v", r.Counter, err)
	}
	n, _, err := etims.Numbers(sa.Request)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := etims.DecodeSignature(sa.Answer, n)
	if err != nil {
		t.Fatalf("document %d: %v", r.Counter, err)
	}
	return sig, n
}

// receiptCollector keeps the QR data and text of every receipt a printer
// finishes, reading them as they come (the printer keeps only the last
// few in memory).
type receiptCollector struct {
	p    *fakeprinter.Printer
	mu   sync.Mutex
	seen map[string]fakeprinter.Receipt // by CU invoice number
	done chan struct{}
	wg   sync.WaitGroup
}

// cuNumberOf is the CU invoice number a receipt prints.
func cuNumberOf(text string) string {
	for _, l := range strings.Split(text, "\n") {
		if i := strings.Index(l, "CU Invoice No"); i >= 0 && !strings.Contains(l, "Original") {
			f := strings.Fields(l[i+len("CU Invoice No"):])
			if len(f) > 0 {
				return f[len(f)-1]
			}
		}
	}
	return ""
}

func collectReceipts(p *fakeprinter.Printer) *receiptCollector {
	c := &receiptCollector{p: p, seen: map[string]fakeprinter.Receipt{}, done: make(chan struct{})}
	c.wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			c.take()
			select {
			case <-c.done:
				c.take()
				return
			case <-tick.C:
			}
		}
	})
	return c
}

func (c *receiptCollector) take() {
	for _, r := range c.p.Receipts() {
		cu := cuNumberOf(r.Text)
		c.mu.Lock()
		if _, ok := c.seen[cu]; !ok {
			r.Image = nil // the data is enough; the paper is big
			c.seen[cu] = r
		}
		c.mu.Unlock()
	}
}

func (c *receiptCollector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func (c *receiptCollector) stop() map[string]fakeprinter.Receipt {
	close(c.done)
	c.wg.Wait()
	return c.seen
}

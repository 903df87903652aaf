package etimssim

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egsd/egsd/sim/simnet"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/etims"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// clock is a settable clock for the simulator's answers (resultDt).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// onboardedRegime is a regime on dir, initialised with the harness's
// simulator (OSCU).
func onboardedRegime(t *testing.T, h *harness, dir string, events *[]string) *etims.Regime {
	t.Helper()
	r := openRegime(t, h, dir, events)
	if r.Ready() == nil {
		return r
	}
	if err := r.Onboard(ctx, stamping.OnboardRequest{}, nil, func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return r
}

func openRegime(t *testing.T, h *harness, dir string, events *[]string) *etims.Regime {
	t.Helper()
	var mu sync.Mutex
	r, err := etims.New(stamping.Config{
		Seller: stamping.Seller{Name: "Duka Ltd", VATNumber: sellerPIN}, Device: stamping.Device{Serial: "EGSD/" + sellerPIN + "/1"},
		DataDir: dir, Decode: func(v any) error {
			*(v.(*etims.Options)) = etims.Options{BaseURL: h.srv.URL + "/etims-api", Timeout: "2s"}
			return nil
		},
		Event: func(action string, details map[string]string) {
			if events != nil {
				mu.Lock()
				*events = append(*events, action+" "+details["item_code"]+" "+details["error"])
				mu.Unlock()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// submit stamps s as document counter, numbers it invcNo and submits it.
func submit(t *testing.T, r *etims.Regime, s *sale.Sale, counter uint64, invcNo, orgInvcNo int64) stamping.Result {
	t.Helper()
	if err := r.Validate(s); err != nil {
		t.Fatal(err)
	}
	doc, err := r.Stamp(stamping.Slot{Counter: counter, IssuedAt: issued}, s)
	if err != nil {
		t.Fatal(err)
	}
	req, err := etims.Number(doc.Bytes, invcNo, orgInvcNo)
	if err != nil {
		t.Fatal(err)
	}
	return r.Submit(context.Background(), stamping.Submission{Slot: stamping.Slot{Counter: counter}, Document: req, Attempt: 1})
}

func fieldsOf(err error) []string {
	var errs sale.Errors
	if !errors.As(err, &errs) {
		return nil
	}
	var out []string
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return out
}

// The code lists: fetched after initialisation, cached 0600 beside the
// device record, loaded at start, refreshed incrementally; KRA changing
// band B's rate changes what a sale is validated, built and signed with.
func TestCodeListsCachedAndRefreshed(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 15, 9, 0, 0, 0, etims.Nairobi)}
	h := newHarness(t, Config{Now: clk.now})
	dir := t.TempDir()
	r := onboardedRegime(t, h, dir, nil)

	fi, err := os.Stat(etims.CodeCacheFile(dir))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("code list cache after initialisation: %v %v", fi, err)
	}
	cache := r.CodeCache()
	if len(cache.Classes) != 3 || len(cache.ItemClasses) == 0 || !cache.CodesAsOf.Equal(clk.now()) {
		t.Fatalf("cache %+v", cache)
	}
	if got := r.Rules(); got.Rates.B.String() != "16" || !slices.Contains(got.PaymentTypes, "06") || !got.ItemClasses["5010150100"] {
		t.Fatalf("rules %+v", got)
	}

	// Nothing changed: KRA answers 001, the rules stay.
	clk.set(clk.now().Add(time.Hour))
	if err := r.RefreshCodes(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.Rules(); got.Rates.B.String() != "16" || len(r.CodeCache().Classes) != 3 {
		t.Fatalf("after an empty refresh: %+v", got)
	}

	// KRA moves band B to 17 %.
	clk.set(clk.now().Add(time.Hour))
	h.sim.ChangeRates(etims.Rates{B: d("17"), E: d("8")}, clk.now().Add(-time.Minute))
	if err := r.RefreshCodes(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.Rules().Rates.B.String(); got != "17" {
		t.Fatalf("band B after KRA's change: %s", got)
	}
	at16 := invoice(catalogue[0])
	err = r.Validate(at16)
	if f := fieldsOf(err); !slices.Equal(f, []string{"lines[0].vat_rate"}) || !strings.Contains(err.Error(), "17") {
		t.Errorf("a line at the old 16 %%: %v", err)
	}
	l := catalogue[0]
	l.Rate = d("17")
	if res := submit(t, r, invoice(l), 1, 1, 0); res.Outcome != stamping.Accepted {
		t.Fatalf("a sale at 17 %%: %v %q", res.Outcome, res.Messages)
	}
	got, _ := h.sim.Sale(etims.OSCU, sellerPIN, "00", 1)
	sent, err := etims.ParseSaleRequest(got.Request)
	if err != nil || sent.TaxRtB.String() != "17.00" || sent.TaxAmtB.String() != "68000.00" {
		t.Errorf("KRA received rate %s tax %s (%v)", sent.TaxRtB, sent.TaxAmtB, err)
	}

	// Loaded at start: a restarted unit validates with 17 % before any call.
	h.sim.SetDown(true)
	r2 := openRegime(t, h, dir, nil)
	if got := r2.Rules().Rates.B.String(); got != "17" {
		t.Errorf("rules loaded at start: band B %s", got)
	}
	h.sim.SetDown(false)

	// An unknown reason code and an item class KRA does not list are 400s naming the field.
	cn := creditNote(l)
	cn.ReasonCode = "09"
	if f := fieldsOf(r.Validate(cn)); !slices.Equal(f, []string{"reason_code"}) {
		t.Errorf("reason 09: %v", f)
	}
	odd := l
	odd.ItemClass = "9999999999"
	if f := fieldsOf(r.Validate(invoice(odd))); !slices.Equal(f, []string{"lines[0].item_class"}) {
		t.Errorf("an unlisted item class: %v", f)
	}
}

// A cache that cannot be read, or is another unit's, is fetched again in
// full, not trusted and not fatal.
func TestCodeCacheUnreadable(t *testing.T) {
	h := newHarness(t, Config{})
	dir := t.TempDir()
	onboardedRegime(t, h, dir, nil)
	if err := os.WriteFile(etims.CodeCacheFile(dir), []byte(`{"tin":"P000000009Z","bhf_id":"00","classes":[{"cdCls":"04","dtlList":[{"cd":"B","userDfnCd1":"50"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var events []string
	r := openRegime(t, h, dir, &events)
	if got := r.Rules().Rates.B.String(); got != "16" || len(events) != 1 || !strings.Contains(events[0], "not this unit's") {
		t.Errorf("another unit's cache: band B %s, events %q", got, events)
	}
	if err := r.RefreshCodes(ctx); err != nil || len(r.CodeCache().Classes) != 3 {
		t.Errorf("refetched: %v %+v", err, r.CodeCache())
	}
}

// Items are registered with KRA before the first sale that uses them,
// inside the submission, and only once; losing the registry costs a
// repeated saveItem and nothing else. The simulator refuses sales of
// unregistered items, so every accepted sale proves the order.
func TestItemsRegisteredBeforeFirstSale(t *testing.T) {
	h := newHarness(t, Config{})
	dir := t.TempDir()
	var events []string
	r := onboardedRegime(t, h, dir, &events)

	if res := submit(t, r, invoice(catalogue[0], catalogue[1]), 1, 1, 0); res.Outcome != stamping.Accepted {
		t.Fatalf("first sale: %v %q", res.Outcome, res.Messages)
	}
	if st := h.sim.Stats(); st.Items != 2 || st.Sales != 1 {
		t.Errorf("after the first sale: %+v", st)
	}
	fi, err := os.Stat(etims.ItemsFile(dir))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("items file: %v %v", fi, err)
	}
	if got := r.RegisteredItems(); !slices.Equal(got, []string{"KE3NTU0000001", "KE3NTU0000002"}) {
		t.Errorf("registered %q", got)
	}
	// The same item again: no saveItem.
	if res := submit(t, r, invoice(catalogue[0]), 2, 2, 0); res.Outcome != stamping.Accepted {
		t.Fatalf("second sale: %v %q", res.Outcome, res.Messages)
	}
	if st := h.sim.Stats(); st.Items != 2 {
		t.Errorf("an item registered again: %+v", st)
	}
	// A restarted unit remembers them.
	r = openRegime(t, h, dir, nil)
	if res := submit(t, r, invoice(catalogue[1]), 3, 3, 0); res.Outcome != stamping.Accepted || h.sim.Stats().Items != 2 {
		t.Fatalf("after a restart: %v %q %+v", res.Outcome, res.Messages, h.sim.Stats())
	}
	// The registry lost: the item is registered again, and the sale passes.
	if err := os.Remove(etims.ItemsFile(dir)); err != nil {
		t.Fatal(err)
	}
	r = openRegime(t, h, dir, nil)
	if res := submit(t, r, invoice(catalogue[1]), 4, 4, 0); res.Outcome != stamping.Accepted {
		t.Fatalf("after the registry was lost: %v %q", res.Outcome, res.Messages)
	}
	if st := h.sim.Stats(); st.Items != 3 || st.Sales != 4 || len(h.sim.Breaks(etims.OSCU, sellerPIN, "00")) != 0 {
		t.Errorf("after the registry was lost: %+v", st)
	}
	// An item sold under another band is registered again.
	moved := catalogue[1]
	moved.Category, moved.Rate = sale.ZeroRated, money.Decimal{}
	if res := submit(t, r, invoice(moved), 5, 5, 0); res.Outcome != stamping.Accepted || h.sim.Stats().Items != 4 {
		t.Fatalf("an item under a new band: %v %q %+v", res.Outcome, res.Messages, h.sim.Stats())
	}
}

// saveItem failing: the sale is not sent, its outcome is Retryable and
// names the item; the next attempt registers it and sends the sale.
func TestItemRegistrationFailsRetryable(t *testing.T) {
	h := newHarness(t, Config{})
	r := onboardedRegime(t, h, t.TempDir(), nil)
	if err := h.sim.SetFaults(Faults{Knobs: simnet.Knobs{Status: 503, StatusCount: 1}, Operations: []etims.Operation{etims.OpSaveItem}}); err != nil {
		t.Fatal(err)
	}
	s := invoice(catalogue[2])
	doc, err := r.Stamp(stamping.Slot{Counter: 1, IssuedAt: issued}, s)
	if err != nil {
		t.Fatal(err)
	}
	req := number(t, doc.Bytes, 1, 0)
	res := r.Submit(ctx, stamping.Submission{Document: req, Attempt: 1})
	if res.Outcome != stamping.Retryable || !strings.Contains(strings.Join(res.Messages, " "), "KE1NTU0000003") {
		t.Fatalf("saveItem answered 503: %v %q", res.Outcome, res.Messages)
	}
	if st := h.sim.Stats(); st.Sales != 0 || st.Refused != 0 || st.Items != 0 {
		t.Errorf("the sale went out without its item: %+v", st)
	}
	res = r.Submit(ctx, stamping.Submission{Document: req, Attempt: 2})
	if res.Outcome != stamping.Accepted {
		t.Fatalf("the retry: %v %q", res.Outcome, res.Messages)
	}
	if st := h.sim.Stats(); st.Sales != 1 || st.Items != 1 {
		t.Errorf("after the retry: %+v", st)
	}
	var sig struct {
		Data struct {
			RcptSign string `json:"rcptSign"`
		} `json:"data"`
	}
	if err := json.Unmarshal(res.Answer, &sig); err != nil || sig.Data.RcptSign == "" {
		t.Errorf("answer %s", res.Answer)
	}
}

package etimssim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/sim/simnet"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/etims"
)

var ctx = context.Background()

func resultCode(err error) etims.Text {
	var re *etims.ResultError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}

// A device initialises once: the second call is 902 (spec/etims.md §A3).
func TestInit(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.client(etims.OSCU, 10*time.Second)
	info, _, err := c.Init(ctx, "EGSD/1")
	if err != nil {
		t.Fatal(err)
	}
	if len(info.CmcKey) != 32 || !strings.HasPrefix(string(info.SdcID), "KRACU") || info.MrcNo == "" {
		t.Errorf("info %+v", info)
	}
	if _, _, err := c.Init(ctx, "EGSD/1"); resultCode(err) != etims.ResultAlreadyInstall || !strings.Contains(err.Error(), "device.json") {
		t.Errorf("second init: %v", err)
	}
	// Reinitialise gives the same key again.
	h2 := newHarness(t, Config{Reinitialise: true})
	c2 := h2.client(etims.OSCU, 10*time.Second)
	a, _, err1 := c2.Init(ctx, "EGSD/1")
	b, _, err2 := c2.Init(ctx, "EGSD/1")
	if err1 != nil || err2 != nil || a.CmcKey != b.CmcKey || string(a.CmcKey) != string(b.CmcKey) {
		t.Errorf("reinitialise: %v %v", err1, err2)
	}
	// Registered devices only; the other profile's device gets 903.
	h3 := newHarness(t, Config{Devices: []Device{{Profile: etims.VSCU, Tin: sellerPIN, BhfID: "00", Serial: "EGSD/2"}}})
	c3 := h3.client(etims.OSCU, 10*time.Second)
	if _, _, err := c3.Init(ctx, "EGSD/9"); resultCode(err) != etims.ResultInvalidDevice {
		t.Errorf("unregistered serial: %v", err)
	}
	if _, _, err := c3.Init(ctx, "EGSD/2"); resultCode(err) != etims.ResultOnlyOSCU {
		t.Errorf("a VSCU device on OSCU: %v", err)
	}
	if _, _, err := h3.client(etims.VSCU, 10*time.Second).Init(ctx, "EGSD/2"); err != nil {
		t.Errorf("the VSCU device on VSCU: %v", err)
	}
}

// OSCU calls need the three headers (900) and a key the simulator issued
// (901).
func TestOSCUHeaders(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.unit(etims.OSCU)
	post := func(header map[string]string) string {
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/etims-api/selectCodeList", strings.NewReader(`{"lastReqDt":"20180101000000"}`))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := post(nil); !strings.Contains(got, `"resultCd":"900"`) {
		t.Errorf("no headers: %s", got)
	}
	if got := post(map[string]string{"tin": sellerPIN, "bhfId": "00", "cmcKey": "not-the-key"}); !strings.Contains(got, `"resultCd":"901"`) {
		t.Errorf("another key: %s", got)
	}
	if got := post(map[string]string{"tin": "P000000009Z", "bhfId": "00", "cmcKey": string(c.CmcKey)}); !strings.Contains(got, `"resultCd":"901"`) {
		t.Errorf("the key of another PIN: %s", got)
	}
	if got := post(map[string]string{"tin": sellerPIN, "bhfId": "00", "cmcKey": string(c.CmcKey)}); !strings.Contains(got, `"resultCd":"000"`) {
		t.Errorf("the right headers: %s", got)
	}
}

// The code lists give the rules: class 04's rates, class 32's reasons;
// nothing new after their change is 001 and an empty list.
func TestCodeLists(t *testing.T) {
	h := newHarness(t, Config{Rates: etims.Rates{B: d("16"), E: d("8")}})
	for _, p := range []etims.Profile{etims.OSCU, etims.VSCU} {
		c := h.unit(p)
		classes, _, err := c.CodeList(ctx, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		rules, err := etims.RulesFromCodeLists(classes, etims.Rules{Rates: etims.Rates{B: d("1"), E: d("1")}})
		if err != nil || rules.Rates.B.String() != "16" || rules.Rates.E.String() != "8" || strings.Join(rules.RefundReasons, ",") != "01,02,03,04,05,06" {
			t.Errorf("%s rules %+v %v", p, rules, err)
		}
		again, _, err := c.CodeList(ctx, time.Now())
		if err != nil || len(again) != 0 {
			t.Errorf("%s: nothing new: %v %v", p, again, err)
		}
		items, _, err := c.ItemClasses(ctx, time.Time{})
		if err != nil || len(items) == 0 || items[0].Code == "" {
			t.Errorf("%s item classes %v %v", p, items, err)
		}
	}
}

// A sale's items must be registered first (spec/etims.md §A8); then the
// sale is signed, and the answer gives the receipt.
func TestItemRegistrationAndSale(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.unit(etims.OSCU)
	req := number(t, template(t, c, invoice(catalogue[0], catalogue[1]), "KE-1", issued), 1, 0)
	res := c.Deliver(ctx, req, false)
	if res.Outcome != stamping.Rejected || !strings.Contains(strings.Join(res.Messages, " "), "saveItem") {
		t.Fatalf("a sale of unregistered items: %+v", res)
	}
	h.register(c)
	res = c.Deliver(ctx, req, false)
	if res.Outcome != stamping.Accepted {
		t.Fatalf("after registration: %+v", res)
	}
	sig, err := etims.DecodeSignature(res.Answer, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := h.sim.Sale(etims.OSCU, sellerPIN, "00", 1)
	if !ok || got.RcptSign != sig.RcptSign || len(sig.IntrlData) != 26 || len(sig.RcptSign) != 16 || sig.CurRcptNo != 1 {
		t.Errorf("signature %+v, simulator %+v", sig, got)
	}
	f, err := etims.ReceiptOf(req, res.Answer, c.Identity, etims.Device{SdcID: "KRACU0100000001"}, etims.Sandbox)
	if err != nil {
		t.Fatal(err)
	}
	if f.QR != etims.QRURL(etims.Sandbox, sellerPIN, "00", got.RcptSign) || f.Total.Total.String() != "580000.00" {
		t.Errorf("receipt %+v", f)
	}
	// A registered item sold in another band is refused.
	wrong := catalogue[0]
	wrong.Rate = d("8")
	res = c.Deliver(ctx, number(t, template(t, c, invoice(wrong), "KE-2", issued), 2, 0), false)
	if res.Outcome != stamping.Rejected || !strings.Contains(strings.Join(res.Messages, " "), "band B") {
		t.Errorf("another band: %+v", res)
	}
}

// A resend of a number KRA has is 994, which carries no signature; the
// lookup gives the one KRA recorded (spec/etims.md §A4.3, §A7).
func TestDuplicateResolvedByLookup(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.unit(etims.OSCU)
	h.register(c)
	req := number(t, template(t, c, invoice(catalogue[2]), "KE-1", issued), 1, 0)
	first := c.Deliver(ctx, req, false)
	if first.Outcome != stamping.Accepted {
		t.Fatal(first)
	}
	again := c.Deliver(ctx, req, false) // a blind resend, which Submit never makes
	if again.Outcome != stamping.Duplicate {
		t.Fatalf("resend: %+v", again)
	}
	a, err1 := etims.DecodeSignature(first.Answer, 1)
	b, err2 := etims.DecodeSignature(again.Answer, 1)
	if err1 != nil || err2 != nil || a.RcptSign != b.RcptSign || a.IntrlData != b.IntrlData || a.CurRcptNo != b.CurRcptNo {
		t.Errorf("the lookup's signature %+v (%v) differs from the first answer's %+v (%v)", b, err2, a, err1)
	}
	if st := h.sim.Stats(); st.Sales != 1 || st.Duplicates != 1 || st.Lookups != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A timeout after KRA recorded the sale: the next attempt looks the
// number up, finds it, and sends nothing (spec/etims.md §A7).
func TestTimeoutAfterAcceptLookupFindsIt(t *testing.T) {
	h := newHarness(t, Config{Faults: Faults{Knobs: simnet.Knobs{TimeoutCount: 1}, Operations: []etims.Operation{etims.OpSaveSale}}})
	fast := h.unit(etims.OSCU)
	h.register(fast)
	fast.HTTP.Timeout = 300 * time.Millisecond
	req := number(t, template(t, fast, invoice(catalogue[3]), "KE-1", issued), 1, 0)
	res := fast.Deliver(ctx, req, false)
	if res.Outcome != stamping.Retryable {
		t.Fatalf("a timed-out attempt: %+v", res)
	}
	if _, ok := h.sim.Sale(etims.OSCU, sellerPIN, "00", 1); !ok {
		t.Fatal("the simulator did not record the timed-out sale")
	}
	res = fast.Deliver(ctx, req, true)
	if res.Outcome != stamping.Duplicate {
		t.Fatalf("the retry: %+v", res)
	}
	sale, _ := h.sim.Sale(etims.OSCU, sellerPIN, "00", 1)
	if sig, err := etims.DecodeSignature(res.Answer, 1); err != nil || sig.RcptSign != sale.RcptSign {
		t.Errorf("retry's signature %+v %v, simulator's %s", sig, err, sale.RcptSign)
	}
	if st := h.sim.Stats(); st.Sales != 1 || st.Duplicates != 0 || st.Refused != 0 || st.Lookups != 1 {
		t.Errorf("the number was sent again: %+v", st)
	}
	// A timeout before KRA recorded it: the lookup finds nothing, and the
	// sale is sent.
	h.sim.SetFaults(Faults{Knobs: simnet.Knobs{ResetCount: 1}, Operations: []etims.Operation{etims.OpSaveSale}})
	req2 := number(t, template(t, fast, invoice(catalogue[4]), "KE-2", issued), 2, 0)
	if res := fast.Deliver(ctx, req2, false); res.Outcome != stamping.Retryable {
		t.Fatalf("a reset attempt: %+v", res)
	}
	if res := fast.Deliver(ctx, req2, true); res.Outcome != stamping.Accepted {
		t.Fatalf("after the reset: %+v", res)
	}
	if b := h.sim.Breaks(etims.OSCU, sellerPIN, "00"); len(b) != 0 {
		t.Errorf("breaks %q", b)
	}
}

// A failed lookup sends nothing: the number waits for the next attempt.
func TestFailedLookupSendsNothing(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.unit(etims.OSCU)
	h.register(c)
	h.sim.SetFaults(Faults{Knobs: simnet.Knobs{Status: 503, StatusCount: 1}, Operations: []etims.Operation{etims.OpLookup}})
	res := c.Deliver(ctx, number(t, template(t, c, invoice(catalogue[0]), "KE-1", issued), 1, 0), true)
	if res.Outcome != stamping.Retryable || !strings.Contains(strings.Join(res.Messages, " "), "looked up") {
		t.Errorf("%+v", res)
	}
	if st := h.sim.Stats(); st.Sales+st.Refused+st.Duplicates != 0 {
		t.Errorf("a sale was sent: %+v", st)
	}
}

// A rejection releases the number: the next document takes it, and KRA
// sees no gap.
func TestRejectionLeavesNoGap(t *testing.T) {
	h := newHarness(t, Config{Faults: Faults{Results: map[int64]string{2: "910"}}})
	c := h.unit(etims.OSCU)
	h.register(c)
	var seq etims.Sequence
	for counter := uint64(1); counter <= 4; counter++ {
		tmpl := template(t, c, invoice(catalogue[counter%uint64(len(catalogue))]), "KE-"+string(rune('0'+counter)), issued)
		n, err := seq.Assign(counter)
		if err != nil {
			t.Fatal(err)
		}
		res := c.Deliver(ctx, number(t, tmpl, n, 0), false)
		if err := seq.Settle(counter, res.Outcome); err != nil {
			t.Fatal(err)
		}
		if want := map[uint64]stamping.Outcome{2: stamping.Rejected}[counter]; want != 0 && res.Outcome != want {
			t.Errorf("document %d: %v", counter, res.Outcome)
		}
	}
	sales := h.sim.Sales(etims.OSCU, sellerPIN, "00")
	if len(sales) != 3 || sales[1].TrdInvcNo != "KE-3" || sales[1].InvcNo != 2 {
		t.Errorf("sales %+v: document 3 must have taken the rejected number 2", sales)
	}
	if b := h.sim.Breaks(etims.OSCU, sellerPIN, "00"); len(b) != 0 {
		t.Errorf("breaks %q", b)
	}
}

// Credit notes name a sale KRA has; the rest of the certified checks are
// the unit's own, and the simulator lists what it would have caught.
func TestCreditNotes(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.unit(etims.OSCU)
	h.register(c)
	if res := c.Deliver(ctx, number(t, template(t, c, invoice(catalogue[0]), "KE-1", issued), 1, 0), false); res.Outcome != stamping.Accepted {
		t.Fatal(res)
	}
	note := template(t, c, creditNote(catalogue[0]), "KE-2", issued.Add(time.Hour))
	if res := c.Deliver(ctx, number(t, note, 3, 2), false); res.Outcome != stamping.Rejected {
		t.Errorf("a note for a sale KRA does not have: %+v", res)
	}
	if res := c.Deliver(ctx, number(t, note, 2, 1), false); res.Outcome != stamping.Accepted {
		t.Fatalf("a note for sale 1: %+v", res)
	}
	if f := h.sim.Findings(etims.OSCU, sellerPIN, "00"); len(f) != 0 {
		t.Errorf("findings %q", f)
	}
	// Another PIN, earlier than the original, above it: accepted, listed.
	odd := creditNote(catalogue[0], catalogue[0])
	odd.Buyer.VATNumber = "A000000009Z"
	if res := c.Deliver(ctx, number(t, template(t, c, odd, "KE-3", issued.Add(-time.Hour)), 3, 1), false); res.Outcome != stamping.Accepted {
		t.Fatal(res)
	}
	if f := h.sim.Findings(etims.OSCU, sellerPIN, "00"); len(f) != 3 {
		t.Errorf("findings %q, want the PIN, the date and the amount", f)
	}
}

// The amounts are checked per item and per band.
func TestAmountsChecked(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.unit(etims.OSCU)
	h.register(c)
	req := number(t, template(t, c, invoice(catalogue[0]), "KE-1", issued), 1, 0)
	bad := []byte(strings.Replace(string(req), `"taxAmtB":64000.00`, `"taxAmtB":64000.01`, 1))
	res := c.Deliver(ctx, bad, false)
	if res.Outcome != stamping.Rejected || !strings.Contains(strings.Join(res.Messages, " "), "taxAmtB") {
		t.Errorf("a band tax off by a cent: %+v", res)
	}
	// A simulator whose B rate is 15 refuses egsd's 16.
	h15 := newHarness(t, Config{Rates: etims.Rates{B: d("15"), E: d("8")}})
	c15 := h15.unit(etims.OSCU)
	h15.register(c15)
	if res := c15.Deliver(ctx, number(t, template(t, c15, invoice(catalogue[0]), "KE-1", issued), 1, 0), false); res.Outcome != stamping.Rejected {
		t.Errorf("16 %% where KRA says 15: %+v", res)
	}
}

// The VSCU takes sales in order: a number past the next one is 922, a
// credit note for a sale it has not received 921 (spec/etims.md §A1,
// §A4.3); its answers carry sdcId and mrcNo.
func TestVSCUOrder(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.unit(etims.VSCU)
	h.register(c)
	second := number(t, template(t, c, invoice(catalogue[1]), "KE-2", issued), 2, 0)
	res := c.Deliver(ctx, second, false)
	if res.Outcome != stamping.Retryable || !strings.Contains(strings.Join(res.Messages, " "), "922") {
		t.Fatalf("2 before 1: %+v", res)
	}
	note := number(t, template(t, c, creditNote(catalogue[0]), "KE-3", issued), 3, 1)
	if res := c.Deliver(ctx, number(t, template(t, c, invoice(catalogue[0]), "KE-1", issued), 1, 0), false); res.Outcome != stamping.Accepted {
		t.Fatal(res)
	} else if sig, err := etims.DecodeSignature(res.Answer, 0); err != nil || sig.SdcID == "" || sig.MrcNo == "" {
		t.Errorf("VSCU signature %+v %v", sig, err)
	}
	if res := c.Deliver(ctx, second, true); res.Outcome != stamping.Accepted {
		t.Fatalf("2 after 1: %+v", res)
	}
	if res := c.Deliver(ctx, note, false); res.Outcome != stamping.Accepted {
		t.Errorf("the note for 1: %v %q", res.Outcome, res.Messages)
	}
	orphan := number(t, template(t, c, creditNote(catalogue[0]), "KE-4", issued), 4, 3)
	if res := c.Deliver(ctx, orphan, false); res.Outcome != stamping.Retryable || !strings.Contains(strings.Join(res.Messages, " "), "921") {
		t.Errorf("a note for a credit note: %v %q", res.Outcome, res.Messages)
	}
}

// Down resets every request until up; a status fault is retryable.
func TestFaultsDownAndStatus(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.unit(etims.OSCU)
	h.register(c)
	req := number(t, template(t, c, invoice(catalogue[0]), "KE-1", issued), 1, 0)
	h.sim.SetDown(true)
	if res := c.Deliver(ctx, req, false); res.Outcome != stamping.Retryable {
		t.Errorf("down: %+v", res)
	}
	h.sim.SetDown(false)
	if err := h.sim.SetFaults(Faults{Knobs: simnet.Knobs{Status: 502, StatusCount: 1}}); err != nil {
		t.Fatal(err)
	}
	if res := c.Deliver(ctx, req, true); res.Outcome != stamping.Retryable || !strings.Contains(strings.Join(res.Messages, " "), "HTTP 502") {
		t.Errorf("502: %+v", res)
	}
	if res := c.Deliver(ctx, req, true); res.Outcome != stamping.Accepted {
		t.Errorf("after the fault: %+v", res)
	}
	if err := h.sim.SetFaults(Faults{Knobs: simnet.Knobs{StatusPercent: 101}}); err == nil {
		t.Error("a percentage of 101 was taken")
	}
}

func TestFaultLatency(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.unit(etims.OSCU)
	h.sim.SetFaults(Faults{Knobs: simnet.Knobs{Latency: time.Minute}, Operations: []etims.Operation{etims.OpCodeList}})
	c.HTTP.Timeout = 200 * time.Millisecond
	if _, _, err := c.CodeList(ctx, time.Time{}); err == nil {
		t.Error("a request delayed by a minute answered within 200 ms")
	}
	// The latency is for code lists only.
	if _, _, err := c.ItemClasses(ctx, time.Time{}); err != nil {
		t.Errorf("item classes: %v", err)
	}
}

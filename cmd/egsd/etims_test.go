package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/pelletier/go-toml/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/device"
	"github.com/egsd/egsd/device/fakeprinter"
	"github.com/egsd/egsd/queue"
	etimssim "github.com/egsd/egsd/sim/etims"
	"github.com/egsd/egsd/sim/simnet"
	"github.com/egsd/egsd/stamping/etims"
)

// TestETIMSMixedRun issues 1,000 sales and credit notes through the API
// of a Kenyan unit while KRA's simulator times out after recording,
// resets and answers 503 now and then. Every document is signed exactly
// once, KRA's invcNo runs 1…1,000 without a gap, credit notes carry their
// original's number, and every printed receipt's QR code is the URL built
// from the rcptSign the journal keeps.
func TestETIMSMixedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 documents")
	}
	p := startPrinter(t, fakeprinter.Options{WidthDots: 576, Keep: 64})
	u := newETIMSUnit(t, withPrinter(p))
	col := collectReceipts(p)
	if err := u.sim.SetFaults(etimssim.Faults{Knobs: simnet.Knobs{Status: 503, StatusPercent: 2, TimeoutPercent: 1, ResetPercent: 2}}); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	numberOf := map[int]string{} // sale index → its document number
	notes := 0
	for i := range n {
		if i%5 == 4 {
			orig := i - 3 // a sale (i%5 == 1), credited once
			u.issue(fmt.Sprint("doc-", i), keCreditNote(orig, numberOf[orig]))
			notes++
			continue
		}
		_, numberOf[i] = u.issue(fmt.Sprint("doc-", i), keSale(i))
	}
	waitFor(t, "every document to be signed and printed", 5*time.Minute, func() bool { return u.pending() == 0 && col.count() >= n })
	receipts := col.stop()

	recs := checkKRA(t, u.sim, u.a.Store())
	if len(recs) != n {
		t.Fatalf("%d documents in the journal", len(recs))
	}
	sdcID := u.a.Regime().(*etims.Regime).Device().SdcID
	numbers := map[string]uint64{} // document number → KRA's invcNo
	for _, r := range recs {
		if r.Status != queue.StatusAccepted {
			t.Fatalf("document %d is %s: %v", r.Counter, r.Status, r.Messages)
		}
		sig, invcNo := signatureOf(t, r)
		numbers[r.Number] = r.AuthorityNumber
		cu := etims.CUInvoiceNumber(sdcID, invcNo)
		rc, ok := receipts[cu]
		if !ok {
			t.Errorf("document %d (%s): no receipt printed", r.Counter, cu)
			continue
		}
		want := etims.QRURL(etims.Sandbox, kePIN, "00", sig.RcptSign)
		if !slices.Equal(rc.QR, []string{want}) {
			t.Errorf("document %d: receipt QR %q, want %q", r.Counter, rc.QR, want)
		}
		if !strings.Contains(rc.Text, etims.Hyphenate(sig.RcptSign)) || !strings.Contains(rc.Text, "KRA PIN "+kePIN) {
			t.Errorf("document %d: the receipt lacks the signature or the KRA PIN:\n%s", r.Counter, rc.Text)
		}
		if r.Kind == "credit_note" {
			sa, _ := etims.DecodeStoredAnswer(r.Answer)
			_, org, _ := etims.Numbers(sa.Request)
			var stored struct{ Original string }
			json.Unmarshal(r.Sale, &stored)
			if uint64(org) != numbers[stored.Original] || org == 0 {
				t.Errorf("credit note %d: orgInvcNo %d, its original %s was accepted as %d", r.Counter, org, stored.Original, numbers[stored.Original])
			}
			if !strings.Contains(rc.Text, etims.CUInvoiceNumber(sdcID, org)) || !strings.Contains(rc.Text, "CREDIT NOTE") {
				t.Errorf("credit note %d: receipt lacks the original's CU invoice number:\n%s", r.Counter, rc.Text)
			}
		}
	}
	if len(receipts) != n {
		t.Errorf("%d receipts printed, want %d", len(receipts), n)
	}
	st := u.sim.Stats()
	t.Logf("simulator %+v; %d credit notes", st, notes)
	if st.Faults == 0 || st.Lookups == 0 {
		t.Errorf("no fault or no lookup happened: the run proved less than it says (%+v)", st)
	}
	if pst := p.Stats(); pst.Unknown != 0 || pst.Invalid != 0 || pst.NotPrinted != 0 {
		t.Errorf("printer stats %+v", pst)
	}
}

// TestETIMSOutageReplay: 300 sales issued while KRA is unreachable wait
// in the outbox (an outage incident opens); after a replay every one is
// signed, none twice, invcNo 1…300 without a gap.
func TestETIMSOutageReplay(t *testing.T) {
	u := newETIMSUnit(t, nil)
	u.sim.SetDown(true)
	const n = 300
	for i := range n {
		u.issue(fmt.Sprint("sale-", i), keSale(i))
	}
	waitFor(t, "the outage incident", 30*time.Second, func() bool {
		incs, err := u.a.Store().Incidents(true, 100)
		return err == nil && slices.ContainsFunc(incs, func(i queue.Incident) bool { return i.Kind == "outage" })
	})
	if len(u.sim.Sales(etims.OSCU, kePIN, "00")) != 0 {
		t.Fatal("KRA has sales while it was down")
	}
	u.sim.SetDown(false)
	u.replay()
	waitFor(t, "the replay to drain the outbox", 2*time.Minute, func() bool { return u.pending() == 0 })
	recs := checkKRA(t, u.sim, u.a.Store())
	for _, r := range recs {
		if r.Status != queue.StatusAccepted {
			t.Errorf("document %d is %s", r.Counter, r.Status)
		}
	}
	if st := u.sim.Stats(); st.Sales != n || st.Duplicates != 0 {
		t.Errorf("KRA accepted %d sales with %d duplicates, want %d and none", st.Sales, st.Duplicates, n)
	}
}

// TestETIMSTimeoutAfterAccept: KRA records the sale but its answer is
// lost; the unit looks invcNo up, takes the signature from the lookup and
// never sends the sale again.
func TestETIMSTimeoutAfterAccept(t *testing.T) {
	u := newETIMSUnit(t, nil)
	if err := u.sim.SetFaults(etimssim.Faults{Knobs: simnet.Knobs{TimeoutCount: 1}, Operations: []etims.Operation{etims.OpSaveSale}}); err != nil {
		t.Fatal(err)
	}
	counter, _ := u.issue("sale-0", keSale(0))
	u.issue("sale-1", keSale(1))
	waitFor(t, "both sales to be signed", time.Minute, func() bool { return u.pending() == 0 })
	st := u.sim.Stats()
	if st.Sales != 2 || st.Duplicates != 0 || st.Lookups != 1 {
		t.Errorf("simulator %+v: want 2 sales, 1 lookup, no resend (no 994)", st)
	}
	checkKRA(t, u.sim, u.a.Store())
	r, err := u.a.Store().Document(counter)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := etims.DecodeStoredAnswer(r.Answer)
	if err != nil || !strings.Contains(string(sa.Answer), "salesList") {
		t.Errorf("the first sale's answer is not the lookup's: %s %v", r.Answer, err)
	}
	sig, _ := signatureOf(t, r)
	if kra, ok := u.sim.Sale(etims.OSCU, kePIN, "00", 1); !ok || kra.RcptSign != sig.RcptSign {
		t.Errorf("stored signature %s, KRA's %s", sig.RcptSign, kra.RcptSign)
	}
}

// TestETIMSRejectionLeavesNoGap: a sale KRA refuses (910) is recorded as
// rejected and gives its invcNo to the next one; the queue goes on, KRA
// sees 1, 2, 3, and a credit note for the rejected sale is refused at
// issue.
func TestETIMSRejectionLeavesNoGap(t *testing.T) {
	u := newETIMSUnit(t, nil)
	if err := u.sim.SetFaults(etimssim.Faults{Results: map[int64]string{2: "910"}}); err != nil {
		t.Fatal(err)
	}
	var numbers []string
	for i := range 4 {
		_, num := u.issue(fmt.Sprint("sale-", i), keSale(i))
		numbers = append(numbers, num)
	}
	waitFor(t, "the sales to be answered", time.Minute, func() bool { return u.pending() == 0 })
	recs := checkKRA(t, u.sim, u.a.Store())
	var statuses []string
	for _, r := range recs {
		statuses = append(statuses, fmt.Sprintf("%s%d", r.Status, r.AuthorityNumber))
	}
	if want := []string{"accepted1", "rejected0", "accepted2", "accepted3"}; !slices.Equal(statuses, want) {
		t.Errorf("journal %v, want %v", statuses, want)
	}
	head, _ := u.a.Store().Head()
	ans, err := u.cashier.postSale(context.Background(), "note", []byte(keCreditNote(1, numbers[1])))
	if err != nil || ans.Status != http.StatusBadRequest || !strings.Contains(string(ans.Body), `"original"`) || !strings.Contains(string(ans.Body), "rejected") {
		t.Errorf("credit note for the rejected sale = %d %s, %v", ans.Status, ans.Body, err)
	}
	if h, _ := u.a.Store().Head(); h.Counter != head.Counter {
		t.Errorf("the counter moved from %d to %d", head.Counter, h.Counter)
	}
}

// TestETIMSVSCUOfflineLimit: a VSCU unit whose documents have waited for
// the control unit longer than offline_limit refuses to issue (503, the
// regime's message), and issues again by itself once they are signed.
func TestETIMSVSCUOfflineLimit(t *testing.T) {
	ft := device.NewFakeTime(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	var u *etimsUnit
	u = newETIMSUnitWith(t, func(c *agent.Config) {
		base := strings.TrimSuffix(c.Regime.Options["base_url"].(string), "/etims-api")
		c.Regime.Options = map[string]any{"profile": "vscu", "base_url": base, "timeout": "1s", "offline_limit": "2h",
			"paths": map[string]any{"lookup": "/trnsSales/selectInvoiceDetails"}}
	}, agent.Options{Time: ft})
	u.issue("sale-0", keSale(0))
	waitFor(t, "the first sale to be signed", 30*time.Second, func() bool { return u.pending() == 0 })
	u.sim.SetDown(true)
	u.issue("sale-1", keSale(1))
	ft.Advance(90 * time.Minute)
	u.issue("sale-2", keSale(2)) // within the limit
	ft.Advance(time.Hour)
	head, _ := u.a.Store().Head()
	ans, err := u.cashier.postSale(context.Background(), "sale-3", []byte(keSale(3)))
	if err != nil || ans.Status != http.StatusServiceUnavailable || !strings.Contains(string(ans.Body), "VSCU") {
		t.Fatalf("past the offline limit = %d %s, %v", ans.Status, ans.Body, err)
	}
	if h, _ := u.a.Store().Head(); h.Counter != head.Counter {
		t.Errorf("the counter moved from %d to %d", head.Counter, h.Counter)
	}
	u.sim.SetDown(false)
	u.replay()
	waitFor(t, "the waiting sales to be signed", time.Minute, func() bool { return u.pending() == 0 })
	u.issue("sale-3", keSale(3))
	waitFor(t, "the last sale to be signed", 30*time.Second, func() bool { return u.pending() == 0 })
	if n := len(u.sim.Sales(etims.VSCU, kePIN, "00")); n != 4 {
		t.Errorf("the VSCU has %d sales, want 4", n)
	}
}

// TestETIMSJournalExport: `egsd journal export` writes a Kenyan document as
// KRA knows it — the exact request sent, numbered, with KRA's answer
// beside it — and `--format etims-summary` the sample's readable layout;
// the sample's sale gives 500,000 / 80,000 / 580,000 in both.
func TestETIMSJournalExport(t *testing.T) {
	u := newETIMSUnit(t, nil)
	sale, err := os.ReadFile("../../examples/sale-etims.json")
	if err != nil {
		t.Fatal(err)
	}
	counter, number := u.issue("sample", string(sale))
	note, err := os.ReadFile("../../examples/credit-note-etims.json")
	if err != nil {
		t.Fatal(err)
	}
	noteCounter, _ := u.issue("note", strings.Replace(string(note), `"original": "KE-1"`, `"original": "`+number+`"`, 1))
	waitFor(t, "both documents to be signed", time.Minute, func() bool { return u.pending() == 0 })
	rec, err := u.a.Store().Document(counter)
	if err != nil {
		t.Fatal(err)
	}
	u.stop()

	conf, err := toml.Marshal(etimsConfig(u.data, u.base))
	if err != nil {
		t.Fatal(err)
	}
	confFile := filepath.Join(t.TempDir(), "egsd.toml")
	if err := os.WriteFile(confFile, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if res := runEgsd(t, nil, "journal", "export", "--config", confFile, "--out", out); res.Code != 0 || !strings.Contains(res.Stdout, "exported 2 documents") {
		t.Fatalf("journal export: %s", res)
	}
	reqName, ansName := etims.WireNames(counter, rec.UUID)
	sent, err := os.ReadFile(filepath.Join(out, reqName))
	if err != nil {
		t.Fatal(err)
	}
	kra, ok := u.sim.Sale(etims.OSCU, kePIN, "00", 1)
	if !ok {
		t.Fatal("KRA has no invcNo 1")
	}
	var wire struct {
		InvcNo      int64   `json:"invcNo"`
		TotTaxblAmt float64 `json:"totTaxblAmt"`
		TotTaxAmt   float64 `json:"totTaxAmt"`
		TotAmt      float64 `json:"totAmt"`
	}
	if err := json.Unmarshal(sent, &wire); err != nil {
		t.Fatal(err)
	}
	// Exact in binary floating point: whole shillings far below 2^53.
	if wire.InvcNo != 1 || wire.TotTaxblAmt != 500000 || wire.TotTaxAmt != 80000 || wire.TotAmt != 580000 {
		t.Errorf("exported request %s, want invcNo 1 and 500000 / 80000 / 580000", sent)
	}
	if ans, err := os.ReadFile(filepath.Join(out, ansName)); err != nil || !strings.Contains(string(ans), kra.RcptSign) {
		t.Errorf("KRA's answer beside the request: %s %v, want rcptSign %s", ans, err, kra.RcptSign)
	}
	noteReq, _ := etims.WireNames(noteCounter, "")
	if matches, _ := filepath.Glob(filepath.Join(out, strings.TrimSuffix(noteReq, ".json")+"*.json")); len(matches) != 2 {
		t.Errorf("credit note files %v, want its request and KRA's answer", matches)
	}

	sumDir := t.TempDir()
	if res := runEgsd(t, nil, "journal", "export", "--config", confFile, "--out", sumDir, "--format", "etims-summary"); res.Code != 0 || !strings.Contains(res.Stdout, "exported 2 documents") {
		t.Fatalf("journal export --format etims-summary: %s", res)
	}
	summary, err := os.ReadFile(filepath.Join(sumDir, etims.SummaryName(counter, rec.UUID)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"500000", "80000", "580000", kra.RcptSign[:4], "indexEtimsReceiptData?Data=" + kePIN + "00" + kra.RcptSign} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if res := runEgsd(t, nil, "journal", "export", "--data", u.data, "--out", t.TempDir(), "--format", "etims-summary"); res.Code == 0 || !strings.Contains(res.Stderr, "--config") {
		t.Errorf("summary without the unit's configuration: %s", res)
	}
}

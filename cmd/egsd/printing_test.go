package main

import (
	"context"
	"encoding/json"
	"fmt"
	imagepng "image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/device/fakeprinter"
	"github.com/egsd/egsd/device/fakeprinter/qrscan"
	"github.com/egsd/egsd/queue"
	zatcasim "github.com/egsd/egsd/sim/zatca"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/zatca"
)

// startPrinter starts a fake printer whose path survives unplugging.
func startPrinter(t testing.TB, opt fakeprinter.Options) *fakeprinter.Printer {
	t.Helper()
	if opt.Link == "" {
		opt.Link = filepath.Join(t.TempDir(), "ttyPRN")
	}
	p, err := fakeprinter.Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// withPrinter points a configuration at the fake printer p.
func withPrinter(p *fakeprinter.Printer) func(*agent.Config) {
	return func(c *agent.Config) {
		c.Printer.Enabled = true
		c.Printer.Profile = "generic-80mm"
		c.Printer.Port = p.Path()
		c.Printer.RetryEvery = agent.Duration{Duration: 100 * time.Millisecond}
		c.Printer.ReplyTimeout = agent.Duration{Duration: 500 * time.Millisecond}
	}
}

// receiptQR decodes the one QR code printed on r.
func receiptQR(t testing.TB, r fakeprinter.Receipt) string {
	t.Helper()
	var got []string
	for _, img := range r.QRImages() {
		s, err := qrscan.Decode(img)
		if err != nil {
			t.Fatalf("printed QR does not decode: %v\n%s", err, r.Text)
		}
		got = append(got, s...)
	}
	if len(got) != 1 {
		t.Fatalf("%d QR codes on the receipt, want 1:\n%s", len(got), r.Text)
	}
	return got[0]
}

func waitReceipts(t testing.TB, p *fakeprinter.Printer, n int) []fakeprinter.Receipt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs, err := p.WaitReceipts(ctx, n)
	if err != nil {
		t.Fatalf("waiting for %d receipts: %v (have %d)", n, err, len(p.Receipts()))
	}
	return rs
}

// TestZATCAReceipts: a simplified invoice prints at once with the QR of the
// stamped document; a standard invoice prints only once ZATCA has cleared
// it, from the cleared document (the simulator's stamp and QR), and never
// while the authority is down.
func TestZATCAReceipts(t *testing.T) {
	p := startPrinter(t, fakeprinter.Options{WidthDots: 576})
	u := newZATCAUnit(t, withPrinter(p))
	u.sim.SetFaults(zatcasim.Faults{Down: true})

	// Standard first (held: the simulator is down), then simplified.
	standard, _, err := u.a.Issue(context.Background(), "cashier", "std", []byte(saleJSON(1)))
	if err != nil {
		t.Fatal(err)
	}
	simplified, _, err := u.a.Issue(context.Background(), "cashier", "simp", []byte(saleJSON(0)))
	if err != nil {
		t.Fatal(err)
	}
	first := waitReceipts(t, p, 1)
	var info stamping.ReceiptInfo
	if err := json.Unmarshal(simplified.Receipt, &info); err != nil {
		t.Fatal(err)
	}
	if got := receiptQR(t, first[0]); got != info.QR {
		t.Fatalf("simplified receipt QR (%d chars) is not the document's (%d chars)", len(got), len(info.QR))
	}
	if docInfo, err := zatca.ReceiptInfoOf(simplified.Document); err != nil || docInfo.QR != info.QR {
		t.Fatalf("the document's embedded QR differs from its receipt's: %v", err)
	}
	if !strings.Contains(first[0].Text, info.Number) || !strings.Contains(first[0].Text, "Simplified Tax Invoice") {
		t.Errorf("simplified receipt lacks its number %s or title:\n%s", info.Number, first[0].Text)
	}
	amountDueIsQRTotal(t, first[0], info.QR)
	// The printer cut the receipt; its confirmation reaches the agent next.
	waitFor(t, "the simplified receipt's confirmation", 10*time.Second, func() bool {
		d, _ := u.a.Store().Document(simplified.Counter)
		return !d.PrintedAt.IsZero()
	})
	jobs, _ := u.a.Store().PrintJobs(0)
	if len(jobs) != 1 || jobs[0].Counter != standard.Counter || jobs[0].State != queue.PrintAwaitingAnswer {
		t.Fatalf("print queue while ZATCA is down = %+v, want the standard invoice awaiting clearance", jobs)
	}

	u.sim.SetFaults(zatcasim.Faults{})
	u.a.Replay("manager")
	second := waitReceipts(t, p, 2)[1]
	rec, err := u.a.Store().Document(standard.Counter)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != queue.StatusAccepted && rec.Status != queue.StatusAcceptedWithWarnings {
		t.Fatalf("standard invoice printed in state %s", rec.Status)
	}
	cleared, clearedInfo, ok, err := u.a.Regime().(stamping.Clearance).Cleared(rec.Answer)
	if err != nil || !ok {
		t.Fatalf("no cleared invoice in the answer: %v", err)
	}
	if _, err := zatca.Verify(cleared); err != nil {
		t.Fatalf("the cleared invoice does not verify: %v", err)
	}
	var issuedInfo stamping.ReceiptInfo
	json.Unmarshal(rec.Receipt, &issuedInfo)
	got := receiptQR(t, second)
	if got != clearedInfo.QR {
		t.Fatalf("standard receipt QR is not the cleared invoice's")
	}
	if got == issuedInfo.QR {
		t.Fatalf("the cleared QR equals the issued one: the test cannot tell them apart")
	}
	if !strings.Contains(second.Text, "Tax Invoice") || strings.Contains(second.Text, "Simplified") {
		t.Errorf("standard receipt title:\n%s", second.Text)
	}
	amountDueIsQRTotal(t, second, clearedInfo.QR)
	if st := p.Stats(); st.Unknown != 0 || st.Invalid != 0 || st.NotPrinted != 0 {
		t.Errorf("printer stats %+v", st)
	}
}

// amountDueIsQRTotal checks that the receipt's one bold amount, the amount
// due, is the total of its QR code (tag 4, the invoice's PayableAmount).
func amountDueIsQRTotal(t *testing.T, r fakeprinter.Receipt, qr string) {
	t.Helper()
	q, err := zatca.DecodeQR(qr)
	if err != nil {
		t.Fatal(err)
	}
	var bold []string
	for _, l := range strings.Split(r.Text, "\n") {
		if strings.HasPrefix(l, "{bold}") && strings.Contains(l, "SAR ") {
			bold = append(bold, l)
		}
	}
	if len(bold) != 1 || !strings.HasSuffix(bold[0], " "+q.Total) {
		t.Errorf("the receipt's amount due %q is not its QR's total %s:\n%s", bold, q.Total, r.Text)
	}
}

// testUnit is an in-process agent on the test regime with a printer.
type testUnit struct {
	t    testing.TB
	cfg  agent.Config
	a    *agent.Agent
	stop func()
}

func startTestUnit(t testing.TB, cfg agent.Config) *testUnit {
	t.Helper()
	a, err := agent.New(cfg, agent.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, nil) }()
	u := &testUnit{t: t, cfg: cfg, a: a}
	stopped := false
	u.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-served
		if _, err := a.Store().Check(checkOptions(t)); err != nil {
			t.Errorf("store check: %v", err)
		}
		a.Close()
	}
	t.Cleanup(u.stop)
	return u
}

func printerTestConfig(t testing.TB, p *fakeprinter.Printer) agent.Config {
	cfg := agent.DemoConfig(t.TempDir())
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Auth.BcryptCost = 4
	withPrinter(p)(&cfg)
	return cfg
}

func (u *testUnit) sale(i int) *queue.Record {
	u.t.Helper()
	body := fmt.Sprintf(`{"kind":"invoice","lines":[{"name":"Tea","quantity":"%d","unit_price":"4.35","vat_category":"S","vat_rate":"15"}]}`, i+1)
	rec, _, err := u.a.Issue(context.Background(), "cashier", fmt.Sprint("sale-", i), []byte(body))
	if err != nil {
		u.t.Fatalf("sale %d: %v", i, err)
	}
	return rec
}

func (u *testUnit) printerState() agent.PrinterState {
	u.t.Helper()
	st, err := u.a.Status()
	if err != nil || st.Printer == nil {
		u.t.Fatalf("status: %v, printer %v", err, st.Printer)
	}
	return *st.Printer
}

// complete returns the receipts that were cut: whole receipts in the buyer's hand.
func complete(rs []fakeprinter.Receipt) []fakeprinter.Receipt {
	var out []fakeprinter.Receipt
	for _, r := range rs {
		if r.Cut {
			out = append(out, r)
		}
	}
	return out
}

// TestPaperOutMidJob: the paper runs out in the middle of a receipt; the
// sale is unaffected, the status says paper out, and once paper is loaded
// the receipt prints again in full — exactly one complete original.
func TestPaperOutMidJob(t *testing.T) {
	p := startPrinter(t, fakeprinter.Options{WidthDots: 576})
	u := startTestUnit(t, printerTestConfig(t, p))
	u.sale(0)
	waitReceipts(t, p, 1)
	p.PaperOutAfter(300) // part of the next receipt's text
	rec := u.sale(1)
	waitFor(t, "the printer to report paper out", 10*time.Second, func() bool { return u.printerState().State == "paper_out" })
	if st := u.printerState(); st.Queue.Queued != 1 {
		t.Fatalf("the receipt left the queue although it did not print: %+v", st)
	}
	p.SetPaperOut(false)
	waitFor(t, "the receipt to print after the paper is loaded", 10*time.Second, func() bool {
		d, _ := u.a.Store().Document(rec.Counter)
		return !d.PrintedAt.IsZero()
	})
	all := p.Receipts()
	whole := complete(all)
	if len(all) != 3 || len(whole) != 2 {
		t.Fatalf("%d receipts printed (%d cut), want the first, the torn one and one complete reprint", len(all), len(whole))
	}
	if all[1].Cut || !strings.Contains(whole[1].Text, "T-000002") || strings.Contains(whole[1].Text, "COPY") {
		t.Errorf("torn receipt cut = %v; reprint:\n%s", all[1].Cut, whole[1].Text)
	}
	var info stamping.ReceiptInfo
	json.Unmarshal(rec.Receipt, &info)
	if receiptQR(t, whole[1]) != info.QR {
		t.Error("reprinted receipt's QR is not the document's")
	}
	if st := u.printerState(); st.State != "online" || st.Queue.Queued != 0 {
		t.Errorf("after recovery: %+v", st)
	}
}

// TestUnplugAndRestart: sales go on while the printer is unplugged; the
// receipts wait in the queue across a restart of the agent and print once,
// in order, when the printer is back; a reprint is marked COPY.
func TestUnplugAndRestart(t *testing.T) {
	p := startPrinter(t, fakeprinter.Options{WidthDots: 576})
	cfg := printerTestConfig(t, p)
	u := startTestUnit(t, cfg)
	u.sale(0)
	waitFor(t, "the first receipt to be confirmed", 10*time.Second, func() bool {
		d, _ := u.a.Store().Document(1)
		return !d.PrintedAt.IsZero()
	})

	p.Unplug()
	for i := 1; i <= 3; i++ {
		u.sale(i) // a sale never waits for the printer
	}
	waitFor(t, "the printer to show as unplugged", 10*time.Second, func() bool { return u.printerState().State == "unplugged" })
	if st := u.printerState(); st.Queue.Queued != 3 {
		t.Fatalf("queue while unplugged = %+v, want 3", st.Queue)
	}
	u.stop()

	if err := p.Replug(); err != nil {
		t.Fatal(err)
	}
	u = startTestUnit(t, cfg)
	rs := waitReceipts(t, p, 4)
	for i, r := range rs[1:] {
		if want := fmt.Sprintf("T-%06d", i+2); !strings.Contains(r.Text, want) || !r.Cut {
			t.Errorf("receipt %d after the restart is not %s:\n%s", i+2, want, r.Text)
		}
	}

	// A reprint is a marked copy; the document counts it.
	job, err := u.a.Store().QueueCopy(2, "manager", time.Now())
	if err != nil || job.Copy != 1 {
		t.Fatalf("QueueCopy = %+v, %v", job, err)
	}
	copyReceipt := waitReceipts(t, p, 5)[4]
	if !strings.Contains(copyReceipt.Text, "COPY") || !strings.Contains(copyReceipt.Text, "T-000002") {
		t.Errorf("reprint:\n%s", copyReceipt.Text)
	}
	waitFor(t, "the copy to be counted", 10*time.Second, func() bool {
		d, _ := u.a.Store().Document(2)
		return d.Copies == 1
	})
	if n := len(complete(p.Receipts())); n != 5 {
		t.Errorf("%d complete receipts, want 5 (4 originals and 1 copy)", n)
	}
}

// TestDemoPrintsReceipt: `egsd run --demo` as a newcomer starts it — the
// ZATCA simulator and the virtual printer — onboards, and a sale comes out
// as a receipt PNG in the demo directory whose QR is the document's, and
// is reported to the simulator.
func TestDemoPrintsReceipt(t *testing.T) {
	data := filepath.Join(t.TempDir(), "demo")
	d, c, ans := demoSale(t, data, "demo-1", []byte(`{"kind":"invoice","lines":[{"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"15"}]}`))
	defer d.stop()
	var doc struct {
		Receipt stamping.ReceiptInfo `json:"receipt"`
		Counter uint64               `json:"counter"`
	}
	if err := json.Unmarshal(ans.Body, &doc); err != nil || doc.Receipt.QR == "" {
		t.Fatalf("sale answer: %v %s", err, ans.Body)
	}
	png := filepath.Join(data, "receipts", "receipt-0001.png")
	waitFor(t, "the receipt file", 30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(data, "receipts", "receipt-0001.txt"))
		return err == nil
	})
	f, err := os.Open(png)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := imagepng.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := qrscan.Decode(img)
	if err != nil || len(got) != 1 || got[0] != doc.Receipt.QR {
		t.Fatalf("QR read from %s: %d codes, %v; want the document's", png, len(got), err)
	}
	if !strings.Contains(d.log.String(), "receipt-0001.png") {
		t.Error("the log does not say where the receipt was written")
	}
	waitFor(t, "the sale to be reported", 30*time.Second, func() bool {
		a, err := c.do(context.Background(), http.MethodGet, fmt.Sprintf("/v1/documents/%d", doc.Counter), nil, nil)
		return err == nil && strings.Contains(string(a.Body), `"status":"accepted`)
	})
}

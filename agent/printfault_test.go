package agent

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/device"
	"github.com/egsd/egsd/device/fakeprinter"
	"github.com/egsd/egsd/device/serialport"
	"github.com/egsd/egsd/queue"
)

// faultyPort panics in Write on a job whose bytes hold the marker: a
// defect in the port or driver code, met on one receipt's data.
type faultyPort struct {
	serialport.Port
	marker []byte
	panics *atomic.Int32
}

func (f *faultyPort) Write(b []byte) (int, error) {
	if bytes.Contains(b, f.marker) {
		f.panics.Add(1)
		panic("index out of range [7] with length 7")
	}
	return f.Port.Write(b)
}

// startPrintWorker runs the agent's print worker until the test ends or
// the returned stop is called.
func startPrintWorker(t *testing.T, a *Agent) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.print.run(ctx) })
	stop = sync.OnceFunc(func() { cancel(); wg.Wait() })
	t.Cleanup(stop)
	return stop
}

// TestPrinterFaultSetsReceiptAside: a panic in the printer code while a
// receipt prints (here in the port's Write, on the driver's write
// goroutine) costs that receipt only. The job is set aside as failed with
// the reason, sales are still answered, the next receipt prints, and a
// restart does not send the failed receipt again (a daemon that crashed on
// it would crash on every start).
func TestPrinterFaultSetsReceiptAside(t *testing.T) {
	p, err := fakeprinter.Start(fakeprinter.Options{WidthDots: 576})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	cfg := testConfig(t)
	cfg.Printer.Enabled = true
	cfg.Printer.Port = p.Path()
	cfg.Printer.ReplyTimeout = Duration{500 * time.Millisecond}
	cfg.Printer.RetryEvery = Duration{100 * time.Millisecond}
	var panics atomic.Int32
	open := func(sc serialport.Config) (serialport.Port, error) {
		port, err := serialport.Open(sc)
		if err != nil {
			return nil, err
		}
		return &faultyPort{Port: port, marker: []byte("PANIC-ME"), panics: &panics}, nil
	}
	ft := device.NewFakeTime(t0)
	start := func() *harness {
		a, err := New(cfg, Options{Time: ft, Logger: zerolog.Nop(), Version: "test", OpenPrinterPort: open})
		if err != nil {
			t.Fatal(err)
		}
		h := &harness{t: t, cfg: cfg, ft: ft, a: a}
		t.Cleanup(h.close)
		return h
	}
	// waitPrinted waits until the printer has cut n receipts and the agent
	// has its confirmation of the last one: only the failed job is left.
	waitPrinted := func(h *harness, n int) []fakeprinter.Receipt {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		rs, err := p.WaitReceipts(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		for {
			if jobs, err := h.a.Store().PrintJobs(0); err != nil || len(jobs) <= 1 {
				return rs
			}
			select {
			case <-ctx.Done():
				t.Fatal("the printed receipt's job stayed queued")
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	saleOf := func(name string) string {
		return `{"kind":"invoice","lines":[{"name":"` + name + `","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15"}]}`
	}

	h := start()
	stop := startPrintWorker(t, h.a)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "s1", saleOf("PANIC-ME tea"))
	h.mustSale(cashier, "s2", saleOf("Coffee"))
	if rs := waitPrinted(h, 1); !strings.Contains(rs[0].Text, "Coffee") {
		t.Fatalf("the receipt after the failed one:\n%s", rs[0].Text)
	}
	jobs, err := h.a.Store().PrintJobs(0)
	if err != nil || len(jobs) != 1 || jobs[0].Counter != 1 || jobs[0].State != queue.PrintFailed ||
		!strings.Contains(jobs[0].LastError, "egsd failed while printing this receipt (index out of range") {
		t.Fatalf("print queue = %+v, %v; want receipt 1 set aside with the reason", jobs, err)
	}
	if w := h.sale(cashier, "s3", saleOf("Water")); w.Code != http.StatusCreated {
		t.Fatalf("a sale after the fault = %d %s", w.Code, w.Body)
	}
	waitPrinted(h, 2)
	if st := h.status(cashier); st.Printer == nil || st.Printer.Queue.Failed != 1 {
		t.Errorf("status printer = %+v, want 1 failed receipt", st.Printer)
	}
	stop()
	h.close()

	h = start()
	startPrintWorker(t, h.a)
	h.mustSale(h.login("ana", testPassword), "s4", saleOf("Juice"))
	if rs := waitPrinted(h, 3); !strings.Contains(rs[2].Text, "Juice") {
		t.Fatalf("the receipt after the restart:\n%s", rs[2].Text)
	}
	if n := panics.Load(); n != 1 {
		t.Errorf("the faulty receipt was sent %d times, want once (not again after the restart)", n)
	}
	if jobs, _ := h.a.Store().PrintJobs(0); len(jobs) != 1 || jobs[0].State != queue.PrintFailed {
		t.Errorf("print queue after the restart = %+v", jobs)
	}
}

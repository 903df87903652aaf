package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/agent"
)

var randRead = rand.Read

// benchSale is a typical three-line simplified sale.
const benchSale = `{"kind":"invoice","lines":[
 {"name":"Arabic coffee 250g","quantity":"2","unit_price":"18.50","vat_category":"S","vat_rate":"15","seller_code":"C-250"},
 {"name":"Dates, Sukkari 1kg","quantity":"1.250","unit_price":"32.00","vat_category":"S","vat_rate":"15"},
 {"name":"Bottled water 330ml","quantity":"12","unit_price":"0.75","vat_category":"S","vat_rate":"15"}],
 "payments":[{"means":"cash"}]}`

func runBench(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "bench", "bench --clients N --sales M [--user U --password P] | bench --prefill N (--data DIR | --config FILE) [--demo]")
	clients := fs.Int("clients", 1, "concurrent clients")
	sales := fs.Int("sales", 1000, "sales in all")
	user := fs.String("user", "cashier", "cashier to log in as")
	password := fs.String("password", "cashier-demo", "its password")
	prefill := fs.Int("prefill", 0, "write this many documents straight into a stopped unit's journal, then exit")
	cfgFlag := fs.String("config", "", "with --prefill: configuration file")
	dataFlag := fs.String("data", "", "with --prefill: data directory")
	demo := fs.Bool("demo", false, "with --prefill: use the demo settings of 'egsd run --demo'")
	waitDelivery := fs.Duration("wait-delivery", 2*time.Minute, "after the run, wait up to this long for the outbox to empty and report the rate of sales issued and delivered (0: do not wait)")
	af := addAPIAddressFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *prefill > 0 {
		return benchPrefill(ctx, io, *prefill, *cfgFlag, *dataFlag, *demo)
	}
	if *clients < 1 || *sales < 1 {
		return usagef("--clients and --sales must be at least 1")
	}
	c, err := af.client(io, false)
	if err != nil {
		return err
	}
	var sess agent.SessionView
	if err := c.postJSON(ctx, "/v1/sessions", map[string]string{"user": *user, "password": *password}, &sess); err != nil {
		return fmt.Errorf("log in as %s: %w", *user, err)
	}
	c.token = sess.Token

	latencies := make([]time.Duration, *sales)
	var next atomic.Int64
	var failures atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range *clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= *sales {
					return
				}
				key, _ := randomKey()
				t0 := time.Now()
				_, err := c.do(ctx, http.MethodPost, "/v1/sales", http.Header{"Idempotency-Key": {key}}, []byte(benchSale), nil)
				latencies[i] = time.Since(t0)
				if err != nil {
					failures.Add(1)
					errOnce.Do(func() { firstErr = err })
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
	fmt.Fprintf(io.Stdout, "sales      %d in %s with %d clients: %.1f sales/s, %d failed\n",
		*sales, elapsed.Round(time.Millisecond), *clients, float64(*sales)/elapsed.Seconds(), failures.Load())
	fmt.Fprintf(io.Stdout, "latency    p50 %s  p95 %s  p99 %s  max %s\n",
		pct(0.50).Round(time.Microsecond), pct(0.95).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), latencies[len(latencies)-1].Round(time.Microsecond))
	var st agent.Status
	if err := c.get(ctx, "/v1/status", &st); err == nil {
		fmt.Fprintf(io.Stdout, "agent      %d documents in the journal, RSS %.1f MB right after the run (%.1f MB anonymous)\n",
			st.Counter, mb(st.RSSBytes), mb(st.RSSAnonBytes))
		if st.Printer != nil {
			// Receipts print at the printer's pace, after the sale is answered.
			fmt.Fprintf(io.Stdout, "printer    %d receipts queued right after the run\n", st.Printer.Queue.Queued)
		}
		if st.Submission.Enabled {
			reportDelivery(ctx, io, c, st.Outbox.Pending, *sales, start, start.Add(elapsed), *waitDelivery)
		}
		// The store's file pages are released every 250 ms; show what stays.
		time.Sleep(time.Second)
		if err := c.get(ctx, "/v1/status", &st); err == nil {
			fmt.Fprintf(io.Stdout, "agent      RSS %.1f MB at rest (%.1f MB anonymous)\n", mb(st.RSSBytes), mb(st.RSSAnonBytes))
		}
	}
	if firstErr != nil {
		return fmt.Errorf("%s failed; first error: %w", plural(int(failures.Load()), "sale", "sales"), firstErr)
	}
	return nil
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// reportDelivery says how many documents wait for the authority after a
// run of sales from start to end, and waits up to wait for them: sales/s
// counts the sales answered, not the documents delivered, which a unit
// that submits must also keep up with.
func reportDelivery(ctx context.Context, io IO, c *client, pending, sales int, start, end time.Time, wait time.Duration) {
	fmt.Fprintf(io.Stdout, "outbox     %d pending right after the run\n", pending)
	if pending == 0 || wait <= 0 {
		return
	}
	for pending > 0 && time.Since(end) < wait {
		time.Sleep(50 * time.Millisecond)
		var st agent.Status
		if err := c.get(ctx, "/v1/status", &st); err != nil {
			fmt.Fprintf(io.Stdout, "outbox     could not read the status: %v\n", err)
			return
		}
		pending = st.Outbox.Pending
	}
	after := time.Since(end)
	if pending > 0 {
		fmt.Fprintf(io.Stdout, "outbox     %d still pending %s after the run (see egsd status)\n", pending, after.Round(time.Millisecond))
		return
	}
	fmt.Fprintf(io.Stdout, "outbox     empty %s after the run: %.1f sales/s issued and delivered\n",
		after.Round(time.Millisecond), float64(sales)/time.Since(start).Seconds())
}

// benchPrefill fills a stopped unit's journal through the real issue
// pipeline without fsync, so that latency can be measured on a large journal.
func benchPrefill(ctx context.Context, io IO, n int, cfgFlag, dataFlag string, demo bool) error {
	var cfg agent.Config
	if demo {
		if dataFlag == "" {
			return usagef("--prefill --demo needs --data")
		}
		cfg = agent.DemoConfig(dataFlag)
	} else {
		var err error
		if cfg, err = localConfig(io, cfgFlag, dataFlag); err != nil {
			return err
		}
	}
	a, err := agent.New(cfg, agent.Options{Logger: zerolog.Nop(), Version: Version, UnsafeNoSync: true})
	if err != nil {
		return err
	}
	defer a.Close()
	start := time.Now()
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				key, _ := randomKey()
				if _, _, err := a.Issue(ctx, "prefill", key, []byte(benchSale)); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				if i%100000 == 0 {
					fmt.Fprintf(io.Stderr, "prefill: %d/%d (%.0f/s)\n", i, n, float64(i)/time.Since(start).Seconds())
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("prefill: %w", firstErr)
	}
	if err := a.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	fmt.Fprintf(io.Stdout, "prefilled %d documents in %s\n", n, time.Since(start).Round(time.Second))
	return nil
}

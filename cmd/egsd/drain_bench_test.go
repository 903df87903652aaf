//go:build unix

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/egsd/egsd/agent"
	zatcasim "github.com/egsd/egsd/sim/zatca"
)

// BenchmarkDrainBacklog issues a backlog of simplified documents while the
// simulator is down, then brings it back with 20 ms of latency per request
// and measures how fast the agent drains the backlog with reporting
// concurrency 8, and its resident memory meanwhile. Run with
// go test -run '^$' -bench DrainBacklog -benchtime 1x ./cmd/egsd/
// (-drain.docs sets the backlog; 10,000 by default).
var drainDocs = flag.Int("drain.docs", 10000, "backlog size of BenchmarkDrainBacklog")

// drainCPUProfile profiles the drain alone (go test's -cpuprofile also
// covers issuing the backlog while the simulator is down).
var drainCPUProfile = flag.String("drain.cpuprofile", "", "write a CPU profile of the drain phase of BenchmarkDrainBacklog to `file`")

func BenchmarkDrainBacklog(b *testing.B) {
	for b.Loop() {
		drainBacklog(b, *drainDocs)
	}
}

func drainBacklog(b *testing.B, docs int) {
	u := newZATCAUnit(b, func(c *agent.Config) {
		c.Submit.Concurrency = 8
		c.Submit.OutageAfter = agent.Duration{Duration: time.Hour}
	})
	u.sim.SetDown(true)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= docs {
					return
				}
				body := fmt.Sprintf(`{"kind":"invoice","lines":[{"name":"Tea","quantity":"%d","unit_price":"4.35","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]}`, i%9+1)
				if _, _, err := u.a.Issue(context.Background(), "cashier", fmt.Sprint("backlog-", i), []byte(body)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := u.sim.SetFaults(zatcasim.Faults{Latency: 20 * time.Millisecond}); err != nil {
		b.Fatal(err)
	}
	if *drainCPUProfile != "" {
		f, err := os.Create(*drainCPUProfile)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	u.sim.SetDown(false)
	cpu0 := processCPU()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	if _, err := u.a.Replay("bench"); err != nil {
		b.Fatal(err)
	}
	var maxRSS, maxAnon uint64
	for u.pending() > 0 {
		st, _ := u.a.Status()
		maxRSS, maxAnon = max(maxRSS, st.RSSBytes), max(maxAnon, st.RSSAnonBytes)
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if got := len(u.sim.Accepted(u.token)); got != docs {
		b.Fatalf("simulator accepted %d of %d documents", got, docs)
	}
	b.ReportMetric(float64(docs)/elapsed.Seconds(), "docs/s")
	// The agent and the simulator share the process: CPU time per document
	// is both together, and less affected than docs/s by other load on
	// the machine.
	b.ReportMetric(cpu.Seconds()*1000/float64(docs), "cpu-ms/doc")
	b.ReportMetric(float64(ms.TotalAlloc-ms0.TotalAlloc)/1024/float64(docs), "alloc-KB/doc")
	b.ReportMetric(float64(ms.NumGC-ms0.NumGC)/float64(docs), "GCs/doc")
	b.ReportMetric(float64(maxRSS)/(1<<20), "max-RSS-MB")
	b.ReportMetric(float64(maxAnon)/(1<<20), "max-anon-MB")
}

// processCPU is the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

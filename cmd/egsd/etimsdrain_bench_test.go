//go:build unix

package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/egsd/egsd/agent"
	etimssim "github.com/egsd/egsd/sim/etims"
	"github.com/egsd/egsd/sim/simnet"
	"github.com/egsd/egsd/stamping/etims"
)

// BenchmarkETIMSDrain issues a backlog of Kenyan sales while KRA's
// simulator is down, then brings it back with 20 ms of latency per request
// and measures how fast the agent drains it with one request in flight
// (the bound is 1 / 20 ms = 50 documents/s), the CPU per document and the
// resident memory meanwhile. Run with
// go test -run '^$' -bench ETIMSDrain -benchtime 1x ./cmd/egsd/
var etimsDrainDocs = flag.Int("etims.docs", 2000, "backlog size of BenchmarkETIMSDrain")

func BenchmarkETIMSDrain(b *testing.B) {
	for b.Loop() {
		etimsDrain(b, *etimsDrainDocs)
	}
}

func etimsDrain(b *testing.B, docs int) {
	u := newETIMSUnit(b, func(c *agent.Config) {
		c.Submit.OutageAfter = agent.Duration{Duration: time.Hour}
	})
	u.sim.SetDown(true)
	for i := range docs {
		if _, _, err := u.a.Issue(context.Background(), "ana", fmt.Sprint("backlog-", i), []byte(keSale(i))); err != nil {
			b.Fatal(err)
		}
	}
	if err := u.sim.SetFaults(etimssim.Faults{Knobs: simnet.Knobs{Latency: 20 * time.Millisecond}}); err != nil {
		b.Fatal(err)
	}
	u.sim.SetDown(false)
	cpu0 := processCPU()
	start := time.Now()
	if _, err := u.a.Replay("bench"); err != nil {
		b.Fatal(err)
	}
	var maxRSS uint64
	for u.pending() > 0 {
		st, _ := u.a.Status()
		maxRSS = max(maxRSS, st.RSSBytes)
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	if got := len(u.sim.Sales(etims.OSCU, kePIN, "00")); got != docs {
		b.Fatalf("KRA accepted %d of %d documents", got, docs)
	}
	runtime.GC()
	b.ReportMetric(float64(docs)/elapsed.Seconds(), "docs/s")
	// The agent and the simulator share the process: CPU per document is
	// both together.
	b.ReportMetric(cpu.Seconds()*1000/float64(docs), "cpu-ms/doc")
	b.ReportMetric(float64(maxRSS)/(1<<20), "max-RSS-MB")
}

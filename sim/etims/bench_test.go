package etimssim

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/egsd/egsd/sim/simnet"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/etims"
)

// BenchmarkDrain delivers a backlog one request at a time, as the
// submission sequence must, against a simulator with 20 ms latency: the
// bound is 50 documents a second. It reports documents/s and the heap in
// use while draining. Run with -benchtime=2000x for the full backlog.
func BenchmarkDrain(b *testing.B) {
	h := newHarness(b, Config{Faults: Faults{Knobs: simnet.Knobs{Latency: 20 * time.Millisecond}, Operations: []etims.Operation{etims.OpSaveSale}}})
	c := h.unit(etims.OSCU)
	h.register(c)
	templates := make([][]byte, b.N)
	for i := range templates {
		templates[i] = template(b, c, invoice(catalogue[i%len(catalogue)]), fmt.Sprint("KE-", i+1), issued)
	}
	var seq etims.Sequence
	var ms runtime.MemStats
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		n, err := seq.Assign(uint64(i + 1))
		if err != nil {
			b.Fatal(err)
		}
		req, err := etims.Number(templates[i], n, 0)
		if err != nil {
			b.Fatal(err)
		}
		res := c.Deliver(ctx, req, false)
		if res.Outcome != stamping.Accepted {
			b.Fatalf("document %d: %v %q", i+1, res.Outcome, res.Messages)
		}
		if err := seq.Settle(uint64(i+1), res.Outcome); err != nil {
			b.Fatal(err)
		}
		if i == b.N/2 {
			runtime.ReadMemStats(&ms)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "docs/s")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
}

package queue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
)

// benchBody is a sale of about 1.5 KB once stamped: eight lines with names,
// codes and amounts, like a supermarket receipt.
var benchBody = func() []byte {
	type line struct {
		Name, Quantity, UnitPrice, Category, Rate, SellerCode, StandardCode string
	}
	var lines []line
	for i := range 8 {
		lines = append(lines, line{fmt.Sprintf("Item %02d %s", i, strings.Repeat("x", 20)), "1.000", "12.5000", "S", "15.00", fmt.Sprintf("SKU-%06d", i), "6281000000000"})
	}
	b, _ := json.Marshal(map[string]any{"kind": "invoice", "currency": "SAR", "lines": lines})
	return b
}()

// BenchmarkIssue measures issued documents per second with a real fsync
// per commit: one commit per document (MaxBatch 1) against group commit,
// with one issuer and with eight concurrent ones. With one issuer, group
// commit has nothing to group; with eight, it shares each fsync.
func BenchmarkIssue(b *testing.B) {
	for _, mode := range []struct {
		name     string
		maxBatch int
	}{
		{"per-document", 1},
		{"group", 0},
	} {
		for _, issuers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/issuers=%d", mode.name, issuers), func(b *testing.B) {
				s := queuetest.Open(b, &queue.Options{MaxBatch: mode.maxBatch})
				// One warm-up document sets the regime and grows the file.
				queuetest.Issue(b, s, "warmup", "warmup", benchBody)
				reqs := make([]*queue.IssueRequest, b.N)
				for i := range reqs {
					reqs[i] = queuetest.Request(fmt.Sprintf("cashier%d", i%issuers), fmt.Sprint(i), benchBody)
				}
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for range issuers {
					wg.Go(func() {
						for {
							i := next.Add(1) - 1
							if i >= int64(b.N) {
								return
							}
							if _, err := s.Issue(context.Background(), reqs[i]); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
				last, err := s.Document(uint64(b.N) + 1)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(last.Document)), "doc-bytes")
			})
		}
	}
}

// BenchmarkIssueAndAnswer is a unit that issues and delivers at once: eight
// issuers issue documents for submission while eight submitters record the
// authority's answer for each, as the agent's submitter does. With one
// commit per call, every answer costs its own fsync and takes the write
// lock from the issuers; with group commit, answers share the commits of
// the documents issued meanwhile.
func BenchmarkIssueAndAnswer(b *testing.B) {
	for _, mode := range []struct {
		name     string
		maxBatch int
	}{
		{"per-call", 1},
		{"group", 0},
	} {
		b.Run(mode.name, func(b *testing.B) {
			s := queuetest.Open(b, &queue.Options{MaxBatch: mode.maxBatch})
			queuetest.Issue(b, s, "warmup", "warmup", benchBody)
			reqs := make([]*queue.IssueRequest, b.N)
			for i := range reqs {
				reqs[i] = queuetest.Request(fmt.Sprintf("cashier%d", i%8), fmt.Sprint(i), benchBody)
				reqs[i].Submit = true
			}
			issued := make(chan uint64, b.N)
			var next atomic.Int64
			var issuers, answerers sync.WaitGroup
			b.ResetTimer()
			for range 8 {
				issuers.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						res, err := s.Issue(context.Background(), reqs[i])
						if err != nil {
							b.Error(err)
							return
						}
						issued <- res.Record.Counter
					}
				})
				answerers.Go(func() {
					for counter := range issued {
						if err := s.RecordAnswer(counter, queue.Answer{Status: queue.StatusAccepted, Body: []byte(`{"reportingStatus":"REPORTED"}`)}); err != nil {
							b.Error(err)
						}
					}
				})
			}
			issuers.Wait()
			close(issued)
			answerers.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
			if st, err := s.OutboxStats(); err != nil || st.Pending != 0 {
				b.Fatalf("outbox after the run: %+v, %v", st, err)
			}
		})
	}
}

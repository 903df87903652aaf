package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
	_ "github.com/egsd/egsd/stamping/testregime"
)

const benchSale = `{"kind":"invoice","lines":[
 {"name":"Arabic coffee 250g","quantity":"2","unit_price":"18.50","vat_category":"S","vat_rate":"15"},
 {"name":"Dates 1kg","quantity":"1.250","unit_price":"32.00","vat_category":"S","vat_rate":"15"},
 {"name":"Water 330ml","quantity":"12","unit_price":"0.75","vat_category":"S","vat_rate":"15"}]}`

func benchAgent(b *testing.B) *agent.Agent {
	cfg := agent.DemoConfig(b.TempDir())
	cfg.Auth.BcryptCost = 4
	a, err := agent.New(cfg, agent.Options{Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	return a
}

// BenchmarkIssue is the issue pipeline without HTTP: decode, validate,
// stamp, commit (with fsync), for 1 and 8 concurrent callers.
func BenchmarkIssue(b *testing.B) {
	for _, callers := range []int{1, 8} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			a := benchAgent(b)
			var n atomic.Int64
			b.SetParallelism(callers)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := fmt.Sprintf("k%d", n.Add(1))
					if _, _, err := a.Issue(context.Background(), "cashier", key, []byte(benchSale)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sales/s")
		})
	}
}

// BenchmarkSaleHTTP is POST /v1/sales over loopback with a session.
func BenchmarkSaleHTTP(b *testing.B) {
	a := benchAgent(b)
	if _, err := a.Auth().AddUser(queue.SystemActor, "cashier", "cashier", "cashier-password"); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	token, _, err := a.Auth().Login("cashier", "cashier-password", "bench")
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/sales", bytes.NewReader([]byte(benchSale)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Idempotency-Key", fmt.Sprintf("k%d", n.Add(1)))
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body) // drained, so the connection is reused
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sales/s")
}

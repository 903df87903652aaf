package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/device/fakeprinter"
	"github.com/egsd/egsd/queue"
)

// BenchmarkSaleToPrinted measures, for a typical Phase 2 simplified
// receipt (a ZATCA unit onboarded with the simulator; the title and the
// seller's name in Arabic and English, three lines, the stamped QR), the bytes on the printer's wire and the time from POST
// /v1/sales to the printer's GS r 1 confirmation (the document's
// printed_at), on the fake printer at line speed: 9600 and 115200 baud
// (960 and 11,520 bytes/s), native QR on an 80 mm profile and raster QR
// (GS v 0, printer-side ×2) on a 58 mm one. Run with
// go test -run '^$' -bench SaleToPrinted -benchtime 10x ./cmd/egsd/
func BenchmarkSaleToPrinted(b *testing.B) {
	for _, profile := range []string{"generic-80mm", "raster-58mm"} {
		for _, baud := range []int{9600, 115200} {
			b.Run(fmt.Sprintf("%s/%d", profile, baud), func(b *testing.B) {
				width := 576
				if profile == "raster-58mm" {
					width = 384
				}
				p := startPrinter(b, fakeprinter.Options{WidthDots: width, BytesPerSecond: baud / 10})
				u := newZATCAUnit(b, func(c *agent.Config) {
					withPrinter(p)(c)
					c.Seller.NameLocal = "شركة السرعة القصوى للتوريدات التقنية" // printed as an Arabic line
					c.Printer.Profile = profile
					c.Printer.Baud = baud
					c.Printer.JobTimeout = agent.Duration{Duration: time.Minute}
				})
				token := benchToken(b, u.a)
				var latencies []time.Duration
				var wire []int64
				i := 0
				for b.Loop() {
					before := p.Stats().BytesReceived
					start := time.Now()
					counter := postSale(b, u.a, token, fmt.Sprint("print-", i),
						`{"kind":"invoice","lines":[{"name":"Arabic coffee 250g","quantity":"2","unit_price":"18.50","vat_category":"S","vat_rate":"15"},`+
							`{"name":"Dates, Sukkari 1kg","quantity":"1","unit_price":"32.00","vat_category":"S","vat_rate":"15"},`+
							`{"name":"Fresh bread","quantity":"3","unit_price":"1.00","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]}`)
					var printedAt time.Time
					waitFor(b, "the receipt's confirmation", 2*time.Minute, func() bool {
						rec, err := u.a.Store().Document(counter)
						if err != nil {
							b.Fatal(err)
						}
						printedAt = rec.PrintedAt
						return !printedAt.IsZero()
					})
					latencies = append(latencies, printedAt.Sub(start))
					wire = append(wire, p.Stats().BytesReceived-before)
					i++
				}
				slices.Sort(latencies)
				slices.Sort(wire)
				b.ReportMetric(float64(latencies[len(latencies)/2].Milliseconds()), "ms-to-printed-p50")
				b.ReportMetric(float64(latencies[len(latencies)-1].Milliseconds()), "ms-to-printed-max")
				b.ReportMetric(float64(wire[len(wire)/2]), "wire-bytes")
				b.ReportMetric(float64(wire[len(wire)/2])*10/float64(baud), "wire-s")
			})
		}
	}
}

// benchToken adds a cashier to a and logs in through the API.
func benchToken(b testing.TB, a *agent.Agent) string {
	b.Helper()
	if _, err := a.Auth().AddUser(queue.SystemActor, "till", "cashier", "till-password-1"); err != nil {
		b.Fatal(err)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/v1/sessions", bytes.NewReader([]byte(`{"user":"till","password":"till-password-1"}`)))
	r.Header.Set("Content-Type", "application/json")
	a.Handler().ServeHTTP(w, r)
	var sess agent.SessionView
	if err := json.Unmarshal(w.Body.Bytes(), &sess); err != nil || sess.Token == "" {
		b.Fatalf("login: %d %s", w.Code, w.Body)
	}
	return sess.Token
}

// serveSale posts a sale through the API and returns the answer.
func serveSale(a *agent.Agent, token, key, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/v1/sales", bytes.NewReader([]byte(body)))
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Idempotency-Key", key)
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, r)
	return w
}

// postSale posts a sale through the API and returns its counter.
func postSale(b testing.TB, a *agent.Agent, token, key, body string) uint64 {
	b.Helper()
	w := serveSale(a, token, key, body)
	if w.Code != http.StatusCreated {
		b.Fatalf("POST /v1/sales = %d %s", w.Code, w.Body)
	}
	var v agent.DocumentView
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		b.Fatal(err)
	}
	return v.Counter
}

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
	ofdsim "github.com/egsd/egsd/sim/ofd"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/kz"
)

// BenchmarkKZAutonomousDrain issues a backlog of Kazakh sales while the
// OFD simulator is down (they are signed autonomously), then brings it
// back with 20 ms of latency per request and measures how fast the agent
// delivers the backlog with one request in flight (the bound is 1 / 20 ms
// = 50 tickets/s). Run with
// go test -run '^$' -bench KZAutonomousDrain -benchtime 1x ./cmd/egsd/
var kzDrainDocs = flag.Int("kz.docs", 2000, "backlog size of BenchmarkKZAutonomousDrain")

func BenchmarkKZAutonomousDrain(b *testing.B) {
	for b.Loop() {
		kzDrain(b, *kzDrainDocs)
	}
}

func kzDrain(b *testing.B, docs int) {
	u := newKZUnit(b, nil, func(c *agent.Config) {
		c.Submit.OutageAfter = agent.Duration{Duration: time.Hour}
	}, agent.Options{})
	u.sim.KeepFrames = false
	u.sim.SetDown(true)
	rg := u.a.Regime().(*kz.Regime)
	if _, _, err := u.a.Issue(context.Background(), "ana", "in-flight", []byte(kzSale(0))); err != nil {
		b.Fatal(err)
	}
	waitFor(b, "the unit to notice the OFD is gone", 30*time.Second, func() bool { on, _ := rg.Autonomous(); return on })
	for i := range docs - 1 {
		if _, _, err := u.a.Issue(context.Background(), "ana", fmt.Sprint("backlog-", i), []byte(kzSale(i+1))); err != nil {
			b.Fatal(err)
		}
	}
	u.sim.SetFaults(ofdsim.Faults{Latency: 20 * time.Millisecond})
	cpu0 := processCPU()
	start := time.Now()
	if _, err := u.a.Replay("bench"); err != nil {
		b.Fatal(err)
	}
	for u.pending() > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	if got := len(u.sim.Tickets(kzKKMID)); got != docs {
		b.Fatalf("the OFD registered %d of %d tickets", got, docs)
	}
	runtime.GC()
	b.ReportMetric(float64(docs)/elapsed.Seconds(), "tickets/s")
	b.ReportMetric(cpu.Seconds()*1000/float64(docs), "cpu-ms/ticket")
}

// BenchmarkKZTicketJournal measures what a Kazakh ticket costs the unit
// before it goes out: the sale mapped and encoded as a TICKET, journalled
// in the store (group commit, fsync on), and framed with the session's
// header as it would be sent; submission is off, so nothing is sent.
// Autonomous, each ticket is issued with its autonomous sign and its
// signed archive record, sealed in the issue transaction: the difference
// is what sealing costs a ticket at issue.
func BenchmarkKZTicketJournal(b *testing.B) {
	b.Run("online", func(b *testing.B) {
		u := newKZUnit(b, nil, func(c *agent.Config) { c.Submit.Enabled = false }, agent.Options{})
		kzJournal(b, u, false)
	})
	b.Run("autonomous", func(b *testing.B) {
		// Submission stays off, so that the submitter's rounds over the
		// growing backlog are not counted: the regime learns that the OFD
		// is down from one sending of the first ticket, made here.
		u := newKZUnit(b, nil, func(c *agent.Config) { c.Submit.Enabled = false }, agent.Options{})
		u.sim.SetDown(true)
		rec, _, err := u.a.Issue(context.Background(), "ana", "in-flight", []byte(kzSale(0)))
		if err != nil {
			b.Fatal(err)
		}
		rg := u.a.Regime().(*kz.Regime)
		sub := stamping.Submission{Slot: stamping.Slot{Counter: rec.Counter, UUID: rec.UUID}, Document: rec.Document, Attempt: 1}
		if res, _ := rg.SubmitSession(context.Background(), sub, nil, func([]byte) error { return nil }); res.Outcome != stamping.Retryable {
			b.Fatalf("the first ticket with the OFD down: %v %v", res.Outcome, res.Messages)
		}
		kzJournal(b, u, true)
	})
}

// kzJournal issues the benchmark's tickets on u, each autonomous or not.
func kzJournal(b *testing.B, u *kzUnit, autonomous bool) {
	sess := &kz.Session{ID: kzKKMID, Token: kzToken}
	body := []byte(kzSale(1))
	cpu0 := processCPU()
	i := 0
	for b.Loop() {
		rec, _, err := u.a.Issue(context.Background(), "ana", fmt.Sprint("bench-", i), body)
		if err != nil {
			b.Fatal(err)
		}
		i++
		req, err := kz.UnmarshalRequest(rec.Document)
		if err != nil {
			b.Fatal(err)
		}
		if (req.Ticket.OfflineTicketNumber != 0) != autonomous {
			b.Fatalf("document %d: autonomous sign %d, want autonomous %v", rec.Counter, req.Ticket.OfflineTicketNumber, autonomous)
		}
		if _, err := sess.Begin(req); err != nil {
			b.Fatal(err)
		}
		sess.Pending = nil
	}
	b.ReportMetric((processCPU()-cpu0).Seconds()*1000/float64(i), "cpu-ms/ticket")
}

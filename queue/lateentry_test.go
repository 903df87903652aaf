package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
)

// TestHeartbeat records the last heartbeat through the writer and reads
// it back, including a clean stop; a new store has none.
func TestHeartbeat(t *testing.T) {
	s := queuetest.Open(t, nil)
	if _, ok, err := s.LastHeartbeat(); ok || err != nil {
		t.Fatalf("a new store has a heartbeat: ok %v, err %v", ok, err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("AST", 3*3600))
	if err := s.Beat(queue.Heartbeat{At: at}); err != nil {
		t.Fatal(err)
	}
	hb, ok, err := s.LastHeartbeat()
	if !ok || err != nil || !hb.At.Equal(at) || hb.Stopped {
		t.Fatalf("LastHeartbeat = %+v, %v, %v; want %v, running", hb, ok, err, at)
	}
	if err := s.Beat(queue.Heartbeat{At: at.Add(time.Minute), Stopped: true}); err != nil {
		t.Fatal(err)
	}
	if hb, _, _ := s.LastHeartbeat(); !hb.Stopped || !hb.At.Equal(at.Add(time.Minute)) {
		t.Errorf("after a clean stop: %+v", hb)
	}
}

// TestOpenIncidentAlwaysNew opens a second incident of a kind that is
// open, with its window, where RaiseIncident would return the open one.
func TestOpenIncidentAlwaysNew(t *testing.T) {
	s := queuetest.Open(t, nil)
	w := queue.Incident{Kind: "unit_unavailable", Title: "down", Detail: "close it: egsd incidents close {id}", Start: t0, Until: t0.Add(15 * time.Minute)}
	first, err := s.OpenIncident(w, queue.SystemActor)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.OpenIncident(w, queue.UserActor("maria"))
	if err != nil || second.ID == first.ID {
		t.Fatalf("second = %+v, %v; want a new incident", second, err)
	}
	got, err := s.Incident(second.ID)
	if err != nil || !got.Start.Equal(t0) || !got.Until.Equal(t0.Add(15*time.Minute)) || !got.Open() || got.Detail != "close it: egsd incidents close 2" {
		t.Errorf("stored %+v, %v", got, err)
	}
	if _, err := s.OpenIncident(queue.Incident{Kind: "unit_unavailable"}, queue.SystemActor); err == nil {
		t.Error("an incident without a start opened")
	}
}

// TestIssueLateEntry counts a late-entered document on its incident in
// the issue transaction, records the transaction time in the document's
// audit entry, and refuses one for an incident that does not exist
// without taking a slot.
func TestIssueLateEntry(t *testing.T) {
	s := queuetest.Open(t, nil)
	inc, err := s.OpenIncident(queue.Incident{Kind: "unit_unavailable", Start: t0.Add(-time.Hour), Until: t0}, queue.SystemActor)
	if err != nil {
		t.Fatal(err)
	}
	when := t0.Add(-30 * time.Minute)
	for i, key := range []string{"k1", "k2"} {
		req := queuetest.Request("maria", key, body(i))
		req.Late = &queue.LateEntry{Incident: inc.ID, TransactionTime: when}
		if _, err := s.Issue(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	// A resend is the same document: it counts once.
	req := queuetest.Request("maria", "k1", body(0))
	req.Late = &queue.LateEntry{Incident: inc.ID, TransactionTime: when}
	if res, err := s.Issue(context.Background(), req); err != nil || !res.Replayed {
		t.Fatalf("resend: %+v, %v", res, err)
	}
	if got, _ := s.Incident(inc.ID); got.LateEntries != 2 {
		t.Errorf("LateEntries = %d, want 2", got.LateEntries)
	}
	bad := queuetest.Request("maria", "k3", body(3))
	bad.Late = &queue.LateEntry{Incident: 99, TransactionTime: when}
	if _, err := s.Issue(context.Background(), bad); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("late entry for incident 99: %v, want ErrNotFound", err)
	}
	if h, _ := s.Head(); h.Counter != 2 {
		t.Errorf("counter %d after the refusal, want 2", h.Counter)
	}
	entries, err := s.AuditEntries(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range entries {
		if e.Action == queue.AuditDocument && e.Actor == "maria" && e.Details["late_entry.incident"] == "1" &&
			e.Details["late_entry.transaction_time"] == when.Format(time.RFC3339) {
			found++
		}
	}
	if found != 2 {
		t.Errorf("%d audit entries record maria's late entries, want 2", found)
	}
}

package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
)

// TestIssueConcurrent is invariants 1–3 under load: 8 issuers × 500
// documents give counters 1..4000 with no gap or duplicate, one hash chain
// over the stored bytes, and every acknowledged document in the journal as
// it was acknowledged.
func TestIssueConcurrent(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *queue.Options
	}{
		{"group commit", nil},
		// One commit per document; NoSync keeps 4000 commits fast.
		{"per-document commit", &queue.Options{MaxBatch: 1, NoSync: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const issuers, each = 8, 500
			s := queuetest.OpenWithRehash(t, tc.opts, queuetest.Rehash)
			results := make([][]queue.IssueResult, issuers)
			var wg sync.WaitGroup
			for g := range issuers {
				wg.Go(func() {
					user := fmt.Sprintf("cashier%d", g)
					for i := range each {
						res, err := s.Issue(context.Background(), queuetest.Request(user, fmt.Sprint(i), body(g*each+i)))
						if err != nil {
							t.Errorf("%s sale %d: %v", user, i, err)
							return
						}
						results[g] = append(results[g], res)
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}

			var counters []uint64
			for g := range issuers {
				for _, res := range results[g] {
					if res.Replayed {
						t.Errorf("counter %d: a first issue says Replayed", res.Record.Counter)
					}
					counters = append(counters, res.Record.Counter)
				}
			}
			slices.Sort(counters)
			for i, c := range counters {
				if c != uint64(i+1) {
					t.Fatalf("acknowledged counters, sorted, have %d at position %d (gap or duplicate)", c, i)
				}
			}

			recs, next, err := s.Documents(0, issuers*each+1, nil)
			if err != nil || next != 0 || len(recs) != issuers*each {
				t.Fatalf("Documents = %d records, next %d, %v; want %d", len(recs), next, err, issuers*each)
			}
			prev := queuetest.Genesis
			var last time.Time
			for i, r := range recs {
				if r.Counter != uint64(i+1) {
					t.Fatalf("journal position %d holds counter %d", i, r.Counter)
				}
				if r.PrevHash != prev {
					t.Fatalf("journal[%d].PrevHash = %q, want the previous hash %q", r.Counter, r.PrevHash, prev)
				}
				if h := queuetest.Hash(r.Document); h != r.Hash {
					t.Fatalf("journal[%d]: stored bytes hash to %q, record says %q", r.Counter, h, r.Hash)
				}
				var doc queuetest.Document
				if err := json.Unmarshal(r.Document, &doc); err != nil || doc.Counter != r.Counter || doc.PrevHash != r.PrevHash || doc.UUID != r.UUID {
					t.Fatalf("journal[%d]: document %s does not carry its slot (%v)", r.Counter, r.Document, err)
				}
				if r.IssuedAt.Before(last) {
					t.Fatalf("journal[%d] issued at %v, before the previous document (%v)", r.Counter, r.IssuedAt, last)
				}
				prev, last = r.Hash, r.IssuedAt
			}
			for g := range issuers {
				for _, res := range results[g] {
					if got := recs[res.Record.Counter-1]; !sameRecord(got, res.Record) {
						t.Fatalf("journal[%d] = %+v, but Issue acknowledged %+v", res.Record.Counter, got, res.Record)
					}
				}
			}
			if h := head(t, s); h.Counter != issuers*each || h.Hash != prev {
				t.Errorf("Head = %d/%q, want %d/%q", h.Counter, h.Hash, issuers*each, prev)
			}
			rep, err := s.Check(queue.CheckOptions{Rehash: queuetest.Rehash})
			if err != nil || rep.Documents != issuers*each || rep.Audit != issuers*each || rep.Pending != 0 {
				t.Errorf("Check = %+v, %v", rep, err)
			}
		})
	}
}

// sameRecord compares the fields Issue fixes; times by instant.
func sameRecord(a, b *queue.Record) bool {
	return a.Counter == b.Counter && a.UUID == b.UUID && a.Regime == b.Regime && a.Kind == b.Kind &&
		a.IssuedAt.Equal(b.IssuedAt) && a.User == b.User && a.IdempotencyKey == b.IdempotencyKey &&
		a.PrevHash == b.PrevHash && a.Hash == b.Hash && a.ContentType == b.ContentType &&
		string(a.Document) == string(b.Document) && a.Status == b.Status
}

func TestIdempotency(t *testing.T) {
	clock := newClock()
	s := queuetest.OpenWithRehash(t, &queue.Options{Clock: clock.Clock}, queuetest.Rehash)
	first := queuetest.Issue(t, s, "alice", "sale-1", body(1))
	if first.Replayed || first.Record.Counter != 1 {
		t.Fatalf("first issue = %+v", first)
	}
	clock.Set(t0.Add(time.Minute), nil) // a resend later must not change the record's time

	again := queuetest.Issue(t, s, "alice", "sale-1", body(1))
	if !again.Replayed {
		t.Error("resend: Replayed = false")
	}
	if !reflect.DeepEqual(again.Record, first.Record) {
		t.Errorf("resend returned\n%+v\nwant the original\n%+v", again.Record, first.Record)
	}
	if h := head(t, s); h.Counter != 1 {
		t.Errorf("resend moved the counter to %d", h.Counter)
	}

	_, err := s.Issue(context.Background(), queuetest.Request("alice", "sale-1", body(2)))
	if !errors.Is(err, queue.ErrIdempotencyConflict) {
		t.Errorf("same key, other body: err = %v, want ErrIdempotencyConflict", err)
	}
	if h := head(t, s); h.Counter != 1 {
		t.Errorf("a conflicting key moved the counter to %d", h.Counter)
	}

	bob := queuetest.Issue(t, s, "bob", "sale-1", body(1))
	if bob.Replayed || bob.Record.Counter != 2 || bob.Record.User != "bob" {
		t.Errorf("same key by another user = %+v, want a new document 2", bob)
	}
	if n := auditCount(t, s); n != 2 {
		t.Errorf("audit has %d entries, want 2 (resends are not documents)", n)
	}
	// Still replayable after the conflict.
	if res := queuetest.Issue(t, s, "alice", "sale-1", body(1)); !res.Replayed || res.Record.Counter != 1 {
		t.Errorf("resend after a conflict = %+v", res)
	}
}

var errStamp = errors.New("the signer refused")

func TestStampFailures(t *testing.T) {
	s := queuetest.OpenWithRehash(t, nil, queuetest.Rehash)
	queuetest.Issue(t, s, "alice", "ok-1", body(1))

	var slots []queue.Slot
	for _, tc := range []struct {
		name    string
		stamp   func(queue.Slot) (queue.Stamped, error)
		wantErr string
	}{
		{"error", func(queue.Slot) (queue.Stamped, error) { return queue.Stamped{}, errStamp }, errStamp.Error()},
		{"panic", func(queue.Slot) (queue.Stamped, error) { panic("nil map in the builder") }, "nil map in the builder"},
		{"empty document", func(queue.Slot) (queue.Stamped, error) { return queue.Stamped{Hash: "h"}, nil }, "empty"},
		{"empty hash", func(queue.Slot) (queue.Stamped, error) { return queue.Stamped{Bytes: []byte("{}")}, nil }, "empty"},
	} {
		req := queuetest.Request("alice", "bad", body(2))
		req.Submit = true
		req.Stamp = func(slot queue.Slot) (queue.Stamped, error) {
			slots = append(slots, slot)
			return tc.stamp(slot)
		}
		_, err := s.Issue(context.Background(), req)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.wantErr)
		}
		if tc.name == "error" && !errors.Is(err, errStamp) {
			t.Errorf("the stamp's error is not wrapped: %v", err)
		}
		if h := head(t, s); h.Counter != 1 {
			t.Errorf("%s: counter moved to %d", tc.name, h.Counter)
		}
	}
	for _, sl := range slots {
		if sl.Counter != 2 {
			t.Errorf("a failed stamp was offered counter %d, want 2 every time", sl.Counter)
		}
	}
	// Nothing of the failed attempts was written: the key is still free,
	// the outbox empty, and the next document takes counter 2.
	next := queuetest.Issue(t, s, "alice", "bad", body(2))
	if next.Replayed || next.Record.Counter != 2 {
		t.Errorf("issue after failures = counter %d, replayed %v; want a new counter 2", next.Record.Counter, next.Replayed)
	}
	if st, _ := s.OutboxStats(); st.Pending != 0 {
		t.Errorf("outbox has %d entries after failed stamps", st.Pending)
	}
	if n := auditCount(t, s); n != 2 {
		t.Errorf("audit has %d entries, want 2", n)
	}
}

func TestClock(t *testing.T) {
	clock := newClock()
	dir := t.TempDir()
	s := openChecked(t, dir, &queue.Options{Clock: clock.Clock})
	first := queuetest.Issue(t, s, "alice", "1", body(1))
	if !first.Record.IssuedAt.Equal(t0) {
		t.Fatalf("IssuedAt = %v, want the clock's %v", first.Record.IssuedAt, t0)
	}

	clock.Set(t0.Add(-time.Second), nil)
	_, err := s.Issue(context.Background(), queuetest.Request("alice", "2", body(2)))
	var ce *queue.ClockError
	if !errors.As(err, &ce) || !ce.Now.Equal(t0.Add(-time.Second)) || !ce.LastIssued.Equal(t0) || ce.Cause != nil {
		t.Fatalf("clock one second back: err = %#v, want a ClockError with Now %v and LastIssued %v", err, t0.Add(-time.Second), t0)
	}

	jump := errors.New("clock jumped back 3h")
	clock.Set(t0.Add(time.Hour), jump)
	_, err = s.Issue(context.Background(), queuetest.Request("alice", "2", body(2)))
	if !errors.As(err, &ce) || !errors.Is(err, jump) || err.Error() != jump.Error() {
		t.Fatalf("clock error: err = %v, want a ClockError wrapping %v", err, jump)
	}
	if h := head(t, s); h.Counter != 1 || auditCount(t, s) != 1 {
		t.Fatalf("refused issues wrote something: head %d, audit %d", h.Counter, auditCount(t, s))
	}

	// The same instant as the last document is not earlier.
	clock.Set(t0, nil)
	if res := queuetest.Issue(t, s, "alice", "2", body(2)); res.Record.Counter != 2 {
		t.Errorf("issue at the same instant = counter %d, want 2", res.Record.Counter)
	}

	// The guard survives a restart: the last time is stored.
	s.Close()
	clock.Set(t0.Add(-time.Millisecond), nil)
	s = openChecked(t, dir, &queue.Options{Clock: clock.Clock})
	if _, err := s.Issue(context.Background(), queuetest.Request("alice", "3", body(3))); !errors.As(err, &ce) {
		t.Errorf("after reopen, clock back: err = %v, want a ClockError", err)
	}
	clock.Set(t0.Add(time.Hour), nil)
	if res := queuetest.Issue(t, s, "alice", "3", body(3)); res.Record.Counter != 3 || !res.Record.IssuedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("issue with the clock right again = %+v", res.Record)
	}
}

func TestRegimeMismatch(t *testing.T) {
	s := queuetest.OpenWithRehash(t, nil, queuetest.Rehash)
	queuetest.Issue(t, s, "alice", "1", body(1))
	id, err := s.Identity()
	if err != nil || id.Regime != queuetest.Regime || id.Genesis != queuetest.Genesis || len(id.DeviceID) != 32 {
		t.Fatalf("Identity = %+v, %v", id, err)
	}

	req := queuetest.Request("alice", "2", body(2))
	req.Regime, req.GenesisHash = "other", "other-genesis"
	if _, err := s.Issue(context.Background(), req); !errors.Is(err, queue.ErrRegimeMismatch) {
		t.Errorf("issue of another regime: err = %v, want ErrRegimeMismatch", err)
	}
	if h := head(t, s); h.Counter != 1 {
		t.Errorf("counter moved to %d", h.Counter)
	}
	if res := queuetest.Issue(t, s, "alice", "2", body(2)); res.Record.Counter != 2 {
		t.Errorf("next issue of the right regime = counter %d, want 2", res.Record.Counter)
	}
}

func TestIssueRequestChecks(t *testing.T) {
	s := queuetest.OpenWithRehash(t, nil, queuetest.Rehash)
	for name, edit := range map[string]func(*queue.IssueRequest){
		"no user":  func(r *queue.IssueRequest) { r.User = "" },
		"no key":   func(r *queue.IssueRequest) { r.IdempotencyKey = "" },
		"no UUID":  func(r *queue.IssueRequest) { r.UUID = "" },
		"no stamp": func(r *queue.IssueRequest) { r.Stamp = nil },
	} {
		req := queuetest.Request("alice", "k", body(1))
		edit(req)
		if _, err := s.Issue(context.Background(), req); err == nil {
			t.Errorf("%s: Issue accepted the request", name)
		}
	}
	if h := head(t, s); h.Counter != 0 {
		t.Errorf("invalid requests issued %d documents", h.Counter)
	}

	first := queuetest.Issue(t, s, "alice", "1", body(1))
	dup := queuetest.Request("alice", "2", body(2))
	dup.UUID = first.Record.UUID
	if _, err := s.Issue(context.Background(), dup); !errors.Is(err, queue.ErrExists) {
		t.Errorf("reused UUID: err = %v, want ErrExists", err)
	}
	if r, err := s.DocumentByUUID(first.Record.UUID); err != nil || r.Counter != 1 {
		t.Errorf("DocumentByUUID after a reused UUID = %v, %v; want document 1", r, err)
	}
	if h := head(t, s); h.Counter != 1 {
		t.Errorf("a reused UUID moved the counter to %d", h.Counter)
	}
}

func TestIssueAfterClose(t *testing.T) {
	s := queuetest.Open(t, nil)
	queuetest.Issue(t, s, "alice", "1", body(1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := s.Issue(context.Background(), queuetest.Request("alice", "2", body(2))); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Issue after Close: err = %v, want ErrClosed", err)
	}
	// A resend of an issued document too: the store cannot answer it.
	if _, err := s.Issue(context.Background(), queuetest.Request("alice", "1", body(1))); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("resend after Close: err = %v, want ErrClosed", err)
	}
}

package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	bolt "go.etcd.io/bbolt"
)

var keyAnchor = []byte("chain_anchor")

// retentionStore issues n documents, one a day from t0, all submitted;
// answered lists the counters the authority answers (accepted). The store
// is checked when the test ends.
func retentionStore(t *testing.T, dir string, n int, answered func(counter uint64) bool) (*queue.Store, *fakeClock, []*queue.Record) {
	t.Helper()
	clock := newClock()
	s := openChecked(t, dir, &queue.Options{Clock: clock.Clock, NoSync: true, Now: func() time.Time { return t0.AddDate(7, 0, 0) }})
	return s, clock, fillRetentionStore(t, s, clock, n, answered)
}

func fillRetentionStore(t *testing.T, s *queue.Store, clock *fakeClock, n int, answered func(counter uint64) bool) []*queue.Record {
	t.Helper()
	var recs []*queue.Record
	for i := range n {
		clock.Set(t0.AddDate(0, 0, i), nil)
		req := withNumber(queuetest.Request("alice", fmt.Sprint("k", i), body(i)), func(c uint64) string { return fmt.Sprint("N-", c) })
		req.Submit = true
		res, err := s.Issue(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, res.Record)
		if answered(res.Record.Counter) {
			answer(t, s, res.Record.Counter, queue.StatusAccepted, t0.AddDate(0, 0, i))
		}
	}
	return recs
}

func mustPrune(t *testing.T, s *queue.Store, opts queue.PruneOptions) queue.PruneReport {
	t.Helper()
	rep, err := s.Prune(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(queue.CheckOptions{Rehash: queuetest.Rehash}); err != nil {
		t.Fatalf("Check after pruning to %d: %v", rep.Anchor.Counter, err)
	}
	return rep
}

// TestPruneKeepsWhatMustStay: a document younger than the cut-off, one the
// authority has not answered, and one held by the archive's cursor each
// stop the prune there, and nothing after them is removed.
func TestPruneKeepsWhatMustStay(t *testing.T) {
	s, _, recs := retentionStore(t, t.TempDir(), 10, func(c uint64) bool { return c != 7 })
	remaining := func() []uint64 {
		t.Helper()
		got, _, err := s.Documents(0, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		var counters []uint64
		for _, r := range got {
			counters = append(counters, r.Counter)
		}
		return counters
	}

	// Issued before the 3rd day: documents 1 and 2.
	rep := mustPrune(t, s, queue.PruneOptions{Before: recs[2].IssuedAt})
	if rep.Removed != 2 || rep.From != 1 || rep.To != 2 || rep.Kept != 3 || !strings.Contains(rep.Reason, "within its retention period") {
		t.Errorf("prune by age = %+v", rep)
	}
	// Everything is old enough, but the archive holds 5 and above.
	rep = mustPrune(t, s, queue.PruneOptions{Before: t0.AddDate(1, 0, 0), HoldFrom: 5})
	if rep.Removed != 2 || rep.From != 3 || rep.To != 4 || rep.Kept != 5 || !strings.Contains(rep.Reason, "held") {
		t.Errorf("prune with a hold = %+v", rep)
	}
	// Document 7 is still pending: 5 and 6 go, 7 and after stay.
	rep = mustPrune(t, s, queue.PruneOptions{Before: t0.AddDate(1, 0, 0)})
	if rep.Removed != 2 || rep.To != 6 || rep.Kept != 7 || !strings.Contains(rep.Reason, "not been delivered") {
		t.Errorf("prune up to a pending document = %+v", rep)
	}
	if got := fmt.Sprint(remaining()); got != "[7 8 9 10]" {
		t.Errorf("remaining documents = %s", got)
	}
	// Nothing older than the cut-off: nothing happens, not even an audit entry.
	before := auditCount(t, s)
	if rep := mustPrune(t, s, queue.PruneOptions{Before: t0}); rep.Removed != 0 || rep.Anchor.Counter != 6 {
		t.Errorf("prune with nothing to remove = %+v", rep)
	}
	if auditCount(t, s) != before {
		t.Errorf("a prune that removed nothing wrote an audit entry")
	}
	// Once answered, the rest may go; the chain head stays where it was.
	answer(t, s, 7, queue.StatusAccepted, t0)
	rep = mustPrune(t, s, queue.PruneOptions{Before: t0.AddDate(1, 0, 0)})
	if rep.Removed != 4 || rep.Anchor.Counter != 10 || rep.Anchor.Removed != 10 || rep.Kept != 0 {
		t.Errorf("prune of the rest = %+v", rep)
	}
	if h := head(t, s); h.Counter != 10 || h.Hash != recs[9].Hash {
		t.Errorf("head after pruning everything = %+v", h)
	}
	// The next document continues the chain from the anchor.
	next := queuetest.Issue(t, s, "alice", "after", body(99)).Record
	if next.Counter != 11 || next.PrevHash != recs[9].Hash {
		t.Errorf("document after pruning: counter %d, previous hash %q", next.Counter, next.PrevHash)
	}
}

// TestPrunedDocumentsSayTheyWerePruned: a removed document is reported as
// pruned by counter, UUID and number; its idempotency key is free again; a
// note whose original was removed still checks; the audit log says what was
// removed.
func TestPrunedDocumentsSayTheyWerePruned(t *testing.T) {
	s, clock, recs := retentionStore(t, t.TempDir(), 3, func(uint64) bool { return true })
	clock.Set(t0.AddDate(0, 0, 3), nil)
	note := issueNote(t, s, "note", recs[0].Counter, 2, false)
	answer(t, s, note.Counter, queue.StatusAccepted, t0)
	rep := mustPrune(t, s, queue.PruneOptions{Before: recs[1].IssuedAt, Actor: "manager"})
	if rep.Removed != 1 {
		t.Fatalf("prune = %+v", rep)
	}
	_, err := s.Document(1)
	var pe *queue.PrunedError
	if !errors.As(err, &pe) || !errors.Is(err, queue.ErrNotFound) || pe.Anchor.Counter != 1 {
		t.Errorf("Document(1) = %v, want a PrunedError that is also ErrNotFound", err)
	}
	for _, ref := range []string{"1", recs[0].UUID, recs[0].Number} {
		if _, err := s.ResolveDocument(ref); !errors.Is(err, queue.ErrPruned) || !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("ResolveDocument(%q) = %v, want it to say the document was pruned", ref, err)
		}
	}
	if _, err := s.DocumentByUUID(recs[0].UUID); !errors.Is(err, queue.ErrPruned) {
		t.Errorf("DocumentByUUID of the pruned document = %v, want it to say it was pruned", err)
	}
	got, err := s.Document(note.Counter)
	if err != nil || got.Original != 1 {
		t.Errorf("the note of the pruned document: %v, original %d", err, got.Original)
	}
	if _, err := s.Issue(context.Background(), noteRequest("late", 1, units(5))); !errors.Is(err, queue.ErrPruned) {
		t.Errorf("a new note against the pruned document: %v, want ErrPruned", err)
	}
	entries, err := s.AuditEntries(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var pruned []string
	for _, e := range entries {
		if e.Action == queue.AuditPruned {
			pruned = append(pruned, fmt.Sprintf("%s %s %s %s", e.Actor, e.Subject, e.Details["removed"], e.Details["anchor_hash"]))
		}
	}
	if want := fmt.Sprintf("[manager 1-1 1 %s]", recs[0].Hash); fmt.Sprint(pruned) != want {
		t.Errorf("audit of the prune = %v, want %s", pruned, want)
	}
	// The key of the removed document is free again.
	res := queuetest.Issue(t, s, "alice", "k0", body(0))
	if res.Replayed {
		t.Errorf("the idempotency key of a pruned document still answers with it")
	}
}

// TestCheckFromTheAnchor: Check verifies a pruned journal from its anchor,
// and a forged anchor or a document removed outside Prune breaks it.
func TestCheckFromTheAnchor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, tx *bolt.Tx)
		want   string
	}{
		{"anchor hash forged", func(t *testing.T, tx *bolt.Tx) {
			editJSON(t, mustBucket(t, tx, bucketMeta), keyAnchor, func(m map[string]any) { m["hash"] = "forged" })
		}, "journal[3]: previous hash"},
		{"document removed behind the anchor", func(t *testing.T, tx *bolt.Tx) {
			mustDelete(t, mustBucket(t, tx, bucketJournal), u64(3))
			mustDelete(t, mustBucket(t, tx, bucketDocuments), u64(3))
		}, "counter 4 follows 2"},
		{"anchor moved past a document", func(t *testing.T, tx *bolt.Tx) {
			editJSON(t, mustBucket(t, tx, bucketMeta), keyAnchor, func(m map[string]any) { m["counter"] = 3 })
		}, "counter 3 follows 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			clock := newClock()
			s, err := queue.Open(dir, &queue.Options{Clock: clock.Clock, NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			recs := fillRetentionStore(t, s, clock, 5, func(uint64) bool { return true })
			mustPrune(t, s, queue.PruneOptions{Before: recs[2].IssuedAt})
			s.Close()
			editFile(t, dir, func(tx *bolt.Tx) { tc.damage(t, tx) })
			s, err = queue.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.Check(queue.CheckOptions{Rehash: queuetest.Rehash})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v, want it to report %q", err, tc.want)
			}
		})
	}
}

// TestPruneRemovesEveryTraceOfADocument: after pruning, no bucket keyed by
// counter holds anything of a removed document, and the counts kept of the
// rejected index follow.
func TestPruneRemovesEveryTraceOfADocument(t *testing.T) {
	dir := t.TempDir()
	s, _, recs := retentionStore(t, dir, 4, func(c uint64) bool { return c != 2 })
	answer(t, s, 2, queue.StatusRejected, t0, "bad VAT number")
	wantRejected(t, s, 1, map[string]int{"invoice": 1}, map[uint64]uint64{2: 0})
	mustPrune(t, s, queue.PruneOptions{Before: recs[3].IssuedAt})
	wantRejected(t, s, 0, map[string]int{}, map[uint64]uint64{})
	s.Close()
	editFile(t, dir, func(tx *bolt.Tx) {
		for _, name := range [][]byte{bucketJournal, bucketDocuments, bucketAnswers, bucketOutbox, bucketNotes, bucketRejected, []byte("print_jobs")} {
			c := mustBucket(t, tx, name).Cursor()
			for k, _ := c.First(); k != nil && len(k) >= 8; k, _ = c.Next() {
				if n := decodeKey(k); n <= 3 {
					t.Errorf("bucket %s still holds %x, of pruned document %d", name, k, n)
				}
			}
		}
		for _, r := range recs[:3] {
			if mustBucket(t, tx, bucketIdempotency).Get([]byte("alice\x00"+r.IdempotencyKey)) != nil {
				t.Errorf("the idempotency key of pruned document %d is still kept", r.Counter)
			}
		}
	})
}

func decodeKey(k []byte) uint64 {
	var n uint64
	for _, b := range k[:8] {
		n = n<<8 | uint64(b)
	}
	return n
}

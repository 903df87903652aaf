package queue_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
)

var bucketAuthority = []byte("authority_numbers")

func assign(t *testing.T, s *queue.Store, counter uint64) (uint64, bool) {
	t.Helper()
	n, fresh, err := s.AssignNumber(counter, t0)
	if err != nil {
		t.Fatalf("AssignNumber(%d): %v", counter, err)
	}
	return n, fresh
}

// The life of the authority's numbers: a number is assigned to one pending
// document at a time and survives a restart; acceptance commits it to the
// document, rejection releases it to the next one, so the accepted
// documents carry 1, 2, 3 with no gap.
func TestAuthorityNumbers(t *testing.T) {
	dir := t.TempDir()
	s, err := queue.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		issueSubmitted(t, s, k)
	}
	if seq, err := s.AuthoritySequence(); err != nil || seq != (queue.AuthoritySequence{Next: 1}) {
		t.Fatalf("fresh sequence = %+v, %v; want next 1 held by none", seq, err)
	}
	if n, fresh := assign(t, s, 1); n != 1 || !fresh {
		t.Fatalf("first assignment = %d fresh=%v, want 1 fresh", n, fresh)
	}
	if _, _, err := s.AssignNumber(2, t0); !errors.Is(err, queue.ErrNumberHeld) {
		t.Fatalf("a second document took a number while 1 was unanswered: %v", err)
	}
	// A crash: the assignment is on disk, and the holder keeps its number.
	s.Close()
	s = queuetest.OpenDir(t, dir, nil, queuetest.Rehash)
	if n, fresh := assign(t, s, 1); n != 1 || fresh {
		t.Fatalf("after a restart the holder got %d fresh=%v, want its 1 again, not fresh", n, fresh)
	}
	answer(t, s, 1, queue.StatusAccepted, t0)
	if n, _ := assign(t, s, 2); n != 2 {
		t.Fatalf("document 2 got %d, want 2", n)
	}
	answer(t, s, 2, queue.StatusRejected, t0) // releases 2
	if n, fresh := assign(t, s, 3); n != 2 || !fresh {
		t.Fatalf("document 3 got %d fresh=%v, want the released 2", n, fresh)
	}
	answer(t, s, 3, queue.StatusAcceptedWithWarnings, t0)
	if n, _ := assign(t, s, 4); n != 3 {
		t.Fatalf("document 4 got %d, want 3", n)
	}
	want := map[uint64]uint64{1: 1, 2: 0, 3: 2, 4: 0}
	for c, n := range want {
		r, err := s.Document(c)
		if err != nil || r.AuthorityNumber != n {
			t.Errorf("document %d has authority number %d (%v), want %d", c, r.AuthorityNumber, err, n)
		}
	}
	if seq, _ := s.AuthoritySequence(); seq.Next != 3 || seq.Holder != 4 {
		t.Errorf("sequence = %+v, want next 3 held by 4", seq)
	}
	if _, _, err := s.AssignNumber(1, t0); err == nil {
		t.Error("an answered document took a number")
	}
	rej, err := s.Rejected(10)
	if err != nil || rej.Count != 1 {
		t.Errorf("rejected index = %+v, %v; want document 2 in it", rej, err)
	}
}

// A document that is not pending never takes a number.
func TestAuthorityNumberNeedsAPendingDocument(t *testing.T) {
	s := queuetest.OpenWithRehash(t, nil, queuetest.Rehash)
	queuetest.Issue(t, s, "alice", "local", body(1)) // not submitted
	if _, _, err := s.AssignNumber(1, t0); err == nil || !strings.Contains(err.Error(), "not in the outbox") {
		t.Errorf("AssignNumber of an unsubmitted document: %v", err)
	}
	if _, _, err := s.AssignNumber(7, t0); err == nil {
		t.Error("AssignNumber of a document that does not exist succeeded")
	}
	if seq, _ := s.AuthoritySequence(); seq.Holder != 0 {
		t.Errorf("a refused assignment changed the sequence: %+v", seq)
	}
}

func TestCheckFindsNumberCorruption(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, tx *bolt.Tx)
		want   string
	}{
		{"duplicate number", func(t *testing.T, tx *bolt.Tx) {
			editJSON(t, mustBucket(t, tx, bucketJournal), u64(2), func(m map[string]any) { m["authority_number"] = 1 })
		}, "journal[2]: the authority's number 1 follows 1"},
		{"gap", func(t *testing.T, tx *bolt.Tx) {
			editJSON(t, mustBucket(t, tx, bucketJournal), u64(2), func(m map[string]any) { m["authority_number"] = 3 })
		}, "number 3 follows 1"},
		{"number on a rejected document", func(t *testing.T, tx *bolt.Tx) {
			editJSON(t, mustBucket(t, tx, bucketJournal), u64(3), func(m map[string]any) { m["authority_number"] = 3 })
		}, "journal[3]: rejected, yet it has the authority's number 3"},
		{"next behind", func(t *testing.T, tx *bolt.Tx) {
			editJSON(t, mustBucket(t, tx, bucketAuthority), []byte("sequence"), func(m map[string]any) { m["next"] = 2 })
		}, "next is 2, but the last accepted document has 2"},
		{"holder answered", func(t *testing.T, tx *bolt.Tx) {
			editJSON(t, mustBucket(t, tx, bucketAuthority), []byte("sequence"), func(m map[string]any) { m["holder"] = 1 })
		}, "document 1 holds number 3 but is accepted"},
		{"holder missing", func(t *testing.T, tx *bolt.Tx) {
			editJSON(t, mustBucket(t, tx, bucketAuthority), []byte("sequence"), func(m map[string]any) { m["holder"] = 99 })
		}, "held by document 99, which is not in the journal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := queue.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"a", "b", "c", "d"} {
				issueSubmitted(t, s, k)
			}
			for c, st := range []queue.Status{queue.StatusAccepted, queue.StatusAccepted, queue.StatusRejected} {
				assign(t, s, uint64(c+1))
				answer(t, s, uint64(c+1), st, t0)
			}
			assign(t, s, 4)
			if _, err := s.Check(queue.CheckOptions{}); err != nil {
				t.Fatalf("check before the damage: %v", err)
			}
			s.Close()
			editFile(t, dir, func(tx *bolt.Tx) { tc.damage(t, tx) })
			s, err = queue.Open(dir, &queue.Options{LockTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.Check(queue.CheckOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}

// An answer may give the next document the number in its own commit
// (Answer.AssignNext): after an acceptance the next number, after a
// rejection the released one; the next document then finds it held.
func TestAnswerAssignsTheNextNumber(t *testing.T) {
	s := queuetest.Open(t, nil)
	for _, k := range []string{"a", "b", "c"} {
		issueSubmitted(t, s, k)
	}
	assign(t, s, 1)
	if err := s.RecordAnswer(1, queue.Answer{Status: queue.StatusAccepted, At: t0, AssignNext: 2}); err != nil {
		t.Fatal(err)
	}
	if seq, err := s.AuthoritySequence(); err != nil || seq.Next != 2 || seq.Holder != 2 {
		t.Fatalf("after document 1's answer: %+v %v, want 2 held by document 2", seq, err)
	}
	if n, fresh := assign(t, s, 2); n != 2 || fresh {
		t.Fatalf("document 2 got %d fresh=%v, want the 2 it holds", n, fresh)
	}
	if err := s.RecordAnswer(2, queue.Answer{Status: queue.StatusRejected, At: t0, AssignNext: 3}); err != nil {
		t.Fatal(err)
	}
	if seq, err := s.AuthoritySequence(); err != nil || seq.Next != 2 || seq.Holder != 3 {
		t.Fatalf("after document 2's rejection: %+v %v, want the released 2 held by document 3", seq, err)
	}
	if _, err := s.Check(queue.CheckOptions{}); err != nil {
		t.Fatal(err)
	}
}

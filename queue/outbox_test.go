package queue_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	bolt "go.etcd.io/bbolt"
)

func issueSubmitted(t *testing.T, s *queue.Store, key string) *queue.Record {
	t.Helper()
	req := queuetest.Request("alice", key, body(len(key)))
	req.Submit = true
	res, err := s.Issue(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res.Record
}

func TestOutbox(t *testing.T) {
	clock := newClock()
	s := queuetest.OpenWithRehash(t, &queue.Options{Clock: clock.Clock}, queuetest.Rehash)
	r1 := issueSubmitted(t, s, "1")
	if r1.Status != queue.StatusPending {
		t.Errorf("submitted document status = %v, want pending", r1.Status)
	}
	clock.Set(t0.Add(time.Minute), nil)
	local := queuetest.Issue(t, s, "alice", "2", body(2)).Record // not submitted
	if local.Status != queue.StatusAccepted {
		t.Errorf("unsubmitted document status = %v, want accepted", local.Status)
	}
	clock.Set(t0.Add(2*time.Minute), nil)
	r3 := issueSubmitted(t, s, "3")
	r4 := issueSubmitted(t, s, "4")

	out, err := s.Outbox(10)
	want := []queue.OutboxEntry{
		{Counter: 1, Regime: queuetest.Regime, EnqueuedAt: t0},
		{Counter: 3, Regime: queuetest.Regime, EnqueuedAt: t0.Add(2 * time.Minute)},
		{Counter: 4, Regime: queuetest.Regime, EnqueuedAt: t0.Add(2 * time.Minute)},
	}
	if err != nil || !reflect.DeepEqual(out, want) {
		t.Fatalf("Outbox = %+v, %v; want %+v", out, err, want)
	}
	if out, _ := s.Outbox(2); len(out) != 2 || out[1].Counter != 3 {
		t.Errorf("Outbox(2) = %+v, want the oldest two", out)
	}
	if st, err := s.OutboxStats(); err != nil || st.Pending != 3 || !st.Oldest.Equal(t0) {
		t.Errorf("OutboxStats = %+v, %v; want 3 pending, oldest %v", st, err, t0)
	}

	next := t0.Add(time.Hour)
	if err := s.Defer(1, next, "timeout"); err != nil {
		t.Fatal(err)
	}
	if err := s.Defer(1, next.Add(time.Hour), "503"); err != nil {
		t.Fatal(err)
	}
	out, _ = s.Outbox(1)
	if e := out[0]; e.Counter != 1 || e.Attempts != 2 || !e.NextAttempt.Equal(next.Add(time.Hour)) || e.LastError != "503" {
		t.Errorf("deferred entry = %+v, want attempt 2 kept at the front", e)
	}
	if err := s.Defer(2, next, "x"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Defer of a document not in the outbox: %v, want ErrNotFound", err)
	}

	answeredAt := t0.Add(3 * time.Hour)
	answer := []byte(`{"clearanceStatus":"CLEARED"}`)
	if err := s.RecordAnswer(1, queue.Answer{Status: queue.StatusAcceptedWithWarnings, Body: answer, Messages: []string{"BR-KSA-08"}, At: answeredAt}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Document(1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != queue.StatusAcceptedWithWarnings || string(got.Answer) != string(answer) ||
		!reflect.DeepEqual(got.Messages, []string{"BR-KSA-08"}) || !got.AnsweredAt.Equal(answeredAt) {
		t.Errorf("answered record = %+v", got)
	}
	if string(got.Document) != string(r1.Document) || got.Hash != r1.Hash {
		t.Error("RecordAnswer changed the stored document")
	}
	if err := s.RecordAnswer(r3.Counter, queue.Answer{Status: queue.StatusRejected, Messages: []string{"BR-02", "BR-06"}, At: answeredAt}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Document(r3.Counter); got.Status != queue.StatusRejected || len(got.Messages) != 2 {
		t.Errorf("rejected record = %+v", got)
	}
	if out, _ := s.Outbox(10); len(out) != 1 || out[0].Counter != r4.Counter {
		t.Errorf("Outbox after two answers = %+v, want only document 4", out)
	}

	for _, tc := range []struct {
		name    string
		counter uint64
		a       queue.Answer
	}{
		{"answered twice", 1, queue.Answer{Status: queue.StatusAccepted}},
		{"never submitted", local.Counter, queue.Answer{Status: queue.StatusAccepted}},
		{"no such document", 99, queue.Answer{Status: queue.StatusAccepted}},
		{"pending is not an answer", r4.Counter, queue.Answer{Status: queue.StatusPending}},
	} {
		if err := s.RecordAnswer(tc.counter, tc.a); err == nil {
			t.Errorf("RecordAnswer (%s) succeeded", tc.name)
		}
	}
	if got, _ := s.Document(1); got.Status != queue.StatusAcceptedWithWarnings {
		t.Errorf("a refused RecordAnswer changed document 1: %v", got.Status)
	}

	entries, err := s.AuditEntries(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var answered []string
	for _, e := range entries {
		if e.Action == queue.AuditDocumentState {
			answered = append(answered, e.Subject+":"+e.Details["status"])
		}
	}
	if fmt.Sprint(answered) != "[1:accepted_with_warnings 3:rejected]" {
		t.Errorf("audit of answers = %v", answered)
	}
}

// TestCheckFindsCorruption damages a closed store's file the way a disk
// fault or a tamperer would and expects Check to name the damage.
func TestCheckFindsCorruption(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, tx *bolt.Tx, recs []*queue.Record)
		want   string
	}{
		{"pending document without outbox entry", func(t *testing.T, tx *bolt.Tx, _ []*queue.Record) {
			mustDelete(t, mustBucket(t, tx, bucketOutbox), u64(2))
		}, "journal[2]: pending but not in the outbox"},
		{"outbox entry for an answered document", func(t *testing.T, tx *bolt.Tx, _ []*queue.Record) {
			mustBucket(t, tx, bucketOutbox).Put(u64(3), []byte(`{"counter":3}`))
		}, "journal[3]: accepted but still in the outbox"},
		{"outbox entry without document", func(t *testing.T, tx *bolt.Tx, _ []*queue.Record) {
			mustBucket(t, tx, bucketOutbox).Put(u64(9), []byte(`{"counter":9}`))
		}, "outbox entry 9 has no journal record"},
		{"gap in the journal", func(t *testing.T, tx *bolt.Tx, _ []*queue.Record) {
			mustDelete(t, mustBucket(t, tx, bucketJournal), u64(2))
		}, "counter 3 follows 1"},
		{"stored bytes edited", func(t *testing.T, tx *bolt.Tx, _ []*queue.Record) {
			// A well-formed value (format byte 0: raw) with other bytes.
			if err := mustBucket(t, tx, bucketDocuments).Put(u64(2), []byte("\x00{\"edited\":true}")); err != nil {
				t.Fatal(err)
			}
		}, "journal[2]: stored bytes hash to"},
		{"stored bytes replaced by unpacked ones", func(t *testing.T, tx *bolt.Tx, _ []*queue.Record) {
			if err := mustBucket(t, tx, bucketDocuments).Put(u64(2), []byte(`{"edited":true}`)); err != nil {
				t.Fatal(err)
			}
		}, "journal[2]: document bytes of 2: stored value is damaged"},
		{"document bytes lost", func(t *testing.T, tx *bolt.Tx, _ []*queue.Record) {
			mustDelete(t, mustBucket(t, tx, bucketDocuments), u64(3))
		}, "document bytes of 3 are missing"},
		{"chain broken", func(t *testing.T, tx *bolt.Tx, _ []*queue.Record) {
			editJSON(t, mustBucket(t, tx, bucketJournal), u64(3), func(m map[string]any) { m["prev_hash"] = "forged" })
		}, "journal[3]: previous hash"},
		{"chain head behind", func(t *testing.T, tx *bolt.Tx, _ []*queue.Record) {
			editJSON(t, mustBucket(t, tx, bucketMeta), keyHead, func(m map[string]any) { m["counter"] = 2 })
		}, "chain head is 2"},
		{"UUID not indexed", func(t *testing.T, tx *bolt.Tx, recs []*queue.Record) {
			mustDelete(t, mustBucket(t, tx, bucketUUID), []byte(recs[0].UUID))
		}, "journal[1]: UUID"},
		{"idempotency key to nowhere", func(t *testing.T, tx *bolt.Tx, _ []*queue.Record) {
			mustBucket(t, tx, bucketIdempotency).Put([]byte("alice\x00ghost"), []byte(`{"counter":7}`))
		}, "points at missing document 7"},
		{"audit entry edited", func(t *testing.T, tx *bolt.Tx, _ []*queue.Record) {
			editJSON(t, mustBucket(t, tx, bucketAudit), u64(2), func(m map[string]any) { m["actor"] = "mallory" })
		}, "audit log broken at entry 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := queue.Open(dir, &queue.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			recs := []*queue.Record{
				queuetest.Issue(t, s, "alice", "1", body(1)).Record,
				issueSubmitted(t, s, "2"),
				queuetest.Issue(t, s, "alice", "3", body(3)).Record,
			}
			if _, err := s.Check(queue.CheckOptions{Rehash: queuetest.Rehash}); err != nil {
				t.Fatalf("Check before the damage: %v", err)
			}
			s.Close()
			editFile(t, dir, func(tx *bolt.Tx) { tc.damage(t, tx, recs) })

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

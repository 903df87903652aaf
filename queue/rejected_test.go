package queue_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketRejected  = []byte("rejected")
	keyRejectedN    = []byte("rejected_count")
	keyRejectedOpen = []byte("rejected_without_credit_note")
)

// answer records the authority's final answer to document counter.
func answer(t *testing.T, s *queue.Store, counter uint64, status queue.Status, at time.Time, messages ...string) {
	t.Helper()
	if err := s.RecordAnswer(counter, queue.Answer{Status: status, Messages: messages, At: at}); err != nil {
		t.Fatal(err)
	}
}

// issueNote issues a submitted credit note that corrects document original.
func issueNote(t *testing.T, s *queue.Store, key string, original uint64) *queue.Record {
	t.Helper()
	req := queuetest.Request("bob", key, body(len(key)))
	req.Kind, req.Submit, req.Corrects = "credit_note", true, original
	res, err := s.Issue(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res.Record
}

func TestRejectedIndex(t *testing.T) {
	s := queuetest.OpenWithRehash(t, nil, queuetest.Rehash)
	if st, err := s.Rejected(5); err != nil || st.Count != 0 || st.WithoutCreditNote != 0 || len(st.Newest) != 0 {
		t.Fatalf("Rejected on a new store = %+v, %v", st, err)
	}
	for _, key := range []string{"1", "2", "3", "4"} {
		issueSubmitted(t, s, key)
	}
	at := t0.Add(time.Hour)
	answer(t, s, 1, queue.StatusAccepted, at)
	answer(t, s, 2, queue.StatusRejected, at, "BR-KSA-37: the seller address is wrong", "BR-KSA-64")
	answer(t, s, 4, queue.StatusRejected, at.Add(time.Minute), "XSD invalid")

	st, err := s.Rejected(1)
	if err != nil || st.Count != 2 || st.WithoutCreditNote != 2 || len(st.Newest) != 1 || st.Newest[0].Counter != 4 {
		t.Fatalf("Rejected(1) = %+v, %v; want 2 rejected, 2 without a credit note, newest 4", st, err)
	}
	e, err := s.RejectedDocument(2)
	want := queue.RejectedEntry{Counter: 2, Kind: "invoice", IssuedAt: e.IssuedAt, AnsweredAt: at, Message: "BR-KSA-37: the seller address is wrong"}
	if err != nil || !reflect.DeepEqual(e, want) || e.IssuedAt.IsZero() {
		t.Errorf("RejectedDocument(2) = %+v, %v; want %+v", e, err, want)
	}
	if _, err := s.RejectedDocument(1); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("RejectedDocument of an accepted document: %v, want ErrNotFound", err)
	}

	// A credit note that corrects 2 is recorded in the issue's transaction;
	// a second one leaves the first in place; one that names an accepted
	// document changes nothing.
	note := issueNote(t, s, "note-a", 2)
	issueNote(t, s, "note-b", 2)
	issueNote(t, s, "note-c", 1)
	st, err = s.Rejected(10)
	if err != nil || st.Count != 2 || st.WithoutCreditNote != 1 {
		t.Fatalf("after the notes: %+v, %v; want 2 rejected, 1 without a credit note", st, err)
	}
	if got := []uint64{st.Newest[0].Counter, st.Newest[1].Counter}; got[0] != 4 || got[1] != 2 {
		t.Errorf("newest = %v, want [4 2]", got)
	}
	if st.Newest[1].CreditNote != note.Counter || st.Newest[0].CreditNote != 0 {
		t.Errorf("credit notes = %d, %d; want %d for document 2 and none for 4", st.Newest[1].CreditNote, st.Newest[0].CreditNote, note.Counter)
	}
	var open []uint64
	if err := s.RejectedWithoutCreditNote(func(e queue.RejectedEntry) bool { open = append(open, e.Counter); return true }); err != nil || !reflect.DeepEqual(open, []uint64{4}) {
		t.Errorf("RejectedWithoutCreditNote = %v, %v; want [4]", open, err)
	}
	// A rejected credit note is a rejected document like any other.
	answer(t, s, note.Counter, queue.StatusRejected, at.Add(2*time.Minute), "BR-KSA-56")
	if st, _ := s.Rejected(1); st.Count != 3 || st.WithoutCreditNote != 2 || st.Newest[0].Counter != note.Counter || st.Newest[0].Kind != "credit_note" {
		t.Errorf("after the note's rejection: %+v", st)
	}
}

// A store written before the index existed (schema 1) gets it on open, in
// one transaction with the version bump; links to earlier credit notes are
// left to the caller, which knows what a credit note names.
func TestRejectedIndexMigration(t *testing.T) {
	dir := t.TempDir()
	s := queuetest.OpenDir(t, dir, nil, queuetest.Rehash)
	for _, key := range []string{"1", "2", "3", "4", "5"} {
		issueSubmitted(t, s, key)
	}
	answer(t, s, 2, queue.StatusRejected, t0, "first")
	answer(t, s, 3, queue.StatusAccepted, t0)
	answer(t, s, 4, queue.StatusRejected, t0, "second")
	s.Close()
	downgrade(t, dir)

	s, err := queue.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Rejected(10)
	if err != nil || st.Count != 2 || st.WithoutCreditNote != 2 || len(st.Newest) != 2 || st.Newest[0].Message != "second" || st.Newest[1].Counter != 2 {
		t.Fatalf("Rejected after the migration = %+v, %v", st, err)
	}
	from, pending, err := s.CreditNoteLinksPending()
	if err != nil || !pending || from != 2 {
		t.Fatalf("CreditNoteLinksPending = %d, %t, %v; want from 2", from, pending, err)
	}
	if err := s.LinkCreditNote(2, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.CreditNoteLinksDone(); err != nil {
		t.Fatal(err)
	}
	if _, pending, _ := s.CreditNoteLinksPending(); pending {
		t.Error("links still pending after CreditNoteLinksDone")
	}
	if e, _ := s.RejectedDocument(2); e.CreditNote != 5 {
		t.Errorf("document 2's credit note = %d, want 5", e.CreditNote)
	}
	if _, err := s.Check(queue.CheckOptions{Rehash: queuetest.Rehash}); err != nil {
		t.Errorf("Check after the migration: %v", err)
	}

	// A file without rejected documents has nothing to link.
	dir = t.TempDir()
	s2 := queuetest.OpenDir(t, dir, nil, queuetest.Rehash)
	issueSubmitted(t, s2, "1")
	s2.Close()
	downgrade(t, dir)
	s2, err = queue.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, pending, err := s2.CreditNoteLinksPending(); pending || err != nil {
		t.Errorf("links pending on a file without rejections: %v", err)
	}
}

// downgrade turns the store in dir into the schema 1 layout: no index of
// rejected documents.
func downgrade(t *testing.T, dir string) {
	t.Helper()
	editFile(t, dir, func(tx *bolt.Tx) {
		if err := tx.DeleteBucket(bucketRejected); err != nil {
			t.Fatal(err)
		}
		meta := mustBucket(t, tx, bucketMeta)
		meta.Delete(keyRejectedN)
		meta.Delete(keyRejectedOpen)
		meta.Put(keySchema, u64(1))
	})
}

// Check finds a rejected document the index lost, and wrong counts.
func TestCheckRejectedIndex(t *testing.T) {
	dir := t.TempDir()
	s, err := queue.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	issueSubmitted(t, s, "1")
	answer(t, s, 1, queue.StatusRejected, t0, "no")
	s.Close()
	editFile(t, dir, func(tx *bolt.Tx) {
		mustBucket(t, tx, bucketRejected).Delete(u64(1))
	})
	s, err = queue.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Check(queue.CheckOptions{})
	for _, want := range []string{"journal[1]: rejected but not in the index", "rejected count says 1, the index has 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check = %v; want %q", err, want)
		}
	}
}

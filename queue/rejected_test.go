package queue_test

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	bolt "go.etcd.io/bbolt"
)

// answer records the authority's final answer to document counter.
func answer(t *testing.T, s *queue.Store, counter uint64, status queue.Status, at time.Time, messages ...string) {
	t.Helper()
	if err := s.RecordAnswer(counter, queue.Answer{Status: status, Messages: messages, At: at}); err != nil {
		t.Fatal(err)
	}
}

// issueNote issues a submitted credit note for document original whose
// check allows limit of them (the limit-th credits it in full); a
// corrective one needs no key.
func issueNote(t *testing.T, s *queue.Store, key string, original uint64, limit int, corrective bool) *queue.Record {
	t.Helper()
	req := noteRequest(key, original, units(limit))
	req.Submit, req.Note.Corrective = true, corrective
	res, err := s.Issue(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res.Record
}

// wantRejected checks the index's counts and the credit note of each
// rejected document (by counter).
func wantRejected(t *testing.T, s *queue.Store, count int, open map[string]int, creditNotes map[uint64]uint64) {
	t.Helper()
	st, err := s.Rejected(1000)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint64]uint64{}
	for _, e := range st.Newest {
		got[e.Counter] = e.CreditNote
	}
	if st.Count != count || !maps.Equal(st.WithoutCreditNote, open) || !maps.Equal(got, creditNotes) {
		t.Errorf("rejected: %d, without a credit note %v, credit notes %v; want %d, %v, %v", st.Count, st.WithoutCreditNote, got, count, open, creditNotes)
	}
	if _, err := s.Check(queue.CheckOptions{}); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// The index lists every rejected document with the credit note that
// corrects it: its corrective credit note, or the note after which
// nothing of it was left to credit, recorded in that note's transaction;
// a rejected correction no longer corrects.
func TestRejectedIndex(t *testing.T) {
	s := queuetest.OpenWithRehash(t, nil, queuetest.Rehash)
	if st, err := s.Rejected(5); err != nil || st.Count != 0 || len(st.WithoutCreditNote) != 0 || len(st.Newest) != 0 {
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
	if err != nil || st.Count != 2 || !maps.Equal(st.WithoutCreditNote, map[string]int{"invoice": 2}) || len(st.Newest) != 1 || st.Newest[0].Counter != 4 {
		t.Fatalf("Rejected(1) = %+v, %v; want 2 rejected invoices without a credit note, newest 4", st, err)
	}
	e, err := s.RejectedDocument(2)
	want := queue.RejectedEntry{Counter: 2, Kind: "invoice", IssuedAt: e.IssuedAt, AnsweredAt: at, Message: "BR-KSA-37: the seller address is wrong"}
	if err != nil || !reflect.DeepEqual(e, want) || e.IssuedAt.IsZero() {
		t.Errorf("RejectedDocument(2) = %+v, %v; want %+v", e, err, want)
	}
	if _, err := s.RejectedDocument(1); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("RejectedDocument of an accepted document: %v, want ErrNotFound", err)
	}

	// A credit note that leaves something of 2 does not correct it; the
	// one that takes the rest does. A note of an accepted document changes
	// nothing.
	issueNote(t, s, "2-a", 2, 2, false)
	issueNote(t, s, "1-a", 1, 1, false)
	wantRejected(t, s, 2, map[string]int{"invoice": 2}, map[uint64]uint64{2: 0, 4: 0})
	rest := issueNote(t, s, "2-b", 2, 2, false)
	wantRejected(t, s, 2, map[string]int{"invoice": 1}, map[uint64]uint64{2: rest.Counter, 4: 0})

	// The corrective credit note of 4 corrects it.
	corrective := issueNote(t, s, "", 4, 5, true)
	wantRejected(t, s, 2, map[string]int{}, map[uint64]uint64{2: rest.Counter, 4: corrective.Counter})
	var open []uint64
	s.View(func(tx *queue.Tx) error {
		return tx.RejectedWithoutCreditNote(func(e queue.RejectedEntry) bool { open = append(open, e.Counter); return true })
	})
	if len(open) != 0 {
		t.Errorf("RejectedWithoutCreditNote = %v, want none", open)
	}

	// Rejected in turn: the corrective note is a rejected credit note, and
	// 4 waits for its credit note again; so does 2 when the note that took
	// the rest of it is rejected.
	answer(t, s, corrective.Counter, queue.StatusRejected, at.Add(2*time.Minute), "BR-KSA-56")
	wantRejected(t, s, 3, map[string]int{"invoice": 1, "credit_note": 1}, map[uint64]uint64{2: rest.Counter, 4: 0, corrective.Counter: 0})
	answer(t, s, rest.Counter, queue.StatusRejected, at.Add(3*time.Minute), "BR-KSA-56")
	wantRejected(t, s, 4, map[string]int{"invoice": 2, "credit_note": 2}, map[uint64]uint64{2: 0, 4: 0, corrective.Counter: 0, rest.Counter: 0})
	if st, _ := s.Rejected(2); st.Newest[0].Counter != corrective.Counter || st.Newest[1].Counter != rest.Counter || st.Newest[0].Kind != "credit_note" {
		t.Errorf("newest after the notes' rejection: %+v; want the last issued first", st.Newest)
	}
	s.View(func(tx *queue.Tx) error {
		return tx.RejectedWithoutCreditNote(func(e queue.RejectedEntry) bool { open = append(open, e.Counter); return e.Counter < 4 })
	})
	if !reflect.DeepEqual(open, []uint64{2, 4}) {
		t.Errorf("RejectedWithoutCreditNote, stopped after 4 = %v; want [2 4]", open)
	}
}

// A document credited in full while it waited for the authority's answer
// enters the index corrected.
func TestRejectedAfterItsCredit(t *testing.T) {
	s := queuetest.OpenWithRehash(t, nil, queuetest.Rehash)
	issueSubmitted(t, s, "1")
	note := issueNote(t, s, "n", 1, 1, false)
	answer(t, s, 1, queue.StatusRejected, t0, "no")
	wantRejected(t, s, 1, map[string]int{}, map[uint64]uint64{1: note.Counter})
}

// toSchema rewrites the closed store in dir as an older schema wrote it:
// 2 had no index of rejected documents and did not record which note
// credited a document in full; 1 had no number index and no note
// references either.
func toSchema(t *testing.T, dir string, version uint64) {
	t.Helper()
	editFile(t, dir, func(tx *bolt.Tx) {
		meta := mustBucket(t, tx, bucketMeta)
		meta.Put(keySchema, u64(version))
		meta.Delete(keyRejectedN)
		meta.Delete(keyRejectedOpen)
		drop := []string{"rejected"}
		if version == 1 {
			drop = append(drop, "journal_number", "notes")
		}
		for _, b := range drop {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				t.Fatal(err)
			}
		}
		if version == 2 {
			c := mustBucket(t, tx, bucketNotes).Cursor()
			var keys [][]byte
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				keys = append(keys, append([]byte(nil), k...))
			}
			for _, k := range keys {
				editJSON(t, mustBucket(t, tx, bucketNotes), k, func(m map[string]any) { delete(m, "credited_in_full") })
			}
			return
		}
		journal := mustBucket(t, tx, bucketJournal)
		for c := uint64(1); journal.Get(u64(c)) != nil; c++ {
			editJSON(t, journal, u64(c), func(m map[string]any) { delete(m, "number"); delete(m, "original_counter") })
		}
	})
}

// reopenAs closes s, rewrites its file in dir as schema version wrote it,
// and opens it again.
func reopenAs(t *testing.T, s *queue.Store, dir string, version uint64) *queue.Store {
	t.Helper()
	s.Close()
	toSchema(t, dir, version)
	s, err := queue.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A store from schema 1 takes both migrations: its rejected documents are
// indexed when it opens, and the caller's reindex of its notes links the
// credit notes that corrected them.
func TestRejectedIndexFromSchema1(t *testing.T) {
	dir := t.TempDir()
	s := openChecked(t, dir, nil)
	for _, key := range []string{"1", "2", "3"} {
		issueSubmitted(t, s, key)
	}
	full := issueNote(t, s, "n4", 1, 1, false)
	partial := issueNote(t, s, "n5", 3, 2, false)
	answer(t, s, 1, queue.StatusRejected, t0, "first")
	answer(t, s, 2, queue.StatusAccepted, t0)
	answer(t, s, 3, queue.StatusRejected, t0, "second")
	s = reopenAs(t, s, dir, 1)
	if st, err := s.Rejected(10); err != nil || st.Count != 2 || st.Newest[0].Message != "second" || st.Newest[1].Counter != 1 {
		t.Fatalf("Rejected after the migrations = %+v, %v", st, err)
	}
	originals := map[uint64]uint64{full.Counter: 1, partial.Counter: 3}
	for c := uint64(1); c <= 5; c++ {
		err := s.Update(func(tx *queue.Tx) error {
			return tx.Reindex(c, "", originals[c], queue.Credit{Credited: []byte(`1`), InFull: c == full.Counter})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wantRejected(t, s, 2, map[string]int{"invoice": 1}, map[uint64]uint64{1: full.Counter, 3: 0})
}

// A store from schema 2 takes the second migration: a rejected document
// with its corrective credit note is indexed corrected; one whose notes
// credited it in full is corrected once the caller, which judges the
// credit, says which note did (SetCreditedInFull).
func TestRejectedIndexFromSchema2(t *testing.T) {
	dir := t.TempDir()
	s := openChecked(t, dir, nil)
	issueSubmitted(t, s, "1")
	issueSubmitted(t, s, "2")
	answer(t, s, 1, queue.StatusRejected, t0, "first")
	answer(t, s, 2, queue.StatusRejected, t0, "second")
	corrective := issueNote(t, s, "", 1, 5, true)
	full := issueNote(t, s, "n", 2, 1, false)
	s = reopenAs(t, s, dir, 2)
	wantRejected(t, s, 2, map[string]int{"invoice": 1}, map[uint64]uint64{1: corrective.Counter, 2: 0})
	if err := s.Update(func(tx *queue.Tx) error { return tx.SetCreditedInFull(2, 1) }); err == nil {
		t.Error("SetCreditedInFull with a document that is not a note of it")
	}
	if err := s.Update(func(tx *queue.Tx) error { return tx.SetCreditedInFull(2, full.Counter) }); err != nil {
		t.Fatal(err)
	}
	wantRejected(t, s, 2, map[string]int{}, map[uint64]uint64{1: corrective.Counter, 2: full.Counter})
	if err := s.Update(func(tx *queue.Tx) error { return tx.SetCreditedInFull(2, 999) }); err != nil {
		t.Errorf("SetCreditedInFull on references that name one already: %v", err)
	}
}

// Check finds a rejected document the index lost, an entry whose credit
// note is not the one its references name, and wrong counts.
func TestCheckRejectedIndex(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(t *testing.T, tx *bolt.Tx)
		want []string
	}{
		"entry lost": {func(t *testing.T, tx *bolt.Tx) { mustDelete(t, mustBucket(t, tx, bucketRejected), u64(1)) },
			[]string{"journal[1]: rejected but not in the index", "rejected count says 2, the index has 1", "rejected without a credit note says map[invoice:1], the index has map[]"}},
		"wrong credit note": {func(t *testing.T, tx *bolt.Tx) {
			editJSON(t, mustBucket(t, tx, bucketRejected), u64(2), func(m map[string]any) { m["credit_note"] = 1 })
		}, []string{"rejected[2]: credit note 1, but its references say 3 corrects it"}},
		"credited in full by a stranger": {func(t *testing.T, tx *bolt.Tx) {
			if err := mustBucket(t, tx, bucketNotes).Put(u64(1), []byte(`{"credited_in_full":2}`)); err != nil {
				t.Fatal(err)
			}
		}, []string{"note 2, which credited document 1 in full, is not one of its notes", "rejected[1]: credit note 0, but its references say 2 corrects it"}},
		"count off": {func(t *testing.T, tx *bolt.Tx) {
			mustBucket(t, tx, bucketMeta).Put(keyRejectedOpen, []byte(`{"invoice":2}`))
		},
			[]string{"rejected without a credit note says map[invoice:2], the index has map[invoice:1]"}},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := queue.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			issueSubmitted(t, s, "1")
			issueSubmitted(t, s, "2")
			answer(t, s, 1, queue.StatusRejected, t0, "no")
			answer(t, s, 2, queue.StatusRejected, t0, "no")
			issueNote(t, s, "", 2, 5, true)
			if _, err := s.Check(queue.CheckOptions{}); err != nil {
				t.Fatalf("Check before the edit: %v", err)
			}
			s.Close()
			editFile(t, dir, func(tx *bolt.Tx) { tc.edit(t, tx) })
			if s, err = queue.Open(dir, nil); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.Check(queue.CheckOptions{})
			for _, want := range tc.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Check = %v; want %q", err, want)
				}
			}
		})
	}
}

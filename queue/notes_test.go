package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	bolt "go.etcd.io/bbolt"
)

// numbered issues body with the document number "N-<counter>".
func numbered(user, key string, body []byte) *queue.IssueRequest {
	return withNumber(queuetest.Request(user, key, body), func(counter uint64) string { return fmt.Sprint("N-", counter) })
}

// withNumber makes req's document printed with number(counter).
func withNumber(req *queue.IssueRequest, number func(counter uint64) string) *queue.IssueRequest {
	stamp := req.Stamp
	req.Stamp = func(slot queue.Slot) (queue.Stamped, error) {
		doc, err := stamp(slot)
		doc.Number = number(slot.Counter)
		return doc, err
	}
	return req
}

// units is a note check that allows at most limit notes per original:
// Credited is the count so far, and the limit-th note credits it in full.
func units(limit int) func(*queue.Record, queue.References) (queue.Credit, error) {
	return func(_ *queue.Record, refs queue.References) (queue.Credit, error) {
		n := 0
		if len(refs.Credited) > 0 {
			if err := json.Unmarshal(refs.Credited, &n); err != nil {
				return queue.Credit{}, err
			}
		}
		if n == limit {
			return queue.Credit{}, errors.New("nothing left to credit")
		}
		b, err := json.Marshal(n + 1)
		return queue.Credit{Credited: b, InFull: n+1 == limit}, err
	}
}

func noteRequest(key string, original uint64, check func(*queue.Record, queue.References) (queue.Credit, error)) *queue.IssueRequest {
	req := numbered("ana", key, body(1000))
	req.Kind = "credit_note"
	req.Note = &queue.NoteRef{Original: original, Check: check}
	return req
}

// ResolveDocument finds a document by number, UUID or counter, and says
// when a reference names two documents.
func TestResolveDocument(t *testing.T) {
	s := queuetest.OpenWithRehash(t, nil, queuetest.Rehash)
	var recs []*queue.Record
	for i := range 12 {
		res, err := s.Issue(context.Background(), numbered("ana", fmt.Sprint(i), body(i)))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, res.Record)
	}
	// Document 13 is printed "7" (another till's numbering, say): "7" is
	// then its number and document 7's counter.
	req := withNumber(queuetest.Request("ana", "odd", body(99)), func(uint64) string { return "7" })
	if _, err := s.Issue(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]uint64{"N-3": 3, recs[4].UUID: 5, "9": 9, "12": 12} {
		r, err := s.ResolveDocument(ref)
		if err != nil || r.Counter != want {
			t.Errorf("ResolveDocument(%q) = %v, %v; want document %d", ref, r, err, want)
		}
	}
	for _, ref := range []string{"N-99", "0", "99", "", "n-3"} {
		if _, err := s.ResolveDocument(ref); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("ResolveDocument(%q) = %v, want ErrNotFound", ref, err)
		}
	}
	if _, err := s.ResolveDocument("7"); !errors.Is(err, queue.ErrAmbiguous) {
		t.Errorf("ResolveDocument(7) = %v, want ErrAmbiguous (counter 7 and the number of 13)", err)
	}
	// Two documents printed with the same number: the number names neither.
	if _, err := s.Issue(context.Background(), withNumber(queuetest.Request("ana", "dup", body(100)), func(uint64) string { return "N-3" })); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResolveDocument("N-3"); !errors.Is(err, queue.ErrAmbiguous) {
		t.Errorf("ResolveDocument(N-3) printed twice = %v, want ErrAmbiguous", err)
	}
}

// A note's check runs in the issue transaction: notes racing for one
// original are checked one after the other, a refused one consumes no
// counter, and the references list exactly the notes issued.
func TestNoteCheckedInTheIssueTransaction(t *testing.T) {
	for _, opts := range []*queue.Options{nil, {MaxBatch: 1, NoSync: true}} {
		t.Run(fmt.Sprint("batch=", opts == nil), func(t *testing.T) {
			s := queuetest.OpenWithRehash(t, opts, queuetest.Rehash)
			queuetest.Issue(t, s, "ana", "inv", body(0))
			const limit, tries = 5, 40
			var wg sync.WaitGroup
			errs := make([]error, tries)
			for i := range tries {
				wg.Go(func() {
					_, errs[i] = s.Issue(context.Background(), noteRequest(fmt.Sprint("n", i), 1, units(limit)))
				})
			}
			wg.Wait()
			issued := 0
			for _, err := range errs {
				switch {
				case err == nil:
					issued++
				case err.Error() != "nothing left to credit":
					t.Errorf("unexpected error %v", err)
				}
			}
			refs, err := s.References(1)
			if err != nil {
				t.Fatal(err)
			}
			if issued != limit || len(refs.Notes) != limit || string(refs.Credited) != strconv.Itoa(limit) {
				t.Errorf("%d notes issued, references %+v; want %d", issued, refs, limit)
			}
			if h := head(t, s); h.Counter != limit+1 {
				t.Errorf("head %d, want %d: a refused note consumes no counter", h.Counter, limit+1)
			}
			for _, n := range refs.Notes {
				if r, err := s.Document(n); err != nil || r.Original != 1 {
					t.Errorf("note %d: %+v, %v; want original 1", n, r, err)
				}
			}
		})
	}
}

// A corrective note is one per original, whoever asks and however many
// ask at once; it needs no idempotency key.
func TestCorrectiveNoteOnce(t *testing.T) {
	s := queuetest.OpenWithRehash(t, nil, queuetest.Rehash)
	queuetest.Issue(t, s, "ana", "inv", body(0))
	var wg sync.WaitGroup
	results := make([]queue.IssueResult, 16)
	errs := make([]error, 16)
	for i := range results {
		wg.Go(func() {
			req := noteRequest("", 1, units(100))
			req.User = fmt.Sprint("manager", i%4)
			req.Note.Corrective = true
			results[i], errs[i] = s.Issue(context.Background(), req)
		})
	}
	wg.Wait()
	fresh := 0
	for i, res := range results {
		if errs[i] != nil || res.Record == nil || res.Record.Counter != 2 {
			t.Fatalf("request %d: %+v, %v; want document 2", i, res.Record, errs[i])
		}
		if !res.Replayed {
			fresh++
		}
	}
	if refs, _ := s.References(1); fresh != 1 || refs.Corrective != 2 || !slices.Equal(refs.Notes, []uint64{2}) {
		t.Errorf("%d fresh corrective notes, references %+v; want one, document 2", fresh, refs)
	}
	// An ordinary request still needs its key.
	if _, err := s.Issue(context.Background(), noteRequest("", 1, units(100))); err == nil {
		t.Error("a note without an idempotency key that is not corrective was issued")
	}
}

// When the authority rejects a note, ReleaseNote recomputes its
// original's Credited in the same transaction, and a rejected corrective
// note no longer corrects.
func TestRejectedNoteReleased(t *testing.T) {
	var gotNote, gotOrig uint64
	opts := &queue.Options{ReleaseNote: func(note, orig *queue.Record, refs queue.References) (queue.Credit, error) {
		gotNote, gotOrig = note.Counter, orig.Counter
		var n int
		json.Unmarshal(refs.Credited, &n)
		b, err := json.Marshal(n - 1)
		return queue.Credit{Credited: b}, err
	}}
	s := queuetest.OpenWithRehash(t, opts, queuetest.Rehash)
	inv := queuetest.Request("ana", "inv", body(0))
	inv.Submit = true
	if _, err := s.Issue(context.Background(), inv); err != nil {
		t.Fatal(err)
	}
	req := noteRequest("", 1, units(5))
	req.Submit, req.Note.Corrective = true, true
	if _, err := s.Issue(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAnswer(2, queue.Answer{Status: queue.StatusRejected, At: t0}); err != nil {
		t.Fatal(err)
	}
	refs, err := s.References(1)
	if err != nil {
		t.Fatal(err)
	}
	if gotNote != 2 || gotOrig != 1 || string(refs.Credited) != "0" || refs.Corrective != 0 || !slices.Equal(refs.Notes, []uint64{2}) {
		t.Errorf("after the rejection: release(%d, %d), references %+v", gotNote, gotOrig, refs)
	}
}

// The first document binds the unit's identity; a request under another
// one is refused and writes nothing.
func TestIdentityBoundByTheFirstDocument(t *testing.T) {
	s := queuetest.OpenWithRehash(t, nil, queuetest.Rehash)
	id := map[string]string{"seller.vat_number": "300000000000003", "device.serial": "A"}
	req := queuetest.Request("ana", "k1", body(1))
	req.Identity = id
	if _, err := s.Issue(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	ident, err := s.Identity()
	if err != nil || ident.Bound["device.serial"] != "A" || ident.BoundBy != "first_document" || ident.BoundAt.IsZero() {
		t.Fatalf("identity %+v, %v", ident, err)
	}
	other := queuetest.Request("ana", "k2", body(2))
	other.Identity = map[string]string{"seller.vat_number": "300000000000003", "device.serial": "B"}
	_, err = s.Issue(context.Background(), other)
	var ie *queue.IdentityError
	if !errors.As(err, &ie) || !errors.Is(err, queue.ErrIdentityMismatch) || len(ie.Mismatches) != 1 || ie.Mismatches[0] != (queue.IdentityMismatch{Key: "device.serial", Bound: "A", Given: "B"}) {
		t.Errorf("issue under another identity: %v", err)
	}
	if h := head(t, s); h.Counter != 1 {
		t.Errorf("head %d, want 1", h.Counter)
	}
	// Bound once: BindIdentity does not move it.
	err = s.Update(func(tx *queue.Tx) error {
		ident, bound, err := tx.BindIdentity(map[string]string{"device.serial": "C"}, "onboarding")
		if bound || ident.Bound["device.serial"] != "A" {
			t.Errorf("BindIdentity on a bound unit: %+v, bound %v", ident, bound)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// AuditUnlessRepeated appends an entry once while it repeats.
func TestAuditUnlessRepeated(t *testing.T) {
	s := queuetest.Open(t, nil)
	e := queue.AuditEntry{Actor: "system", Action: queue.AuditIdentity, Subject: "start_refused", Details: map[string]string{"k": "v"}}
	for i, want := range []bool{true, false, false} {
		if got, err := s.AuditUnlessRepeated(e); err != nil || got != want {
			t.Errorf("call %d: appended %v, %v; want %v", i, got, err, want)
		}
	}
	if err := s.Audit(queue.AuditEntry{Actor: "ana", Action: queue.AuditLogin}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AuditUnlessRepeated(e); !got {
		t.Error("after another entry, the same entry was not appended again")
	}
	if n := auditCount(t, s); n != 3 {
		t.Errorf("%d audit entries, want 3", n)
	}
}

// A store from schema 1 opens as schema 2 with its documents marked for
// indexing; Reindex indexes them in order, and the check passes.
func TestMigrationIndexesOlderDocuments(t *testing.T) {
	dir := t.TempDir()
	s, err := queue.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.Issue(context.Background(), numbered("ana", fmt.Sprint(i), body(i))); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	editFile(t, dir, func(tx *bolt.Tx) { // what schema 1 wrote
		mustBucket(t, tx, bucketMeta).Put(keySchema, u64(1))
		for _, b := range []string{"journal_number", "notes"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				t.Fatal(err)
			}
		}
		for c := uint64(1); c <= 3; c++ {
			editJSON(t, mustBucket(t, tx, bucketJournal), u64(c), func(m map[string]any) { delete(m, "number") })
		}
	})
	s = openChecked(t, dir, nil)
	if _, err := s.ResolveDocument("N-2"); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("before the reindex: %v", err)
	}
	for c := uint64(1); c <= 3; c++ {
		err := s.Update(func(tx *queue.Tx) error {
			if from := tx.ReindexFrom(); from != c {
				t.Fatalf("ReindexFrom = %d, want %d", from, c)
			}
			var original uint64
			if c == 3 {
				original = 1 // document 3 was a note for document 1
			}
			return tx.Reindex(c, fmt.Sprint("N-", c), original, queue.Credit{Credited: []byte(`1`)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	s.View(func(tx *queue.Tx) error {
		if from := tx.ReindexFrom(); from != 0 {
			t.Errorf("ReindexFrom = %d after the last document, want 0", from)
		}
		return nil
	})
	if r, err := s.ResolveDocument("N-2"); err != nil || r.Counter != 2 {
		t.Errorf("after the reindex: %v, %v", r, err)
	}
	if refs, err := s.References(1); err != nil || !slices.Equal(refs.Notes, []uint64{3}) || string(refs.Credited) != "1" {
		t.Errorf("references of 1: %+v, %v", refs, err)
	}
}

// A document takes at most MaxNotes notes: its references are rewritten
// with every one.
func TestNotesPerDocumentBounded(t *testing.T) {
	s := queuetest.Open(t, &queue.Options{NoSync: true})
	queuetest.Issue(t, s, "ana", "inv", body(0))
	for i := range queue.MaxNotes {
		if _, err := s.Issue(context.Background(), noteRequest(fmt.Sprint("n", i), 1, nil)); err != nil {
			t.Fatalf("note %d: %v", i, err)
		}
	}
	_, err := s.Issue(context.Background(), noteRequest("one-more", 1, nil))
	if !errors.Is(err, queue.ErrTooManyNotes) {
		t.Errorf("note %d: %v, want ErrTooManyNotes", queue.MaxNotes+1, err)
	}
	if h := head(t, s); h.Counter != queue.MaxNotes+1 {
		t.Errorf("head %d, want %d", h.Counter, queue.MaxNotes+1)
	}
}

// A store from schema 3 opens as schema 4 with the documents that have
// references marked for the caller to recompute their Credited; Recredit
// takes them in order (nil leaves Credited as it was), refuses any other
// order, and the mark is gone after the last.
func TestMigrationMarksCreditedForRecompute(t *testing.T) {
	dir := t.TempDir()
	s := openChecked(t, dir, nil)
	for _, key := range []string{"1", "2", "3"} {
		issueSubmitted(t, s, key)
	}
	issueNote(t, s, "n4", 3, 5, false)
	issueNote(t, s, "n5", 1, 5, false)
	issueNote(t, s, "n6", 1, 5, false)
	s.Close()
	editFile(t, dir, func(tx *bolt.Tx) { mustBucket(t, tx, bucketMeta).Put(keySchema, u64(3)) })
	s = openChecked(t, dir, nil)
	next := func() (from uint64) {
		s.View(func(tx *queue.Tx) error { from = tx.RecreditFrom(); return nil })
		return from
	}
	if from := next(); from != 1 {
		t.Fatalf("RecreditFrom = %d after the migration, want 1", from)
	}
	if err := s.Update(func(tx *queue.Tx) error { return tx.Recredit(3, []byte(`"3"`)) }); err == nil {
		t.Error("Recredit of document 3 before document 1 was accepted")
	}
	for _, step := range []struct {
		original, next uint64
		credited       []byte
	}{{1, 3, []byte(`"one"`)}, {3, 0, nil}} {
		if err := s.Update(func(tx *queue.Tx) error { return tx.Recredit(step.original, step.credited) }); err != nil {
			t.Fatal(err)
		}
		if from := next(); from != step.next {
			t.Errorf("RecreditFrom = %d after document %d, want %d", from, step.original, step.next)
		}
	}
	if refs, err := s.References(1); err != nil || string(refs.Credited) != `"one"` || !slices.Equal(refs.Notes, []uint64{5, 6}) || refs.CreditedInFull != 0 {
		t.Errorf("references of 1: %+v, %v; want Credited recomputed, its notes kept", refs, err)
	}
	if refs, err := s.References(3); err != nil || string(refs.Credited) != "1" {
		t.Errorf("references of 3: %+v, %v; want Credited as it was", refs, err)
	}
	if err := s.Update(func(tx *queue.Tx) error { return tx.Recredit(3, nil) }); err == nil {
		t.Error("Recredit after the last document was accepted")
	}
}

// A store with no references needs no recomputation.
func TestMigrationWithoutNotesMarksNothing(t *testing.T) {
	dir := t.TempDir()
	s := openChecked(t, dir, nil)
	issueSubmitted(t, s, "1")
	s.Close()
	editFile(t, dir, func(tx *bolt.Tx) { mustBucket(t, tx, bucketMeta).Put(keySchema, u64(3)) })
	s = openChecked(t, dir, nil)
	s.View(func(tx *queue.Tx) error {
		if from := tx.RecreditFrom(); from != 0 {
			t.Errorf("RecreditFrom = %d, want 0", from)
		}
		return nil
	})
}

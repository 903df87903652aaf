package queue

// These tests look inside the writer (the length of its channel) to line up
// several calls in one group commit. They cannot use queuetest, which
// imports this package, so they carry a small stamp of their own.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func stampOf(slot Slot) (Stamped, error) {
	b := []byte(fmt.Sprintf(`{"counter":%d,"prev":%q,"uuid":%q}`, slot.Counter, slot.PrevHash, slot.UUID))
	sum := sha256.Sum256(b)
	return Stamped{Bytes: b, Hash: hex.EncodeToString(sum[:])}, nil
}

func rehashOf(_ string, doc []byte) (string, error) {
	sum := sha256.Sum256(doc)
	return hex.EncodeToString(sum[:]), nil
}

func openInternal(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := s.Check(CheckOptions{Rehash: rehashOf}); err != nil {
			t.Errorf("store check: %v", err)
		}
		s.Close()
	})
	return s
}

var uuidSeq struct {
	sync.Mutex
	n int
}

func request(user, key, body string, stamp func(Slot) (Stamped, error)) *IssueRequest {
	uuidSeq.Lock()
	uuidSeq.n++
	uuid := fmt.Sprintf("00000000-0000-4000-8000-%012d", uuidSeq.n)
	uuidSeq.Unlock()
	sum := sha256.Sum256([]byte(body))
	return &IssueRequest{User: user, IdempotencyKey: key, BodyHash: sum[:], Regime: "internal",
		GenesisHash: "genesis", Kind: "invoice", UUID: uuid, Stamp: stamp}
}

type outcome struct {
	res IssueResult
	err error
}

// holdWriter issues a document whose stamp blocks, so that the writer sits
// inside a transaction while the test queues the next batch. The returned
// release lets it go and returns that document's outcome.
func holdWriter(t *testing.T, s *Store) (release func() outcome) {
	t.Helper()
	entered, proceed := make(chan struct{}), make(chan struct{})
	done := make(chan outcome, 1)
	go func() {
		res, err := s.Issue(context.Background(), request("hold", "hold", "hold", func(slot Slot) (Stamped, error) {
			close(entered)
			<-proceed
			return stampOf(slot)
		}))
		done <- outcome{res, err}
	}()
	<-entered
	var once sync.Once
	var held outcome
	release = func() outcome {
		once.Do(func() {
			close(proceed)
			held = <-done
		})
		return held
	}
	// A test that fails while the writer is held must still let it go,
	// or closing the store would wait for ever.
	t.Cleanup(func() { release() })
	return release
}

// enqueue starts Issue(req) and waits until the call is in the writer's
// channel behind the n-1 queued before it, so that the batch's order is the
// order of the calls.
func enqueue(t *testing.T, s *Store, n int, ctx context.Context, req *IssueRequest) <-chan outcome {
	t.Helper()
	ch := make(chan outcome, 1)
	go func() {
		res, err := s.Issue(ctx, req)
		ch <- outcome{res, err}
	}()
	waitQueued(t, s, n)
	return ch
}

// waitQueued waits until the writer's channel holds n calls.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // only to fail instead of hanging
	for len(s.writes) < n {
		if time.Now().After(deadline) {
			t.Fatalf("call %d never reached the writer's queue", n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestBatchMixed puts good documents, failing and panicking stamps, a
// resend and a conflicting key into one group commit. Each document is
// all-or-nothing on its own: the good ones take contiguous counters in
// queue order, the failures take none and do not spoil the batch.
func TestBatchMixed(t *testing.T) {
	s := openInternal(t)
	release := holdWriter(t, s)

	boom := errors.New("boom")
	calls := []*IssueRequest{
		request("alice", "a", "A", stampOf),
		request("alice", "fail", "F", func(Slot) (Stamped, error) { return Stamped{}, boom }),
		request("alice", "b", "B", stampOf),
		request("alice", "panic", "P", func(Slot) (Stamped, error) { panic("index out of range") }),
		request("alice", "a", "A", stampOf),  // resend of a, queued behind it
		request("alice", "b", "B2", stampOf), // b's key with another body
		request("bob", "a", "A", stampOf),    // a's key, another user
		request("alice", "c", "C", stampOf),
	}
	var outs []<-chan outcome
	for i, req := range calls {
		outs = append(outs, enqueue(t, s, i+1, context.Background(), req))
	}
	if held := release(); held.err != nil || held.res.Record.Counter != 1 {
		t.Fatalf("held document = %+v, %v", held.res.Record, held.err)
	}
	got := make([]outcome, len(outs))
	for i, ch := range outs {
		got[i] = <-ch
	}

	wantCounter := map[int]uint64{0: 2, 2: 3, 4: 2, 6: 4, 7: 5}
	for i, o := range got {
		c, ok := wantCounter[i]
		switch {
		case ok && (o.err != nil || o.res.Record.Counter != c):
			t.Errorf("call %d (%s/%s): %v, %v; want counter %d", i, calls[i].User, calls[i].IdempotencyKey, o.res.Record, o.err, c)
		case !ok && o.err == nil:
			t.Errorf("call %d (%s/%s) succeeded with %+v; want an error", i, calls[i].User, calls[i].IdempotencyKey, o.res.Record)
		}
	}
	if !errors.Is(got[1].err, boom) {
		t.Errorf("failing stamp: err = %v, want %v", got[1].err, boom)
	}
	if got[3].err == nil || !strings.Contains(got[3].err.Error(), "index out of range") {
		t.Errorf("panicking stamp: err = %v", got[3].err)
	}
	if !got[4].res.Replayed || got[0].res.Replayed {
		t.Errorf("Replayed: original %v, resend %v; want false, true", got[0].res.Replayed, got[4].res.Replayed)
	}
	if !errors.Is(got[5].err, ErrIdempotencyConflict) {
		t.Errorf("conflicting body: err = %v, want ErrIdempotencyConflict", got[5].err)
	}

	// The next document continues the sequence.
	res, err := s.Issue(context.Background(), request("alice", "d", "D", stampOf))
	if err != nil || res.Record.Counter != 6 {
		t.Fatalf("next issue = %v, %v; want counter 6", res.Record, err)
	}
	if h, _ := s.Head(); h.Counter != 6 || h.Hash != res.Record.Hash {
		t.Errorf("head = %+v", h)
	}
}

// TestBatchDuplicates sends one sale five times at once: one document.
func TestBatchDuplicates(t *testing.T) {
	s := openInternal(t)
	release := holdWriter(t, s)
	var outs []<-chan outcome
	for i := range 5 {
		outs = append(outs, enqueue(t, s, i+1, context.Background(), request("alice", "same", "S", stampOf)))
	}
	release()
	fresh := 0
	for i, ch := range outs {
		o := <-ch
		if o.err != nil || o.res.Record.Counter != 2 {
			t.Errorf("copy %d: %v, %v; want counter 2", i, o.res.Record, o.err)
			continue
		}
		if !o.res.Replayed {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d copies say they issued the document, want exactly 1", fresh)
	}
	if h, _ := s.Head(); h.Counter != 2 {
		t.Errorf("head = %d, want 2", h.Counter)
	}
}

// TestIssueContextEnds: a caller that gives up after its sale was queued
// does not undo the sale; its resend finds the document.
func TestIssueContextEnds(t *testing.T) {
	s := openInternal(t)
	release := holdWriter(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	ch := enqueue(t, s, 1, ctx, request("alice", "k", "K", stampOf))
	cancel()
	if o := <-ch; !errors.Is(o.err, context.Canceled) {
		t.Fatalf("Issue with a canceled context = %v, %v", o.res, o.err)
	}
	release()
	res, err := s.Issue(context.Background(), request("alice", "k", "K", stampOf))
	if err != nil || !res.Replayed || res.Record.Counter != 2 {
		t.Errorf("resend = %+v, %v; want the queued document 2, replayed", res.Record, err)
	}
}

// TestStoredStatusIsANumber: Status marshals by name for the API, but the
// journal keeps the explicit number (style.md: stored values have explicit
// numbers) and reads it back.
func TestStoredStatusIsANumber(t *testing.T) {
	s := openInternal(t)
	req := request("alice", "k", "K", stampOf)
	req.Submit = true
	res, err := s.Issue(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	s.db.View(func(tx *bolt.Tx) error {
		v, err := journalJSON(tx, tx.Bucket(bucketJournal).Get(u64(res.Record.Counter)))
		raw = append(raw, v...)
		return err
	})
	if !strings.Contains(string(raw), `"status":1`) {
		t.Errorf("stored record %s does not hold status 1", raw)
	}
	r, err := s.Document(res.Record.Counter)
	if err != nil || r.Status != StatusPending {
		t.Errorf("Document = %v, %v; want status pending", r, err)
	}
}

// queueCall starts call and waits until it is in the writer's channel as
// its n-th entry, like enqueue for any of the writer's calls.
func queueCall(t *testing.T, s *Store, n int, call func() error) <-chan error {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- call() }()
	waitQueued(t, s, n)
	return ch
}

// lastTxID is the id of the last committed read-write transaction.
func lastTxID(t *testing.T, s *Store) int {
	t.Helper()
	var id int
	if err := s.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

func issueForSubmission(t *testing.T, s *Store, key string) *Record {
	t.Helper()
	req := request("alice", key, key, stampOf)
	req.Submit, req.Print = true, PrintNow
	res, err := s.Issue(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res.Record
}

// TestBatchAnswers: the authority's answers and deferrals that wait for
// the writer go into the same commit as the documents waiting with them,
// each with its own outcome; a second answer for a document changes
// nothing.
func TestBatchAnswers(t *testing.T) {
	s := openInternal(t)
	r1 := issueForSubmission(t, s, "1")
	r2 := issueForSubmission(t, s, "2")
	r3 := issueForSubmission(t, s, "3")
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	release := holdWriter(t, s) // document 4
	before := lastTxID(t, s)
	n := 0
	next := func() int { n++; return n }
	accept1 := queueCall(t, s, next(), func() error {
		return s.RecordAnswer(r1.Counter, Answer{Status: StatusAccepted, Body: []byte(`{"ok":1}`), At: at})
	})
	issued := enqueue(t, s, next(), context.Background(), request("alice", "5", "5", stampOf))
	reject2 := queueCall(t, s, next(), func() error {
		return s.RecordAnswer(r2.Counter, Answer{Status: StatusRejected, Messages: []string{"BR-01"}, At: at})
	})
	again1 := queueCall(t, s, next(), func() error {
		return s.RecordAnswer(r1.Counter, Answer{Status: StatusRejected, At: at})
	})
	defer3 := queueCall(t, s, next(), func() error { return s.Defer(r3.Counter, at.Add(time.Minute), "503") })
	unknown := queueCall(t, s, next(), func() error { return s.RecordAnswer(99, Answer{Status: StatusAccepted, At: at}) })
	if held := release(); held.err != nil {
		t.Fatal(held.err)
	}

	for name, ch := range map[string]<-chan error{"accept 1": accept1, "reject 2": reject2, "defer 3": defer3} {
		if err := <-ch; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := <-again1; err == nil {
		t.Error("a second answer for document 1 was recorded")
	}
	if err := <-unknown; !errors.Is(err, ErrNotFound) {
		t.Errorf("answer for a document that does not exist: %v, want ErrNotFound", err)
	}
	if o := <-issued; o.err != nil || o.res.Record.Counter != 5 {
		t.Errorf("document issued with the answers = %+v, %v; want counter 5", o.res.Record, o.err)
	}
	// The held document's commit, then one for everything queued behind it.
	if got := lastTxID(t, s) - before; got != 2 {
		t.Errorf("the held document, then the queued answers and document, took %d commits; want 2", got)
	}

	for _, c := range []struct {
		counter uint64
		want    Status
	}{{r1.Counter, StatusAccepted}, {r2.Counter, StatusRejected}, {r3.Counter, StatusPending}} {
		if r, err := s.Document(c.counter); err != nil || r.Status != c.want {
			t.Errorf("document %d: %v, %v; want %v", c.counter, r, err, c.want)
		}
	}
	out, err := s.Outbox(10)
	if err != nil || len(out) != 1 || out[0].Counter != r3.Counter || out[0].Attempts != 1 || out[0].LastError != "503" {
		t.Errorf("outbox = %+v, %v; want document 3 alone, deferred once", out, err)
	}
	if rej, err := s.Rejected(5); err != nil || rej.Count != 1 {
		t.Errorf("rejected index = %+v, %v; want document 2", rej, err)
	}
}

// TestBatchWriteFailsAlone: a call whose writes fail halfway (a document
// whose idempotency key bbolt refuses, an answer for a document whose
// print job cannot be read) is undone alone; the others in its batch are
// committed, and the counters stay contiguous.
func TestBatchWriteFailsAlone(t *testing.T) {
	s := openInternal(t)
	r1 := issueForSubmission(t, s, "1")
	r2 := issueForSubmission(t, s, "2")
	job := printKey(r2.Counter, 0)
	var goodJob []byte
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPrintJobs)
		goodJob = append(goodJob, b.Get(job)...)
		return b.Put(job, []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // before the store's check
		if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPrintJobs).Put(job, goodJob) }); err != nil {
			t.Error(err)
		}
	})
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	release := holdWriter(t, s) // document 3
	a := enqueue(t, s, 1, context.Background(), request("alice", "a", "A", stampOf))
	tooLong := enqueue(t, s, 2, context.Background(), request("alice", strings.Repeat("k", 40000), "L", stampOf))
	answer1 := queueCall(t, s, 3, func() error { return s.RecordAnswer(r1.Counter, Answer{Status: StatusAccepted, At: at}) })
	answer2 := queueCall(t, s, 4, func() error { return s.RecordAnswer(r2.Counter, Answer{Status: StatusAccepted, At: at}) })
	b := enqueue(t, s, 5, context.Background(), request("alice", "b", "B", stampOf))
	if held := release(); held.err != nil {
		t.Fatal(held.err)
	}

	if o := <-a; o.err != nil || o.res.Record.Counter != 4 {
		t.Errorf("document a = %+v, %v; want counter 4", o.res.Record, o.err)
	}
	if o := <-tooLong; o.err == nil {
		t.Errorf("a document with a 40,000-byte idempotency key was issued as %d", o.res.Record.Counter)
	}
	if err := <-answer1; err != nil {
		t.Errorf("answer for document 1: %v", err)
	}
	if err := <-answer2; err == nil {
		t.Error("the answer for document 2 was recorded although its print job could not be read")
	}
	if o := <-b; o.err != nil || o.res.Record.Counter != 5 {
		t.Errorf("document b = %+v, %v; want counter 5", o.res.Record, o.err)
	}
	if r, err := s.Document(r1.Counter); err != nil || r.Status != StatusAccepted {
		t.Errorf("document 1 = %v, %v; want accepted", r, err)
	}
	// Nothing of the failed answer stays: the document is pending, in the
	// outbox, counted there.
	if r, err := s.Document(r2.Counter); err != nil || r.Status != StatusPending {
		t.Errorf("document 2 = %v, %v; want pending", r, err)
	}
	if out, err := s.Outbox(10); err != nil || len(out) != 1 || out[0].Counter != r2.Counter {
		t.Errorf("outbox = %+v, %v; want document 2 alone", out, err)
	}
	if st, err := s.OutboxStats(); err != nil || st.Pending != 1 {
		t.Errorf("outbox stats = %+v, %v; want 1 pending", st, err)
	}
}

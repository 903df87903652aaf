package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
)

func issuePrinted(t *testing.T, s *queue.Store, key string, how queue.PrintRequest, submit bool) *queue.Record {
	t.Helper()
	req := queuetest.Request("alice", key, body(len(key)))
	req.Print, req.Submit = how, submit
	res, err := s.Issue(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res.Record
}

func TestPrintQueue(t *testing.T) {
	dir := t.TempDir()
	s := queuetest.OpenDir(t, dir, &queue.Options{Clock: newClock().Clock}, queuetest.Rehash)
	issuePrinted(t, s, "1", queue.PrintNow, false)
	issuePrinted(t, s, "2", queue.PrintNone, false)
	issuePrinted(t, s, "3", queue.PrintAfterAnswer, true) // a standard invoice: print once cleared
	issuePrinted(t, s, "4", queue.PrintAfterAnswer, true) // … and this one is rejected
	issuePrinted(t, s, "5", queue.PrintNow, true)
	// HoldPrint decides from the stamped document; it holds only submitted ones.
	hold := func(key string, submit bool) {
		req := queuetest.Request("alice", key, body(len(key)))
		req.Print, req.Submit = queue.PrintNow, submit
		req.HoldPrint = func(doc []byte) bool { return len(doc) > 0 }
		if _, err := s.Issue(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	hold("6", true)
	hold("7", false)

	jobs, err := s.PrintJobs(0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range jobs {
		got = append(got, string(j.State))
	}
	want := "queued awaiting_answer awaiting_answer queued awaiting_answer queued"
	if g := strings.Join(got, " "); g != want || jobs[0].Counter != 1 || jobs[3].Counter != 5 || jobs[5].Counter != 7 {
		t.Fatalf("print queue = %v (%+v), want %s for documents 1, 3, 4, 5, 6, 7", g, jobs, want)
	}

	next, ok, err := s.NextPrintJob()
	if err != nil || !ok || next.Counter != 1 || next.Copy != 0 {
		t.Fatalf("NextPrintJob = %+v, %v, %v; want the original of 1", next, ok, err)
	}
	if err := s.PrintAttemptFailed(1, 0, t0.Add(time.Second), "paper out", false); err != nil {
		t.Fatal(err)
	}
	next, _, _ = s.NextPrintJob()
	if next.Counter != 1 || next.Attempts != 1 || next.LastError != "paper out" {
		t.Fatalf("after a failure the job must keep its place with the reason: %+v", next)
	}
	if err := s.PrintDone(1, 0, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if rec, _ := s.Document(1); !rec.PrintedAt.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("record 1 printed_at = %v, want the confirmation time", rec.PrintedAt)
	}
	if err := s.PrintDone(1, 0, t0); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("confirming a job twice: err = %v, want not found", err)
	}

	// Answers release or cancel the held originals.
	if err := s.RecordAnswer(3, queue.Answer{Status: queue.StatusAccepted, At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAnswer(4, queue.Answer{Status: queue.StatusRejected, At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAnswer(6, queue.Answer{Status: queue.StatusAcceptedWithWarnings, At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.PrintDone(7, 0, t0); err != nil {
		t.Fatal(err)
	}
	jobs, _ = s.PrintJobs(0)
	if len(jobs) != 3 || jobs[0].Counter != 3 || jobs[0].State != queue.PrintQueued || jobs[1].Counter != 5 || jobs[2].Counter != 6 || jobs[2].State != queue.PrintQueued {
		t.Fatalf("after the answers the queue = %+v, want 3 and 6 (released) and 5; 4 cancelled", jobs)
	}
	if st, err := s.PrintStats(); err != nil || st.Queued != 3 || st.AwaitingAnswer != 0 {
		t.Errorf("PrintStats = %+v, %v", st, err)
	}

	// Copies are numbered and survive a restart; the original prints first.
	c1, err := s.QueueCopy(1, "manager", t0)
	if err != nil || c1.Copy != 1 {
		t.Fatalf("QueueCopy = %+v, %v; want copy 1", c1, err)
	}
	c2, _ := s.QueueCopy(1, "manager", t0)
	if c2.Copy != 2 {
		t.Errorf("second copy numbered %d, want 2", c2.Copy)
	}
	if _, err := s.QueueCopy(99, "manager", t0); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("copy of a missing document: err = %v, want not found", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = queuetest.OpenDir(t, dir, &queue.Options{Clock: newClock().Clock}, queuetest.Rehash)
	jobs, _ = s.PrintJobs(0)
	if len(jobs) != 5 || jobs[0].Counter != 1 || jobs[0].Copy != 1 || jobs[1].Copy != 2 || jobs[2].Counter != 3 {
		t.Fatalf("after restart the queue = %+v, want copies 1 and 2 of document 1, then 3, 5 and 6", jobs)
	}
	for _, j := range jobs {
		if err := s.PrintDone(j.Counter, j.Copy, t0); err != nil {
			t.Fatal(err)
		}
	}
	if rec, _ := s.Document(1); rec.Copies != 2 {
		t.Errorf("record 1 copies = %d, want 2", rec.Copies)
	}
	if c3, _ := s.QueueCopy(1, "manager", t0); c3.Copy != 3 {
		t.Errorf("after two printed copies the next is %d, want 3", c3.Copy)
	}
	if _, ok, _ := s.NextPrintJob(); !ok {
		t.Error("the third copy is not next")
	}

	// A receipt that cannot be printed is set aside, not retried forever;
	// asking to print it again requeues the original.
	issuePrinted(t, s, "8", queue.PrintNow, false)
	if err := s.PrintAttemptFailed(1, 3, t0, "done elsewhere", false); err != nil {
		t.Fatal(err)
	}
	if err := s.PrintDone(1, 3, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.PrintAttemptFailed(8, 0, t0, "QR too large for the paper", true); err != nil {
		t.Fatal(err)
	}
	if j, ok, _ := s.NextPrintJob(); ok {
		t.Errorf("a failed job is offered again: %+v", j)
	}
	if st, _ := s.PrintStats(); st.Failed != 1 || st.Queued != 0 {
		t.Errorf("PrintStats = %+v, want 1 failed", st)
	}
	again, err := s.QueueCopy(8, "manager", t0)
	if err != nil || again.Copy != 0 || again.State != queue.PrintQueued {
		t.Errorf("reprint of a failed original = %+v, %v; want the original queued again", again, err)
	}
}

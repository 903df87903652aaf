package queue_test

import (
	"testing"

	"github.com/egsd/egsd/queue"
)

// TestOffsiteCursor: the cursor survives a reopen, never moves back for
// the same target, and starts over for another.
func TestOffsiteCursor(t *testing.T) {
	dir := t.TempDir()
	s := openChecked(t, dir, nil)
	if c, err := s.OffsiteCursor(); err != nil || c != (queue.OffsiteCursor{}) {
		t.Fatalf("new store's cursor = %+v, %v", c, err)
	}
	c := queue.OffsiteCursor{Target: "s3://a", Documents: 40, Answers: 12, Checkpoints: 7}
	if err := s.SetOffsiteCursor(c); err != nil {
		t.Fatal(err)
	}
	if c.HoldFrom() != 13 {
		t.Errorf("HoldFrom = %d, want 13 (the first unanswered one is kept)", c.HoldFrom())
	}
	back := c
	back.Documents = 39
	if err := s.SetOffsiteCursor(back); err == nil {
		t.Error("the cursor moved back")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openChecked(t, dir, nil)
	if got, err := s.OffsiteCursor(); err != nil || got != c {
		t.Errorf("cursor after reopen = %+v, %v; want %+v", got, err, c)
	}
	other := queue.OffsiteCursor{Target: "s3://b"}
	if err := s.SetOffsiteCursor(other); err != nil {
		t.Errorf("a cursor for another target: %v", err)
	}
}

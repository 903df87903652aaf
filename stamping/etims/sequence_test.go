package etims_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/etims"
)

// The submission sequence against a model of KRA: documents are issued
// in order, submitted one at a time, and each attempt ends accepted,
// rejected, timed out after KRA recorded it, or timed out before; the
// state goes through JSON between attempts, as the agent stores it. KRA
// must see 1, 2, 3, … with no gap and no number twice, and every document
// KRA has must have been accepted exactly once.
func TestSequenceGapFree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var seq etims.Sequence
	kra := map[int64]uint64{} // invcNo → counter KRA recorded
	accepted := map[uint64]int64{}
	for counter := uint64(1); counter <= 3000; counter++ {
		for attempt := 1; ; attempt++ {
			n, err := seq.Assign(counter)
			if err != nil {
				t.Fatal(err)
			}
			if seq.InFlight == nil || seq.InFlight.InvcNo != n {
				t.Fatalf("in flight %+v, assigned %d", seq.InFlight, n)
			}
			var o stamping.Outcome
			if c, ok := kra[n]; ok {
				// A retry looks the number up first: KRA has it.
				if c != counter {
					t.Fatalf("invcNo %d held by document %d was given to %d", n, c, counter)
				}
				o = stamping.Duplicate
			} else {
				switch r := rng.IntN(10); {
				case r < 6:
					kra[n], o = counter, stamping.Accepted
				case r < 7:
					o = stamping.Rejected
				case r < 8:
					kra[n], o = counter, stamping.Retryable // recorded, answer lost
				default:
					o = stamping.Retryable // never reached KRA
				}
			}
			if err := seq.Settle(counter, o); err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(seq)
			if err != nil {
				t.Fatal(err)
			}
			seq = etims.Sequence{}
			if err := json.Unmarshal(b, &seq); err != nil {
				t.Fatal(err)
			}
			if o == stamping.Accepted || o == stamping.Duplicate {
				accepted[counter] = n
				break
			}
			if o == stamping.Rejected {
				break
			}
		}
	}
	for n := int64(1); n <= int64(len(kra)); n++ {
		if _, ok := kra[n]; !ok {
			t.Fatalf("KRA has %d numbers but not %d: a gap", len(kra), n)
		}
	}
	if len(accepted) != len(kra) {
		t.Errorf("%d documents accepted, KRA has %d", len(accepted), len(kra))
	}
	if seq.Next != int64(len(kra))+1 || seq.InFlight != nil {
		t.Errorf("sequence %+v after %d numbers", seq, len(kra))
	}
}

func TestSequenceOneInFlight(t *testing.T) {
	var seq etims.Sequence
	if n, err := seq.Assign(10); n != 1 || err != nil {
		t.Fatalf("first number %d, %v", n, err)
	}
	if _, err := seq.Assign(11); err == nil {
		t.Error("a second document got a number while the first is in flight")
	}
	if n, err := seq.Assign(10); n != 1 || err != nil {
		t.Errorf("the same document again: %d %v", n, err)
	}
	if err := seq.Settle(11, stamping.Accepted); err == nil {
		t.Error("settled a document that holds no number")
	}
	if err := seq.Settle(10, stamping.Rejected); err != nil {
		t.Fatal(err)
	}
	// The rejected document's number goes to the next.
	if n, err := seq.Assign(11); n != 1 || err != nil {
		t.Errorf("after a rejection the next document got %d, %v; want 1", n, err)
	}
	if err := seq.Settle(11, stamping.AcceptedWithWarnings); err != nil {
		t.Fatal(err)
	}
	if n, _ := seq.Assign(12); n != 2 {
		t.Errorf("after an acceptance the next document got %d, want 2", n)
	}
}

package etimssim

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/etims"
	"github.com/egsd/egsd/stamping/sale"
)

// doc is one issued document of the mixed run, as the agent keeps it:
// the stored template, the original's counter for a credit note, and,
// once settled, the numbered request and KRA's answer.
type doc struct {
	counter  uint64
	template []byte
	original uint64 // counter of the original sale, credit notes only
	request  []byte
	answer   []byte
	invcNo   int64
	outcome  stamping.Outcome
}

// TestMixedRunAgainstFaults drives 1,000 sales and credit notes through
// the submission sequence the way docs/etims.md designs it (FIFO, one
// request in flight, the number stored before the request is sent, a
// retry looked up first, a rejection releasing its number) while the
// simulator times out after recording, resets, fails with 5xx and
// refuses chosen numbers. At the end KRA has every accepted document
// once, under continuous numbers, and each receipt's QR is the URL built
// from the signature KRA recorded.
func TestMixedRunAgainstFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 documents against faults")
	}
	h := newHarness(t, Config{})
	c := h.unit(etims.OSCU)
	h.register(c)
	c.HTTP.Timeout = 250 * time.Millisecond
	rng := rand.New(rand.NewPCG(7, 11))

	var docs []*doc
	var seq etims.Sequence
	rejects := map[uint64]bool{}
	for counter := uint64(1); counter <= 1000; counter++ {
		d := &doc{counter: counter}
		// A credit note in every fifth document, for the last sale KRA
		// signed.
		if counter%5 == 0 {
			for back := len(docs) - 1; back >= 0; back-- {
				if o := docs[back]; o.original == 0 && (o.outcome == stamping.Accepted || o.outcome == stamping.Duplicate) {
					d.original = o.counter
					break
				}
			}
		}
		var s *sale.Sale
		item := catalogue[rng.IntN(len(catalogue))]
		if d.original != 0 {
			orig, _ := etims.ParseSaleRequest(docs[d.original-1].template)
			for _, l := range catalogue {
				if l.ItemCode == orig.ItemList[0].ItemCd {
					item = l
				}
			}
			s = creditNote(item)
		} else {
			s = invoice(item)
		}
		d.template = template(t, c, s, fmt.Sprintf("KE-%d", counter), issued.Add(time.Duration(counter)*time.Second))
		docs = append(docs, d)

		// Faults for this document's first attempt.
		f := Faults{Operations: []etims.Operation{etims.OpSaveSale, etims.OpLookup}}
		switch r := rng.IntN(100); {
		case r < 2:
			f.TimeoutCount = 1
		case r < 5:
			f.ResetCount = 1
		case r < 8:
			f.Status, f.StatusCount = 503, 1
		case r < 10:
			// The number this document will take: the next one, since
			// the one before it is settled.
			f.Results = map[int64]string{max(seq.Next, 1): "910"}
			rejects[counter] = true
		}
		if err := h.sim.SetFaults(f); err != nil {
			t.Fatal(err)
		}

		for attempt := 1; attempt < 20; attempt++ {
			n, err := seq.Assign(counter)
			if err != nil {
				t.Fatal(err)
			}
			var org int64
			if d.original != 0 {
				org = docs[d.original-1].invcNo
			}
			d.request = number(t, d.template, n, org) // stored before it is sent
			res := c.Deliver(ctx, d.request, attempt > 1)
			if err := seq.Settle(counter, res.Outcome); err != nil {
				t.Fatal(err)
			}
			d.outcome, d.answer = res.Outcome, res.Answer
			if res.Outcome == stamping.Accepted || res.Outcome == stamping.Duplicate {
				d.invcNo = n
				break
			}
			if res.Outcome == stamping.Rejected {
				break
			}
			if res.Outcome != stamping.Retryable {
				t.Fatalf("document %d: %v %q", counter, res.Outcome, res.Messages)
			}
		}
	}

	sales := h.sim.Sales(etims.OSCU, sellerPIN, "00")
	accepted := 0
	dev := etims.Device{SdcID: "KRACU0100000001"}
	byNumber := map[int64]Sale{}
	for _, s := range sales {
		byNumber[s.InvcNo] = s
	}
	for _, d := range docs {
		switch d.outcome {
		case stamping.Accepted, stamping.Duplicate:
			accepted++
			got, ok := byNumber[d.invcNo]
			if !ok || got.TrdInvcNo != fmt.Sprintf("KE-%d", d.counter) {
				t.Fatalf("document %d: KRA has %+v under invcNo %d", d.counter, got, d.invcNo)
			}
			f, err := etims.ReceiptOf(d.request, d.answer, c.Identity, dev, etims.Sandbox)
			if err != nil {
				t.Fatalf("document %d: %v", d.counter, err)
			}
			if f.QR != etims.QRURL(etims.Sandbox, sellerPIN, "00", got.RcptSign) {
				t.Fatalf("document %d: QR %s, KRA's signature %s", d.counter, f.QR, got.RcptSign)
			}
		case stamping.Rejected:
			if !rejects[d.counter] {
				t.Errorf("document %d rejected: %s", d.counter, d.answer)
			}
		default:
			t.Errorf("document %d unsettled: %v", d.counter, d.outcome)
		}
	}
	notes := 0
	for _, s := range sales {
		if s.RcptTyCd == "R" {
			notes++
		}
	}
	if notes < 150 {
		t.Errorf("only %d credit notes reached KRA", notes)
	}
	if accepted != len(sales) {
		t.Errorf("%d documents accepted, KRA has %d sales", accepted, len(sales))
	}
	if b := h.sim.Breaks(etims.OSCU, sellerPIN, "00"); len(b) != 0 {
		t.Errorf("KRA sees breaks in invcNo: %q", b)
	}
	if f := h.sim.Findings(etims.OSCU, sellerPIN, "00"); len(f) != 0 {
		t.Errorf("findings %q", f)
	}
	st := h.sim.Stats()
	t.Logf("%d documents, %d accepted, %d rejected by choice; simulator %+v", len(docs), accepted, len(rejects), st)
	if len(rejects) == 0 || st.Faults == 0 {
		t.Errorf("the run had no rejections (%d) or no faults (%d)", len(rejects), st.Faults)
	}
}

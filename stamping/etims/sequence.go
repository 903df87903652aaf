package etims

import (
	"fmt"

	"github.com/egsd/egsd/stamping"
)

// Sequence is the unit's invoice sequence as KRA sees it (invcNo):
// gap-free and without duplicates (spec/etims.md §A4.1, "no_gap"),
// although documents are issued before they are numbered and some are
// rejected. It is the state of the submission sequence, which the agent
// stores (as JSON) in the same transaction as what it records:
//
//   - a document is numbered when it is first submitted, not when it is
//     issued (Assign), and the number is stored before the request is
//     sent;
//   - documents are submitted in issue order, one at a time: at most one
//     number is in flight;
//   - the number stays with its document across timeouts and every other
//     answer that leaves KRA's view unknown (Settle with Retryable or
//     CredentialError): the next attempt looks it up before it sends;
//   - KRA's acceptance (Accepted, AcceptedWithWarnings, or Duplicate: KRA
//     had it) moves the sequence past the number;
//   - KRA's refusal of the request as it is (Rejected, never a timeout)
//     releases the number: the next document takes it, so KRA sees no gap.
//
// The zero value is a new unit's sequence: the first number is 1.
type Sequence struct {
	// Next is the number the next document takes; 0 means 1.
	Next int64 `json:"next"`
	// InFlight is the document whose submission holds a number and has
	// not been settled yet.
	InFlight *Assignment `json:"in_flight,omitempty"`
}

// Assignment is a number held by a document, named by its counter.
type Assignment struct {
	Counter uint64 `json:"counter"`
	InvcNo  int64  `json:"invc_no"`
}

func (s *Sequence) next() int64 { return max(s.Next, 1) }

// Assign returns the number of the document with counter: the one it
// holds when it is in flight, else the next one, which it then holds.
// Another document in flight is an error: one request at a time.
func (s *Sequence) Assign(counter uint64) (int64, error) {
	if a := s.InFlight; a != nil {
		if a.Counter != counter {
			return 0, fmt.Errorf("etims: document %d holds invcNo %d and is not settled; document %d must wait", a.Counter, a.InvcNo, counter)
		}
		return a.InvcNo, nil
	}
	s.InFlight = &Assignment{Counter: counter, InvcNo: s.next()}
	return s.InFlight.InvcNo, nil
}

// Settle records the outcome of the in-flight document's submission:
// accepted (or KRA had it already) moves the sequence past its number; a
// rejection releases the number; anything else keeps it in flight.
func (s *Sequence) Settle(counter uint64, o stamping.Outcome) error {
	a := s.InFlight
	if a == nil || a.Counter != counter {
		return fmt.Errorf("etims: document %d holds no invoice number", counter)
	}
	switch o {
	case stamping.Accepted, stamping.AcceptedWithWarnings, stamping.Duplicate:
		s.Next, s.InFlight = a.InvcNo+1, nil
	case stamping.Rejected:
		s.InFlight = nil
	case stamping.Retryable, stamping.CredentialError:
	default:
		return fmt.Errorf("etims: outcome %v", o)
	}
	return nil
}

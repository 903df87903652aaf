package main

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/kz"
)

// TestKZSalesAndReturns: sales and returns through the API of a Kazakh
// unit reach the simulated OFD once each, in order, numbered 1, 2, 3 …
// in shift 1; each keeps the OFD's fiscal sign; a return names its
// parent's fiscal sign; every frame sent passes protoc and the spec's
// tables.
func TestKZSalesAndReturns(t *testing.T) {
	u := newKZUnit(t, nil, nil, agent.Options{})
	const n = 12
	numbers := map[int]string{}
	for i := range n {
		if i%4 == 3 {
			// A return names its parent's fiscal sign: the OFD has it first.
			waitFor(t, "the parent to be registered", 30*time.Second, func() bool { return u.pending() == 0 })
			u.issue(fmt.Sprint("ret-", i), kzReturn(i-2, numbers[i-2]))
			continue
		}
		_, numbers[i] = u.issue(fmt.Sprint("sale-", i), kzSale(i))
	}
	waitFor(t, "every ticket to be registered", 30*time.Second, func() bool { return u.pending() == 0 })
	recs := journal(t, u.a.Store())
	reg := u.sim.Tickets(kzKKMID)
	if len(recs) != n || len(reg) != n {
		t.Fatalf("%d documents, the OFD registered %d; want %d", len(recs), len(reg), n)
	}
	signOf := map[string]string{} // document number → fiscal sign
	for i, r := range recs {
		if r.Status != queue.StatusAccepted {
			t.Fatalf("document %d is %s: %v", r.Counter, r.Status, r.Messages)
		}
		a, tk := answerOf(t, r), ticketOf(t, r)
		if a.FiscalSign == "" || a.FiscalSign != reg[i].FiscalSign {
			t.Errorf("document %d: fiscal sign %q, the OFD registered %q", r.Counter, a.FiscalSign, reg[i].FiscalSign)
		}
		if tk.ShiftNumber != 1 || tk.ShiftDocumentNumber != uint32(i+1) || tk.OfflineTicketNumber != 0 {
			t.Errorf("document %d: shift %d number %d autonomous %d", r.Counter, tk.ShiftNumber, tk.ShiftDocumentNumber, tk.OfflineTicketNumber)
		}
		signOf[r.Number] = a.FiscalSign
		if tk.Operation == kz.OperationSellReturn {
			if tk.Parent == nil || tk.Parent.Number != signOf[numbers[i-2]] || tk.Parent.IsOffline {
				t.Errorf("return %d: parent %+v, want the fiscal sign %s", r.Counter, tk.Parent, signOf[numbers[i-2]])
			}
		}
		if reg[i].Ticket.ShiftDocumentNumber != uint32(i+1) {
			t.Errorf("the OFD's ticket %d is number %d in its shift", i, reg[i].Ticket.ShiftDocumentNumber)
		}
	}
	if st := u.sim.Stats(); st.Tickets != n {
		t.Errorf("simulator stats %+v", st)
	}
	s := u.a.Regime().(*kz.Regime).Session()
	if s.Pending != nil || s.ReqNum != uint16(n) {
		t.Errorf("session %+v: want REQNUM %d, nothing pending", s, n)
	}
	stored, err := u.a.Store().RegimeState(agent.SessionStateKey)
	if err != nil || !containsToken(stored, s.Token) {
		t.Errorf("the stored session %s lacks the token in force %d (%v)", stored, s.Token, err)
	}
	u.checkFrames(0)
}

func containsToken(session []byte, token uint32) bool {
	s, err := kz.UnmarshalSession(session)
	return err == nil && s.Token == token && strconv.Itoa(int(token)) != ""
}

package ofdsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/kz"
	"github.com/egsd/egsd/stamping/kz/kzspec"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

var utc5 = time.FixedZone("UTC+5", 5*3600)

const kkmID = 203539

// unit is a KKM in the tests: its client, its session (as stored after
// each step) and its shift totals.
type unit struct {
	t      *testing.T
	client *kz.Client
	sess   *kz.Session
	stored []byte // the session as persisted
	shift  *kz.ShiftTotals
	sent   [][]byte // every frame sent, checked by protoc at the end
}

func start(t *testing.T, srv *Server) *unit {
	t.Helper()
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	u := &unit{t: t, client: &kz.Client{Addr: addr, ReadTimeout: 5 * time.Second}, sess: &kz.Session{ID: kkmID, Token: 1000}}
	t.Cleanup(u.checkSent)
	return u
}

// send sends a frame, keeping it for the protoc check.
func (u *unit) send(p *kz.Pending) (*kz.Reply, error) {
	u.sent = append(u.sent, p.Frame)
	return u.client.Send(context.Background(), p)
}

// checkSent runs every frame the client sent through protoc --decode_raw
// and the spec's field tables (kzspec).
func (u *unit) checkSent() {
	if u.t.Failed() || len(u.sent) == 0 {
		return
	}
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		u.t.Log("protoc is not installed (apt-get install protobuf-compiler): the frames sent are not cross-checked here; CI installs it")
		return
	}
	for _, f := range u.sent {
		kzspec.CheckFrame(u.t, protoc, f, "Request")
	}
}

func (u *unit) persist() {
	b, err := u.sess.Marshal()
	if err != nil {
		u.t.Fatal(err)
	}
	u.stored = b
}

func service() *kz.ServiceRequest {
	now := kz.DateTimeOf(time.Now().In(utc5))
	return &kz.ServiceRequest{OfflinePeriod: &kz.OfflinePeriod{Begin: now, End: now}, Kkm: &kz.KkmRegInfo{PointOfPaymentNumber: "1", TerminalNumber: "1", FnsKkmID: "620300000011", SerialNumber: "EGSD-0001", KkmID: "203539"}, Org: &kz.OrgRegInfo{INN: "940140000385"}}
}

// do sends req as the agent would: persist after Begin, send, resend the
// same pending frame on a transport failure, persist after Complete.
func (u *unit) do(req *kz.Request) (*kz.Reply, kz.Outcome) {
	u.t.Helper()
	p, err := u.sess.Begin(req)
	if err != nil {
		u.t.Fatal(err)
	}
	u.persist()
	for range 5 {
		reply, err := u.send(p)
		if errors.Is(err, kz.ErrTransport) {
			continue
		}
		if err != nil {
			u.t.Fatal(err)
		}
		o := u.sess.Complete(reply)
		u.persist()
		return reply, o
	}
	u.t.Fatalf("no answer to %s after 5 tries", req.Command)
	return nil, 0
}

func randomSale(r *rand.Rand, kind sale.Kind) *sale.Sale {
	s := &sale.Sale{Kind: kind, Currency: "KZT"}
	for i := range 1 + r.IntN(4) {
		l := sale.Line{Name: fmt.Sprintf("Товар %d", i), Quantity: money.Decimal{Coef: int64(1 + r.IntN(3000)), Scale: 3},
			UnitPrice: money.Decimal{Coef: int64(1 + r.IntN(500000)), Scale: 2}, Category: sale.Standard, Rate: money.MustParse("16")}
		switch r.IntN(5) {
		case 0:
			l.Category, l.Rate, l.ExemptionReason = sale.Exempt, money.Decimal{}, "social"
		case 1:
			l.Rate = money.MustParse("5")
		case 2:
			pct := money.Decimal{Coef: int64(1 + r.IntN(30))}
			l.Discounts = []sale.Adjustment{{Percent: &pct, Reason: "Скидка"}}
		}
		s.Lines = append(s.Lines, l)
	}
	if r.IntN(4) == 0 {
		pct := money.Decimal{Coef: 5}
		s.Discounts = []sale.DocumentAdjustment{{Adjustment: sale.Adjustment{Percent: &pct}}}
	}
	if r.IntN(6) == 0 {
		s.Charges = []sale.DocumentAdjustment{{Adjustment: sale.Adjustment{Amount: money.MustParse("25")}, Category: sale.Standard, Rate: money.MustParse("16")}}
	}
	switch r.IntN(3) {
	case 0:
		s.Payments = []sale.Payment{{Means: sale.Card}}
	case 1:
		tendered := money.Decimal{Coef: 1_000_000_00, Scale: 2}
		s.Payments = []sale.Payment{{Means: sale.Cash, Tendered: &tendered}}
	}
	return s
}

// TestShiftOf1000Tickets: 1,000 mixed sales and returns, then the shift
// closes. The Z report the KKM computed and the simulator's own sum of the
// tickets both equal the sum of the sales' totals computed here.
func TestShiftOf1000Tickets(t *testing.T) {
	opened := time.Date(2026, 3, 2, 9, 0, 0, 0, utc5)
	srv := &Server{Config: Config{ID: kkmID, Token: 1000, Now: func() time.Time { return opened.Add(17 * time.Hour) }}}
	u := start(t, srv)
	r := rand.New(rand.NewPCG(12, 2026))
	u.shift = kz.StartShift(1, kz.DateTimeOf(opened), nil)
	var want [4]struct {
		count int
		sum   int64
	}
	var wantCash int64
	type sold struct {
		sign  string
		at    time.Time
		total kz.Money
		s     *sale.Sale
	}
	var sales []sold
	for i := range 1000 {
		at := opened.Add(time.Duration(i) * time.Minute)
		var s *sale.Sale
		in := kz.TicketInput{IssuedAt: at, Operator: kz.Operator{Code: 1}, ShiftNumber: 1, ShiftDocumentNumber: uint32(i + 1)}
		if len(sales) > 0 && r.IntN(5) == 0 {
			orig := sales[r.IntN(len(sales))]
			s = &sale.Sale{Kind: sale.CreditNote, Currency: "KZT", Lines: orig.s.Lines, Discounts: orig.s.Discounts, Charges: orig.s.Charges}
			in.Parent = &kz.ParentTicket{Number: orig.sign, DateTime: kz.DateTimeOf(orig.at), KgdKkmID: "620300000011", Total: orig.total}
		} else {
			s = randomSale(r, sale.Invoice)
		}
		tr, err := kz.BuildTicket(s, in)
		if err != nil {
			t.Fatalf("ticket %d: %v", i, err)
		}
		reply, o := u.do(&kz.Request{Command: kz.CommandTicket, Ticket: tr, Service: service()})
		if o != kz.Accepted {
			t.Fatalf("ticket %d: %s %s", i, reply.Response.Result.Code, reply.Response.Result.Text)
		}
		if err := u.shift.Add(tr); err != nil {
			t.Fatal(err)
		}
		totals, err := sale.ComputeTotals(s)
		if err != nil {
			t.Fatal(err)
		}
		want[tr.Operation].count++
		want[tr.Operation].sum += totals.Payable.Coef
		for _, p := range totals.Payments {
			if p.Means == sale.Cash {
				sign := int64(1)
				if tr.Operation == kz.OperationSellReturn {
					sign = -1
				}
				wantCash += sign * p.Amount.Coef
			}
		}
		if len(s.Payments) == 0 { // paid in cash, exactly
			sign := int64(1)
			if tr.Operation == kz.OperationSellReturn {
				sign = -1
			}
			wantCash += sign * totals.Payable.Coef
		}
		if s.Kind == sale.Invoice {
			sales = append(sales, sold{reply.Response.Ticket.TicketNumber, at, tr.Amounts.Total, s})
		}
	}
	z, err := u.shift.Report(kz.DateTimeOf(opened.Add(20*time.Hour)), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range z.TicketOperations {
		sum, _ := to.TicketsSum.Cents()
		if w := want[to.Operation]; int(to.TicketsCount) != w.count || sum != w.sum {
			t.Errorf("KKM's Z report, %s: %d tickets for %d, want %d for %d", to.Operation, to.TicketsCount, sum, w.count, w.sum)
		}
	}
	if c, _ := z.CashSum.Cents(); c != wantCash {
		t.Errorf("KKM's cash %d, want %d", c, wantCash)
	}
	reply, o := u.do(&kz.Request{Command: kz.CommandCloseShift, Service: service(),
		CloseShift: &kz.CloseShiftRequest{CloseTime: z.CloseShiftTime, ShiftNumber: 1, ZReport: z, Operator: &kz.Operator{Code: 1}}})
	if o != kz.Accepted {
		t.Fatalf("close shift: %s %s", reply.Response.Result.Code, reply.Response.Result.Text)
	}
	closed := srv.ClosedShifts(kkmID)
	if len(closed) != 1 || closed[0].Tickets != 1000 {
		t.Fatalf("the simulator closed %+v", closed)
	}
	for op, w := range want {
		if got := closed[0].ByOp[op]; got.Count != w.count || got.Sum != w.sum {
			t.Errorf("simulator, %s: %d for %d, want %d for %d", kz.Operation(op), got.Count, got.Sum, w.count, w.sum)
		}
	}
	if closed[0].Cash != wantCash {
		t.Errorf("simulator's cash %d, want %d", closed[0].Cash, wantCash)
	}
	if want[kz.OperationSellReturn].count == 0 || want[kz.OperationSell].count == 0 {
		t.Error("the shift did not mix sales and returns")
	}
}

func ticketReq(t *testing.T, at time.Time, offline uint32) *kz.Request {
	t.Helper()
	s := &sale.Sale{Kind: sale.Invoice, Currency: "KZT", Lines: []sale.Line{{Name: "Хлеб", Quantity: money.MustParse("1"), UnitPrice: money.MustParse("250"), Category: sale.Standard, Rate: money.MustParse("16")}}}
	tr, err := kz.BuildTicket(s, kz.TicketInput{IssuedAt: at, Operator: kz.Operator{Code: 1}, ShiftNumber: 1, OfflineTicketNumber: offline})
	if err != nil {
		t.Fatal(err)
	}
	return &kz.Request{Command: kz.CommandTicket, Ticket: tr, Service: service()}
}

// TestRetryAfterLostAnswer: the OFD registers a ticket and the answer is
// lost; the unit restarts from its stored session and resends the pending
// frame (same REQNUM and TOKEN): the OFD answers with the same fiscal sign
// and registers the ticket once.
func TestRetryAfterLostAnswer(t *testing.T) {
	srv := &Server{Config: Config{ID: kkmID, Token: 1000, Faults: Faults{DropCount: 1}}}
	u := start(t, srv)
	p, err := u.sess.Begin(ticketReq(t, time.Now().In(utc5), 0))
	if err != nil {
		t.Fatal(err)
	}
	u.persist()
	if _, err := u.send(p); !errors.Is(err, kz.ErrTransport) {
		t.Fatalf("the dropped answer: %v", err)
	}
	// Killed here: the session on disk still has the pending frame.
	restored, err := kz.UnmarshalSession(u.stored)
	if err != nil || restored.Pending == nil {
		t.Fatalf("restored %+v, %v", restored, err)
	}
	reply, err := u.send(restored.Pending)
	if err != nil {
		t.Fatal(err)
	}
	if o := restored.Complete(reply); o != kz.Accepted {
		t.Fatalf("retry: %v %s", o, reply.Response.Result.Text)
	}
	regs := srv.Tickets(kkmID)
	if len(regs) != 1 || regs[0].FiscalSign != reply.Response.Ticket.TicketNumber {
		t.Fatalf("registered %d tickets, signs %v", len(regs), regs)
	}
	if st := srv.Stats(); st.Replays != 1 || st.Dropped != 1 {
		t.Errorf("stats %+v", st)
	}
	// The next request uses the adopted token and goes through.
	u.sess = restored
	if _, o := u.do(ticketReq(t, time.Now().In(utc5), 0)); o != kz.Accepted {
		t.Errorf("the next ticket: %v", o)
	}
	if n := len(srv.Tickets(kkmID)); n != 2 {
		t.Errorf("%d tickets registered, want 2", n)
	}
}

// TestResults8And9: the same REQNUM with another TOKEN is 8, with the same
// TOKEN and another command 9; neither registers anything, and the
// session moves on to a new REQNUM.
func TestResults8And9(t *testing.T) {
	srv := &Server{Config: Config{ID: kkmID, Token: 1000}}
	u := start(t, srv)
	if _, o := u.do(ticketReq(t, time.Now().In(utc5), 0)); o != kz.Accepted {
		t.Fatal(o)
	}
	last := u.sess.ReqNum
	send := func(token uint32, req *kz.Request) *kz.Reply {
		frame, err := kz.AppendFrame(nil, kkmID, token, last, req.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		r, err := u.send(&kz.Pending{Command: req.Command, ReqNum: last, Token: token, Frame: frame})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := send(u.sess.Token, ticketReq(t, time.Now().In(utc5), 0)); r.Response.Result.Code != kz.ResultInvalidRequestNumber {
		t.Errorf("same REQNUM, another TOKEN: %s", r.Response.Result.Code)
	}
	if r := send(1000, &kz.Request{Command: kz.CommandSystem, Service: service()}); r.Response.Result.Code != kz.ResultInvalidRetryRequest {
		t.Errorf("same REQNUM and TOKEN, another command: %s", r.Response.Result.Code)
	}
	if kz.OutcomeOf(kz.ResultInvalidRequestNumber) != kz.Renumber || kz.OutcomeOf(kz.ResultInvalidRetryRequest) != kz.Renumber {
		t.Error("8 and 9 are not Renumber")
	}
	if n := len(srv.Tickets(kkmID)); n != 1 {
		t.Errorf("%d tickets registered, want 1", n)
	}
}

// TestFaults: 254 keeps the request pending and its resend is accepted
// once; an unknown field is skipped; the OFD down then up; a bad token is
// 2; autonomous tickets out of order are refused; a shift open too long
// gets 11; a Z report that does not match the tickets gets 13.
func TestFaults(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, utc5)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := &Server{Config: Config{ID: kkmID, Token: 1000, Now: clock, Faults: Faults{Results: []kz.ResultCode{254}, UnknownField: true}}}
	u := start(t, srv)

	p, _ := u.sess.Begin(ticketReq(t, now, 0))
	reply, err := u.send(p)
	if err != nil {
		t.Fatal(err)
	}
	if o := u.sess.Complete(reply); o != kz.Retry || u.sess.Pending == nil {
		t.Fatalf("254: %v", o)
	}
	reply, err = u.send(u.sess.Pending)
	if err != nil || u.sess.Complete(reply) != kz.Accepted {
		t.Fatalf("the resend: %v %+v", err, reply)
	}
	if n := len(srv.Tickets(kkmID)); n != 1 {
		t.Errorf("%d tickets after 254 and a resend, want 1", n)
	}

	srv.SetDown(true)
	p, _ = u.sess.Begin(ticketReq(t, now, 0))
	if _, err := u.send(p); !errors.Is(err, kz.ErrTransport) {
		t.Errorf("down: %v", err)
	}
	srv.SetDown(false)
	if reply, err = u.send(p); err != nil || u.sess.Complete(reply) != kz.Accepted {
		t.Fatalf("up again: %v", err)
	}

	// A ticket with a token the OFD did not issue.
	bad := &kz.Session{ID: kkmID, Token: 1, ReqNum: 500}
	p, _ = bad.Begin(ticketReq(t, now, 0))
	if reply, err = u.send(p); err != nil || reply.Response.Result.Code != kz.ResultInvalidToken || bad.Complete(reply) != kz.Stopped {
		t.Errorf("a bad token: %v %+v", err, reply)
	}

	if _, o := u.do(ticketReq(t, now, 1002)); o != kz.Accepted {
		t.Fatal("autonomous 1002")
	}
	if reply, o := u.do(ticketReq(t, now, 1001)); o != kz.Refused || reply.Response.Result.Code != kz.ResultIncorrectRequestData {
		t.Errorf("autonomous 1001 after 1002: %v", o)
	}

	mu.Lock()
	now = now.Add(25 * time.Hour)
	mu.Unlock()
	if _, o := u.do(ticketReq(t, now, 0)); o != kz.CloseShift {
		t.Errorf("a ticket 25 h into the shift: %v", o)
	}
	z := &kz.ZXReport{DateTime: kz.DateTimeOf(now), ShiftNumber: 1, OpenShiftTime: kz.DateTimeOf(now.Add(-25 * time.Hour)), CloseShiftTime: kz.DateTimeOf(now)}
	if reply, o := u.do(&kz.Request{Command: kz.CommandCloseShift, Service: service(),
		CloseShift: &kz.CloseShiftRequest{CloseTime: kz.DateTimeOf(now), ZReport: z, Operator: &kz.Operator{Code: 1}}}); o != kz.Refused {
		t.Errorf("an empty Z report of a shift with tickets: %v %s", o, reply.Response.Result.Text)
	}
}

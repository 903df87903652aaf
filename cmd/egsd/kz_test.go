package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/device"
	"github.com/egsd/egsd/device/fakeprinter"
	"github.com/egsd/egsd/queue"
	ofdsim "github.com/egsd/egsd/sim/ofd"
	"github.com/egsd/egsd/stamping"
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
	// The receipt facts of Order 626 that the regime adds (the agent adds
	// the seller, the lines and the payments): the unit's ЗНМ and РНМ, the
	// shift and the receipt's number, each line's НКТ code, quantity, unit
	// and price, VAT per rate, the OFD and its website; the fiscal sign
	// and QR come from the answer.
	var info stamping.ReceiptInfo
	if err := json.Unmarshal(recs[0].Receipt, &info); err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, f := range info.Fields {
		fields[f.Label] = f.Value
	}
	want := map[string]string{"ЗНМ": "EGSD-KZ-0001", "РНМ": kzRNM, "Смена": "1", "Чек №": "1", "ОФД": "АО «Казахтелеком» (ОФД)", "Проверка чека": "oofd.kz"}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("receipt field %s = %q, want %q", k, fields[k], v)
		}
	}
	// Sale 0: 2 × bread at 250.00 and 3 kg of cheese at 3999.99 without
	// VAT, both 16 %: 12499.97, whose VAT 1999.9952 rounds to 2000.00 for
	// the group; the unit prices with VAT are 290.00 and 4639.99.
	if info.TaxNumberLabel != "БИН/ИИН" || len(info.LineDetails) != 2 || info.LineDetails[0][0] != "НКТ 02000000000012345, 2.000 шт x 290.00" ||
		info.LineDetails[1][0] != "НКТ 02000000000054321, 3.000 кг x 4639.99" ||
		len(info.TaxTable) != 1 || info.TaxTable[0] != (stamping.ReceiptField{Label: "НДС 16%", Value: "2000.00"}) || info.VAT != "2000.00" {
		t.Errorf("receipt facts: label %q, line details %q, tax table %+v", info.TaxNumberLabel, info.LineDetails, info.TaxTable)
	}
	signed, err := u.a.Regime().(*kz.Regime).Signed(recs[0].Answer)
	if err != nil || len(signed.Fields) != 1 || signed.Fields[0].Label != "ФП" || signed.Fields[0].Value != reg[0].FiscalSign || !strings.Contains(signed.QR, "i="+reg[0].FiscalSign) {
		t.Errorf("signed receipt facts %+v, %v", signed, err)
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

// TestKZOutageAutonomous: the OFD goes down; the ticket in flight stays
// pending, and the 300 sales after it are issued autonomously at once —
// each signed with its counter, its receipt printed straight away marked
// autonomous with the consumer QR built from that sign — and an outage
// incident opens. When the OFD is back, a replay delivers every ticket
// once, in issue order, the autonomous ones with their offline number
// and the offline period; the incident closes, and the next sale is online
// again. Each autonomous ticket keeps two signed records (its autonomous
// sign, then both signs), each online one one, and the stopped unit's
// export and store verify.
func TestKZOutageAutonomous(t *testing.T) {
	if testing.Short() {
		t.Skip("300 tickets")
	}
	p := startPrinter(t, fakeprinter.Options{WidthDots: 576, Keep: 400})
	u := newKZUnit(t, nil, withPrinter(p), agent.Options{})
	u.issue("before", kzSale(0))
	waitFor(t, "the first ticket to be registered", 30*time.Second, func() bool { return u.pending() == 0 })
	u.sim.SetDown(true)
	straddler, _ := u.issue("in-flight", kzSale(1))
	rg := u.a.Regime().(*kz.Regime)
	waitFor(t, "the unit to notice the OFD is gone", 30*time.Second, func() bool { on, _ := rg.Autonomous(); return on })
	const n = 300
	first := straddler + 1
	for i := range n {
		u.issue(fmt.Sprint("outage-", i), kzSale(i+2))
	}
	waitFor(t, "the autonomous receipts to print", time.Minute, func() bool { return len(p.Receipts()) >= n+1 })
	autonomousPrinted := 0
	for _, r := range p.Receipts() {
		if strings.Contains(r.Text, kz.AutonomousTitle) && len(r.QR) == 1 && strings.Contains(r.QR[0], "&f="+kzRNM) {
			autonomousPrinted++
		}
	}
	if autonomousPrinted < 300 {
		t.Errorf("%d autonomous receipts printed while the OFD was down, want 300", autonomousPrinted)
	}
	waitFor(t, "the outage incident", 30*time.Second, func() bool {
		incs, err := u.a.Store().Incidents(true, 100)
		return err == nil && slices.ContainsFunc(incs, func(i queue.Incident) bool { return i.Kind == "outage" })
	})
	if got := len(u.sim.Tickets(kzKKMID)); got != 1 {
		t.Fatalf("the OFD registered %d tickets while down", got)
	}
	for c := first; c < first+n; c++ {
		rec, err := u.a.Store().Document(c)
		if err != nil {
			t.Fatal(err)
		}
		tk := ticketOf(t, rec)
		if tk.OfflineTicketNumber != uint32(c) {
			t.Fatalf("document %d: autonomous sign %d, want its counter", c, tk.OfflineTicketNumber)
		}
		var info stamping.ReceiptInfo
		json.Unmarshal(rec.Receipt, &info)
		if !strings.Contains(info.QR, "i="+strconv.FormatUint(c, 10)+"&f="+kzRNM) {
			t.Fatalf("document %d: QR %q", c, info.QR)
		}
	}
	if rec, _ := u.a.Store().Document(straddler); ticketOf(t, rec).OfflineTicketNumber != 0 {
		t.Error("the ticket in flight when the OFD went down was re-signed autonomously; it must be resent as it was")
	}
	u.sim.SetDown(false)
	u.replay()
	waitFor(t, "every ticket to be delivered", 2*time.Minute, func() bool { return u.pending() == 0 })
	reg := u.sim.Tickets(kzKKMID)
	recs := journal(t, u.a.Store())
	if len(reg) != len(recs) || len(reg) != n+2 {
		t.Fatalf("the OFD registered %d tickets, the journal has %d, want %d", len(reg), len(recs), n+2)
	}
	for i, r := range recs {
		tk := ticketOf(t, r)
		if r.Status != queue.StatusAccepted || reg[i].Ticket.ShiftDocumentNumber != tk.ShiftDocumentNumber || reg[i].Ticket.OfflineTicketNumber != tk.OfflineTicketNumber {
			t.Fatalf("document %d (%s) is the OFD's ticket %d/%d: out of order or not delivered", r.Counter, r.Status, reg[i].Ticket.ShiftDocumentNumber, reg[i].Ticket.OfflineTicketNumber)
		}
		if answerOf(t, r).FiscalSign != reg[i].FiscalSign {
			t.Errorf("document %d: fiscal sign %q, the OFD's %q", r.Counter, answerOf(t, r).FiscalSign, reg[i].FiscalSign)
		}
	}
	// The autonomous tickets reported the offline period from the first
	// failure on.
	outageStart := recs[1].IssuedAt.Add(-time.Second)
	for _, f := range u.sim.Frames() {
		_, payload, err := kz.SplitFrame(f)
		if err != nil {
			t.Fatal(err)
		}
		req, err := kz.UnmarshalRequest(payload)
		if err != nil || req.Ticket == nil || req.Ticket.OfflineTicketNumber == 0 {
			continue
		}
		begin, err := req.Service.OfflinePeriod.Begin.Time(time.FixedZone("UTC+5", 5*3600))
		if err != nil || begin.Before(outageStart) || req.Service.OfflinePeriod.Begin == req.Service.OfflinePeriod.End {
			t.Fatalf("autonomous ticket %d sent with offline period %+v", req.Ticket.OfflineTicketNumber, req.Service.OfflinePeriod)
		}
	}
	waitFor(t, "the outage incident to close", 30*time.Second, func() bool {
		incs, err := u.a.Store().Incidents(true, 100)
		return err == nil && !slices.ContainsFunc(incs, func(i queue.Incident) bool { return i.Kind == "outage" })
	})
	after, _ := u.issue("after", kzSale(7))
	waitFor(t, "the sale after the outage", 30*time.Second, func() bool { return u.pending() == 0 })
	if rec, _ := u.a.Store().Document(after); ticketOf(t, rec).OfflineTicketNumber != 0 {
		t.Error("the unit stayed autonomous after the queue drained")
	}
	u.checkFrames(0)
	// The autonomous tickets keep two signed records each (the autonomous
	// sign, then both), the three accepted online one; the stopped unit's
	// export and store verify.
	const records = 2*n + 3
	if got := u.checkSealed(func(c uint64) bool { return c >= first && c < first+n }, nil); got != records {
		t.Errorf("%d signed records, want %d", got, records)
	}
	u.stop()
	u.exportVerified(records)
}

// TestKZAutonomousLimit: 72 hours after the oldest document still waiting
// for the OFD was issued, sales are refused (503, the spec's message), the
// counter unchanged; once the queue drains the unit issues again by
// itself. Shifts close by themselves at their legal length meanwhile.
func TestKZAutonomousLimit(t *testing.T) {
	ft := device.NewFakeTime(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	sim := &ofdsim.Server{Config: ofdsim.Config{Now: ft.Wall}}
	u := newKZUnit(t, sim, nil, agent.Options{Time: ft})
	u.issue("sale-0", kzSale(0))
	waitFor(t, "the first sale to be registered", 30*time.Second, func() bool { return u.pending() == 0 })
	u.sim.SetDown(true)
	// The manager closes the shift as the OFD goes down: the close is the
	// request in flight, and every ticket after it is autonomous.
	u.closeShift()
	rg := u.a.Regime().(*kz.Regime)
	waitFor(t, "the unit to notice the OFD is gone", 30*time.Second, func() bool { on, _ := rg.Autonomous(); return on })
	u.issue("sale-1", kzSale(1))
	for i := range 3 {
		ft.Advance(23 * time.Hour)
		u.relogin()
		u.issue(fmt.Sprint("day-", i), kzSale(i+2))
	}
	ft.Advance(2*time.Hour + time.Minute) // 71 h 1 min after sale-1
	u.relogin()
	u.issue("last", kzSale(9))
	ft.Advance(time.Hour)
	u.relogin()
	head, _ := u.a.Store().Head()
	ans, err := u.cashier.postSale(context.Background(), "refused", []byte(kzSale(10)))
	if err != nil || ans.Status != http.StatusServiceUnavailable || !strings.Contains(string(ans.Body), "Автономный режим превышает 72 часа") {
		t.Fatalf("past 72 hours = %d %s, %v", ans.Status, ans.Body, err)
	}
	if h, _ := u.a.Store().Head(); h.Counter != head.Counter {
		t.Errorf("the counter moved from %d to %d", head.Counter, h.Counter)
	}
	closes := 0
	for _, r := range journal(t, u.a.Store()) {
		if r.Kind == "shift_close" {
			closes++
		}
	}
	// Shift 1 closed by the manager; shift 2 opened at sale-1 and closed
	// by itself before day-1 (46 h); shift 3 before the last sale (71 h,
	// 25 h after it opened).
	if closes != 3 {
		t.Errorf("%d shifts closed over 72 hours, want 3 (one by the manager)", closes)
	}
	u.sim.SetDown(false)
	u.replay()
	waitFor(t, "the queue to drain", time.Minute, func() bool { return u.pending() == 0 })
	for _, r := range journal(t, u.a.Store()) {
		if r.Status != queue.StatusAccepted {
			t.Errorf("document %d (%s) is %s: %v", r.Counter, r.Kind, r.Status, r.Messages)
		}
	}
	u.issue("refused", kzSale(10))
	waitFor(t, "the sale after the drain", 30*time.Second, func() bool { return u.pending() == 0 })
	if got, want := len(u.sim.ClosedShifts(kzKKMID)), 3; got != want {
		t.Errorf("the OFD closed %d shifts, want %d", got, want)
	}
	u.checkFrames(0)
}

// TestKZShiftOf1000: a shift of 1,000 sales and returns through the API,
// closed by the manager: the Z report the unit computed from its journal
// equals the sums of the tickets (counted here from the stored tickets),
// and the OFD accepts it, its own sums of the tickets it received agreeing.
// Each ticket keeps its signed record with its fiscal sign.
func TestKZShiftOf1000(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 tickets")
	}
	u := newKZUnit(t, nil, nil, agent.Options{})
	const n = 1000
	numbers := map[int]string{}
	for i := range n {
		if i%5 == 4 {
			// A return names its parent's fiscal sign: the OFD has it first.
			waitFor(t, "the parent to be registered", time.Minute, func() bool { return u.pending() == 0 })
			u.issue(fmt.Sprint("ret-", i), kzReturn(i-3, numbers[i-3]))
			continue
		}
		_, numbers[i] = u.issue(fmt.Sprint("sale-", i), kzSale(i))
	}
	res := u.closeShift()
	waitFor(t, "the shift close to be delivered", 2*time.Minute, func() bool { return u.pending() == 0 })
	var count [4]uint32
	var total [4]int64
	for _, r := range journal(t, u.a.Store()) {
		if r.Status != queue.StatusAccepted {
			t.Fatalf("document %d (%s) is %s: %v", r.Counter, r.Kind, r.Status, r.Messages)
		}
		if r.Kind == "shift_close" {
			continue
		}
		tk := ticketOf(t, r)
		c, err := tk.Amounts.Total.Cents()
		if err != nil {
			t.Fatal(err)
		}
		count[tk.Operation]++
		total[tk.Operation] += c
	}
	if count[kz.OperationSell] != 800 || count[kz.OperationSellReturn] != 200 {
		t.Fatalf("tickets per operation %v", count)
	}
	for _, op := range res.Report.Operations {
		var want int64
		var tickets uint32
		switch op.Operation {
		case "sell":
			want, tickets = total[kz.OperationSell], count[kz.OperationSell]
		case "sell_return":
			want, tickets = total[kz.OperationSellReturn], count[kz.OperationSellReturn]
		}
		if op.Total != fmt.Sprintf("%d.%02d", want/100, want%100) || op.Tickets != tickets {
			t.Errorf("Z report %s: %d tickets for %s; the tickets: %d for %d tiyn", op.Operation, op.Tickets, op.Total, tickets, want)
		}
	}
	closed := u.sim.ClosedShifts(kzKKMID)
	if len(closed) != 1 || closed[0].Tickets != n || closed[0].ByOp[kz.OperationSell].Sum != total[kz.OperationSell] ||
		closed[0].ByOp[kz.OperationSellReturn].Sum != total[kz.OperationSellReturn] {
		t.Fatalf("the OFD's closed shifts: %+v", closed)
	}
	// Every ticket keeps one signed record, with its fiscal sign; the
	// shift close none.
	if got := u.checkSealed(func(uint64) bool { return false }, map[uint64]bool{res.Counter: true}); got != n {
		t.Errorf("%d signed records, want %d", got, n)
	}
	u.checkFrames(0)
}

// TestKZBadSales: each of these Kazakh sales is refused with a 400 naming
// its field, and the counter does not move.
func TestKZBadSales(t *testing.T) {
	u := newKZUnit(t, nil, nil, agent.Options{})
	line := `{"name":"Хлеб","quantity":"1","unit_price":"250.00","vat_category":"S","vat_rate":"16","item_code":"02000000000012345","quantity_unit":"796"}`
	sale := func(fields string) string { return `{"kind":"invoice",` + fields + `}` }
	cases := []struct{ body, field string }{
		{sale(`"lines":[` + strings.Replace(line, `"16"`, `"12"`, 1) + `],"payments":[{"means":"cash"}]`), "lines[0].vat_rate"},
		{sale(`"lines":[` + strings.Replace(line, `"16"`, `"20"`, 1) + `],"payments":[{"means":"cash"}]`), "lines[0].vat_rate"},
		{sale(`"lines":[` + strings.Replace(line, `"796"`, `"PCS"`, 1) + `],"payments":[{"means":"cash"}]`), "lines[0].quantity_unit"},
		{sale(`"lines":[` + strings.Replace(line, `"796"`, `"79612"`, 1) + `],"payments":[{"means":"cash"}]`), "lines[0].quantity_unit"},
		{sale(`"currency":"USD","lines":[` + line + `],"payments":[{"means":"cash"}]`), "currency"},
		{sale(`"currency":"RUB","lines":[` + line + `],"payments":[{"means":"cash"}]`), "currency"},
		{sale(`"buyer":{"name":"X","vat_number":"940140000386"},"lines":[` + line + `],"payments":[{"means":"cash"}]`), "buyer.vat_number"},
		{sale(`"buyer":{"name":"X","vat_number":"12345"},"lines":[` + line + `],"payments":[{"means":"cash"}]`), "buyer.vat_number"},
		{sale(`"buyer":{"name":"X","vat_number":"ABCDEFGHIJKL"},"lines":[` + line + `],"payments":[{"means":"cash"}]`), "buyer.vat_number"},
		{sale(`"buyer":{"name":"X","vat_number":"` + kzBIN + `"},"lines":[` + line + `],"payments":[{"means":"cash"}]`), "buyer.vat_number"},
		{sale(`"buyer":{"name":"X","id_scheme":"BIN","id":"940140000384"},"lines":[` + line + `],"payments":[{"means":"cash"}]`), "buyer.id"},
		{sale(`"buyer":{"name":"X","id_scheme":"BIN","id":"` + kzBIN + `"},"lines":[` + line + `],"payments":[{"means":"cash"}]`), "buyer.id"},
		{sale(`"lines":[` + line + `],"payments":[{"means":"voucher","amount":"290.00"}]`), "payments[0].means"},
		{sale(`"lines":[` + line + `],"payments":[{"means":"bank_transfer","amount":"290.00"}]`), "payments[0].means"},
		{sale(`"cash_rounding":"1.00","lines":[` + line + `],"payments":[{"means":"cash"}]`), "cash_rounding"},
		{sale(`"lines":[` + strings.Replace(line, `"16"`, `"12"`, 1) + `],"discounts":[{"amount":"10.00","reason":"Скидка","vat_category":"S","vat_rate":"12"}],"payments":[{"means":"cash"}]`), "discounts[0].vat_rate"},
		{sale(`"lines":[` + line + `],"charges":[{"amount":"10.00","reason":"Пакет","vat_category":"S","vat_rate":"10"}],"payments":[{"means":"cash"}]`), "charges[0].vat_rate"},
		{`{"kind":"debit_note","original":"1-1","reason":"x","lines":[` + line + `],"payments":[{"means":"cash"}]}`, "kind"},
		{sale(`"lines":[` + strings.Replace(line, `"16"`, `"8"`, 1) + `],"payments":[{"means":"cash"}]`), "lines[0].vat_rate"},
		{sale(`"lines":[` + line + `,` + strings.Replace(line, `"796"`, `"x"`, 1) + `],"payments":[{"means":"cash"}]`), "lines[1].quantity_unit"},
		{`{"kind":"credit_note","original":"9-9","reason":"x","lines":[` + line + `],"payments":[{"means":"cash"}]}`, "original"},
	}
	head, _ := u.a.Store().Head()
	for i, c := range cases {
		ans, err := u.cashier.postSale(context.Background(), fmt.Sprint("bad-", i), []byte(c.body))
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Errors []struct{ Field string } `json:"errors"`
		}
		json.Unmarshal(ans.Body, &p)
		if ans.Status != http.StatusBadRequest || !slices.ContainsFunc(p.Errors, func(e struct{ Field string }) bool { return e.Field == c.field }) {
			t.Errorf("case %d (%s) = %d %s", i, c.field, ans.Status, ans.Body)
		}
	}
	if h, _ := u.a.Store().Head(); h.Counter != head.Counter {
		t.Errorf("the counter moved from %d to %d", head.Counter, h.Counter)
	}
}

// TestKZShiftCLI: `egsd shift x` shows the open shift; `egsd shift close`
// closes it, the OFD accepts the Z report, and the next sale opens shift
// 2 as its first document. A cashier may do neither. The Z report prints
// at once: the shift's documents and each operation's tickets and total.
func TestKZShiftCLI(t *testing.T) {
	p := startPrinter(t, fakeprinter.Options{WidthDots: 576, Keep: 8})
	u := newKZUnit(t, nil, withPrinter(p), agent.Options{})
	for i := range 3 {
		u.issue(fmt.Sprint("sale-", i), kzSale(i))
	}
	waitFor(t, "the sales to be registered", 30*time.Second, func() bool { return u.pending() == 0 })
	env := cliEnv(t.TempDir())
	if res := runEgsd(t, env, "login", "--api", u.url, "--user", "ana", "--password", "ana-password-1"); res.Code != 0 {
		t.Fatalf("login: %s", res)
	}
	if res := runEgsd(t, env, "shift", "close"); res.Code == 0 || !strings.Contains(res.Stderr, "may not call POST /v1/shift/close") {
		t.Errorf("a cashier closed the shift: %s", res)
	}
	if res := runEgsd(t, env, "login", "--api", u.url, "--user", "boss", "--password", "boss-password-1"); res.Code != 0 {
		t.Fatalf("login: %s", res)
	}
	x := runEgsd(t, env, "shift", "x")
	if x.Code != 0 || !strings.Contains(x.Stdout, "X report, shift 1") || !strings.Contains(x.Stdout, "documents  3") {
		t.Fatalf("egsd shift x: %s", x)
	}
	z := runEgsd(t, env, "shift", "close")
	if z.Code != 0 || !strings.Contains(z.Stdout, "shift 1 closed") || !strings.Contains(z.Stdout, "next document opens shift 2") {
		t.Fatalf("egsd shift close: %s", z)
	}
	if res := runEgsd(t, env, "shift", "close"); res.Code == 0 || !strings.Contains(res.Stderr, "no shift is open") {
		t.Errorf("closing a closed shift: %s", res)
	}
	var zText string
	waitFor(t, "the Z report to print", 30*time.Second, func() bool {
		for _, r := range p.Receipts() {
			if strings.Contains(r.Text, "Z REPORT") {
				zText = r.Text
				return true
			}
		}
		return false
	})
	var total int64 // the three sales, in tiyn
	for _, r := range journal(t, u.a.Store())[:3] {
		c, err := ticketOf(t, r).Amounts.Total.Cents()
		if err != nil {
			t.Fatal(err)
		}
		total += c
	}
	for _, want := range []string{"Z-1", "Documents", "SELL x3", fmt.Sprintf("%d.%02d", total/100, total%100), "REVENUE"} {
		if !strings.Contains(zText, want) {
			t.Errorf("the printed Z report lacks %q:\n%s", want, zText)
		}
	}
	waitFor(t, "the Z report to reach the OFD", 30*time.Second, func() bool { return u.pending() == 0 })
	if closed := u.sim.ClosedShifts(kzKKMID); len(closed) != 1 || closed[0].Tickets != 3 {
		t.Fatalf("the OFD closed %+v", closed)
	}
	c, _ := u.issue("next", kzSale(5))
	rec, err := u.a.Store().Document(c)
	if err != nil {
		t.Fatal(err)
	}
	if tk := ticketOf(t, rec); tk.ShiftNumber != 2 || tk.ShiftDocumentNumber != 1 {
		t.Errorf("the sale after the close is shift %d number %d, want 2 and 1", tk.ShiftNumber, tk.ShiftDocumentNumber)
	}
	waitFor(t, "the next sale to be registered", 30*time.Second, func() bool { return u.pending() == 0 })
	u.checkFrames(0)
}

// TestKZReturnKeepsRate: a sale of 31 December 2025 at 12 % is returned
// on 5 January 2026, when the standard rate is 16 %: the return keeps
// 12 % (at 16 % it is a 400 naming the line's rate), while a new sale at
// 12 % is refused. The OFD registers the return with its parent.
func TestKZReturnKeepsRate(t *testing.T) {
	ft := device.NewFakeTime(time.Date(2025, 12, 31, 15, 0, 0, 0, time.UTC)) // 20:00 in Almaty
	u := newKZUnit(t, &ofdsim.Server{Config: ofdsim.Config{Now: ft.Wall}}, nil, agent.Options{Time: ft})
	old := strings.Replace(kzItems[0], `"16"`, `"12"`, 1)
	_, number := u.issue("old-sale", `{"kind":"invoice","lines":[`+fmt.Sprintf(old, "3")+`],"payments":[{"means":"cash"}]}`)
	waitFor(t, "the sale to be registered", 30*time.Second, func() bool { return u.pending() == 0 })
	ft.Advance(5 * 24 * time.Hour)
	u.relogin()
	u.closeShift() // the new day's first act; otherwise the first document closes it
	refund := func(rate string) string {
		return `{"kind":"credit_note","original":"` + number + `","reason":"Возврат","lines":[` +
			fmt.Sprintf(strings.Replace(kzItems[0], `"16"`, `"`+rate+`"`, 1), "1") + `],"payments":[{"means":"cash"}]}`
	}
	head, _ := u.a.Store().Head()
	for key, body := range map[string]string{"return-at-16": refund("16"),
		"sale-at-12": `{"kind":"invoice","lines":[` + fmt.Sprintf(old, "1") + `],"payments":[{"means":"cash"}]}`} {
		ans, err := u.cashier.postSale(context.Background(), key, []byte(body))
		if err != nil || ans.Status != http.StatusBadRequest || !strings.Contains(string(ans.Body), `"lines[0].vat_rate"`) {
			t.Errorf("%s = %d %s, %v; want a 400 naming lines[0].vat_rate", key, ans.Status, ans.Body, err)
		}
	}
	if h, _ := u.a.Store().Head(); h.Counter != head.Counter {
		t.Errorf("the refused documents moved the counter from %d to %d", head.Counter, h.Counter)
	}
	c, _ := u.issue("return-at-12", refund("12"))
	waitFor(t, "the return to be registered", 30*time.Second, func() bool { return u.pending() == 0 })
	rec, err := u.a.Store().Document(c)
	if err != nil || rec.Status != queue.StatusAccepted {
		t.Fatalf("return: %+v, %v", rec, err)
	}
	tk := ticketOf(t, rec)
	if tk.Parent == nil || tk.Parent.DateTime.Year != 2025 || tk.Items[0].Commodity.Taxes[0].Percent != 12000 {
		t.Errorf("the return's parent %+v, its rate %d thousandths of a percent", tk.Parent, tk.Items[0].Commodity.Taxes[0].Percent)
	}
	reg := u.sim.Tickets(kzKKMID)
	if last := reg[len(reg)-1].Ticket; last.Operation != kz.OperationSellReturn || last.Parent == nil || last.Parent.Number != reg[0].FiscalSign {
		t.Errorf("the OFD registered the return as %+v", last)
	}
	u.checkFrames(0)
}

// TestKZReturnOfAutonomousTicket: a sale issued autonomously is returned
// while the OFD is still down: the return names the sale's autonomous sign
// with parent_ticket_is_offline, and both reach the OFD in order once it
// is back.
func TestKZReturnOfAutonomousTicket(t *testing.T) {
	u := newKZUnit(t, nil, nil, agent.Options{})
	u.issue("online", kzSale(1))
	waitFor(t, "the first sale to be registered", 30*time.Second, func() bool { return u.pending() == 0 })
	u.sim.SetDown(true)
	u.closeShift() // the request in flight as the OFD goes down
	rg := u.a.Regime().(*kz.Regime)
	waitFor(t, "the unit to notice the OFD is gone", 30*time.Second, func() bool { on, _ := rg.Autonomous(); return on })
	saleCounter, number := u.issue("autonomous", kzSale(2))
	retCounter, _ := u.issue("return", kzReturn(2, number))
	rec, err := u.a.Store().Document(retCounter)
	if err != nil {
		t.Fatal(err)
	}
	tk := ticketOf(t, rec)
	if tk.Parent == nil || !tk.Parent.IsOffline || tk.Parent.Number != strconv.FormatUint(saleCounter, 10) || tk.OfflineTicketNumber != uint32(retCounter) {
		t.Fatalf("the return of an autonomous sale: parent %+v, its own sign %d", tk.Parent, tk.OfflineTicketNumber)
	}
	u.sim.SetDown(false)
	u.replay()
	waitFor(t, "everything to be delivered", 30*time.Second, func() bool { return u.pending() == 0 })
	for _, r := range journal(t, u.a.Store()) {
		if r.Status != queue.StatusAccepted {
			t.Errorf("document %d is %s: %v", r.Counter, r.Status, r.Messages)
		}
	}
	reg := u.sim.Tickets(kzKKMID)
	if len(reg) != 3 || !reg[2].Ticket.Parent.IsOffline || reg[2].Ticket.Parent.Number != strconv.FormatUint(saleCounter, 10) {
		t.Errorf("the OFD registered %d tickets; the last %+v", len(reg), reg[len(reg)-1].Ticket)
	}
	u.checkFrames(0)
}

// TestKZRestartWhileAutonomous: a unit restarted while autonomous tickets
// wait stays autonomous — the next ticket is signed with its counter and
// numbered on in its shift, whose X report counts every ticket — and when
// the OFD is back they all go, in order, with the offline period from the
// first autonomous ticket; then the unit is online again.
func TestKZRestartWhileAutonomous(t *testing.T) {
	u := newKZUnit(t, nil, nil, agent.Options{})
	u.issue("online", kzSale(1))
	waitFor(t, "the first sale to be registered", 30*time.Second, func() bool { return u.pending() == 0 })
	u.sim.SetDown(true)
	u.closeShift() // the request in flight as the OFD goes down
	rg := u.a.Regime().(*kz.Regime)
	waitFor(t, "the unit to notice the OFD is gone", 30*time.Second, func() bool { on, _ := rg.Autonomous(); return on })
	firstAutonomous, _ := u.issue("autonomous-0", kzSale(2))
	for i := 1; i < 5; i++ {
		u.issue(fmt.Sprint("autonomous-", i), kzSale(i+2))
	}
	u.restart()
	c, number := u.issue("after-restart", kzSale(9))
	rec, err := u.a.Store().Document(c)
	if err != nil {
		t.Fatal(err)
	}
	if tk := ticketOf(t, rec); tk.OfflineTicketNumber != uint32(c) || number != "2-6" {
		t.Errorf("after the restart: document %d is %s with autonomous sign %d; want 2-6 signed %d", c, number, tk.OfflineTicketNumber, c)
	}
	ans, err := u.manager.do(context.Background(), http.MethodGet, "/v1/shift", nil, nil)
	var x stamping.ShiftReport
	if err != nil || ans.Status != http.StatusOK || json.Unmarshal(ans.Body, &x) != nil || x.Number != 2 || x.Documents != 6 || x.Autonomous != 6 || !x.Open {
		t.Errorf("X report after the restart: %d %s, %v", ans.Status, ans.Body, err)
	}
	u.sim.SetDown(false)
	u.replay()
	waitFor(t, "everything to be delivered", 30*time.Second, func() bool { return u.pending() == 0 })
	recs := journal(t, u.a.Store())
	for _, r := range recs {
		if r.Status != queue.StatusAccepted {
			t.Errorf("document %d is %s: %v", r.Counter, r.Status, r.Messages)
		}
	}
	if n := len(u.sim.Tickets(kzKKMID)); n != 7 {
		t.Errorf("the OFD registered %d tickets, want 7", n)
	}
	first, err := u.a.Store().Document(firstAutonomous)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range u.sim.Frames() {
		_, payload, err := kz.SplitFrame(f)
		if err != nil {
			t.Fatal(err)
		}
		req, err := kz.UnmarshalRequest(payload)
		if err != nil || req.Ticket == nil || req.Ticket.OfflineTicketNumber == 0 {
			continue
		}
		begin, err := req.Service.OfflinePeriod.Begin.Time(time.FixedZone("UTC+5", 5*3600))
		if err != nil || begin.After(first.IssuedAt) || begin.Before(recs[1].IssuedAt.Add(-time.Second)) {
			t.Errorf("autonomous ticket %d sent with offline period %+v; the outage began by %s", req.Ticket.OfflineTicketNumber, req.Service.OfflinePeriod, first.IssuedAt)
		}
	}
	after, _ := u.issue("online-again", kzSale(10))
	waitFor(t, "the sale after the drain", 30*time.Second, func() bool { return u.pending() == 0 })
	if rec, _ := u.a.Store().Document(after); ticketOf(t, rec).OfflineTicketNumber != 0 {
		t.Error("the unit stayed autonomous after the queue drained")
	}
	u.checkFrames(0)
}

package ofdsim

import (
	"fmt"
	"strconv"

	"github.com/egsd/egsd/stamping/kz"
)

// previous is a device's last processed request and the answer it got, so
// that a retry gets the same answer.
type previous struct {
	reqNum  uint16
	token   uint32
	command kz.Command
	answer  []byte
}

// device is one KKM's state at the OFD.
type device struct {
	token uint32
	prev  *previous

	shiftOpen   bool
	shiftNumber uint32
	openedAt    kz.DateTime
	shift       totals // this shift's tickets, summed on arrival
	cash        int64  // the drawer's cash at the start of the shift
	lastOffline uint32

	tickets []Registered
	closed  []ClosedShift
}

// Registered is a ticket the OFD registered and the fiscal sign it gave.
type Registered struct {
	FiscalSign string
	Ticket     kz.TicketRequest
}

// ClosedShift is a shift the OFD closed: its number, the totals it summed
// from the tickets, and the Z report the KKM sent (which matched them).
type ClosedShift struct {
	Number  uint32
	Tickets int
	ByOp    [4]OpTotal
	VAT     map[uint32]int64 // percent × 1000 → VAT, sales less returns
	Cash    int64
	ZReport kz.ZXReport
}

// OpTotal is one operation's count and sum in tiyn.
type OpTotal struct {
	Count int
	Sum   int64
}

// totals is the OFD's own sum of a shift's tickets, kept apart from the
// KKM's computation (kz.ShiftTotals) so that the Z report is checked
// against an independent reckoning.
type totals struct {
	tickets int
	byOp    [4]OpTotal
	vat     map[uint32]int64
	cashIn  int64
}

// Tickets returns the tickets the OFD registered from KKM id, in order.
func (s *Server) Tickets(id uint32) []Registered {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.devices[id]; d != nil {
		return append([]Registered(nil), d.tickets...)
	}
	return nil
}

// ClosedShifts returns the shifts the OFD closed for KKM id.
func (s *Server) ClosedShifts(id uint32) []ClosedShift {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.devices[id]; d != nil {
		return append([]ClosedShift(nil), d.closed...)
	}
	return nil
}

func (s *Server) regInfo() *kz.ServiceResponse {
	k, p, o := s.Kkm, s.Pos, s.Org
	if k == (kz.KkmRegInfo{}) {
		k = kz.KkmRegInfo{PointOfPaymentNumber: "1", TerminalNumber: "1", FnsKkmID: "620300000011", SerialNumber: "EGSD-SIM-0001", KkmID: "203539"}
	}
	if p == (kz.PosRegInfo{}) {
		p = kz.PosRegInfo{Title: "Магазин", Address: "Алматы, ул. Абая 1", AddressKZ: "Алматы, Абай к-сі 1"}
	}
	if o == (kz.OrgRegInfo{}) {
		o = kz.OrgRegInfo{Title: "ТОО «Демо»", Address: "Алматы", INN: "940140000385", Okved: "47190"}
	}
	return &kz.ServiceResponse{Kkm: &k, Pos: &p, Org: &o}
}

func refuse(code kz.ResultCode, format string, args ...any) *kz.Response {
	return &kz.Response{Result: kz.Result{Code: code, Text: fmt.Sprintf(format, args...)}}
}

func (s *Server) dispatch(d *device, req *kz.Request) *kz.Response {
	switch req.Command {
	case kz.CommandSystem:
		r := &kz.Response{}
		if req.Service != nil && req.Service.GetRegInfo {
			r.Service = s.regInfo()
		}
		return r
	case kz.CommandInfo:
		typ := kz.ReportZ
		if d.shiftOpen {
			typ = kz.ReportX
		}
		cash, err := kz.MoneyOfCents(d.cash + d.shift.cashIn)
		if err != nil {
			return refuse(kz.ResultUnknownError, "cash_sum: %v", err)
		}
		return &kz.Response{Service: s.regInfo(), Report: &kz.ReportResponse{Report: typ, ZXReport: &kz.ZXReport{
			DateTime: kz.DateTimeOf(s.now().In(s.location())), ShiftNumber: d.shiftNumber, OpenShiftTime: d.openedAt, CashSum: cash}}}
	case kz.CommandTicket:
		return s.ticket(d, req)
	case kz.CommandReport:
		if req.Service == nil || req.Report == nil || req.Report.ZXReport == nil {
			return refuse(kz.ResultIncorrectRequestData, "REPORT needs report, its zx_report and service")
		}
		return &kz.Response{Report: &kz.ReportResponse{Report: req.Report.Report, ZXReport: req.Report.ZXReport}}
	case kz.CommandCloseShift:
		return s.closeShift(d, req)
	}
	return refuse(kz.ResultUnknownCommand, "command %d is not supported by the simulator", req.Command)
}

func (s *Server) ticket(d *device, req *kz.Request) *kz.Response {
	t := req.Ticket
	if t == nil || len(t.Items) == 0 {
		return refuse(kz.ResultIncorrectRequestData, "a TICKET needs a ticket with at least one item")
	}
	if t.Operation > kz.OperationSellReturn {
		return refuse(kz.ResultIncorrectRequestData, "operation %d is unknown", t.Operation)
	}
	if t.Operation.IsReturn() && t.Parent == nil {
		return refuse(kz.ResultIncorrectRequestData, "a return needs parent_ticket")
	}
	if x := t.Extension; x != nil && x.CustomerIINOrBIN != "" && x.CustomerIINOrBIN == s.regInfo().Org.INN {
		return refuse(kz.ResultSameTaxpayerCustomer, "the buyer's IIN/BIN is the seller's")
	}
	at, err := t.DateTime.Time(s.location())
	if err != nil {
		return refuse(kz.ResultIncorrectRequestData, "date_time: %v", err)
	}
	if t.OfflineTicketNumber != 0 {
		if t.OfflineTicketNumber <= d.lastOffline {
			return refuse(kz.ResultIncorrectRequestData, "autonomous ticket %d arrives after %d: autonomous tickets must come in order", t.OfflineTicketNumber, d.lastOffline)
		}
	}
	if d.shiftOpen {
		opened, err := d.openedAt.Time(s.location())
		limit := s.ShiftLimit
		if limit == 0 {
			limit = 24 * 3600e9
		}
		// An autonomous ticket arrives late: its own time counts.
		now := s.now()
		if t.OfflineTicketNumber != 0 {
			now = at
		}
		if err == nil && now.Sub(opened) > limit {
			return refuse(kz.ResultShiftTimeoutExpired, "the shift opened at %s is open longer than %s; close it", d.openedAt, limit)
		}
	}
	sum, err := checkTicket(t)
	if err != nil {
		return refuse(kz.ResultIncorrectRequestData, "%v", err)
	}
	// Sum the ticket into a scratch copy first: a ticket that cannot be
	// summed changes nothing.
	scratch := totals{vat: map[uint32]int64{}}
	if err := scratch.add(t, sum); err != nil {
		return refuse(kz.ResultIncorrectRequestData, "%v", err)
	}
	if !d.shiftOpen {
		d.shiftOpen, d.openedAt, d.shift = true, t.DateTime, totals{vat: map[uint32]int64{}}
		d.shiftNumber++
		if t.ShiftNumber != 0 {
			d.shiftNumber = t.ShiftNumber
		}
	}
	if err := d.shift.add(t, sum); err != nil {
		return refuse(kz.ResultUnknownError, "%v", err)
	}
	if t.OfflineTicketNumber != 0 {
		d.lastOffline = t.OfflineTicketNumber
	}
	s.signs++
	sign := strconv.FormatUint(4_000_000_000+s.signs, 10)
	host := s.ConsumerHost
	if host == "" {
		host = "http://consumer.test-oofd.kz"
	}
	total, err := t.Amounts.Total.Decimal()
	if err != nil {
		return refuse(kz.ResultIncorrectRequestData, "amounts.total: %v", err)
	}
	qr, err := kz.ConsumerURL(host, sign, s.regInfo().Kkm.FnsKkmID, total, at)
	if err != nil {
		return refuse(kz.ResultUnknownError, "%v", err)
	}
	d.tickets = append(d.tickets, Registered{FiscalSign: sign, Ticket: *t})
	s.stats.Tickets++
	return &kz.Response{Ticket: &kz.TicketResponse{TicketNumber: sign, QRCode: []byte(qr)}}
}

// checkTicket checks that the items come to the total and the payments
// to it as well, and returns the total in tiyn.
func checkTicket(t *kz.TicketRequest) (int64, error) {
	var items int64
	for i, it := range t.Items {
		switch {
		case it.Type == kz.ItemCommodity && it.Commodity != nil:
			c, err := it.Commodity.Sum.Cents()
			if err != nil {
				return 0, err
			}
			items += c
		case (it.Type == kz.ItemDiscount || it.Type == kz.ItemMarkup) && it.Modifier != nil:
			c, err := it.Modifier.Sum.Cents()
			if err != nil {
				return 0, err
			}
			if it.Type == kz.ItemDiscount {
				c = -c
			}
			items += c
		default:
			return 0, fmt.Errorf("items[%d]: type %d is not accepted by the simulator", i, it.Type)
		}
	}
	for _, m := range []*kz.Modifier{t.Amounts.Discount, t.Amounts.Markup} {
		if m == nil {
			continue
		}
		c, err := m.Sum.Cents()
		if err != nil {
			return 0, err
		}
		if m == t.Amounts.Discount {
			c = -c
		}
		items += c
	}
	total, err := t.Amounts.Total.Cents()
	if err != nil {
		return 0, err
	}
	if items != total {
		return 0, fmt.Errorf("the items come to %d tiyn, amounts.total is %d", items, total)
	}
	var paid int64
	for _, p := range t.Payments {
		c, err := p.Sum.Cents()
		if err != nil {
			return 0, err
		}
		paid += c
	}
	if paid != total {
		return 0, fmt.Errorf("the payments come to %d tiyn, amounts.total is %d", paid, total)
	}
	return total, nil
}

// cashSign: sales and purchase returns bring cash in.
var cashSign = [4]int64{-1, 1, 1, -1}

func (t *totals) add(tk *kz.TicketRequest, total int64) error {
	op := tk.Operation
	t.tickets++
	t.byOp[op].Count++
	t.byOp[op].Sum += total
	sign := int64(1)
	if op.IsReturn() {
		sign = -1
	}
	for _, it := range tk.Items {
		var taxes []kz.Tax
		mod := int64(1)
		switch {
		case it.Commodity != nil:
			taxes = it.Commodity.Taxes
		case it.Modifier != nil:
			taxes = it.Modifier.Taxes
			if it.Type == kz.ItemDiscount {
				mod = -1
			}
		}
		for _, tx := range taxes {
			v, err := tx.Sum.Cents()
			if err != nil {
				return fmt.Errorf("tax sum: %w", err)
			}
			t.vat[tx.Percent] += sign * mod * v
		}
	}
	for _, p := range tk.Payments {
		if p.Type == kz.PaymentCash {
			c, err := p.Sum.Cents()
			if err != nil {
				return fmt.Errorf("payment sum: %w", err)
			}
			t.cashIn += cashSign[op] * c
		}
	}
	return nil
}

// closeShift checks the Z report against the OFD's own totals and closes
// the shift.
func (s *Server) closeShift(d *device, req *kz.Request) *kz.Response {
	c := req.CloseShift
	if c == nil || req.Service == nil || c.ZReport == nil {
		return refuse(kz.ResultIncorrectRequestData, "CLOSE_SHIFT needs close_shift with its z_report, and service")
	}
	z := c.ZReport
	sh := d.shift
	if sh.vat == nil {
		sh.vat = map[uint32]int64{}
	}
	if err := compareZ(z, &sh, d.cash); err != nil {
		return refuse(kz.ResultIncorrectRequestData, "the Z report does not match the tickets received: %v", err)
	}
	number := d.shiftNumber
	if !d.shiftOpen {
		number = z.ShiftNumber // an empty shift
	}
	d.closed = append(d.closed, ClosedShift{Number: number, Tickets: sh.tickets, ByOp: sh.byOp, VAT: sh.vat, Cash: d.cash + sh.cashIn, ZReport: *z})
	d.cash += sh.cashIn
	d.shiftOpen, d.shift = false, totals{}
	if number > d.shiftNumber {
		d.shiftNumber = number
	}
	return &kz.Response{Report: &kz.ReportResponse{Report: kz.ReportZ, ZXReport: z}}
}

func compareZ(z *kz.ZXReport, sh *totals, startCash int64) error {
	var seen [4]bool
	for _, to := range z.TicketOperations {
		if to.Operation > kz.OperationSellReturn {
			return fmt.Errorf("ticket_operations: operation %d is unknown", to.Operation)
		}
		sum, err := to.TicketsSum.Cents()
		if err != nil {
			return err
		}
		want := sh.byOp[to.Operation]
		if int(to.TicketsCount) != want.Count || sum != want.Sum {
			return fmt.Errorf("%s: the report has %d tickets for %d tiyn, the OFD received %d for %d", to.Operation, to.TicketsCount, sum, want.Count, want.Sum)
		}
		seen[to.Operation] = true
	}
	for op, ok := range seen {
		if !ok && sh.byOp[op].Count > 0 {
			return fmt.Errorf("%s: the report leaves out %d tickets", kz.Operation(op), sh.byOp[op].Count)
		}
	}
	got := map[uint32]int64{}
	for _, t := range z.Taxes {
		for _, o := range t.Operations {
			v, err := o.Sum.Cents()
			if err != nil {
				return err
			}
			if o.Operation.IsReturn() {
				v = -v
			}
			got[t.Percent] += v
		}
	}
	for pct, v := range sh.vat {
		if got[pct] != v {
			return fmt.Errorf("VAT at %d thousandths of a percent: the report has %d tiyn net of returns, the tickets %d", pct, got[pct], v)
		}
	}
	for pct, v := range got {
		if _, ok := sh.vat[pct]; !ok && v != 0 {
			return fmt.Errorf("VAT at %d: the report has %d tiyn, the tickets none", pct, v)
		}
	}
	cash, err := z.CashSum.Cents()
	if err != nil {
		return err
	}
	if cash != startCash+sh.cashIn {
		return fmt.Errorf("cash_sum is %d tiyn, the cash payments leave %d", cash, startCash+sh.cashIn)
	}
	return nil
}

package kz

import (
	"time"

	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// The fixtures of the golden frames: fixed inputs, one per command.

var (
	fixtureTime = time.Date(2026, 3, 14, 12, 30, 5, 0, almaty)
	fixtureKkm  = &KkmRegInfo{PointOfPaymentNumber: "1", TerminalNumber: "1", FnsKkmID: "620300000011", SerialNumber: "EGSD-0001", KkmID: "203539"}
	fixtureOrg  = &OrgRegInfo{Title: "ТОО «Демо»", Address: "Алматы", INN: "940140000385", Okved: "47190"}
)

const (
	fixtureID     = 203539
	fixtureToken  = 2376246852 // above 2^31: TOKEN is unsigned
	fixtureReqNum = 85
)

func dec(s string) money.Decimal { return money.MustParse(s) }
func decp(s string) *money.Decimal {
	d := money.MustParse(s)
	return &d
}

func fixtureService(offline bool) *ServiceRequest {
	s := &ServiceRequest{Kkm: fixtureKkm, Org: fixtureOrg}
	if offline {
		s.OfflinePeriod = &OfflinePeriod{Begin: DateTimeOf(fixtureTime.Add(-3 * time.Hour)), End: DateTimeOf(fixtureTime)}
	} else {
		s.OfflinePeriod = &OfflinePeriod{Begin: DateTimeOf(fixtureTime), End: DateTimeOf(fixtureTime)}
	}
	return s
}

// fixtureSale is two standard-rated lines (one with a line discount), an
// exempt line, a document charge, paid partly by card and partly in cash
// with change.
func fixtureSale() *sale.Sale {
	return &sale.Sale{
		Kind: sale.Invoice, Currency: "KZT",
		Lines: []sale.Line{
			{Name: "Хлеб", Quantity: dec("2"), UnitPrice: dec("250"), Category: sale.Standard, Rate: dec("16"), ItemCode: "02000000000012345", StandardCode: "4870000000012"},
			{Name: "Сыр", Quantity: dec("0.455"), UnitPrice: dec("3999.99"), Category: sale.Standard, Rate: dec("16"),
				Discounts: []sale.Adjustment{{Amount: dec("100"), Reason: "Акция"}}, QuantityUnit: "166"},
			{Name: "Газета", Quantity: dec("1"), UnitPrice: dec("150"), Category: sale.Exempt, ExemptionReason: "periodicals"},
		},
		Charges:  []sale.DocumentAdjustment{{Adjustment: sale.Adjustment{Amount: dec("50"), Reason: "Пакет"}, Category: sale.Standard, Rate: dec("16")}},
		Payments: []sale.Payment{{Means: sale.Card, Amount: decp("1000")}, {Means: sale.Cash, Tendered: decp("5000")}},
	}
}

func fixtureTicket(op Operation, offline bool) *Request {
	s := fixtureSale()
	in := TicketInput{IssuedAt: fixtureTime, Operator: Operator{Code: 1, Name: "Кассир"}, ShiftNumber: 7, ShiftDocumentNumber: 3, SellerTaxID: "940140000385"}
	if op == OperationBuy || op == OperationBuyReturn {
		in.Purchase = true
	}
	if op.IsReturn() {
		s.Kind = sale.CreditNote
		s.Payments = []sale.Payment{{Means: sale.Cash}}
		in.Parent = &ParentTicket{Number: "4228143549", DateTime: DateTimeOf(fixtureTime.Add(-time.Hour)), KgdKkmID: "620300000011", Total: Money{Bills: 3163, Coins: 29}}
	}
	if offline {
		in.OfflineTicketNumber = 1001
	}
	t, err := BuildTicket(s, in)
	if err != nil {
		panic(err)
	}
	return &Request{Command: CommandTicket, Ticket: t, Service: fixtureService(offline)}
}

func fixtureShift() *ShiftTotals {
	sh := StartShift(7, DateTimeOf(fixtureTime.Add(-2*time.Hour)), nil)
	for _, op := range []Operation{OperationSell, OperationSell, OperationSellReturn} {
		if err := sh.Add(fixtureTicket(op, false).Ticket); err != nil {
			panic(err)
		}
	}
	return sh
}

func fixtureReport(closed bool) *ZXReport {
	z, err := fixtureShift().Report(DateTimeOf(fixtureTime), closed)
	if err != nil {
		panic(err)
	}
	return z
}

// goldenRequests are the requests of the golden frames, by file name.
func goldenRequests() map[string]*Request {
	return map[string]*Request{
		"request_system":             {Command: CommandSystem, Service: withRegInfo(fixtureService(false))},
		"request_info":               {Command: CommandInfo, Service: fixtureService(false)},
		"request_ticket_sell":        fixtureTicket(OperationSell, false),
		"request_ticket_sell_return": fixtureTicket(OperationSellReturn, false),
		"request_ticket_buy":         fixtureTicket(OperationBuy, false),
		"request_ticket_buy_return":  fixtureTicket(OperationBuyReturn, false),
		"request_ticket_offline":     fixtureTicket(OperationSell, true),
		"request_report_x":           {Command: CommandReport, Report: &ReportRequest{Report: ReportX, DateTime: DateTimeOf(fixtureTime), ZXReport: fixtureReport(false)}, Service: fixtureService(false)},
		"request_close_shift": {Command: CommandCloseShift, CloseShift: &CloseShiftRequest{CloseTime: DateTimeOf(fixtureTime), ShiftNumber: 7,
			ZReport: fixtureReport(true), Operator: &Operator{Code: 1, Name: "Кассир"}}, Service: fixtureService(false)},
	}
}

// goldenResponses are the responses of the golden frames, by file name.
func goldenResponses() map[string]*Response {
	reg := &ServiceResponse{Kkm: fixtureKkm, Pos: &PosRegInfo{Title: "Магазин", Address: "Алматы", AddressKZ: "Алматы", Latitude: 432156, Longitude: 765432}, Org: fixtureOrg}
	return map[string]*Response{
		"response_system": {Command: CommandSystem, Service: reg},
		"response_info": {Command: CommandInfo, Service: reg, Report: &ReportResponse{Report: ReportZ,
			ZXReport: &ZXReport{DateTime: DateTimeOf(fixtureTime), ShiftNumber: 6, CashSum: Money{}, OpenShiftTime: DateTimeOf(fixtureTime.Add(-20 * time.Hour)), CloseShiftTime: DateTimeOf(fixtureTime.Add(-10 * time.Hour))}}},
		"response_ticket": {Command: CommandTicket, Ticket: &TicketResponse{TicketNumber: "4228143549",
			QRCode: []byte("http://consumer.test-oofd.kz?i=4228143549&f=620300000011&s=3163.29&t=20260314T123005")}},
		"response_ticket_refused":  {Command: CommandTicket, Result: Result{Code: ResultSameTaxpayerCustomer, Text: "buyer is the seller"}},
		"response_report_x":        {Command: CommandReport, Report: &ReportResponse{Report: ReportX, ZXReport: fixtureReport(false)}},
		"response_close_shift":     {Command: CommandCloseShift, Report: &ReportResponse{Report: ReportZ, ZXReport: fixtureReport(true)}},
		"response_service_unavail": {Command: CommandTicket, Result: Result{Code: ResultServiceUnavailable}},
	}
}

func withRegInfo(s *ServiceRequest) *ServiceRequest {
	s.GetRegInfo = true
	return s
}

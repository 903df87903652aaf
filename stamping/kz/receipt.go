package kz

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/money"
)

// Receipt labels (Order 626, spec/kazakhstan.md §B3), in Russian as the
// tills print them.
const (
	taxNumberLabel  = "БИН/ИИН"
	labelZNM        = "ЗНМ"
	labelRNM        = "РНМ"
	labelShift      = "Смена"
	labelReceipt    = "Чек №"
	labelFiscal     = "ФП"
	labelAutonomous = "Автономный ФП"
	labelOFD        = "ОФД"
	labelCheck      = "Проверка чека"
	// AutonomousMark heads a receipt issued in autonomous mode.
	AutonomousMark = "АВТОНОМНЫЙ РЕЖИМ"
	// AutonomousTitle is the mark in the receipt's English title.
	AutonomousTitle = "AUTONOMOUS MODE"
)

var operationTitles = [4]string{OperationBuy: "ПОКУПКА", OperationBuyReturn: "ВОЗВРАТ ПОКУПКИ", OperationSell: "ПРОДАЖА", OperationSellReturn: "ВОЗВРАТ ПРОДАЖИ"}

// unitNames are the short names of the commonest unit codes (МКЕИ) a
// receipt prints; other codes print as they are.
var unitNames = map[string]string{"796": "шт", "166": "кг", "163": "г", "112": "л", "006": "м", "055": "м2"}

var operationNames = [4]string{OperationBuy: "buy", OperationBuyReturn: "buy_return", OperationSell: "sell", OperationSellReturn: "sell_return"}

// unitFields are the unit's facts every receipt carries.
func (r *Regime) unitFields(shift uint32) []stamping.ReceiptField {
	return []stamping.ReceiptField{{Label: labelZNM, Value: r.settings.ZNM}, {Label: labelRNM, Value: r.settings.RNM},
		{Label: labelShift, Value: strconv.FormatUint(uint64(shift), 10)}}
}

// ticketReceipt is what the receipt of ticket t can say when it is
// stamped: the unit, the shift and the receipt's number in it, the VAT
// per rate, the OFD, and for an autonomous ticket its sign, marked, and
// the consumer QR built from it. An online ticket's fiscal sign and QR
// come from the OFD's answer (Signed).
func (r *Regime) ticketReceipt(t *TicketRequest) (stamping.ReceiptInfo, error) {
	total, err := t.Amounts.Total.Decimal()
	if err != nil {
		return stamping.ReceiptInfo{}, err
	}
	number := fmt.Sprintf("%d-%d", t.ShiftNumber, t.ShiftDocumentNumber)
	info := stamping.ReceiptInfo{Number: number, Title: "FISCAL RECEIPT", TitleLocal: "ФИСКАЛЬНЫЙ ЧЕК " + operationTitles[t.Operation],
		Timestamp: t.DateTime.String(), Total: total.String(), TaxNumberLabel: taxNumberLabel}
	info.Fields = r.unitFields(t.ShiftNumber)
	info.Fields = append(info.Fields, stamping.ReceiptField{Label: labelReceipt, Value: strconv.FormatUint(uint64(t.ShiftDocumentNumber), 10)})
	if t.Parent != nil {
		info.Fields = append(info.Fields, stamping.ReceiptField{Label: "Возврат по чеку ФП", Value: t.Parent.Number})
	}
	vat, table, err := vatTable(t)
	if err != nil {
		return stamping.ReceiptInfo{}, err
	}
	info.VAT, info.TaxTable = vat, table
	for _, it := range t.Items {
		if c := it.Commodity; c != nil && it.Type == ItemCommodity {
			row := "НКТ " + c.NTIN
			if c.NTIN == "" {
				row = "НКТ -"
			}
			qty := money.Decimal{Coef: int64(c.Quantity), Scale: 3}.String()
			price, err := c.Price.Decimal()
			if err != nil {
				return stamping.ReceiptInfo{}, err
			}
			unit := c.MeasureUnitCode
			if name, ok := unitNames[unit]; ok {
				unit = name
			}
			row += fmt.Sprintf(", %s %s x %s", qty, unit, price)
			info.LineDetails = append(info.LineDetails, []string{row})
		}
	}
	if t.OfflineTicketNumber != 0 {
		sign := strconv.FormatUint(uint64(t.OfflineTicketNumber), 10)
		at, err := t.DateTime.Time(almaty)
		if err != nil {
			return stamping.ReceiptInfo{}, err
		}
		qr, err := ConsumerURL(r.settings.ConsumerHost, sign, r.settings.RNM, total, at)
		if err != nil {
			return stamping.ReceiptInfo{}, err
		}
		info.QR = qr
		info.Title, info.TitleLocal = "FISCAL RECEIPT - "+AutonomousTitle, info.TitleLocal+" - "+AutonomousMark
		info.Fields = append(info.Fields, stamping.ReceiptField{Label: labelAutonomous, Value: sign + " (" + AutonomousMark + ")"})
	}
	info.Fields = append(info.Fields, stamping.ReceiptField{Label: labelOFD, Value: r.settings.OFDName},
		stamping.ReceiptField{Label: labelCheck, Value: r.settings.OFDWebsite})
	return info, nil
}

// zReceipt is the printed Z report of shift sh: the unit, the shift's
// opening, its documents, tickets and totals per operation, VAT per rate
// net of returns, the cash in the drawer and the revenue.
func (r *Regime) zReceipt(sh *ShiftTotals, number string, at DateTime) (stamping.ReceiptInfo, error) {
	rep, err := shiftReport(sh, false)
	if err != nil {
		return stamping.ReceiptInfo{}, err
	}
	info := stamping.ReceiptInfo{Number: number, Title: "Z REPORT", TitleLocal: "Z-ОТЧЁТ (закрытие смены)", Timestamp: at.String(),
		TaxNumberLabel: taxNumberLabel, Fields: r.unitFields(sh.Number)}
	info.Fields = append(info.Fields, stamping.ReceiptField{Label: "Opened", Value: sh.OpenedAt.String()},
		stamping.ReceiptField{Label: "Documents", Value: strconv.FormatUint(uint64(rep.Documents), 10)},
		stamping.ReceiptField{Label: "Autonomous", Value: strconv.FormatUint(uint64(rep.Autonomous), 10)})
	for _, op := range rep.Operations {
		info.TaxTable = append(info.TaxTable, stamping.ReceiptField{Label: strings.ToUpper(strings.ReplaceAll(op.Operation, "_", " ")) + " x" + strconv.FormatUint(uint64(op.Tickets), 10), Value: op.Total})
	}
	for _, tx := range rep.Taxes {
		info.TaxTable = append(info.TaxTable, stamping.ReceiptField{Label: "VAT " + tx.Rate + "%", Value: tx.VAT})
	}
	info.TaxTable = append(info.TaxTable, stamping.ReceiptField{Label: "CASH", Value: rep.Cash}, stamping.ReceiptField{Label: "REVENUE", Value: rep.Revenue})
	return info, nil
}

// vatTable is the ticket's VAT in total and per rate, from its items'
// taxes (discounts take theirs off).
func vatTable(t *TicketRequest) (string, []stamping.ReceiptField, error) {
	byRate := map[uint32]int64{}
	for _, it := range t.Items {
		var taxes []Tax
		sign := int64(1)
		switch {
		case it.Commodity != nil:
			taxes = it.Commodity.Taxes
		case it.Modifier != nil:
			taxes = it.Modifier.Taxes
			if it.Type == ItemDiscount {
				sign = -1
			}
		}
		for _, tx := range taxes {
			c, err := tx.Sum.Cents()
			if err != nil {
				return "", nil, err
			}
			byRate[tx.Percent] += sign * c
		}
	}
	var total int64
	var rows []stamping.ReceiptField
	for _, pct := range slices.Sorted(maps.Keys(byRate)) {
		total += byRate[pct]
		rows = append(rows, stamping.ReceiptField{Label: "НДС " + percentString(pct) + "%", Value: money.Decimal{Coef: byRate[pct], Scale: 2}.String()})
	}
	if len(rows) == 0 {
		rows = append(rows, stamping.ReceiptField{Label: "Без НДС", Value: "0.00"})
	}
	return money.Decimal{Coef: total, Scale: 2}.String(), rows, nil
}

// Signed reads the fiscal sign and the OFD's QR out of an accepted answer
// (stamping.AuthoritySigned).
func (r *Regime) Signed(answer []byte) (stamping.ReceiptInfo, error) {
	a, err := DecodeStoredAnswer(answer)
	if err != nil {
		return stamping.ReceiptInfo{}, err
	}
	var info stamping.ReceiptInfo
	if a.FiscalSign != "" {
		info.Fields = append(info.Fields, stamping.ReceiptField{Label: labelFiscal, Value: a.FiscalSign})
	}
	info.QR = a.QR
	return info, nil
}

// shiftReport is the API's form of a shift's totals.
func shiftReport(sh *ShiftTotals, open bool) (stamping.ShiftReport, error) {
	rep := stamping.ShiftReport{Number: sh.Number, Open: open, Documents: sh.Documents}
	if t, err := sh.OpenedAt.Time(almaty); err == nil {
		rep.OpenedAt = t
	}
	for op := range 4 {
		o := &sh.Ops[op]
		rep.Autonomous += o.Offline
		rep.Operations = append(rep.Operations, stamping.ShiftOperation{Operation: operationNames[op], Tickets: o.Tickets, Total: money.Decimal{Coef: o.Total, Scale: 2}.String()})
	}
	for _, pct := range slices.Sorted(maps.Keys(sh.Taxes)) {
		var turnover, vat int64
		for op, ts := range sh.Taxes[pct] {
			sign := int64(1)
			if Operation(op).IsReturn() {
				sign = -1
			}
			turnover += sign * ts.Turnover
			vat += sign * ts.VAT
		}
		rep.Taxes = append(rep.Taxes, stamping.ShiftTax{Rate: percentString(pct), Turnover: money.Decimal{Coef: turnover, Scale: 2}.String(), VAT: money.Decimal{Coef: vat, Scale: 2}.String()})
	}
	rep.Cash, rep.Revenue = money.Decimal{Coef: sh.Cash(), Scale: 2}.String(), money.Decimal{Coef: sh.Revenue(), Scale: 2}.String()
	return rep, nil
}

// percentString is a percent in thousandths as a receipt writes it: 16000
// is "16", 12500 "12.5".
func percentString(pct uint32) string {
	s := money.Decimal{Coef: int64(pct), Scale: 3}.String()
	for strings.Contains(s, ".") && (strings.HasSuffix(s, "0") || strings.HasSuffix(s, ".")) {
		s = s[:len(s)-1]
	}
	return s
}

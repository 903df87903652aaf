package agent

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/egsd/egsd/device/receipt"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/textpolicy"
)

// receiptOf fills the printed receipt of a stored document: the regime's
// facts (number, title, time, amount due, VAT, QR) from the document — the
// cleared one when the authority cleared it — and the lines, discounts,
// charges, VAT breakdown and payments from the sale the document was built
// from.
func (a *Agent) receiptOf(rec *queue.Record) (*receipt.Receipt, error) {
	var info stamping.ReceiptInfo
	if len(rec.Receipt) > 0 {
		if err := json.Unmarshal(rec.Receipt, &info); err != nil {
			return nil, fmt.Errorf("document %d: receipt facts: %w", rec.Counter, err)
		}
	}
	if c, ok := a.regime.(stamping.Clearance); ok && len(rec.Answer) > 0 && c.NeedsClearance(rec.Document) {
		_, cleared, ok, err := c.Cleared(rec.Answer)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", rec.Counter, err)
		}
		if ok {
			info = cleared
		}
	}
	if sg, ok := a.regime.(stamping.AuthoritySigned); ok && len(rec.Answer) > 0 &&
		(rec.Status == queue.StatusAccepted || rec.Status == queue.StatusAcceptedWithWarnings) {
		signed, err := sg.Signed(rec.Answer)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", rec.Counter, err)
		}
		info = withSigned(info, signed)
	}
	if rec.Kind == stamping.ShiftClose {
		return a.shiftReceipt(rec, &info), nil
	}
	s, err := sale.Decode(rec.Sale, sale.Options{DefaultCurrency: a.cfg.Regime.Currency})
	if err != nil {
		return nil, fmt.Errorf("document %d: stored sale: %w", rec.Counter, err)
	}
	t, err := sale.ComputeTotals(s)
	if err != nil {
		return nil, fmt.Errorf("document %d: totals: %w", rec.Counter, err)
	}
	// Every text passes the character policy of documents once more, as
	// the printer takes it: the sale's texts were checked when it was
	// issued, but the configuration's, the regime's and those of a sale
	// journalled by an older version were not, and none may make a receipt
	// fail. What the printer's fonts lack, device/textraster replaces.
	printable := textpolicy.Printable
	seller := a.cfg.Seller
	r := &receipt.Receipt{
		Title: printable(info.Title), TitleLocal: printable(info.TitleLocal),
		SellerName: printable(seller.Name), SellerNameLocal: printable(seller.NameLocal), SellerVAT: printable(seller.VATNumber),
		Address:        printable(joinNonEmpty(", ", strings.TrimSpace(seller.BuildingNumber+" "+seller.Street), seller.District, strings.TrimSpace(seller.PostalCode+" "+seller.City))),
		QR:             info.QR,
		SellerVATLabel: printable(info.TaxNumberLabel),
	}
	number := printable(info.Number)
	if number == "" {
		number = fmt.Sprint(rec.Counter)
	}
	r.Fields = append(r.Fields, receipt.Field{Label: "No", Value: number},
		receipt.Field{Label: "Date", Value: printable(strings.Replace(orDefault(info.Timestamp, rec.IssuedAt.Format(time.DateTime)), "T", " ", 1))})
	if s.Buyer != nil {
		r.Fields = appendField(r.Fields, "Buyer", printable(s.Buyer.Name))
		r.Fields = appendField(r.Fields, "Buyer "+orDefault(printable(info.TaxNumberLabel), "VAT No"), printable(s.Buyer.VATNumber))
	}
	if s.Late != nil {
		// Issued now, sold then: the receipt says both.
		r.Fields = appendField(r.Fields, "Sold", printable(s.Late.TransactionTime.Format(time.DateTime+" Z07:00")))
		r.Fields = appendField(r.Fields, "Entered late", printable(fmt.Sprintf("unit failure incident %d", s.Late.Incident)))
	}
	if s.Kind.IsNote() {
		r.Fields = appendField(r.Fields, "Original", printable(s.Original))
		r.Fields = appendField(r.Fields, "Reason", printable(s.Reason))
	}
	for _, f := range info.Fields {
		r.Fields = appendField(r.Fields, printable(f.Label), printable(f.Value))
	}
	for i := range s.Lines {
		l := &s.Lines[i]
		name := printable(l.Name)
		if name == "" {
			name = fmt.Sprintf("Item %d", i+1)
		}
		details := lineDetails(l, &t.Lines[i])
		if i < len(info.LineDetails) {
			for _, d := range info.LineDetails[i] {
				details = append(details, printable(d))
			}
		}
		r.Lines = append(r.Lines, receipt.Line{Name: name, Quantity: l.Quantity.String(), UnitPrice: l.UnitPrice.String(),
			Amount: t.Lines[i].Net.String(), Details: details})
	}
	for _, adj := range t.Adjustments {
		if adj.Amount.IsZero() {
			continue
		}
		label := adjustmentText(adj.Reason, adj.Charge, adj.Percent)
		if len(t.Categories) > 1 {
			label += " (" + vatGroupName(adj.Category, adj.Rate) + ")"
		}
		r.Adjustments = append(r.Adjustments, receipt.Field{Label: label, Value: signed(adj.Amount, adj.Charge)})
	}
	labels := localLabels[strings.ToUpper(seller.Country)]
	r.Totals, r.Payments = totalRows(s, &t, &info, labels), paymentRows(&t, labels)
	if s.Note != "" {
		r.Footer = append(r.Footer, textpolicy.PrintableLines(s.Note)...)
	}
	return r, nil
}

// withSigned is info with the facts the authority's signed answer gives
// in place of the issued document's.
func withSigned(info, signed stamping.ReceiptInfo) stamping.ReceiptInfo {
	for _, f := range []struct{ dst, src *string }{{&info.Number, &signed.Number}, {&info.Title, &signed.Title},
		{&info.TitleLocal, &signed.TitleLocal}, {&info.Timestamp, &signed.Timestamp}, {&info.Total, &signed.Total},
		{&info.VAT, &signed.VAT}, {&info.QR, &signed.QR}, {&info.TaxNumberLabel, &signed.TaxNumberLabel}} {
		if *f.src != "" {
			*f.dst = *f.src
		}
	}
	info.Fields = append(info.Fields, signed.Fields...)
	if len(signed.TaxTable) > 0 {
		info.TaxTable = signed.TaxTable
	}
	return info
}

// lineDetails are the rows printed under a line: its price discount per
// unit, then its discounts and charges, each with its reason and amount.
func lineDetails(l *sale.Line, lt *sale.LineTotal) []string {
	var out []string
	if !l.PriceDiscount.IsZero() {
		out = append(out, "Price discount "+l.PriceDiscount.String()+" x "+l.Quantity.String())
	}
	for charge, list := range [2][]sale.Adjustment{l.Discounts, l.Charges} {
		amounts := lt.Discounts
		if charge == 1 {
			amounts = lt.Charges
		}
		for j := range list {
			if j >= len(amounts) || amounts[j].IsZero() {
				continue
			}
			out = append(out, adjustmentText(list[j].Reason, charge == 1, list[j].Percent)+" "+signed(amounts[j], charge == 1))
		}
	}
	return out
}

// adjustmentText is what a discount or charge is called on the receipt:
// its reason, and its percentage when it is one.
func adjustmentText(reason string, charge bool, percent *money.Decimal) string {
	text := textpolicy.Printable(reason)
	if text == "" {
		// Reasons are required; a sale journalled without one still prints.
		text = map[bool]string{false: "Discount", true: "Charge"}[charge]
	}
	if percent != nil {
		text += " " + percent.String() + "%"
	}
	return text
}

// signed writes a discount with a minus and a charge with a plus. ASCII
// signs: the printer's code page has no U+2212.
func signed(amount money.Decimal, charge bool) string {
	if charge {
		return "+" + amount.String()
	}
	return "-" + amount.String()
}

// vatGroupName names a VAT group the way the breakdown does: "VAT 15%"
// for a standard rate, "VAT Z" for the other categories.
func vatGroupName(c sale.VATCategory, rate money.Decimal) string {
	if c == sale.Standard {
		return "VAT " + rate.String() + "%"
	}
	return "VAT " + string(c)
}

// totalRows are the receipt's totals, each row printed only when it says
// something: the subtotal of the lines and the document's discounts and
// charges when there are any, the amount without VAT, the VAT per
// category and in all, the amount with VAT, then the
// rounding and the amount due when cash rounding made them differ. The last
// row, printed bold, is the document's amount due as the regime wrote it
// (ZATCA: PayableAmount, the QR's tag 4).
func totalRows(s *sale.Sale, t *sale.Totals, info *stamping.ReceiptInfo, labels map[string]string) []receipt.Field {
	row := func(label, suffix, value string) receipt.Field {
		if suffix != "" {
			suffix = " " + suffix
		}
		return receipt.Field{Label: label + suffix, LabelLocal: labels[label], Value: value}
	}
	var rows []receipt.Field
	if !t.Discounts.IsZero() || !t.Charges.IsZero() {
		rows = append(rows, row("Subtotal", "", t.Net.String()))
		if !t.Discounts.IsZero() {
			rows = append(rows, row("Discounts", "", signed(t.Discounts, false)))
		}
		if !t.Charges.IsZero() {
			rows = append(rows, row("Charges", "", signed(t.Charges, true)))
		}
	}
	rows = append(rows, row("Total excl. VAT", "", t.Taxable.String()))
	if len(info.TaxTable) > 0 {
		// The regime's own table (eTIMS: the bands) replaces the breakdown.
		for _, f := range info.TaxTable {
			rows = append(rows, receipt.Field{Label: textpolicy.Printable(f.Label), Value: textpolicy.Printable(f.Value)})
		}
	} else {
		for _, c := range t.Categories {
			rows = append(rows, receipt.Field{Label: vatGroupName(c.Category, c.Rate) + " on " + c.Taxable.String(), Value: c.VAT.String()})
		}
	}
	rows = append(rows, row("VAT", "", orDefault(textpolicy.Printable(info.VAT), t.VAT.String())))
	due := orDefault(textpolicy.Printable(info.Total), t.Payable.String())
	dueAmount, err := money.Parse(due)
	if err == nil && money.Cmp(dueAmount, t.Gross) == 0 {
		return append(rows, row("Total incl. VAT", s.Currency, due))
	}
	rows = append(rows, row("Total incl. VAT", "", t.Gross.String()))
	// The rounding is what the document's amount due adds to the total:
	// t.Rounding when the document and the sale agree, which they do for
	// every sale issued through the API; printing the difference keeps
	// the rows adding up to the amount the QR code states in any case.
	if err == nil {
		if rounding, err := money.Sub(dueAmount, t.Gross); err == nil && !rounding.IsZero() {
			value := rounding.String()
			if rounding.Sign() > 0 {
				value = "+" + value
			}
			rows = append(rows, row("Rounding", "", value))
		}
	}
	return append(rows, row("Amount due", s.Currency, due))
}

// paymentRows are the amounts paid per means, and for cash the amount
// tendered and the change given.
func paymentRows(t *sale.Totals, labels map[string]string) []receipt.Field {
	row := func(label, value string) receipt.Field {
		return receipt.Field{Label: label, LabelLocal: labels[label], Value: value}
	}
	var rows []receipt.Field
	for _, p := range t.Payments {
		value := ""
		if p.Amount != nil {
			value = p.Amount.String()
		}
		rows = append(rows, row(meansLabel(p.Means), value))
		if p.Tendered != nil {
			rows = append(rows, row("Tendered", p.Tendered.String()))
			if !p.Change.IsZero() {
				rows = append(rows, row("Change", p.Change.String()))
			}
		}
	}
	return rows
}

// meansLabel is how a payment means reads on a receipt.
func meansLabel(m sale.PaymentMeans) string {
	switch m {
	case sale.Cash:
		return "Cash"
	case sale.Card:
		return "Card"
	case sale.BankTransfer:
		return "Bank transfer"
	case sale.Credit:
		return "Credit"
	case sale.MobileMoney:
		return "Mobile money"
	case sale.Other:
		return "Other"
	}
	return textpolicy.Printable(string(m))
}

// localLabels are the totals' labels in the language of the seller's
// country (seller.country), printed above the English ones; a country not
// listed gets English labels only.
var localLabels = map[string]map[string]string{
	"SA": {
		"Subtotal":        "المجموع الفرعي",
		"Discounts":       "الخصومات",
		"Charges":         "الرسوم الإضافية",
		"Total excl. VAT": "الإجمالي بدون الضريبة",
		"VAT":             "ضريبة القيمة المضافة",
		"Total incl. VAT": "الإجمالي شامل الضريبة",
		"Rounding":        "التقريب",
		"Amount due":      "المبلغ المستحق",
		"Cash":            "نقدي",
		"Card":            "بطاقة",
		"Bank transfer":   "تحويل بنكي",
		"Credit":          "آجل",
		"Mobile money":    "محفظة إلكترونية",
		"Other":           "أخرى",
		"Tendered":        "المبلغ المستلم",
		"Change":          "الباقي",
	},
}

func appendField(fs []receipt.Field, label, value string) []receipt.Field {
	if value == "" {
		return fs
	}
	return append(fs, receipt.Field{Label: label, Value: value})
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// shiftReceipt is the printed report of a shift's closing document: the
// seller, the number and date, the regime's fields, and its table of
// totals as the closing rows. It has no lines and no QR.
func (a *Agent) shiftReceipt(rec *queue.Record, info *stamping.ReceiptInfo) *receipt.Receipt {
	printable := textpolicy.Printable
	seller := a.cfg.Seller
	r := &receipt.Receipt{
		Title: printable(info.Title), TitleLocal: printable(info.TitleLocal),
		SellerName: printable(seller.Name), SellerNameLocal: printable(seller.NameLocal), SellerVAT: printable(seller.VATNumber),
		Address:        printable(joinNonEmpty(", ", strings.TrimSpace(seller.BuildingNumber+" "+seller.Street), seller.District, strings.TrimSpace(seller.PostalCode+" "+seller.City))),
		SellerVATLabel: printable(info.TaxNumberLabel),
	}
	r.Fields = append(r.Fields, receipt.Field{Label: "No", Value: printable(orDefault(info.Number, fmt.Sprint(rec.Counter)))},
		receipt.Field{Label: "Date", Value: printable(strings.Replace(orDefault(info.Timestamp, rec.IssuedAt.Format(time.DateTime)), "T", " ", 1))})
	for _, f := range info.Fields {
		r.Fields = appendField(r.Fields, printable(f.Label), printable(f.Value))
	}
	for _, f := range info.TaxTable {
		r.Totals = append(r.Totals, receipt.Field{Label: printable(f.Label), Value: printable(f.Value)})
	}
	return r
}

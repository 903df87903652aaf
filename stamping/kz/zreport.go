package kz

import (
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"slices"
	"strings"
)

// ShiftTotals are the running totals of a shift, computed from the tickets
// as they were sent, from which the X and Z reports are made (spec §3.4).
// The caller persists them with each ticket's result; StartShift carries
// the cumulative sums from one shift to the next.
type ShiftTotals struct {
	Number   uint32   `json:"number"`
	OpenedAt DateTime `json:"opened_at"`
	// StartCash is the cash in the drawer when the shift opened, in tiyn.
	StartCash int64 `json:"start_cash"`
	// StartNonNullable and StartTicketCounts are the cumulative sums and
	// ticket counts since registration, per operation, at the shift's start.
	StartNonNullable  [4]int64    `json:"start_non_nullable"`
	StartTicketCounts [4]uint32   `json:"start_ticket_counts"`
	Ops               [4]OpTotals `json:"operations"`
	// Sections and Taxes are keyed by section code and by percent × 1000.
	Sections map[string]*[4]LineSum `json:"sections,omitempty"`
	Taxes    map[uint32]*[4]TaxSum  `json:"taxes,omitempty"`
	// Documents is the number of the last document of the shift.
	Documents uint32 `json:"documents"`
}

// OpTotals are one operation's totals in a shift, amounts in tiyn.
type OpTotals struct {
	Tickets     uint32     `json:"tickets"`
	Offline     uint32     `json:"offline"`
	Commodities int64      `json:"commodities"` // Σ commodity sums
	Discounts   LineSum    `json:"discounts"`
	Markups     LineSum    `json:"markups"`
	Total       int64      `json:"total"` // Σ amounts.total
	Change      int64      `json:"change"`
	Payments    [5]LineSum `json:"payments"` // by PaymentType
}

// LineSum is a count and a sum in tiyn.
type LineSum struct {
	Count uint32 `json:"count"`
	Sum   int64  `json:"sum"`
}

// TaxSum is one rate's turnover (with VAT) and VAT, in tiyn.
type TaxSum struct {
	Turnover int64 `json:"turnover"`
	VAT      int64 `json:"vat"`
}

// StartShift opens shift number after prev (nil for the first shift):
// cumulative sums and the cash carry over.
func StartShift(number uint32, at DateTime, prev *ShiftTotals) *ShiftTotals {
	s := &ShiftTotals{Number: number, OpenedAt: at}
	if prev != nil {
		s.StartCash = prev.Cash()
		for op := range 4 {
			s.StartNonNullable[op] = prev.StartNonNullable[op] + prev.Ops[op].Total
			s.StartTicketCounts[op] = prev.StartTicketCounts[op] + prev.Ops[op].Tickets
		}
	}
	return s
}

var errAmountTooLarge = errors.New("shift totals exceed the largest amount")

func addSum(dst *int64, m Money) error {
	c, err := m.Cents()
	if err != nil {
		return err
	}
	if *dst > math.MaxInt64-c || *dst < math.MinInt64+c {
		return errAmountTooLarge
	}
	*dst += c
	return nil
}

// Add counts a ticket the shift issued. It checks nothing the mapping
// guarantees beyond the operation and payment types.
func (s *ShiftTotals) Add(t *TicketRequest) error {
	if t.Operation > OperationSellReturn {
		return fmt.Errorf("shift totals: unknown operation %d", t.Operation)
	}
	o := &s.Ops[t.Operation]
	o.Tickets++
	if t.OfflineTicketNumber != 0 {
		o.Offline++
	}
	if s.Sections == nil {
		s.Sections = map[string]*[4]LineSum{}
	}
	if s.Taxes == nil {
		s.Taxes = map[uint32]*[4]TaxSum{}
	}
	addTaxes := func(taxes []Tax, amount Money, sign int64) error {
		for _, tx := range taxes {
			ts := s.Taxes[tx.Percent]
			if ts == nil {
				ts = &[4]TaxSum{}
				s.Taxes[tx.Percent] = ts
			}
			a, err := amount.Cents()
			if err != nil {
				return err
			}
			v, err := tx.Sum.Cents()
			if err != nil {
				return err
			}
			ts[t.Operation].Turnover += sign * a
			ts[t.Operation].VAT += sign * v
		}
		return nil
	}
	for _, it := range t.Items {
		switch {
		case it.Type == ItemCommodity && it.Commodity != nil:
			c := it.Commodity
			sec := s.Sections[c.SectionCode]
			if sec == nil {
				sec = &[4]LineSum{}
				s.Sections[c.SectionCode] = sec
			}
			sec[t.Operation].Count++
			if err := addSum(&sec[t.Operation].Sum, c.Sum); err != nil {
				return err
			}
			if err := addSum(&o.Commodities, c.Sum); err != nil {
				return err
			}
			if err := addTaxes(c.Taxes, c.Sum, 1); err != nil {
				return err
			}
		case it.Type == ItemDiscount && it.Modifier != nil:
			o.Discounts.Count++
			if err := addSum(&o.Discounts.Sum, it.Modifier.Sum); err != nil {
				return err
			}
			if err := addTaxes(it.Modifier.Taxes, it.Modifier.Sum, -1); err != nil {
				return err
			}
		case it.Type == ItemMarkup && it.Modifier != nil:
			o.Markups.Count++
			if err := addSum(&o.Markups.Sum, it.Modifier.Sum); err != nil {
				return err
			}
			if err := addTaxes(it.Modifier.Taxes, it.Modifier.Sum, 1); err != nil {
				return err
			}
		}
	}
	for _, m := range []struct {
		mod   *Modifier
		total *LineSum
	}{{t.Amounts.Discount, &o.Discounts}, {t.Amounts.Markup, &o.Markups}} {
		if m.mod != nil {
			m.total.Count++
			if err := addSum(&m.total.Sum, m.mod.Sum); err != nil {
				return err
			}
		}
	}
	if err := addSum(&o.Total, t.Amounts.Total); err != nil {
		return err
	}
	if t.Amounts.Change != nil {
		if err := addSum(&o.Change, *t.Amounts.Change); err != nil {
			return err
		}
	}
	for _, p := range t.Payments {
		if int(p.Type) >= len(o.Payments) {
			return fmt.Errorf("shift totals: unknown payment type %d", p.Type)
		}
		o.Payments[p.Type].Count++
		if err := addSum(&o.Payments[p.Type].Sum, p.Sum); err != nil {
			return err
		}
	}
	s.Documents = max(s.Documents, t.ShiftDocumentNumber)
	return nil
}

// cashSign is how an operation moves cash: a sale and a purchase return
// bring it in, a sale return and a purchase take it out.
var cashSign = [4]int64{OperationBuy: -1, OperationBuyReturn: 1, OperationSell: 1, OperationSellReturn: -1}

// Cash is the cash in the drawer, in tiyn: the start cash and the cash
// payments (each net of change).
func (s *ShiftTotals) Cash() int64 {
	c := s.StartCash
	for op := range 4 {
		c += cashSign[op] * s.Ops[op].Payments[PaymentCash].Sum
	}
	return c
}

// Revenue is sales less sale returns less purchases plus purchase returns.
func (s *ShiftTotals) Revenue() int64 {
	var r int64
	for op := range 4 {
		r += cashSign[op] * s.Ops[op].Total
	}
	return r
}

// Report is the X (at, closed zero) or Z report (closed set) of the shift.
func (s *ShiftTotals) Report(at DateTime, closed bool) (*ZXReport, error) {
	money := func(c int64) (Money, error) { return MoneyOfCents(c) }
	z := &ZXReport{DateTime: at, ShiftNumber: s.Number, OpenShiftTime: s.OpenedAt}
	if closed {
		z.CloseShiftTime = at
	}
	var err error
	must := func(m Money, e error) Money {
		if e != nil && err == nil {
			err = e
		}
		return m
	}
	for _, code := range slices.Sorted(maps.Keys(s.Sections)) {
		sec := Section{Code: code}
		for _, op := range Operations {
			if ls := s.Sections[code][op]; ls.Count > 0 {
				sec.Operations = append(sec.Operations, OperationSum{op, ls.Count, must(money(ls.Sum))})
			}
		}
		z.Sections = append(z.Sections, sec)
	}
	for _, op := range Operations {
		o := &s.Ops[op]
		z.Operations = append(z.Operations, OperationSum{op, o.Tickets, must(money(o.Commodities))})
		z.Discounts = append(z.Discounts, OperationSum{op, o.Discounts.Count, must(money(o.Discounts.Sum))})
		z.Markups = append(z.Markups, OperationSum{op, o.Markups.Count, must(money(o.Markups.Sum))})
		z.TotalResult = append(z.TotalResult, OperationSum{op, o.Tickets, must(money(o.Total))})
		to := TicketOperation{Operation: op, TicketsTotalCount: s.StartTicketCounts[op] + o.Tickets, TicketsCount: o.Tickets,
			TicketsSum: must(money(o.Total)), OfflineCount: o.Offline, DiscountSum: must(money(o.Discounts.Sum)),
			MarkupSum: must(money(o.Markups.Sum)), ChangeSum: must(money(o.Change))}
		for _, pt := range PaymentTypes {
			if p := o.Payments[pt]; p.Count > 0 {
				to.Payments = append(to.Payments, PaymentSum{pt, must(money(p.Sum)), p.Count})
			}
		}
		z.TicketOperations = append(z.TicketOperations, to)
		z.StartShiftNonNullableSums = append(z.StartShiftNonNullableSums, OperationSum{Operation: op, Sum: must(money(s.StartNonNullable[op]))})
		z.NonNullableSums = append(z.NonNullableSums, OperationSum{Operation: op, Sum: must(money(s.StartNonNullable[op] + o.Total))})
	}
	for _, pct := range slices.Sorted(maps.Keys(s.Taxes)) {
		tt := TaxTotal{TaxType: TaxTypeVAT, Percent: pct}
		for _, op := range Operations {
			ts := s.Taxes[pct][op]
			if ts.Turnover == 0 && ts.VAT == 0 {
				continue
			}
			tt.Operations = append(tt.Operations, TaxOperation{op, must(money(ts.Turnover)), must(money(ts.VAT)), must(money(ts.Turnover - ts.VAT))})
		}
		z.Taxes = append(z.Taxes, tt)
	}
	z.CashSum = must(money(s.Cash()))
	rev := s.Revenue()
	z.RevenueIsNegative = rev < 0
	if rev < 0 {
		rev = -rev
	}
	z.Revenue = must(money(rev))
	if err != nil {
		return nil, fmt.Errorf("shift %d report: %w", s.Number, err)
	}
	z.Checksum = ReportChecksum(z)
	return z, nil
}

// ReportChecksum is the report's checksum: no algorithm is public (spec
// §3.4), so it is the upper-case hex CRC-32 (IEEE) of the report's own
// encoding without the checksum field.
func ReportChecksum(z *ZXReport) string {
	e := encoder{}
	z.encodeWithoutChecksum(&e)
	return strings.ToUpper(fmt.Sprintf("%08x", crc32.ChecksumIEEE(e.b)))
}

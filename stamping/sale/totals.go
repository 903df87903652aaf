package sale

import (
	"fmt"
	"strconv"

	"github.com/egsd/egsd/stamping/money"
)

// AmountScale is the number of decimals of every monetary total. SAR, KES
// and KZT all have two.
const AmountScale = 2

// Totals are a sale's amounts, every one derived from the same rounded
// numbers so that the document's totals add up exactly (ZATCA BR-CO-14/15;
// spec/zatca.md §6.6): category VAT is rounded once per category at document
// level, never summed from rounded line VAT.
type Totals struct {
	Lines      []LineTotal
	Categories []CategoryTotal // in order of first appearance
	Net        money.Decimal   // Σ line net (tax exclusive)
	VAT        money.Decimal   // Σ category VAT
	Gross      money.Decimal   // Net + VAT (tax inclusive, payable)
}

// LineTotal is the rounded amounts of one line.
type LineTotal struct {
	Net   money.Decimal // quantity × unit price, rounded half-up to AmountScale
	VAT   money.Decimal // Net × rate, rounded half-up; shown per line, not summed
	Gross money.Decimal // Net + VAT
}

// CategoryTotal is the VAT breakdown for one category and rate.
type CategoryTotal struct {
	Category        VATCategory
	Rate            money.Decimal
	ExemptionReason string
	Taxable         money.Decimal
	VAT             money.Decimal
}

// The largest values a sale may carry. They are chosen so that every amount
// egsd computes or writes is exact, with a wide margin:
//
//   - a line's amount, quantity × unit price, is formed in 128 bits and
//     rounded (money.MulRound), so it is exact whatever the two are, and is
//     then refused above MaxAmount;
//   - every other amount — a line's VAT and amount with VAT, each
//     category's taxable amount and VAT, the document's net, VAT and total
//     with VAT — is at most the total with VAT, which is at most MaxAmount:
//     10^13 hundredths, so that even the sum of MaxLines line amounts
//     before the total is checked (10^16) and a VAT product (10^13 × 9999
//     hundredths of a percent) stay far inside int64;
//   - every amount has at most 14 significant digits, quantities 13 and
//     prices 14, so a system that reads the XML's numbers as binary floating
//     point (which holds 15) still reads them exactly.
var (
	// MaxQuantity is the largest quantity of a line.
	MaxQuantity = money.Decimal{Coef: 1_000_000_000}
	// MaxUnitPrice is the largest unit price of a line.
	MaxUnitPrice = money.Decimal{Coef: 1_000_000_000}
	// MaxAmount is the largest amount on a document: a line's amount
	// (quantity × unit price, rounded) and the document's total with VAT,
	// and so every amount in between. It also bounds a payment's amount.
	MaxAmount = money.Decimal{Coef: 100_000_000_000_00, Scale: AmountScale}
)

// ComputeTotals computes s's totals exactly. A sale that breaks a limit
// above, or whose numbers are not ones Decode accepts, is refused with
// Errors naming each field and the limit; nothing is ever approximated.
func ComputeTotals(s *Sale) (Totals, error) {
	var errs Errors
	for i := range s.Lines {
		checkLineNumbers(&errs, i, &s.Lines[i])
	}
	if len(s.Lines) == 0 {
		errs.Add("lines", "must have at least one line")
	}
	if err := errs.Err(); err != nil {
		return Totals{}, err
	}

	t := Totals{Lines: make([]LineTotal, len(s.Lines))}
	zero := money.Decimal{Scale: AmountScale}
	t.Net, t.VAT, t.Gross = zero, zero, zero
	type categoryKey struct {
		category VATCategory
		rate     int64 // hundredths of a percent: "15" and "15.00" are one category
		reason   string
	}
	index := map[categoryKey]int{}
	for i := range s.Lines {
		l := &s.Lines[i]
		net, err := money.MulRound(l.Quantity, l.UnitPrice, AmountScale)
		if err != nil || money.Cmp(net, MaxAmount) > 0 {
			// An overflow means an amount far above MaxAmount (10^16).
			path := linePath(i)
			errs.Add(path+".quantity × "+path+".unit_price", "the line amount, %s × %s, exceeds the limit of %s; check the quantity and the unit price",
				l.Quantity, l.UnitPrice, MaxAmount)
			continue
		}
		vat, err := percentOf(net, l.Rate)
		if err != nil {
			return Totals{}, fmt.Errorf("%s: VAT of %s at %s%%: %w", linePath(i), net, l.Rate, err)
		}
		gross, err := money.Add(net, vat)
		if err != nil {
			return Totals{}, fmt.Errorf("%s: amount with VAT: %w", linePath(i), err)
		}
		t.Lines[i] = LineTotal{Net: net, VAT: vat, Gross: gross}
		if t.Net, err = money.Add(t.Net, net); err != nil {
			return Totals{}, fmt.Errorf("total net amount: %w", err)
		}
		rate, err := l.Rate.Rescale(MaxRateScale)
		if err != nil {
			return Totals{}, fmt.Errorf("%s.vat_rate: %w", linePath(i), err)
		}
		key := categoryKey{l.Category, rate.Coef, l.ExemptionReason}
		k, ok := index[key]
		if !ok {
			k = len(t.Categories)
			index[key] = k
			t.Categories = append(t.Categories, CategoryTotal{Category: l.Category, Rate: rate, ExemptionReason: l.ExemptionReason, Taxable: zero})
		}
		if t.Categories[k].Taxable, err = money.Add(t.Categories[k].Taxable, net); err != nil {
			return Totals{}, fmt.Errorf("taxable amount: %w", err)
		}
	}
	if err := errs.Err(); err != nil {
		return Totals{}, err
	}
	if money.Cmp(t.Net, MaxAmount) > 0 {
		return Totals{}, Errors{{Field: "lines", Rule: fmt.Sprintf("the total without VAT, %s, exceeds the limit of %s for one document; split the sale into several documents", t.Net, MaxAmount)}}
	}
	for i := range t.Categories {
		c := &t.Categories[i]
		vat, err := percentOf(c.Taxable, c.Rate)
		if err != nil {
			return Totals{}, fmt.Errorf("category %s VAT: %w", c.Category, err)
		}
		c.VAT = vat
		if t.VAT, err = money.Add(t.VAT, vat); err != nil {
			return Totals{}, fmt.Errorf("total VAT: %w", err)
		}
	}
	var err error
	if t.Gross, err = money.Add(t.Net, t.VAT); err != nil {
		return Totals{}, fmt.Errorf("total amount: %w", err)
	}
	if money.Cmp(t.Gross, MaxAmount) > 0 {
		return Totals{}, Errors{{Field: "lines", Rule: fmt.Sprintf("the total with VAT, %s, exceeds the limit of %s for one document; split the sale into several documents", t.Gross, MaxAmount)}}
	}
	return t, nil
}

// checkLineNumbers checks the numbers of a line against the wire rules and
// the limits, for a sale built in code as much as for one Decode built.
func checkLineNumbers(errs *Errors, i int, l *Line) {
	if l.Quantity.Sign() <= 0 || l.Quantity.Scale > MaxQuantityScale || money.Cmp(l.Quantity, MaxQuantity) > 0 {
		checkQuantity(errs, linePath(i)+".quantity", l.Quantity)
	}
	if l.UnitPrice.Sign() < 0 || l.UnitPrice.Scale > MaxPriceScale || money.Cmp(l.UnitPrice, MaxUnitPrice) > 0 {
		checkUnitPrice(errs, linePath(i)+".unit_price", l.UnitPrice)
	}
	if l.Rate.Sign() < 0 || money.Cmp(l.Rate, hundred) >= 0 || l.Rate.Scale > MaxRateScale {
		errs.Add(linePath(i)+".vat_rate", "%s must be 0 or more and below 100, with at most %d decimals", l.Rate, MaxRateScale)
	}
}

// linePath is the field path of the i-th line, built only for a message.
func linePath(i int) string { return "lines[" + strconv.Itoa(i) + "]" }

func checkQuantity(errs *Errors, field string, q money.Decimal) {
	switch {
	case q.Sign() <= 0:
		errs.Add(field, "must be greater than zero (a return is a credit note with positive quantities)")
	case q.Scale > MaxQuantityScale:
		errs.Add(field, "%s has %d decimals; at most %d are allowed", q, q.Scale, MaxQuantityScale)
	case money.Cmp(q, MaxQuantity) > 0:
		errs.Add(field, "%s exceeds the limit of %s", q, MaxQuantity)
	}
}

func checkUnitPrice(errs *Errors, field string, p money.Decimal) {
	switch {
	case p.Sign() < 0:
		errs.Add(field, "must not be negative (a refund is a credit note with positive prices)")
	case p.Scale > MaxPriceScale:
		errs.Add(field, "%s has %d decimals; at most %d are allowed", p, p.Scale, MaxPriceScale)
	case money.Cmp(p, MaxUnitPrice) > 0:
		errs.Add(field, "%s exceeds the limit of %s", p, MaxUnitPrice)
	}
}

// percentOf returns amount × rate / 100 rounded half-up to AmountScale.
func percentOf(amount, rate money.Decimal) (money.Decimal, error) {
	// Dividing by 100 is exact: shift the rate's scale by two.
	return money.MulRound(amount, money.Decimal{Coef: rate.Coef, Scale: rate.Scale + 2}, AmountScale)
}

package sale

import (
	"fmt"

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

// ComputeTotals computes s's totals exactly.
func ComputeTotals(s *Sale) (Totals, error) {
	t := Totals{Lines: make([]LineTotal, len(s.Lines))}
	zero := money.Decimal{Scale: AmountScale}
	t.Net, t.VAT, t.Gross = zero, zero, zero
	index := map[string]int{}
	for i, l := range s.Lines {
		raw, err := money.Mul(l.Quantity, l.UnitPrice)
		if err != nil {
			return Totals{}, fmt.Errorf("lines[%d]: quantity × unit_price %w", i, err)
		}
		net, _ := raw.Round(AmountScale)
		vat, err := percentOf(net, l.Rate)
		if err != nil {
			return Totals{}, fmt.Errorf("lines[%d]: VAT %w", i, err)
		}
		gross, err := money.Add(net, vat)
		if err != nil {
			return Totals{}, fmt.Errorf("lines[%d]: line total %w", i, err)
		}
		t.Lines[i] = LineTotal{Net: net, VAT: vat, Gross: gross}
		if t.Net, err = money.Add(t.Net, net); err != nil {
			return Totals{}, fmt.Errorf("total net amount %w", err)
		}
		key := string(l.Category) + "/" + l.Rate.StringFixed(MaxRateScale) + "/" + l.ExemptionReason
		k, ok := index[key]
		if !ok {
			k = len(t.Categories)
			index[key] = k
			rate, _ := l.Rate.Rescale(MaxRateScale)
			t.Categories = append(t.Categories, CategoryTotal{Category: l.Category, Rate: rate, ExemptionReason: l.ExemptionReason, Taxable: zero})
		}
		if t.Categories[k].Taxable, err = money.Add(t.Categories[k].Taxable, net); err != nil {
			return Totals{}, fmt.Errorf("taxable amount %w", err)
		}
	}
	for i := range t.Categories {
		c := &t.Categories[i]
		vat, err := percentOf(c.Taxable, c.Rate)
		if err != nil {
			return Totals{}, fmt.Errorf("category %s VAT %w", c.Category, err)
		}
		c.VAT = vat
		if t.VAT, err = money.Add(t.VAT, vat); err != nil {
			return Totals{}, fmt.Errorf("total VAT %w", err)
		}
	}
	var err error
	if t.Gross, err = money.Add(t.Net, t.VAT); err != nil {
		return Totals{}, fmt.Errorf("total amount %w", err)
	}
	return t, nil
}

// percentOf returns amount × rate / 100 rounded half-up to AmountScale.
func percentOf(amount, rate money.Decimal) (money.Decimal, error) {
	p, err := money.Mul(amount, rate)
	if err != nil {
		return money.Decimal{}, err
	}
	// Dividing by 100 is exact: shift the scale by two.
	p.Scale += 2
	if p.Scale > 18 {
		return money.Decimal{}, money.ErrTooPrecise
	}
	return p.Round(AmountScale)
}

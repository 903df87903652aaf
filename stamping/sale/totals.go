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
// numbers so that the document's totals add up exactly (ZATCA BR-CO-10 to
// BR-CO-16; docs/api.md "Amounts"): category VAT is rounded once per
// category at document level, after the document's discounts and charges,
// never summed from rounded line VAT.
type Totals struct {
	Lines []LineTotal
	// Adjustments are the document's discounts and charges as applied: a
	// basket-wide percentage discount becomes one per VAT group. Discounts
	// come first, in the sale's order, then charges.
	Adjustments []AppliedAdjustment
	Categories  []CategoryTotal // in order of first appearance
	Net         money.Decimal   // Σ line net amounts (BT-106)
	Discounts   money.Decimal   // Σ document discounts (BT-107)
	Charges     money.Decimal   // Σ document charges (BT-108)
	Taxable     money.Decimal   // Net − Discounts + Charges (BT-109)
	VAT         money.Decimal   // Σ category VAT (BT-110)
	Gross       money.Decimal   // Taxable + VAT (BT-112)
	// Rounding is what cash rounding added to Gross (negative when it
	// rounded down; BT-114) and Payable the amount due, Gross + Rounding
	// (BT-115).
	Rounding money.Decimal
	Payable  money.Decimal
	// Payments are the sale's payments with their amounts resolved; Change
	// is the cash handed back, Σ (tendered − amount).
	Payments []PaymentTotal
	Change   money.Decimal
}

// LineTotal is the rounded amounts of one line.
type LineTotal struct {
	// NetPrice is the unit price less the price discount, exact.
	NetPrice money.Decimal
	// Base is quantity × NetPrice rounded half-up to AmountScale: what the
	// line's percentage discounts and charges are taken of.
	Base money.Decimal
	// Discounts and Charges are the amounts of the line's discounts and
	// charges, in the sale's order.
	Discounts []money.Decimal
	Charges   []money.Decimal
	Net       money.Decimal // Base − Σ Discounts + Σ Charges (BT-131)
	VAT       money.Decimal // Net × rate, rounded half-up; shown per line, not summed
	Gross     money.Decimal // Net + VAT
}

// AppliedAdjustment is one document-level discount or charge as it
// applies: its VAT group, the base a percentage was taken of, and the
// amount.
type AppliedAdjustment struct {
	Charge bool
	// Source is the index of the entry in the sale's Discounts or Charges.
	Source          int
	Percent         *money.Decimal // nil for an amount
	Base            money.Decimal  // the group's line net amounts; zero for an amount
	Amount          money.Decimal
	Reason          string
	ReasonCode      string
	Category        VATCategory
	Rate            money.Decimal // two decimals
	ExemptionReason string
}

// CategoryTotal is the VAT breakdown for one category and rate.
type CategoryTotal struct {
	Category        VATCategory
	Rate            money.Decimal
	ExemptionReason string
	// LinesNet is Σ the group's line net amounts; Taxable adds the group's
	// document charges and takes away its document discounts.
	LinesNet money.Decimal
	Taxable  money.Decimal
	VAT      money.Decimal
}

// PaymentTotal is a payment with its amount resolved: Amount is nil only
// when several payments name no amount and the split is unknown.
type PaymentTotal struct {
	Means    PaymentMeans
	Amount   *money.Decimal
	Tendered *money.Decimal
	Change   money.Decimal
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
// above, whose discounts exceed what they discount, whose payments do not
// add up, or whose numbers are not ones Decode accepts, is refused with
// Errors naming each field and the rule; nothing is ever approximated.
//
// The order of the computation is the documented one (docs/api.md
// "Amounts"): per line, quantity × net unit price rounded to two decimals
// is the base, and each line discount and charge is an amount or a
// percentage of that base, rounded; per VAT group, the document discounts
// and charges apply to the sum of its line net amounts, a percentage again
// of that sum; each group's VAT is its taxable amount × rate, rounded once;
// cash rounding, when the sale is paid in cash only, rounds the total with
// VAT half-up to the increment.
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

	zero := money.Decimal{Scale: AmountScale}
	t := Totals{Lines: make([]LineTotal, len(s.Lines)), Net: zero, Discounts: zero, Charges: zero, VAT: zero, Rounding: zero, Change: zero}
	groups := groupIndex{}
	for i := range s.Lines {
		l := &s.Lines[i]
		lt, ok, err := lineTotal(&errs, i, l)
		if err != nil {
			return Totals{}, err
		}
		if !ok {
			continue
		}
		t.Lines[i] = lt
		if t.Net, err = money.Add(t.Net, lt.Net); err != nil {
			return Totals{}, fmt.Errorf("total net amount: %w", err)
		}
		k, err := groups.find(&t, l.Category, l.Rate, l.ExemptionReason)
		if err != nil {
			return Totals{}, fmt.Errorf("%s.vat_rate: %w", linePath(i), err)
		}
		if t.Categories[k].LinesNet, err = money.Add(t.Categories[k].LinesNet, lt.Net); err != nil {
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
		t.Categories[i].Taxable = t.Categories[i].LinesNet
	}
	if err := applyDocumentAdjustments(&errs, &t, s, groups); err != nil {
		return Totals{}, err
	}
	if err := errs.Err(); err != nil {
		return Totals{}, err
	}

	var err error
	if t.Taxable, err = money.Sub(t.Net, t.Discounts); err == nil {
		t.Taxable, err = money.Add(t.Taxable, t.Charges)
	}
	if err != nil {
		return Totals{}, fmt.Errorf("total without VAT: %w", err)
	}
	if money.Cmp(t.Taxable, MaxAmount) > 0 {
		return Totals{}, Errors{{Field: "charges", Rule: fmt.Sprintf("the total without VAT, %s, exceeds the limit of %s for one document; split the sale into several documents", t.Taxable, MaxAmount)}}
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
	if t.Gross, err = money.Add(t.Taxable, t.VAT); err != nil {
		return Totals{}, fmt.Errorf("total amount: %w", err)
	}
	if money.Cmp(t.Gross, MaxAmount) > 0 {
		return Totals{}, Errors{{Field: "lines", Rule: fmt.Sprintf("the total with VAT, %s, exceeds the limit of %s for one document; split the sale into several documents", t.Gross, MaxAmount)}}
	}
	t.Payable = t.Gross
	if paidInCashOnly(s.Payments) && !s.CashRounding.IsZero() {
		if t.Payable, err = roundToIncrement(t.Gross, s.CashRounding); err != nil {
			return Totals{}, Errors{{Field: "cash_rounding", Rule: err.Error()}}
		}
		if t.Rounding, err = money.Sub(t.Payable, t.Gross); err != nil {
			return Totals{}, fmt.Errorf("rounding amount: %w", err)
		}
	}
	if err := resolvePayments(&errs, &t, s.Payments); err != nil {
		return Totals{}, err
	}
	if err := errs.Err(); err != nil {
		return Totals{}, err
	}
	return t, nil
}

// lineTotal computes one line's amounts. A line that breaks a rule adds to
// errs and returns ok false.
func lineTotal(errs *Errors, i int, l *Line) (lt LineTotal, ok bool, err error) {
	path := linePath(i)
	if lt.NetPrice, err = money.Sub(l.UnitPrice, l.PriceDiscount); err != nil {
		return lt, false, fmt.Errorf("%s: net unit price: %w", path, err)
	}
	if lt.NetPrice.Sign() < 0 {
		errs.Add(path+".price_discount", "%s is above the unit price %s; the net unit price must not be negative", l.PriceDiscount, l.UnitPrice)
		return lt, false, nil
	}
	base, err := money.MulRound(l.Quantity, lt.NetPrice, AmountScale)
	if err != nil || money.Cmp(base, MaxAmount) > 0 {
		// An overflow means an amount far above MaxAmount (10^16).
		errs.Add(path+".quantity × "+path+".unit_price", "the line amount, %s × %s, exceeds the limit of %s; check the quantity and the unit price",
			l.Quantity, lt.NetPrice, MaxAmount)
		return lt, false, nil
	}
	lt.Base, lt.Net = base, base
	for j, d := range l.Discounts {
		amount, err := adjustmentAmount(&d, base)
		if err != nil {
			return lt, false, fmt.Errorf("%s.discounts[%d]: %w", path, j, err)
		}
		lt.Discounts = append(lt.Discounts, amount)
		if lt.Net, err = money.Sub(lt.Net, amount); err != nil {
			return lt, false, fmt.Errorf("%s: net amount: %w", path, err)
		}
	}
	if lt.Net.Sign() < 0 {
		errs.Add(path+".discounts", "the discounts of the line, %s in all, exceed its amount %s (quantity × net unit price)", sumOf(lt.Discounts), base)
		return lt, false, nil
	}
	for j, c := range l.Charges {
		amount, err := adjustmentAmount(&c, base)
		if err != nil {
			return lt, false, fmt.Errorf("%s.charges[%d]: %w", path, j, err)
		}
		lt.Charges = append(lt.Charges, amount)
		if lt.Net, err = money.Add(lt.Net, amount); err != nil {
			return lt, false, fmt.Errorf("%s: net amount: %w", path, err)
		}
	}
	if money.Cmp(lt.Net, MaxAmount) > 0 {
		errs.Add(path+".charges", "the line's net amount, %s, exceeds the limit of %s", lt.Net, MaxAmount)
		return lt, false, nil
	}
	if lt.VAT, err = percentOf(lt.Net, l.Rate); err != nil {
		return lt, false, fmt.Errorf("%s: VAT of %s at %s%%: %w", path, lt.Net, l.Rate, err)
	}
	if lt.Gross, err = money.Add(lt.Net, lt.VAT); err != nil {
		return lt, false, fmt.Errorf("%s: amount with VAT: %w", path, err)
	}
	return lt, true, nil
}

// adjustmentAmount is a discount's or charge's amount: its own, or its
// percentage of base rounded half-up to AmountScale.
func adjustmentAmount(a *Adjustment, base money.Decimal) (money.Decimal, error) {
	if a.Percent == nil {
		return a.Amount, nil
	}
	return percentOf(base, *a.Percent)
}

func sumOf(ds []money.Decimal) string {
	sum := money.Decimal{Scale: AmountScale}
	for _, d := range ds {
		s, err := money.Add(sum, d)
		if err != nil {
			return "more than " + MaxAmount.String()
		}
		sum = s
	}
	return sum.String()
}

// groupKey is a VAT group: category, rate and exemption reason.
type groupKey struct {
	category VATCategory
	rate     int64 // hundredths of a percent: "15" and "15.00" are one group
	reason   string
}

// groupIndex finds a VAT group's place in Totals.Categories.
type groupIndex map[groupKey]int

func (g groupIndex) find(t *Totals, c VATCategory, rate money.Decimal, reason string) (int, error) {
	r, err := rate.Rescale(MaxRateScale)
	if err != nil {
		return 0, err
	}
	key := groupKey{c, r.Coef, reason}
	k, ok := g[key]
	if !ok {
		k = len(t.Categories)
		g[key] = k
		zero := money.Decimal{Scale: AmountScale}
		t.Categories = append(t.Categories, CategoryTotal{Category: c, Rate: r, ExemptionReason: reason, LinesNet: zero, Taxable: zero})
	}
	return k, nil
}

// applyDocumentAdjustments resolves the sale's document discounts and
// charges into t.Adjustments and the groups' taxable amounts.
func applyDocumentAdjustments(errs *Errors, t *Totals, s *Sale, groups groupIndex) error {
	lineGroups := len(t.Categories) // groups a basket-wide discount spreads over
	for charge, list := range [2][]DocumentAdjustment{s.Discounts, s.Charges} {
		field := "discounts"
		if charge == 1 {
			field = "charges"
		}
		for i := range list {
			d := &list[i]
			path := fmt.Sprintf("%s[%d]", field, i)
			var targets []int
			if d.Category == "" {
				// Every group with an amount to take a percentage of: a
				// group whose lines come to zero (free or fully
				// discounted items) has nothing to discount.
				for k := range lineGroups {
					if !t.Categories[k].LinesNet.IsZero() {
						targets = append(targets, k)
					}
				}
				if len(targets) == 0 {
					errs.Add(path+".percent", "the basket's lines come to zero: there is nothing to take a percentage of")
					continue
				}
			} else {
				reason, ok := groupReason(t, d, lineGroups)
				if !ok {
					errs.Add(path+".exemption_reason", "is required: the basket has %s lines with different exemption reasons, or none, so name the one this %s belongs to",
						d.Category, map[bool]string{false: "discount", true: "charge"}[charge == 1])
					continue
				}
				k, err := groups.find(t, d.Category, d.Rate, reason)
				if err != nil {
					return fmt.Errorf("%s.vat_rate: %w", path, err)
				}
				targets = []int{k}
			}
			for _, k := range targets {
				if err := applyOne(errs, t, d, i, charge == 1, k, path); err != nil {
					return err
				}
			}
		}
	}
	for i := range t.Categories {
		if c := &t.Categories[i]; c.Taxable.Sign() < 0 {
			errs.Add("discounts", "the document discounts in VAT category %s %s%% exceed the amount of its lines and charges, %s",
				c.Category, c.Rate, c.LinesNet)
		}
	}
	return nil
}

// groupReason is the exemption reason of the group d belongs to: its own,
// or, for Z, E and O, the one reason of the basket's lines in that
// category. S takes none.
func groupReason(t *Totals, d *DocumentAdjustment, lineGroups int) (string, bool) {
	if d.ExemptionReason != "" || d.Category == Standard {
		return d.ExemptionReason, true
	}
	reason, found := "", 0
	for k := range lineGroups {
		if c := &t.Categories[k]; c.Category == d.Category {
			reason = c.ExemptionReason
			found++
		}
	}
	return reason, found == 1
}

func applyOne(errs *Errors, t *Totals, d *DocumentAdjustment, source int, charge bool, k int, path string) error {
	c := &t.Categories[k]
	a := AppliedAdjustment{Charge: charge, Source: source, Percent: d.Percent, Base: money.Decimal{Scale: AmountScale},
		Reason: d.Reason, ReasonCode: d.ReasonCode, Category: c.Category, Rate: c.Rate, ExemptionReason: c.ExemptionReason}
	if d.Percent != nil {
		if c.LinesNet.IsZero() {
			errs.Add(path+".percent", "the basket has no amount in VAT category %s %s%% to take a percentage of; give an amount", c.Category, c.Rate)
			return nil
		}
		a.Base = c.LinesNet
	}
	var err error
	if a.Amount, err = adjustmentAmount(&d.Adjustment, c.LinesNet); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	total, op := &t.Discounts, money.Sub
	if charge {
		total, op = &t.Charges, money.Add
	}
	if c.Taxable, err = op(c.Taxable, a.Amount); err != nil {
		return fmt.Errorf("%s: taxable amount: %w", path, err)
	}
	if *total, err = money.Add(*total, a.Amount); err != nil {
		return fmt.Errorf("%s: total: %w", path, err)
	}
	if money.Cmp(*total, MaxAmount) > 0 {
		errs.Add(path+".amount", "the document's %s add up to more than the limit of %s", map[bool]string{false: "discounts", true: "charges"}[charge], MaxAmount)
		return nil
	}
	t.Adjustments = append(t.Adjustments, a)
	return nil
}

// paidInCashOnly reports whether the sale names payments and all are cash:
// only then is its total rounded to the cash increment.
func paidInCashOnly(ps []Payment) bool {
	for _, p := range ps {
		if p.Means != Cash {
			return false
		}
	}
	return len(ps) > 0
}

// roundToIncrement rounds v (≥ 0, AmountScale) half-up to a multiple of inc.
func roundToIncrement(v, inc money.Decimal) (money.Decimal, error) {
	vs, err := v.Rescale(AmountScale)
	if err != nil {
		return money.Decimal{}, err
	}
	is, err := inc.Rescale(AmountScale)
	if err != nil || is.Coef <= 0 {
		return money.Decimal{}, fmt.Errorf("%s is not a rounding increment", inc)
	}
	// v and inc are at most 10^13 hundredths: 2v + inc stays inside int64.
	q := (2*vs.Coef + is.Coef) / (2 * is.Coef)
	return money.Decimal{Coef: q * is.Coef, Scale: AmountScale}, nil
}

// resolvePayments checks the payments against the amount due and fills
// t.Payments and t.Change: amounts given must add up to it, one payment
// without an amount takes what is left, and cash tendered must cover the
// cash amount.
func resolvePayments(errs *Errors, t *Totals, ps []Payment) error {
	missing := -1
	given := money.Decimal{Scale: AmountScale}
	var err error
	t.Payments = make([]PaymentTotal, len(ps))
	for i, p := range ps {
		t.Payments[i] = PaymentTotal{Means: p.Means, Amount: p.Amount, Tendered: p.Tendered, Change: money.Decimal{Scale: AmountScale}}
		if p.Amount == nil {
			if missing >= 0 {
				missing = -2 // several: the split is unknown
			} else if missing == -1 {
				missing = i
			}
			continue
		}
		if given, err = money.Add(given, *p.Amount); err != nil {
			return fmt.Errorf("payments: %w", err)
		}
	}
	switch {
	case missing == -1 && len(ps) > 0 && money.Cmp(given, t.Payable) != 0:
		errs.Add("payments", "the payments add up to %s, but the amount due is %s", given, t.Payable)
		return nil
	case missing >= 0:
		rest, err := money.Sub(t.Payable, given)
		if err != nil {
			return fmt.Errorf("payments: %w", err)
		}
		if rest.Sign() < 0 {
			errs.Add("payments", "the payments with an amount add up to %s, more than the amount due %s", given, t.Payable)
			return nil
		}
		t.Payments[missing].Amount = &rest
	case missing == -2:
		if money.Cmp(given, t.Payable) > 0 {
			errs.Add("payments", "the payments with an amount add up to %s, more than the amount due %s", given, t.Payable)
			return nil
		}
	}
	for i := range t.Payments {
		p := &t.Payments[i]
		if p.Tendered == nil {
			continue
		}
		path := fmt.Sprintf("payments[%d].tendered", i)
		if p.Amount == nil {
			errs.Add(path, "needs the payment's amount when several payments name none")
			continue
		}
		if money.Cmp(*p.Tendered, *p.Amount) < 0 {
			errs.Add(path, "%s is below the amount due in cash, %s", p.Tendered, p.Amount)
			continue
		}
		if p.Change, err = money.Sub(*p.Tendered, *p.Amount); err != nil {
			return fmt.Errorf("%s: change: %w", path, err)
		}
		if t.Change, err = money.Add(t.Change, p.Change); err != nil {
			return fmt.Errorf("change: %w", err)
		}
	}
	return nil
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

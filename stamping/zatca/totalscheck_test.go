package zatca

import (
	"errors"
	"fmt"

	"github.com/egsd/egsd/stamping/money"
)

// checkTotals verifies, on a document read back from its XML and with exact
// decimals, every rule on its amounts that ZATCA rejects or warns about,
// and that the QR values are the document's:
//
//   - each line: the price allowance (BR-KSA-EN16931-07: net price = gross
//     price − allowance), each allowance or charge given as a percentage
//     (BR-KSA-EN16931-03/-04/-05: amount = base × percentage / 100,
//     rounded; base and percentage together), the net amount, exactly
//     quantity × net price rounded half-up less allowances plus charges
//     (BR-KSA-EN16931-11, which ZATCA checks to the cent), the line VAT and
//     BR-KSA-51;
//   - each document-level allowance and charge (BR-KSA-EN16931-03, a VAT
//     category on each);
//   - each VAT breakdown: its taxable amount is its lines' net amounts plus
//     its charges less its allowances (BR-S-08, BR-Z-08, BR-E-08,
//     BR-O-08), its VAT the taxable amount × rate rounded once (BR-S-09,
//     BR-CO-17; 0 for Z, E and O: BR-Z-09, BR-E-09, BR-O-09);
//   - the document: BR-CO-10 to BR-CO-16, prepaid 0.
//
// The arithmetic is the exact product and money.Decimal.Round, apart from
// the code under test's money.MulRound.
func checkTotals(p *ublParsed, r *Rendered) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	dec := func(a ublAmount) money.Decimal {
		d, err := money.Parse(a.Value)
		if err != nil || d.Scale != 2 || a.Currency != "SAR" {
			fail("amount %q %s is not SAR with two decimals", a.Value, a.Currency)
		}
		return d
	}
	num := func(what, s string) money.Decimal {
		d, err := money.Parse(s)
		if err != nil {
			fail("%s %q: %v", what, s, err)
		}
		return d
	}
	add := func(a, b money.Decimal) money.Decimal {
		s, err := money.Add(a, b)
		if err != nil {
			fail("%s + %s: %v", a, b, err)
		}
		return s
	}
	sub := func(a, b money.Decimal) money.Decimal {
		s, err := money.Sub(a, b)
		if err != nil {
			fail("%s − %s: %v", a, b, err)
		}
		return s
	}
	// times is a × b / divisor rounded half-up to two decimals, divisor 1
	// or 100, from the exact product.
	times := func(a, b money.Decimal, divisor int64) money.Decimal {
		prod, err := money.Mul(a, b)
		if err != nil {
			fail("%s × %s: %v", a, b, err)
			return money.Decimal{}
		}
		if divisor == 100 {
			prod.Scale += 2
		}
		rounded, err := prod.Round(2)
		if err != nil {
			fail("%s rounded: %v", prod, err)
		}
		return rounded
	}
	eq := func(rule string, got, want money.Decimal) {
		if money.Cmp(got, want) != 0 {
			fail("%s: %s ≠ %s", rule, got, want)
		}
	}
	// adjustment checks one allowance or charge and returns its signed
	// amount (allowances negative); lineBase is the line's, or nil.
	adjustment := func(where string, ac *ublAllowanceCharge, lineBase *money.Decimal) money.Decimal {
		amount := dec(ac.Amount)
		if amount.Sign() < 0 {
			fail("%s: negative amount %s (BR-KSA-F-04)", where, amount)
		}
		if ac.Reason == "" || ac.Charge == "true" && ac.ReasonCode == "" {
			fail("%s: reason %q, code %q (BR-KSA-19 to 22)", where, ac.Reason, ac.ReasonCode)
		}
		switch {
		case (ac.Percent == nil) != (ac.Base == nil):
			fail("%s: percentage and base amount must come together (BR-KSA-EN16931-04, BR-KSA-EN16931-05)", where)
		case ac.Percent != nil:
			base := dec(*ac.Base)
			eq("BR-KSA-EN16931-03 "+where, amount, times(base, num("percentage", *ac.Percent), 100))
			if lineBase != nil {
				eq(where+" base is the line's quantity × net price", base, *lineBase)
			}
		}
		switch ac.Charge {
		case "true":
			return amount
		case "false":
			return sub(money.Decimal{}, amount)
		}
		fail("%s: ChargeIndicator %q (BR-KSA-F-02)", where, ac.Charge)
		return money.Decimal{}
	}

	if len(p.TaxTotals) != 2 || len(p.TaxTotals[0].Subtotals) != 0 || len(p.TaxTotals[1].Subtotals) == 0 {
		return fmt.Errorf("want a TaxTotal without and one with subtotals, have %d", len(p.TaxTotals))
	}
	vat := dec(p.TaxTotals[1].TaxAmount)
	eq("BR-KSA-EN16931-08/09 TaxTotal in SAR", dec(p.TaxTotals[0].TaxAmount), vat)

	// Per VAT category (and rate): what each breakdown's taxable amount
	// must be.
	type key struct{ id, percent string }
	groups := map[key]money.Decimal{}
	var net money.Decimal
	for _, l := range p.Lines {
		where := "line " + l.ID
		n, lv := dec(l.Net), dec(l.Tax)
		price := num("price", l.Price.Value)
		switch len(l.PriceAllowances) {
		case 0:
		case 1:
			pa := l.PriceAllowances[0]
			if pa.Charge != "false" || pa.Base == nil {
				fail("%s: price allowance %+v is not an allowance with a gross price (BR-KSA-EN16931-06)", where, pa)
				break
			}
			eq("BR-KSA-EN16931-07 "+where, price, sub(num("gross price", pa.Base.Value), num("price allowance", pa.Amount.Value)))
		default:
			fail("%s has %d price allowances", where, len(l.PriceAllowances))
		}
		base := times(num("quantity", l.Quantity.Value), price, 1)
		want := base
		for i := range l.AllowanceCharges {
			want = add(want, adjustment(fmt.Sprintf("%s allowance or charge %d", where, i+1), &l.AllowanceCharges[i], &base))
		}
		eq("BR-KSA-EN16931-11 "+where+" net = quantity × price − allowances + charges", n, want)
		eq("BR-KSA-51 "+where, dec(l.Rounding), add(n, lv))
		eq("line VAT "+where, lv, times(n, num("rate", l.Category.Percent), 100))
		net = add(net, n)
		k := key{l.Category.ID, l.Category.Percent}
		groups[k] = add(groups[k], n)
	}
	var allowances, charges money.Decimal
	for i := range p.AllowanceCharges {
		ac := &p.AllowanceCharges[i]
		where := fmt.Sprintf("document allowance or charge %d", i+1)
		signed := adjustment(where, ac, nil)
		if ac.Category == nil {
			fail("%s has no VAT category (BR-32, BR-37)", where)
			continue
		}
		k := key{ac.Category.ID, ac.Category.Percent}
		groups[k] = add(groups[k], signed)
		if ac.Charge == "true" {
			charges = add(charges, signed)
		} else {
			allowances = sub(allowances, signed)
		}
	}
	var sum money.Decimal
	for _, st := range p.TaxTotals[1].Subtotals {
		taxable, tax := dec(st.Taxable), dec(st.Tax)
		k := key{st.Category.ID, st.Category.Percent}
		want, ok := groups[k]
		if !ok {
			fail("VAT breakdown %s %s has no line, allowance or charge", k.id, k.percent)
		}
		eq("BR-"+k.id+"-08 taxable amount of "+k.id+" "+k.percent+" = lines + charges − allowances", taxable, want)
		delete(groups, k)
		eq("BR-"+k.id+"-09/BR-CO-17 VAT of "+k.id+" "+k.percent, tax, times(taxable, num("rate", k.percent), 100))
		if (k.id == "S") != (st.Category.ReasonCode == "") || (st.Category.ReasonCode == "") != (st.Category.Reason == "") {
			fail("category %s has reason %q %q", k.id, st.Category.ReasonCode, st.Category.Reason)
		}
		sum = add(sum, tax)
	}
	if len(groups) != 0 {
		fail("%v have no VAT breakdown", groups)
	}
	eq("BR-CO-14", vat, sum)
	tt := p.Totals
	eq("BR-CO-10", dec(tt.LineExtension), net)
	eq("BR-CO-11", dec(tt.Allowance), allowances)
	var chargeTotal, rounding money.Decimal
	if tt.Charge != nil {
		chargeTotal = dec(*tt.Charge)
	} else if len(p.AllowanceCharges) > 0 && !charges.IsZero() {
		fail("BR-CO-12: no ChargeTotalAmount for charges of %s", charges)
	}
	eq("BR-CO-12", chargeTotal, charges)
	eq("BR-CO-13", dec(tt.TaxExclusive), add(sub(dec(tt.LineExtension), dec(tt.Allowance)), chargeTotal))
	eq("BR-CO-15", dec(tt.TaxInclusive), add(dec(tt.TaxExclusive), vat))
	if tt.Rounding != nil {
		rounding = dec(*tt.Rounding)
		if rounding.IsZero() {
			fail("a PayableRoundingAmount of zero is written")
		}
	}
	eq("BR-CO-16 payable = inclusive − prepaid + rounding", dec(tt.Payable), add(sub(dec(tt.TaxInclusive), dec(tt.Prepaid)), rounding))
	eq("prepaid", dec(tt.Prepaid), money.Decimal{})
	if r.PayableAmount != tt.Payable.Value || r.VATTotal != p.TaxTotals[0].TaxAmount.Value {
		fail("QR values %s/%s are not the document's %s/%s", r.PayableAmount, r.VATTotal, tt.Payable.Value, p.TaxTotals[0].TaxAmount.Value)
	}
	return errors.Join(errs...)
}

package etims

import (
	"fmt"

	"github.com/egsd/egsd/stamping/money"
)

// CheckAmounts checks that a sale request adds up the way spec/etims.md
// §A4.1 states, and lists each problem naming the field: per item,
// splyAmt = prc × qty, dcAmt = splyAmt − taxblAmt with 0 ≤ taxblAmt ≤
// splyAmt, taxAmt = taxblAmt × rate, totAmt = taxblAmt + taxAmt; per band,
// the rate of rates, the taxable amount the sum of its items', the tax
// its taxable amount × rate (rounded once, within a cent per item of the
// items' sum); totItemCnt the number of items; the totals the sums of the
// bands and totAmt = totTaxblAmt + totTaxAmt; every amount with two
// decimals. KRA's simulator applies it to every sale it receives.
func CheckAmounts(r *SaleRequest, rates Rates) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var taxable, itemTax [5]int64
	var items [5]int
	if r.TotItemCnt != len(r.ItemList) {
		bad("totItemCnt: %d, but itemList has %d items", r.TotItemCnt, len(r.ItemList))
	}
	for i, it := range r.ItemList {
		p := fmt.Sprintf("itemList[%d]", i)
		b := Band(firstByte(it.TaxTyCd))
		if len(it.TaxTyCd) != 1 || b.index() < 0 {
			bad("%s.taxTyCd: %q is not a band A–E", p, it.TaxTyCd)
			continue
		}
		c := map[string]int64{}
		for _, f := range []struct {
			name string
			v    Decimal
		}{{"splyAmt", it.SplyAmt}, {"dcAmt", it.DcAmt}, {"taxblAmt", it.TaxblAmt}, {"taxAmt", it.TaxAmt}, {"totAmt", it.TotAmt}} {
			if f.v.Scale != 2 {
				bad("%s.%s: %s is not written with two decimals", p, f.name, f.v)
			}
			v, err := cents(f.v.Decimal)
			if err != nil {
				bad("%s.%s: %s", p, f.name, err)
			}
			c[f.name] = v
		}
		if supply, err := money.MulRound(it.Qty.Decimal, it.Prc.Decimal, 2); err != nil || money.Cmp(supply, it.SplyAmt.Decimal) != 0 {
			bad("%s.splyAmt: %s, but prc %s × qty %s is %s", p, it.SplyAmt, it.Prc, it.Qty, supply)
		}
		if c["taxblAmt"] < 0 || c["taxblAmt"] > c["splyAmt"] {
			bad("%s.taxblAmt: %s is not between 0 and splyAmt %s", p, it.TaxblAmt, it.SplyAmt)
		}
		if c["dcAmt"] != c["splyAmt"]-c["taxblAmt"] {
			bad("%s.dcAmt: %s, but splyAmt − taxblAmt is %s", p, it.DcAmt, fromCents(c["splyAmt"]-c["taxblAmt"]))
		}
		rate := rates.Of(b)
		if tax, err := money.MulRound(it.TaxblAmt.Decimal, money.Decimal{Coef: rate.Coef, Scale: rate.Scale + 2}, 2); err != nil || money.Cmp(tax, it.TaxAmt.Decimal) != 0 {
			bad("%s.taxAmt: %s, but taxblAmt %s × %s %% is %s", p, it.TaxAmt, it.TaxblAmt, rate, tax)
		}
		if c["totAmt"] != c["taxblAmt"]+c["taxAmt"] {
			bad("%s.totAmt: %s, but taxblAmt + taxAmt is %s", p, it.TotAmt, fromCents(c["taxblAmt"]+c["taxAmt"]))
		}
		taxable[b.index()] += c["taxblAmt"]
		itemTax[b.index()] += c["taxAmt"]
		items[b.index()]++
	}
	var totTaxable, totTax int64
	for _, b := range Bands {
		bt, rt, tx := r.bandFields(b)
		k := b.index()
		if money.Cmp(rt.Decimal, rates.Of(b)) != 0 {
			bad("taxRt%s: %s, but band %s's rate is %s", b, rt, b, rates.Of(b))
		}
		vt, err1 := cents(bt.Decimal)
		vx, err2 := cents(tx.Decimal)
		if err1 != nil || err2 != nil || bt.Scale != 2 || tx.Scale != 2 {
			bad("taxblAmt%s, taxAmt%s: %s, %s are not amounts with two decimals", b, b, bt, tx)
			continue
		}
		if vt != taxable[k] {
			bad("taxblAmt%s: %s, but its items add up to %s", b, bt, fromCents(taxable[k]))
		}
		want, err := money.MulRound(bt.Decimal, money.Decimal{Coef: rt.Coef, Scale: rt.Scale + 2}, 2)
		if err != nil || money.Cmp(want, tx.Decimal) != 0 {
			bad("taxAmt%s: %s, but taxblAmt%s %s × %s %% is %s", b, tx, b, bt, rt, want)
		}
		if diff := vx - itemTax[k]; diff > int64(items[k]) || -diff > int64(items[k]) {
			bad("taxAmt%s: %s, but its items' tax adds up to %s", b, tx, fromCents(itemTax[k]))
		}
		totTaxable += vt
		totTax += vx
	}
	for _, f := range []struct {
		name string
		v    Decimal
		want int64
	}{{"totTaxblAmt", r.TotTaxblAmt, totTaxable}, {"totTaxAmt", r.TotTaxAmt, totTax}, {"totAmt", r.TotAmt, totTaxable + totTax}} {
		if v, err := cents(f.v.Decimal); err != nil || v != f.want || f.v.Scale != 2 {
			bad("%s: %s, but the bands give %s", f.name, f.v, fromCents(f.want))
		}
	}
	return problems
}

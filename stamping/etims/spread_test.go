package etims_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/egsd/egsd/stamping/etims"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

func kenyanLine(name, qty, price string, c sale.VATCategory, rate string) sale.Line {
	l := sale.Line{Name: name, Quantity: d(qty), UnitPrice: d(price), Category: c,
		ItemClass: "5010150100", PackagingUnit: "NT", QuantityUnit: "U", ItemCode: "KE2NTU0000001"}
	if rate != "" {
		l.Rate = d(rate)
	}
	return l
}

func build(t *testing.T, s *sale.Sale) *etims.SaleRequest {
	t.Helper()
	r, err := etims.BuildSale(s, etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-1", IssuedAt: nairobi("2026-02-02 12:00:00")})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func taxables(r *etims.SaleRequest) []string {
	var out []string
	for _, it := range r.ItemList {
		out = append(out, it.TaxblAmt.String())
	}
	return out
}

// A document discount is spread pro rata, rounded down, with the cents
// left over on the last line of the group.
func TestSpreadRemainderOnLastLine(t *testing.T) {
	s := &sale.Sale{Kind: sale.Invoice, Currency: "KES",
		Lines: []sale.Line{kenyanLine("a", "1", "1.00", sale.Standard, "16"), kenyanLine("b", "1", "1.00", sale.Standard, "16"),
			kenyanLine("c", "1", "1.00", sale.Standard, "16")},
		Discounts: []sale.DocumentAdjustment{{Adjustment: sale.Adjustment{Amount: d("1.00"), Reason: "Voucher"}, Category: sale.Standard, Rate: d("16")}}}
	r := build(t, s)
	if got := fmt.Sprint(taxables(r)); got != "[0.67 0.67 0.66]" {
		t.Errorf("taxable amounts %s, want [0.67 0.67 0.66] (33 cents each, the left-over cent on the last line)", got)
	}
	if r.TaxblAmtB.String() != "2.00" || r.TaxAmtB.String() != "0.32" || r.TotAmt.String() != "2.32" {
		t.Errorf("band B %s / %s, total %s; want 2.00 / 0.32, 2.32", r.TaxblAmtB, r.TaxAmtB, r.TotAmt)
	}
}

// Where the last line is too small for the cents left over, the lines
// before it take them: no line goes below zero.
func TestSpreadNeverBelowZero(t *testing.T) {
	s := &sale.Sale{Kind: sale.Invoice, Currency: "KES",
		Lines: []sale.Line{kenyanLine("a", "1", "1.00", sale.Standard, "16"), kenyanLine("b", "1", "1.00", sale.Standard, "16"),
			kenyanLine("c", "1", "0.01", sale.Standard, "16")},
		Discounts: []sale.DocumentAdjustment{{Adjustment: sale.Adjustment{Amount: d("2.00"), Reason: "Voucher"}, Category: sale.Standard, Rate: d("16")}}}
	r := build(t, s)
	// 2.00 × 1.00 / 2.01 = 0.995… → 0.99 twice, 0.00 for c; 2 cents left:
	// c takes its one, b the other.
	if got := fmt.Sprint(taxables(r)); got != "[0.01 0.00 0.00]" {
		t.Errorf("taxable amounts %s, want [0.01 0.00 0.00]", got)
	}
	for i, it := range r.ItemList {
		if it.DcAmt.Sign() < 0 || it.TaxblAmt.Sign() < 0 {
			t.Errorf("item %d: dcAmt %s, taxblAmt %s", i+1, it.DcAmt, it.TaxblAmt)
		}
	}
}

// Random baskets with line and document discounts in every band: the
// request always adds up (the checks KRA's simulator makes, and the ones
// spec/etims.md §A4.1 states), and its totals are sale.ComputeTotals'.
func TestRequestAddsUp(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cats := []struct {
		c    sale.VATCategory
		rate string
	}{{sale.Standard, "16"}, {sale.Standard, "8"}, {sale.ZeroRated, ""}, {sale.Exempt, ""}, {sale.OutOfScope, ""}}
	built := 0
	for n := range 2000 {
		s := &sale.Sale{Kind: sale.Invoice, Currency: "KES"}
		for i := range 1 + rng.IntN(8) {
			c := cats[rng.IntN(len(cats))]
			l := kenyanLine(fmt.Sprint("item ", i), fmt.Sprintf("%d.%02d", 1+rng.IntN(20), rng.IntN(100)),
				fmt.Sprintf("%d.%02d", rng.IntN(5000), rng.IntN(100)), c.c, c.rate)
			if rng.IntN(3) == 0 {
				l.Discounts = []sale.Adjustment{{Percent: pd(fmt.Sprint(1 + rng.IntN(50))), Reason: "Promotion"}}
			}
			if rng.IntN(4) == 0 {
				l.PriceDiscount = money.Decimal{Coef: l.UnitPrice.Coef / 10, Scale: l.UnitPrice.Scale}
			}
			s.Lines = append(s.Lines, l)
		}
		if rng.IntN(2) == 0 {
			s.Discounts = append(s.Discounts, sale.DocumentAdjustment{Adjustment: sale.Adjustment{Percent: pd(fmt.Sprint(1 + rng.IntN(30))), Reason: "Basket"}})
		}
		t0, err := sale.ComputeTotals(s)
		if err != nil {
			continue // a random basket the model refuses (a zero basket with a percentage)
		}
		r, err := etims.BuildSale(s, etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-1", IssuedAt: nairobi("2026-02-02 12:00:00")})
		if err != nil {
			t.Fatalf("basket %d: %v", n, err)
		}
		if problems := etims.CheckAmounts(r, etims.DefaultRates); len(problems) > 0 {
			t.Fatalf("basket %d: %v\n%+v", n, problems, s)
		}
		if r.TotTaxblAmt.String() != t0.Taxable.String() || r.TotTaxAmt.String() != t0.VAT.String() || r.TotAmt.String() != t0.Gross.String() {
			t.Fatalf("basket %d: totals %s %s %s, sale %s %s %s", n, r.TotTaxblAmt, r.TotTaxAmt, r.TotAmt, t0.Taxable, t0.VAT, t0.Gross)
		}
		built++
	}
	if built < 1900 {
		t.Errorf("only %d of 2000 random baskets were built", built)
	}
}

// dcRt is the line's own percentage when that is its whole discount.
func TestDiscountRate(t *testing.T) {
	l := kenyanLine("a", "3", "33.33", sale.Standard, "16")
	l.Discounts = []sale.Adjustment{{Percent: pd("12.5"), Reason: "Promotion"}}
	r := build(t, &sale.Sale{Kind: sale.Invoice, Currency: "KES", Lines: []sale.Line{l}})
	it := r.ItemList[0]
	// 99.99 × 12.5 % = 12.49875 → 12.50; taxable 87.49.
	if it.DcRt.String() != "12.50" || it.DcAmt.String() != "12.50" || it.TaxblAmt.String() != "87.49" {
		t.Errorf("dcRt %s dcAmt %s taxblAmt %s, want 12.50 12.50 87.49", it.DcRt, it.DcAmt, it.TaxblAmt)
	}
}

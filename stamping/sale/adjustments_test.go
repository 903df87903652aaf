package sale_test

import (
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/sale"
)

// zLine is a zero-rated line of one item at price.
func zLine(price string) string {
	return `{"name":"Bread","quantity":"1","unit_price":"` + price + `","vat_category":"Z","exemption_reason":"VATEX-SA-32"}`
}

// adjustedTotals is what a sale with discounts, charges and payments comes
// to, written as strings: lines are each line's net amount; adjustments
// each applied document entry as "D|C category rate amount"; categories
// "category rate taxable vat"; totals "net discounts charges taxable VAT
// gross rounding payable change".
type adjustedTotals struct {
	lines, adjustments, categories []string
	totals                         string
}

// TestComputeTotalsWithAdjustments: worked examples of the documented
// order of computation (docs/api.md, "Amounts"), each total worked out by
// hand in the comment above the case.
func TestComputeTotalsWithAdjustments(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		rounding string // the unit's cash rounding, "" for none
		want     adjustedTotals
	}{
		{
			// Net unit price 9.99 − 1.249 = 8.741; 3 × 8.741 = 26.223 → 26.22.
			// VAT 26.22 × 15 % = 3.933 → 3.93; gross 30.15.
			name: "price discount",
			body: invoice(`{"name":"Soap","quantity":"3","unit_price":"9.99","price_discount":"1.249","vat_category":"S","vat_rate":"15"}`),
			want: adjustedTotals{lines: []string{"26.22"}, categories: []string{"S 15.00 26.22 3.93"},
				totals: "26.22 0.00 0.00 26.22 3.93 30.15 0.00 30.15 0.00"},
		},
		{
			// Base 1 × 0.25 = 0.25. Discount 10 % = 0.025 → 0.03 (half-up);
			// charge 50 % of the base = 0.125 → 0.13. Net 0.25 − 0.03 + 0.13
			// = 0.35; VAT 0.0525 → 0.05; gross 0.40.
			name: "line percentages of the base, each rounded half-up",
			body: invoice(`{"name":"Sweet","quantity":"1","unit_price":"0.25","vat_category":"S","vat_rate":"15",` +
				`"discounts":[{"percent":"10","reason":"Promo"}],"charges":[{"percent":"50","reason":"Wrap"}]}`),
			want: adjustedTotals{lines: []string{"0.35"}, categories: []string{"S 15.00 0.35 0.05"},
				totals: "0.35 0.00 0.00 0.35 0.05 0.40 0.00 0.40 0.00"},
		},
		{
			// Tea 10.00 (S); bread 3.00 discounted 100 % → 0.00 (Z). The
			// basket-wide 10 % applies to the groups with an amount: S,
			// 1.00; Z has nothing to discount and gets no entry. S taxable
			// 9.00, VAT 1.35; gross 9.00 + 1.35 = 10.35.
			name: "basket-wide percentage beside a free line",
			body: basket(`{"name":"Tea","quantity":"1","unit_price":"10","vat_category":"S","vat_rate":"15"},`+
				`{"name":"Bread","quantity":"1","unit_price":"3.00","vat_category":"Z","exemption_reason":"VATEX-SA-32","discounts":[{"percent":"100","reason":"Free bread"}]}`,
				`,"discounts":[{"percent":"10","reason":"Staff"}]`),
			want: adjustedTotals{lines: []string{"10.00", "0.00"}, adjustments: []string{"D S 15.00 1.00"},
				categories: []string{"S 15.00 9.00 1.35", "Z 0.00 0.00 0.00"},
				totals:     "10.00 1.00 0.00 9.00 1.35 10.35 0.00 10.35 0.00"},
		},
		{
			// S lines 33.33, Z 6.67. 12.5 % per group: S 4.16625 → 4.17, Z
			// 0.83375 → 0.83; discounts 5.00. S taxable 29.16, VAT 4.374 →
			// 4.37; Z 5.84. Taxable 35.00, gross 39.37.
			name: "basket-wide percentage, one entry per VAT group",
			body: basket(`{"name":"Tea","quantity":"1","unit_price":"33.33","vat_category":"S","vat_rate":"15"},`+zLine("6.67"),
				`,"discounts":[{"percent":"12.5","reason":"Staff"}]`),
			want: adjustedTotals{lines: []string{"33.33", "6.67"}, adjustments: []string{"D S 15.00 4.17", "D Z 0.00 0.83"},
				categories: []string{"S 15.00 29.16 4.37", "Z 0.00 5.84 0.00"},
				totals:     "40.00 5.00 0.00 35.00 4.37 39.37 0.00 39.37 0.00"},
		},
		{
			// Lines: S 15 % 20.00, Z (one reason) 5.00. A Z discount of 1.00
			// takes the Z lines' reason; a 15 % delivery charge of 10.00 is
			// its own group only if its rate differs: here it joins S 15.
			// An E charge of 2.00 and an O charge of 1.50 open groups of
			// their own. S 30.00, VAT 4.50; Z 4.00; E 2.00; O 1.50.
			// Net 25.00 − 1.00 + 13.50 = 37.50; gross 42.00.
			name: "charges in every category",
			body: basket(`{"name":"Tea","quantity":"2","unit_price":"10","vat_category":"S","vat_rate":"15"},`+zLine("5"),
				`,"discounts":[{"amount":"1.00","reason":"Coupon","vat_category":"Z"}],"charges":[`+
					`{"amount":"10.00","reason":"Delivery","vat_category":"S","vat_rate":"15.00"},`+
					`{"amount":"2.00","reason":"Insurance","vat_category":"E","exemption_reason":"VATEX-SA-29"},`+
					`{"amount":"1.50","reason":"Fee","vat_category":"O","exemption_reason":"VATEX-SA-OOS"}]`),
			want: adjustedTotals{lines: []string{"20.00", "5.00"},
				adjustments: []string{"D Z 0.00 1.00", "C S 15.00 10.00", "C E 0.00 2.00", "C O 0.00 1.50"},
				categories:  []string{"S 15.00 30.00 4.50", "Z 0.00 4.00 0.00", "E 0.00 2.00 0.00", "O 0.00 1.50 0.00"},
				totals:      "25.00 1.00 13.50 37.50 4.50 42.00 0.00 42.00 0.00"},
		},
		{
			// 7.00 + 1.05 VAT = 8.05, cash only, to 0.25: 8.05 / 0.25 = 32.2
			// → 32 × 0.25 = 8.00, rounding −0.05. Tendered 10.00, change 2.00.
			name: "cash rounding down",
			body: basket(okLine, `,"payments":[{"means":"cash","tendered":"10.00"}]`), rounding: "0.25",
			want: adjustedTotals{lines: []string{"7.00"}, categories: []string{"S 15.00 7.00 1.05"},
				totals: "7.00 0.00 0.00 7.00 1.05 8.05 -0.05 8.00 2.00"},
		},
		{
			// Z 7.50, cash only, to 1.00: 7.50 is half-way, rounded up to
			// 8.00, rounding +0.50. The sale's own cash_rounding wins over
			// the unit's (0.05).
			name: "cash rounding half-way up",
			body: basket(zLine("7.50"), `,"cash_rounding":"1.00","payments":[{"means":"cash","amount":"8.00"}]`), rounding: "0.05",
			want: adjustedTotals{lines: []string{"7.50"}, categories: []string{"Z 0.00 7.50 0.00"},
				totals: "7.50 0.00 0.00 7.50 0.00 7.50 0.50 8.00 0.00"},
		},
		{
			// 10.00 + 1.50 = 11.50. A card takes part: no cash rounding.
			// Cash takes the rest, 11.50 − 5.00 = 6.50; tendered 10.00,
			// change 3.50.
			name: "card and cash: no rounding, change from the cash",
			body: basket(`{"name":"Tea","quantity":"1","unit_price":"10","vat_category":"S","vat_rate":"15"}`,
				`,"payments":[{"means":"card","amount":"5.00"},{"means":"cash","tendered":"10.00"}]`), rounding: "1.00",
			want: adjustedTotals{lines: []string{"10.00"}, categories: []string{"S 15.00 10.00 1.50"},
				totals: "10.00 0.00 0.00 10.00 1.50 11.50 0.00 11.50 3.50"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := sale.Options{}
			if tc.rounding != "" {
				inc, err := sale.ParseCashRounding(tc.rounding)
				if err != nil {
					t.Fatal(err)
				}
				opts.CashRounding = inc
			}
			s, err := sale.Decode([]byte(tc.body), opts)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got, err := sale.ComputeTotals(s)
			if err != nil {
				t.Fatalf("ComputeTotals: %v", err)
			}
			var lines, adjustments, categories []string
			for _, l := range got.Lines {
				lines = append(lines, l.Net.String())
			}
			for _, a := range got.Adjustments {
				kind := map[bool]string{false: "D", true: "C"}[a.Charge]
				adjustments = append(adjustments, strings.Join([]string{kind, string(a.Category), a.Rate.String(), a.Amount.String()}, " "))
			}
			for _, c := range got.Categories {
				categories = append(categories, strings.Join([]string{string(c.Category), c.Rate.String(), c.Taxable.String(), c.VAT.String()}, " "))
			}
			for _, f := range []struct {
				name      string
				got, want []string
			}{{"lines", lines, tc.want.lines}, {"adjustments", adjustments, tc.want.adjustments}, {"categories", categories, tc.want.categories}} {
				if strings.Join(f.got, "|") != strings.Join(f.want, "|") {
					t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
				}
			}
			totals := strings.Join([]string{got.Net.String(), got.Discounts.String(), got.Charges.String(), got.Taxable.String(),
				got.VAT.String(), got.Gross.String(), got.Rounding.String(), got.Payable.String(), got.Change.String()}, " ")
			if totals != tc.want.totals {
				t.Errorf("net discounts charges taxable VAT gross rounding payable change =\n%s, want\n%s", totals, tc.want.totals)
			}
		})
	}
}

// TestAdjustmentAmountsHaveTwoDecimals: an amount sent as "2.5" or "18"
// is 2.50 and 18.00 in the totals, as every amount the documents and the
// receipt write is.
func TestAdjustmentAmountsHaveTwoDecimals(t *testing.T) {
	// 7.00 − 2.50 = 4.50 (S); bread 3.00 − 1.00 = 2.00 (Z). VAT 0.675 →
	// 0.68; gross 4.50 + 2.00 + 0.68 = 7.18; card 5, cash the rest 2.18.
	s, err := sale.Decode([]byte(basket(teaLine(`,"discounts":[{"amount":"2.5","reason":"Promo"}]`)+","+breadLine,
		`,"discounts":[{"amount":"1","reason":"Coupon","vat_category":"Z"}],"payments":[{"means":"card","amount":"5"},{"means":"cash","tendered":"3"}]`)), sale.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := sale.ComputeTotals(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ name, got, want string }{
		{"line discount", got.Lines[0].Discounts[0].String(), "2.50"},
		{"document discount", got.Adjustments[0].Amount.String(), "1.00"},
		{"card amount", got.Payments[0].Amount.String(), "5.00"},
		{"cash amount", got.Payments[1].Amount.String(), "2.18"},
		{"cash tendered", got.Payments[1].Tendered.String(), "3.00"},
		{"change", got.Change.String(), "0.82"},
	} {
		if f.got != f.want {
			t.Errorf("%s = %s, want %s", f.name, f.got, f.want)
		}
	}
}

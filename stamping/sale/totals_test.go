package sale_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

var seed = flag.Uint64("seed", 1, "seed of the random sales in TestTotalsAgainstBigArithmetic")

func sline(qty, price, cat, rate, reason string) sale.Line {
	l := sale.Line{Name: "item", Quantity: d(qty), UnitPrice: d(price), Category: sale.VATCategory(cat), ExemptionReason: reason}
	if rate != "" {
		l.Rate = d(rate)
	}
	return l
}

// wantTotals is a Totals written as strings: each line "net vat gross",
// each category "cat rate reason taxable vat".
type wantTotals struct {
	lines      []string
	categories []string
	net        string
	vat        string
	gross      string
}

func TestComputeTotals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []sale.Line
		want  wantTotals
	}{
		{
			// Each line: 1 × 0.10 = 0.10 net; 0.10 × 15 % = 0.015 → 0.02.
			// Summing line VAT would give 0.06, but VAT is rounded once per
			// category: 0.30 × 15 % = 0.045 → 0.05. Gross 0.30 + 0.05 = 0.35.
			name: "category rounding, not per line",
			lines: []sale.Line{
				sline("1", "0.10", "S", "15", ""),
				sline("1", "0.10", "S", "15", ""),
				sline("1", "0.10", "S", "15", ""),
			},
			want: wantTotals{
				lines:      []string{"0.10 0.02 0.12", "0.10 0.02 0.12", "0.10 0.02 0.12"},
				categories: []string{"S 15.00  0.30 0.05"},
				net:        "0.30", vat: "0.05", gross: "0.35",
			},
		},
		{
			// A: 1.5 × 2.99 = 4.485 → 4.49; VAT 4.49 × 0.15 = 0.6735 → 0.67.
			// B: 3 × 0.333 = 0.999 → 1.00; VAT 0.15 ("15.00" is the same
			//    category as "15").
			// C: 1 × 10 = 10.00, zero rated.
			// D: 2 × 7.125 = 14.25; VAT 14.25 × 0.05 = 0.7125 → 0.71.
			// S/15: taxable 4.49 + 1.00 = 5.49; VAT 5.49 × 0.15 = 0.8235 → 0.82.
			// Net 4.49 + 1.00 + 10.00 + 14.25 = 29.74; VAT 0.82 + 0.00 + 0.71
			// = 1.53; gross 31.27.
			name: "mixed categories and rates",
			lines: []sale.Line{
				sline("1.5", "2.99", "S", "15", ""),
				sline("3", "0.333", "S", "15.00", ""),
				sline("1", "10", "Z", "", "VATEX-SA-32"),
				sline("2", "7.125", "S", "5", ""),
			},
			want: wantTotals{
				lines:      []string{"4.49 0.67 5.16", "1.00 0.15 1.15", "10.00 0.00 10.00", "14.25 0.71 14.96"},
				categories: []string{"S 15.00  5.49 0.82", "Z 0.00 VATEX-SA-32 10.00 0.00", "S 5.00  14.25 0.71"},
				net:        "29.74", vat: "1.53", gross: "31.27",
			},
		},
		{
			// Different exemption reasons are different categories:
			// R1: 5.00 + 1.00 = 6.00; R2: 6.00.
			name: "exemption reasons split categories",
			lines: []sale.Line{
				sline("1", "5", "Z", "", "VATEX-SA-32"),
				sline("1", "6", "E", "", "VATEX-SA-29"),
				sline("1", "1", "Z", "", "VATEX-SA-32"),
			},
			want: wantTotals{
				lines:      []string{"5.00 0.00 5.00", "6.00 0.00 6.00", "1.00 0.00 1.00"},
				categories: []string{"Z 0.00 VATEX-SA-32 6.00 0.00", "E 0.00 VATEX-SA-29 6.00 0.00"},
				net:        "12.00", vat: "0.00", gross: "12.00",
			},
		},
		{
			// 1 × 0.0050 = 0.005 → 0.01 (half-up); VAT 0.0015 → 0.00.
			// 0.333 × 0.015 = 0.004995 → 0.00.
			name: "half-up at the third decimal",
			lines: []sale.Line{
				sline("1", "0.0050", "S", "15", ""),
				sline("0.333", "0.015", "S", "15", ""),
			},
			want: wantTotals{
				lines:      []string{"0.01 0.00 0.01", "0.00 0.00 0.00"},
				categories: []string{"S 15.00  0.01 0.00"},
				net:        "0.01", vat: "0.00", gross: "0.01",
			},
		},
		{
			// 3 × 333.33 = 999.99; VAT 999.99 × 0.16 = 159.9984 → 160.00.
			// 0.5 × 0.01 = 0.005 → 0.01; "16.00" joins the "16" category:
			// taxable 1000.00, VAT 160.00 exactly.
			name: "Kazakhstan 16 %",
			lines: []sale.Line{
				sline("3", "333.33", "S", "16", ""),
				sline("0.5", "0.01", "S", "16.00", ""),
			},
			want: wantTotals{
				lines:      []string{"999.99 160.00 1159.99", "0.01 0.00 0.01"},
				categories: []string{"S 16.00  1000.00 160.00"},
				net:        "1000.00", vat: "160.00", gross: "1160.00",
			},
		},
		{
			// 12.5 % of 0.04 = 0.005 → 0.01 at both line and category.
			name: "fractional rate",
			lines: []sale.Line{
				sline("1", "0.04", "S", "12.5", ""),
			},
			want: wantTotals{
				lines:      []string{"0.04 0.01 0.05"},
				categories: []string{"S 12.50  0.04 0.01"},
				net:        "0.04", vat: "0.01", gross: "0.05",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sale.ComputeTotals(&sale.Sale{Kind: sale.Invoice, Currency: "SAR", Lines: tc.lines})
			if err != nil {
				t.Fatal(err)
			}
			var lines, cats []string
			for _, l := range got.Lines {
				lines = append(lines, l.Net.String()+" "+l.VAT.String()+" "+l.Gross.String())
			}
			for _, c := range got.Categories {
				cats = append(cats, strings.Join([]string{string(c.Category), c.Rate.String(), c.ExemptionReason, c.Taxable.String(), c.VAT.String()}, " "))
			}
			if strings.Join(lines, "|") != strings.Join(tc.want.lines, "|") {
				t.Errorf("lines = %q, want %q", lines, tc.want.lines)
			}
			if strings.Join(cats, "|") != strings.Join(tc.want.categories, "|") {
				t.Errorf("categories = %q, want %q", cats, tc.want.categories)
			}
			if got.Net.String() != tc.want.net || got.VAT.String() != tc.want.vat || got.Gross.String() != tc.want.gross {
				t.Errorf("net/vat/gross = %v/%v/%v, want %s/%s/%s", got.Net, got.VAT, got.Gross, tc.want.net, tc.want.vat, tc.want.gross)
			}
		})
	}
}

// The limits as docs/api.md states them, written out here rather than read
// from the package, so that a change of limit is a change of this test too.
var (
	limitQuantity  = big.NewRat(1_000_000_000, 1)
	limitUnitPrice = big.NewRat(1_000_000_000, 1)
	limitAmount    = big.NewRat(100_000_000_000, 1)
)

// TestLimitsAsDocumented: the package's limits are the documented ones.
func TestLimitsAsDocumented(t *testing.T) {
	for _, c := range []struct {
		name string
		got  money.Decimal
		want *big.Rat
	}{{"MaxQuantity", sale.MaxQuantity, limitQuantity}, {"MaxUnitPrice", sale.MaxUnitPrice, limitUnitPrice}, {"MaxAmount", sale.MaxAmount, limitAmount}} {
		if rat(c.got).Cmp(c.want) != 0 {
			t.Errorf("%s = %v, want %s", c.name, c.got, c.want.FloatString(2))
		}
	}
}

// TestComputeTotalsLimits: each limit is refused with Errors naming the
// field and the limit, and the largest values within the limits compute.
func TestComputeTotalsLimits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lines  []sale.Line
		fields []string // nil: accepted
		gross  string   // when accepted
	}{
		// 999999999 × 999999999 is 999999998000000001: it fits int64 at
		// scale 0 and overflowed at scale 2, which printed 0.00 before.
		{"the overflow that printed 0.00", []sale.Line{sline("999999999", "999999999", "S", "15", "")},
			[]string{"lines[0].quantity × lines[0].unit_price"}, ""},
		{"quantity above the limit", []sale.Line{sline("1", "1", "S", "15", ""), sline("1000000000.001", "0", "S", "15", "")},
			[]string{"lines[1].quantity"}, ""},
		{"unit price above the limit", []sale.Line{sline("1", "1000000000.0001", "Z", "", "VATEX-SA-32")},
			[]string{"lines[0].unit_price"}, ""},
		{"both at their limits", []sale.Line{sline("1000000000", "1000000000", "E", "", "VATEX-SA-29")},
			[]string{"lines[0].quantity × lines[0].unit_price"}, ""},
		{"two lines over, both named", []sale.Line{sline("1000", "100000000.0001", "S", "15", ""), sline("1", "1", "S", "15", ""), sline("200", "999999999", "S", "5", "")},
			[]string{"lines[0].quantity × lines[0].unit_price", "lines[2].quantity × lines[2].unit_price"}, ""},
		// A line amount of exactly 100000000000.00 with zero VAT is the
		// largest document.
		{"line amount at the limit", []sale.Line{sline("100", "1000000000", "Z", "", "VATEX-SA-32")}, nil, "100000000000.00"},
		// 100 × 869565217.3913 = 86956521739.13; VAT 15 % = 13043478260.8695
		// → 13043478260.87; total with VAT exactly 100000000000.00.
		{"total with VAT at the limit", []sale.Line{sline("100", "869565217.3913", "S", "15", "")}, nil, "100000000000.00"},
		// One cent more of net: VAT 13043478260.8710 → .87, total .01 over.
		{"total with VAT a cent over", []sale.Line{sline("100", "869565217.3914", "S", "15", "")}, []string{"lines"}, ""},
		// Each line within the limit, their sum over it.
		{"net over the limit", []sale.Line{sline("100", "600000000", "Z", "", "VATEX-SA-32"), sline("100", "400000000.0001", "Z", "", "VATEX-SA-32")}, []string{"lines"}, ""},
		{"rate of 100 built in code", []sale.Line{sline("1", "1", "S", "100", "")}, []string{"lines[0].vat_rate"}, ""},
		{"zero quantity built in code", []sale.Line{sline("0", "1", "S", "15", "")}, []string{"lines[0].quantity"}, ""},
		{"no lines", nil, []string{"lines"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sale.ComputeTotals(&sale.Sale{Kind: sale.Invoice, Currency: "SAR", Lines: tc.lines})
			if tc.fields == nil {
				if err != nil || got.Gross.String() != tc.gross {
					t.Fatalf("ComputeTotals = gross %v, %v; want %s", got.Gross, err, tc.gross)
				}
				return
			}
			var errs sale.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("ComputeTotals error = %v (%T), want sale.Errors naming %q", err, err, tc.fields)
			}
			var fields []string
			for _, e := range errs {
				fields = append(fields, e.Field)
				if strings.Contains(e.Field, "×") || e.Field == "lines" && len(tc.lines) > 0 {
					if !strings.Contains(e.Rule, "limit of 100000000000.00") {
						t.Errorf("%s: %q does not name the limit", e.Field, e.Rule)
					}
				}
			}
			if strings.Join(fields, "|") != strings.Join(tc.fields, "|") {
				t.Errorf("fields = %q, want %q (%v)", fields, tc.fields, err)
			}
		})
	}
}

// rat is d's exact value, from its coefficient and scale.
func rat(x money.Decimal) *big.Rat {
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(x.Scale)), nil)
	return new(big.Rat).SetFrac(big.NewInt(x.Coef), den)
}

// roundCents rounds x half away from zero to two decimals with math/big.
func roundCents(x *big.Rat) *big.Rat {
	y := new(big.Rat).Mul(new(big.Rat).Abs(x), big.NewRat(100, 1))
	y.Add(y, big.NewRat(1, 2))
	q := new(big.Int).Quo(y.Num(), y.Denom())
	if x.Sign() < 0 {
		q.Neg(q)
	}
	return new(big.Rat).SetFrac(q, big.NewInt(100))
}

// oracleLine is a line as exact fractions.
type oracleLine struct {
	quantity, price, rate *big.Rat
	category, reason      string
}

// oracleCategory is one row of the VAT breakdown.
type oracleCategory struct {
	category, rate, reason string // rate: the exact value as a fraction
	taxable, vat           *big.Rat
}

// expected is what a sale must come to: either refused, naming fields, or
// these totals.
type expected struct {
	refused    []string
	lineNet    []*big.Rat
	lineVAT    []*big.Rat
	categories []oracleCategory
	net, vat   *big.Rat
	gross      *big.Rat
}

// oracle computes a sale's totals with math/big, independently of
// package money: line net = round(quantity × price); line VAT =
// round(net × rate / 100); category VAT = round(Σ net × rate / 100) per
// category, rate and reason in order of first appearance; net = Σ line
// net; VAT = Σ category VAT; gross = net + VAT; and the documented limits,
// in the order the decoder reports them.
func oracle(lines []oracleLine) expected {
	var e expected
	for i, l := range lines {
		if l.quantity.Cmp(limitQuantity) > 0 {
			e.refused = append(e.refused, fmt.Sprintf("lines[%d].quantity", i))
		}
		if l.price.Cmp(limitUnitPrice) > 0 {
			e.refused = append(e.refused, fmt.Sprintf("lines[%d].unit_price", i))
		}
	}
	if e.refused != nil {
		return e
	}
	index := map[string]int{}
	e.net = new(big.Rat)
	for i, l := range lines {
		net := roundCents(new(big.Rat).Mul(l.quantity, l.price))
		if net.Cmp(limitAmount) > 0 {
			e.refused = append(e.refused, fmt.Sprintf("lines[%d].quantity × lines[%d].unit_price", i, i))
			continue
		}
		e.lineNet = append(e.lineNet, net)
		e.lineVAT = append(e.lineVAT, roundCents(new(big.Rat).Mul(net, new(big.Rat).Quo(l.rate, big.NewRat(100, 1)))))
		e.net.Add(e.net, net)
		key := l.category + "/" + l.rate.RatString() + "/" + l.reason
		k, ok := index[key]
		if !ok {
			k = len(e.categories)
			index[key] = k
			e.categories = append(e.categories, oracleCategory{category: l.category, rate: l.rate.RatString(), reason: l.reason, taxable: new(big.Rat)})
		}
		e.categories[k].taxable.Add(e.categories[k].taxable, net)
	}
	if e.refused != nil {
		return e
	}
	if e.net.Cmp(limitAmount) > 0 {
		e.refused = []string{"lines"}
		return e
	}
	e.vat = new(big.Rat)
	for i := range e.categories {
		c := &e.categories[i]
		rate, _ := new(big.Rat).SetString(c.rate)
		c.vat = roundCents(new(big.Rat).Mul(c.taxable, new(big.Rat).Quo(rate, big.NewRat(100, 1))))
		e.vat.Add(e.vat, c.vat)
	}
	e.gross = new(big.Rat).Add(e.net, e.vat)
	if e.gross.Cmp(limitAmount) > 0 {
		e.refused = []string{"lines"}
	}
	return e
}

// checkAgainstOracle decodes body and checks the result against want: the
// same refusal (every error naming a field), or every total exactly.
func checkAgainstOracle(t *testing.T, body string, want expected) {
	t.Helper()
	s, err := sale.Decode([]byte(body), sale.Options{})
	if want.refused != nil {
		checkRefusal(t, err, want.refused, body)
		return
	}
	if err != nil {
		t.Fatalf("Decode: %v\n%s", err, body)
	}
	got, err := sale.ComputeTotals(s)
	if err != nil {
		t.Fatalf("ComputeTotals of a decoded sale: %v", err)
	}
	exact := func(what string, got money.Decimal, want *big.Rat) {
		t.Helper()
		if got.Scale != sale.AmountScale || rat(got).Cmp(want) != 0 {
			t.Fatalf("%s = %v (scale %d), want %s\n%s", what, got, got.Scale, want.FloatString(2), body)
		}
	}
	for i := range want.lineNet {
		exact(fmt.Sprintf("lines[%d] net", i), got.Lines[i].Net, want.lineNet[i])
		exact(fmt.Sprintf("lines[%d] VAT", i), got.Lines[i].VAT, want.lineVAT[i])
		exact(fmt.Sprintf("lines[%d] gross", i), got.Lines[i].Gross, new(big.Rat).Add(want.lineNet[i], want.lineVAT[i]))
	}
	if len(got.Categories) != len(want.categories) {
		t.Fatalf("%d categories, want %d\n%s", len(got.Categories), len(want.categories), body)
	}
	for i, c := range got.Categories {
		w := want.categories[i]
		if string(c.Category) != w.category || rat(c.Rate).RatString() != w.rate || c.ExemptionReason != w.reason {
			t.Fatalf("category %d = %s/%v/%s, want %s/%s/%s", i, c.Category, c.Rate, c.ExemptionReason, w.category, w.rate, w.reason)
		}
		exact(fmt.Sprintf("category %d taxable", i), c.Taxable, w.taxable)
		exact(fmt.Sprintf("category %d VAT", i), c.VAT, w.vat)
	}
	exact("net", got.Net, want.net)
	exact("VAT", got.VAT, want.vat)
	exact("gross", got.Gross, want.gross)
}

// checkRefusal checks that err is a refusal naming exactly the fields
// want, in order, and returns them.
func checkRefusal(t *testing.T, err error, want []string, body string) []string {
	t.Helper()
	var errs sale.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Decode accepted or failed oddly (%v), want a refusal naming %q\n%s", err, want, body)
	}
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	if strings.Join(fields, "|") != strings.Join(want, "|") {
		t.Fatalf("Decode refused %q, want %q: %v\n%s", fields, want, err, body)
	}
	return fields
}

// randomNumber is a decimal string with up to intDigits digits before the
// point and up to maxScale after it, spread over magnitudes (small ones as
// often as large ones) and sometimes exactly a limit or just above it.
func randomNumber(r *rand.Rand, intDigits, maxScale int, limit string) string {
	switch r.IntN(40) {
	case 0:
		return limit
	case 1:
		return limit + "." + strings.Repeat("0", maxScale-1) + "1"
	}
	var b strings.Builder
	b.WriteString(strconv.FormatInt(r.Int64N(10), 10))
	for range r.IntN(intDigits + 1) {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	if scale := r.IntN(maxScale + 1); scale > 0 {
		b.WriteByte('.')
		for range scale {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
	}
	return b.String()
}

func mustRat(s string) *big.Rat {
	x, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("not a number: " + s)
	}
	return x
}

var (
	propertyRates   = []string{"15", "15.00", "16", "5", "12.5", "0.01", "99.99", "8", "33.33"}
	propertyReasons = map[string][]string{"Z": {"VATEX-SA-32", "VATEX-SA-33"}, "E": {"VATEX-SA-29"}, "O": {"VATEX-SA-OOS", ""}}
)

// TestTotalsAgainstBigArithmetic: for random sales — quantities, prices,
// rates and categories up to and past the limits, 1 to 1000 lines — either
// Decode refuses the sale naming exactly the fields the limits name, or
// every total (line net, VAT and gross, each category's taxable amount and
// VAT, the net, VAT and gross) equals an exact math/big computation.
func TestTotalsAgainstBigArithmetic(t *testing.T) {
	t.Logf("seed %d (set with -seed)", *seed)
	r := rand.New(rand.NewPCG(*seed, 3))
	refused, accepted := 0, 0
	for range 3000 {
		n := r.IntN(8) + 1
		if r.IntN(50) == 0 {
			n = r.IntN(sale.MaxLines) + 1
		}
		// Quantities and prices of a basket share a magnitude, so that
		// sums land near the document limit as well as far from it.
		qDigits, pDigits := r.IntN(11), r.IntN(11)
		var lines []string
		var want []oracleLine
		for range n {
			q := randomNumber(r, qDigits, sale.MaxQuantityScale, "1000000000")
			if mustRat(q).Sign() == 0 {
				q = "1"
			}
			p := randomNumber(r, pDigits, sale.MaxPriceScale, "1000000000")
			ol := oracleLine{quantity: mustRat(q), price: mustRat(p), rate: new(big.Rat)}
			line := `{"name":"x","quantity":"` + q + `","unit_price":"` + p + `","vat_category":"`
			switch cat := []string{"S", "S", "S", "Z", "E", "O"}[r.IntN(6)]; cat {
			case "S":
				rate := propertyRates[r.IntN(len(propertyRates))]
				ol.category, ol.rate = cat, mustRat(rate)
				line += `S","vat_rate":"` + rate + `"}`
			default:
				reasons := propertyReasons[cat]
				ol.category, ol.reason = cat, reasons[r.IntN(len(reasons))]
				line += cat + `","exemption_reason":"` + ol.reason + `"}`
			}
			lines = append(lines, line)
			want = append(want, ol)
		}
		body := invoice(strings.Join(lines, ","))
		w := oracle(want)
		checkAgainstOracle(t, body, w)
		if w.refused != nil {
			refused++
		} else {
			accepted++
		}
	}
	t.Logf("%d sales accepted, %d refused", accepted, refused)
	if refused < 300 || accepted < 300 {
		t.Errorf("%d accepted and %d refused: the generator does not reach both sides of the limits", accepted, refused)
	}
}

// FuzzTotals: two lines, the first repeated, with any quantity, price and
// rate strings. Decode either refuses the sale with every error naming a
// field — and, when a limit is what it names, math/big agrees the limit is
// passed — or its totals equal math/big's.
func FuzzTotals(f *testing.F) {
	f.Add("999999999", "999999999", "15", "1", "1", "5", uint16(0), uint8(0))
	f.Add("100", "869565217.3913", "15", "0.001", "0.0001", "99.99", uint16(0), uint8(2))
	f.Add("1000000000", "100", "0", "3", "333.33", "16", uint16(999), uint8(5))
	f.Add("1.5", "2.99", "15", "3", "0.333", "15.00", uint16(7), uint8(1))
	f.Fuzz(func(t *testing.T, q1, p1, r1, q2, p2, r2 string, repeat uint16, cats uint8) {
		n := int(repeat)%100 + 1 // TestTotalsAgainstBigArithmetic goes up to MaxLines
		specs := []struct{ q, p, r string }{{q1, p1, r1}, {q2, p2, r2}}
		var lines []string
		var want []oracleLine
		parsable := true
		for i := range n + 1 {
			spec := specs[min(i/n, 1)]
			cat := []string{"S", "Z", "E", "O"}[(int(cats)>>(2*min(i/n, 1)))&3]
			line := fmt.Sprintf(`{"name":"x","quantity":%s,"unit_price":%s,"vat_category":"%s"`, jsonString(spec.q), jsonString(spec.p), cat)
			ol := oracleLine{category: cat, rate: new(big.Rat)}
			if cat == "S" {
				line += `,"vat_rate":` + jsonString(spec.r)
				ol.rate, _ = new(big.Rat).SetString(spec.r)
			} else {
				ol.reason = propertyReasons[cat][0]
				line += `,"exemption_reason":"` + ol.reason + `"`
			}
			lines = append(lines, line+"}")
			ol.quantity, _ = new(big.Rat).SetString(spec.q)
			ol.price, _ = new(big.Rat).SetString(spec.p)
			parsable = parsable && ol.quantity != nil && ol.price != nil && ol.rate != nil
			want = append(want, ol)
		}
		body := invoice(strings.Join(lines, ","))
		s, err := sale.Decode([]byte(body), sale.Options{})
		if err != nil {
			var errs sale.Errors
			if !errors.As(err, &errs) || len(errs) == 0 || s != nil {
				t.Fatalf("Decode = %v, %v; want nil and sale.Errors", s, err)
			}
			for _, e := range errs {
				if e.Field == "" || !strings.HasPrefix(e.Field, "lines") {
					t.Fatalf("error %q names no line field", e.Error())
				}
			}
			if !parsable {
				return
			}
			// A refusal that names only limits must be one math/big makes.
			if limitsOnly(errs) {
				checkAgainstOracle(t, body, oracle(want))
			}
			return
		}
		if !parsable {
			t.Fatalf("Decode accepted numbers big.Rat cannot read:\n%s", body)
		}
		checkAgainstOracle(t, body, oracle(want))
	})
}

func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// limitsOnly reports whether every error is about a limit, not a syntax
// or scale rule.
func limitsOnly(errs sale.Errors) bool {
	for _, e := range errs {
		if !strings.Contains(e.Rule, "exceeds the limit") {
			return false
		}
	}
	return true
}

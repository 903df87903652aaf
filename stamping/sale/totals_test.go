package sale_test

import (
	"flag"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

var seed = flag.Uint64("seed", 1, "seed of the random baskets in TestComputeTotalsProperties")

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

func TestComputeTotalsOverflow(t *testing.T) {
	// 999999999999 × 99999999.9999 is about 10^20, beyond int64.
	s := &sale.Sale{Lines: []sale.Line{sline("1", "1", "S", "15", ""), sline("999999999999", "99999999.9999", "S", "15", "")}}
	if _, err := sale.ComputeTotals(s); err == nil || !strings.Contains(err.Error(), "lines[1]") {
		t.Errorf("ComputeTotals of an overflowing line: err = %v, want an error naming lines[1]", err)
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

func randomDecimal(r *rand.Rand, maxDigits, maxScale int) money.Decimal {
	scale := r.IntN(maxScale + 1)
	n := int64(1)
	for range r.IntN(maxDigits) + 1 {
		n *= 10
	}
	return money.Decimal{Coef: r.Int64N(n), Scale: uint8(scale)}
}

// TestComputeTotalsProperties checks random baskets against an independent
// computation with math/big: line net = round(quantity × price); category
// VAT = round(Σ net × rate / 100); the totals add up exactly.
func TestComputeTotalsProperties(t *testing.T) {
	t.Logf("seed %d (set with -seed)", *seed)
	r := rand.New(rand.NewPCG(*seed, 2))
	rates := []string{"15", "15.00", "16", "5", "12.5", "0.01", "99.99", "8"}
	reasons := []string{"", "VATEX-SA-32", "VATEX-SA-29"}
	for n := range 2000 {
		s := &sale.Sale{Kind: sale.Invoice, Currency: "SAR"}
		for range r.IntN(20) + 1 {
			l := sale.Line{Name: "x", Quantity: randomDecimal(r, 6, sale.MaxQuantityScale), UnitPrice: randomDecimal(r, 7, sale.MaxPriceScale)}
			if l.Quantity.IsZero() {
				l.Quantity.Coef = 1
			}
			switch cat := []sale.VATCategory{sale.Standard, sale.Standard, sale.ZeroRated, sale.Exempt, sale.OutOfScope}[r.IntN(5)]; cat {
			case sale.Standard:
				l.Category, l.Rate = cat, d(rates[r.IntN(len(rates))])
			default:
				l.Category, l.ExemptionReason = cat, reasons[r.IntN(len(reasons))]
			}
			s.Lines = append(s.Lines, l)
		}
		got, err := sale.ComputeTotals(s)
		if err != nil {
			t.Fatalf("basket %d: %v", n, err)
		}

		type catKey struct {
			cat    sale.VATCategory
			rate   string // exact value as a fraction
			reason string
		}
		taxable := map[catKey]*big.Rat{}
		var order []catKey
		net := new(big.Rat)
		for i, l := range s.Lines {
			wantNet := roundCents(new(big.Rat).Mul(rat(l.Quantity), rat(l.UnitPrice)))
			if rat(got.Lines[i].Net).Cmp(wantNet) != 0 {
				t.Fatalf("basket %d line %d: net %v, want %s", n, i, got.Lines[i].Net, wantNet.FloatString(2))
			}
			net.Add(net, wantNet)
			k := catKey{l.Category, rat(l.Rate).String(), l.ExemptionReason}
			if taxable[k] == nil {
				taxable[k] = new(big.Rat)
				order = append(order, k)
			}
			taxable[k].Add(taxable[k], wantNet)
		}
		if len(got.Categories) != len(order) {
			t.Fatalf("basket %d: %d categories, want %d", n, len(got.Categories), len(order))
		}
		sumCatVAT := new(big.Rat)
		for i, c := range got.Categories {
			k := order[i]
			if c.Category != k.cat || rat(c.Rate).String() != k.rate || c.ExemptionReason != k.reason {
				t.Fatalf("basket %d category %d: %s/%v/%s, want %s/%s/%s", n, i, c.Category, c.Rate, c.ExemptionReason, k.cat, k.rate, k.reason)
			}
			if rat(c.Taxable).Cmp(taxable[k]) != 0 {
				t.Fatalf("basket %d category %d: taxable %v, want %s", n, i, c.Taxable, taxable[k].FloatString(2))
			}
			rate, _ := new(big.Rat).SetString(k.rate)
			wantVAT := roundCents(new(big.Rat).Mul(taxable[k], new(big.Rat).Quo(rate, big.NewRat(100, 1))))
			if rat(c.VAT).Cmp(wantVAT) != 0 {
				t.Fatalf("basket %d category %d: VAT %v of %v at %v, want %s", n, i, c.VAT, c.Taxable, c.Rate, wantVAT.FloatString(2))
			}
			sumCatVAT.Add(sumCatVAT, rat(c.VAT))
		}
		if rat(got.Net).Cmp(net) != 0 {
			t.Fatalf("basket %d: net %v, want Σ line net %s", n, got.Net, net.FloatString(2))
		}
		if rat(got.VAT).Cmp(sumCatVAT) != 0 {
			t.Fatalf("basket %d: VAT %v, want Σ category VAT %s", n, got.VAT, sumCatVAT.FloatString(2))
		}
		if rat(got.Gross).Cmp(new(big.Rat).Add(rat(got.Net), rat(got.VAT))) != 0 {
			t.Fatalf("basket %d: gross %v ≠ net %v + VAT %v", n, got.Gross, got.Net, got.VAT)
		}
		for _, x := range []money.Decimal{got.Net, got.VAT, got.Gross} {
			if x.Scale != sale.AmountScale {
				t.Fatalf("basket %d: total %v has scale %d, want %d", n, x, x.Scale, sale.AmountScale)
			}
		}
	}
}

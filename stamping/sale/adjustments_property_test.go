package sale_test

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// A random sale with discounts and charges, as the generator builds it:
// every number a decimal string, "" for a field left out.
type (
	genSale struct {
		lines              []genLine
		discounts, charges []genAdjustment
		rounding           string // "", "none", "0.05", "0.25", "1.00"
		payments           []genPayment
	}
	genLine struct {
		quantity, price, priceDiscount string
		category, rate, reason         string
		discounts, charges             []genAdjustment
	}
	genAdjustment struct {
		percent, amount        string // exactly one set
		category, rate, reason string // document entries only; category "" for basket-wide
	}
	genPayment struct{ means, amount, tendered string }
)

func (g *genSale) json() string {
	var b strings.Builder
	b.WriteString(`{"kind":"invoice","currency":"SAR","lines":[`)
	for i, l := range g.lines {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"Item %d","quantity":"%s","unit_price":"%s","vat_category":"%s"`, i, l.quantity, l.price, l.category)
		optional(&b, "vat_rate", l.rate)
		optional(&b, "exemption_reason", l.reason)
		optional(&b, "price_discount", l.priceDiscount)
		adjustments(&b, "discounts", l.discounts)
		adjustments(&b, "charges", l.charges)
		b.WriteByte('}')
	}
	b.WriteByte(']')
	adjustments(&b, "discounts", g.discounts)
	adjustments(&b, "charges", g.charges)
	optional(&b, "cash_rounding", g.rounding)
	if g.payments != nil {
		b.WriteString(`,"payments":[`)
		for i, p := range g.payments {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"means":"%s"`, p.means)
			optional(&b, "amount", p.amount)
			optional(&b, "tendered", p.tendered)
			b.WriteByte('}')
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.String()
}

func optional(b *strings.Builder, name, v string) {
	if v != "" {
		fmt.Fprintf(b, `,"%s":"%s"`, name, v)
	}
}

func adjustments(b *strings.Builder, name string, as []genAdjustment) {
	if len(as) == 0 {
		return
	}
	fmt.Fprintf(b, `,"%s":[`, name)
	for i, a := range as {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, `{"reason":"Reason %d"`, i)
		optional(b, "percent", a.percent)
		optional(b, "amount", a.amount)
		optional(b, "vat_category", a.category)
		optional(b, "vat_rate", a.rate)
		optional(b, "exemption_reason", a.reason)
		b.WriteByte('}')
	}
	b.WriteByte(']')
}

// decimalString is a random decimal below 10^intDigits with up to
// maxScale decimals.
func decimalString(r *rand.Rand, intDigits, maxScale int) string {
	s := strconv.FormatInt(r.Int64N(pow10(intDigits)), 10)
	if scale := r.IntN(maxScale + 1); scale > 0 {
		s += "."
		for range scale {
			s += strconv.Itoa(r.IntN(10))
		}
	}
	return s
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// positive is a random decimal above zero.
func positive(r *rand.Rand, intDigits, maxScale int) string {
	for {
		if s := decimalString(r, intDigits, maxScale); mustRat(s).Sign() > 0 {
			return s
		}
	}
}

var (
	genRates   = []string{"15", "15.00", "5", "16", "12.5"}
	genReasons = map[string][]string{"Z": {"VATEX-SA-32", "VATEX-SA-33"}, "E": {"VATEX-SA-29"}, "O": {"VATEX-SA-OOS"}}
)

func randomCategory(r *rand.Rand) (category, rate, reason string) {
	switch category = []string{"S", "S", "Z", "E", "O"}[r.IntN(5)]; category {
	case "S":
		return category, genRates[r.IntN(len(genRates))], ""
	default:
		reasons := genReasons[category]
		return category, "", reasons[r.IntN(len(reasons))]
	}
}

// randomAdjustment is a percentage (up to 100, sometimes exactly) or an
// amount (up to 99.99).
func randomAdjustment(r *rand.Rand) genAdjustment {
	if r.IntN(2) == 0 {
		if r.IntN(20) == 0 {
			return genAdjustment{percent: "100"}
		}
		return genAdjustment{percent: positive(r, 2, 2)}
	}
	return genAdjustment{amount: positive(r, 2, 2)}
}

// randomSale builds a basket of 1 to 6 lines with price discounts, line
// and document discounts and charges in every category, and a cash
// rounding; payments are added by randomPayments once the amount due is
// known.
func randomSale(r *rand.Rand) *genSale {
	g := &genSale{}
	for range r.IntN(6) + 1 {
		l := genLine{quantity: positive(r, 3, 3), price: decimalString(r, 4, 4)}
		l.category, l.rate, l.reason = randomCategory(r)
		switch r.IntN(20) {
		case 0, 1, 2, 3, 4:
			l.priceDiscount = decimalString(r, 1, 4) // now and then above a small price
		case 5:
			l.priceDiscount = l.price
		case 6:
			l.priceDiscount = new(big.Rat).Add(mustRat(l.price), big.NewRat(1, 10000)).FloatString(4)
		}
		for range r.IntN(3) {
			if r.IntN(3) == 0 {
				l.charges = append(l.charges, randomAdjustment(r))
			} else {
				l.discounts = append(l.discounts, randomAdjustment(r))
			}
		}
		g.lines = append(g.lines, l)
	}
	for range r.IntN(4) {
		a := randomAdjustment(r)
		charge := r.IntN(3) == 0
		switch {
		case !charge && a.percent != "" && r.IntN(2) == 0:
			// basket-wide
		case r.IntN(4) > 0:
			// the group of one of the lines, its exemption reason
			// sometimes left to be inferred
			l := g.lines[r.IntN(len(g.lines))]
			a.category, a.rate, a.reason = l.category, l.rate, l.reason
			if l.category != "S" && r.IntN(2) == 0 {
				a.reason = ""
			}
		default:
			a.category, a.rate, a.reason = randomCategory(r)
		}
		if charge {
			g.charges = append(g.charges, a)
		} else {
			g.discounts = append(g.discounts, a)
		}
	}
	g.rounding = []string{"", "none", "0.05", "0.25", "1.00"}[r.IntN(5)]
	return g
}

// randomPayments gives g payments: mostly ones that add up to payable
// (the amount due when paid by those means), one of them sometimes
// without an amount, cash sometimes with more tendered; and sometimes
// amounts that do not add up or tendered cash that falls short.
func randomPayments(r *rand.Rand, g *genSale, means []string, payable *big.Rat) {
	g.payments = make([]genPayment, len(means))
	left := new(big.Rat).Set(payable)
	missing := r.IntN(len(means) + 1) // == len(means): every payment has an amount
	for i, m := range means {
		g.payments[i].means = m
		if i == missing {
			continue
		}
		amount := new(big.Rat)
		if i == len(means)-1 && missing == len(means) {
			amount.Set(left)
		} else if left.Sign() > 0 {
			amount = roundCents(new(big.Rat).Mul(left, big.NewRat(int64(r.IntN(100)), 100)))
		}
		if r.IntN(15) == 0 {
			amount.Add(amount, big.NewRat(int64(r.IntN(3)-1), 100)) // a cent off, or not
			if amount.Sign() < 0 {
				amount.SetInt64(0)
			}
		}
		left.Sub(left, amount)
		g.payments[i].amount = amount.FloatString(2)
	}
	if missing < len(means) && r.IntN(10) == 0 && len(means) > 1 {
		g.payments[(missing+1)%len(means)].amount = "" // two without: the split is unknown
	}
	for i := range g.payments {
		p := &g.payments[i]
		if p.means != "cash" || r.IntN(2) == 0 {
			continue
		}
		amount := left
		if p.amount != "" {
			amount = mustRat(p.amount)
		}
		tendered := new(big.Rat).Add(amount, big.NewRat(int64(r.IntN(5001)), 100))
		if r.IntN(10) == 0 {
			tendered.Sub(amount, big.NewRat(1, 100))
		}
		if tendered.Sign() > 0 {
			p.tendered = tendered.FloatString(2)
		}
	}
}

// The documented rules (docs/api.md, "Amounts") with math/big.

type oracleGroup struct {
	category, rate, reason string // rate: the exact value as a fraction
	fromLines              bool
	linesNet, taxable, vat *big.Rat
}

type oracleApplied struct {
	charge                 bool
	category, rate, amount string
}

type oracleTotals struct {
	refused                                               []string
	lineNet, lineVAT                                      []*big.Rat
	lineAdjustments                                       [][]string // each line's discounts, then charges
	groups                                                []*oracleGroup
	applied                                               []oracleApplied
	net, discounts, charges, taxable, vat, gross, payable *big.Rat
	rounding, increment, change                           *big.Rat
	payments                                              []*big.Rat // nil where unknown
}

func ratOf(s string) *big.Rat {
	if s == "" {
		return new(big.Rat)
	}
	return mustRat(s)
}

func percentOfRat(base *big.Rat, percent string) *big.Rat {
	return roundCents(new(big.Rat).Mul(base, new(big.Rat).Quo(mustRat(percent), big.NewRat(100, 1))))
}

func (o *oracleTotals) group(category, rate, reason string, fromLines bool) *oracleGroup {
	key := ratOf(rate).RatString()
	for _, g := range o.groups {
		if g.category == category && g.rate == key && g.reason == reason {
			return g
		}
	}
	g := &oracleGroup{category: category, rate: key, reason: reason, fromLines: fromLines, linesNet: new(big.Rat), taxable: new(big.Rat)}
	o.groups = append(o.groups, g)
	return g
}

// computeOracle is every total of g before its payments, or the fields it
// is refused with, stage by stage as the documentation lists them: the
// price discounts (read with the sale), the lines, the document's
// discounts and charges.
func computeOracle(g *genSale) *oracleTotals {
	o := &oracleTotals{net: new(big.Rat), discounts: new(big.Rat), charges: new(big.Rat), increment: new(big.Rat)}
	for i, l := range g.lines {
		if ratOf(l.priceDiscount).Cmp(mustRat(l.price)) > 0 {
			o.refused = append(o.refused, fmt.Sprintf("lines[%d].price_discount", i))
		}
	}
	if o.refused != nil {
		return o
	}
	for i, l := range g.lines {
		netPrice := new(big.Rat).Sub(mustRat(l.price), ratOf(l.priceDiscount))
		base := roundCents(new(big.Rat).Mul(mustRat(l.quantity), netPrice))
		net := new(big.Rat).Set(base)
		var amounts []string
		for _, d := range l.discounts {
			amount := adjustmentOf(d, base)
			net.Sub(net, amount)
			amounts = append(amounts, amount.FloatString(2))
		}
		if net.Sign() < 0 {
			o.refused = append(o.refused, fmt.Sprintf("lines[%d].discounts", i))
			continue
		}
		for _, c := range l.charges {
			amount := adjustmentOf(c, base)
			net.Add(net, amount)
			amounts = append(amounts, amount.FloatString(2))
		}
		o.lineAdjustments = append(o.lineAdjustments, amounts)
		o.lineNet = append(o.lineNet, net)
		o.lineVAT = append(o.lineVAT, percentOfRat(net, cmpOr(l.rate, "0")))
		o.net.Add(o.net, net)
		grp := o.group(l.category, l.rate, l.reason, true)
		grp.linesNet.Add(grp.linesNet, net)
	}
	if o.refused != nil {
		return o
	}
	for _, grp := range o.groups {
		grp.taxable.Set(grp.linesNet)
	}
	lineGroups := slices.Clone(o.groups)
	for charge, list := range [2][]genAdjustment{g.discounts, g.charges} {
		for i, a := range list {
			path := fmt.Sprintf("%s[%d]", []string{"discounts", "charges"}[charge], i)
			var targets []*oracleGroup
			switch {
			case a.category == "":
				for _, grp := range lineGroups {
					if grp.linesNet.Sign() != 0 {
						targets = append(targets, grp)
					}
				}
				if targets == nil {
					o.refused = append(o.refused, path+".percent")
					continue
				}
			case a.category != "S" && a.reason == "":
				var found []*oracleGroup
				for _, grp := range lineGroups {
					if grp.category == a.category {
						found = append(found, grp)
					}
				}
				if len(found) != 1 {
					o.refused = append(o.refused, path+".exemption_reason")
					continue
				}
				targets = []*oracleGroup{o.group(a.category, a.rate, found[0].reason, false)}
			default:
				targets = []*oracleGroup{o.group(a.category, a.rate, a.reason, false)}
			}
			for _, grp := range targets {
				if a.percent != "" && grp.linesNet.Sign() == 0 {
					o.refused = append(o.refused, path+".percent")
					continue
				}
				amount := adjustmentOf(a, grp.linesNet)
				if charge == 1 {
					grp.taxable.Add(grp.taxable, amount)
					o.charges.Add(o.charges, amount)
				} else {
					grp.taxable.Sub(grp.taxable, amount)
					o.discounts.Add(o.discounts, amount)
				}
				o.applied = append(o.applied, oracleApplied{charge == 1, grp.category, grp.rate, amount.FloatString(2)})
			}
		}
	}
	for _, grp := range o.groups {
		if grp.taxable.Sign() < 0 {
			o.refused = append(o.refused, "discounts")
		}
	}
	if o.refused != nil {
		return o
	}
	o.taxable = new(big.Rat).Add(new(big.Rat).Sub(o.net, o.discounts), o.charges)
	o.vat = new(big.Rat)
	for _, grp := range o.groups {
		grp.vat = percentOfRat(grp.taxable, grp.rate)
		o.vat.Add(o.vat, grp.vat)
	}
	o.gross = new(big.Rat).Add(o.taxable, o.vat)
	return o
}

func adjustmentOf(a genAdjustment, base *big.Rat) *big.Rat {
	if a.percent != "" {
		return percentOfRat(base, a.percent)
	}
	return mustRat(a.amount)
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// settle is the amount due when paid by means, and the payments resolved:
// cash rounding applies when every payment is cash, rounding the total
// half-up to the increment.
func (o *oracleTotals) settle(g *genSale, unitRounding string) {
	o.payable = new(big.Rat).Set(o.gross)
	increment := cmpOr(g.rounding, unitRounding)
	cashOnly := len(g.payments) > 0
	for _, p := range g.payments {
		cashOnly = cashOnly && p.means == "cash"
	}
	if increment != "none" && increment != "" && cashOnly {
		o.increment = mustRat(increment)
		steps := new(big.Rat).Add(new(big.Rat).Quo(o.gross, o.increment), big.NewRat(1, 2))
		o.payable.Mul(new(big.Rat).SetInt(new(big.Int).Quo(steps.Num(), steps.Denom())), o.increment)
	}
	o.rounding = new(big.Rat).Sub(o.payable, o.gross)
	o.change = new(big.Rat)
	given, missing := new(big.Rat), []int{}
	o.payments = make([]*big.Rat, len(g.payments))
	for i, p := range g.payments {
		if p.amount == "" {
			missing = append(missing, i)
			continue
		}
		o.payments[i] = mustRat(p.amount)
		given.Add(given, o.payments[i])
	}
	switch {
	case len(g.payments) > 0 && len(missing) == 0 && given.Cmp(o.payable) != 0,
		len(missing) > 0 && given.Cmp(o.payable) > 0:
		o.refused = []string{"payments"}
		return
	case len(missing) == 1:
		o.payments[missing[0]] = new(big.Rat).Sub(o.payable, given)
	}
	for i, p := range g.payments {
		if p.tendered == "" {
			continue
		}
		if o.payments[i] == nil || mustRat(p.tendered).Cmp(o.payments[i]) < 0 {
			o.refused = append(o.refused, fmt.Sprintf("payments[%d].tendered", i))
			continue
		}
		o.change.Add(o.change, new(big.Rat).Sub(mustRat(p.tendered), o.payments[i]))
	}
}

// TestAdjustedTotalsAgainstBigArithmetic: for random baskets with price
// discounts, line discounts and charges, document discounts and charges
// in all four categories, cash rounding and payments, Decode either
// refuses the sale naming exactly the fields the documented rules name, or
// every total equals the math/big computation of those rules and the
// totals' identities hold.
func TestAdjustedTotalsAgainstBigArithmetic(t *testing.T) {
	t.Logf("seed %d (set with -seed)", *seed)
	r := rand.New(rand.NewPCG(*seed, 10))
	outcomes := map[string]int{}
	for range 4000 {
		g := randomSale(r)
		unitRounding := []string{"", "0.05", "0.25", "1.00"}[r.IntN(4)]
		want := computeOracle(g)
		if want.refused == nil && r.IntN(8) > 0 {
			means := make([]string, r.IntN(3)+1)
			for i := range means {
				means[i] = []string{"cash", "cash", "cash", "card"}[r.IntN(4)]
			}
			g.payments = make([]genPayment, len(means))
			for i := range means {
				g.payments[i].means = means[i]
			}
			want.settle(g, unitRounding) // the amount due by these means
			randomPayments(r, g, means, want.payable)
			want.settle(g, unitRounding)
		} else if want.refused == nil {
			want.settle(g, unitRounding)
		}
		body := g.json()
		opts := sale.Options{}
		if unitRounding != "" {
			inc, err := sale.ParseCashRounding(unitRounding)
			if err != nil {
				t.Fatal(err)
			}
			opts.CashRounding = inc
		}
		s, err := sale.Decode([]byte(body), opts)
		if want.refused != nil {
			fields := checkRefusal(t, err, want.refused, body)
			for _, f := range slices.Compact(slices.Sorted(slices.Values(fields))) {
				outcomes[refusalKind(f)]++
			}
			continue
		}
		if err != nil {
			t.Fatalf("Decode: %v\n%s", err, body)
		}
		got, err := sale.ComputeTotals(s)
		if err != nil {
			t.Fatalf("ComputeTotals of a decoded sale: %v\n%s", err, body)
		}
		checkAdjustedTotals(t, body, got, want)
		outcomes["accepted"]++
		if len(got.Adjustments) > 0 {
			outcomes["accepted with document entries"]++
		}
		if !got.Rounding.IsZero() {
			outcomes["accepted with rounding"]++
		}
		if !got.Change.IsZero() {
			outcomes["accepted with change"]++
		}
	}
	t.Logf("%v", outcomes)
	for _, kind := range []string{"accepted", "accepted with document entries", "accepted with rounding", "accepted with change",
		"price_discount", "line discounts", "percent", "exemption_reason", "discounts", "payments", "tendered"} {
		if outcomes[kind] < 10 {
			t.Errorf("%d sales %s: the generator does not reach it", outcomes[kind], kind)
		}
	}
}

func refusalKind(field string) string {
	switch {
	case strings.HasSuffix(field, ".price_discount"):
		return "price_discount"
	case strings.HasPrefix(field, "lines["):
		return "line discounts"
	case strings.HasSuffix(field, ".percent"):
		return "percent"
	case strings.HasSuffix(field, ".exemption_reason"):
		return "exemption_reason"
	case strings.HasSuffix(field, ".tendered"):
		return "tendered"
	}
	return field
}

func checkAdjustedTotals(t *testing.T, body string, got sale.Totals, want *oracleTotals) {
	t.Helper()
	exact := func(what string, got money.Decimal, want *big.Rat) {
		t.Helper()
		if got.Scale != sale.AmountScale || rat(got).Cmp(want) != 0 {
			t.Fatalf("%s = %v (scale %d), want %s\n%s", what, got, got.Scale, want.FloatString(2), body)
		}
	}
	for i := range want.lineNet {
		l := got.Lines[i]
		exact(fmt.Sprintf("lines[%d] net", i), l.Net, want.lineNet[i])
		exact(fmt.Sprintf("lines[%d] VAT", i), l.VAT, want.lineVAT[i])
		var amounts []string
		for _, a := range slices.Concat(l.Discounts, l.Charges) {
			amounts = append(amounts, a.String())
		}
		if !slices.Equal(amounts, want.lineAdjustments[i]) {
			t.Fatalf("lines[%d] discounts and charges %q, want %q\n%s", i, amounts, want.lineAdjustments[i], body)
		}
	}
	if len(got.Categories) != len(want.groups) {
		t.Fatalf("%d VAT groups, want %d\n%s", len(got.Categories), len(want.groups), body)
	}
	sumTaxable := new(big.Rat)
	for i, c := range got.Categories {
		w := want.groups[i]
		if string(c.Category) != w.category || rat(c.Rate).RatString() != w.rate || c.ExemptionReason != w.reason {
			t.Fatalf("group %d = %s %v %s, want %s %s %s\n%s", i, c.Category, c.Rate, c.ExemptionReason, w.category, w.rate, w.reason, body)
		}
		exact(fmt.Sprintf("group %d taxable", i), c.Taxable, w.taxable)
		exact(fmt.Sprintf("group %d VAT", i), c.VAT, w.vat)
		sumTaxable.Add(sumTaxable, rat(c.Taxable))
	}
	var applied []oracleApplied
	for _, a := range got.Adjustments {
		applied = append(applied, oracleApplied{a.Charge, string(a.Category), rat(a.Rate).RatString(), a.Amount.String()})
	}
	if !slices.Equal(applied, want.applied) {
		t.Fatalf("document entries %v, want %v\n%s", applied, want.applied, body)
	}
	exact("net", got.Net, want.net)
	exact("discounts", got.Discounts, want.discounts)
	exact("charges", got.Charges, want.charges)
	exact("taxable", got.Taxable, want.taxable)
	exact("VAT", got.VAT, want.vat)
	exact("gross", got.Gross, want.gross)
	exact("rounding", got.Rounding, want.rounding)
	exact("payable", got.Payable, want.payable)
	exact("change", got.Change, want.change)
	for i, p := range got.Payments {
		if (p.Amount == nil) != (want.payments[i] == nil) || p.Amount != nil && rat(*p.Amount).Cmp(want.payments[i]) != 0 {
			t.Fatalf("payments[%d] amount %v, want %v\n%s", i, p.Amount, want.payments[i], body)
		}
	}

	// The identities, on the model's own numbers.
	identity := func(what string, a, b *big.Rat) {
		t.Helper()
		if a.Cmp(b) != 0 {
			t.Fatalf("%s: %s ≠ %s\n%s", what, a.FloatString(2), b.FloatString(2), body)
		}
	}
	net, disc, chg := rat(got.Net), rat(got.Discounts), rat(got.Charges)
	identity("taxable = net − discounts + charges", rat(got.Taxable), new(big.Rat).Add(new(big.Rat).Sub(net, disc), chg))
	identity("taxable = Σ group taxable", rat(got.Taxable), sumTaxable)
	identity("gross = taxable + VAT", rat(got.Gross), new(big.Rat).Add(rat(got.Taxable), rat(got.VAT)))
	identity("payable = gross + rounding", rat(got.Payable), new(big.Rat).Add(rat(got.Gross), rat(got.Rounding)))
	half := new(big.Rat).Quo(want.increment, big.NewRat(2, 1))
	if new(big.Rat).Abs(rat(got.Rounding)).Cmp(half) > 0 {
		t.Fatalf("rounding %v exceeds half the increment %s\n%s", got.Rounding, want.increment.FloatString(2), body)
	}
	change := new(big.Rat)
	for _, p := range got.Payments {
		if p.Tendered != nil {
			change.Add(change, new(big.Rat).Sub(rat(*p.Tendered), rat(*p.Amount)))
		}
	}
	identity("change = Σ (tendered − amount)", rat(got.Change), change)
}

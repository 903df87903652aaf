package etims

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// Identity is the unit as KRA knows it: the seller's PIN and branch, the
// profile (which decides where tin and bhfId travel), and the registrant
// written into regrId/regrNm and modrId/modrNm of every request.
type Identity struct {
	Profile Profile
	Tin     string // the seller's KRA PIN
	BhfID   string // the branch, "00" for the head office
	// RegistrantID (at most 20 characters) and RegistrantName (at most
	// 60) say who registered the document.
	RegistrantID   string
	RegistrantName string
}

// bodyIdentity is tin and bhfId for a request body: VSCU only.
func (id Identity) bodyIdentity() (tin, bhf string) {
	if id.Profile == VSCU {
		return id.Tin, id.BhfID
	}
	return "", ""
}

// SaleInput is what a sale request needs besides the sale.
type SaleInput struct {
	Identity
	Rules Rules
	// TraderInvoiceNo is trdInvcNo: egsd's number of the document (at
	// most 50 characters).
	TraderInvoiceNo string
	// IssuedAt is the document's issue time: cfmDt, salesDt, rcptPbctDt.
	IssuedAt time.Time
	// InvcNo and OrgInvcNo are zero in a template; see [Number].
	InvcNo, OrgInvcNo int64
}

// BuildSale maps a sale to KRA's TrnsSalesSaveWrReq with the amount
// semantics of spec/etims.md §A4.1 (docs/etims.md, "Amounts"), after
// [Validate] with in.Rules, whose errors it returns.
//
// Per line: prc is the unit price before any discount, qty the quantity,
// splyAmt = prc × qty rounded; taxblAmt is the line's net amount, VAT
// excluded, after its price discount, its own discounts and its share of
// the document's discounts; dcAmt = splyAmt − taxblAmt; dcRt is the
// line's one percentage discount when that is all it has, else dcAmt as a
// percentage of splyAmt, rounded; taxAmt = taxblAmt × rate, rounded;
// totAmt = taxblAmt + taxAmt. Per band: the taxable amount is the sum of
// its lines', the tax the VAT of sale.ComputeTotals (rounded once per VAT
// group), the rate from in.Rules; the totals are those of
// sale.ComputeTotals: totTaxblAmt, totTaxAmt and totAmt = totTaxblAmt +
// totTaxAmt. Every amount has two decimals, rounded half-up.
//
// A document discount, which KRA's request cannot carry, is spread over
// the lines of its VAT group pro rata to their net amounts: each line's
// share rounded down to the cent, the cents left over on the group's last
// line (or, where that line has too little, on the ones before it).
func BuildSale(s *sale.Sale, in SaleInput) (*SaleRequest, error) {
	if err := Validate(s, in.Rules); err != nil {
		return nil, err
	}
	t, err := sale.ComputeTotals(s)
	if err != nil {
		return nil, err
	}
	rates := in.Rules.rates()
	lines, err := lineAmounts(s, &t, rates)
	if err != nil {
		return nil, err
	}
	cfm := FormatDateTime(in.IssuedAt)
	tin, bhf := in.bodyIdentity()
	r := &SaleRequest{
		InvcNo: in.InvcNo, OrgInvcNo: in.OrgInvcNo, Tin: tin, BhfID: bhf,
		TrdInvcNo: in.TraderInvoiceNo, SalesTyCd: "N", RcptTyCd: "S", PmtTyCd: paymentType(s.Payments),
		SalesSttsCd: "02", CfmDt: cfm, SalesDt: FormatDate(in.IssuedAt), TotItemCnt: len(s.Lines),
		// The buyer may confirm the sale as a purchase, as Odoo's
		// certified requests say; the receipt itself needs no acceptance.
		PrchrAcptcYn: "Y", Remark: remarkOf(s),
		RegrID: in.RegistrantID, RegrNm: in.RegistrantName, ModrID: in.RegistrantID, ModrNm: in.RegistrantName,
		Receipt: SaleReceipt{RcptPbctDt: cfm, PrchrAcptcYn: "N"},
	}
	if s.Late != nil {
		// A sale entered after a unit failure keeps the date it was made
		// on; cfmDt stays the issue time.
		r.SalesDt = FormatDate(s.Late.TransactionTime)
	}
	if s.Kind == sale.CreditNote {
		r.RcptTyCd, r.RfdDt, r.RfdRsnCd = "R", cfm, s.ReasonCode
	}
	if b := s.Buyer; b != nil {
		r.CustTin, r.CustNm = b.VATNumber, b.Name
		r.Receipt.CustTin, r.Receipt.Adrs = b.VATNumber, addressOf(b)
	}
	if err := r.fillAmounts(s, &t, lines, rates); err != nil {
		return nil, err
	}
	return r, nil
}

// fillAmounts writes the items, the band totals and the totals.
func (r *SaleRequest) fillAmounts(s *sale.Sale, t *sale.Totals, lines []lineAmount, rates Rates) error {
	var bandTaxable, bandTax [5]int64
	for i := range s.Lines {
		l, a := &s.Lines[i], &lines[i]
		item := SaleItem{ItemSeq: i + 1, ItemCd: l.ItemCode, ItemClsCd: l.ItemClass, ItemNm: l.Name, Bcd: l.StandardCode,
			PkgUnitCd: l.PackagingUnit, QtyUnitCd: l.QuantityUnit, TaxTyCd: a.band.String(),
			SplyAmt: Dec(fromCents(a.supply)), DcRt: Dec(a.discountRate), DcAmt: Dec(fromCents(a.supply - a.taxable)),
			TaxblAmt: Dec(fromCents(a.taxable)), TaxAmt: Dec(fromCents(a.tax)), TotAmt: Dec(fromCents(a.taxable + a.tax))}
		var err error
		if item.Qty, err = at(l.Quantity, kraScale); err != nil {
			return fmt.Errorf("lines[%d].quantity: %w", i, err)
		}
		item.Pkg = item.Qty
		if item.Prc, err = at(l.UnitPrice, kraScale); err != nil {
			return fmt.Errorf("lines[%d].unit_price: %w", i, err)
		}
		r.ItemList = append(r.ItemList, item)
		bandTaxable[a.band.index()] += a.taxable
	}
	for _, c := range t.Categories {
		b, err := rates.BandOf(c.Category, c.Rate)
		if err != nil {
			return err
		}
		v, err := cents(c.VAT)
		if err != nil {
			return fmt.Errorf("VAT of %s %s%%: %w", c.Category, c.Rate, err)
		}
		bandTax[b.index()] += v
	}
	var sumTaxable int64
	for _, b := range Bands {
		taxable, rate, tax := r.bandFields(b)
		*taxable, *tax = Dec(fromCents(bandTaxable[b.index()])), Dec(fromCents(bandTax[b.index()]))
		var err error
		if *rate, err = at(rates.Of(b), kraScale); err != nil {
			return fmt.Errorf("rate of band %s: %w", b, err)
		}
		sumTaxable += bandTaxable[b.index()]
	}
	// The lines' shares must add up to sale.ComputeTotals' taxable amount:
	// a difference would be a cent lost or invented in the spreading.
	if total, err := cents(t.Taxable); err != nil || total != sumTaxable {
		return fmt.Errorf("etims: the lines' taxable amounts add up to %s, the sale's to %s", fromCents(sumTaxable), t.Taxable)
	}
	r.TotTaxblAmt, r.TotTaxAmt, r.TotAmt = Dec(t.Taxable), Dec(t.VAT), Dec(t.Gross)
	return nil
}

// lineAmount is one line's KRA amounts, in cents.
type lineAmount struct {
	band         Band
	rate         money.Decimal
	supply       int64 // splyAmt
	net          int64 // the line's net amount before document discounts
	share        int64 // its share of the group's document discounts
	taxable      int64 // net − share
	tax          int64
	discountRate money.Decimal
}

// lineAmounts computes every line's amounts, spreading the document
// discounts over their VAT groups.
func lineAmounts(s *sale.Sale, t *sale.Totals, rates Rates) ([]lineAmount, error) {
	lines := make([]lineAmount, len(s.Lines))
	group := make([]int, len(s.Lines)) // line → index in t.Categories
	for i := range s.Lines {
		l, a := &s.Lines[i], &lines[i]
		var err error
		if a.band, err = rates.BandOf(l.Category, l.Rate); err != nil {
			return nil, fmt.Errorf("lines[%d].vat_rate: %w", i, err)
		}
		a.rate = l.Rate
		if group[i] = groupOf(t, l.Category, l.Rate, l.ExemptionReason); group[i] < 0 {
			return nil, fmt.Errorf("etims: lines[%d] is in no VAT group of the totals", i)
		}
		prc, err := at(l.UnitPrice, kraScale)
		if err != nil {
			return nil, fmt.Errorf("lines[%d].unit_price: %w", i, err)
		}
		supply, err := money.MulRound(l.Quantity, prc.Decimal, kraScale)
		if err != nil {
			return nil, fmt.Errorf("lines[%d]: supply amount: %w", i, err)
		}
		if a.supply, err = cents(supply); err != nil {
			return nil, err
		}
		if a.net, err = cents(t.Lines[i].Net); err != nil {
			return nil, err
		}
	}
	discounts := make([]int64, len(t.Categories))
	for _, adj := range t.Adjustments {
		if adj.Charge {
			return nil, errors.New("etims: a document charge cannot be carried by KRA's request")
		}
		k := groupOf(t, adj.Category, adj.Rate, adj.ExemptionReason)
		if k < 0 {
			return nil, fmt.Errorf("etims: a document discount is in no VAT group of the totals")
		}
		c, err := cents(adj.Amount)
		if err != nil {
			return nil, err
		}
		discounts[k] += c
	}
	for k, d := range discounts {
		if d == 0 {
			continue
		}
		var members []int
		for i := range lines {
			if group[i] == k {
				members = append(members, i)
			}
		}
		if err := spread(d, members, lines); err != nil {
			return nil, fmt.Errorf("document discounts of VAT group %s %s%%: %w", t.Categories[k].Category, t.Categories[k].Rate, err)
		}
	}
	for i := range lines {
		a := &lines[i]
		a.taxable = a.net - a.share
		tax, err := money.MulRound(fromCents(a.taxable), money.Decimal{Coef: a.rate.Coef, Scale: a.rate.Scale + 2}, 2)
		if err != nil {
			return nil, fmt.Errorf("lines[%d]: VAT: %w", i, err)
		}
		if a.tax, err = cents(tax); err != nil {
			return nil, err
		}
		if a.taxable > a.supply || a.taxable < 0 {
			return nil, fmt.Errorf("etims: lines[%d]: taxable amount %s outside 0 to the supply amount %s", i, fromCents(a.taxable), fromCents(a.supply))
		}
		a.discountRate = discountRate(&s.Lines[i], a)
	}
	return lines, nil
}

// spread divides the discount d (cents) over the lines members pro rata
// to their net amounts: each share rounded down to the cent, then the
// cents left over, from the last line backwards, as far as each line's
// net amount allows. d is at most the group's net amount (sale.ComputeTotals
// refuses more), so every cent finds a line.
func spread(d int64, members []int, lines []lineAmount) error {
	var total int64
	for _, i := range members {
		total += lines[i].net
	}
	if d > total || d < 0 || total <= 0 {
		return fmt.Errorf("a discount of %s on lines of %s", fromCents(d), fromCents(total))
	}
	left := d
	for _, i := range members {
		// d × net / total in 128 bits: both factors are up to 10^13 cents.
		hi, lo := bits.Mul64(uint64(d), uint64(lines[i].net))
		q, _ := bits.Div64(hi, lo, uint64(total)) // hi < total since d ≤ total
		lines[i].share = int64(q)
		left -= int64(q)
	}
	for j := len(members) - 1; j >= 0 && left > 0; j-- {
		a := &lines[members[j]]
		take := min(left, a.net-a.share)
		a.share += take
		left -= take
	}
	if left != 0 {
		return fmt.Errorf("%s could not be placed", fromCents(left))
	}
	return nil
}

// discountRate is dcRt: the line's one percentage discount when that is
// the whole of its discount, else dcAmt / splyAmt × 100 rounded half-up
// to two decimals (0 without a discount).
func discountRate(l *sale.Line, a *lineAmount) money.Decimal {
	dc := a.supply - a.taxable
	if dc == 0 || a.supply == 0 {
		return money.Decimal{Scale: 2}
	}
	if l.PriceDiscount.IsZero() && len(l.Discounts) == 1 && l.Discounts[0].Percent != nil && a.share == 0 {
		if p, err := l.Discounts[0].Percent.Rescale(2); err == nil {
			return p
		}
	}
	// dc ≤ supply ≤ 10^13 cents: 2 × dc × 10^4 stays inside int64.
	hundredths := (2*dc*10000 + a.supply) / (2 * a.supply)
	return money.Decimal{Coef: hundredths, Scale: 2}
}

// groupOf finds the VAT group of t with this category, rate and reason.
func groupOf(t *sale.Totals, c sale.VATCategory, rate money.Decimal, reason string) int {
	for k, g := range t.Categories {
		if g.Category == c && money.Cmp(g.Rate, rate) == 0 && g.ExemptionReason == reason {
			return k
		}
	}
	return -1
}

// paymentType maps the sale's payments to KRA's payment type, code class
// 07 (spec/etims.md §A4.3): one means gives its code (cash 01, credit
// 02, card 05, mobile money 06, bank transfer and other 07: KRA's 04 is
// a cheque); cash
// with credit is 03 CASH/CREDIT; any other mix is 07 OTHER. No payments:
// none sent.
func paymentType(ps []sale.Payment) string {
	seen := map[sale.PaymentMeans]bool{}
	for _, p := range ps {
		seen[p.Means] = true
	}
	switch {
	case len(seen) == 0:
		return ""
	case len(seen) == 2 && seen[sale.Cash] && seen[sale.Credit]:
		return "03"
	case len(seen) > 1:
		return "07"
	}
	for m := range seen {
		switch m {
		case sale.Cash:
			return "01"
		case sale.Credit:
			return "02"
		case sale.Card:
			return "05"
		case sale.MobileMoney:
			return "06"
		}
	}
	return "07"
}

// PaymentTypeName is the name of a payment type code, for the receipt.
func PaymentTypeName(code string) string {
	return map[string]string{"01": "Cash", "02": "Credit", "03": "Cash/Credit", "04": "Bank cheque",
		"05": "Debit/credit card", "06": "Mobile money", "07": "Other"}[code]
}

// Marshal writes a request as compact JSON with its fields in order and
// without HTML escaping, as it is sent.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ItemFromLine is the item registration (saveItem) of a sale line's
// item, which must precede its first sale (spec/etims.md §A8): the code,
// class, units and band of the line, its name and unit price as the
// default price, the origin and type read from the item code. The line
// must have passed [Validate].
func ItemFromLine(l *sale.Line, rates Rates, id Identity) (*ItemRequest, error) {
	if !IsItemCode(l.ItemCode) {
		return nil, fmt.Errorf("etims: item code %q is not KRA's form", l.ItemCode)
	}
	b, err := rates.BandOf(l.Category, l.Rate)
	if err != nil {
		return nil, err
	}
	price, err := at(l.UnitPrice, kraScale)
	if err != nil {
		return nil, fmt.Errorf("etims: unit price %s: %w", l.UnitPrice, err)
	}
	tin, bhf := id.bodyIdentity()
	return &ItemRequest{Tin: tin, BhfID: bhf, ItemCd: l.ItemCode, ItemClsCd: l.ItemClass, ItemTyCd: l.ItemCode[2:3],
		ItemNm: l.Name, OrgnNatCd: l.ItemCode[:2], PkgUnitCd: l.PackagingUnit, QtyUnitCd: l.QuantityUnit,
		TaxTyCd: b.String(), Bcd: l.StandardCode, DftPrc: price, IsrcAplcbYn: "N", UseYn: "Y",
		RegrID: id.RegistrantID, RegrNm: id.RegistrantName, ModrID: id.RegistrantID, ModrNm: id.RegistrantName}, nil
}

package kz

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// TicketInput is what a ticket needs besides the sale.
type TicketInput struct {
	// IssuedAt is the receipt's local time (UTC+5).
	IssuedAt time.Time
	Operator Operator
	// Purchase makes an invoice a BUY and a credit note a BUY_RETURN (the
	// till's owner buying from the public), instead of SELL / SELL_RETURN.
	Purchase bool
	// Parent is the ticket a credit note returns: required for a return.
	// Its date decides the VAT rates of the return.
	Parent *ParentTicket
	// ShiftNumber and ShiftDocumentNumber number the ticket in its shift.
	ShiftNumber, ShiftDocumentNumber uint32
	// OfflineTicketNumber is the autonomous fiscal sign; zero online.
	OfflineTicketNumber uint32
	// SectionCode is the section (department) of every line; "1" if empty.
	SectionCode string
	// SellerTaxID is the seller's BIN or IIN: a buyer's must differ.
	SellerTaxID string
	// VAT is the rate table; nil means DefaultVATTable.
	VAT VATTable
}

// The names of modifiers that have no reason of their own.
const (
	discountName = "Скидка"
	markupName   = "Наценка"
)

// BuildTicket maps a sale to a TICKET (docs/kz.md "Mapping"). Prices on a
// Kazakh receipt include VAT: each line's commodity sum is its amount
// before its own discounts and charges plus the VAT that amount carries;
// each discount and charge of a line follows its commodity as a DISCOUNT
// or MARKUP item, and each document discount or charge is one such item
// per VAT group it applies to. The VAT of each group is sale.ComputeTotals'
// (rounded once per group) spread over the group's amounts in proportion,
// with the largest remainders taking the last tiyn, so that the items'
// taxes add up to it exactly and the items' sums to the total payable.
// Every problem with the sale is a sale.Errors naming the field.
func BuildTicket(s *sale.Sale, in TicketInput) (*TicketRequest, error) {
	var errs sale.Errors
	op := OperationSell
	if in.Purchase {
		op = OperationBuy
	}
	vatDate := in.IssuedAt
	switch s.Kind {
	case sale.Invoice:
	case sale.CreditNote:
		op++ // SELL → SELL_RETURN, BUY → BUY_RETURN
		if in.Parent == nil {
			errs.Add("original", "a return must name the ticket it returns (its fiscal sign, time, RNM and total)")
		} else {
			t, err := in.Parent.DateTime.Time(in.IssuedAt.Location())
			if err != nil {
				errs.Add("original", "the returned ticket's %v", err)
			}
			vatDate = t
		}
	default:
		errs.Add("kind", "%q has no Kazakh form; a till issues sales and returns (invoice, credit_note)", s.Kind)
	}
	if s.Currency != "KZT" {
		errs.Add("currency", "%q: a Kazakh receipt is in tenge, KZT", s.Currency)
	}
	if !s.CashRounding.IsZero() {
		errs.Add("cash_rounding", "must not be set: a Kazakh receipt carries no rounding, amounts are in tenge and tiyn")
	}
	var ext *ExtensionOptions
	if b := s.Buyer; b != nil {
		for _, id := range []struct{ field, v string }{{"buyer.vat_number", b.VATNumber}, {"buyer.id", b.ID}} {
			if id.v == "" {
				continue
			}
			if err := ValidateTaxID(id.v); err != nil {
				errs.Add(id.field, "%v", err)
			} else if id.v == in.SellerTaxID {
				errs.Add(id.field, "is the seller's own BIN/IIN; a buyer's must be another's (the OFD refuses it with result 17)")
			} else if ext == nil {
				ext = &ExtensionOptions{CustomerIINOrBIN: id.v}
			}
		}
	}
	table := in.VAT
	if table == nil {
		table = DefaultVATTable
	}
	period, err := table.At(vatDate)
	if err != nil {
		errs.Add("issued_at", "%v", err)
	}
	for i := range s.Lines {
		l := &s.Lines[i]
		if l.Category == sale.Standard && err == nil {
			if e := period.Check(l.Rate); e != nil {
				errs.Add(fmt.Sprintf("lines[%d].vat_rate", i), "%v", e)
			}
		}
		if u := l.QuantityUnit; u != "" && (len(u) > 4 || strings.Trim(u, "0123456789") != "") {
			errs.Add(fmt.Sprintf("lines[%d].quantity_unit", i), "%q must be a numeric unit code of up to 4 digits (796 is a piece)", u)
		}
	}
	for i, d := range s.Discounts {
		if d.Category == sale.Standard && err == nil {
			if e := period.Check(d.Rate); e != nil {
				errs.Add(fmt.Sprintf("discounts[%d].vat_rate", i), "%v", e)
			}
		}
	}
	for i, c := range s.Charges {
		if c.Category == sale.Standard && err == nil {
			if e := period.Check(c.Rate); e != nil {
				errs.Add(fmt.Sprintf("charges[%d].vat_rate", i), "%v", e)
			}
		}
	}
	payments := make([]PaymentType, len(s.Payments))
	for i, p := range s.Payments {
		switch p.Means {
		case sale.Cash:
			payments[i] = PaymentCash
		case sale.Card:
			payments[i] = PaymentCard
		case sale.MobileMoney:
			payments[i] = PaymentMobile
		default:
			errs.Add(fmt.Sprintf("payments[%d].means", i), "%q is not a payment a Kazakh till records; use cash, card or mobile_money", p.Means)
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	t, err := sale.ComputeTotals(s)
	if err != nil {
		return nil, err
	}

	tr := &TicketRequest{
		Operation: op, DateTime: DateTimeOf(in.IssuedAt), Operator: in.Operator, Domain: DomainTrading,
		Extension: ext, OfflineTicketNumber: in.OfflineTicketNumber,
		ShiftNumber: in.ShiftNumber, ShiftDocumentNumber: in.ShiftDocumentNumber, Parent: in.Parent,
	}
	if err := tr.fillItems(s, &t, in.SectionCode); err != nil {
		return nil, err
	}
	if err := tr.fillPayments(&t, payments); err != nil {
		return nil, err
	}
	return tr, nil
}

// component is one amount of a VAT group, without VAT: a line's base, or
// one of its or the document's discounts (negative) and charges.
type component struct {
	net   int64 // signed, tiyn
	share int64 // the VAT allocated to it, signed
	rem   *big.Int
}

// allocateVAT spreads vat over the components in proportion to their
// signed amounts, which add up to taxable (> 0): each gets the floor of its
// exact share, and the tiyn left over go one each to the largest
// remainders, earliest first. The shares add up to vat exactly.
func allocateVAT(cs []*component, taxable, vat int64) {
	if taxable == 0 || vat == 0 {
		return
	}
	den := big.NewInt(taxable)
	var left = vat
	for _, c := range cs {
		q, m := new(big.Int), new(big.Int)
		q.DivMod(new(big.Int).Mul(big.NewInt(c.net), big.NewInt(vat)), den, m) // Euclidean: floor for den > 0
		c.share, c.rem = q.Int64(), m
		left -= c.share
	}
	for ; left > 0; left-- {
		best := -1
		for i, c := range cs {
			if c.rem != nil && (best < 0 || c.rem.Cmp(cs[best].rem) > 0) {
				best = i
			}
		}
		cs[best].share++
		cs[best].rem = nil
	}
}

func cents(d money.Decimal) (int64, error) { return centsOf(d) }

// fillItems writes the commodities and modifiers and the total.
func (tr *TicketRequest) fillItems(s *sale.Sale, t *sale.Totals, section string) error {
	if section == "" {
		section = "1"
	}
	groupOf := func(c sale.VATCategory, rate money.Decimal, reason string) int {
		for k, g := range t.Categories {
			if g.Category == c && money.Cmp(g.Rate, rate) == 0 && g.ExemptionReason == reason {
				return k
			}
		}
		return -1
	}
	groups := make([][]*component, len(t.Categories))
	type lineParts struct {
		base               *component
		discounts, charges []*component
		group              int
	}
	lines := make([]lineParts, len(s.Lines))
	add := func(k int, v money.Decimal, sign int64) (*component, error) {
		c, err := cents(v)
		if err != nil {
			return nil, err
		}
		comp := &component{net: sign * c}
		groups[k] = append(groups[k], comp)
		return comp, nil
	}
	for i := range s.Lines {
		l, lt := &s.Lines[i], &t.Lines[i]
		k := groupOf(l.Category, l.Rate, l.ExemptionReason)
		if k < 0 {
			return fmt.Errorf("kz: lines[%d] is in no VAT group of the totals", i)
		}
		lp := lineParts{group: k}
		var err error
		if lp.base, err = add(k, lt.Base, 1); err != nil {
			return fmt.Errorf("lines[%d]: %w", i, err)
		}
		for _, d := range lt.Discounts {
			c, err := add(k, d, -1)
			if err != nil {
				return fmt.Errorf("lines[%d].discounts: %w", i, err)
			}
			lp.discounts = append(lp.discounts, c)
		}
		for _, ch := range lt.Charges {
			c, err := add(k, ch, 1)
			if err != nil {
				return fmt.Errorf("lines[%d].charges: %w", i, err)
			}
			lp.charges = append(lp.charges, c)
		}
		lines[i] = lp
	}
	docs := make([]*component, len(t.Adjustments))
	docGroup := make([]int, len(t.Adjustments))
	for j, a := range t.Adjustments {
		k := groupOf(a.Category, a.Rate, a.ExemptionReason)
		if k < 0 {
			return fmt.Errorf("kz: a document adjustment is in no VAT group of the totals")
		}
		sign := int64(-1)
		if a.Charge {
			sign = 1
		}
		var err error
		if docs[j], err = add(k, a.Amount, sign); err != nil {
			return err
		}
		docGroup[j] = k
	}
	percents := make([]uint32, len(t.Categories))
	for k, g := range t.Categories {
		taxable, err := cents(g.Taxable)
		if err != nil {
			return err
		}
		vat, err := cents(g.VAT)
		if err != nil {
			return err
		}
		allocateVAT(groups[k], taxable, vat)
		if percents[k], err = PercentThousandths(g.Rate); err != nil {
			return err
		}
	}
	taxOf := func(k int, c *component) ([]Tax, error) {
		cat := t.Categories[k].Category
		if cat != sale.Standard && cat != sale.ZeroRated {
			return nil, nil // exempt and out of scope carry no VAT
		}
		share := c.share
		if share < 0 {
			share = -share
		}
		m, err := MoneyOfCents(share)
		return []Tax{{Type: TaxTypeVAT, Percent: percents[k], Sum: m, InTotal: true}}, err
	}
	var total int64
	modifier := func(k int, c *component, name string) (Item, error) {
		gross := c.net + c.share
		typ := ItemMarkup
		if c.net < 0 {
			typ, gross = ItemDiscount, -gross
			total -= gross
		} else {
			total += gross
		}
		sum, err := MoneyOfCents(gross)
		if err != nil {
			return Item{}, err
		}
		taxes, err := taxOf(k, c)
		return Item{Type: typ, Modifier: &Modifier{Name: name, Sum: sum, Taxes: taxes}}, err
	}
	for i := range s.Lines {
		l, lp := &s.Lines[i], &lines[i]
		k := lp.group
		gross := lp.base.net + lp.base.share
		total += gross
		sum, err := MoneyOfCents(gross)
		if err != nil {
			return fmt.Errorf("lines[%d]: %w", i, err)
		}
		qty, err := l.Quantity.Rescale(3)
		if err != nil {
			return fmt.Errorf("lines[%d].quantity: %w", i, err)
		}
		// The unit price shown is the net unit price with its VAT, rounded.
		gp, err := money.MulRound(t.Lines[i].NetPrice, money.Decimal{Coef: 100_00 + t.Categories[k].Rate.Coef*pow10(2-int(t.Categories[k].Rate.Scale)), Scale: 4}, 2)
		if err != nil {
			return fmt.Errorf("lines[%d].unit_price: %w", i, err)
		}
		price, err := MoneyOf(gp)
		if err != nil {
			return fmt.Errorf("lines[%d].unit_price: %w", i, err)
		}
		taxes, err := taxOf(k, lp.base)
		if err != nil {
			return err
		}
		unit := l.QuantityUnit
		if unit == "" {
			unit = MeasureUnitPiece
		}
		tr.Items = append(tr.Items, Item{Type: ItemCommodity, Commodity: &Commodity{
			Name: l.Name, SectionCode: section, Quantity: uint64(qty.Coef), Price: price, Sum: sum, Taxes: taxes,
			ProductID: l.SellerCode, Barcode: l.StandardCode, MeasureUnitCode: unit, NTIN: l.ItemCode,
		}})
		for j, c := range lp.discounts {
			it, err := modifier(k, c, orDefaultName(l.Discounts[j].Reason, discountName))
			if err != nil {
				return err
			}
			tr.Items = append(tr.Items, it)
		}
		for j, c := range lp.charges {
			it, err := modifier(k, c, orDefaultName(l.Charges[j].Reason, markupName))
			if err != nil {
				return err
			}
			tr.Items = append(tr.Items, it)
		}
	}
	for j, a := range t.Adjustments {
		name := discountName
		if a.Charge {
			name = markupName
		}
		it, err := modifier(docGroup[j], docs[j], orDefaultName(a.Reason, name))
		if err != nil {
			return err
		}
		tr.Items = append(tr.Items, it)
	}
	payable, err := cents(t.Payable)
	if err != nil {
		return err
	}
	// The items must come to the total payable: a difference would be a
	// tiyn lost or invented in the allocation.
	if total != payable {
		return fmt.Errorf("kz: the items add up to %d tiyn, the sale to %s", total, t.Payable)
	}
	tr.Amounts.Total, err = MoneyOfCents(payable)
	return err
}

func pow10(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

func orDefaultName(reason, def string) string {
	if reason != "" {
		return reason
	}
	return def
}

// fillPayments writes the payments and, when cash was paid, the cash taken
// and the change.
func (tr *TicketRequest) fillPayments(t *sale.Totals, types []PaymentType) error {
	if len(t.Payments) == 0 {
		// A sale that names no payment is paid in cash, exactly.
		tr.Payments = []Payment{{Type: PaymentCash, Sum: tr.Amounts.Total}}
		taken, change := tr.Amounts.Total, Money{}
		tr.Amounts.Taken, tr.Amounts.Change = &taken, &change
		return nil
	}
	var taken int64
	cash := false
	for i, p := range t.Payments {
		if p.Amount == nil {
			return sale.Errors{{Field: "payments", Rule: "several payments name no amount; give each payment's amount"}}
		}
		sum, err := MoneyOf(*p.Amount)
		if err != nil {
			return fmt.Errorf("payments[%d].amount: %w", i, err)
		}
		tr.Payments = append(tr.Payments, Payment{Type: types[i], Sum: sum})
		if types[i] == PaymentCash {
			cash = true
			given := *p.Amount
			if p.Tendered != nil {
				given = *p.Tendered
			}
			c, err := cents(given)
			if err != nil {
				return fmt.Errorf("payments[%d].tendered: %w", i, err)
			}
			taken += c
		}
	}
	if cash {
		tk, err := MoneyOfCents(taken)
		if err != nil {
			return err
		}
		ch, err := MoneyOf(t.Change)
		if err != nil {
			return fmt.Errorf("change: %w", err)
		}
		tr.Amounts.Taken, tr.Amounts.Change = &tk, &ch
	}
	return nil
}

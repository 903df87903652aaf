package etims

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// Rules are what Validate checks a sale against that the unit learns
// from KRA: the band rates (code class 04) and the credit note reasons
// (code class 32), the payment types (code class 07), the bands in use
// (class 04) and the item classes (selectItemClsList). The zero value
// uses the defaults.
type Rules struct {
	Rates Rates // zero: DefaultRates
	// RefundReasons are the codes a credit note's reason_code may take;
	// nil means DefaultRefundReasons.
	RefundReasons []string
	// PaymentTypes are the payment type codes KRA has in use; nil means
	// DefaultPaymentTypes.
	PaymentTypes []string
	// Bands are the bands KRA has in use; nil means all five.
	Bands []Band
	// ItemClasses are the item classification codes KRA lists as in use;
	// nil means that none have been fetched, and item_class is checked
	// for its form only.
	ItemClasses map[string]bool
}

// DefaultPaymentTypes are KRA's payment types, code class 07
// (spec/etims.md §A4.3): 01 cash, 02 credit, 03 cash/credit, 04 bank
// cheque, 05 debit and credit card, 06 mobile money, 07 other.
var DefaultPaymentTypes = []string{"01", "02", "03", "04", "05", "06", "07"}

func (r Rules) paymentTypes() []string {
	if r.PaymentTypes == nil {
		return DefaultPaymentTypes
	}
	return r.PaymentTypes
}

func (r Rules) bandInUse(b Band) bool { return r.Bands == nil || slices.Contains(r.Bands, b) }

// DefaultRefundReasons are KRA's credit note reasons, code class 32
// (spec/etims.md §A4.3): 01 Missing Quantity, 02 Missing data, 03
// Damaged, 04 Wasted, 05 Raw Material Shortage, 06 Refund. The unit uses
// the code list's once it has fetched it.
var DefaultRefundReasons = []string{"01", "02", "03", "04", "05", "06"}

func (r Rules) rates() Rates {
	if r.Rates.B.IsZero() && r.Rates.E.IsZero() {
		return DefaultRates
	}
	return r.Rates
}

func (r Rules) refundReasons() []string {
	if r.RefundReasons == nil {
		return DefaultRefundReasons
	}
	return r.RefundReasons
}

// The lengths of KRA's fields that a sale fills (the OSCU specification's
// tables as transcribed in spec/etims.md §A4.1 and its sources: custNm 60,
// remark 400, itemNm 200, itemCd 20, itemClsCd 10, pkgUnitCd and
// qtyUnitCd 5, bcd 20, the receipt's adrs 200).
const (
	maxCustomerName = 60
	maxRemark       = 400
	maxItemName     = 200
	maxItemCode     = 20
	maxItemClass    = 10
	maxUnitCode     = 5
	maxBarcode      = 20
	maxAddress      = 200
	// KRA's quantities, prices and amounts have two decimals (NUMBER 13,2
	// and 18,2): a sale with more could not be carried as accepted.
	kraScale = 2
)

// Currency is the one currency of KRA's requests: they carry no currency
// and no exchange rate, so every amount is in Kenyan shillings.
const Currency = "KES"

// Validate applies the Kenyan rules that the unit can check before it
// issues (spec/etims.md §A4): what KRA's request can carry, in the form
// KRA takes it. It returns sale.Errors naming each field with the rule;
// nothing is issued with any of them.
//
// Checked: the kind (KRA has sales and credit notes, no debit notes); the
// currency (KES); the buyer's KRA PIN (a letter, nine digits, a letter),
// name (60 characters) and address (200), and no other buyer ID (KRA's
// request has no place for one); a credit note's reason code (code class
// 32) and remark (reason and note, 400 characters); per line: quantity,
// unit price and price discount with at most two decimals, the VAT
// category and rate of a KRA band (S only at the B or E rate), no
// exemption reason (the band says it), no line charge, and the item
// fields KRA needs (item_class, packaging_unit, quantity_unit, item_code)
// in KRA's format; no document charge (KRA's request has none: charge it
// as a line); then every amount rule of sale.ComputeTotals.
//
// What needs the original document (a credit note's buyer PIN,
// quantities and amounts against the original, its date) is checked by
// the agent against the journal; see docs/etims.md.
func Validate(s *sale.Sale, rules Rules) error {
	var errs sale.Errors
	switch s.Kind {
	case sale.Invoice, sale.CreditNote:
	case sale.DebitNote:
		errs.Add("kind", "KRA eTIMS has no debit note: issue a new invoice for the amount to add")
	default:
		errs.Add("kind", `must be "invoice" or "credit_note"`)
	}
	if s.Currency != Currency {
		errs.Add("currency", "must be KES: KRA's eTIMS requests carry amounts in Kenyan shillings only, with no exchange rate")
	}
	validateBuyer(&errs, s.Buyer)
	remark := remarkOf(s)
	if n := utf8.RuneCountInString(remark); n > maxRemark {
		field := "note"
		if s.Kind.IsNote() && s.Note == "" {
			field = "reason"
		}
		errs.Add(field, "KRA's remark holds at most %d characters, and this %s comes to %d; shorten it", maxRemark, describeRemark(s), n)
	}
	if s.Kind == sale.CreditNote {
		reasons := rules.refundReasons()
		switch {
		case s.ReasonCode == "":
			errs.Add("reason_code", "is required for a Kenyan credit note: KRA's credit note reason, one of %s (%s)", strings.Join(reasons, ", "), reasonNames)
		case !slices.Contains(reasons, s.ReasonCode):
			errs.Add("reason_code", "%q is not one of KRA's credit note reasons: %s (%s)", s.ReasonCode, strings.Join(reasons, ", "), reasonNames)
		}
	}
	if code := paymentType(s.Payments); code != "" && !slices.Contains(rules.paymentTypes(), code) {
		errs.Add(paymentField(s.Payments), "pays by KRA's payment type %s (%s), which KRA's code class 07 no longer lists (in use: %s); pay by another means",
			code, PaymentTypeName(code), strings.Join(rules.paymentTypes(), ", "))
	}
	for i := range s.Lines {
		validateLine(&errs, i, &s.Lines[i], rules)
	}
	if !s.CashRounding.IsZero() && cashOnly(s.Payments) {
		errs.Add("cash_rounding", "KRA's sale has no rounding amount: its total is the sum of its lines, so a Kenyan unit does not round cash totals (send \"none\", and set sale.cash_rounding = \"none\")")
	}
	for i := range s.Charges {
		errs.Add(fmt.Sprintf("charges[%d]", i), "KRA's sale has no document charge: add %q as a line of its own (an item registered with KRA, such as a service)", s.Charges[i].Reason)
	}
	for i, d := range s.Discounts {
		if d.Category == "" {
			continue
		}
		if _, err := rules.bandOf(d.Category, d.Rate); err != nil {
			errs.Add(fmt.Sprintf("discounts[%d].vat_rate", i), "%v", err)
		}
		if d.ExemptionReason != "" {
			errs.Add(fmt.Sprintf("discounts[%d].exemption_reason", i), "is not used in Kenya: KRA's tax band says why a line is not taxed; leave it out")
		}
	}
	if err := errs.Err(); err != nil {
		return err
	}
	if _, err := sale.ComputeTotals(s); err != nil {
		errs.Include("lines", err)
	}
	return errs.Err()
}

const reasonNames = "01 missing quantity, 02 missing data, 03 damaged, 04 wasted, 05 raw material shortage, 06 refund"

func validateBuyer(errs *sale.Errors, b *sale.Buyer) {
	if b == nil {
		return
	}
	if b.VATNumber != "" && !IsPIN(b.VATNumber) {
		errs.Add("buyer.vat_number", "%q is not a KRA PIN: a letter, nine digits and a letter, upper case, such as P051234567X", b.VATNumber)
	}
	if n := utf8.RuneCountInString(b.Name); n > maxCustomerName {
		errs.Add("buyer.name", "is %d characters long; KRA's customer name holds at most %d", n, maxCustomerName)
	}
	if b.IDScheme != "" || b.ID != "" {
		errs.Add("buyer.id", "KRA's sale identifies a buyer by KRA PIN only: give it as buyer.vat_number, or leave the ID out")
	}
	if n := utf8.RuneCountInString(addressOf(b)); n > maxAddress {
		errs.Add("buyer.address", "comes to %d characters; KRA's receipt address holds at most %d", n, maxAddress)
	}
}

// bandOf is Rates.BandOf that also refuses a band KRA's code class 04
// has out of use.
func (r Rules) bandOf(c sale.VATCategory, rate money.Decimal) (Band, error) {
	b, err := r.rates().BandOf(c, rate)
	if err == nil && !r.bandInUse(b) {
		return 0, fmt.Errorf("KRA's code class 04 has band %s (%s) out of use: this line cannot be sold under it", b, b.Label())
	}
	return b, err
}

// paymentField names the payment a payment type comes from: the one
// payment, or all of them for a mix.
func paymentField(ps []sale.Payment) string {
	for i := range ps {
		if ps[i].Means != ps[0].Means {
			return "payments"
		}
	}
	return "payments[0].means"
}

func validateLine(errs *sale.Errors, i int, l *sale.Line, rules Rules) {
	path := fmt.Sprintf("lines[%d]", i)
	for _, f := range []struct {
		name string
		v    money.Decimal
	}{{"quantity", l.Quantity}, {"unit_price", l.UnitPrice}, {"price_discount", l.PriceDiscount}} {
		if f.v.Scale > kraScale && !fitsScale(f.v, kraScale) {
			errs.Add(path+"."+f.name, "%s has more than %d decimals; KRA takes quantities and prices with %d", f.v, kraScale, kraScale)
		}
	}
	if _, err := rules.bandOf(l.Category, l.Rate); err != nil {
		errs.Add(path+".vat_rate", "%v", err)
	}
	if l.ExemptionReason != "" {
		errs.Add(path+".exemption_reason", "is not used in Kenya: KRA's tax band (C zero rated, A exempt, D non-VAT) says why a line is not taxed; leave it out")
	}
	for j := range l.Charges {
		errs.Add(fmt.Sprintf("%s.charges[%d]", path, j), "KRA's sale line has no charge, only a discount: add %q as a line of its own, or include it in the unit price", l.Charges[j].Reason)
	}
	if n := utf8.RuneCountInString(l.Name); n > maxItemName {
		errs.Add(path+".name", "is %d characters long; KRA's item name holds at most %d", n, maxItemName)
	}
	if n := len(l.StandardCode); n > maxBarcode {
		errs.Add(path+".standard_code", "is %d characters long; KRA's barcode holds at most %d", n, maxBarcode)
	}
	requireCode(errs, path+".item_class", l.ItemClass, maxItemClass, isDigits,
		"KRA's item classification code (itemClsCd, from selectItemClsList), up to 10 digits such as 5059690800")
	if rules.ItemClasses != nil && isDigits(l.ItemClass) && !rules.ItemClasses[l.ItemClass] {
		errs.Add(path+".item_class", "%q is not an item class KRA lists as in use (selectItemClsList); choose the item's class from KRA's list", l.ItemClass)
	}
	requireCode(errs, path+".packaging_unit", l.PackagingUnit, maxUnitCode, isUpperAlnum,
		"KRA's packaging unit code (pkgUnitCd, code list), such as NT or CTN")
	requireCode(errs, path+".quantity_unit", l.QuantityUnit, maxUnitCode, isUpperAlnum,
		"KRA's quantity unit code (qtyUnitCd, code list), such as U or KG")
	requireCode(errs, path+".item_code", l.ItemCode, maxItemCode, IsItemCode,
		"the item's code registered with KRA (itemCd): origin country, item type 1 raw material, 2 finished product or 3 service, units and a sequence, such as KE1NTXU0000001")
}

// requireCode adds an error when v is missing, too long or not of the
// form ok checks; what says what the field must be.
func requireCode(errs *sale.Errors, field, v string, max int, ok func(string) bool, what string) {
	switch {
	case v == "":
		errs.Add(field, "is required for KRA: %s", what)
	case len(v) > max || !ok(v):
		errs.Add(field, "%q is not %s (at most %d characters)", v, what, max)
	}
}

// fitsScale reports whether v has no non-zero digit past scale ("2.500"
// fits 2).
func fitsScale(v money.Decimal, scale uint8) bool {
	_, err := v.Rescale(scale)
	return err == nil
}

// IsPIN reports whether s is a KRA PIN: a letter, nine digits and a
// letter, upper case (P051234567X).
func IsPIN(s string) bool {
	if len(s) != 11 || !isUpper(s[0]) || !isUpper(s[10]) {
		return false
	}
	return isDigits(s[1:10])
}

// IsBranchID reports whether s is a KRA branch ID: two digits, "00" for
// the head office.
func IsBranchID(s string) bool { return len(s) == 2 && isDigits(s) }

// IsItemCode reports whether s has the form of a KRA item code: two
// upper-case letters (the origin country), the item type (1 raw material,
// 2 finished product, 3 service), then upper-case letters and digits (the
// units and a sequence), at most 20 characters in all.
func IsItemCode(s string) bool {
	return len(s) >= 4 && len(s) <= maxItemCode && isUpper(s[0]) && isUpper(s[1]) && s[2] >= '1' && s[2] <= '3' && isUpperAlnum(s[3:])
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isUpperAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isUpper(s[i]) && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return s != ""
}

// addressOf is the buyer's address on one line, as KRA's receipt adrs
// takes it: the parts given, in order, separated by ", ".
func addressOf(b *sale.Buyer) string {
	if b == nil || b.Address == nil {
		return ""
	}
	a := b.Address
	var parts []string
	for _, p := range []string{strings.TrimSpace(a.Street + " " + a.BuildingNumber), a.District, strings.TrimSpace(a.City + " " + a.PostalCode), a.Country} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// remarkOf is KRA's remark: a credit note's reason, then the note on the
// next line.
func remarkOf(s *sale.Sale) string {
	switch {
	case s.Reason != "" && s.Note != "":
		return s.Reason + "\n" + s.Note
	case s.Reason != "":
		return s.Reason
	}
	return s.Note
}

func describeRemark(s *sale.Sale) string {
	if s.Kind.IsNote() {
		return "reason and note"
	}
	return "note"
}

// cashOnly reports whether every payment is cash (and there is one): the
// sales the model rounds to the cash increment.
func cashOnly(ps []sale.Payment) bool {
	for _, p := range ps {
		if p.Means != sale.Cash {
			return false
		}
	}
	return len(ps) > 0
}

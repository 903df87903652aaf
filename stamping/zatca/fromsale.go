package zatca

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// Options are a unit's ZATCA choices that are not part of a sale.
type Options struct {
	// InvoicePrefix goes before the counter to make the invoice number
	// (BT-1): "INV-" gives "INV-42" for counter 42.
	InvoicePrefix string
	// Currency is the unit's document currency; empty means SAR. Only SAR
	// is supported: other currencies need an exchange rate and a VAT total
	// in SAR (BR-KSA-68, BR-KSA-97), which sales do not carry yet.
	Currency string
	// OutOfScopeReason is the reason text (BT-120) written with
	// VATEX-SA-OOS, which the standard leaves to the taxpayer; empty means
	// DefaultOutOfScopeReason.
	OutOfScopeReason string
}

// DefaultOutOfScopeReason is the VATEX-SA-OOS text used when the unit's
// options give none.
const DefaultOutOfScopeReason = "Not subject to VAT"

// sar is the only document currency egsd issues in, and always the tax
// currency.
const sar = "SAR"

func (o Options) currency() string {
	if o.Currency == "" {
		return sar
	}
	return o.Currency
}

func (o Options) outOfScopeReason() string {
	if o.OutOfScopeReason == "" {
		return DefaultOutOfScopeReason
	}
	return o.OutOfScopeReason
}

// exemption is a VAT exemption (or exception) reason code of XML
// Implementation Standard §11.2.4 with the category it belongs to and its
// standard English text, verbatim (BR-KSA-83 wants the standard's text; the
// R3.4.5 schematron's commented-out comparison uses the same wording).
type exemption struct {
	category sale.VATCategory
	text     string
}

// exemptions are the reason codes egsd accepts: the R3.4.5 schematron's
// lists for Z (BR-KSA-69, BR-KSA-CL-04), E (BR-KSA-23) and O (BR-KSA-24).
// VATEX-SA-DIPLOMAT, -DUTYFREE and -ROYALDECREE, which only newer rule
// variants list, are left out until the standard gives their texts.
var exemptions = map[string]exemption{
	"VATEX-SA-29":    {sale.Exempt, "Financial services mentioned in Article 29 of the VAT Regulations"},
	"VATEX-SA-29-7":  {sale.Exempt, "Life insurance services mentioned in Article 29 of the VAT Regulations"},
	"VATEX-SA-30":    {sale.Exempt, "Real estate transactions mentioned in Article 30 of the VAT Regulations"},
	"VATEX-SA-32":    {sale.ZeroRated, "Export of goods"},
	"VATEX-SA-33":    {sale.ZeroRated, "Export of services"},
	"VATEX-SA-34-1":  {sale.ZeroRated, "The international transport of Goods"},
	"VATEX-SA-34-2":  {sale.ZeroRated, "international transport of passengers"},
	"VATEX-SA-34-3":  {sale.ZeroRated, "services directly connected and incidental to a Supply of international passenger transport"},
	"VATEX-SA-34-4":  {sale.ZeroRated, "Supply of a qualifying means of transport"},
	"VATEX-SA-34-5":  {sale.ZeroRated, "Any services relating to Goods or passenger transportation, as defined in article twenty five of these Regulations"},
	"VATEX-SA-35":    {sale.ZeroRated, "Medicines and medical equipment"},
	"VATEX-SA-36":    {sale.ZeroRated, "Qualifying metals"},
	"VATEX-SA-EDU":   {sale.ZeroRated, "Private education to citizen"},
	"VATEX-SA-HEA":   {sale.ZeroRated, "Private healthcare to citizen"},
	"VATEX-SA-MLTRY": {sale.ZeroRated, "supply of qualified military goods"},
	"VATEX-SA-OOS":   {sale.OutOfScope, ""}, // the text is the taxpayer's: Options.OutOfScopeReason
}

// ExemptionReasonText is the reason text (BT-120) written with code, and
// whether code is one egsd accepts for category.
func ExemptionReasonText(category sale.VATCategory, code string, opts Options) (string, bool) {
	e, ok := exemptions[code]
	if !ok || e.category != category {
		return "", false
	}
	if category == sale.OutOfScope {
		return opts.outOfScopeReason(), true
	}
	return e.text, true
}

// businessSchemes are the buyer ID schemes (BR-KSA-14) that identify a
// business: a Saudi tax identification number (TIN, for businesses without
// a VAT number), commercial registration (CRN), MOMRAH, MHRSD and MISA
// licences (MOM, MLS, SAG) and the 700 number. The others identify a
// person — national ID (NAT), iqama (IQA), passport (PAS), the ID of a GCC
// citizen (GCC) — or cannot tell (OTH, "other ID"), and leave the sale a
// simplified one: a POS that wants a tax invoice for such a buyer sends the
// buyer's VAT number or a business ID.
var businessSchemes = map[string]bool{"TIN": true, "CRN": true, "MOM": true, "MLS": true, "700": true, "SAG": true}

// IsStandard reports whether a sale to b is a standard tax invoice (B2B,
// KSA-2 "01…", cleared before it is handed over) rather than a simplified
// one (B2C, "02…", reported within 24 hours): the buyer has a VAT number or
// a business ID (businessSchemes). spec/zatca.md §6.3.
func IsStandard(b *sale.Buyer) bool {
	return b != nil && (b.VATNumber != "" || b.ID != "" && businessSchemes[b.IDScheme])
}

// paymentMeansCodes maps the sale's payment means to UNCL4461.
var paymentMeansCodes = map[sale.PaymentMeans]string{
	sale.Cash:         "10", // in cash
	sale.Card:         "48", // bank card
	sale.BankTransfer: "42", // payment to bank account
	sale.Credit:       "30", // credit transfer
	// UNCL4461 has no code for a mobile wallet, and none of its codes
	// (card, credit transfer, online payment service) says what the till
	// took; "instrument not defined" is true and keeps a sale paid by
	// wallet issuable.
	sale.MobileMoney: "1",
	sale.Other:       "1", // instrument not defined
}

// noPaymentMeans is written when the sale names no payment means:
// UNCL4461 "instrument not defined". A note needs a cac:PaymentMeans to
// carry its reason (BR-KSA-17).
const noPaymentMeans = "1"

// UnitCode is the unit of every quantity: "piece" (UN/ECE Rec 20), as in
// the SDK samples; sales carry no unit.
const UnitCode = "PCE"

// SellerName is the seller's registration name (BT-27, QR tag 1): the
// local (Arabic) and the Latin name joined as the SDK samples do,
// "شركة … | … LTD", or whichever of the two is set.
func SellerName(s stamping.Seller) string {
	switch {
	case s.NameLocal == "" || s.NameLocal == s.Name:
		return s.Name
	case s.Name == "":
		return s.NameLocal
	}
	return s.NameLocal + " | " + s.Name
}

// FromSale resolves s, issued into slot by seller, into a ZATCA document.
// Every total comes from sale.ComputeTotals, so that the document VAT is
// rounded once per category and all totals derive from the same rounded
// numbers (BR-CO-10/14/15 hold exactly). Call Validate first: FromSale only
// refuses what it cannot map.
func FromSale(s *sale.Sale, slot stamping.Slot, seller stamping.Seller, opts Options) (*Invoice, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	inv := &Invoice{
		TypeName:         TypeNameSimplified,
		ID:               opts.InvoicePrefix + strconv.FormatUint(slot.Counter, 10),
		UUID:             slot.UUID,
		Note:             s.Note,
		ICV:              slot.Counter,
		PIH:              slot.PrevHash,
		DocumentCurrency: s.Currency,
		TaxCurrency:      sar,
		Seller: Party{
			Name:      SellerName(seller),
			VATNumber: seller.VATNumber,
			IDScheme:  seller.IDScheme,
			ID:        seller.ID,
			Address:   addressOf(&seller.Address),
		},
	}
	switch s.Kind {
	case sale.Invoice:
		inv.TypeCode = TypeInvoice
	case sale.CreditNote:
		inv.TypeCode = TypeCreditNote
	case sale.DebitNote:
		inv.TypeCode = TypeDebitNote
	default:
		bad("kind %q is not invoice, credit_note or debit_note", s.Kind)
	}
	if s.Kind.IsNote() {
		inv.BillingReference = s.Original
		inv.InstructionNote = s.Reason
	}
	if s.Currency != opts.currency() || s.Currency != sar {
		bad("currency %q: this unit issues documents in %s only", s.Currency, sar)
	}
	if slot.IssuedAt.IsZero() {
		bad("the slot has no issue time")
	}
	inv.IssueDate, inv.IssueTime = IssueDateTime(slot.IssuedAt)

	if b := s.Buyer; b != nil {
		inv.Buyer = &Party{Name: b.Name, VATNumber: b.VATNumber, IDScheme: b.IDScheme, ID: b.ID}
		if b.Address != nil {
			inv.Buyer.Address = addressOf(b.Address)
		}
	}
	if IsStandard(s.Buyer) {
		inv.TypeName = TypeNameStandard
		if inv.TypeCode == TypeInvoice {
			// The supply date of a tax invoice (BR-KSA-15): a POS sale is
			// supplied when it is issued.
			inv.SupplyDate = inv.IssueDate
		}
	}
	if l := s.Late; l != nil {
		// A sale entered after a unit failure was supplied when it was
		// made, not when it is issued: its date is the supply date
		// (KSA-5), on simplified documents and notes too, and the note
		// (BT-22) says why the document is late.
		inv.SupplyDate, _ = IssueDateTime(l.TransactionTime)
		inv.Note = l.Text()
		if s.Note != "" {
			inv.Note = s.Note + "\n" + inv.Note
		}
	}

	for _, p := range s.Payments {
		code, ok := paymentMeansCodes[p.Means]
		if !ok {
			bad("payment means %q has no UNCL4461 code", p.Means)
			continue
		}
		if !slices.Contains(inv.PaymentMeans, code) {
			inv.PaymentMeans = append(inv.PaymentMeans, code)
		}
	}
	if len(inv.PaymentMeans) == 0 {
		inv.PaymentMeans = []string{noPaymentMeans}
	}

	t, err := sale.ComputeTotals(s)
	if err != nil {
		bad("totals: %v", err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("zatca: cannot build the document: %w", errors.Join(errs...))
	}

	inv.Lines = make([]Line, len(s.Lines))
	var acs []AllowanceCharge // every line's allowances and charges, allocated once
	if n := adjustmentCount(s.Lines); n > 0 {
		acs = make([]AllowanceCharge, 0, n)
	}
	for i := range s.Lines {
		l, lt := &s.Lines[i], &t.Lines[i]
		cat, err := taxCategory(l.Category, l.Rate, l.ExemptionReason, opts)
		if err != nil {
			bad("lines[%d]: %v", i, err)
		}
		inv.Lines[i] = Line{
			ID:               strconv.Itoa(i + 1),
			Name:             l.Name,
			Quantity:         l.Quantity,
			UnitCode:         UnitCode,
			NetAmount:        lt.Net,
			TaxAmount:        lt.VAT,
			RoundingAmount:   lt.Gross,
			Price:            lt.NetPrice,
			AllowanceCharges: lineAllowanceCharges(&acs, l, lt),
			Category:         cat,
			BuyerItemID:      l.BuyerCode,
			SellerItemID:     l.SellerCode,
			StandardItemID:   l.StandardCode,
		}
		if !l.PriceDiscount.IsZero() {
			inv.Lines[i].PriceDiscount, inv.Lines[i].GrossPrice = l.PriceDiscount, l.UnitPrice
		}
	}
	inv.Subtotals = make([]TaxSubtotal, len(t.Categories))
	for i, c := range t.Categories {
		cat, err := taxCategory(c.Category, c.Rate, c.ExemptionReason, opts)
		if err != nil {
			bad("VAT category %s: %v", c.Category, err)
		}
		inv.Subtotals[i] = TaxSubtotal{TaxableAmount: c.Taxable, TaxAmount: c.VAT, Category: cat}
	}
	if len(t.Adjustments) > 0 {
		inv.AllowanceCharges = make([]DocumentAllowanceCharge, len(t.Adjustments))
	}
	for i := range t.Adjustments {
		a := &t.Adjustments[i]
		cat, err := taxCategory(a.Category, a.Rate, a.ExemptionReason, opts)
		if err != nil {
			bad("document %s: %v", map[bool]string{false: "discount", true: "charge"}[a.Charge], err)
		}
		ac := AllowanceCharge{Charge: a.Charge, ReasonCode: a.ReasonCode, Reason: a.Reason, Percent: a.Percent, Amount: a.Amount}
		if a.Percent != nil {
			ac.BaseAmount = a.Base
		}
		inv.AllowanceCharges[i] = DocumentAllowanceCharge{AllowanceCharge: ac, Category: cat}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("zatca: cannot build the document: %w", errors.Join(errs...))
	}
	zero := money.Decimal{Scale: sale.AmountScale}
	inv.TaxAmount = t.VAT
	inv.TaxAmountSAR = t.VAT
	inv.Totals = MonetaryTotal{
		LineExtensionAmount:   t.Net,
		TaxExclusiveAmount:    t.Taxable,
		TaxInclusiveAmount:    t.Gross,
		AllowanceTotalAmount:  t.Discounts,
		ChargeTotalAmount:     t.Charges,
		PrepaidAmount:         zero,
		PayableRoundingAmount: t.Rounding,
		PayableAmount:         t.Payable,
	}
	return inv, nil
}

// lineAllowanceCharges appends a line's discounts, then its charges, to
// acs, with the amounts sale.ComputeTotals gave them (a percentage names
// the line's base amount, quantity × net unit price rounded, it was taken
// of), and returns them.
func lineAllowanceCharges(acs *[]AllowanceCharge, l *sale.Line, lt *sale.LineTotal) []AllowanceCharge {
	if len(l.Discounts)+len(l.Charges) == 0 {
		return nil
	}
	start := len(*acs)
	for charge, list := range [2][]sale.Adjustment{l.Discounts, l.Charges} {
		amounts := lt.Discounts
		if charge == 1 {
			amounts = lt.Charges
		}
		for j := range list {
			a := &list[j]
			ac := AllowanceCharge{Charge: charge == 1, ReasonCode: a.ReasonCode, Reason: a.Reason, Percent: a.Percent, Amount: amounts[j]}
			if a.Percent != nil {
				ac.BaseAmount = lt.Base
			}
			*acs = append(*acs, ac)
		}
	}
	return (*acs)[start:len(*acs):len(*acs)]
}

func adjustmentCount(lines []sale.Line) int {
	n := 0
	for i := range lines {
		n += len(lines[i].Discounts) + len(lines[i].Charges)
	}
	return n
}

// taxCategory resolves a line's or breakdown's VAT category.
func taxCategory(c sale.VATCategory, rate money.Decimal, reason string, opts Options) (TaxCategory, error) {
	r, err := rate.Rescale(2)
	if err != nil {
		return TaxCategory{}, fmt.Errorf("VAT rate %s: %w", rate, err)
	}
	tc := TaxCategory{ID: string(c), Percent: r}
	switch c {
	case sale.Standard:
		if reason != "" {
			return TaxCategory{}, fmt.Errorf("category S takes no exemption reason")
		}
	case sale.ZeroRated, sale.Exempt, sale.OutOfScope:
		text, ok := ExemptionReasonText(c, reason, opts)
		if !ok {
			return TaxCategory{}, fmt.Errorf("exemption reason %q is not a VATEX-SA code for category %s", reason, c)
		}
		tc.ExemptionReasonCode, tc.ExemptionReason = reason, text
	default:
		return TaxCategory{}, fmt.Errorf("VAT category %q is not S, Z, E or O", c)
	}
	return tc, nil
}

func addressOf(a *sale.Address) *Address {
	if *a == (sale.Address{}) {
		return nil
	}
	return &Address{
		Street:         a.Street,
		BuildingNumber: a.BuildingNumber,
		District:       a.District,
		City:           a.City,
		PostalCode:     a.PostalCode,
		Country:        a.Country,
	}
}

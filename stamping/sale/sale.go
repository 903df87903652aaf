// Package sale is the regime-neutral model of what the POS hands egsd: a kind
// (invoice, credit note, debit note), an optional buyer, lines, payment means
// and, for notes, the original document and a reason. Decode parses the JSON
// wire form strictly; every amount is a decimal string parsed exactly.
package sale

import (
	"fmt"
	"time"

	"github.com/egsd/egsd/stamping/money"
)

// Kind is the type of fiscal document a sale becomes.
type Kind string

// The document kinds. The wire values are stable: they are stored in the
// journal and sent by POS software.
const (
	Invoice    Kind = "invoice"
	CreditNote Kind = "credit_note"
	DebitNote  Kind = "debit_note"
)

// IsNote reports whether k is a credit or debit note, which must reference
// an original document and give a reason.
func (k Kind) IsNote() bool { return k == CreditNote || k == DebitNote }

// VATCategory is the regime-neutral VAT category of a line, following the
// UNCL5305 letters that ZATCA uses; other regimes map them to their own codes.
type VATCategory string

// The VAT categories.
const (
	Standard   VATCategory = "S" // standard rated
	ZeroRated  VATCategory = "Z" // zero rated
	Exempt     VATCategory = "E" // exempt from VAT
	OutOfScope VATCategory = "O" // outside the scope of VAT
)

// PaymentMeans is how the buyer paid.
type PaymentMeans string

// The payment means. Regimes map these to their code lists (ZATCA UNCL4461:
// cash 10, card 48, bank transfer 42, credit 30, mobile money and other 1;
// KRA class 07: cash 01, credit 02, card 05, mobile money 06, other 07).
const (
	Cash         PaymentMeans = "cash"
	Card         PaymentMeans = "card"
	BankTransfer PaymentMeans = "bank_transfer"
	Credit       PaymentMeans = "credit"
	// MobileMoney is a payment from a mobile wallet (M-Pesa, Airtel
	// Money, STC Pay).
	MobileMoney PaymentMeans = "mobile_money"
	Other       PaymentMeans = "other"
)

// Sale is a validated sale. Build one with Decode.
type Sale struct {
	Kind     Kind
	Currency string // ISO 4217, upper case
	Buyer    *Buyer // nil for an anonymous buyer
	Lines    []Line
	// Discounts and Charges are the document-level allowances and charges
	// (ZATCA BG-20/BG-21): each in a VAT category, applied to the lines of
	// that category after their own discounts and charges.
	Discounts []DocumentAdjustment
	Charges   []DocumentAdjustment
	Payments  []Payment
	// CashRounding is the increment the amount due is rounded to when the
	// sale is paid in cash only (0.05, 0.25 or 1.00); zero means none.
	CashRounding money.Decimal
	// Original identifies the document a note corrects (its counter, UUID or
	// the authority's number); empty for invoices.
	Original string
	// OriginalExternal says that Original was issued elsewhere (before
	// egsd, or by another till), so the unit cannot check the note against
	// it. Only notes may set it.
	OriginalExternal bool
	// Reason is why a note was issued; empty for invoices.
	Reason string
	// ReasonCode is the authority's code for the reason, on notes only,
	// where a regime has a code list for it (Kenya: KRA's credit note
	// reason, code class 32, such as "06" Refund). Optional in the model;
	// a regime that needs it requires it.
	ReasonCode string
	// Note is free text printed on the receipt, the one text that may
	// hold lines (ended by U+000A). Every text follows the character
	// policy of package textpolicy.
	Note string
	// Late, when set, says the sale was made while the unit could not
	// issue (a unit failure) and is entered afterwards: the document is
	// issued now, and says when the transaction took place.
	Late *LateEntry
}

// LateEntry is the transaction time of a sale entered after a unit
// failure, and the incident that records the failure (0 when the sale
// leaves it to the unit to find). Regimes map the transaction's date to
// their supply date where they have one.
type LateEntry struct {
	// TransactionTime is when the sale was made, with the offset the POS
	// gave it.
	TransactionTime time.Time
	Incident        uint64
}

// Text is the note a late-entered document carries: that it was issued
// late, for which incident, and when the transaction took place.
func (l *LateEntry) Text() string {
	return fmt.Sprintf("Issued late for unit failure incident %d; transaction time %s",
		l.Incident, l.TransactionTime.Format(time.RFC3339))
}

// Buyer is the optional buyer of a sale.
type Buyer struct {
	Name      string
	VATNumber string
	// IDScheme and ID identify a buyer without a VAT number (for example a
	// commercial registration, scheme "CRN", or a national ID, "NAT").
	IDScheme string
	ID       string
	Address  *Address
}

// Address is a postal address.
type Address struct {
	Street         string
	BuildingNumber string
	District       string
	City           string
	PostalCode     string
	Country        string // ISO 3166-1 alpha-2
}

// Line is one line of a sale.
type Line struct {
	Name     string
	Quantity money.Decimal // > 0, at most MaxQuantityScale decimals
	// UnitPrice is the VAT-exclusive unit price, at most MaxPriceScale
	// decimals: the gross price (ZATCA BT-148) when PriceDiscount is set,
	// else the net price.
	UnitPrice money.Decimal
	// PriceDiscount is a discount per unit off UnitPrice (BT-147), ≥ 0 and
	// not above it; the net unit price is UnitPrice − PriceDiscount.
	PriceDiscount money.Decimal
	// Discounts and Charges are the line's allowances and charges (BG-27,
	// BG-28), each a percentage of or an amount off the line's base amount
	// (quantity × net unit price).
	Discounts []Adjustment
	Charges   []Adjustment
	Category  VATCategory
	Rate      money.Decimal // percent, e.g. 15 or 16.00; 0 unless Category is Standard
	// ExemptionReason is the reason code for Z, E and O lines where the
	// regime requires one (ZATCA VATEX-SA-…).
	ExemptionReason string
	// SellerCode, BuyerCode and StandardCode are optional item identifiers
	// (the seller's SKU, the buyer's, and a GTIN or other standard code).
	SellerCode   string
	BuyerCode    string
	StandardCode string
	// OriginalLine is, on a note's line, the 1-based number of the line of
	// the original document it corrects; 0 when not given.
	OriginalLine int
	// ItemClass, PackagingUnit, QuantityUnit and ItemCode describe the
	// item for a regime that keeps a register of items (Kenya: KRA's item
	// classification code, its packaging and quantity unit codes, and the
	// item code registered with KRA). They are optional in the model; a
	// regime that needs them requires them and checks their format.
	ItemClass     string
	PackagingUnit string
	QuantityUnit  string
	ItemCode      string
}

// Adjustment is a discount or a charge: a percentage of a base amount or an
// amount, with the reason the shopper reads and, where a regime wants one,
// a reason code (ZATCA: UNTDID 5189 for discounts, 7161 for charges).
type Adjustment struct {
	// Percent is set for a percentage (0 < p ≤ 100, at most two
	// decimals); nil for an amount.
	Percent *money.Decimal
	// Amount is the amount when Percent is nil (> 0, two decimals).
	Amount     money.Decimal
	Reason     string
	ReasonCode string
}

// DocumentAdjustment is a document-level discount or charge and the VAT
// category it falls in. A discount given as a percentage with no category
// (Category empty) applies to the whole basket: one per VAT group.
type DocumentAdjustment struct {
	Adjustment
	Category        VATCategory
	Rate            money.Decimal
	ExemptionReason string
}

// Payment is one payment means and, optionally, the amount paid with it
// and, for cash, the amount tendered.
type Payment struct {
	Means  PaymentMeans
	Amount *money.Decimal
	// Tendered is the cash handed over (cash only); the change is what it
	// exceeds Amount by.
	Tendered *money.Decimal
}

// Limits of the wire format. They are deliberately strict: a POS that sends
// more is almost always sending a bug.
const (
	MaxLines         = 1000
	MaxQuantityScale = 3
	MaxPriceScale    = 4
	MaxRateScale     = 2
	MaxTextLength    = 1000
	MaxNameLength    = 256
	MaxCodeLength    = 64
	// MaxLineAdjustments bounds a line's discounts and charges together,
	// MaxDocumentAdjustments the document's.
	MaxLineAdjustments     = 10
	MaxDocumentAdjustments = 20
	MaxPercentScale        = 2
)

// The cash rounding increments a unit may use.
var CashRoundingIncrements = []string{"0.05", "0.25", "1.00"}

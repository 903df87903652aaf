package zatca

import (
	"time"

	"github.com/egsd/egsd/stamping/money"
)

// Invoice is a fully resolved ZATCA document: every code, text and amount
// is final, so that Render only lays it out. Build one with FromSale. All
// amounts are exact decimals; the totals must add up exactly (BR-CO-10 to
// BR-CO-16, BR-S-08 and its Z, E and O kin, BR-KSA-51), which Render
// checks.
type Invoice struct {
	TypeCode TypeCode // 388, 381 or 383 (KSA: InvoiceTypeCode, BT-3)
	TypeName string   // KSA-2 "NNPNESB": TypeNameStandard or TypeNameSimplified

	ID        string // invoice number (BT-1)
	UUID      string // KSA-1: letters, digits and dashes
	IssueDate string // BT-2 "2006-01-02", Saudi local date
	IssueTime string // KSA-25 "15:04:05", Saudi local time without zone
	Note      string // BT-22, optional free text

	ICV uint64 // invoice counter value (KSA-16)
	PIH string // previous invoice hash (KSA-13), base64

	DocumentCurrency string // BT-5
	TaxCurrency      string // BT-6, always "SAR"

	// BillingReference is the original document of a credit or debit note
	// (BT-25); empty for invoices.
	BillingReference string

	Seller Party
	// Buyer is nil for an anonymous buyer (simplified documents only).
	Buyer *Party

	// SupplyDate is cac:Delivery/cbc:ActualDeliveryDate (KSA-5),
	// "2006-01-02"; required on standard tax invoices (BR-KSA-15), empty
	// when the document carries no cac:Delivery.
	SupplyDate string

	// PaymentMeans are UNCL4461 codes, one cac:PaymentMeans each, in order;
	// at least one.
	PaymentMeans []string
	// InstructionNote is the reason for a credit or debit note (KSA-10),
	// written in every cac:PaymentMeans (BR-KSA-17 wants it in each);
	// empty for invoices.
	InstructionNote string

	// AllowanceCharges are the document-level allowances and charges
	// (BG-20, BG-21), each in one VAT breakdown: an allowance lowers its
	// category's taxable amount, a charge raises it.
	AllowanceCharges []DocumentAllowanceCharge

	// TaxAmount is the document's VAT total in the document currency
	// (BT-110), equal to the sum of Subtotals' TaxAmount (BR-CO-14).
	TaxAmount money.Decimal
	// TaxAmountSAR is the VAT total in the tax currency (BT-111), the
	// cac:TaxTotal without subtotals and QR tag 5.
	TaxAmountSAR money.Decimal
	// Subtotals is the VAT breakdown (BG-23): one per category and rate.
	Subtotals []TaxSubtotal

	Totals MonetaryTotal
	Lines  []Line
}

// TypeCode is UNTDID 1001 as ZATCA uses it (BR-KSA-05).
type TypeCode string

// The document type codes.
const (
	TypeInvoice    TypeCode = "388"
	TypeCreditNote TypeCode = "381"
	TypeDebitNote  TypeCode = "383"
)

// IsNote reports whether t is a credit or debit note.
func (t TypeCode) IsNote() bool { return t == TypeCreditNote || t == TypeDebitNote }

// The invoice transaction codes (KSA-2) egsd issues: a plain standard (B2B)
// or simplified (B2C) document, never third-party, nominal, export, summary
// or self-billed.
const (
	TypeNameStandard   = "0100000"
	TypeNameSimplified = "0200000"
)

// Simplified reports whether inv is a simplified document (KSA-2 "02…"):
// reported within 24 hours rather than cleared, and QR tag 9 present.
func (inv *Invoice) Simplified() bool { return len(inv.TypeName) >= 2 && inv.TypeName[:2] == "02" }

// Timestamp is QR tag 3: IssueDate "T" IssueTime, exactly as in the XML.
func (inv *Invoice) Timestamp() string { return inv.IssueDate + "T" + inv.IssueTime }

// Party is the seller (BG-4) or the buyer (BG-7).
type Party struct {
	// Name is cac:PartyLegalEntity/cbc:RegistrationName (BT-27, BT-44);
	// the seller's is also QR tag 1.
	Name string
	// VATNumber is cac:PartyTaxScheme/cbc:CompanyID (BT-31, BT-48).
	VATNumber string
	// IDScheme and ID are cac:PartyIdentification/cbc:ID and its schemeID
	// (BT-29, BT-46): CRN, NAT, ….
	IDScheme string
	ID       string
	// Address is nil when none is given (buyers of simplified documents).
	Address *Address
}

// Address is a cac:PostalAddress. Empty fields are left out.
type Address struct {
	Street         string // cbc:StreetName
	BuildingNumber string // cbc:BuildingNumber, 4 digits in Saudi Arabia
	District       string // cbc:CitySubdivisionName
	City           string // cbc:CityName
	PostalCode     string // cbc:PostalZone, 5 digits in Saudi Arabia
	Country        string // cac:Country/cbc:IdentificationCode, ISO 3166-1 alpha-2
}

// TaxCategory is a VAT category with its rate and, for Z, E and O, the
// exemption reason.
type TaxCategory struct {
	ID      string        // S, Z, E or O (UNCL5305)
	Percent money.Decimal // rate, two decimals: 15.00, 5.00, 0.00
	// ExemptionReasonCode (BT-121) and ExemptionReason (BT-120) are set for
	// Z, E and O only; the text is the standard's text for the code.
	ExemptionReasonCode string
	ExemptionReason     string
}

// TaxSubtotal is one VAT breakdown (BG-23).
type TaxSubtotal struct {
	TaxableAmount money.Decimal // BT-116
	TaxAmount     money.Decimal // BT-117, rounded once per category
	Category      TaxCategory
}

// MonetaryTotal is cac:LegalMonetaryTotal (BG-22).
type MonetaryTotal struct {
	LineExtensionAmount  money.Decimal // BT-106, Σ line net amounts
	TaxExclusiveAmount   money.Decimal // BT-109 = BT-106 − BT-107 + BT-108
	TaxInclusiveAmount   money.Decimal // BT-112 = BT-109 + BT-110
	AllowanceTotalAmount money.Decimal // BT-107, Σ document-level allowances; always written
	// ChargeTotalAmount is BT-108, Σ document-level charges; written when
	// the document has one (BR-CO-12 takes its absence as none).
	ChargeTotalAmount money.Decimal
	// PrepaidAmount is BT-113, always 0.00: egsd issues no prepayment
	// documents, and a prepaid amount needs prepayment lines (BR-KSA-73).
	PrepaidAmount money.Decimal
	// PayableRoundingAmount is BT-114, what cash rounding added to the
	// total (negative when it rounded down); written when not zero.
	PayableRoundingAmount money.Decimal
	// PayableAmount is BT-115 = BT-112 − BT-113 + BT-114, QR tag 4.
	PayableAmount money.Decimal
}

// AllowanceCharge is a cac:AllowanceCharge of a line (BG-27, BG-28) or, in
// a DocumentAllowanceCharge, of the document (BG-20, BG-21).
type AllowanceCharge struct {
	Charge bool // cbc:ChargeIndicator: true for a charge, false for an allowance
	// ReasonCode is cbc:AllowanceChargeReasonCode, UNTDID 5189 for an
	// allowance (optional) and 7161 for a charge (BR-KSA-19, BR-KSA-20);
	// Reason is cbc:AllowanceChargeReason, the text.
	ReasonCode string
	Reason     string
	// Percent (cbc:MultiplierFactorNumeric) and BaseAmount are set for a
	// percentage, Percent nil for an amount: Amount is then BaseAmount ×
	// Percent / 100 rounded half-up to two decimals (BR-KSA-EN16931-03).
	Percent    *money.Decimal
	BaseAmount money.Decimal
	Amount     money.Decimal
}

// DocumentAllowanceCharge is a document-level allowance or charge and the
// VAT breakdown it belongs to. Its cac:TaxCategory carries the category and
// rate only (BT-95/96, BT-102/103): the exemption reason is the
// breakdown's, and Category.ExemptionReasonCode names it only so that the
// entry is matched with its breakdown.
type DocumentAllowanceCharge struct {
	AllowanceCharge
	Category TaxCategory
}

// Line is one cac:InvoiceLine (BG-25).
type Line struct {
	ID       string        // BT-126: "1", "2", …
	Name     string        // BT-153
	Quantity money.Decimal // BT-129
	UnitCode string        // BT-130, UN/ECE Rec 20 ("PCE")
	// NetAmount is the line net amount (BT-131): quantity × Price rounded
	// half-up to two decimals, less the line's allowances, plus its
	// charges.
	NetAmount money.Decimal
	// TaxAmount is the line VAT (KSA-11), for display: the document VAT is
	// rounded per category, not summed from lines.
	TaxAmount money.Decimal
	// RoundingAmount is NetAmount + TaxAmount (KSA-12, BR-KSA-51).
	RoundingAmount money.Decimal
	Price          money.Decimal // BT-146, net unit price
	// PriceDiscount (BT-147) off GrossPrice (BT-148) is the price
	// allowance, cac:Price/cac:AllowanceCharge, written when PriceDiscount
	// is not zero: Price = GrossPrice − PriceDiscount exactly
	// (BR-KSA-EN16931-07). Prices carry up to four decimals.
	PriceDiscount money.Decimal
	GrossPrice    money.Decimal
	// AllowanceCharges are the line's allowances and charges (BG-27,
	// BG-28), a percentage of quantity × Price rounded.
	AllowanceCharges []AllowanceCharge
	Category         TaxCategory // the item's VAT category (BG-30)

	// Optional item identifiers.
	BuyerItemID    string // BT-156
	SellerItemID   string // BT-155
	StandardItemID string // BT-157, a GTIN
}

// saudiTime is Asia/Riyadh: UTC+3 all year, without daylight saving time
// (so no tzdata is needed on the device).
var saudiTime = time.FixedZone("AST", 3*60*60)

// IssueDateTime splits t into ZATCA's IssueDate and IssueTime in Saudi local
// time: "2006-01-02" and "15:04:05", without a zone (spec/zatca.md §3.2 tag
// 3, BR-KSA-70).
func IssueDateTime(t time.Time) (date, clock string) {
	l := t.In(saudiTime)
	return l.Format(time.DateOnly), l.Format(time.TimeOnly)
}

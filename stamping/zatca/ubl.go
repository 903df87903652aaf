package zatca

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/textpolicy"
)

// The document is written once, directly in the form that Canonical XML
// 1.1 gives it, so that the invoice hash needs no parser (spec/zatca.md
// §1.4, §1.5):
//
//   - the root's namespace declarations are in canonical order (default
//     first, then by prefix), which is also the SDK's order, and no other
//     element declares a namespace;
//   - each element has at most one attribute;
//   - no element is self-closed: an empty one is written <a></a>;
//   - character data escapes &, <, > and CR (&amp; &lt; &gt; &#xD;) and
//     attribute values &, <, ", TAB, LF and CR (&amp; &lt; &quot; &#x9;
//     &#xA; &#xD;), which is both what C14N writes and what an XML parser
//     reads back unchanged;
//   - there are no comments, processing instructions or DOCTYPE, only LF
//     line ends, and nothing after the root's end tag.
//
// The hashed form is the document without its XML declaration and without
// three elements, which C14N would drop with the XPath transforms of the
// signature (§1.1): ext:UBLExtensions, the QR cac:AdditionalDocumentReference
// and the body cac:Signature. Render writes exactly those bytes, remembering
// where the three elements go; Assemble splices them in. The whitespace
// around them is written once and belongs to both forms, as in the SDK's
// hashing (§1.4).

// xmlDeclaration opens the final document. C14N drops it (and the line end
// after it, which lies outside the root element).
const xmlDeclaration = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// rootStart is the SDK's root element start tag, byte for byte; its
// namespace declarations are already in canonical order.
const rootStart = `<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"` +
	` xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"` +
	` xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"` +
	` xmlns:ext="urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2">`

// The QR reference around the QR text, and the body signature; both are
// outside the hashed form.
const (
	qrReferenceStart = "<cac:AdditionalDocumentReference>\n" +
		"        <cbc:ID>QR</cbc:ID>\n" +
		"        <cac:Attachment>\n" +
		`            <cbc:EmbeddedDocumentBinaryObject mimeCode="text/plain">`
	qrReferenceEnd = "</cbc:EmbeddedDocumentBinaryObject>\n" +
		"        </cac:Attachment>\n" +
		"    </cac:AdditionalDocumentReference>"
	bodySignature = "<cac:Signature>\n" +
		"        <cbc:ID>urn:oasis:names:specification:ubl:signature:Invoice</cbc:ID>\n" +
		"        <cbc:SignatureMethod>urn:oasis:names:specification:ubl:dsig:enveloped:xades</cbc:SignatureMethod>\n" +
		"    </cac:Signature>"
)

// Rendered is a document laid out and ready to be signed: its hashed form,
// where the signature block and QR go, and the values the QR code and the
// signature need.
type Rendered struct {
	// Hashed is the exact byte string whose SHA-256 is the invoice hash:
	// the final document without its XML declaration, ext:UBLExtensions,
	// the QR cac:AdditionalDocumentReference and cac:Signature, in
	// canonical (C14N 1.1) form. It is also every byte of the final
	// document apart from those four pieces.
	Hashed []byte

	// Offsets into Hashed where ext:UBLExtensions, the QR reference and
	// cac:Signature are spliced in.
	extAt, qrAt, sigAt int

	ID         string // cbc:ID, the invoice number
	UUID       string // cbc:UUID, also sent to ZATCA with the document
	SellerName string // QR tag 1: the seller's RegistrationName
	SellerVAT  string // QR tag 2
	Timestamp  string // QR tag 3: IssueDate "T" IssueTime
	// PayableAmount is QR tag 4, LegalMonetaryTotal/PayableAmount as written.
	PayableAmount string
	// VATTotal is QR tag 5, the TaxTotal without subtotals (SAR) as written.
	VATTotal string
	// Simplified is true for simplified documents (KSA-2 "02…"): reported,
	// not cleared, and their QR carries tag 9.
	Simplified bool
}

// Assemble returns the final document: the XML declaration, the hashed
// form with ublExtensions (the complete ext:UBLExtensions element, from
// "<ext:UBLExtensions>" to "</ext:UBLExtensions>", as the signature step
// renders it) as the root's first child, the QR reference carrying qr (the
// base64 QR text) and the body cac:Signature. Neither argument is escaped:
// both are XML-safe by construction (the signature block is rendered XML,
// base64 needs no escaping). It allocates once.
func (r *Rendered) Assemble(ublExtensions, qr string) []byte {
	n := len(xmlDeclaration) + len(r.Hashed) + len(ublExtensions) +
		len(qrReferenceStart) + len(qr) + len(qrReferenceEnd) + len(bodySignature)
	b := make([]byte, 0, n)
	b = append(b, xmlDeclaration...)
	b = append(b, r.Hashed[:r.extAt]...)
	b = append(b, ublExtensions...)
	b = append(b, r.Hashed[r.extAt:r.qrAt]...)
	b = append(b, qrReferenceStart...)
	b = append(b, qr...)
	b = append(b, qrReferenceEnd...)
	b = append(b, r.Hashed[r.qrAt:r.sigAt]...)
	b = append(b, bodySignature...)
	b = append(b, r.Hashed[r.sigAt:]...)
	return b
}

// Render lays inv out as ZATCA's SDK does: the SDK samples' element order
// and four-space indentation, written directly in canonical form (see the
// comment at the top of this file). It checks that inv is complete, that
// its totals add up exactly and that every text can be carried by XML.
func Render(inv *Invoice) (*Rendered, error) {
	if err := inv.check(); err != nil {
		return nil, err
	}
	w := ublWriter{b: make([]byte, 0, inv.sizeHint())}
	w.raw(rootStart)
	extAt := len(w.b)

	w.constText(1, "cbc:ProfileID", "reporting:1.0")
	w.text(1, "cbc:ID", "ID", inv.ID)
	w.text(1, "cbc:UUID", "UUID", inv.UUID)
	w.text(1, "cbc:IssueDate", "issue date", inv.IssueDate)
	w.text(1, "cbc:IssueTime", "issue time", inv.IssueTime)
	w.textAttr(1, "cbc:InvoiceTypeCode", "name", inv.TypeName, "type code", string(inv.TypeCode))
	if inv.Note != "" {
		// The one text of the document that may hold lines.
		w.open(1, "cbc:Note")
		w.escape("note", inv.Note, textEscape, textpolicy.MultiLine)
		w.endTag("cbc:Note")
	}
	w.text(1, "cbc:DocumentCurrencyCode", "document currency", inv.DocumentCurrency)
	w.text(1, "cbc:TaxCurrencyCode", "tax currency", inv.TaxCurrency)
	if inv.BillingReference != "" {
		w.open(1, "cac:BillingReference")
		w.open(2, "cac:InvoiceDocumentReference")
		w.text(3, "cbc:ID", "billing reference", inv.BillingReference)
		w.close(2, "cac:InvoiceDocumentReference")
		w.close(1, "cac:BillingReference")
	}
	w.open(1, "cac:AdditionalDocumentReference")
	w.constText(2, "cbc:ID", "ICV")
	w.indent(2)
	w.raw("<cbc:UUID>")
	w.b = strconv.AppendUint(w.b, inv.ICV, 10)
	w.raw("</cbc:UUID>")
	w.close(1, "cac:AdditionalDocumentReference")
	w.open(1, "cac:AdditionalDocumentReference")
	w.constText(2, "cbc:ID", "PIH")
	w.open(2, "cac:Attachment")
	w.textAttr(3, "cbc:EmbeddedDocumentBinaryObject", "mimeCode", "text/plain", "PIH", inv.PIH)
	w.close(2, "cac:Attachment")
	w.close(1, "cac:AdditionalDocumentReference")
	w.indent(1)
	qrAt := len(w.b)
	w.indent(1)
	sigAt := len(w.b)

	w.open(1, "cac:AccountingSupplierParty")
	w.party(2, &inv.Seller, &sellerLabels)
	w.close(1, "cac:AccountingSupplierParty")
	w.open(1, "cac:AccountingCustomerParty")
	if inv.Buyer != nil {
		w.party(2, inv.Buyer, &buyerLabels)
	}
	w.close(1, "cac:AccountingCustomerParty")
	if inv.SupplyDate != "" {
		w.open(1, "cac:Delivery")
		w.text(2, "cbc:ActualDeliveryDate", "supply date", inv.SupplyDate)
		w.close(1, "cac:Delivery")
	}
	for _, code := range inv.PaymentMeans {
		w.open(1, "cac:PaymentMeans")
		w.text(2, "cbc:PaymentMeansCode", "payment means", code)
		if inv.InstructionNote != "" { // in each: BR-KSA-17 reads every cac:PaymentMeans
			w.text(2, "cbc:InstructionNote", "reason", inv.InstructionNote)
		}
		w.close(1, "cac:PaymentMeans")
	}
	charges := false
	for i := range inv.AllowanceCharges {
		ac := &inv.AllowanceCharges[i]
		w.allowanceCharge(1, inv.DocumentCurrency, &ac.AllowanceCharge, &ac.Category)
		charges = charges || ac.Charge
	}

	// The SDK's order: the VAT total in the tax currency without subtotals
	// (BT-111, QR tag 5), then the one with the breakdown (BT-110, BG-23).
	w.open(1, "cac:TaxTotal")
	vatTotalAt := w.amount(2, "cbc:TaxAmount", inv.TaxCurrency, inv.TaxAmountSAR)
	vatTotal := string(w.b[vatTotalAt : len(w.b)-len("</cbc:TaxAmount>")])
	w.close(1, "cac:TaxTotal")
	w.open(1, "cac:TaxTotal")
	w.amount(2, "cbc:TaxAmount", inv.DocumentCurrency, inv.TaxAmount)
	for i := range inv.Subtotals {
		st := &inv.Subtotals[i]
		w.open(2, "cac:TaxSubtotal")
		w.amount(3, "cbc:TaxableAmount", inv.DocumentCurrency, st.TaxableAmount)
		w.amount(3, "cbc:TaxAmount", inv.DocumentCurrency, st.TaxAmount)
		w.open(3, "cac:TaxCategory")
		w.text(4, "cbc:ID", "VAT category", st.Category.ID)
		w.percent(4, st.Category.Percent)
		if st.Category.ExemptionReasonCode != "" {
			w.text(4, "cbc:TaxExemptionReasonCode", "exemption reason code", st.Category.ExemptionReasonCode)
			w.text(4, "cbc:TaxExemptionReason", "exemption reason", st.Category.ExemptionReason)
		}
		w.vatScheme(4)
		w.close(3, "cac:TaxCategory")
		w.close(2, "cac:TaxSubtotal")
	}
	w.close(1, "cac:TaxTotal")

	t := &inv.Totals
	w.open(1, "cac:LegalMonetaryTotal")
	w.amount(2, "cbc:LineExtensionAmount", inv.DocumentCurrency, t.LineExtensionAmount)
	w.amount(2, "cbc:TaxExclusiveAmount", inv.DocumentCurrency, t.TaxExclusiveAmount)
	w.amount(2, "cbc:TaxInclusiveAmount", inv.DocumentCurrency, t.TaxInclusiveAmount)
	w.amount(2, "cbc:AllowanceTotalAmount", inv.DocumentCurrency, t.AllowanceTotalAmount)
	if charges {
		w.amount(2, "cbc:ChargeTotalAmount", inv.DocumentCurrency, t.ChargeTotalAmount)
	}
	w.amount(2, "cbc:PrepaidAmount", inv.DocumentCurrency, t.PrepaidAmount)
	if !t.PayableRoundingAmount.IsZero() {
		w.amount(2, "cbc:PayableRoundingAmount", inv.DocumentCurrency, t.PayableRoundingAmount)
	}
	payableAt := w.amount(2, "cbc:PayableAmount", inv.DocumentCurrency, t.PayableAmount)
	payable := string(w.b[payableAt : len(w.b)-len("</cbc:PayableAmount>")])
	w.close(1, "cac:LegalMonetaryTotal")

	for i := range inv.Lines {
		w.line(inv.DocumentCurrency, &inv.Lines[i])
	}
	w.raw("\n</Invoice>")
	if w.err != nil {
		return nil, w.err
	}
	return &Rendered{
		Hashed:        w.b[:len(w.b):len(w.b)], // an append by the caller must not write into spare capacity
		extAt:         extAt,
		qrAt:          qrAt,
		sigAt:         sigAt,
		ID:            inv.ID,
		UUID:          inv.UUID,
		SellerName:    inv.Seller.Name,
		SellerVAT:     inv.Seller.VATNumber,
		Timestamp:     inv.Timestamp(),
		PayableAmount: payable,
		VATTotal:      vatTotal,
		Simplified:    inv.Simplified(),
	}, nil
}

// partyLabels name a party's fields in errors.
type partyLabels struct{ id, street, building, district, city, postal, country, vat, name string }

var (
	sellerLabels = partyLabels{"seller ID", "seller street", "seller building number", "seller district", "seller city",
		"seller postal code", "seller country", "seller VAT number", "seller name"}
	buyerLabels = partyLabels{"buyer ID", "buyer street", "buyer building number", "buyer district", "buyer city",
		"buyer postal code", "buyer country", "buyer VAT number", "buyer name"}
)

func (w *ublWriter) party(d int, p *Party, who *partyLabels) {
	w.open(d, "cac:Party")
	if p.ID != "" {
		w.open(d+1, "cac:PartyIdentification")
		w.textAttr(d+2, "cbc:ID", "schemeID", p.IDScheme, who.id, p.ID)
		w.close(d+1, "cac:PartyIdentification")
	}
	if a := p.Address; a != nil {
		w.open(d+1, "cac:PostalAddress")
		w.optText(d+2, "cbc:StreetName", who.street, a.Street)
		w.optText(d+2, "cbc:BuildingNumber", who.building, a.BuildingNumber)
		w.optText(d+2, "cbc:CitySubdivisionName", who.district, a.District)
		w.optText(d+2, "cbc:CityName", who.city, a.City)
		w.optText(d+2, "cbc:PostalZone", who.postal, a.PostalCode)
		if a.Country != "" {
			w.open(d+2, "cac:Country")
			w.text(d+3, "cbc:IdentificationCode", who.country, a.Country)
			w.close(d+2, "cac:Country")
		}
		w.close(d+1, "cac:PostalAddress")
	}
	if p.VATNumber != "" {
		w.open(d+1, "cac:PartyTaxScheme")
		w.text(d+2, "cbc:CompanyID", who.vat, p.VATNumber)
		w.vatScheme(d + 2)
		w.close(d+1, "cac:PartyTaxScheme")
	}
	if p.Name != "" {
		w.open(d+1, "cac:PartyLegalEntity")
		w.text(d+2, "cbc:RegistrationName", who.name, p.Name)
		w.close(d+1, "cac:PartyLegalEntity")
	}
	w.close(d, "cac:Party")
}

func (w *ublWriter) line(currency string, l *Line) {
	w.open(1, "cac:InvoiceLine")
	w.text(2, "cbc:ID", "line ID", l.ID)
	w.indent(2)
	w.raw(`<cbc:InvoicedQuantity unitCode="`)
	w.escAttr("unit code", l.UnitCode)
	w.raw(`">`)
	w.b = appendDecimal(w.b, l.Quantity)
	w.raw("</cbc:InvoicedQuantity>")
	w.amount(2, "cbc:LineExtensionAmount", currency, l.NetAmount)
	for i := range l.AllowanceCharges {
		w.allowanceCharge(2, currency, &l.AllowanceCharges[i], nil)
	}
	w.open(2, "cac:TaxTotal")
	w.amount(3, "cbc:TaxAmount", currency, l.TaxAmount)
	w.amount(3, "cbc:RoundingAmount", currency, l.RoundingAmount)
	w.close(2, "cac:TaxTotal")
	w.open(2, "cac:Item")
	w.text(3, "cbc:Name", "item name", l.Name)
	w.itemID(3, "cac:BuyersItemIdentification", "", "buyer item code", l.BuyerItemID)
	w.itemID(3, "cac:SellersItemIdentification", "", "seller item code", l.SellerItemID)
	// BR-64: a standard identifier names its scheme; 0160 is GS1 GTIN.
	w.itemID(3, "cac:StandardItemIdentification", "0160", "standard item code", l.StandardItemID)
	w.open(3, "cac:ClassifiedTaxCategory")
	w.text(4, "cbc:ID", "VAT category", l.Category.ID)
	w.percent(4, l.Category.Percent)
	w.vatScheme(4)
	w.close(3, "cac:ClassifiedTaxCategory")
	w.close(2, "cac:Item")
	w.open(2, "cac:Price")
	w.price(3, "cbc:PriceAmount", currency, l.Price)
	if !l.PriceDiscount.IsZero() {
		// The price allowance (BG-29): never a charge (BR-KSA-EN16931-06),
		// without reason or percentage.
		w.open(3, "cac:AllowanceCharge")
		w.constText(4, "cbc:ChargeIndicator", "false")
		w.price(4, "cbc:Amount", currency, l.PriceDiscount)
		w.price(4, "cbc:BaseAmount", currency, l.GrossPrice)
		w.close(3, "cac:AllowanceCharge")
	}
	w.close(2, "cac:Price")
	w.close(1, "cac:InvoiceLine")
}

// allowanceCharge writes a cac:AllowanceCharge in UBL's element order; cat
// is the document level's cac:TaxCategory, nil on a line.
func (w *ublWriter) allowanceCharge(d int, currency string, ac *AllowanceCharge, cat *TaxCategory) {
	w.open(d, "cac:AllowanceCharge")
	indicator := "false"
	if ac.Charge {
		indicator = "true"
	}
	w.constText(d+1, "cbc:ChargeIndicator", indicator)
	w.optText(d+1, "cbc:AllowanceChargeReasonCode", "allowance or charge reason code", ac.ReasonCode)
	w.text(d+1, "cbc:AllowanceChargeReason", "allowance or charge reason", ac.Reason)
	if ac.Percent != nil {
		p, err := ac.Percent.Rescale(2)
		if err != nil {
			w.failAmount("allowance or charge percentage", err)
		}
		w.indent(d + 1)
		w.raw("<cbc:MultiplierFactorNumeric>")
		w.b = appendDecimal(w.b, p)
		w.raw("</cbc:MultiplierFactorNumeric>")
	}
	w.amount(d+1, "cbc:Amount", currency, ac.Amount)
	if ac.Percent != nil {
		w.amount(d+1, "cbc:BaseAmount", currency, ac.BaseAmount)
	}
	if cat != nil {
		w.open(d+1, "cac:TaxCategory")
		w.text(d+2, "cbc:ID", "VAT category", cat.ID)
		w.percent(d+2, cat.Percent)
		w.vatScheme(d + 2)
		w.close(d+1, "cac:TaxCategory")
	}
	w.close(d, "cac:AllowanceCharge")
}

// price writes <tag currencyID="…">v</tag> with v's own decimals, at least
// two: unit prices carry up to four.
func (w *ublWriter) price(d int, tag, currency string, v money.Decimal) {
	v, err := v.Rescale(max(v.Scale, 2))
	if err != nil {
		w.failAmount(tag, err)
	}
	w.currencyValue(d, tag, currency, v)
}

func (w *ublWriter) itemID(d int, tag, scheme, field, id string) {
	if id == "" {
		return
	}
	w.open(d, tag)
	if scheme != "" {
		w.textAttr(d+1, "cbc:ID", "schemeID", scheme, field, id)
	} else {
		w.text(d+1, "cbc:ID", field, id)
	}
	w.close(d, tag)
}

func (w *ublWriter) vatScheme(d int) {
	w.open(d, "cac:TaxScheme")
	w.constText(d+1, "cbc:ID", "VAT")
	w.close(d, "cac:TaxScheme")
}

func (w *ublWriter) percent(d int, p money.Decimal) {
	p, err := p.Rescale(2)
	if err != nil {
		w.failAmount("VAT rate", err)
	}
	w.indent(d)
	w.raw("<cbc:Percent>")
	w.b = appendDecimal(w.b, p)
	w.raw("</cbc:Percent>")
}

// ublWriter appends the document to b. The first text that XML cannot
// carry sets err; writing goes on, and Render returns err at the end.
type ublWriter struct {
	b   []byte
	err error
	// currency is the currency last written in a currencyID attribute, and
	// b[currencyAt:currencyEnd] its escaped form: every amount repeats it.
	currency                string
	currencyAt, currencyEnd int
}

// currencyAttr appends the value of a currencyID attribute: the escaped
// currency, copied from where it was last written when it is the same.
func (w *ublWriter) currencyAttr(currency string) {
	if currency == w.currency && w.currencyEnd > 0 {
		w.b = append(w.b, w.b[w.currencyAt:w.currencyEnd]...)
		return
	}
	at := len(w.b)
	w.escAttr("currency", currency)
	w.currency, w.currencyAt, w.currencyEnd = currency, at, len(w.b)
}

// indentation is long enough for the deepest element (depth 5).
const indentation = "\n                        "

func (w *ublWriter) raw(s string) { w.b = append(w.b, s...) }

// indent starts a new line at depth d (four spaces a level).
func (w *ublWriter) indent(d int) { w.b = append(w.b, indentation[:1+4*d]...) }

func (w *ublWriter) open(d int, tag string) {
	w.indent(d)
	w.b = append(w.b, '<')
	w.b = append(w.b, tag...)
	w.b = append(w.b, '>')
}

func (w *ublWriter) close(d int, tag string) {
	w.indent(d)
	w.b = append(w.b, "</"...)
	w.b = append(w.b, tag...)
	w.b = append(w.b, '>')
}

func (w *ublWriter) endTag(tag string) {
	w.b = append(w.b, "</"...)
	w.b = append(w.b, tag...)
	w.b = append(w.b, '>')
}

// constText writes <tag>s</tag> on a new line at depth d for a constant s
// of the package's own, which needs no escaping or check.
func (w *ublWriter) constText(d int, tag, s string) {
	w.open(d, tag)
	w.b = append(w.b, s...)
	w.endTag(tag)
}

// text writes <tag>s</tag> on a new line at depth d; field names s in an
// error.
func (w *ublWriter) text(d int, tag, field, s string) {
	w.open(d, tag)
	w.escText(field, s)
	w.endTag(tag)
}

func (w *ublWriter) optText(d int, tag, field, s string) {
	if s != "" {
		w.text(d, tag, field, s)
	}
}

// textAttr writes <tag attr="val">s</tag>.
func (w *ublWriter) textAttr(d int, tag, attr, val, field, s string) {
	w.indent(d)
	w.b = append(w.b, '<')
	w.b = append(w.b, tag...)
	w.b = append(w.b, ' ')
	w.b = append(w.b, attr...)
	w.b = append(w.b, `="`...)
	w.escAttr(field, val)
	w.b = append(w.b, `">`...)
	w.escText(field, s)
	w.endTag(tag)
}

// amount writes <tag currencyID="…">v</tag> with two decimals and returns
// the offset of the value's first byte.
func (w *ublWriter) amount(d int, tag, currency string, v money.Decimal) int {
	v, err := v.Rescale(2)
	if err != nil {
		w.failAmount(tag, err)
	}
	return w.currencyValue(d, tag, currency, v)
}

// currencyValue writes <tag currencyID="…">v</tag> with v's decimals and
// returns the offset of the value's first byte.
func (w *ublWriter) currencyValue(d int, tag, currency string, v money.Decimal) int {
	w.indent(d)
	w.b = append(w.b, '<')
	w.b = append(w.b, tag...)
	w.b = append(w.b, ` currencyID="`...)
	w.currencyAttr(currency)
	w.b = append(w.b, `">`...)
	at := len(w.b)
	w.b = appendDecimal(w.b, v)
	w.endTag(tag)
	return at
}

// escText appends s, one line of text, as C14N writes character data.
func (w *ublWriter) escText(field, s string) { w.escape(field, s, textEscape, textpolicy.SingleLine) }

// escAttr appends s as C14N writes an attribute value.
func (w *ublWriter) escAttr(field, s string) { w.escape(field, s, attrEscape, textpolicy.SingleLine) }

// textEscape and attrEscape are C14N's replacements of ASCII bytes in
// character data and in attribute values; "" keeps the byte as it is.
func textEscape(c byte) string {
	switch c {
	case '&':
		return "&amp;"
	case '<':
		return "&lt;"
	case '>':
		return "&gt;"
	case '\r':
		return "&#xD;"
	}
	return ""
}

func attrEscape(c byte) string {
	switch c {
	case '&':
		return "&amp;"
	case '<':
		return "&lt;"
	case '"':
		return "&quot;"
	case '\t':
		return "&#x9;"
	case '\n':
		return "&#xA;"
	case '\r':
		return "&#xD;"
	}
	return ""
}

// escape appends s with replace applied, and records a failure for text
// the document may not carry: what the character policy of documents
// refuses (package textpolicy, which the sale decoder applies too), and,
// as a last guard, what XML cannot carry — invalid UTF-8, non-characters,
// and control bytes other than tab and line feed that replace leaves alone.
func (w *ublWriter) escape(field, s string, replace func(byte) string, lines textpolicy.Lines) {
	if p := textpolicy.Check(s, lines); p != nil && w.err == nil {
		w.err = fmt.Errorf("zatca: the %s %s", field, p.Rule)
	}
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if !isXMLChar(r) || r == utf8.RuneError && size == 1 {
				w.fail(field, s[i:i+size])
			}
			i += size
			continue
		}
		esc := replace(c)
		if esc == "" {
			if c < 0x20 && c != '\t' && c != '\n' {
				w.fail(field, s[i:i+1])
			}
			i++
			continue
		}
		w.b = append(w.b, s[start:i]...)
		w.b = append(w.b, esc...)
		i++
		start = i
	}
	w.b = append(w.b, s[start:]...)
}

// failAmount records an amount that cannot be written as it is. check
// refuses every such amount before writing starts; this keeps a missed
// case from writing a wrong number.
func (w *ublWriter) failAmount(what string, err error) {
	if w.err == nil {
		w.err = fmt.Errorf("zatca: the %s cannot be written with two decimals: %w", what, err)
	}
}

func (w *ublWriter) fail(field, bad string) {
	if w.err != nil {
		return
	}
	if r, size := utf8.DecodeRuneInString(bad); r == utf8.RuneError && size <= 1 {
		w.err = fmt.Errorf("zatca: the %s is not valid UTF-8", field)
		return
	}
	w.err = fmt.Errorf("zatca: the %s contains %U, which XML cannot carry", field, []rune(bad)[0])
}

// isXMLChar reports whether XML 1.0 allows r in a document (production 2).
func isXMLChar(r rune) bool {
	switch {
	case r == 0x9 || r == 0xA || r == 0xD:
		return true
	case r < 0x20:
		return false
	case r <= 0xD7FF:
		return true
	case r < 0xE000:
		return false
	case r <= 0xFFFD:
		return true
	case r < 0x10000:
		return false
	}
	return r <= utf8.MaxRune
}

// appendDecimal appends d with exactly its scale of decimals, like
// money.Decimal.String but without allocating.
func appendDecimal(b []byte, d money.Decimal) []byte {
	scale := int(d.Scale)
	if scale > 20 {
		return append(b, d.String()...)
	}
	u := uint64(d.Coef)
	if d.Coef < 0 {
		b = append(b, '-')
		u = -u
	}
	var buf [48]byte
	i := len(buf)
	for n := 0; n < scale; n++ {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
	}
	if scale > 0 {
		i--
		buf[i] = '.'
	}
	for {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	return append(b, buf[i:]...)
}

// sizeHint is a little more than the length of inv's hashed form, so that
// Render allocates its buffer once.
func (inv *Invoice) sizeHint() int {
	n := 4400 + len(inv.Note) + len(inv.BillingReference) + len(inv.InstructionNote) + inv.Seller.textLen() + 200*len(inv.Subtotals)
	if inv.Buyer != nil {
		n += inv.Buyer.textLen()
	}
	for i := range inv.AllowanceCharges {
		n += 700 + len(inv.AllowanceCharges[i].Reason)
	}
	for i := range inv.Lines {
		l := &inv.Lines[i]
		n += 900 + len(l.Name) + len(l.BuyerItemID) + len(l.SellerItemID) + len(l.StandardItemID)
		if !l.PriceDiscount.IsZero() {
			n += 300
		}
		for j := range l.AllowanceCharges {
			n += 450 + len(l.AllowanceCharges[j].Reason)
		}
	}
	return n + n/32 // room for escapes
}

func (p *Party) textLen() int {
	n := len(p.Name) + len(p.VATNumber) + len(p.ID)
	if a := p.Address; a != nil {
		n += len(a.Street) + len(a.BuildingNumber) + len(a.District) + len(a.City) + len(a.PostalCode)
	}
	return n
}

// check verifies that inv is complete and that its totals add up exactly.
// It allocates only to report a problem.
func (inv *Invoice) check() error {
	var c modelCheck
	switch inv.TypeCode {
	case TypeInvoice, TypeCreditNote, TypeDebitNote:
	default:
		c.failf("type code %q is not 388, 381 or 383", inv.TypeCode)
	}
	if inv.TypeName != TypeNameStandard && inv.TypeName != TypeNameSimplified {
		c.failf("transaction code %q is not %s or %s", inv.TypeName, TypeNameStandard, TypeNameSimplified)
	}
	if inv.ID == "" {
		c.failf("the invoice number is empty")
	}
	if !isUUIDText(inv.UUID) {
		c.failf("UUID %q must be letters, digits and dashes (BR-KSA-03)", inv.UUID)
	}
	if !isDate(inv.IssueDate) {
		c.failf("issue date %q is not YYYY-MM-DD", inv.IssueDate)
	}
	if !isClock(inv.IssueTime) {
		c.failf("issue time %q is not hh:mm:ss", inv.IssueTime)
	}
	if inv.SupplyDate != "" && !isDate(inv.SupplyDate) {
		c.failf("supply date %q is not YYYY-MM-DD", inv.SupplyDate)
	}
	if inv.PIH == "" {
		c.failf("the previous invoice hash is empty")
	}
	if inv.TaxCurrency != sar {
		c.failf("tax currency %q must be SAR (BR-KSA-EN16931-02)", inv.TaxCurrency)
	}
	if len(inv.DocumentCurrency) != 3 {
		c.failf("document currency %q is not an ISO 4217 code", inv.DocumentCurrency)
	}
	if inv.TypeCode.IsNote() {
		if inv.BillingReference == "" {
			c.failf("a %s note needs the original document (BR-KSA-56)", inv.TypeCode)
		}
		if inv.InstructionNote == "" {
			c.failf("a %s note needs a reason (BR-KSA-17)", inv.TypeCode)
		}
		if len(inv.PaymentMeans) == 0 {
			c.failf("a %s note needs a payment means to carry its reason", inv.TypeCode)
		}
	} else if inv.BillingReference != "" || inv.InstructionNote != "" {
		c.failf("an invoice has no billing reference or reason")
	}
	if inv.Seller.Name == "" || inv.Seller.VATNumber == "" {
		c.failf("the seller needs a name and a VAT number")
	}
	if len(inv.Lines) == 0 {
		c.failf("the document has no lines")
	}

	// Each VAT breakdown's taxable amount is rebuilt from what falls in it:
	// its lines' net amounts, plus its charges, less its allowances.
	var sumsArray [8]money.Decimal
	sums := sumsArray[:0]
	if len(inv.Subtotals) > len(sumsArray) {
		sums = make([]money.Decimal, 0, len(inv.Subtotals))
	}
	sums = sums[:len(inv.Subtotals)]
	var net money.Decimal
	for i := range inv.Lines {
		l, n := &inv.Lines[i], i+1
		c.amount("line net amount", n, l.NetAmount)
		c.amount("line VAT", n, l.TaxAmount)
		c.amount("line amount with VAT", n, l.RoundingAmount)
		c.equal("line amount with VAT (BR-KSA-51)", n, l.RoundingAmount, c.add("line amount with VAT", n, l.NetAmount, l.TaxAmount))
		c.category("line", n, &l.Category)
		if l.Quantity.Sign() < 0 || l.Price.Sign() < 0 {
			c.failf("line %d: quantity and price must not be negative (BR-KSA-F-04)", n)
		}
		if _, err := l.Price.Rescale(max(l.Price.Scale, 2)); err != nil {
			c.failf("line %d: price %s: %v", n, l.Price, err)
		}
		if l.ID == "" || l.Name == "" || l.UnitCode == "" {
			c.failf("line %d needs an ID, a name and a unit code", n)
		}
		c.lineAmounts(n, l)
		if k := c.subtotalOf("line", n, inv.Subtotals, &l.Category); k >= 0 {
			sums[k] = c.add("VAT breakdown taxable amount", k+1, sums[k], l.NetAmount)
		}
		net = c.add("line net amounts", 0, net, l.NetAmount)
	}
	var allowances, charges money.Decimal
	for i := range inv.AllowanceCharges {
		ac, n := &inv.AllowanceCharges[i], i+1
		c.allowanceCharge(n, 0, &ac.AllowanceCharge)
		c.category("document allowance or charge", n, &ac.Category)
		k := c.subtotalOf("document allowance or charge", n, inv.Subtotals, &ac.Category)
		if ac.Charge {
			charges = c.add("document charges", 0, charges, ac.Amount)
			if k >= 0 {
				sums[k] = c.add("VAT breakdown taxable amount", k+1, sums[k], ac.Amount)
			}
		} else {
			allowances = c.add("document allowances", 0, allowances, ac.Amount)
			if k >= 0 {
				sums[k] = c.sub("VAT breakdown taxable amount", sums[k], ac.Amount)
			}
		}
	}
	var vat money.Decimal
	for i := range inv.Subtotals {
		st, n := &inv.Subtotals[i], i+1
		c.amount("VAT breakdown taxable amount", n, st.TaxableAmount)
		c.amount("VAT breakdown VAT", n, st.TaxAmount)
		c.category("VAT breakdown", n, &st.Category)
		if (st.Category.ExemptionReasonCode == "") != (st.Category.ExemptionReason == "") {
			c.failf("VAT breakdown %d needs both an exemption reason code and its text, or neither", n)
		}
		c.equal("VAT breakdown taxable amount (BR-S-08, BR-Z-08, BR-E-08, BR-O-08: lines + charges − allowances)", n, st.TaxableAmount, sums[i])
		if want, err := percentOf(st.TaxableAmount, st.Category.Percent); err != nil {
			c.failf("VAT breakdown %d: %v", n, err)
		} else {
			c.equal("VAT breakdown VAT (BR-CO-17, rounded once)", n, st.TaxAmount, want)
		}
		vat = c.add("VAT breakdown", 0, vat, st.TaxAmount)
	}
	if len(inv.Subtotals) == 0 {
		c.failf("the document has no VAT breakdown")
	}
	t := &inv.Totals
	c.amount("VAT total", 0, inv.TaxAmount)
	c.amount("VAT total in SAR", 0, inv.TaxAmountSAR)
	c.amount("line extension amount", 0, t.LineExtensionAmount)
	c.amount("tax exclusive amount", 0, t.TaxExclusiveAmount)
	c.amount("tax inclusive amount", 0, t.TaxInclusiveAmount)
	c.amount("allowance total", 0, t.AllowanceTotalAmount)
	c.amount("charge total", 0, t.ChargeTotalAmount)
	c.amount("prepaid amount", 0, t.PrepaidAmount)
	c.signedAmount("payable rounding amount", t.PayableRoundingAmount)
	c.amount("payable amount", 0, t.PayableAmount)
	c.equal("VAT total (BR-CO-14)", 0, inv.TaxAmount, vat)
	if inv.DocumentCurrency == inv.TaxCurrency {
		c.equal("VAT total in SAR", 0, inv.TaxAmountSAR, inv.TaxAmount)
	}
	c.equal("line extension amount (BR-CO-10)", 0, t.LineExtensionAmount, net)
	c.equal("allowance total (BR-CO-11)", 0, t.AllowanceTotalAmount, allowances)
	c.equal("charge total (BR-CO-12)", 0, t.ChargeTotalAmount, charges)
	c.equal("tax exclusive amount (BR-CO-13)", 0, t.TaxExclusiveAmount,
		c.add("tax exclusive amount", 0, c.sub("tax exclusive amount", t.LineExtensionAmount, t.AllowanceTotalAmount), t.ChargeTotalAmount))
	c.equal("tax inclusive amount (BR-CO-15)", 0, t.TaxInclusiveAmount, c.add("tax inclusive amount", 0, t.TaxExclusiveAmount, inv.TaxAmount))
	c.equal("payable amount (BR-CO-16)", 0, t.PayableAmount,
		c.add("payable amount", 0, c.sub("payable amount", t.TaxInclusiveAmount, t.PrepaidAmount), t.PayableRoundingAmount))

	if len(c.errs) > 0 {
		return fmt.Errorf("zatca: cannot render document %s: %w", inv.ID, errors.Join(c.errs...))
	}
	return nil
}

// modelCheck collects the problems check finds. A label with a number n > 0
// names the n-th line or breakdown.
type modelCheck struct{ errs []error }

func (c *modelCheck) failf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

func label(what string, n int) string {
	if n == 0 {
		return what
	}
	return fmt.Sprintf("%s %d", what, n)
}

func (c *modelCheck) add(what string, n int, a, b money.Decimal) money.Decimal {
	s, err := money.Add(a, b)
	if err != nil {
		c.failf("%s: %v", label(what, n), err)
	}
	return s
}

func (c *modelCheck) sub(what string, a, b money.Decimal) money.Decimal {
	s, err := money.Sub(a, b)
	if err != nil {
		c.failf("%s: %v", what, err)
	}
	return s
}

func (c *modelCheck) equal(what string, n int, got, want money.Decimal) {
	if money.Cmp(got, want) != 0 {
		c.failf("%s is %s, want %s", label(what, n), got, want)
	}
}

// amount checks a monetary amount: at most two decimals, not negative.
func (c *modelCheck) amount(what string, n int, v money.Decimal) {
	if v.Scale > 2 {
		c.failf("%s %s has more than two decimals", label(what, n), v)
	} else if _, err := v.Rescale(2); err != nil {
		c.failf("%s %s: %v", label(what, n), v, err)
	}
	if v.Sign() < 0 {
		c.failf("%s %s is negative (BR-KSA-F-04)", label(what, n), v)
	}
}

func (c *modelCheck) category(what string, n int, tc *TaxCategory) {
	if tc.Percent.Scale > 2 || tc.Percent.Sign() < 0 || money.Cmp(tc.Percent, hundredPercent) > 0 {
		c.failf("%s rate %s must be 0.00 to 100.00 with at most two decimals (BR-KSA-DEC-02)", label(what, n), tc.Percent)
	}
	switch tc.ID {
	case "S":
		if tc.Percent.Sign() <= 0 {
			c.failf("%s: category S needs a rate above zero (BR-S-05, BR-S-06, BR-S-07)", label(what, n))
		}
	case "Z", "E", "O":
		if !tc.Percent.IsZero() {
			c.failf("%s: category %s must have rate 0 (BR-Z-05, BR-E-05, BR-KSA-11 and their allowance and charge rules)", label(what, n), tc.ID)
		}
	case "":
		c.failf("%s has no VAT category", label(what, n))
	default:
		c.failf("%s: VAT category %q is not S, Z, E or O", label(what, n), tc.ID)
	}
}

// signedAmount checks an amount that may be negative: at most two decimals.
func (c *modelCheck) signedAmount(what string, v money.Decimal) {
	if _, err := v.Rescale(2); err != nil || v.Scale > 2 {
		c.failf("%s %s must have at most two decimals", what, v)
	}
}

// subtotalOf is the index of the VAT breakdown of category tc, or -1,
// reported, when there is none (BR-S-01, BR-Z-01, BR-E-01, BR-O-01).
func (c *modelCheck) subtotalOf(what string, n int, subtotals []TaxSubtotal, tc *TaxCategory) int {
	for k := range subtotals {
		sc := &subtotals[k].Category
		if sc.ID == tc.ID && money.Cmp(sc.Percent, tc.Percent) == 0 && sc.ExemptionReasonCode == tc.ExemptionReasonCode {
			return k
		}
	}
	c.failf("%s: VAT category %s %s%% %s has no VAT breakdown (BR-S-01, BR-Z-01, BR-E-01, BR-O-01)", label(what, n), tc.ID, tc.Percent, tc.ExemptionReasonCode)
	return -1
}

// lineAmounts checks a line's price allowance (BR-KSA-EN16931-07), its
// allowances and charges, and its net amount: quantity × net price rounded
// half-up to two decimals, less allowances, plus charges
// (BR-KSA-EN16931-11, which ZATCA checks to the cent).
func (c *modelCheck) lineAmounts(n int, l *Line) {
	if !l.PriceDiscount.IsZero() {
		if l.PriceDiscount.Sign() < 0 || l.GrossPrice.Sign() < 0 {
			c.failf("line %d: the price allowance %s and gross price %s must not be negative (BR-KSA-F-04)", n, l.PriceDiscount, l.GrossPrice)
		}
		for _, p := range [2]money.Decimal{l.PriceDiscount, l.GrossPrice} {
			if _, err := p.Rescale(max(p.Scale, 2)); err != nil {
				c.failf("line %d: price %s: %v", n, p, err)
			}
		}
		if gross, err := money.Sub(l.GrossPrice, l.PriceDiscount); err != nil || money.Cmp(gross, l.Price) != 0 {
			c.failf("line %d: net price %s is not the gross price %s less the price allowance %s (BR-KSA-EN16931-07)", n, l.Price, l.GrossPrice, l.PriceDiscount)
		}
	}
	base, err := money.MulRound(l.Quantity, l.Price, 2)
	if err != nil {
		c.failf("line %d: quantity × price: %v", n, err)
		return
	}
	lineNet := base
	for j := range l.AllowanceCharges {
		ac := &l.AllowanceCharges[j]
		c.allowanceCharge(n, j+1, ac)
		if ac.Percent != nil && money.Cmp(ac.BaseAmount, base) != 0 {
			c.failf("line %d: the base amount %s of allowance or charge %d is not the line's quantity × price, %s", n, ac.BaseAmount, j+1, base)
		}
		if ac.Charge {
			lineNet = c.add("line net amount", n, lineNet, ac.Amount)
		} else {
			lineNet = c.sub("line net amount", lineNet, ac.Amount)
		}
	}
	c.equal("line net amount (BR-KSA-EN16931-11: quantity × price − allowances + charges)", n, l.NetAmount, lineNet)
}

// allowanceCharge checks one allowance or charge, the j-th of line n (j >
// 0) or the n-th of the document (j = 0): a reason (and, for a charge, a
// reason code: BR-KSA-19, BR-KSA-20), an amount of two decimals, and for a
// percentage the amount it gives (BR-KSA-EN16931-03).
func (c *modelCheck) allowanceCharge(n, j int, ac *AllowanceCharge) {
	where := func() string {
		if j == 0 {
			return fmt.Sprintf("document allowance or charge %d", n)
		}
		return fmt.Sprintf("line %d allowance or charge %d", n, j)
	}
	if ac.Reason == "" {
		c.failf("%s needs a reason (BR-KSA-21, BR-KSA-22, BR-KSA-F-06-C33 to C36)", where())
	}
	if ac.Charge && ac.ReasonCode == "" {
		c.failf("%s: a charge needs a reason code (BR-KSA-19, BR-KSA-20)", where())
	}
	if !isAmount(ac.Amount) {
		c.failf("%s: amount %s must not be negative and have at most two decimals (BR-KSA-F-04, BR-DEC-01)", where(), ac.Amount)
	}
	if ac.Percent == nil {
		return
	}
	p := *ac.Percent
	if p.Scale > 2 || p.Sign() < 0 || money.Cmp(p, hundredPercent) > 0 {
		c.failf("%s: percentage %s must be 0.00 to 100.00 with at most two decimals (BR-KSA-DEC-01)", where(), p)
		return
	}
	if !isAmount(ac.BaseAmount) {
		c.failf("%s: base amount %s must not be negative and have at most two decimals (BR-DEC-02)", where(), ac.BaseAmount)
	}
	if want, err := percentOf(ac.BaseAmount, p); err != nil || money.Cmp(ac.Amount, want) != 0 {
		c.failf("%s: amount %s is not %s%% of %s rounded half-up (BR-KSA-EN16931-03)", where(), ac.Amount, p, ac.BaseAmount)
	}
}

// isAmount reports whether v can be written as an amount: not negative,
// two decimals.
func isAmount(v money.Decimal) bool {
	if v.Scale > 2 || v.Sign() < 0 {
		return false
	}
	_, err := v.Rescale(2)
	return err == nil
}

// percentOf is amount × percent / 100 rounded half-up to two decimals.
func percentOf(amount, percent money.Decimal) (money.Decimal, error) {
	return money.MulRound(amount, money.Decimal{Coef: percent.Coef, Scale: percent.Scale + 2}, 2)
}

var hundredPercent = money.Decimal{Coef: 100}

func isUUIDText(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// isDate reports whether s looks like YYYY-MM-DD.
func isDate(s string) bool { return matchDigits(s, "dddd-dd-dd") }

// isClock reports whether s looks like hh:mm:ss.
func isClock(s string) bool { return matchDigits(s, "dd:dd:dd") }

// matchDigits matches s against pattern, where 'd' is any ASCII digit and
// every other byte stands for itself.
func matchDigits(s, pattern string) bool {
	if len(s) != len(pattern) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if pattern[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != pattern[i] {
			return false
		}
	}
	return true
}

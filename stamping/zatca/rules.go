package zatca

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/textpolicy"
)

// Validate applies the ZATCA rules that the device can check before it
// stamps (spec/zatca.md §6.3–6.5): the seller's registration data, the
// buyer of a standard invoice, credit and debit note references, VAT
// categories, rates and exemption reasons, and the currency. It returns
// sale.Errors naming each field ("seller.vat_number",
// "buyer.address.postal_code", "lines[1].exemption_reason") with the rule
// and its ZATCA id. Seller problems are the unit's configuration, not the
// sale's, but they are reported the same way so that nothing is stamped
// with them.
//
// Rules that ZATCA flags only as warnings but that catch a typo are
// enforced too (ID formats BR-KSA-F-07…F-11, address formats, one reason
// per exempt category): a document is frozen once issued, so a warning
// found by the authority can only be fixed with a credit note.
func Validate(s *sale.Sale, seller stamping.Seller, opts Options) error {
	var errs sale.Errors
	validateSeller(&errs, seller)

	if c := opts.currency(); c != sar {
		errs.Add("currency", "this unit is configured for %s, but only SAR is supported: documents in other currencies need an exchange rate and a VAT total in SAR (BR-KSA-68, BR-KSA-97), which egsd does not provide yet", c)
	} else if s.Currency != sar {
		errs.Add("currency", "must be SAR: this unit issues ZATCA documents in SAR only (other currencies need an exchange rate, which egsd does not support yet)")
	}

	switch s.Kind {
	case sale.Invoice, sale.CreditNote, sale.DebitNote:
	default:
		errs.Add("kind", `must be one of "invoice", "credit_note", "debit_note"`)
	}
	if s.Kind.IsNote() {
		if s.Original == "" {
			errs.Add("original", "is required for a %s: the number of the invoice it corrects (BR-KSA-56)", s.Kind)
		} else if n := utf8.RuneCountInString(s.Original); n > 5000 {
			errs.Add("original", "is %d characters long; ZATCA accepts at most 5000 (BR-KSA-F-06-C22)", n)
		}
		if s.ReasonCode != "" {
			errs.Add("reason_code", "is not part of a ZATCA note, which carries its reason as text only (KSA-10); leave it out")
		}
		if s.Reason == "" {
			errs.Add("reason", "is required for a %s: why it was issued (BR-KSA-17)", s.Kind)
		} else if n := utf8.RuneCountInString(s.Reason); n > 1000 {
			errs.Add("reason", "is %d characters long; ZATCA accepts at most 1000 (BR-KSA-F-06-C13)", n)
		}
	}

	standard := IsStandard(s.Buyer)
	validateBuyer(&errs, s.Buyer, seller, standard)

	for i, p := range s.Payments {
		if _, ok := paymentMeansCodes[p.Means]; !ok {
			errs.Add(fmt.Sprintf("payments[%d].means", i), `must be one of "cash", "card", "bank_transfer", "credit", "mobile_money", "other"`)
		}
	}

	if len(s.Lines) == 0 {
		errs.Add("lines", "must have at least one line")
	}
	firstReason := map[sale.VATCategory]int{} // category → first line with it
	for i := range s.Lines {
		validateLine(&errs, s, i, opts, firstReason)
		validateLineAdjustments(&errs, fmt.Sprintf("lines[%d]", i), &s.Lines[i])
	}
	reasons := make(map[sale.VATCategory]reasonSource, len(firstReason))
	for c, i := range firstReason {
		reasons[c] = reasonSource{reason: s.Lines[i].ExemptionReason, field: fmt.Sprintf("lines[%d]", i), line: true}
	}
	if len(s.Discounts)+len(s.Charges) > sale.MaxDocumentAdjustments {
		errs.Add("discounts", "and charges must be at most %d together", sale.MaxDocumentAdjustments)
	}
	validateDocumentAdjustments(&errs, s, opts, reasons)

	// Education and healthcare to citizens: the first line, or document
	// discount or charge, with VATEX-SA-EDU or -HEA.
	citizen, reason := "", ""
	for i := range s.Lines {
		if r := s.Lines[i].ExemptionReason; r == "VATEX-SA-EDU" || r == "VATEX-SA-HEA" {
			citizen, reason = fmt.Sprintf("lines[%d]", i), r
			break
		}
	}
	for _, src := range reasons {
		if citizen == "" && (src.reason == "VATEX-SA-EDU" || src.reason == "VATEX-SA-HEA") {
			citizen, reason = src.field, src.reason
		}
	}
	if citizen != "" {
		b := s.Buyer
		switch {
		case b == nil:
			errs.Add("buyer", "is required for %s's %s: the citizen's name and national ID (scheme NAT) (BR-KSA-25, BR-KSA-49)", citizen, reason)
		default:
			if b.Name == "" {
				errs.Add("buyer.name", "is required for %s's %s (BR-KSA-25)", citizen, reason)
			}
			if b.IDScheme != "NAT" || b.ID == "" {
				errs.Add("buyer.id_scheme", "must be NAT with the citizen's national ID in buyer.id for %s's %s (BR-KSA-49)", citizen, reason)
			}
		}
	}

	// The totals and their limits, once each line's own rules hold (the
	// totals check repeats those and would name them twice).
	if len(s.Lines) > 0 && len(errs) == 0 {
		if _, err := sale.ComputeTotals(s); err != nil {
			errs.Include("lines", err)
		}
	}
	return errs.Err()
}

func validateSeller(errs *sale.Errors, s stamping.Seller) {
	name := SellerName(s)
	switch {
	case strings.TrimSpace(name) == "":
		errs.Add("seller.name", "is required: the seller's registered name (BT-27)")
	case len(name) > 255:
		errs.Add("seller.name", "is %d bytes as written (%q); the QR code holds at most 255 bytes (spec/zatca.md §3.1): shorten the name or the local name", len(name), name)
	}
	// The configuration's texts go into every document: the same
	// character policy as a sale's (the XML writer refuses the rest).
	for _, f := range []struct{ field, v string }{
		{"seller.name", s.Name}, {"seller.name_local", s.NameLocal}, {"seller.address.street", s.Address.Street},
		{"seller.address.district", s.Address.District}, {"seller.address.city", s.Address.City},
	} {
		if strings.TrimSpace(f.v) == "" {
			continue // blank: the rules below say whether it is required
		}
		if p := textpolicy.Check(f.v, textpolicy.SingleLine); p != nil {
			errs.Add(f.field, "%s (the unit's configuration)", p.Rule)
		}
	}
	if !isVATNumber(s.VATNumber) {
		errs.Add("seller.vat_number", "must be 15 digits that begin and end with 3 (BR-KSA-39, BR-KSA-40)")
	}
	switch s.IDScheme {
	case "CRN", "MOM", "MLS", "SAG", "OTH", "700":
		if s.ID == "" {
			errs.Add("seller.id", "is required: the seller's %s (BR-KSA-08)", s.IDScheme)
		} else {
			checkPartyID(errs, "seller.id", s.IDScheme, s.ID)
		}
	case "":
		errs.Add("seller.id_scheme", "is required: CRN (commercial registration), MOM, MLS, SAG, OTH or 700, with the number in seller.id (BR-KSA-08)")
	default:
		errs.Add("seller.id_scheme", "%q must be one of CRN, MOM, MLS, SAG, OTH, 700 (BR-KSA-08)", s.IDScheme)
	}
	// BR-KSA-09, -37, -66 and the field limits BR-KSA-F-06-C4/C7/C9.
	a := s.Address
	checkLength(errs, "seller.address.street", a.Street, 1000, "BR-KSA-09")
	if !isDigits(a.BuildingNumber, 4) {
		errs.Add("seller.address.building_number", "must be 4 digits (BR-KSA-37)")
	}
	checkLength(errs, "seller.address.district", a.District, 127, "BR-KSA-09")
	checkLength(errs, "seller.address.city", a.City, 127, "BR-KSA-09")
	if !isDigits(a.PostalCode, 5) {
		errs.Add("seller.address.postal_code", "must be 5 digits (BR-KSA-66)")
	}
	if !isCountryCode(a.Country) {
		errs.Add("seller.address.country", "must be a two-letter ISO 3166-1 code such as SA (BR-KSA-09)")
	}
}

// buyerSchemes are the buyer ID schemes of BR-KSA-14.
var buyerSchemes = []string{"TIN", "CRN", "MOM", "MLS", "700", "SAG", "NAT", "GCC", "IQA", "PAS", "OTH"}

func validateBuyer(errs *sale.Errors, b *sale.Buyer, seller stamping.Seller, standard bool) {
	if b == nil {
		return
	}
	if b.VATNumber != "" {
		if !isVATNumber(b.VATNumber) {
			errs.Add("buyer.vat_number", "must be 15 digits that begin and end with 3 (BR-KSA-44); a buyer without a Saudi VAT number gives buyer.id_scheme and buyer.id instead")
		} else if b.VATNumber == seller.VATNumber {
			errs.Add("buyer.vat_number", "must differ from the seller's VAT number (BR-CUSTOM-VALIDATION-01)")
		}
	}
	if b.ID != "" || b.IDScheme != "" {
		switch {
		case !slices.Contains(buyerSchemes, b.IDScheme):
			errs.Add("buyer.id_scheme", "%q must be one of %s (BR-KSA-14)", b.IDScheme, strings.Join(buyerSchemes, ", "))
		case b.ID == "":
			errs.Add("buyer.id", "is required with buyer.id_scheme (BR-KSA-14)")
		default:
			checkPartyID(errs, "buyer.id", b.IDScheme, b.ID)
		}
	}
	if n := utf8.RuneCountInString(b.Name); n > 1000 {
		errs.Add("buyer.name", "is %d characters long; ZATCA accepts at most 1000 (BR-KSA-F-06-C12)", n)
	}
	if !standard {
		return
	}
	// A standard tax invoice or note (BR-KSA-42, -10, -63, -67).
	if b.Name == "" {
		errs.Add("buyer.name", "is required on a tax invoice (a buyer with a VAT number or business ID) (BR-KSA-42)")
	}
	a := b.Address
	if a == nil {
		errs.Add("buyer.address", "is required on a tax invoice (a buyer with a VAT number or business ID): street, building number, district, city, postal code and country (BR-KSA-63, BR-KSA-10)")
		return
	}
	checkLength(errs, "buyer.address.street", a.Street, 1000, "BR-KSA-10, BR-KSA-63")
	checkLength(errs, "buyer.address.city", a.City, 127, "BR-KSA-10, BR-KSA-63")
	if !isCountryCode(a.Country) {
		errs.Add("buyer.address.country", "is required on a tax invoice: a two-letter ISO 3166-1 code such as SA (BR-KSA-10)")
	}
	if a.Country != "SA" {
		return
	}
	// A Saudi national address (BR-KSA-63, BR-KSA-67).
	if !isDigits(a.BuildingNumber, 4) {
		errs.Add("buyer.address.building_number", "must be 4 digits for a Saudi address (BR-KSA-63)")
	}
	checkLength(errs, "buyer.address.district", a.District, 127, "BR-KSA-63")
	if !isDigits(a.PostalCode, 5) {
		errs.Add("buyer.address.postal_code", "must be 5 digits for a Saudi address (BR-KSA-67)")
	}
}

// checkPartyID checks an identification's characters (BR-KSA-08, -14) and,
// for the schemes ZATCA knows the form of, its format (BR-KSA-F-07…F-11).
func checkPartyID(errs *sale.Errors, field, scheme, id string) {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			errs.Add(field, "must contain only letters and digits (BR-KSA-08, BR-KSA-14)")
			return
		}
	}
	var first byte
	var rule string
	switch scheme {
	case "CRN":
		rule = "BR-KSA-F-08"
	case "700":
		first, rule = '7', "BR-KSA-F-09"
	case "TIN":
		first, rule = '3', "BR-KSA-F-07"
	case "NAT":
		first, rule = '1', "BR-KSA-F-10"
	case "IQA":
		first, rule = '2', "BR-KSA-F-11"
	default:
		return
	}
	if !isDigits(id, 10) || first != 0 && id[0] != first {
		if first != 0 {
			errs.Add(field, "a %s must be 10 digits beginning with %c (%s)", scheme, first, rule)
		} else {
			errs.Add(field, "a %s must be 10 digits (%s)", scheme, rule)
		}
	}
}

var (
	rate5  = money.MustParse("5")
	rate15 = money.MustParse("15")
)

func validateLine(errs *sale.Errors, s *sale.Sale, i int, opts Options, firstReason map[sale.VATCategory]int) {
	l := &s.Lines[i]
	path := fmt.Sprintf("lines[%d]", i)
	if l.Name == "" {
		errs.Add(path+".name", "is required")
	}
	if l.Quantity.Sign() <= 0 {
		errs.Add(path+".quantity", "must be greater than zero (BR-KSA-F-04; a return is a credit note with positive quantities)")
	}
	if l.UnitPrice.Sign() < 0 {
		errs.Add(path+".unit_price", "must not be negative (BR-KSA-F-04; a refund is a credit note with positive prices)")
	}
	// Fields of other regimes' item registers: a ZATCA document has no
	// place for them, and what a unit accepts it must carry.
	for _, f := range []struct{ name, v string }{
		{"item_class", l.ItemClass}, {"packaging_unit", l.PackagingUnit}, {"quantity_unit", l.QuantityUnit}, {"item_code", l.ItemCode},
	} {
		if f.v != "" {
			errs.Add(path+"."+f.name, "is a Kenyan (eTIMS) item field that a ZATCA document cannot carry; leave it out (the seller's own code goes in seller_code)")
		}
	}
	if c := l.StandardCode; c != "" && !isGTIN(c) {
		errs.Add(path+".standard_code", "must be a GTIN of 8, 12, 13 or 14 digits: ZATCA documents carry it as scheme 0160 (BR-64)")
	}
	if !validateRate(errs, path, l.Category, l.Rate, l.ExemptionReason, "BR-Z-05, BR-E-05, BR-KSA-11") {
		return
	}
	switch l.Category {
	case sale.ZeroRated, sale.Exempt, sale.OutOfScope:
		if _, ok := ExemptionReasonText(l.Category, l.ExemptionReason, opts); !ok {
			if l.ExemptionReason == "" {
				errs.Add(path+".exemption_reason", "is required for category %s: one of %s (%s)", l.Category, allowedReasons(l.Category), reasonRule(l.Category))
			} else {
				errs.Add(path+".exemption_reason", "%q is not allowed for category %s: use one of %s (%s)", l.ExemptionReason, l.Category, allowedReasons(l.Category), reasonRule(l.Category))
			}
			return
		}
		// The breakdown of a Z, E or O category is one per document, with
		// one reason (BR-Z-08, BR-E-08, BR-O-08).
		if j, seen := firstReason[l.Category]; !seen {
			firstReason[l.Category] = i
		} else if r := s.Lines[j].ExemptionReason; r != l.ExemptionReason {
			errs.Add(path+".exemption_reason", "must be lines[%d]'s %s: a document carries one exemption reason per VAT category (BR-Z-08, BR-E-08, BR-O-08); issue separate documents", j, r)
		}
	}
}

// validateRate checks the rate of category c at path (a line's, or a
// document discount's or charge's): 5 or 15 for S (BR-KSA-84), with no
// exemption reason; 0 for Z, E and O (zeroRules). It reports false for a
// category that is none of these.
func validateRate(errs *sale.Errors, path string, c sale.VATCategory, rate money.Decimal, reason, zeroRules string) bool {
	switch c {
	case sale.Standard:
		if money.Cmp(rate, rate5) != 0 && money.Cmp(rate, rate15) != 0 {
			errs.Add(path+".vat_rate", "must be 15 or 5 for category S (BR-KSA-84)")
		}
		if reason != "" {
			errs.Add(path+".exemption_reason", "is only allowed in categories Z, E and O")
		}
	case sale.ZeroRated, sale.Exempt, sale.OutOfScope:
		if !rate.IsZero() {
			errs.Add(path+".vat_rate", "must be 0 for category %s (%s)", c, zeroRules)
		}
	default:
		errs.Add(path+".vat_category", `must be one of "S" (standard), "Z" (zero rated), "E" (exempt), "O" (out of scope)`)
		return false
	}
	return true
}

// allowedReasons lists the reason codes of category c.
func allowedReasons(c sale.VATCategory) string {
	var codes []string
	for _, code := range reasonOrder {
		if exemptions[code].category == c {
			codes = append(codes, code)
		}
	}
	return strings.Join(codes, ", ")
}

// reasonOrder is the standard's order of the reason codes.
var reasonOrder = []string{
	"VATEX-SA-29", "VATEX-SA-29-7", "VATEX-SA-30",
	"VATEX-SA-32", "VATEX-SA-33", "VATEX-SA-34-1", "VATEX-SA-34-2", "VATEX-SA-34-3", "VATEX-SA-34-4", "VATEX-SA-34-5",
	"VATEX-SA-35", "VATEX-SA-36", "VATEX-SA-EDU", "VATEX-SA-HEA", "VATEX-SA-MLTRY",
	"VATEX-SA-OOS",
}

func reasonRule(c sale.VATCategory) string {
	switch c {
	case sale.ZeroRated:
		return "BR-KSA-69, BR-KSA-CL-04"
	case sale.Exempt:
		return "BR-KSA-23, BR-KSA-CL-04"
	}
	return "BR-KSA-24"
}

func checkLength(errs *sale.Errors, field, v string, max int, rule string) {
	switch n := utf8.RuneCountInString(v); {
	case strings.TrimSpace(v) == "":
		errs.Add(field, "is required (%s)", rule)
	case n > max:
		errs.Add(field, "is %d characters long; ZATCA accepts at most %d", n, max)
	}
}

// isVATNumber reports whether v is a Saudi VAT number: 15 digits, the
// first and the last 3.
func isVATNumber(v string) bool { return isDigits(v, 15) && v[0] == '3' && v[14] == '3' }

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isGTIN(s string) bool {
	switch len(s) {
	case 8, 12, 13, 14:
		return isDigits(s, len(s))
	}
	return false
}

func isCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

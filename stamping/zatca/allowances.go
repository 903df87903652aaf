package zatca

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// chargeReasonCodes are the UNTDID 7161 codes ZATCA accepts for a charge's
// reason (BT-105, BT-145; BR-KSA-CL-06), as the R3.4.5 rules list them
// (where they run "CAP" and "CAQ" together, both are taken).
var chargeReasonCodes = codeSet(`AA AAA AAC AAD AAE AAF AAH AAI AAS AAT AAV AAY AAZ ABA ABB ABC ABD ABF ABK ABL ABN ABR ABS ABT ABU
	ACF ACG ACH ACI ACJ ACK ACL ACM ACS ADC ADE ADJ ADK ADL ADM ADN ADO ADP ADQ ADR ADT ADW ADY ADZ AEA
	AEB AEC AED AEF AEH AEI AEJ AEK AEL AEM AEN AEO AEP AES AET AEU AEV AEW AEX AEY AEZ AJ AU CA CAB
	CAD CAE CAF CAI CAJ CAK CAL CAM CAN CAO CAP CAQ CAR CAS CAT CAU CAV CAW CD CG CS CT DAB DAD DL EG
	EP ER FAA FAB FAC FC FH FI GAA HAA HD HH IAA AB ID IF IR IS KO L1 LA LAA LAB LF MAE MI ML NAA OA PA
	PAA PC PL RAB RAC RAD RAF RE RF RH RV SA SAA SAD SAE SAI SG SH SM SU TAB AC TT TV V1 V2 WH XAA YY ZZZ`)

// allowanceReasonCodes are the UNTDID 5189 codes EN 16931 takes for an
// allowance's reason (BT-98, BT-140; BR-CL-19): 95 is "Discount", 100
// "Special rebate", 64 "Special agreement".
var allowanceReasonCodes = codeSet("41 42 60 62 63 64 65 66 67 68 70 71 88 95 100 102 103 104 105")

func codeSet(list string) map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(list) {
		m[c] = true
	}
	return m
}

// maxReasonLength is ZATCA's limit on an allowance's or charge's reason
// (BR-KSA-F-06-C33 to C36).
const maxReasonLength = 1000

// adjustmentRules names the rules of one kind of allowance or charge in
// messages.
type adjustmentRules struct {
	kind         string // "discount" or "charge"
	reason       string // the rule requiring a reason
	reasonLength string
	amount       string // decimals of the amount
}

var (
	lineDiscountRules     = adjustmentRules{"discount", "BR-42", "BR-KSA-F-06-C36", "BR-DEC-24"}
	lineChargeRules       = adjustmentRules{"charge", "BR-KSA-22", "BR-KSA-F-06-C34", "BR-DEC-27"}
	documentDiscountRules = adjustmentRules{"discount", "BR-33", "BR-KSA-F-06-C35", "BR-DEC-01"}
	documentChargeRules   = adjustmentRules{"charge", "BR-KSA-21", "BR-KSA-F-06-C33", "BR-DEC-05"}
)

// validateAdjustment checks one discount or charge, of a line or of the
// document, at path ("lines[0].charges[1]", "discounts[0]"): its reason,
// its reason code from the code list ZATCA wants, and its percentage or
// amount. Decode checks the same numbers; a sale built in code is held to
// them here.
func validateAdjustment(errs *sale.Errors, path string, a *sale.Adjustment, r *adjustmentRules, documentLevel bool) {
	switch n := utf8.RuneCountInString(a.Reason); {
	case strings.TrimSpace(a.Reason) == "":
		errs.Add(path+".reason", "is required: the text the shopper reads (%s)", r.reason)
	case n > maxReasonLength:
		errs.Add(path+".reason", "is %d characters long; ZATCA accepts at most %d (%s)", n, maxReasonLength, r.reasonLength)
	}
	code := path + ".reason_code"
	switch {
	case r.kind == "charge" && a.ReasonCode == "":
		rule := "BR-KSA-20"
		if documentLevel {
			rule = "BR-KSA-19"
		}
		errs.Add(code, "is required for a charge: a UNTDID 7161 code such as FC (freight), SAA (shipping and handling) or ABK (miscellaneous) (%s)", rule)
	case r.kind == "charge" && !chargeReasonCodes[a.ReasonCode]:
		errs.Add(code, "%q is not a UNTDID 7161 charge reason code that ZATCA accepts, such as FC (freight), SAA (shipping and handling) or ABK (miscellaneous) (BR-KSA-CL-06)", a.ReasonCode)
	case r.kind == "discount" && a.ReasonCode != "" && !allowanceReasonCodes[a.ReasonCode]:
		errs.Add(code, "%q is not a UNTDID 5189 allowance reason code: one of 41, 42, 60, 62 to 68, 70, 71, 88, 95 (discount), 100 (special rebate), 102 to 105, or leave it out (BR-CL-19)", a.ReasonCode)
	}
	if p := a.Percent; p != nil {
		if p.Sign() <= 0 || money.Cmp(*p, hundredPercent) > 0 || p.Scale > sale.MaxPercentScale {
			errs.Add(path+".percent", "%s must be above 0 and at most 100, with at most two decimals (BR-KSA-DEC-01)", p)
		}
		return
	}
	if a.Amount.Sign() <= 0 || a.Amount.Scale > sale.AmountScale {
		errs.Add(path+".amount", "%s must be greater than zero, with at most two decimals (%s)", a.Amount, r.amount)
	}
}

// validateLineAdjustments checks a line's price discount, discounts and
// charges.
func validateLineAdjustments(errs *sale.Errors, path string, l *sale.Line) {
	switch d := l.PriceDiscount; {
	case d.Sign() < 0:
		errs.Add(path+".price_discount", "must not be negative (BR-KSA-F-04)")
	case d.Scale > sale.MaxPriceScale:
		errs.Add(path+".price_discount", "%s has %d decimals; at most %d are allowed", d, d.Scale, sale.MaxPriceScale)
	}
	if len(l.Discounts)+len(l.Charges) > sale.MaxLineAdjustments {
		errs.Add(path+".discounts", "and charges must be at most %d together on one line", sale.MaxLineAdjustments)
	}
	for j := range l.Discounts {
		validateAdjustment(errs, fmt.Sprintf("%s.discounts[%d]", path, j), &l.Discounts[j], &lineDiscountRules, false)
	}
	for j := range l.Charges {
		validateAdjustment(errs, fmt.Sprintf("%s.charges[%d]", path, j), &l.Charges[j], &lineChargeRules, false)
	}
}

// reasonSource is the exemption reason a document carries for a VAT
// category and the field that gave it first, a line's or not.
type reasonSource struct {
	reason, field string
	line          bool
}

// validateDocumentAdjustments checks the document's discounts and charges:
// each its reason, code and amount, and the VAT breakdown it falls in.
// reasons holds the exemption reason the lines give each of Z, E and O; an
// entry in one of these categories takes it (or, where no line has the
// category, names its own), since a document has one breakdown, with one
// reason, per category (BR-Z-08, BR-E-08, BR-O-08).
func validateDocumentAdjustments(errs *sale.Errors, s *sale.Sale, opts Options, reasons map[sale.VATCategory]reasonSource) {
	for charge, list := range [2][]sale.DocumentAdjustment{s.Discounts, s.Charges} {
		field, rules := "discounts", &documentDiscountRules
		if charge == 1 {
			field, rules = "charges", &documentChargeRules
		}
		for i := range list {
			d := &list[i]
			path := fmt.Sprintf("%s[%d]", field, i)
			validateAdjustment(errs, path, &d.Adjustment, rules, true)
			validateDocumentCategory(errs, path, d, rules.kind, opts, reasons)
		}
	}
}

// validateDocumentCategory checks the VAT category, rate and exemption
// reason of a document discount or charge.
func validateDocumentCategory(errs *sale.Errors, path string, d *sale.DocumentAdjustment, kind string, opts Options, reasons map[sale.VATCategory]reasonSource) {
	if d.Category == "" {
		switch {
		case kind == "charge":
			errs.Add(path+".vat_category", `is required for a charge: the VAT category of what it charges for, one of "S", "Z", "E", "O" (BR-37)`)
		case d.Percent == nil:
			errs.Add(path+".vat_category", `is required for a discount given as an amount (only a percentage may leave it out, to apply to every VAT group): one of "S", "Z", "E", "O" (BR-32)`)
		}
		return
	}
	if !validateRate(errs, path, d.Category, d.Rate, d.ExemptionReason, "BR-Z-06, BR-Z-07, BR-E-06, BR-E-07, BR-KSA-12, BR-KSA-13") || d.Category == sale.Standard {
		return
	}
	have, seen := reasons[d.Category]
	switch {
	case d.ExemptionReason == "" && !(seen && have.line):
		errs.Add(path+".exemption_reason", "is required: the basket has no %s line to take it from; one of %s (%s)", d.Category, allowedReasons(d.Category), reasonRule(d.Category))
	case d.ExemptionReason == "":
		// The lines' reason, which sale.ComputeTotals takes.
	case !validReason(d.Category, d.ExemptionReason, opts):
		errs.Add(path+".exemption_reason", "%q is not allowed for category %s: use one of %s (%s)", d.ExemptionReason, d.Category, allowedReasons(d.Category), reasonRule(d.Category))
	case seen && have.reason != d.ExemptionReason:
		errs.Add(path+".exemption_reason", "must be %s's %s, or left out: a document carries one exemption reason per VAT category (BR-Z-08, BR-E-08, BR-O-08); issue separate documents", have.field, have.reason)
	case !seen:
		reasons[d.Category] = reasonSource{reason: d.ExemptionReason, field: path}
	}
}

func validReason(c sale.VATCategory, code string, opts Options) bool {
	_, ok := ExemptionReasonText(c, code, opts)
	return ok
}

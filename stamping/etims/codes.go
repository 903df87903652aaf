package etims

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/egsd/egsd/stamping/money"
)

// The code classes egsd reads (spec/etims.md §A4.3).
const (
	ClassTaxType       = "04"
	ClassPaymentType   = "07"
	ClassRefundReasons = "32"
)

// RulesFromCodeLists updates rules from a selectCodeList answer: the B
// and E rates from class 04 (userDfnCd1) and the bands it has in use, the
// payment types in use from class 07 and the credit note reasons in use
// from class 32. A class the answer lists is taken as complete; a class
// it does not list (an incremental answer with no change to it) leaves the
// rules as they were, so pass the whole cached list ([CodeCache]) after an
// incremental answer. A rate that is not a percentage between 0 and 100 is
// an error and changes nothing.
func RulesFromCodeLists(classes []CodeClass, rules Rules) (Rules, error) {
	out := Rules{Rates: rules.rates(), RefundReasons: slices.Clone(rules.refundReasons()),
		PaymentTypes: slices.Clone(rules.PaymentTypes), Bands: slices.Clone(rules.Bands), ItemClasses: rules.ItemClasses}
	for _, c := range classes {
		switch c.Class {
		case ClassTaxType:
			bands := []Band{}
			for _, d := range c.Details {
				if b := Band(firstByte(string(d.Code))); len(d.Code) == 1 && b.index() >= 0 && d.UseYn != "N" {
					bands = append(bands, b)
				}
			}
			out.Bands = bands
			for _, d := range c.Details {
				var rate *money.Decimal
				switch Band(firstByte(string(d.Code))) {
				case BandB:
					rate = &out.Rates.B
				case BandE:
					rate = &out.Rates.E
				default:
					continue
				}
				if len(d.Code) != 1 || d.UseYn == "N" {
					continue
				}
				v, err := money.Parse(string(d.UserDefined1))
				if err != nil || v.Sign() <= 0 || money.Cmp(v, money.MustParse("100")) >= 0 || !fitsScale(v, 2) {
					return rules, fmt.Errorf("etims: code class 04 gives band %s the rate %q, not a percentage", d.Code, d.UserDefined1)
				}
				*rate = v
			}
		case ClassRefundReasons:
			out.RefundReasons = codesInUse(c)
		case ClassPaymentType:
			out.PaymentTypes = codesInUse(c)
		}
	}
	return out, nil
}

// codesInUse are a class's codes not marked out of use, in KRA's order.
func codesInUse(c CodeClass) []string {
	codes := []string{}
	sorted := slices.Clone(c.Details)
	slices.SortStableFunc(sorted, func(a, b Code) int { return cmp.Compare(a.Order, b.Order) })
	for _, d := range sorted {
		if d.UseYn != "N" && isToken(string(d.Code), 5) {
			codes = append(codes, string(d.Code))
		}
	}
	return codes
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

package sale_test

import (
	"errors"
	"testing"

	"github.com/egsd/egsd/stamping/sale"
)

// A percentage discount on the whole basket applies to the VAT groups whose
// lines come to more than zero: a free or fully discounted item in a group
// of its own has nothing to discount and does not make the sale refused.
func TestBasketDiscountSkipsGroupsAtZero(t *testing.T) {
	ten, hundred := d("10"), d("100")
	deposit := sline("1", "0", "O", "", "VATEX-SA-OOS") // free
	wrap := sline("1", "5", "Z", "", "VATEX-SA-35")
	wrap.Discounts = []sale.Adjustment{{Percent: &hundred, Reason: "free"}}
	s := &sale.Sale{Kind: sale.Invoice, Currency: "SAR",
		Lines:     []sale.Line{sline("2", "50", "S", "15", ""), deposit, wrap},
		Discounts: []sale.DocumentAdjustment{{Adjustment: sale.Adjustment{Percent: &ten, Reason: "staff"}}}}
	got, err := sale.ComputeTotals(s)
	if err != nil {
		t.Fatalf("ComputeTotals: %v", err)
	}
	// 10 % of S 100.00 is 10.00; O and Z come to 0.00 and get no entry.
	if len(got.Adjustments) != 1 || got.Adjustments[0].Category != sale.Standard || got.Adjustments[0].Amount.String() != "10.00" {
		t.Fatalf("adjustments %+v, want one of 10.00 in S", got.Adjustments)
	}
	if got.Discounts.String() != "10.00" || got.Taxable.String() != "90.00" {
		t.Errorf("discounts %s taxable %s, want 10.00 and 90.00", got.Discounts, got.Taxable)
	}

	// A basket that comes to zero has nothing to take a percentage of.
	s.Lines = []sale.Line{deposit, wrap}
	_, err = sale.ComputeTotals(s)
	var errs sale.Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Field != "discounts[0].percent" {
		t.Errorf("a basket of zero: %v, want one problem with discounts[0].percent", err)
	}
}

package etims_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/etims"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// Every Kenyan rule refuses a sale naming the field, with a rule that
// says what to send instead.
func TestValidateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(s *sale.Sale)
		fields []string
	}{
		{"debit note", func(s *sale.Sale) { s.Kind, s.Original, s.Reason = sale.DebitNote, "KE-1", "price" }, []string{"kind"}},
		{"currency USD", func(s *sale.Sale) { s.Currency = "USD" }, []string{"currency"}},
		{"cash rounding of a cash sale", func(s *sale.Sale) {
			s.CashRounding = money.MustParse("1.00")
			s.Payments = []sale.Payment{{Means: sale.Cash}}
		}, []string{"cash_rounding"}},
		{"PIN in lower case", func(s *sale.Sale) { s.Buyer.VATNumber = "a000000002b" }, []string{"buyer.vat_number"}},
		{"PIN too short", func(s *sale.Sale) { s.Buyer.VATNumber = "A00000002B" }, []string{"buyer.vat_number"}},
		{"PIN too long", func(s *sale.Sale) { s.Buyer.VATNumber = "A0000000002B" }, []string{"buyer.vat_number"}},
		{"PIN ending in a digit", func(s *sale.Sale) { s.Buyer.VATNumber = "A0000000021" }, []string{"buyer.vat_number"}},
		{"PIN starting with a digit", func(s *sale.Sale) { s.Buyer.VATNumber = "10000000002B" }, []string{"buyer.vat_number"}},
		{"PIN with a letter inside", func(s *sale.Sale) { s.Buyer.VATNumber = "A00000O002B" }, []string{"buyer.vat_number"}},
		{"Saudi VAT number", func(s *sale.Sale) { s.Buyer.VATNumber = "300000000000003" }, []string{"buyer.vat_number"}},
		{"buyer name of 61 characters", func(s *sale.Sale) { s.Buyer.Name = strings.Repeat("M", 61) }, []string{"buyer.name"}},
		{"buyer national ID", func(s *sale.Sale) { s.Buyer.IDScheme, s.Buyer.ID = "NAT", "12345678" }, []string{"buyer.id"}},
		{"buyer address over 200", func(s *sale.Sale) { s.Buyer.Address.Street = strings.Repeat("x", 201) }, []string{"buyer.address"}},
		{"note over 400", func(s *sale.Sale) { s.Note = strings.Repeat("n", 401) }, []string{"note"}},
		{"rate 15", func(s *sale.Sale) { s.Lines[0].Rate = d("15") }, []string{"lines[0].vat_rate"}},
		{"rate 16.5", func(s *sale.Sale) { s.Lines[1].Rate = d("16.5") }, []string{"lines[1].vat_rate"}},
		{"exemption reason", func(s *sale.Sale) {
			s.Lines[0].Category, s.Lines[0].Rate, s.Lines[0].ExemptionReason = sale.Exempt, money.Decimal{}, "VATEX-SA-29"
		}, []string{"lines[0].exemption_reason"}},
		{"quantity with 3 decimals", func(s *sale.Sale) { s.Lines[0].Quantity = d("1.125") }, []string{"lines[0].quantity"}},
		{"unit price with 3 decimals", func(s *sale.Sale) { s.Lines[1].UnitPrice = d("99.999") }, []string{"lines[1].unit_price"}},
		{"price discount with 4 decimals", func(s *sale.Sale) { s.Lines[1].PriceDiscount = d("0.0001") }, []string{"lines[1].price_discount"}},
		{"line charge", func(s *sale.Sale) {
			s.Lines[0].Charges = []sale.Adjustment{{Amount: d("10"), Reason: "Gift wrap"}}
		}, []string{"lines[0].charges[0]"}},
		{"document charge", func(s *sale.Sale) {
			s.Charges = []sale.DocumentAdjustment{{Adjustment: sale.Adjustment{Amount: d("500"), Reason: "Delivery"}, Category: sale.Standard, Rate: d("16")}}
		}, []string{"charges[0]"}},
		{"document discount at 15 %", func(s *sale.Sale) {
			s.Discounts = []sale.DocumentAdjustment{{Adjustment: sale.Adjustment{Amount: d("5"), Reason: "Voucher"}, Category: sale.Standard, Rate: d("15")}}
		}, []string{"discounts[0].vat_rate"}},
		{"missing item class", func(s *sale.Sale) { s.Lines[0].ItemClass = "" }, []string{"lines[0].item_class"}},
		{"item class with letters", func(s *sale.Sale) { s.Lines[0].ItemClass = "ABC123" }, []string{"lines[0].item_class"}},
		{"item class of 11 digits", func(s *sale.Sale) { s.Lines[0].ItemClass = "12345678901" }, []string{"lines[0].item_class"}},
		{"missing packaging unit", func(s *sale.Sale) { s.Lines[1].PackagingUnit = "" }, []string{"lines[1].packaging_unit"}},
		{"packaging unit in lower case", func(s *sale.Sale) { s.Lines[1].PackagingUnit = "nt" }, []string{"lines[1].packaging_unit"}},
		{"missing quantity unit", func(s *sale.Sale) { s.Lines[0].QuantityUnit = "" }, []string{"lines[0].quantity_unit"}},
		{"quantity unit of 6", func(s *sale.Sale) { s.Lines[0].QuantityUnit = "LITRES" }, []string{"lines[0].quantity_unit"}},
		{"missing item code", func(s *sale.Sale) { s.Lines[1].ItemCode = "" }, []string{"lines[1].item_code"}},
		{"item code of type 4", func(s *sale.Sale) { s.Lines[1].ItemCode = "KE4NTU0000001" }, []string{"lines[1].item_code"}},
		{"item code of 21", func(s *sale.Sale) { s.Lines[1].ItemCode = "KE1NTU" + strings.Repeat("0", 15) }, []string{"lines[1].item_code"}},
		{"item code without origin", func(s *sale.Sale) { s.Lines[1].ItemCode = "1NTU0000001" }, []string{"lines[1].item_code"}},
		{"item name over 200", func(s *sale.Sale) { s.Lines[0].Name = strings.Repeat("i", 201) }, []string{"lines[0].name"}},
		{"barcode over 20", func(s *sale.Sale) { s.Lines[0].StandardCode = strings.Repeat("6", 21) }, []string{"lines[0].standard_code"}},
		{"amount rule of the model", func(s *sale.Sale) {
			s.Payments = []sale.Payment{{Means: sale.Cash, Amount: pd("1.00")}}
		}, []string{"payments"}},
		{"every item field of two lines at once", func(s *sale.Sale) {
			for i := range s.Lines {
				s.Lines[i].ItemClass, s.Lines[i].ItemCode = "", ""
			}
		}, []string{"lines[0].item_class", "lines[0].item_code", "lines[1].item_class", "lines[1].item_code"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sampleSale()
			tc.change(s)
			assertFields(t, etims.Validate(s, etims.Rules{}), tc.fields)
		})
	}
}

func TestValidateCreditNote(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(s *sale.Sale)
		fields []string
	}{
		{"no reason code", func(s *sale.Sale) { s.ReasonCode = "" }, []string{"reason_code"}},
		{"unknown reason code", func(s *sale.Sale) { s.ReasonCode = "13" }, []string{"reason_code"}},
		{"reason over 400", func(s *sale.Sale) { s.Reason = strings.Repeat("r", 401) }, []string{"reason"}},
		{"reason and note over 400", func(s *sale.Sale) { s.Reason, s.Note = strings.Repeat("r", 200), strings.Repeat("n", 200) }, []string{"note"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := creditNote()
			tc.change(s)
			assertFields(t, etims.Validate(s, etims.Rules{}), tc.fields)
		})
	}
	if err := etims.Validate(creditNote(), etims.Rules{}); err != nil {
		t.Errorf("a valid credit note: %v", err)
	}
	// The code list's reasons replace the defaults.
	s := creditNote()
	s.ReasonCode = "13"
	if err := etims.Validate(s, etims.Rules{RefundReasons: []string{"01", "13"}}); err != nil {
		t.Errorf("reason 13 with the code list 01, 13: %v", err)
	}
}

// The rates come from the rules: a unit whose code list says B is 15 %
// takes 15 and refuses 16.
func TestValidateRatesFromRules(t *testing.T) {
	rules := etims.Rules{Rates: etims.Rates{B: d("15"), E: d("8")}}
	assertFields(t, etims.Validate(sampleSale(), rules), []string{"lines[0].vat_rate", "lines[1].vat_rate"})
	s := sampleSale()
	s.Lines[0].Rate, s.Lines[1].Rate = d("15"), d("15.00")
	if err := etims.Validate(s, rules); err != nil {
		t.Errorf("15 %% with B at 15: %v", err)
	}
}

func TestValidateAccepts(t *testing.T) {
	for name, s := range map[string]*sale.Sale{"sample": sampleSale(), "multi-band": multiBandSale(), "credit note": creditNote(),
		"anonymous": {Kind: sale.Invoice, Currency: "KES", Lines: []sale.Line{licence()}},
		"quantity 2.500 (two decimals written with three)": {Kind: sale.Invoice, Currency: "KES", Lines: []sale.Line{func() sale.Line {
			l := licence()
			l.Quantity = d("2.500")
			return l
		}()}},
	} {
		if err := etims.Validate(s, etims.Rules{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func assertFields(t *testing.T, err error, want []string) {
	t.Helper()
	var errs sale.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Validate = %v, want sale.Errors naming %q", err, want)
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Field)
		if e.Rule == "" {
			t.Errorf("%s has no rule", e.Field)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields %q, want %q\n%v", got, want, err)
	}
}

func TestPINAndBranch(t *testing.T) {
	for _, p := range []string{"P051234567X", "A000000002B"} {
		if !etims.IsPIN(p) {
			t.Errorf("IsPIN(%q) = false", p)
		}
	}
	for _, p := range []string{"", "P05123456X", "p051234567X", "P051234567x", "P0512345678", "PP51234567X", "P05123456７X"} {
		if etims.IsPIN(p) {
			t.Errorf("IsPIN(%q) = true", p)
		}
	}
	for b, ok := range map[string]bool{"00": true, "01": true, "0": false, "000": false, "0A": false, "": false} {
		if etims.IsBranchID(b) != ok {
			t.Errorf("IsBranchID(%q) = %v", b, !ok)
		}
	}
}

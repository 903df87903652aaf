package zatca

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

func TestValidateAcceptsGoodSales(t *testing.T) {
	foreign := fxStandardBuyer()
	foreign.VATNumber = ""
	foreign.IDScheme, foreign.ID = "CRN", "1010020031"
	foreign.Address = &sale.Address{Street: "Sheikh Zayed Road", City: "Dubai", Country: "AE"} // BR-KSA-10: street, city, country
	for name, s := range map[string]*sale.Sale{
		"simplified":             fxSale(),
		"standard":               func() *sale.Sale { s := fxSale(); s.Buyer = fxStandardBuyer(); return s }(),
		"standard credit note":   func() *sale.Sale { s := fxNote(fxSale(), sale.CreditNote); s.Buyer = fxStandardBuyer(); return s }(),
		"foreign business buyer": func() *sale.Sale { s := fxSale(); s.Buyer = foreign; return s }(),
		"named consumer":         func() *sale.Sale { s := fxSale(); s.Buyer = &sale.Buyer{Name: "Ali"}; return s }(),
		"rate 5.00":              func() *sale.Sale { s := fxSale(); s.Lines[0].Rate = money.MustParse("5.00"); return s }(),
		"zero price":             func() *sale.Sale { s := fxSale(); s.Lines[0].UnitPrice = money.MustParse("0"); return s }(),
		"same Z reason twice": func() *sale.Sale {
			s := fxSale()
			s.Lines = []sale.Line{fxLine("a", "1", "1", sale.ZeroRated, "", "VATEX-SA-35"), fxLine("b", "1", "1", sale.ZeroRated, "0", "VATEX-SA-35")}
			return s
		}(),
	} {
		if err := Validate(s, fxSeller(), fxOpts); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestValidateRules has one bad sale or seller per rule and requires
// exactly the field paths named.
func TestValidateRules(t *testing.T) {
	standard := func(s *sale.Sale) *sale.Sale { s.Buyer = fxStandardBuyer(); return s }
	withLines := func(ls ...sale.Line) func(*sale.Sale) {
		return func(s *sale.Sale) { s.Lines = ls }
	}
	longText := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name   string
		sale   func(*sale.Sale)
		seller func(*stamping.Seller)
		opts   func(*Options)
		want   []string
	}{
		// The seller (BR-KSA-08, -09, -37, -39, -40, -66; QR tag 1).
		{name: "seller VAT 14 digits", seller: func(s *stamping.Seller) { s.VATNumber = "39999999990003" }, want: []string{"seller.vat_number"}},
		{name: "seller VAT starts with 1", seller: func(s *stamping.Seller) { s.VATNumber = "199999999900003" }, want: []string{"seller.vat_number"}},
		{name: "seller VAT ends with 1", seller: func(s *stamping.Seller) { s.VATNumber = "399999999900001" }, want: []string{"seller.vat_number"}},
		{name: "seller VAT with a letter", seller: func(s *stamping.Seller) { s.VATNumber = "3999999999O0003" }, want: []string{"seller.vat_number"}},
		{name: "seller without a name", seller: func(s *stamping.Seller) { s.Name, s.NameLocal = "", " " }, want: []string{"seller.name"}},
		{name: "seller name with a tab", seller: func(s *stamping.Seller) { s.Name = "Maximum\tSpeed" }, want: []string{"seller.name"}},
		{name: "seller street with a bidi override", seller: func(s *stamping.Seller) { s.Address.Street = "Prince \u202eSultan" }, want: []string{"seller.address.street"}},
		{name: "seller name too long for the QR", seller: func(s *stamping.Seller) { s.Name = longText(200) }, want: []string{"seller.name"}},
		{name: "seller ID scheme NAT", seller: func(s *stamping.Seller) { s.IDScheme = "NAT" }, want: []string{"seller.id_scheme"}},
		{name: "seller without ID scheme", seller: func(s *stamping.Seller) { s.IDScheme, s.ID = "", "" }, want: []string{"seller.id_scheme"}},
		{name: "seller without ID", seller: func(s *stamping.Seller) { s.ID = "" }, want: []string{"seller.id"}},
		{name: "seller CRN of 9 digits", seller: func(s *stamping.Seller) { s.ID = "101001000" }, want: []string{"seller.id"}},
		{name: "seller 700 not starting with 7", seller: func(s *stamping.Seller) { s.IDScheme, s.ID = "700", "1010010000" }, want: []string{"seller.id"}},
		{name: "seller ID with a dash", seller: func(s *stamping.Seller) { s.IDScheme, s.ID = "MOM", "AB-12" }, want: []string{"seller.id"}},
		{name: "seller without street", seller: func(s *stamping.Seller) { s.Address.Street = "" }, want: []string{"seller.address.street"}},
		{name: "seller building of 3 digits", seller: func(s *stamping.Seller) { s.Address.BuildingNumber = "232" }, want: []string{"seller.address.building_number"}},
		{name: "seller without district", seller: func(s *stamping.Seller) { s.Address.District = "" }, want: []string{"seller.address.district"}},
		{name: "seller without city", seller: func(s *stamping.Seller) { s.Address.City = "" }, want: []string{"seller.address.city"}},
		{name: "seller city too long", seller: func(s *stamping.Seller) { s.Address.City = longText(128) }, want: []string{"seller.address.city"}},
		{name: "seller postal code of 4 digits", seller: func(s *stamping.Seller) { s.Address.PostalCode = "2333" }, want: []string{"seller.address.postal_code"}},
		{name: "seller without country", seller: func(s *stamping.Seller) { s.Address.Country = "" }, want: []string{"seller.address.country"}},

		// Currency.
		{name: "currency USD", sale: func(s *sale.Sale) { s.Currency = "USD" }, want: []string{"currency"}},
		{name: "unit configured for USD", opts: func(o *Options) { o.Currency = "USD" }, want: []string{"currency"}},

		// Kinds and notes (BR-KSA-17, -56, F-06-C13, F-06-C22).
		{name: "unknown kind", sale: func(s *sale.Sale) { s.Kind = "receipt" }, want: []string{"kind"}},
		{name: "credit note without original", sale: func(s *sale.Sale) { fxNote(s, sale.CreditNote).Original = "" }, want: []string{"original"}},
		{name: "debit note without reason", sale: func(s *sale.Sale) { fxNote(s, sale.DebitNote).Reason = "" }, want: []string{"reason"}},
		{name: "reason of 1001 characters", sale: func(s *sale.Sale) { fxNote(s, sale.CreditNote).Reason = longText(1001) }, want: []string{"reason"}},
		{name: "note with a Kenyan reason code", sale: func(s *sale.Sale) { fxNote(s, sale.CreditNote).ReasonCode = "06" }, want: []string{"reason_code"}},
		{name: "line with a Kenyan item class", sale: func(s *sale.Sale) { s.Lines[0].ItemClass = "5059690800" }, want: []string{"lines[0].item_class"}},
		{name: "line with a Kenyan packaging unit", sale: func(s *sale.Sale) { s.Lines[0].PackagingUnit = "NT" }, want: []string{"lines[0].packaging_unit"}},
		{name: "line with a Kenyan quantity unit", sale: func(s *sale.Sale) { s.Lines[1].QuantityUnit = "U" }, want: []string{"lines[1].quantity_unit"}},
		{name: "line with a KRA item code", sale: func(s *sale.Sale) { s.Lines[0].ItemCode = "KE1NTXU0000001" }, want: []string{"lines[0].item_code"}},
		{name: "original of 5001 characters", sale: func(s *sale.Sale) { fxNote(s, sale.CreditNote).Original = longText(5001) }, want: []string{"original"}},

		// The buyer of a tax invoice (BR-KSA-42, -10, -63, -67).
		{name: "standard buyer without name", sale: func(s *sale.Sale) { standard(s).Buyer.Name = "" }, want: []string{"buyer.name"}},
		{name: "standard buyer without address", sale: func(s *sale.Sale) { standard(s).Buyer.Address = nil }, want: []string{"buyer.address"}},
		{name: "standard buyer postal code of 4 digits", sale: func(s *sale.Sale) { standard(s).Buyer.Address.PostalCode = "1222" }, want: []string{"buyer.address.postal_code"}},
		{name: "standard buyer building 12a4", sale: func(s *sale.Sale) { standard(s).Buyer.Address.BuildingNumber = "12a4" }, want: []string{"buyer.address.building_number"}},
		{name: "standard buyer without district", sale: func(s *sale.Sale) { standard(s).Buyer.Address.District = "" }, want: []string{"buyer.address.district"}},
		{name: "standard buyer without street", sale: func(s *sale.Sale) { standard(s).Buyer.Address.Street = "" }, want: []string{"buyer.address.street"}},
		{name: "standard buyer without city", sale: func(s *sale.Sale) { standard(s).Buyer.Address.City = "" }, want: []string{"buyer.address.city"}},
		{name: "standard buyer without country", sale: func(s *sale.Sale) { standard(s).Buyer.Address.Country = "" }, want: []string{"buyer.address.country"}},
		{name: "CRN buyer without address", sale: func(s *sale.Sale) {
			s.Buyer = &sale.Buyer{Name: "ACME", IDScheme: "CRN", ID: "1010020031"}
		}, want: []string{"buyer.address"}},

		// Any buyer (BR-KSA-44, -14, F-07…F-11, BR-CUSTOM-VALIDATION-01).
		{name: "buyer VAT of 10 digits", sale: func(s *sale.Sale) { standard(s).Buyer.VATNumber = "3999999998" }, want: []string{"buyer.vat_number"}},
		{name: "buyer VAT = seller VAT", sale: func(s *sale.Sale) { standard(s).Buyer.VATNumber = fxSeller().VATNumber }, want: []string{"buyer.vat_number"}},
		{name: "buyer scheme XYZ", sale: func(s *sale.Sale) { s.Buyer = &sale.Buyer{Name: "A", IDScheme: "XYZ", ID: "1"} }, want: []string{"buyer.id_scheme"}},
		{name: "buyer NAT starting with 2", sale: func(s *sale.Sale) { s.Buyer = &sale.Buyer{IDScheme: "NAT", ID: "2029384756"} }, want: []string{"buyer.id"}},
		{name: "buyer IQA starting with 1", sale: func(s *sale.Sale) { s.Buyer = &sale.Buyer{IDScheme: "IQA", ID: "1029384756"} }, want: []string{"buyer.id"}},
		{name: "buyer TIN starting with 1", sale: func(s *sale.Sale) {
			standard(s).Buyer.VATNumber = ""
			s.Buyer.IDScheme, s.Buyer.ID = "TIN", "1029384756"
		}, want: []string{"buyer.id"}},
		{name: "buyer passport with a space", sale: func(s *sale.Sale) { s.Buyer = &sale.Buyer{IDScheme: "PAS", ID: "A 123"} }, want: []string{"buyer.id"}},
		{name: "buyer name of 1001 characters", sale: func(s *sale.Sale) { s.Buyer = &sale.Buyer{Name: longText(1001)} }, want: []string{"buyer.name"}},

		// Lines: categories, rates, reasons (R3.4 5/15 rule, BR-KSA-23/24/69/CL-04, BR-Z/E/O-08).
		{name: "S at 16 %", sale: func(s *sale.Sale) { s.Lines[1].Rate = money.MustParse("16") }, want: []string{"lines[1].vat_rate"}},
		{name: "S at 15.5 %", sale: func(s *sale.Sale) { s.Lines[0].Rate = money.MustParse("15.5") }, want: []string{"lines[0].vat_rate"}},
		{name: "S with a reason", sale: func(s *sale.Sale) { s.Lines[0].ExemptionReason = "VATEX-SA-32" }, want: []string{"lines[0].exemption_reason"}},
		{name: "Z without reason", sale: withLines(fxLine("a", "1", "1", sale.Standard, "15", ""), fxLine("b", "1", "1", sale.ZeroRated, "", "")), want: []string{"lines[1].exemption_reason"}},
		{name: "Z with an E reason", sale: withLines(fxLine("a", "1", "1", sale.Standard, "15", ""), fxLine("b", "1", "1", sale.ZeroRated, "", "VATEX-SA-29")), want: []string{"lines[1].exemption_reason"}},
		{name: "E with rate 5", sale: withLines(fxLine("a", "1", "1", sale.Standard, "15", ""), fxLine("b", "1", "1", sale.Exempt, "5", "VATEX-SA-30")), want: []string{"lines[1].vat_rate"}},
		{name: "E without reason", sale: withLines(fxLine("b", "1", "1", sale.Exempt, "", "")), want: []string{"lines[0].exemption_reason"}},
		{name: "O with a Z reason", sale: withLines(fxLine("b", "1", "1", sale.OutOfScope, "", "VATEX-SA-32")), want: []string{"lines[0].exemption_reason"}},
		{name: "O without reason", sale: withLines(fxLine("b", "1", "1", sale.OutOfScope, "", "")), want: []string{"lines[0].exemption_reason"}},
		{name: "unknown reason code", sale: withLines(fxLine("b", "1", "1", sale.ZeroRated, "", "VATEX-SA-99")), want: []string{"lines[0].exemption_reason"}},
		{name: "two Z reasons in one document", sale: withLines(
			fxLine("a", "1", "1", sale.ZeroRated, "", "VATEX-SA-35"),
			fxLine("b", "1", "1", sale.Standard, "15", ""),
			fxLine("c", "1", "1", sale.ZeroRated, "", "VATEX-SA-36")), want: []string{"lines[2].exemption_reason"}},
		{name: "unknown category", sale: func(s *sale.Sale) { s.Lines[0].Category = "X" }, want: []string{"lines[0].vat_category"}},

		// Education and healthcare to citizens (BR-KSA-25, BR-KSA-49).
		{name: "EDU without buyer", sale: withLines(fxLine("Tuition", "1", "100", sale.ZeroRated, "", "VATEX-SA-EDU")), want: []string{"buyer"}},
		{name: "HEA buyer without name", sale: func(s *sale.Sale) {
			s.Lines = []sale.Line{fxLine("Clinic", "1", "100", sale.ZeroRated, "", "VATEX-SA-HEA")}
			s.Buyer = &sale.Buyer{IDScheme: "NAT", ID: "1029384756"}
		}, want: []string{"buyer.name"}},
		{name: "EDU buyer with an iqama", sale: func(s *sale.Sale) {
			s.Lines = []sale.Line{fxLine("Tuition", "1", "100", sale.ZeroRated, "", "VATEX-SA-EDU")}
			s.Buyer = &sale.Buyer{Name: "Ali", IDScheme: "IQA", ID: "2029384756"}
		}, want: []string{"buyer.id_scheme"}},

		// Quantities, prices, codes (BR-KSA-F-04, BR-64).
		{name: "zero quantity", sale: func(s *sale.Sale) { s.Lines[0].Quantity = money.MustParse("0.000") }, want: []string{"lines[0].quantity"}},
		{name: "negative price", sale: func(s *sale.Sale) { s.Lines[1].UnitPrice = money.MustParse("-1") }, want: []string{"lines[1].unit_price"}},
		{name: "standard code not a GTIN", sale: func(s *sale.Sale) { s.Lines[0].StandardCode = "ABC123" }, want: []string{"lines[0].standard_code"}},
		{name: "line without name", sale: func(s *sale.Sale) { s.Lines[0].Name = "" }, want: []string{"lines[0].name"}},
		{name: "no lines", sale: func(s *sale.Sale) { s.Lines = nil }, want: []string{"lines"}},
		{name: "line amount over the limit", sale: func(s *sale.Sale) {
			s.Lines[0].Quantity, s.Lines[0].UnitPrice = money.MustParse("999999999"), money.MustParse("999999999")
		}, want: []string{"lines[0].quantity × lines[0].unit_price"}},
		{name: "quantity over the limit", sale: func(s *sale.Sale) { s.Lines[0].Quantity = money.MustParse("999999999999") }, want: []string{"lines[0].quantity"}},
		{name: "unknown payment means", sale: func(s *sale.Sale) { s.Payments[0].Means = "barter" }, want: []string{"payments[0].means"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, seller, opts := fxSale(), fxSeller(), fxOpts
			if tc.sale != nil {
				tc.sale(s)
			}
			if tc.seller != nil {
				tc.seller(&seller)
			}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			err := Validate(s, seller, opts)
			var errs sale.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Validate = %v, want sale.Errors for %v", err, tc.want)
			}
			var fields []string
			for _, e := range errs {
				fields = append(fields, e.Field)
				if e.Rule == "" {
					t.Errorf("%s has no rule text", e.Field)
				}
			}
			if !slices.Equal(fields, tc.want) {
				t.Errorf("fields %q, want %q\n%v", fields, tc.want, err)
			}
		})
	}
}

// Every problem is reported at once, so that the POS can fix them together.
func TestValidateReportsEverything(t *testing.T) {
	s := fxNote(fxSale(), sale.CreditNote)
	s.Original, s.Reason = "", ""
	s.Lines[1].Rate = money.MustParse("10")
	seller := fxSeller()
	seller.VATNumber = "1"
	err := Validate(s, seller, fxOpts)
	var errs sale.Errors
	if !errors.As(err, &errs) || len(errs) != 4 {
		t.Fatalf("Validate = %v, want 4 problems", err)
	}
	for _, want := range []string{"seller.vat_number", "original", "reason", "lines[1].vat_rate"} {
		if !slices.ContainsFunc(errs, func(e sale.FieldError) bool { return e.Field == want }) {
			t.Errorf("no %s in %v", want, err)
		}
	}
	if !strings.Contains(err.Error(), "BR-KSA-17") {
		t.Errorf("the rule id is not in the message: %v", err)
	}
}

package etims_test

import (
	"errors"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/etims"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

const (
	sellerPIN = "P000000001A"
	buyerPIN  = "A000000002B"
)

func d(s string) money.Decimal   { return money.MustParse(s) }
func pd(s string) *money.Decimal { v := d(s); return &v }
func nairobi(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, etims.Nairobi)
	if err != nil {
		panic(err)
	}
	return t
}

var oscu = etims.Identity{Profile: etims.OSCU, Tin: sellerPIN, BhfID: "00", RegistrantID: "egsd", RegistrantName: "egsd"}

func sampleBuyer() *sale.Buyer {
	return &sale.Buyer{Name: "Mfano Technologies Ltd.", VATNumber: buyerPIN,
		Address: &sale.Address{Street: "Mombasa Road", BuildingNumber: "45", City: "Nairobi", Country: "KE"}}
}

// licence and support are the two lines of the readable sample the
// product was specified from (400,000 and 100,000 KES at 16 %).
func licence() sale.Line {
	return sale.Line{Name: "Cloud Software License - Annual Subscription", Quantity: d("1"), UnitPrice: d("400000.00"),
		Category: sale.Standard, Rate: d("16"), ItemClass: "85234110", PackagingUnit: "NT", QuantityUnit: "U", ItemCode: "KE3NTU0000001"}
}

func support() sale.Line {
	return sale.Line{Name: "Technical Support - Annual Plan", Quantity: d("1"), UnitPrice: d("100000.00"),
		Category: sale.Standard, Rate: d("16"), ItemClass: "85234190", PackagingUnit: "NT", QuantityUnit: "U", ItemCode: "KE3NTU0000002"}
}

func sampleSale() *sale.Sale {
	return &sale.Sale{Kind: sale.Invoice, Currency: "KES", Buyer: sampleBuyer(),
		Lines: []sale.Line{licence(), support()}, Payments: []sale.Payment{{Means: sale.BankTransfer}}}
}

// multiBandSale has a line in every band but D, a line discount, a price
// discount, a quantity with decimals and a 5 % discount on the whole
// basket, paid in cash and on credit.
func multiBandSale() *sale.Sale {
	return &sale.Sale{Kind: sale.Invoice, Currency: "KES", Note: "Thank you for shopping with us",
		Lines: []sale.Line{
			{Name: "Maize flour 2 kg", Quantity: d("3"), UnitPrice: d("150.00"), Category: sale.Standard, Rate: d("16"),
				Discounts: []sale.Adjustment{{Percent: pd("10"), Reason: "Loyalty"}}, StandardCode: "6161100420014",
				ItemClass: "5010150100", PackagingUnit: "NT", QuantityUnit: "KG", ItemCode: "KE2NTKG0000011"},
			{Name: "Diesel 1 l", Quantity: d("2.50"), UnitPrice: d("180.50"), Category: sale.Standard, Rate: d("8"),
				ItemClass: "1510150500", PackagingUnit: "NT", QuantityUnit: "L", ItemCode: "KE1NTL0000012"},
			{Name: "Milk 500 ml", Quantity: d("4"), UnitPrice: d("65.00"), Category: sale.ZeroRated,
				ItemClass: "5013170100", PackagingUnit: "BT", QuantityUnit: "U", ItemCode: "KE2BTU0000013"},
			{Name: "Maize seed 2 kg", Quantity: d("1"), UnitPrice: d("500"), Category: sale.Exempt,
				ItemClass: "1010150100", PackagingUnit: "BG", QuantityUnit: "KG", ItemCode: "KE1BGKG0000014"},
			{Name: "Sugar 1 kg", Quantity: d("2"), UnitPrice: d("210.00"), PriceDiscount: d("10.00"), Category: sale.Standard, Rate: d("16.00"),
				ItemClass: "5016150100", PackagingUnit: "NT", QuantityUnit: "KG", ItemCode: "KE2NTKG0000015"},
		},
		Discounts: []sale.DocumentAdjustment{{Adjustment: sale.Adjustment{Percent: pd("5"), Reason: "Staff discount"}}},
		Payments:  []sale.Payment{{Means: sale.Cash, Amount: pd("1000.00")}, {Means: sale.Credit}},
	}
}

func creditNote() *sale.Sale {
	return &sale.Sale{Kind: sale.CreditNote, Currency: "KES", Buyer: sampleBuyer(), Original: "KE-12",
		Reason: "Support plan cancelled", ReasonCode: "06", Lines: []sale.Line{support()},
		Payments: []sale.Payment{{Means: sale.BankTransfer}}}
}

// numbered builds the request and numbers its template, as the
// submission sequence does.
func numbered(t *testing.T, s *sale.Sale, in etims.SaleInput, invcNo, orgInvcNo int64) []byte {
	t.Helper()
	r, err := etims.BuildSale(s, in)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := etims.Template(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := etims.Number(tmpl, invcNo, orgInvcNo)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The goldens in testdata were written and checked by hand (docs/etims.md
// works the multi-band one out line by line).
func TestGoldenSaleRequests(t *testing.T) {
	multi := oscu
	multi.RegistrantID, multi.RegistrantName = "till-3", "Till 3"
	for _, tc := range []struct {
		golden            string
		sale              *sale.Sale
		in                etims.SaleInput
		invcNo, orgInvcNo int64
	}{
		{"sale-one-band.json", sampleSale(), etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-12", IssuedAt: nairobi("2026-01-15 10:30:00")}, 12, 0},
		// Issued five minutes after midnight in Nairobi, 21:05 UTC the day
		// before: the dates are Nairobi's.
		{"sale-multi-band-discount.json", multiBandSale(), etims.SaleInput{Identity: multi, TraderInvoiceNo: "KE-9",
			IssuedAt: time.Date(2026, 2, 28, 21, 5, 10, 0, time.UTC)}, 7, 0},
		{"credit-note.json", creditNote(), etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-14", IssuedAt: nairobi("2026-01-20 09:15:00")}, 13, 12},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			checkGolden(t, tc.golden, numbered(t, tc.sale, tc.in, tc.invcNo, tc.orgInvcNo))
		})
	}
}

func TestGoldenItemRegistration(t *testing.T) {
	l := licence()
	item, err := etims.ItemFromLine(&l, etims.DefaultRates, oscu)
	if err != nil {
		t.Fatal(err)
	}
	b, err := etims.Marshal(item)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "item-registration.json", b)
}

// The readable sample's numbers: two lines of 400,000 and 100,000 KES at
// 16 % are 500,000 taxable, 80,000 VAT, 580,000 in all, in band B.
func TestSampleAmounts(t *testing.T) {
	r, err := etims.BuildSale(sampleSale(), etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-1", IssuedAt: nairobi("2026-01-15 10:30:00")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want string
	}{
		{"totTaxblAmt", r.TotTaxblAmt.String(), "500000.00"},
		{"totTaxAmt", r.TotTaxAmt.String(), "80000.00"},
		{"totAmt", r.TotAmt.String(), "580000.00"},
		{"taxblAmtB", r.TaxblAmtB.String(), "500000.00"},
		{"taxAmtB", r.TaxAmtB.String(), "80000.00"},
		{"taxRtB", r.TaxRtB.String(), "16.00"},
		{"taxblAmtA", r.TaxblAmtA.String(), "0.00"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
}

// VSCU sends tin and bhfId in the body, OSCU in headers only.
func TestVSCUBodyIdentity(t *testing.T) {
	vscu := oscu
	vscu.Profile = etims.VSCU
	r, err := etims.BuildSale(sampleSale(), etims.SaleInput{Identity: vscu, TraderInvoiceNo: "KE-1", IssuedAt: nairobi("2026-01-15 10:30:00")})
	if err != nil {
		t.Fatal(err)
	}
	if r.Tin != sellerPIN || r.BhfID != "00" {
		t.Errorf("VSCU body tin, bhfId = %q %q", r.Tin, r.BhfID)
	}
	tmpl, err := etims.Template(r)
	if err != nil {
		t.Fatal(err)
	}
	o, err := etims.BuildSale(sampleSale(), etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-1", IssuedAt: nairobi("2026-01-15 10:30:00")})
	if err != nil {
		t.Fatal(err)
	}
	if o.Tin != "" || o.BhfID != "" {
		t.Errorf("OSCU body has tin, bhfId %q %q", o.Tin, o.BhfID)
	}
	if n, _, err := etims.Numbers(tmpl); err != nil || n != 0 {
		t.Errorf("template invcNo %d, %v", n, err)
	}
}

// BuildSale applies Validate: a sale KRA cannot carry is not built.
func TestBuildSaleValidates(t *testing.T) {
	s := sampleSale()
	s.Lines[0].ItemCode = ""
	_, err := etims.BuildSale(s, etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-1", IssuedAt: time.Now()})
	var errs sale.Errors
	if !errors.As(err, &errs) || errs[0].Field != "lines[0].item_code" {
		t.Fatalf("BuildSale of a line without item code: %v", err)
	}
}

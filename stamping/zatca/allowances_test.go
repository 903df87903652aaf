package zatca

import (
	"bytes"
	"encoding/gob"
	"encoding/xml"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// Helpers for sales with discounts and charges.

func percentOff(p, reason, code string) sale.Adjustment {
	d := money.MustParse(p)
	return sale.Adjustment{Percent: &d, Reason: reason, ReasonCode: code}
}

func amountOff(a, reason, code string) sale.Adjustment {
	return sale.Adjustment{Amount: money.MustParse(a), Reason: reason, ReasonCode: code}
}

// inGroup puts a document-level discount or charge in a VAT category
// (rate for S, exemption reason for Z, E, O; "" leaves it out).
func inGroup(a sale.Adjustment, c sale.VATCategory, rateOrReason string) sale.DocumentAdjustment {
	d := sale.DocumentAdjustment{Adjustment: a, Category: c}
	switch {
	case c == sale.Standard:
		d.Rate = money.MustParse(rateOrReason)
	default:
		d.ExemptionReason = rateOrReason
	}
	return d
}

func withDiscounts(l sale.Line, ds ...sale.Adjustment) sale.Line { l.Discounts = ds; return l }
func withCharges(l sale.Line, cs ...sale.Adjustment) sale.Line   { l.Charges = cs; return l }
func withPriceDiscount(l sale.Line, d string) sale.Line {
	l.PriceDiscount = money.MustParse(d)
	return l
}

func cashTendered(amount string) []sale.Payment {
	d := money.MustParse(amount)
	return []sale.Payment{{Means: sale.Cash, Tendered: &d}}
}

// discountFeatures is what a discount shape must carry, counted in its XML.
type discountFeatures struct {
	lineAllowances, lineCharges, priceAllowances int
	docAllowances, docCharges                    int
	rounding                                     int // the sign of PayableRoundingAmount; 0: none written
}

type discountShape struct {
	ublShape
	want discountFeatures
}

// discountShapes are the document shapes with discounts, charges and cash
// rounding. ublShapes includes them, so that every check over the shapes
// (C14N, UBL schema, ZATCA's rules, signing and verifying as one chain, the
// plain reading, receipts) covers them.
func discountShapes() []discountShape {
	s := func(kind sale.Kind, lines ...sale.Line) *sale.Sale {
		out := fxSale()
		if kind != sale.Invoice {
			fxNote(out, kind)
		}
		out.Lines = lines
		return out
	}
	coffee := fxLine("Coffee beans | بن", "2", "45", sale.Standard, "15", "")
	insulin := fxLine("Insulin | إنسولين", "3", "41.25", sale.ZeroRated, "", "VATEX-SA-35")
	loanFee := fxLine("Loan fee", "1", "99", sale.Exempt, "", "VATEX-SA-29")
	deposit := fxLine("Deposit", "1", "50", sale.OutOfScope, "", "VATEX-SA-OOS")
	rent := fxLine("Real estate service", "1", "150", sale.Standard, "5", "")

	mixedCharge := s(sale.Invoice, coffee, insulin, loanFee)
	mixedCharge.Charges = []sale.DocumentAdjustment{inGroup(amountOff("25.00", "Delivery | توصيل", "FC"), sale.Standard, "15")}

	basket := s(sale.Invoice, coffee, rent, insulin, loanFee, deposit, fxLine("Tea", "3", "7.35", sale.Standard, "15", ""))
	basket.Discounts = []sale.DocumentAdjustment{{Adjustment: percentOff("10", "Staff discount | خصم الموظفين", "95")}}

	exemptOOS := s(sale.Invoice, coffee, loanFee, deposit)
	exemptOOS.Discounts = []sale.DocumentAdjustment{
		inGroup(amountOff("5.00", "Fee waiver", ""), sale.Exempt, ""),
		inGroup(percentOff("2", "Deposit rebate", "100"), sale.OutOfScope, "VATEX-SA-OOS"),
	}

	standard := s(sale.Invoice, withDiscounts(fxLine("Legal services | خدمات قانونية", "1", "2000", sale.Standard, "15", ""), amountOff("150.00", "Framework agreement", "64")),
		fxLine("Notary stamps", "4", "12.5", sale.Standard, "15", ""))
	standard.Buyer = fxStandardBuyer()
	standard.Charges = []sale.DocumentAdjustment{inGroup(amountOff("60.00", "Legalisation fee | رسوم التصديق", "LF"), sale.Standard, "15")}
	standard.Discounts = []sale.DocumentAdjustment{inGroup(percentOff("5", "Volume rebate", "102"), sale.Standard, "15")}
	standard.Payments = []sale.Payment{{Means: sale.BankTransfer}}

	credit := s(sale.CreditNote, withDiscounts(coffee, percentOff("15", "Promotion", "95")), withPriceDiscount(fxLine("Mug", "2", "19.99", sale.Standard, "15", ""), "4.99"))
	credit.Discounts = []sale.DocumentAdjustment{{Adjustment: percentOff("10", "Loyalty discount", "")}}

	freight := s(sale.Invoice, fxLine("Machine part", "2", "480", sale.Standard, "15", ""))
	freight.Buyer = fxStandardBuyer()
	freight.Charges = []sale.DocumentAdjustment{inGroup(amountOff("120.00", "International freight", "FC"), sale.ZeroRated, "VATEX-SA-34-1")}

	rounded := func(inc, tendered string, lines ...sale.Line) *sale.Sale {
		out := s(sale.Invoice, lines...)
		out.CashRounding = money.MustParse(inc)
		out.Payments = cashTendered(tendered)
		return out
	}

	everything := s(sale.Invoice,
		withPriceDiscount(withDiscounts(fxLine("Dates (kg) | تمر", "1.5", "42.9900", sale.Standard, "15", ""), percentOff("5", "Member price", "95")), "2.9900"),
		withCharges(fxLine("Gift box", "1", "30", sale.Standard, "15", ""), amountOff("4.50", "Gift packing | تغليف", "PC")),
		withDiscounts(insulin, amountOff("3.75", "Pharmacy loyalty", "")))
	everything.Discounts = []sale.DocumentAdjustment{{Adjustment: percentOff("3", "Weekend offer | عرض نهاية الأسبوع", "95")}}
	everything.Charges = []sale.DocumentAdjustment{inGroup(amountOff("15.00", "Delivery", "SAA"), sale.Standard, "15")}
	everything.CashRounding = money.MustParse("0.05")
	everything.Payments = cashTendered("250.00")

	return []discountShape{
		{ublShape{name: "line_discount_100_percent", sale: s(sale.Invoice,
			withDiscounts(fxLine("Gift wrap", "1", "12.50", sale.Standard, "15", ""), percentOff("100", "Free gift wrap", "95")), coffee)},
			discountFeatures{lineAllowances: 1}},
		{ublShape{name: "zero_rated_line_discount", sale: s(sale.Invoice,
			withDiscounts(insulin, amountOff("10.00", "Pharmacy loyalty | ولاء الصيدلية", "")), coffee)},
			discountFeatures{lineAllowances: 1}},
		{ublShape{name: "mixed_basket_charge_15", sale: mixedCharge}, discountFeatures{docCharges: 1}},
		// 10.46 + 1.57 VAT = 12.03 → 12.05; 9.00 + 1.35 = 10.35 → 10.25;
		// 20.52 + 3.08 = 23.60 → 24.00; 20.39 + 3.06 = 23.45 → 23.00.
		{ublShape{name: "cash_rounding_0.05_up", sale: rounded("0.05", "20.00", fxLine("Bread", "1", "10.46", sale.Standard, "15", ""))},
			discountFeatures{rounding: 1}},
		{ublShape{name: "cash_rounding_0.25_down", sale: rounded("0.25", "10.25", fxLine("Milk", "1", "9.00", sale.Standard, "15", ""))},
			discountFeatures{rounding: -1}},
		{ublShape{name: "cash_rounding_1.00_up", sale: rounded("1.00", "50.00", fxLine("Cheese", "1", "20.52", sale.Standard, "15", ""))},
			discountFeatures{rounding: 1}},
		{ublShape{name: "cash_rounding_1.00_down", sale: rounded("1.00", "23.00", fxLine("Olives", "1", "20.39", sale.Standard, "15", ""))},
			discountFeatures{rounding: -1}},
		{ublShape{name: "price_discount", sale: s(sale.Invoice,
			withPriceDiscount(fxLine("Saffron (g)", "2", "12.3456", sale.Standard, "15", ""), "0.3456"),
			withPriceDiscount(fxLine("Cardamom (kg)", "3", "7.5", sale.Standard, "15", ""), "0.125"),
			withPriceDiscount(fxLine("Honey", "1", "19.99", sale.Standard, "15", ""), "19.99"))},
			discountFeatures{priceAllowances: 3}},
		{ublShape{name: "percent_and_amount_line_discounts", sale: s(sale.Invoice,
			withDiscounts(fxLine("Shirt", "4", "25.00", sale.Standard, "15", ""), percentOff("10", "Seasonal sale", "95"), amountOff("2.50", "Coupon", "100")),
			withDiscounts(fxLine("Rice (kg)", "3.333", "7.77", sale.Standard, "15", ""), percentOff("12.5", "Bulk price", "")))},
			discountFeatures{lineAllowances: 3}},
		{ublShape{name: "line_charge", sale: s(sale.Invoice,
			withCharges(fxLine("Watch", "1", "150", sale.Standard, "15", ""), percentOff("10", "Gift packing", "PC"), amountOff("5.00", "Engraving", "ADR")),
			coffee)},
			discountFeatures{lineCharges: 2}},
		{ublShape{name: "basket_percent_discount", sale: basket}, discountFeatures{docAllowances: 5}},
		{ublShape{name: "document_discount_exempt_out_of_scope", sale: exemptOOS}, discountFeatures{docAllowances: 2}},
		{ublShape{name: "standard_invoice_document_charge", sale: standard}, discountFeatures{lineAllowances: 1, docAllowances: 1, docCharges: 1}},
		{ublShape{name: "credit_note_discounts", sale: credit}, discountFeatures{lineAllowances: 1, priceAllowances: 1, docAllowances: 1}},
		{ublShape{name: "zero_rated_charge_only", sale: freight}, discountFeatures{docCharges: 1}},
		{ublShape{name: "discounts_everything", sale: everything},
			discountFeatures{lineAllowances: 2, lineCharges: 1, priceAllowances: 1, docAllowances: 2, docCharges: 1, rounding: -1}},
	}
}

// allowanceView reads what discountFeatures counts.
type allowanceView struct {
	DocumentLevel []struct {
		Charge string `xml:"ChargeIndicator"`
	} `xml:"AllowanceCharge"`
	Rounding string `xml:"LegalMonetaryTotal>PayableRoundingAmount"`
	Lines    []struct {
		AllowanceCharges []struct {
			Charge string `xml:"ChargeIndicator"`
		} `xml:"AllowanceCharge"`
		PriceAllowances []struct {
			Charge string `xml:"ChargeIndicator"`
		} `xml:"Price>AllowanceCharge"`
	} `xml:"InvoiceLine"`
}

func countFeatures(t testing.TB, doc []byte) discountFeatures {
	t.Helper()
	var v allowanceView
	if err := xml.NewDecoder(bytes.NewReader(doc)).Decode(&v); err != nil {
		t.Fatal(err)
	}
	var f discountFeatures
	for _, ac := range v.DocumentLevel {
		if ac.Charge == "true" {
			f.docCharges++
		} else {
			f.docAllowances++
		}
	}
	for _, l := range v.Lines {
		for _, ac := range l.AllowanceCharges {
			if ac.Charge == "true" {
				f.lineCharges++
			} else {
				f.lineAllowances++
			}
		}
		f.priceAllowances += len(l.PriceAllowances)
	}
	if v.Rounding != "" {
		f.rounding = money.MustParse(v.Rounding).Sign()
	}
	return f
}

// TestDiscountShapesCarryTheirFeatures: each discount shape's document has
// the allowances, charges and rounding the shape is there for, so that the
// checks over the shapes (TestConformanceZATCAValidate,
// TestStampedDocumentsVerify, …) check them.
func TestDiscountShapesCarryTheirFeatures(t *testing.T) {
	for _, sh := range discountShapes() {
		_, doc := renderShape(t, sh.ublShape, testExtensions, "QRTEST")
		if got := countFeatures(t, doc); got != sh.want {
			t.Errorf("%s: the document has %+v, want %+v", sh.name, got, sh.want)
		}
	}
	if n := len(discountShapes()); n < 12 {
		t.Errorf("%d discount shapes; at least 12 are wanted", n)
	}
	var all []string
	for _, sh := range ublShapes() {
		all = append(all, sh.name)
	}
	for _, sh := range discountShapes() {
		found := false
		for _, name := range all {
			found = found || name == sh.name
		}
		if !found {
			t.Errorf("%s is not among ublShapes", sh.name)
		}
	}
}

// everythingShape is the discount shape with every feature.
func everythingShape(t testing.TB) ublShape {
	t.Helper()
	for _, sh := range discountShapes() {
		if sh.name == "discounts_everything" {
			return sh.ublShape
		}
	}
	t.Fatal("no discounts_everything shape")
	return ublShape{}
}

// The property check can fail: a document with allowances and charges
// whose amounts are off by a cent (or a hundredth of a cent) anywhere is
// caught, by the rule broken.
func TestCheckTotalsCatchesDiscountErrors(t *testing.T) {
	r, docBytes := renderShape(t, everythingShape(t), testExtensions, "QRTEST")
	doc := string(docBytes)
	if err := checkTotals(parseUBL(t, docBytes), r); err != nil {
		t.Fatalf("the unedited document: %v", err)
	}
	for name, edit := range map[string][2]string{
		"BR-CO-11":          {`<cbc:AllowanceTotalAmount currencyID="SAR">6.35<`, `<cbc:AllowanceTotalAmount currencyID="SAR">6.36<`},
		"BR-CO-12":          {`<cbc:ChargeTotalAmount currencyID="SAR">15.00<`, `<cbc:ChargeTotalAmount currencyID="SAR">15.01<`},
		"BR-CO-13":          {`<cbc:TaxExclusiveAmount currencyID="SAR">220.15<`, `<cbc:TaxExclusiveAmount currencyID="SAR">220.16<`},
		"BR-CO-16":          {`<cbc:PayableRoundingAmount currencyID="SAR">-0.01<`, `<cbc:PayableRoundingAmount currencyID="SAR">-0.02<`},
		"BR-KSA-EN16931-07": {`<cbc:Amount currencyID="SAR">2.9900<`, `<cbc:Amount currencyID="SAR">2.9899<`},
		"BR-KSA-EN16931-03": {`<cbc:Amount currencyID="SAR">3.00<`, `<cbc:Amount currencyID="SAR">3.01<`},
		"BR-KSA-EN16931-11": {`<cbc:Amount currencyID="SAR">4.50<`, `<cbc:Amount currencyID="SAR">4.49<`},
		"BR-S-08":           {`<cbc:TaxableAmount currencyID="SAR">103.75<`, `<cbc:TaxableAmount currencyID="SAR">103.76<`},
		"BR-Z-08":           {`<cbc:TaxableAmount currencyID="SAR">116.40<`, `<cbc:TaxableAmount currencyID="SAR">116.41<`},
		"BR-KSA-EN16931-05": {`<cbc:MultiplierFactorNumeric>5.00</cbc:MultiplierFactorNumeric>`, ``},
	} {
		bad := strings.Replace(doc, edit[0], edit[1], 1)
		if bad == doc {
			t.Fatalf("%s: edit did not apply", name)
		}
		if err := checkTotals(parseUBL(t, []byte(bad)), r); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: checkTotals = %v", name, err)
		}
	}
}

// Render refuses a document with allowances and charges that do not add up
// exactly, or that misses what ZATCA requires of them, naming the rule.
func TestRenderChecksAllowances(t *testing.T) {
	cent := money.MustParse("0.01")
	plus := func(d *money.Decimal, by money.Decimal) { *d, _ = money.Add(*d, by) }
	build := func() *Invoice {
		sh := everythingShape(t)
		return mustFromSale(t, sh.sale, fxSlot(1))
	}
	if _, err := Render(build()); err != nil {
		t.Fatalf("the unedited document: %v", err)
	}
	for name, tc := range map[string]struct {
		change func(*Invoice)
		want   string
	}{
		"line charge amount":           {func(inv *Invoice) { plus(&inv.Lines[1].AllowanceCharges[0].Amount, cent) }, "BR-KSA-EN16931-11"},
		"line percentage amount":       {func(inv *Invoice) { plus(&inv.Lines[0].AllowanceCharges[0].Amount, cent) }, "BR-KSA-EN16931-03"},
		"line percentage base":         {func(inv *Invoice) { plus(&inv.Lines[0].AllowanceCharges[0].BaseAmount, cent) }, "base amount"},
		"price allowance":              {func(inv *Invoice) { plus(&inv.Lines[0].PriceDiscount, money.MustParse("0.0001")) }, "BR-KSA-EN16931-07"},
		"negative price allowance":     {func(inv *Invoice) { inv.Lines[0].PriceDiscount = money.MustParse("-1") }, "BR-KSA-F-04"},
		"allowance total":              {func(inv *Invoice) { plus(&inv.Totals.AllowanceTotalAmount, cent) }, "BR-CO-11"},
		"charge total":                 {func(inv *Invoice) { plus(&inv.Totals.ChargeTotalAmount, cent) }, "BR-CO-12"},
		"tax exclusive":                {func(inv *Invoice) { plus(&inv.Totals.TaxExclusiveAmount, cent) }, "BR-CO-13"},
		"rounding":                     {func(inv *Invoice) { plus(&inv.Totals.PayableRoundingAmount, cent) }, "BR-CO-16"},
		"rounding of three decimals":   {func(inv *Invoice) { inv.Totals.PayableRoundingAmount = money.MustParse("-0.005") }, "two decimals"},
		"document charge amount":       {func(inv *Invoice) { plus(&inv.AllowanceCharges[2].Amount, cent) }, "BR-S-08"},
		"entry without a breakdown":    {func(inv *Invoice) { inv.AllowanceCharges[0].Category.Percent = money.MustParse("5.00") }, "BR-S-01"},
		"S entry at 0 %":               {func(inv *Invoice) { inv.AllowanceCharges[2].Category.Percent = money.MustParse("0.00") }, "BR-S-06"},
		"Z entry at 5 %":               {func(inv *Invoice) { inv.AllowanceCharges[1].Category.Percent = money.MustParse("5.00") }, "BR-Z-05"},
		"charge without a reason code": {func(inv *Invoice) { inv.AllowanceCharges[2].ReasonCode = "" }, "BR-KSA-19"},
		"allowance without a reason":   {func(inv *Invoice) { inv.Lines[2].AllowanceCharges[0].Reason = "" }, "BR-KSA-22"},
		"percentage above 100":         {func(inv *Invoice) { *inv.AllowanceCharges[0].Percent = money.MustParse("100.01") }, "BR-KSA-DEC-01"},
		"negative allowance":           {func(inv *Invoice) { inv.Lines[2].AllowanceCharges[0].Amount = money.MustParse("-3.75") }, "BR-KSA-F-04"},
		"allowance of three decimals":  {func(inv *Invoice) { inv.Lines[2].AllowanceCharges[0].Amount = money.MustParse("3.751") }, "two decimals"},
		"breakdown VAT rounded twice": {func(inv *Invoice) {
			for _, d := range []*money.Decimal{&inv.Subtotals[0].TaxAmount, &inv.TaxAmount, &inv.TaxAmountSAR, &inv.Totals.TaxInclusiveAmount, &inv.Totals.PayableAmount} {
				plus(d, cent)
			}
		}, "BR-CO-17"},
	} {
		inv := build()
		tc.change(inv)
		if _, err := Render(inv); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Render = %v, want a refusal naming %s", name, err, tc.want)
		}
	}
}

// TestValidateDiscountRules has one bad discount or charge per ZATCA rule
// and requires exactly the field paths named, each with its rule id, and
// that Validate changes nothing in the sale.
func TestValidateDiscountRules(t *testing.T) {
	coffee := fxLine("Coffee", "2", "45", sale.Standard, "15", "")
	insulin := fxLine("Insulin", "3", "41.25", sale.ZeroRated, "", "VATEX-SA-35")
	lines := func(ls ...sale.Line) func(*sale.Sale) { return func(s *sale.Sale) { s.Lines = ls } }
	discount := func(ds ...sale.DocumentAdjustment) func(*sale.Sale) { return func(s *sale.Sale) { s.Discounts = ds } }
	charge := func(cs ...sale.DocumentAdjustment) func(*sale.Sale) { return func(s *sale.Sale) { s.Charges = cs } }
	both := func(fs ...func(*sale.Sale)) func(*sale.Sale) {
		return func(s *sale.Sale) {
			for _, f := range fs {
				f(s)
			}
		}
	}
	long := strings.Repeat("x", 1001)
	tests := []struct {
		name string
		sale func(*sale.Sale)
		want []string
		rule string
	}{
		{"line charge without reason code", lines(withCharges(coffee, amountOff("5.00", "Packing", ""))), []string{"lines[0].charges[0].reason_code"}, "BR-KSA-20"},
		{"line charge code not in UNTDID 7161", lines(withCharges(coffee, amountOff("5.00", "Packing", "XYZ"))), []string{"lines[0].charges[0].reason_code"}, "BR-KSA-CL-06"},
		{"line discount code not in UNTDID 5189", lines(withDiscounts(coffee, percentOff("5", "Promo", "999"))), []string{"lines[0].discounts[0].reason_code"}, "BR-CL-19"},
		{"line discount with a charge code", lines(withDiscounts(coffee, percentOff("5", "Promo", "FC"))), []string{"lines[0].discounts[0].reason_code"}, "5189"},
		{"document charge without reason code", charge(inGroup(amountOff("25.00", "Delivery", ""), sale.Standard, "15")), []string{"charges[0].reason_code"}, "BR-KSA-19"},
		{"document charge code CAPCAQ", charge(inGroup(amountOff("25.00", "Delivery", "CAPCAQ"), sale.Standard, "15")), []string{"charges[0].reason_code"}, "BR-KSA-CL-06"},
		{"document charge with a discount code", charge(inGroup(amountOff("25.00", "Delivery", "95"), sale.Standard, "15")), []string{"charges[0].reason_code"}, "7161"},
		{"document discount in S at 10 %", discount(inGroup(amountOff("5.00", "Promo", ""), sale.Standard, "10")), []string{"discounts[0].vat_rate"}, "BR-KSA-84"},
		{"document charge in S at 16 %", charge(inGroup(amountOff("5.00", "Delivery", "FC"), sale.Standard, "16")), []string{"charges[0].vat_rate"}, "BR-KSA-84"},
		{"document discount in S with a reason", discount(func() sale.DocumentAdjustment {
			d := inGroup(amountOff("5.00", "Promo", ""), sale.Standard, "15")
			d.ExemptionReason = "VATEX-SA-32"
			return d
		}()), []string{"discounts[0].exemption_reason"}, "Z, E and O"},
		{"document discount in Z with another reason than the lines'", both(lines(coffee, insulin), discount(inGroup(amountOff("5.00", "Promo", ""), sale.ZeroRated, "VATEX-SA-36"))),
			[]string{"discounts[0].exemption_reason"}, "BR-Z-08"},
		{"document charge in E with a Z reason", charge(inGroup(amountOff("5.00", "Fee", "ABK"), sale.Exempt, "VATEX-SA-32")), []string{"charges[0].exemption_reason"}, "BR-KSA-23"},
		{"document charge in O without reason or O lines", charge(inGroup(amountOff("5.00", "Fee", "ABK"), sale.OutOfScope, "")), []string{"charges[0].exemption_reason"}, "BR-KSA-24"},
		{"two Z charges with two reasons", charge(inGroup(amountOff("5.00", "Freight", "FC"), sale.ZeroRated, "VATEX-SA-34-1"), inGroup(amountOff("5.00", "Freight", "FC"), sale.ZeroRated, "VATEX-SA-33")),
			[]string{"charges[1].exemption_reason"}, "charges[0]'s VATEX-SA-34-1"},
		{"Z charge for a citizen's education without buyer", charge(inGroup(amountOff("5.00", "Books", "ABK"), sale.ZeroRated, "VATEX-SA-EDU")), []string{"buyer"}, "charges[0]'s VATEX-SA-EDU"},
		{"document discount in E at 5 %", both(lines(coffee, fxLine("Loan fee", "1", "99", sale.Exempt, "", "VATEX-SA-29")), discount(func() sale.DocumentAdjustment {
			d := inGroup(amountOff("5.00", "Waiver", ""), sale.Exempt, "")
			d.Rate = money.MustParse("5")
			return d
		}())), []string{"discounts[0].vat_rate"}, "BR-E-06"},
		{"document charge without category", charge(sale.DocumentAdjustment{Adjustment: amountOff("5.00", "Delivery", "FC")}), []string{"charges[0].vat_category"}, "BR-37"},
		{"document amount discount without category", discount(sale.DocumentAdjustment{Adjustment: amountOff("5.00", "Promo", "")}), []string{"discounts[0].vat_category"}, "BR-32"},
		{"document charge in category X", charge(inGroup(amountOff("5.00", "Delivery", "FC"), "X", "")), []string{"charges[0].vat_category"}, "one of"},
		{"line discount reason of 1001 characters", lines(withDiscounts(coffee, percentOff("5", long, ""))), []string{"lines[0].discounts[0].reason"}, "BR-KSA-F-06-C36"},
		{"line charge reason of 1001 characters", lines(withCharges(coffee, amountOff("1.00", long, "PC"))), []string{"lines[0].charges[0].reason"}, "BR-KSA-F-06-C34"},
		{"document discount reason of 1001 characters", discount(inGroup(amountOff("1.00", long, ""), sale.Standard, "15")), []string{"discounts[0].reason"}, "BR-KSA-F-06-C35"},
		{"document charge reason of 1001 characters", charge(inGroup(amountOff("1.00", long, "FC"), sale.Standard, "15")), []string{"charges[0].reason"}, "BR-KSA-F-06-C33"},
		{"document charge without reason", charge(inGroup(amountOff("1.00", " ", "FC"), sale.Standard, "15")), []string{"charges[0].reason"}, "BR-KSA-21"},
		{"line charge without reason", lines(withCharges(coffee, amountOff("1.00", "", "PC"))), []string{"lines[0].charges[0].reason"}, "BR-KSA-22"},
		{"negative price discount", lines(withPriceDiscount(coffee, "-1")), []string{"lines[0].price_discount"}, "BR-KSA-F-04"},
		{"price discount of five decimals", lines(withPriceDiscount(coffee, "0.00001")), []string{"lines[0].price_discount"}, "at most 4"},
		{"price discount above the price", lines(withPriceDiscount(coffee, "45.0001")), []string{"lines[0].price_discount"}, "above the unit price"},
		{"line discount of 0 %", lines(withDiscounts(coffee, percentOff("0", "Promo", ""))), []string{"lines[0].discounts[0].percent"}, "BR-KSA-DEC-01"},
		{"line discount of 12.345 %", lines(withDiscounts(coffee, percentOff("12.345", "Promo", ""))), []string{"lines[0].discounts[0].percent"}, "BR-KSA-DEC-01"},
		{"line charge of 100.5 %", lines(withCharges(coffee, percentOff("100.5", "Packing", "PC"))), []string{"lines[0].charges[0].percent"}, "BR-KSA-DEC-01"},
		{"line discount of 0.001", lines(withDiscounts(coffee, amountOff("0.001", "Promo", ""))), []string{"lines[0].discounts[0].amount"}, "BR-DEC-24"},
		{"negative document charge", charge(inGroup(amountOff("-5.00", "Delivery", "FC"), sale.Standard, "15")), []string{"charges[0].amount"}, "BR-DEC-05"},
		{"eleven adjustments on a line", lines(withDiscounts(coffee, slices.Repeat([]sale.Adjustment{percentOff("1", "Promo", "")}, 11)...)), []string{"lines[0].discounts"}, "at most 10"},
		{"line discounts above the line", lines(withDiscounts(coffee, percentOff("60", "A", ""), percentOff("50", "B", ""))), []string{"lines[0].discounts"}, "exceed"},
		{"document discount above its group", discount(inGroup(amountOff("300.00", "Promo", ""), sale.Standard, "15")), []string{"discounts"}, "exceed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := fxSale()
			tc.sale(s)
			before := gobBytes(t, s)
			err := Validate(s, fxSeller(), fxOpts)
			if !bytes.Equal(gobBytes(t, s), before) {
				t.Error("Validate changed the sale")
			}
			var errs sale.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Validate = %v, want sale.Errors for %v", err, tc.want)
			}
			var fields []string
			for _, e := range errs {
				fields = append(fields, e.Field)
			}
			if !slices.Equal(fields, tc.want) || !strings.Contains(err.Error(), tc.rule) {
				t.Errorf("fields %q, want %q naming %s\n%v", fields, tc.want, tc.rule, err)
			}
		})
	}
}

// A sale as the POS sends it: the field paths of ZATCA's refusals are the
// JSON's, and the same sale with the reason code given passes.
func TestValidateDiscountRulesOnTheWire(t *testing.T) {
	body := func(code string) string {
		return `{"kind":"invoice","currency":"SAR","lines":[{"name":"Coffee","quantity":"2","unit_price":"45","vat_category":"S","vat_rate":"15",
			"discounts":[{"percent":"10","reason":"Member price","reason_code":"95"}]}],
			"charges":[{"amount":"25.00","reason":"Delivery","vat_category":"S","vat_rate":"15"` + code + `}],
			"payments":[{"means":"cash","tendered":"200.00"}]}`
	}
	s, err := sale.Decode([]byte(body("")), sale.Options{})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	err = Validate(s, fxSeller(), fxOpts)
	var errs sale.Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Field != "charges[0].reason_code" {
		t.Fatalf("Validate = %v, want charges[0].reason_code", err)
	}
	if s, err = sale.Decode([]byte(body(`,"reason_code":"FC"`)), sale.Options{}); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if err := Validate(s, fxSeller(), fxOpts); err != nil {
		t.Errorf("with the reason code: %v", err)
	}
}

// gobBytes is s encoded, pointers followed: two encodings are equal when
// the sales are.
func gobBytes(t *testing.T, s *sale.Sale) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// QR tag 4 and the receipt's total are the amount due after cash rounding
// (PayableAmount), not the total with VAT: 10.46 + 1.57 VAT = 12.03, paid
// in cash rounded to 0.05: 12.05.
func TestRoundedPayableIsTheQRTotal(t *testing.T) {
	var sh ublShape
	for _, d := range discountShapes() {
		if d.name == "cash_rounding_0.05_up" {
			sh = d.ublShape
		}
	}
	doc := stampChain(t, sdkRegime(t), []ublShape{sh})[0]
	info, err := ReceiptInfoOf(doc.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	qr, err := DecodeQR(info.QR)
	if err != nil {
		t.Fatal(err)
	}
	p := parseUBL(t, doc.Bytes)
	if info.Total != "12.05" || qr.Total != "12.05" || p.Totals.TaxInclusive.Value != "12.03" || p.Totals.Rounding == nil || p.Totals.Rounding.Value != "0.02" {
		t.Errorf("receipt total %s, QR total %s, TaxInclusiveAmount %s, rounding %+v; want 12.05, 12.05, 12.03, 0.02",
			info.Total, qr.Total, p.Totals.TaxInclusive.Value, p.Totals.Rounding)
	}
	if _, err := Verify(doc.Bytes); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

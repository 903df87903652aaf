package zatca

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// Fixtures shared by the package's UBL tests. They follow the SDK samples'
// parties (spec/zatca.md §7.3) so that rendered documents can be compared
// with the samples.

// fxGenesisPIH is the first document's PIH (spec/zatca.md §1.3).
const fxGenesisPIH = "NWZlY2ViNjZmZmM4NmYzOGQ5NTI3ODZjNmQ2OTZjNzljMmRiYzIzOWRkNGU5MWI0NjcyOWQ3M2EyN2ZiNTdlOQ=="

func fxSeller() stamping.Seller {
	return stamping.Seller{
		Name:      "Maximum Speed Tech Supply LTD",
		NameLocal: "شركة توريد التكنولوجيا بأقصى سرعة المحدودة",
		VATNumber: "399999999900003",
		IDScheme:  "CRN",
		ID:        "1010010000",
		Address: sale.Address{
			Street:         "الامير سلطان | Prince Sultan",
			BuildingNumber: "2322",
			District:       "المربع | Al-Murabba",
			City:           "الرياض | Riyadh",
			PostalCode:     "23333",
			Country:        "SA",
		},
	}
}

// fxStandardBuyer is a VAT-registered buyer: a sale to it is a tax invoice.
func fxStandardBuyer() *sale.Buyer {
	return &sale.Buyer{
		Name:      "شركة نماذج فاتورة المحدودة | Fatoora Samples LTD",
		VATNumber: "399999999800003",
		Address: &sale.Address{
			Street:         "صلاح الدين | Salah Al-Din",
			BuildingNumber: "1111",
			District:       "المروج | Al-Murooj",
			City:           "الرياض | Riyadh",
			PostalCode:     "12222",
			Country:        "SA",
		},
	}
}

// fxSlot is slot counter, issued 2022-08-17 17:41:08 Saudi time, the
// simplified sample's time.
func fxSlot(counter uint64) stamping.Slot {
	return stamping.Slot{
		Counter:  counter,
		PrevHash: fxGenesisPIH,
		UUID:     "8e6000cf-1a98-4174-b3e7-b5d5954bc10d",
		IssuedAt: time.Date(2022, 8, 17, 14, 41, 8, 0, time.UTC),
	}
}

func fxLine(name, qty, price string, cat sale.VATCategory, rate, reason string) sale.Line {
	l := sale.Line{Name: name, Quantity: money.MustParse(qty), UnitPrice: money.MustParse(price), Category: cat, ExemptionReason: reason}
	if rate != "" {
		l.Rate = money.MustParse(rate)
	}
	return l
}

// fxSale is the content of the SDK's simplified_invoice.xml: two books and
// three pens at 15 %, paid in cash.
func fxSale() *sale.Sale {
	return &sale.Sale{
		Kind:     sale.Invoice,
		Currency: "SAR",
		Lines: []sale.Line{
			fxLine("كتاب", "33", "3", sale.Standard, "15", ""),
			fxLine("قلم", "3", "34", sale.Standard, "15", ""),
		},
		Payments: []sale.Payment{{Means: sale.Cash}},
	}
}

// fxNote turns s into a credit or debit note of the sample's original.
func fxNote(s *sale.Sale, kind sale.Kind) *sale.Sale {
	s.Kind = kind
	s.Original = "SME00002"
	s.Reason = "In case of goods or services refund | عند ترجيع السلع أو الخدمات"
	return s
}

var fxOpts = Options{InvoicePrefix: "SME000"}

func mustFromSale(t testing.TB, s *sale.Sale, slot stamping.Slot) *Invoice {
	t.Helper()
	if err := Validate(s, fxSeller(), fxOpts); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	inv, err := FromSale(s, slot, fxSeller(), fxOpts)
	if err != nil {
		t.Fatalf("FromSale: %v", err)
	}
	return inv
}

func TestFromSaleMapsTheSample(t *testing.T) {
	inv := mustFromSale(t, fxSale(), fxSlot(10))
	want := map[string]string{
		"TypeCode":     "388",
		"TypeName":     "0200000",
		"ID":           "SME00010",
		"UUID":         "8e6000cf-1a98-4174-b3e7-b5d5954bc10d",
		"IssueDate":    "2022-08-17",
		"IssueTime":    "17:41:08",
		"PIH":          fxGenesisPIH,
		"Currency":     "SAR/SAR",
		"Seller":       "شركة توريد التكنولوجيا بأقصى سرعة المحدودة | Maximum Speed Tech Supply LTD",
		"SupplyDate":   "",
		"PaymentMeans": "10",
		"VAT":          "30.15/30.15",
		"Totals":       "201.00 201.00 231.15 0.00 0.00 231.15",
		"Line1":        "1 كتاب 33 PCE 99.00 14.85 113.85 3 S 15.00",
		"Line2":        "2 قلم 3 PCE 102.00 15.30 117.30 34 S 15.00",
		"Subtotal":     "201.00 30.15 S 15.00",
	}
	got := map[string]string{
		"TypeCode":     string(inv.TypeCode),
		"TypeName":     inv.TypeName,
		"ID":           inv.ID,
		"UUID":         inv.UUID,
		"IssueDate":    inv.IssueDate,
		"IssueTime":    inv.IssueTime,
		"PIH":          inv.PIH,
		"Currency":     inv.DocumentCurrency + "/" + inv.TaxCurrency,
		"Seller":       inv.Seller.Name,
		"SupplyDate":   inv.SupplyDate,
		"PaymentMeans": strings.Join(inv.PaymentMeans, ","),
		"VAT":          inv.TaxAmount.String() + "/" + inv.TaxAmountSAR.String(),
		"Totals": strings.Join([]string{inv.Totals.LineExtensionAmount.String(), inv.Totals.TaxExclusiveAmount.String(),
			inv.Totals.TaxInclusiveAmount.String(), inv.Totals.AllowanceTotalAmount.String(), inv.Totals.PrepaidAmount.String(),
			inv.Totals.PayableAmount.String()}, " "),
		"Subtotal": strings.Join([]string{inv.Subtotals[0].TaxableAmount.String(), inv.Subtotals[0].TaxAmount.String(),
			inv.Subtotals[0].Category.ID, inv.Subtotals[0].Category.Percent.String()}, " "),
	}
	for i, l := range inv.Lines {
		got["Line"+l.ID] = strings.Join([]string{l.ID, l.Name, l.Quantity.String(), l.UnitCode, l.NetAmount.String(),
			l.TaxAmount.String(), l.RoundingAmount.String(), l.Price.String(), l.Category.ID, l.Category.Percent.String()}, " ")
		if l.ID != string(rune('1'+i)) {
			t.Errorf("line %d has ID %q", i, l.ID)
		}
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if inv.Buyer != nil {
		t.Errorf("anonymous sale has buyer %+v", inv.Buyer)
	}
	if got := inv.Seller; got.VATNumber != "399999999900003" || got.IDScheme != "CRN" || got.ID != "1010010000" ||
		got.Address == nil || got.Address.BuildingNumber != "2322" || got.Address.PostalCode != "23333" || got.Address.Country != "SA" {
		t.Errorf("seller = %+v %+v", got, got.Address)
	}
}

func TestFromSaleKindsAndTypes(t *testing.T) {
	for _, tc := range []struct {
		kind        sale.Kind
		buyer       *sale.Buyer
		code        TypeCode
		name        string
		supply      bool
		instruction bool
	}{
		{sale.Invoice, nil, TypeInvoice, TypeNameSimplified, false, false},
		{sale.CreditNote, nil, TypeCreditNote, TypeNameSimplified, false, true},
		{sale.DebitNote, nil, TypeDebitNote, TypeNameSimplified, false, true},
		{sale.Invoice, fxStandardBuyer(), TypeInvoice, TypeNameStandard, true, false},
		{sale.CreditNote, fxStandardBuyer(), TypeCreditNote, TypeNameStandard, false, true},
		{sale.DebitNote, fxStandardBuyer(), TypeDebitNote, TypeNameStandard, false, true},
	} {
		t.Run(string(tc.kind)+"/"+tc.name, func(t *testing.T) {
			s := fxSale()
			if tc.kind.IsNote() {
				fxNote(s, tc.kind)
			}
			s.Buyer = tc.buyer
			inv := mustFromSale(t, s, fxSlot(15))
			if inv.TypeCode != tc.code || inv.TypeName != tc.name {
				t.Errorf("type = %s/%s, want %s/%s", inv.TypeCode, inv.TypeName, tc.code, tc.name)
			}
			if got := inv.SupplyDate != ""; got != tc.supply {
				t.Errorf("supply date %q, want one: %v (BR-KSA-15: standard 388 only)", inv.SupplyDate, tc.supply)
			}
			if tc.supply && inv.SupplyDate != inv.IssueDate {
				t.Errorf("supply date %s, want the issue date %s", inv.SupplyDate, inv.IssueDate)
			}
			if got := inv.InstructionNote != "" && inv.BillingReference == "SME00002"; got != tc.instruction {
				t.Errorf("note fields: reason %q, original %q", inv.InstructionNote, inv.BillingReference)
			}
			if inv.Simplified() != (tc.name == TypeNameSimplified) {
				t.Errorf("Simplified() = %v", inv.Simplified())
			}
		})
	}
}

func TestIsStandard(t *testing.T) {
	for _, tc := range []struct {
		buyer *sale.Buyer
		want  bool
	}{
		{nil, false},
		{&sale.Buyer{Name: "Walk-in"}, false},
		{&sale.Buyer{VATNumber: "399999999800003"}, true},
		{&sale.Buyer{IDScheme: "CRN", ID: "1010010001"}, true},
		{&sale.Buyer{IDScheme: "TIN", ID: "3100000001"}, true},
		{&sale.Buyer{IDScheme: "MOM", ID: "A1"}, true},
		{&sale.Buyer{IDScheme: "MLS", ID: "A1"}, true},
		{&sale.Buyer{IDScheme: "700", ID: "7001234560"}, true},
		{&sale.Buyer{IDScheme: "SAG", ID: "A1"}, true},
		{&sale.Buyer{IDScheme: "NAT", ID: "1000000001"}, false},
		{&sale.Buyer{IDScheme: "IQA", ID: "2000000001"}, false},
		{&sale.Buyer{IDScheme: "PAS", ID: "P1"}, false},
		{&sale.Buyer{IDScheme: "GCC", ID: "G1"}, false},
		{&sale.Buyer{IDScheme: "OTH", ID: "O1"}, false},
		{&sale.Buyer{IDScheme: "CRN"}, false}, // a scheme without an ID identifies nobody
	} {
		if got := IsStandard(tc.buyer); got != tc.want {
			t.Errorf("IsStandard(%+v) = %v, want %v", tc.buyer, got, tc.want)
		}
	}
}

func TestIssueDateTimeIsSaudiLocal(t *testing.T) {
	for _, tc := range []struct {
		at         time.Time
		date, time string
	}{
		{time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC), "2026-01-15", "12:00:00"},
		{time.Date(2026, 1, 15, 21, 30, 5, 999_999_999, time.UTC), "2026-01-16", "00:30:05"},
		{time.Date(2026, 7, 1, 23, 59, 59, 0, time.FixedZone("CEST", 2*3600)), "2026-07-02", "00:59:59"}, // no DST in Riyadh
	} {
		d, c := IssueDateTime(tc.at)
		if d != tc.date || c != tc.time {
			t.Errorf("IssueDateTime(%v) = %s %s, want %s %s", tc.at, d, c, tc.date, tc.time)
		}
	}
}

func TestFromSalePaymentMeans(t *testing.T) {
	for _, tc := range []struct {
		means []sale.PaymentMeans
		want  string
	}{
		{nil, "1"},
		{[]sale.PaymentMeans{sale.Cash}, "10"},
		{[]sale.PaymentMeans{sale.Card}, "48"},
		{[]sale.PaymentMeans{sale.BankTransfer}, "42"},
		{[]sale.PaymentMeans{sale.Credit}, "30"},
		{[]sale.PaymentMeans{sale.Other}, "1"},
		{[]sale.PaymentMeans{sale.MobileMoney}, "1"},
		{[]sale.PaymentMeans{sale.Card, sale.Cash, sale.Card}, "48,10"},
	} {
		s := fxSale()
		s.Payments = nil
		for _, m := range tc.means {
			s.Payments = append(s.Payments, sale.Payment{Means: m})
		}
		inv := mustFromSale(t, s, fxSlot(1))
		if got := strings.Join(inv.PaymentMeans, ","); got != tc.want {
			t.Errorf("%v → %s, want %s", tc.means, got, tc.want)
		}
	}
}

// The document VAT is rounded once per category: three lines of 0.05 at
// 15 % show 0.01 VAT each, but the category's VAT is 0.15 × 15 % = 0.0225
// → 0.02, and every total derives from 0.02.
func TestFromSaleRoundsVATPerCategory(t *testing.T) {
	s := fxSale()
	s.Lines = []sale.Line{
		fxLine("a", "1", "0.05", sale.Standard, "15", ""),
		fxLine("b", "1", "0.05", sale.Standard, "15", ""),
		fxLine("c", "1", "0.05", sale.Standard, "15", ""),
	}
	inv := mustFromSale(t, s, fxSlot(1))
	for _, l := range inv.Lines {
		if l.TaxAmount.String() != "0.01" || l.RoundingAmount.String() != "0.06" {
			t.Errorf("line %s VAT %s, with VAT %s; want 0.01, 0.06", l.ID, l.TaxAmount, l.RoundingAmount)
		}
	}
	if inv.TaxAmount.String() != "0.02" || inv.Subtotals[0].TaxAmount.String() != "0.02" ||
		inv.Totals.TaxInclusiveAmount.String() != "0.17" || inv.Totals.PayableAmount.String() != "0.17" {
		t.Errorf("VAT %s, subtotal %s, inclusive %s, payable %s; want 0.02, 0.02, 0.17, 0.17",
			inv.TaxAmount, inv.Subtotals[0].TaxAmount, inv.Totals.TaxInclusiveAmount, inv.Totals.PayableAmount)
	}
	if _, err := Render(inv); err != nil {
		t.Fatal(err)
	}
}

func TestFromSaleExemptions(t *testing.T) {
	s := fxSale()
	s.Buyer = fxStandardBuyer()
	s.Lines = []sale.Line{
		fxLine("Pen", "2", "10", sale.Standard, "15", ""),
		fxLine("Export", "1", "100", sale.ZeroRated, "", "VATEX-SA-32"),
		fxLine("Insurance", "1", "50", sale.Exempt, "0", "VATEX-SA-29-7"),
		fxLine("Fee", "1", "7.5", sale.OutOfScope, "", "VATEX-SA-OOS"),
	}
	opts := fxOpts
	opts.OutOfScopeReason = "Government fee collected on behalf of the ministry"
	inv, err := FromSale(s, fxSlot(3), fxSeller(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range inv.Subtotals {
		c := st.Category
		got = append(got, strings.Join([]string{c.ID, c.Percent.String(), st.TaxableAmount.String(), st.TaxAmount.String(), c.ExemptionReasonCode, c.ExemptionReason}, "|"))
	}
	want := []string{
		"S|15.00|20.00|3.00||",
		"Z|0.00|100.00|0.00|VATEX-SA-32|Export of goods",
		"E|0.00|50.00|0.00|VATEX-SA-29-7|Life insurance services mentioned in Article 29 of the VAT Regulations",
		"O|0.00|7.50|0.00|VATEX-SA-OOS|Government fee collected on behalf of the ministry",
	}
	if !slices.Equal(got, want) {
		t.Errorf("subtotals:\n got %q\nwant %q", got, want)
	}
	if c := inv.Lines[1].Category; c.ID != "Z" || c.Percent.String() != "0.00" || c.ExemptionReasonCode != "VATEX-SA-32" {
		t.Errorf("line 2 category %+v", c)
	}
	if inv.TaxAmount.String() != "3.00" || inv.Totals.PayableAmount.String() != "180.50" {
		t.Errorf("VAT %s payable %s, want 3.00, 180.50", inv.TaxAmount, inv.Totals.PayableAmount)
	}

	s.Lines[3].ExemptionReason = "VATEX-SA-32" // a Z code on an O line
	if _, err := FromSale(s, fxSlot(3), fxSeller(), opts); err == nil || !strings.Contains(err.Error(), "VATEX-SA-32") {
		t.Errorf("FromSale with a Z reason on an O line: %v", err)
	}
}

func TestFromSaleRefusesWhatItCannotMap(t *testing.T) {
	for name, change := range map[string]func(*sale.Sale, *stamping.Slot){
		"currency": func(s *sale.Sale, _ *stamping.Slot) { s.Currency = "USD" },
		"kind":     func(s *sale.Sale, _ *stamping.Slot) { s.Kind = "receipt" },
		"category": func(s *sale.Sale, _ *stamping.Slot) { s.Lines[0].Category = "X" },
		"reason":   func(s *sale.Sale, _ *stamping.Slot) { s.Lines[0].ExemptionReason = "VATEX-SA-32" },
		"no reason": func(s *sale.Sale, _ *stamping.Slot) {
			s.Lines[0].Category, s.Lines[0].Rate = sale.Exempt, money.Decimal{}
		},
		"payment means": func(s *sale.Sale, _ *stamping.Slot) { s.Payments[0].Means = "barter" },
		"issue time":    func(_ *sale.Sale, slot *stamping.Slot) { slot.IssuedAt = time.Time{} },
	} {
		s, slot := fxSale(), fxSlot(1)
		change(s, &slot)
		if inv, err := FromSale(s, slot, fxSeller(), fxOpts); err == nil {
			t.Errorf("%s: FromSale accepted it: %+v", name, inv)
		}
	}
}

func TestSellerName(t *testing.T) {
	for _, tc := range []struct{ name, local, want string }{
		{"ACME LTD", "أكمي", "أكمي | ACME LTD"},
		{"ACME LTD", "", "ACME LTD"},
		{"", "أكمي", "أكمي"},
		{"ACME", "ACME", "ACME"},
	} {
		if got := SellerName(stamping.Seller{Name: tc.name, NameLocal: tc.local}); got != tc.want {
			t.Errorf("SellerName(%q, %q) = %q, want %q", tc.name, tc.local, got, tc.want)
		}
	}
}

// The exemption table and the order used in messages list the same codes,
// each under its category.
func TestExemptionTable(t *testing.T) {
	if len(reasonOrder) != len(exemptions) {
		t.Errorf("reasonOrder has %d codes, exemptions %d", len(reasonOrder), len(exemptions))
	}
	for _, code := range reasonOrder {
		e, ok := exemptions[code]
		if !ok {
			t.Errorf("%s is in reasonOrder but not in exemptions", code)
			continue
		}
		text, ok := ExemptionReasonText(e.category, code, Options{})
		if !ok || text == "" {
			t.Errorf("ExemptionReasonText(%s, %s) = %q, %v", e.category, code, text, ok)
		}
		for _, other := range []sale.VATCategory{sale.Standard, sale.ZeroRated, sale.Exempt, sale.OutOfScope} {
			if _, ok := ExemptionReasonText(other, code, Options{}); ok != (other == e.category) {
				t.Errorf("ExemptionReasonText(%s, %s) ok = %v", other, code, ok)
			}
		}
	}
	if text, _ := ExemptionReasonText(sale.OutOfScope, "VATEX-SA-OOS", Options{}); text != DefaultOutOfScopeReason {
		t.Errorf("default OOS text %q", text)
	}
}

// TestConformanceExemptionTexts compares the reason texts with the wording
// in ZATCA's R3.4.5 schematron (its BR-KSA-83 comparison, which removes
// spaces and compares code+text).
func TestConformanceExemptionTexts(t *testing.T) {
	xsl, err := os.ReadFile(filepath.Join(filepath.Dir(zatcaSamples(t)), "rules", "20210819_ZATCA_E-invoice_Validation_Rules.xsl"))
	if err != nil {
		t.Fatal(err)
	}
	for code, e := range exemptions {
		if e.category == sale.OutOfScope {
			continue
		}
		key := code + strings.ReplaceAll(e.text, " ", "")
		if !strings.Contains(string(xsl), "'"+key+"'") {
			t.Errorf("%s: %q is not the schematron's text", code, e.text)
		}
	}
}

// TestFromSaleLateEntry maps a late-entered sale's transaction date, in
// Saudi time, to the supply date (KSA-5) of a simplified invoice, and
// adds the late-entry note after the POS's own.
func TestFromSaleLateEntry(t *testing.T) {
	s := fxSale()
	s.Note = "Paper receipt 0042"
	s.Late = &sale.LateEntry{TransactionTime: time.Date(2022, 8, 15, 21, 30, 0, 0, time.UTC), Incident: 4}
	inv := mustFromSale(t, s, fxSlot(1))
	if !inv.Simplified() {
		t.Fatal("not simplified")
	}
	if inv.SupplyDate != "2022-08-16" {
		t.Errorf("SupplyDate = %q, want 2022-08-16 (21:30 UTC is the next day in Riyadh)", inv.SupplyDate)
	}
	if inv.IssueDate != "2022-08-17" {
		t.Errorf("IssueDate = %q: the document is issued when the slot says", inv.IssueDate)
	}
	want := "Paper receipt 0042\nIssued late for unit failure incident 4; transaction time 2022-08-15T21:30:00Z"
	if inv.Note != want {
		t.Errorf("Note = %q, want %q", inv.Note, want)
	}
	rendered, err := Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(rendered.Hashed, []byte("<cac:Delivery>\n        <cbc:ActualDeliveryDate>2022-08-16</cbc:ActualDeliveryDate>")) {
		t.Errorf("no cac:Delivery with the supply date in:\n%s", rendered.Hashed)
	}
	s.Late = nil
	if inv := mustFromSale(t, s, fxSlot(1)); inv.SupplyDate != "" || inv.Note != "Paper receipt 0042" {
		t.Errorf("an ordinary simplified sale: SupplyDate %q, Note %q", inv.SupplyDate, inv.Note)
	}
}

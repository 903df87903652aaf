package agent

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/device/receipt"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/textpolicy"
	"github.com/egsd/egsd/stamping/textpolicy/textpolicytest"
)

var (
	update      = flag.Bool("update", false, "rewrite testdata/receipts/*.txt from the printed receipts (review them, and their PNGs, by hand)")
	receiptPNGs = flag.String("receipts.png", "", "write each golden receipt's paper as PNG into `dir`, to look at")
)

// paperRow is a receipt row as the 80 mm printer (48 columns) prints it:
// the label at the left and the value at the right edge.
func paperRow(label, value string) string {
	return label + strings.Repeat(" ", max(1, 48-len(label)-len(value))) + value
}

// receiptCase is a sale and the rows its receipt must print, in order,
// computed by hand from the rules in docs/api.md "Amounts".
type receiptCase struct {
	name, sale string
	rows       []string
	// rasters is how many lines print as images: the seller's Arabic
	// name, each Arabic label above a total, Arabic item names and reasons.
	rasters int
}

var receiptCases = []receiptCase{
	{
		// 2 × 5.00 at 15 %: the receipt as it always was, with the
		// Arabic labels of its three totals.
		name: "plain",
		sale: goodSale,
		rows: []string{
			"Tea",
			paperRow("  2 x 5.00", "10.00"),
			paperRow("Total excl. VAT", "10.00"),
			paperRow("VAT 15.00% on 10.00", "1.50"),
			paperRow("VAT", "1.50"),
			"{bold}" + paperRow("Total incl. VAT SAR", "11.50"),
		},
		rasters: 1 + 3,
	},
	{
		// Coffee: 3 × (5.00 − 1.00) = 12.00; 10 % of it 1.20 off; 5.00
		// gift wrap: 15.80. Tea: 2 × 12.00 = 24.00 − 2.00 = 22.00. Net
		// 37.80; VAT 15 % 5.67; 43.47.
		name: "line_adjustments",
		sale: `{"kind":"invoice","lines":[
			{"name":"Coffee beans 1kg","quantity":"3","unit_price":"5.00","price_discount":"1.00","vat_category":"S","vat_rate":"15",
			 "discounts":[{"percent":"10","reason":"Loyalty"}],"charges":[{"amount":"5.00","reason":"Gift wrap"}]},
			{"name":"Tea bags 100","quantity":"2","unit_price":"12.00","vat_category":"S","vat_rate":"15",
			 "discounts":[{"amount":"2.00","reason":"Bundle","reason_code":"95"}]}]}`,
		rows: []string{
			"Coffee beans 1kg",
			paperRow("  3 x 5.00", "15.80"),
			"    Price discount 1.00 x 3",
			"    Loyalty 10% -1.20",
			"    Gift wrap +5.00",
			"Tea bags 100",
			paperRow("  2 x 12.00", "22.00"),
			"    Bundle -2.00",
			paperRow("Total excl. VAT", "37.80"),
			paperRow("VAT 15.00% on 37.80", "5.67"),
			paperRow("VAT", "5.67"),
			"{bold}" + paperRow("Total incl. VAT SAR", "43.47"),
		},
		rasters: 1 + 3,
	},
	{
		// Rice 2 × 30.00 = 60.00 at 15 %, dates 40.00 zero rated: 100.00.
		// Staff discount 10 % on each group: 6.00 and 4.00; delivery 15.00
		// at 15 %. Taxable: 15 % 60 − 6 + 15 = 69.00, VAT 10.35; Z 36.00.
		// 105.00 + 10.35 = 115.35, by card.
		name: "document_adjustments",
		sale: `{"kind":"invoice","lines":[
			{"name":"Rice 5kg","quantity":"2","unit_price":"30.00","vat_category":"S","vat_rate":"15"},
			{"name":"Fresh dates","quantity":"1","unit_price":"40.00","vat_category":"Z","vat_rate":"0","exemption_reason":"VATEX-SA-35"}],
			"discounts":[{"percent":"10","reason":"Staff discount"}],
			"charges":[{"amount":"15.00","reason":"Delivery to the customer's door within the city, same day","vat_category":"S","vat_rate":"15"}],
			"payments":[{"means":"card"}]}`,
		rows: []string{
			paperRow("  2 x 30.00", "60.00"),
			paperRow("  1 x 40.00", "40.00"),
			paperRow("Staff discount 10% (VAT 15.00%)", "-6.00"),
			paperRow("Staff discount 10% (VAT Z)", "-4.00"),
			"Delivery to the customer's door within the city,",
			"same day (VAT 15.00%)",
			paperRow("", "+15.00"),
			paperRow("Subtotal", "100.00"),
			paperRow("Discounts", "-10.00"),
			paperRow("Charges", "+15.00"),
			paperRow("Total excl. VAT", "105.00"),
			paperRow("VAT 15.00% on 69.00", "10.35"),
			paperRow("VAT Z on 36.00", "0.00"),
			paperRow("VAT", "10.35"),
			"{bold}" + paperRow("Total incl. VAT SAR", "115.35"),
			paperRow("Card", "115.35"),
		},
		rasters: 1 + 6 + 1,
	},
	{
		// 3 × 8.70 = 26.10, VAT 3.915 → 3.92, 30.02; paid in cash only, so
		// rounded to 0.05: 30.00 (rounding −0.02); 50.00 tendered, 20.00
		// change.
		name: "cash_rounding",
		sale: `{"kind":"invoice","cash_rounding":"0.05","lines":[
			{"name":"Milk 2L","quantity":"3","unit_price":"8.70","vat_category":"S","vat_rate":"15"}],
			"payments":[{"means":"cash","tendered":"50.00"}]}`,
		rows: []string{
			paperRow("  3 x 8.70", "26.10"),
			paperRow("Total excl. VAT", "26.10"),
			paperRow("VAT 15.00% on 26.10", "3.92"),
			paperRow("VAT", "3.92"),
			paperRow("Total incl. VAT", "30.02"),
			paperRow("Rounding", "-0.02"),
			"{bold}" + paperRow("Amount due SAR", "30.00"),
			paperRow("Cash", "30.00"),
			paperRow("Tendered", "50.00"),
			paperRow("Change", "20.00"),
		},
		rasters: 1 + 5 + 3,
	},
	{
		// 57.00 + 15 % = 65.55: 20.00 by card, the rest, 45.55, in cash
		// from 50.00 (4.45 change). Not cash only: no rounding, although
		// the unit rounds cash totals to 0.05.
		name: "card_and_cash",
		sale: `{"kind":"invoice","lines":[
			{"name":"Headphones","quantity":"1","unit_price":"57.00","vat_category":"S","vat_rate":"15"}],
			"payments":[{"means":"card","amount":"20.00"},{"means":"cash","tendered":"50.00"}]}`,
		rows: []string{
			paperRow("  1 x 57.00", "57.00"),
			paperRow("Total excl. VAT", "57.00"),
			paperRow("VAT 15.00% on 57.00", "8.55"),
			paperRow("VAT", "8.55"),
			"{bold}" + paperRow("Total incl. VAT SAR", "65.55"),
			paperRow("Card", "20.00"),
			paperRow("Cash", "45.55"),
			paperRow("Tendered", "50.00"),
			paperRow("Change", "4.45"),
		},
		rasters: 1 + 3 + 4,
	},
	{
		// Milk 2 × 8.50 = 17.00, 15 % loyalty discount 2.55: 14.45. Coffee
		// 1 × (20.00 − 2.50) = 17.50 + 3.00 gift wrap: 20.50. Net 34.95,
		// VAT 5.2425 → 5.24, 40.19.
		name: "arabic_discounted_line",
		sale: `{"kind":"invoice","lines":[
			{"name":"حليب طازج 2 لتر","quantity":"2","unit_price":"8.50","vat_category":"S","vat_rate":"15",
			 "discounts":[{"percent":"15","reason":"خصم الولاء"}]},
			{"name":"قهوة عربية","quantity":"1","unit_price":"20.00","price_discount":"2.50","vat_category":"S","vat_rate":"15",
			 "charges":[{"amount":"3.00","reason":"تغليف هدية"}]}]}`,
		rows: []string{
			paperRow("  2 x 8.50", "14.45"),
			paperRow("  1 x 20.00", "20.50"),
			"    Price discount 2.50 x 1",
			paperRow("Total excl. VAT", "34.95"),
			paperRow("VAT 15.00% on 34.95", "5.24"),
			paperRow("VAT", "5.24"),
			"{bold}" + paperRow("Total incl. VAT SAR", "40.19"),
		},
		// The two names and the two reasons print as images.
		rasters: 1 + 3 + 4,
	},
}

// TestReceiptGoldens prints sales with discounts, charges, rounding and
// payments through the print worker onto the fake printer, on a unit that
// rounds cash totals to 0.05. Each receipt
// prints the rows worked out by hand, in order, its amount due is the one
// its QR code states, and the whole transcript matches
// testdata/receipts/<name>.txt (go test ./agent -run TestReceiptGoldens
// -update rewrites them; -receipts.png DIR writes the paper to look at).
func TestReceiptGoldens(t *testing.T) {
	h, p := printerHarness(t, func(c *Config) { c.Sale.CashRounding = "0.05" })
	cashier := h.user("ana", RoleCashier)
	for i, c := range receiptCases {
		h.mustSale(cashier, fmt.Sprint("golden-", i), c.sale)
	}
	startPrintWorker(t, h.a)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	printed, err := p.WaitReceipts(ctx, len(receiptCases))
	if err != nil {
		t.Fatalf("waiting for %d receipts: %v", len(receiptCases), err)
	}
	if st := p.Stats(); st.Unknown != 0 || st.Invalid != 0 || st.NotPrinted != 0 || st.Wraps != 0 {
		t.Errorf("the printer found %d unknown, %d invalid, %d unprinted commands and %d wrapped lines", st.Unknown, st.Invalid, st.NotPrinted, st.Wraps)
	}
	for i, c := range receiptCases {
		t.Run(c.name, func(t *testing.T) {
			got := printed[i]
			lines := strings.Split(got.Text, "\n")
			at := 0
			for _, want := range c.rows {
				for at < len(lines) && lines[at] != want {
					at++
				}
				if at == len(lines) {
					t.Errorf("the receipt lacks %q after the rows before it:\n%s", want, got.Text)
					return
				}
			}
			if n := strings.Count(got.Text, "[RASTER "); n != c.rasters {
				t.Errorf("%d lines printed as images, want %d:\n%s", n, c.rasters, got.Text)
			}
			// The bold row is the amount due, and it is the QR's (the test
			// regime's QR carries the payable amount in its fourth field).
			if len(got.QR) != 1 {
				t.Fatalf("%d QR codes", len(got.QR))
			}
			qrTotal := strings.Split(got.QR[0], "|")[3]
			var bold []string
			for _, l := range lines {
				if strings.HasPrefix(l, "{bold}") && strings.HasSuffix(l, " "+qrTotal) {
					bold = append(bold, l)
				}
			}
			if len(bold) != 1 {
				t.Errorf("the receipt prints the QR's amount due %s in %d bold rows, want 1:\n%s", qrTotal, len(bold), got.Text)
			}

			golden := filepath.Join("testdata", "receipts", c.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got.Text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if *receiptPNGs != "" {
				png, err := got.PNG()
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(*receiptPNGs, c.name+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./agent -run TestReceiptGoldens -update, then review it)", err)
			}
			if got.Text != string(want) {
				t.Errorf("the receipt differs from %s:\n%s", golden, got.Text)
			}
		})
	}
}

// TestReasonTextPrints puts each class of characters (textpolicytest) into
// the reasons of a line's discount and charge and of the document's
// discount and charge. A sale the API accepts prints: its receipt lays out,
// with each reason on it as the character policy lets it print; one it
// refuses names the reasons' fields and no other.
func TestReasonTextPrints(t *testing.T) {
	h, _ := printerHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	fields := []string{"lines[0].discounts[0].reason", "lines[0].charges[0].reason", "discounts[0].reason", "charges[0].reason"}
	for i, c := range textpolicytest.Classes() {
		body := `{"kind":"invoice","lines":[{"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"15",
			"discounts":[{"percent":"10","reason":` + c.JSON + `}],"charges":[{"amount":"1.00","reason":` + c.JSON + `}]}],
			"discounts":[{"amount":"0.50","reason":` + c.JSON + `,"vat_category":"S","vat_rate":"15"}],
			"charges":[{"percent":"5","reason":` + c.JSON + `,"vat_category":"S","vat_rate":"15"}]}`
		w := h.sale(cashier, fmt.Sprint("class-", i), body)
		if !c.InName {
			p := problemOf(t, w, http.StatusBadRequest)
			// Text the JSON cannot carry (a lone surrogate) stops the
			// decoding at the first reason; the others name all four.
			if len(p.Errors) == 0 || !slices.ContainsFunc(fields, func(f string) bool { return f == p.Errors[0].Field }) {
				t.Errorf("%s: refused naming %+v, want the reasons", c.Name, p.Errors)
			}
			for _, e := range p.Errors {
				if !slices.Contains(fields, e.Field) {
					t.Errorf("%s: refused naming %s, want only the reasons", c.Name, e.Field)
				}
			}
			continue
		}
		if w.Code != http.StatusCreated {
			t.Errorf("%s: %d %s, want 201", c.Name, w.Code, w.Body)
			continue
		}
		var v DocumentView
		decodeBody(t, w, &v)
		r, err := h.a.receiptOf(h.record(v.Counter))
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		// 10 % of 10.00 off, 1.00 on; 0.50 off the document, 5 % of 10.00
		// on it.
		reason := textpolicy.Printable(c.Text())
		wantDetails := []string{reason + " 10% -1.00", reason + " +1.00"}
		if strings.Join(r.Lines[0].Details, "|") != strings.Join(wantDetails, "|") {
			t.Errorf("%s: details %q, want %q", c.Name, r.Lines[0].Details, wantDetails)
		}
		wantAdjustments := []receipt.Field{{Label: reason, Value: "-0.50"}, {Label: reason + " 5%", Value: "+0.50"}}
		if !slices.Equal(r.Adjustments, wantAdjustments) {
			t.Errorf("%s: document lines %q, want %q", c.Name, r.Adjustments, wantAdjustments)
		}
		if _, err := h.a.print.layout.Render(r); err != nil {
			t.Errorf("%s: the receipt does not lay out: %v", c.Name, err)
		}
	}
}

// saleTotals decodes a sale and computes its totals, failing the test on
// an error.
func saleTotals(t *testing.T, body string) (*sale.Sale, sale.Totals) {
	t.Helper()
	s, err := sale.Decode([]byte(body), sale.Options{DefaultCurrency: "SAR"})
	if err != nil {
		t.Fatal(err)
	}
	tot, err := sale.ComputeTotals(s)
	if err != nil {
		t.Fatal(err)
	}
	return s, tot
}

func fieldsText(fs []receipt.Field) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s=%s;", f.Label, f.Value)
	}
	return b.String()
}

// TestTotalRows: which total rows print and what they say. The amount due
// is the document's (the regime's ReceiptInfo.Total, the QR's), and the
// rounding row is what it adds to the total with VAT, so the rows add up
// to what the QR states whatever the document says; a total the receipt
// cannot read still prints, as written.
func TestTotalRows(t *testing.T) {
	// 3.90 + 15 % (0.585 → 0.59) = 4.49, rounded to 0.05: 4.50.
	roundsUp := `{"kind":"invoice","cash_rounding":"0.05","lines":[{"name":"Tea","quantity":"1","unit_price":"3.90","vat_category":"S","vat_rate":"15"}],
		"payments":[{"means":"cash"}]}`
	// Rounding names no payment: the total is not rounded.
	notCash := `{"kind":"invoice","cash_rounding":"0.05","lines":[{"name":"Tea","quantity":"1","unit_price":"3.90","vat_category":"S","vat_rate":"15"}]}`
	arabic := localLabels["SA"]
	cases := []struct {
		name, sale, total string
		labels            map[string]string
		want              string
	}{
		{"rounded up", roundsUp, "4.50", nil,
			"Total excl. VAT=3.90;VAT 15.00% on 3.90=0.59;VAT=0.59;Total incl. VAT=4.49;Rounding=+0.01;Amount due SAR=4.50;"},
		{"no regime total", roundsUp, "", nil,
			"Total excl. VAT=3.90;VAT 15.00% on 3.90=0.59;VAT=0.59;Total incl. VAT=4.49;Rounding=+0.01;Amount due SAR=4.50;"},
		{"no rounding without payments", notCash, "4.49", nil,
			"Total excl. VAT=3.90;VAT 15.00% on 3.90=0.59;VAT=0.59;Total incl. VAT SAR=4.49;"},
		{"the document's amount due differs", notCash, "4.45", nil,
			"Total excl. VAT=3.90;VAT 15.00% on 3.90=0.59;VAT=0.59;Total incl. VAT=4.49;Rounding=-0.04;Amount due SAR=4.45;"},
		{"an amount due the receipt cannot read", notCash, "4,49", nil,
			"Total excl. VAT=3.90;VAT 15.00% on 3.90=0.59;VAT=0.59;Total incl. VAT=4.49;Amount due SAR=4,49;"},
		{"Arabic labels", roundsUp, "4.50", arabic,
			"Total excl. VAT=3.90;VAT 15.00% on 3.90=0.59;VAT=0.59;Total incl. VAT=4.49;Rounding=+0.01;Amount due SAR=4.50;"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, tot := saleTotals(t, c.sale)
			rows := totalRows(s, &tot, &stamping.ReceiptInfo{Total: c.total}, c.labels)
			if got := fieldsText(rows); got != c.want {
				t.Errorf("rows\n%s\nwant\n%s", got, c.want)
			}
			for _, r := range rows {
				base, _, _ := strings.Cut(r.Label, " SAR")
				want := c.labels[base]
				if strings.HasPrefix(r.Label, "VAT ") {
					want = "" // the breakdown has no label of its own
				}
				if r.LabelLocal != want {
					t.Errorf("%s: local label %q, want %q", r.Label, r.LabelLocal, want)
				}
			}
		})
	}
}

// TestPaymentRows: the amount per means; cash tendered and change only
// where given and not zero; a payment whose amount the sale leaves open
// prints without one.
func TestPaymentRows(t *testing.T) {
	line := `"lines":[{"name":"Tea","quantity":"1","unit_price":"10.00","vat_category":"S","vat_rate":"15"}]`
	cases := []struct{ name, payments, want string }{
		{"exact cash", `[{"means":"cash","tendered":"11.50"}]`, "Cash=11.50;Tendered=11.50;"},
		{"cash with change", `[{"means":"cash","amount":"11.50","tendered":"20.00"}]`, "Cash=11.50;Tendered=20.00;Change=8.50;"},
		{"every means", `[{"means":"card","amount":"1.00"},{"means":"bank_transfer","amount":"2.00"},{"means":"credit","amount":"3.00"},{"means":"other","amount":"4.00"},{"means":"mobile_money","amount":"0.50"},{"means":"cash","tendered":"5.00"}]`,
			"Card=1.00;Bank transfer=2.00;Credit=3.00;Other=4.00;Mobile money=0.50;Cash=1.00;Tendered=5.00;Change=4.00;"},
		{"split unknown", `[{"means":"card"},{"means":"cash"}]`, "Card=;Cash=;"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, tot := saleTotals(t, `{"kind":"invoice",`+line+`,"payments":`+c.payments+`}`)
			if got := fieldsText(paymentRows(&tot, nil)); got != c.want {
				t.Errorf("rows %s, want %s", got, c.want)
			}
		})
	}
}

// TestZeroAdjustmentsLeftOff: a discount or charge that comes to 0.00 (1 %
// of 0.40) prints no row, under its line or among the document's.
func TestZeroAdjustmentsLeftOff(t *testing.T) {
	h, _ := printerHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	v := h.mustSale(cashier, "zero", `{"kind":"invoice","lines":[{"name":"Mint","quantity":"1","unit_price":"0.40","vat_category":"S","vat_rate":"15",
		"discounts":[{"percent":"1","reason":"Tiny"}],"charges":[{"percent":"1","reason":"Tiny charge"}]}],
		"discounts":[{"percent":"1","reason":"Tiny document discount"}]}`)
	r, err := h.a.receiptOf(h.record(v.Counter))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Lines[0].Details) != 0 || len(r.Adjustments) != 0 {
		t.Errorf("details %q, document lines %q: want none for amounts of 0.00", r.Lines[0].Details, r.Adjustments)
	}
	if got := fieldsText(r.Totals); strings.Contains(got, "Subtotal") || strings.Contains(got, "Discounts") {
		t.Errorf("totals %s: want no subtotal or discounts row when they come to nothing", got)
	}
}

// TestLocalLabelsByCountry: a seller in Saudi Arabia gets the Arabic labels
// above the totals; elsewhere the labels are English only.
func TestLocalLabelsByCountry(t *testing.T) {
	for _, c := range []struct{ country, want string }{{"SA", "الإجمالي شامل الضريبة"}, {"sa", "الإجمالي شامل الضريبة"}, {"KE", ""}} {
		h, _ := printerHarness(t, func(cfg *Config) { cfg.Seller.Country = c.country })
		v := h.mustSale(h.user("ana", RoleCashier), "k", goodSale)
		r, err := h.a.receiptOf(h.record(v.Counter))
		if err != nil {
			t.Fatal(err)
		}
		if last := r.Totals[len(r.Totals)-1]; last.LabelLocal != c.want {
			t.Errorf("country %s: the total's local label is %q, want %q", c.country, last.LabelLocal, c.want)
		}
	}
}

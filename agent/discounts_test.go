package agent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/sale"
)

// cashTeaSale is 3 × 4.35 = 13.05, VAT 13.05 × 15 % = 1.9575 → 1.96, 15.01
// with VAT, paid in cash with 20.00. At a cash rounding of 0.25 it comes
// to 15.01 / 0.25 = 60.04 → 60 × 0.25 = 15.00 (rounding −0.01), change
// 5.00; without, 15.01 and change 4.99.
const cashTeaSale = `{"kind":"invoice","lines":[{"name":"Tea","quantity":"3","unit_price":"4.35","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash","tendered":"20.00"}]}`

// testDocument is the part of a test-regime document these tests read.
type testDocument struct {
	Gross    string `json:"gross"`
	Rounding string `json:"rounding"`
	Payable  string `json:"payable"`
}

func testDocumentOf(t *testing.T, v DocumentView) testDocument {
	t.Helper()
	var d testDocument
	if err := json.Unmarshal(v.Document, &d); err != nil {
		t.Fatalf("document %d: %v", v.Counter, err)
	}
	return d
}

// storedTotals are the totals of a stored sale read back the way the
// receipt and the note checks read it: with no cash rounding of the
// unit's.
func storedTotals(t *testing.T, h *harness, counter uint64) sale.Totals {
	t.Helper()
	rec, err := h.a.Store().Document(counter)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sale.Decode(rec.Sale, sale.Options{DefaultCurrency: h.cfg.Regime.Currency})
	if err != nil {
		t.Fatalf("stored sale of document %d: %v", counter, err)
	}
	tot, err := sale.ComputeTotals(s)
	if err != nil {
		t.Fatalf("stored sale of document %d: %v", counter, err)
	}
	return tot
}

// A unit with sale.cash_rounding rounds sales paid in cash only, and
// only those; a sale may name the unit's rounding but no other; and the
// stored sale keeps the rounding it was issued with, so that after the
// setting changes it still comes to the same totals.
func TestCashRoundingOfTheUnit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Sale.CashRounding = "0.25" })
	cashier := h.user("ana", RoleCashier)

	cash := h.mustSale(cashier, "cash", cashTeaSale)
	if d := testDocumentOf(t, cash); d.Gross != "15.01" || d.Rounding != "-0.01" || d.Payable != "15.00" {
		t.Errorf("cash sale: gross %s rounding %s payable %s; want 15.01 -0.01 15.00", d.Gross, d.Rounding, d.Payable)
	}
	card := h.mustSale(cashier, "card", strings.Replace(cashTeaSale, `{"means":"cash","tendered":"20.00"}`, `{"means":"card"}`, 1))
	if d := testDocumentOf(t, card); d.Gross != "15.01" || d.Rounding != "" {
		t.Errorf("card sale: gross %s rounding %q; want 15.01 and no rounding", d.Gross, d.Rounding)
	}
	named := h.mustSale(cashier, "named", strings.Replace(cashTeaSale, `"kind":"invoice"`, `"kind":"invoice","cash_rounding":"0.25"`, 1))
	if d := testDocumentOf(t, named); d.Payable != "15.00" {
		t.Errorf("a sale naming the unit's rounding: payable %s, want 15.00", d.Payable)
	}

	for _, other := range []string{"0.05", "none"} {
		body := strings.Replace(cashTeaSale, `"kind":"invoice"`, `"kind":"invoice","cash_rounding":"`+other+`"`, 1)
		p := problemOf(t, h.sale(cashier, "other-"+other, body), http.StatusBadRequest)
		if p.Type != problemInvalidSale || len(p.Errors) != 1 || p.Errors[0].Field != "cash_rounding" ||
			!strings.Contains(p.Errors[0].Rule, `"0.25"`) || !strings.Contains(p.Errors[0].Rule, "sale.cash_rounding") {
			t.Errorf("a sale naming cash_rounding %s: %+v; want invalid-sale naming cash_rounding, the unit's 0.25 and the key", other, p)
		}
	}
	if n := h.journalLen(); n != 3 {
		t.Errorf("journal holds %d documents after the refusals, want 3", n)
	}
	if rec, err := h.a.Store().Document(cash.Counter); err != nil || !strings.Contains(string(rec.Sale), `"cash_rounding":"0.25"`) {
		t.Errorf("the stored sale does not name the rounding it was issued with: %s, %v", rec.Sale, err)
	}

	// The unit stops rounding: what it issued keeps its totals.
	h.close()
	cfg := h.cfg
	cfg.Sale.CashRounding = "none"
	h = startHarness(t, cfg, h.ft)
	cashier = h.login("ana", testPassword)
	if tot := storedTotals(t, h, cash.Counter); tot.Payable.String() != "15.00" || tot.Rounding.String() != "-0.01" || tot.Change.String() != "5.00" {
		t.Errorf("document %d read back after the change: payable %v rounding %v change %v; want 15.00 -0.01 5.00", cash.Counter, tot.Payable, tot.Rounding, tot.Change)
	}
	if _, err := h.a.receiptOf(h.record(cash.Counter)); err != nil {
		t.Errorf("the receipt of document %d after the change: %v", cash.Counter, err)
	}
	// The return of all of it is checked against what was issued.
	h.mustSale(cashier, "return", note("credit_note", "T-000001", teaLine("3", "4.35")))
	if d := testDocumentOf(t, h.mustSale(cashier, "after", cashTeaSale)); d.Gross != "15.01" || d.Rounding != "" {
		t.Errorf("a cash sale after the change: gross %s rounding %q; want 15.01, not rounded", d.Gross, d.Rounding)
	}
	if tot := storedTotals(t, h, 5); tot.Payable.String() != "15.01" || tot.Change.String() != "4.99" {
		t.Errorf("document 5: payable %v change %v; want 15.01 4.99", tot.Payable, tot.Change)
	}
	p := problemOf(t, h.sale(cashier, "old", strings.Replace(cashTeaSale, `"kind":"invoice"`, `"kind":"invoice","cash_rounding":"0.25"`, 1)), http.StatusBadRequest)
	if !namesField(p, "cash_rounding") || !strings.Contains(p.Errors[0].Rule, `"none"`) {
		t.Errorf("a sale naming the former rounding: %+v; want cash_rounding naming the unit's none", p)
	}
}

// A corrective credit note comes to its original's totals: the unit's
// cash rounding, set after the original was issued without one, does not
// apply to it.
func TestCorrectiveNoteKeepsItsOriginalsRounding(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	manager := h.user("boss", RoleManager)
	orig := h.mustSale(cashier, "k1", cashTeaSale)
	rejectSome(sc, orig.Counter)
	h.step()

	h.close()
	cfg := h.cfg
	cfg.Sale.CashRounding = "0.25"
	h = startHarness(t, cfg, h.ft)
	manager = h.login("boss", testPassword)
	w := h.do(request{method: "POST", path: "/v1/documents/1/credit-note", token: manager})
	if w.Code != http.StatusCreated {
		t.Fatalf("corrective credit note: %d %s", w.Code, w.Body)
	}
	var note DocumentView
	decodeBody(t, w, &note)
	if tot := storedTotals(t, h, note.Counter); tot.Payable.String() != "15.01" || !tot.Rounding.IsZero() {
		t.Errorf("corrective note: payable %v rounding %v; want the original's 15.01, not rounded", tot.Payable, tot.Rounding)
	}
	if d := testDocumentOf(t, note); d.Gross != "15.01" || d.Rounding != "" {
		t.Errorf("corrective note document: gross %s rounding %q; want 15.01 and no rounding", d.Gross, d.Rounding)
	}
}

// sale.cash_rounding is read as the increment it names, "none" and left
// out as none.
func TestCashRoundingConfig(t *testing.T) {
	for toml, want := range map[string]string{"": "none", "[sale]\ncash_rounding = \"none\"\n": "none",
		"[sale]\ncash_rounding = \"0.05\"\n": "0.05", "[sale]\ncash_rounding = \"1.00\"\n": "1.00"} {
		c, err := ParseConfig("egsd.toml", []byte(toml))
		if err != nil {
			t.Fatalf("ParseConfig(%q): %v", toml, err)
		}
		inc, err := c.Sale.CashRounding.Increment()
		if err != nil || roundingName(inc) != want {
			t.Errorf("ParseConfig(%q): cash rounding %v, %v; want %s", toml, inc, err, want)
		}
	}
}

// TestSaleDiscountsExample issues examples/sale-discounts.json through the
// API and checks every amount against the arithmetic worked out by hand:
//
//	coffee: unit price 18.50 − price discount 1.50 = 17.00; 2 × 17.00 = 34.00
//	dates:  1.250 × 32.00 = 40.00; loyalty 10 % = 4.00; 36.00
//	bread:  1 × 3.00 = 3.00 (Z)
//	net (Σ lines) = 34.00 + 36.00 + 3.00 = 73.00
//	staff 10 % of the whole basket, per VAT group: S 70.00 → 7.00, Z 3.00 → 0.30; discounts 7.30
//	delivery charge 10.00 at 15 %: charges 10.00
//	S 15 %: 70.00 − 7.00 + 10.00 = 73.00, VAT 10.95; Z: 3.00 − 0.30 = 2.70
//	taxable 73.00 − 7.30 + 10.00 = 75.70; VAT 10.95; total 86.65
//	cash 100.00 tendered: change 13.35
//
// On a unit that rounds cash to 0.25: 86.65 / 0.25 = 346.6 → 347 × 0.25 =
// 86.75, rounding +0.10, change 13.25.
func TestSaleDiscountsExample(t *testing.T) {
	body := exampleSale(t, "sale-discounts.json")
	for _, tc := range []struct {
		rounding                   CashRounding
		wantRounding, payable, chg string
	}{{"none", "", "86.65", "13.35"}, {"0.25", "0.10", "86.75", "13.25"}} {
		t.Run(string(tc.rounding), func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Sale.CashRounding = tc.rounding })
			v := h.mustSale(h.user("ana", RoleCashier), "example", body)
			var doc struct {
				Lines                                        []struct{ Net string }
				Net, Discounts, Charges, Taxable, VAT, Gross string
				Rounding, Payable                            string
			}
			if err := json.Unmarshal(v.Document, &doc); err != nil {
				t.Fatal(err)
			}
			var nets []string
			for _, l := range doc.Lines {
				nets = append(nets, l.Net)
			}
			got := strings.Join(append(nets, doc.Net, doc.Discounts, doc.Charges, doc.Taxable, doc.VAT, doc.Gross, doc.Rounding, doc.Payable), " ")
			want := "34.00 36.00 3.00 73.00 7.30 10.00 75.70 10.95 86.65 " + cmpOr(tc.wantRounding, "0.00") + " " + tc.payable
			if got != want {
				t.Errorf("line nets, net, discounts, charges, taxable, VAT, total, rounding, payable =\n%s, want\n%s", got, want)
			}
			var receipt struct{ Total string }
			if err := json.Unmarshal(v.Receipt, &receipt); err != nil || receipt.Total != tc.payable {
				t.Errorf("receipt total %q (%v), want %s", receipt.Total, err, tc.payable)
			}
			tot := storedTotals(t, h, v.Counter)
			var entries []string
			for _, a := range tot.Adjustments {
				entries = append(entries, fmt.Sprintf("%t %s %s", a.Charge, a.Category, a.Amount))
			}
			if e := strings.Join(entries, ", "); e != "false S 7.00, false Z 0.30, true S 10.00" {
				t.Errorf("document entries %s; want the staff discount on S 7.00 and on Z 0.30, the delivery charge on S 10.00", e)
			}
			if tot.Change.String() != tc.chg || tot.Payments[0].Amount.String() != tc.payable {
				t.Errorf("cash %v, change %v; want %s and %s", tot.Payments[0].Amount, tot.Change, tc.payable, tc.chg)
			}
		})
	}
}

// Sales whose discounts, charges, payments or cash rounding break a rule
// are refused with 400 naming the field, and change nothing: no counter,
// no journal record, no audit entry for a document.
func TestRefusedDiscountsChangeNothing(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Sale.CashRounding = "0.05" })
	cashier := h.user("ana", RoleCashier)
	manager := h.user("boss", RoleManager)
	h.mustSale(cashier, "good", cashTeaSale)
	before := h.status(manager)
	audit := len(h.audit(manager))

	const tea = `"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"15"`
	for i, tc := range []struct{ body, field string }{
		{saleWithLine(tea + `,"discounts":[{"percent":"10","amount":"1.00","reason":"Promo"}]`), "lines[0].discounts[0]"},
		{saleWithLine(tea + `,"discounts":[{"amount":"10.01","reason":"Promo"}]`), "lines[0].discounts"},
		{saleWithLine(tea + `,"price_discount":"5.01"`), "lines[0].price_discount"},
		{saleWithLine(tea + `,"charges":[{"percent":"5"}]`), "lines[0].charges[0].reason"},
		{`{"kind":"invoice","lines":[{` + tea + `}],"charges":[{"amount":"5.00","reason":"Delivery"}]}`, "charges[0].vat_category"},
		{`{"kind":"invoice","lines":[{` + tea + `}],"discounts":[{"amount":"10.01","reason":"Coupon","vat_category":"S","vat_rate":"15"}]}`, "discounts"},
		{`{"kind":"invoice","lines":[{` + tea + `}],"payments":[{"means":"cash","tendered":"11.00"}]}`, "payments[0].tendered"},
		{`{"kind":"invoice","lines":[{` + tea + `}],"payments":[{"means":"card","amount":"11.00"}]}`, "payments"},
		{`{"kind":"invoice","lines":[{` + tea + `}],"cash_rounding":"0.10"}`, "cash_rounding"},
		{`{"kind":"invoice","lines":[{` + tea + `}],"cash_rounding":"1.00"}`, "cash_rounding"},
	} {
		p := problemOf(t, h.sale(cashier, fmt.Sprint("bad-", i), tc.body), http.StatusBadRequest)
		if p.Type != problemInvalidSale || !namesField(p, tc.field) {
			t.Errorf("%s: %+v; want invalid-sale naming %s", tc.body, p, tc.field)
		}
	}
	after := h.status(manager)
	if after.Counter != before.Counter || after.LastHash != before.LastHash || after.Outbox.Pending != before.Outbox.Pending {
		t.Errorf("after the refusals: counter %d hash %s outbox %d; want %d %s %d", after.Counter, after.LastHash, after.Outbox.Pending,
			before.Counter, before.LastHash, before.Outbox.Pending)
	}
	if n := h.journalLen(); n != 1 {
		t.Errorf("journal holds %d documents, want 1", n)
	}
	for _, e := range h.audit(manager)[audit:] {
		if e.Action == queue.AuditDocument {
			t.Errorf("audit records a document after the refusals: %+v", e)
		}
	}
}

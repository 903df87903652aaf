package agent

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/zatca"
	bolt "go.etcd.io/bbolt"
)

// credit returns what the credit notes took from document counter, as the
// store keeps it.
func (h *harness) credit(counter uint64) (credited, queue.References) {
	h.t.Helper()
	refs, err := h.a.Store().References(counter)
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := decodeCredited(refs.Credited)
	if err != nil {
		h.t.Fatal(err)
	}
	return c, refs
}

// mustCorrect issues the corrective credit note of the rejected document
// counter as manager, which must be created (201).
func (h *harness) mustCorrect(manager string, counter uint64) DocumentView {
	h.t.Helper()
	w := h.do(request{method: "POST", path: fmt.Sprintf("/v1/documents/%d/credit-note", counter), token: manager})
	if w.Code != http.StatusCreated {
		h.t.Fatalf("corrective credit note of %d: %d %s, want 201", counter, w.Code, w.Body)
	}
	var n DocumentView
	decodeBody(h.t, w, &n)
	return n
}

// lastAudit is the last audit entry of action (zero if none).
func (h *harness) lastAudit(manager, action string) queue.AuditEntry {
	h.t.Helper()
	var last queue.AuditEntry
	for _, e := range h.audit(manager) {
		if e.Action == action {
			last = e
		}
	}
	return last
}

// wantLine checks what the notes took from line k.
func wantLine(t *testing.T, c credited, k int, quantity, net string) {
	t.Helper()
	if got := c.Lines[k]; got.Quantity.String() != quantity || got.Net.String() != net {
		t.Errorf("credited of line %d: %s for %s, want %s for %s", k, got.Net, got.Quantity, net, quantity)
	}
}

// wantTaxable checks what the notes took from a VAT group.
func wantTaxable(t *testing.T, c credited, g vatGroup, taxable string) {
	t.Helper()
	if got := c.taxable(g); got.String() != taxable {
		t.Errorf("credited taxable amount of %s: %s, want %s", g, got, taxable)
	}
}

var (
	groupS15 = vatGroup{sale.Standard, "15.00", ""}
	groupZ32 = vatGroup{sale.ZeroRated, "0.00", "VATEX-SA-32"}
)

// documentNet is the net amount a test-regime document states.
func documentNet(t *testing.T, v DocumentView) string {
	t.Helper()
	var doc struct{ Net string }
	if err := json.Unmarshal(v.Document, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Net
}

// A line bought at 10.00 less 10 % is returned at 9.00, whichever way the
// note states it: the gross price with the same discount, the net price,
// or the gross price with a price discount. Without original_line each
// finds the line by its name and price, although another Tea line exists
// at 12.00; the three returns take all of the line, and a fourth is
// refused.
func TestCreditNoteReturnsADiscountedLine(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "inv", `{"kind":"invoice","lines":[`+
		`{"name":"Tea","quantity":"3","unit_price":"10.00","vat_category":"S","vat_rate":"15","discounts":[{"percent":"10","reason":"Promotion"}]},`+
		`{"name":"Tea","quantity":"1","unit_price":"12.00","vat_category":"S","vat_rate":"15"}]}`)
	ways := []struct{ name, price string }{
		{"gross with the same discount", `"unit_price":"10.00","discounts":[{"percent":"10","reason":"Promotion"}]`},
		{"net", `"unit_price":"9.00"`},
		{"with a price discount", `"unit_price":"10.00","price_discount":"1.00"`},
	}
	for i, w := range ways {
		n := h.mustSale(cashier, fmt.Sprint("return", i), note("credit_note", "1", `{"name":"Tea","quantity":"1",`+w.price+`,"vat_category":"S","vat_rate":"15"}`))
		if net := documentNet(t, n); net != "9.00" {
			t.Errorf("%s: the note credits %s, want 9.00", w.name, net)
		}
		if s := string(h.record(n.Counter).Sale); !strings.Contains(s, `"original_line":1`) {
			t.Errorf("%s: the note was not matched to line 1: %s", w.name, s)
		}
	}
	c, _ := h.credit(1)
	wantLine(t, c, 1, "3", "27.00")
	wantTaxable(t, c, groupS15, "27.00")
	p := problemOf(t, h.sale(cashier, "fourth", note("credit_note", "1", `{"name":"Tea","quantity":"1","unit_price":"9.00","vat_category":"S","vat_rate":"15"}`)), http.StatusBadRequest)
	if !namesField(p, "lines[0].quantity") || !strings.Contains(p.Detail, "at most 0 remain") {
		t.Errorf("a fourth return of the line: %+v", p)
	}
}

// Among lines of one name, a note line without original_line is matched
// to those with its unit price as listed, then to those paid the same per
// unit; what is still ambiguous names original_line.
func TestNoteLineMatchingByPrice(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "inv", `{"kind":"invoice","lines":[`+
		`{"name":"Tea","quantity":"2","unit_price":"10.00","vat_category":"S","vat_rate":"15","discounts":[{"percent":"10","reason":"Promotion"}]},`+
		`{"name":"Tea","quantity":"2","unit_price":"10.00","vat_category":"S","vat_rate":"15","discounts":[{"percent":"20","reason":"Staff"}]},`+
		`{"name":"Tea","quantity":"2","unit_price":"9.00","vat_category":"S","vat_rate":"15"},`+
		`{"name":"Tea","quantity":"2","unit_price":"8.50","vat_category":"S","vat_rate":"15","price_discount":"0.50"}]}`)
	tea := func(price string) string {
		return `{"name":"Tea","quantity":"1",` + price + `,"vat_category":"S","vat_rate":"15"}`
	}
	cases := []struct {
		name, price string
		line        int // 0: ambiguous
	}{
		{"listed with 20 % off", `"unit_price":"10.00","discounts":[{"percent":"20","reason":"Staff"}]`, 2},
		{"listed with 10 % off as a price discount", `"unit_price":"10.00","price_discount":"1.00"`, 1},
		{"9.00 as listed", `"unit_price":"9.00"`, 3},
		{"8.00 as paid", `"unit_price":"8.00"`, 0}, // lines 2 and 4
		{"listed without its discount", `"unit_price":"10.00"`, 0},
	}
	for i, tc := range cases {
		w := h.sale(cashier, fmt.Sprint("m", i), note("credit_note", "1", tea(tc.price)))
		if tc.line == 0 {
			if p := problemOf(t, w, http.StatusBadRequest); !namesField(p, "lines[0].original_line") {
				t.Errorf("%s: %+v, want original_line named", tc.name, p)
			}
			continue
		}
		var n DocumentView
		decodeBody(t, w, &n)
		if w.Code != http.StatusCreated || !strings.Contains(string(h.record(n.Counter).Sale), fmt.Sprintf(`"original_line":%d`, tc.line)) {
			t.Errorf("%s: %d %s, want matched to line %d", tc.name, w.Code, w.Body, tc.line)
		}
	}
}

// A discounted line cannot be credited for more than was paid for it (its
// net amount), however the price is stated; the refusal names the unit
// price with what the line came to, what earlier notes took and what is
// left. A note may credit one unit above what it was paid (a price
// correction) while the line's total holds.
func TestCreditNoteOverADiscountedLine(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "inv", `{"kind":"invoice","lines":[`+
		`{"name":"Tea","quantity":"2","unit_price":"10.00","vat_category":"S","vat_rate":"15","discounts":[{"percent":"10","reason":"Promotion"}]}]}`)
	tea := func(qty, price string) string {
		return fmt.Sprintf(`{"name":"Tea","quantity":%q,%s,"vat_category":"S","vat_rate":"15","original_line":1}`, qty, price)
	}
	over := []struct{ name, line, detail string }{
		{"the listed price", tea("2", `"unit_price":"10.00"`), "credits 20.00"},
		{"a smaller price discount", tea("2", `"unit_price":"10.00","price_discount":"0.50"`), "credits 19.00"},
		{"a smaller discount", tea("2", `"unit_price":"10.00","discounts":[{"percent":"5","reason":"Promotion"}]`), "credits 19.00"},
		{"a discount given back as a charge", tea("2", `"unit_price":"9.00","charges":[{"amount":"0.01","reason":"Wrapping"}]`), "credits 18.01"},
	}
	for i, tc := range over {
		p := problemOf(t, h.sale(cashier, fmt.Sprint("over", i), note("credit_note", "1", tc.line)), http.StatusBadRequest)
		if !namesField(p, "lines[0].unit_price") || !strings.Contains(p.Detail, tc.detail) || !strings.Contains(p.Detail, "which came to 18.00, of which 0 are already credited: at most 18.00 remain") {
			t.Errorf("%s: %+v", tc.name, p)
		}
	}
	h.mustSale(cashier, "correction", note("credit_note", "1", tea("1", `"unit_price":"10.00"`)))
	p := problemOf(t, h.sale(cashier, "second", note("credit_note", "1", tea("1", `"unit_price":"9.00"`))), http.StatusBadRequest)
	if !namesField(p, "lines[0].unit_price") || !strings.Contains(p.Detail, "of which 10.00 are already credited: at most 8.00 remain") {
		t.Errorf("a second unit at 9.00 after one at 10.00: %+v", p)
	}
	h.mustSale(cashier, "rest", note("credit_note", "1", tea("1", `"unit_price":"8.00"`)))
	c, refs := h.credit(1)
	wantLine(t, c, 1, "2", "18.00")
	if refs.CreditedInFull != 3 {
		t.Errorf("credited in full by note %d, want 3", refs.CreditedInFull)
	}
	if st := h.status(cashier); st.Counter != 3 {
		t.Errorf("counter %d, want 3: the invoice and two notes", st.Counter)
	}
}

// A line returned in parts may have a cent less left for its last part
// than its price says: 3 × 3.33 less 10 % came to 8.99; two returns of one
// at 3.00 leave 2.99, which the third is refused above and accepted at.
func TestCreditNoteLastPartOfARoundedLine(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	promotion := `"discounts":[{"percent":"10","reason":"Promotion"}]`
	coffee := func(qty, extra string) string {
		return `{"name":"Coffee","quantity":"` + qty + `","unit_price":"3.33","vat_category":"S","vat_rate":"15",` + extra + `}`
	}
	h.mustSale(cashier, "inv", `{"kind":"invoice","lines":[`+coffee("3", promotion)+`]}`)
	h.mustSale(cashier, "first", note("credit_note", "1", coffee("1", promotion)))
	h.mustSale(cashier, "second", note("credit_note", "1", coffee("1", promotion)))
	p := problemOf(t, h.sale(cashier, "third", note("credit_note", "1", coffee("1", promotion))), http.StatusBadRequest)
	if !namesField(p, "lines[0].unit_price") || !strings.Contains(p.Detail, "credits 3.00") || !strings.Contains(p.Detail, "which came to 8.99, of which 6.00 are already credited: at most 2.99 remain") {
		t.Errorf("the third at 3.00: %+v", p)
	}
	n := h.mustSale(cashier, "third-as-left", note("credit_note", "1", coffee("1", `"discounts":[{"amount":"0.34","reason":"Promotion"}]`)))
	if c, refs := h.credit(1); refs.CreditedInFull != n.Counter {
		t.Errorf("credited in full by %d (%+v), want %d", refs.CreditedInFull, c, n.Counter)
	}
}

// basket is an invoice with a 10 % staff discount on the whole basket and
// a delivery charge: Tea 2 × 10.00 (S 15 %) and Bread 2 × 2.50 (Z), less
// 10 % in each group; S 20.00 − 2.00 + 10.00 = 28.00, Z 5.00 − 0.50 = 4.50.
const basket = `{"kind":"invoice","lines":[` +
	`{"name":"Tea","quantity":"2","unit_price":"10.00","vat_category":"S","vat_rate":"15"},` +
	`{"name":"Bread","quantity":"2","unit_price":"2.50","vat_category":"Z","exemption_reason":"VATEX-SA-32"}],` +
	`"discounts":[{"percent":"10","reason":"Staff discount"}],` +
	`"charges":[{"amount":"10.00","reason":"Delivery","reason_code":"DL","vat_category":"S","vat_rate":"15"}]}`

// basketNote is a credit note for document 1 with the given lines and
// document entries (each a JSON member, or empty).
func basketNote(lines, discounts, charges string) string {
	b := `{"kind":"credit_note","original":"1","reason":"Returned","lines":[` + lines + `]`
	for _, m := range []string{discounts, charges} {
		if m != "" {
			b += "," + m
		}
	}
	return b + "}"
}

const (
	staffDiscount = `"discounts":[{"percent":"10","reason":"Staff discount"}]`
	delivery      = `"charges":[{"amount":"10.00","reason":"Delivery","reason_code":"DL","vat_category":"S","vat_rate":"15"}]`
	teaReturned   = `{"name":"Tea","quantity":"%s","unit_price":"10.00","vat_category":"S","vat_rate":"15"}`
	breadReturned = `{"name":"Bread","quantity":"%s","unit_price":"2.50","vat_category":"Z","exemption_reason":"VATEX-SA-32"}`
)

// A credit note for a sale with a basket discount gives back the
// discounted amounts: the whole refund carries the same discount (and the
// delivery charge) and takes all of the sale; a refund without the
// discount, or with a larger charge, is refused naming the field, with
// what the original had per VAT group, what earlier notes took and what is
// left.
func TestCreditNoteBasketDiscount(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "inv", basket)
	all := fmt.Sprintf(teaReturned, "2") + "," + fmt.Sprintf(breadReturned, "2")
	p := problemOf(t, h.sale(cashier, "no-discount", basketNote(all, "", delivery)), http.StatusBadRequest)
	if !namesField(p, "discounts") || !strings.Contains(p.Detail, "VAT group S 15.00 % is 30.00, but document 1 (T-000001) had 28.00 there") ||
		!strings.Contains(p.Detail, "at most 28.00 remain") || !strings.Contains(p.Detail, "VAT group Z (VATEX-SA-32) is 5.00") ||
		!strings.Contains(p.Detail, "the original's document discounts there came to 2.00") {
		t.Errorf("the whole refund without the staff discount: %+v", p)
	}
	dearer := strings.Replace(delivery, "10.00", "12.00", 1)
	p = problemOf(t, h.sale(cashier, "dearer", basketNote(all, staffDiscount, dearer)), http.StatusBadRequest)
	if !namesField(p, "charges") || namesField(p, "lines") || !strings.Contains(p.Detail, "is 30.00") {
		t.Errorf("the whole refund with a larger delivery charge: %+v", p)
	}
	if st := h.status(cashier); st.Counter != 1 {
		t.Fatalf("counter %d after refused notes, want 1", st.Counter)
	}
	n := h.mustSale(cashier, "whole", basketNote(all, staffDiscount, delivery))
	c, refs := h.credit(1)
	wantTaxable(t, c, groupS15, "28.00")
	wantTaxable(t, c, groupZ32, "4.50")
	if refs.CreditedInFull != n.Counter {
		t.Errorf("credited in full by %d, want the whole refund %d", refs.CreditedInFull, n.Counter)
	}
	p = problemOf(t, h.sale(cashier, "more", basketNote(fmt.Sprintf(breadReturned, "1"), staffDiscount, "")), http.StatusBadRequest)
	if !namesField(p, "lines[0].quantity") {
		t.Errorf("a note after the whole refund: %+v", p)
	}
}

// A basket returned in parts, each part with its share of the staff
// discount, adds up to the sale; a part returned without it takes more
// than its share, and the rest is then refused for what is left of the VAT
// group.
func TestCreditNoteBasketInParts(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "inv", basket)
	h.mustSale(cashier, "tea", basketNote(fmt.Sprintf(teaReturned, "1"), staffDiscount, ""))
	c, _ := h.credit(1)
	wantTaxable(t, c, groupS15, "9.00")
	// The bread without its discount: Z 5.00 of 4.50.
	p := problemOf(t, h.sale(cashier, "bread-full-price", basketNote(fmt.Sprintf(breadReturned, "2"), "", "")), http.StatusBadRequest)
	if !namesField(p, "discounts") || !strings.Contains(p.Detail, "VAT group Z (VATEX-SA-32) is 5.00") || !strings.Contains(p.Detail, "at most 4.50 remain") {
		t.Errorf("the bread without its discount: %+v", p)
	}
	n := h.mustSale(cashier, "rest", basketNote(fmt.Sprintf(teaReturned, "1")+","+fmt.Sprintf(breadReturned, "2"), staffDiscount, delivery))
	c, refs := h.credit(1)
	wantTaxable(t, c, groupS15, "28.00")
	wantTaxable(t, c, groupZ32, "4.50")
	wantLine(t, c, 1, "2", "20.00")
	wantLine(t, c, 2, "2", "5.00")
	if refs.CreditedInFull != n.Counter {
		t.Errorf("credited in full by %d, want %d", refs.CreditedInFull, n.Counter)
	}
}

// Credit notes racing for a discounted original never take more than it
// had, whichever limit binds: the line's net amount (each note returns one
// unit at its listed price with the basket discount: 10.00 of 90.00) or
// the VAT group's taxable amount (each returns one unit at 9.00 without the
// basket discount: 9.00 of 81.00). Nine of 24 are issued either way.
func TestCreditNotesRacingOnADiscountedOriginal(t *testing.T) {
	const original = `{"kind":"invoice","lines":[` +
		`{"name":"Tea","quantity":"10","unit_price":"10.00","vat_category":"S","vat_rate":"15","discounts":[{"percent":"10","reason":"Promotion"}]}],` +
		`"discounts":[{"percent":"10","reason":"Staff discount"}]}`
	shapes := []struct{ name, body, net, taxable string }{
		{"line net binds", `{"kind":"credit_note","original":"1","reason":"Returned","lines":[{"name":"Tea","quantity":"1","unit_price":"10.00","vat_category":"S","vat_rate":"15"}],` + staffDiscount + `}`, "90.00", "81.00"},
		{"taxable binds", note("credit_note", "1", `{"name":"Tea","quantity":"1","unit_price":"9.00","vat_category":"S","vat_rate":"15"}`), "81.00", "81.00"},
	}
	for _, shape := range shapes {
		for _, groupCommit := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/group_commit=%t", shape.name, groupCommit), func(t *testing.T) {
				h := newHarness(t, func(c *Config) { c.Store.GroupCommit = groupCommit })
				cashier := h.user("ana", RoleCashier)
				h.mustSale(cashier, "inv", original)
				issued, refused, codes := h.raceSales(cashier, shape.body, 24)
				c, refs := h.credit(1)
				if issued != 9 || refused != 15 || len(refs.Notes) != 9 {
					t.Errorf("%d issued, %d refused, %d notes referenced (codes %v); want 9, 15, 9", issued, refused, len(refs.Notes), codes)
				}
				wantLine(t, c, 1, "9", shape.net)
				wantTaxable(t, c, groupS15, shape.taxable)
			})
		}
	}
}

// discountedSale has every kind of discount and charge: a price discount,
// line discounts as a percentage and an amount, a line charge, a basket
// discount, a delivery charge, and cash tendered. (Cash rounding is the
// unit's, kept with the stored sale, which a corrective note states as
// it is.)
const discountedSale = `{"kind":"invoice","lines":[` +
	`{"name":"Tea","quantity":"2","unit_price":"10.00","vat_category":"S","vat_rate":"15","discounts":[{"amount":"2.00","reason":"Bundle"}]},` +
	`{"name":"Coffee","quantity":"3","unit_price":"3.33","vat_category":"S","vat_rate":"15","discounts":[{"percent":"10","reason":"Promotion","reason_code":"95"}]},` +
	`{"name":"Cake","quantity":"1","unit_price":"8.00","price_discount":"0.50","vat_category":"S","vat_rate":"15","charges":[{"percent":"5","reason":"Gift box","reason_code":"PC"}]},` +
	`{"name":"Bread","quantity":"1","unit_price":"5.00","vat_category":"Z","exemption_reason":"VATEX-SA-32"}],` +
	`"discounts":[{"percent":"10","reason":"Staff discount"}],` +
	`"charges":[{"amount":"10.00","reason":"Delivery","reason_code":"DL","vat_category":"S","vat_rate":"15"}],` +
	`"payments":[{"means":"cash","tendered":"100.00"}]}`

// zatcaRules checks a note's sale against ZATCA's rules for what the
// device checks before it stamps, and that the ZATCA builder takes it.
func zatcaRules(t *testing.T, s *sale.Sale) {
	t.Helper()
	seller := stamping.Seller{Name: "Maximum Speed Tech Supply LTD", VATNumber: "399999999900003", IDScheme: "CRN", ID: "1010010000",
		Address: sale.Address{Street: "Prince Sultan", BuildingNumber: "2322", District: "Al-Murabba", City: "Riyadh", PostalCode: "23333", Country: "SA"}}
	if err := zatca.Validate(s, seller, zatca.Options{}); err != nil {
		t.Errorf("ZATCA's rules refuse the note: %v", err)
	}
	slot := stamping.Slot{Counter: 2, UUID: "8d487816-70b8-4ade-a618-9d620b73814a", PrevHash: "NWZlY2ViNjZmZmM4NmYzOGQ5NTI3ODZjNmQ2OTZjNzljMmRiYzIzOWRkNGU5MWI0NjcyOWQ3M2EyN2ZiNTdlOQ==", IssuedAt: t0}
	if _, err := zatca.FromSale(s, slot, seller, zatca.Options{}); err != nil {
		t.Errorf("the ZATCA builder refuses the note: %v", err)
	}
}

// storedSaleTotals decodes a stored sale and computes its totals.
func storedSaleTotals(t *testing.T, rec *queue.Record) (*sale.Sale, sale.Totals) {
	t.Helper()
	s, err := sale.Decode(rec.Sale, sale.Options{DefaultCurrency: "SAR"})
	if err != nil {
		t.Fatalf("stored sale of %d: %v\n%s", rec.Counter, err, rec.Sale)
	}
	tot, err := sale.ComputeTotals(s)
	if err != nil {
		t.Fatal(err)
	}
	return s, tot
}

// The corrective credit note of a rejected invoice with discounts and
// charges of every kind states them as the invoice did and credits exactly
// its totals — every line's net amount, the document's discounts, charges,
// taxable amount and VAT per group, the total and the amount paid — with
// no cash tendered (a refund hands the money back).
func TestCorrectiveCreditNoteOfADiscountedInvoice(t *testing.T) {
	h, cashier := rejectFirst(t)
	manager := h.user("boss", RoleManager)
	h.mustSale(cashier, "inv", discountedSale)
	h.step()
	n := h.mustCorrect(manager, 1)
	_, want := storedSaleTotals(t, h.record(1))
	rec := h.record(n.Counter)
	ns, got := storedSaleTotals(t, rec)
	zatcaRules(t, ns)
	if ns.Kind != sale.CreditNote || strings.Contains(string(rec.Sale), "tendered") {
		t.Errorf("the corrective note is a %s with sale %s; want a credit note without cash tendered", ns.Kind, rec.Sale)
	}
	for i := range want.Lines {
		if money.Cmp(got.Lines[i].Net, want.Lines[i].Net) != 0 {
			t.Errorf("line %d credits %s, the invoice's was %s", i+1, got.Lines[i].Net, want.Lines[i].Net)
		}
	}
	for _, f := range []struct {
		name      string
		got, want money.Decimal
	}{
		{"net", got.Net, want.Net}, {"discounts", got.Discounts, want.Discounts}, {"charges", got.Charges, want.Charges},
		{"taxable", got.Taxable, want.Taxable}, {"VAT", got.VAT, want.VAT}, {"gross", got.Gross, want.Gross},
		{"rounding", got.Rounding, want.Rounding}, {"payable", got.Payable, want.Payable},
		{"paid in cash", *got.Payments[0].Amount, *want.Payments[0].Amount},
	} {
		if money.Cmp(f.got, f.want) != 0 {
			t.Errorf("the corrective note's %s is %s, the invoice's %s", f.name, f.got, f.want)
		}
	}
	if len(got.Categories) != len(want.Categories) {
		t.Fatalf("VAT groups %+v, want %+v", got.Categories, want.Categories)
	}
	for i := range want.Categories {
		if g, w := got.Categories[i], want.Categories[i]; money.Cmp(g.Taxable, w.Taxable) != 0 || money.Cmp(g.VAT, w.VAT) != 0 {
			t.Errorf("VAT group %s: %s and VAT %s, the invoice's %s and %s", w.Category, g.Taxable, g.VAT, w.Taxable, w.VAT)
		}
	}
	// Cross-check one total by hand: S lines 18.00 + 8.99 + 7.88, less
	// 3.49 staff discount, plus 10.00 delivery.
	if want.Categories[0].Taxable.String() != "41.38" {
		t.Errorf("the invoice's S taxable amount is %s, want 41.38", want.Categories[0].Taxable)
	}
	if _, refs := h.credit(1); refs.Corrective != n.Counter || refs.CreditedInFull != n.Counter {
		t.Errorf("references %+v: want the corrective note %d to credit all of it", refs, n.Counter)
	}
}

// A discounted invoice credited in part before the authority rejected it
// gets a corrective note for exactly what is left: the Tea line with its
// amount discount pro rata, the Coffee line settled to the cent (the two
// returns at 3.00 left 2.99 of 8.99, which 3.33 less 10 % does not make),
// and the basket discount and delivery charge for what is left of the VAT
// groups. With it, every line and group is credited in full.
func TestCorrectiveCreditNoteForWhatIsLeftOfADiscountedInvoice(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	manager := h.user("boss", RoleManager)
	rejectSome(sc, 1)
	h.mustSale(cashier, "inv", discountedSale)
	h.mustSale(cashier, "part1", `{"kind":"credit_note","original":"1","reason":"Returned","lines":[`+
		`{"name":"Tea","quantity":"1","unit_price":"9.00","vat_category":"S","vat_rate":"15"},`+
		`{"name":"Coffee","quantity":"1","unit_price":"3.33","vat_category":"S","vat_rate":"15","discounts":[{"percent":"10","reason":"Promotion"}]}],`+
		staffDiscount+`}`)
	h.mustSale(cashier, "part2", `{"kind":"credit_note","original":"1","reason":"Returned","lines":[`+
		`{"name":"Coffee","quantity":"1","unit_price":"3.00","vat_category":"S","vat_rate":"15"}],`+staffDiscount+`}`)
	h.step()
	taken, _ := h.credit(1)
	wantLine(t, taken, 1, "1", "9.00")
	wantLine(t, taken, 2, "2", "6.00")
	wantTaxable(t, taken, groupS15, "13.50") // (9.00 + 3.00) × 0.9 + 3.00 × 0.9
	n := h.mustCorrect(manager, 1)
	rec := h.record(n.Counter)
	ns, got := storedSaleTotals(t, rec)
	zatcaRules(t, ns)
	wantLines := []struct {
		quantity, net string
	}{{"1", "9.00"}, {"1", "2.99"}, {"1", "7.88"}, {"1", "5.00"}}
	if len(ns.Lines) != len(wantLines) {
		t.Fatalf("corrective note lines %s", rec.Sale)
	}
	for i, wl := range wantLines {
		if ns.Lines[i].Quantity.String() != wl.quantity || got.Lines[i].Net.String() != wl.net || ns.Lines[i].OriginalLine != i+1 {
			t.Errorf("corrective line %d: %s for %s (original line %d), want %s for %s", i, got.Lines[i].Net, ns.Lines[i].Quantity, ns.Lines[i].OriginalLine, wl.net, wl.quantity)
		}
	}
	// S: 41.38 − 13.50 = 27.88; Z: 4.50.
	if got.Categories[0].Taxable.String() != "27.88" || got.Categories[1].Taxable.String() != "4.50" {
		t.Errorf("corrective note taxable amounts %s and %s, want 27.88 and 4.50", got.Categories[0].Taxable, got.Categories[1].Taxable)
	}
	if c := ns.Lines[1].Discounts; len(c) != 1 || c[0].Amount.String() != "0.34" || c[0].Reason != "Promotion" || c[0].ReasonCode != "95" {
		t.Errorf("the Coffee line's discount %+v, want 0.34 for the promotion", c)
	}
	if c := ns.Lines[0].Discounts; len(c) != 1 || c[0].Amount.String() != "1.00" || c[0].Reason != "Bundle" {
		t.Errorf("the Tea line's discount %+v, want its 2.00 for 2 as 1.00 for 1", c)
	}
	all, refs := h.credit(1)
	if refs.Corrective != n.Counter || refs.CreditedInFull != n.Counter {
		t.Errorf("references %+v: want the corrective note %d to credit the rest", refs, n.Counter)
	}
	wantTaxable(t, all, groupS15, "41.38")
	wantTaxable(t, all, groupZ32, "4.50")
}

// What no note can credit is said, not guessed: a line whose quantity was
// all credited but not all of its amount.
func TestCorrectiveCreditNoteOfWhatNoNoteCanCredit(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	manager := h.user("boss", RoleManager)
	rejectSome(sc, 1)
	h.mustSale(cashier, "inv", `{"kind":"invoice","lines":[`+teaLine("2", "5.00")+`,`+teaLine("1", "4.00")+`]}`)
	h.mustSale(cashier, "part", note("credit_note", "1", `{"name":"Tea","quantity":"2","unit_price":"4.00","vat_category":"S","vat_rate":"15","original_line":1}`))
	h.step()
	p := problemOf(t, h.do(request{method: "POST", path: "/v1/documents/1/credit-note", token: manager}), http.StatusConflict)
	if !strings.Contains(p.Detail, "line 1 of document 1 (Tea) was credited by notes 2, but 2.00 of its net amount was not") {
		t.Errorf("corrective note of a line credited for all its quantity at a lower price: %+v", p)
	}
}

// makeCreditedV1 rewrites the credited totals of document counter in dir's
// store as an egsd before schema 4 kept them (per line the quantity and
// quantity × unit price, exact), with the store's schema at 3.
func makeCreditedV1(t *testing.T, dir string, counter uint64, v1 string) {
	t.Helper()
	editStore(t, dir, func(tx *bolt.Tx) error {
		notes := tx.Bucket([]byte("notes"))
		key := []byte{0, 0, 0, 0, 0, 0, 0, byte(counter)}
		var refs map[string]any
		if err := json.Unmarshal(notes.Get(key), &refs); err != nil {
			return err
		}
		refs["credited"] = json.RawMessage(v1)
		b, err := json.Marshal(refs)
		if err != nil {
			return err
		}
		if err := notes.Put(key, b); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte{0, 0, 0, 0, 0, 0, 0, 3})
	})
}

// A store written before credited totals were net amounts keeps, per
// line, quantity × unit price exactly. At its first start the agent
// recomputes them from the notes: 1 × 3.3333 of 3 × 3.3333 (10.00) took
// 3.33, so the 2 left (6.67) may still be credited, which the exact
// 3.3333 read as a net amount would refuse; the audit log says what was
// recomputed.
func TestCreditedTotalsOfAnOlderStoreRecomputed(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "inv", `{"kind":"invoice","lines":[`+teaLine("3", "3.3333")+`,`+
		`{"name":"Coffee","quantity":"2","unit_price":"16.50","vat_category":"S","vat_rate":"15"}]}`)
	h.mustSale(cashier, "n1", note("credit_note", "1", teaLine("1", "3.3333")))
	h.mustSale(cashier, "n2", note("debit_note", "1", teaLine("1", "1.00")))
	h.mustSale(cashier, "n3", note("credit_note", "1", `{"name":"Coffee","quantity":"1","unit_price":"16.50","vat_category":"S","vat_rate":"15"}`))
	h.close()
	makeCreditedV1(t, h.cfg.DataDir, 1, `{"lines":{"1":{"quantity":"1","amount":"3.3333"},"2":{"quantity":"1","amount":"16.50"}}}`)

	h2 := startHarness(t, h.cfg, h.ft)
	manager := h2.user("boss", RoleManager)
	recomputed := h2.lastAudit(manager, queue.AuditRecredit).Details
	if recomputed["documents"] != "1" || recomputed["documents_unreadable"] != "0" {
		t.Errorf("audit details %v, want 1 document recomputed", recomputed)
	}
	c, _ := h2.credit(1)
	wantLine(t, c, 1, "1", "3.33")
	wantLine(t, c, 2, "1", "16.50")
	wantTaxable(t, c, groupS15, "19.83")
	cashier = h2.login("ana", testPassword)
	h2.mustSale(cashier, "n4", note("credit_note", "1", teaLine("2", "3.3333")))
	p := problemOf(t, h2.sale(cashier, "n5", note("credit_note", "1", `{"name":"Coffee","quantity":"2","unit_price":"16.50","vat_category":"S","vat_rate":"15"}`)), http.StatusBadRequest)
	if !namesField(p, "lines[0].quantity") || !strings.Contains(p.Detail, "at most 1 remain") {
		t.Errorf("2 coffees of the 1 left: %+v", p)
	}
	n := h2.mustSale(cashier, "n6", note("credit_note", "1", `{"name":"Coffee","quantity":"1","unit_price":"16.50","vat_category":"S","vat_rate":"15"}`))
	if _, refs := h2.credit(1); refs.CreditedInFull != n.Counter {
		t.Errorf("credited in full by %d, want %d", refs.CreditedInFull, n.Counter)
	}
}

// A credit note that this egsd cannot read (here: a field it does not
// know) leaves its original's credited totals as the earlier egsd kept
// them: the start says so and goes on, and a note against that original
// is refused naming original, not failed.
func TestCreditedTotalsThatCannotBeRecomputed(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "inv", invoice83)
	h.mustSale(cashier, "n1", note("credit_note", "1", teaLine("6", "5.00")))
	h.close()
	makeCreditedV1(t, h.cfg.DataDir, 1, `{"lines":{"1":{"quantity":"6","amount":"30.00"}}}`)
	editStore(t, h.cfg.DataDir, func(tx *bolt.Tx) error {
		journal := tx.Bucket([]byte("journal"))
		key := []byte{0, 0, 0, 0, 0, 0, 0, 2}
		var rec map[string]any
		v, err := queuetest.JournalJSON(tx, journal.Get(key))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return err
		}
		raw, err := base64.StdEncoding.DecodeString(rec["sale"].(string))
		if err != nil {
			return err
		}
		rec["sale"] = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(raw), `{`, `{"till_field":1,`, 1)))
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return journal.Put(key, b)
	})

	h2 := startHarness(t, h.cfg, h.ft)
	manager := h2.user("boss", RoleManager)
	if d := h2.lastAudit(manager, queue.AuditRecredit).Details; d["documents"] != "0" || d["documents_unreadable"] != "1" {
		t.Errorf("audit details %v, want 1 document that could not be recomputed", d)
	}
	p := problemOf(t, h2.sale(h2.login("ana", testPassword), "n2", note("credit_note", "1", teaLine("1", "5.00"))), http.StatusBadRequest)
	if !namesField(p, "original") || !strings.Contains(p.Detail, "could not recompute") {
		t.Errorf("a note against the original: %+v", p)
	}
}

package agent

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egsd/egsd/device/receipt"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	"github.com/egsd/egsd/stamping"
	bolt "go.etcd.io/bbolt"
)

// invoice83 is an invoice of 83.00 SAR: 10 × 5.00 and 2 × 16.50 of tea.
const invoice83 = `{"kind":"invoice","lines":[` +
	`{"name":"Tea","quantity":"10","unit_price":"5.00","vat_category":"S","vat_rate":"15","seller_code":"T-1"},` +
	`{"name":"Coffee","quantity":"2","unit_price":"16.50","vat_category":"S","vat_rate":"15"}]}`

// note returns a credit or debit note for original with the given lines.
func note(kind, original string, lines ...string) string {
	return fmt.Sprintf(`{"kind":%q,"original":%q,"reason":"Goods returned","lines":[%s]}`, kind, original, strings.Join(lines, ","))
}

func teaLine(qty, price string) string {
	return fmt.Sprintf(`{"name":"Tea","quantity":%q,"unit_price":%q,"vat_category":"S","vat_rate":"15"}`, qty, price)
}

// A note must name a document of this unit that exists, by counter, UUID
// or number; one that names none is refused with 400 naming original, and
// the counter does not move.
func TestNoteForMissingDocument(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "inv", invoice83)
	for _, ref := range []string{"2", "999", "0b5a0a3e-1f6c-4d35-9c5e-2e0f3e5a6b7c", "T-000099", "INV-1"} {
		for _, kind := range []string{"credit_note", "debit_note"} {
			w := h.sale(cashier, "n-"+kind+ref, note(kind, ref, teaLine("1", "5.00")))
			p := problemOf(t, w, http.StatusBadRequest)
			if !namesField(p, "original") || !strings.Contains(p.Detail, "original_external") {
				t.Errorf("%s for %q: %+v, want invalid-sale naming original and saying how to credit a document from elsewhere", kind, ref, p)
			}
		}
	}
	if st := h.status(cashier); st.Counter != 1 {
		t.Errorf("counter %d after refused notes, want 1", st.Counter)
	}
}

// The original may be named by counter, UUID or its number as printed;
// the note's document, its stored sale and its receipt name it by number.
func TestNoteNamesOriginalByCounterUUIDOrNumber(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	inv := h.mustSale(cashier, "inv", invoice83)
	if inv.Number != "T-000001" {
		t.Fatalf("invoice number %q, want T-000001", inv.Number)
	}
	for i, ref := range []string{"1", inv.UUID, "T-000001"} {
		n := h.mustSale(cashier, fmt.Sprint("n", i), note("credit_note", ref, teaLine("1", "5.00")))
		if n.OriginalCounter != 1 {
			t.Errorf("note for %q: original_counter %d, want 1", ref, n.OriginalCounter)
		}
		var doc struct{ Original string }
		if err := json.Unmarshal(n.Document, &doc); err != nil || doc.Original != "T-000001" {
			t.Errorf("note for %q: its document names the original %q (%v), want T-000001", ref, doc.Original, err)
		}
		rec := h.record(n.Counter)
		if !strings.Contains(string(rec.Sale), `"original":"T-000001"`) || !strings.Contains(string(rec.Sale), `"original_line":1`) {
			t.Errorf("note for %q: stored sale %s does not name the original by number and the line", ref, rec.Sale)
		}
		r, err := h.a.receiptOf(rec)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(r.Fields, func(f receipt.Field) bool { return f.Label == "Original" && f.Value == "T-000001" }) {
			t.Errorf("note for %q: receipt fields %+v lack Original T-000001", ref, r.Fields)
		}
	}
}

// A credit note may not take more than the original had, in one note or
// across several: 1,000,000 SAR against an 83 SAR invoice, 11 of 10 items.
func TestCreditNoteOverTheOriginal(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "inv", invoice83)
	cases := []struct {
		name, line, field string
	}{
		{"a million", teaLine("1", "1000000"), "lines[0].unit_price"},
		{"more items", teaLine("11", "5.00"), "lines[0].quantity"},
		{"a dearer price", teaLine("10", "5.01"), "lines[0].unit_price"},
	}
	for _, tc := range cases {
		w := h.sale(cashier, "over-"+strings.ReplaceAll(tc.name, " ", "-"), note("credit_note", "1", tc.line))
		p := problemOf(t, w, http.StatusBadRequest)
		if p.Type != problemInvalidSale || !namesField(p, tc.field) {
			t.Errorf("%s: %+v, want invalid-sale naming %s", tc.name, p, tc.field)
		}
	}
	// Two lines of one note that correct the same original line add up.
	p := problemOf(t, h.sale(cashier, "two-lines", note("credit_note", "1", teaLine("6", "5.00"), teaLine("5", "5.00"))), http.StatusBadRequest)
	if !namesField(p, "lines[0].quantity") || !namesField(p, "lines[1].quantity") {
		t.Errorf("two lines for 11 of 10: %+v", p)
	}
	// Cumulative: 4 + 4 + 2 of 10 go; the next one does not.
	for i, q := range []string{"4", "4", "2"} {
		h.mustSale(cashier, fmt.Sprint("part", i), note("credit_note", "T-000001", teaLine(q, "5.00")))
	}
	p = problemOf(t, h.sale(cashier, "part3", note("credit_note", "T-000001", teaLine("0.001", "5.00"))), http.StatusBadRequest)
	if !namesField(p, "lines[0].quantity") || !strings.Contains(p.Detail, "at most 0 remain") {
		t.Errorf("a fourth note: %+v", p)
	}
	// Amounts too: coffee 2 × 16.50 = 33; 1 × 30 goes, then 1 × 3.01 does not.
	coffee := func(price string) string {
		return fmt.Sprintf(`{"name":"Coffee","quantity":"1","unit_price":%q,"vat_category":"S","vat_rate":"15","original_line":2}`, price)
	}
	h.mustSale(cashier, "coffee1", note("credit_note", "1", coffee("30")))
	p = problemOf(t, h.sale(cashier, "coffee2", note("credit_note", "1", coffee("3.01"))), http.StatusBadRequest)
	if !namesField(p, "lines[0].unit_price") {
		t.Errorf("coffee over the amount: %+v", p)
	}
	h.mustSale(cashier, "coffee3", note("credit_note", "1", coffee("3.00")))
	if st := h.status(cashier); st.Counter != 6 {
		t.Errorf("counter %d, want 6 (the invoice and five notes)", st.Counter)
	}
}

// Resending a credit note that used up its original answers the note,
// not a refusal: the idempotency key is looked at before the amounts.
func TestCreditNoteResendAfterItUsedUpTheOriginal(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "inv", invoice83)
	body := note("credit_note", "1", teaLine("10", "5.00"))
	first := h.mustSale(cashier, "all-tea", body)
	w := h.sale(cashier, "all-tea", body)
	var again DocumentView
	decodeBody(t, w, &again)
	if w.Code != http.StatusOK || again.Counter != first.Counter {
		t.Errorf("resend = %d, counter %d; want 200 and %d", w.Code, again.Counter, first.Counter)
	}
}

// Credit notes racing for one original are checked one after the other:
// of 24 concurrent notes for one item each of an invoice of 10, exactly 10
// are issued, whatever the batching.
func TestCreditNotesRacing(t *testing.T) {
	for _, groupCommit := range []bool{true, false} {
		t.Run(fmt.Sprint("group_commit=", groupCommit), func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Store.GroupCommit = groupCommit })
			cashier := h.user("ana", RoleCashier)
			h.mustSale(cashier, "inv", invoice83)
			issued, refused, codes := h.raceSales(cashier, note("credit_note", "1", teaLine("1", "5.00")), 24)
			if issued != 10 || refused != 14 {
				t.Errorf("%d issued, %d refused (codes %v); want 10 and 14", issued, refused, codes)
			}
			refs, err := h.a.Store().References(1)
			if err != nil {
				t.Fatal(err)
			}
			c, err := decodeCredited(refs.Credited)
			if err != nil || len(refs.Notes) != 10 || c.Lines[1].Quantity.String() != "10" {
				t.Errorf("references %+v (%v): want 10 notes that credited 10", refs, err)
			}
		})
	}
}

// raceSales sends n copies of body at once, each with its own key, and
// counts the sales issued (201) and refused (400), with every answer's
// status.
func (h *harness) raceSales(cashier, body string, n int) (issued, refused int, codes []int) {
	h.t.Helper()
	var wg sync.WaitGroup
	codes = make([]int, n)
	for i := range codes {
		wg.Go(func() { codes[i] = h.sale(cashier, fmt.Sprint("race", i), body).Code })
	}
	wg.Wait()
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			issued++
		case http.StatusBadRequest:
			refused++
		}
	}
	return issued, refused, codes
}

// A note's line has its original line's VAT category, rate and reason.
func TestNoteVATMustMatchTheOriginal(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "inv", invoice83)
	cases := []struct{ line, field string }{
		{`{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"5"}`, "lines[0].vat_rate"},
		{`{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"Z","exemption_reason":"VATEX-SA-32"}`, "lines[0].vat_category"},
		{`{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"E","exemption_reason":"VATEX-SA-29","original_line":1}`, "lines[0].vat_category"},
	}
	for _, kind := range []string{"credit_note", "debit_note"} {
		for i, tc := range cases {
			line := tc.line
			if kind == "debit_note" && !strings.Contains(line, "original_line") {
				line = strings.TrimSuffix(line, "}") + `,"original_line":1}`
			}
			p := problemOf(t, h.sale(cashier, fmt.Sprint(kind, i), note(kind, "1", line)), http.StatusBadRequest)
			if !namesField(p, tc.field) {
				t.Errorf("%s %d: %+v, want %s named", kind, i, p, tc.field)
			}
		}
	}
}

// Lines are matched by original_line, else by seller_code or name (and
// price among several); what matches none or several is refused naming
// original_line.
func TestNoteLineMatching(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "inv", `{"kind":"invoice","lines":[`+
		`{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15","seller_code":"T-1"},`+
		`{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15","seller_code":"T-2"},`+
		`{"name":"Tea","quantity":"1","unit_price":"4.00","vat_category":"S","vat_rate":"15"}]}`)
	refuse := map[string]string{
		"same name and price":  teaLine("1", "5.00"),
		"no such name":         `{"name":"Milk","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15"}`,
		"no such seller code":  `{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15","seller_code":"T-9"}`,
		"original_line beyond": `{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15","original_line":4}`,
	}
	for name, line := range refuse {
		p := problemOf(t, h.sale(cashier, strings.ReplaceAll(name, " ", "-"), note("credit_note", "1", line)), http.StatusBadRequest)
		if !namesField(p, "lines[0].original_line") {
			t.Errorf("%s: %+v, want lines[0].original_line named", name, p)
		}
	}
	accept := map[string]struct {
		line string
		want int
	}{
		"by seller code": {`{"name":"Green tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15","seller_code":"T-2"}`, 2},
		"by price":       {teaLine("1", "4.00"), 3},
		"by number":      {`{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15","original_line":1}`, 1},
	}
	for name, tc := range accept {
		n := h.mustSale(cashier, strings.ReplaceAll(name, " ", "-"), note("credit_note", "1", tc.line))
		if s := string(h.record(n.Counter).Sale); !strings.Contains(s, fmt.Sprintf(`"original_line":%d`, tc.want)) {
			t.Errorf("%s: stored sale %s, want original_line %d", name, s, tc.want)
		}
	}
	p := problemOf(t, h.sale(cashier, "bad", `{"kind":"credit_note","original":"1","reason":"x","lines":[{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15","original_line":"1"}]}`), http.StatusBadRequest)
	if !namesField(p, "lines[0].original_line") {
		t.Errorf("original_line as a string: %+v", p)
	}
	p = problemOf(t, h.sale(cashier, "inv-line", `{"kind":"invoice","lines":[{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15","original_line":1}]}`), http.StatusBadRequest)
	if !namesField(p, "lines[0].original_line") {
		t.Errorf("original_line on an invoice: %+v", p)
	}
}

// What a note may reference: a credit note an invoice or a debit note; a
// debit note an invoice; nothing a credit note. A note goes to the
// original's buyer, in its currency.
func TestNoteKindsAndBuyer(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "inv", invoice83)                                                  // 1
	h.mustSale(cashier, "debit", note("debit_note", "1", teaLine("1", "2.00")))            // 2
	h.mustSale(cashier, "credit", note("credit_note", "1", teaLine("1", "5.00")))          // 3
	h.mustSale(cashier, "credit-of-debit", note("credit_note", "2", teaLine("1", "2.00"))) // 4
	for name, body := range map[string]string{
		"credit note for a credit note": note("credit_note", "3", teaLine("1", "5.00")),
		"debit note for a credit note":  note("debit_note", "3", teaLine("1", "5.00")),
		"debit note for a debit note":   note("debit_note", "2", teaLine("1", "1.00")),
	} {
		p := problemOf(t, h.sale(cashier, strings.ReplaceAll(name, " ", "-"), body), http.StatusBadRequest)
		if !namesField(p, "original") {
			t.Errorf("%s: %+v, want original named", name, p)
		}
	}
	withBuyer := `{"kind":"credit_note","original":"1","reason":"x","buyer":{"name":"Acme","vat_number":"300000000000003"},"lines":[` + teaLine("1", "5.00") + `]}`
	p := problemOf(t, h.sale(cashier, "buyer", withBuyer), http.StatusBadRequest)
	if !namesField(p, "buyer.vat_number") {
		t.Errorf("a buyer the invoice did not have: %+v", p)
	}
	p = problemOf(t, h.sale(cashier, "currency", `{"kind":"credit_note","original":"1","reason":"x","currency":"USD","lines":[`+teaLine("1", "5.00")+`]}`), http.StatusBadRequest)
	if !namesField(p, "currency") {
		t.Errorf("another currency: %+v", p)
	}
	// A debit note's line without original_line is an addition.
	h.mustSale(cashier, "debit-new-item", note("debit_note", "1", `{"name":"Delivery","quantity":"1","unit_price":"10","vat_category":"S","vat_rate":"15"}`))
}

// A note for a document issued elsewhere is a manager's explicit choice:
// a cashier gets 403 and nothing is issued; a manager's note is issued and
// the audit log says who and why.
func TestNoteForExternalDocument(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	manager := h.user("boss", RoleManager)
	body := `{"kind":"credit_note","original":"OLD-TILL-4711","original_external":true,"reason":"Return of a sale from the old till","lines":[` + teaLine("3", "5.00") + `]}`
	p := problemOf(t, h.sale(cashier, "ext", body), http.StatusForbidden)
	if p.Type != problemForbidden || !strings.Contains(p.Detail, "manager") || !strings.Contains(p.Detail, "original_external") {
		t.Errorf("cashier: %+v", p)
	}
	if st := h.status(cashier); st.Counter != 0 {
		t.Fatalf("counter %d after a refused note", st.Counter)
	}
	n := h.mustSale(manager, "ext", body)
	var found bool
	for _, e := range h.audit(manager) {
		if e.Action == queue.AuditDocument && e.Subject == fmt.Sprint(n.Counter) {
			found = e.Actor == "boss" && e.Details["original_external"] == "true" && e.Details["original"] == "OLD-TILL-4711" &&
				e.Details["reason"] == "Return of a sale from the old till"
			if !found {
				t.Errorf("audit entry of the note: %+v", e)
			}
		}
	}
	if !found {
		t.Error("no audit entry for the external note")
	}
	var doc struct{ Original string }
	if err := json.Unmarshal(n.Document, &doc); err != nil || doc.Original != "OLD-TILL-4711" {
		t.Errorf("document names the original %q, want OLD-TILL-4711", doc.Original)
	}
	// A UUID of this unit is not elsewhere.
	inv := h.mustSale(cashier, "inv", invoice83)
	p = problemOf(t, h.sale(manager, "ext-local", `{"kind":"credit_note","original":"`+inv.UUID+`","original_external":true,"reason":"x","lines":[`+teaLine("1", "5.00")+`]}`), http.StatusBadRequest)
	if !namesField(p, "original_external") {
		t.Errorf("external note for a local UUID: %+v", p)
	}
	p = problemOf(t, h.sale(manager, "ext-inv", `{"kind":"invoice","original_external":true,"lines":[`+teaLine("1", "5.00")+`]}`), http.StatusBadRequest)
	if !namesField(p, "original_external") {
		t.Errorf("original_external on an invoice: %+v", p)
	}
}

// rejectFirst is a submit harness whose authority rejects document 1.
func rejectFirst(t *testing.T) (*harness, string) {
	h, sc, cashier := submitHarness(t)
	sc.script(func(c uint64) stamping.Result {
		if c == 1 {
			// An authority's message may break lines: a corrective note's reason is one line.
			return stamping.Result{Outcome: stamping.Rejected, Messages: []string{"BR-KSA-37: building number\n\tmust be 4 digits"}}
		}
		return stamping.Result{Outcome: stamping.Accepted}
	})
	return h, cashier
}

// One corrective credit note per rejected document, whoever asks and
// however many ask at once: the second and later requests get the first
// note (200, Idempotent-Replayed).
func TestCorrectiveCreditNoteOncePerDocument(t *testing.T) {
	h, cashier := rejectFirst(t)
	boss := h.user("boss", RoleManager)
	deputy := h.user("deputy", RoleManager)
	h.mustSale(cashier, "k1", invoice83)
	h.step()
	if r := h.record(1); r.Status != queue.StatusRejected {
		t.Fatalf("document 1 is %s", r.Status)
	}
	first := h.do(request{method: "POST", path: "/v1/documents/1/credit-note", token: boss})
	if first.Code != http.StatusCreated {
		t.Fatalf("first corrective note: %d %s", first.Code, first.Body)
	}
	var n DocumentView
	decodeBody(t, first, &n)
	w := h.do(request{method: "POST", path: "/v1/documents/1/credit-note", token: deputy})
	var again DocumentView
	decodeBody(t, w, &again)
	if w.Code != http.StatusOK || w.Header().Get("Idempotent-Replayed") != "true" || again.Counter != n.Counter {
		t.Errorf("second manager: %d replayed=%q counter %d; want 200, true, %d", w.Code, w.Header().Get("Idempotent-Replayed"), again.Counter, n.Counter)
	}
	// The rejected document is corrected: nothing more is issued against it.
	p := problemOf(t, h.sale(cashier, "late", note("credit_note", "1", teaLine("1", "5.00"))), http.StatusBadRequest)
	if !namesField(p, "original") || !strings.Contains(p.Detail, "corrected") {
		t.Errorf("a note for a corrected document: %+v", p)
	}
	if st := h.status(cashier); st.Counter != 2 {
		t.Errorf("counter %d, want 2", st.Counter)
	}
}

func TestCorrectiveCreditNoteConcurrent(t *testing.T) {
	h, cashier := rejectFirst(t)
	var managers []string
	for i := range 6 {
		managers = append(managers, h.user(fmt.Sprint("boss", i), RoleManager))
	}
	h.mustSale(cashier, "k1", invoice83)
	h.step()
	var wg sync.WaitGroup
	counters := make([]uint64, 24)
	codes := make([]int, 24)
	for i := range counters {
		wg.Go(func() {
			w := h.do(request{method: "POST", path: "/v1/documents/1/credit-note", token: managers[i%len(managers)]})
			codes[i] = w.Code
			var v DocumentView
			if json.Unmarshal(w.Body.Bytes(), &v) == nil {
				counters[i] = v.Counter
			}
		})
	}
	wg.Wait()
	created := 0
	for i := range codes {
		if codes[i] == http.StatusCreated {
			created++
		}
		if codes[i] != http.StatusCreated && codes[i] != http.StatusOK || counters[i] != 2 {
			t.Errorf("request %d: %d, counter %d; want 201 or 200 and counter 2", i, codes[i], counters[i])
		}
	}
	if created != 1 {
		t.Errorf("%d requests issued a note, want 1", created)
	}
	if st := h.status(cashier); st.Counter != 2 {
		t.Errorf("counter %d, want 2: one corrective note", st.Counter)
	}
}

// A document credited in part before the authority rejected it gets a
// corrective note for what is left; one credited in full gets none.
func TestCorrectiveCreditNoteForWhatIsLeft(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	boss := h.user("boss", RoleManager)
	sc.script(func(c uint64) stamping.Result {
		if c == 1 || c == 3 {
			return stamping.Result{Outcome: stamping.Rejected, Messages: []string{"rejected"}}
		}
		return stamping.Result{Outcome: stamping.Accepted}
	})
	h.mustSale(cashier, "k1", `{"kind":"invoice","lines":[`+teaLine("10", "5.00")+`],"payments":[{"means":"cash","amount":"57.50"}]}`)
	h.mustSale(cashier, "k2", note("credit_note", "1", teaLine("4", "5.00")))
	h.mustSale(cashier, "k3", `{"kind":"invoice","lines":[`+teaLine("2", "5.00")+`]}`)
	h.mustSale(cashier, "k4", note("credit_note", "3", teaLine("2", "5.00")))
	h.step()
	n := h.mustCorrect(boss, 1)
	var doc struct {
		Lines []struct{ Quantity string }
	}
	if err := json.Unmarshal(n.Document, &doc); err != nil || len(doc.Lines) != 1 || doc.Lines[0].Quantity != "6" {
		t.Errorf("corrective note lines %+v (%v), want the 6 left", doc.Lines, err)
	}
	if s := string(h.record(n.Counter).Sale); strings.Contains(s, "57.50") {
		t.Errorf("the corrective note of a partly credited sale keeps the amount paid for the whole: %s", s)
	}
	p := problemOf(t, h.do(request{method: "POST", path: "/v1/documents/3/credit-note", token: boss}), http.StatusConflict)
	if !strings.Contains(p.Detail, "in full") {
		t.Errorf("corrective note for a document credited in full: %+v", p)
	}
}

// A credit note the authority rejected takes nothing from its original:
// the return can be issued again, correctly.
func TestRejectedCreditNoteGivesBack(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	manager := h.user("boss", RoleManager)
	sc.script(func(c uint64) stamping.Result {
		if c == 2 {
			return stamping.Result{Outcome: stamping.Rejected, Messages: []string{"rejected"}}
		}
		return stamping.Result{Outcome: stamping.Accepted}
	})
	h.mustSale(cashier, "k1", invoice83)
	h.mustSale(cashier, "k2", note("credit_note", "1", teaLine("10", "5.00")))
	problemOf(t, h.sale(cashier, "k3", note("credit_note", "1", teaLine("1", "5.00"))), http.StatusBadRequest)
	h.step()
	if r := h.record(2); r.Status != queue.StatusRejected {
		t.Fatalf("note 2 is %s", r.Status)
	}
	h.mustSale(cashier, "k3", note("credit_note", "1", teaLine("10", "5.00")))
	var released bool
	for _, e := range h.audit(manager) {
		released = released || e.Action == queue.AuditDocumentState && e.Subject == "2" && e.Details["released_from"] == "1" && e.Details["release_error"] == ""
	}
	if !released {
		t.Error("no audit entry says that the rejected note gave back its credit")
	}
}

// A store written before notes were checked (schema 1: no number index,
// no references, notes without original_line) is indexed at start: what
// its credit notes took counts, and the audit log says what was indexed.
func TestNotesOfAnOlderStoreCount(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "inv", invoice83)
	h.mustSale(cashier, "n1", note("credit_note", "1", teaLine("6", "5.00")))
	h.mustSale(cashier, "n2", note("debit_note", "T-000001", teaLine("1", "1.00")))
	h.close()
	makeSchema1(t, h.cfg.DataDir)

	h2 := startHarness(t, h.cfg, h.ft)
	manager := h2.user("boss", RoleManager)
	indexed := h2.lastAudit(manager, queue.AuditReindex).Details
	if indexed["documents"] != "3" || indexed["notes"] != "2" || indexed["notes_unresolved"] != "0" {
		t.Errorf("reindex audit details %v, want 3 documents and 2 notes", indexed)
	}
	cashier = h2.login("ana", testPassword)
	p := problemOf(t, h2.sale(cashier, "n3", note("credit_note", "T-000001", teaLine("5", "5.00"))), http.StatusBadRequest)
	if !strings.Contains(p.Detail, "at most 4 remain") {
		t.Errorf("after the reindex, 5 of the 4 left: %+v", p)
	}
	h2.mustSale(cashier, "n4", note("credit_note", "T-000001", teaLine("4", "5.00")))
}

// makeSchema1 rewrites dir's store as schema 1 wrote it.
func makeSchema1(t *testing.T, dir string) {
	t.Helper()
	makeSchema2(t, dir)
	editStore(t, dir, func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte{0, 0, 0, 0, 0, 0, 0, 1}); err != nil {
			return err
		}
		for _, b := range []string{"journal_number", "notes"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
		}
		journal := tx.Bucket([]byte("journal"))
		type kv struct{ k, v []byte }
		var edits []kv
		err := journal.ForEach(func(k, v []byte) error {
			v, err := queuetest.JournalJSON(tx, v)
			if err != nil {
				return err
			}
			var rec map[string]any
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			delete(rec, "number")
			delete(rec, "original_counter")
			if enc, ok := rec["sale"].(string); ok {
				raw, err := base64.StdEncoding.DecodeString(enc)
				if err != nil {
					return err
				}
				var s map[string]any
				if err := json.Unmarshal(raw, &s); err != nil {
					return err
				}
				if lines, ok := s["lines"].([]any); ok {
					for _, l := range lines {
						delete(l.(map[string]any), "original_line")
					}
				}
				if raw, err = json.Marshal(s); err != nil {
					return err
				}
				rec["sale"] = base64.StdEncoding.EncodeToString(raw)
			}
			b, err := json.Marshal(rec)
			edits = append(edits, kv{slices.Clone(k), b})
			return err
		})
		if err != nil {
			return err
		}
		for _, e := range edits {
			if err := journal.Put(e.k, e.v); err != nil {
				return err
			}
		}
		return nil
	})
}

// A note for a document removed after its retention period is refused with
// 400 naming original, saying the document was pruned (by counter, UUID or
// number) and how to issue the note for a document from elsewhere.
func TestNoteForPrunedDocument(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	inv := h.mustSale(cashier, "inv", invoice83)
	h.ft.Advance(time.Hour)
	h.mustSale(cashier, "inv2", invoice83)
	h.drain()
	rep, err := h.a.Store().Prune(queue.PruneOptions{Before: inv.IssuedAt.Add(time.Nanosecond)})
	if err != nil || rep.Removed != 1 {
		t.Fatalf("prune: %+v, %v", rep, err)
	}
	for _, ref := range []string{"1", inv.UUID, inv.Number} {
		p := problemOf(t, h.sale(cashier, "n-"+ref, note("credit_note", ref, teaLine("1", "5.00"))), http.StatusBadRequest)
		if !namesField(p, "original") || !strings.Contains(p.Detail, "removed from the journal after its retention period") || !strings.Contains(p.Detail, "original_external") {
			t.Errorf("note for pruned document %q: %+v", ref, p)
		}
	}
}

package agent

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
)

// saleWithLine returns an invoice with one line made of fields.
func saleWithLine(fields string) string {
	return `{"kind":"invoice","lines":[{` + fields + `}]}`
}

// TestSaleBadInput sends malformed sales as a cashier. Each is refused with
// a problem document that names what is wrong, and none of them changes
// the store.
func TestSaleBadInput(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("cashier1", RoleCashier)
	manager := h.user("boss", RoleManager)

	first := h.mustSale(cashier, "key-good", goodSale)
	if first.Counter != 1 {
		t.Fatalf("first sale has counter %d, want 1", first.Counter)
	}
	before := h.status(manager)
	if before.Counter != 1 {
		t.Fatalf("status counter = %d after one sale, want 1", before.Counter)
	}

	const line = `"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"15"`
	huge := `{"kind":"invoice","note":"` + strings.Repeat("x", 1<<20) + `","lines":[{` + line + `}]}`

	tests := []struct {
		name   string
		body   string
		header map[string]string // overrides; "" deletes
		status int
		field  string // a field the problem must name in errors[]
		detail string // else: a text the detail must contain
	}{
		{name: "bad JSON", body: `{"kind":"invoice",`, status: 400, detail: "JSON"},
		{name: "not JSON at all", body: `kind=invoice`, status: 400, detail: "not valid JSON"},
		{name: "empty body", body: ``, status: 400, detail: "empty"},
		{name: "trailing garbage", body: goodSale + ` xyz`, status: 400, detail: "after the sale object"},
		{name: "two objects", body: goodSale + goodSale, status: 400, detail: "after the sale object"},
		{name: "array instead of object", body: `[` + goodSale + `]`, status: 400, detail: "object"},
		{name: "not UTF-8", body: saleWithLine(`"name":"T` + "\xff" + `a","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"15"`), status: 400, detail: "UTF-8"},
		{name: "quantity as JSON number", body: saleWithLine(`"name":"Tea","quantity":2,"unit_price":"5.00","vat_category":"S","vat_rate":"15"`), status: 400, field: "lines[0].quantity"},
		{name: "unit_price as JSON number", body: saleWithLine(`"name":"Tea","quantity":"2","unit_price":5.00,"vat_category":"S","vat_rate":"15"`), status: 400, field: "lines[0].unit_price"},
		{name: "vat_rate as JSON number", body: saleWithLine(`"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":15`), status: 400, field: "lines[0].vat_rate"},
		{name: "exponent", body: saleWithLine(`"name":"Tea","quantity":"1e2","unit_price":"5.00","vat_category":"S","vat_rate":"15"`), status: 400, field: "lines[0].quantity"},
		{name: "plus sign", body: saleWithLine(`"name":"Tea","quantity":"+1","unit_price":"5.00","vat_category":"S","vat_rate":"15"`), status: 400, field: "lines[0].quantity"},
		{name: "negative quantity", body: saleWithLine(`"name":"Tea","quantity":"-1","unit_price":"5.00","vat_category":"S","vat_rate":"15"`), status: 400, field: "lines[0].quantity"},
		{name: "zero quantity", body: saleWithLine(`"name":"Tea","quantity":"0","unit_price":"5.00","vat_category":"S","vat_rate":"15"`), status: 400, field: "lines[0].quantity"},
		{name: "4-decimal quantity", body: saleWithLine(`"name":"Tea","quantity":"1.0001","unit_price":"5.00","vat_category":"S","vat_rate":"15"`), status: 400, field: "lines[0].quantity"},
		{name: "5-decimal price", body: saleWithLine(`"name":"Tea","quantity":"2","unit_price":"5.00001","vat_category":"S","vat_rate":"15"`), status: 400, field: "lines[0].unit_price"},
		{name: "negative price", body: saleWithLine(`"name":"Tea","quantity":"2","unit_price":"-5.00","vat_category":"S","vat_rate":"15"`), status: 400, field: "lines[0].unit_price"},
		{name: "3-decimal rate", body: saleWithLine(`"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"15.001"`), status: 400, field: "lines[0].vat_rate"},
		{name: "rate of 100", body: saleWithLine(`"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"100"`), status: 400, field: "lines[0].vat_rate"},
		{name: "unknown vat_category", body: saleWithLine(`"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"X","vat_rate":"15"`), status: 400, field: "lines[0].vat_category"},
		{name: "missing vat_rate on S", body: saleWithLine(`"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"S"`), status: 400, field: "lines[0].vat_rate"},
		{name: "non-zero rate on Z", body: saleWithLine(`"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"Z","vat_rate":"15"`), status: 400, field: "lines[0].vat_rate"},
		{name: "missing line name", body: saleWithLine(`"quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"15"`), status: 400, field: "lines[0].name"},
		{name: "control char in line name", body: saleWithLine(`"name":"Te\u0007a","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"15"`), status: 400, field: "lines[0].name"},
		{name: "error in second line", body: `{"kind":"invoice","lines":[{` + line + `},{"name":"Cake","quantity":"1","unit_price":"3","vat_category":"S","vat_rate":"15","colour":"red"}]}`, status: 400, field: "lines[1].colour"},
		{name: "no lines", body: `{"kind":"invoice"}`, status: 400, field: "lines"},
		{name: "empty lines", body: `{"kind":"invoice","lines":[]}`, status: 400, field: "lines"},
		{name: "lines not an array", body: `{"kind":"invoice","lines":{}}`, status: 400, field: "lines"},
		{name: "unknown top-level field", body: `{"kind":"invoice","discount":"5","lines":[{` + line + `}]}`, status: 400, field: "discount"},
		{name: "missing kind", body: `{"lines":[{` + line + `}]}`, status: 400, field: "kind"},
		{name: "kind receipt", body: `{"kind":"receipt","lines":[{` + line + `}]}`, status: 400, field: "kind"},
		{name: "credit_note without original", body: `{"kind":"credit_note","reason":"returned","lines":[{` + line + `}]}`, status: 400, field: "original"},
		{name: "credit_note without reason", body: `{"kind":"credit_note","original":"1","lines":[{` + line + `}]}`, status: 400, field: "reason"},
		{name: "invoice with original", body: `{"kind":"invoice","original":"1","lines":[{` + line + `}]}`, status: 400, field: "original"},
		{name: "lower-case currency", body: `{"kind":"invoice","currency":"sar","lines":[{` + line + `}]}`, status: 400, field: "currency"},
		{name: "empty buyer", body: `{"kind":"invoice","buyer":{},"lines":[{` + line + `}]}`, status: 400, field: "buyer"},
		{name: "bad buyer country", body: `{"kind":"invoice","buyer":{"name":"ACME","address":{"country":"sa"}},"lines":[{` + line + `}]}`, status: 400, field: "buyer.address.country"},
		{name: "bad payment means", body: `{"kind":"invoice","payments":[{"means":"cheque"}],"lines":[{` + line + `}]}`, status: 400, field: "payments[0].means"},
		{name: "body over 1 MiB", body: huge, status: 413, detail: "bytes"},
		{name: "Content-Type text/plain", body: goodSale, header: map[string]string{"Content-Type": "text/plain"}, status: 415, detail: "Content-Type"},
		{name: "missing Content-Type", body: goodSale, header: map[string]string{"Content-Type": ""}, status: 415, detail: "Content-Type"},
		{name: "missing Idempotency-Key", body: goodSale, header: map[string]string{"Idempotency-Key": ""}, status: 400, field: "Idempotency-Key"},
		{name: "Idempotency-Key with a space", body: goodSale, header: map[string]string{"Idempotency-Key": "key 2"}, status: 400, field: "Idempotency-Key"},
		{name: "Idempotency-Key too long", body: goodSale, header: map[string]string{"Idempotency-Key": strings.Repeat("k", MaxIdempotencyKey+1)}, status: 400, field: "Idempotency-Key"},
		{name: "reused key, different sale", body: saleWithLine(`"name":"Tea","quantity":"3","unit_price":"5.00","vat_category":"S","vat_rate":"15"`), header: map[string]string{"Idempotency-Key": "key-good"}, status: 409, detail: "Idempotency-Key"},
	}
	if len(tests) < 30 {
		t.Fatalf("only %d cases", len(tests))
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"Idempotency-Key": fmt.Sprintf("bad-%d", i)}
			for k, v := range tc.header {
				hdr[k] = v
			}
			w := h.do(request{method: "POST", path: "/v1/sales", token: cashier, body: []byte(tc.body), header: hdr})
			p := problemOf(t, w, tc.status)
			wantType := map[int]string{400: problemInvalidSale, 409: problemIdempotency, 413: problemTooLarge, 415: problemMediaType}[tc.status]
			if tc.field == "Idempotency-Key" {
				wantType = problemInvalidInput
			}
			if p.Type != wantType {
				t.Errorf("type = %q, want %q", p.Type, wantType)
			}
			if tc.field != "" && !namesField(p, tc.field) {
				t.Errorf("problem names fields %q, want %q: %s", fields(p), tc.field, p.Detail)
			}
			if tc.detail != "" && !containsFold(p.Detail, tc.detail) {
				t.Errorf("detail %q does not mention %q", p.Detail, tc.detail)
			}
			if w.Header().Get("Location") != "" {
				t.Errorf("refused sale has a Location header %q", w.Header().Get("Location"))
			}
		})
	}

	after := h.status(manager)
	if after.Counter != before.Counter || after.LastHash != before.LastHash {
		t.Errorf("status after bad sales: counter %d hash %q, want %d %q", after.Counter, after.LastHash, before.Counter, before.LastHash)
	}
	if after.Outbox.Pending != 1 {
		t.Errorf("outbox holds %d documents, want 1", after.Outbox.Pending)
	}
	if n := h.journalLen(); n != 1 {
		t.Errorf("journal has %d records, want 1", n)
	}
	for _, e := range h.audit(manager) {
		if e.Action == queue.AuditDocument && e.Subject != "1" {
			t.Errorf("audit records an issued document %s", e.Subject)
		}
	}
}

// TestSaleAmountLimits: a sale whose amounts cannot all be represented
// exactly is refused with 400 naming the field and the limit, and the
// counter does not move. 999999999 × 999999999 was once issued, signed
// and printed with every total 0.00.
func TestSaleAmountLimits(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("cashier1", RoleCashier)
	h.mustSale(cashier, "before", goodSale)
	before := h.status(cashier)

	for i, tc := range []struct {
		name, fields, field, limit string
	}{
		{"line amount", `"name":"Gold","quantity":"999999999","unit_price":"999999999","vat_category":"S","vat_rate":"15"`,
			"lines[0].quantity × lines[0].unit_price", "100000000000.00"},
		{"quantity", `"name":"Gold","quantity":"1000000000.001","unit_price":"0","vat_category":"S","vat_rate":"15"`,
			"lines[0].quantity", "1000000000"},
		{"unit price", `"name":"Gold","quantity":"1","unit_price":"1000000000.0001","vat_category":"S","vat_rate":"15"`,
			"lines[0].unit_price", "1000000000"},
		// 100 × 869565217.3914 = 86956521739.14; with 15 % VAT one cent
		// over the total the documents allow.
		{"total with VAT", `"name":"Gold","quantity":"100","unit_price":"869565217.3914","vat_category":"S","vat_rate":"15"`,
			"lines", "100000000000.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := problemOf(t, h.sale(cashier, fmt.Sprint("limit-", i), saleWithLine(tc.fields)), http.StatusBadRequest)
			if p.Type != problemInvalidSale || !namesField(p, tc.field) {
				t.Fatalf("problem %+v, want %s naming %q", p, problemInvalidSale, tc.field)
			}
			for _, e := range p.Errors {
				if e.Field == tc.field && !strings.Contains(e.Rule, "limit of "+tc.limit) {
					t.Errorf("%s: %q does not name the limit %s", e.Field, e.Rule, tc.limit)
				}
			}
		})
	}
	after := h.status(cashier)
	if after.Counter != before.Counter || after.LastHash != before.LastHash {
		t.Errorf("counter %d → %d (hash %q → %q): a refused sale moved the chain", before.Counter, after.Counter, before.LastHash, after.LastHash)
	}
	// The largest sale within the limits is issued, its totals exact.
	v := h.mustSale(cashier, "largest", saleWithLine(`"name":"Gold","quantity":"100","unit_price":"869565217.3913","vat_category":"S","vat_rate":"15"`))
	var doc struct{ Net, VAT, Gross string }
	if err := json.Unmarshal(v.Document, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Net != "86956521739.13" || doc.VAT != "13043478260.87" || doc.Gross != "100000000000.00" {
		t.Errorf("largest sale: net %s VAT %s gross %s, want 86956521739.13 13043478260.87 100000000000.00", doc.Net, doc.VAT, doc.Gross)
	}
}

// TestSaleBodyLimit follows api.max_body_bytes, not a fixed size.
func TestSaleBodyLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.API.MaxBodyBytes = 4096 })
	cashier := h.user("cashier1", RoleCashier)
	// JSON allows any amount of white space, which makes a valid sale of
	// exactly the limit.
	fits := strings.Repeat(" ", 4096-len(goodSale)) + goodSale
	if w := h.sale(cashier, "k1", fits); w.Code != http.StatusCreated {
		t.Fatalf("sale of exactly max_body_bytes = %d %s, want 201", w.Code, w.Body)
	}
	over := " " + fits
	p := problemOf(t, h.sale(cashier, "k2", over), http.StatusRequestEntityTooLarge)
	if p.Type != problemTooLarge || !strings.Contains(p.Detail, "4096") {
		t.Errorf("problem %+v, want %s naming the limit 4096", p, problemTooLarge)
	}
}

func TestSaleIssued(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("cashier1", RoleCashier)
	w := h.sale(cashier, "k1", goodSale)
	if w.Code != http.StatusCreated {
		t.Fatalf("POST /v1/sales = %d %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var v DocumentView
	decodeBody(t, w, &v)
	if loc := w.Header().Get("Location"); loc != "/v1/documents/1" {
		t.Errorf("Location = %q, want /v1/documents/1", loc)
	}
	if v.Counter != 1 || v.User != "cashier1" || v.Kind != "invoice" || v.Regime != "test" {
		t.Errorf("document %+v", v)
	}
	if !v.IssuedAt.Equal(t0) {
		t.Errorf("issued_at = %v, want the agent's clock %v", v.IssuedAt, t0)
	}
	if v.Status != queue.StatusPending {
		t.Errorf("status = %v, want pending (queued for submission)", v.Status)
	}
	sum := sha256.Sum256(v.Document)
	if got := base64.StdEncoding.EncodeToString(sum[:]); got != v.Hash {
		t.Errorf("hash %q is not the SHA-256 of the returned document (%q)", v.Hash, got)
	}
	// The document carries the totals of 2 × 5.00 at 15 %.
	for _, s := range []string{`"net":"10.00"`, `"vat":"1.50"`, `"gross":"11.50"`} {
		if !strings.Contains(string(v.Document), s) {
			t.Errorf("document lacks %s: %s", s, v.Document)
		}
	}

	// The next sale chains to this one, one second later.
	h.ft.Advance(time.Second)
	v2 := h.mustSale(cashier, "k2", goodSale)
	if v2.Counter != 2 || v2.PrevHash != v.Hash {
		t.Errorf("second document: counter %d prev %q, want 2 %q", v2.Counter, v2.PrevHash, v.Hash)
	}
	if !v2.IssuedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("second issued_at = %v", v2.IssuedAt)
	}
}

// TestSaleIdempotent resends a sale with its key: the POS gets the same
// document back and nothing new is issued.
func TestSaleIdempotent(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("cashier1", RoleCashier)

	w1 := h.sale(cashier, "retry-me", goodSale)
	if w1.Code != http.StatusCreated {
		t.Fatalf("first = %d %s, want 201", w1.Code, w1.Body)
	}
	if w1.Header().Get("Location") == "" {
		t.Error("201 without Location")
	}
	if r := w1.Header().Get("Idempotent-Replayed"); r != "" {
		t.Errorf("first answer has Idempotent-Replayed: %q", r)
	}
	var first DocumentView
	decodeBody(t, w1, &first)

	h.ft.Advance(time.Minute) // a resend later must not get a new time either
	w2 := h.sale(cashier, "retry-me", goodSale)
	if w2.Code != http.StatusOK {
		t.Fatalf("resend = %d %s, want 200", w2.Code, w2.Body)
	}
	if r := w2.Header().Get("Idempotent-Replayed"); r != "true" {
		t.Errorf("Idempotent-Replayed = %q, want true", r)
	}
	if l1, l2 := w1.Header().Get("Location"), w2.Header().Get("Location"); l1 != l2 {
		t.Errorf("Location %q on resend, %q first", l2, l1)
	}
	var again DocumentView
	decodeBody(t, w2, &again)
	if first.Counter != 1 || first.UUID == "" || first.Hash == "" || len(first.Document) == 0 {
		t.Fatalf("first answer is incomplete: %+v", first)
	}
	if !reflect.DeepEqual(again, first) {
		t.Errorf("resend answered\n%+v\nfirst answer was\n%+v", again, first)
	}
	if n := h.journalLen(); n != 1 {
		t.Errorf("journal has %d records after a resend, want 1", n)
	}

	// The key belongs to the user: another cashier's same key is a new sale.
	other := h.user("cashier2", RoleCashier)
	v := h.mustSale(other, "retry-me", goodSale)
	if v.Counter != 2 {
		t.Errorf("other cashier's sale has counter %d, want 2", v.Counter)
	}
}

// TestSaleIdempotentConcurrent sends the same sale many times at once, as
// a POS retrying after a timeout might: one document is issued.
func TestSaleIdempotentConcurrent(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("cashier1", RoleCashier)
	const n = 16
	codes := make([]int, n)
	views := make([]DocumentView, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			w := h.sale(cashier, "same", goodSale)
			codes[i] = w.Code
			if err := json.Unmarshal(w.Body.Bytes(), &views[i]); err != nil {
				t.Errorf("request %d: %v: %s", i, err, w.Body)
			}
		})
	}
	wg.Wait()
	created := 0
	for i, c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusOK:
		default:
			t.Errorf("request %d: status %d", i, c)
		}
		if views[i].Counter != 1 || views[i].UUID != views[0].UUID {
			t.Errorf("request %d got document %d %s, want 1 %s", i, views[i].Counter, views[i].UUID, views[0].UUID)
		}
	}
	if created != 1 {
		t.Errorf("%d answers were 201, want exactly 1", created)
	}
	if n := h.journalLen(); n != 1 {
		t.Errorf("journal has %d records, want 1", n)
	}
}

// TestSaleConcurrentCounters issues many different sales at once: the
// counters are 1..n with no gap or duplicate.
func TestSaleConcurrentCounters(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("cashier1", RoleCashier)
	const n = 40
	got := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			w := h.sale(cashier, fmt.Sprintf("k%d", i), goodSale)
			if w.Code != http.StatusCreated {
				t.Errorf("sale %d = %d %s", i, w.Code, w.Body)
				return
			}
			var v DocumentView
			if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
				t.Errorf("sale %d: %v", i, err)
			}
			got[i] = v.Counter
		})
	}
	wg.Wait()
	seen := make([]bool, n+1)
	for i, c := range got {
		if c < 1 || c > n || seen[c] {
			t.Errorf("sale %d has counter %d (duplicate or out of 1..%d)", i, c, n)
			continue
		}
		seen[c] = true
	}
	if rep := h.checkStore(); rep.Documents != n {
		t.Errorf("check: %d documents, want %d", rep.Documents, n)
	}
}

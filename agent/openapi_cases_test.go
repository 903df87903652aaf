package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	zatcasim "github.com/egsd/egsd/sim/zatca"
)

// Sales of the ZATCA units: a simplified invoice, and a standard one that
// the authority must clear.
const (
	zatcaSimplified = `{"kind":"invoice","lines":[{"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]}`
	zatcaStandard   = `{"kind":"invoice","buyer":{"name":"Fatoora Samples LTD","vat_number":"399999999800003","address":{"street":"Salah Al-Din","building_number":"1111","district":"Al-Murooj","city":"Riyadh","postal_code":"12222","country":"SA"}},` +
		`"lines":[{"name":"Tea","quantity":"3","unit_price":"4.35","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]}`
)

// adjustedSale has every field of discounts, charges, cash rounding and
// tendered cash, in all four VAT categories. Tea: 2 × (5.00 − 0.50) =
// 9.00 − 10 % + 0.50 = 8.60; bread 3.00 − 0.25 = 2.75. The staff
// discount takes 0.86 and 0.28, the coupons 1.00 and 0.10; charges S 5.00,
// Z 5 % of 2.75 = 0.14, E 2.00, O 1.00. S 11.74 (VAT 1.76), Z 2.51, E
// 2.00, O 1.00: 17.25 + 1.76 = 19.01, of which card 10.00 and cash 9.01
// from 50.00.
const adjustedSale = `{"kind":"invoice","cash_rounding":"none","lines":[` +
	`{"name":"Tea","quantity":"2","unit_price":"5.00","price_discount":"0.50","vat_category":"S","vat_rate":"15",` +
	`"discounts":[{"percent":"10","reason":"Promotion","reason_code":"95"}],"charges":[{"amount":"0.50","reason":"Gift wrap"}]},` +
	`{"name":"Bread","quantity":"1","unit_price":"3.00","vat_category":"Z","exemption_reason":"VATEX-SA-32","discounts":[{"amount":"0.25","reason":"Day old"}]}],` +
	`"discounts":[{"percent":"10","reason":"Staff discount"},{"amount":"1.00","reason":"Coupon","reason_code":"95","vat_category":"S","vat_rate":"15"},` +
	`{"amount":"0.10","reason":"Coupon","vat_category":"Z"}],` +
	`"charges":[{"amount":"5.00","reason":"Delivery","reason_code":"DL","vat_category":"S","vat_rate":"15"},` +
	`{"percent":"5","reason":"Service","vat_category":"Z","exemption_reason":"VATEX-SA-32"},` +
	`{"amount":"2.00","reason":"Insurance","vat_category":"E","exemption_reason":"VATEX-SA-29"},` +
	`{"amount":"1.00","reason":"Fee","vat_category":"O","exemption_reason":"VATEX-SA-OOS"}],` +
	`"payments":[{"means":"card","amount":"10.00"},{"means":"cash","tendered":"50.00"}]}`

// exampleSale is the body of a sale in examples/.
func exampleSale(t *testing.T, name string) string {
	t.Helper()
	body, err := os.ReadFile("../examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// creditNoteFor is a credit note for quantity of line 1 (tea at 5.00, as
// in goodSale) of the document with the given counter.
func creditNoteFor(counter uint64, quantity string) string {
	return fmt.Sprintf(`{"kind":"credit_note","original":"%d","reason":"Returned","lines":[{"name":"Tea","quantity":%q,"unit_price":"5.00","vat_category":"S","vat_rate":"15","original_line":1}]}`, counter, quantity)
}

// externalNote is a credit note for a document issued by another till.
const externalNote = `{"kind":"credit_note","original":"OTHER-TILL-17","original_external":true,"reason":"Returned","lines":[{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15"}]}`

// liveRoutes are the cases of each route, in the order they run: a route
// may use what an earlier one left (onboarding comes first, so that the
// ZATCA unit can issue). To cover a new route or behaviour, add a route
// or a case here; the generic cases come from the route's unit, path,
// header and body.
func (f *liveFixture) liveRoutes() []liveRoute {
	test, zatca := f.units["test"], f.units["zatca"]
	keys := 0
	key := func() string { keys++; return fmt.Sprintf("live-%d", keys) }
	issue := func(u *liveUnit, as Role, body string) DocumentView {
		return u.mustSale(u.tokens[as], key(), body)
	}
	// Documents the routes below share.
	var anaDoc, zatcaDoc, rejectedDoc DocumentView
	manager := func(u *liveUnit) string { return u.tokens[RoleManager] }

	return []liveRoute{
		{pattern: "GET /healthz", unit: "test", path: "/healthz", cases: func() []liveCase {
			return []liveCase{{name: "up", want: http.StatusOK}}
		}},

		{pattern: "POST /v1/sessions", unit: "test", path: "/v1/sessions", body: `{"user":"ana","password":"` + testPassword + `"}`,
			cases: func() []liveCase {
				return []liveCase{
					{name: "logged in", body: `{"user":"ana","password":"` + testPassword + `"}`, want: http.StatusCreated},
					{name: "wrong password", body: `{"user":"ana","password":"not the password"}`, want: http.StatusUnauthorized},
					{name: "unknown user", body: `{"user":"nobody","password":"not the password"}`, want: http.StatusUnauthorized},
					{name: "no password", body: `{"user":"ana"}`, want: http.StatusBadRequest, refused: `"password"`},
					{name: "empty password", body: `{"user":"ana","password":""}`, want: http.StatusBadRequest, refused: "password"},
					{name: "unknown member", body: `{"user":"ana","password":"` + testPassword + `","remember":true}`, want: http.StatusBadRequest, refused: "remember"},
					{name: "locked account", body: `{"user":"eve","password":"` + testPassword + `"}`, want: http.StatusTooManyRequests,
						before: func(t *testing.T) {
							test.addUser("eve", RoleCashier)
							for range test.cfg.Auth.LockoutAttempts {
								test.sendJSON("POST", "/v1/sessions", "", map[string]string{"user": "eve", "password": "not the password"})
							}
						}},
				}
			}},

		{pattern: "GET /v1/sessions/current", unit: "test", path: "/v1/sessions/current", cases: func() []liveCase {
			var cases []liveCase
			for _, role := range append(Roles, RoleOwner) {
				cases = append(cases, liveCase{name: string(role), as: role, want: http.StatusOK})
			}
			return cases
		}},

		{pattern: "DELETE /v1/sessions", unit: "test", path: "/v1/sessions", cases: func() []liveCase {
			return []liveCase{{name: "logged out", token: test.login("bob", testPassword), want: http.StatusNoContent}}
		}},

		{pattern: "POST /v1/onboarding", unit: "fresh", path: "/v1/onboarding", body: `{"otp":"` + zatcasim.DeveloperPortalOTP + `"}`,
			cases: func() []liveCase {
				return []liveCase{
					{name: "malformed one-time password", as: RoleTechnician, body: `{"otp":"12ab56"}`, want: http.StatusBadRequest, check: wantProblemNaming("otp")},
					{name: "unknown member", as: RoleTechnician, body: `{"otp":"123345","force":true}`, want: http.StatusBadRequest, refused: "force"},
					{name: "the authority refuses the one-time password", as: RoleTechnician, body: `{"otp":"111111"}`, want: http.StatusBadGateway,
						check: func(t *testing.T, w *httptest.ResponseRecorder) {
							var p OnboardingProblem
							if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Onboarding.State != "failed" {
								t.Errorf("502 without the failed status: %s", w.Body)
							}
						}},
					{name: "onboarded", unit: "zatca", as: RoleTechnician, body: `{"otp":"` + zatcasim.DeveloperPortalOTP + `"}`, want: http.StatusOK},
					{name: "already onboarded", unit: "zatca", as: RoleTechnician, body: `{"otp":"` + zatcasim.DeveloperPortalOTP + `"}`, want: http.StatusConflict},
					{name: "regime without onboarding", unit: "test", as: RoleTechnician, body: `{"otp":"123345"}`, want: http.StatusConflict},
				}
			}},

		{pattern: "GET /v1/onboarding", unit: "zatca", path: "/v1/onboarding", cases: func() []liveCase {
			return []liveCase{
				{name: "done", as: RoleTechnician, want: http.StatusOK},
				{name: "failed", unit: "fresh", as: RoleManager, want: http.StatusOK},
				{name: "regime without onboarding", unit: "test", as: RoleManager, want: http.StatusConflict},
			}
		}},

		{pattern: "GET /metrics", unit: "test", path: "/metrics", cases: func() []liveCase {
			return []liveCase{
				{name: "scrape token", token: testScrapeToken, want: http.StatusOK},
				{name: "no token", want: http.StatusUnauthorized, refused: "security requirements failed"},
				{name: "another token", token: testScrapeToken + "x", want: http.StatusUnauthorized},
				{name: "a session", as: RoleManager, want: http.StatusUnauthorized},
				{name: "unknown query parameter", token: testScrapeToken, path: "/metrics?colour=red", want: http.StatusBadRequest, check: wantProblemNaming("colour")},
				{name: "no token configured", unit: "zatca", token: testScrapeToken, want: http.StatusForbidden},
			}
		}},

		{pattern: "POST /v1/sales", unit: "test", path: "/v1/sales", header: map[string]string{"Idempotency-Key": "live-generic"}, body: goodSale,
			notReproduced: map[int]string{http.StatusInsufficientStorage: "needs a full disk: TestDiskFullOnTmpfs fills a small tmpfs under an agent"},
			cases: func() []liveCase {
				k := key()
				withKey := func(k string) map[string]string { return map[string]string{"Idempotency-Key": k} }
				return []liveCase{
					{name: "issued", as: RoleCashier, header: withKey(k), body: goodSale, want: http.StatusCreated,
						check: func(t *testing.T, w *httptest.ResponseRecorder) {
							var v DocumentView
							decodeBody(t, w, &v)
							if loc := w.Header().Get("Location"); loc != fmt.Sprint("/v1/documents/", v.Counter) {
								t.Errorf("Location %q for document %d", loc, v.Counter)
							}
						}},
					{name: "replayed", as: RoleCashier, header: withKey(k), body: goodSale, want: http.StatusOK,
						check: func(t *testing.T, w *httptest.ResponseRecorder) {
							if w.Header().Get("Idempotent-Replayed") != "true" {
								t.Errorf("a replay without Idempotent-Replayed: true")
							}
						}},
					{name: "key reused for another sale", as: RoleCashier, header: withKey(k),
						body: strings.Replace(goodSale, `"Tea"`, `"Coffee"`, 1), want: http.StatusConflict},
					{name: "breaks a rule", as: RoleCashier, header: withKey(key()), body: strings.Replace(goodSale, `"vat_rate":"15"`, `"vat_rate":"150"`, 1),
						want: http.StatusBadRequest, check: wantProblemNaming("lines[0].vat_rate")},
					{name: "amount as a JSON number", as: RoleCashier, header: withKey(key()), body: strings.Replace(goodSale, `"quantity":"2"`, `"quantity":2`, 1),
						want: http.StatusBadRequest, refused: "quantity"},
					{name: "no Idempotency-Key", as: RoleCashier, header: withKey(""), body: goodSale, want: http.StatusBadRequest,
						refused: "Idempotency-Key", check: wantProblemNaming("Idempotency-Key")},
					{name: "Idempotency-Key too long", as: RoleCashier, header: withKey(strings.Repeat("k", MaxIdempotencyKey+1)), body: goodSale,
						want: http.StatusBadRequest, refused: "Idempotency-Key"},
					{name: "Idempotency-Key with a space", as: RoleCashier, header: withKey("two words"), body: goodSale,
						want: http.StatusBadRequest, refused: "Idempotency-Key"},
					{name: "clock behind the last document", as: RoleCashier, header: withKey(key()), body: goodSale, want: http.StatusConflict,
						before: func(t *testing.T) {
							right := test.ft.Wall()
							test.ft.SetWall(right.Add(-time.Hour))
							t.Cleanup(func() { test.ft.SetWall(right) })
						}},
					{name: "after the clock is right again", as: RoleCashier, header: withKey(key()), body: goodSale, want: http.StatusCreated},
					{name: "credit note", as: RoleCashier, header: withKey(key()), body: creditNoteFor(1, "1"), want: http.StatusCreated},
					{name: "credit note over its original", as: RoleCashier, header: withKey(key()), body: creditNoteFor(1, "1000000"),
						want: http.StatusBadRequest, check: wantProblemNaming("lines[0].quantity")},
					{name: "note for no document", as: RoleCashier, header: withKey(key()), body: strings.Replace(creditNoteFor(1, "1"), `"original":"1"`, `"original":"T-999999"`, 1),
						want: http.StatusBadRequest, check: wantProblemNaming("original")},
					{name: "original_line not an integer", as: RoleCashier, header: withKey(key()), body: strings.Replace(creditNoteFor(1, "1"), `"original_line":1`, `"original_line":"1"`, 1),
						want: http.StatusBadRequest, refused: "original_line", check: wantProblemNaming("lines[0].original_line")},
					{name: "note for a document issued elsewhere, by a cashier", as: RoleCashier, header: withKey(key()), body: externalNote, want: http.StatusForbidden},
					{name: "note for a document issued elsewhere, by a manager", as: RoleManager, header: withKey(key()), body: externalNote, want: http.StatusCreated},
					{name: "late entry by a cashier", as: RoleCashier, header: withKey(key()), body: lateSale(test.ft.Wall().Add(-time.Hour), 0), want: http.StatusForbidden},
					{name: "late entry in the future", as: RoleManager, header: withKey(key()), body: lateSale(test.ft.Wall().Add(time.Hour), 0), want: http.StatusBadRequest,
						check: wantProblemNaming("transaction_time")},
					{name: "late entry", as: RoleManager, header: withKey(key()), body: lateSale(test.ft.Wall().Add(-30*time.Minute), 0), want: http.StatusCreated,
						before: func(t *testing.T) {
							if _, err := test.a.openUnitFailure(test.ft.Wall().Add(-time.Hour), test.ft.Wall(), "test", queue.SystemActor); err != nil {
								t.Fatal(err)
							}
						}},
					{name: "discounts, charges and tendered cash", as: RoleCashier, header: withKey(key()), body: adjustedSale, want: http.StatusCreated,
						check: func(t *testing.T, w *httptest.ResponseRecorder) {
							var v DocumentView
							decodeBody(t, w, &v)
							if d := testDocumentOf(t, v); d.Gross != "19.01" || d.Payable != "19.01" {
								t.Errorf("gross %s, payable %s; want 19.01 and 19.01", d.Gross, d.Payable)
							}
						}},
					{name: "examples/sale-discounts.json", as: RoleCashier, header: withKey(key()), body: exampleSale(f.t, "sale-discounts.json"), want: http.StatusCreated},
					{name: "line discounts above the line", as: RoleCashier, header: withKey(key()),
						body: strings.Replace(goodSale, `"vat_rate":"15"`, `"vat_rate":"15","discounts":[{"amount":"10.01","reason":"Promotion"}]`, 1),
						want: http.StatusBadRequest, check: wantProblemNaming("lines[0].discounts")},
					{name: "discount with percent and amount", as: RoleCashier, header: withKey(key()),
						body: strings.Replace(goodSale, `"vat_rate":"15"`, `"vat_rate":"15","discounts":[{"percent":"10","amount":"1.00","reason":"Promotion"}]`, 1),
						want: http.StatusBadRequest, refused: "oneOf", check: wantProblemNaming("lines[0].discounts[0]")},
					{name: "charge without a VAT category", as: RoleCashier, header: withKey(key()),
						body: strings.Replace(goodSale, `"lines"`, `"charges":[{"amount":"5.00","reason":"Delivery"}],"lines"`, 1),
						want: http.StatusBadRequest, refused: "vat_category", check: wantProblemNaming("charges[0].vat_category")},
					{name: "tendered below the cash amount", as: RoleCashier, header: withKey(key()),
						body: strings.Replace(goodSale, `"lines"`, `"payments":[{"means":"cash","tendered":"11.49"}],"lines"`, 1),
						want: http.StatusBadRequest, check: wantProblemNaming("payments[0].tendered")},
					{name: "cash_rounding not the unit's", as: RoleCashier, header: withKey(key()),
						body: strings.Replace(goodSale, `"lines"`, `"cash_rounding":"0.05","lines"`, 1),
						want: http.StatusBadRequest, check: wantProblemNaming("cash_rounding")},
					{name: "cash_rounding no unit uses", as: RoleCashier, header: withKey(key()),
						body: strings.Replace(goodSale, `"lines"`, `"cash_rounding":"0.10","lines"`, 1),
						want: http.StatusBadRequest, refused: "cash_rounding", check: wantProblemNaming("cash_rounding")},
					{name: "ZATCA", unit: "zatca", as: RoleCashier, header: withKey(key()), body: zatcaSimplified, want: http.StatusCreated},
					{name: "ZATCA unit not onboarded", unit: "fresh", as: RoleCashier, header: withKey(key()), body: zatcaSimplified, want: http.StatusServiceUnavailable},
				}
			}},

		{pattern: "GET /v1/documents", unit: "test", path: "/v1/documents", cases: func() []liveCase {
			anaDoc = issue(test, RoleCashier, goodSale)
			issue(test, RoleManager, goodSale)
			zatcaDoc = issue(zatca, RoleCashier, zatcaSimplified)
			rejectedDoc = issue(zatca, RoleCashier, zatcaSimplified)
			if err := zatca.sim.SetFaults(zatcasim.Faults{RejectUUIDs: []string{rejectedDoc.UUID}}); err != nil {
				f.t.Fatal(err)
			}
			zatca.step()
			if err := zatca.sim.SetFaults(zatcasim.Faults{}); err != nil {
				f.t.Fatal(err)
			}
			if r := zatca.record(rejectedDoc.Counter); r.Status != queue.StatusRejected {
				f.t.Fatalf("document %d is %v after the simulator rejected it", rejectedDoc.Counter, r.Status)
			}
			only := func(status queue.Status, counter uint64) func(t *testing.T, w *httptest.ResponseRecorder) {
				return func(t *testing.T, w *httptest.ResponseRecorder) {
					var out struct{ Documents []DocumentView }
					decodeBody(t, w, &out)
					found := false
					for _, d := range out.Documents {
						found = found || d.Counter == counter
						if d.Status != status {
							t.Errorf("?status=%s lists document %d, which is %s", status, d.Counter, d.Status)
						}
					}
					if !found {
						t.Errorf("?status=%s does not list document %d: %s", status, counter, w.Body)
					}
				}
			}
			return []liveCase{
				{name: "rejected only", unit: "zatca", as: RoleManager, path: "/v1/documents?status=rejected", want: http.StatusOK, check: only(queue.StatusRejected, rejectedDoc.Counter)},
				{name: "pending only", as: RoleCashier, path: "/v1/documents?status=pending&limit=1000", want: http.StatusOK, check: only(queue.StatusPending, anaDoc.Counter)},
				{name: "unknown status", as: RoleManager, path: "/v1/documents?status=refused", want: http.StatusBadRequest, refused: "status", check: wantProblemNaming("status")},
				{name: "a cashier's own", as: RoleCashier, want: http.StatusOK,
					check: func(t *testing.T, w *httptest.ResponseRecorder) {
						var out struct{ Documents []DocumentView }
						decodeBody(t, w, &out)
						for _, d := range out.Documents {
							if d.User != "ana" {
								t.Errorf("cashier ana sees document %d of %s", d.Counter, d.User)
							}
						}
					}},
				{name: "with the bytes", as: RoleManager, path: "/v1/documents?include=document", want: http.StatusOK},
				{name: "a page", as: RoleManager, path: "/v1/documents?since=1&limit=1", want: http.StatusOK,
					check: func(t *testing.T, w *httptest.ResponseRecorder) {
						if !strings.Contains(w.Body.String(), `"next":`) {
							t.Errorf("a page of one without next: %s", w.Body)
						}
					}},
				{name: "ZATCA, with the bytes", unit: "zatca", as: RoleManager, path: "/v1/documents?include=document&limit=1000", want: http.StatusOK},
				{name: "unknown include", as: RoleManager, path: "/v1/documents?include=bogus", want: http.StatusBadRequest, refused: "include", check: wantProblemNaming("include")},
				{name: "include twice", as: RoleManager, path: "/v1/documents?include=document&include=document", want: http.StatusBadRequest, check: wantProblemNaming("include")},
				{name: "since not a number", as: RoleManager, path: "/v1/documents?since=abc", want: http.StatusBadRequest, refused: "since", check: wantProblemNaming("since")},
				{name: "since negative", as: RoleManager, path: "/v1/documents?since=-1", want: http.StatusBadRequest, refused: "since", check: wantProblemNaming("since")},
				{name: "since empty", as: RoleManager, path: "/v1/documents?since=", want: http.StatusBadRequest, refused: "empty value", check: wantProblemNaming("since")},
				{name: "malformed query", as: RoleManager, path: "/v1/documents?since=%zz", want: http.StatusBadRequest, check: wantProblemNaming("query")},
				{name: "limit zero", as: RoleManager, path: "/v1/documents?limit=0", want: http.StatusBadRequest, refused: "limit", check: wantProblemNaming("limit")},
				{name: "limit too large", as: RoleManager, path: "/v1/documents?limit=1001", want: http.StatusBadRequest, refused: "limit", check: wantProblemNaming("limit")},
			}
		}},

		{pattern: "GET /v1/documents/{id}", unit: "test", path: "/v1/documents/1", cases: func() []liveCase {
			return []liveCase{
				{name: "by counter", as: RoleCashier, path: fmt.Sprint("/v1/documents/", anaDoc.Counter), want: http.StatusOK},
				{name: "by UUID", as: RoleManager, path: "/v1/documents/" + anaDoc.UUID, want: http.StatusOK},
				{name: "ZATCA", unit: "zatca", as: RoleManager, path: fmt.Sprint("/v1/documents/", zatcaDoc.Counter), want: http.StatusOK},
				{name: "another cashier's", token: test.login("bob", testPassword), path: fmt.Sprint("/v1/documents/", anaDoc.Counter), want: http.StatusForbidden},
				{name: "no such counter", as: RoleManager, path: "/v1/documents/999", want: http.StatusNotFound},
				{name: "no such UUID", as: RoleManager, path: "/v1/documents/00000000-0000-4000-8000-000000000000", want: http.StatusNotFound},
			}
		}},

		{pattern: "GET /v1/documents/{id}/content", unit: "test", path: "/v1/documents/1/content", cases: func() []liveCase {
			standard := issue(zatca, RoleCashier, zatcaStandard)
			adjustedDoc := issue(test, RoleCashier, adjustedSale)
			path := func(d DocumentView, form string) string {
				return fmt.Sprintf("/v1/documents/%d/content%s", d.Counter, form)
			}
			sameBytes := func(d DocumentView) func(t *testing.T, w *httptest.ResponseRecorder) {
				return func(t *testing.T, w *httptest.ResponseRecorder) {
					if !bytes.Equal(w.Body.Bytes(), d.Document) || w.Header().Get("X-Document-Hash") != d.Hash || w.Header().Get("Content-Type") != d.ContentType {
						t.Errorf("content %s (%s, hash %s) is not document %d as issued", w.Header().Get("Content-Type"), w.Body.String()[:min(40, w.Body.Len())], w.Header().Get("X-Document-Hash"), d.Counter)
					}
				}
			}
			return []liveCase{
				{name: "test regime: JSON", as: RoleCashier, path: path(anaDoc, ""), want: http.StatusOK, check: sameBytes(anaDoc)},
				{name: "test regime: with discounts and charges", as: RoleCashier, path: path(adjustedDoc, ""), want: http.StatusOK, check: sameBytes(adjustedDoc)},
				{name: "ZATCA: XML", unit: "zatca", as: RoleCashier, path: path(zatcaDoc, ""), want: http.StatusOK, check: sameBytes(zatcaDoc)},
				{name: "issued form", unit: "zatca", as: RoleCashier, path: path(zatcaDoc, "?form=issued"), want: http.StatusOK, check: sameBytes(zatcaDoc)},
				{name: "simplified handover", unit: "zatca", as: RoleCashier, path: path(zatcaDoc, "?form=handover"), want: http.StatusOK, check: sameBytes(zatcaDoc)},
				{name: "not cleared yet", unit: "zatca", as: RoleCashier, path: path(standard, "?form=cleared"), want: http.StatusConflict},
				{name: "cleared", unit: "zatca", as: RoleManager, path: path(standard, "?form=cleared"), want: http.StatusOK,
					before: func(t *testing.T) { zatca.step() },
					check: func(t *testing.T, w *httptest.ResponseRecorder) {
						if w.Header().Get("X-Cleared") != "true" {
							t.Errorf("X-Cleared = %q, want true", w.Header().Get("X-Cleared"))
						}
					}},
				{name: "handed over once cleared", unit: "zatca", as: RoleManager, path: path(standard, "?form=handover"), want: http.StatusOK},
				{name: "not a cleared document", as: RoleCashier, path: path(anaDoc, "?form=cleared"), want: http.StatusConflict},
				{name: "unknown form", as: RoleCashier, path: path(anaDoc, "?form=pdf"), want: http.StatusBadRequest, refused: "form", check: wantProblemNaming("form")},
				{name: "another cashier's", token: test.login("bob", testPassword), path: path(anaDoc, ""), want: http.StatusForbidden},
				{name: "no such document", as: RoleManager, path: "/v1/documents/999/content", want: http.StatusNotFound},
			}
		}},

		{pattern: "POST /v1/documents/{id}/credit-note", unit: "zatca", path: "/v1/documents/1/credit-note", cases: func() []liveCase {
			path := fmt.Sprintf("/v1/documents/%d/credit-note", rejectedDoc.Counter)
			return []liveCase{
				{name: "issued", as: RoleManager, path: path, want: http.StatusCreated},
				{name: "issued before", as: RoleManager, path: path, want: http.StatusOK},
				{name: "issued before, asked by another manager", token: zatca.user("deputy", RoleManager), path: path, want: http.StatusOK},
				{name: "not rejected", as: RoleManager, path: fmt.Sprintf("/v1/documents/%d/credit-note", zatcaDoc.Counter), want: http.StatusConflict},
				{name: "no such document", as: RoleManager, path: "/v1/documents/999/credit-note", want: http.StatusNotFound},
			}
		}},

		{pattern: "POST /v1/documents/{id}/print", unit: "test", path: "/v1/documents/1/print", cases: func() []liveCase {
			path := fmt.Sprintf("/v1/documents/%d/print", anaDoc.Counter)
			return []liveCase{
				{name: "own document", as: RoleCashier, path: path, want: http.StatusAccepted},
				{name: "manager", as: RoleManager, path: path, want: http.StatusAccepted},
				{name: "another cashier's", token: test.login("bob", testPassword), path: path, want: http.StatusForbidden},
				{name: "no such document", as: RoleManager, path: "/v1/documents/999/print", want: http.StatusNotFound},
				{name: "no printer", unit: "zatca", as: RoleManager, path: fmt.Sprintf("/v1/documents/%d/print", zatcaDoc.Counter), want: http.StatusConflict},
			}
		}},

		{pattern: "GET /v1/printer", unit: "test", path: "/v1/printer", cases: func() []liveCase {
			return []liveCase{
				{name: "printer", as: RoleTechnician, want: http.StatusOK},
				{name: "no printer", unit: "zatca", as: RoleManager, want: http.StatusOK},
			}
		}},

		{pattern: "POST /v1/printer/test", unit: "test", path: "/v1/printer/test", cases: func() []liveCase {
			return []liveCase{
				{name: "printed", as: RoleTechnician, want: http.StatusOK},
				{name: "cover open", as: RoleTechnician, want: http.StatusServiceUnavailable,
					before: func(t *testing.T) {
						test.printer.SetCoverOpen(true)
						t.Cleanup(func() { test.printer.SetCoverOpen(false) })
					}},
				{name: "paper runs out during the page", as: RoleManager, want: http.StatusBadGateway,
					before: func(t *testing.T) {
						test.printer.PaperOutAfter(100)
						t.Cleanup(func() { test.printer.SetPaperOut(false) })
					}},
				{name: "no printer", unit: "zatca", as: RoleTechnician, want: http.StatusConflict},
			}
		}},

		{pattern: "GET /v1/status", unit: "test", path: "/v1/status", cases: func() []liveCase {
			state := func(want string, issuing bool, check func(t *testing.T, st Status)) func(t *testing.T, w *httptest.ResponseRecorder) {
				return func(t *testing.T, w *httptest.ResponseRecorder) {
					var st Status
					decodeBody(t, w, &st)
					if st.State != want || st.Issuing != issuing || (st.StateDetail == "") != (want == StateReady) {
						t.Errorf("state %s, issuing %t, detail %q; want %s, issuing %t", st.State, st.Issuing, st.StateDetail, want, issuing)
					}
					if check != nil {
						check(t, st)
					}
				}
			}
			var outage queue.Incident
			return []liveCase{
				{name: "test unit with a printer", as: RoleCashier, want: http.StatusOK, check: state(StateReady, true, nil)},
				{name: "ZATCA unit, with a rejected document and its credit note", unit: "zatca", as: RoleManager, want: http.StatusOK,
					check: state(StateReady, true, func(t *testing.T, st Status) {
						r := st.Rejected
						if r.Count != 1 || r.WithoutCreditNote != 0 || len(r.Newest) != 1 || r.Newest[0].Counter != rejectedDoc.Counter ||
							r.Newest[0].CreditNote == 0 || r.Newest[0].Message == "" || r.Newest[0].Number != rejectedDoc.Number {
							t.Errorf("rejected = %+v; want document %d (%s) and its corrective note", r, rejectedDoc.Counter, rejectedDoc.Number)
						}
					})},
				{name: "ZATCA unit not onboarded", unit: "fresh", as: RoleTechnician, want: http.StatusOK, check: state(StateNotOnboarded, false, nil)},
				{name: "clock behind the last document", as: RoleManager, want: http.StatusOK, check: state(StateClockError, false, nil),
					before: func(t *testing.T) {
						right := test.ft.Wall()
						test.ft.SetWall(right.Add(-time.Hour))
						t.Cleanup(func() { test.ft.SetWall(right) })
						if w := test.sale(test.tokens[RoleCashier], key(), goodSale); w.Code != http.StatusConflict {
							t.Fatalf("a sale with the clock an hour behind = %d %s", w.Code, w.Body)
						}
					}},
				{name: "issuing again with the clock right", as: RoleManager, want: http.StatusOK, check: state(StateReady, true, nil),
					before: func(t *testing.T) { issue(test, RoleCashier, goodSale) }},
				{name: "outage", as: RoleManager, want: http.StatusOK, check: state(StateOffline, true, nil),
					before: func(t *testing.T) {
						var err error
						outage, err = test.a.Store().RaiseIncident(queue.Incident{Kind: incidentOutage, Title: "Authority unreachable", Detail: "connection refused"}, "system")
						if err != nil {
							t.Fatal(err)
						}
						t.Cleanup(func() {
							if err := test.a.Store().CloseIncident(outage.ID, "reachable again", "system"); err != nil {
								t.Error(err)
							}
						})
					}},
				{name: "credentials refused", unit: "zatca", as: RoleManager, want: http.StatusOK,
					check: state(StateSubmissionPaused, true, func(t *testing.T, st Status) {
						if st.Submission.Paused == "" {
							t.Errorf("submission = %+v; want why it is paused", st.Submission)
						}
					}),
					before: func(t *testing.T) { zatca.refuseCredentials(t, issue) }},
			}
		}},

		{pattern: "GET /v1/users", unit: "test", path: "/v1/users", cases: func() []liveCase {
			return []liveCase{{name: "manager", as: RoleManager, want: http.StatusOK}, {name: "owner", as: RoleOwner, want: http.StatusOK}}
		}},

		{pattern: "POST /v1/users", unit: "test", path: "/v1/users", body: `{"name":"zed","role":"cashier","password":"` + testPassword + `"}`,
			cases: func() []liveCase {
				user := func(name, role, password string) string {
					return fmt.Sprintf(`{"name":%q,"role":%q,"password":%q}`, name, role, password)
				}
				return []liveCase{
					{name: "added", as: RoleManager, body: user("carol", "cashier", testPassword), want: http.StatusCreated},
					{name: "added by the owner", as: RoleOwner, body: user("dave", "manager", testPassword), want: http.StatusCreated},
					{name: "exists", as: RoleManager, body: user("carol", "cashier", testPassword), want: http.StatusConflict},
					{name: "password one character short", as: RoleManager, body: user("erin", "cashier", "ninechars"), want: http.StatusBadRequest,
						refused: "password", check: wantProblemNaming("password")},
					{name: "password over 72 bytes", as: RoleManager, body: user("erin", "cashier", strings.Repeat("é", 40)), want: http.StatusBadRequest,
						check: wantProblemNaming("password")},
					{name: "unknown role", as: RoleManager, body: user("erin", "admin", testPassword), want: http.StatusBadRequest, refused: "role"},
					{name: "name not allowed", as: RoleManager, body: user("Erin Smith", "cashier", testPassword), want: http.StatusBadRequest, refused: "name"},
					{name: "no password", as: RoleManager, body: `{"name":"erin","role":"cashier"}`, want: http.StatusBadRequest, refused: "password"},
				}
			}},

		{pattern: "PATCH /v1/users/{name}", unit: "test", path: "/v1/users/carol", body: `{"disabled":false}`, cases: func() []liveCase {
			return []liveCase{
				{name: "role changed", as: RoleManager, body: `{"role":"technician"}`, want: http.StatusOK},
				{name: "unlocked by the owner", as: RoleOwner, body: `{"unlock":true}`, want: http.StatusOK},
				{name: "password too short", as: RoleManager, body: `{"password":"short"}`, want: http.StatusBadRequest, refused: "password"},
				{name: "unknown member", as: RoleManager, body: `{"colour":"red"}`, want: http.StatusBadRequest, refused: "colour"},
				{name: "the last manager", as: RoleManager, path: "/v1/users/boss", body: `{"role":"cashier"}`, want: http.StatusConflict,
					before: func(t *testing.T) {
						if w := test.do(request{method: "DELETE", path: "/v1/users/dave", token: test.tokens[RoleOwner]}); w.Code != http.StatusNoContent {
							t.Fatalf("remove the second manager = %d %s", w.Code, w.Body)
						}
					}},
				{name: "no such user", as: RoleManager, path: "/v1/users/nobody", body: `{"disabled":true}`, want: http.StatusNotFound},
			}
		}},

		{pattern: "POST /v1/users/{name}/sessions", unit: "test", path: "/v1/users/boss/sessions", cases: func() []liveCase {
			return []liveCase{
				{name: "opened by the owner", as: RoleOwner, want: http.StatusCreated},
				{name: "no such user", as: RoleOwner, path: "/v1/users/nobody/sessions", want: http.StatusNotFound},
				{name: "disabled user", as: RoleOwner, path: "/v1/users/carol/sessions", want: http.StatusConflict,
					before: func(t *testing.T) {
						if w := test.do(request{method: "PATCH", path: "/v1/users/carol", token: test.tokens[RoleOwner], body: []byte(`{"disabled":true}`)}); w.Code != http.StatusOK {
							t.Fatalf("disable carol = %d %s", w.Code, w.Body)
						}
					}},
			}
		}},

		{pattern: "DELETE /v1/users/{name}", unit: "test", path: "/v1/users/carol", cases: func() []liveCase {
			return []liveCase{
				{name: "removed", as: RoleManager, want: http.StatusNoContent},
				{name: "no such user", as: RoleOwner, want: http.StatusNotFound},
				{name: "the last manager", as: RoleManager, path: "/v1/users/boss", want: http.StatusConflict},
			}
		}},

		{pattern: "GET /v1/config", unit: "test", path: "/v1/config", cases: func() []liveCase {
			return []liveCase{
				{name: "test unit", as: RoleTechnician, want: http.StatusOK},
				{name: "ZATCA unit", unit: "zatca", as: RoleManager, want: http.StatusOK},
			}
		}},

		{pattern: "GET /v1/incidents", unit: "test", path: "/v1/incidents", cases: func() []liveCase {
			return []liveCase{
				{name: "all", as: RoleTechnician, want: http.StatusOK,
					check: func(t *testing.T, w *httptest.ResponseRecorder) {
						if !strings.Contains(w.Body.String(), `"kind":"clock"`) {
							t.Errorf("the clock incident of the sales cases is not listed: %s", w.Body)
						}
					}},
				{name: "open only", as: RoleManager, path: "/v1/incidents?open=true", want: http.StatusOK},
				{name: "open and closed", as: RoleManager, path: "/v1/incidents?open=false", want: http.StatusOK},
				{name: "open neither true nor false", as: RoleManager, path: "/v1/incidents?open=maybe", want: http.StatusBadRequest, refused: "open", check: wantProblemNaming("open")},
				{name: "open empty", as: RoleManager, path: "/v1/incidents?open=", want: http.StatusBadRequest, refused: "empty value", check: wantProblemNaming("open")},
			}
		}},

		{pattern: "POST /v1/incidents/{id}/notifications", unit: "test", path: "/v1/incidents/1/notifications", body: `{"reference":"NOTICE-1"}`,
			cases: func() []liveCase {
				inc, err := test.a.Store().RaiseIncident(queue.Incident{Kind: "outage", Title: "Authority unreachable", Detail: "connection refused",
					Data: map[string]string{"first_error": "connection refused"}}, "system")
				if err != nil {
					f.t.Fatal(err)
				}
				path := fmt.Sprintf("/v1/incidents/%d/notifications", inc.ID)
				return []liveCase{
					{name: "recorded", as: RoleManager, path: path, body: `{"reference":"ZATCA-2031-0001"}`, want: http.StatusCreated},
					{name: "a second notice", as: RoleManager, path: path, body: `{"reference":"ZATCA-2031-0002"}`, want: http.StatusCreated},
					{name: "200 characters of two bytes", as: RoleManager, path: path, body: `{"reference":"` + strings.Repeat("ب", 200) + `"}`, want: http.StatusCreated},
					{name: "no reference", as: RoleManager, path: path, body: `{"reference":""}`, want: http.StatusBadRequest, refused: "reference"},
					{name: "blank reference", as: RoleManager, path: path, body: `{"reference":"   "}`, want: http.StatusBadRequest, refused: "reference"},
					{name: "reference too long", as: RoleManager, path: path, body: `{"reference":"` + strings.Repeat("r", 201) + `"}`, want: http.StatusBadRequest, refused: "reference"},
					{name: "not an incident number", as: RoleManager, path: "/v1/incidents/first/notifications", body: `{"reference":"X"}`, want: http.StatusBadRequest, refused: "id"},
					{name: "no such incident", as: RoleManager, path: "/v1/incidents/999/notifications", body: `{"reference":"X"}`, want: http.StatusNotFound},
				}
			}},

		{pattern: "POST /v1/incidents", unit: "test", path: "/v1/incidents", body: unitFailureBody(test.ft.Wall().Add(-time.Hour), ""),
			cases: func() []liveCase {
				now := test.ft.Wall()
				return []liveCase{
					{name: "opened", as: RoleManager, body: unitFailureBody(now.Add(-2*time.Hour), ""), want: http.StatusCreated},
					{name: "with until and cause", as: RoleManager, body: `{"kind":"unit-failure","since":"` + now.Add(-3*time.Hour).Format(time.RFC3339) +
						`","until":"` + now.Add(-2*time.Hour).Format(time.RFC3339) + `","cause":"power cut"}`, want: http.StatusCreated},
					{name: "since in the future", as: RoleManager, body: unitFailureBody(now.Add(time.Hour), ""), want: http.StatusBadRequest, check: wantProblemNaming("since")},
					{name: "since without offset", as: RoleManager, body: `{"kind":"unit-failure","since":"2031-03-01T09:00:00"}`, want: http.StatusBadRequest, check: wantProblemNaming("since")},
					{name: "until before since", as: RoleManager, body: unitFailureBody(now.Add(-time.Hour), now.Add(-2*time.Hour).Format(time.RFC3339)), want: http.StatusBadRequest, check: wantProblemNaming("until")},
					{name: "another kind", as: RoleManager, body: `{"kind":"outage","since":"` + now.Add(-time.Hour).Format(time.RFC3339) + `"}`, want: http.StatusBadRequest, refused: "kind"},
					{name: "too many open", as: RoleManager, body: unitFailureBody(now.Add(-time.Hour), ""), want: http.StatusConflict,
						before: func(t *testing.T) {
							for range maxOpenUnitFailures {
								if _, err := test.a.openUnitFailure(now.Add(-time.Hour), now, "test", queue.SystemActor); err != nil && !errors.Is(err, errTooManyUnitFailures) {
									t.Fatal(err)
								}
							}
						}},
				}
			}},

		{pattern: "POST /v1/incidents/{id}/close", unit: "test", path: "/v1/incidents/1/close", body: `{"summary":"done"}`,
			cases: func() []liveCase {
				now := test.ft.Wall()
				inc, err := test.a.store.OpenIncident(queue.Incident{Kind: incidentUnitFailure, Title: "down", Start: now.Add(-time.Hour), Until: now}, queue.SystemActor)
				if err != nil {
					f.t.Fatal(err)
				}
				clock, err := test.a.store.OpenIncident(queue.Incident{Kind: incidentClock, Title: "clock", Start: now}, queue.SystemActor)
				if err != nil {
					f.t.Fatal(err)
				}
				path := fmt.Sprintf("/v1/incidents/%d/close", inc.ID)
				return []liveCase{
					{name: "summary too long", as: RoleManager, path: path, body: `{"summary":"` + strings.Repeat("s", 501) + `"}`, want: http.StatusBadRequest, refused: "summary"},
					{name: "closed", as: RoleManager, path: path, body: `{"summary":"paper log entered"}`, want: http.StatusOK},
					{name: "closed already", as: RoleManager, path: path, body: `{}`, want: http.StatusConflict},
					{name: "not a unit failure", as: RoleManager, path: fmt.Sprintf("/v1/incidents/%d/close", clock.ID), body: `{}`, want: http.StatusConflict},
					{name: "not an incident number", as: RoleManager, path: "/v1/incidents/first/close", body: `{}`, want: http.StatusBadRequest, refused: "id"},
					{name: "no such incident", as: RoleManager, path: "/v1/incidents/999/close", body: `{}`, want: http.StatusNotFound},
				}
			}},
		{pattern: "GET /v1/shift", unit: "test", path: "/v1/shift", cases: func() []liveCase {
			return []liveCase{{name: "a regime without shifts", as: RoleManager, want: http.StatusNotFound}}
		}, notReproduced: map[int]string{http.StatusOK: "only a Kazakh unit has shifts: cmd/egsd TestKZShiftCLI"}},

		{pattern: "POST /v1/shift/close", unit: "test", path: "/v1/shift/close", cases: func() []liveCase {
			return []liveCase{{name: "a regime without shifts", as: RoleManager, want: http.StatusNotFound}}
		}, notReproduced: map[int]string{http.StatusCreated: "only a Kazakh unit has shifts: cmd/egsd TestKZShiftCLI, TestKZShiftOf1000",
			http.StatusConflict: "only a Kazakh unit has shifts: cmd/egsd TestKZShiftCLI closes a closed shift"}},

		{pattern: "POST /v1/replay", unit: "zatca", path: "/v1/replay", cases: func() []liveCase {
			return []liveCase{
				{name: "started", as: RoleManager, want: http.StatusAccepted},
				{name: "submission off", unit: "test", as: RoleManager, want: http.StatusConflict},
			}
		}},

		{pattern: "GET /v1/replay", unit: "zatca", path: "/v1/replay", cases: func() []liveCase {
			progress := func(check func(t *testing.T, p ReplayProgress)) func(t *testing.T, w *httptest.ResponseRecorder) {
				return func(t *testing.T, w *httptest.ResponseRecorder) {
					var got struct{ Replay ReplayProgress }
					decodeBody(t, w, &got)
					check(t, got.Replay)
				}
			}
			return []liveCase{
				{name: "progress", as: RoleManager, want: http.StatusOK},
				{name: "while the authority is down", as: RoleManager, want: http.StatusOK,
					before: func(t *testing.T) {
						if err := zatca.sim.SetFaults(zatcasim.Faults{Down: true}); err != nil {
							t.Fatal(err)
						}
						issue(zatca, RoleCashier, zatcaSimplified)
						if w := zatca.do(request{method: "POST", path: "/v1/replay", token: manager(zatca)}); w.Code != http.StatusAccepted {
							t.Fatalf("replay = %d %s", w.Code, w.Body)
						}
						zatca.step()
						t.Cleanup(func() { zatca.deliverAll(t) })
					},
					check: progress(func(t *testing.T, p ReplayProgress) {
						if p.LastError == "" || p.FailingSince.IsZero() || p.NextAttempt.IsZero() || p.NextAttempt.Before(p.FailingSince) || !p.Finished.IsZero() {
							t.Errorf("progress = %+v; want the last error, since when, and the next attempt", p)
						}
					})},
				{name: "credentials refused", as: RoleManager, want: http.StatusOK,
					before: func(t *testing.T) { zatca.refuseCredentials(t, issue) },
					check: progress(func(t *testing.T, p ReplayProgress) {
						if p.Paused == "" {
							t.Errorf("progress = %+v; want why submission is paused", p)
						}
					})},
				{name: "no replay yet", unit: "test", as: RoleManager, want: http.StatusNotFound},
			}
		}},

		{pattern: "GET /v1/audit", unit: "test", path: "/v1/audit", cases: func() []liveCase {
			return []liveCase{
				{name: "first page", as: RoleManager, want: http.StatusOK},
				{name: "a page", as: RoleManager, path: "/v1/audit?since=2&limit=5", want: http.StatusOK},
				{name: "ZATCA unit", unit: "zatca", as: RoleManager, path: "/v1/audit?limit=1000", want: http.StatusOK},
				{name: "limit zero", as: RoleManager, path: "/v1/audit?limit=0", want: http.StatusBadRequest, refused: "limit", check: wantProblemNaming("limit")},
				{name: "limit not a number", as: RoleManager, path: "/v1/audit?limit=all", want: http.StatusBadRequest, refused: "limit", check: wantProblemNaming("limit")},
			}
		}},

		{pattern: "GET /v1/audit/verify", unit: "test", path: "/v1/audit/verify", cases: func() []liveCase {
			return []liveCase{
				{name: "intact", as: RoleManager, want: http.StatusOK},
				{name: "ZATCA unit", unit: "zatca", as: RoleManager, want: http.StatusOK},
			}
		}},

		{pattern: "POST /v1/audit/checkpoints", unit: "test", path: "/v1/audit/checkpoints", cases: func() []liveCase {
			return []liveCase{
				{name: "signed", as: RoleManager, want: http.StatusCreated},
				{name: "ZATCA unit", unit: "zatca", as: RoleManager, want: http.StatusCreated},
			}
		}},

		{pattern: "GET /v1/audit/checkpoints", unit: "test", path: "/v1/audit/checkpoints", cases: func() []liveCase {
			return []liveCase{
				{name: "all", as: RoleManager, want: http.StatusOK},
				{name: "a page", as: RoleManager, path: "/v1/audit/checkpoints?since=1&limit=2", want: http.StatusOK},
				{name: "limit too large", as: RoleManager, path: "/v1/audit/checkpoints?limit=1001", want: http.StatusBadRequest, refused: "limit",
					check: wantProblemNaming("limit")},
			}
		}},
	}
}

// refuseCredentials makes the authority refuse the unit's credentials on
// the next document it is sent (issued with issue), so that submission
// pauses; deliverAll lifts the pause.
func (u *liveUnit) refuseCredentials(t *testing.T, issue func(*liveUnit, Role, string) DocumentView) {
	t.Helper()
	if err := u.sim.SetFaults(zatcasim.Faults{Status: http.StatusUnauthorized}); err != nil {
		t.Fatal(err)
	}
	issue(u, RoleCashier, zatcaSimplified)
	u.step()
	if st, err := u.a.Status(); err != nil || st.Submission.Paused == "" {
		t.Fatalf("submission after the refused credentials: %+v, %v", st.Submission, err)
	}
	t.Cleanup(func() { u.deliverAll(t) })
}

// deliverAll lets the simulator accept again and delivers what is
// pending: a replay lifts a pause and makes every document due.
func (u *liveUnit) deliverAll(t *testing.T) {
	t.Helper()
	if err := u.sim.SetFaults(zatcasim.Faults{}); err != nil {
		t.Fatal(err)
	}
	if w := u.do(request{method: "POST", path: "/v1/replay", token: u.tokens[RoleManager]}); w.Code != http.StatusAccepted {
		t.Fatalf("replay = %d %s", w.Code, w.Body)
	}
	u.step()
	if st, err := u.a.Store().OutboxStats(); err != nil || st.Pending != 0 {
		t.Fatalf("documents still pending after the replay: %+v, %v", st, err)
	}
}

// unitFailureBody is a POST /v1/incidents body for a unit failure since
// since, until until ("" for now).
func unitFailureBody(since time.Time, until string) string {
	body := `{"kind":"unit-failure","since":"` + since.Format(time.RFC3339) + `"`
	if until != "" {
		body += `,"until":"` + until + `"`
	}
	return body + `}`
}

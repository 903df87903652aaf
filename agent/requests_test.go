package agent

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The Bearer scheme name is case-insensitive (RFC 9110 §11.1); other
// schemes are not sessions.
func TestBearerSchemeCaseInsensitive(t *testing.T) {
	h := newHarness(t, nil)
	token := h.user("ana", RoleCashier)
	for _, header := range []string{"Bearer " + token, "bearer " + token, "BEARER  " + token} {
		w := h.do(request{method: "GET", path: "/v1/status", header: map[string]string{"Authorization": header}})
		if w.Code != http.StatusOK {
			t.Errorf("Authorization %q: status %d, want 200", header[:7], w.Code)
		}
	}
	for _, header := range []string{"Basic " + token, token, "Bearer"} {
		w := h.do(request{method: "GET", path: "/v1/status", header: map[string]string{"Authorization": header}})
		if w.Code != http.StatusUnauthorized {
			t.Errorf("Authorization %.8q…: status %d, want 401", header, w.Code)
		}
	}
}

// Small JSON bodies (login, users) are strict like sales: one object, nothing after it.
func TestLoginRejectsTrailingData(t *testing.T) {
	h := newHarness(t, nil)
	h.addUser("ana", RoleCashier)
	w := h.do(request{method: "POST", path: "/v1/sessions", body: []byte(`{"user":"ana","password":"` + testPassword + `"} {"x":1}`)})
	p := problemOf(t, w, http.StatusBadRequest)
	if !namesField(p, "body") {
		t.Errorf("problem %+v does not name the body", p)
	}
}

// Audit entries and incidents carry the agent's clock, not the system's.
func TestAuditAndIncidentTimesFollowAgentClock(t *testing.T) {
	h := newHarness(t, nil)
	manager := h.user("boss", RoleManager)
	cashier := h.user("ana", RoleCashier)
	h.mustSale(cashier, "k1", goodSale)
	h.ft.SetWall(h.ft.Wall().Add(-time.Hour))
	if w := h.sale(cashier, "k2", goodSale); w.Code != http.StatusConflict {
		t.Fatalf("sale with the clock an hour back: %d, want 409", w.Code)
	}
	lo, hi := t0.Add(-2*time.Hour), t0.Add(2*time.Hour)
	for _, e := range h.audit(manager) {
		if e.Time.Before(lo) || e.Time.After(hi) {
			t.Errorf("audit entry %d (%s) has time %s, not the agent's clock (%s)", e.Seq, e.Action, e.Time, t0)
		}
	}
	incs := h.incidents(manager)
	if len(incs) != 1 {
		t.Fatalf("incidents = %+v, want one", incs)
	}
	if incs[0].Start.Before(lo) || incs[0].Start.After(hi) {
		t.Errorf("incident start %s is not on the agent's clock", incs[0].Start)
	}
}

// Listings share one rule for since and limit.
func TestListingPageParameters(t *testing.T) {
	h := newHarness(t, nil)
	manager := h.user("boss", RoleManager)
	for _, path := range []string{"/v1/audit", "/v1/documents"} {
		for _, q := range []string{"?limit=0", "?limit=1001", "?limit=ten", "?since=-1"} {
			p := problemOf(t, h.get(manager, path+q), http.StatusBadRequest)
			if !namesField(p, "limit") && !namesField(p, "since") {
				t.Errorf("%s%s: problem %+v names neither since nor limit", path, q, p)
			}
		}
		if w := h.get(manager, path+"?since=0&limit=1000"); w.Code != http.StatusOK {
			t.Errorf("%s with limit 1000: %d", path, w.Code)
		}
	}
}

// GET /v1/config answers the configuration in force, which parses strictly
// back into the same configuration.
func TestConfigEndpointRoundTrips(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Regime.Options = map[string]any{"max_line_amount": "500.00"} })
	w := h.get(h.user("tech", RoleTechnician), "/v1/config")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/toml" {
		t.Fatalf("GET /v1/config: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	got, err := ParseConfig("answer", w.Body.Bytes())
	if err != nil {
		t.Fatalf("the answer does not parse as a configuration: %v\n%s", err, w.Body)
	}
	if !reflect.DeepEqual(got, h.cfg) {
		t.Errorf("round trip changed the configuration:\n got %+v\nwant %+v", got, h.cfg)
	}
}

// TestJSONBodiesAreStrict: every JSON request body is read as docs/api.md
// documents it. A key that differs from a field's name only by case, a key
// that appears twice (at any depth), and any media type other than
// application/json in UTF-8 are refused, naming the field — where
// encoding/json alone would have matched "Role" to role and let the last
// of two keys win.
func TestJSONBodiesAreStrict(t *testing.T) {
	h := newHarness(t, nil)
	cashier := h.user("ana", RoleCashier)
	manager := h.user("boss", RoleManager)
	h.addUser("eve", RoleCashier)
	const line = `{"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"15"}`
	const pw = `"password":"` + testPassword + `"`
	cases := []struct {
		name        string
		method      string
		path        string
		token       string
		contentType string // "" keeps application/json
		body        string
		status      int
		field, rule string // for 400
	}{
		{"sale: KIND", "POST", "/v1/sales", cashier, "", `{"KIND":"invoice","lines":[` + line + `]}`, 400, "KIND", `did you mean "kind"?`},
		{"sale: Quantity in the third line", "POST", "/v1/sales", cashier, "", `{"kind":"invoice","lines":[` + line + `,` + line + `,{"name":"Tea","Quantity":"2","unit_price":"5","vat_category":"S","vat_rate":"15"}]}`, 400,
			"lines[2].Quantity", `is not a field of a sale; field names are case-sensitive — did you mean "quantity"?`},
		{"sale: kind twice", "POST", "/v1/sales", cashier, "", `{"kind":"credit_note","kind":"invoice","lines":[` + line + `]}`, 400, "kind", "appears twice in the object"},
		{"sale: quantity twice in a line", "POST", "/v1/sales", cashier, "", `{"kind":"invoice","lines":[{"name":"Tea","quantity":"2","quantity":"2000","unit_price":"5","vat_category":"S","vat_rate":"15"}]}`, 400, "lines[0].quantity", "appears twice"},
		{"sale: truncated", "POST", "/v1/sales", cashier, "", `{"kind":"invoice","lines":[` + line, 400, "body", "truncated"},
		{"sale: lone surrogate", "POST", "/v1/sales", cashier, "", `{"kind":"invoice","note":"\ud800","lines":[` + line + `]}`, 400, "note", `\ud800`},
		{"sale: charset=latin1", "POST", "/v1/sales", cashier, "application/json; charset=latin1", `{"kind":"invoice","lines":[` + line + `]}`, 415, "", ""},
		{"sale: charset=utf-16", "POST", "/v1/sales", cashier, "application/json; charset=utf-16", `{"kind":"invoice","lines":[` + line + `]}`, 415, "", ""},
		{"sale: another parameter", "POST", "/v1/sales", cashier, "application/json; profile=x", `{"kind":"invoice","lines":[` + line + `]}`, 415, "", ""},
		{"sale: text/json", "POST", "/v1/sales", cashier, "text/json", `{"kind":"invoice","lines":[` + line + `]}`, 415, "", ""},
		{"sale: charset=UTF-8", "POST", "/v1/sales", cashier, "application/json; charset=UTF-8", `{"kind":"invoice","lines":[` + line + `]}`, 201, "", ""},
		{"sale: charset=\"utf-8\"", "POST", "/v1/sales", cashier, `Application/JSON;charset="utf-8"`, `{"kind":"invoice","lines":[` + line + `]}`, 201, "", ""},

		{"login: User", "POST", "/v1/sessions", "", "", `{"User":"eve",` + pw + `}`, 400, "User", `did you mean "user"?`},
		{"login: user twice", "POST", "/v1/sessions", "", "", `{"user":"nobody","user":"eve",` + pw + `}`, 400, "user", "appears twice"},
		{"login: charset=latin1", "POST", "/v1/sessions", "", "application/json;charset=latin1", `{"user":"eve",` + pw + `}`, 415, "", ""},
		{"login: truncated", "POST", "/v1/sessions", "", "", `{"user":"eve",`, 400, "body", "truncated JSON"},
		{"login: charset=utf-8", "POST", "/v1/sessions", "", "application/json; charset=utf-8", `{"user":"eve",` + pw + `}`, 201, "", ""},

		{"add user: Role beside role", "POST", "/v1/users", manager, "", `{"name":"mallory","role":"cashier","Role":"manager",` + pw + `}`, 400, "Role", `did you mean "role"?`},
		{"add user: role twice", "POST", "/v1/users", manager, "", `{"name":"mallory","role":"cashier","role":"manager",` + pw + `}`, 400, "role", "appears twice"},
		{"change user: Disabled", "PATCH", "/v1/users/eve", manager, "", `{"Disabled":true}`, 400, "Disabled", `did you mean "disabled"?`},
		{"change user: latin1", "PATCH", "/v1/users/eve", manager, "application/json; charset=iso-8859-1", `{"disabled":true}`, 415, "", ""},
		{"notification: Reference", "POST", "/v1/incidents/1/notifications", manager, "", `{"Reference":"N-1"}`, 400, "Reference", `did you mean "reference"?`},
		{"notification: reference twice", "POST", "/v1/incidents/1/notifications", manager, "", `{"reference":"N-1","reference":"N-2"}`, 400, "reference", "appears twice"},
	}
	before := h.status(manager).Counter
	issued := 0
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"Idempotency-Key": fmt.Sprint("strict-", i)}
			if tc.contentType != "" {
				hdr["Content-Type"] = tc.contentType
			}
			w := h.do(request{method: tc.method, path: tc.path, token: tc.token, body: []byte(tc.body), header: hdr})
			if tc.status == http.StatusCreated {
				if w.Code != tc.status {
					t.Fatalf("status %d %s, want 201", w.Code, w.Body)
				}
				if tc.path == "/v1/sales" {
					issued++
				}
				return
			}
			p := problemOf(t, w, tc.status)
			switch tc.status {
			case http.StatusUnsupportedMediaType:
				if p.Type != problemMediaType || !strings.Contains(p.Detail, "application/json") {
					t.Errorf("problem %+v, want %s saying what to send", p, problemMediaType)
				}
			case http.StatusBadRequest:
				if len(p.Errors) != 1 || p.Errors[0].Field != tc.field || !strings.Contains(p.Errors[0].Rule, tc.rule) {
					t.Errorf("errors %+v, want field %q with a rule containing %q", p.Errors, tc.field, tc.rule)
				}
			}
		})
	}
	if got := h.status(manager).Counter; got != before+uint64(issued) {
		t.Errorf("counter %d → %d with %d sales accepted: a refused body moved it", before, got, issued)
	}
	users, err := h.a.Auth().Users()
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Name == "mallory" {
			t.Errorf("a refused body created user %+v", u)
		}
		if u.Name == "eve" && u.Disabled {
			t.Error("a refused body disabled eve")
		}
	}
}

package agent

import (
	"net/http"
	"reflect"
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

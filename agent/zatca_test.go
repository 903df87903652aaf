package agent

import (
	"net/http"
	"testing"

	_ "github.com/egsd/egsd/stamping/zatca"
)

// A ZATCA unit creates its stamping key on first start and says so in the
// audit log, once; before it has a certificate, sales get 503 naming
// onboarding and nothing is issued.
func TestZATCAKeyEventAndNotOnboarded(t *testing.T) {
	zatcaConfig := func(c *Config) {
		c.Regime.Name = "zatca"
		c.Regime.Options = nil
	}
	h := newHarness(t, zatcaConfig)
	manager := h.user("boss", RoleManager)
	cashier := h.user("ana", RoleCashier)
	keyEvents := func() int {
		n := 0
		for _, e := range h.audit(manager) {
			if e.Action == "key_event" && e.Subject == "stamping_key_created" && e.Details["public_key"] != "" {
				n++
			}
		}
		return n
	}
	if n := keyEvents(); n != 1 {
		t.Fatalf("%d key-created audit entries after the first start, want 1", n)
	}
	p := problemOf(t, h.sale(cashier, "k1", goodSale), http.StatusServiceUnavailable)
	if !containsFold(p.Detail, "onboard") {
		t.Errorf("problem %+v does not say to onboard", p)
	}
	if st := h.status(cashier); st.Counter != 0 || st.Regime != "zatca" || st.StampMode != "local" {
		t.Errorf("status = %+v", st)
	}
	// The unit cannot issue, and its status says so and why.
	if st := h.status(cashier); st.State != StateNotOnboarded || st.Issuing || !containsFold(st.StateDetail, "egsd onboard") {
		t.Errorf("status of a unit that is not onboarded: state %q, issuing %t, detail %q", st.State, st.Issuing, st.StateDetail)
	}
	h.close()
	h2 := startHarness(t, h.cfg, h.ft)
	h = h2
	if n := keyEvents(); n != 1 {
		t.Errorf("%d key-created audit entries after a restart, want still 1", n)
	}
}

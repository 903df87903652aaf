package agent

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// wantAccess is who may call each endpoint: the access policy written down
// independently of routeTable. nil means public. A route added to
// routeTable without an entry here fails TestRoutesAuth, so that every new
// endpoint's access is decided on purpose.
var wantAccess = map[string][]Role{
	"GET /healthz":                          nil,
	"POST /v1/sessions":                     nil,
	"GET /v1/sessions/current":              {RoleCashier, RoleManager, RoleTechnician, RoleOwner},
	"DELETE /v1/sessions":                   {RoleCashier, RoleManager, RoleTechnician},
	"POST /v1/sales":                        {RoleCashier, RoleManager},
	"GET /v1/documents":                     {RoleCashier, RoleManager},
	"GET /v1/documents/{id}":                {RoleCashier, RoleManager},
	"GET /v1/documents/{id}/content":        {RoleCashier, RoleManager},
	"POST /v1/documents/{id}/credit-note":   {RoleManager},
	"POST /v1/documents/{id}/print":         {RoleCashier, RoleManager},
	"GET /v1/printer":                       {RoleManager, RoleTechnician},
	"POST /v1/printer/test":                 {RoleManager, RoleTechnician},
	"GET /v1/status":                        {RoleCashier, RoleManager, RoleTechnician},
	"GET /v1/users":                         {RoleManager, RoleOwner},
	"POST /v1/users":                        {RoleManager, RoleOwner},
	"PATCH /v1/users/{name}":                {RoleManager, RoleOwner},
	"DELETE /v1/users/{name}":               {RoleManager, RoleOwner},
	"POST /v1/users/{name}/sessions":        {RoleOwner},
	"GET /v1/config":                        {RoleManager, RoleTechnician},
	"GET /v1/incidents":                     {RoleManager, RoleTechnician},
	"POST /v1/incidents/{id}/notifications": {RoleManager},
	"POST /v1/incidents":                    {RoleManager},
	"POST /v1/incidents/{id}/close":         {RoleManager},
	"POST /v1/replay":                       {RoleManager},
	"GET /v1/replay":                        {RoleManager},
	"GET /v1/shift":                         {RoleManager},
	"POST /v1/shift/close":                  {RoleManager},
	"GET /v1/audit":                         {RoleManager},
	"GET /v1/audit/verify":                  {RoleManager},
	"GET /v1/audit/checkpoints":             {RoleManager},
	"POST /v1/audit/checkpoints":            {RoleManager},
	"POST /v1/onboarding":                   {RoleTechnician},
	"GET /v1/onboarding":                    {RoleManager, RoleTechnician},
}

// samplePath fills a route's wildcards with values that exist nowhere, so
// that an allowed call reaches its handler without changing anything.
func samplePath(p string) string {
	return strings.NewReplacer("{id}", "1", "{name}", "nobody").Replace(p)
}

func TestPublicRoutes(t *testing.T) {
	want := []string{"GET /healthz", "POST /v1/sessions"}
	if !slices.Equal(publicRoutes, want) {
		t.Fatalf("publicRoutes = %q, want exactly %q", publicRoutes, want)
	}
}

// TestRoutesAuth walks the router: every route in routeTable, with no
// token, a garbage token, a revoked and an expired session, and a session
// of every role plus the owner token.
func TestRoutesAuth(t *testing.T) {
	h := newHarness(t, nil)
	routes := h.a.routeTable()

	// The table and the policy above list the same endpoints, once each,
	// and agree on who may call them.
	seen := map[string]bool{}
	for _, rt := range routes {
		pattern := rt.method + " " + rt.path
		if seen[pattern] {
			t.Errorf("route %s is in routeTable twice", pattern)
		}
		seen[pattern] = true
		want, ok := wantAccess[pattern]
		if !ok {
			t.Errorf("route %s has no entry in wantAccess: decide who may call it", pattern)
			continue
		}
		if (rt.roles == nil) != slices.Contains(publicRoutes, pattern) {
			t.Errorf("route %s: roles nil = %v, but in publicRoutes = %v", pattern, rt.roles == nil, slices.Contains(publicRoutes, pattern))
		}
		if !sameRoles(rt.roles, want) {
			t.Errorf("route %s allows %v, want %v", pattern, rt.roles, want)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(wantAccess)) {
		if !seen[p] {
			t.Errorf("wantAccess lists %s, which routeTable does not have", p)
		}
	}
	for _, p := range publicRoutes {
		if !seen[p] {
			t.Errorf("publicRoutes lists %s, which routeTable does not have", p)
		}
	}

	type caller struct {
		name  string
		role  Role
		token func() string // a fresh token per call: DELETE /v1/sessions ends it
	}
	var callers []caller
	for _, r := range Roles {
		name := "u-" + string(r)
		h.addUser(name, r)
		callers = append(callers, caller{name, r, func() string { return h.login(name, testPassword) }})
	}
	owner := h.ownerToken()
	callers = append(callers, caller{"owner", RoleOwner, func() string { return owner }})

	call := func(rt route, token string, authz string) *httptest.ResponseRecorder {
		t.Helper()
		req := request{method: rt.method, path: samplePath(rt.path), token: token}
		if authz != "" {
			req.header = map[string]string{"Authorization": authz}
		}
		return h.do(req)
	}
	want401 := func(t *testing.T, w *httptest.ResponseRecorder) {
		t.Helper()
		p := problemOf(t, w, http.StatusUnauthorized)
		if p.Type != problemUnauthorized {
			t.Errorf("type = %q, want %q", p.Type, problemUnauthorized)
		}
		if w.Header().Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
	}

	for _, rt := range routes {
		pattern := rt.method + " " + rt.path
		public := slices.Contains(publicRoutes, pattern)
		t.Run(pattern, func(t *testing.T) {
			t.Run("no token", func(t *testing.T) {
				w := call(rt, "", "")
				if public {
					if w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden {
						t.Errorf("public route answered %d without a token: %s", w.Code, w.Body)
					}
					return
				}
				want401(t, w)
			})
			if public {
				return
			}
			t.Run("garbage token", func(t *testing.T) {
				want401(t, call(rt, "garbage", ""))
				want401(t, call(rt, "", "Bearer "))
				// A real token under another scheme is no session either.
				want401(t, call(rt, "", "Basic "+callers[0].token()))
			})
			for _, c := range callers {
				t.Run(c.name, func(t *testing.T) {
					w := call(rt, c.token(), "")
					if slices.Contains(wantAccess[pattern], c.role) {
						if w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden {
							t.Errorf("%s may call it but got %d: %s", c.role, w.Code, w.Body)
						}
						return
					}
					p := problemOf(t, w, http.StatusForbidden)
					if p.Type != problemForbidden {
						t.Errorf("type = %q, want %q", p.Type, problemForbidden)
					}
				})
			}
		})
	}

	t.Run("unknown path", func(t *testing.T) {
		rt := route{method: "GET", path: "/v1/nope"}
		want401(t, call(rt, "", ""))
		for _, c := range callers {
			problemOf(t, call(rt, c.token(), ""), http.StatusNotFound)
		}
		// A known path with the wrong method is no way around the guard.
		want401(t, call(route{method: "PUT", path: "/v1/sales"}, "", ""))
	})

	t.Run("revoked token", func(t *testing.T) {
		token := h.login("u-cashier", testPassword)
		if w := h.do(request{method: "DELETE", path: "/v1/sessions", token: token}); w.Code != http.StatusNoContent {
			t.Fatalf("DELETE /v1/sessions = %d %s, want 204", w.Code, w.Body)
		}
		for _, rt := range routes {
			if !slices.Contains(publicRoutes, rt.method+" "+rt.path) {
				t.Run(rt.method+" "+rt.path, func(t *testing.T) { want401(t, call(rt, token, "")) })
			}
		}
	})

	// Last: it moves the clock past every session made above.
	t.Run("expired token", func(t *testing.T) {
		tokens := map[Role]string{}
		for _, c := range callers[:len(Roles)] {
			tokens[c.role] = c.token()
		}
		// One second before expiry the sessions still work.
		h.ft.Advance(h.cfg.Auth.SessionTTL.Duration - time.Second)
		if w := h.get(tokens[RoleManager], "/v1/sessions/current"); w.Code != http.StatusOK {
			t.Fatalf("session just before expiry: %d %s", w.Code, w.Body)
		}
		h.ft.Advance(2 * time.Second)
		for _, rt := range routes {
			if slices.Contains(publicRoutes, rt.method+" "+rt.path) {
				continue
			}
			t.Run(rt.method+" "+rt.path, func(t *testing.T) {
				for role, token := range tokens {
					w := call(rt, token, "")
					want401(t, w)
					if !strings.Contains(w.Body.String(), "expired") {
						t.Errorf("%s: 401 does not say the session expired: %s", role, w.Body)
					}
				}
			})
		}
		// The owner token is not a session and does not expire.
		if w := h.get(owner, "/v1/users"); w.Code != http.StatusOK {
			t.Errorf("owner token after the session TTL: %d %s", w.Code, w.Body)
		}
	})
}

func sameRoles(a, b []Role) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for _, r := range a {
		if !slices.Contains(b, r) {
			return false
		}
	}
	return true
}

// TestRoutesPanicsOnUnguardedRoute checks the guard rail in routes(): a
// route with no roles that is not public must stop the agent from starting.
// routeTable is a method, so the test swaps publicRoutes instead: with one
// public route taken out of it, that route is an unguarded route.
func TestRoutesPanicsOnUnguardedRoute(t *testing.T) {
	h := newHarness(t, nil)
	saved := publicRoutes
	t.Cleanup(func() { publicRoutes = saved })
	publicRoutes = []string{"GET /healthz"}
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("routes() accepted POST /v1/sessions with no roles outside publicRoutes")
		}
		if !strings.Contains(r.(string), "POST /v1/sessions") {
			t.Errorf("panic %q does not name the route", r)
		}
	}()
	h.a.routes()
}

// TestHealthz needs no session and says ok.
func TestHealthz(t *testing.T) {
	h := newHarness(t, nil)
	w := h.get("", "/healthz")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"ok"`) {
		t.Errorf("GET /healthz = %d %s", w.Code, w.Body)
	}
}

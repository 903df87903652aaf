package agent

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes keeps docs/openapi.yaml in step with the route
// table: every route is documented with the roles it really allows, and the
// document lists no endpoint the agent does not serve.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f, err := os.Open("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	documented := map[string]string{} // "GET /path" → "[roles]" or "public"
	var path, op string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "  /") && strings.HasSuffix(line, ":"):
			path, op = strings.TrimSuffix(strings.TrimSpace(line), ":"), ""
		case path != "" && strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     ") && strings.HasSuffix(line, ":"):
			op = strings.ToUpper(strings.TrimSuffix(strings.TrimSpace(line), ":")) + " " + path
			documented[op] = "public"
		case op != "" && strings.HasPrefix(strings.TrimSpace(line), "x-roles:"):
			documented[op] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "x-roles:"))
		case strings.HasPrefix(line, "components:"):
			path, op = "", ""
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	a := &Agent{}
	for _, rt := range a.routeTable() {
		pattern := rt.method + " " + rt.path
		got, ok := documented[pattern]
		if !ok {
			t.Errorf("%s is not in docs/openapi.yaml", pattern)
			continue
		}
		want := "public"
		if rt.roles != nil {
			want = "[" + joinRoles(rt.roles) + "]"
		}
		if got != want {
			t.Errorf("docs/openapi.yaml gives %s x-roles %s, the route table %s", pattern, got, want)
		}
		delete(documented, pattern)
	}
	for _, pattern := range ownAuthRoutes {
		if got, ok := documented[pattern]; !ok || got != "public" {
			t.Errorf("docs/openapi.yaml: %s documented %v with x-roles %s, want documented without x-roles (it takes no session)", pattern, ok, got)
		}
		delete(documented, pattern)
	}
	for pattern := range documented {
		t.Errorf("docs/openapi.yaml documents %s, which the agent does not serve", pattern)
	}
	if !slices.Contains(publicRoutes, "GET /healthz") {
		t.Error("GET /healthz must stay public")
	}
}

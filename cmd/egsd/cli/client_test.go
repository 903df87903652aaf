package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/egsd/egsd/cmd/egsd/internal/cmdtest"
)

// A connection nobody accepts changed nothing: the messages say that no
// agent answered at the address and how to start one, not that a sale's
// outcome is unknown or that onboarding may still be running.
func TestAgentNotRunning(t *testing.T) {
	api := "http://" + cmdtest.FreeAddr(t)
	env := map[string]string{"EGSD_SESSION_FILE": filepath.Join(t.TempDir(), "none.json"), "EGSD_API": api,
		"EGSD_CONFIG": filepath.Join(t.TempDir(), "absent.toml")}
	wantDown := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "no agent answered at "+api) || !strings.Contains(err.Error(), "connection refused") ||
			!strings.Contains(err.Error(), "egsd service start") {
			t.Errorf("%s: %v; want no agent answered at %s (connection refused) and how to start it", what, err, api)
		}
	}
	_, _, err := run(t, env, "", "status")
	wantDown("status without a session", err)
	_, _, err = run(t, env, "", "login", "--user", "cashier", "--password", "cashier-demo")
	wantDown("login", err)

	env["EGSD_TOKEN"] = "some-token"
	sale, err := os.ReadFile("../../../examples/sale.json")
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, err := run(t, env, string(sale), "sale", "-")
	wantDown("sale", err)
	if strings.Contains(stderr, "outcome is unknown") || !strings.Contains(err.Error(), "nothing was issued") {
		t.Errorf("sale to a stopped agent: stderr %q, err %v; nothing was sent, so nothing was issued", stderr, err)
	}
	_, _, err = run(t, env, "", "onboard", "--otp", "123345")
	wantDown("onboard", err)
	if strings.Contains(err.Error(), "may still be running") {
		t.Errorf("onboard to a stopped agent: %v; it cannot be running", err)
	}
}

// A wrong --api is not "not logged in": the message says what answered
// there, or that nothing did.
func TestWrongAPIAddress(t *testing.T) {
	_, url, env := startAgent(t)
	if _, _, err := run(t, env, "manager-demo\n", "login", "--user", "manager"); err != nil {
		t.Fatal(err)
	}
	delete(env, "EGSD_API") // the saved session says where the agent is
	if out, _, err := run(t, env, "", "status"); err != nil || !strings.Contains(out, "state") {
		t.Fatalf("status through the saved session: %q, %v", out, err)
	}

	closed := "http://" + cmdtest.FreeAddr(t)
	_, _, err := run(t, env, "", "status", "--api", closed)
	if err == nil || strings.Contains(err.Error(), "not logged in") || !strings.Contains(err.Error(), "no agent answered at "+closed) {
		t.Errorf("status --api %s: %v; want no agent answered there", closed, err)
	}

	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	_, _, err = run(t, env, "", "status", "--api", other.URL)
	if err == nil || !strings.Contains(err.Error(), "is not an egsd agent") {
		t.Errorf("status --api at a server that is not an agent: %v", err)
	}

	// Another agent that answers: the session is for the first one.
	_, url2, _ := startAgent(t)
	_, _, err = run(t, env, "", "status", "--api", url2)
	if err == nil || !strings.Contains(err.Error(), "not logged in to the agent at "+url2) ||
		!strings.Contains(err.Error(), "the saved session is for "+url) || !strings.Contains(err.Error(), "--api "+url2) {
		t.Errorf("status --api at a second agent: %v", err)
	}
}

// A token the agent does not take (expired, ended, mistyped) is explained
// with the next step, not with the API's advice to raw HTTP clients.
func TestSessionRefused(t *testing.T) {
	_, url, env := startAgent(t)
	env["EGSD_TOKEN"] = "not-a-token"
	_, _, err := run(t, env, "", "status")
	if err == nil || !strings.Contains(err.Error(), "not logged in to the agent at "+url) || !strings.Contains(err.Error(), "egsd login --user NAME") ||
		strings.Contains(err.Error(), "POST /v1/sessions") {
		t.Errorf("status with a wrong token: %v", err)
	}
	_, stderr, err := run(t, env, `{"kind":"invoice","lines":[`, "sale", "-")
	if err == nil || strings.Contains(stderr, "outcome is unknown") {
		t.Errorf("sale with a wrong token: stderr %q, err %v", stderr, err)
	}
}

// A problem with the whole sale (truncated JSON) names no field: the
// list does not print an empty one.
func TestSaleProblemWithoutField(t *testing.T) {
	_, _, env := startAgent(t)
	if _, _, err := run(t, env, "cashier-demo\n", "login", "--user", "cashier"); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := run(t, env, `{"kind":"invoice","lines":[`, "sale", "-")
	if err == nil || !strings.Contains(stderr, "truncated") || strings.Contains(stderr, "  : ") {
		t.Errorf("truncated sale: stderr %q, err %v", stderr, err)
	}
}

package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/agent"
	zatcasim "github.com/egsd/egsd/sim/zatca"
	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/csr"
	"github.com/egsd/egsd/stamping/zatca"
)

// zatcaAgent is a served agent on the zatca regime, not onboarded, whose
// ZATCA is a simulator on loopback; submission is on.
type zatcaAgent struct {
	a    *agent.Agent
	sim  *zatcasim.Server
	url  string
	data string
	env  map[string]string
}

func startZATCAAgent(t *testing.T, simCfg zatcasim.Config) *zatcaAgent {
	t.Helper()
	sim := zatcasim.New(simCfg)
	simSrv := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); simSrv.Close() })

	data := t.TempDir()
	cfg := agent.DemoConfig(data)
	cfg.Regime.Name = "zatca"
	cfg.Regime.Options = map[string]any{"base_url": zatcasim.BaseURL(simSrv.URL, csr.DeveloperPortal), "invoice_prefix": "EGS1-"}
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Auth.BcryptCost = 4
	cfg.Submit.Enabled = true
	cfg.Submit.MaxBackoff = agent.Duration{Duration: time.Second}
	a, url := serveAgent(t, cfg)
	env := map[string]string{"EGSD_SESSION_FILE": filepath.Join(t.TempDir(), "session.json"), "EGSD_API": url}
	return &zatcaAgent{a: a, sim: sim, url: url, data: data, env: env}
}

func (z *zatcaAgent) login(t *testing.T, user string) {
	t.Helper()
	if _, _, err := run(t, z.env, user+"-demo\n", "login", "--user", user); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
}

// get reads path with the saved session's token.
func (z *zatcaAgent) get(t *testing.T, path string) []byte {
	t.Helper()
	s, err := loadSession(IO{Getenv: func(k string) string { return z.env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", z.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
	}
	return body
}

func (z *zatcaAgent) statusOnboarding(t *testing.T) agent.OnboardingSummary {
	t.Helper()
	var st agent.Status
	if err := json.Unmarshal(z.get(t, "/v1/status"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Onboarding == nil {
		t.Fatal("GET /v1/status has no onboarding")
	}
	return *st.Onboarding
}

const simplifiedSale = `{"kind":"invoice","lines":[{"name":"Tea","quantity":"2","unit_price":"4.35","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]}`

// TestOnboardCommand: a technician onboards a unit through the API with
// `egsd onboard`; a refused OTP fails with ZATCA's reason and exit 1; once
// done, the next sale is issued (201) and stamped with the production
// certificate, which verifies, and is reported with the production CSID,
// all without a restart. Other roles may not onboard.
func TestOnboardCommand(t *testing.T) {
	z := startZATCAAgent(t, zatcasim.Config{})

	z.login(t, "cashier")
	_, _, err := run(t, z.env, simplifiedSale, "sale", "-")
	if err == nil || !strings.Contains(err.Error(), "onboard") {
		t.Fatalf("sale before onboarding: %v, want 503 naming onboarding", err)
	}
	if _, _, err := run(t, z.env, "", "onboard", "--otp", "123345"); err == nil || !strings.Contains(err.Error(), "role cashier may not") {
		t.Fatalf("cashier onboarding: %v, want 403", err)
	}
	z.login(t, "manager")
	if _, _, err := run(t, z.env, "", "onboard", "--otp", "123345"); err == nil || !strings.Contains(err.Error(), "role manager may not") {
		t.Fatalf("manager onboarding: %v, want 403", err)
	}
	out, _, err := run(t, z.env, "", "onboard", "--status")
	if err != nil || !strings.Contains(out, "state        not_started") {
		t.Fatalf("onboard --status as manager: %q, %v", out, err)
	}

	z.login(t, "technician")
	out, stderr, err := run(t, z.env, "", "onboard", "--otp", "654321")
	if err == nil || ExitCode(err) != 1 || !strings.Contains(err.Error(), "onboarding failed at compliance_csid") ||
		!strings.Contains(stderr, "authority: Invalid-OTP") || !strings.Contains(out, "csr_ready") {
		t.Fatalf("refused OTP: out %q, stderr %q, err %v", out, stderr, err)
	}
	if _, _, err := run(t, z.env, "", "onboard", "--otp", "12345"); err == nil || !strings.Contains(err.Error(), "otp") {
		t.Fatalf("malformed OTP: %v, want the otp named", err)
	}

	out, _, err = run(t, z.env, "", "onboard", "--otp", zatcasim.DeveloperPortalOTP)
	if err != nil {
		t.Fatalf("onboard: %v\n%s", err, out)
	}
	for _, want := range []string{"csr_ready", "compliance_csid", "compliance_checked", "production_csid", "done", "onboarding done: certificate valid until"} {
		if !strings.Contains(out, want) {
			t.Errorf("onboard output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, zatcasim.DeveloperPortalOTP) {
		t.Error("onboard printed the OTP")
	}
	out, _, err = run(t, z.env, "", "onboard", "--status")
	if err != nil || !strings.Contains(out, "state        done") || !strings.Contains(out, "certificate  valid until") || strings.Contains(out, "renewal due") {
		t.Errorf("onboard --status: %q, %v", out, err)
	}
	if s := z.statusOnboarding(t); s.State != "done" || s.NotAfter.IsZero() || s.Warning != "" {
		t.Errorf("status onboarding %+v", s)
	}
	if _, _, err := run(t, z.env, "", "onboard", "--otp", zatcasim.DeveloperPortalOTP); err == nil || !strings.Contains(err.Error(), "already onboarded") {
		t.Errorf("onboarding again: %v, want 409 already onboarded", err)
	}

	// The next sale: issued, stamped with the production certificate,
	// and reported with the production CSID.
	z.login(t, "cashier")
	out, _, err = run(t, z.env, simplifiedSale, "sale", "-")
	if err != nil || !strings.Contains(out, "issued document 1") {
		t.Fatalf("sale after onboarding: %q, %v", out, err)
	}
	doc := z.get(t, "/v1/documents/1/content")
	if _, err := zatca.Verify(doc); err != nil {
		t.Fatalf("the document does not verify: %v", err)
	}
	pemData, err := os.ReadFile(filepath.Join(z.data, "zatca", "certificate.pem"))
	if err != nil {
		t.Fatal(err)
	}
	production, err := cert.ParsePEM(pemData)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "<ds:X509Certificate>"+production.Base64()+"</ds:X509Certificate>") {
		t.Error("the document is not signed with the production certificate")
	}
	var creds struct {
		Token string `json:"binary_security_token"`
	}
	data, _ := os.ReadFile(filepath.Join(z.data, "zatca", "credentials.json"))
	json.Unmarshal(data, &creds)
	deadline := time.Now().Add(30 * time.Second)
	for len(z.sim.Accepted(creds.Token)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the simulator never received the document from the production CSID")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOnboardRenewalWarning: a certificate valid less than 30 days makes
// the status warn with the command that renews it, and the renewal
// through the CLI clears the warning's cause with a new certificate.
func TestOnboardRenewalWarning(t *testing.T) {
	z := startZATCAAgent(t, zatcasim.Config{CertValidity: 10 * 24 * time.Hour})
	z.login(t, "technician")
	if _, _, err := run(t, z.env, "", "onboard", "--otp", zatcasim.DeveloperPortalOTP); err != nil {
		t.Fatal(err)
	}
	s := z.statusOnboarding(t)
	if !s.RenewalDue || !strings.Contains(s.Warning, "certificate expires on "+s.NotAfter.UTC().Format("2006-01-02")) ||
		!strings.Contains(s.Warning, "renew with egsd onboard --renew --otp") {
		t.Errorf("status onboarding %+v, want the renewal warning", s)
	}
	out, _, err := run(t, z.env, "", "onboard", "--status")
	if err != nil || !strings.Contains(out, "renewal due: egsd onboard --renew") {
		t.Errorf("onboard --status: %q, %v", out, err)
	}
	before, _ := os.ReadFile(filepath.Join(z.data, "zatca", "certificate.pem"))
	out, _, err = run(t, z.env, "", "onboard", "--renew", "--otp", zatcasim.DeveloperPortalOTP)
	if err != nil || !strings.Contains(out, "renewal done") {
		t.Fatalf("onboard --renew: %q, %v", out, err)
	}
	after, _ := os.ReadFile(filepath.Join(z.data, "zatca", "certificate.pem"))
	if string(before) == string(after) {
		t.Error("the renewal installed no new certificate")
	}
}

func TestOnboardUsage(t *testing.T) {
	for _, args := range [][]string{
		{"onboard", "123345"},
		{"onboard", "--status", "--otp", "123345"},
		{"onboard", "--status", "--renew"},
	} {
		if _, _, err := run(t, nil, "", args...); err == nil || ExitCode(err) != 2 {
			t.Errorf("egsd %v: %v, want a usage error", args, err)
		}
	}
	_, _, env := startAgent(t)
	if _, _, err := run(t, env, "", "onboard", "--otp", "123345"); err == nil || !strings.Contains(err.Error(), "egsd login") {
		t.Errorf("onboard without a session: %v", err)
	}
}

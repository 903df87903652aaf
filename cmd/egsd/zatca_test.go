package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/egsd/egsd/cmd/egsd/internal/cmdtest"
	"github.com/egsd/egsd/stamping/stampingtest"
)

// sharedZATCA is the shared directory's zatca folder (see stampingtest), or
// the test is skipped when it has no ZATCA test keys.
func sharedZATCA(t *testing.T) string {
	t.Helper()
	stampingtest.Path(t, "zatca", "testkeys", "key_pkcs8.der")
	return filepath.Join(stampingtest.SharedDir(), "zatca")
}

// sdkUnit is a daemon on the zatca regime with the SDK test key and
// certificate, a cashier ana and a manager boss logged in.
type sdkUnit struct {
	tmp, data, cfg   string
	env              []string
	d                *daemon
	cashier, manager *apiClient
	keyDER           []byte
}

// startSDKUnit starts an sdkUnit in a new directory.
func startSDKUnit(t *testing.T) *sdkUnit {
	t.Helper()
	shared := sharedZATCA(t)
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	keyDER, err := os.ReadFile(filepath.Join(shared, "testkeys", "key_pkcs8.der"))
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(filepath.Join(shared, "testkeys", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(data, "zatca"), 0o700)
	os.WriteFile(filepath.Join(data, "zatca", "stamping-key.pem"), keyDER, 0o600)
	os.WriteFile(filepath.Join(data, "zatca", "certificate.pem"), certPEM, 0o600)

	addr := cmdtest.FreeAddr(t)
	cfg := filepath.Join(tmp, "egsd.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir = %s
[api]
listen = %s
[regime]
name = "zatca"
[regime.options]
invoice_prefix = "EGS1-"
[seller]
name = "Maximum Speed Tech Supply LTD"
name_local = "شركة توريد التكنولوجيا بأقصى سرعة المحدودة"
vat_number = "399999999900003"
id_scheme = "CRN"
id = "1010010000"
street = "Prince Sultan"
building_number = "2322"
district = "Al-Murabba"
city = "Riyadh"
postal_code = "23333"
country = "SA"
[auth]
bcrypt_cost = 4
[log]
level = "debug"
format = "json"
`, strconv.Quote(data), strconv.Quote(addr))), 0o600)
	env := cliEnv(tmp)
	if res := runEgsd(t, env, "users", "add", "--config", cfg, "--name", "ana", "--role", "cashier", "--password", "ana-password-1"); res.Code != 0 {
		t.Fatalf("users add: %s", res)
	}
	if res := runEgsd(t, env, "users", "add", "--config", cfg, "--name", "boss", "--role", "manager", "--password", "boss-password-1"); res.Code != 0 {
		t.Fatalf("users add: %s", res)
	}
	d := startDaemon(t, data, addr, "run", "--config", cfg)
	cashier := newAPIClient(d.url)
	cashier.login(t, "ana", "ana-password-1")
	manager := newAPIClient(d.url)
	manager.login(t, "boss", "boss-password-1")

	return &sdkUnit{tmp: tmp, data: data, cfg: cfg, env: env, d: d, cashier: cashier, manager: manager, keyDER: keyDER}
}

// TestZATCAEndToEnd runs the daemon with the zatca regime on the SDK test
// key and certificate: simplified and standard invoices and a credit note
// are issued over the API, exported, and verify as one chain with
// `egsd verify --chain`. Nothing the daemon, its API or the CLI says
// contains the private key (design.md invariant 6).
func TestZATCAEndToEnd(t *testing.T) {
	u := startSDKUnit(t)
	tmp, cfg, env, d, cashier, manager, keyDER := u.tmp, u.cfg, u.env, u.d, u.cashier, u.manager, u.keyDER
	var said []string // everything the API answered
	sales := []string{
		`{"kind":"invoice","lines":[{"name":"Tea","quantity":"2","unit_price":"4.35","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]}`,
		`{"kind":"invoice","buyer":{"name":"Fatoora Samples LTD","vat_number":"399999999800003","address":{"street":"Salah Al-Din","building_number":"1111","district":"Al-Murooj","city":"Riyadh","postal_code":"12222","country":"SA"}},
		  "lines":[{"name":"Paper","quantity":"10","unit_price":"12.50","vat_category":"S","vat_rate":"15"},{"name":"Export service","quantity":"1","unit_price":"100","vat_category":"Z","exemption_reason":"VATEX-SA-33"}],"payments":[{"means":"bank_transfer"}]}`,
		`{"kind":"credit_note","original":"EGS1-1","reason":"Goods returned","lines":[{"name":"Tea","quantity":"1","unit_price":"4.35","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]}`,
	}
	for i, body := range sales {
		ans, err := cashier.postSale(context.Background(), fmt.Sprint("sale-", i), []byte(body))
		if err != nil || ans.Status != http.StatusCreated {
			t.Fatalf("sale %d = %d %s, %v", i, ans.Status, ans.Body, err)
		}
		said = append(said, string(ans.Body))
	}
	for _, path := range []string{"/v1/status", "/v1/config", "/v1/documents?include=document", "/v1/audit?limit=1000", "/v1/incidents"} {
		ans, err := manager.do(context.Background(), http.MethodGet, path, nil, nil)
		if err != nil || ans.Status != http.StatusOK {
			t.Fatalf("GET %s = %d, %v", path, ans.Status, err)
		}
		said = append(said, string(ans.Body))
	}
	var st struct {
		Regime    string
		StampMode string `json:"stamp_mode"`
	}
	json.Unmarshal([]byte(said[3]), &st)
	if st.Regime != "zatca" || st.StampMode != "local" {
		t.Errorf("status regime %q, stamp mode %q", st.Regime, st.StampMode)
	}
	d.stop()

	out := filepath.Join(tmp, "export")
	res := runEgsd(t, env, "journal", "export", "--config", cfg, "--out", out)
	if res.Code != 0 || !strings.Contains(res.Stdout, "exported 3 documents") {
		t.Fatalf("journal export: %s", res)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.xml"))
	if len(files) != 3 {
		t.Fatalf("exported %d XML files", len(files))
	}
	verify := runEgsd(t, env, append([]string{"verify", "--chain"}, files...)...)
	if verify.Code != 0 || strings.Count(verify.Stdout, "OK ") != 4 || !strings.Contains(verify.Stdout, "OK chain ICV 1–3") {
		t.Fatalf("egsd verify --chain: %s", verify)
	}
	said = append(said, d.log.String(), res.String(), verify.String(), runEgsd(t, env, "audit", "verify", "--config", cfg).String())
	for _, f := range files {
		b, _ := os.ReadFile(f)
		said = append(said, string(b))
	}

	secrets := stampingtest.SecretForms(t, keyDER)
	all := strings.Join(said, "\n")
	if !strings.Contains(all, "399999999900003") || len(all) < 10000 {
		t.Fatalf("collected only %d bytes of output; the test would prove nothing", len(all))
	}
	for form, secret := range secrets {
		if strings.Contains(all, secret) {
			t.Errorf("the private key (%s) appears in the daemon's output", form)
		}
	}
}

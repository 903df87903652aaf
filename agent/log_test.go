package agent

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/egsd/egsd/device"
)

// TestLogsKeepSecrets runs logins (good and bad), a sale, user changes and a
// logout with debug logging on, and requires that no password, session
// token, owner token or password hash appears in the log.
func TestLogsKeepSecrets(t *testing.T) {
	var logBuf bytes.Buffer
	cfg := testConfig(t)
	a, err := New(cfg, Options{Time: device.NewFakeTime(t0), Logger: NewLogger(&logBuf, LogConfig{Level: "debug", Format: "json"}), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, ft: nil, a: a}
	t.Cleanup(h.close)
	owner := h.ownerToken()
	h.addUser("boss", RoleManager)
	manager := h.login("boss", testPassword)
	h.do(request{method: "POST", path: "/v1/sessions", body: []byte(`{"user":"boss","password":"not the password 1"}`)})
	newPassword := "a brand new secret 7"
	h.sendJSON("POST", "/v1/users", manager, map[string]string{"name": "ana", "role": "cashier", "password": newPassword})
	cashier := h.login("ana", newPassword)
	h.mustSale(cashier, "key-1", goodSale)
	h.do(request{method: "DELETE", path: "/v1/sessions", token: cashier})

	logs := logBuf.String()
	if !strings.Contains(logs, `"path":"/v1/sales"`) {
		t.Fatalf("debug log has no request lines; the test would prove nothing:\n%s", logs)
	}
	var users []map[string]any
	json.Unmarshal(h.get(manager, "/v1/users").Body.Bytes(), &struct{ Users *[]map[string]any }{&users})
	for name, secret := range map[string]string{
		"password": testPassword, "new password": newPassword, "wrong password": "not the password 1",
		"manager token": manager, "cashier token": cashier, "owner token": owner,
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
	if strings.Contains(logs, "$2a$") {
		t.Error("the log contains a bcrypt hash")
	}
}

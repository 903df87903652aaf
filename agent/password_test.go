package agent

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestPasswordPolicy: ten NULs were accepted as a password and then
// matched a single NUL (bcrypt repeats a NUL-terminated key), and other
// characters no one can see or type again were accepted too.
func TestPasswordPolicy(t *testing.T) {
	h := newHarness(t, nil)
	manager := h.user("boss", RoleManager)
	if h.cfg.Auth.MinPassword != 10 {
		t.Fatalf("min_password_length %d; the cases below assume the default 10", h.cfg.Auth.MinPassword)
	}
	refused := []struct{ name, pw, rule string }{
		{"ten NULs", strings.Repeat("\x00", 10), "U+0000, a control character"},
		{"NUL inside", "correct\x00horse battery", "character 8 is U+0000"},
		{"tab", "correct\thorse1", "control"},
		{"newline", "correct horse\n", "control"},
		{"carriage return", "correct horse\r", "control"},
		{"escape", "\x1b[31mcorrect horse", "control"},
		{"DEL", "correct horse\x7f", "U+007F, a control character"},
		{"C1 next line", "correct horse\u0085", "U+0085, a control character"},
		{"C1 CSI", "correct horse\u009b", "control"},
		{"zero-width space", "correct\u200bhorse1", "U+200B, an invisible format character"},
		{"zero-width joiner", "correct\u200dhorse1", "format"},
		{"right-to-left override", "correct\u202ehorse1", "format"},
		{"byte order mark", "\ufeffcorrect horse", "format"},
		{"soft hyphen", "correct\u00adhorse1", "format"},
		{"line separator", "correct\u2028horse1", "separator"},
		{"paragraph separator", "correct\u2029horse1", "separator"},
		{"private use", "correct\ue000horse1", "private-use"},
		{"unassigned", "correct\u0378horse1", "not an assigned character"},
		{"noncharacter", "correct\ufffehorse1", "not an assigned character"},
		{"replacement character", "correct\ufffdhorse1", "replacement character"},
		{"9 characters", "123456789", "at least 10 characters (got 9)"},
		{"73 bytes", strings.Repeat("p", 73), "at most 72 bytes"},
		{"25 euro signs: 25 characters, 75 bytes", strings.Repeat("€", 25), "at most 72 bytes in UTF-8, bcrypt's limit (got 75 bytes)"},
	}
	for i, tc := range refused {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			name := fmt.Sprintf("r%d", i)
			p := problemOf(t, h.sendJSON("POST", "/v1/users", manager, map[string]string{"name": name, "role": "cashier", "password": tc.pw}), http.StatusBadRequest)
			if !namesField(p, "password") || !strings.Contains(p.Detail, tc.rule) {
				t.Errorf("problem %q (fields %q), want the field password and %q", p.Detail, fields(p), tc.rule)
			}
			// The same rule when a password is changed.
			p = problemOf(t, h.sendJSON("PATCH", "/v1/users/boss", manager, map[string]any{"password": tc.pw}), http.StatusBadRequest)
			if !namesField(p, "password") {
				t.Errorf("PATCH: fields %q, want password", fields(p))
			}
		})
	}
	// Bytes that are not UTF-8 never reach the password rules: the
	// strict reader refuses the whole body.
	t.Run("refused/invalid UTF-8", func(t *testing.T) {
		body := []byte("{\"name\":\"bad-utf8\",\"role\":\"cashier\",\"password\":\"correct \xff\xfe horse\"}")
		p := problemOf(t, h.do(request{method: "POST", path: "/v1/users", token: manager, body: body}), http.StatusBadRequest)
		if !namesField(p, "body") {
			t.Errorf("fields %q, want body", fields(p))
		}
	})
	users, err := h.a.Auth().Users()
	if err != nil || len(users) != 1 {
		t.Fatalf("refused passwords created users: %+v, %v", users, err)
	}

	accepted := []struct{ name, pw string }{
		{"10 characters", "1234567890"},
		{"72 bytes", strings.Repeat("p", 72)},
		{"10 characters in 20 bytes", strings.Repeat("é", 10)},
		{"24 euro signs: 72 bytes", strings.Repeat("€", 24)},
		{"spaces", "correct horse battery"},
		{"no-break space", "correct\u00a0horse1"},
		{"combining mark", "cafe\u0301 au lait"},
		{"Arabic", "كلمة سر طويلة"},
		{"emoji", "🔑 key to the till"},
	}
	for i, tc := range accepted {
		t.Run("accepted/"+tc.name, func(t *testing.T) {
			name := fmt.Sprintf("a%d", i)
			if w := h.sendJSON("POST", "/v1/users", manager, map[string]string{"name": name, "role": "cashier", "password": tc.pw}); w.Code != http.StatusCreated {
				t.Fatalf("add with %q = %d %s, want 201", tc.pw, w.Code, w.Body)
			}
			h.login(name, tc.pw)
			// A password is the whole of what was typed: one byte more or
			// less is another password.
			if code := h.tryLogin(name, tc.pw[:len(tc.pw)-1]); code != http.StatusUnauthorized {
				t.Errorf("login with the password cut short = %d, want 401", code)
			}
		})
	}
}

// TestPasswordLengthAgrees: the API document said minLength 10 while the
// demo accepted 9 and said 8. The default, the demo, the example
// configuration and the document agree; the document's minLength is the
// least any configuration allows, and the message names the unit's own.
func TestPasswordLengthAgrees(t *testing.T) {
	def := DefaultConfig().Auth.MinPassword
	if demo := DemoConfig(t.TempDir()).Auth.MinPassword; demo != def {
		t.Errorf("the demo's min_password_length is %d, the default %d", demo, def)
	}
	example, err := os.ReadFile("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^min_password_length = (\d+)$`).FindSubmatch(example)
	if m == nil || string(m[1]) != strconv.Itoa(def) {
		t.Errorf("config.example.toml sets min_password_length %q, the default is %d", m, def)
	}
	spec, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m = regexp.MustCompile(`(?m)^    Password:\n      type: string\n      minLength: (\d+)\n`).FindSubmatch(spec)
	if m == nil || string(m[1]) != strconv.Itoa(MinPasswordFloor) {
		t.Errorf("docs/openapi.yaml's Password has minLength %q, want the least a configuration allows, %d", m, MinPasswordFloor)
	}
	if def != MinPasswordFloor {
		t.Errorf("the default min_password_length is %d, the least allowed %d: the document's minLength holds for the default only if they agree", def, MinPasswordFloor)
	}
	cfg := DefaultConfig()
	cfg.Auth.MinPassword = MinPasswordFloor - 1
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("at least %d", MinPasswordFloor)) {
		t.Errorf("min_password_length %d: %v, want a refusal naming %d", MinPasswordFloor-1, err, MinPasswordFloor)
	}

	h := newHarness(t, func(c *Config) { c.Auth.MinPassword = 12 })
	manager := h.user("boss", RoleManager)
	p := problemOf(t, h.sendJSON("POST", "/v1/users", manager, map[string]string{"name": "c", "role": "cashier", "password": "eleven char"}), http.StatusBadRequest)
	if !strings.Contains(p.Detail, "at least 12 characters (got 11)") {
		t.Errorf("detail %q, want the configured minimum", p.Detail)
	}
}

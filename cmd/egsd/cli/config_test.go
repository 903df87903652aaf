package cli

import (
	"strings"
	"testing"
)

// A technician reads the configuration the agent runs with; a cashier may not.
func TestConfigCommand(t *testing.T) {
	_, _, env := startAgent(t)
	if _, _, err := run(t, env, "technician-demo\n", "login", "--user", "technician"); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, env, "", "config")
	if err != nil || !strings.Contains(out, "data_dir = ") || !strings.Contains(out, "[regime]") || !strings.Contains(out, "name = 'test'") {
		t.Fatalf("config: %q, %v", out, err)
	}
	if _, _, err := run(t, env, "cashier-demo\n", "login", "--user", "cashier"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, env, "", "config"); err == nil || !strings.Contains(err.Error(), "role cashier may not") {
		t.Errorf("config as a cashier: %v", err)
	}
}

package packaging

import (
	"strings"
	"testing"
	"text/template"
)

// TestSystemdUnit renders the unit the way kardianos/service does (its
// template functions are stubbed with plain quoting) and checks the
// contract: restart within seconds on failure, a dedicated user, the data
// directory writable and private.
func TestSystemdUnit(t *testing.T) {
	funcs := template.FuncMap{
		"cmd":       func(s string) string { return `"` + s + `"` },
		"cmdEscape": func(s string) string { return strings.ReplaceAll(s, " ", `\x20`) },
	}
	tmpl, err := template.New("unit").Funcs(funcs).Parse(SystemdUnit)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	err = tmpl.Execute(&b, map[string]any{
		"Description": "egsd", "Path": "/usr/bin/egsd", "Arguments": []string{"run", "--config", "/etc/egsd/config.toml"},
		"UserName": ServiceUser, "Name": "egsd",
	})
	if err != nil {
		t.Fatal(err)
	}
	unit := b.String()
	for _, want := range []string{
		"\nRestart=on-failure\n", "\nRestartSec=2\n", "\nUser=egsd\n",
		`ExecStart=/usr/bin/egsd "run" "--config" "/etc/egsd/config.toml"`,
		"\nStateDirectory=egsd\n", "\nStateDirectoryMode=0700\n", "\nWantedBy=multi-user.target\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", strings.TrimSpace(want), unit)
		}
	}
}

package packaging

import (
	"strings"
	"testing"
)

// TestSystemdUnit renders the unit with kardianos/service's template
// functions and checks the
// contract: restart within seconds on failure, a dedicated user, the data
// directory writable and private.
func TestSystemdUnit(t *testing.T) {
	unit, err := RenderSystemdUnit(UnitData{
		Description: "egsd", Path: "/usr/bin/egsd", Arguments: []string{"run", "--config", "/etc/egsd/config.toml"},
		UserName: ServiceUser, Name: "egsd",
	})
	if err != nil {
		t.Fatal(err)
	}
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

package packaging

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
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

// TestWindowsRecoveryMatchesSystemd: Windows restarts egsd after the same
// delay as the systemd unit's RestartSec, and only on failure.
func TestWindowsRecoveryMatchesSystemd(t *testing.T) {
	m := regexp.MustCompile(`(?m)^RestartSec=(\d+)$`).FindStringSubmatch(SystemdUnit)
	if m == nil {
		t.Fatal("the systemd unit has no RestartSec")
	}
	delay, err := time.ParseDuration(fmt.Sprint(WindowsRecovery["OnFailureDelayDuration"]))
	if err != nil {
		t.Fatal(err)
	}
	if want := m[1] + "s"; delay.String() != want {
		t.Errorf("Windows restarts after %s, systemd after %s", delay, want)
	}
	if WindowsRecovery["OnFailure"] != "restart" {
		t.Errorf("Windows recovery action %v, want restart", WindowsRecovery["OnFailure"])
	}
	if n, ok := WindowsRecovery["OnFailureResetPeriod"].(int); !ok || n <= 0 {
		t.Errorf("reset period %v, want a positive number of seconds", WindowsRecovery["OnFailureResetPeriod"])
	}
}

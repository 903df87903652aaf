package cli

import (
	"errors"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// systemd's own words reach the user instead of "exit status 1".
func TestSystemdReason(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd is Linux's")
	}
	real := systemctl
	t.Cleanup(func() { systemctl = real })
	for _, tc := range []struct {
		name string
		out  string
		err  error
		want []string
	}{
		{"crash loop", "LoadState=loaded\nActiveState=activating\nSubState=auto-restart\nResult=exit-code\nExecMainStatus=1\nNRestarts=7\n", nil,
			[]string{"systemd: activating (auto-restart), result exit-code, exit status 1, restarted 7 times", "journalctl -u egsd"}},
		{"failed", "LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=start-limit-hit\nExecMainStatus=0\nNRestarts=0\n", nil,
			[]string{"systemd: failed, result start-limit-hit;", "journalctl -u egsd"}},
		{"running", "LoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nExecMainStatus=0\nNRestarts=0\n", nil,
			[]string{"systemd: active (running)"}},
		{"not installed", "LoadState=not-found\nActiveState=inactive\n", nil, []string{"no unit egsd", "sudo egsd service install"}},
		{"no systemd", "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n",
			errors.New("exit status 1"), []string{"systemctl: System has not been booted with systemd", "Host is down (exit status 1)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			systemctl = func(...string) (string, error) { return tc.out, tc.err }
			got := systemdReason()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("systemdReason() = %q, lacks %q", got, w)
				}
			}
			if tc.name == "running" && strings.Contains(got, "journalctl") {
				t.Errorf("a running unit sends the user to the journal: %q", got)
			}
		})
	}
	systemctl = func(...string) (string, error) { return "", &exec.Error{Name: "systemctl", Err: exec.ErrNotFound} }
	if got := systemdReason(); got != "" {
		t.Errorf("without systemctl: %q, want nothing", got)
	}
}

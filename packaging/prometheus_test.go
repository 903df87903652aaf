package packaging

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestPrometheusRules checks the alert rules shipped for Prometheus with
// promtool (Debian package prometheus): they load, and each alert fires,
// with its text, exactly on the series of its unit tests
// (prometheus/egsd-rules_test.yml) and not on the others.
func TestPrometheusRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not found: .ci/run installs the Debian package prometheus")
		}
		t.Skip("promtool not found: apt-get install prometheus")
	}
	for _, args := range [][]string{
		{"check", "rules", "egsd-rules.yml"},
		{"test", "rules", "egsd-rules_test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

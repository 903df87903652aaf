package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/cmd/egsd/internal/cmdtest"
)

// TestPrometheusScrapesOutbox runs a real Prometheus (Debian package
// prometheus) that scrapes a running ZATCA unit with the scrape token every
// 200 ms and evaluates the shipped alert rules. During a simulator outage
// its PromQL query for the outbox depth returns the documents waiting, and
// the outage alert fires; after the replay it returns 0.
func TestPrometheusScrapesOutbox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus")
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus not found: .ci/run installs the Debian package prometheus")
		}
		t.Skip("prometheus not found: apt-get install prometheus")
	}
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "metrics.token")
	if err := os.WriteFile(tokenFile, []byte("prometheus-scrape-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u := newZATCAUnit(t, func(c *agent.Config) { c.Metrics.TokenFile = tokenFile })
	prom := startPrometheus(t, bin, dir, strings.TrimPrefix(u.url, "http://"), tokenFile)

	prom.await(t, "Prometheus to scrape an empty outbox", `egsd_outbox_documents`, 0)

	const outage = 25
	u.sim.SetDown(true)
	u.issue(0, outage)
	waitFor(t, "an outage incident", 30*time.Second, func() bool {
		st, err := u.a.Status()
		return err == nil && st.State == agent.StateOffline
	})
	if got := u.pending(); got != outage {
		t.Fatalf("the unit has %d documents pending during the outage, want %d", got, outage)
	}
	prom.await(t, "the outbox depth during the outage", `egsd_outbox_documents`, outage)
	prom.await(t, "the outage alert to fire", `count(ALERTS{alertname="EgsdAuthorityUnreachable",alertstate="firing"})`, 1)
	prom.checkRulesHealthy(t)

	u.sim.SetDown(false)
	if _, err := u.a.Replay("boss"); err != nil {
		t.Fatal(err)
	}
	u.drained(60 * time.Second)
	prom.await(t, "the outbox depth after the replay", `egsd_outbox_documents`, 0)
	prom.await(t, "the issued documents", `sum(egsd_documents_issued_total)`, outage)
	prom.await(t, "the accepted answers", `sum(egsd_documents_answered_total{status=~"accepted.*"})`, outage)
	prom.stop(t)
}

// prometheus is a running Prometheus server.
type prometheus struct {
	url    string
	cmd    *exec.Cmd
	log    *cmdtest.Buffer
	exited chan struct{}
}

// startPrometheus starts Prometheus on a free loopback port with a
// configuration that scrapes target with the token in tokenFile and loads
// the shipped alert rules, and waits until it is ready.
func startPrometheus(t *testing.T, bin, dir, target, tokenFile string) *prometheus {
	t.Helper()
	rules, err := filepath.Abs("../../packaging/prometheus/egsd-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 200ms
  scrape_timeout: 200ms
  evaluation_interval: 200ms
rule_files: [%q]
scrape_configs:
  - job_name: egsd
    authorization:
      credentials_file: %q
    static_configs:
      - targets: [%q]
`, rules, tokenFile, target)
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := cmdtest.FreeAddr(t)
	p := &prometheus{url: "http://" + addr, log: new(cmdtest.Buffer), exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "--config.file="+configFile, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr, "--log.level=warn")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.log.String())
		}
	})
	waitFor(t, "Prometheus to be ready", startDeadline, func() bool {
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// query runs an instant PromQL query whose answer is one number; ok is
// false while it has no answer (nothing scraped yet).
func (p *prometheus) query(t *testing.T, q string) (v float64, ok bool) {
	t.Helper()
	var ans struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	p.get(t, "/api/v1/query?query="+url.QueryEscape(q), &ans)
	if ans.Status != "success" {
		t.Fatalf("query %s: status %q", q, ans.Status)
	}
	switch len(ans.Data.Result) {
	case 0:
		return 0, false
	case 1:
	default:
		t.Fatalf("query %s: %d series, want one", q, len(ans.Data.Result))
	}
	s, _ := ans.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("query %s: value %v: %v", q, ans.Data.Result[0].Value, err)
	}
	return v, true
}

func (p *prometheus) get(t *testing.T, path string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestDeadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s (%v)", path, resp.StatusCode, body, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// await polls query q until it answers want. The last answer and the
// target's scrape health are in the failure.
func (p *prometheus) await(t *testing.T, what, q string, want float64) {
	t.Helper()
	var last string
	end := time.Now().Add(30 * time.Second)
	for {
		v, ok := p.query(t, q)
		if ok && v == want {
			return
		}
		last = fmt.Sprintf("%v (answered: %v)", v, ok)
		if time.Now().After(end) {
			var targets any
			p.get(t, "/api/v1/targets", &targets)
			t.Fatalf("waiting for %s: %s = %s, want %v; targets: %v", what, q, last, want, targets)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkRulesHealthy: every shipped rule evaluates against a real egsd
// without an error.
func (p *prometheus) checkRulesHealthy(t *testing.T) {
	t.Helper()
	var ans struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name, Health, LastError string
				}
			}
		}
	}
	p.get(t, "/api/v1/rules", &ans)
	n := 0
	for _, g := range ans.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health != "ok" {
				t.Errorf("rule %s: health %q: %s", r.Name, r.Health, r.LastError)
			}
		}
	}
	if n == 0 {
		t.Error("Prometheus loaded no rules from egsd-rules.yml")
	}
}

// stop sends SIGTERM and waits for Prometheus to exit.
func (p *prometheus) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopDeadline):
		t.Errorf("prometheus did not exit within %v of SIGTERM", stopDeadline)
	}
}

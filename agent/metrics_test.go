package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/device"
)

const testScrapeToken = "0123456789abcdefghijklmnopqrstuvwxyzABCD"

// withScrapeToken writes token to a 0600 file in the test's temporary
// directory and names it as metrics.token_file.
func withScrapeToken(t *testing.T, token string, mode os.FileMode) func(*Config) {
	path := filepath.Join(t.TempDir(), "metrics.token")
	if err := os.WriteFile(path, []byte(token+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return func(c *Config) { c.Metrics.TokenFile = path }
}

// scrape reads GET /metrics with token and returns the samples by series
// ("name{label="value",…}" as the exposition writes it).
func (h *harness) scrape(token string) map[string]float64 {
	h.t.Helper()
	w := h.do(request{method: "GET", path: "/metrics", token: token})
	if w.Code != http.StatusOK {
		h.t.Fatalf("GET /metrics = %d %s", w.Code, w.Body)
	}
	return parseSamples(h.t, w.Body)
}

func parseSamples(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	samples := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

func wantSample(t *testing.T, samples map[string]float64, series string, want float64) {
	t.Helper()
	got, ok := samples[series]
	switch {
	case !ok:
		t.Errorf("no sample %s", series)
	case got != want:
		t.Errorf("%s = %v, want %v", series, got, want)
	}
}

// TestMetricsNeedTheScrapeToken: over TCP, /metrics answers only the
// configured token: not no token, not another one, not a user's session,
// not the owner token.
func TestMetricsNeedTheScrapeToken(t *testing.T) {
	h := newHarness(t, withScrapeToken(t, testScrapeToken, 0o600))
	manager := h.user("boss", RoleManager)
	for name, token := range map[string]string{
		"no token": "", "another token": testScrapeToken + "x", "a prefix of it": testScrapeToken[:MinMetricsToken],
		"a manager's session": manager, "the owner token": h.ownerToken(),
	} {
		w := h.do(request{method: "GET", path: "/metrics", token: token})
		if w.Code != http.StatusUnauthorized || strings.Contains(w.Body.String(), "egsd_") {
			t.Errorf("%s: GET /metrics = %d %s, want 401 without metrics", name, w.Code, w.Body)
		}
	}
	samples := h.scrape(testScrapeToken)
	wantSample(t, samples, "egsd_outbox_documents", 0)
	w := h.do(request{method: "GET", path: "/metrics?format=json", token: testScrapeToken})
	if p := problemOf(t, w, http.StatusBadRequest); !namesField(p, "format") {
		t.Errorf("GET /metrics?format=json: %+v, want the parameter named", p)
	}
}

// TestMetricsWithoutTokenOverTCP: with no token configured, a TCP scrape
// is refused, saying how to configure one.
func TestMetricsWithoutTokenOverTCP(t *testing.T) {
	h := newHarness(t, nil)
	p := problemOf(t, h.do(request{method: "GET", path: "/metrics"}), http.StatusForbidden)
	if !strings.Contains(p.Detail, "metrics.token_file") {
		t.Errorf("detail %q does not name metrics.token_file", p.Detail)
	}
}

// TestMetricsTokenFileChecked: a token file others may read, a short token
// or a missing file stops the agent from starting, naming the key.
func TestMetricsTokenFileChecked(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"readable by all": withScrapeToken(t, testScrapeToken, 0o644),
		"short":           withScrapeToken(t, "short-token", 0o600),
		"two words":       withScrapeToken(t, testScrapeToken+" "+testScrapeToken, 0o600),
		"missing":         func(c *Config) { c.Metrics.TokenFile = filepath.Join(t.TempDir(), "none") },
	} {
		cfg := testConfig(t)
		mod(&cfg)
		a, err := New(cfg, Options{Time: device.NewFakeTime(t0), Logger: zerolog.Nop()})
		if err == nil {
			a.Close()
			t.Errorf("%s: New accepted the token file", name)
			continue
		}
		if !strings.Contains(err.Error(), "metrics.token_file") {
			t.Errorf("%s: %v does not name metrics.token_file", name, err)
		}
	}
}

// TestMetricsOverUnixSocket: over api.unix_socket a scrape needs no
// token, while TCP on the same agent still does.
func TestMetricsOverUnixSocket(t *testing.T) {
	cfg := socketConfig(t)
	a, err := New(cfg, Options{Time: device.NewFakeTime(t0), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, func(addr string) { ready <- addr }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		a.Close()
	})
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	get := func(c *http.Client, u string) (int, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	unix := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", cfg.API.UnixSocket)
	}}}
	if code, body := get(unix, "http://egsd/metrics"); code != http.StatusOK || !strings.Contains(body, "\negsd_outbox_documents 0\n") {
		t.Errorf("GET /metrics over the unix socket = %d, want 200 with egsd_outbox_documents 0:\n%s", code, body)
	}
	if code, body := get(http.DefaultClient, url+"/metrics"); code != http.StatusForbidden {
		t.Errorf("GET /metrics over TCP without a token = %d %s, want 403", code, body)
	}
}

// TestMetricsReadTheUnit: the metrics follow what the unit does: sales
// issued by kind, the outbox and its oldest document against the
// reporting deadline on the agent's clock, open incidents, the store
// file.
func TestMetricsReadTheUnit(t *testing.T) {
	h := newHarness(t, withScrapeToken(t, testScrapeToken, 0o600))
	cashier := h.user("c1", RoleCashier)
	before := h.scrape(testScrapeToken)
	wantSample(t, before, `egsd_unit_state{state="ready"}`, 1)
	wantSample(t, before, `egsd_outbox_oldest_age_seconds`, 0)
	wantSample(t, before, `egsd_outbox_deadline_remaining_seconds`, defaultReportingDeadline.Seconds())
	wantSample(t, before, `egsd_incidents_open{kind="disk_space"}`, 0)

	first := h.mustSale(cashier, "m-1", goodSale)
	h.ft.Advance(2 * time.Hour)
	h.mustSale(cashier, "m-2", goodSale)
	h.mustSale(cashier, "m-3", goodSale)
	h.ft.Advance(30 * time.Minute)

	s := h.scrape(testScrapeToken)
	st := h.status(cashier)
	wantSample(t, s, `egsd_documents_issued_total{kind="invoice",regime="test"}`, 3)
	wantSample(t, s, `egsd_outbox_documents`, float64(st.Outbox.Pending))
	if st.Outbox.Pending != 3 {
		t.Errorf("status outbox pending = %d, want the 3 sales (submission is off)", st.Outbox.Pending)
	}
	wantSample(t, s, `egsd_journal_documents`, float64(first.Counter+2))
	age := h.ft.Wall().Sub(first.IssuedAt)
	if age != 150*time.Minute {
		t.Fatalf("the first sale is %v old, want 2h30m", age)
	}
	wantSample(t, s, `egsd_outbox_oldest_age_seconds`, age.Seconds())
	wantSample(t, s, `egsd_outbox_reporting_deadline_seconds`, defaultReportingDeadline.Seconds())
	wantSample(t, s, `egsd_outbox_deadline_remaining_seconds`, (defaultReportingDeadline - age).Seconds())
	wantSample(t, s, `egsd_issuing`, 1)
	wantSample(t, s, `egsd_build_info{regime="test",version="test"}`, 1)
	fi, err := os.Stat(h.a.Store().Path())
	if err != nil {
		t.Fatal(err)
	}
	wantSample(t, s, `egsd_store_file_bytes`, float64(fi.Size()))
	if _, ok := s[`egsd_certificate_expiry_timestamp_seconds`]; ok {
		t.Error("a certificate expiry for a regime without a certificate")
	}

	// A day later the oldest is past its deadline: the remaining time is
	// negative.
	h.ft.Advance(24 * time.Hour)
	s = h.scrape(testScrapeToken)
	wantSample(t, s, `egsd_outbox_deadline_remaining_seconds`, (defaultReportingDeadline - age - 24*time.Hour).Seconds())
}

// BenchmarkScrape is one GET /metrics on a journal of 100 and of 20,000
// documents, all still in the outbox: the cost must not grow with the
// journal (the collector reads counts the store keeps).
func BenchmarkScrape(b *testing.B) {
	for _, docs := range []int{100, 20000} {
		b.Run(fmt.Sprintf("documents=%d", docs), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "metrics.token")
			if err := os.WriteFile(path, []byte(testScrapeToken), 0o600); err != nil {
				b.Fatal(err)
			}
			cfg := DemoConfig(b.TempDir())
			cfg.Auth.BcryptCost = 4
			cfg.Metrics.TokenFile = path
			a, err := New(cfg, Options{Logger: zerolog.Nop(), Time: device.NewFakeTime(t0), UnsafeNoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { a.Close() })
			for i := range docs {
				if _, _, err := a.Issue(context.Background(), "cashier", fmt.Sprint("k", i), []byte(goodSale)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r := httptest.NewRequest("GET", "/metrics", nil)
				r.Header.Set("Authorization", "Bearer "+testScrapeToken)
				w := httptest.NewRecorder()
				a.Handler().ServeHTTP(w, r)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), fmt.Sprintf("\negsd_outbox_documents %d\n", docs)) {
					b.Fatalf("GET /metrics = %d, without egsd_outbox_documents %d", w.Code, docs)
				}
			}
		})
	}
}

package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSimZATCA starts `egsd sim zatca` on a free loopback port, asks the
// developer-portal API for a CSID with a bad CSR, and stops it.
func TestSimZATCA(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"sim", "zatca", "--listen", "127.0.0.1:0"}, IO{Stdin: strings.NewReader(""), Stdout: pw, Stderr: io.Discard, Getenv: func(string) string { return "" }})
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var base string
	for sc.Scan() {
		if m := regexp.MustCompile(`^developer-portal\s+(http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if base == "" {
		t.Fatal("the banner names no developer-portal URL")
	}
	req, _ := http.NewRequest("POST", base+"/compliance", strings.NewReader(`{"csr":"bad"}`))
	req.Header.Set("Accept-Version", "V2")
	req.Header.Set("OTP", "123345")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Invalid-CSR") {
		t.Fatalf("POST /compliance with a bad CSR = %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sim stopped with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop")
	}
	if _, _, err := run(t, nil, "", "sim", "kra"); err == nil || ExitCode(err) != 2 {
		t.Errorf("sim kra: %v, want a usage error", err)
	}
}

// startSim runs `egsd sim` with args until the test ends and returns the
// banner's lines up to the one matching last.
func startSim(t *testing.T, last *regexp.Regexp, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, append([]string{"sim"}, args...), IO{Stdin: strings.NewReader(""), Stdout: pw, Stderr: io.Discard, Getenv: func(string) string { return "" }})
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sim stopped with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("sim did not stop")
		}
	})
	sc := bufio.NewScanner(pr)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if last.MatchString(sc.Text()) {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	return lines
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// `egsd sim etims --profile vscu` serves the VSCU routes only, with the
// faults of its flags; the banner names the base URL to configure.
func TestSimETIMS(t *testing.T) {
	lines := startSim(t, regexp.MustCompile(`^vscu\s+paths.lookup`), "etims", "--listen", "127.0.0.1:0", "--profile", "vscu", "--result", "1=999")
	var base string
	for _, l := range lines {
		if m := regexp.MustCompile(`^vscu\s+base_url\s+(http://\S+)$`).FindStringSubmatch(l); m != nil {
			base = m[1]
		}
		if strings.HasPrefix(l, "oscu") {
			t.Errorf("banner names OSCU for a VSCU simulator: %q", l)
		}
	}
	if base == "" {
		t.Fatalf("banner %q names no VSCU base URL", lines)
	}
	code, body := post(t, base+"/initializer/selectInitInfo", `{"tin":"P000000001A","bhfId":"00","dvcSrlNo":"EGSD-1"}`)
	if code != http.StatusOK || !strings.Contains(body, `"resultCd":"000"`) || !strings.Contains(body, `"sdcId"`) {
		t.Fatalf("VSCU init: %d %s", code, body)
	}
	if code, body := post(t, base+"/etims-api/selectInitOsdcInfo", `{"tin":"P000000001A","bhfId":"00","dvcSrlNo":"EGSD-2"}`); code != http.StatusNotFound {
		t.Errorf("an OSCU route on a VSCU simulator: %d %s", code, body)
	}
	resp, err := http.Get(base + "/admin/faults")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"results":{"1":"999"}`) {
		t.Errorf("the --result flag is not in force: %s", b)
	}
	for _, bad := range [][]string{{"--profile", "kra"}, {"--result", "0=999"}, {"--fail-percent", "200"}} {
		if _, _, err := run(t, nil, "", append([]string{"sim", "etims", "--listen", "127.0.0.1:0"}, bad...)...); err == nil || ExitCode(err) != 2 {
			t.Errorf("sim etims %q: %v, want a usage error", bad, err)
		}
	}
}

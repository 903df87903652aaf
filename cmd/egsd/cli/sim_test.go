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
	if _, _, err := run(t, nil, "", "sim", "etims"); err == nil || ExitCode(err) != 2 {
		t.Errorf("sim etims: %v, want a usage error", err)
	}
}

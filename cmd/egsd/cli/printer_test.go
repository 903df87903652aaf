package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/device/escpos"
	"github.com/egsd/egsd/device/fakeprinter"
)

func TestPrinterProfilesAndUsage(t *testing.T) {
	out, _, err := run(t, nil, "", "printer", "profiles")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range escpos.Profiles() {
		if !strings.Contains(out, p.Name) {
			t.Errorf("profiles lacks %s:\n%s", p.Name, out)
		}
	}
	for _, args := range [][]string{{"printer"}, {"printer", "jam"}, {"printer", "test", "--port", "/dev/x", "--profile", "nope"}} {
		if _, _, err := run(t, nil, "", args...); ExitCode(err) != 2 {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
	if _, _, err := run(t, nil, "", "printer", "ports"); err != nil {
		t.Errorf("printer ports: %v", err)
	}
}

// TestPrinterDirect: a technician checks a printer and prints the test page
// on a port before egsd runs.
func TestPrinterDirect(t *testing.T) {
	p, err := fakeprinter.Start(fakeprinter.Options{WidthDots: 384})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out, _, err := run(t, nil, "", "printer", "status", "--port", p.Path())
	if err != nil || !strings.Contains(out, "online") {
		t.Fatalf("status = %q, %v", out, err)
	}
	out, _, err = run(t, nil, "", "printer", "test", "--port", p.Path(), "--profile", "generic-58mm")
	if err != nil || !strings.Contains(out, "test page printed and confirmed") {
		t.Fatalf("test = %q, %v", out, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rs, err := p.WaitReceipts(ctx, 1)
	if err != nil || !strings.Contains(rs[0].Text, "generic-58mm") || len(rs[0].QR) != 1 {
		t.Fatalf("printed: %v\n%v", err, rs)
	}

	p.SetPaperOut(true)
	out, _, err = run(t, nil, "", "printer", "status", "--port", p.Path())
	if !strings.Contains(out, "paper_out") {
		t.Errorf("status with paper out = %q, %v", out, err)
	}
	if _, _, err := run(t, nil, "", "printer", "test", "--port", p.Path()); err == nil || !strings.Contains(err.Error(), "paper") {
		t.Errorf("test page with paper out: err = %v", err)
	}
}

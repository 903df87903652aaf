package cli

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/cmd/egsd/internal/cmdtest"
	zatcasim "github.com/egsd/egsd/sim/zatca"
)

// With ZATCA down, `egsd replay` does not sit on a bare 0/2: its progress
// says since when delivery fails, with what error, and when the next
// attempt is. Once ZATCA is back the replay finishes.
func TestReplayDuringOutage(t *testing.T) {
	z := startZATCAAgent(t, zatcasim.Config{})
	z.onboarded(t)
	z.sim.SetDown(true)
	for _, key := range []string{"k-1", "k-2"} {
		if _, _, err := run(t, z.env, simplifiedSale, "sale", "--key", key, "-"); err != nil {
			t.Fatal(err)
		}
	}
	z.waitStatus(t, "a failed delivery", func(st agent.Status) bool { return st.Submission.LastError != "" })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr cmdtest.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"replay", "--interval", "20ms"}, IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
			Getenv: func(k string) string { return z.env[k] }})
	}()
	progress := regexp.MustCompile(`\] 0/2 .*ETA --  failing since \d\d:\d\d:\d\d: \S.*; next attempt (now|in \d+s)`)
	deadline := time.After(20 * time.Second)
	for !progress.MatchString(stderr.String()) {
		select {
		case err := <-done:
			t.Fatalf("replay ended early: %v\nstdout %q\nstderr %q", err, stdout.String(), stderr.String())
		case <-deadline:
			t.Fatalf("the progress never said why it does not move:\n%q", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("replay after Ctrl-C: %v", err)
	}
	if !strings.Contains(stdout.String(), "replaying 2 pending documents") {
		t.Errorf("stdout %q", stdout.String())
	}

	// Once ZATCA is back, the submitter's own retries may deliver a
	// document before the second replay looks at the outbox: the replay
	// counts what was pending when it started, and everything ends up
	// delivered.
	z.sim.SetDown(false)
	out, _, err := run(t, z.env, "", "replay", "--interval", "20ms")
	m := regexp.MustCompile(`replaying (\d) pending documents?\n(?s:.*)replay finished: (\d) accepted, 0 accepted with warnings, 0 rejected`).FindStringSubmatch(out)
	if err != nil || m == nil || m[1] != m[2] {
		t.Fatalf("replay once ZATCA is back: %q, %v", out, err)
	}
	z.waitStatus(t, "every document delivered", func(st agent.Status) bool { return st.Outbox.Pending == 0 })
}

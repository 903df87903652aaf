package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/egsd/egsd/agent"
)

type replayAnswer struct {
	Replay  agent.ReplayProgress `json:"replay"`
	Pending int                  `json:"pending"`
}

func runReplay(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "replay", "replay [--no-wait]")
	noWait := fs.Bool("no-wait", false, "start the replay and return without following it")
	every := fs.Duration("interval", 500*time.Millisecond, "how often to refresh the progress")
	af := addAPIFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := af.client(io, true)
	if err != nil {
		return err
	}
	var started agent.ReplayProgress
	if _, err := c.do(ctx, http.MethodPost, "/v1/replay", nil, nil, &started); err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "replaying %s\n", plural(started.Total, "pending document", "pending documents"))
	if *noWait || started.Total == 0 {
		return nil
	}
	// Ctrl-C stops following the replay, not the replay: it goes on in
	// the agent.
	following, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	width := 0 // of the last progress line, which the next one overwrites
	for {
		var ans replayAnswer
		if err := c.get(ctx, "/v1/replay", &ans); err != nil {
			return err
		}
		line := progressLine(ans.Replay, time.Since(started.Started.Local()), time.Now())
		fmt.Fprintf(io.Stderr, "\r%-*s", width, line)
		width = len(line)
		if !ans.Replay.Finished.IsZero() {
			fmt.Fprintln(io.Stderr)
			printReplaySummary(io, ans.Replay)
			return nil
		}
		select {
		case <-following.Done():
			fmt.Fprintln(io.Stderr)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintln(io.Stdout, "stopped following the replay; the agent goes on with it (egsd status shows the outbox)")
			return nil
		case <-time.After(*every):
		}
	}
}

// progressLine renders "[#####-----] 120/500  24.0/s  ETA 16s", followed,
// while the authority keeps failing, by the last error and when the next
// attempt is made (now is the time to count from), or by why submission
// is paused.
func progressLine(p agent.ReplayProgress, elapsed time.Duration, now time.Time) string {
	const width = 30
	filled := 0
	if p.Total > 0 {
		filled = min(width, p.Done*width/p.Total)
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(p.Done) / s
	}
	eta := "--"
	if rate > 0 && p.Done < p.Total {
		eta = time.Duration(float64(p.Total-p.Done) / rate * float64(time.Second)).Round(time.Second).String()
	} else if p.Done >= p.Total {
		eta = "0s"
	}
	line := fmt.Sprintf("[%s%s] %d/%d  %.1f/s  ETA %s", strings.Repeat("#", filled), strings.Repeat("-", width-filled), p.Done, p.Total, rate, eta)
	switch {
	case p.Paused != "":
		line += "  PAUSED: " + p.Paused
	case p.LastError != "":
		next := "now"
		if d := p.NextAttempt.Sub(now); d >= time.Second {
			next = "in " + d.Round(time.Second).String()
		}
		line += fmt.Sprintf("  failing since %s: %s; next attempt %s", p.FailingSince.Local().Format("15:04:05"), p.LastError, next)
	}
	return line + " "
}

func printReplaySummary(io IO, p agent.ReplayProgress) {
	fmt.Fprintf(io.Stdout, "replay finished: %d accepted, %d accepted with warnings, %d rejected\n", p.Accepted, p.Warnings, p.Rejected)
	for _, r := range p.Rejections {
		fmt.Fprintf(io.Stdout, "  rejected document %d: %s\n", r.Counter, strings.Join(r.Messages, "; "))
	}
}

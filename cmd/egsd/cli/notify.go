package cli

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/cmd/egsd/internal/sdnotify"
)

// serveNotifying serves the agent and keeps systemd informed: READY=1 once
// it accepts requests (after ready, if not nil), WATCHDOG=1 at half the
// unit's WatchdogSec for as long as the agent's store answers a read, and
// STOPPING=1 when it shuts down. Outside systemd it is a.Serve.
func serveNotifying(ctx context.Context, a *agent.Agent, log zerolog.Logger, ready func(url string)) error {
	interval, watched, err := sdnotify.WatchdogInterval()
	if err != nil {
		log.Error().Err(err).Msg("systemd watchdog")
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watching sync.WaitGroup
	// The watchdog reads the store: it ends before the caller closes it.
	defer watching.Wait()
	defer stopWatch()
	err = a.Serve(ctx, func(url string) {
		if ready != nil {
			ready(url)
		}
		if _, err := sdnotify.Notify(sdnotify.Ready); err != nil {
			log.Error().Err(err).Msg("tell systemd the agent is ready")
		}
		if watched {
			watching.Go(func() { watchdog(watchCtx, a, log, interval/2) })
		}
	})
	stopWatch()
	if _, nerr := sdnotify.Notify(sdnotify.Stopping); nerr != nil {
		log.Error().Err(nerr).Msg("tell systemd the agent is stopping")
	}
	return err
}

// watchdog pings systemd every interval while the agent is alive: a store
// that no longer answers a read (a wedged disk, a deadlock) stops the
// pings, and systemd restarts the agent after WatchdogSec.
func watchdog(ctx context.Context, a *agent.Agent, log zerolog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := a.Alive(); err != nil {
			log.Error().Err(err).Msg("liveness check failed: not pinging the systemd watchdog")
		} else if _, err := sdnotify.Notify(sdnotify.Watchdog); err != nil {
			log.Error().Err(err).Msg("ping the systemd watchdog")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

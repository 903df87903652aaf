package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kardianos/service"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
)

// Demo users and their passwords. They exist only in demo mode, whose
// data directory is a throwaway one.
var demoUsers = []struct{ name, role, password string }{
	{"cashier", "cashier", "cashier-demo"},
	{"manager", "manager", "manager-demo"},
	{"technician", "technician", "technician-demo"},
}

func runRun(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "run", "run [--config FILE] | run --demo [--data DIR]")
	cfgFlag := fs.String("config", "", "configuration file (default $EGSD_CONFIG or "+defaultConfigPath+")")
	demo := fs.Bool("demo", false, "run on built-in demo settings: test regime, demo seller, demo users (never on a real till)")
	data := fs.String("data", "demo-data", "data directory in demo mode")
	listen := fs.String("listen", "", "override api.listen (host:port)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var cfg agent.Config
	if *demo {
		if *cfgFlag != "" {
			return usagef("--demo uses built-in settings; drop --config, or drop --demo to use the file")
		}
		cfg = agent.DemoConfig(*data)
	} else {
		var err error
		if cfg, err = agent.LoadConfig(configPath(io, *cfgFlag)); err != nil {
			return err
		}
	}
	if *listen != "" {
		cfg.API.Listen = *listen
	}
	log := agent.NewLogger(io.Stderr, cfg.Log)
	if !service.Interactive() {
		// Started by systemd, the Windows service manager or launchd.
		return runAsService(cfg, io)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := agent.New(cfg, agent.Options{Logger: log, Version: Version})
	if err != nil {
		return err
	}
	defer a.Close()
	ready := func(string) {}
	if *demo {
		if err := ensureDemoUsers(a); err != nil {
			return err
		}
		ready = func(url string) { printDemoBanner(io, cfg.DataDir, url) }
	}
	return a.Serve(ctx, ready)
}

func ensureDemoUsers(a *agent.Agent) error {
	for _, u := range demoUsers {
		_, err := a.Auth().AddUser("demo", u.name, u.role, u.password)
		if err != nil && !errors.Is(err, queue.ErrExists) {
			return fmt.Errorf("create demo user %s: %w", u.name, err)
		}
	}
	return nil
}

func printDemoBanner(io IO, dataDir, url string) {
	fmt.Fprintf(io.Stdout, `
egsd is running in DEMO mode (test regime: its documents have no legal value)
  data directory  %s
  API             %s
  users           cashier / cashier-demo
                  manager / manager-demo
                  technician / technician-demo

Issue a sale from another terminal:
  ./bin/egsd login --user cashier --password cashier-demo
  ./bin/egsd sale examples/sale.json

Stop with Ctrl-C.
`, dataDir, url)
}

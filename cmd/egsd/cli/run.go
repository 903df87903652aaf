package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/kardianos/service"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
	zatcasim "github.com/egsd/egsd/sim/zatca"
)

// Demo users and their passwords. They exist only in demo mode, whose
// data directory is a throwaway one.
var demoUsers = []struct{ name, role, password string }{
	{"cashier", "cashier", "cashier-demo"},
	{"manager", "manager", "manager-demo"},
	{"technician", "technician", "technician-demo"},
}

func runRun(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "run", "run [--config FILE] | run --demo [--data DIR] [--demo-regime zatca|etims|kz|test] [--demo-printer=false]")
	cfgFlag := fs.String("config", "", "configuration file (default $EGSD_CONFIG or "+defaultConfigPath+")")
	demo := fs.Bool("demo", false, "run on built-in demo settings: the ZATCA simulator, a virtual printer, a demo seller and demo users (never on a real till)")
	data := fs.String("data", "demo-data", "data directory in demo mode")
	demoRegime := fs.String("demo-regime", "zatca", "demo mode: zatca (an in-process ZATCA simulator, onboarded at start), etims (an in-process KRA eTIMS simulator, the unit initialised at start), kz (an in-process Kazakh OFD simulator on loopback) or test (the test regime, no authority)")
	demoPrinter := fs.Bool("demo-printer", true, "demo mode: print to a virtual printer that writes each receipt as PNG and text into DIR/receipts")
	listen := fs.String("listen", "", "override api.listen (host:port)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var cfg agent.Config
	var unit *demoUnit
	path := "" // the configuration file; none in demo mode
	if *demo {
		if *cfgFlag != "" {
			return usagef("--demo uses built-in settings; drop --config, or drop --demo to use the file")
		}
		cfg = agent.DemoConfig(*data)
		var err error
		if unit, err = startDemoUnit(&cfg, *demoRegime, *demoPrinter, agent.NewLogger(io.Stderr, cfg.Log)); err != nil {
			return err
		}
		defer unit.Close()
	} else {
		var err error
		path = configPath(io, *cfgFlag)
		if cfg, err = agent.LoadConfig(path); err != nil {
			return err
		}
	}
	if *listen != "" {
		cfg.API.Listen = *listen
	}
	log := agent.NewLogger(io.Stderr, cfg.Log)
	if !service.Interactive() {
		// Started by systemd, the Windows service manager or launchd.
		return runAsService(cfg, path, io)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := agent.New(cfg, agent.Options{Logger: log, Version: Version})
	if err != nil {
		return agent.LocateOptionErrors(path, err)
	}
	defer a.Close()
	ready := func(string) {}
	if *demo {
		if err := ensureDemoUsers(a); err != nil {
			return err
		}
		ready = func(url string) {
			printDemoBanner(io, cfg.DataDir, url, unit)
			if unit.sim != nil || unit.kra != nil {
				go func() {
					octx, cancel := context.WithTimeout(ctx, 2*time.Minute)
					defer cancel()
					if err := unit.onboard(octx, url); err != nil {
						log.Error().Err(err).Msg("demo: onboarding with the simulator failed (a demo directory from an earlier run was onboarded with another simulator: remove it)")
						return
					}
					if unit.kra != nil {
						log.Info().Msg("demo: the unit is initialised with the KRA simulator; sales are signed by its control unit")
						return
					}
					log.Info().Msg("demo: the unit is onboarded with the ZATCA simulator; sales are stamped and reported")
				}()
			}
		}
	}
	return serveNotifying(ctx, a, log, ready)
}

func ensureDemoUsers(a *agent.Agent) error {
	for _, u := range demoUsers {
		_, err := a.Auth().AddUser(queue.SystemActor, u.name, u.role, u.password)
		if err != nil && !errors.Is(err, queue.ErrExists) {
			return fmt.Errorf("create demo user %s: %w", u.name, err)
		}
	}
	return nil
}

// printDemoBanner says what the demo runs and how to use it. Its commands
// work as printed wherever the API listens: the login names the address,
// and later commands find it in the saved session.
func printDemoBanner(io IO, dataDir, url string, unit *demoUnit) {
	authority := "none (test regime: its documents have no legal value)"
	if unit.sim != nil {
		authority = "ZATCA simulator at " + unit.simURL + " (onboarding now, OTP " + zatcasim.DeveloperPortalOTP + ")"
	}
	example := "examples/sale.json"
	if unit.kra != nil {
		authority = "KRA eTIMS simulator (OSCU) at " + unit.simURL + " (the unit is initialised now; seller KRA PIN " + DemoKRAPIN + ")"
		example = "examples/sale-etims.json"
	}
	if unit.ofd != nil {
		authority = "Kazakh OFD simulator at " + unit.simURL + " (KKM id " + strconv.Itoa(DemoKKMID) + ", seller BIN " + DemoBIN + "; egsd shift x / egsd shift close as manager)"
		example = "examples/sale-kz.json"
	}
	printer := "none"
	if unit.printer != nil {
		printer = "virtual, receipts as PNG and text in " + unit.receipts
	}
	fmt.Fprintf(io.Stdout, `
egsd is running in DEMO mode: documents have no legal value
  data directory  %s
  API             %s
  authority       %s
  printer         %s
  users           cashier / cashier-demo
                  manager / manager-demo
                  technician / technician-demo

Issue a sale from another terminal (later commands find the agent through
the session that login saves):
  ./bin/egsd login --api %s --user cashier --password cashier-demo
  ./bin/egsd sale %s
  ./bin/egsd status

Stop with Ctrl-C.
`, dataDir, url, authority, printer, url, example)
}

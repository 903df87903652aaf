package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	etimssim "github.com/egsd/egsd/sim/etims"
	ofdsim "github.com/egsd/egsd/sim/ofd"
	zatcasim "github.com/egsd/egsd/sim/zatca"
	"github.com/egsd/egsd/stamping/etims"
)

// simulator is what `egsd sim` serves: the handler, Close to release the
// requests a fault holds, and the banner that says where to point a unit.
type simulator struct {
	handler http.Handler
	close   func()
	banner  func(root string)
}

func runSim(ctx context.Context, io IO, args []string) error {
	regime := ""
	if len(args) > 0 {
		regime = args[0]
	}
	var newSim func() simulator
	var validate func() error
	var listen *string
	// serveTCP runs a simulator that speaks its own protocol over TCP
	// instead of HTTP (the Kazakh OFD).
	var serveTCP func(ctx context.Context, addr string) error
	fs := newFlags(io, "sim", "sim zatca|etims|ofd [--listen HOST:PORT] [--profile oscu|vscu] [fault flags]")
	switch regime {
	case "ofd":
		listen = fs.String("listen", "127.0.0.1:7777", "address to serve the simulator on (keep it on loopback)")
		var cfg ofdsim.Config
		cfg.AddFlags(fs)
		validate = func() error { return nil }
		serveTCP = func(ctx context.Context, addr string) error { return serveOFD(ctx, io, cfg, addr) }
	case "etims":
		listen = fs.String("listen", "127.0.0.1:8088", "address to serve the simulator on (keep it on loopback)")
		var cfg etimssim.Config
		cfg.AddFlags(fs)
		validate = func() error { return cfg.Faults.Validate() }
		newSim = func() simulator {
			s := etimssim.New(cfg)
			return simulator{handler: s, close: s.Close, banner: func(root string) {
				fmt.Fprintf(io.Stdout, "KRA eTIMS simulator; fault admin at %s/admin/faults\n", root)
				for _, p := range []etims.Profile{etims.OSCU, etims.VSCU} {
					if cfg.Profile == "" || cfg.Profile == p {
						fmt.Fprintf(io.Stdout, "%-5s base_url %s\n", p, etimssim.BaseURL(root, p))
					}
				}
				if cfg.Profile != etims.OSCU {
					fmt.Fprintf(io.Stdout, "vscu  paths.lookup %s\n", etimssim.VSCULookupPath)
				}
			}}
		}
	default:
		listen = fs.String("listen", "127.0.0.1:8443", "address to serve the simulator on (keep it on loopback)")
		var cfg zatcasim.Config
		cfg.AddFlags(fs)
		validate = func() error { return cfg.Faults.Validate() }
		newSim = func() simulator {
			s := zatcasim.New(cfg)
			return simulator{handler: s, close: s.Close, banner: func(root string) {
				fmt.Fprintf(io.Stdout, "ZATCA simulator (developer-portal OTP %s); fault admin at %s/admin/faults\n", zatcasim.DeveloperPortalOTP, root)
				s.WriteURLs(io.Stdout, root)
			}}
		}
	}
	regime, err := parseAction(fs, args, "sim needs a regime: zatca, etims or ofd")
	if err != nil {
		return err
	}
	if regime != "zatca" && regime != "etims" && regime != "ofd" {
		return usagef("unknown simulator %q: this build has zatca, etims and ofd", regime)
	}
	if err := validate(); err != nil {
		return usagef("%v", err)
	}
	if serveTCP != nil {
		return serveTCP(ctx, *listen)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	sim := newSim()
	sim.banner("http://" + l.Addr().String())
	srv := &http.Server{Handler: sim.handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Release requests a timeout fault is holding, or Shutdown would wait for them.
	sim.close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveOFD runs the Kazakh OFD simulator on addr until ctx ends or the
// process is interrupted. The toggle signal (SIGUSR1 where there is one)
// takes the OFD down and brings it up again.
func serveOFD(ctx context.Context, io IO, cfg ofdsim.Config, addr string) error {
	s := &ofdsim.Server{Config: cfg}
	got, err := s.Start(addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	defer s.Close()
	// Listen for the signals before the banner says they work.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	toggle := make(chan os.Signal, 1)
	if len(ofdToggleSignals) > 0 {
		signal.Notify(toggle, ofdToggleSignals...)
		defer signal.Stop(toggle)
	}
	id := "any (registered at its first request)"
	if cfg.ID != 0 {
		id = fmt.Sprint(cfg.ID)
	}
	fmt.Fprintf(io.Stdout, "Kazakh OFD simulator, protocol 2.0.3 over TCP; KKM id %s\n", id)
	if len(ofdToggleSignals) > 0 {
		fmt.Fprintf(io.Stdout, "kill -USR1 %d takes the OFD down and up again\n", os.Getpid())
	}
	fmt.Fprintf(io.Stdout, "ofd.address %s\n", got)
	down := cfg.Faults.Down
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-toggle:
			down = !down
			s.SetDown(down)
			state := "up"
			if down {
				state = "down: every connection is reset"
			}
			fmt.Fprintf(io.Stdout, "OFD %s\n", state)
		}
	}
}

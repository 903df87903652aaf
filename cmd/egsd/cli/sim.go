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

	zatcasim "github.com/egsd/egsd/sim/zatca"
)

func runSim(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "sim", "sim zatca [--listen HOST:PORT] [fault flags]")
	listen := fs.String("listen", "127.0.0.1:8443", "address to serve the simulator on (keep it on loopback)")
	var cfg zatcasim.Config
	cfg.AddFlags(fs)
	regime, err := parseAction(fs, args, "sim needs a regime: zatca")
	if err != nil {
		return err
	}
	if regime != "zatca" {
		return usagef("unknown simulator %q: this build has zatca", regime)
	}
	if err := cfg.Faults.Validate(); err != nil {
		return usagef("%v", err)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	s := zatcasim.New(cfg)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(io.Stdout, "ZATCA simulator (developer-portal OTP %s); fault admin at http://%s/admin/faults\n", zatcasim.DeveloperPortalOTP, l.Addr())
	s.WriteURLs(io.Stdout, "http://"+l.Addr().String())
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
	s.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

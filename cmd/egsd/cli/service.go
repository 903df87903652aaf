package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/kardianos/service"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/packaging"
)

// program adapts the agent to kardianos/service: Start returns at once and
// runs the agent in a goroutine; Stop cancels it and waits for a clean
// shutdown (requests in flight finish, the store closes). Stop never exits
// the process itself.
type program struct {
	cfg    agent.Config
	path   string // the configuration file, for the lines in its errors
	io     IO
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (p *program) Start(service.Service) error {
	log := agent.NewLogger(p.io.Stderr, p.cfg.Log)
	a, err := agent.New(p.cfg, agent.Options{Logger: log, Version: Version})
	if err != nil {
		return agent.LocateOptionErrors(p.path, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := serveNotifying(ctx, a, log, nil)
		if cerr := a.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			log.Error().Err(err).Msg("agent stopped with an error")
			// A failure must end the process non-zero: the service
			// manager restarts on failure, not on a clean stop.
			os.Exit(1)
		}
	}()
	return nil
}

func (p *program) Stop(service.Service) error {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	return nil
}

func serviceConfig(cfgPath string) *service.Config {
	abs, err := filepath.Abs(cfgPath)
	if err == nil {
		cfgPath = abs
	}
	c := &service.Config{
		Name:        "egsd",
		DisplayName: "egsd fiscal device agent",
		Description: "egsd fiscal device agent: issues, stamps, prints and delivers fiscal documents",
		Arguments:   []string{"run", "--config", cfgPath},
		Option:      service.KeyValue{},
	}
	switch runtime.GOOS {
	case "linux":
		c.UserName = packaging.ServiceUser
		c.Option["SystemdScript"] = packaging.SystemdUnit
	case "windows":
		for k, v := range packaging.WindowsRecovery {
			c.Option[k] = v
		}
	}
	return c
}

// runAsService runs the agent under the system's service manager.
func runAsService(cfg agent.Config, path string, io IO) error {
	p := &program{cfg: cfg, path: path, io: io}
	s, err := service.New(p, serviceConfig(defaultConfigPath))
	if err != nil {
		return err
	}
	return s.Run()
}

func runService(_ context.Context, io IO, args []string) error {
	fs := newFlags(io, "service", "service install|uninstall|start|stop|restart|status [--config FILE]")
	cfgFlag := fs.String("config", "", "configuration file the service runs with (default "+defaultConfigPath+")")
	action, err := parseAction(fs, args, "service needs an action: install, uninstall, start, stop, restart or status")
	if err != nil {
		return err
	}
	path := configPath(io, *cfgFlag)
	if action == "install" {
		// Refuse to install a service that would fail at start.
		if _, err := agent.LoadConfig(path); err != nil {
			return fmt.Errorf("not installing: %w", err)
		}
	}
	s, err := service.New(&program{io: io}, serviceConfig(path))
	if err != nil {
		return err
	}
	switch action {
	case "install":
		if err := ensureServiceUser(io); err != nil {
			return err
		}
		if err := s.Install(); err != nil {
			return fmt.Errorf("install: %w", err)
		}
		fmt.Fprintf(io.Stdout, "installed service egsd (config %s); start it with: egsd service start\n", path)
	case "uninstall", "start", "stop", "restart":
		if err := service.Control(s, action); err != nil {
			// The service library reduces systemctl's answer to its exit
			// status: ask systemd why.
			if why := systemdReason(); why != "" {
				return fmt.Errorf("%s: %w; %s", action, err, why)
			}
			return fmt.Errorf("%s: %w", action, err)
		}
		fmt.Fprintf(io.Stdout, "service egsd: %s done\n", action)
	case "status":
		st, err := s.Status()
		why := systemdReason()
		switch {
		case errors.Is(err, service.ErrNotInstalled):
			fmt.Fprintln(io.Stdout, "service egsd: not installed (sudo egsd service install)")
		case err != nil && why != "":
			return fmt.Errorf("cannot tell the service's state: %s", why)
		case err != nil:
			return fmt.Errorf("status: %w", err)
		default:
			fmt.Fprintln(io.Stdout, "service egsd:", map[service.Status]string{service.StatusRunning: "running", service.StatusStopped: "stopped", service.StatusUnknown: "unknown"}[st])
			if why != "" {
				fmt.Fprintln(io.Stdout, "  "+why)
			}
		}
	default:
		return usagef("unknown service action %q: use install, uninstall, start, stop, restart or status", action)
	}
	return nil
}

// systemctl runs systemctl with args and returns what it printed, standard
// error included. Tests replace it.
var systemctl = func(args ...string) (string, error) {
	out, err := exec.Command("systemctl", args...).CombinedOutput()
	return string(out), err
}

// systemdReason says, on a systemd system, what systemd knows about the
// unit: its state and, after a failure, why and where to read more; or
// why systemctl could not say. Empty elsewhere.
func systemdReason() string {
	if runtime.GOOS != "linux" {
		return ""
	}
	out, err := systemctl("show", "egsd", "--property=LoadState,ActiveState,SubState,Result,ExecMainStatus,NRestarts")
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return "" // not a systemd system
	case err != nil:
		return "systemctl: " + strings.Join(strings.Fields(out), " ") + " (" + err.Error() + ")"
	}
	return describeUnit(out)
}

// describeUnit turns systemctl show's KEY=value lines into a sentence.
func describeUnit(show string) string {
	p := map[string]string{}
	for _, line := range strings.Split(show, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			p[k] = v
		}
	}
	if p["LoadState"] == "not-found" {
		return "systemd: no unit egsd (install it: sudo egsd service install)"
	}
	d := "systemd: " + p["ActiveState"]
	if sub := p["SubState"]; sub != "" && sub != p["ActiveState"] {
		d += " (" + sub + ")"
	}
	failed := p["Result"] != "" && p["Result"] != "success"
	if failed {
		d += ", result " + p["Result"]
		if st := p["ExecMainStatus"]; st != "" && st != "0" {
			d += ", exit status " + st
		}
	}
	if n := p["NRestarts"]; n != "" && n != "0" {
		d += ", restarted " + n + " times"
	}
	if failed || p["ActiveState"] == "failed" || p["SubState"] == "auto-restart" {
		d += "; why: journalctl -u egsd -n 50"
	}
	return d
}

// ensureServiceUser creates the dedicated system user on Linux if it does
// not exist yet; elsewhere the service runs as the system account.
func ensureServiceUser(io IO) error {
	if runtime.GOOS != "linux" {
		return nil
	}
	if exec.Command("id", "-u", packaging.ServiceUser).Run() == nil {
		return nil
	}
	out, err := exec.Command("useradd", "--system", "--home-dir", "/var/lib/egsd", "--no-create-home",
		"--shell", "/usr/sbin/nologin", "--groups", "dialout", packaging.ServiceUser).CombinedOutput()
	if err != nil {
		return fmt.Errorf("create system user %s: %v: %s", packaging.ServiceUser, err, out)
	}
	fmt.Fprintf(io.Stdout, "created system user %s\n", packaging.ServiceUser)
	return nil
}

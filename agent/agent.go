package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/device"
	"github.com/egsd/egsd/device/serialport"
	"github.com/egsd/egsd/offsite"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/money"
)

// OwnerTokenFile is the file in the data directory that holds the owner
// token and where the API listens, readable only by the data directory's
// owner. `egsd users` uses it to reach the running agent.
const OwnerTokenFile = "owner.token"

// Options are the agent's hooks. The zero value is ready for production.
type Options struct {
	Logger zerolog.Logger
	// Time is the clock; nil means the system clock. Tests inject a
	// device.FakeTime.
	Time device.TimeSource
	// Version is reported by /v1/status.
	Version string
	// UnsafeNoSync skips fsync on commit. Only `egsd bench --prefill`
	// sets it, to fill a journal quickly before a measurement.
	UnsafeNoSync bool
	// OpenPrinterPort opens the printer's port; nil means serialport.Open.
	// Tests put faulty ports behind it.
	OpenPrinterPort func(serialport.Config) (serialport.Port, error)
}

// Agent is one running unit.
type Agent struct {
	cfg     Config
	log     zerolog.Logger
	store   *queue.Store
	regime  stamping.Regime
	auth    *Auth
	clock   *device.ClockGuard
	time    device.TimeSource
	version string
	started time.Time

	// clockIncident is set while a clock incident is open, so that the
	// next successful issue closes it without a read on every sale.
	clockIncident atomic.Uint64
	handler       http.Handler
	submit        *submitter
	print         *printService // nil without a printer
	// onboarding serialises onboarding runs: one run's reading of the saved
	// state, its steps and its saves must not interleave with another's.
	onboarding sync.Mutex
	// identity is what the unit issues documents under (identity.go).
	identity map[string]string
	// cashRounding is sale.cash_rounding: zero for none.
	cashRounding money.Decimal

	// auditKey signs the audit log's checkpoints; it never leaves the unit.
	auditKey *keystore.Key

	metrics *metrics     // GET /metrics
	disk    *diskMonitor // free space on the data directory's disk
	// archive copies the journal off site; nil when [archive] is off.
	archive *offsite.Uploader
}

// New opens the store in cfg.DataDir and builds the configured regime.
func New(cfg Config, opts Options) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	src := opts.Time
	if src == nil {
		src = device.NewSystemTime()
	}
	a := &Agent{cfg: cfg, log: opts.Logger, time: src, version: opts.Version, identity: cfg.identity()}
	var err error
	if a.cashRounding, err = cfg.Sale.CashRounding.Increment(); err != nil {
		return nil, err
	}
	a.clock = device.NewClockGuard(src, cfg.Clock.BackwardTolerance.Duration)
	a.started = src.Wall()

	// The store opens first, so that the regime's key events are audited.
	storeOpts := &queue.Options{Clock: a.clock.Now, Now: src.Wall, NoSync: opts.UnsafeNoSync, ReleaseNote: a.releaseNote}
	if !cfg.Store.GroupCommit {
		storeOpts.MaxBatch = 1
	}
	if a.store, err = queue.Open(cfg.DataDir, storeOpts); err != nil {
		return nil, err
	}
	// The audit key next, so that everything from here on is under
	// checkpoints.
	if a.auditKey, err = installAuditKey(a.store, cfg.DataDir, src.Wall); err != nil {
		a.store.Close()
		return nil, err
	}
	// Before anything else can issue or stamp: a changed identity stops here.
	if err := a.checkIdentity(); err != nil {
		a.store.Close()
		return nil, err
	}
	sc := cfg.StampingConfig(func(action string, details map[string]string) {
		kind := queue.AuditOnboarding
		if strings.Contains(action, "key") {
			kind = queue.AuditKey
		}
		if err := a.store.Audit(queue.AuditEntry{Actor: queue.ActorSystem, ActorKind: queue.ActorSystem, Action: kind, Subject: action, Details: details}); err != nil {
			a.log.Error().Err(err).Str("event", action).Msg("audit regime event")
		}
		a.log.Info().Str("event", action).Msg("regime event")
	})
	sc.Now = src.Wall
	regime, err := stamping.New(cfg.Regime.Name, sc)
	if errors.Is(err, stamping.ErrIdentityChanged) {
		// A unit onboarded before its identity was recorded: its
		// credentials carry it.
		if _, aerr := a.store.AuditUnlessRepeated(queue.AuditEntry{Actor: queue.ActorSystem, ActorKind: queue.ActorSystem, Action: queue.AuditIdentity, Subject: "start_refused",
			Details: map[string]string{"regime": cfg.Regime.Name, "detail": err.Error()}}); aerr != nil {
			err = errors.Join(err, fmt.Errorf("audit the refused start: %w", aerr))
		}
	}
	if err != nil {
		a.store.Close()
		return nil, err
	}
	a.regime = regime
	a.disk = newDiskMonitor(a)
	if a.metrics, err = newMetrics(a); err != nil {
		a.store.Close()
		return nil, err
	}
	a.auth = NewAuth(a.store, cfg.Auth, src.Wall)
	a.submit = newSubmitter(a, cfg.Submit)
	if cfg.Printer.Enabled {
		if a.print, err = newPrintService(a, cfg.Printer, opts.OpenPrinterPort); err != nil {
			a.store.Close()
			return nil, err
		}
	}
	if a.archive, err = a.newArchive(); err != nil {
		a.store.Close()
		return nil, err
	}
	if err := a.startup(); err != nil {
		a.store.Close()
		return nil, err
	}
	a.handler = a.routes()
	return a, nil
}

func (a *Agent) startup() error {
	open, err := a.store.Incidents(true, 100)
	if err != nil {
		return err
	}
	for _, inc := range open {
		switch inc.Kind {
		case incidentClock:
			a.clockIncident.Store(inc.ID)
		case incidentDiskSpace:
			// Still open from before a restart: the first check closes it
			// if space has returned meanwhile.
			a.disk.incident = inc.ID
		case incidentOutage:
			// Still open from before a restart: it closes when the queue drains.
			a.submit.outage = inc.ID
			a.submit.outageHead, _ = strconv.ParseUint(inc.Data["counter_at_start"], 10, 64)
		}
	}
	if err := a.reindex(); err != nil {
		return fmt.Errorf("index the documents issued before this version: %w", err)
	}
	if err := a.recredit(); err != nil {
		return fmt.Errorf("recompute what the credit notes took from their documents: %w", err)
	}
	if err := a.settleRejected(); err != nil {
		return fmt.Errorf("find the rejected documents that credit notes corrected: %w", err)
	}
	if err := a.bindIdentity(); err != nil {
		return err
	}
	if err := a.loadSession(); err != nil {
		return fmt.Errorf("the session with the authority: %w", err)
	}
	if err := a.resumeRegime(); err != nil {
		return fmt.Errorf("the regime's state from the journal: %w", err)
	}
	if err := a.auth.SettleInterrupted(); err != nil {
		return err
	}
	if err := a.noticeDowntime(); err != nil {
		return err
	}
	cfgJSON, _ := json.Marshal(a.cfg)
	sum := sha256.Sum256(cfgJSON)
	if err := a.store.Audit(queue.AuditEntry{Actor: queue.ActorSystem, ActorKind: queue.ActorSystem, Action: queue.AuditStart, Details: map[string]string{
		"version": a.version, "regime": a.regime.Name(), "config_sha256": hex.EncodeToString(sum[:]),
		"audit_key": a.auditKey.Fingerprint(),
	}}); err != nil {
		return err
	}
	_, err = a.store.Checkpoint("start", a.time.Wall())
	return err
}

// Regime returns the unit's regime.
func (a *Agent) Regime() stamping.Regime { return a.regime }

// Store returns the agent's store (for the CLI's in-process commands).
func (a *Agent) Store() *queue.Store { return a.store }

// Auth returns the agent's user and session service.
func (a *Agent) Auth() *Auth { return a.auth }

// Handler returns the HTTP API.
func (a *Agent) Handler() http.Handler { return a.handler }

// Close writes what the audit log still owes (counts of refused logins, a
// checkpoint of the head) and closes the store. Call it after Serve has
// returned.
func (a *Agent) Close() error {
	os.Remove(filepath.Join(a.cfg.DataDir, OwnerTokenFile))
	err := a.auth.FlushRefusals(true)
	// A clean stop is not a failure: the next start opens no incident
	// for the time the unit was stopped.
	if berr := a.store.Beat(queue.Heartbeat{At: a.time.Wall(), Stopped: true}); berr != nil {
		err = errors.Join(err, berr)
	}
	if _, cerr := a.store.Checkpoint("stop", a.time.Wall()); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return errors.Join(err, a.store.Close())
}

// flushRefusalsEvery writes the counts of refused logins whose window is
// over, so that a burst shows in the audit log even when nothing follows it.
func (a *Agent) flushRefusalsEvery(ctx context.Context, every time.Duration) {
	runEvery(ctx, every, func() {
		if err := a.auth.FlushRefusals(false); err != nil {
			a.log.Error().Err(err).Msg("audit refused logins")
		}
	})
}

// runEvery calls fn every interval until ctx ends.
func runEvery(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// OwnerToken is the content of OwnerTokenFile.
type OwnerToken struct {
	Token  string `json:"token"`
	URL    string `json:"url,omitempty"`
	Socket string `json:"socket,omitempty"`
}

// writeOwnerToken creates a fresh owner token, readable only by the data
// directory's owner, and enables it.
func (a *Agent) writeOwnerToken(url string) error {
	token, err := newToken()
	if err != nil {
		return err
	}
	path := filepath.Join(a.cfg.DataDir, OwnerTokenFile)
	os.Remove(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write owner token: %w", err)
	}
	err = json.NewEncoder(f).Encode(OwnerToken{Token: token, URL: url, Socket: a.cfg.API.UnixSocket})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write owner token: %w", err)
	}
	a.auth.ownerTokenHash = hashToken(token)
	return nil
}

// Serve listens on the configured address (and unix socket) and serves the
// API until ctx is cancelled, then shuts down gracefully. ready, if not nil,
// is called with the bound TCP address once the agent accepts requests.
func (a *Agent) Serve(ctx context.Context, ready func(addr string)) error {
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
		ConnContext:       markUnixConn,
	}
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	url := ""
	if a.cfg.API.Listen != "" {
		l, err := net.Listen("tcp", a.cfg.API.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", a.cfg.API.Listen, err)
		}
		listeners = append(listeners, l)
		url = "http://" + l.Addr().String()
	}
	if a.cfg.API.UnixSocket != "" {
		os.Remove(a.cfg.API.UnixSocket)
		l, err := net.Listen("unix", a.cfg.API.UnixSocket)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", a.cfg.API.UnixSocket, err)
		}
		os.Chmod(a.cfg.API.UnixSocket, 0o660)
		listeners = append(listeners, l)
	}
	if err := a.writeOwnerToken(url); err != nil {
		return err
	}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func(l net.Listener) { errc <- srv.Serve(l) }(l)
	}
	var worker sync.WaitGroup
	workerCtx, stopWorker := context.WithCancel(context.Background())
	defer func() { stopWorker(); worker.Wait() }()
	if a.cfg.Submit.Enabled {
		worker.Go(func() { a.submit.run(workerCtx) })
	}
	if a.print != nil {
		worker.Go(func() { a.print.run(workerCtx) })
	}
	worker.Go(func() { a.flushRefusalsEvery(workerCtx, refusalWindow/4) })
	worker.Go(func() { a.beatEvery(workerCtx, a.cfg.Failure.HeartbeatEvery.Duration) })
	worker.Go(func() { a.watchDisk(workerCtx, diskCheckEvery) })
	if a.archive != nil {
		// In the background: issuing never waits for the object store.
		worker.Go(func() { a.archive.Run(workerCtx) })
	}
	a.log.Info().Str("url", url).Str("socket", a.cfg.API.UnixSocket).Str("regime", a.regime.Name()).
		Str("data_dir", a.cfg.DataDir).Msg("egsd is ready")
	if ready != nil {
		ready(url)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	// Cancellation is the normal way to stop: drain requests in flight
	// (a sale being committed finishes and gets its answer).
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	a.log.Info().Msg("egsd stopped")
	return nil
}

// Alive reports whether the agent can still read its store: what a service
// manager's watchdog asks before it is told the agent lives.
func (a *Agent) Alive() error {
	_, err := a.store.Head()
	return err
}

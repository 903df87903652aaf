package agent

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/egsd/egsd/device/printer"
	"github.com/egsd/egsd/stamping"
)

// MinMetricsToken is the fewest characters a scrape token may have: long
// enough that guessing it over the loopback is hopeless.
const MinMetricsToken = 32

// reportingDeadlines is how long after its issue each regime's authority
// must have a document; the outbox metrics measure the oldest pending
// document against it. ZATCA: simplified invoices and their notes are
// reported within 24 hours (spec/zatca.md §6.8). eTIMS: a VSCU may issue
// for 24 hours without the authority (spec/etims.md A7). Kazakhstan: the
// autonomous mode ends at 72 hours (spec/etims.md, offline policy).
var reportingDeadlines = map[string]time.Duration{
	"zatca": 24 * time.Hour,
	"etims": 24 * time.Hour,
	"kz":    72 * time.Hour,
}

// defaultReportingDeadline applies to a regime without an entry above.
const defaultReportingDeadline = 24 * time.Hour

func reportingDeadline(regime string) time.Duration {
	if d, ok := reportingDeadlines[regime]; ok {
		return d
	}
	return defaultReportingDeadline
}

// unitStates are the states unitState derives, for egsd_unit_state.
var unitStates = []string{StateNotOnboarded, StateClockError, StateDiskFull, StateDiskLow, StateSubmissionPaused, StateOffline, StateReady}

// printerStates are the states a printer reports, for egsd_printer_state.
var printerStates = []printer.State{printer.StateOnline, printer.StatePaperOut, printer.StateCoverOpen, printer.StateOffline,
	printer.StateError, printer.StateUnplugged, printer.StateNotResponding, printer.StateStalled}

// incidentKinds always have an egsd_incidents_open series, 0 when none is
// open, so that an alert on one has a series to look at.
var incidentKinds = []string{incidentOutage, incidentCredentials, incidentClock, incidentDiskSpace}

// metrics is the unit's Prometheus registry: counters and a histogram the
// agent updates as it works, and a collector that reads the rest from the
// store and the unit's state at each scrape. A scrape costs a few reads of
// counts the store keeps (no walk over the journal), the open incidents
// and the print queue, and one statfs.
type metrics struct {
	registry *prometheus.Registry
	handler  http.Handler
	// tokenHash is the SHA-256 of the scrape token; nil when none is
	// configured, and TCP scrapes are refused.
	tokenHash []byte

	issued         *prometheus.CounterVec
	answered       *prometheus.CounterVec
	submitDuration *prometheus.HistogramVec
}

func newMetrics(a *Agent) (*metrics, error) {
	m := &metrics{registry: prometheus.NewRegistry()}
	if path := a.cfg.Metrics.TokenFile; path != "" {
		token, err := readMetricsToken(path)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256([]byte(token))
		m.tokenHash = sum[:]
	}
	m.issued = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egsd_documents_issued_total",
		Help: "Documents issued since the agent started, by regime and kind."}, []string{"regime", "kind"})
	m.answered = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egsd_documents_answered_total",
		Help: "Final answers of the authority recorded since the agent started, by regime, kind and status."}, []string{"regime", "kind", "status"})
	m.submitDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "egsd_submission_duration_seconds",
		Help:    "Time from sending a document to the authority until its answer (or failure), by regime and outcome.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}}, []string{"regime", "outcome"})
	m.registry.MustRegister(m.issued, m.answered, m.submitDuration, &unitCollector{a: a},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		// A store read that fails leaves its metrics out and the rest is
		// served: the scrape still says the unit is up.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      promLogger{a},
		Timeout:       10 * time.Second,
	})
	return m, nil
}

// readMetricsToken reads the scrape token from path: it must be long
// enough, and the file must not be readable by every user of the machine.
func readMetricsToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("metrics.token_file: %w", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o007 != 0 {
		return "", fmt.Errorf("metrics.token_file %s: other users may read it (mode %04o): make it readable by egsd only (chmod 0640, group egsd)", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("metrics.token_file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if len(token) < MinMetricsToken || strings.ContainsAny(token, " \t\r\n") {
		return "", fmt.Errorf("metrics.token_file %s: the token must be one line of at least %d characters without spaces (create one with: head -c 32 /dev/urandom | base64 > %s)", path, MinMetricsToken, path)
	}
	return token, nil
}

// promLogger sends the handler's errors (a failed store read) to the log.
type promLogger struct{ a *Agent }

func (l promLogger) Println(v ...any) {
	l.a.log.Error().Msg(strings.TrimSpace(fmt.Sprintln(v...)))
}

// ctxUnixSocketKey marks a request that came over api.unix_socket.
type ctxUnixSocketKey struct{}

// markUnixConn is the server's ConnContext: it marks connections accepted
// on the unix socket, whose file mode already limits who may connect.
func markUnixConn(ctx context.Context, c net.Conn) context.Context {
	if c.LocalAddr().Network() == "unix" {
		return context.WithValue(ctx, ctxUnixSocketKey{}, true)
	}
	return ctx
}

func viaUnixSocket(r *http.Request) bool {
	v, _ := r.Context().Value(ctxUnixSocketKey{}).(bool)
	return v
}

// handleMetrics serves the Prometheus metrics: over the unix socket to
// anyone who may open it, over TCP only with the scrape token.
func (a *Agent) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if !viaUnixSocket(r) {
		if a.metrics.tokenHash == nil {
			writeProblem(w, Problem{Type: problemForbidden, Title: "Metrics need a token", Status: http.StatusForbidden,
				Detail: "GET /metrics over TCP needs a scrape token: set metrics.token_file in the configuration and send the token as a bearer token, or scrape over api.unix_socket"})
			return
		}
		sum := sha256.Sum256([]byte(bearerToken(r)))
		if subtle.ConstantTimeCompare(sum[:], a.metrics.tokenHash) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="egsd-metrics"`)
			writeProblem(w, Problem{Type: problemUnauthorized, Title: "Wrong or missing scrape token", Status: http.StatusUnauthorized,
				Detail: "send the token of metrics.token_file as Authorization: Bearer <token>"})
			return
		}
	}
	if r.URL.RawQuery != "" {
		writeProblem(w, fieldProblem(strings.SplitN(r.URL.RawQuery, "=", 2)[0], "is not a parameter of GET /metrics; it takes no query parameters"))
		return
	}
	a.metrics.handler.ServeHTTP(w, r)
}

// observeSubmission records one submission's outcome and how long the
// authority took.
func (m *metrics) observeSubmission(regime string, outcome stamping.Outcome, took time.Duration) {
	m.submitDuration.WithLabelValues(regime, outcome.String()).Observe(took.Seconds())
}

// unitCollector reads the unit's state at each scrape.
type unitCollector struct{ a *Agent }

var (
	descBuildInfo   = prometheus.NewDesc("egsd_build_info", "The agent's version and regime; always 1.", []string{"version", "regime"}, nil)
	descUnitState   = prometheus.NewDesc("egsd_unit_state", "1 for the unit's state as GET /v1/status reports it, 0 for the others.", []string{"state"}, nil)
	descIssuing     = prometheus.NewDesc("egsd_issuing", "1 when a sale can be issued now.", nil, nil)
	descJournal     = prometheus.NewDesc("egsd_journal_documents", "Documents in the journal: the counter of the last one issued.", nil, nil)
	descOutbox      = prometheus.NewDesc("egsd_outbox_documents", "Documents issued and not yet delivered to the authority.", nil, nil)
	descOldestAge   = prometheus.NewDesc("egsd_outbox_oldest_age_seconds", "Age of the oldest document not yet delivered; 0 when none waits.", nil, nil)
	descDeadline    = prometheus.NewDesc("egsd_outbox_reporting_deadline_seconds", "How long after its issue the regime's authority must have a document.", nil, nil)
	descToDeadline  = prometheus.NewDesc("egsd_outbox_deadline_remaining_seconds", "Seconds until the oldest document not yet delivered passes its reporting deadline; negative once it has; the whole deadline when none waits.", nil, nil)
	descIncidents   = prometheus.NewDesc("egsd_incidents_open", "Open incidents, by kind.", []string{"kind"}, nil)
	descRejected    = prometheus.NewDesc("egsd_documents_rejected", "Documents the authority rejected, in the journal.", nil, nil)
	descUncorrected = prometheus.NewDesc("egsd_documents_rejected_without_credit_note", "Rejected invoices and debit notes that no credit note corrects yet.", nil, nil)
	descPrinter     = prometheus.NewDesc("egsd_printer_state", "1 for the state the receipt printer reports, 0 for the others.", []string{"state"}, nil)
	descPaperLow    = prometheus.NewDesc("egsd_printer_paper_low", "1 when the printer reports its paper roll near its end.", nil, nil)
	descPrintJobs   = prometheus.NewDesc("egsd_print_jobs", "Jobs in the print queue, by state.", []string{"state"}, nil)
	descContact     = prometheus.NewDesc("egsd_authority_last_contact_timestamp_seconds", "When the authority last answered a submission (Unix time); absent until it has since the agent started.", nil, nil)
	descCertExpiry  = prometheus.NewDesc("egsd_certificate_expiry_timestamp_seconds", "When the unit's certificate with the authority expires (Unix time); absent without one.", nil, nil)
	descStoreSize   = prometheus.NewDesc("egsd_store_file_bytes", "Size of the store file in the data directory.", nil, nil)
	descDiskFree    = prometheus.NewDesc("egsd_disk_free_bytes", "Bytes free for the agent on the disk that holds the data directory.", nil, nil)
	descDiskMin     = prometheus.NewDesc("egsd_disk_min_free_bytes", "store.min_free_bytes: below it the unit warns.", nil, nil)
	descDiskFull    = prometheus.NewDesc("egsd_disk_full", "1 while a write has failed for lack of space and space has not returned.", nil, nil)
)

func (c *unitCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBuildInfo, descUnitState, descIssuing, descJournal, descOutbox, descOldestAge, descDeadline,
		descToDeadline, descIncidents, descRejected, descUncorrected, descPrinter, descPaperLow, descPrintJobs, descContact,
		descCertExpiry, descStoreSize, descDiskFree, descDiskMin, descDiskFull} {
		ch <- d
	}
}

// Collect reads what GET /v1/status reports, so that the two never
// disagree, plus the store file's size.
func (c *unitCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	st, err := a.Status()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descUnitState, fmt.Errorf("read the unit's status: %w", err))
		return
	}
	gauge(descBuildInfo, 1, a.version, st.Regime)
	for _, s := range unitStates {
		gauge(descUnitState, boolValue(s == st.State), s)
	}
	gauge(descIssuing, boolValue(st.Issuing))
	gauge(descJournal, float64(st.Counter))

	deadline := reportingDeadline(st.Regime)
	gauge(descOutbox, float64(st.Outbox.Pending))
	gauge(descDeadline, deadline.Seconds())
	age := time.Duration(0)
	if st.Outbox.Pending > 0 && !st.Outbox.Oldest.IsZero() {
		age = max(a.time.Wall().Sub(st.Outbox.Oldest), 0)
	}
	gauge(descOldestAge, age.Seconds())
	gauge(descToDeadline, (deadline - age).Seconds())

	open := map[string]int{}
	for _, k := range incidentKinds {
		open[k] = 0
	}
	for _, inc := range st.Incidents {
		open[inc.Kind]++
	}
	for kind, n := range open {
		gauge(descIncidents, float64(n), kind)
	}
	gauge(descRejected, float64(st.Rejected.Count))
	gauge(descUncorrected, float64(st.Rejected.WithoutCreditNote))

	if p := st.Printer; p != nil {
		for _, s := range printerStates {
			gauge(descPrinter, boolValue(s == p.State), string(s))
		}
		gauge(descPaperLow, boolValue(p.Paper == "low"))
		gauge(descPrintJobs, float64(p.Queue.Queued), "queued")
		gauge(descPrintJobs, float64(p.Queue.AwaitingAnswer), "awaiting_answer")
		gauge(descPrintJobs, float64(p.Queue.Failed), "failed")
	}
	if !st.Submission.LastContact.IsZero() {
		gauge(descContact, unixSeconds(st.Submission.LastContact))
	}
	if o := st.Onboarding; o != nil && !o.NotAfter.IsZero() {
		gauge(descCertExpiry, unixSeconds(o.NotAfter))
	}
	if fi, err := os.Stat(a.store.Path()); err == nil {
		gauge(descStoreSize, float64(fi.Size()))
	} else {
		ch <- prometheus.NewInvalidMetric(descStoreSize, err)
	}
	if d := st.Disk; d != nil {
		gauge(descDiskFree, float64(d.FreeBytes))
		gauge(descDiskMin, float64(d.MinFreeBytes))
		gauge(descDiskFull, boolValue(d.Full))
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

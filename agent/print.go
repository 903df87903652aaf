package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/device/escpos"
	"github.com/egsd/egsd/device/printer"
	"github.com/egsd/egsd/device/receipt"
	"github.com/egsd/egsd/device/serialport"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
)

// profile is the configured printer profile with the config's overrides.
func (c *PrinterConfig) profile() (escpos.Profile, error) {
	p, err := escpos.LookupProfile(c.Profile)
	if err != nil {
		return p, fmt.Errorf("printer.profile: %w", err)
	}
	setInt := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	setInt(&p.WidthDots, c.WidthDots)
	setInt(&p.Columns, c.Columns)
	setInt(&p.QRMaxBytes, c.QRMaxBytes)
	setInt(&p.QRModule, c.QRModule)
	setInt(&p.RasterBandRows, c.RasterBandRows)
	if c.Baud != 0 {
		p.Baud = c.Baud
	}
	if c.Arabic != nil {
		p.Arabic = *c.Arabic
	}
	if c.ArabicCodePage != nil {
		if *c.ArabicCodePage < 0 || *c.ArabicCodePage > 255 {
			return p, fmt.Errorf("printer.arabic_code_page: must be between 0 and 255")
		}
		p.ArabicCodePage = byte(*c.ArabicCodePage)
	}
	if c.Cyrillic != nil {
		p.Cyrillic = *c.Cyrillic
	}
	if c.CyrillicEncoding != nil {
		p.CyrillicEncoding = escpos.TextEncoding(*c.CyrillicEncoding)
	}
	if c.CyrillicCodePage != nil {
		if *c.CyrillicCodePage < 0 || *c.CyrillicCodePage > 255 {
			return p, fmt.Errorf("printer.cyrillic_code_page: must be between 0 and 255")
		}
		p.CyrillicCodePage = byte(*c.CyrillicCodePage)
	}
	if c.QRNative != nil {
		p.QRNative = *c.QRNative
	}
	if c.RasterScale2x != nil {
		p.RasterScale2x = *c.RasterScale2x
	}
	if c.Cut != nil {
		p.Cut = escpos.CutMode(*c.Cut)
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("printer: %w", err)
	}
	return p, nil
}

// serial is the serial port's configuration (the profile gives the baud
// when the config does not).
func (c *PrinterConfig) serial() (serialport.Config, error) {
	sc := serialport.Config{Path: c.Port, Baud: c.Baud, DataBits: c.DataBits, Parity: serialport.Parity(c.Parity), StopBits: c.StopBits,
		USB: serialport.USBID{VendorID: c.USBVendor, ProductID: c.USBProduct, SerialNumber: c.USBSerial}}
	if sc.Baud == 0 {
		if p, err := escpos.LookupProfile(c.Profile); err == nil {
			sc.Baud = p.Baud
		}
	}
	if err := sc.Validate(); err != nil {
		return sc, fmt.Errorf("printer: %w", err)
	}
	return sc, nil
}

// printService prints the store's print queue, one job at a time in queue
// order. A job leaves the queue only when the printer has confirmed it
// (GS r 1); anything else leaves it queued and is retried, so a printer
// problem never loses a receipt and never touches a sale.
type printService struct {
	a       *Agent
	layout  *receipt.Layout
	drv     *printer.Printer
	port    string
	profile string
	retry   time.Duration
	wake    chan struct{}
	// mu serialises use of the printer between the queue and test pages.
	mu      sync.Mutex
	printed int64
}

func newPrintService(a *Agent, cfg PrinterConfig, openPort func(serialport.Config) (serialport.Port, error)) (*printService, error) {
	prof, err := cfg.profile()
	if err != nil {
		return nil, err
	}
	sc, err := cfg.serial()
	if err != nil {
		return nil, err
	}
	layout, err := receipt.NewLayout(prof)
	if err != nil {
		return nil, err
	}
	port := sc.Path
	if port == "" {
		port = "usb " + sc.USB.VendorID + ":" + sc.USB.ProductID
	}
	if openPort == nil {
		openPort = serialport.Open
	}
	drv := printer.New(printer.Options{
		Open:         func() (serialport.Port, error) { return openPort(sc) },
		Port:         port,
		Baud:         sc.Baud,
		ReplyTimeout: cfg.ReplyTimeout.Duration,
		JobTimeout:   cfg.JobTimeout.Duration,
		WriteTimeout: cfg.WriteTimeout.Duration,
		Now:          a.time.Wall,
	})
	return &printService{a: a, layout: layout, drv: drv, port: port, profile: prof.Name,
		retry: cfg.RetryEvery.Duration, wake: make(chan struct{}, 1)}, nil
}

// Wake makes the service look at the queue now.
func (ps *printService) Wake() {
	select {
	case ps.wake <- struct{}{}:
	default:
	}
}

func (ps *printService) run(ctx context.Context) {
	defer ps.drv.Close()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ps.wake:
		case <-timer.C:
		}
		for ctx.Err() == nil && ps.printNext(ctx) {
		}
		if ctx.Err() == nil {
			// Keep the printer's state fresh for the status page.
			if err := ps.usePrinter(func() error { _, err := ps.drv.Check(ctx); return err }); err != nil {
				ps.logFault(ps.a.log, err, "printer check failed inside egsd")
			}
		}
		timer.Reset(ps.retry)
	}
}

// printNext prints the first queued job; it reports whether to go on at
// once (it printed, or set a bad job aside).
func (ps *printService) printNext(ctx context.Context) bool {
	st := ps.a.store
	job, ok, err := st.NextPrintJob()
	if err != nil {
		ps.a.log.Error().Err(err).Msg("read the print queue")
		return false
	}
	if !ok {
		return false
	}
	log := ps.a.log.With().Uint64("counter", job.Counter).Int("copy", job.Copy).Logger()
	var out *receipt.Job
	err = guarded(func() (err error) {
		out, err = ps.render(job)
		return err
	})
	if err != nil {
		// The receipt cannot be laid out for this printer: set it aside
		// for the manager rather than retry it forever.
		if !ps.logFault(log, err, "receipt set aside: egsd failed while laying it out") {
			log.Error().Err(err).Msg("receipt cannot be printed")
		}
		ps.setAside(log, job, err)
		return true
	}
	err = ps.usePrinter(func() error { return ps.drv.Print(ctx, out.Chunks(4096)) })
	now := ps.a.time.Wall()
	if ps.logFault(log, err, "receipt set aside: egsd failed while printing it") {
		// Sending it again would fail again, and the receipt may have
		// come out in part: set it aside, and go on with the next.
		ps.setAside(log, job, err)
		return true
	}
	if err != nil {
		if job.Attempts == 0 {
			log.Warn().Err(err).Msg("receipt waits for the printer")
		}
		if err := st.PrintAttemptFailed(job.Counter, job.Copy, now, err.Error(), false); err != nil {
			log.Error().Err(err).Msg("record the print failure")
		}
		return false
	}
	if err := st.PrintDone(job.Counter, job.Copy, now); err != nil {
		log.Error().Err(err).Msg("record the print")
		return false
	}
	ps.mu.Lock()
	ps.printed++
	ps.mu.Unlock()
	log.Info().Int("bytes", len(out.Bytes)).Bool("qr_native", out.QR.Native).Msg("receipt printed")
	return true
}

// setAside marks a job failed for good: it stays listed for the manager
// (who can print it again) and the queue moves on.
func (ps *printService) setAside(log zerolog.Logger, job queue.PrintJob, reason error) {
	if err := ps.a.store.PrintAttemptFailed(job.Counter, job.Copy, ps.a.time.Wall(), reason.Error(), true); err != nil {
		log.Error().Err(err).Msg("record the print failure")
	}
}

// usePrinter runs fn with the printer to itself; a panic in it (the
// driver, the port, an in-process printer) is returned as a
// *printerFault, and the printer is free again either way.
func (ps *printService) usePrinter(fn func() error) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return guarded(fn)
}

// printerFault is a panic in the layout, the printer driver or the port,
// caught so that it costs a receipt, never the daemon: sales go on, and
// the receipt is set aside rather than sent again (a daemon that crashed
// on it would crash again on every restart).
type printerFault struct {
	value any
	stack []byte
}

func (f *printerFault) Error() string {
	return fmt.Sprintf("egsd failed while printing this receipt (%v); it is set aside: print it again once egsd is updated", f.value)
}

// guarded runs fn and returns a panic in it as a *printerFault.
func guarded(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f := &printerFault{value: r, stack: debug.Stack()}
			if pe, ok := r.(*printer.PanicError); ok {
				// Raised again from the goroutine that wrote to the port:
				// its stack is the one that shows the cause.
				f.value, f.stack = pe.Value, pe.Stack
			}
			err = f
		}
	}()
	return fn()
}

// logFault logs err with its stack when it is a *printerFault, and says
// whether it was one.
func (ps *printService) logFault(log zerolog.Logger, err error, msg string) bool {
	f, ok := errors.AsType[*printerFault](err)
	if ok {
		log.Error().Str("panic", fmt.Sprint(f.value)).Str("stack", string(f.stack)).Msg(msg)
	}
	return ok
}

// render lays out a job's receipt from its document.
func (ps *printService) render(job queue.PrintJob) (*receipt.Job, error) {
	rec, err := ps.a.store.Document(job.Counter)
	if err != nil {
		return nil, err
	}
	r, err := ps.a.receiptOf(rec)
	if err != nil {
		return nil, err
	}
	if job.Copy == queue.ProvisionalSlip {
		provisional(r)
	} else {
		r.Copy = job.Copy
	}
	return ps.layout.Render(r)
}

// notATaxInvoice marks a provisional slip at its top and bottom.
const notATaxInvoice = "NOT A TAX INVOICE"

// provisional turns r into a provisional slip: marked NOT A TAX INVOICE,
// without the document's number as the authority knows it and without a
// QR code, which only the signed receipt carries.
func provisional(r *receipt.Receipt) {
	r.Title, r.TitleLocal, r.QR = "PROVISIONAL SLIP - "+notATaxInvoice, "", ""
	fields := r.Fields[:0]
	for _, f := range r.Fields {
		if f.Label != "No" {
			fields = append(fields, f)
		}
	}
	r.Fields = fields
	r.Footer = append(r.Footer, notATaxInvoice, "The tax invoice prints once the tax authority has signed this sale.")
}

// holdsReceipts reports whether receipts may wait for the authority's
// answer: documents it must clear, or, for a regime whose receipt carries
// its signature, every document.
func (a *Agent) holdsReceipts() bool {
	_, clears := a.regime.(stamping.Clearance)
	_, signs := a.regime.(stamping.AuthoritySigned)
	return clears || signs
}

// PrinterState is the printer as GET /v1/status and GET /v1/printer report it.
type PrinterState struct {
	Profile string           `json:"profile"`
	Port    string           `json:"port"`
	State   printer.State    `json:"state"`
	Detail  string           `json:"detail,omitempty"`
	Since   time.Time        `json:"since,omitzero"`
	Paper   string           `json:"paper,omitempty"` // "low" when the roll is near its end
	Queue   queue.PrintStats `json:"queue"`
	Printed int64            `json:"printed_since_start"`
}

func (ps *printService) state() (PrinterState, error) {
	snap := ps.drv.Snapshot()
	st := PrinterState{Profile: ps.profile, Port: ps.port, State: snap.State, Detail: snap.Detail, Since: snap.Since}
	if snap.PaperLow {
		st.Paper = "low"
	}
	ps.mu.Lock()
	st.Printed = ps.printed
	ps.mu.Unlock()
	var err error
	st.Queue, err = ps.a.store.PrintStats()
	return st, err
}

// handlePrintDocument queues a marked copy of a document's receipt (or the
// original again, when it never printed).
func (a *Agent) handlePrintDocument(w http.ResponseWriter, r *http.Request, p *Principal) {
	rec, ok := a.lookupDocument(w, r, p)
	if !ok {
		return
	}
	if a.print == nil {
		writeProblem(w, Problem{Type: problemConflict, Title: "No printer", Status: http.StatusConflict,
			Detail: "this unit has no receipt printer configured ([printer] enabled = false)"})
		return
	}
	if a.awaitingClearance(rec) {
		writeProblem(w, Problem{Type: problemConflict, Title: "Not cleared yet", Status: http.StatusConflict,
			Detail: fmt.Sprintf("document %d must be cleared by the authority before it is handed over; it prints once cleared", rec.Counter)})
		return
	}
	if _, signs := a.regime.(stamping.AuthoritySigned); signs && rec.Status != queue.StatusAccepted && rec.Status != queue.StatusAcceptedWithWarnings {
		detail := fmt.Sprintf("document %d is not signed by the authority yet; its receipt prints once it is", rec.Counter)
		if rec.Status == queue.StatusRejected {
			detail = fmt.Sprintf("document %d was rejected by the authority and has no fiscal receipt; its messages say why (GET /v1/documents/%d)", rec.Counter, rec.Counter)
		}
		writeProblem(w, Problem{Type: problemConflict, Title: "No signed receipt", Status: http.StatusConflict, Detail: detail})
		return
	}
	job, err := a.store.QueueCopy(rec.Counter, p.User, a.time.Wall())
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	a.print.Wake()
	writeJSON(w, http.StatusAccepted, map[string]any{"job": job})
}

// awaitingClearance reports whether a document may not be handed over yet:
// the authority must clear it and has not.
func (a *Agent) awaitingClearance(rec *queue.Record) bool {
	c, ok := a.regime.(stamping.Clearance)
	return ok && a.cfg.Submit.StandardHandover == "cleared" && rec.Status == queue.StatusPending && c.NeedsClearance(rec.Document)
}

// handlePrinter answers the printer's state and its queue.
func (a *Agent) handlePrinter(w http.ResponseWriter, r *http.Request, p *Principal) {
	if a.print == nil {
		writeJSON(w, http.StatusOK, map[string]any{"enabled": false})
		return
	}
	st, err := a.print.state()
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	jobs, err := a.store.PrintJobs(100)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	if jobs == nil {
		jobs = []queue.PrintJob{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"enabled": true, "printer": st, "jobs": jobs})
}

// handlePrinterTest prints a test page at once (not through the queue) and
// answers whether the printer confirmed it.
func (a *Agent) handlePrinterTest(w http.ResponseWriter, r *http.Request, p *Principal) {
	if a.print == nil {
		writeProblem(w, Problem{Type: problemConflict, Title: "No printer", Status: http.StatusConflict,
			Detail: "this unit has no receipt printer configured ([printer] enabled = false)"})
		return
	}
	job, err := a.print.layout.TestPage(receipt.TestInfo{Unit: a.cfg.Device.Serial, Port: a.print.port, Time: a.time.Wall()})
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	err = a.print.usePrinter(func() error { return a.print.drv.Print(r.Context(), job.Chunks(4096)) })
	if a.print.logFault(a.log, err, "test page: egsd failed while printing it") {
		err = fmt.Errorf("egsd failed while printing the test page (%v); the log has the details", err.(*printerFault).value)
	}
	if aerr := a.store.Audit(queue.AuditEntry{Actor: p.User, ActorKind: p.Actor().Kind, Action: queue.AuditPrint, Subject: "test_page",
		Details: map[string]string{"ok": fmt.Sprint(err == nil)}}); aerr != nil {
		a.log.Error().Err(aerr).Msg("audit test page")
	}
	if err != nil {
		status := http.StatusServiceUnavailable
		if !errors.Is(err, printer.ErrNotReady) {
			status = http.StatusBadGateway
		}
		writeProblem(w, Problem{Type: problemUnavailable, Title: "Test page not printed", Status: status, Detail: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"printed": true, "bytes": len(job.Bytes), "qr_payload_lengths": qrLengths(job.QRs)})
}

func qrLengths(qrs []string) []int {
	n := make([]int, len(qrs))
	for i, q := range qrs {
		n[i] = len(q)
	}
	return n
}

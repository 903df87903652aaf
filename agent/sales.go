package agent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/egsd/egsd/device"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

const incidentClock = "clock"

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 128

// IssueError is a sale the pipeline refused; Problem says why.
type IssueError struct{ Problem Problem }

func (e *IssueError) Error() string { return e.Problem.Detail }

// Issue runs the issue pipeline for an already-read sale body, issued by
// user with a cashier's rights: see IssueAs.
func (a *Agent) Issue(ctx context.Context, user, key string, body []byte) (*queue.Record, bool, error) {
	return a.IssueAs(ctx, &Principal{User: user, Role: RoleCashier}, key, body)
}

// IssueAs runs the issue pipeline for an already-read sale body, issued by
// p: decode and validate (sale model and regime rules; a note's reference,
// notes.go), then one store transaction that checks a note against its
// original, stamps, journals, chains, queues and audits the document. It
// returns the record and whether it is an idempotent replay.
func (a *Agent) IssueAs(ctx context.Context, p *Principal, key string, body []byte) (*queue.Record, bool, error) {
	if prob, ok := checkIdempotencyKey(key); !ok {
		return nil, false, &IssueError{prob}
	}
	return a.issue(ctx, p, key, body, 0)
}

// issue is IssueAs; corrective, when not zero, makes the sale the
// corrective credit note of that rejected document (no key: the document
// is its key).
func (a *Agent) issue(ctx context.Context, p *Principal, key string, body []byte, corrective uint64) (*queue.Record, bool, error) {
	user := p.User
	// A corrective note is its original's stored sale, which names the
	// cash rounding it was issued with, if any: the unit's setting now
	// does not apply to it.
	rounding := a.cashRounding
	if corrective != 0 {
		rounding = money.Decimal{}
	}
	s, err := sale.Decode(body, sale.Options{DefaultCurrency: a.cfg.Regime.Currency, CashRounding: rounding})
	if err == nil && money.Cmp(s.CashRounding, rounding) != 0 && corrective == 0 {
		err = sale.Errors{{Field: "cash_rounding", Rule: fmt.Sprintf(
			"%s is not this unit's cash rounding, %s (sale.cash_rounding in its configuration): leave cash_rounding out, or send %q",
			roundingName(s.CashRounding), roundingName(rounding), roundingName(rounding))}}
	}
	if err == nil {
		err = a.regime.Validate(s)
	}
	var fieldErrs sale.Errors
	if errors.As(err, &fieldErrs) {
		return nil, false, &IssueError{Problem{Type: problemInvalidSale, Title: "Invalid sale", Status: http.StatusBadRequest,
			Detail: fieldErrs.Error(), Errors: fieldErrs}}
	}
	if errors.Is(err, stamping.ErrNotReady) {
		return nil, false, &IssueError{Problem{Type: problemUnavailable, Title: "Unit not ready to issue", Status: http.StatusServiceUnavailable, Detail: err.Error()}}
	}
	if err != nil {
		return nil, false, err
	}
	if refusal, err := a.offlineRefusal(); err != nil || refusal != nil {
		if err != nil {
			return nil, false, err
		}
		return nil, false, refusal
	}
	var late *queue.LateEntry
	if s.Late != nil {
		// A resend of a late entry gets its document back even once the
		// entry would be refused (the incident closed since, the sale
		// became too old): a batch run again finds it issued.
		sum := sha256.Sum256(body)
		res, found, err := a.store.IssuedWithKey(user, key, sum[:])
		if found && err == nil {
			return res.Record, true, nil
		}
		if err != nil && !errors.Is(err, queue.ErrIdempotencyConflict) {
			return nil, false, err
		}
		if late, err = a.planLateEntry(s, p); err != nil {
			return nil, false, err
		}
	}
	if err := a.closeDueShift(ctx); err != nil {
		return nil, false, err
	}
	stored := body
	var note *notePlan
	if s.Kind.IsNote() {
		if note, err = a.planNote(s, p.Role, corrective); err != nil {
			return nil, false, err
		}
		// The document, the receipt and the stored sale name the original
		// the same way: by its number.
		s.Original = note.number
		if stored, err = noteSale(body, note); err != nil {
			return nil, false, err
		}
	}
	if !rounding.IsZero() {
		// The stored sale names the rounding it was issued with, so that
		// its receipt, and the notes checked against it, come to the same
		// totals after sale.cash_rounding changes.
		if stored, err = withSaleFields(stored, map[string]any{"cash_rounding": roundingName(rounding)}); err != nil {
			return nil, false, err
		}
	}
	if late != nil {
		// The stored sale names the incident it was entered for, also when
		// the unit found it: the receipt and a reprint say it.
		if stored, err = withSaleFields(stored, map[string]any{"incident": late.Incident}); err != nil {
			return nil, false, err
		}
	}
	id, err := newUUID()
	if err != nil {
		return nil, false, err
	}
	sum := sha256.Sum256(body)
	req := &queue.IssueRequest{
		User: user, IdempotencyKey: key, BodyHash: sum[:], Regime: a.regime.Name(),
		GenesisHash: a.regime.GenesisHash(), Kind: string(s.Kind), UUID: id,
		Submit: true, Sale: stored, Identity: a.identity,
		Stamp: func(slot queue.Slot) (queue.Stamped, error) {
			doc, err := a.regime.Stamp(stamping.Slot(slot), s)
			return queue.Stamped(doc), err
		},
	}
	if note != nil {
		req.Note, req.AuditDetails = note.ref, note.audit
		if pl, ok := a.regime.(stamping.ParentLinked); ok && note.ref != nil && note.ref.Original != 0 {
			orig, err := a.store.Document(note.ref.Original)
			if err != nil {
				return nil, false, err
			}
			req.Stamp = func(slot queue.Slot) (queue.Stamped, error) {
				doc, err := pl.StampNote(stamping.Slot(slot), s, orig.Document, orig.Answer)
				return queue.Stamped(doc), err
			}
		}
	}
	req.Late = late
	if a.print != nil {
		req.Print = queue.PrintNow
		// A document the authority must clear is handed over only once
		// cleared, from the cleared document (spec/zatca.md §6.9).
		if c, ok := a.regime.(stamping.Clearance); ok && a.cfg.Submit.StandardHandover == "cleared" {
			req.HoldPrint = c.NeedsClearance
		}
		// A receipt that carries the authority's signature waits for it;
		// a provisional slip, if configured, is handed over meanwhile.
		if _, ok := a.regime.(stamping.AuthoritySigned); ok {
			req.HoldPrint = func([]byte) bool { return true }
			// An autonomous receipt carries the unit's own sign and prints
			// at once.
			if au, ok := a.regime.(stamping.Autonomous); ok {
				req.HoldPrint = func(doc []byte) bool { return !au.SignedAutonomously(doc) }
			}
			req.ProvisionalSlip = a.cfg.Printer.ProvisionalSlip
		}
	}
	res, err := a.store.Issue(ctx, req)
	var clockErr *queue.ClockError
	switch {
	case errors.As(err, &clockErr):
		a.clockRefused(user, clockErr)
		return nil, false, &IssueError{Problem{Type: problemClock, Title: "Clock error: issuing stopped", Status: http.StatusConflict, Detail: err.Error()}}
	case errors.Is(err, queue.ErrIdempotencyConflict):
		return nil, false, &IssueError{Problem{Type: problemIdempotency, Title: "Idempotency key reused", Status: http.StatusConflict,
			Detail: "Idempotency-Key " + strconv.Quote(key) + " was already used for a different sale; use a new key for a new sale"}}
	case errors.Is(err, queue.ErrRegimeMismatch), errors.Is(err, queue.ErrIdentityMismatch):
		return nil, false, &IssueError{Problem{Type: problemConflict, Title: "Identity mismatch", Status: http.StatusConflict, Detail: err.Error()}}
	case errors.As(err, &fieldErrs):
		// The note does not fit what was issued against its original.
		return nil, false, invalidSale(fieldErrs)
	case errors.Is(err, queue.ErrTooManyNotes):
		return nil, false, invalidSale(sale.Errors{{Field: "original", Rule: err.Error()}})
	case err != nil:
		return nil, false, err
	}
	if id := a.clockIncident.Load(); id != 0 && !res.Replayed && a.clockIncident.CompareAndSwap(id, 0) {
		if err := a.store.CloseIncident(id, "clock back in order; issuing resumed with document "+strconv.FormatUint(res.Record.Counter, 10), "system"); err != nil {
			a.log.Error().Err(err).Uint64("incident", id).Msg("close clock incident")
		}
	}
	if !res.Replayed {
		a.metrics.issued.WithLabelValues(a.regime.Name(), string(s.Kind)).Inc()
		a.disk.wrote()
	}
	if !res.Replayed && a.cfg.Submit.Enabled {
		a.submit.Wake()
	}
	if !res.Replayed && a.print != nil {
		a.print.Wake()
	}
	return res.Record, res.Replayed, nil
}

// roundingName is a cash rounding increment as a sale or the
// configuration writes it: "none", "0.05", "0.25" or "1.00".
func roundingName(inc money.Decimal) string {
	if inc.IsZero() {
		return "none"
	}
	return inc.String()
}

// withSaleFields is a sale's JSON body with the top-level fields set to
// the values given: what the unit decided about the sale, kept with it.
func withSaleFields(body []byte, fields map[string]any) ([]byte, error) {
	var s map[string]json.RawMessage
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, err
	}
	for name, v := range fields {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		s[name] = raw
	}
	return json.Marshal(s)
}

// clockRefused records a refused issue: an audit entry every time, and one
// open incident until the clock is right again.
func (a *Agent) clockRefused(user string, ce *queue.ClockError) {
	detail := ce.Error()
	a.log.Error().Str("user", user).Msg(detail)
	if err := a.store.Audit(queue.AuditEntry{Actor: user, ActorKind: queue.ActorUser, Action: queue.AuditClock, Details: map[string]string{"detail": detail}}); err != nil {
		a.log.Error().Err(err).Msg("audit clock refusal")
	}
	title := "System clock earlier than the last document"
	var jump *device.ClockJumpError
	if errors.As(ce, &jump) {
		title = "System clock jumped backwards"
	}
	inc, err := a.store.RaiseIncident(queue.Incident{Kind: incidentClock, Title: title, Detail: detail,
		Data: map[string]string{"last_issued": ce.LastIssued.UTC().Format(time.RFC3339Nano)}}, "system")
	if err != nil {
		a.log.Error().Err(err).Msg("raise clock incident")
		return
	}
	a.clockIncident.Store(inc.ID)
}

func checkIdempotencyKey(key string) (Problem, bool) {
	if key == "" {
		return fieldProblem("Idempotency-Key", "header is required: a unique value per sale (a UUID), resent unchanged when retrying"), false
	}
	if len(key) > MaxIdempotencyKey {
		return fieldProblem("Idempotency-Key", fmt.Sprintf("header must be at most %d characters", MaxIdempotencyKey)), false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return fieldProblem("Idempotency-Key", "header must be printable ASCII without spaces"), false
		}
	}
	return Problem{}, true
}

func (a *Agent) handleSale(w http.ResponseWriter, r *http.Request, p *Principal) {
	if prob, ok := checkJSONMediaType(r); !ok {
		writeProblem(w, prob)
		return
	}
	if prob, ok := checkIdempotencyKey(r.Header.Get("Idempotency-Key")); !ok {
		writeProblem(w, prob)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.API.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeProblem(w, Problem{Type: problemTooLarge, Title: "Sale too large", Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("the body is larger than %d bytes (api.max_body_bytes)", a.cfg.API.MaxBodyBytes)})
		return
	}
	if err != nil {
		writeProblem(w, fieldProblem("body", "could not be read: "+err.Error()))
		return
	}
	rec, replayed, err := a.IssueAs(r.Context(), p, r.Header.Get("Idempotency-Key"), body)
	a.writeIssued(w, r, rec, replayed, err)
}

// writeIssued answers the outcome of an issue: the problem, or the
// document (201, or 200 with Idempotent-Replayed when it was issued
// before).
func (a *Agent) writeIssued(w http.ResponseWriter, r *http.Request, rec *queue.Record, replayed bool, err error) {
	var ie *IssueError
	switch {
	case errors.As(err, &ie):
		writeProblem(w, ie.Problem)
		return
	case err != nil:
		a.internalError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/documents/"+strconv.FormatUint(rec.Counter, 10))
	status := http.StatusCreated
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
		status = http.StatusOK
	}
	writeJSON(w, status, a.viewDocument(rec, true))
}

// DocumentView is a journal record as the API shows it.
type DocumentView struct {
	Counter     uint64          `json:"counter"`
	Number      string          `json:"number,omitempty"` // as printed, e.g. INV-42
	UUID        string          `json:"uuid"`
	Regime      string          `json:"regime"`
	Kind        string          `json:"kind"`
	IssuedAt    time.Time       `json:"issued_at"`
	User        string          `json:"user"`
	PrevHash    string          `json:"prev_hash"`
	Hash        string          `json:"hash"`
	Status      queue.Status    `json:"status"`
	ContentType string          `json:"content_type"`
	Document    []byte          `json:"document,omitempty"` // base64 of the frozen bytes
	Receipt     json.RawMessage `json:"receipt,omitempty"`
	Answer      json.RawMessage `json:"answer,omitempty"` // the authority's answer
	Messages    []string        `json:"messages,omitempty"`
	AnsweredAt  time.Time       `json:"answered_at,omitzero"`
	// Handover says whether the buyer may be given the document: "ready",
	// "awaiting_clearance", or "refused" (rejected by the authority).
	Handover  string    `json:"handover"`
	PrintedAt time.Time `json:"printed_at,omitzero"` // when the printer confirmed the original receipt
	Copies    int       `json:"copies,omitempty"`    // marked copies printed since
	// OriginalCounter is, for a note, the counter of the document of this
	// unit it references.
	OriginalCounter uint64 `json:"original_counter,omitempty"`
	// AuthorityNumber is the number the authority accepted the document
	// under, for a regime whose authority numbers documents itself.
	AuthorityNumber uint64 `json:"authority_number,omitempty"`
}

func (a *Agent) viewDocument(r *queue.Record, withBytes bool) DocumentView {
	v := DocumentView{
		Counter: r.Counter, UUID: r.UUID, Regime: r.Regime, Kind: r.Kind, IssuedAt: r.IssuedAt,
		User: r.User, PrevHash: r.PrevHash, Hash: r.Hash, Status: r.Status, ContentType: r.ContentType,
		Receipt: rawJSON(r.Receipt), Answer: rawJSON(r.Answer), Messages: r.Messages, AnsweredAt: r.AnsweredAt,
		PrintedAt: r.PrintedAt, Copies: r.Copies, Handover: "ready",
		Number: r.Number, OriginalCounter: r.Original, AuthorityNumber: r.AuthorityNumber,
	}
	if c, ok := a.regime.(stamping.Clearance); ok && a.cfg.Submit.StandardHandover == "cleared" && c.NeedsClearance(r.Document) {
		switch r.Status {
		case queue.StatusPending:
			v.Handover = "awaiting_clearance"
		case queue.StatusRejected:
			v.Handover = "refused"
		}
	}
	if withBytes {
		v.Document = r.Document
	}
	return v
}

// rawJSON passes valid JSON through and wraps anything else as a string.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

// lookupDocument finds {id}: a counter or a UUID. Cashiers see only the
// documents they issued.
func (a *Agent) lookupDocument(w http.ResponseWriter, r *http.Request, p *Principal) (*queue.Record, bool) {
	id := r.PathValue("id")
	var rec *queue.Record
	var err error
	if n, perr := strconv.ParseUint(id, 10, 64); perr == nil {
		rec, err = a.store.Document(n)
	} else {
		rec, err = a.store.DocumentByUUID(id)
	}
	if errors.Is(err, queue.ErrNotFound) {
		writeProblem(w, Problem{Type: problemNotFound, Title: "No such document", Status: http.StatusNotFound,
			Detail: "no document has counter or UUID " + strconv.Quote(id)})
		return nil, false
	}
	if err != nil {
		a.internalError(w, r, err)
		return nil, false
	}
	if p.Role == RoleCashier && rec.User != p.User {
		writeProblem(w, Problem{Type: problemForbidden, Title: "Not your document", Status: http.StatusForbidden,
			Detail: "cashiers may read only the documents they issued"})
		return nil, false
	}
	return rec, true
}

func (a *Agent) handleGetDocument(w http.ResponseWriter, r *http.Request, p *Principal) {
	if rec, ok := a.lookupDocument(w, r, p); ok {
		writeJSON(w, http.StatusOK, a.viewDocument(rec, true))
	}
}

// handleGetDocumentContent answers a document's bytes: the frozen issued
// bytes, or with ?form=cleared the authority's cleared document, or with
// ?form=handover what the buyer may be given now (the cleared document of
// one that must be cleared, refused until it is; else the issued one).
func (a *Agent) handleGetDocumentContent(w http.ResponseWriter, r *http.Request, p *Principal) {
	rec, ok := a.lookupDocument(w, r, p)
	if !ok {
		return
	}
	form := r.URL.Query().Get("form")
	switch form {
	case "", "issued":
		w.Header().Set("Content-Type", rec.ContentType)
		w.Header().Set("X-Document-Hash", rec.Hash)
		w.Write(rec.Document)
		return
	case "cleared", "handover":
	default:
		writeProblem(w, Problem{Type: problemInvalidInput, Title: "Invalid form", Status: http.StatusBadRequest,
			Detail: "form: must be issued, cleared or handover, not " + strconv.Quote(form)})
		return
	}
	c, clears := a.regime.(stamping.Clearance)
	needs := clears && c.NeedsClearance(rec.Document)
	if form == "handover" && (!needs || a.cfg.Submit.StandardHandover == "issued") {
		w.Header().Set("Content-Type", rec.ContentType)
		w.Header().Set("X-Document-Hash", rec.Hash)
		w.Write(rec.Document)
		return
	}
	if !needs {
		writeProblem(w, Problem{Type: problemConflict, Title: "Not a cleared document", Status: http.StatusConflict,
			Detail: fmt.Sprintf("document %d is not one the authority clears; its issued form is the one to hand over", rec.Counter)})
		return
	}
	switch rec.Status {
	case queue.StatusPending:
		writeProblem(w, Problem{Type: problemConflict, Title: "Not cleared yet", Status: http.StatusConflict,
			Detail: fmt.Sprintf("document %d waits for clearance by the authority and may not be handed over yet", rec.Counter)})
		return
	case queue.StatusRejected:
		writeProblem(w, Problem{Type: problemConflict, Title: "Rejected by the authority", Status: http.StatusConflict,
			Detail: fmt.Sprintf("document %d was rejected and must not be handed over; issue a corrective credit note", rec.Counter)})
		return
	}
	doc, _, ok, err := c.Cleared(rec.Answer)
	if err != nil {
		a.internalError(w, r, fmt.Errorf("document %d: %w", rec.Counter, err))
		return
	}
	if !ok { // clearance was off: the document was reported, and stands as issued
		doc = rec.Document
	}
	w.Header().Set("Content-Type", rec.ContentType)
	w.Header().Set("X-Document-Hash", rec.Hash)
	w.Header().Set("X-Cleared", strconv.FormatBool(ok))
	w.Write(doc)
}

func (a *Agent) handleListDocuments(w http.ResponseWriter, r *http.Request, p *Principal) {
	since, limit, ok := queryPage(w, r)
	if !ok {
		return
	}
	withBytes := r.URL.Query().Get("include") == "document"
	var status queue.Status
	if s := r.URL.Query().Get("status"); s != "" && status.UnmarshalText([]byte(s)) != nil {
		writeProblem(w, fieldProblem("status", "must be pending, accepted, accepted_with_warnings or rejected"))
		return
	}
	keep := func(rec *queue.Record) bool {
		return (p.Role != RoleCashier || rec.User == p.User) && (status == 0 || rec.Status == status)
	}
	recs, next, err := a.store.Documents(since, limit, keep)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	views := make([]DocumentView, len(recs))
	for i, rec := range recs {
		views[i] = a.viewDocument(rec, withBytes)
	}
	out := map[string]any{"documents": views}
	if next != 0 {
		out["next"] = next
	}
	writeJSON(w, http.StatusOK, out)
}

// Status is the unit's state as GET /v1/status reports it.
type Status struct {
	// State is derived from the facts below (see unitState): ready,
	// offline, submission_paused, disk_space_low, disk_full, clock_error
	// or not_onboarded.
	State string `json:"state"`
	// Issuing says whether a sale can be issued now.
	Issuing bool `json:"issuing"`
	// StateDetail says what the state means and what to do; empty when
	// ready.
	StateDetail string `json:"state_detail,omitempty"`

	Version    string            `json:"version"`
	DeviceID   string            `json:"device_id"`
	Regime     string            `json:"regime"`
	StampMode  string            `json:"stamp_mode"`
	Counter    uint64            `json:"counter"`
	LastHash   string            `json:"last_hash,omitempty"`
	LastIssued time.Time         `json:"last_issued,omitzero"`
	Outbox     queue.OutboxStats `json:"outbox"`
	Incidents  []queue.Incident  `json:"open_incidents"`
	Started    time.Time         `json:"started"`
	Submission SubmissionState   `json:"submission"`
	// Rejected counts the documents the authority rejected and those still
	// without the credit note that corrects them, and lists the newest.
	Rejected RejectedSummary `json:"rejected"`
	// AuthorityNumbers is where the authority's own numbering of the
	// unit's documents stands (KRA's invcNo), for a regime whose authority
	// numbers them; nil otherwise.
	AuthorityNumbers *AuthorityNumbers `json:"authority_numbers,omitempty"`
	// Printer is the receipt printer's state and queue; nil without one.
	Printer *PrinterState `json:"printer,omitempty"`
	// Disk is the free space on the disk that holds the data directory;
	// nil where the platform cannot tell.
	Disk *DiskStatus `json:"disk,omitempty"`
	// Onboarding is where the unit stands with the authority's
	// registration, with a warning before the certificate expires; nil for
	// regimes without onboarding.
	Onboarding *OnboardingSummary `json:"onboarding,omitempty"`
	// Deadline measures the oldest pending document against the time the
	// regime allows for its delivery; nil for a regime without a limit.
	Deadline *DeliveryDeadline `json:"delivery_deadline,omitempty"`
	// Archive is where the copy to the off-site archive stands; nil when
	// [archive] is off.
	Archive *ArchiveState `json:"archive,omitempty"`
	// RSSBytes is the agent's resident memory (Linux; 0 elsewhere), and
	// RSSAnonBytes the part of it that is not file pages: the store's file
	// pages are page cache the agent releases every 250 ms.
	RSSBytes     uint64 `json:"rss_bytes,omitempty"`
	RSSAnonBytes uint64 `json:"rss_anon_bytes,omitempty"`
}

// AuthorityNumbers is the status of the authority's numbering: the number
// the authority expects next, and the document that holds it while its
// answer is outstanding.
type AuthorityNumbers struct {
	Next     uint64          `json:"next"`
	InFlight *NumberInFlight `json:"in_flight,omitempty"`
}

// NumberInFlight is a document holding the authority's next number: sent,
// or about to be, without a final answer yet.
type NumberInFlight struct {
	Counter uint64    `json:"counter"`
	Number  uint64    `json:"number"`
	Since   time.Time `json:"since"`
}

// Status returns the unit's state.
func (a *Agent) Status() (Status, error) {
	id, err := a.store.Identity()
	if err != nil {
		return Status{}, err
	}
	head, err := a.store.Head()
	if err != nil {
		return Status{}, err
	}
	ob, err := a.store.OutboxStats()
	if err != nil {
		return Status{}, err
	}
	incs, err := a.store.Incidents(true, 100)
	if err != nil {
		return Status{}, err
	}
	if incs == nil {
		incs = []queue.Incident{}
	}
	st := Status{Version: a.version, DeviceID: id.DeviceID, Regime: a.regime.Name(),
		StampMode: a.regime.Mode().String(), Counter: head.Counter, LastHash: head.Hash,
		LastIssued: head.LastIssued, Outbox: ob, Incidents: incs, Started: a.started, Submission: a.submit.State()}
	st.RSSBytes, st.RSSAnonBytes = residentBytes()
	st.Deadline = deliveryDeadline(a.regime, ob, a.time.Wall())
	if st.Onboarding, err = a.onboardingSummary(); err != nil {
		return Status{}, err
	}
	if a.print != nil {
		ps, err := a.print.state()
		if err != nil {
			return Status{}, err
		}
		st.Printer = &ps
	}
	if st.Rejected, err = a.rejectedSummary(); err != nil {
		return Status{}, err
	}
	if st.Archive, err = a.archiveState(head.Counter); err != nil {
		return Status{}, err
	}
	if _, ok := a.regime.(stamping.Numbered); ok {
		seq, err := a.store.AuthoritySequence()
		if err != nil {
			return Status{}, err
		}
		st.AuthorityNumbers = &AuthorityNumbers{Next: seq.Next}
		if seq.Holder != 0 {
			st.AuthorityNumbers.InFlight = &NumberInFlight{Counter: seq.Holder, Number: seq.Next, Since: seq.AssignedAt}
		}
	}
	facts := unitFacts{clockError: a.clockIncident.Load() != 0, paused: st.Submission.Paused,
		failingSince: st.Submission.FailingSince, lastDelivery: st.Submission.LastError}
	if r, ok := a.regime.(stamping.Readiness); ok {
		facts.notReady = r.Ready()
	}
	for _, inc := range incs {
		if inc.Kind == incidentOutage {
			facts.outage, facts.outageStarted = inc.ID, inc.Start
		}
	}
	if ds := a.disk.check(); ds.Err == nil {
		st.Disk = &DiskStatus{DataDir: a.cfg.DataDir, FreeBytes: ds.Free, MinFreeBytes: ds.Min, Low: ds.Low, Full: ds.Full}
		facts.diskFull, facts.diskLow = ds.Full, ds.Low
		if ds.Full || ds.Low {
			facts.diskDetail = a.disk.detail(ds)
		}
	}
	st.State, st.Issuing, st.StateDetail = unitState(facts)
	return st, nil
}

func (a *Agent) handleStatus(w http.ResponseWriter, r *http.Request, p *Principal) {
	st, err := a.Status()
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// newUUID returns a random (version 4) UUID.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// residentBytes reads the process's resident set and its anonymous part
// from /proc (zero where there is no /proc).
func residentBytes() (rss, anon uint64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var kb uint64
		fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(value), " kB"), &kb)
		switch name {
		case "VmRSS":
			rss = kb << 10
		case "RssAnon":
			anon = kb << 10
		}
	}
	return rss, anon
}

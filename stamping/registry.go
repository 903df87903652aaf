// Package stamping turns a validated sale into a fiscal document. It holds
// the regime seam (Regime, Register, New) and, in sub-packages, the
// regime-neutral pieces (money, sale) and one package per regime.
//
// A regime either stamps locally at issue time (ZATCA: the device signs with
// its own key) or remotely at submission (eTIMS, OFD: the authority's
// signature arrives later and is recorded in the journal). Both kinds build
// the document inside the store's issue transaction, from a Slot that fixes
// its counter, previous hash, UUID and time; neither touches storage or the
// printer.
package stamping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/egsd/egsd/stamping/sale"
)

// Mode says when a regime's documents receive their fiscal stamp. Stored
// values have explicit numbers.
type Mode int

const (
	// StampLocal regimes sign at issue time; the stored document is final.
	StampLocal Mode = 1
	// StampRemote regimes get the authority's signature at submission; the
	// journal records it as the document's Answer.
	StampRemote Mode = 2
)

func (m Mode) String() string {
	switch m {
	case StampLocal:
		return "local"
	case StampRemote:
		return "remote"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Slot is the place in the one chain that a document is issued into. The
// store fixes it inside the issue transaction.
type Slot struct {
	Counter  uint64    // 1, 2, 3, … with no gaps
	PrevHash string    // Hash of document Counter-1, or the regime's GenesisHash
	UUID     string    // random, lower-case RFC 4122 form
	IssuedAt time.Time // never earlier than the previous document's
}

// Document is a stamped (or, for StampRemote, ready-to-submit) document.
type Document struct {
	// Bytes are frozen: they are stored, hashed, submitted and printed from
	// exactly as they are. Nothing re-serialises a stored document.
	Bytes []byte
	// ContentType is the media type of Bytes, e.g. application/xml.
	ContentType string
	// Hash chains the next document to this one (ZATCA: the invoice hash,
	// which becomes the next document's PIH).
	Hash string
	// Receipt is what the printer needs that only the regime knows: a
	// ReceiptInfo as JSON; may be nil.
	Receipt []byte
	// Number is the document's number as printed and as the authority
	// knows it (ZATCA: cbc:ID, "INV-42"); empty for a regime without one.
	// Notes may name the document they correct by it.
	Number string
	// Archive is the document's first signed archive record, for a regime
	// that keeps one (Kazakhstan); the store keeps it with the document.
	Archive []byte
}

// ReceiptInfo is a regime's part of a printed receipt: the document's
// number, title, time, totals as written in the document, and the QR
// payload. The agent adds the seller, the lines and the VAT breakdown from
// the sale, whose totals the regime's document was built from.
type ReceiptInfo struct {
	Number     string `json:"invoice_number"`
	Title      string `json:"title,omitempty"`       // e.g. "Simplified Tax Invoice"
	TitleLocal string `json:"title_local,omitempty"` // the title in the country's language
	Simplified bool   `json:"simplified"`
	Timestamp  string `json:"timestamp"` // as written in the document
	Total      string `json:"total"`     // payable, tax inclusive
	VAT        string `json:"vat"`
	QR         string `json:"qr"`
	// TaxNumberLabel names the seller's and the buyer's tax numbers on the
	// receipt ("KRA PIN"); empty means "VAT No".
	TaxNumberLabel string `json:"tax_number_label,omitempty"`
	// Fields are facts of the regime printed, labelled, under the
	// document's number and date (eTIMS: the SCU ID, the CU invoice
	// number, the control unit's signature).
	Fields []ReceiptField `json:"fields,omitempty"`
	// TaxTable, when set, is printed in place of the VAT breakdown by
	// category: the regime's own table (eTIMS: bands B, E, C, D, A and a
	// total).
	TaxTable []ReceiptField `json:"tax_table,omitempty"`
	// LineDetails, when set, are rows printed under each line of the
	// sale, in its order (Kazakhstan: the НКТ code, quantity, unit and
	// price).
	LineDetails [][]string `json:"line_details,omitempty"`
}

// ReceiptField is one labelled row a regime adds to a receipt.
type ReceiptField struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Clearance is implemented by regimes some of whose documents the authority
// must clear before the buyer may have them (ZATCA standard invoices,
// spec/zatca.md §6.9): the agent prints and hands those over only from the
// authority's answer.
type Clearance interface {
	// NeedsClearance reports whether the stored document must be cleared.
	NeedsClearance(doc []byte) bool
	// Cleared returns the cleared document in the authority's stored
	// answer and its receipt. ok is false when the answer carries none
	// (ZATCA answered 303 and the document was reported instead): the
	// issued document stands.
	Cleared(answer []byte) (doc []byte, info ReceiptInfo, ok bool, err error)
}

// Outcome classes of a submission (design.md §4). Stored values.
type Outcome int

const (
	Accepted             Outcome = 1 // the authority took the document
	AcceptedWithWarnings Outcome = 2 // taken, with warnings to show the manager
	Duplicate            Outcome = 3 // already taken earlier; Answer holds the stored result where available
	Rejected             Outcome = 4 // refused: the slot stays consumed, the manager is told
	Retryable            Outcome = 5 // no answer or a transient error: retry the identical payload later
	CredentialError      Outcome = 6 // credentials refused: stop submitting, raise an incident
)

func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case AcceptedWithWarnings:
		return "accepted_with_warnings"
	case Duplicate:
		return "duplicate"
	case Rejected:
		return "rejected"
	case Retryable:
		return "retryable"
	case CredentialError:
		return "credential_error"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Submission is what the outbox hands a regime to deliver.
type Submission struct {
	Slot     Slot
	Document []byte
	Hash     string // the document's chain hash (ZATCA: the invoice hash)
	Attempt  int    // 1 for the first attempt
	// OriginalNumber is, for a note that corrects a document of this unit,
	// the number the authority accepted that document under (Numbered
	// regimes: KRA's invcNo, a credit note's orgInvcNo); 0 otherwise, and
	// 0 when the authority never accepted the original.
	OriginalNumber uint64
}

// Result is a regime's classified answer to a submission.
type Result struct {
	Outcome Outcome
	// Answer is the authority's full answer, stored in the journal as is
	// (for StampRemote regimes it carries the fiscal signature).
	Answer []byte
	// Messages are the authority's errors or warnings, for the manager.
	Messages []string
	// RetryAfter is the authority's requested delay, zero when it gave none.
	RetryAfter time.Duration
	// Archive, for a regime that keeps signed archive records
	// (Kazakhstan), is the record of the answered document, stored with
	// the answer in one commit.
	Archive []byte
}

// Regime is one tax authority's rules. Implementations must be safe for
// concurrent use; Stamp is called from the store's single writer.
type Regime interface {
	// Name is the name the regime was registered under.
	Name() string
	// Mode says whether documents are stamped locally or by the authority.
	Mode() Mode
	// GenesisHash is the PrevHash of the first document of a unit.
	GenesisHash() string
	// Validate applies the regime's rules to a sale before anything is
	// stored. It returns sale.Errors naming each field and rule.
	Validate(s *sale.Sale) error
	// Stamp builds the document for s in slot. It must not do I/O or take
	// long: it runs inside the issue transaction. An error leaves the
	// counter unchanged.
	Stamp(slot Slot, s *sale.Sale) (Document, error)
	// Rehash recomputes Hash from stored document bytes; the store's check
	// uses it to prove the stored bytes are the hashed bytes.
	Rehash(doc []byte) (string, error)
	// Submit delivers one document to the authority and classifies the
	// answer. It is called again with the identical payload after a
	// Retryable outcome.
	Submit(ctx context.Context, sub Submission) Result
}

// ErrNotReady is returned (wrapped) by a regime that cannot stamp yet, for
// example a ZATCA unit without its certificate before onboarding. The agent
// answers 503 with the regime's message.
var ErrNotReady = errors.New("the unit cannot issue documents yet")

// ErrIdentityChanged is returned (wrapped) by a regime's factory when the
// unit's credentials belong to another identity than the configuration's
// (a ZATCA certificate issued for another VAT number): the unit's
// documents cannot continue under the new one. The agent refuses to start
// and audits it.
var ErrIdentityChanged = errors.New("the configuration names another identity than the unit's credentials")

// OptionError is a regime option ([regime.options]) that the regime
// cannot use: an unknown key, a value of the wrong type, or one out of
// range. The agent adds the option's line in the configuration file.
type OptionError struct {
	Option string // the key within [regime.options], e.g. "phase"
	Rule   string // what is wrong, e.g. "must be 1 or 2, not 3"
}

func (e *OptionError) Error() string { return "regime.options." + e.Option + ": " + e.Rule }

// Readiness is implemented by regimes that cannot stamp in some states (a
// ZATCA unit before onboarding). Ready returns nil when the regime can
// stamp, else why not, wrapping ErrNotReady; the agent's status reports it.
type Readiness interface {
	Ready() error
}

// Deadlined is implemented by regimes whose authority must have every
// document within a fixed time of its issue (ZATCA Phase 2: simplified
// documents reported within 24 hours, spec/zatca.md §6.8). DeliveryDeadline
// returns that time, or 0 when this unit has none; the agent's status
// measures the oldest pending document against it.
type Deadlined interface {
	DeliveryDeadline() time.Duration
}

// Ordered is implemented by regimes some of whose documents must reach the
// authority strictly in issue order (ZATCA clearance of standard invoices).
// The submission worker sends those one at a time and does not pass one
// that has not gone through.
type Ordered interface {
	InOrder(doc Submission) bool
}

// AllOrdered is implemented by Ordered regimes every document of which goes
// in issue order (the Kazakh OFD): once one is held back, the submission
// worker reads none of the later ones, which could not go anyway. A
// backlog of thousands then costs a round one read, not thousands.
type AllOrdered interface {
	Ordered
	AllInOrder() bool
}

// AuthoritySigned is implemented by StampRemote regimes whose fiscal receipt
// carries the authority's signature (KRA's rcptSign and intrlData): the
// agent holds a document's receipt until the authority has accepted it and
// prints it from the stored answer, never from the issued document alone.
type AuthoritySigned interface {
	// Signed reads the receipt facts (the authority's signature, its
	// receipt numbers, the QR) out of a stored accepted answer. The
	// fields it leaves empty are taken from the issued document's
	// ReceiptInfo.
	Signed(answer []byte) (ReceiptInfo, error)
}

// OfflineLimited is implemented by regimes whose units may issue for a
// limited time only while the authority signs nothing (KRA's VSCU):
// CheckOffline returns why issuing must stop, or nil. waitingSince is
// when the unit last heard from the authority, or, if later, when the
// oldest document still waiting for it was issued; the agent does not
// call it while nothing waits.
type OfflineLimited interface {
	CheckOffline(waitingSince, now time.Time) error
}

// Numbered is implemented by StampRemote regimes whose authority numbers the
// documents it accepts in a gap-free sequence of its own (KRA's invcNo),
// given to a document only when it is submitted. The agent then submits
// strictly in issue order with one request in flight, and keeps the
// sequence in its store: a document's number is assigned and on disk before
// the request goes out, committed with an accepted (or duplicate) answer,
// released by a rejection so that the next document takes it, and kept
// across a retryable failure or a crash. Submit is not called for such a
// regime; SubmitNumbered is.
type Numbered interface {
	AuthoritySigned
	// SubmitNumbered delivers sub as the authority's number n. resend is
	// true when n was given to this document before, in an attempt whose
	// outcome is unknown (a timeout, a lost connection, a crash before or
	// after the request went out): the regime must first look n up at the
	// authority and take the answer it finds, and never blindly send n
	// twice.
	//
	// The outcome decides the number's fate: Accepted, AcceptedWithWarnings
	// and Duplicate commit it (Duplicate only when the authority holds n
	// for this very document; Answer must then carry its signature);
	// Rejected releases it, so the regime must answer Rejected only when it
	// knows the authority did not take n (a refusal it received, not a
	// timeout); Retryable and CredentialError keep it for the next attempt.
	SubmitNumbered(ctx context.Context, sub Submission, n uint64, resend bool) Result
}

// Onboarder is implemented by regimes whose units must be registered with
// the authority before they can issue or submit documents (ZATCA: CSR,
// compliance CSID, compliance checks, production CSID). Onboarding is a
// resumable state machine whose state the regime encodes as bytes and the
// caller keeps (the agent stores it in the store), so that a crash, a lost
// connection or a failed step resumes where it stopped instead of starting
// over.
//
// The contract of Onboard:
//
//   - state is what save last received, or nil before the first run;
//   - after every step that completes (and before a request whose outcome
//     must not be forgotten is sent), Onboard passes the whole new state to
//     save and does not start the next step until save has returned nil. If
//     save fails, Onboard stops and returns that error (wrapped): the step's
//     result is lost as if the unit had crashed, and the next run resumes
//     from the state last saved;
//   - a step that fails is recorded too: Onboard saves the state with the
//     failure (OnboardingStatus then reports it) and returns an
//     *OnboardingStepError. What must not be reused after a failure is
//     dropped from that state: a request for a CSID that failed gets a fresh
//     CSR next time (spec/zatca.md §4.4);
//   - an *OnboardingInputError means the request or the configuration cannot
//     start the next step; nothing was sent and nothing saved;
//   - ErrNoOnboarding (wrapped) means this unit has nothing to onboard, and
//     ErrOnboardingConflict (wrapped) that the request does not fit the
//     unit's onboarding (renewing a unit that was never onboarded, onboarding
//     one that already is).
//
// Callers run one Onboard at a time per unit. On success the regime uses its
// new certificate and credentials at once: the next document is stamped and
// submitted with them, without a restart.
//
// OnboardingStatus describes a state without secrets, so that it may be
// shown to anyone allowed to see the unit's status; now decides whether the
// certificate is due for renewal. It never fails: an unreadable state is
// reported as a failed one.
type Onboarder interface {
	Onboard(ctx context.Context, req OnboardRequest, state []byte, save func(state []byte) error) error
	OnboardingStatus(state []byte, now time.Time) OnboardingStatus
}

// OnboardRequest is what a technician gives to onboard a unit or renew its
// certificate. It prints and marshals without the OTP.
type OnboardRequest struct {
	// OTP is the one-time password from the authority's portal. It is
	// needed only by the steps that request a certificate.
	OTP string
	// Renew asks for a new certificate for a unit that is onboarded,
	// instead of a first onboarding.
	Renew bool
}

// String describes r without its OTP.
func (r OnboardRequest) String() string {
	otp := "unset"
	if r.OTP != "" {
		otp = "[redacted]"
	}
	return fmt.Sprintf("stamping.OnboardRequest{OTP: %s, Renew: %t}", otp, r.Renew)
}

// Format prints String for every verb, so that no verb prints the OTP.
func (r OnboardRequest) Format(f fmt.State, _ rune) { io.WriteString(f, r.String()) }

// GoString is String, for %#v.
func (r OnboardRequest) GoString() string { return r.String() }

// MarshalJSON writes Renew only: the OTP never leaves in JSON.
func (r OnboardRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Renew bool `json:"renew"`
	}{r.Renew})
}

// Onboarding states every regime shares. Between not_started and done each
// regime has its own states (ZATCA: csr_ready, compliance_csid,
// compliance_checked, production_csid). The names are stable: they are
// shown by the API and written to the audit log.
const (
	OnboardingNotStarted = "not_started"
	OnboardingDone       = "done"
	OnboardingFailed     = "failed"
	// OnboardingNotNeeded is the state of a unit whose configuration needs
	// no onboarding (ZATCA Phase 1); Onboard returns ErrNoOnboarding.
	OnboardingNotNeeded = "not_needed"
)

// RenewalWindow is how long before its certificate expires a unit is due
// for renewal.
const RenewalWindow = 30 * 24 * time.Hour

// OnboardingStatus is where a unit's onboarding stands. It holds no secret.
type OnboardingStatus struct {
	// State is OnboardingNotStarted, one of the regime's own states,
	// OnboardingDone, OnboardingFailed or OnboardingNotNeeded.
	State string `json:"state"`
	// Step is the step that runs next: after a failure, the step that
	// failed. Empty when done.
	Step string `json:"step,omitempty"`
	// Completed are the states reached so far, in order.
	Completed []string `json:"completed,omitempty"`
	// Renewal is set while (or once) the run is a renewal.
	Renewal bool `json:"renewal,omitempty"`
	// Summary says in one line what the state means.
	Summary string `json:"summary,omitempty"`
	// LastError is why Step failed; Messages are the authority's own
	// messages, when it answered.
	LastError string    `json:"last_error,omitempty"`
	Messages  []string  `json:"messages,omitempty"`
	FailedAt  time.Time `json:"failed_at,omitzero"`
	// NotAfter is when the unit's certificate expires (zero without one),
	// and RenewalDue is set from RenewalWindow before that on.
	NotAfter   time.Time `json:"not_after,omitzero"`
	RenewalDue bool      `json:"renewal_due,omitempty"`
}

// RenewalDueAt reports whether a certificate that expires at notAfter is
// due for renewal at now.
func RenewalDueAt(notAfter, now time.Time) bool {
	return !notAfter.IsZero() && !now.Before(notAfter.Add(-RenewalWindow))
}

// ErrNoOnboarding is returned (wrapped) by Onboard when the unit, as
// configured, has nothing to onboard (ZATCA Phase 1).
var ErrNoOnboarding = errors.New("this unit has no onboarding")

// ErrOnboardingConflict is returned (wrapped) by Onboard when the request
// does not fit the unit's onboarding: a renewal of a unit that was never
// onboarded, a first onboarding of one that is, or a renewal requested
// while a first onboarding is unfinished (and the reverse). The message
// says what to do instead.
var ErrOnboardingConflict = errors.New("onboarding conflict")

// OnboardingInputError is returned by Onboard when the request or the
// unit's configuration cannot start the next step. Nothing was sent to the
// authority and nothing was saved.
type OnboardingInputError struct {
	// Config is set when the configuration must change (Errors then name
	// configuration keys such as "regime.options.location"); otherwise the
	// request must (Errors name its fields, such as "otp").
	Config bool
	Errors sale.Errors
}

func (e *OnboardingInputError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = fe.Error()
	}
	what := "invalid onboarding request: "
	if e.Config {
		what = "the configuration cannot onboard the unit: "
	}
	return what + strings.Join(parts, "; ")
}

// OnboardingStepError is returned by Onboard when a step failed. The failure
// was saved with the state (unless saving failed too, which the message
// then says), so OnboardingStatus reports it and the next run retries the
// step.
type OnboardingStepError struct {
	Step     string   // the step that failed
	Messages []string // the authority's messages, when it answered
	Err      error
}

func (e *OnboardingStepError) Error() string {
	return "onboarding step " + e.Step + " failed: " + e.Err.Error()
}
func (e *OnboardingStepError) Unwrap() error { return e.Err }

// Config is what a regime factory gets from the agent's configuration.
type Config struct {
	Seller Seller
	Device Device
	// DataDir is the unit's data directory, where a regime keeps its keys
	// and credentials (0700).
	DataDir string
	// Decode decodes the regime's own configuration table ([regime.<name>])
	// strictly into v; it is never nil.
	Decode func(v any) error
	// Event records something the audit log must show, such as a key
	// generated on the device; nil discards events.
	Event func(action string, details map[string]string)
	// Now is the unit's wall clock (the one its documents are dated by);
	// nil means time.Now.
	Now func() time.Time
}

// Seller is the taxpayer the unit issues documents for.
type Seller struct {
	Name      string
	NameLocal string // the name in the local language (Arabic for ZATCA)
	VATNumber string
	Address   sale.Address
	// IDScheme and ID are an additional seller identification (ZATCA: CRN).
	IDScheme string
	ID       string
}

// Device identifies the unit.
type Device struct {
	Serial string
	Model  string
}

// Factory creates a configured Regime.
type Factory func(cfg Config) (Regime, error)

var (
	mu       sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a regime available by name. It is called from the regime
// package's init and panics on a nil factory or a duplicate name, since
// either is a programming error that must fail at start-up.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if f == nil {
		panic("stamping: Register of " + name + " with a nil factory")
	}
	if _, dup := registry[name]; dup {
		panic("stamping: Register called twice for regime " + name)
	}
	registry[name] = f
}

// Names lists the registered regimes, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New creates the regime registered as name.
func New(name string, cfg Config) (Regime, error) {
	mu.RLock()
	f := registry[name]
	mu.RUnlock()
	if f == nil {
		return nil, fmt.Errorf("unknown regime %q; this build has %v", name, Names())
	}
	if cfg.Decode == nil {
		cfg.Decode = func(any) error { return nil }
	}
	if cfg.Event == nil {
		cfg.Event = func(string, map[string]string) {}
	}
	r, err := f(cfg)
	if err != nil {
		return nil, fmt.Errorf("regime %s: %w", name, err)
	}
	if r.Name() != name {
		panic(fmt.Sprintf("stamping: regime registered as %q calls itself %q", name, r.Name()))
	}
	return r, nil
}

// Sessioned is implemented by StampRemote regimes that talk to the
// authority in a session whose state must survive a restart and be stored
// atomically with each answer it came with (the Kazakh OFD: the TOKEN it
// issued last, the REQNUM, the request in flight). The agent keeps the
// session in its store; Submit is not called for such a regime, and its
// documents go strictly in issue order, one request in flight.
type Sessioned interface {
	// LoadSession gives the regime its stored session: at start, and
	// again whenever the agent could not store the session a submission
	// returned, so that the regime goes on from what is on disk. nil
	// means none has been stored yet.
	LoadSession(session []byte) error
	// SubmitSession delivers sub. Before a new request goes out it calls
	// save with the session that holds it, and sends nothing unless save
	// returns nil. It returns the result and the session to store with
	// it: in the same transaction as a final answer, alone otherwise.
	// next, when not nil, is the document that goes after sub: with a
	// final answer the regime may begin its request at once, so that the
	// session stored with the answer already holds it and it needs no
	// commit of its own before it is sent.
	SubmitSession(ctx context.Context, sub Submission, next *Submission, save func(session []byte) error) (Result, []byte)
}

// Autonomous is implemented by regimes whose units go on issuing with a
// sign of their own while the authority is unreachable (the Kazakh
// autonomous mode): such a document's receipt prints at once, marked,
// while its delivery waits.
type Autonomous interface {
	// SignedAutonomously reports whether the stored document carries the
	// unit's autonomous sign.
	SignedAutonomously(doc []byte) bool
}

// JournalEntry is one stored document as a regime rebuilds its state from
// the journal.
type JournalEntry struct {
	Counter  uint64
	Kind     string
	Document []byte
	IssuedAt time.Time
	// Waiting is set while the document has not been answered.
	Waiting bool
}

// Resumable is implemented by regimes that keep state derived from the
// documents they stamped (the Kazakh shift and its totals): at start the
// agent hands them the journal from the last document of kind ShiftClose
// on (or from the first document), in issue order, and of the documents
// still waiting for the authority the oldest and, for an Autonomous
// regime, the oldest and the newest signed autonomously, in issue order.
type Resumable interface {
	Resume(shift []JournalEntry, waiting []JournalEntry) error
}

// ShiftClose is the kind of the document that closes a shift (the Kazakh
// CLOSE_SHIFT with its Z report).
const ShiftClose = "shift_close"

// Shifts is implemented by regimes whose documents are grouped in shifts
// that a manager closes with a Z report (Kazakhstan). The close is a
// document of kind ShiftClose in the chain, so that it reaches the
// authority in order after the shift's documents.
type Shifts interface {
	// StampShiftClose builds the document that closes the open shift; it
	// fails, wrapping ErrNoShift, when no shift is open.
	StampShiftClose(slot Slot, operator string) (Document, error)
	// Shift describes the open shift (the X report) at now.
	Shift(now time.Time) (ShiftReport, error)
	// ShiftDue reports whether the open shift must be closed before a
	// document is issued at now (the legal length of a shift).
	ShiftDue(now time.Time) bool
}

// ErrNoShift is returned (wrapped) when a shift must be open and is not.
var ErrNoShift = errors.New("no shift is open")

// ShiftReport is a shift's X or Z report as the API shows it: its number,
// when it opened (and closed), its documents, and sums per operation and
// VAT rate, amounts as strings in the currency's unit.
type ShiftReport struct {
	Number     uint32           `json:"number"`
	Open       bool             `json:"open"`
	OpenedAt   time.Time        `json:"opened_at,omitzero"`
	ClosedAt   time.Time        `json:"closed_at,omitzero"`
	Documents  uint32           `json:"documents"`
	Autonomous uint32           `json:"autonomous"`
	Operations []ShiftOperation `json:"operations"`
	Taxes      []ShiftTax       `json:"taxes,omitempty"`
	Cash       string           `json:"cash"`
	Revenue    string           `json:"revenue"`
}

// ShiftOperation is one operation's tickets in a shift.
type ShiftOperation struct {
	Operation string `json:"operation"`
	Tickets   uint32 `json:"tickets"`
	Total     string `json:"total"`
}

// ShiftTax is the VAT of one rate in a shift, sales less returns.
type ShiftTax struct {
	Rate     string `json:"rate"`
	Turnover string `json:"turnover"`
	VAT      string `json:"vat"`
}

// ParentLinked is implemented by regimes whose notes must carry facts of
// their original that only the journal holds (the Kazakh return's parent
// ticket: the fiscal sign the OFD gave it). The agent stamps a note that
// corrects a document of this unit with StampNote, passing the
// original's stored document and answer (nil while unanswered).
type ParentLinked interface {
	StampNote(slot Slot, s *sale.Sale, original, answer []byte) (Document, error)
}

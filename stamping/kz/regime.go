package kz

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/sale"
)

// Name is the regime's name.
const Name = "kz"

// genesisHash is the previous hash of a unit's first document, the
// convention egsd's regimes share.
var genesisHash = func() string {
	sum := sha256.Sum256([]byte("0"))
	return base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(sum[:])))
}()

// ContentType is the media type of a stored Kazakh document: the proto2
// Request of its TICKET or CLOSE_SHIFT, without the service block that
// each sending adds.
const ContentType = "application/x-protobuf; kz-ofd=203"

// ErrAutonomousLimit is returned (wrapped) by CheckOffline after the
// autonomous mode has lasted its legal limit.
var ErrAutonomousLimit = errors.New("Автономный режим превышает 72 часа")

// Regime is the Kazakh online cash register of one unit (docs/kz.md). It
// is safe for concurrent use: Stamp and StampShiftClose run in the
// store's writer, SubmitSession in the submission worker (one at a time),
// Validate and the shift report in API handlers.
//
// Its state is what the journal implies: the open shift and its totals
// (rebuilt by Resume at start, advanced by each Stamp, rolled back when a
// stamped document's transaction did not commit), and whether the unit
// is autonomous. The session with the OFD is the agent's to store
// (stamping.Sessioned).
type Regime struct {
	settings   Settings
	sellerName string
	client     *Client
	now        func() time.Time

	mu sync.Mutex // guards the fields below
	st unitState
	// undo holds the state before each counter stamped and maybe not yet
	// committed: a Stamp of a counter seen before means its first
	// transaction failed, and the state goes back to before it.
	undo     map[uint64][]byte
	stamped  uint64 // the highest counter stamped
	answered uint64 // the highest counter the OFD answered finally
	// offlineSince is when the OFD stopped answering (zero: it answers);
	// lastAutonomous the newest document stamped autonomously.
	offlineSince   time.Time
	periodBegin    time.Time // the offline period the next sending reports
	lastAutonomous uint64
	shiftExpired   bool // the OFD answered 11 (OPEN_SHIFT_TIMEOUT_EXPIRED)

	sendMu  sync.Mutex // one request in flight
	session *Session

	// archive seals the signed record of each ticket issued autonomously
	// and of each the OFD accepts; nil keeps none (KeepArchive).
	archive Archiver
}

// Archiver seals a ticket's signed archive record (docs/kz.md "The signed
// archive"): the ticket as sent, fiscalSign (the OFD's; empty for one
// issued autonomously, whose sign is in the ticket), and the journal
// document it belongs to — its counter, UUID and stored bytes.
// stamping/kz/archive implements it; it builds on this package's tickets,
// so this package names only what it needs of it.
type Archiver interface {
	Seal(t *TicketRequest, fiscalSign string, counter uint64, uuid string, doc []byte) ([]byte, error)
}

// KeepArchive makes the regime seal a record with each ticket issued
// autonomously (Document.Archive) and each ticket the OFD accepts
// (Result.Archive). It is called once, before the regime is used.
func (r *Regime) KeepArchive(a Archiver) { r.archive = a }

// unitState is the part of the regime's state each Stamp changes.
type unitState struct {
	Shift     *ShiftTotals `json:"shift,omitempty"` // the open shift; nil when closed
	Prev      *ShiftTotals `json:"prev,omitempty"`  // the carry of the last closed shift
	LastShift uint32       `json:"last_shift"`
	OpenedAt  time.Time    `json:"opened_at,omitzero"`
}

// NewRegime creates the regime from its configuration.
func NewRegime(cfg stamping.Config) (*Regime, error) {
	var o Options
	if cfg.Decode != nil {
		if err := cfg.Decode(&o); err != nil {
			return nil, err
		}
	}
	s, err := o.Resolve(cfg.Seller)
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	r := &Regime{settings: s, sellerName: cfg.Seller.Name, now: now, undo: map[uint64][]byte{},
		client:  &Client{Addr: s.OFDAddress, DialTimeout: s.Dial, ReadTimeout: s.Read, WriteTimeout: s.Write},
		session: &Session{ID: s.KKMID, Token: s.Token}}
	return r, nil
}

var (
	_ stamping.Sessioned       = (*Regime)(nil)
	_ stamping.Autonomous      = (*Regime)(nil)
	_ stamping.AuthoritySigned = (*Regime)(nil)
	_ stamping.OfflineLimited  = (*Regime)(nil)
	_ stamping.Ordered         = (*Regime)(nil)
	_ stamping.Resumable       = (*Regime)(nil)
	_ stamping.Shifts          = (*Regime)(nil)
	_ stamping.ParentLinked    = (*Regime)(nil)
	_ stamping.AllOrdered      = (*Regime)(nil)
)

func (r *Regime) Name() string                     { return Name }
func (r *Regime) Mode() stamping.Mode              { return stamping.StampRemote }
func (r *Regime) GenesisHash() string              { return genesisHash }
func (r *Regime) Settings() Settings               { return r.settings }
func (r *Regime) InOrder(stamping.Submission) bool { return true }
func (r *Regime) AllInOrder() bool                 { return true }

// Rehash is SHA-256 of the stored bytes.
func (r *Regime) Rehash(doc []byte) (string, error) { return hashOf(doc), nil }

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Validate maps the sale as Stamp would, so that every problem is a 400
// naming its field before anything is stored. A return's VAT rates are
// those in force on its original's date, which only the journal knows:
// they are checked when it is stamped (StampNote), not here.
func (r *Regime) Validate(s *sale.Sale) error {
	in := TicketInput{IssuedAt: r.now().In(almaty), SellerTaxID: r.settings.SellerTaxID, SectionCode: r.settings.SectionCode, ShiftNumber: 1, ShiftDocumentNumber: 1}
	if s.Kind != sale.CreditNote {
		_, err := BuildTicket(s, in)
		return err
	}
	in.Parent = &ParentTicket{Number: "1", DateTime: DateTimeOf(in.IssuedAt), KgdKkmID: r.settings.RNM}
	_, err := BuildTicket(s, in)
	var errs sale.Errors
	if !errors.As(err, &errs) {
		return err
	}
	var kept sale.Errors
	for _, e := range errs {
		if !strings.HasSuffix(e.Field, ".vat_rate") {
			kept = append(kept, e)
		}
	}
	return kept.Err()
}

// Stamp builds the TICKET of a sale: its number in the shift (a shift
// opens with its first document), and, while the OFD does not answer or
// autonomous tickets still wait, the autonomous sign.
func (r *Regime) Stamp(slot stamping.Slot, s *sale.Sale) (stamping.Document, error) {
	return r.stampTicket(slot, s, nil)
}

// StampNote is Stamp for a return of a ticket of this unit
// (stamping.ParentLinked): the parent ticket is the original's (its
// fiscal sign, or its autonomous sign when the OFD has not registered it
// yet; its time, which keeps its VAT rates; its total).
func (r *Regime) StampNote(slot stamping.Slot, s *sale.Sale, original, answer []byte) (stamping.Document, error) {
	p, err := r.parentOf(original, answer)
	if err != nil {
		return stamping.Document{}, sale.Errors{{Field: "original", Rule: err.Error()}}
	}
	return r.stampTicket(slot, s, p)
}

func (r *Regime) parentOf(original, answer []byte) (*ParentTicket, error) {
	req, err := UnmarshalRequest(original)
	if err != nil || req.Ticket == nil {
		return nil, errors.New("the original is not a Kazakh ticket")
	}
	t := req.Ticket
	if t.Operation.IsReturn() {
		return nil, errors.New("the original is itself a return; a return names the sale it returns")
	}
	p := &ParentTicket{DateTime: t.DateTime, KgdKkmID: r.settings.RNM, Total: t.Amounts.Total}
	if len(answer) > 0 {
		a, err := DecodeStoredAnswer(answer)
		if err != nil {
			return nil, err
		}
		if a.FiscalSign != "" {
			p.Number = a.FiscalSign
			return p, nil
		}
	}
	if t.OfflineTicketNumber == 0 {
		return nil, errors.New("the original is not registered by the OFD yet and has no autonomous sign; return it once the OFD has answered")
	}
	p.Number, p.IsOffline = strconv.FormatUint(uint64(t.OfflineTicketNumber), 10), true
	return p, nil
}

func (r *Regime) stampTicket(slot stamping.Slot, s *sale.Sale, parent *ParentTicket) (stamping.Document, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(slot.Counter); err != nil {
		return stamping.Document{}, err
	}
	at := slot.IssuedAt.In(almaty)
	st := &r.st
	if st.Shift == nil {
		st.LastShift++
		st.Shift, st.OpenedAt = StartShift(st.LastShift, DateTimeOf(at), st.Prev), slot.IssuedAt
	}
	in := TicketInput{IssuedAt: at, Parent: parent, ShiftNumber: st.Shift.Number, ShiftDocumentNumber: st.Shift.Documents + 1,
		SectionCode: r.settings.SectionCode, SellerTaxID: r.settings.SellerTaxID, Operator: Operator{Code: 1, Name: "egsd"}}
	autonomous := r.autonomousLocked()
	if autonomous {
		if slot.Counter > math.MaxUint32 {
			return r.fail(slot.Counter, fmt.Errorf("document %d: the autonomous sign is a 32-bit number and this unit's counter has passed it", slot.Counter))
		}
		// The autonomous sign is the document's counter: persisted with
		// the document in its transaction, strictly increasing, never
		// given twice (docs/kz.md "Autonomous mode").
		in.OfflineTicketNumber = uint32(slot.Counter)
	}
	t, err := BuildTicket(s, in)
	if err != nil {
		return r.fail(slot.Counter, err)
	}
	if err := st.Shift.Add(t); err != nil {
		return r.fail(slot.Counter, err)
	}
	b := (&Request{Command: CommandTicket, Ticket: t}).Marshal()
	info, err := r.ticketReceipt(t)
	if err != nil {
		return r.fail(slot.Counter, err)
	}
	receipt, err := json.Marshal(info)
	if err != nil {
		return r.fail(slot.Counter, err)
	}
	doc := stamping.Document{Bytes: b, ContentType: ContentType, Hash: hashOf(b), Number: info.Number, Receipt: receipt}
	if autonomous && r.archive != nil {
		// Its sign is fixed now: its record is stored with it, or the
		// ticket is not issued.
		if doc.Archive, err = r.archive.Seal(t, "", slot.Counter, slot.UUID, b); err != nil {
			return r.fail(slot.Counter, fmt.Errorf("document %d: the signed archive record of the autonomous ticket: %w", slot.Counter, err))
		}
	}
	if autonomous {
		r.lastAutonomous = slot.Counter
		if r.periodBegin.IsZero() {
			r.periodBegin = slot.IssuedAt
		}
	}
	return doc, nil
}

// begin readies the state for stamping counter: a counter stamped before
// did not commit, so the state goes back to before it.
func (r *Regime) begin(counter uint64) error {
	if counter <= r.stamped {
		before, ok := r.undo[counter]
		if !ok {
			return fmt.Errorf("document %d was stamped before and its state is gone; restart the unit", counter)
		}
		var st unitState
		if err := json.Unmarshal(before, &st); err != nil {
			return err
		}
		r.st = st
		for c := range r.undo {
			if c >= counter {
				delete(r.undo, c)
			}
		}
		if r.lastAutonomous >= counter {
			r.lastAutonomous = 0
		}
	}
	before, err := json.Marshal(r.st)
	if err != nil {
		return err
	}
	r.undo[counter], r.stamped = before, counter
	// A transaction commits long before a thousand more documents.
	delete(r.undo, counter-1000)
	return nil
}

// fail puts the state back to before counter and returns err.
func (r *Regime) fail(counter uint64, err error) (stamping.Document, error) {
	if before, ok := r.undo[counter]; ok {
		var st unitState
		if jerr := json.Unmarshal(before, &st); jerr == nil {
			r.st = st
		}
		delete(r.undo, counter)
		r.stamped = counter - 1
	}
	return stamping.Document{}, err
}

// autonomousLocked reports whether a document stamped now is autonomous:
// the OFD does not answer, or autonomous documents still wait, which go
// first.
func (r *Regime) autonomousLocked() bool {
	return !r.offlineSince.IsZero() || r.lastAutonomous > r.answered
}

// SignedAutonomously reports whether doc carries an autonomous sign.
func (r *Regime) SignedAutonomously(doc []byte) bool {
	req, err := UnmarshalRequest(doc)
	return err == nil && req.Ticket != nil && req.Ticket.OfflineTicketNumber != 0
}

// StampShiftClose builds the CLOSE_SHIFT of the open shift with its Z
// report, computed from the shift's documents as stamped.
func (r *Regime) StampShiftClose(slot stamping.Slot, operator string) (stamping.Document, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(slot.Counter); err != nil {
		return stamping.Document{}, err
	}
	st := &r.st
	if st.Shift == nil {
		return r.fail(slot.Counter, fmt.Errorf("%w: shift %d is closed, and the next one opens with its first document", stamping.ErrNoShift, st.LastShift))
	}
	at := DateTimeOf(slot.IssuedAt.In(almaty))
	z, err := st.Shift.Report(at, true)
	if err != nil {
		return r.fail(slot.Counter, err)
	}
	autonomous := r.autonomousLocked()
	c := &CloseShiftRequest{CloseTime: at, IsOffline: autonomous, ShiftNumber: st.Shift.Number, ZReport: z, Operator: &Operator{Code: 1, Name: truncate(operator, 64)}}
	b := (&Request{Command: CommandCloseShift, CloseShift: c}).Marshal()
	number := "Z-" + strconv.FormatUint(uint64(st.Shift.Number), 10)
	info, err := r.zReceipt(st.Shift, number, at)
	if err != nil {
		return r.fail(slot.Counter, err)
	}
	receipt, err := json.Marshal(info)
	if err != nil {
		return r.fail(slot.Counter, err)
	}
	st.Prev, st.Shift, st.OpenedAt = st.Shift, nil, time.Time{}
	r.shiftExpired = false
	if autonomous {
		r.lastAutonomous = slot.Counter
	}
	return stamping.Document{Bytes: b, ContentType: ContentType, Hash: hashOf(b), Number: number, Receipt: receipt}, nil
}

func truncate(s string, n int) string {
	for i := range s {
		if i >= n {
			return s[:i]
		}
	}
	return s
}

// ShiftDue reports whether the open shift has reached the shift limit and
// must close before a document issued at now.
func (r *Regime) ShiftDue(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.Shift != nil && (r.shiftExpired || now.Sub(r.st.OpenedAt) >= r.settings.ShiftLimit)
}

// Shift is the X report of the open shift, or the last closed shift's Z
// report when none is open.
func (r *Regime) Shift(now time.Time) (stamping.ShiftReport, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sh, open := r.st.Shift, true
	if sh == nil {
		sh, open = r.st.Prev, false
	}
	if sh == nil {
		return stamping.ShiftReport{}, fmt.Errorf("%w: this unit has not issued a document yet", stamping.ErrNoShift)
	}
	return shiftReport(sh, open)
}

// Resume rebuilds the shift from the journal: shift holds the documents
// from the last shift close on; waiting the oldest document not answered
// yet and the oldest and newest autonomous ones (stamping.Resumable).
func (r *Regime) Resume(shift, waiting []stamping.JournalEntry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st = unitState{}
	for i, e := range shift {
		req, err := UnmarshalRequest(e.Document)
		if err != nil {
			return fmt.Errorf("document %d: %w", e.Counter, err)
		}
		switch {
		case req.CloseShift != nil:
			if i != 0 {
				return fmt.Errorf("document %d: a shift close in the middle of the shift's documents", e.Counter)
			}
			r.st.Prev, r.st.LastShift = carryOf(req.CloseShift), req.CloseShift.ShiftNumber
		case req.Ticket != nil:
			t := req.Ticket
			if r.st.Shift == nil {
				r.st.Shift, r.st.OpenedAt = StartShift(t.ShiftNumber, t.DateTime, r.st.Prev), e.IssuedAt
				r.st.LastShift = t.ShiftNumber
			}
			if err := r.st.Shift.Add(t); err != nil {
				return fmt.Errorf("document %d: %w", e.Counter, err)
			}
		}
		r.stamped = e.Counter
	}
	r.answered, r.lastAutonomous, r.periodBegin = 0, 0, time.Time{}
	for _, e := range waiting {
		if r.SignedAutonomously(e.Document) {
			r.lastAutonomous = max(r.lastAutonomous, e.Counter)
			if r.periodBegin.IsZero() {
				r.periodBegin = e.IssuedAt
			}
		}
	}
	if len(waiting) > 0 {
		r.answered = waiting[0].Counter - 1
	}
	return nil
}

// carryOf is what a closed shift carries to the next: the cash in the
// drawer, the non-resettable sums and the ticket counts of its Z report.
func carryOf(c *CloseShiftRequest) *ShiftTotals {
	carry := &ShiftTotals{Number: c.ShiftNumber}
	z := c.ZReport
	if z == nil {
		return carry
	}
	carry.StartCash, _ = z.CashSum.Cents() // a Z report we wrote: its amounts are in range
	for _, s := range z.NonNullableSums {
		if int(s.Operation) < 4 {
			carry.StartNonNullable[s.Operation], _ = s.Sum.Cents()
		}
	}
	for _, to := range z.TicketOperations {
		if int(to.Operation) < 4 {
			carry.StartTicketCounts[to.Operation] = to.TicketsTotalCount
		}
	}
	return carry
}

// CheckOffline refuses issuing once the oldest document still waiting for
// the OFD is older than the autonomous limit; the unit issues again by
// itself once the queue drains (the agent asks only while documents wait).
func (r *Regime) CheckOffline(waitingSince, now time.Time) error {
	if waitingSince.IsZero() {
		return nil
	}
	if gone := now.Sub(waitingSince); gone >= r.settings.AutonomousLimit {
		return fmt.Errorf("%w: the unit has worked without the OFD since %s (%s). No ticket may be issued until the queued documents reach the OFD: "+
			"restore the connection to the OFD (%s); issuing resumes by itself once they are delivered (egsd replay shows the progress)",
			ErrAutonomousLimit, waitingSince.In(almaty).Format("2006-01-02 15:04"), gone.Round(time.Minute), r.settings.OFDAddress)
	}
	return nil
}

package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
)

// resumeRegime hands a Resumable regime what it derives its state from:
// the journal from the last shift close on, and the documents still
// waiting for the authority.
func (a *Agent) resumeRegime() error {
	rr, ok := a.regime.(stamping.Resumable)
	if !ok {
		return nil
	}
	head, err := a.store.Head()
	if err != nil {
		return err
	}
	var shift []stamping.JournalEntry
	for c := head.Counter; c >= 1; c-- {
		rec, err := a.store.Document(c)
		if err != nil {
			return fmt.Errorf("document %d: %w", c, err)
		}
		shift = append(shift, journalEntry(rec))
		if rec.Kind == stamping.ShiftClose {
			break
		}
	}
	slices.Reverse(shift)
	waiting, err := a.waitingEnds()
	if err != nil {
		return err
	}
	return rr.Resume(shift, waiting)
}

// waitingEnds are the documents waiting for the authority that a
// Resumable regime needs, without reading a backlog of thousands: the
// oldest, and for an Autonomous regime the oldest and the newest signed
// autonomously (while autonomous documents wait, every newer one is
// autonomous too, so the newest waiting is the newest of them).
func (a *Agent) waitingEnds() ([]stamping.JournalEntry, error) {
	pending, err := a.store.Outbox(1 << 30)
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	read := func(e queue.OutboxEntry) (stamping.JournalEntry, error) {
		rec, err := a.store.Document(e.Counter)
		if err != nil {
			return stamping.JournalEntry{}, fmt.Errorf("document %d: %w", e.Counter, err)
		}
		return journalEntry(rec), nil
	}
	first, err := read(pending[0])
	if err != nil {
		return nil, err
	}
	ends := []stamping.JournalEntry{first}
	au, ok := a.regime.(stamping.Autonomous)
	if !ok {
		return ends, nil
	}
	last := first
	if len(pending) > 1 {
		if last, err = read(pending[len(pending)-1]); err != nil {
			return nil, err
		}
	}
	if !au.SignedAutonomously(last.Document) {
		return ends, nil // none waits autonomously
	}
	// The oldest autonomous one follows the few sent online before the
	// authority stopped answering.
	for i, e := range pending {
		entry := first
		if i > 0 {
			if entry, err = read(e); err != nil {
				return nil, err
			}
		}
		if au.SignedAutonomously(entry.Document) {
			if i > 0 {
				ends = append(ends, entry)
			}
			break
		}
	}
	if last.Counter != ends[len(ends)-1].Counter {
		ends = append(ends, last)
	}
	return ends, nil
}

func journalEntry(rec *queue.Record) stamping.JournalEntry {
	return stamping.JournalEntry{Counter: rec.Counter, Kind: rec.Kind, Document: rec.Document, IssuedAt: rec.IssuedAt, Waiting: rec.Status == queue.StatusPending}
}

// ShiftCloseResult is what POST /v1/shift/close answers: the closing
// document and the shift's Z report.
type ShiftCloseResult struct {
	Counter uint64               `json:"counter"`
	Number  string               `json:"number"`
	Status  string               `json:"status"`
	Report  stamping.ShiftReport `json:"report"`
}

// errNoShifts is the answer of a unit whose regime has no shifts.
var errNoShifts = errors.New("this unit's regime has no shifts")

// CloseShift closes the open shift: a document of kind shift_close, with
// the shift's Z report computed from its documents, issued into the chain
// so that it reaches the authority after them, in order. user is the
// actor ("system" for a close forced by the shift's length).
func (a *Agent) CloseShift(ctx context.Context, user string) (ShiftCloseResult, error) {
	sh, ok := a.regime.(stamping.Shifts)
	if !ok {
		return ShiftCloseResult{}, errNoShifts
	}
	before, err := sh.Shift(a.time.Wall())
	if err != nil {
		return ShiftCloseResult{}, err
	}
	id, err := newUUID()
	if err != nil {
		return ShiftCloseResult{}, err
	}
	req := &queue.IssueRequest{
		User: user, IdempotencyKey: "shift-close-" + id, Regime: a.regime.Name(), GenesisHash: a.regime.GenesisHash(),
		Kind: stamping.ShiftClose, UUID: id, Submit: true, Identity: a.identity,
		Stamp: func(slot queue.Slot) (queue.Stamped, error) {
			doc, err := sh.StampShiftClose(stamping.Slot(slot), user)
			return queue.Stamped(doc), err
		},
		AuditDetails: map[string]string{"shift": fmt.Sprint(before.Number)},
	}
	if a.print != nil {
		req.Print = queue.PrintNow // the unit's own report: it prints at once
	}
	res, err := a.store.Issue(ctx, req)
	if err != nil {
		return ShiftCloseResult{}, err
	}
	if a.cfg.Submit.Enabled {
		a.submit.Wake()
	}
	report, err := sh.Shift(a.time.Wall()) // the shift just closed
	if err != nil {
		return ShiftCloseResult{}, err
	}
	return ShiftCloseResult{Counter: res.Record.Counter, Number: res.Record.Number, Status: res.Record.Status.String(), Report: report}, nil
}

// closeDueShift closes the open shift before a document when it has
// reached its legal length. A concurrent sale may have closed it first.
func (a *Agent) closeDueShift(ctx context.Context) error {
	sh, ok := a.regime.(stamping.Shifts)
	if !ok || !sh.ShiftDue(a.time.Wall()) {
		return nil
	}
	res, err := a.CloseShift(ctx, queue.ActorSystem)
	if errors.Is(err, stamping.ErrNoShift) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("close the shift that reached its legal length: %w", err)
	}
	a.log.Info().Uint64("counter", res.Counter).Uint32("shift", res.Report.Number).Msg("shift closed at its legal length")
	return nil
}

// handleShift answers the open shift's X report (or the last Z).
func (a *Agent) handleShift(w http.ResponseWriter, r *http.Request, _ *Principal) {
	sh, ok := a.regime.(stamping.Shifts)
	if !ok {
		writeProblem(w, Problem{Type: problemNotFound, Title: "No shifts", Status: http.StatusNotFound, Detail: errNoShifts.Error()})
		return
	}
	rep, err := sh.Shift(a.time.Wall())
	if errors.Is(err, stamping.ErrNoShift) {
		writeProblem(w, Problem{Type: problemNotFound, Title: "No shift", Status: http.StatusNotFound, Detail: err.Error()})
		return
	}
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// handleShiftClose closes the open shift (POST /v1/shift/close).
func (a *Agent) handleShiftClose(w http.ResponseWriter, r *http.Request, p *Principal) {
	res, err := a.CloseShift(r.Context(), p.User)
	var clockErr *queue.ClockError
	switch {
	case errors.Is(err, errNoShifts):
		writeProblem(w, Problem{Type: problemNotFound, Title: "No shifts", Status: http.StatusNotFound, Detail: err.Error()})
	case errors.Is(err, stamping.ErrNoShift):
		writeProblem(w, Problem{Type: problemConflict, Title: "No open shift", Status: http.StatusConflict,
			Detail: err.Error() + "; there is nothing to close"})
	case errors.As(err, &clockErr):
		a.clockRefused(p.User, clockErr)
		writeProblem(w, Problem{Type: problemClock, Title: "Clock error: issuing stopped", Status: http.StatusConflict, Detail: err.Error()})
	case err != nil:
		a.internalError(w, r, err)
	default:
		writeJSON(w, http.StatusCreated, res)
	}
}

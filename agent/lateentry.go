package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/sale"
)

// incidentUnitFailure is the kind of incident for a time the unit itself
// could not issue: egsd was not running (power cut, crash, broken till),
// or a manager says it could not issue while it ran. Sales made meanwhile
// are entered afterwards as late entries. Stored value: never rename it.
const incidentUnitFailure = "unit_unavailable"

// maxOpenUnitFailures bounds the unit failure incidents open at once, so
// that no loop can fill the incident list.
const maxOpenUnitFailures = 20

// errTooManyUnitFailures is returned by openUnitFailure when
// maxOpenUnitFailures are open.
var errTooManyUnitFailures = fmt.Errorf("%d unit failure incidents are open already: close those whose late entry is complete first (egsd incidents close ID)", maxOpenUnitFailures)

// noticeDowntime runs at start: a gap since the last heartbeat longer
// than unit_failure.after, when the unit did not stop cleanly, opens a
// unit failure incident for the window from the last sign of life (the
// later of the heartbeat and the last document) to now. Then it records
// a heartbeat.
func (a *Agent) noticeDowntime() error {
	now := a.time.Wall()
	hb, ok, err := a.store.LastHeartbeat()
	if err != nil {
		return fmt.Errorf("read the last heartbeat: %w", err)
	}
	if ok && !hb.Stopped {
		last := hb.At
		head, err := a.store.Head()
		if err != nil {
			return err
		}
		if head.LastIssued.After(last) {
			last = head.LastIssued
		}
		if gap := now.Sub(last); gap > a.cfg.Failure.After.Duration {
			inc, err := a.openUnitFailure(last, now, "egsd was not running and did not stop cleanly (power cut, crash or a broken till)", queue.SystemActor)
			switch {
			case errors.Is(err, errTooManyUnitFailures):
				// The unit must start all the same: it says so, and a
				// manager opens the incident once others are closed.
				a.log.Error().Err(err).Time("since", last).Dur("gap", gap).Msg("the unit could not issue, but no incident was opened for it")
			case err != nil:
				return fmt.Errorf("open the unit failure incident: %w", err)
			default:
				a.log.Warn().Uint64("incident", inc.ID).Time("since", last).Dur("gap", gap).Msg("the unit could not issue: unit failure incident opened")
			}
		}
	}
	return a.store.Beat(queue.Heartbeat{At: now})
}

// beatEvery records a heartbeat every unit_failure.heartbeat_every until
// ctx ends.
func (a *Agent) beatEvery(ctx context.Context, every time.Duration) {
	runEvery(ctx, every, func() {
		if err := a.store.Beat(queue.Heartbeat{At: a.time.Wall()}); err != nil {
			a.log.Error().Err(err).Msg("record heartbeat")
		}
	})
}

// openUnitFailure opens a unit failure incident for [since, until) with
// what the authority's failure notice asks for.
func (a *Agent) openUnitFailure(since, until time.Time, cause string, by queue.Actor) (queue.Incident, error) {
	open, err := a.store.Incidents(true, 1000)
	if err != nil {
		return queue.Incident{}, err
	}
	n := 0
	for _, inc := range open {
		if inc.Kind == incidentUnitFailure {
			n++
		}
	}
	if n >= maxOpenUnitFailures {
		return queue.Incident{}, errTooManyUnitFailures
	}
	id, err := a.store.Identity()
	if err != nil {
		return queue.Incident{}, err
	}
	title := fmt.Sprintf("Unit could not issue from %s to %s", since.UTC().Format(time.DateTime), until.UTC().Format(time.DateTime)+" UTC")
	return a.store.OpenIncident(queue.Incident{
		Kind: incidentUnitFailure, Title: title, Start: since, Until: until,
		Detail: cause + ". " + a.failureNotice(),
		Data: map[string]string{
			"device_id": id.DeviceID, "device_serial": a.cfg.Device.Serial, "seller_vat_number": a.cfg.Seller.VATNumber,
			"failure_start": since.UTC().Format(time.RFC3339), "failure_end": until.UTC().Format(time.RFC3339), "cause": cause,
		},
	}, by)
}

// failureNotice says what to do about a unit failure, and what the
// authority's failure notice needs.
func (a *Agent) failureNotice() string {
	return "Notify the tax authority of the failure with the seller's VAT number, this unit's serial and device ID, " +
		"when the failure started and why (egsd incidents show {id} lists them), and record the reference: egsd incidents notify {id} --reference REF. " +
		"Then enter the sales made meanwhile from the paper log (egsd sale --batch FILE --incident {id}), " +
		"notify the authority that the failure is resolved with when it ended and how many documents were entered late, " +
		"record that reference too, and close the incident: egsd incidents close {id}."
}

// planLateEntry checks a sale's late entry (transaction_time, incident)
// for p and resolves the incident it belongs to. It refuses: anyone but a
// manager; a transaction time in the future or older than
// unit_failure.late_entry_max_age; an incident that is not a unit failure,
// closed longer ago than unit_failure.late_entry_after_close, or whose
// window does not hold the transaction time; and, with no incident named,
// a transaction time in no such incident's window.
func (a *Agent) planLateEntry(s *sale.Sale, p *Principal) (*queue.LateEntry, error) {
	l := s.Late
	if p.Role != RoleManager {
		return nil, &IssueError{Problem{Type: problemForbidden, Title: "Late entry needs a manager", Status: http.StatusForbidden,
			Detail: "transaction_time: only a manager may enter a sale after a unit failure; ask a manager to enter it",
			Errors: []sale.FieldError{{Field: "transaction_time", Rule: "only a manager may enter a sale after a unit failure"}}}}
	}
	now := a.time.Wall()
	t := l.TransactionTime
	switch {
	case t.After(now):
		return nil, lateRefusal("transaction_time", fmt.Sprintf("%s is in the future (the unit's clock reads %s)", t.Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	case now.Sub(t) > a.cfg.Failure.LateEntryMaxAge.Duration:
		return nil, lateRefusal("transaction_time", fmt.Sprintf("%s is more than %s ago (unit_failure.late_entry_max_age): too old to enter late",
			t.Format(time.RFC3339), a.cfg.Failure.LateEntryMaxAge.Duration))
	}
	if l.Incident != 0 {
		inc, err := a.store.Incident(l.Incident)
		if errors.Is(err, queue.ErrNotFound) {
			return nil, lateRefusal("incident", fmt.Sprintf("there is no incident %d: egsd incidents list --all shows them", l.Incident))
		}
		if err != nil {
			return nil, err
		}
		if why := a.lateEntryMisfit(&inc, t, now); why != "" {
			field := "incident"
			if inc.Kind == incidentUnitFailure && a.acceptsLateEntries(&inc, now) {
				field = "transaction_time" // the incident is right, the time is outside it
			}
			return nil, lateRefusal(field, why)
		}
		return &queue.LateEntry{Incident: inc.ID, TransactionTime: t}, nil
	}
	incs, err := a.store.Incidents(false, 1000)
	if err != nil {
		return nil, err
	}
	for _, inc := range incs {
		if inc.Kind == incidentUnitFailure && a.lateEntryMisfit(&inc, t, now) == "" {
			l.Incident = inc.ID
			return &queue.LateEntry{Incident: inc.ID, TransactionTime: t}, nil
		}
	}
	return nil, lateRefusal("transaction_time", fmt.Sprintf(
		"%s is outside every open or recent unit failure incident: if the unit could not issue then, open one first (egsd incidents open --kind unit-failure --since TIME)",
		t.Format(time.RFC3339)))
}

// acceptsLateEntries reports whether inc, a unit failure incident, still
// takes late entries: open, or closed within late_entry_after_close.
func (a *Agent) acceptsLateEntries(inc *queue.Incident, now time.Time) bool {
	return inc.Open() || now.Sub(inc.End) <= a.cfg.Failure.LateEntryAfterClose.Duration
}

// lateEntryMisfit says why a sale made at t cannot be entered late for
// inc, or "" when it can.
func (a *Agent) lateEntryMisfit(inc *queue.Incident, t, now time.Time) string {
	switch {
	case inc.Kind != incidentUnitFailure:
		return fmt.Sprintf("incident %d is a %s incident, not a unit failure (%s): only sales made while the unit could not issue are entered late",
			inc.ID, inc.Kind, incidentUnitFailure)
	case !a.acceptsLateEntries(inc, now):
		return fmt.Sprintf("incident %d closed at %s, more than %s ago (unit_failure.late_entry_after_close): its late entry is over",
			inc.ID, inc.End.UTC().Format(time.RFC3339), a.cfg.Failure.LateEntryAfterClose.Duration)
	}
	until := inc.Until
	if until.IsZero() {
		until = now
	}
	if t.Before(inc.Start) || t.After(until) {
		return fmt.Sprintf("%s is outside incident %d, from %s to %s", t.Format(time.RFC3339), inc.ID,
			inc.Start.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339))
	}
	return ""
}

func lateRefusal(field, rule string) *IssueError {
	return &IssueError{Problem{Type: problemInvalidSale, Title: "Invalid late entry", Status: http.StatusBadRequest,
		Detail: field + ": " + rule, Errors: []sale.FieldError{{Field: field, Rule: rule}}}}
}

// openIncidentRequest is POST /v1/incidents: a unit failure egsd could not
// see for itself (it ran, but the till could not issue).
type openIncidentRequest struct {
	Kind  string `json:"kind"`
	Since string `json:"since"`
	Until string `json:"until"`
	Cause string `json:"cause"`
}

// handleOpenIncident opens a unit failure incident by hand.
func (a *Agent) handleOpenIncident(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req openIncidentRequest
	if !readJSON(w, r, 16<<10, &req) {
		return
	}
	if req.Kind != "unit-failure" && req.Kind != incidentUnitFailure {
		writeProblem(w, fieldProblem("kind", `must be "unit-failure": the one kind of incident a manager opens by hand`))
		return
	}
	now := a.time.Wall()
	since, err := time.Parse(time.RFC3339, req.Since)
	switch {
	case err != nil:
		writeProblem(w, fieldProblem("since", fmt.Sprintf("%q must be an RFC 3339 time with its offset, such as \"2026-03-01T14:05:00+03:00\"", req.Since)))
		return
	case since.After(now):
		writeProblem(w, fieldProblem("since", "is in the future: give when the unit stopped issuing"))
		return
	case now.Sub(since) > a.cfg.Failure.LateEntryMaxAge.Duration:
		writeProblem(w, fieldProblem("since", fmt.Sprintf("is more than %s ago (unit_failure.late_entry_max_age)", a.cfg.Failure.LateEntryMaxAge.Duration)))
		return
	}
	until := now
	if req.Until != "" {
		if until, err = time.Parse(time.RFC3339, req.Until); err != nil {
			writeProblem(w, fieldProblem("until", fmt.Sprintf("%q must be an RFC 3339 time with its offset", req.Until)))
			return
		}
		if until.Before(since) || until.After(now) {
			writeProblem(w, fieldProblem("until", "must be after since and not in the future: when the unit could issue again"))
			return
		}
	}
	cause, ok := oneLine(w, "cause", req.Cause)
	if !ok {
		return
	}
	if cause == "" {
		cause = "the unit could not issue while egsd ran (reported by " + p.User + ")"
	}
	inc, err := a.openUnitFailure(since, until, cause, queue.UserActor(p.User))
	if err != nil {
		if errors.Is(err, errTooManyUnitFailures) {
			writeProblem(w, Problem{Type: problemConflict, Title: "Too many open unit failures", Status: http.StatusConflict, Detail: err.Error()})
			return
		}
		a.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, inc)
}

type closeIncidentRequest struct {
	Summary string `json:"summary"`
}

// handleCloseIncident closes an incident: for a unit failure, when the
// manager says its late entry is complete.
func (a *Agent) handleCloseIncident(w http.ResponseWriter, r *http.Request, p *Principal) {
	id, ok := incidentID(w, r)
	if !ok {
		return
	}
	var req closeIncidentRequest
	if !readJSON(w, r, 16<<10, &req) {
		return
	}
	summary, ok := oneLine(w, "summary", req.Summary)
	if !ok {
		return
	}
	inc, prob, err := a.closeIncident(id, summary, p.User)
	if prob != nil {
		writeProblem(w, *prob)
		return
	}
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

// closeIncident closes unit failure incident id for user, when the
// manager says its late entry is complete; the incident keeps the count
// of documents entered late for it. A problem is what the caller did
// wrong.
func (a *Agent) closeIncident(id uint64, summary, user string) (queue.Incident, *Problem, error) {
	inc, err := a.store.Incident(id)
	if errors.Is(err, queue.ErrNotFound) {
		return inc, &Problem{Type: problemNotFound, Title: "No such incident", Status: http.StatusNotFound, Detail: fmt.Sprintf("no incident %d", id)}, nil
	}
	if err != nil {
		return inc, nil, err
	}
	if !inc.Open() {
		return inc, &Problem{Type: problemConflict, Title: "Incident closed already", Status: http.StatusConflict,
			Detail: fmt.Sprintf("incident %d closed at %s", id, inc.End.UTC().Format(time.RFC3339))}, nil
	}
	if inc.Kind != incidentUnitFailure {
		// The others close by themselves when their cause is gone.
		return inc, &Problem{Type: problemConflict, Title: "Incident closes by itself", Status: http.StatusConflict,
			Detail: fmt.Sprintf("incident %d (%s) closes by itself when its cause is gone; only unit failure incidents are closed by hand", id, inc.Kind)}, nil
	}
	if summary == "" {
		summary = "late entry complete"
	}
	if err := a.store.CloseIncident(id, summary, user); err != nil {
		return inc, nil, err
	}
	inc, err = a.store.Incident(id)
	return inc, nil, err
}

// incidentID reads the {id} of an incident route; on failure it has
// written the problem.
func incidentID(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeProblem(w, fieldProblem("id", "must be an incident number"))
		return 0, false
	}
	return id, true
}

// oneLine is a text field of an incident, trimmed: one line of at most
// 500 characters; on failure it has written the problem naming field.
func oneLine(w http.ResponseWriter, field, v string) (string, bool) {
	v = strings.TrimSpace(v)
	if utf8.RuneCountInString(v) > 500 || strings.ContainsAny(v, "\r\n") {
		writeProblem(w, fieldProblem(field, "must be one line of at most 500 characters"))
		return "", false
	}
	return v, true
}

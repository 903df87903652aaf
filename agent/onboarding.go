package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
)

// OnboardingStateKey is the regime_state key under which the agent keeps
// the regime's onboarding state.
const OnboardingStateKey = "onboarding"

// OnboardingTimeout bounds one onboarding request: every step the regime
// runs in it, requests to the authority included. A run cut short resumes
// from its last saved step.
const OnboardingTimeout = 2 * time.Minute

// OnboardingView is the answer of the onboarding endpoints: where the
// unit's onboarding stands (no secrets) and, for POST, the states this
// request went through.
type OnboardingView struct {
	stamping.OnboardingStatus
	// Steps are the states reached by this request, in order, as they were
	// saved (POST only).
	Steps []OnboardingStep `json:"steps,omitempty"`
}

// OnboardingStep is one state saved during a request.
type OnboardingStep struct {
	State   string    `json:"state"`
	Summary string    `json:"summary,omitempty"`
	At      time.Time `json:"at"`
}

// OnboardingProblem is the 502 answer when a step failed: a problem
// document whose extension member "onboarding" is the status after the
// failure.
type OnboardingProblem struct {
	Problem
	Onboarding OnboardingView `json:"onboarding"`
}

// problemAuthority is the type of a failed onboarding step.
const problemAuthority = "urn:egsd:problem:onboarding-step-failed"

type onboardingRequest struct {
	OTP   string `json:"otp"`
	Renew bool   `json:"renew"`
}

// onboarder is the regime's onboarding, or nil when it has none.
func (a *Agent) onboarder() stamping.Onboarder {
	ob, ok := a.regime.(stamping.Onboarder)
	if !ok || ob.OnboardingStatus(nil, a.time.Wall()).State == stamping.OnboardingNotNeeded {
		return nil
	}
	return ob
}

// OnboardingStatus returns where the unit's onboarding stands; ok is false
// when the regime, as configured, has no onboarding.
func (a *Agent) OnboardingStatus() (st stamping.OnboardingStatus, ok bool, err error) {
	ob := a.onboarder()
	if ob == nil {
		return st, false, nil
	}
	state, err := a.store.RegimeState(OnboardingStateKey)
	if err != nil {
		return st, true, err
	}
	return ob.OnboardingStatus(state, a.time.Wall()), true, nil
}

func (a *Agent) noOnboarding(w http.ResponseWriter) {
	writeProblem(w, Problem{Type: problemConflict, Title: "No onboarding", Status: http.StatusConflict,
		Detail: "regime " + a.regime.Name() + ", as configured, has no onboarding"})
}

func (a *Agent) handleGetOnboarding(w http.ResponseWriter, r *http.Request, p *Principal) {
	st, ok, err := a.OnboardingStatus()
	switch {
	case err != nil:
		a.internalError(w, r, err)
	case !ok:
		a.noOnboarding(w)
	default:
		writeJSON(w, http.StatusOK, OnboardingView{OnboardingStatus: st})
	}
}

// handlePostOnboarding runs the regime's onboarding state machine (or its
// renewal) as far as it goes, saving its state after every step, and
// answers where it stands: 200 when done, 502 when a step failed (with the
// authority's messages), 409 when the regime has no onboarding, one is
// already running, or the request does not fit the unit's state, 400 for
// a malformed request.
func (a *Agent) handlePostOnboarding(w http.ResponseWriter, r *http.Request, p *Principal) {
	ob := a.onboarder()
	if ob == nil {
		a.noOnboarding(w)
		return
	}
	var req onboardingRequest
	if !readJSON(w, r, 4<<10, &req) {
		return
	}
	mu := &a.onboarding
	if !mu.TryLock() {
		writeProblem(w, Problem{Type: problemConflict, Title: "Onboarding in progress", Status: http.StatusConflict,
			Detail: "another onboarding request is running; wait for it, then check GET /v1/onboarding"})
		return
	}
	defer mu.Unlock()
	// The run may outlast the server's write timeout, after which the
	// answer would be lost: the deadline moves to after the run. (The
	// logging wrapper is unwrapped: it does not expose the connection.)
	inner := w
	if rec, ok := w.(*statusRecorder); ok {
		inner = rec.ResponseWriter
	}
	err := http.NewResponseController(inner).SetWriteDeadline(time.Now().Add(OnboardingTimeout + 30*time.Second))
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		a.log.Warn().Err(err).Msg("onboarding: cannot extend the write deadline")
	}
	// A client that hangs up cancels the run; it resumes from its last
	// saved step next time.
	ctx, cancel := context.WithTimeout(r.Context(), OnboardingTimeout)
	defer cancel()

	state, err := a.store.RegimeState(OnboardingStateKey)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	var steps []OnboardingStep
	save := func(next []byte) error {
		now := a.time.Wall()
		st := ob.OnboardingStatus(next, now)
		details := map[string]string{"state": st.State, "renewal": strconv.FormatBool(st.Renewal)}
		if st.Step != "" {
			details["next_step"] = st.Step
		}
		if st.LastError != "" {
			details["error"] = st.LastError
		}
		if err := a.store.Update(func(tx *queue.Tx) error {
			if err := tx.PutRegimeState(OnboardingStateKey, next, queue.AuditEntry{Actor: p.User, Action: queue.AuditOnboarding,
				Subject: st.State, Details: details}); err != nil {
				return err
			}
			if st.State == stamping.OnboardingDone {
				// The certificate carries the unit's identity from now on.
				return a.bindIn(tx, "onboarding")
			}
			return nil
		}); err != nil {
			return err
		}
		if n := len(steps); n == 0 || steps[n-1].State != st.State || steps[n-1].Summary != st.Summary {
			steps = append(steps, OnboardingStep{State: st.State, Summary: st.Summary, At: now.UTC()})
		}
		a.log.Info().Str("user", p.User).Str("state", st.State).Str("summary", st.Summary).Msg("onboarding")
		return nil
	}
	runErr := ob.Onboard(ctx, stamping.OnboardRequest{OTP: req.OTP, Renew: req.Renew}, state, save)

	if state, err = a.store.RegimeState(OnboardingStateKey); err != nil {
		a.internalError(w, r, err)
		return
	}
	view := OnboardingView{OnboardingStatus: ob.OnboardingStatus(state, a.time.Wall()), Steps: steps}
	var input *stamping.OnboardingInputError
	var step *stamping.OnboardingStepError
	switch {
	case runErr == nil:
		a.afterOnboarding(p.User)
		writeJSON(w, http.StatusOK, view)
	case errors.As(runErr, &input) && !input.Config:
		writeProblem(w, Problem{Type: problemInvalidInput, Title: "Invalid request", Status: http.StatusBadRequest,
			Detail: input.Error(), Errors: input.Errors})
	case errors.As(runErr, &input):
		writeProblem(w, Problem{Type: problemConflict, Title: "Configuration cannot onboard the unit", Status: http.StatusConflict,
			Detail: input.Error() + "; fix the configuration and restart egsd", Errors: input.Errors})
	case errors.Is(runErr, stamping.ErrNoOnboarding):
		writeProblem(w, Problem{Type: problemConflict, Title: "No onboarding", Status: http.StatusConflict,
			Detail: strings.TrimPrefix(runErr.Error(), stamping.ErrNoOnboarding.Error()+": ")})
	case errors.Is(runErr, stamping.ErrOnboardingConflict):
		writeProblem(w, Problem{Type: problemConflict, Title: "Conflict", Status: http.StatusConflict,
			Detail: strings.TrimPrefix(runErr.Error(), stamping.ErrOnboardingConflict.Error()+": ")})
	case errors.As(runErr, &step):
		a.log.Warn().Str("user", p.User).Str("step", step.Step).Err(runErr).Msg("onboarding step failed")
		writeOnboardingProblem(w, OnboardingProblem{
			Problem: Problem{Type: problemAuthority, Title: "Onboarding step failed", Status: http.StatusBadGateway,
				Detail: runErr.Error()},
			Onboarding: view,
		})
	default:
		a.internalError(w, r, fmt.Errorf("onboarding: %w", runErr))
	}
}

// afterOnboarding lets documents waiting on credentials go: a submission
// paused because the authority refused the old credentials resumes with
// the new ones.
func (a *Agent) afterOnboarding(user string) {
	if !a.cfg.Submit.Enabled || a.submit.State().Paused == "" {
		return
	}
	if _, err := a.submit.Replay(user); err != nil {
		a.log.Error().Err(err).Msg("resume submission after onboarding")
	}
}

func writeOnboardingProblem(w http.ResponseWriter, p OnboardingProblem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// OnboardingSummary is the onboarding part of GET /v1/status.
type OnboardingSummary struct {
	State      string    `json:"state"`
	NotAfter   time.Time `json:"not_after,omitzero"`
	RenewalDue bool      `json:"renewal_due,omitempty"`
	// Warning says that the certificate expires soon (or has expired) and
	// how to renew it.
	Warning string `json:"warning,omitempty"`
}

// onboardingSummary is the status's onboarding part, nil without one.
func (a *Agent) onboardingSummary() (*OnboardingSummary, error) {
	st, ok, err := a.OnboardingStatus()
	if err != nil || !ok {
		return nil, err
	}
	sum := &OnboardingSummary{State: st.State, NotAfter: st.NotAfter, RenewalDue: st.RenewalDue}
	if st.RenewalDue {
		verb := "expires"
		if !a.time.Wall().Before(st.NotAfter) {
			verb = "expired"
		}
		sum.Warning = fmt.Sprintf("certificate %s on %s — renew with egsd onboard --renew --otp …", verb, st.NotAfter.UTC().Format(time.DateOnly))
	}
	return sum, nil
}

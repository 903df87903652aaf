package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/backoff"
)

// Incident kinds raised by submission. Stored values.
const (
	incidentOutage      = "outage"
	incidentCredentials = "credentials"
)

// submitter drains the outbox (design.md §4): it hands each pending
// document to the regime, records final answers in the journal, backs off
// on retryable errors with jitter, never re-stamps, opens an outage
// incident when the authority stays unreachable and closes it once the
// queue has drained, and pauses on refused credentials until a manager
// replays.
type submitter struct {
	a       *Agent
	cfg     SubmitConfig
	wake    chan struct{}
	backoff func(attempt int, retryAfter time.Duration) time.Duration

	// slots bounds the submissions waiting for the authority at once
	// (Concurrency); places bounds the documents between dispatch and
	// their recorded outcome (twice that), so that answers waiting for the
	// disk cannot pile up. running counts their goroutines; run waits
	// for them before it returns.
	slots   chan struct{}
	places  chan struct{}
	running sync.WaitGroup
	// listed, if set, is called after each listing of the outbox (tests
	// use it to let a submission settle at that moment).
	listed func()
	// read, if set, is called with each document a round reads (tests).
	read func(counter uint64)
	// numberedHook, if set, is called at each point of a numbered
	// submission; an error stops the submitter there, as a crash would
	// (tests).
	numberedHook func(point string, counter uint64) error
	// preassigned is the document that took the authority's next number
	// with the previous answer (queue.Answer.AssignNext) and has not been
	// sent since; only the numbered round uses it.
	preassigned uint64
	// answerRecorded, if set, is called after an answer is in the store and
	// before it is counted (tests use it to run a concurrent round there).
	answerRecorded func()

	mu sync.Mutex // guards the fields below
	// inFlight holds the documents dispatched whose outcome is not
	// recorded yet; settled those recorded since the current listing of
	// the outbox was taken, which it may still show as they were.
	inFlight     map[uint64]bool
	settled      map[uint64]bool
	failingSince time.Time // first retryable failure of the current run of failures
	failHead     uint64    // the counter at failingSince
	// recording counts answers being written to the store: the outbox
	// may be empty before the last of them is counted as delivered, and
	// an outage must not end (drained) in between.
	recording   int
	lastError   string
	lastContact time.Time // last answer from the authority
	outage      uint64    // open outage incident, or 0
	outageHead  uint64    // the counter when the outage began
	delivered   int       // documents delivered while the outage incident is open
	paused      string    // why submission is paused ("" when not)
	nextRound   time.Time // when step looks at the outbox next, unless woken earlier
	replay      *ReplayProgress
	// replayOf holds the documents the replay counts, those pending when it
	// started, until each is answered; nil until the store has said which
	// they are. Answers that arrive meanwhile wait in replayEarly.
	replayOf    map[uint64]bool
	replayEarly []replayAnswer
}

// replayAnswer is an answer recorded while a replay learns which documents
// it counts.
type replayAnswer struct {
	counter  uint64
	status   queue.Status
	messages []string
}

// ReplayProgress is what GET /v1/replay reports.
type ReplayProgress struct {
	Started    time.Time   `json:"started"`
	Finished   time.Time   `json:"finished,omitzero"`
	Total      int         `json:"total"`
	Done       int         `json:"done"`
	Accepted   int         `json:"accepted"`
	Warnings   int         `json:"accepted_with_warnings"`
	Rejected   int         `json:"rejected"`
	Rejections []Rejection `json:"rejections,omitempty"`
	// While the replay is not finished and the authority keeps failing:
	// the last attempt's error, since when attempts fail, and when the
	// next one is made (documents back off after each failure).
	LastError    string    `json:"last_error,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	NextAttempt  time.Time `json:"next_attempt,omitzero"`
	// Paused says why submission is paused (refused credentials): nothing
	// is attempted until the credentials are renewed.
	Paused string `json:"paused,omitempty"`
}

// Rejection is one document the authority refused.
type Rejection struct {
	Counter  uint64   `json:"counter"`
	Messages []string `json:"messages"`
}

// SubmissionState is the submitter's part of GET /v1/status.
type SubmissionState struct {
	Enabled      bool      `json:"enabled"`
	Paused       string    `json:"paused,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	LastContact  time.Time `json:"last_contact,omitzero"`
}

func newSubmitter(a *Agent, cfg SubmitConfig) *submitter {
	s := &submitter{a: a, cfg: cfg, wake: make(chan struct{}, 1),
		slots: make(chan struct{}, max(cfg.Concurrency, 1)), places: make(chan struct{}, 2*max(cfg.Concurrency, 1)),
		inFlight: map[uint64]bool{}, settled: map[uint64]bool{}}
	policy := backoff.Policy{Max: cfg.MaxBackoff.Duration}
	s.backoff = func(attempt int, retryAfter time.Duration) time.Duration {
		return policy.Delay(attempt, retryAfter, rand.Int64N)
	}
	return s
}

// Wake makes the submitter look at the outbox now (after an issue or a replay).
func (s *submitter) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run submits until ctx ends, and returns once the submissions in flight
// have ended too.
func (s *submitter) run(ctx context.Context) {
	defer s.running.Wait()
	for ctx.Err() == nil {
		next, err := s.step(ctx)
		if err != nil {
			s.a.log.Error().Err(err).Msg("submission step")
			next = 5 * time.Second
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// step submits every document that is due and returns how long to wait
// before the next one is; it notes when that is, for the replay's progress.
func (s *submitter) step(ctx context.Context) (wait time.Duration, err error) {
	defer func() {
		if err == nil {
			s.mu.Lock()
			s.nextRound = s.a.time.Wall().Add(wait)
			s.mu.Unlock()
		}
	}()
	return s.round(ctx)
}

// round is one pass over the outbox: see step. It dispatches each due
// document that is not in flight already and does not wait for them: the
// next round lists the outbox again while they are at the authority, so
// that Concurrency documents stay in flight across listings. Each one
// wakes the submitter when its outcome is recorded.
func (s *submitter) round(ctx context.Context) (time.Duration, error) {
	if s.isPaused() {
		return time.Minute, nil
	}
	if nr, ok := s.a.regime.(stamping.Numbered); ok {
		return s.roundNumbered(ctx, nr)
	}
	// What settles from now on may be stale in the listing: skip it in this
	// round, the next one sees it as it is.
	s.mu.Lock()
	clear(s.settled)
	s.mu.Unlock()
	entries, now, err := s.listOutbox(1000)
	if err != nil {
		return 0, err
	}
	if len(entries) == 0 {
		return time.Minute, nil
	}
	ordered, _ := s.a.regime.(stamping.Ordered)
	all, _ := s.a.regime.(stamping.AllOrdered)
	allOrdered := all != nil && all.AllInOrder()
	wait := time.Minute
	submitted := 0
	blocked := false // an ordered document did not go through: later ones wait
	for _, e := range entries {
		if ctx.Err() != nil || s.isPaused() {
			break
		}
		if s.busy(e.Counter) {
			continue
		}
		if blocked && allOrdered {
			break // nothing after a held-back document may go: do not read it
		}
		due := !e.NextAttempt.After(now)
		if !due {
			wait = min(wait, e.NextAttempt.Sub(now))
			// A document that must go in order and waits out its backoff
			// holds back the later ones that must too: read it to know.
			if ordered == nil || blocked {
				continue
			}
		}
		rec, err := s.a.store.Document(e.Counter)
		if err != nil {
			return 0, fmt.Errorf("outbox entry %d: %w", e.Counter, err)
		}
		if s.read != nil {
			s.read(e.Counter)
		}
		sub := stamping.Submission{Slot: stamping.Slot{Counter: rec.Counter, PrevHash: rec.PrevHash, UUID: rec.UUID, IssuedAt: rec.IssuedAt},
			Document: rec.Document, Hash: rec.Hash, Attempt: e.Attempts + 1}
		if !due {
			blocked = ordered.InOrder(sub)
			continue
		}
		if ordered != nil && ordered.InOrder(sub) {
			if blocked {
				continue
			}
			submitted++
			if !s.submitOne(ctx, e, rec.Kind, sub, nil) {
				blocked = true
			}
			continue
		}
		if !s.dispatch(ctx, e, rec.Kind, sub) {
			break
		}
		submitted++
	}
	// The round may have emptied the outbox: end an outage now
	// rather than on the next round.
	if st, err := s.a.store.OutboxStats(); err == nil && st.Pending == 0 {
		s.drained(s.a.time.Wall())
	}
	if submitted > 0 {
		// More may be due beyond this listing (a backlog is listed 1000 at
		// a time): look again at once rather than after wait.
		return 0, nil
	}
	return wait, nil
}

// listOutbox lists the first n pending documents for a round, at now; an
// empty outbox ends an open outage (drained).
func (s *submitter) listOutbox(n int) ([]queue.OutboxEntry, time.Time, error) {
	entries, err := s.a.store.Outbox(n)
	if err != nil {
		return nil, time.Time{}, err
	}
	if s.listed != nil {
		s.listed()
	}
	now := s.a.time.Wall()
	if len(entries) == 0 {
		s.drained(now)
	}
	return entries, now, nil
}

// busy reports whether a document of the current listing is to be left
// alone: in flight, or settled since the listing was taken.
func (s *submitter) busy(counter uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight[counter] || s.settled[counter]
}

// dispatch submits e's document in its own goroutine once a place and a
// slot are free. The slot is given back as soon as the authority has
// answered, so that the next document goes out while this answer is being
// recorded. It reports false, dispatching nothing, when ctx ends first.
func (s *submitter) dispatch(ctx context.Context, e queue.OutboxEntry, kind string, sub stamping.Submission) bool {
	select {
	case s.places <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		<-s.places
		return false
	}
	s.mu.Lock()
	s.inFlight[e.Counter] = true
	s.mu.Unlock()
	s.running.Go(func() {
		s.submitOne(ctx, e, kind, sub, func() { <-s.slots })
		s.mu.Lock()
		delete(s.inFlight, e.Counter)
		s.settled[e.Counter] = true
		last := len(s.inFlight) == 0
		s.mu.Unlock()
		<-s.places
		// The last one may have emptied the outbox: end an outage now,
		// as the round does.
		if last {
			if st, err := s.a.store.OutboxStats(); err == nil && st.Pending == 0 {
				s.drained(s.a.time.Wall())
			}
		}
		s.Wake()
	})
	return true
}

// submitOne submits one document (of kind) and records what came of it;
// it reports whether the document is finished with (accepted, duplicate or
// rejected). answered, if not nil, is called once the authority has
// answered, before the answer is recorded.
func (s *submitter) submitOne(ctx context.Context, e queue.OutboxEntry, kind string, sub stamping.Submission, answered func()) bool {
	start := time.Now()
	if ss, ok := s.a.regime.(stamping.Sessioned); ok {
		return s.submitSessioned(ctx, ss, e, kind, sub, start)
	}
	res := s.a.regime.Submit(ctx, sub)
	s.a.metrics.observeSubmission(s.a.regime.Name(), res.Outcome, time.Since(start))
	if answered != nil {
		answered()
	}
	return s.settle(e, kind, res)
}

// settle records what came of a submission of e's document; it reports
// whether the document is finished with (accepted, duplicate or rejected).
func (s *submitter) settle(e queue.OutboxEntry, kind string, res stamping.Result) bool {
	return s.settleAssigning(e, kind, res, 0)
}

// settleAssigning is settle; a final answer also gives document next (not
// 0) the authority's next number, in the same commit.
func (s *submitter) settleAssigning(e queue.OutboxEntry, kind string, res stamping.Result, next uint64) bool {
	return s.settleWith(e, kind, res, next, nil)
}

// settleWith is settleAssigning; state, if not nil, is stored in the
// commit of a final answer.
func (s *submitter) settleWith(e queue.OutboxEntry, kind string, res stamping.Result, next uint64, state *queue.StateWrite) bool {
	now := s.a.time.Wall()
	msg := strings.Join(res.Messages, "; ")
	var status queue.Status
	switch res.Outcome {
	case stamping.Accepted, stamping.Duplicate:
		status = queue.StatusAccepted
	case stamping.AcceptedWithWarnings:
		status = queue.StatusAcceptedWithWarnings
	case stamping.Rejected:
		status = queue.StatusRejected
	case stamping.CredentialError:
		s.fail(now, msg)
		s.pause(now, "the authority refused the unit's credentials: "+msg)
		s.deferEntry(e, now.Add(s.cfg.MaxBackoff.Duration), msg)
		return false
	default: // Retryable, or an outcome this version does not know
		s.fail(now, msg)
		s.deferEntry(e, now.Add(s.backoff(e.Attempts+1, res.RetryAfter)), msg)
		return false
	}
	s.mu.Lock()
	s.recording++
	s.mu.Unlock()
	if err := s.a.store.RecordAnswer(e.Counter, queue.Answer{Status: status, Body: res.Answer, Messages: res.Messages, At: now, AssignNext: next, State: state, Archive: res.Archive}); err != nil {
		s.mu.Lock()
		s.recording--
		s.mu.Unlock()
		s.a.log.Error().Err(err).Uint64("counter", e.Counter).Msg("record answer")
		return false
	}
	s.a.metrics.answered.WithLabelValues(s.a.regime.Name(), kind, status.String()).Inc()
	if s.answerRecorded != nil {
		s.answerRecorded()
	}
	if status == queue.StatusRejected {
		entry, err := s.a.store.RejectedDocument(e.Counter)
		if err != nil { // the answer is recorded: only the advice is missing
			s.a.log.Error().Err(err).Uint64("counter", e.Counter).Msg("read the index entry of a rejected document")
			entry = queue.RejectedEntry{Counter: e.Counter, Kind: "document"}
		}
		s.a.log.Warn().Uint64("counter", e.Counter).Strs("messages", res.Messages).Msg(rejectionNextStep(entry))
	}
	s.succeed(now, e.Counter, status, res.Messages)
	s.mu.Lock()
	s.recording--
	s.mu.Unlock()
	if s.a.print != nil && s.a.holdsReceipts() {
		// The answer may have released a receipt held for the authority.
		s.a.print.Wake()
	}
	return true
}

// The points of a numbered submission at which a test may stop the
// submitter as a crash would (numberedHook).
const (
	pointBeforeNumber = "before_number" // nothing done yet
	pointNumbered     = "numbered"      // the number is on disk, the request not sent
	pointAnswered     = "answered"      // the authority answered, the answer not recorded
)

// roundNumbered is round for a regime whose authority numbers the
// documents itself (stamping.Numbered): strictly in issue order, one
// request in flight whatever Concurrency says, the oldest pending document
// first and no other until it is answered. A document the authority
// refuses is recorded as rejected and releases its number; the next one
// goes on with it.
func (s *submitter) roundNumbered(ctx context.Context, nr stamping.Numbered) (time.Duration, error) {
	for ctx.Err() == nil && !s.isPaused() {
		entries, now, err := s.listOutbox(2)
		if err != nil {
			return 0, err
		}
		if len(entries) == 0 {
			return time.Minute, nil
		}
		e := entries[0]
		if e.NextAttempt.After(now) {
			return e.NextAttempt.Sub(now), nil
		}
		// The next document takes its number with this one's answer, in one
		// commit, when it is due.
		var next uint64
		if len(entries) > 1 && !entries[1].NextAttempt.After(now) {
			next = entries[1].Counter
		}
		rec, err := s.a.store.Document(e.Counter)
		if err != nil {
			return 0, fmt.Errorf("outbox entry %d: %w", e.Counter, err)
		}
		sub := stamping.Submission{Slot: stamping.Slot{Counter: rec.Counter, PrevHash: rec.PrevHash, UUID: rec.UUID, IssuedAt: rec.IssuedAt},
			Document: rec.Document, Hash: rec.Hash, Attempt: e.Attempts + 1}
		if rec.Original != 0 {
			// Submission is in issue order: the original was answered before.
			orig, err := s.a.store.Document(rec.Original)
			if err != nil {
				return 0, fmt.Errorf("document %d: its original %d: %w", rec.Counter, rec.Original, err)
			}
			sub.OriginalNumber = orig.AuthorityNumber
		}
		if err := s.submitNumbered(ctx, nr, e, rec.Kind, sub, next); err != nil {
			return 0, err
		}
	}
	return time.Minute, nil
}

// submitNumbered gives e's document its number, on disk, before the
// request goes out, and records the answer. A document that held its
// number already (an earlier attempt timed out, or the unit stopped after
// the number was stored) is sent with resend set, so that the regime looks
// the number up before it sends anything — unless this process gave it the
// number with the previous answer (next) and has not sent it since. next,
// when not 0, takes the number after this one's answer, in its commit.
func (s *submitter) submitNumbered(ctx context.Context, nr stamping.Numbered, e queue.OutboxEntry, kind string, sub stamping.Submission, next uint64) error {
	if err := s.numberedPoint(pointBeforeNumber, e.Counter); err != nil {
		return err
	}
	n, fresh, err := s.a.store.AssignNumber(e.Counter, s.a.time.Wall())
	if err != nil {
		return fmt.Errorf("authority number for document %d: %w", e.Counter, err)
	}
	if err := s.numberedPoint(pointNumbered, e.Counter); err != nil {
		return err
	}
	if s.preassigned == e.Counter {
		fresh = true // assigned with the previous answer, never sent
	}
	s.preassigned = 0
	start := time.Now()
	res := nr.SubmitNumbered(ctx, sub, n, !fresh)
	s.a.metrics.observeSubmission(s.a.regime.Name(), res.Outcome, time.Since(start))
	if err := s.numberedPoint(pointAnswered, e.Counter); err != nil {
		return err
	}
	finished := s.settleAssigning(e, kind, res, next)
	if !finished && res.Outcome != stamping.Retryable && res.Outcome != stamping.CredentialError {
		return fmt.Errorf("document %d: the answer could not be recorded", e.Counter)
	}
	if finished {
		s.preassigned = next
	}
	return nil
}

// numberedPoint calls the test hook at point, if one is set.
func (s *submitter) numberedPoint(point string, counter uint64) error {
	if s.numberedHook == nil {
		return nil
	}
	return s.numberedHook(point, counter)
}

func (s *submitter) deferEntry(e queue.OutboxEntry, next time.Time, msg string) {
	if err := s.a.store.Defer(e.Counter, next, msg); err != nil {
		s.a.log.Error().Err(err).Uint64("counter", e.Counter).Msg("defer submission")
	}
}

// fail notes a failed attempt and opens the outage incident once the
// failures have lasted longer than the threshold.
func (s *submitter) fail(now time.Time, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastError = msg
	if s.failingSince.IsZero() {
		s.failingSince = now
		if head, err := s.a.store.Head(); err == nil {
			s.failHead = head.Counter
		}
	}
	if s.outage != 0 || now.Sub(s.failingSince) < s.cfg.OutageAfter.Duration {
		return
	}
	id, _ := s.a.store.Identity()
	inc, err := s.a.store.RaiseIncident(queue.Incident{
		Kind: incidentOutage, Title: "Tax authority unreachable", Start: s.failingSince,
		Detail: fmt.Sprintf("documents cannot be delivered since %s (%s); the unit keeps issuing and will submit them when the authority is back. Notify the authority of the failure and record the reference here.",
			s.failingSince.UTC().Format(time.RFC3339), msg),
		Data: map[string]string{"device_id": id.DeviceID, "counter_at_start": strconv.FormatUint(s.failHead, 10), "last_error": msg},
	}, "system")
	if err != nil {
		s.a.log.Error().Err(err).Msg("raise outage incident")
		return
	}
	s.outage, s.outageHead = inc.ID, s.failHead
	s.a.log.Warn().Uint64("incident", inc.ID).Msg("outage incident opened")
}

func (s *submitter) isPaused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused != ""
}

func (s *submitter) pause(now time.Time, why string) {
	s.mu.Lock()
	first := s.paused == ""
	s.paused = why
	s.mu.Unlock()
	if !first {
		return
	}
	if _, err := s.a.store.RaiseIncident(queue.Incident{Kind: incidentCredentials, Title: "Credentials refused by the authority",
		Detail: why + ". Submission is paused: a technician must renew the unit's credentials; then replay.", Start: now}, "system"); err != nil {
		s.a.log.Error().Err(err).Msg("raise credentials incident")
	}
}

func (s *submitter) succeed(now time.Time, counter uint64, status queue.Status, messages []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failingSince, s.lastError, s.lastContact = time.Time{}, "", now
	if s.outage != 0 {
		s.delivered++
	}
	if r := s.replay; r != nil && r.Finished.IsZero() {
		a := replayAnswer{counter, status, messages}
		if s.replayOf == nil {
			s.replayEarly = append(s.replayEarly, a)
		} else {
			s.countInReplay(a, now)
		}
	}
}

// countInReplay counts an answer in the replay if the document is one of
// those pending when it started; a document answered before then (its
// attempt began before the replay) is not the replay's. The replay is
// finished when the last of its documents is answered. Called with s.mu.
func (s *submitter) countInReplay(a replayAnswer, now time.Time) {
	if !s.replayOf[a.counter] {
		return
	}
	delete(s.replayOf, a.counter)
	r := s.replay
	if len(s.replayOf) == 0 {
		r.Finished = now
	}
	r.Done++
	switch a.status {
	case queue.StatusAccepted:
		r.Accepted++
	case queue.StatusAcceptedWithWarnings:
		r.Warnings++
	case queue.StatusRejected:
		r.Rejected++
		r.Rejections = append(r.Rejections, Rejection{Counter: a.counter, Messages: a.messages})
	}
}

// drained is called when the outbox is empty: an open outage incident
// ends here. (A replay ends when the last of its documents is answered.)
func (s *submitter) drained(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outage == 0 || !s.failingSince.IsZero() || s.recording > 0 {
		return
	}
	head, err := s.a.store.Head()
	if err != nil {
		s.a.log.Error().Err(err).Msg("close outage incident: read the head of the chain")
		return
	}
	delivered := "1 document"
	if s.delivered != 1 {
		delivered = fmt.Sprintf("%d documents", s.delivered)
	}
	summary := fmt.Sprintf("authority reachable again; %s delivered after the outage, %d of them issued during it", delivered, head.Counter-s.outageHead)
	if err := s.a.store.CloseIncident(s.outage, summary, "system"); err != nil {
		s.a.log.Error().Err(err).Msg("close outage incident")
		return
	}
	s.outage, s.delivered = 0, 0
}

// Replay makes every pending document due now, lifts a pause, and starts
// counting what comes of them.
func (s *submitter) Replay(actor string) (ReplayProgress, error) {
	// The replay is in place before the store says what is pending, so
	// that no answer recorded in between escapes it; countInReplay sorts
	// out which answers are the replay's.
	s.mu.Lock()
	s.replay = &ReplayProgress{Started: s.a.time.Wall()}
	s.replayOf, s.replayEarly = nil, nil
	s.mu.Unlock()
	pending, err := s.a.store.RetryNow()
	s.mu.Lock()
	if err != nil {
		s.replay, s.replayEarly = nil, nil
		s.mu.Unlock()
		return ReplayProgress{}, err
	}
	s.paused = ""
	s.nextRound = s.a.time.Wall() // woken below
	s.replay.Total = len(pending)
	s.replayOf = make(map[uint64]bool, len(pending))
	for _, c := range pending {
		s.replayOf[c] = true
	}
	for _, a := range s.replayEarly {
		s.countInReplay(a, s.a.time.Wall())
	}
	s.replayEarly = nil
	if len(pending) == 0 {
		s.replay.Finished = s.a.time.Wall()
	}
	p := *s.replay
	s.mu.Unlock()
	if err := s.a.store.Audit(queue.AuditEntry{Actor: actor, ActorKind: queue.ActorUser, Action: queue.AuditReplay, Details: map[string]string{"pending": strconv.Itoa(len(pending))}}); err != nil {
		return p, err
	}
	s.Wake()
	return p, nil
}

// Replay makes every pending document due now and lifts a pause, as
// POST /v1/replay does; actor is recorded in the audit log.
func (a *Agent) Replay(actor string) (ReplayProgress, error) {
	if !a.cfg.Submit.Enabled {
		return ReplayProgress{}, errSubmissionOff
	}
	return a.submit.Replay(actor)
}

// Progress returns the last replay's progress.
func (s *submitter) Progress() (ReplayProgress, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replay == nil {
		return ReplayProgress{}, false
	}
	p := *s.replay
	p.Rejections = append([]Rejection(nil), p.Rejections...)
	p.Paused = s.paused
	if p.Finished.IsZero() && !s.failingSince.IsZero() {
		p.LastError, p.FailingSince, p.NextAttempt = s.lastError, s.failingSince, s.nextRound
	}
	return p, true
}

// State is the submitter's part of the status.
func (s *submitter) State() SubmissionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SubmissionState{Enabled: s.cfg.Enabled, Paused: s.paused, FailingSince: s.failingSince, LastError: s.lastError, LastContact: s.lastContact}
}

var errSubmissionOff = errors.New("submission is disabled on this unit (submission.enabled = false)")

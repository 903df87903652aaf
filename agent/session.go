package agent

import (
	"context"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
)

// SessionStateKey is where the store keeps a Sessioned regime's session
// with its authority (the Kazakh OFD's TOKEN, REQNUM and request in
// flight).
const SessionStateKey = "session"

// The point of a sessioned submission at which a test may stop the
// submitter as a crash would (numberedHook): the authority answered and
// the session that came with the answer is not stored yet.
const pointSessionAnswered = "session_answered"

// loadSession gives a Sessioned regime the session on disk.
func (a *Agent) loadSession() error {
	ss, ok := a.regime.(stamping.Sessioned)
	if !ok {
		return nil
	}
	b, err := a.store.RegimeState(SessionStateKey)
	if err != nil {
		return err
	}
	return ss.LoadSession(b)
}

// submitSessioned delivers e's document through the regime's session: the
// session is on disk before a request goes out, and the session the
// answer came with is stored in the same commit as a final answer (alone
// after any other outcome). When that store fails, the regime goes back to
// the session on disk, whose request is then sent again as it was.
func (s *submitter) submitSessioned(ctx context.Context, ss stamping.Sessioned, e queue.OutboxEntry, kind string, sub stamping.Submission, start time.Time) bool {
	res, session := ss.SubmitSession(ctx, sub, s.nextInOrder(e.Counter), func(b []byte) error { return s.a.store.PutSessionState(SessionStateKey, b) })
	s.a.metrics.observeSubmission(s.a.regime.Name(), res.Outcome, time.Since(start))
	if err := s.numberedPoint(pointSessionAnswered, e.Counter); err != nil {
		s.reloadSession()
		return false
	}
	state := &queue.StateWrite{Key: SessionStateKey, Value: session}
	switch res.Outcome {
	case stamping.Accepted, stamping.AcceptedWithWarnings, stamping.Duplicate, stamping.Rejected:
		finished := s.settleWith(e, kind, res, 0, state)
		if !finished {
			s.reloadSession()
		}
		return finished
	}
	if err := s.a.store.PutSessionState(SessionStateKey, session); err != nil {
		s.a.log.Error().Err(err).Uint64("counter", e.Counter).Msg("store the OFD session")
		s.reloadSession()
	}
	return s.settle(e, kind, res)
}

// nextInOrder is the document that waits after counter, when counter is
// the oldest waiting; nil otherwise.
func (s *submitter) nextInOrder(counter uint64) *stamping.Submission {
	out, err := s.a.store.Outbox(2)
	if err != nil || len(out) < 2 || out[0].Counter != counter {
		return nil
	}
	rec, err := s.a.store.Document(out[1].Counter)
	if err != nil {
		return nil
	}
	return &stamping.Submission{Slot: stamping.Slot{Counter: rec.Counter, PrevHash: rec.PrevHash, UUID: rec.UUID, IssuedAt: rec.IssuedAt},
		Document: rec.Document, Hash: rec.Hash, Attempt: out[1].Attempts + 1}
}

// reloadSession puts the regime's session back to the one on disk.
func (s *submitter) reloadSession() {
	if err := s.a.loadSession(); err != nil {
		s.a.log.Error().Err(err).Msg("reload the session with the authority")
	}
}

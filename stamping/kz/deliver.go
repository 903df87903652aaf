package kz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/egsd/egsd/stamping"
)

// StoredAnswer is what the journal keeps as a Kazakh document's answer:
// the frame sent (header and payload, the service block included) and the
// OFD's answer frame as received, with the fiscal sign and QR read out of
// it.
type StoredAnswer struct {
	Command    Command `json:"command"`
	ReqNum     uint16  `json:"reqnum"`
	Result     uint32  `json:"result"`
	Text       string  `json:"text,omitempty"`
	FiscalSign string  `json:"fiscal_sign,omitempty"`
	QR         string  `json:"qr,omitempty"`
	Request    []byte  `json:"request"`
	Answer     []byte  `json:"answer"`
}

// DecodeStoredAnswer reads an answer the journal keeps.
func DecodeStoredAnswer(b []byte) (StoredAnswer, error) {
	var a StoredAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("kz: the stored answer is not the OFD's: %w", err)
	}
	return a, nil
}

// LoadSession replaces the session with the stored one (nil: the
// configured id and first token, nothing pending).
func (r *Regime) LoadSession(b []byte) error {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	if len(b) == 0 {
		r.session = &Session{ID: r.settings.KKMID, Token: r.settings.Token}
		return nil
	}
	s, err := UnmarshalSession(b)
	if err != nil {
		return err
	}
	if s.ID != r.settings.KKMID {
		return fmt.Errorf("%w: the stored OFD session is for KKM id %d, the configuration names %d (regime.options.kkm_id); "+
			"set it back, or set up a new unit", stamping.ErrIdentityChanged, s.ID, r.settings.KKMID)
	}
	r.session = s
	return nil
}

// Session returns a copy of the session (status, tests).
func (r *Regime) Session() Session {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	s := *r.session
	if s.Pending != nil {
		p := *s.Pending
		s.Pending = &p
	}
	return s
}

// ErrNotThisDocument is returned when the request pending in the session
// is not the document being submitted.
var ErrNotThisDocument = errors.New("the request pending with the OFD is another document's")

// SubmitSession sends a stored document to the OFD (stamping.Sessioned).
// A request left pending by an earlier attempt (a timeout, a crash after
// the frame was saved) is sent again byte for byte: same REQNUM, TOKEN and
// command, so that the OFD answers with its stored answer and registers
// nothing twice. Otherwise the next REQNUM is taken and the session saved
// before the frame goes out.
func (r *Regime) SubmitSession(ctx context.Context, sub stamping.Submission, next *stamping.Submission, save func([]byte) error) (stamping.Result, []byte) {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	req, err := UnmarshalRequest(sub.Document)
	if err != nil {
		return stamping.Result{Outcome: stamping.Rejected, Messages: []string{"the stored document is not a Kazakh OFD request: " + err.Error()}}, r.sessionBytes()
	}
	p := r.session.Pending
	if p != nil {
		if err := samePayload(p, req); err != nil {
			return stamping.Result{Outcome: stamping.Retryable, Messages: []string{err.Error()}}, r.sessionBytes()
		}
	} else {
		req.Service = r.service()
		if p, err = r.session.Begin(req); err != nil {
			return stamping.Result{Outcome: stamping.Retryable, Messages: []string{err.Error()}}, r.sessionBytes()
		}
		b := r.sessionBytes()
		if err := save(b); err != nil {
			// Not on disk: the request must not go out. Forget it.
			r.session.Pending, r.session.ReqNum = nil, r.session.ReqNum-1
			if r.session.ReqNum == 0 {
				r.session.ReqNum = 65535
			}
			return stamping.Result{Outcome: stamping.Retryable, Messages: []string{"the request could not be stored before sending: " + err.Error()}}, r.sessionBytes()
		}
	}
	reply, err := r.client.Send(ctx, p)
	if err != nil {
		r.wentOffline()
		return stamping.Result{Outcome: stamping.Retryable, Messages: []string{err.Error()}}, r.sessionBytes()
	}
	outcome := r.session.Complete(reply)
	res := reply.Response.Result
	text := fmt.Sprintf("OFD result %d (%s)", res.Code, res.Code)
	if res.Text != "" {
		text += ": " + res.Text
	}
	switch outcome {
	case Accepted:
		a := StoredAnswer{Command: p.Command, ReqNum: p.ReqNum, Request: p.Frame, Answer: reply.Frame}
		if t := reply.Response.Ticket; t != nil {
			a.FiscalSign, a.QR = t.TicketNumber, string(t.QRCode)
		}
		if p.Command == CommandTicket && a.FiscalSign == "" {
			// Registered, but the answer lacks the sign: keep it as it is.
			a.Text = "the OFD's answer carries no fiscal sign"
		}
		body, err := json.Marshal(a)
		if err != nil {
			return stamping.Result{Outcome: stamping.Retryable, Messages: []string{err.Error()}}, r.sessionBytes()
		}
		result := stamping.Result{Outcome: stamping.Accepted, Answer: body}
		if p.Command == CommandTicket && a.FiscalSign != "" && r.archive != nil {
			// The answer is the OFD's registration: it is recorded even
			// when its record cannot be sealed, and the manager told.
			var err error
			if result.Archive, err = r.sealAccepted(p, a.FiscalSign, sub); err != nil {
				result.Outcome = stamping.AcceptedWithWarnings
				result.Messages = []string{fmt.Sprintf("the OFD registered document %d (fiscal sign %s), but its signed archive record could not be sealed: %v; "+
					"the journal keeps the ticket and the OFD's answer", sub.Slot.Counter, a.FiscalSign, err)}
			}
		}
		r.answeredDocument(sub.Slot.Counter)
		r.beginNext(next)
		return result, r.sessionBytes()
	case Retry:
		r.wentOffline()
		return stamping.Result{Outcome: stamping.Retryable, Messages: []string{text + "; the same request is sent again"}}, r.sessionBytes()
	case Renumber:
		// Not registered: the next attempt sends it as a new request.
		return stamping.Result{Outcome: stamping.Retryable, Messages: []string{text + "; the document is sent again as a new request"}}, r.sessionBytes()
	case CloseShift:
		r.mu.Lock()
		r.shiftExpired = true
		r.mu.Unlock()
		return stamping.Result{Outcome: stamping.Retryable, Messages: []string{text + "; the OFD counts the shift as longer than 24 h: the shift closes before the next ticket, " +
			"and a manager may close it now (egsd shift close)"}}, r.sessionBytes()
	case Stopped:
		return stamping.Result{Outcome: stamping.CredentialError, Messages: []string{text + "; the OFD refuses this KKM: ask the OFD to unblock it or issue a new token, set regime.options.token, and replay"}}, r.sessionBytes()
	}
	a := StoredAnswer{Command: p.Command, ReqNum: p.ReqNum, Result: uint32(res.Code), Text: res.Text, Request: p.Frame, Answer: reply.Frame}
	body, err := json.Marshal(a)
	if err != nil {
		return stamping.Result{Outcome: stamping.Retryable, Messages: []string{err.Error()}}, r.sessionBytes()
	}
	r.answeredDocument(sub.Slot.Counter)
	r.beginNext(next)
	return stamping.Result{Outcome: stamping.Rejected, Answer: body, Messages: []string{text}}, r.sessionBytes()
}

// sealAccepted seals the record of the ticket in the frame sent, with the
// OFD's fiscal sign (and its autonomous sign, when it was issued
// autonomously), for the journal document sub.
func (r *Regime) sealAccepted(p *Pending, fiscalSign string, sub stamping.Submission) ([]byte, error) {
	_, payload, err := SplitFrame(p.Frame)
	if err != nil {
		return nil, err
	}
	req, err := UnmarshalRequest(payload)
	if err != nil {
		return nil, err
	}
	if req.Ticket == nil {
		return nil, errors.New("the request sent carries no ticket")
	}
	return r.archive.Seal(req.Ticket, fiscalSign, sub.Slot.Counter, sub.Slot.UUID, sub.Document)
}

// beginNext makes the next document's request pending, with the TOKEN
// just adopted, so that it is stored with this answer and sent without a
// commit of its own. A document that does not read is left to its own
// submission, which says why.
func (r *Regime) beginNext(next *stamping.Submission) {
	if next == nil || r.session.Pending != nil {
		return
	}
	req, err := UnmarshalRequest(next.Document)
	if err != nil {
		return
	}
	req.Service = r.service()
	r.session.Begin(req) // nothing is pending: Begin cannot refuse
}

// samePayload checks that the pending request is doc's: the same command
// and the same ticket or shift close (the service block may differ).
func samePayload(p *Pending, doc *Request) error {
	_, payload, err := SplitFrame(p.Frame)
	if err != nil {
		return err
	}
	pending, err := UnmarshalRequest(payload)
	if err != nil {
		return err
	}
	pending.Service, doc.Service = nil, nil
	if pending.Command != doc.Command || !bytes.Equal(pending.Marshal(), doc.Marshal()) {
		return fmt.Errorf("%w (REQNUM %d, a %s): it is sent first", ErrNotThisDocument, p.ReqNum, p.Command)
	}
	return nil
}

func (r *Regime) sessionBytes() []byte {
	b, err := r.session.Marshal()
	if err != nil {
		panic(err) // a struct of numbers and bytes
	}
	return b
}

// service is the service block of a new request: the registration data
// and the offline period (begin = end = now online; from the first
// autonomous document to now while autonomous documents are delivered).
func (r *Regime) service() *ServiceRequest {
	now := DateTimeOf(r.now().In(almaty))
	r.mu.Lock()
	begin := now
	if !r.periodBegin.IsZero() {
		begin = DateTimeOf(r.periodBegin.In(almaty))
	}
	r.mu.Unlock()
	return &ServiceRequest{OfflinePeriod: &OfflinePeriod{Begin: begin, End: now},
		Kkm: &KkmRegInfo{PointOfPaymentNumber: "1", TerminalNumber: "1", FnsKkmID: r.settings.RNM, SerialNumber: r.settings.ZNM,
			KkmID: strconv.FormatUint(uint64(r.settings.KKMID), 10)},
		Org: &OrgRegInfo{Title: r.sellerName, INN: r.settings.SellerTaxID}}
}

// wentOffline notes that the OFD did not answer: documents stamped from
// now on are autonomous.
func (r *Regime) wentOffline() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.offlineSince.IsZero() {
		r.offlineSince = r.now()
	}
	if r.periodBegin.IsZero() {
		r.periodBegin = r.offlineSince
	}
}

// answeredDocument notes the OFD's final answer to document counter: the
// OFD answers, and once the last autonomous document is answered the
// autonomous mode ends.
func (r *Regime) answeredDocument(counter uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.offlineSince = time.Time{}
	r.answered = max(r.answered, counter)
	if r.lastAutonomous <= r.answered {
		r.periodBegin = time.Time{}
	}
}

// Autonomous reports whether the unit is in autonomous mode, and since
// when the OFD has not answered (zero while it answers).
func (r *Regime) Autonomous() (bool, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.autonomousLocked(), r.offlineSince
}

// Submit is not called for a Sessioned regime: the agent keeps the
// session and calls SubmitSession. Called without it, nothing is sent.
func (r *Regime) Submit(context.Context, stamping.Submission) stamping.Result {
	return stamping.Result{Outcome: stamping.Retryable, Messages: []string{"the Kazakh regime delivers through its OFD session (SubmitSession)"}}
}

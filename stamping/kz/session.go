package kz

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Session is the KKM's state with the OFD that must survive a restart
// (spec §0.4, §0.5, §3.2): the id in every header, the TOKEN the OFD issued
// last, the REQNUM of the last request begun, and the request in flight.
//
// The caller persists it at two points, in this order:
//
//  1. after Begin, before the frame is sent: the Pending frame and its
//     REQNUM are on disk, so a crash after sending resends the very same
//     bytes (same REQNUM, TOKEN and command), which the OFD recognises as
//     a retry and answers without registering the document twice;
//  2. after Complete, atomically with the result it came with (the fiscal
//     sign): the adopted TOKEN and the result are stored together or not at
//     all. A crash before this point leaves Pending set, and the retry gets
//     the stored answer again.
type Session struct {
	ID     uint32 `json:"id"`
	Token  uint32 `json:"token"`
	ReqNum uint16 `json:"reqnum"`
	// Pending is the request sent and not yet answered, nil when none.
	Pending *Pending `json:"pending,omitempty"`
}

// Pending is a request in flight: its command and its exact frame.
type Pending struct {
	Command Command `json:"command"`
	ReqNum  uint16  `json:"reqnum"`
	Token   uint32  `json:"token"`
	Frame   []byte  `json:"frame"`
}

// ErrPending is returned by Begin while a request is unanswered: it must
// be resent (Client.Send with Session.Pending) until it is answered, or
// the OFD would see the next request under a new REQNUM and the pending
// one could never be retried.
var ErrPending = errors.New("a request to the OFD is still unanswered; resend it before a new one")

// NextReqNum is the REQNUM after n: +1, wrapping from 65535 to 1 (0 is
// never sent; spec §1.3).
func NextReqNum(n uint16) uint16 {
	if n == 65535 {
		return 1
	}
	return n + 1
}

// Begin makes req the request in flight: the next REQNUM, the current
// TOKEN, the frame. Persist the session before sending Pending.
func (s *Session) Begin(req *Request) (*Pending, error) {
	if s.Pending != nil {
		return nil, ErrPending
	}
	payload := req.Marshal()
	next := NextReqNum(s.ReqNum)
	frame, err := AppendFrame(make([]byte, 0, HeaderSize+len(payload)), s.ID, s.Token, next, payload)
	if err != nil {
		return nil, err
	}
	s.ReqNum = next
	s.Pending = &Pending{Command: req.Command, ReqNum: next, Token: s.Token, Frame: frame}
	return s.Pending, nil
}

// Outcome is what an answer means for the document it answers.
type Outcome int

// The outcomes.
const (
	// Accepted: result 0; the document is registered.
	Accepted Outcome = iota
	// Retry: results 254 and 255 (the OFD is unavailable); the request
	// stays pending and is resent as it is, then, when the total
	// transaction time has passed, the document goes autonomous.
	Retry
	// Renumber: results 8 and 9; the OFD saw another request under this
	// REQNUM, so this one was not registered. It is safe to send the
	// document again as a new request (a new REQNUM).
	Renumber
	// CloseShift: result 11; the shift is open too long. Close it, then
	// send the document again as a new request.
	CloseShift
	// Stopped: results 1 (unknown id), 2 (invalid token) and 15 (blocked);
	// nothing can be sent until the OFD or the taxpayer acts (a new token,
	// an unblocked KKM).
	Stopped
	// Refused: any other result; the document was not registered and must
	// be corrected (13 incorrect data, 17 buyer is the seller, …).
	Refused
)

func (o Outcome) String() string {
	return [...]string{"accepted", "retry", "renumber", "close shift", "stopped", "refused"}[o]
}

// OutcomeOf classifies a result code (spec §3.2).
func OutcomeOf(c ResultCode) Outcome {
	switch c {
	case ResultOK:
		return Accepted
	case ResultServiceUnavailable, ResultUnknownError:
		return Retry
	case ResultInvalidRequestNumber, ResultInvalidRetryRequest:
		return Renumber
	case ResultShiftTimeoutExpired:
		return CloseShift
	case ResultUnknownID, ResultInvalidToken, ResultBlocked:
		return Stopped
	}
	return Refused
}

// Complete takes the answer to the pending request: the TOKEN of the
// response header is adopted whatever the result (spec §0.4), and the
// request stops being pending unless the outcome is Retry. Persist the
// session with the result.
func (s *Session) Complete(r *Reply) Outcome {
	s.Token = r.Header.Token
	o := OutcomeOf(r.Response.Result.Code)
	if o != Retry {
		s.Pending = nil
	}
	return o
}

// Marshal is s's stored form (JSON).
func (s *Session) Marshal() ([]byte, error) { return json.Marshal(s) }

// UnmarshalSession reads a stored session and checks that a pending frame
// is one this package made for it.
func UnmarshalSession(b []byte) (*Session, error) {
	var s Session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("OFD session: %w", err)
	}
	if p := s.Pending; p != nil {
		h, payload, err := SplitFrame(p.Frame)
		if err != nil {
			return nil, fmt.Errorf("OFD session: pending frame: %w", err)
		}
		if h.ID != s.ID || h.ReqNum != p.ReqNum || h.Token != p.Token {
			return nil, fmt.Errorf("OFD session: the pending frame's header (id %d, REQNUM %d, TOKEN %d) does not match the session (id %d, REQNUM %d, TOKEN %d)",
				h.ID, h.ReqNum, h.Token, s.ID, p.ReqNum, p.Token)
		}
		req, err := UnmarshalRequest(payload)
		if err != nil {
			return nil, fmt.Errorf("OFD session: pending frame: %w", err)
		}
		if req.Command != p.Command {
			return nil, fmt.Errorf("OFD session: the pending frame is a %s, the session says %s", req.Command, p.Command)
		}
	}
	return &s, nil
}

package ofdsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/egsd/egsd/stamping/kz"
)

// Config configures a Server; every field's zero value is usable.
type Config struct {
	// ID is the one KKM id the OFD knows (others get UNKNOWN_ID, 1); zero
	// accepts any id, registering it at its first request.
	ID uint32
	// Token is a known KKM's first token; zero adopts the token of the
	// first request.
	Token uint32
	// RotateDocumentsOnly rotates the token only on TICKET and
	// CLOSE_SHIFT, as some descriptions of the real OFD say; by default
	// every processed request gets a new token.
	RotateDocumentsOnly bool
	// Kkm, Pos and Org are the registration data INFO returns; zero
	// values get demo data (RNM 620300000011, a valid demo BIN).
	Kkm kz.KkmRegInfo
	Pos kz.PosRegInfo
	Org kz.OrgRegInfo
	// ConsumerHost is the QR's base; "http://consumer.test-oofd.kz" if empty.
	ConsumerHost string
	// ShiftLimit is how long a shift may stay open before tickets get
	// OPEN_SHIFT_TIMEOUT_EXPIRED (11); zero means 24 h.
	ShiftLimit time.Duration
	// Faults are in force from the start; change them with SetFaults.
	Faults Faults
	// Now is the OFD's clock; nil means time.Now.
	Now func() time.Time
	// Location is the zone tickets' local times are read in; nil is UTC+5.
	Location *time.Location
	// KeepFrames keeps every request frame read, for Frames.
	KeepFrames bool
}

// Faults are the failures the simulator injects. The zero value injects
// nothing.
type Faults struct {
	// Latency delays every answer.
	Latency time.Duration
	// DropCount requests are processed (a ticket registered, its answer
	// stored) and then the connection is closed without an answer: the
	// client cannot know, and must retry with the same REQNUM and TOKEN.
	DropCount int
	// ResetCount requests are reset before they are read.
	ResetCount int
	// Down resets every connection: the OFD is unreachable.
	Down bool
	// Results answer the next requests with these result codes, one each,
	// without processing them or rotating the token (254, 255, 15, 11 …).
	Results []kz.ResultCode
	// UnknownField adds a field 11 to every answer, as the real test
	// server does; a reader must skip it.
	UnknownField bool
	// AnswerDelay holds every answer this long after its request was
	// processed (a ticket registered, the token rotated): a client that
	// stops meanwhile has been served without knowing it.
	AnswerDelay time.Duration
}

// Server is the simulated OFD. Config must be set before Start; the
// methods are safe for concurrent use.
type Server struct {
	Config

	mu      sync.Mutex
	started bool
	faults  Faults
	ln      net.Listener
	wg      sync.WaitGroup
	devices map[uint32]*device
	signs   uint64
	stats   Stats
	frames  [][]byte
}

// Frames returns every request frame read so far (Config.KeepFrames).
func (s *Server) Frames() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.frames...)
}

// Stats count what the OFD did.
type Stats struct {
	Requests int // frames read
	Replays  int // retries answered with the stored answer
	Tickets  int // tickets registered
	Dropped  int // answers dropped after processing
	Resets   int
}

// Start listens on addr ("127.0.0.1:0" for any free loopback port) and
// serves until Close. It returns the address.
func (s *Server) Start(addr string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return "", errors.New("the OFD simulator is already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.started, s.ln, s.faults = true, ln, s.Config.Faults
	if s.devices == nil {
		s.devices = map[uint32]*device{}
	}
	s.wg.Add(1)
	go s.serve(ln)
	return ln.Addr().String(), nil
}

// Close stops the server and waits for its connections to end.
func (s *Server) Close() error {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return nil
	}
	err := ln.Close()
	s.wg.Wait()
	return err
}

// SetFaults replaces the faults in force.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.Results = append([]kz.ResultCode(nil), f.Results...)
	s.faults = f
}

// SetDown takes the OFD down (every connection reset) or up again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Down = down
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Server) serve(ln net.Listener) {
	defer s.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(conn)
		}()
	}
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) location() *time.Location {
	if s.Location != nil {
		return s.Location
	}
	return time.FixedZone("UTC+5", 5*3600)
}

func reset(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// handle serves one connection: one request, one answer (spec §1.1).
func (s *Server) handle(conn net.Conn) {
	s.mu.Lock()
	f := &s.faults
	if f.Down || f.ResetCount > 0 {
		if !f.Down {
			f.ResetCount--
		}
		s.stats.Resets++
		s.mu.Unlock()
		reset(conn)
		return
	}
	latency, hold := f.Latency, f.AnswerDelay
	s.mu.Unlock()
	defer conn.Close()

	conn.SetDeadline(time.Now().Add(30 * time.Second))
	h, payload, err := kz.ReadFrame(conn)
	if err != nil {
		if errors.Is(err, kz.ErrFrame) {
			// A frame that is not the protocol's: answer PROTOCOL_ERROR
			// when the header can be echoed, else just hang up.
			s.write(conn, h.ID, h.Token, h.ReqNum, &kz.Response{Result: kz.Result{Code: kz.ResultProtocolError, Text: err.Error()}}, false)
		}
		return
	}
	if latency > 0 {
		time.Sleep(latency)
	}
	if s.KeepFrames {
		if f, err := kz.AppendFrame(nil, h.ID, h.Token, h.ReqNum, payload); err == nil {
			s.mu.Lock()
			s.frames = append(s.frames, f)
			s.mu.Unlock()
		}
	}
	answer, drop := s.process(h, payload)
	if drop {
		reset(conn)
		return
	}
	if hold > 0 {
		time.Sleep(hold)
	}
	conn.Write(answer)
}

func (s *Server) write(conn net.Conn, id, token uint32, reqNum uint16, r *kz.Response, unknown bool) {
	frame, err := kz.AppendFrame(nil, id, token, reqNum, responsePayload(r, unknown))
	if err == nil {
		conn.Write(frame)
	}
}

// responsePayload is r's encoding, with the test server's unknown field
// 11 when asked.
func responsePayload(r *kz.Response, unknown bool) []byte {
	b := r.Marshal()
	if unknown {
		b = append(b, 0x5a, 3, 'x', 'y', 'z') // field 11, length-delimited
	}
	return b
}

// process handles one request under the lock and returns the answer's
// frame, and whether to drop it (the request was processed all the same).
func (s *Server) process(h kz.Header, payload []byte) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests++
	unknown := s.faults.UnknownField
	frame := func(token uint32, r *kz.Response) []byte {
		b, err := kz.AppendFrame(nil, h.ID, token, h.ReqNum, responsePayload(r, unknown))
		if err != nil {
			panic(err) // answers are small
		}
		return b
	}
	req, err := kz.UnmarshalRequest(payload)
	if err != nil {
		return frame(h.Token, &kz.Response{Result: kz.Result{Code: kz.ResultProtocolError, Text: err.Error()}}), false
	}
	fail := func(code kz.ResultCode, text string) []byte {
		return frame(h.Token, &kz.Response{Command: req.Command, Result: kz.Result{Code: code, Text: text}})
	}
	if s.Config.ID != 0 && h.ID != s.Config.ID {
		return fail(kz.ResultUnknownID, fmt.Sprintf("KKM id %d is not registered", h.ID)), false
	}
	d := s.devices[h.ID]
	if d == nil {
		d = &device{token: s.Config.Token}
		if d.token == 0 {
			d.token = h.Token
		}
		s.devices[h.ID] = d
	}
	// The retry rules come before the token check (spec §3.8).
	if p := d.prev; p != nil && p.reqNum == h.ReqNum {
		switch {
		case p.token == h.Token && p.command == req.Command:
			s.stats.Replays++
			return p.answer, s.dropOne()
		case p.token == h.Token:
			return fail(kz.ResultInvalidRetryRequest, fmt.Sprintf("REQNUM %d and this TOKEN were a %s, not a %s", h.ReqNum, p.command, req.Command)), false
		default:
			return frame(d.token, &kz.Response{Command: req.Command, Result: kz.Result{Code: kz.ResultInvalidRequestNumber,
				Text: fmt.Sprintf("REQNUM %d was already used with another TOKEN", h.ReqNum)}}), false
		}
	}
	if h.Token != d.token {
		return fail(kz.ResultInvalidToken, "the TOKEN is not the one issued; a token reset is needed"), false
	}
	if len(s.faults.Results) > 0 {
		code := s.faults.Results[0]
		s.faults.Results = s.faults.Results[1:]
		return fail(code, "injected"), false
	}
	resp := s.dispatch(d, req)
	resp.Command = req.Command
	next := d.token
	if !s.RotateDocumentsOnly || req.Command == kz.CommandTicket || req.Command == kz.CommandCloseShift {
		for next == d.token || next == 0 {
			next = rand.Uint32()
		}
	}
	d.token = next
	answer := frame(next, resp)
	d.prev = &previous{reqNum: h.ReqNum, token: h.Token, command: req.Command, answer: answer}
	return answer, s.dropOne()
}

// dropOne consumes one "drop after processing" fault.
func (s *Server) dropOne() bool {
	if s.faults.DropCount > 0 {
		s.faults.DropCount--
		s.stats.Dropped++
		return true
	}
	return false
}

package kz

import (
	"errors"
	"fmt"
)

// Command is CommandTypeEnum (spec §2.1).
type Command uint32

// The commands this package sends. There is no OPEN_SHIFT: a shift opens
// with its first document (spec §0.6).
const (
	CommandSystem     Command = 0
	CommandTicket     Command = 1
	CommandCloseShift Command = 2
	CommandReport     Command = 3
	CommandInfo       Command = 5
)

func (c Command) String() string {
	switch c {
	case CommandSystem:
		return "SYSTEM"
	case CommandTicket:
		return "TICKET"
	case CommandCloseShift:
		return "CLOSE_SHIFT"
	case CommandReport:
		return "REPORT"
	case 4:
		return "NOMENCLATURE"
	case CommandInfo:
		return "INFO"
	case 6:
		return "MONEY_PLACEMENT"
	case 8:
		return "AUTH"
	}
	return fmt.Sprintf("command %d", uint32(c))
}

// ResultCode is Result.result_code, a uint32 so that new codes do not
// break a reader (spec §2.1).
type ResultCode uint32

// The result codes the session rules act on.
const (
	ResultOK                   ResultCode = 0
	ResultUnknownID            ResultCode = 1
	ResultInvalidToken         ResultCode = 2
	ResultProtocolError        ResultCode = 3
	ResultUnknownCommand       ResultCode = 4
	ResultUnsupportedCommand   ResultCode = 5
	ResultInvalidRequestNumber ResultCode = 8
	ResultInvalidRetryRequest  ResultCode = 9
	ResultShiftTimeoutExpired  ResultCode = 11
	ResultIncorrectRequestData ResultCode = 13
	ResultNotEnoughCash        ResultCode = 14
	ResultBlocked              ResultCode = 15
	ResultSameTaxpayerCustomer ResultCode = 17
	ResultElementNotFound      ResultCode = 18
	ResultServiceUnavailable   ResultCode = 254
	ResultUnknownError         ResultCode = 255
)

var resultNames = map[ResultCode]string{
	0: "OK", 1: "UNKNOWN_ID", 2: "INVALID_TOKEN", 3: "PROTOCOL_ERROR", 4: "UNKNOWN_COMMAND",
	5: "UNSUPPORTED_COMMAND", 6: "INVALID_CONFIGURATION", 7: "SSL_IS_NOT_ALLOWED",
	8: "INVALID_REQUEST_NUMBER", 9: "INVALID_RETRY_REQUEST", 10: "CANT_CANCEL_TICKET",
	11: "OPEN_SHIFT_TIMEOUT_EXPIRED", 12: "INVALID_LOGIN_PASSWORD", 13: "INCORRECT_REQUEST_DATA",
	14: "NOT_ENOUGH_CASH", 15: "BLOCKED", 16: "SHIFT_ALREADY_OPENED", 17: "SAME_TAXPAYER_AND_CUSTOMER",
	18: "ELEMENT_NOT_FOUND_BY_BARCODE", 254: "SERVICE_TEMPORARILY_UNAVAILABLE", 255: "UNKNOWN_ERROR",
}

func (c ResultCode) String() string {
	if n, ok := resultNames[c]; ok {
		return fmt.Sprintf("%d %s", uint32(c), n)
	}
	return fmt.Sprintf("%d", uint32(c))
}

// Request is the payload a KKM sends (spec §2.3). Exactly the part of the
// command is set; Service may accompany any command and is required with
// REPORT and CLOSE_SHIFT.
type Request struct {
	Command    Command
	Ticket     *TicketRequest
	CloseShift *CloseShiftRequest
	Report     *ReportRequest
	Service    *ServiceRequest
}

// Marshal is r's proto2 encoding.
func (r *Request) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 256)}
	r.encode(&e)
	return e.b
}

// AppendMarshal appends r's encoding to b.
func (r *Request) AppendMarshal(b []byte) []byte {
	e := encoder{b: b}
	r.encode(&e)
	return e.b
}

func (r *Request) encode(e *encoder) {
	e.uint(1, uint64(r.Command))
	if r.Ticket != nil {
		e.message(2, r.Ticket.encode)
	}
	if r.CloseShift != nil {
		e.message(3, r.CloseShift.encode)
	}
	if r.Report != nil {
		e.message(4, r.Report.encode)
	}
	if r.Service != nil {
		e.message(6, r.Service.encode)
	}
}

// UnmarshalRequest decodes a Request payload; unknown fields are skipped.
func UnmarshalRequest(b []byte) (*Request, error) {
	r := &Request{}
	return r, r.decode(b, 0)
}

func (r *Request) decode(b []byte, depth int) error {
	req := required{msg: "Request"}
	err := fields(b, func(f field) error {
		switch f.num {
		case 1:
			v, err := f.uint32()
			r.Command = Command(v)
			req.saw(1)
			return err
		case 2:
			r.Ticket = &TicketRequest{}
			return f.sub(r.Ticket, depth)
		case 3:
			r.CloseShift = &CloseShiftRequest{}
			return f.sub(r.CloseShift, depth)
		case 4:
			r.Report = &ReportRequest{}
			return f.sub(r.Report, depth)
		case 6:
			r.Service = &ServiceRequest{}
			return f.sub(r.Service, depth)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("Request: %w", err)
	}
	return req.need(1, "command")
}

// Result is the outcome of a request.
type Result struct {
	Code ResultCode
	Text string
}

// Response is the payload the OFD answers with (spec §2.3).
type Response struct {
	Command Command
	Result  Result
	Ticket  *TicketResponse
	Report  *ReportResponse
	Service *ServiceResponse
}

// Marshal is r's proto2 encoding.
func (r *Response) Marshal() []byte {
	e := encoder{b: make([]byte, 0, 128)}
	e.uint(1, uint64(r.Command))
	e.message(2, func(e *encoder) {
		e.uint(1, uint64(r.Result.Code))
		e.optString(2, r.Result.Text)
	})
	if r.Ticket != nil {
		e.message(3, r.Ticket.encode)
	}
	if r.Report != nil {
		e.message(4, r.Report.encode)
	}
	if r.Service != nil {
		e.message(6, r.Service.encode)
	}
	return e.b
}

// UnmarshalResponse decodes a Response payload; unknown fields (such as
// the field 11 the test server adds) are skipped.
func UnmarshalResponse(b []byte) (*Response, error) {
	r := &Response{}
	return r, r.decode(b, 0)
}

func (r *Response) decode(b []byte, depth int) error {
	req := required{msg: "Response"}
	err := fields(b, func(f field) error {
		switch f.num {
		case 1:
			v, err := f.uint32()
			r.Command = Command(v)
			req.saw(1)
			return err
		case 2:
			req.saw(2)
			return f.sub(&r.Result, depth)
		case 3:
			r.Ticket = &TicketResponse{}
			return f.sub(r.Ticket, depth)
		case 4:
			r.Report = &ReportResponse{}
			return f.sub(r.Report, depth)
		case 6:
			r.Service = &ServiceResponse{}
			return f.sub(r.Service, depth)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("Response: %w", err)
	}
	return errors.Join(req.need(1, "command"), req.need(2, "result"))
}

func (r *Result) decode(b []byte, _ int) error {
	req := required{msg: "Result"}
	err := fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			var v uint32
			v, err = f.uint32()
			r.Code = ResultCode(v)
			req.saw(1)
		case 2:
			r.Text, err = f.string()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("Result: %w", err)
	}
	return req.need(1, "result_code")
}

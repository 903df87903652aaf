package etims

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/egsd/egsd/stamping"
)

// KRA's result codes (spec/etims.md §A4.3) that egsd acts on.
const (
	ResultOK              Text = "000"
	ResultNoSearchResult  Text = "001" // a lookup found nothing
	ResultNoHeader        Text = "900"
	ResultInvalidDevice   Text = "901"
	ResultAlreadyInstall  Text = "902"
	ResultOnlyOSCU        Text = "903"
	ResultParameterError  Text = "910"
	ResultNoBody          Text = "911"
	ResultMethodError     Text = "912"
	ResultSalesNotReceive Text = "921" // VSCU: declared sales data cannot be received
	ResultSalesOrder      Text = "922" // VSCU: sales invoice data only after the sales data
	ResultMaxViews        Text = "990"
	ResultDuplicate       Text = "994" // "There is an overlapped Data"
	ResultUnknown         Text = "999"
)

// Advice is what a result code means for the person who must act, and
// what to do next. It is empty for codes that need nobody.
func Advice(code Text) string {
	switch code {
	case ResultNoHeader:
		return "KRA received no tin, bhfId and cmcKey headers (900): the unit is not initialised with KRA, or a proxy strips the headers; run egsd onboard, and check any proxy between the till and KRA"
	case ResultInvalidDevice:
		return "KRA does not recognise this device (901 It is not valid device): check regime.options tin, bhf_id and device_serial against the device registered on the eTIMS portal's commitment form. " +
			"If the device was initialised before, elsewhere, its communication key cannot be fetched again: restore the unit's etims/device.json from that installation"
	case ResultAlreadyInstall:
		return "KRA has this device initialised already (902): its communication key was issued to the first installation. Restore the unit's etims/device.json from it, or ask KRA to reset the device on the eTIMS portal, then run egsd onboard again"
	case ResultOnlyOSCU:
		return "only an OSCU device can be verified here (903): the eTIMS portal registered this device for another profile; set regime.options.profile to match it"
	case ResultSalesNotReceive, ResultSalesOrder:
		return "the VSCU takes sales in order (" + string(code) + "): the document is sent again after the ones before it"
	case ResultMaxViews:
		return "KRA limits how often this may be asked (990): egsd asks again later"
	}
	return ""
}

// Answer is a classified KRA answer to one call.
type Answer struct {
	stamping.Result
	// Code is KRA's result code, "" without an answer.
	Code Text
}

// Classify turns the answer to one call (env, which the client returns
// with its error for any answer), or the error that replaced it (env nil),
// into an outcome (design.md §4, spec/etims.md §A4.3, §A7). It is the
// only place that interprets KRA's result codes:
//
//   - no answer (refused, reset, timeout, ended context), an HTTP 5xx or
//     429, or a body that is not KRA's envelope: Retryable. Whether KRA
//     recorded a sale is unknown: the same invcNo is looked up first,
//     never blindly resent (the regime's Submit does that);
//   - HTTP 401 or 403 (the API gateway refused the bearer token):
//     CredentialError;
//   - 000: Accepted;
//   - 994 (overlapped data): Duplicate; KRA sends no signature with it,
//     so the caller looks the sale up to get it;
//   - 900, 901, 903: CredentialError, with the technician's next step;
//   - 902 on init: CredentialError with its next step;
//   - 910, 911, 912: Rejected with KRA's message: KRA refused this
//     request as it is;
//   - 921, 922 (VSCU ordering): Retryable, in order;
//   - 001 and every other code (990 max views, 991–993, 995, 999, the
//     891–899 client-side errors of a VSCU that cannot reach KRA, codes
//     KRA adds later): Retryable, with KRA's code and message. A rejection
//     is final (its number is released for the next document), so it
//     needs KRA's word that the request itself is wrong.
//
// Answer holds the raw body whenever there was one.
func Classify(op Operation, env *Envelope, err error) Answer {
	var a Answer
	if env == nil {
		a.Outcome, a.Messages = stamping.Retryable, []string{"no answer from KRA to " + string(op) + "; it is tried again"}
		if err != nil {
			a.Messages[0] += ": " + err.Error()
		}
		return a
	}
	a.Answer = env.Raw
	switch s := env.HTTPStatus; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		a.Outcome = stamping.CredentialError
		a.Messages = []string{fmt.Sprintf("KRA's API gateway refused the unit's bearer token (HTTP %d): renew regime.options.bearer_token", s)}
		return a
	case s != http.StatusOK:
		a.Outcome = stamping.Retryable
		a.Messages = []string{fmt.Sprintf("KRA answered %s with HTTP %d; it is tried again", op, s)}
		return a
	case env.ResultCd == "":
		a.Outcome = stamping.Retryable
		a.Messages = []string{"KRA's answer to " + string(op) + " has no result code; it is tried again"}
		return a
	}
	a.Code = env.ResultCd
	kra := fmt.Sprintf("KRA %s: %s", env.ResultCd, strings.TrimSpace(string(env.ResultMsg)))
	switch env.ResultCd {
	case ResultOK:
		a.Outcome = stamping.Accepted
	case ResultDuplicate:
		a.Outcome, a.Messages = stamping.Duplicate, []string{kra}
	case ResultNoHeader, ResultInvalidDevice, ResultOnlyOSCU, ResultAlreadyInstall:
		a.Outcome, a.Messages = stamping.CredentialError, []string{kra, Advice(env.ResultCd)}
	case ResultParameterError, ResultNoBody, ResultMethodError:
		a.Outcome, a.Messages = stamping.Rejected, []string{kra}
	default:
		a.Outcome = stamping.Retryable
		a.Messages = []string{kra}
		if adv := Advice(env.ResultCd); adv != "" {
			a.Messages = append(a.Messages, adv)
		}
	}
	return a
}

// ResultError is a call that KRA answered with another code than 000.
type ResultError struct {
	Op      Operation
	Code    Text
	Message string
}

func (e *ResultError) Error() string {
	s := fmt.Sprintf("etims: %s: KRA %s: %s", e.Op, e.Code, e.Message)
	if adv := Advice(e.Code); adv != "" {
		s += ": " + adv
	}
	return s
}

// TransportError means that no usable answer arrived: the connection was
// refused or reset, the call timed out, or the body could not be read.
// Whether KRA acted on the request is unknown.
type TransportError struct {
	Op  Operation
	Err error
}

func (e *TransportError) Error() string {
	return "etims: " + string(e.Op) + ": no answer: " + e.Err.Error()
}
func (e *TransportError) Unwrap() error { return e.Err }

// HTTPError is an answer whose HTTP status is not 200 or whose body is
// not KRA's envelope.
type HTTPError struct {
	Op     Operation
	Status int
	Body   string // the start of the body, for the technician
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("etims: %s: HTTP %d: %s", e.Op, e.Status, e.Body)
}

package zatca

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/egsd/egsd/stamping"
)

// SubmissionKind says which endpoint a document went to. Stored values
// have explicit numbers.
type SubmissionKind int

const (
	// Reporting is POST /invoices/reporting/single: simplified documents,
	// reported within 24 hours (spec/zatca.md §6.8).
	Reporting SubmissionKind = 1
	// Clearance is POST /invoices/clearance/single: standard documents,
	// cleared before they are shared.
	Clearance SubmissionKind = 2
)

func (k SubmissionKind) String() string {
	switch k {
	case Reporting:
		return "reporting"
	case Clearance:
		return "clearance"
	}
	return fmt.Sprintf("SubmissionKind(%d)", int(k))
}

// Verdict is a classified submission: the regime-neutral result plus what
// only ZATCA has.
type Verdict struct {
	stamping.Result
	// ClearanceOff is set when ZATCA answered a clearance request with 303:
	// clearance is deactivated for the taxpayer and standard documents go
	// to the reporting endpoint instead, unchanged (spec/zatca.md §5.5).
	// The Outcome is then Retryable, so a caller that ignores the flag
	// loses nothing; the regime is expected to report the same bytes.
	// It is never set for an outage: ZATCA says not to fall back to
	// reporting when clearance is merely unreachable.
	ClearanceOff bool
}

// Classify turns the answer to one reporting or clearance request, or the
// error that replaced it, into an outcome (design.md §4, spec/zatca.md
// §5.5). It is the only place that interprets ZATCA's status codes:
//
//   - no answer (refused, reset, timeout, ended context): Retryable; the
//     result is unknown and the identical payload is sent again;
//   - ErrNoCredentials: CredentialError;
//   - 200, 202: Accepted, or AcceptedWithWarnings when ZATCA sent warnings,
//     status WARNING or 202; a clearance answer without a readable
//     clearedInvoice is AcceptedWithWarnings with a message saying so. A
//     2xx whose body explicitly says NOT_REPORTED / NOT_CLEARED, or ERROR
//     without REPORTED / CLEARED, is Rejected;
//   - 208, 409: Duplicate ("already reported", "hash previously
//     submitted"). The spec ties 409 to reporting and 208 to clearance; both
//     mean the document is already recorded, so either code is a duplicate
//     on either endpoint, and Answer keeps the body;
//   - 400 with validation errors or an explicit NOT_REPORTED / NOT_CLEARED
//     / ERROR: Rejected with "code: message" lines. A 400 with nothing of
//     ZATCA's in it (an empty or HTML body from a gateway) is Retryable:
//     rejection is final (the slot stays consumed and the sale is
//     re-issued), so it needs ZATCA's word;
//   - 401, 403: CredentialError;
//   - 303 on clearance: Retryable with ClearanceOff;
//   - 406 (Accept-Version refused): Retryable with a message that this
//     egsd speaks an API version ZATCA no longer accepts. Nothing is wrong
//     with the document, so it must not be Rejected (that would consume a
//     valid document and the re-issued one would fail the same way), and
//     the credentials are fine; once egsd is updated the identical payload
//     goes through. Persistent failure opens the outage incident;
//   - 429: Retryable with RetryAfter from the header;
//   - 5xx and any other status: Retryable, with the status in the message.
//
// Answer holds the raw body whenever there was one; RetryAfter is set on
// every Retryable answer whose header asked for a delay.
func Classify(kind SubmissionKind, ans *InvoiceAnswer, err error) Verdict {
	var v Verdict
	switch {
	case errors.Is(err, ErrNoCredentials):
		v.Outcome, v.Messages = stamping.CredentialError, []string{err.Error()}
		return v
	case err != nil:
		v.Outcome = stamping.Retryable
		v.Messages = []string{"no answer from ZATCA, the document will be sent again: " + err.Error()}
		return v
	case ans == nil:
		v.Outcome, v.Messages = stamping.Retryable, []string{"no answer from ZATCA"}
		return v
	}
	v.Answer = ans.Raw
	status := ans.HTTPStatus
	switch {
	case status == http.StatusOK || status == http.StatusAccepted:
		classifyAccepted(&v, kind, ans)
	case status == http.StatusAlreadyReported || status == http.StatusConflict:
		v.Outcome = stamping.Duplicate
		v.Messages = append(messageTexts(ans.Errors), messageTexts(ans.Warnings)...)
		if len(v.Messages) == 0 {
			v.Messages = []string{fmt.Sprintf("ZATCA already has this document (HTTP %d)", status)}
		}
	case status == http.StatusBadRequest && ans.saysRefused():
		v.Outcome, v.Messages = stamping.Rejected, messageTexts(ans.Errors)
		if len(v.Messages) == 0 {
			v.Messages = []string{"ZATCA refused the document (HTTP 400, " + ans.refusal() + ") without saying why"}
		}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		v.Outcome = stamping.CredentialError
		v.Messages = append([]string{fmt.Sprintf("ZATCA refused the unit's credentials (HTTP %d): renew them (egsd onboard)", status)},
			messageTexts(ans.Errors)...)
	case status == http.StatusSeeOther && kind == Clearance:
		v.Outcome, v.ClearanceOff = stamping.Retryable, true
		v.Messages = []string{"clearance is deactivated for this taxpayer (HTTP 303): standard documents go to reporting"}
	case status == http.StatusNotAcceptable:
		v.Outcome = stamping.Retryable
		v.Messages = []string{"ZATCA no longer accepts API version V2 (HTTP 406): update egsd; the documents wait and are sent unchanged afterwards"}
	case status == http.StatusTooManyRequests:
		v.Outcome = stamping.Retryable
		v.Messages = []string{"ZATCA asks to slow down (HTTP 429)"}
	case status >= 500 && status <= 599:
		v.Outcome = stamping.Retryable
		v.Messages = append([]string{fmt.Sprintf("ZATCA is failing (HTTP %d)", status)}, messageTexts(ans.Errors)...)
	default:
		v.Outcome = stamping.Retryable
		v.Messages = append([]string{fmt.Sprintf("unexpected answer from ZATCA to %s (HTTP %d)", kind, status)}, messageTexts(ans.Errors)...)
	}
	if v.Outcome == stamping.Retryable {
		v.RetryAfter = ans.RetryAfter
	}
	return v
}

// classifyAccepted classifies a 200 or 202 answer.
func classifyAccepted(v *Verdict, kind SubmissionKind, ans *InvoiceAnswer) {
	positive := ans.ReportingStatus == "REPORTED" || ans.ClearanceStatus == "CLEARED"
	if !positive && ans.saysRefused() {
		v.Outcome, v.Messages = stamping.Rejected, messageTexts(ans.Errors)
		if len(v.Messages) == 0 {
			v.Messages = []string{fmt.Sprintf("ZATCA answered HTTP %d but %s", ans.HTTPStatus, ans.refusal())}
		}
		return
	}
	v.Outcome = stamping.Accepted
	v.Messages = messageTexts(ans.Warnings)
	// Errors next to REPORTED or CLEARED do not undo the acceptance, but
	// the manager must see them.
	v.Messages = append(v.Messages, messageTexts(ans.Errors)...)
	if kind == Clearance && len(ans.ClearedInvoice) == 0 {
		v.Messages = append(v.Messages, "ZATCA cleared the document but sent no readable clearedInvoice; it cannot be shared as cleared")
	}
	if len(v.Messages) > 0 || ans.HTTPStatus == http.StatusAccepted || ans.ValidationStatus == "WARNING" {
		v.Outcome = stamping.AcceptedWithWarnings
		if len(v.Messages) == 0 {
			v.Messages = []string{fmt.Sprintf("ZATCA accepted the document with warnings (HTTP %d) but listed none", ans.HTTPStatus)}
		}
	}
}

// saysRefused reports whether the answer carries ZATCA's refusal: error
// messages, NOT_REPORTED or NOT_CLEARED, or validation status ERROR.
func (a *InvoiceAnswer) saysRefused() bool {
	return len(a.Errors) > 0 || a.refusal() != ""
}

// refusal names the explicit negative status in the answer, or "".
func (a *InvoiceAnswer) refusal() string {
	switch {
	case a.ReportingStatus == "NOT_REPORTED":
		return "NOT_REPORTED"
	case a.ClearanceStatus == "NOT_CLEARED":
		return "NOT_CLEARED"
	case a.ValidationStatus == "ERROR":
		return "status ERROR"
	}
	return ""
}

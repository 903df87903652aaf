package zatca

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/egsd/egsd/stamping/csr"
)

// Environment is a ZATCA environment. It is the CSR package's type, so
// one configuration value selects both the certificate template and the
// API base URL.
type Environment = csr.Environment

// The environments (spec/zatca.md §5.1).
const (
	DeveloperPortal = csr.DeveloperPortal
	Simulation      = csr.Simulation
	Core            = csr.Core
)

// BaseURL returns the API base URL of env (spec/zatca.md §5.1), or "" for
// an invalid environment. A simulator or proxy is reached by setting
// [Client.BaseURL] directly instead.
func BaseURL(env Environment) string {
	switch env {
	case DeveloperPortal:
		return "https://gw-fatoora.zatca.gov.sa/e-invoicing/developer-portal"
	case Simulation:
		return "https://gw-fatoora.zatca.gov.sa/e-invoicing/simulation"
	case Core:
		return "https://gw-fatoora.zatca.gov.sa/e-invoicing/core"
	}
	return ""
}

// DefaultTimeout bounds one request when Client.HTTP is nil. Clearance
// answers can take several seconds; a minute leaves room without letting
// a hung connection hold the submission worker.
const DefaultTimeout = time.Minute

// maxAnswer bounds the answer body that is read: a cleared invoice is the
// document plus ZATCA's stamp, far below this.
const maxAnswer = 32 << 20

// Client talks to ZATCA's e-invoicing API (spec/zatca.md §5). It keeps no
// state between calls and is safe for concurrent use.
//
// It never retries and never re-serialises: each invoice call sends a
// JSON body built deterministically from the hash, UUID and document
// bytes it is given, so resubmitting the same document sends the same
// bytes. Retrying is the caller's decision, made by [Classify].
//
// The client does not log. Its errors name the operation and what went
// wrong, never the secret or the OTP.
type Client struct {
	// BaseURL is the environment's base URL, see [BaseURL], or any other
	// http(s) URL that serves the same API (a simulator). Paths are
	// appended to it.
	BaseURL string
	// HTTP sends the requests; nil means a client with DefaultTimeout.
	// Redirects are never followed, whatever its CheckRedirect says:
	// ZATCA's 303 is an answer (clearance is off), not a redirect.
	HTTP *http.Client
	// Language is the Accept-Language of ZATCA's messages, "en" or "ar";
	// "" means "en".
	Language string

	// now is the clock for HTTP-date Retry-After values; nil means
	// time.Now.
	now func() time.Time
}

// NewClient returns a client for env's base URL.
func NewClient(env Environment) *Client {
	return &Client{BaseURL: BaseURL(env), Language: "en"}
}

// Credentials authenticate invoice and production-CSID calls: HTTP Basic
// with the binarySecurityToken, exactly as ZATCA returned it, as user name
// and the secret as password (spec/zatca.md §5.2).
//
// Credentials never print their secret: String, Format, GoString and
// MarshalJSON redact it, so a Credentials value may appear in log fields
// and error values. Only an exported struct field of type Credentials is
// covered when the enclosing struct is printed, since fmt cannot call
// methods on unexported fields; code that must store the secret reads the
// Secret field explicitly.
type Credentials struct {
	Token  string // binarySecurityToken (base64 of the base64 DER certificate)
	Secret string
}

const redacted = "[redacted]"

// String describes c without the secret: a short prefix of the token and
// whether a secret is set.
func (c Credentials) String() string {
	token := c.Token
	if len(token) > 12 {
		token = token[:12] + "…"
	}
	secret := redacted
	if c.Secret == "" {
		secret = "unset"
	}
	return fmt.Sprintf("zatca.Credentials{Token: %q, Secret: %s}", token, secret)
}

// Format prints String for every verb, so %x, %q or %+v cannot reveal the
// secret either.
func (c Credentials) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }

// MarshalJSON writes the token and a redacted secret. A value marshalled
// this way cannot be used to authenticate; store the secret explicitly.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Token  string `json:"token"`
		Secret string `json:"secret"`
	}{c.Token, redacted})
}

// ErrNoCredentials is returned (wrapped) when an authenticated call is
// made with an empty token or secret: the unit has not been onboarded or
// has lost its credentials. [Classify] treats it as a credential error.
var ErrNoCredentials = errors.New("no ZATCA credentials: onboard the unit first")

func (c Credentials) check() error {
	if c.Token == "" || c.Secret == "" {
		return ErrNoCredentials
	}
	return nil
}

// Message is one item of ZATCA's validation results.
type Message struct {
	Type     string `json:"type,omitempty"`     // INFO, WARNING or ERROR
	Code     string `json:"code,omitempty"`     // e.g. invalid-invoice-hash, BR-KSA-98
	Category string `json:"category,omitempty"` // e.g. INVOICE_HASHING_ERRORS, KSA
	Message  string `json:"message,omitempty"`
	Status   string `json:"status,omitempty"` // PASS, WARNING or ERROR
}

// String is "code: message", or whichever of the two is present.
func (m Message) String() string {
	switch {
	case m.Code == "":
		return m.Message
	case m.Message == "":
		return m.Code
	}
	return m.Code + ": " + m.Message
}

// InvoiceAnswer is ZATCA's answer to a compliance check, a reporting or a
// clearance request, read defensively (spec/zatca.md §5.4): both the
// current {validationResults, reportingStatus, clearanceStatus,
// clearedInvoice} shape and the older {invoiceHash, status, warnings,
// errors} shape are understood, and fields of an unexpected JSON type are
// ignored rather than failing the whole answer.
type InvoiceAnswer struct {
	// HTTPStatus is the status code of the answer.
	HTTPStatus int
	// ValidationStatus is PASS, WARNING or ERROR (upper case), or "".
	ValidationStatus string
	// ReportingStatus is REPORTED or NOT_REPORTED, or "".
	ReportingStatus string
	// ClearanceStatus is CLEARED or NOT_CLEARED, or "".
	ClearanceStatus string
	// InvoiceHash is echoed by the older answer shape only.
	InvoiceHash string
	// Info, Warnings and Errors are the validation messages.
	Info, Warnings, Errors []Message
	// ClearedInvoice is the document as ZATCA stamped it (decoded from
	// base64): clearance answers only. It is what is printed and shared.
	ClearedInvoice []byte
	// RetryAfter is the delay the Retry-After header asked for, or zero.
	RetryAfter time.Duration
	// Raw is the whole body, stored in the journal as the authority's
	// answer.
	Raw []byte
}

// CSIDAnswer is ZATCA's answer to a CSID request (compliance, production
// or renewal). Its Raw body holds the secret, so CSIDAnswer prints and
// marshals without Raw and with the secret redacted.
type CSIDAnswer struct {
	HTTPStatus int
	// RequestID identifies a compliance CSID request; ProductionCSID
	// takes it. ZATCA sends a number; it is kept as its decimal text.
	RequestID          string
	TokenType          string
	DispositionMessage string // "ISSUED" on success
	// Credentials are the binarySecurityToken, as returned, and secret.
	// [cert.DecodeBinarySecurityToken] reads the certificate in the token.
	Credentials Credentials
	// Errors are the messages of a refused request (e.g. Invalid-OTP).
	Errors []Message
	// Raw is the whole body. It contains the secret: do not log it.
	Raw []byte
}

// String describes a without its Raw body and without the secret.
func (a CSIDAnswer) String() string {
	return fmt.Sprintf("zatca.CSIDAnswer{HTTPStatus: %d, RequestID: %q, DispositionMessage: %q, Credentials: %s, Errors: %q}",
		a.HTTPStatus, a.RequestID, a.DispositionMessage, a.Credentials, messageTexts(a.Errors))
}

// Format prints String for every verb.
func (a CSIDAnswer) Format(f fmt.State, _ rune) { io.WriteString(f, a.String()) }

// GoString is String, for %#v.
func (a CSIDAnswer) GoString() string { return a.String() }

// MarshalJSON writes the answer without Raw and with the secret redacted.
func (a CSIDAnswer) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		HTTPStatus         int         `json:"http_status"`
		RequestID          string      `json:"request_id,omitempty"`
		TokenType          string      `json:"token_type,omitempty"`
		DispositionMessage string      `json:"disposition_message,omitempty"`
		Credentials        Credentials `json:"credentials"`
		Errors             []Message   `json:"errors,omitempty"`
	}{a.HTTPStatus, a.RequestID, a.TokenType, a.DispositionMessage, a.Credentials, a.Errors})
}

// TransportError means no usable answer arrived: the connection was
// refused or reset, the request timed out, the context ended, or the body
// could not be read. Whether ZATCA recorded the document is unknown; the
// identical payload must be sent again (spec/zatca.md §6.9). [Classify]
// treats it as retryable.
type TransportError struct {
	Op  string // method and path, e.g. "POST /invoices/reporting/single"
	Err error
}

func (e *TransportError) Error() string { return "zatca: " + e.Op + ": no answer: " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// APIError is a CSID request that ZATCA answered but did not grant.
type APIError struct {
	Op         string // method and path, e.g. "POST /compliance"
	HTTPStatus int
	Messages   []string // "code: message", as ZATCA gave them
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("zatca: %s: HTTP %d", e.Op, e.HTTPStatus)
	if len(e.Messages) > 0 {
		s += ": " + strings.Join(e.Messages, "; ")
	}
	return s
}

// ComplianceCSID requests a compliance CSID for a CSR (POST /compliance,
// spec/zatca.md §5.3). csrAPIBody is [csr.APIBody] of the request; otp is
// the one-time password from the Fatoora portal. Any answer but 200 with
// a token and secret is returned together with an *APIError.
func (c *Client) ComplianceCSID(ctx context.Context, otp, csrAPIBody string) (*CSIDAnswer, error) {
	const op = "POST /compliance"
	if err := checkOTP(otp); err != nil {
		return nil, fmt.Errorf("zatca: %s: %w", op, err)
	}
	body, err := json.Marshal(struct {
		CSR string `json:"csr"`
	}{csrAPIBody})
	if err != nil {
		return nil, err
	}
	return c.csid(ctx, http.MethodPost, "/compliance", op, body, nil, otp)
}

// ProductionCSID exchanges a passed compliance CSID for a production CSID
// (POST /production/csids). cred are the compliance CSID's credentials;
// complianceRequestID is its [CSIDAnswer.RequestID].
func (c *Client) ProductionCSID(ctx context.Context, cred Credentials, complianceRequestID string) (*CSIDAnswer, error) {
	const op = "POST /production/csids"
	if err := cred.check(); err != nil {
		return nil, fmt.Errorf("zatca: %s: %w", op, err)
	}
	body, err := json.Marshal(struct {
		ID string `json:"compliance_request_id"`
	}{complianceRequestID})
	if err != nil {
		return nil, err
	}
	return c.csid(ctx, http.MethodPost, "/production/csids", op, body, &cred, "")
}

// RenewProductionCSID renews a production CSID with a new CSR (PATCH
// /production/csids): cred are the current production credentials, otp a
// fresh OTP from the Fatoora portal.
func (c *Client) RenewProductionCSID(ctx context.Context, cred Credentials, otp, csrAPIBody string) (*CSIDAnswer, error) {
	const op = "PATCH /production/csids"
	if err := cred.check(); err != nil {
		return nil, fmt.Errorf("zatca: %s: %w", op, err)
	}
	if err := checkOTP(otp); err != nil {
		return nil, fmt.Errorf("zatca: %s: %w", op, err)
	}
	body, err := json.Marshal(struct {
		CSR string `json:"csr"`
	}{csrAPIBody})
	if err != nil {
		return nil, err
	}
	return c.csid(ctx, http.MethodPatch, "/production/csids", op, body, &cred, otp)
}

// ComplianceCheck submits one signed document to the compliance checks
// (POST /compliance/invoices) with the compliance CSID's credentials. No
// Clearance-Status header is sent: the check covers both kinds.
//
// A nil error means ZATCA answered, whatever the status code; the answer
// says how.
func (c *Client) ComplianceCheck(ctx context.Context, cred Credentials, hash, uuid string, doc []byte) (*InvoiceAnswer, error) {
	return c.invoice(ctx, "/compliance/invoices", "", cred, hash, uuid, doc)
}

// Report submits a simplified document (POST /invoices/reporting/single,
// Clearance-Status: 0). hash is the document's invoice hash and uuid its
// cbc:UUID; doc are the stored bytes, sent as they are.
//
// A nil error means ZATCA answered, whatever the status code; pass the
// answer, or the error, to [Classify].
func (c *Client) Report(ctx context.Context, cred Credentials, hash, uuid string, doc []byte) (*InvoiceAnswer, error) {
	return c.invoice(ctx, "/invoices/reporting/single", "0", cred, hash, uuid, doc)
}

// Clear submits a standard document for clearance (POST
// /invoices/clearance/single, Clearance-Status: 1). On success the answer
// carries the cleared invoice, which is what gets shared and printed.
//
// A nil error means ZATCA answered, whatever the status code; pass the
// answer, or the error, to [Classify].
func (c *Client) Clear(ctx context.Context, cred Credentials, hash, uuid string, doc []byte) (*InvoiceAnswer, error) {
	return c.invoice(ctx, "/invoices/clearance/single", "1", cred, hash, uuid, doc)
}

// invoiceRequestBody is the JSON body of an invoice submission: the
// fields in a fixed order, the document as standard base64 of its bytes.
// The same arguments always give the same bytes: those of json.Marshal of
// the three strings. The body is written directly when the hash and the
// UUID need no escaping in JSON (base64 never does), which is always the
// case for the base64 hash and the UUID a regime gives, so that the
// document is encoded once, into the body, rather than into a string that
// json.Marshal then scans and copies.
func invoiceRequestBody(hash, uuid string, doc []byte) []byte {
	if !jsonPlain(hash) || !jsonPlain(uuid) {
		body, err := json.Marshal(struct {
			InvoiceHash string `json:"invoiceHash"`
			UUID        string `json:"uuid"`
			Invoice     string `json:"invoice"`
		}{hash, uuid, base64.StdEncoding.EncodeToString(doc)})
		if err != nil {
			panic(err) // three strings always marshal
		}
		return body
	}
	const (
		open  = `{"invoiceHash":"`
		mid1  = `","uuid":"`
		mid2  = `","invoice":"`
		close = `"}`
	)
	n := base64.StdEncoding.EncodedLen(len(doc))
	body := make([]byte, 0, len(open)+len(hash)+len(mid1)+len(uuid)+len(mid2)+n+len(close))
	body = append(body, open...)
	body = append(body, hash...)
	body = append(body, mid1...)
	body = append(body, uuid...)
	body = append(body, mid2...)
	body = body[:len(body)+n]
	base64.StdEncoding.Encode(body[len(body)-n:], doc)
	return append(body, close...)
}

// jsonPlain reports whether json.Marshal writes s between its quotes as it
// is: printable ASCII other than the quote, the backslash and the three
// characters it escapes for HTML (<, >, &).
func jsonPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

func (c *Client) invoice(ctx context.Context, path, clearanceStatus string, cred Credentials, hash, uuid string, doc []byte) (*InvoiceAnswer, error) {
	op := "POST " + path
	if err := cred.check(); err != nil {
		return nil, fmt.Errorf("zatca: %s: %w", op, err)
	}
	h := http.Header{}
	if clearanceStatus != "" {
		h.Set("Clearance-Status", clearanceStatus)
	}
	resp, body, err := c.do(ctx, http.MethodPost, path, op, invoiceRequestBody(hash, uuid, doc), &cred, h)
	if err != nil {
		return nil, err
	}
	ans, _ := ParseInvoiceAnswer(resp.StatusCode, body) // a malformed body still has a status code
	ans.RetryAfter = retryAfter(resp.Header, c.clock())
	return ans, nil
}

func (c *Client) csid(ctx context.Context, method, path, op string, reqBody []byte, cred *Credentials, otp string) (*CSIDAnswer, error) {
	h := http.Header{}
	if otp != "" {
		h.Set("OTP", otp)
	}
	resp, body, err := c.do(ctx, method, path, op, reqBody, cred, h)
	if err != nil {
		return nil, err
	}
	ans := parseCSIDAnswer(resp.StatusCode, body)
	if ans.HTTPStatus == http.StatusOK && ans.Credentials.Token != "" && ans.Credentials.Secret != "" {
		return ans, nil
	}
	e := &APIError{Op: op, HTTPStatus: ans.HTTPStatus, Messages: messageTexts(ans.Errors)}
	if ans.HTTPStatus == http.StatusOK {
		e.Messages = append(e.Messages, "the answer has no binarySecurityToken or secret")
	}
	return ans, e
}

// do sends one request and reads the whole answer. Every error it returns
// is a *TransportError, except for a client that cannot build a request.
func (c *Client) do(ctx context.Context, method, path, op string, body []byte, cred *Credentials, extra http.Header) (*http.Response, []byte, error) {
	base, err := c.baseURL()
	if err != nil {
		return nil, nil, fmt.Errorf("zatca: %s: %w", op, err)
	}
	// A *bytes.Reader also gives the request a GetBody that replays the
	// same bytes if the transport has to resend them.
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("zatca: %s: %w", op, err)
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	lang := c.Language
	if lang == "" {
		lang = "en"
	}
	req.Header.Set("Accept-Version", "V2")
	req.Header.Set("Accept-Language", lang)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if cred != nil {
		req.SetBasicAuth(cred.Token, cred.Secret)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		// http.Client strips any password from the URL in its errors; the
		// header values (OTP, Authorization) never appear in them.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, nil, &TransportError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, nil, &TransportError{Op: op, Err: fmt.Errorf("reading the HTTP %d answer: %w", resp.StatusCode, err)}
	}
	if len(data) > maxAnswer {
		return nil, nil, &TransportError{Op: op, Err: fmt.Errorf("the HTTP %d answer is larger than %d bytes", resp.StatusCode, maxAnswer)}
	}
	return resp, data, nil
}

func (c *Client) baseURL() (string, error) {
	if c.BaseURL == "" {
		return "", errors.New("the client has no base URL")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", errors.New("the client's base URL is not an absolute http(s) URL")
	}
	return strings.TrimRight(c.BaseURL, "/"), nil
}

// transport keeps connections to ZATCA open between documents. Go's
// default keeps two idle connections per host, so a submitter with eight
// documents in flight would open (and leave in TIME_WAIT) a connection for
// most requests; draining a large backlog then runs out of local ports.
var transport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}()

// httpClient is c.HTTP, or a default, with redirects turned off.
func (c *Client) httpClient() *http.Client {
	hc := http.Client{Timeout: DefaultTimeout, Transport: transport}
	if c.HTTP != nil {
		hc = *c.HTTP
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &hc
}

func (c *Client) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// checkOTP refuses an OTP that cannot be sent as a header, without
// repeating it in the error.
func checkOTP(otp string) error {
	if otp == "" {
		return errors.New("an OTP is required: get one from the Fatoora portal")
	}
	if len(otp) > 64 {
		return errors.New("the OTP is too long")
	}
	for i := 0; i < len(otp); i++ {
		if otp[i] <= ' ' || otp[i] >= 0x7f {
			return errors.New("the OTP contains a character other than a printable ASCII one")
		}
	}
	return nil
}

// maxRetryAfter bounds what is read from a Retry-After header, so that a
// wrong value cannot overflow; the backoff policy bounds it further.
const maxRetryAfter = 24 * time.Hour

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// A missing, malformed or past value is zero.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// wireString takes a JSON string and ignores any other JSON value, so a
// field of an unexpected type does not fail the whole answer.
type wireString string

func (s *wireString) UnmarshalJSON(b []byte) error {
	var v string
	if json.Unmarshal(b, &v) == nil {
		*s = wireString(v)
	}
	return nil
}

// wireID takes a JSON string or number (as its text).
type wireID string

func (s *wireID) UnmarshalJSON(b []byte) error {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return nil
	}
	switch v := v.(type) {
	case string:
		*s = wireID(v)
	case json.Number:
		*s = wireID(v.String())
	}
	return nil
}

// wireMessages takes an array whose items are message objects or plain
// strings (CSID errors such as "Invalid-OTP"); anything else is ignored.
type wireMessages []Message

func (m *wireMessages) UnmarshalJSON(b []byte) error {
	var items []json.RawMessage
	if json.Unmarshal(b, &items) != nil {
		return nil
	}
	for _, item := range items {
		var s string
		if json.Unmarshal(item, &s) == nil {
			if s != "" {
				*m = append(*m, Message{Message: s})
			}
			continue
		}
		var w struct {
			Type, Code, Category, Message, Status wireString
		}
		if json.Unmarshal(item, &w) == nil && (w.Code != "" || w.Message != "") {
			*m = append(*m, Message{Type: string(w.Type), Code: string(w.Code), Category: string(w.Category),
				Message: string(w.Message), Status: string(w.Status)})
		}
	}
	return nil
}

// wireAnswer is the union of the answer shapes ZATCA is known to send.
type wireAnswer struct {
	ValidationResults struct {
		InfoMessages    wireMessages `json:"infoMessages"`
		WarningMessages wireMessages `json:"warningMessages"`
		ErrorMessages   wireMessages `json:"errorMessages"`
		Status          wireString   `json:"status"`
	} `json:"validationResults"`
	ReportingStatus wireString `json:"reportingStatus"`
	ClearanceStatus wireString `json:"clearanceStatus"`
	ClearedInvoice  wireString `json:"clearedInvoice"`

	// The older shape, and bare error bodies.
	InvoiceHash wireString   `json:"invoiceHash"`
	Status      wireString   `json:"status"`
	Warnings    wireMessages `json:"warnings"`
	Errors      wireMessages `json:"errors"`
	Code        wireString   `json:"code"`
	Message     wireString   `json:"message"`
	Error       wireString   `json:"error"`

	// CSID answers.
	RequestID           wireID     `json:"requestID"`
	TokenType           wireString `json:"tokenType"`
	DispositionMessage  wireString `json:"dispositionMessage"`
	BinarySecurityToken wireString `json:"binarySecurityToken"`
	Secret              wireString `json:"secret"`
}

func (w *wireAnswer) decode(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil // 401, 429 and 5xx answers often have no body
	}
	if err := json.Unmarshal(body, w); err != nil {
		return fmt.Errorf("zatca: the answer is not a JSON object: %w", err)
	}
	return nil
}

// bareError is the message of an error body that is not a validation
// result, such as {"code": "…", "message": "…"} or a gateway's
// {"error": "Unauthorized", …}.
func (w *wireAnswer) bareError() []Message {
	m := Message{Code: string(w.Code), Message: string(w.Message)}
	if m.Message == "" {
		m.Message = string(w.Error)
	}
	if m.Code == "" && m.Message == "" {
		return nil
	}
	return []Message{m}
}

// ParseInvoiceAnswer reads an invoice answer body (spec/zatca.md §5.4),
// for example one stored in the journal. It always returns an answer with
// whatever could be read; the error says that the body was not a JSON
// object or that clearedInvoice was not base64.
func ParseInvoiceAnswer(httpStatus int, body []byte) (*InvoiceAnswer, error) {
	ans := &InvoiceAnswer{HTTPStatus: httpStatus, Raw: body}
	var w wireAnswer
	if err := w.decode(body); err != nil {
		return ans, err
	}
	vr := w.ValidationResults
	ans.ValidationStatus = upper(vr.Status)
	ans.ReportingStatus = upper(w.ReportingStatus)
	ans.ClearanceStatus = upper(w.ClearanceStatus)
	ans.InvoiceHash = string(w.InvoiceHash)
	ans.Info = []Message(vr.InfoMessages)
	ans.Warnings = append([]Message(vr.WarningMessages), w.Warnings...)
	ans.Errors = append([]Message(vr.ErrorMessages), w.Errors...)
	if len(ans.Errors) == 0 && httpStatus >= 400 {
		ans.Errors = w.bareError()
	}
	// The older shape's status says what the newer shape splits in three.
	switch s := upper(w.Status); s {
	case "REPORTED", "NOT_REPORTED":
		ans.ReportingStatus = cmp.Or(ans.ReportingStatus, s)
	case "CLEARED", "NOT_CLEARED":
		ans.ClearanceStatus = cmp.Or(ans.ClearanceStatus, s)
	case "PASS", "WARNING", "ERROR":
		ans.ValidationStatus = cmp.Or(ans.ValidationStatus, s)
	}
	if w.ClearedInvoice != "" {
		doc, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(w.ClearedInvoice)))
		if err != nil {
			return ans, fmt.Errorf("zatca: clearedInvoice is not standard base64: %w", err)
		}
		ans.ClearedInvoice = doc
	}
	return ans, nil
}

func parseCSIDAnswer(httpStatus int, body []byte) *CSIDAnswer {
	ans := &CSIDAnswer{HTTPStatus: httpStatus, Raw: body}
	var w wireAnswer
	if err := w.decode(body); err != nil {
		ans.Errors = []Message{{Message: "the answer is not JSON"}}
		return ans
	}
	ans.RequestID = string(w.RequestID)
	ans.TokenType = string(w.TokenType)
	ans.DispositionMessage = string(w.DispositionMessage)
	ans.Credentials = Credentials{Token: string(w.BinarySecurityToken), Secret: string(w.Secret)}
	ans.Errors = append([]Message(w.Errors), w.ValidationResults.ErrorMessages...)
	if len(ans.Errors) == 0 && httpStatus != http.StatusOK {
		ans.Errors = w.bareError()
	}
	return ans
}

func upper(s wireString) string { return strings.ToUpper(strings.TrimSpace(string(s))) }

func messageTexts(ms []Message) []string {
	var out []string
	for _, m := range ms {
		if s := m.String(); s != "" {
			out = append(out, s)
		}
	}
	return out
}

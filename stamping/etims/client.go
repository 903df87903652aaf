package etims

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/egsd/egsd/stamping"
)

// Client talks to KRA's sales control unit: OSCU at KRA, or the VSCU JAR
// on the LAN (spec/etims.md §A2, §A3). It keeps no state between calls
// and is safe for concurrent use.
//
// On OSCU every call after initialisation sends the headers tin, bhfId
// and cmcKey; on VSCU tin and bhfId travel in the body (the request types
// carry them when built for VSCU) and no key is sent. With a bearer token
// every call sends "Authorization: Bearer". The client never retries and
// never logs; its errors name the call, never the key or the token.
type Client struct {
	// BaseURL is the control unit's address; the operation's path is
	// appended to it.
	BaseURL string
	// Paths maps each operation to its path; nil means DefaultPaths of
	// the profile.
	Paths Paths
	Identity
	// CmcKey is the communication key from initialisation (OSCU).
	CmcKey CmcKey
	// BearerToken, when set, is sent as "Authorization: Bearer".
	BearerToken string
	// HTTP sends the requests; nil means a client with Timeout.
	HTTP *http.Client
	// Timeout bounds one call when HTTP is nil; zero means DefaultTimeout.
	Timeout time.Duration
}

// NewClient returns a client for resolved settings and the unit's key.
func NewClient(s Settings, key CmcKey) *Client {
	return &Client{BaseURL: s.BaseURL, Paths: s.Paths, Identity: s.Identity, CmcKey: key, BearerToken: s.BearerToken, Timeout: s.Timeout}
}

// ErrNoPath is returned (wrapped) for an operation the path table leaves
// empty: VSCU's invoice lookup until regime.options.paths.lookup names it.
var ErrNoPath = errors.New("the control unit's path table has no path for this call")

// ErrNoKey is returned (wrapped) by OSCU calls made without a
// communication key: the unit has not been initialised.
var ErrNoKey = errors.New("the unit has no KRA communication key: initialise it first (egsd onboard)")

// Init initialises the device (selectInitOsdcInfo, or VSCU's
// initializer): tin, bhfId and the device serial registered on the eTIMS
// portal give the communication key, the control unit's ID (sdcId) and
// the MRC number. The answer is also returned for the record, but it holds
// the key: keep it as a secret.
func (c *Client) Init(ctx context.Context, serial string) (*InitInfo, *Envelope, error) {
	env, err := c.call(ctx, OpInit, InitRequest{Tin: c.Tin, BhfID: c.BhfID, DvcSrlNo: serial})
	if err != nil {
		return nil, env, err
	}
	var d struct {
		Info *InitInfo `json:"info"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil || d.Info == nil {
		return nil, env, &HTTPError{Op: OpInit, Status: env.HTTPStatus, Body: "the answer's data has no info"}
	}
	if d.Info.SdcID == "" || (c.Profile == OSCU && d.Info.CmcKey == "") {
		return nil, env, &HTTPError{Op: OpInit, Status: env.HTTPStatus, Body: "the answer has no sdcId or cmcKey"}
	}
	return d.Info, env, nil
}

// CodeList fetches the code lists changed since since (selectCodeList,
// lastReqDt; the zero time asks for all of them). No change is no error:
// KRA answers 001, and the list is empty.
func (c *Client) CodeList(ctx context.Context, since time.Time) ([]CodeClass, *Envelope, error) {
	var d struct {
		List []CodeClass `json:"clsList"`
	}
	env, err := c.search(ctx, OpCodeList, since, &d)
	return d.List, env, err
}

// ItemClasses fetches the item classes changed since since
// (selectItemClsList).
func (c *Client) ItemClasses(ctx context.Context, since time.Time) ([]ItemClass, *Envelope, error) {
	var d struct {
		List []ItemClass `json:"itemClsList"`
	}
	env, err := c.search(ctx, OpItemClasses, since, &d)
	return d.List, env, err
}

// epoch is lastReqDt for "everything": before eTIMS existed.
var epoch = time.Date(2018, 1, 1, 0, 0, 0, 0, Nairobi)

func (c *Client) search(ctx context.Context, op Operation, since time.Time, into any) (*Envelope, error) {
	if since.IsZero() {
		since = epoch
	}
	tin, bhf := c.bodyIdentity()
	env, err := c.call(ctx, op, CodeListRequest{Tin: tin, BhfID: bhf, LastReqDt: FormatDateTime(since)})
	var re *ResultError
	if errors.As(err, &re) && re.Code == ResultNoSearchResult {
		return env, nil
	}
	if err != nil {
		return env, err
	}
	if err := json.Unmarshal(env.Data, into); err != nil {
		return env, &HTTPError{Op: op, Status: env.HTTPStatus, Body: "the answer's data is not a list: " + err.Error()}
	}
	return env, nil
}

// SaveItem registers an item (saveItem), which must precede its first
// sale. A nil error means KRA answered 000.
func (c *Client) SaveItem(ctx context.Context, item *ItemRequest) (*Envelope, error) {
	return c.call(ctx, OpSaveItem, item)
}

// SaveSale sends a numbered sale request as it is (saveTrnsSalesOsdc or
// trnsSales/saveSales). A nil error means KRA answered 000; pass the
// answer and the error to [Classify].
func (c *Client) SaveSale(ctx context.Context, request []byte) (*Envelope, error) {
	invcNo, _, err := Numbers(request)
	if err != nil {
		return nil, err
	}
	if invcNo < 1 {
		return nil, fmt.Errorf("etims: %s: %w", OpSaveSale, ErrNotNumbered)
	}
	return c.call(ctx, OpSaveSale, json.RawMessage(request))
}

// LookupInvoice asks KRA for the sale with invcNo (selectInvoiceDetails).
// A found sale gives its signature; a sale KRA does not have gives a nil
// signature and no error (KRA's 001). Any other answer is an error.
func (c *Client) LookupInvoice(ctx context.Context, invcNo int64) (*Signature, *Envelope, error) {
	tin, bhf := c.bodyIdentity()
	env, err := c.call(ctx, OpLookup, LookupRequest{Tin: tin, BhfID: bhf, InvcNo: invcNo})
	var re *ResultError
	if errors.As(err, &re) && re.Code == ResultNoSearchResult {
		return nil, env, nil
	}
	if err != nil {
		return nil, env, err
	}
	sig, err := DecodeSignature(env.Raw, invcNo)
	if err != nil {
		return nil, env, &HTTPError{Op: OpLookup, Status: env.HTTPStatus, Body: err.Error()}
	}
	return &sig, env, nil
}

// Deliver submits one numbered sale request and classifies the outcome,
// never sending the same invcNo twice blindly (spec/etims.md §A7):
//
//   - with lookupFirst (a retry: an earlier attempt may have reached KRA),
//     the sale is looked up first. Found: Duplicate, with the lookup's
//     answer holding the signature, and nothing is sent. Not found: it is
//     sent. The lookup failing: Retryable, nothing sent;
//   - sent and answered 994: KRA has it already; the lookup gives the
//     signature (Duplicate), or the outcome stays Retryable;
//   - sent and answered 000 without a readable signature: Retryable, so
//     that the next attempt looks it up.
//
// Without a lookup path (VSCU until configured) a retry is sent again,
// and a 994 stays Retryable with a message naming the option to set.
func (c *Client) Deliver(ctx context.Context, request []byte, lookupFirst bool) stamping.Result {
	invcNo, _, err := Numbers(request)
	if err != nil || invcNo < 1 {
		return stamping.Result{Outcome: stamping.Retryable, Messages: []string{
			fmt.Sprintf("the document cannot be sent: %v", errors.Join(err, ErrNotNumbered))}}
	}
	canLookup := c.path(OpLookup) != ""
	if lookupFirst && canLookup {
		if res, done := c.resolveByLookup(ctx, invcNo, "an earlier attempt's answer was lost"); done {
			return res
		}
	}
	env, err := c.SaveSale(ctx, request)
	a := Classify(OpSaveSale, env, err)
	switch a.Outcome {
	case stamping.Accepted:
		if _, derr := DecodeSignature(env.Raw, 0); derr != nil {
			return stamping.Result{Outcome: stamping.Retryable, Answer: env.Raw, Messages: []string{
				fmt.Sprintf("KRA accepted invcNo %d but its answer has no usable signature (%v); it is looked up next", invcNo, derr)}}
		}
	case stamping.Duplicate:
		if !canLookup {
			return stamping.Result{Outcome: stamping.Retryable, Answer: a.Answer, Messages: append(a.Messages,
				fmt.Sprintf("KRA already has invcNo %d, but egsd cannot read its signature without a lookup path: set regime.options.paths.lookup to the control unit's selectInvoiceDetails", invcNo))}
		}
		res, done := c.resolveByLookup(ctx, invcNo, "KRA answered 994, overlapped data")
		if !done {
			res = stamping.Result{Outcome: stamping.Retryable, Answer: a.Answer, Messages: append(a.Messages,
				fmt.Sprintf("KRA says it has invcNo %d, but the lookup does not find it; it is tried again", invcNo))}
		}
		return res
	}
	return a.Result
}

// resolveByLookup looks invcNo up. done is true when the lookup settled
// the submission: found (Duplicate, with its signature) or failed
// (Retryable). A sale KRA does not have is not done: it must be sent.
func (c *Client) resolveByLookup(ctx context.Context, invcNo int64, why string) (stamping.Result, bool) {
	sig, env, err := c.LookupInvoice(ctx, invcNo)
	switch {
	case err != nil:
		res := stamping.Result{Outcome: stamping.Retryable, Messages: []string{
			fmt.Sprintf("invcNo %d is looked up before it is sent again (%s), and the lookup failed: %v", invcNo, why, err)}}
		if env != nil {
			res.Answer = env.Raw
		}
		return res, true
	case sig != nil:
		return stamping.Result{Outcome: stamping.Duplicate, Answer: env.Raw, Messages: []string{
			fmt.Sprintf("KRA already had invcNo %d (%s); its signature comes from selectInvoiceDetails", invcNo, why)}}, true
	}
	return stamping.Result{}, false
}

func (c *Client) path(op Operation) string {
	if c.Paths != nil {
		return c.Paths[op]
	}
	return DefaultPaths(c.Profile)[op]
}

// maxErrorBody bounds the part of an unexpected body an error repeats.
const maxErrorBody = 200

// call posts body to op's path and reads KRA's envelope. The error is a
// *TransportError without an answer, an *HTTPError for a status other
// than 200 or a body that is not the envelope (the envelope is returned
// too, with HTTPStatus and Raw), and a *ResultError for a code other than
// 000 (with the envelope).
func (c *Client) call(ctx context.Context, op Operation, body any) (*Envelope, error) {
	p := c.path(op)
	if p == "" {
		return nil, fmt.Errorf("etims: %s: %w (regime.options.paths.%s)", op, ErrNoPath, op)
	}
	base := strings.TrimRight(c.BaseURL, "/")
	if err := checkBaseURL(base); err != nil {
		return nil, fmt.Errorf("etims: %s: %w", op, err)
	}
	if c.Profile != VSCU && op != OpInit && c.CmcKey == "" {
		return nil, fmt.Errorf("etims: %s: %w", op, ErrNoKey)
	}
	data, err := Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("etims: %s: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+p, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("etims: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.Profile != VSCU && op != OpInit {
		req.Header.Set("tin", c.Tin)
		req.Header.Set("bhfId", c.BhfID)
		req.Header.Set("cmcKey", string(c.CmcKey))
	}
	if c.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.BearerToken)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is known; the headers never appear in errors
		}
		return nil, &TransportError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		return nil, &TransportError{Op: op, Err: fmt.Errorf("reading the HTTP %d answer: %w", resp.StatusCode, err)}
	}
	if len(raw) > MaxAnswer {
		return nil, &TransportError{Op: op, Err: fmt.Errorf("the HTTP %d answer is larger than %d bytes", resp.StatusCode, MaxAnswer)}
	}
	env := &Envelope{HTTPStatus: resp.StatusCode, Raw: raw}
	if resp.StatusCode != http.StatusOK {
		return env, &HTTPError{Op: op, Status: resp.StatusCode, Body: shorten(raw)}
	}
	if err := json.Unmarshal(raw, env); err != nil || env.ResultCd == "" {
		env.ResultCd = ""
		return env, &HTTPError{Op: op, Status: resp.StatusCode, Body: "not KRA's envelope: " + shorten(raw)}
	}
	if env.ResultCd != ResultOK {
		return env, &ResultError{Op: op, Code: env.ResultCd, Message: string(env.ResultMsg)}
	}
	return env, nil
}

func shorten(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	if len(s) > maxErrorBody {
		s = s[:maxErrorBody] + "…"
	}
	return s
}

// transport keeps connections to the control unit open between calls.
var transport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 8
	return t
}()

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{Timeout: timeout, Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

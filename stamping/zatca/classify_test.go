package zatca

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
)

// TestClassify sends a document to a fake ZATCA that answers with each
// status code and shape, and classifies what the client returns.
func TestClassify(t *testing.T) {
	doc := clientTestDoc(t)
	cleared := answerCleared(doc, "PASS")
	clearedWarning := strings.Replace(answerCleared(doc, "WARNING"), `"warningMessages":[]`,
		`"warningMessages":[{"type":"WARNING","code":"BR-KSA-08","category":"KSA","message":"buyer identification is missing","status":"WARNING"}]`, 1)
	retryAfter := http.Header{"Retry-After": {"30"}}
	cases := []struct {
		name         string
		kind         SubmissionKind
		status       int
		header       http.Header
		body         string
		outcome      stamping.Outcome
		messages     []string // exact, when not nil
		contains     string   // in the joined messages
		retryAfter   time.Duration
		clearanceOff bool
	}{
		{name: "200 reported", kind: Reporting, status: 200, body: answerReported, outcome: stamping.Accepted, messages: []string{}},
		{name: "200 cleared", kind: Clearance, status: 200, body: cleared, outcome: stamping.Accepted, messages: []string{}},
		{name: "202 reported with warnings", kind: Reporting, status: 202, body: answerReportedWarning, outcome: stamping.AcceptedWithWarnings,
			messages: []string{"BR-KSA-98: The simplified invoice should be submitted within 24 hours of issuing the invoice.",
				"invalid-signing-certificate: Invalid signing certificate"}},
		{name: "202 cleared with warnings", kind: Clearance, status: 202, body: clearedWarning, outcome: stamping.AcceptedWithWarnings,
			messages: []string{"BR-KSA-08: buyer identification is missing"}},
		{name: "202 without listed warnings", kind: Reporting, status: 202, body: answerReported, outcome: stamping.AcceptedWithWarnings},
		{name: "200 status WARNING", kind: Reporting, status: 200, body: answerReportedWarning, outcome: stamping.AcceptedWithWarnings, contains: "BR-KSA-98"},
		{name: "200 old shape", kind: Reporting, status: 200, body: answerOldReported, outcome: stamping.Accepted},
		{name: "200 cleared without clearedInvoice", kind: Clearance, status: 200, body: `{"validationResults":{"status":"PASS"},"clearanceStatus":"CLEARED"}`,
			outcome: stamping.AcceptedWithWarnings, contains: "no readable clearedInvoice"},
		{name: "200 saying NOT_REPORTED", kind: Reporting, status: 200, body: answerNotReported, outcome: stamping.Rejected, contains: "invalid-invoice-hash"},
		{name: "200 saying NOT_CLEARED without messages", kind: Clearance, status: 200, body: `{"clearanceStatus":"NOT_CLEARED"}`, outcome: stamping.Rejected, contains: "NOT_CLEARED"},
		{name: "208 clearance duplicate", kind: Clearance, status: 208, body: `{"validationResults":{"status":"WARNING","warningMessages":[{"code":"Invoice-Hash-Previously-Submitted","message":"Invoice Hash Previously Submitted"}]}}`,
			outcome: stamping.Duplicate, contains: "Previously Submitted"},
		{name: "208 without body", kind: Clearance, status: 208, outcome: stamping.Duplicate, contains: "HTTP 208"},
		{name: "303 clearance off", kind: Clearance, status: 303, header: http.Header{"Location": {"/invoices/reporting/single"}}, outcome: stamping.Retryable, clearanceOff: true, contains: "deactivated"},
		{name: "303 to reporting", kind: Reporting, status: 303, outcome: stamping.Retryable, contains: "HTTP 303"},
		{name: "400 reporting", kind: Reporting, status: 400, body: answerNotReported, outcome: stamping.Rejected,
			messages: []string{"invalid-invoice-hash: The invoice hash API body does not match the (calculated) Hash of the XML",
				"BR-KSA-17: The invoice must contain the seller VAT registration number"}},
		{name: "400 clearance", kind: Clearance, status: 400, body: answerNotCleared, outcome: stamping.Rejected,
			messages: []string{"certificate-permissions: User only allowed to use the vat number that exists in the authentication certificate"}},
		{name: "400 old shape", kind: Reporting, status: 400, body: answerOldRejected, outcome: stamping.Rejected, messages: []string{"invalid-invoice-hash: hash mismatch"}},
		{name: "400 bare error", kind: Reporting, status: 400, body: `{"code":"Invalid-Request","message":"uuid is required"}`, outcome: stamping.Rejected,
			messages: []string{"Invalid-Request: uuid is required"}},
		{name: "400 from a gateway", kind: Reporting, status: 400, body: `<html>400 Bad Request</html>`, outcome: stamping.Retryable, contains: "HTTP 400"},
		{name: "401", kind: Reporting, status: 401, outcome: stamping.CredentialError, contains: "HTTP 401"},
		{name: "403", kind: Clearance, status: 403, body: `{"error":"Forbidden","message":"Access denied"}`, outcome: stamping.CredentialError, contains: "Access denied"},
		{name: "406", kind: Reporting, status: 406, outcome: stamping.Retryable, contains: "update egsd"},
		{name: "409 reporting duplicate", kind: Reporting, status: 409, body: answerDuplicate, outcome: stamping.Duplicate,
			messages: []string{"Invoice-Errors: Invoice was already Reported successfully earlier."}},
		{name: "429 with Retry-After", kind: Reporting, status: 429, header: retryAfter, outcome: stamping.Retryable, retryAfter: 30 * time.Second, contains: "HTTP 429"},
		{name: "429 without Retry-After", kind: Clearance, status: 429, outcome: stamping.Retryable},
		{name: "500", kind: Reporting, status: 500, body: `{"message":"Something went wrong"}`, outcome: stamping.Retryable, contains: "Something went wrong"},
		{name: "502", kind: Reporting, status: 502, body: `<html>Bad Gateway</html>`, outcome: stamping.Retryable, contains: "HTTP 502"},
		{name: "503 with Retry-After", kind: Clearance, status: 503, header: retryAfter, outcome: stamping.Retryable, retryAfter: 30 * time.Second},
		{name: "504", kind: Clearance, status: 504, outcome: stamping.Retryable, contains: "HTTP 504"},
		{name: "418", kind: Reporting, status: 418, outcome: stamping.Retryable, contains: "HTTP 418"},
		{name: "204", kind: Reporting, status: 204, outcome: stamping.Retryable, contains: "HTTP 204"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeZATCA(t, tc.status, tc.header, tc.body)
			submit := c.Report
			if tc.kind == Clearance {
				submit = c.Clear
			}
			ans, err := submit(context.Background(), clientTestCred, clientTestHash, clientTestUUID, doc)
			if err != nil {
				t.Fatalf("submit: %v", err)
			}
			v := Classify(tc.kind, ans, err)
			msgs := strings.Join(v.Messages, " | ")
			if v.Outcome != tc.outcome || v.ClearanceOff != tc.clearanceOff || v.RetryAfter != tc.retryAfter {
				t.Errorf("Classify = %v, ClearanceOff %v, RetryAfter %v (%s); want %v, %v, %v",
					v.Outcome, v.ClearanceOff, v.RetryAfter, msgs, tc.outcome, tc.clearanceOff, tc.retryAfter)
			}
			if tc.messages != nil && fmt.Sprintf("%q", v.Messages) != fmt.Sprintf("%q", tc.messages) && !(len(v.Messages) == 0 && len(tc.messages) == 0) {
				t.Errorf("messages = %q, want %q", v.Messages, tc.messages)
			}
			if !strings.Contains(msgs, tc.contains) {
				t.Errorf("messages %q do not mention %q", msgs, tc.contains)
			}
			if (v.Outcome == stamping.Rejected || v.Outcome == stamping.AcceptedWithWarnings || v.Outcome == stamping.CredentialError) && len(v.Messages) == 0 {
				t.Errorf("%v without a message for the manager", v.Outcome)
			}
			if string(v.Answer) != tc.body {
				t.Errorf("Answer = %q, want the body as sent", v.Answer)
			}
		})
	}
}

// The transport failures: nothing came back, so the outcome is Retryable,
// the error is a *TransportError, and no answer is recorded.
func TestClassifyTransportErrors(t *testing.T) {
	doc := []byte("<Invoice/>")
	// blockingServer answers only once the client has gone away (or the
	// test ends), so the timeouts need no wall-clock sleep. The handler
	// reads the body first: the server notices a closed connection only
	// after that.
	blockingServer := func(t *testing.T) *httptest.Server {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) }) // runs before srv.Close
		return srv
	}
	cases := []struct {
		name  string
		setup func(t *testing.T) (*Client, context.Context)
		want  error // in the chain, when not nil
	}{
		{"connection refused", func(t *testing.T) (*Client, context.Context) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			return &Client{BaseURL: "http://" + addr}, context.Background()
		}, nil},
		{"connection reset", func(t *testing.T) (*Client, context.Context) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				if tcp, ok := conn.(*net.TCPConn); ok {
					tcp.SetLinger(0) // close with RST rather than FIN
				}
				conn.Close()
			}))
			t.Cleanup(srv.Close)
			return &Client{BaseURL: srv.URL, HTTP: srv.Client()}, context.Background()
		}, nil},
		{"client timeout", func(t *testing.T) (*Client, context.Context) {
			srv := blockingServer(t)
			hc := srv.Client()
			hc.Timeout = 50 * time.Millisecond
			return &Client{BaseURL: srv.URL, HTTP: hc}, context.Background()
		}, nil},
		{"context deadline", func(t *testing.T) (*Client, context.Context) {
			srv := blockingServer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			t.Cleanup(cancel)
			return &Client{BaseURL: srv.URL, HTTP: srv.Client()}, ctx
		}, context.DeadlineExceeded},
		{"context cancelled", func(t *testing.T) (*Client, context.Context) {
			srv := blockingServer(t)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return &Client{BaseURL: srv.URL, HTTP: srv.Client()}, ctx
		}, context.Canceled},
	}
	for _, tc := range cases {
		for _, kind := range []SubmissionKind{Reporting, Clearance} {
			t.Run(tc.name+"/"+kind.String(), func(t *testing.T) {
				c, ctx := tc.setup(t)
				done := make(chan struct{})
				var ans *InvoiceAnswer
				var err error
				go func() {
					defer close(done)
					if kind == Clearance {
						ans, err = c.Clear(ctx, clientTestCred, clientTestHash, clientTestUUID, doc)
					} else {
						ans, err = c.Report(ctx, clientTestCred, clientTestHash, clientTestUUID, doc)
					}
				}()
				select {
				case <-done:
				case <-time.After(10 * time.Second): // a bound, not an assertion on timing
					t.Fatal("the call did not return")
				}
				var te *TransportError
				if !errors.As(err, &te) || ans != nil {
					t.Fatalf("got %v, %v; want no answer and a *TransportError", ans, err)
				}
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Errorf("err = %v, want %v in its chain", err, tc.want)
				}
				if s := err.Error(); strings.Contains(s, clientTestSecret) || !strings.Contains(s, "/invoices/") {
					t.Errorf("error %q: want the operation and never the secret", s)
				}
				v := Classify(kind, ans, err)
				if v.Outcome != stamping.Retryable || v.Answer != nil || v.ClearanceOff || len(v.Messages) != 1 || !strings.Contains(v.Messages[0], "no answer") {
					t.Errorf("Classify = %+v, want Retryable with one message and no answer", v.Result)
				}
			})
		}
	}
}

func TestClassifyWithoutAnAnswer(t *testing.T) {
	v := Classify(Reporting, nil, fmt.Errorf("regime: %w", ErrNoCredentials))
	if v.Outcome != stamping.CredentialError || len(v.Messages) != 1 {
		t.Errorf("missing credentials: %+v, want CredentialError", v.Result)
	}
	if v := Classify(Clearance, nil, nil); v.Outcome != stamping.Retryable || len(v.Messages) != 1 {
		t.Errorf("neither answer nor error: %+v, want Retryable", v.Result)
	}
	if v := Classify(Reporting, nil, errors.New("boom")); v.Outcome != stamping.Retryable {
		t.Errorf("other error: %+v, want Retryable", v.Result)
	}
}

func TestSubmissionKindString(t *testing.T) {
	for k, want := range map[SubmissionKind]string{Reporting: "reporting", Clearance: "clearance", 0: "SubmissionKind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}

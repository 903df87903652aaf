package zatca

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/stampingtest"
)

// Values a test must never find in output. The token is double base64
// like a real binarySecurityToken; the secret has characters that Basic
// authentication must carry unchanged.
const (
	clientTestToken  = "VFVsSlJERkVRME5CTXk5blFYZEpRa0ZuU1ZSaWQwRkJaVFJUYUhOMmVXNHZNRkY2ZEZGQlFVRkJRV1ZPYWxSQlMwSm5aM0ZvYTJwUFVGRlJSRUZxUWts"
	clientTestSecret = "Xlj15LyMCgSC66ObnEO/qVPfhSbs3kDTjWnGheYhfSs="
	clientTestOTP    = "123345"
	clientTestHash   = "NaJPAJ6ml/Vs7cv/2FoxJL52CTUxV1Sf7BMkm3R+nzE="
	clientTestUUID   = "8e6000cf-1a98-4174-b3e7-b5d5954bc10d"
	clientTestCSR    = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlJQ0ZUQ0NBYnNDQVFBd2RURUxNQWtHQTFVRUJoTUNVMEV4RmpBVUJnTlZCQXNNRFZKcGVXRmthQ0JDY21GdQotLS0tLUVORCBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K"
)

var clientTestCred = Credentials{Token: clientTestToken, Secret: clientTestSecret}

// clientTestDoc is a stored document as the outbox would hand it over.
func clientTestDoc(t testing.TB) []byte {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("testdata", "simplified_invoice.xml"))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// seen is one request as the fake server received it.
type seen struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// fakeZATCA starts a fresh loopback server for one test case. It records
// every request and answers with status, header and body; it returns a
// client pointed at it and a function listing the requests so far.
func fakeZATCA(t *testing.T, status int, header http.Header, body string) (*Client, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var reqs []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, seen{r.Method, r.URL.Path, r.Header.Clone(), b})
		mu.Unlock()
		for k, v := range header {
			w.Header()[k] = v
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c := &Client{BaseURL: srv.URL, HTTP: srv.Client(), Language: "en"}
	return c, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), reqs...)
	}
}

const (
	answerCSID            = `{"requestID":1234567890123,"tokenType":"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3","dispositionMessage":"ISSUED","binarySecurityToken":"` + clientTestToken + `","secret":"` + clientTestSecret + `","errors":null}`
	answerReported        = `{"validationResults":{"infoMessages":[{"type":"INFO","code":"XSD_ZATCA_VALID","category":"XSD validation","message":"Complied with UBL 2.1 standards in line with ZATCA specifications","status":"PASS"}],"warningMessages":[],"errorMessages":[],"status":"PASS"},"reportingStatus":"REPORTED","clearanceStatus":null,"qrSellertStatus":null,"qrBuyertStatus":null}`
	answerReportedWarning = `{"validationResults":{"infoMessages":[],"warningMessages":[{"type":"WARNING","code":"BR-KSA-98","category":"KSA","message":"The simplified invoice should be submitted within 24 hours of issuing the invoice.","status":"WARNING"},{"type":"WARNING","code":"invalid-signing-certificate","category":"CERTIFICATE_ERRORS","message":"Invalid signing certificate","status":"WARNING"}],"errorMessages":[],"status":"WARNING"},"reportingStatus":"REPORTED","clearanceStatus":null}`
	answerNotReported     = `{"validationResults":{"infoMessages":[],"warningMessages":[],"errorMessages":[{"type":"ERROR","code":"invalid-invoice-hash","category":"INVOICE_HASHING_ERRORS","message":"The invoice hash API body does not match the (calculated) Hash of the XML","status":"ERROR"},{"type":"ERROR","code":"BR-KSA-17","category":"KSA","message":"The invoice must contain the seller VAT registration number","status":"ERROR"}],"status":"ERROR"},"reportingStatus":"NOT_REPORTED","clearanceStatus":null}`
	answerNotCleared      = `{"validationResults":{"infoMessages":[],"warningMessages":[],"errorMessages":[{"type":"ERROR","code":"certificate-permissions","category":"CERTIFICATE_ERRORS","message":"User only allowed to use the vat number that exists in the authentication certificate","status":"ERROR"}],"status":"ERROR"},"reportingStatus":null,"clearanceStatus":"NOT_CLEARED","clearedInvoice":null}`
	answerOldReported     = `{"invoiceHash":"` + clientTestHash + `","status":"REPORTED","warnings":null,"errors":[]}`
	answerOldRejected     = `{"invoiceHash":"` + clientTestHash + `","status":"NOT_REPORTED","warnings":[{"code":"BR-KSA-98","message":"late"}],"errors":[{"code":"invalid-invoice-hash","category":"INVOICE_HASHING_ERRORS","message":"hash mismatch"}]}`
	answerDuplicate       = `{"validationResults":{"infoMessages":[],"warningMessages":[],"errorMessages":[{"type":"ERROR","code":"Invoice-Errors","category":"ALREADY_REPORTED","message":"Invoice was already Reported successfully earlier.","status":"ERROR"}],"status":"ERROR"},"reportingStatus":null}`
)

// answerCleared is a clearance answer whose clearedInvoice is doc.
func answerCleared(doc []byte, status string) string {
	return `{"validationResults":{"infoMessages":[],"warningMessages":[],"errorMessages":[],"status":"` + status + `"},"clearanceStatus":"CLEARED","clearedInvoice":"` +
		base64.StdEncoding.EncodeToString(doc) + `"}`
}

func basicAuth(token, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(token+":"+secret))
}

func TestClientEndpoints(t *testing.T) {
	doc := clientTestDoc(t)
	invoiceBody := `{"invoiceHash":"` + clientTestHash + `","uuid":"` + clientTestUUID + `","invoice":"` + base64.StdEncoding.EncodeToString(doc) + `"}`
	ctx := context.Background()
	cases := []struct {
		name   string
		answer string
		call   func(c *Client) error
		method string
		path   string
		auth   bool   // Basic with clientTestCred
		otp    bool   // OTP: clientTestOTP
		status string // Clearance-Status, "" for none
		body   string
	}{
		{"compliance CSID", answerCSID, func(c *Client) error { _, err := c.ComplianceCSID(ctx, clientTestOTP, clientTestCSR); return err },
			"POST", "/compliance", false, true, "", `{"csr":"` + clientTestCSR + `"}`},
		{"compliance check", answerReported, func(c *Client) error {
			_, err := c.ComplianceCheck(ctx, clientTestCred, clientTestHash, clientTestUUID, doc)
			return err
		}, "POST", "/compliance/invoices", true, false, "", invoiceBody},
		{"production CSID", answerCSID, func(c *Client) error { _, err := c.ProductionCSID(ctx, clientTestCred, "1234567890123"); return err },
			"POST", "/production/csids", true, false, "", `{"compliance_request_id":"1234567890123"}`},
		{"renew production CSID", answerCSID, func(c *Client) error {
			_, err := c.RenewProductionCSID(ctx, clientTestCred, clientTestOTP, clientTestCSR)
			return err
		}, "PATCH", "/production/csids", true, true, "", `{"csr":"` + clientTestCSR + `"}`},
		{"report", answerReported, func(c *Client) error {
			_, err := c.Report(ctx, clientTestCred, clientTestHash, clientTestUUID, doc)
			return err
		},
			"POST", "/invoices/reporting/single", true, false, "0", invoiceBody},
		{"clear", answerCleared(doc, "PASS"), func(c *Client) error {
			_, err := c.Clear(ctx, clientTestCred, clientTestHash, clientTestUUID, doc)
			return err
		},
			"POST", "/invoices/clearance/single", true, false, "1", invoiceBody},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, requests := fakeZATCA(t, http.StatusOK, nil, tc.answer)
			c.BaseURL += "/" // a trailing slash must not double up
			for range 2 {
				if err := tc.call(c); err != nil {
					t.Fatalf("call: %v", err)
				}
			}
			reqs := requests()
			if len(reqs) != 2 {
				t.Fatalf("server saw %d requests, want 2", len(reqs))
			}
			r := reqs[0]
			if r.Method != tc.method || r.Path != tc.path {
				t.Errorf("request = %s %s, want %s %s", r.Method, r.Path, tc.method, tc.path)
			}
			want := map[string]string{
				"Accept-Version":   "V2",
				"Accept-Language":  "en",
				"Content-Type":     "application/json",
				"Accept":           "application/json",
				"Authorization":    "",
				"Otp":              "",
				"Clearance-Status": tc.status,
			}
			if tc.auth {
				want["Authorization"] = basicAuth(clientTestToken, clientTestSecret)
			}
			if tc.otp {
				want["Otp"] = clientTestOTP
			}
			for k, v := range want {
				if got := r.Header.Values(k); (v == "" && len(got) != 0) || (v != "" && (len(got) != 1 || got[0] != v)) {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if string(r.Body) != tc.body {
				t.Errorf("body =\n%s\nwant\n%s", r.Body, tc.body)
			}
			if !bytes.Equal(reqs[1].Body, r.Body) {
				t.Errorf("the second call sent different bytes:\n%s\nthen\n%s", r.Body, reqs[1].Body)
			}
		})
	}
}

// The JSON fields of an invoice submission are exactly three, and the
// invoice field decodes to the very bytes given.
func TestInvoiceRequestBody(t *testing.T) {
	doc := clientTestDoc(t)
	body := invoiceRequestBody(clientTestHash, clientTestUUID, doc)
	var m map[string]string
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || m["invoiceHash"] != clientTestHash || m["uuid"] != clientTestUUID {
		t.Errorf("fields = %v, want exactly invoiceHash, uuid, invoice", m)
	}
	got, err := base64.StdEncoding.DecodeString(m["invoice"])
	if err != nil || !bytes.Equal(got, doc) {
		t.Errorf("invoice field does not decode to the document (err %v)", err)
	}
	if again := invoiceRequestBody(clientTestHash, clientTestUUID, doc); !bytes.Equal(again, body) {
		t.Error("invoiceRequestBody is not deterministic")
	}
}

func TestClientLanguage(t *testing.T) {
	c, requests := fakeZATCA(t, http.StatusOK, nil, answerReported)
	c.Language = "ar"
	if _, err := c.Report(context.Background(), clientTestCred, clientTestHash, clientTestUUID, []byte("<Invoice/>")); err != nil {
		t.Fatal(err)
	}
	if got := requests()[0].Header.Get("Accept-Language"); got != "ar" {
		t.Errorf("Accept-Language = %q, want ar", got)
	}
}

func TestCSIDAnswer(t *testing.T) {
	c, _ := fakeZATCA(t, http.StatusOK, nil, answerCSID)
	ans, err := c.ComplianceCSID(context.Background(), clientTestOTP, clientTestCSR)
	if err != nil {
		t.Fatal(err)
	}
	if ans.HTTPStatus != 200 || ans.RequestID != "1234567890123" || ans.DispositionMessage != "ISSUED" ||
		!strings.HasSuffix(ans.TokenType, "#X509v3") || ans.Credentials != clientTestCred || string(ans.Raw) != answerCSID {
		t.Errorf("answer = %+v (raw %s)", ans, ans.Raw)
	}
	// A string requestID is kept as it is.
	c, _ = fakeZATCA(t, http.StatusOK, nil, strings.Replace(answerCSID, "1234567890123", `"1700000000001"`, 1))
	if ans, err = c.ProductionCSID(context.Background(), clientTestCred, "1234567890123"); err != nil || ans.RequestID != "1700000000001" {
		t.Errorf("string requestID: %v, %v", ans, err)
	}
}

// The token in a CSID answer is used as is for Basic authentication and
// decodes to the certificate with cert.DecodeBinarySecurityToken.
func TestCSIDAnswerTokenIsTheCertificate(t *testing.T) {
	sample := stampingtest.Read(t, "zatca", "samples", "simplified_invoice.xml")
	m := regexp.MustCompile(`<ds:X509Certificate>([^<]+)</ds:X509Certificate>`).FindSubmatch(sample)
	if m == nil {
		t.Fatal("no certificate in the SDK sample")
	}
	token := base64.StdEncoding.EncodeToString(m[1])
	c, requests := fakeZATCA(t, http.StatusOK, nil, strings.Replace(answerCSID, clientTestToken, token, 1))
	ans, err := c.ComplianceCSID(context.Background(), clientTestOTP, clientTestCSR)
	if err != nil {
		t.Fatal(err)
	}
	crt, err := cert.DecodeBinarySecurityToken(ans.Credentials.Token)
	if err != nil {
		t.Fatalf("DecodeBinarySecurityToken: %v", err)
	}
	if crt.Base64() != string(m[1]) {
		t.Error("the token does not decode to the sample certificate")
	}
	if _, err := c.ComplianceCheck(context.Background(), ans.Credentials, clientTestHash, clientTestUUID, []byte("<Invoice/>")); err != nil {
		t.Fatal(err)
	}
	if got, want := requests()[1].Header.Get("Authorization"), basicAuth(token, clientTestSecret); got != want {
		t.Errorf("Authorization = %q, want %q", got, want)
	}
}

func TestCSIDRefused(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   []string
	}{
		{"errors as strings", 400, `{"errors":["Invalid-OTP"]}`, []string{"Invalid-OTP"}},
		{"errors as objects", 400, `{"errors":[{"code":"Invalid-CSR","message":"The provided CSR is invalid"}]}`, []string{"Invalid-CSR: The provided CSR is invalid"}},
		{"bare code and message", 400, `{"code":"Missing-OTP","message":"OTP is required field"}`, []string{"Missing-OTP: OTP is required field"}},
		{"gateway 401", 401, `{"timestamp":1700000000000,"status":401,"error":"Unauthorized","message":"","path":"/e-invoicing/core/production/csids"}`, []string{"Unauthorized"}},
		{"empty 401", 401, ``, nil},
		{"HTML 502", 502, `<html><body>Bad Gateway</body></html>`, []string{"the answer is not JSON"}},
		{"200 without a token", 200, `{"requestID":1,"dispositionMessage":"NOT_COMPLIANT","binarySecurityToken":null,"secret":null}`, []string{"the answer has no binarySecurityToken or secret"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeZATCA(t, tc.status, nil, tc.body)
			ans, err := c.RenewProductionCSID(context.Background(), clientTestCred, clientTestOTP, clientTestCSR)
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an *APIError", err)
			}
			if ae.HTTPStatus != tc.status || fmt.Sprint(ae.Messages) != fmt.Sprint(tc.want) {
				t.Errorf("APIError = %d %q, want %d %q", ae.HTTPStatus, ae.Messages, tc.status, tc.want)
			}
			if ans == nil || ans.HTTPStatus != tc.status || string(ans.Raw) != tc.body {
				t.Errorf("answer = %v, want status %d and the raw body", ans, tc.status)
			}
			if s := err.Error(); strings.Contains(s, clientTestSecret) || strings.Contains(s, clientTestOTP) || !strings.Contains(s, "PATCH /production/csids") {
				t.Errorf("error %q: want the operation, never the secret or the OTP", s)
			}
		})
	}
}

func TestInvoiceAnswerShapes(t *testing.T) {
	doc := clientTestDoc(t)
	msg := func(typ, code, cat, text string) Message {
		return Message{Type: typ, Code: code, Category: cat, Message: text, Status: typ}
	}
	cases := []struct {
		name   string
		status int
		body   string
		want   InvoiceAnswer // Raw and HTTPStatus are checked separately
	}{
		{"PASS", 200, answerReported, InvoiceAnswer{ValidationStatus: "PASS", ReportingStatus: "REPORTED",
			Info: []Message{{Type: "INFO", Code: "XSD_ZATCA_VALID", Category: "XSD validation", Message: "Complied with UBL 2.1 standards in line with ZATCA specifications", Status: "PASS"}}}},
		{"WARNING", 202, answerReportedWarning, InvoiceAnswer{ValidationStatus: "WARNING", ReportingStatus: "REPORTED", Warnings: []Message{
			msg("WARNING", "BR-KSA-98", "KSA", "The simplified invoice should be submitted within 24 hours of issuing the invoice."),
			msg("WARNING", "invalid-signing-certificate", "CERTIFICATE_ERRORS", "Invalid signing certificate")}}},
		{"ERROR", 400, answerNotReported, InvoiceAnswer{ValidationStatus: "ERROR", ReportingStatus: "NOT_REPORTED", Errors: []Message{
			msg("ERROR", "invalid-invoice-hash", "INVOICE_HASHING_ERRORS", "The invoice hash API body does not match the (calculated) Hash of the XML"),
			msg("ERROR", "BR-KSA-17", "KSA", "The invoice must contain the seller VAT registration number")}}},
		{"NOT_CLEARED", 400, answerNotCleared, InvoiceAnswer{ValidationStatus: "ERROR", ClearanceStatus: "NOT_CLEARED", Errors: []Message{
			msg("ERROR", "certificate-permissions", "CERTIFICATE_ERRORS", "User only allowed to use the vat number that exists in the authentication certificate")}}},
		{"CLEARED", 200, answerCleared(doc, "PASS"), InvoiceAnswer{ValidationStatus: "PASS", ClearanceStatus: "CLEARED", ClearedInvoice: doc}},
		{"old shape reported", 200, answerOldReported, InvoiceAnswer{ReportingStatus: "REPORTED", InvoiceHash: clientTestHash}},
		{"old shape rejected", 400, answerOldRejected, InvoiceAnswer{ReportingStatus: "NOT_REPORTED", InvoiceHash: clientTestHash,
			Warnings: []Message{{Code: "BR-KSA-98", Message: "late"}},
			Errors:   []Message{{Code: "invalid-invoice-hash", Category: "INVOICE_HASHING_ERRORS", Message: "hash mismatch"}}}},
		{"old shape cleared", 200, `{"invoiceHash":"h","status":"cleared","clearedInvoice":"PEludm9pY2UvPg=="}`,
			InvoiceAnswer{ClearanceStatus: "CLEARED", InvoiceHash: "h", ClearedInvoice: []byte("<Invoice/>")}},
		{"gateway error", 500, `{"timestamp":"2024-01-01T00:00:00Z","status":500,"error":"Internal Server Error","message":"Something went wrong"}`,
			InvoiceAnswer{Errors: []Message{{Message: "Something went wrong"}}}},
		{"fields of odd types", 200, `{"validationResults":{"status":7,"warningMessages":"none","errorMessages":[1,null,"plain text",{"code":3}]},"reportingStatus":["REPORTED"],"clearedInvoice":{}}`,
			InvoiceAnswer{Errors: []Message{{Message: "plain text"}}}},
		{"empty body", 503, ``, InvoiceAnswer{}},
		{"HTML body", 502, `<html>Bad Gateway</html>`, InvoiceAnswer{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeZATCA(t, tc.status, nil, tc.body)
			ans, err := c.Clear(context.Background(), clientTestCred, clientTestHash, clientTestUUID, doc)
			if err != nil {
				t.Fatal(err)
			}
			if ans.HTTPStatus != tc.status || string(ans.Raw) != tc.body {
				t.Errorf("HTTPStatus %d, Raw %q; want %d and the body as sent", ans.HTTPStatus, ans.Raw, tc.status)
			}
			got := *ans
			got.HTTPStatus, got.Raw = 0, nil
			if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", tc.want); g != w {
				t.Errorf("answer =\n%s\nwant\n%s", g, w)
			}
		})
	}
}

func TestParseInvoiceAnswerErrors(t *testing.T) {
	if ans, err := ParseInvoiceAnswer(502, []byte("<html/>")); err == nil || ans == nil || ans.HTTPStatus != 502 {
		t.Errorf("HTML: %v, %v; want an answer and an error", ans, err)
	}
	ans, err := ParseInvoiceAnswer(200, []byte(`{"clearanceStatus":"CLEARED","clearedInvoice":"not base64!"}`))
	if err == nil || ans.ClearanceStatus != "CLEARED" || ans.ClearedInvoice != nil {
		t.Errorf("bad clearedInvoice: %+v, %v; want the status, no invoice, an error", ans, err)
	}
	if ans, err := ParseInvoiceAnswer(200, []byte(answerReported)); err != nil || ans.ReportingStatus != "REPORTED" {
		t.Errorf("stored answer: %+v, %v", ans, err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"99999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tc := range cases {
		t.Run(tc.header, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("Retry-After", tc.header)
			}
			c, _ := fakeZATCA(t, http.StatusTooManyRequests, h, "")
			c.now = func() time.Time { return now }
			ans, err := c.Report(context.Background(), clientTestCred, clientTestHash, clientTestUUID, []byte("<Invoice/>"))
			if err != nil {
				t.Fatal(err)
			}
			if ans.RetryAfter != tc.want {
				t.Errorf("Retry-After %q = %v, want %v", tc.header, ans.RetryAfter, tc.want)
			}
		})
	}
}

// A 303 is ZATCA's answer, not a redirect to follow, even when the
// caller's http.Client would follow it.
func TestClientDoesNotFollowRedirects(t *testing.T) {
	var followed bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed = true
			io.WriteString(w, answerReported)
			return
		}
		w.Header().Set("Location", "/elsewhere")
		w.WriteHeader(http.StatusSeeOther)
	}))
	t.Cleanup(srv.Close)
	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return nil }
	c := &Client{BaseURL: srv.URL, HTTP: hc}
	ans, err := c.Clear(context.Background(), clientTestCred, clientTestHash, clientTestUUID, []byte("<Invoice/>"))
	if err != nil {
		t.Fatal(err)
	}
	if ans.HTTPStatus != http.StatusSeeOther || followed {
		t.Errorf("status %d, followed %v; want 303 and no second request", ans.HTTPStatus, followed)
	}
}

// Calls that cannot be made fail before anything is sent, and their
// errors never repeat the OTP.
func TestClientRefusesLocally(t *testing.T) {
	ctx := context.Background()
	badOTP := "12\r\n3345"
	cases := []struct {
		name string
		call func(c *Client) error
		is   error
	}{
		{"no token", func(c *Client) error {
			_, err := c.Report(ctx, Credentials{Secret: clientTestSecret}, clientTestHash, clientTestUUID, nil)
			return err
		}, ErrNoCredentials},
		{"no secret", func(c *Client) error {
			_, err := c.Clear(ctx, Credentials{Token: clientTestToken}, clientTestHash, clientTestUUID, nil)
			return err
		}, ErrNoCredentials},
		{"no production credentials", func(c *Client) error { _, err := c.ProductionCSID(ctx, Credentials{}, "1"); return err }, ErrNoCredentials},
		{"no OTP", func(c *Client) error { _, err := c.ComplianceCSID(ctx, "", clientTestCSR); return err }, nil},
		{"OTP with a line break", func(c *Client) error { _, err := c.ComplianceCSID(ctx, badOTP, clientTestCSR); return err }, nil},
		{"renewal OTP with a line break", func(c *Client) error {
			_, err := c.RenewProductionCSID(ctx, clientTestCred, badOTP, clientTestCSR)
			return err
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, requests := fakeZATCA(t, http.StatusOK, nil, answerReported)
			err := tc.call(c)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want %v", err, tc.is)
			}
			if strings.Contains(err.Error(), "3345") {
				t.Errorf("error %q repeats the OTP", err)
			}
			if n := len(requests()); n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
		})
	}
	for _, base := range []string{"", "gw-fatoora.zatca.gov.sa/e-invoicing/core", "ftp://example.invalid/"} {
		c := &Client{BaseURL: base}
		if _, err := c.Report(ctx, clientTestCred, clientTestHash, clientTestUUID, nil); err == nil {
			t.Errorf("base URL %q: no error", base)
		}
	}
}

func TestBaseURL(t *testing.T) {
	for env, want := range map[Environment]string{
		DeveloperPortal: "https://gw-fatoora.zatca.gov.sa/e-invoicing/developer-portal",
		Simulation:      "https://gw-fatoora.zatca.gov.sa/e-invoicing/simulation",
		Core:            "https://gw-fatoora.zatca.gov.sa/e-invoicing/core",
		Environment(0):  "",
	} {
		if got := BaseURL(env); got != want {
			t.Errorf("BaseURL(%v) = %q, want %q", env, got, want)
		}
	}
	if c := NewClient(Simulation); c.BaseURL != BaseURL(Simulation) || c.Language != "en" {
		t.Errorf("NewClient(Simulation) = %+v", c)
	}
}

// The secret never shows, whatever verb or encoder prints credentials or
// a CSID answer, directly, by pointer or inside another struct.
func TestCredentialsNeverPrintTheSecret(t *testing.T) {
	ans := parseCSIDAnswer(200, []byte(answerCSID))
	if ans.Credentials.Secret != clientTestSecret {
		t.Fatal("the fixture lost its secret")
	}
	type holder struct {
		Cred   Credentials
		Answer *CSIDAnswer
	}
	values := map[string]any{
		"Credentials":  clientTestCred,
		"*Credentials": &clientTestCred,
		"CSIDAnswer":   *ans,
		"*CSIDAnswer":  ans,
		"holder":       holder{clientTestCred, ans},
		"*holder":      &holder{clientTestCred, ans},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, clientTestSecret) || strings.Contains(out, "Xlj15LyM") {
				t.Errorf("fmt %s of %s shows the secret: %s", verb, name, out)
			}
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Errorf("json of %s: %v", name, err)
		}
		if strings.Contains(string(out), clientTestSecret) {
			t.Errorf("json of %s shows the secret: %s", name, out)
		}
	}
	if s := clientTestCred.String(); !strings.Contains(s, clientTestToken[:12]) || !strings.Contains(s, redacted) {
		t.Errorf("String() = %q: want a token prefix and a redaction mark", s)
	}
	if s := (Credentials{}).String(); !strings.Contains(s, "unset") {
		t.Errorf("empty credentials print as %q", s)
	}
}

// FuzzParseInvoiceAnswer: any body, including truncated and mistyped JSON,
// gives an answer without panicking, and the body is kept as is.
func FuzzParseInvoiceAnswer(f *testing.F) {
	for _, b := range []string{answerReported, answerReportedWarning, answerNotReported, answerNotCleared, answerOldReported,
		answerOldRejected, answerDuplicate, answerCSID, answerCleared([]byte("<Invoice/>"), "WARNING"), "", "null", "[]", `{"status":401}`} {
		f.Add(200, []byte(b))
		f.Add(400, []byte(b))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		ans, _ := ParseInvoiceAnswer(status, body)
		if ans == nil || ans.HTTPStatus != status || !bytes.Equal(ans.Raw, body) {
			t.Fatalf("ParseInvoiceAnswer(%d, %q) = %+v", status, body, ans)
		}
		for _, kind := range []SubmissionKind{Reporting, Clearance} {
			if v := Classify(kind, ans, nil); v.Outcome < 1 || v.Outcome > 6 {
				t.Fatalf("Classify gave outcome %v", v.Outcome)
			}
		}
		_ = parseCSIDAnswer(status, body)
	})
}

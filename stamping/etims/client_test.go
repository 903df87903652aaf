package etims_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/etims"
)

// recorder is a control unit that records each request and answers
// with the body given for its path.
type recorder struct {
	mu       sync.Mutex
	requests []recorded
	answers  map[string]string // path → body
	status   int
}

type recorded struct {
	path   string
	header http.Header
	body   []byte
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.requests = append(rc.requests, recorded{r.URL.Path, r.Header.Clone(), body})
	answer, status := rc.answers[r.URL.Path], rc.status
	rc.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	io.WriteString(w, answer)
}

func newRecorder(t *testing.T, answers map[string]string) (*recorder, *httptest.Server) {
	rc := &recorder{answers: answers}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

// paths are the paths requested, in order.
func (rc *recorder) paths() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, r := range rc.requests {
		out = append(out, r.path)
	}
	return out
}

// noChange is KRA's answer to a search with nothing new since lastReqDt.
const noChange = `{"resultCd":"001","resultMsg":"There is no search result","resultDt":"20260115090000","data":null}`

const initAnswer = `{"resultCd":"000","resultMsg":"It is succeeded","resultDt":"20260115090000","data":{"info":{"tin":"P000000001A","taxprNm":"Duka Ltd","bhfId":"00","dvcId":"9999911300000001","sdcId":"KRACU0100000001","mrcNo":"WIS01000150","cmcKey":"f0b9831bd2334874b7ec815e40347bc4"}}}`

// Init posts DeviceVerificationReq (the golden) without the OSCU headers,
// and returns the key, which prints as redacted.
func TestClientInit(t *testing.T) {
	rc, srv := newRecorder(t, map[string]string{"/etims-api/selectInitOsdcInfo": initAnswer})
	c := &etims.Client{BaseURL: srv.URL + "/etims-api", Identity: oscu}
	info, _, err := c.Init(context.Background(), "EGSD/P000000001A/1")
	if err != nil {
		t.Fatal(err)
	}
	if string(info.CmcKey) != "f0b9831bd2334874b7ec815e40347bc4" || info.SdcID != "KRACU0100000001" || info.MrcNo != "WIS01000150" {
		t.Errorf("info %+v", info)
	}
	js, err := info.CmcKey.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{info.CmcKey.String(), string(js), fmt.Sprintf("%v %s %q %x %#v %+v", info.CmcKey, info.CmcKey, info.CmcKey, info.CmcKey, info.CmcKey, *info)} {
		if strings.Contains(s, "f0b9") || strings.Contains(s, "6630623938") {
			t.Errorf("the key shows in %q", s)
		}
	}
	r := rc.requests[0]
	checkGolden(t, "init.json", r.body)
	if r.header.Get("cmcKey") != "" || r.header.Get("tin") != "" {
		t.Errorf("init sent OSCU headers: %v", r.header)
	}
}

// OSCU calls carry tin, bhfId and cmcKey as headers; VSCU calls carry tin
// and bhfId in the body and no key; a bearer token goes on every call.
func TestClientHeaders(t *testing.T) {
	rc, srv := newRecorder(t, map[string]string{
		"/selectCodeList":   `{"resultCd":"001","resultMsg":"There is no search result","resultDt":"20260115090000","data":null}`,
		"/code/selectCodes": `{"resultCd":"000","resultMsg":"ok","resultDt":"20260115090000","data":{"clsList":[{"cdCls":"07","dtlList":[{"cd":"01","cdNm":"CASH"}]}]}}`,
	})
	o := &etims.Client{BaseURL: srv.URL, Identity: oscu, CmcKey: "k3y", BearerToken: "t0k"}
	list, _, err := o.CodeList(context.Background(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || len(list) != 0 {
		t.Fatalf("no change (001): %v %v", list, err)
	}
	h := rc.requests[0].header
	if h.Get("tin") != sellerPIN || h.Get("bhfId") != "00" || h.Get("cmcKey") != "k3y" || h.Get("Authorization") != "Bearer t0k" {
		t.Errorf("OSCU headers %v", h)
	}
	if got := string(rc.requests[0].body); got != `{"lastReqDt":"20260101030000"}` {
		t.Errorf("OSCU body %s (lastReqDt in Nairobi time)", got)
	}
	vscu := oscu
	vscu.Profile = etims.VSCU
	v := &etims.Client{BaseURL: srv.URL, Identity: vscu}
	list, _, err = v.CodeList(context.Background(), time.Time{})
	if err != nil || len(list) != 1 || list[0].Details[0].Name != "CASH" {
		t.Fatalf("VSCU code list %+v %v", list, err)
	}
	r := rc.requests[1]
	if r.header.Get("cmcKey") != "" || r.header.Get("tin") != "" {
		t.Errorf("VSCU headers %v", r.header)
	}
	if got := string(r.body); got != `{"tin":"P000000001A","bhfId":"00","lastReqDt":"20180101000000"}` {
		t.Errorf("VSCU body %s", got)
	}
	// An OSCU call without a key is not made.
	if _, _, err := (&etims.Client{BaseURL: srv.URL, Identity: oscu}).CodeList(context.Background(), time.Time{}); !errors.Is(err, etims.ErrNoKey) {
		t.Errorf("no key: %v", err)
	}
	if len(rc.requests) != 2 {
		t.Errorf("%d requests, want 2", len(rc.requests))
	}
}

// A template is never sent; VSCU without a lookup path is told so.
func TestClientRefusesTemplate(t *testing.T) {
	rc, srv := newRecorder(t, nil)
	c := &etims.Client{BaseURL: srv.URL, Identity: oscu, CmcKey: "k"}
	tmpl, err := etims.Template(mustBuild(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SaveSale(context.Background(), tmpl); !errors.Is(err, etims.ErrNotNumbered) {
		t.Errorf("SaveSale of a template: %v", err)
	}
	if res := c.Deliver(context.Background(), tmpl, false); res.Outcome != stamping.Retryable {
		t.Errorf("Deliver of a template: %+v", res)
	}
	vscu := oscu
	vscu.Profile = etims.VSCU
	if _, _, err := (&etims.Client{BaseURL: srv.URL, Identity: vscu}).LookupInvoice(context.Background(), 1); !errors.Is(err, etims.ErrNoPath) {
		t.Errorf("VSCU lookup without a path: %v", err)
	}
	if len(rc.requests) != 0 {
		t.Errorf("%d requests sent", len(rc.requests))
	}
}

func TestClassify(t *testing.T) {
	env := func(status int, code string) *etims.Envelope {
		return &etims.Envelope{HTTPStatus: status, ResultCd: etims.Text(code), ResultMsg: "msg", Raw: []byte(`{"resultCd":"` + code + `"}`)}
	}
	for _, tc := range []struct {
		name string
		env  *etims.Envelope
		err  error
		want stamping.Outcome
		text string // in the messages
	}{
		{"timeout", nil, &etims.TransportError{Op: etims.OpSaveSale, Err: context.DeadlineExceeded}, stamping.Retryable, "no answer"},
		{"000", env(200, "000"), nil, stamping.Accepted, ""},
		{"994", env(200, "994"), nil, stamping.Duplicate, "994"},
		{"901", env(200, "901"), nil, stamping.CredentialError, "commitment form"},
		{"902", env(200, "902"), nil, stamping.CredentialError, "device.json"},
		{"903", env(200, "903"), nil, stamping.CredentialError, "profile"},
		{"900", env(200, "900"), nil, stamping.CredentialError, "egsd onboard"},
		{"910", env(200, "910"), nil, stamping.Rejected, "910"},
		{"911", env(200, "911"), nil, stamping.Rejected, "911"},
		{"912", env(200, "912"), nil, stamping.Rejected, "912"},
		{"921", env(200, "921"), nil, stamping.Retryable, "in order"},
		{"922", env(200, "922"), nil, stamping.Retryable, "in order"},
		{"990", env(200, "990"), nil, stamping.Retryable, "later"},
		{"991", env(200, "991"), nil, stamping.Retryable, "991"},
		{"999", env(200, "999"), nil, stamping.Retryable, "999"},
		{"894", env(200, "894"), nil, stamping.Retryable, "894"},
		{"a code KRA adds later", env(200, "123"), nil, stamping.Retryable, "123"},
		{"HTTP 500", env(500, ""), nil, stamping.Retryable, "HTTP 500"},
		{"HTTP 429", env(429, ""), nil, stamping.Retryable, "HTTP 429"},
		{"HTTP 401", env(401, ""), nil, stamping.CredentialError, "bearer_token"},
		{"HTTP 403", env(403, ""), nil, stamping.CredentialError, "bearer_token"},
		{"200 without envelope", env(200, ""), nil, stamping.Retryable, "no result code"},
	} {
		a := etims.Classify(etims.OpSaveSale, tc.env, tc.err)
		if a.Outcome != tc.want || !strings.Contains(strings.Join(a.Messages, " | "), tc.text) {
			t.Errorf("%s: %v %q, want %v with %q", tc.name, a.Outcome, a.Messages, tc.want, tc.text)
		}
		if tc.env != nil && string(a.Answer) != string(tc.env.Raw) {
			t.Errorf("%s: the answer is not kept", tc.name)
		}
	}
}

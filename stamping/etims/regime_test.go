package etims_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/etims"
)

var (
	_ stamping.Regime    = (*etims.Regime)(nil)
	_ stamping.Onboarder = (*etims.Regime)(nil)
	_ stamping.Readiness = (*etims.Regime)(nil)
	_ stamping.Ordered   = (*etims.Regime)(nil)
)

// newRegime makes a regime on a data directory with options o (BaseURL
// pointing at a test server).
func newRegime(t *testing.T, dir string, o etims.Options, events *[]string) *etims.Regime {
	t.Helper()
	r, err := etims.New(stamping.Config{Seller: seller, Device: device, DataDir: dir,
		Decode: func(v any) error { *(v.(*etims.Options)) = o; return nil },
		Event: func(action string, details map[string]string) {
			if events != nil {
				*events = append(*events, action+" "+details["sdc_id"]+" "+strings.Join(values(details), ","))
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestRegimeBeforeInit(t *testing.T) {
	r := newRegime(t, t.TempDir(), etims.Options{BaseURL: "http://127.0.0.1:1"}, nil)
	if r.Mode() != stamping.StampRemote || r.Name() != "etims" {
		t.Errorf("mode %v name %s", r.Mode(), r.Name())
	}
	for name, err := range map[string]error{"Ready": r.Ready(), "Validate": r.Validate(sampleSale())} {
		if !errors.Is(err, stamping.ErrNotReady) || !strings.Contains(err.Error(), "egsd onboard") {
			t.Errorf("%s before init: %v", name, err)
		}
	}
	if _, err := r.Stamp(stamping.Slot{Counter: 1, IssuedAt: time.Now()}, sampleSale()); !errors.Is(err, stamping.ErrNotReady) {
		t.Errorf("Stamp before init: %v", err)
	}
	if res := r.Submit(context.Background(), stamping.Submission{}); res.Outcome != stamping.CredentialError {
		t.Errorf("Submit before init: %+v", res)
	}
	if _, err := etims.New(stamping.Config{Seller: seller, Device: device}); err == nil {
		t.Error("New without a data directory")
	}
}

// Onboarding calls KRA once, writes the device record 0600, records an
// event without the key, and leaves no key in the state it saves last.
func TestRegimeOnboard(t *testing.T) {
	rc, srv := newRecorder(t, map[string]string{"/selectInitOsdcInfo": initAnswer, "/selectCodeList": noChange, "/selectItemClsList": noChange})
	dir := t.TempDir()
	var events []string
	r := newRegime(t, dir, etims.Options{BaseURL: srv.URL}, &events)
	var states [][]byte
	save := func(b []byte) error { states = append(states, bytes.Clone(b)); return nil }
	if err := r.Onboard(context.Background(), stamping.OnboardRequest{}, nil, save); err != nil {
		t.Fatal(err)
	}
	if paths := rc.paths(); !slices.Equal(paths, []string{"/selectInitOsdcInfo", "/selectCodeList", "/selectItemClsList"}) {
		t.Errorf("calls to KRA %q: one init, then the code lists", paths)
	}
	fi, err := os.Stat(etims.DeviceFile(dir))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("device record: %v %v", fi, err)
	}
	if len(states) != 2 || !bytes.Contains(states[0], []byte("f0b9831b")) || bytes.Contains(states[1], []byte("f0b9831b")) {
		t.Errorf("states %q: the key must be saved before the record is written, and dropped after", states)
	}
	if st := r.OnboardingStatus(states[1], time.Now()); st.State != stamping.OnboardingDone || strings.Contains(st.Summary, "f0b9") {
		t.Errorf("status %+v", st)
	}
	if len(events) != 2 || !strings.Contains(events[0], "KRACU0100000001") || strings.Contains(strings.Join(events, " "), "f0b9") ||
		!strings.HasPrefix(events[1], "etims_codes_refreshed") {
		t.Errorf("events %q", events)
	}
	if err := r.Ready(); err != nil || r.Device().SdcID != "KRACU0100000001" {
		t.Errorf("after onboarding: %v %+v", err, r.Device())
	}
	// Once initialised: no second init (KRA would answer 902), no renewal.
	for _, req := range []stamping.OnboardRequest{{}, {Renew: true}} {
		if err := r.Onboard(context.Background(), req, states[1], save); !errors.Is(err, stamping.ErrOnboardingConflict) {
			t.Errorf("onboard %+v again: %v", req, err)
		}
	}
	// A new regime on the same directory loads the record.
	r2 := newRegime(t, dir, etims.Options{BaseURL: srv.URL}, nil)
	if err := r2.Ready(); err != nil {
		t.Errorf("reloaded: %v", err)
	}
	// Another PIN on the same record is another identity.
	_, err = etims.New(stamping.Config{Seller: stamping.Seller{VATNumber: "P000000009Z"}, Device: device, DataDir: dir})
	if !errors.Is(err, stamping.ErrIdentityChanged) {
		t.Errorf("another PIN: %v", err)
	}
}

// A crash after KRA answered resumes from the saved state: the record is
// written without calling KRA again.
func TestRegimeOnboardResumes(t *testing.T) {
	rc, srv := newRecorder(t, map[string]string{"/selectInitOsdcInfo": initAnswer, "/selectCodeList": noChange, "/selectItemClsList": noChange})
	var states [][]byte
	first := newRegime(t, t.TempDir(), etims.Options{BaseURL: srv.URL}, nil)
	crash := errors.New("power lost")
	err := first.Onboard(context.Background(), stamping.OnboardRequest{}, nil, func(b []byte) error {
		states = append(states, bytes.Clone(b))
		return crash // the state is kept, then the unit dies
	})
	if !errors.Is(err, crash) || len(states) != 1 {
		t.Fatalf("first run: %v, %d states", err, len(states))
	}
	dir := t.TempDir()
	r := newRegime(t, dir, etims.Options{BaseURL: srv.URL}, nil)
	if st := r.OnboardingStatus(states[0], time.Now()); st.State != etims.OnboardingKeyReceived {
		t.Errorf("status after the crash %+v", st)
	}
	if err := r.Onboard(context.Background(), stamping.OnboardRequest{}, states[0], func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(rc.paths(), " "), "/selectInitOsdcInfo"); n != 1 {
		t.Errorf("KRA's init was called %d times; the resumed run must not call it", n)
	}
	if r.Ready() != nil {
		t.Error("not ready after the resumed run")
	}
}

// KRA's 901 fails the step with KRA's message and the technician's next
// step, saved in the state.
func TestRegimeOnboardFails(t *testing.T) {
	_, srv := newRecorder(t, map[string]string{"/selectInitOsdcInfo": `{"resultCd":"901","resultMsg":"It is not valid device","resultDt":"20260115090000","data":null}`})
	dir := t.TempDir()
	r := newRegime(t, dir, etims.Options{BaseURL: srv.URL}, nil)
	var state []byte
	err := r.Onboard(context.Background(), stamping.OnboardRequest{}, nil, func(b []byte) error { state = b; return nil })
	var se *stamping.OnboardingStepError
	if !errors.As(err, &se) || se.Step != "init" || len(se.Messages) != 2 || !strings.Contains(se.Messages[1], "commitment form") {
		t.Fatalf("901: %v", err)
	}
	st := r.OnboardingStatus(state, time.Now())
	if st.State != stamping.OnboardingFailed || st.Step != "init" || !strings.Contains(strings.Join(st.Messages, " "), "901") {
		t.Errorf("status %+v", st)
	}
	if _, err := os.Stat(etims.DeviceFile(dir)); err == nil || r.Ready() == nil {
		t.Error("a device record after a failure")
	}
}

// Stamp stores the template: its hash is SHA-256 of the bytes, its number
// the trader's invoice number, and Rehash agrees.
func TestRegimeStamp(t *testing.T) {
	_, srv := newRecorder(t, map[string]string{"/selectInitOsdcInfo": initAnswer})
	r := newRegime(t, t.TempDir(), etims.Options{BaseURL: srv.URL, InvoicePrefix: "DUKA-"}, nil)
	if err := r.Onboard(context.Background(), stamping.OnboardRequest{}, nil, func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	doc, err := r.Stamp(stamping.Slot{Counter: 42, IssuedAt: nairobi("2026-01-15 10:30:00")}, sampleSale())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(doc.Bytes)
	if doc.Number != "DUKA-42" || doc.Hash != base64.StdEncoding.EncodeToString(sum[:]) || doc.ContentType != "application/json" {
		t.Errorf("document %s %s %s", doc.Number, doc.Hash, doc.ContentType)
	}
	if h, _ := r.Rehash(doc.Bytes); h != doc.Hash {
		t.Errorf("Rehash %s, want %s", h, doc.Hash)
	}
	if n, _, err := etims.Numbers(doc.Bytes); n != 0 || err != nil {
		t.Errorf("stored document invcNo %d %v: it must be a template", n, err)
	}
}

// A VSCU unit past its offline limit may not issue; an OSCU unit is not
// limited this way.
func TestCheckOffline(t *testing.T) {
	now := nairobi("2026-01-16 12:00:00")
	v := newRegime(t, t.TempDir(), etims.Options{Profile: "vscu", OfflineLimit: "24h"}, nil)
	if err := v.CheckOffline(now.Add(-23*time.Hour), now); err != nil {
		t.Errorf("23 h: %v", err)
	}
	err := v.CheckOffline(now.Add(-25*time.Hour), now)
	if !errors.Is(err, etims.ErrOfflineLimit) || !strings.Contains(err.Error(), "24h0m0s") {
		t.Errorf("25 h: %v", err)
	}
	o := newRegime(t, t.TempDir(), etims.Options{}, nil)
	if err := o.CheckOffline(now.Add(-100*time.Hour), now); err != nil {
		t.Errorf("OSCU: %v", err)
	}
}

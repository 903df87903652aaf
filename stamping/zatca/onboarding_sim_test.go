package zatca_test

// Onboarding against the ZATCA simulator (sim/zatca) on a loopback
// httptest server. This is an external test package because sim/zatca
// imports stamping/zatca.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	zatcasim "github.com/egsd/egsd/sim/zatca"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/csr"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/zatca"
)

const devOTP = zatcasim.DeveloperPortalOTP

func simSeller() stamping.Seller {
	return stamping.Seller{Name: "Maximum Speed Tech Supply LTD", VATNumber: "399999999900003", IDScheme: "CRN", ID: "1010010000",
		Address: sale.Address{Street: "Prince Sultan", BuildingNumber: "2322", District: "Al-Murabba", City: "Riyadh", PostalCode: "23333", Country: "SA"}}
}

// simUnit is a ZATCA regime on a data directory, onboarding against a
// simulator, with its saved state kept in memory the way the agent keeps it
// in the store.
type simUnit struct {
	t    *testing.T
	sim  *zatcasim.Server
	base string
	dir  string
	reg  stamping.Regime
	ob   stamping.Onboarder

	mu       sync.Mutex
	state    []byte   // what save last received
	saved    []string // the state name of every save, in order
	savedRaw [][]byte // every save's bytes
	events   []event
	// failSave, when set, is asked before each save; an error fails it
	// (and the state is not kept), as a crash at that point would.
	failSave func(st stamping.OnboardingStatus) error
}

type event struct {
	action  string
	details map[string]string
}

func newSimUnit(t *testing.T, cfg zatcasim.Config) *simUnit {
	t.Helper()
	sim := zatcasim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); srv.Close() })
	u := &simUnit{t: t, sim: sim, base: zatcasim.BaseURL(srv.URL, csr.DeveloperPortal), dir: t.TempDir()}
	u.open()
	return u
}

// open (re)creates the regime on the unit's data directory, as a restart
// of the agent does.
func (u *simUnit) open() {
	u.t.Helper()
	reg, err := stamping.New(zatca.Name, stamping.Config{
		Seller: simSeller(), Device: stamping.Device{Serial: "till-0001", Model: "egsd"}, DataDir: u.dir,
		Decode: func(v any) error {
			o := v.(*zatca.RegimeOptions)
			o.BaseURL = u.base
			o.InvoicePrefix = "EGS1-"
			return nil
		},
		Event: func(action string, details map[string]string) {
			u.mu.Lock()
			defer u.mu.Unlock()
			u.events = append(u.events, event{action, details})
		},
	})
	if err != nil {
		u.t.Fatalf("stamping.New: %v", err)
	}
	u.reg, u.ob = reg, reg.(stamping.Onboarder)
}

func (u *simUnit) onboard(req stamping.OnboardRequest) error {
	u.t.Helper()
	u.mu.Lock()
	state := u.state
	u.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return u.ob.Onboard(ctx, req, state, func(next []byte) error {
		st := u.ob.OnboardingStatus(next, time.Now())
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.failSave != nil {
			if err := u.failSave(st); err != nil {
				return err
			}
		}
		u.state = bytes.Clone(next)
		u.saved = append(u.saved, st.State)
		u.savedRaw = append(u.savedRaw, bytes.Clone(next))
		return nil
	})
}

func (u *simUnit) status() stamping.OnboardingStatus {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.ob.OnboardingStatus(u.state, time.Now())
}

func (u *simUnit) mustOnboard(req stamping.OnboardRequest) {
	u.t.Helper()
	if err := u.onboard(req); err != nil {
		u.t.Fatalf("Onboard(%v): %v", req, err)
	}
	if st := u.status(); st.State != stamping.OnboardingDone {
		u.t.Fatalf("after Onboard: status %+v, want done", st)
	}
}

// csids counts the compliance and production CSIDs the simulator issued.
func (u *simUnit) csids() (compliance, production int) {
	for _, unit := range u.sim.State().Units {
		for _, c := range unit.CSIDs {
			if c.Production {
				production++
			} else {
				compliance++
			}
		}
	}
	return compliance, production
}

func (u *simUnit) credentials() zatca.Credentials {
	u.t.Helper()
	data, err := os.ReadFile(filepath.Join(u.dir, "zatca", "credentials.json"))
	if err != nil {
		u.t.Fatal(err)
	}
	var cf struct {
		Token  string `json:"binary_security_token"`
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(data, &cf); err != nil {
		u.t.Fatal(err)
	}
	return zatca.Credentials{Token: cf.Token, Secret: cf.Secret}
}

func (u *simUnit) eventNames() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for _, e := range u.events {
		out = append(out, e.action)
	}
	return out
}

// stampAndReport stamps sale n of the unit as counter n (prev is the
// chain so far), verifies it, and submits it with the regime.
func (u *simUnit) stampAndReport(n uint64, prev string) (stamping.Document, stamping.Result) {
	u.t.Helper()
	s := &sale.Sale{Kind: sale.Invoice, Currency: "SAR", Payments: []sale.Payment{{Means: sale.Cash}},
		Lines: []sale.Line{{Name: "Tea", Quantity: money.MustParse("2"), UnitPrice: money.MustParse("4.35"), Category: sale.Standard, Rate: money.MustParse("15")}}}
	if err := u.reg.Validate(s); err != nil {
		u.t.Fatalf("Validate: %v", err)
	}
	slot := stamping.Slot{Counter: n, PrevHash: prev, UUID: newUUID(n), IssuedAt: time.Now()}
	doc, err := u.reg.Stamp(slot, s)
	if err != nil {
		u.t.Fatalf("Stamp: %v", err)
	}
	if _, err := zatca.Verify(doc.Bytes); err != nil {
		u.t.Fatalf("Verify: %v", err)
	}
	res := u.reg.Submit(context.Background(), stamping.Submission{Slot: slot, Document: doc.Bytes, Hash: doc.Hash, Attempt: 1})
	return doc, res
}

func newUUID(n uint64) string { return fmt.Sprintf("11111111-2222-4333-8444-%012d", n) }

// compact drops consecutive repeats.
func compact(s []string) []string { return slices.Compact(slices.Clone(s)) }

// embeddedCertificate is the base64 DER certificate in a signed document.
func embeddedCertificate(t *testing.T, doc []byte) string {
	t.Helper()
	_, rest, ok := bytes.Cut(doc, []byte("<ds:X509Certificate>"))
	if !ok {
		t.Fatal("the document has no ds:X509Certificate")
	}
	c, _, _ := bytes.Cut(rest, []byte("</ds:X509Certificate>"))
	return string(c)
}

// secretsIn returns the CSID secrets a saved state holds.
func secretsIn(t *testing.T, state []byte) []string {
	t.Helper()
	var f struct {
		Compliance, Production *struct{ Secret string }
	}
	if err := json.Unmarshal(state, &f); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range []*struct{ Secret string }{f.Compliance, f.Production} {
		if c != nil && c.Secret != "" {
			out = append(out, c.Secret)
		}
	}
	return out
}

// TestOnboardFromScratch onboards a new unit: every step is saved in
// order, the certificate and credentials are installed 0600 and in use at
// once (the next sale stamps with the production certificate and reports
// with its CSID), no status or event shows a secret, and a restart finds
// the unit onboarded.
func TestOnboardFromScratch(t *testing.T) {
	u := newSimUnit(t, zatcasim.Config{})
	if st := u.status(); st.State != stamping.OnboardingNotStarted || st.Step != "csr" {
		t.Fatalf("before onboarding: %+v", st)
	}
	if err := u.reg.Validate(&sale.Sale{Kind: sale.Invoice}); !errors.Is(err, stamping.ErrNotReady) {
		t.Fatalf("Validate before onboarding: %v, want ErrNotReady", err)
	}
	u.mustOnboard(stamping.OnboardRequest{OTP: devOTP})

	want := []string{"csr_ready", "compliance_csid", "compliance_checked", "production_csid", "done"}
	if got := compact(u.saved); !slices.Equal(got, want) {
		t.Errorf("saved states %v, want %v", got, want)
	}
	st := u.status()
	if !slices.Equal(st.Completed, want) || st.Step != "" || st.LastError != "" || st.RenewalDue {
		t.Errorf("status %+v", st)
	}
	if d := time.Until(st.NotAfter); d < 4*365*24*time.Hour {
		t.Errorf("NotAfter %v: the simulator issues for five years", st.NotAfter)
	}
	if c, p := u.csids(); c != 1 || p != 1 {
		t.Errorf("simulator issued %d compliance and %d production CSIDs, want 1 and 1", c, p)
	}
	if n := u.sim.Stats().ComplianceChecks; n != 6 {
		t.Errorf("%d compliance checks, want the 6 of invoice type 1100", n)
	}

	// No saved state's status shows a secret; the final state holds none.
	creds := u.credentials()
	var secrets []string
	for _, raw := range u.savedRaw {
		secrets = append(secrets, secretsIn(t, raw)...)
		js, _ := json.Marshal(u.ob.OnboardingStatus(raw, time.Now()))
		for _, s := range append(secrets, creds.Secret) {
			if strings.Contains(string(js), s) {
				t.Fatalf("status %s shows a secret", js)
			}
		}
	}
	if len(secrets) == 0 {
		t.Fatal("no saved state held a CSID secret: the test checks nothing")
	}
	if got := secretsIn(t, u.state); len(got) != 0 {
		t.Errorf("the final state still holds %d secrets; they belong in credentials.json only", len(got))
	}
	for _, e := range u.events {
		for _, v := range e.details {
			if slices.Contains(append(secrets, creds.Secret), v) {
				t.Errorf("event %s shows a secret", e.action)
			}
		}
	}
	for _, name := range []string{"certificate.pem", "credentials.json"} {
		fi, err := os.Stat(filepath.Join(u.dir, "zatca", name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", name, err, fi.Mode().Perm())
		}
	}
	wantEvents := []string{"stamping_key_created", "compliance_csid_issued", "compliance_checks_passed", "production_csid_issued", "certificate_installed"}
	if got := u.eventNames(); !slices.Equal(got, wantEvents) {
		t.Errorf("events %v, want %v", got, wantEvents)
	}

	// In use at once: stamped with the production certificate, reported
	// with the production CSID.
	doc, res := u.stampAndReport(1, u.reg.GenesisHash())
	if res.Outcome != stamping.Accepted && res.Outcome != stamping.AcceptedWithWarnings {
		t.Fatalf("report after onboarding: %v %v", res.Outcome, res.Messages)
	}
	prod := u.sim.State().Units[0].CSIDs[1]
	pemData, _ := os.ReadFile(filepath.Join(u.dir, "zatca", "certificate.pem"))
	if !prod.Production || !strings.Contains(strings.ReplaceAll(string(pemData), "\n", ""), embeddedCertificate(t, doc.Bytes)) {
		t.Errorf("the document is not signed with the installed production certificate")
	}

	// A restart loads it; without any saved state the unit is done too.
	u.open()
	if st := u.ob.OnboardingStatus(u.state, time.Now()); st.State != stamping.OnboardingDone {
		t.Errorf("after a restart: %+v", st)
	}
	if st := u.ob.OnboardingStatus(nil, time.Now()); st.State != stamping.OnboardingDone || st.NotAfter.IsZero() {
		t.Errorf("onboarded unit without saved state: %+v", st)
	}
	if err := u.onboard(stamping.OnboardRequest{OTP: devOTP}); !errors.Is(err, stamping.ErrOnboardingConflict) {
		t.Errorf("onboarding an onboarded unit again: %v, want ErrOnboardingConflict", err)
	}
}

// TestOnboardResumesAfterCrash fails the save at a step (as a crash right
// there would lose it), restarts the regime, and resumes with the state
// saved last: the steps saved before are not repeated.
func TestOnboardResumesAfterCrash(t *testing.T) {
	crash := errors.New("crash")
	for _, tc := range []struct {
		name string
		// at fails the save that reaches this status.
		at                       func(st stamping.OnboardingStatus, n int) bool
		compliance, checks, prod int // issued in all
		keyReplaced              bool
	}{
		{
			// The compliance CSID's answer is lost: its CSR may have been
			// used, so the resumed run starts with a new key and CSR.
			name:       "compliance CSID not saved",
			at:         func(st stamping.OnboardingStatus, _ int) bool { return st.State == "compliance_csid" },
			compliance: 2, checks: 6, prod: 1, keyReplaced: true,
		},
		{
			// Documents 1 and 2 passed and were saved; 3 passed but was
			// not saved: 3 is sent again, 1 and 2 are not.
			name: "third compliance document not saved",
			at: func(st stamping.OnboardingStatus, n int) bool {
				return st.State == "compliance_csid" && strings.Contains(st.Summary, "passed: 3 of")
			},
			compliance: 1, checks: 7, prod: 1,
		},
		{
			name:       "production CSID not saved",
			at:         func(st stamping.OnboardingStatus, _ int) bool { return st.State == "production_csid" },
			compliance: 1, checks: 6, prod: 2,
		},
		{
			name:       "installed but not saved",
			at:         func(st stamping.OnboardingStatus, _ int) bool { return st.State == "done" },
			compliance: 1, checks: 6, prod: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newSimUnit(t, zatcasim.Config{})
			crashed := false
			u.failSave = func(st stamping.OnboardingStatus) error {
				if !crashed && tc.at(st, 0) {
					crashed = true
					return crash
				}
				return nil
			}
			err := u.onboard(stamping.OnboardRequest{OTP: devOTP})
			if !errors.Is(err, crash) {
				t.Fatalf("Onboard with a failing save = %v, want the save's error", err)
			}
			before := compact(u.saved)
			u.open() // restart
			u.mustOnboard(stamping.OnboardRequest{OTP: devOTP})
			if c, p := u.csids(); c != tc.compliance || p != tc.prod {
				t.Errorf("simulator issued %d compliance and %d production CSIDs, want %d and %d", c, p, tc.compliance, tc.prod)
			}
			if n := u.sim.Stats().ComplianceChecks; n != tc.checks {
				t.Errorf("%d compliance checks, want %d", n, tc.checks)
			}
			if got := slices.Contains(u.eventNames(), "stamping_key_replaced"); got != tc.keyReplaced {
				t.Errorf("stamping key replaced: %v, want %v", got, tc.keyReplaced)
			}
			t.Logf("saved before the crash %v, in all %v", before, compact(u.saved))
			if _, res := u.stampAndReport(1, u.reg.GenesisHash()); res.Outcome != stamping.Accepted && res.Outcome != stamping.AcceptedWithWarnings {
				t.Errorf("report after resuming: %v %v", res.Outcome, res.Messages)
			}
		})
	}
}

// csrOf is the CSR DER a saved state holds.
func csrOf(t *testing.T, state []byte) []byte {
	t.Helper()
	var f struct{ CSR []byte }
	if err := json.Unmarshal(state, &f); err != nil {
		t.Fatal(err)
	}
	return f.CSR
}

// TestOnboardWrongOTP: ZATCA refuses the OTP; the step is recorded as
// failed with ZATCA's message and the CSR is dropped, and the next run
// sends a new CSR (spec §4.4). A malformed or missing OTP sends nothing.
func TestOnboardWrongOTP(t *testing.T) {
	u := newSimUnit(t, zatcasim.Config{})
	for _, otp := range []string{"12ab56", "1234567", ""} {
		err := u.onboard(stamping.OnboardRequest{OTP: otp})
		var ie *stamping.OnboardingInputError
		if !errors.As(err, &ie) || ie.Config || len(ie.Errors) != 1 || ie.Errors[0].Field != "otp" {
			t.Errorf("OTP %q: %v, want an input error naming otp", otp, err)
		}
	}
	if n := u.sim.Stats().Requests; n != 0 || len(u.saved) != 0 {
		t.Fatalf("malformed OTPs: %d requests, %d saves; want none", n, len(u.saved))
	}

	err := u.onboard(stamping.OnboardRequest{OTP: "654321"})
	var se *stamping.OnboardingStepError
	if !errors.As(err, &se) || se.Step != "compliance_csid" || !strings.Contains(strings.Join(se.Messages, " "), "Invalid-OTP") {
		t.Fatalf("wrong OTP: %v, want a compliance_csid step error with Invalid-OTP", err)
	}
	st := u.status()
	if st.State != stamping.OnboardingFailed || st.Step != "compliance_csid" || !strings.Contains(st.LastError, "Invalid-OTP") || st.FailedAt.IsZero() {
		t.Errorf("status after a wrong OTP: %+v", st)
	}
	first := csrOf(t, u.savedRaw[0])
	if len(first) == 0 {
		t.Fatal("the first save holds no CSR")
	}
	if got := csrOf(t, u.state); got != nil {
		t.Errorf("the failed state still holds the CSR that was sent")
	}

	n := len(u.savedRaw)
	u.mustOnboard(stamping.OnboardRequest{OTP: devOTP})
	second := csrOf(t, u.savedRaw[n])
	if len(second) == 0 || bytes.Equal(first, second) {
		t.Errorf("the run after the failure sent the same CSR again (%d bytes)", len(second))
	}
	if !slices.Contains(u.eventNames(), "stamping_key_replaced") {
		t.Error("no stamping_key_replaced event: a new CSR needs a new key")
	}
	if st := u.status(); st.LastError != "" || st.State != stamping.OnboardingDone {
		t.Errorf("status after onboarding: %+v", st)
	}
}

// TestRenewal renews an onboarded unit (PATCH /production/csids): a new
// certificate is installed and used at once, and the old credentials are
// refused by the simulator afterwards. A wrong OTP fails the renewal and
// leaves the unit working with its current certificate.
func TestRenewal(t *testing.T) {
	u := newSimUnit(t, zatcasim.Config{})
	if err := u.onboard(stamping.OnboardRequest{OTP: devOTP, Renew: true}); !errors.Is(err, stamping.ErrOnboardingConflict) {
		t.Fatalf("renewing a unit that was never onboarded: %v, want ErrOnboardingConflict", err)
	}
	u.mustOnboard(stamping.OnboardRequest{OTP: devOTP})
	old := u.credentials()
	oldNotAfter, oldSummary := u.status().NotAfter, u.status().Summary // the summary names the serial
	doc1, _ := u.stampAndReport(1, u.reg.GenesisHash())

	// A failed renewal changes nothing in force.
	err := u.onboard(stamping.OnboardRequest{OTP: "654321", Renew: true})
	var se *stamping.OnboardingStepError
	if !errors.As(err, &se) || se.Step != "production_csid" {
		t.Fatalf("renewal with a wrong OTP: %v", err)
	}
	if st := u.status(); st.State != stamping.OnboardingFailed || !st.Renewal || !strings.Contains(st.LastError, "Invalid-OTP") {
		t.Errorf("status after a failed renewal: %+v", st)
	}
	if err := u.onboard(stamping.OnboardRequest{OTP: devOTP}); !errors.Is(err, stamping.ErrOnboardingConflict) {
		t.Errorf("first onboarding while a renewal is unfinished: %v, want ErrOnboardingConflict", err)
	}
	if u.credentials() != old {
		t.Fatal("a failed renewal changed the credentials")
	}

	u.mustOnboard(stamping.OnboardRequest{OTP: devOTP, Renew: true})
	st := u.status()
	if !st.Renewal || st.NotAfter.Before(oldNotAfter) || st.Summary == oldSummary {
		t.Errorf("status after renewal: %+v (old NotAfter %v)", st, oldNotAfter)
	}
	if got := u.eventNames(); !slices.Contains(got, "production_csid_renewed") {
		t.Errorf("events %v lack production_csid_renewed", got)
	}
	renewed := u.credentials()
	if renewed.Token == old.Token || renewed.Secret == old.Secret {
		t.Fatal("renewal installed the old credentials")
	}
	doc2, res := u.stampAndReport(2, doc1.Hash)
	if res.Outcome != stamping.Accepted && res.Outcome != stamping.AcceptedWithWarnings {
		t.Fatalf("report with the renewed CSID: %v %v", res.Outcome, res.Messages)
	}
	if embeddedCertificate(t, doc1.Bytes) == embeddedCertificate(t, doc2.Bytes) {
		t.Error("the document after renewal is signed with the old certificate")
	}
	c := &zatca.Client{BaseURL: u.base}
	ans, err := c.Report(context.Background(), old, doc2.Hash, newUUID(2), doc2.Bytes)
	if v := zatca.Classify(zatca.Reporting, ans, err); v.Outcome != stamping.CredentialError {
		t.Errorf("the old credentials after renewal: %v %v, want a credential error", v.Outcome, v.Messages)
	}
	_, p := u.csids()
	if p != 2 {
		t.Errorf("%d production CSIDs, want 2 (issued, renewed)", p)
	}
}

// TestRenewalWhileStamping stamps from several goroutines while the
// certificate is renewed (run with -race): every document verifies, and
// after the renewal they carry the new certificate.
func TestRenewalWhileStamping(t *testing.T) {
	u := newSimUnit(t, zatcasim.Config{})
	u.mustOnboard(stamping.OnboardRequest{OTP: devOTP})
	before, _ := u.stampAndReport(1, u.reg.GenesisHash())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 4 {
		wg.Go(func() {
			s := &sale.Sale{Kind: sale.Invoice, Currency: "SAR", Payments: []sale.Payment{{Means: sale.Cash}},
				Lines: []sale.Line{{Name: "Tea", Quantity: money.MustParse("1"), UnitPrice: money.MustParse("1.00"), Category: sale.Standard, Rate: money.MustParse("15")}}}
			for n := uint64(1); ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				doc, err := u.reg.Stamp(stamping.Slot{Counter: n, PrevHash: u.reg.GenesisHash(), UUID: newUUID(uint64(g)*1e6 + n), IssuedAt: time.Now()}, s)
				if err == nil {
					_, err = zatca.Verify(doc.Bytes)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	err := u.onboard(stamping.OnboardRequest{OTP: devOTP, Renew: true})
	close(stop)
	wg.Wait()
	close(errs)
	if err != nil {
		t.Fatal(err)
	}
	for err := range errs {
		t.Errorf("stamping during the renewal: %v", err)
	}
	after, _ := u.stampAndReport(2, before.Hash)
	if embeddedCertificate(t, before.Bytes) == embeddedCertificate(t, after.Bytes) {
		t.Error("documents stamped after the renewal carry the old certificate")
	}
}

// TestRenewalDue: a certificate that expires within 30 days makes the
// status say that renewal is due.
func TestRenewalDue(t *testing.T) {
	u := newSimUnit(t, zatcasim.Config{CertValidity: 10 * 24 * time.Hour})
	u.mustOnboard(stamping.OnboardRequest{OTP: devOTP})
	st := u.status()
	if !st.RenewalDue || time.Until(st.NotAfter) > 10*24*time.Hour {
		t.Errorf("certificate valid 10 days: %+v, want renewal due", st)
	}

	long := newSimUnit(t, zatcasim.Config{CertValidity: 90 * 24 * time.Hour})
	long.mustOnboard(stamping.OnboardRequest{OTP: devOTP})
	st = long.status()
	if st.RenewalDue {
		t.Errorf("certificate valid 90 days: renewal due now")
	}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{st.NotAfter.Add(-31 * 24 * time.Hour), false},
		{st.NotAfter.Add(-stamping.RenewalWindow), true},
		{st.NotAfter.Add(time.Hour), true},
	} {
		if got := long.ob.OnboardingStatus(long.state, tc.at).RenewalDue; got != tc.want {
			t.Errorf("at %v (NotAfter %v): renewal due %v, want %v", tc.at, st.NotAfter, got, tc.want)
		}
	}
}

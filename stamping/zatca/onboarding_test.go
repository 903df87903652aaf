package zatca

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/csr"
	"github.com/egsd/egsd/stamping/sale"
)

// The numbers are stored: this table is the file format, not a copy of
// the code.
func TestOnboardingStateNumbers(t *testing.T) {
	want := map[OnboardingState]string{1: "not_started", 2: "csr_ready", 3: "compliance_csid", 4: "compliance_checked",
		5: "production_csid", 6: "done", 7: "failed"}
	for n, name := range want {
		if got := n.String(); got != name {
			t.Errorf("OnboardingState(%d).String() = %q, want %q", n, got, name)
		}
		if got, err := ParseOnboardingState(name); err != nil || got != n {
			t.Errorf("ParseOnboardingState(%q) = %d, %v; want %d", name, got, err, n)
		}
	}
	if _, err := ParseOnboardingState("onboarded"); err == nil {
		t.Error("ParseOnboardingState accepted an unknown name")
	}
	if s := OnboardingState(99).String(); s != "OnboardingState(99)" {
		t.Errorf("unknown state prints %q", s)
	}
}

func testRegimeSeller() stamping.Seller {
	return stamping.Seller{Name: "Maximum Speed Tech Supply LTD", VATNumber: "399999999900003",
		Address: sale.Address{Street: "Prince Sultan", BuildingNumber: "2322", City: "Riyadh", Country: "SA"}}
}

func TestCSRRequestDefaults(t *testing.T) {
	long := strings.Repeat("Ш", 70)
	for _, tc := range []struct {
		name   string
		o      RegimeOptions
		seller func(*stamping.Seller)
		serial string
		check  func(csr.Request) string
	}{
		{"derived", RegimeOptions{}, nil, "till-0001", func(r csr.Request) string {
			want := csr.Request{CommonName: "EGS-till-0001", SerialNumber: "1-egsd|2-" + egsdVersion() + "|3-till-0001",
				OrganizationIdentifier: "399999999900003", OrganizationUnit: "Riyadh", Organization: "Maximum Speed Tech Supply LTD",
				Country: "SA", InvoiceType: "1100", Location: "Prince Sultan 2322", Industry: "Retail", Environment: csr.DeveloperPortal}
			if r != want {
				return fmt.Sprintf("%+v, want %+v", r, want)
			}
			return ""
		}},
		{"serial already EGS-", RegimeOptions{}, nil, "EGS-0001", func(r csr.Request) string {
			if r.CommonName != "EGS-0001" {
				return "common name " + r.CommonName
			}
			return ""
		}},
		{"no city, long street", RegimeOptions{}, func(s *stamping.Seller) { s.Address.City, s.Address.Street = "", long }, "1", func(r csr.Request) string {
			if r.OrganizationUnit != "Main Branch" || len([]rune(r.Location)) != csr.MaxFieldLen {
				return fmt.Sprintf("OU %q, location of %d characters", r.OrganizationUnit, len([]rune(r.Location)))
			}
			return ""
		}},
		{"options win", RegimeOptions{EGSSerial: "1-Acme|2-POS9|3-42", CommonName: "TST-1-399999999900003", OrganizationUnit: "Jeddah Branch",
			InvoiceType: "0100", Location: "RRRD2929", Industry: "Supply activities", Organization: "Acme"}, nil, "", func(r csr.Request) string {
			if r.SerialNumber != "1-Acme|2-POS9|3-42" || r.CommonName != "TST-1-399999999900003" || r.OrganizationUnit != "Jeddah Branch" ||
				r.InvoiceType != "0100" || r.Location != "RRRD2929" || r.Industry != "Supply activities" || r.Organization != "Acme" {
				return fmt.Sprintf("%+v", r)
			}
			return ""
		}},
	} {
		seller := testRegimeSeller()
		if tc.seller != nil {
			tc.seller(&seller)
		}
		r, err := csrRequest(tc.o, csr.DeveloperPortal, seller, stamping.Device{Serial: tc.serial})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if msg := tc.check(r); msg != "" {
			t.Errorf("%s: %s", tc.name, msg)
		}
	}
}

// Every value ZATCA would refuse is refused before anything is sent, with
// the configuration key to change.
func TestCSRRequestErrorsNameTheOption(t *testing.T) {
	for _, tc := range []struct {
		name   string
		o      RegimeOptions
		seller func(*stamping.Seller)
		serial string
		field  string
		says   string
	}{
		{"no device serial", RegimeOptions{}, nil, "", "device.serial", "egs_serial"},
		{"long common name", RegimeOptions{CommonName: strings.Repeat("x", 65)}, nil, "1", "regime.options.common_name", "at most 64"},
		{"bad EGS serial", RegimeOptions{EGSSerial: "till-1"}, nil, "1", "regime.options.egs_serial", "1-<solution>"},
		{"invoice type", RegimeOptions{InvoiceType: "0011"}, nil, "1", "regime.options.invoice_type", "neither"},
		{"long seller name", RegimeOptions{}, func(s *stamping.Seller) { s.Name = strings.Repeat("n", 65) }, "1", "regime.options.organization", "seller.name"},
		{"VAT group branch", RegimeOptions{}, func(s *stamping.Seller) { s.VATNumber = "399999999910003" }, "1", "regime.options.organization_unit", "seller.city"},
		{"no location", RegimeOptions{}, func(s *stamping.Seller) { s.Address.Street, s.Address.BuildingNumber = "", "" }, "1", "regime.options.location", "required"},
		{"bad VAT", RegimeOptions{}, func(s *stamping.Seller) { s.VATNumber = "12" }, "1", "seller.vat_number", "VAT"},
	} {
		seller := testRegimeSeller()
		if tc.seller != nil {
			tc.seller(&seller)
		}
		_, err := csrRequest(tc.o, csr.DeveloperPortal, seller, stamping.Device{Serial: tc.serial})
		var ie *stamping.OnboardingInputError
		if !errors.As(err, &ie) || !ie.Config {
			t.Errorf("%s: %v, want a configuration input error", tc.name, err)
			continue
		}
		i := slices.IndexFunc(ie.Errors, func(fe sale.FieldError) bool { return fe.Field == tc.field })
		if i < 0 || !strings.Contains(ie.Errors[i].Rule, tc.says) {
			t.Errorf("%s: %v; want %s named, saying %q", tc.name, ie.Errors, tc.field, tc.says)
		}
	}
}

// newDirRegime is a Phase 2 regime on a fresh data directory whose
// client points at nothing that answers.
func newDirRegime(t *testing.T, o func(*RegimeOptions), dev stamping.Device) *regime {
	t.Helper()
	r, err := New(stamping.Config{Seller: testRegimeSeller(), Device: dev, DataDir: t.TempDir(), Decode: func(v any) error {
		opts := v.(*RegimeOptions)
		opts.BaseURL = "http://127.0.0.1:1/e-invoicing/developer-portal"
		if o != nil {
			o(opts)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return r.(*regime)
}

func TestOnboardRefusesBadConfigurationBeforeSending(t *testing.T) {
	r := newDirRegime(t, func(o *RegimeOptions) { o.InvoiceType = "2" }, stamping.Device{Serial: "till-1"})
	saves := 0
	err := r.Onboard(context.Background(), stamping.OnboardRequest{OTP: "123345"}, nil, func([]byte) error { saves++; return nil })
	var ie *stamping.OnboardingInputError
	if !errors.As(err, &ie) || !ie.Config || ie.Errors[0].Field != "regime.options.invoice_type" {
		t.Fatalf("Onboard = %v, want a configuration error naming regime.options.invoice_type", err)
	}
	if saves != 0 {
		t.Errorf("%d saves before the configuration was found wrong", saves)
	}
}

func TestPhase1HasNoOnboarding(t *testing.T) {
	r, err := New(stamping.Config{Seller: testRegimeSeller(), Decode: func(v any) error { v.(*RegimeOptions).Phase = 1; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ob := r.(stamping.Onboarder)
	if st := ob.OnboardingStatus(nil, time.Now()); st.State != stamping.OnboardingNotNeeded {
		t.Errorf("Phase 1 status %+v", st)
	}
	if err := ob.Onboard(context.Background(), stamping.OnboardRequest{OTP: "123345"}, nil, nil); !errors.Is(err, stamping.ErrNoOnboarding) {
		t.Errorf("Phase 1 Onboard = %v, want ErrNoOnboarding", err)
	}
}

// The state's name is derived from the stored facts.
func TestOnboardingPosition(t *testing.T) {
	six := []int{0, 1, 2, 3, 4, 5}
	ccsid := &storedCSID{Token: "t", Secret: "s"}
	for _, tc := range []struct {
		name     string
		f        *facts
		haveCert bool
		want     OnboardingState
	}{
		{"nothing", nil, false, StateNotStarted},
		{"onboarded before state was kept", nil, true, StateDone},
		{"csr", &facts{CSR: []byte{1}, InvoiceType: "1100"}, false, StateCSRReady},
		{"compliance", &facts{CSR: []byte{1}, InvoiceType: "1100", Compliance: ccsid, Passed: []int{0, 1}}, false, StateComplianceCSID},
		{"checked", &facts{CSR: []byte{1}, InvoiceType: "1100", Compliance: ccsid, Passed: six}, false, StateComplianceChecked},
		{"simplified only", &facts{CSR: []byte{1}, InvoiceType: "0100", Compliance: ccsid, Passed: []int{0, 1, 2}}, false, StateComplianceChecked},
		{"production", &facts{CSR: []byte{1}, InvoiceType: "1100", Compliance: ccsid, Passed: six, Production: ccsid}, false, StateProductionCSID},
		{"installed", &facts{Installed: true}, true, StateDone},
		{"installed, certificate gone", &facts{Installed: true}, false, StateNotStarted},
		{"renewal starting", &facts{Renewal: true}, true, StateNotStarted},
		{"renewal csr", &facts{Renewal: true, CSR: []byte{1}}, true, StateCSRReady},
		{"renewal production", &facts{Renewal: true, CSR: []byte{1}, Production: ccsid}, true, StateProductionCSID},
		{"renewal done", &facts{Renewal: true, Installed: true}, true, StateDone},
	} {
		if got := tc.f.position(tc.haveCert); got != tc.want {
			t.Errorf("%s: position = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestOnboardingStatusOfFailure(t *testing.T) {
	r := newDirRegime(t, nil, stamping.Device{Serial: "1"})
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	f := facts{Format: onboardingFormat, CSR: []byte{1}, InvoiceType: "1100", Compliance: &storedCSID{RequestID: "7", Token: "tok", Secret: "sekrit"},
		Passed: []int{0, 1}, Failure: &failure{Reach: StateComplianceChecked, Error: "compliance document 3 not accepted", Messages: []string{"BR-KSA-98: late"}, At: at}}
	state, _ := json.Marshal(f)
	st := r.OnboardingStatus(state, at)
	if st.State != "failed" || st.Step != "compliance_checks" || !slices.Equal(st.Completed, []string{"csr_ready", "compliance_csid"}) ||
		st.LastError != "compliance document 3 not accepted" || !slices.Equal(st.Messages, []string{"BR-KSA-98: late"}) || !st.FailedAt.Equal(at) {
		t.Errorf("status %+v", st)
	}
	if js, _ := json.Marshal(st); strings.Contains(string(js), "sekrit") {
		t.Errorf("status shows the secret: %s", js)
	}
	for _, bad := range []string{`{`, `{"format":99}`} {
		if st := r.OnboardingStatus([]byte(bad), at); st.State != "failed" || st.LastError == "" {
			t.Errorf("state %s: status %+v, want failed with the reason", bad, st)
		}
		if err := r.Onboard(context.Background(), stamping.OnboardRequest{OTP: "123345"}, []byte(bad), nil); err == nil {
			t.Errorf("Onboard resumed from state %s", bad)
		}
	}
}

func TestOnboardRequestHidesOTP(t *testing.T) {
	req := stamping.OnboardRequest{OTP: "918273", Renew: true}
	js, _ := json.Marshal(req)
	for _, s := range []string{fmt.Sprint(req), fmt.Sprintf("%+v %#v %s %q %x", req, req, req, req, req), string(js),
		fmt.Sprintf("%v", struct{ R stamping.OnboardRequest }{req})} {
		if strings.Contains(s, "918273") {
			t.Errorf("the OTP shows in %q", s)
		}
	}
}

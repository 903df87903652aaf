package zatca

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/csr"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/securefile"
)

// Onboarding (spec/zatca.md §4, §5.3) as a resumable state machine.
//
// The stored state is a set of facts: the CSR, the compliance CSID, the
// compliance documents that passed, the production CSID, whether the
// certificate is installed, and the last failure. The state's name is
// derived from those facts (position), never stored, so that it cannot
// disagree with them. A first onboarding goes
//
//	not_started → csr_ready → compliance_csid → compliance_checked → production_csid → done
//
// and a renewal (PATCH /production/csids with the current production CSID,
// an OTP and a new CSR)
//
//	not_started → csr_ready → production_csid → done
//
// with failed in place of any state whose next step failed.

// OnboardingState is a position in the state machine. The numbers are
// stored (a failure records the state its step was to reach): never
// renumber one.
type OnboardingState int

const (
	StateNotStarted        OnboardingState = 1 // nothing yet
	StateCSRReady          OnboardingState = 2 // a CSR for the unit's key
	StateComplianceCSID    OnboardingState = 3 // a compliance CSID; compliance checks running
	StateComplianceChecked OnboardingState = 4 // every compliance document passed
	StateProductionCSID    OnboardingState = 5 // a production CSID, not yet installed
	StateDone              OnboardingState = 6 // the certificate is installed and in use
	StateFailed            OnboardingState = 7 // the last step failed
)

var stateNames = map[OnboardingState]string{
	StateNotStarted: stamping.OnboardingNotStarted, StateCSRReady: "csr_ready", StateComplianceCSID: "compliance_csid",
	StateComplianceChecked: "compliance_checked", StateProductionCSID: "production_csid",
	StateDone: stamping.OnboardingDone, StateFailed: stamping.OnboardingFailed,
}

func (s OnboardingState) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("OnboardingState(%d)", int(s))
}

// ParseOnboardingState reads a state name as String writes it.
func ParseOnboardingState(name string) (OnboardingState, error) {
	for s, n := range stateNames {
		if n == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("zatca: unknown onboarding state %q", name)
}

// step is what runs from a state; its name is OnboardingStatus.Step.
// Steps are stored by the state they reach.
func (s OnboardingState) step() string {
	switch s {
	case StateCSRReady:
		return "csr"
	case StateComplianceCSID:
		return "compliance_csid"
	case StateComplianceChecked:
		return "compliance_checks"
	case StateProductionCSID:
		return "production_csid"
	case StateDone:
		return "install"
	}
	return ""
}

var (
	firstSequence   = []OnboardingState{StateNotStarted, StateCSRReady, StateComplianceCSID, StateComplianceChecked, StateProductionCSID, StateDone}
	renewalSequence = []OnboardingState{StateNotStarted, StateCSRReady, StateProductionCSID, StateDone}
)

// next is the state the next step reaches from position s.
func next(s OnboardingState, renewal bool) OnboardingState {
	seq := firstSequence
	if renewal {
		seq = renewalSequence
	}
	if i := slices.Index(seq, s); i >= 0 && i+1 < len(seq) {
		return seq[i+1]
	}
	return 0
}

// onboardingFormat is the version of the stored facts.
const onboardingFormat = 1

// facts are the stored state. They hold the CSIDs' secrets, so they stay
// in the store: OnboardingStatus shows none of it, and the secrets are
// dropped once the certificate is installed (the credentials file has
// them).
type facts struct {
	Format  int  `json:"format"`
	Renewal bool `json:"renewal,omitempty"`
	// Key is the SHA-256 (hex) of the public key the CSR is for: a key
	// replaced behind onboarding's back voids everything after it.
	Key         string `json:"key,omitempty"`
	CSR         []byte `json:"csr,omitempty"` // DER
	EGSSerial   string `json:"egs_serial,omitempty"`
	InvoiceType string `json:"invoice_type,omitempty"`
	// CSRSent is set, and saved, before the CSR goes to ZATCA: if the
	// answer never arrives (a crash, a lost connection), the CSR may have
	// been used and is not sent again (spec §4.4).
	CSRSent bool `json:"csr_sent,omitempty"`
	// FreshKey says that the next first onboarding must start with a new
	// stamping key: a compliance CSID request with the current one failed,
	// and with deterministic signatures (RFC 6979) only a new key gives a
	// new CSR. Only a unit without a certificate replaces its key.
	FreshKey   bool        `json:"fresh_key,omitempty"`
	Compliance *storedCSID `json:"compliance,omitempty"`
	// Passed are the indexes (in complianceSales order) of the compliance
	// documents that passed; ChainHash is the last one's hash, the PIH of
	// the next.
	Passed     []int       `json:"passed,omitempty"`
	ChainHash  string      `json:"chain_hash,omitempty"`
	Production *storedCSID `json:"production,omitempty"`
	Installed  bool        `json:"installed,omitempty"`
	Failure    *failure    `json:"failure,omitempty"`
}

// storedCSID is an issued CSID as stored. Secret is stored and used, never
// shown.
type storedCSID struct {
	RequestID string `json:"request_id,omitempty"`
	Token     string `json:"token"`
	Secret    string `json:"secret"`
}

func (c *storedCSID) credentials() Credentials { return Credentials{Token: c.Token, Secret: c.Secret} }

func (c *storedCSID) certificate() (*cert.Certificate, error) {
	return cert.DecodeBinarySecurityToken(c.Token)
}

// failure is the last failed step: Reach is the state it was to reach.
type failure struct {
	Reach    OnboardingState `json:"reach"`
	Error    string          `json:"error"`
	Messages []string        `json:"messages,omitempty"`
	At       time.Time       `json:"at"`
}

func decodeFacts(state []byte) (*facts, error) {
	if len(bytes.TrimSpace(state)) == 0 {
		return nil, nil
	}
	f := new(facts)
	if err := json.Unmarshal(state, f); err != nil {
		return nil, fmt.Errorf("the stored onboarding state is not readable: %w", err)
	}
	if f.Format != onboardingFormat {
		return nil, fmt.Errorf("the stored onboarding state has format %d; this egsd reads %d", f.Format, onboardingFormat)
	}
	return f, nil
}

// discardCSR drops a CSR that was (or may have been) sent in a request
// that failed; a first onboarding also needs a new key to make a new one.
func (f *facts) discardCSR() {
	f.CSR, f.CSRSent, f.Key, f.EGSSerial, f.InvoiceType = nil, false, "", "", ""
	if !f.Renewal {
		f.FreshKey = true
	}
}

// discardCompliance drops a compliance CSID that ZATCA no longer accepts,
// and everything that depends on it, down to the CSR it was issued for.
func (f *facts) discardCompliance() {
	f.Compliance, f.Passed, f.ChainHash, f.Production = nil, nil, "", nil
	f.discardCSR()
}

// allPassed reports whether every compliance document passed.
func (f *facts) allPassed() bool {
	return len(f.Passed) >= len(complianceSales(f.InvoiceType))
}

// position derives the state from the facts and from whether the unit has
// a certificate in use (haveCert), ignoring any failure.
func (f *facts) position(haveCert bool) OnboardingState {
	switch {
	case f == nil:
		if haveCert {
			return StateDone // onboarded before these facts were kept
		}
		return StateNotStarted
	case f.Renewal && f.Installed, !f.Renewal && haveCert:
		return StateDone
	case f.Installed:
		return StateNotStarted // installed once, but the certificate is gone
	case f.Production != nil:
		return StateProductionCSID
	case !f.Renewal && f.Compliance != nil && f.allPassed():
		return StateComplianceChecked
	case !f.Renewal && f.Compliance != nil:
		return StateComplianceCSID
	case f.CSR != nil:
		return StateCSRReady
	}
	return StateNotStarted
}

// OnboardingStatus implements stamping.Onboarder. It shows no secret.
func (r *regime) OnboardingStatus(state []byte, now time.Time) stamping.OnboardingStatus {
	if r.phase != 2 {
		return stamping.OnboardingStatus{State: stamping.OnboardingNotNeeded, Summary: "ZATCA Phase 1 units are not onboarded"}
	}
	var st stamping.OnboardingStatus
	sg, _ := r.current()
	haveCert := sg != nil && sg.cert != nil
	if haveCert {
		st.NotAfter = sg.cert.NotAfter
		st.RenewalDue = stamping.RenewalDueAt(st.NotAfter, now)
	}
	f, err := decodeFacts(state)
	if err != nil {
		st.State, st.LastError = stamping.OnboardingFailed, err.Error()
		st.Summary = "the stored onboarding state cannot be read"
		return st
	}
	renewal := f != nil && f.Renewal
	pos := f.position(haveCert)
	st.State, st.Renewal = pos.String(), renewal
	seq := firstSequence
	if renewal {
		seq = renewalSequence
	}
	for _, s := range seq[1 : slices.Index(seq, pos)+1] {
		st.Completed = append(st.Completed, s.String())
	}
	st.Step = next(pos, renewal).step()
	st.Summary = r.summary(f, pos)
	if f != nil && f.Failure != nil && pos != StateDone {
		st.State, st.Step = stamping.OnboardingFailed, f.Failure.Reach.step()
		st.LastError, st.Messages, st.FailedAt = f.Failure.Error, f.Failure.Messages, f.Failure.At
		st.Summary = st.Step + " failed: " + f.Failure.Error
	}
	return st
}

// summary says in a line what position pos means.
func (r *regime) summary(f *facts, pos OnboardingState) string {
	switch pos {
	case StateNotStarted:
		if f != nil && f.Renewal {
			return "renewal not started: get an OTP from the Fatoora portal and run egsd onboard --renew --otp NNNNNN"
		}
		return "not onboarded: get an OTP from the Fatoora portal and run egsd onboard --otp NNNNNN"
	case StateCSRReady:
		if f.CSRSent {
			return fmt.Sprintf("certificate signing request for EGS unit %s sent to ZATCA", f.EGSSerial)
		}
		return fmt.Sprintf("certificate signing request built for EGS unit %s (invoice types %s)", f.EGSSerial, f.InvoiceType)
	case StateComplianceCSID:
		return fmt.Sprintf("compliance CSID issued (request %s); compliance documents passed: %d of %d",
			f.Compliance.RequestID, len(f.Passed), len(complianceSales(f.InvoiceType)))
	case StateComplianceChecked:
		return fmt.Sprintf("compliance checks passed: %d documents", len(f.Passed))
	case StateProductionCSID:
		verb := "issued"
		if f.Renewal {
			verb = "renewed"
		}
		if c, err := f.Production.certificate(); err == nil {
			return fmt.Sprintf("production CSID %s: certificate serial %s, valid until %s; installing it", verb, c.SerialNumber, c.NotAfter.Format(time.DateOnly))
		}
		return "production CSID " + verb + "; installing it"
	case StateDone:
		sg, _ := r.current()
		if sg != nil && sg.cert != nil {
			return fmt.Sprintf("onboarded: the unit stamps with certificate serial %s, valid until %s", sg.cert.SerialNumber, sg.cert.NotAfter.Format(time.DateOnly))
		}
		return "onboarded"
	}
	return ""
}

// Onboard implements stamping.Onboarder for Phase 2 units: see the state
// machine above and the interface's contract. It uses the regime's key,
// client and CSR options; on success the certificate and the production
// CSID are written (0600) where New loads them from, and take effect at
// once.
func (r *regime) Onboard(ctx context.Context, req stamping.OnboardRequest, state []byte, save func([]byte) error) error {
	if r.phase != 2 {
		return fmt.Errorf("%w: ZATCA Phase 1 units are not onboarded", stamping.ErrNoOnboarding)
	}
	if r.certFile == "" || r.client == nil {
		return fmt.Errorf("%w: this regime instance has no data directory to install a certificate into", stamping.ErrNoOnboarding)
	}
	if req.OTP != "" {
		if err := checkOTPShape(req.OTP); err != nil {
			return err
		}
	}
	f, err := decodeFacts(state)
	if err != nil {
		return err
	}
	sg, creds := r.current()
	haveCert := sg.cert != nil
	if req.Renew {
		if !haveCert || creds.Token == "" || creds.Secret == "" {
			return fmt.Errorf("%w: the unit has no production certificate and credentials to renew; onboard it first: egsd onboard --otp NNNNNN", stamping.ErrOnboardingConflict)
		}
		// A new renewal, unless one is under way. An unfinished first
		// onboarding no longer matters: the unit has a certificate.
		if f == nil || !f.Renewal || f.Installed {
			f = &facts{Format: onboardingFormat, Renewal: true}
		}
	} else {
		if f != nil && f.Renewal && !f.Installed && haveCert {
			return fmt.Errorf("%w: a renewal is in progress (%s); finish it: egsd onboard --renew --otp NNNNNN", stamping.ErrOnboardingConflict,
				r.OnboardingStatus(state, r.now()).State)
		}
		if haveCert && f != nil && !f.Renewal && !f.Installed && f.Production != nil && f.Production.Token == creds.Token {
			// Installed, but the state was not saved (a crash): finish.
			f.Failure = nil
			return r.install(r.machine(f, sg.key, save))
		}
		if haveCert {
			return fmt.Errorf("%w: the unit is already onboarded; its certificate is valid until %s; to renew it: egsd onboard --renew --otp NNNNNN",
				stamping.ErrOnboardingConflict, sg.cert.NotAfter.Format(time.DateOnly))
		}
		if f == nil || f.Renewal || f.Installed {
			f = &facts{Format: onboardingFormat}
		}
	}
	f.Failure = nil // a new attempt; saved with its first step

	// What a crash or a failure left behind.
	if f.CSRSent && (f.Renewal && f.Production == nil || !f.Renewal && f.Compliance == nil) {
		f.discardCSR() // sent, answer unknown: never send it again
	}
	if f.CSR != nil && f.Key != keyID(sg.key) {
		*f = facts{Format: onboardingFormat, Renewal: f.Renewal} // the key changed: start again
	}
	needOTP := f.Renewal && f.Production == nil || !f.Renewal && f.Compliance == nil
	if needOTP && req.OTP == "" {
		name := "compliance CSID"
		if f.Renewal {
			name = "renewal of the production CSID"
		}
		return &stamping.OnboardingInputError{Errors: sale.Errors{{Field: "otp",
			Rule: "required: the next step (" + name + ") needs a one-time password from the Fatoora portal"}}}
	}
	if f.CSR == nil {
		if err := r.csrConfigError(); err != nil {
			return err
		}
	}
	if f.FreshKey && !f.Renewal {
		if err := r.replaceKey(); err != nil {
			return err
		}
		f.FreshKey = false
		sg, _ = r.current()
	}

	m := r.machine(f, sg.key, save)
	if f.Renewal {
		if serial := sg.cert.SAN[cert.OIDSurname]; serial != "" {
			m.csr.SerialNumber = serial // ZATCA knows the unit by it (spec §5.3)
		}
		err = m.runRenewal(ctx, req.OTP, creds)
	} else {
		err = m.runFirst(ctx, req.OTP)
	}
	if err != nil {
		return err
	}
	return r.install(m)
}

// machine returns a machine for f that saves through save.
func (r *regime) machine(f *facts, key *keystore.Key, save func([]byte) error) *machine {
	m := &machine{client: r.client, key: key, seller: r.seller, build: r.build, csr: r.csr, now: r.now, event: r.event, f: f}
	m.save = func() error {
		data, err := json.Marshal(m.f)
		if err != nil {
			return err
		}
		if err := save(data); err != nil {
			return fmt.Errorf("save the onboarding state: %w", err)
		}
		return nil
	}
	return m
}

// checkOTPShape applies §5.1: the OTP is six digits.
func checkOTPShape(otp string) error {
	if len(otp) != 6 || strings.Trim(otp, "0123456789") != "" {
		return &stamping.OnboardingInputError{Errors: sale.Errors{{Field: "otp",
			Rule: "must be the 6-digit one-time password from the Fatoora portal"}}}
	}
	return nil
}

// keyID identifies a key in the stored facts: SHA-256 of its public key.
func keyID(k *keystore.Key) string {
	sum := sha256.Sum256(k.PublicKeyDER())
	return hex.EncodeToString(sum[:])
}

// install writes the production certificate and CSID where New loads them,
// puts them in force, and records the state done. It runs again after a
// crash between the files and the save: writing the same files twice is
// harmless.
func (r *regime) install(m *machine) error {
	f := m.f
	if f.Installed {
		return nil
	}
	fail := func(err error) error {
		f.Production = nil // useless: ask for another one
		if f.Renewal {
			f.discardCSR() // it was used
		}
		return m.fail(StateDone, err, nil)
	}
	c, err := f.Production.certificate()
	if err != nil {
		return fail(fmt.Errorf("production certificate: %w", err))
	}
	sg, _ := r.current()
	next := &signer{key: sg.key}
	if err := next.useCertificate(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), r.seller.VATNumber); err != nil {
		return fail(fmt.Errorf("production certificate: %w", err))
	}
	creds := f.Production.credentials()
	if err := writeCredentials(r.certFile, r.credsFile, c, creds); err != nil {
		return fmt.Errorf("install the certificate: %w", err)
	}
	r.mu.Lock()
	r.signer, r.creds = next, creds
	r.mu.Unlock()
	f.Installed = true
	// The credentials file has the secrets now; the store need not.
	f.Compliance, f.Production, f.CSR, f.Passed, f.ChainHash, f.CSRSent = nil, nil, nil, nil, "", false
	if err := m.save(); err != nil {
		return err
	}
	r.event("certificate_installed", map[string]string{"file": r.certFile, "serial": c.SerialNumber.String(),
		"not_after": c.NotAfter.Format(time.RFC3339), "renewal": fmt.Sprint(f.Renewal)})
	return nil
}

// replaceKey gives a unit that has no certificate yet a new stamping key,
// so that its next CSR is a new one (spec §4.4). The old key has signed
// nothing that counts: without a certificate the unit issued nothing.
func (r *regime) replaceKey() error {
	sg, _ := r.current()
	if sg.cert != nil {
		return errors.New("zatca: refusing to replace the stamping key of a unit that has a certificate")
	}
	tmp := r.keyFile + ".new"
	os.Remove(tmp) // left by a crash before the rename
	key, err := keystore.Create(tmp)
	if err != nil {
		return fmt.Errorf("new stamping key: %w", err)
	}
	if err := os.Rename(tmp, r.keyFile); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("new stamping key: %w", err)
	}
	if err := securefile.SyncDir(filepath.Dir(r.keyFile)); err != nil {
		return fmt.Errorf("new stamping key: %w", err)
	}
	r.mu.Lock()
	r.signer = &signer{key: key}
	r.mu.Unlock()
	r.event("stamping_key_replaced", map[string]string{"file": r.keyFile, "public_key": key.Fingerprint(),
		"previous_public_key": sg.key.Fingerprint(), "reason": "a CSID request failed; ZATCA needs a new CSR"})
	return nil
}

// machine runs the steps over f, saving after each. The caller serialises
// runs; a machine is used once.
type machine struct {
	client *Client
	key    *keystore.Key
	seller stamping.Seller
	build  Options
	csr    csr.Request
	now    func() time.Time
	event  func(action string, details map[string]string)
	f      *facts
	save   func() error
}

// fail records that the step reaching reach failed, saves it, and returns
// the step error.
func (m *machine) fail(reach OnboardingState, err error, messages []string) error {
	var api *APIError
	if messages == nil && errors.As(err, &api) {
		messages = api.Messages
	}
	m.f.Failure = &failure{Reach: reach, Error: err.Error(), Messages: messages, At: m.now().UTC()}
	serr := &stamping.OnboardingStepError{Step: reach.step(), Messages: messages, Err: err}
	if e := m.save(); e != nil {
		serr.Err = fmt.Errorf("%w (and the failure could not be recorded: %v)", err, e)
	}
	return serr
}

// buildCSR makes and saves the CSR for m.key.
func (m *machine) buildCSR() error {
	der, err := csr.Build(m.key, m.csr)
	if err != nil {
		return fmt.Errorf("zatca: build the CSR: %w", err)
	}
	f := m.f
	f.CSR, f.CSRSent, f.Key = der, false, keyID(m.key)
	f.EGSSerial, f.InvoiceType = m.csr.SerialNumber, m.csr.InvoiceType
	return m.save()
}

// runFirst takes a first onboarding from wherever f is to a production
// CSID (install is the regime's).
func (m *machine) runFirst(ctx context.Context, otp string) error {
	f := m.f
	if f.CSR == nil {
		if err := m.buildCSR(); err != nil {
			return err
		}
	}
	if f.Compliance == nil {
		f.CSRSent = true
		if err := m.save(); err != nil {
			return err
		}
		ans, err := m.client.ComplianceCSID(ctx, otp, csr.APIBody(f.CSR))
		if err != nil {
			f.discardCSR()
			return m.fail(StateComplianceCSID, err, nil)
		}
		c, err := cert.DecodeBinarySecurityToken(ans.Credentials.Token)
		if err != nil {
			f.discardCSR()
			return m.fail(StateComplianceCSID, fmt.Errorf("compliance certificate: %w", err), nil)
		}
		f.Compliance = &storedCSID{RequestID: ans.RequestID, Token: ans.Credentials.Token, Secret: ans.Credentials.Secret}
		f.CSRSent = false
		if err := m.save(); err != nil {
			return err
		}
		m.event("compliance_csid_issued", map[string]string{"request_id": ans.RequestID, "serial": c.SerialNumber.String(),
			"egs_serial": f.EGSSerial, "not_after": c.NotAfter.Format(time.RFC3339)})
	}
	if !f.allPassed() {
		if err := m.complianceChecks(ctx); err != nil {
			return err
		}
	}
	if f.Production == nil {
		ans, err := m.client.ProductionCSID(ctx, f.Compliance.credentials(), f.Compliance.RequestID)
		if err != nil {
			var api *APIError
			if errors.As(err, &api) {
				switch {
				case api.HTTPStatus == http.StatusUnauthorized || api.HTTPStatus == http.StatusForbidden:
					f.discardCompliance() // the compliance CSID is refused: start again with a new OTP
				case hasCode(api.Messages, "Missing-Compliance-Steps"):
					f.Passed, f.ChainHash = nil, "" // ZATCA has not seen them pass: run them again
				}
			}
			return m.fail(StateProductionCSID, err, nil)
		}
		return m.production(ans, "production_csid_issued")
	}
	return nil
}

// runRenewal takes a renewal from wherever f is to a new production CSID.
func (m *machine) runRenewal(ctx context.Context, otp string, current Credentials) error {
	f := m.f
	if f.CSR == nil {
		if err := m.buildCSR(); err != nil {
			return err
		}
	}
	if f.Production != nil {
		return nil
	}
	f.CSRSent = true
	if err := m.save(); err != nil {
		return err
	}
	ans, err := m.client.RenewProductionCSID(ctx, current, otp, csr.APIBody(f.CSR))
	if err != nil {
		f.discardCSR()
		return m.fail(StateProductionCSID, err, nil)
	}
	return m.production(ans, "production_csid_renewed")
}

// production records a production CSID issued for the unit's key.
func (m *machine) production(ans *CSIDAnswer, event string) error {
	f := m.f
	c, err := cert.DecodeBinarySecurityToken(ans.Credentials.Token)
	if err != nil {
		return m.fail(StateProductionCSID, fmt.Errorf("production certificate: %w", err), nil)
	}
	if !bytes.Equal(c.PublicKeyDER, m.key.PublicKeyDER()) {
		return m.fail(StateProductionCSID, errors.New("the production certificate is not for this unit's key"), nil)
	}
	f.Production = &storedCSID{RequestID: ans.RequestID, Token: ans.Credentials.Token, Secret: ans.Credentials.Secret}
	f.CSRSent = false
	if err := m.save(); err != nil {
		return err
	}
	m.event(event, map[string]string{"request_id": ans.RequestID, "serial": c.SerialNumber.String(),
		"egs_serial": c.SAN[cert.OIDSurname], "not_after": c.NotAfter.Format(time.RFC3339)})
	return nil
}

// complianceChecks signs each compliance document that has not passed
// with the compliance certificate and submits it (POST
// /compliance/invoices), saving after each one that passes. The documents
// form one chain from the genesis hash, as a unit's documents would.
func (m *machine) complianceChecks(ctx context.Context) error {
	f := m.f
	fail := func(err error, messages []string) error { return m.fail(StateComplianceChecked, err, messages) }
	cc, err := f.Compliance.certificate()
	if err != nil {
		f.discardCompliance()
		return fail(fmt.Errorf("compliance certificate: %w", err), nil)
	}
	reg, err := NewWithKey(m.seller, m.build, m.key, []byte(cc.Base64()))
	if err != nil {
		f.discardCompliance()
		return fail(fmt.Errorf("compliance certificate: %w", err), nil)
	}
	prev := f.ChainHash
	if prev == "" {
		prev = genesisHash
	}
	for i, s := range complianceSales(f.InvoiceType) {
		if slices.Contains(f.Passed, i) {
			continue
		}
		what := fmt.Sprintf("compliance document %d (%s %s)", i+1, kindOfBuyer(s), s.Kind)
		if err := reg.Validate(s); err != nil {
			return fail(fmt.Errorf("%s: %w", what, err), nil)
		}
		slot := stamping.Slot{Counter: uint64(i + 1), PrevHash: prev, UUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1), IssuedAt: m.now()}
		doc, err := reg.Stamp(slot, s)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", what, err), nil)
		}
		ans, err := m.client.ComplianceCheck(ctx, f.Compliance.credentials(), doc.Hash, slot.UUID, doc.Bytes)
		v := Classify(Reporting, ans, err)
		switch v.Outcome {
		case stamping.Accepted, stamping.AcceptedWithWarnings:
		case stamping.CredentialError:
			f.discardCompliance()
			return fail(fmt.Errorf("%s: ZATCA refused the compliance CSID; onboarding starts again with a new OTP", what), v.Messages)
		default:
			return fail(fmt.Errorf("%s not accepted (%s): %s", what, v.Outcome, strings.Join(v.Messages, "; ")), v.Messages)
		}
		f.Passed = append(f.Passed, i)
		f.ChainHash, prev = doc.Hash, doc.Hash
		if err := m.save(); err != nil {
			return err
		}
	}
	m.event("compliance_checks_passed", map[string]string{"documents": fmt.Sprint(len(f.Passed)), "invoice_types": f.InvoiceType})
	return nil
}

func hasCode(messages []string, code string) bool {
	for _, m := range messages {
		if m == code || strings.HasPrefix(m, code+":") {
			return true
		}
	}
	return false
}

// csrConfigError is r.csrErr as the input error that names the options.
func (r *regime) csrConfigError() error {
	if r.csrErr == nil {
		return nil
	}
	var ie *stamping.OnboardingInputError
	if errors.As(r.csrErr, &ie) {
		return ie
	}
	return &stamping.OnboardingInputError{Config: true, Errors: sale.Errors{{Field: "regime.options", Rule: r.csrErr.Error()}}}
}

// csrOptions maps a csr.Request field to the configuration key that sets
// it, and where its default comes from.
var csrOptions = map[string][2]string{
	"CommonName":             {"regime.options.common_name", "device.serial"},
	"SerialNumber":           {"regime.options.egs_serial", "device.serial"},
	"OrganizationIdentifier": {"seller.vat_number", ""},
	"OrganizationUnit":       {"regime.options.organization_unit", "seller.city"},
	"Organization":           {"regime.options.organization", "seller.name"},
	"Country":                {"seller.country", ""},
	"InvoiceType":            {"regime.options.invoice_type", ""},
	"Location":               {"regime.options.location", "seller.street and seller.building_number"},
	"Industry":               {"regime.options.industry", ""},
	"Environment":            {"regime.options.environment", ""},
}

// csrRequest is the CSR onboarding sends, from the options and their
// defaults (see RegimeOptions). A request ZATCA would refuse is an
// *stamping.OnboardingInputError naming each option.
func csrRequest(o RegimeOptions, env csr.Environment, seller stamping.Seller, dev stamping.Device) (csr.Request, error) {
	set := map[string]bool{}
	or := func(field, v, def string) string {
		if v != "" {
			set[field] = true
			return v
		}
		return def
	}
	serial := strings.TrimSpace(dev.Serial)
	var missing sale.Errors
	if serial == "" && (o.EGSSerial == "" || o.CommonName == "") {
		missing = append(missing, sale.FieldError{Field: "device.serial",
			Rule: "required to derive the CSR's EGS serial and common name (or set regime.options.egs_serial and regime.options.common_name)"})
	}
	cn := serial
	if !strings.HasPrefix(strings.ToUpper(cn), "EGS-") {
		cn = "EGS-" + cn
	}
	location := strings.TrimSpace(seller.Address.Street + " " + seller.Address.BuildingNumber)
	ou := cmpOr(strings.TrimSpace(seller.Address.City), "Main Branch")
	country := cmpOr(seller.Address.Country, "SA")
	if seller.Address.Country != "" {
		set["Country"] = true
	}
	req := csr.Request{
		CommonName:             or("CommonName", o.CommonName, cut(cn, csr.MaxFieldLen)),
		SerialNumber:           or("SerialNumber", o.EGSSerial, "1-egsd|2-"+egsdVersion()+"|3-"+serial),
		OrganizationIdentifier: seller.VATNumber,
		OrganizationUnit:       or("OrganizationUnit", o.OrganizationUnit, ou),
		Organization:           or("Organization", o.Organization, seller.Name),
		Country:                country,
		InvoiceType:            or("InvoiceType", o.InvoiceType, "1100"),
		Location:               or("Location", o.Location, cut(location, csr.MaxFieldLen)),
		Industry:               or("Industry", o.Industry, "Retail"),
		Environment:            env,
	}
	set["OrganizationIdentifier"] = true
	if len(missing) > 0 {
		return req, &stamping.OnboardingInputError{Config: true, Errors: missing}
	}
	err := req.Validate()
	var fes csr.Errors
	if !errors.As(err, &fes) {
		return req, err
	}
	var out sale.Errors
	for _, fe := range fes {
		opt := csrOptions[fe.Field]
		field := opt[0]
		if field == "" {
			field = fe.Field
		}
		rule := fe.Rule
		if !set[fe.Field] && opt[1] != "" {
			rule += " (the default comes from " + opt[1] + "; set " + field + ")"
		}
		if fe.Property != "" {
			rule += " [" + fe.Property + "]"
		}
		out = append(out, sale.FieldError{Field: field, Rule: rule})
	}
	return req, &stamping.OnboardingInputError{Config: true, Errors: out}
}

func cmpOr(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// cut shortens s to at most n characters.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// egsdVersion is the module version egsd was built as, or "1.0" for a
// development build; it goes into the default EGS serial.
func egsdVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; strings.HasPrefix(v, "v") && !strings.ContainsAny(v, "|+") {
			return strings.TrimPrefix(v, "v")
		}
	}
	return "1.0"
}

// writeCredentials installs a certificate and its production CSID: each
// file is written 0600 under a temporary name, synced and renamed into
// place, so a crash leaves the old file or the new one, never half of one.
func writeCredentials(certFile, credsFile string, c *cert.Certificate, creds Credentials) error {
	data, err := json.Marshal(credentialsFile{Token: creds.Token, Secret: creds.Secret})
	if err != nil {
		return err
	}
	if err := securefile.Write(credsFile, data); err != nil {
		return err
	}
	return securefile.Write(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

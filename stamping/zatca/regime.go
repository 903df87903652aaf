package zatca

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/csr"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/sale"
)

// Name is the regime's registered name.
const Name = "zatca"

func init() { stamping.Register(Name, New) }

// RegimeOptions is the regime's own configuration, [regime.options].
type RegimeOptions struct {
	// Phase is 2 (default: signed UBL, QR tags 1–9) or 1 (for taxpayers not
	// yet in a Phase 2 wave: QR tags 1–5, no stamp, no integration).
	Phase int `toml:"phase"`
	// InvoicePrefix precedes the counter in the invoice number (cbc:ID).
	InvoicePrefix string `toml:"invoice_prefix"`
	// OutOfScopeReason is the text for VATEX-SA-OOS lines.
	OutOfScopeReason string `toml:"out_of_scope_reason"`
	// KeyFile is the stamping key; default data_dir/zatca/stamping-key.pem,
	// created on the device on first start.
	KeyFile string `toml:"key_file"`
	// CertificateFile is the stamping certificate (PEM or base64 DER);
	// default data_dir/zatca/certificate.pem, which onboarding writes.
	CertificateFile string `toml:"certificate_file"`
	// CredentialsFile holds the production CSID's token and secret
	// (JSON, 0600); default data_dir/zatca/credentials.json.
	CredentialsFile string `toml:"credentials_file"`
	// Environment is ZATCA's API: developer-portal, simulation or core.
	Environment string `toml:"environment"`
	// BaseURL overrides the environment's address (a simulator).
	BaseURL string `toml:"base_url"`

	// The CSR that onboarding sends (spec/zatca.md §4.1). Every value is at
	// most 64 characters; onboarding refuses values ZATCA would refuse and
	// names the option.

	// EGSSerial identifies the unit to ZATCA, "1-<solution>|2-<model or
	// version>|3-<serial>"; default "1-egsd|2-<egsd version, or 1.0>|3-"
	// followed by device.serial. A renewal keeps the serial of the
	// certificate it renews, since ZATCA knows the unit by it.
	EGSSerial string `toml:"egs_serial"`
	// CommonName is the unit's name; default "EGS-" followed by
	// device.serial (cut to 64 characters).
	CommonName string `toml:"common_name"`
	// Organization is the taxpayer's name; default seller.name.
	Organization string `toml:"organization"`
	// OrganizationUnit is the branch; default seller.city, or "Main Branch"
	// without one. A VAT group member (11th VAT digit 1) must give its
	// 10-digit TIN here.
	OrganizationUnit string `toml:"organization_unit"`
	// InvoiceType is the "TSCZ" map of the documents the unit issues
	// (standard, simplified); default "1100", both.
	InvoiceType string `toml:"invoice_type"`
	// Location is the branch address; default seller.street and
	// seller.building_number (cut to 64 characters).
	Location string `toml:"location"`
	// Industry is the business category; default "Retail".
	Industry string `toml:"industry"`
}

// credentialsFile is the JSON form of the stored production CSID.
type credentialsFile struct {
	Token  string `json:"binary_security_token"`
	Secret string `json:"secret"`
}

// genesisHash is the PIH of a unit's first document (spec/zatca.md §1.3).
var genesisHash = func() string {
	sum := sha256.Sum256([]byte("0"))
	return base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(sum[:])))
}()

type regime struct {
	seller stamping.Seller
	build  Options
	phase  int
	client *Client

	// Onboarding (onboarding.go). certFile and credsFile are where the
	// certificate and the production CSID are installed; empty for a
	// regime made by NewWithKey, which cannot be onboarded. csr is the
	// request from the options, or csrErr why it cannot be made.
	keyFile, certFile, credsFile string
	csr                          csr.Request
	csrErr                       error
	event                        func(action string, details map[string]string)
	now                          func() time.Time

	// mu guards signer and creds. Stamp runs in the store's writer,
	// Submit in the submission workers and Validate in API handlers; all
	// take a snapshot under the read lock. Onboarding replaces both under
	// the write lock when it installs a certificate (or a new key before
	// the first one), so the next document uses them without a restart.
	mu     sync.RWMutex
	signer *signer     // nil in Phase 1; never modified once published
	creds  Credentials // empty until onboarded
}

// current returns the signer and credentials in force.
func (r *regime) current() (*signer, Credentials) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.signer, r.creds
}

// signer is the key and certificate that stamp documents. A signer is
// built completely before it is published in regime.signer and never
// changed afterwards: a new certificate or key is a new signer.
type signer struct {
	key    *keystore.Key
	cert   *cert.Certificate // nil until the unit has a certificate
	cert64 string
}

// New creates the regime from its configuration. In Phase 2 it creates the
// stamping key on first start and loads the certificate if there is one.
func New(cfg stamping.Config) (stamping.Regime, error) {
	o := RegimeOptions{Phase: 2, InvoicePrefix: "INV-", OutOfScopeReason: DefaultOutOfScopeReason, Environment: "developer-portal"}
	if err := cfg.Decode(&o); err != nil {
		return nil, err
	}
	r := &regime{seller: cfg.Seller, phase: o.Phase, event: cfg.Event, now: time.Now,
		build: Options{InvoicePrefix: o.InvoicePrefix, Currency: "SAR", OutOfScopeReason: o.OutOfScopeReason}}
	if r.event == nil {
		r.event = func(string, map[string]string) {}
	}
	env, err := csr.ParseEnvironment(o.Environment)
	if err != nil {
		return nil, &stamping.OptionError{Option: "environment", Rule: strings.TrimPrefix(err.Error(), "csr: ")}
	}
	r.client = NewClient(env)
	if o.BaseURL != "" {
		r.client.BaseURL = o.BaseURL
	}
	switch o.Phase {
	case 1:
		return r, nil
	case 2:
	default:
		return nil, &stamping.OptionError{Option: "phase", Rule: fmt.Sprintf("must be 1 or 2, not %d", o.Phase)}
	}
	dir := filepath.Join(cfg.DataDir, "zatca")
	if o.KeyFile == "" {
		if cfg.DataDir == "" {
			return nil, errors.New("regime.options.key_file or data_dir is required")
		}
		o.KeyFile = filepath.Join(dir, "stamping-key.pem")
	}
	if o.CertificateFile == "" {
		o.CertificateFile = filepath.Join(dir, "certificate.pem")
	}
	if o.CredentialsFile == "" {
		o.CredentialsFile = filepath.Join(dir, "credentials.json")
	}
	r.keyFile, r.certFile, r.credsFile = o.KeyFile, o.CertificateFile, o.CredentialsFile
	r.csr, r.csrErr = csrRequest(o, env, cfg.Seller, cfg.Device)
	switch data, err := os.ReadFile(o.CredentialsFile); {
	case err == nil:
		var cf credentialsFile
		if err := json.Unmarshal(data, &cf); err != nil || cf.Token == "" || cf.Secret == "" {
			return nil, fmt.Errorf("credentials %s: not a stored CSID", o.CredentialsFile)
		}
		r.creds = Credentials{Token: cf.Token, Secret: cf.Secret}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("credentials: %w", err)
	}
	key, err := keystore.Load(o.KeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		if key, err = keystore.Create(o.KeyFile); err == nil && cfg.Event != nil {
			cfg.Event("stamping_key_created", map[string]string{"file": o.KeyFile, "public_key": key.Fingerprint()})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("stamping key: %w", err)
	}
	sg := &signer{key: key}
	r.signer = sg
	data, err := os.ReadFile(o.CertificateFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return r, nil // not onboarded yet: Validate says so
	case err != nil:
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if err := sg.useCertificate(data, cfg.Seller.VATNumber); err != nil {
		return nil, fmt.Errorf("certificate %s: %w", o.CertificateFile, err)
	}
	return r, nil
}

// NewWithKey creates a Phase 2 regime that signs with key and certificate
// (PEM or base64 DER), for tools and tests that hold both in memory.
func NewWithKey(seller stamping.Seller, opts Options, key *keystore.Key, certificate []byte) (stamping.Regime, error) {
	sg := &signer{key: key}
	if err := sg.useCertificate(certificate, seller.VATNumber); err != nil {
		return nil, err
	}
	r := &regime{seller: seller, phase: 2, build: opts, signer: sg, event: func(string, map[string]string) {}, now: time.Now}
	if r.build.Currency == "" {
		r.build.Currency = "SAR"
	}
	if r.build.OutOfScopeReason == "" {
		r.build.OutOfScopeReason = DefaultOutOfScopeReason
	}
	return r, nil
}

// useCertificate checks that the certificate belongs to this key and this
// taxpayer before the unit stamps with it: ZATCA refuses documents whose
// certificate does not match (spec/zatca.md §8, "certificate-permissions").
func (s *signer) useCertificate(data []byte, vat string) error {
	c, err := cert.ParsePEM(data)
	if err != nil {
		if c, err = cert.ParseBase64(string(data)); err != nil {
			return err
		}
	}
	if string(c.PublicKeyDER) != string(s.key.PublicKeyDER()) {
		return errors.New("it is not for this unit's stamping key")
	}
	if uid := c.SAN[cert.OIDUID]; uid != "" && uid != vat {
		return fmt.Errorf("%w: it is for VAT number %s, but seller.vat_number is %s; set seller.vat_number back to %s, "+
			"or, for another taxpayer, set up a new unit: a new data_dir, onboarded with a new OTP (docs/zatca.md, \"Identity\")",
			stamping.ErrIdentityChanged, uid, vat, uid)
	}
	s.cert, s.cert64 = c, c.Base64()
	return nil
}

func (r *regime) Name() string                { return Name }
func (r *regime) Mode() stamping.Mode         { return stamping.StampLocal }
func (r *regime) GenesisHash() string         { return genesisHash }
func (r *regime) Validate(s *sale.Sale) error { return r.validate(s) }

func (r *regime) validate(s *sale.Sale) error {
	if err := r.Ready(); err != nil {
		return err
	}
	return Validate(s, r.seller, r.build)
}

// reportingDeadline is how long after its issue a simplified document
// may reach ZATCA (spec/zatca.md §6.8). Standard documents are cleared
// before the buyer has them, so the reporting limit is the longest any
// document may wait.
const reportingDeadline = 24 * time.Hour

// DeliveryDeadline is the reporting deadline in Phase 2; a Phase 1 unit
// sends nothing to the authority.
func (r *regime) DeliveryDeadline() time.Duration {
	if r.phase != 2 {
		return 0
	}
	return reportingDeadline
}

// Ready reports whether the unit can stamp: in Phase 2, only with its
// certificate.
func (r *regime) Ready() error {
	if sg, _ := r.current(); r.phase == 2 && (sg == nil || sg.cert == nil) {
		return fmt.Errorf("%w: this ZATCA unit has no stamping certificate; onboard it first (egsd onboard --otp …)", stamping.ErrNotReady)
	}
	return nil
}

// Rehash recomputes the invoice hash of a stored document with the generic
// C14N 1.1 canonicaliser: the store's check thereby proves that the fast
// path, which hashes the document as written, hashed the right bytes.
func (r *regime) Rehash(doc []byte) (string, error) {
	_, h, err := InvoiceHash(doc)
	return h, err
}

// Stamp builds, hashes, signs and assembles one document (spec/zatca.md
// §1–3): the hash is taken over the document as written, which Render
// emits already in canonical form, so nothing is parsed.
func (r *regime) Stamp(slot stamping.Slot, s *sale.Sale) (stamping.Document, error) {
	inv, err := FromSale(s, slot, r.seller, r.build)
	if err != nil {
		return stamping.Document{}, err
	}
	rendered, err := Render(inv)
	if err != nil {
		return stamping.Document{}, err
	}
	digest := sha256.Sum256(rendered.Hashed)
	hash := base64.StdEncoding.EncodeToString(digest[:])
	qr := QR{SellerName: rendered.SellerName, VATNumber: rendered.SellerVAT, Timestamp: rendered.Timestamp,
		Total: rendered.PayableAmount, VATTotal: rendered.VATTotal}
	extensions := ""
	if r.phase == 2 {
		sg, _ := r.current()
		if sg == nil || sg.cert == nil {
			return stamping.Document{}, fmt.Errorf("%w: no stamping certificate", stamping.ErrNotReady)
		}
		der, err := sg.key.SignSHA256(digest[:])
		if err != nil {
			return stamping.Document{}, fmt.Errorf("sign: %w", err)
		}
		date, clock := IssueDateTime(slot.IssuedAt)
		sig := &Signature{
			InvoiceHash: hash, SignatureValue: base64.StdEncoding.EncodeToString(der),
			Certificate: sg.cert64, IssuerName: sg.cert.IssuerName,
			SerialNumber: sg.cert.SerialNumber.String(), SigningTime: date + "T" + clock,
		}
		extensions = sig.UBLExtensions()
		qr.InvoiceHash, qr.SignatureValue = hash, sig.SignatureValue
		qr.PublicKey, qr.CertificateSignature = sg.cert.PublicKeyDER, sg.cert.Signature
	}
	qrText, err := qr.Encode(r.phase == 2, rendered.Simplified)
	if err != nil {
		return stamping.Document{}, err
	}
	title, titleLocal := documentTitle(inv.TypeCode, rendered.Simplified)
	receipt, err := json.Marshal(stamping.ReceiptInfo{Number: rendered.ID, Title: title, TitleLocal: titleLocal,
		Simplified: rendered.Simplified, Timestamp: rendered.Timestamp, Total: rendered.PayableAmount, VAT: rendered.VATTotal, QR: qrText})
	if err != nil {
		return stamping.Document{}, err
	}
	return stamping.Document{Bytes: rendered.Assemble(extensions, qrText), ContentType: "application/xml", Hash: hash, Receipt: receipt, Number: rendered.ID}, nil
}

// standardDocument reports whether a stored document is a standard (B2B)
// one, which must be cleared; simplified ones are reported (spec §6.8).
func standardDocument(doc []byte) bool {
	return bytes.Contains(doc, []byte(`<cbc:InvoiceTypeCode name="01`))
}

// InOrder: standard documents are cleared strictly in issue order.
func (r *regime) InOrder(sub stamping.Submission) bool { return standardDocument(sub.Document) }

// Submit reports a simplified document or clears a standard one, with the
// identical payload on every attempt (never re-stamped). When ZATCA has
// clearance switched off for the taxpayer (303), the same document is
// reported instead (spec §5.5).
func (r *regime) Submit(ctx context.Context, sub stamping.Submission) stamping.Result {
	if r.phase == 1 {
		return stamping.Result{Outcome: stamping.Accepted, Messages: []string{"Phase 1: nothing to submit"}}
	}
	_, creds := r.current()
	if standardDocument(sub.Document) {
		ans, err := r.client.Clear(ctx, creds, sub.Hash, sub.Slot.UUID, sub.Document)
		v := Classify(Clearance, ans, err)
		if !v.ClearanceOff {
			return v.Result
		}
	}
	ans, err := r.client.Report(ctx, creds, sub.Hash, sub.Slot.UUID, sub.Document)
	return Classify(Reporting, ans, err).Result
}

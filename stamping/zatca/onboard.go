package zatca

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/cert"
	"github.com/egsd/egsd/stamping/csr"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// OnboardRequest is what onboarding a unit needs (spec/zatca.md §4, §5.3).
type OnboardRequest struct {
	OTP     string      // from the Fatoora portal (developer portal: 123345)
	CSR     csr.Request // the unit's identity; InvoiceType decides the compliance documents
	Seller  stamping.Seller
	Options Options
}

// Onboarded is the outcome: the production certificate and the CSID to
// submit with.
type Onboarded struct {
	Certificate *cert.Certificate
	Credentials Credentials
}

// Onboard registers the unit with ZATCA in one go: CSR signed by key,
// compliance CSID with the OTP, the compliance documents the CSR's
// invoice-type map requires (standard and/or simplified × invoice, credit
// and debit note), then the production CSID. It runs the same steps as the
// regime's resumable onboarding (onboarding.go), keeping their state in
// memory only: a failed call starts over, and since its CSR may have been
// used, a caller that retries should do so with a new key (spec §4.4).
// Nothing is installed; Save does that.
func Onboard(ctx context.Context, c *Client, key *keystore.Key, req OnboardRequest) (*Onboarded, error) {
	if err := req.CSR.Validate(); err != nil {
		return nil, err
	}
	m := &machine{client: c, key: key, seller: req.Seller, build: req.Options, csr: req.CSR, now: time.Now,
		event: func(string, map[string]string) {}, f: &facts{Format: onboardingFormat}, save: func() error { return nil }}
	if err := m.runFirst(ctx, req.OTP); err != nil {
		return nil, err
	}
	production, err := m.f.Production.certificate()
	if err != nil {
		return nil, fmt.Errorf("production certificate: %w", err)
	}
	if string(production.PublicKeyDER) != string(key.PublicKeyDER()) {
		return nil, errors.New("production certificate is not for this unit's key")
	}
	return &Onboarded{Certificate: production, Credentials: m.f.Production.credentials()}, nil
}

// Save writes the certificate and the CSID where the regime loads them by
// default (data_dir/zatca), 0600, each file replaced atomically.
func (o *Onboarded) Save(dataDir string) error {
	dir := filepath.Join(dataDir, "zatca")
	return writeCredentials(filepath.Join(dir, "certificate.pem"), filepath.Join(dir, "credentials.json"), o.Certificate, o.Credentials)
}

func kindOfBuyer(s *sale.Sale) string {
	if IsStandard(s.Buyer) {
		return "standard"
	}
	return "simplified"
}

// complianceSales are the documents ZATCA's compliance step wants for an
// invoice-type map "TSCZ": the three standard kinds when T is 1, the three
// simplified kinds when S is 1 (spec §5.3).
func complianceSales(invoiceType string) []*sale.Sale {
	buyer := &sale.Buyer{Name: "Compliance Check Buyer LTD", VATNumber: "399999999800003", Address: &sale.Address{
		Street: "Salah Al-Din", BuildingNumber: "1111", District: "Al-Murooj", City: "Riyadh", PostalCode: "12222", Country: "SA"}}
	var out []*sale.Sale
	for i, b := range []*sale.Buyer{buyer, nil} {
		if len(invoiceType) != 4 || invoiceType[i] != '1' {
			continue
		}
		for _, kind := range []sale.Kind{sale.Invoice, sale.CreditNote, sale.DebitNote} {
			s := &sale.Sale{Kind: kind, Currency: "SAR", Buyer: b, Payments: []sale.Payment{{Means: sale.Cash}},
				Lines: []sale.Line{{Name: "Compliance item", Quantity: money.MustParse("1"), UnitPrice: money.MustParse("10.00"),
					Category: sale.Standard, Rate: money.MustParse("15")}}}
			if kind.IsNote() {
				s.Original, s.Reason = "INV-1", "Compliance check"
			}
			out = append(out, s)
		}
	}
	return out
}

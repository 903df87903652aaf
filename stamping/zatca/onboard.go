package zatca

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
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
// and debit note), then the production CSID. A failed CSID request needs a
// fresh CSR, which a new call builds (spec §4.4).
func Onboard(ctx context.Context, c *Client, key *keystore.Key, req OnboardRequest) (*Onboarded, error) {
	der, err := csr.Build(key, req.CSR)
	if err != nil {
		return nil, err
	}
	ccsid, err := c.ComplianceCSID(ctx, req.OTP, csr.APIBody(der))
	if err != nil {
		return nil, fmt.Errorf("compliance CSID: %w", err)
	}
	compliance, err := cert.DecodeBinarySecurityToken(ccsid.Credentials.Token)
	if err != nil {
		return nil, fmt.Errorf("compliance certificate: %w", err)
	}
	r, err := NewWithKey(req.Seller, req.Options, key, []byte(compliance.Base64()))
	if err != nil {
		return nil, fmt.Errorf("compliance certificate: %w", err)
	}
	prev := r.GenesisHash()
	for i, s := range complianceSales(req.CSR.InvoiceType) {
		if err := r.Validate(s); err != nil {
			return nil, fmt.Errorf("compliance document %d: %w", i+1, err)
		}
		slot := stamping.Slot{Counter: uint64(i + 1), PrevHash: prev, UUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1), IssuedAt: time.Now()}
		doc, err := r.Stamp(slot, s)
		if err != nil {
			return nil, fmt.Errorf("compliance document %d: %w", i+1, err)
		}
		ans, err := c.ComplianceCheck(ctx, ccsid.Credentials, doc.Hash, slot.UUID, doc.Bytes)
		v := Classify(Reporting, ans, err)
		if v.Outcome != stamping.Accepted && v.Outcome != stamping.AcceptedWithWarnings {
			return nil, fmt.Errorf("compliance document %d (%s %s) not accepted: %s %v", i+1, s.Kind, kindOfBuyer(s), v.Outcome, v.Messages)
		}
		prev = doc.Hash
	}
	pcsid, err := c.ProductionCSID(ctx, ccsid.Credentials, ccsid.RequestID)
	if err != nil {
		return nil, fmt.Errorf("production CSID: %w", err)
	}
	production, err := cert.DecodeBinarySecurityToken(pcsid.Credentials.Token)
	if err != nil {
		return nil, fmt.Errorf("production certificate: %w", err)
	}
	if string(production.PublicKeyDER) != string(key.PublicKeyDER()) {
		return nil, errors.New("production certificate is not for this unit's key")
	}
	return &Onboarded{Certificate: production, Credentials: pcsid.Credentials}, nil
}

// Save writes the certificate and the CSID where the regime loads them
// (data_dir/zatca), 0600.
func (o *Onboarded) Save(dataDir string) error {
	dir := filepath.Join(dataDir, "zatca")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.Certificate.Raw})
	if err := os.WriteFile(filepath.Join(dir, "certificate.pem"), certPEM, 0o600); err != nil {
		return err
	}
	creds, err := json.Marshal(credentialsFile{Token: o.Credentials.Token, Secret: o.Credentials.Secret})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "credentials.json"), creds, 0o600)
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

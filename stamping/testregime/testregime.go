// Package testregime is a small regime for tests and the demo: it issues a
// JSON document chained by SHA-256. "test" stamps locally at issue time
// (like ZATCA); "test-remote" leaves the stamp to Submit, which plays an
// authority that signs the document (like eTIMS and the Kazakh OFD). It
// carries no legal meaning in any country.
package testregime

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// Names of the two variants.
const (
	Local  = "test"
	Remote = "test-remote"
)

// genesis is the previous hash of the first document: hex SHA-256 of "0",
// the same convention ZATCA uses.
var genesis = func() string {
	sum := sha256.Sum256([]byte("0"))
	return base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(sum[:])))
}()

// authorityKey is the "authority's" signing secret for test-remote answers.
var authorityKey = []byte("egsd test authority")

func init() {
	stamping.Register(Local, func(cfg stamping.Config) (stamping.Regime, error) { return newRegime(Local, stamping.StampLocal, cfg) })
	stamping.Register(Remote, func(cfg stamping.Config) (stamping.Regime, error) {
		r, err := newRegime(Remote, stamping.StampRemote, cfg)
		if err != nil {
			return nil, err
		}
		if !r.opts.Numbered {
			return r, nil
		}
		auth, err := authorityNamed(r.opts.Authority)
		if err != nil {
			return nil, err
		}
		return &numbered{regime: r, auth: auth}, nil
	})
}

// Options is the regime's own configuration table.
type Options struct {
	// MaxLineAmount, if set, rejects lines whose net amount exceeds it; it
	// lets tests exercise a regime rule.
	MaxLineAmount string `toml:"max_line_amount"`
	// Numbered (test-remote only) plays an authority that numbers the
	// documents it accepts in a gap-free sequence of its own and signs
	// them (like KRA eTIMS): the regime implements stamping.Numbered.
	Numbered bool `toml:"numbered"`
	// Authority names the in-process Authority a numbered regime submits
	// to (see UseAuthority); empty gives it one of its own.
	Authority string `toml:"authority"`
}

type regime struct {
	name    string
	mode    stamping.Mode
	seller  stamping.Seller
	device  stamping.Device
	maxLine *money.Decimal // MaxLineAmount parsed; nil for no limit
	opts    Options
}

func newRegime(name string, mode stamping.Mode, cfg stamping.Config) (*regime, error) {
	r := &regime{name: name, mode: mode, seller: cfg.Seller, device: cfg.Device}
	var opts Options
	if err := cfg.Decode(&opts); err != nil {
		return nil, err
	}
	r.opts = opts
	if mode != stamping.StampRemote && (opts.Numbered || opts.Authority != "") {
		return nil, &stamping.OptionError{Option: "numbered", Rule: "only " + Remote + " has an authority that numbers documents"}
	}
	if opts.MaxLineAmount != "" {
		max, err := money.Parse(opts.MaxLineAmount)
		if err != nil {
			return nil, &stamping.OptionError{Option: "max_line_amount", Rule: fmt.Sprintf("%q is not an amount: %v", opts.MaxLineAmount, err)}
		}
		r.maxLine = &max
	}
	if r.seller.Name == "" {
		return nil, fmt.Errorf("seller.name is required")
	}
	return r, nil
}

func (r *regime) Name() string                      { return r.name }
func (r *regime) Mode() stamping.Mode               { return r.mode }
func (r *regime) GenesisHash() string               { return genesis }
func (r *regime) Rehash(doc []byte) (string, error) { return hashOf(doc), nil }

func (r *regime) Validate(s *sale.Sale) error {
	var errs sale.Errors
	if s.Kind.IsNote() && s.Buyer != nil && s.Buyer.VATNumber != "" && s.Buyer.VATNumber == r.seller.VATNumber {
		errs.Add("buyer.vat_number", "must differ from the seller's VAT number")
	}
	t, err := sale.ComputeTotals(s)
	if err != nil {
		errs.Include("lines", err)
	}
	if r.maxLine != nil && err == nil {
		for i, lt := range t.Lines {
			if money.Cmp(lt.Net, *r.maxLine) > 0 {
				errs.Add(fmt.Sprintf("lines[%d]", i), "line amount %s exceeds this unit's limit of %s", lt.Net, *r.maxLine)
			}
		}
	}
	return errs.Err()
}

// document is the JSON layout of a test-regime document.
type document struct {
	Regime   string    `json:"regime"`
	Counter  uint64    `json:"counter"`
	UUID     string    `json:"uuid"`
	IssuedAt time.Time `json:"issued_at"`
	PrevHash string    `json:"prev_hash"`
	Seller   string    `json:"seller"`
	VAT      string    `json:"seller_vat,omitempty"`
	Device   string    `json:"device,omitempty"`
	Kind     sale.Kind `json:"kind"`
	Currency string    `json:"currency"`
	Buyer    string    `json:"buyer,omitempty"`
	Original string    `json:"original,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	// ReasonCode is a note's reason code, as given.
	ReasonCode string `json:"reason_code,omitempty"`
	Lines      []line `json:"lines"`
	Net        string `json:"net"`
	VATTotal   string `json:"vat"`
	Gross      string `json:"gross"`
	// Set only when the sale has document discounts, charges or cash
	// rounding.
	Discounts string `json:"discounts,omitempty"`
	Charges   string `json:"charges,omitempty"`
	Taxable   string `json:"taxable,omitempty"`
	Rounding  string `json:"rounding,omitempty"`
	Payable   string `json:"payable,omitempty"`
}

type line struct {
	Name     string `json:"name"`
	Quantity string `json:"quantity"`
	Price    string `json:"unit_price"`
	Category string `json:"vat_category"`
	Rate     string `json:"vat_rate"`
	Net      string `json:"net"`
	// Other regimes' item fields, carried as given.
	ItemClass     string `json:"item_class,omitempty"`
	PackagingUnit string `json:"packaging_unit,omitempty"`
	QuantityUnit  string `json:"quantity_unit,omitempty"`
	ItemCode      string `json:"item_code,omitempty"`
}

func (r *regime) Stamp(slot stamping.Slot, s *sale.Sale) (stamping.Document, error) {
	t, err := sale.ComputeTotals(s)
	if err != nil {
		return stamping.Document{}, err
	}
	d := document{
		Regime: r.name, Counter: slot.Counter, UUID: slot.UUID, IssuedAt: slot.IssuedAt.UTC(),
		PrevHash: slot.PrevHash, Seller: r.seller.Name, VAT: r.seller.VATNumber, Device: r.device.Serial,
		Kind: s.Kind, Currency: s.Currency, Original: s.Original, Reason: s.Reason, ReasonCode: s.ReasonCode,
		Net: t.Net.String(), VATTotal: t.VAT.String(), Gross: t.Gross.String(),
	}
	if len(t.Adjustments) > 0 || !t.Rounding.IsZero() {
		d.Discounts, d.Charges, d.Taxable = t.Discounts.String(), t.Charges.String(), t.Taxable.String()
		d.Rounding, d.Payable = t.Rounding.String(), t.Payable.String()
	}
	if s.Buyer != nil {
		d.Buyer = s.Buyer.Name
	}
	for i, l := range s.Lines {
		d.Lines = append(d.Lines, line{Name: l.Name, Quantity: l.Quantity.String(), Price: l.UnitPrice.String(), Category: string(l.Category),
			Rate: l.Rate.String(), Net: t.Lines[i].Net.String(),
			ItemClass: l.ItemClass, PackagingUnit: l.PackagingUnit, QuantityUnit: l.QuantityUnit, ItemCode: l.ItemCode})
	}
	b, err := json.Marshal(d)
	if err != nil {
		return stamping.Document{}, err
	}
	hash := hashOf(b)
	// The QR restates the document's identity and total, the way a fiscal
	// QR does, so that a printed receipt can be checked against the journal.
	number := fmt.Sprintf("T-%06d", slot.Counter)
	receipt, err := json.Marshal(stamping.ReceiptInfo{
		Number: number, Title: "Receipt (test regime)", Timestamp: d.IssuedAt.Format(time.RFC3339),
		Total: t.Payable.String(), VAT: d.VATTotal, Simplified: true,
		QR: fmt.Sprintf("EGSD-TEST|%d|%s|%s|%s", slot.Counter, slot.UUID, t.Payable, hash),
	})
	if err != nil {
		return stamping.Document{}, err
	}
	return stamping.Document{Bytes: b, ContentType: "application/json", Hash: hash, Receipt: receipt, Number: number}, nil
}

// Submit plays the authority: it accepts every document and, for the
// remote variant, answers with its signature over the document.
func (r *regime) Submit(_ context.Context, sub stamping.Submission) stamping.Result {
	mac := hmac.New(sha256.New, authorityKey)
	mac.Write(sub.Document)
	answer, _ := json.Marshal(map[string]string{
		"status":    "accepted",
		"uuid":      sub.Slot.UUID,
		"signature": base64.StdEncoding.EncodeToString(mac.Sum(nil)),
	})
	return stamping.Result{Outcome: stamping.Accepted, Answer: answer}
}

// VerifyAnswerSignature reports whether answer carries the test
// authority's signature over doc.
func VerifyAnswerSignature(doc, answer []byte) bool {
	var a struct{ Signature string }
	if json.Unmarshal(answer, &a) != nil {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(a.Signature)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, authorityKey)
	mac.Write(doc)
	return hmac.Equal(got, mac.Sum(nil))
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

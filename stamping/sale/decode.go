package sale

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/strictjson"
	"github.com/egsd/egsd/stamping/textpolicy"
)

// The JSON wire form. Amounts are *string so that a JSON number in their
// place is a type error that names the field, not a silent float.
type wireSale struct {
	Kind     string        `json:"kind"`
	Currency string        `json:"currency"`
	Buyer    *wireBuyer    `json:"buyer"`
	Lines    []wireLine    `json:"lines"`
	Payments []wirePayment `json:"payments"`

	Discounts    []wireDocumentAdjustment `json:"discounts"`
	Charges      []wireDocumentAdjustment `json:"charges"`
	CashRounding *string                  `json:"cash_rounding"`
	Original     string                   `json:"original"`
	Reason       string                   `json:"reason"`
	ReasonCode   string                   `json:"reason_code"`
	Note         string                   `json:"note"`

	// OriginalExternal marks a note for a document issued elsewhere.
	OriginalExternal bool `json:"original_external"`

	// TransactionTime and Incident make the sale a late entry.
	TransactionTime string  `json:"transaction_time"`
	Incident        *uint64 `json:"incident"`
}

type wireBuyer struct {
	Name      string       `json:"name"`
	VATNumber string       `json:"vat_number"`
	IDScheme  string       `json:"id_scheme"`
	ID        string       `json:"id"`
	Address   *wireAddress `json:"address"`
}

type wireAddress struct {
	Street         string `json:"street"`
	BuildingNumber string `json:"building_number"`
	District       string `json:"district"`
	City           string `json:"city"`
	PostalCode     string `json:"postal_code"`
	Country        string `json:"country"`
}

type wireLine struct {
	Name            string  `json:"name"`
	Quantity        *string `json:"quantity"`
	UnitPrice       *string `json:"unit_price"`
	VATCategory     string  `json:"vat_category"`
	VATRate         *string `json:"vat_rate"`
	ExemptionReason string  `json:"exemption_reason"`
	SellerCode      string  `json:"seller_code"`
	BuyerCode       string  `json:"buyer_code"`
	StandardCode    string  `json:"standard_code"`
	OriginalLine    *int    `json:"original_line"` // a JSON integer, on note lines

	PriceDiscount *string          `json:"price_discount"`
	Discounts     []wireAdjustment `json:"discounts"`
	Charges       []wireAdjustment `json:"charges"`

	ItemClass     string `json:"item_class"`
	PackagingUnit string `json:"packaging_unit"`
	QuantityUnit  string `json:"quantity_unit"`
	ItemCode      string `json:"item_code"`
}

type wireAdjustment struct {
	Percent    *string `json:"percent"`
	Amount     *string `json:"amount"`
	Reason     string  `json:"reason"`
	ReasonCode string  `json:"reason_code"`
}

type wireDocumentAdjustment struct {
	Percent         *string `json:"percent"`
	Amount          *string `json:"amount"`
	Reason          string  `json:"reason"`
	ReasonCode      string  `json:"reason_code"`
	VATCategory     string  `json:"vat_category"`
	VATRate         *string `json:"vat_rate"`
	ExemptionReason string  `json:"exemption_reason"`
}

type wirePayment struct {
	Means    string  `json:"means"`
	Amount   *string `json:"amount"`
	Tendered *string `json:"tendered"`
}

// Options are the defaults Decode applies.
type Options struct {
	// DefaultCurrency is used when the sale names none. Empty means the
	// sale must name one.
	DefaultCurrency string
	// CashRounding is the unit's cash rounding increment, used when the
	// sale names none (zero: none). It must be zero or one of
	// CashRoundingIncrements.
	CashRounding money.Decimal
}

// Decode parses and validates the JSON form of a sale. The body is read
// strictly (package strictjson): field names exactly as documented,
// each key once, no unknown fields, no trailing data, and JSON numbers for
// amounts refused; then every rule of the model and the amount limits
// apply. The returned error is an Errors listing each problem with its
// field path ("body" for the body as a whole).
func Decode(data []byte, opts Options) (*Sale, error) {
	var w wireSale
	if err := strictjson.Decode(data, &w, "a sale"); err != nil {
		return nil, Errors{wireError(err)}
	}
	return w.validate(opts)
}

// wireError is a strictjson error as a FieldError; a JSON number where an
// amount belongs says why a string is wanted.
func wireError(err error) FieldError {
	var e *strictjson.Error
	if !errors.As(err, &e) {
		return FieldError{strictjson.Body, err.Error()}
	}
	if e.Got == "number" && e.Field == "cash_rounding" {
		return FieldError{e.Field, cashRoundingRule + `, as a string`}
	}
	if e.Got == "number" && isAmountField(e.Field) {
		return FieldError{e.Field, `must be a decimal string such as "12.50", not a JSON number (numbers lose precision)`}
	}
	return FieldError{e.Field, e.Rule}
}

func isAmountField(path string) bool {
	for _, suffix := range []string{".quantity", ".unit_price", ".vat_rate", ".amount", ".percent", ".price_discount", ".tendered"} {
		if strings.HasSuffix(path, suffix) {
			return true
		}
	}
	return false
}

func (w *wireSale) validate(opts Options) (*Sale, error) {
	var errs Errors
	s := &Sale{
		Kind:     Kind(w.Kind),
		Currency: w.Currency,
		Original: strings.TrimSpace(w.Original),
		Reason:   strings.TrimSpace(w.Reason),
		Note:     w.Note,

		ReasonCode: strings.TrimSpace(w.ReasonCode),

		OriginalExternal: w.OriginalExternal,
	}
	switch s.Kind {
	case Invoice, CreditNote, DebitNote:
	case "":
		errs.Add("kind", `is required: one of "invoice", "credit_note", "debit_note"`)
	default:
		errs.Add("kind", `must be one of "invoice", "credit_note", "debit_note"`)
	}
	if s.Currency == "" {
		s.Currency = opts.DefaultCurrency
	}
	if !isCurrencyCode(s.Currency) {
		errs.Add("currency", "must be a three-letter upper-case ISO 4217 code such as SAR")
	}
	if s.Kind.IsNote() {
		if s.Original == "" {
			errs.Add("original", "is required for a %s: the counter, UUID or number of the document it corrects", s.Kind)
		}
		if s.Reason == "" {
			errs.Add("reason", "is required for a %s: why it was issued", s.Kind)
		}
	} else if s.Kind == Invoice {
		if s.Original != "" {
			errs.Add("original", "is only allowed on credit and debit notes")
		}
		if s.OriginalExternal {
			errs.Add("original_external", "is only allowed on credit and debit notes")
		}
		if s.ReasonCode != "" {
			errs.Add("reason_code", "is only allowed on credit and debit notes")
		}
	}
	checkText(&errs, "original", s.Original, MaxCodeLength*4, textpolicy.SingleLine)
	checkText(&errs, "reason", s.Reason, MaxTextLength, textpolicy.SingleLine)
	checkCode(&errs, "reason_code", s.ReasonCode)
	checkText(&errs, "note", s.Note, MaxTextLength, textpolicy.MultiLine)
	s.Late = w.lateEntry(&errs)

	if w.Buyer != nil {
		s.Buyer = w.Buyer.validate(&errs)
	}
	switch {
	case len(w.Lines) == 0:
		errs.Add("lines", "must have at least one line")
	case len(w.Lines) > MaxLines:
		errs.Add("lines", "must have at most %d lines", MaxLines)
	default:
		s.Lines = make([]Line, len(w.Lines))
		for i := range w.Lines {
			path := fmt.Sprintf("lines[%d]", i)
			s.Lines[i] = w.Lines[i].validate(&errs, path)
			if n := w.Lines[i].OriginalLine; n != nil {
				switch {
				case !s.Kind.IsNote():
					errs.Add(path+".original_line", "is only allowed on the lines of credit and debit notes")
				case *n < 1 || *n > MaxLines:
					errs.Add(path+".original_line", "must be the number of a line of the original document, 1 to %d", MaxLines)
				default:
					s.Lines[i].OriginalLine = *n
				}
			}
		}
	}
	for i, p := range w.Payments {
		s.Payments = append(s.Payments, p.validate(&errs, fmt.Sprintf("payments[%d]", i)))
	}
	if len(w.Discounts)+len(w.Charges) > MaxDocumentAdjustments {
		errs.Add("discounts", "and charges must be at most %d together", MaxDocumentAdjustments)
	} else {
		for i := range w.Discounts {
			s.Discounts = append(s.Discounts, w.Discounts[i].validate(&errs, fmt.Sprintf("discounts[%d]", i), false))
		}
		for i := range w.Charges {
			s.Charges = append(s.Charges, w.Charges[i].validate(&errs, fmt.Sprintf("charges[%d]", i), true))
		}
	}
	s.CashRounding = opts.CashRounding
	if w.CashRounding != nil {
		s.CashRounding = parseCashRounding(&errs, *w.CashRounding)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	// The amounts the lines add up to, against the limits (MaxAmount).
	if _, err := ComputeTotals(s); err != nil {
		return nil, err
	}
	return s, nil
}

// lateEntry reads transaction_time and incident: nil when neither is
// given. The time must be RFC 3339 with its offset (a time without one
// would mean a different instant on every unit).
func (w *wireSale) lateEntry(errs *Errors) *LateEntry {
	if w.TransactionTime == "" {
		if w.Incident != nil {
			errs.Add("incident", "is only allowed with transaction_time, on a sale entered after a unit failure")
		}
		return nil
	}
	t, err := time.Parse(time.RFC3339, w.TransactionTime)
	if err != nil {
		errs.Add("transaction_time", "%q must be an RFC 3339 time with its offset, such as \"2026-03-01T14:05:00+03:00\"", w.TransactionTime)
		return nil
	}
	l := &LateEntry{TransactionTime: t}
	if w.Incident != nil {
		if *w.Incident == 0 {
			errs.Add("incident", "must be the number of a unit failure incident, from 1")
		}
		l.Incident = *w.Incident
	}
	return l
}

func (w *wireBuyer) validate(errs *Errors) *Buyer {
	b := &Buyer{
		Name:      strings.TrimSpace(w.Name),
		VATNumber: strings.TrimSpace(w.VATNumber),
		IDScheme:  strings.TrimSpace(w.IDScheme),
		ID:        strings.TrimSpace(w.ID),
	}
	checkText(errs, "buyer.name", b.Name, MaxNameLength, textpolicy.SingleLine)
	checkCode(errs, "buyer.vat_number", b.VATNumber)
	checkCode(errs, "buyer.id_scheme", b.IDScheme)
	checkCode(errs, "buyer.id", b.ID)
	if (b.ID == "") != (b.IDScheme == "") {
		errs.Add("buyer.id_scheme", "and buyer.id must be given together")
	}
	if b.Name == "" && b.VATNumber == "" && b.ID == "" {
		errs.Add("buyer", "must have a name, a VAT number or an ID; omit it for an anonymous buyer")
	}
	if a := w.Address; a != nil {
		b.Address = &Address{
			Street: strings.TrimSpace(a.Street), BuildingNumber: strings.TrimSpace(a.BuildingNumber),
			District: strings.TrimSpace(a.District), City: strings.TrimSpace(a.City),
			PostalCode: strings.TrimSpace(a.PostalCode), Country: strings.TrimSpace(a.Country),
		}
		for _, f := range []struct{ name, v string }{
			{"street", b.Address.Street}, {"building_number", b.Address.BuildingNumber},
			{"district", b.Address.District}, {"city", b.Address.City}, {"postal_code", b.Address.PostalCode},
		} {
			checkText(errs, "buyer.address."+f.name, f.v, MaxNameLength, textpolicy.SingleLine)
		}
		if c := b.Address.Country; c != "" && !(len(c) == 2 && isUpperASCII(c)) {
			errs.Add("buyer.address.country", "must be a two-letter upper-case ISO 3166-1 code such as SA")
		}
	}
	return b
}

func (w *wireLine) validate(errs *Errors, path string) Line {
	l := Line{
		Name:            strings.TrimSpace(w.Name),
		Category:        VATCategory(w.VATCategory),
		ExemptionReason: strings.TrimSpace(w.ExemptionReason),
		SellerCode:      strings.TrimSpace(w.SellerCode),
		BuyerCode:       strings.TrimSpace(w.BuyerCode),
		StandardCode:    strings.TrimSpace(w.StandardCode),
		ItemClass:       strings.TrimSpace(w.ItemClass),
		PackagingUnit:   strings.TrimSpace(w.PackagingUnit),
		QuantityUnit:    strings.TrimSpace(w.QuantityUnit),
		ItemCode:        strings.TrimSpace(w.ItemCode),
	}
	if l.Name == "" {
		errs.Add(path+".name", "is required")
	}
	checkText(errs, path+".name", l.Name, MaxNameLength, textpolicy.SingleLine)
	checkCode(errs, path+".seller_code", l.SellerCode)
	checkCode(errs, path+".buyer_code", l.BuyerCode)
	checkCode(errs, path+".standard_code", l.StandardCode)
	checkCode(errs, path+".exemption_reason", l.ExemptionReason)
	checkCode(errs, path+".item_class", l.ItemClass)
	checkCode(errs, path+".packaging_unit", l.PackagingUnit)
	checkCode(errs, path+".quantity_unit", l.QuantityUnit)
	checkCode(errs, path+".item_code", l.ItemCode)

	if q, ok := parseAmount(errs, path+".quantity", w.Quantity, MaxQuantityScale); ok {
		checkQuantity(errs, path+".quantity", q)
		l.Quantity = q
	}
	if p, ok := parseAmount(errs, path+".unit_price", w.UnitPrice, MaxPriceScale); ok {
		checkUnitPrice(errs, path+".unit_price", p)
		l.UnitPrice = p
	}
	switch l.Category {
	case Standard, ZeroRated, Exempt, OutOfScope:
		l.Rate = parseVATRate(errs, path, l.Category, w.VATRate)
	case "":
		errs.Add(path+".vat_category", `is required: one of "S" (standard), "Z" (zero rated), "E" (exempt), "O" (out of scope)`)
	default:
		errs.Add(path+".vat_category", `must be one of "S" (standard), "Z" (zero rated), "E" (exempt), "O" (out of scope)`)
	}
	if l.Category == Standard && l.ExemptionReason != "" {
		errs.Add(path+".exemption_reason", "is only allowed on Z, E and O lines")
	}
	if w.PriceDiscount != nil {
		if d, ok := parseAmount(errs, path+".price_discount", w.PriceDiscount, MaxPriceScale); ok {
			switch {
			case d.Sign() < 0:
				errs.Add(path+".price_discount", "must not be negative")
			case money.Cmp(d, l.UnitPrice) > 0:
				errs.Add(path+".price_discount", "%s is above the unit price %s; the net unit price must not be negative", d, l.UnitPrice)
			}
			l.PriceDiscount = d
		}
	}
	if len(w.Discounts)+len(w.Charges) > MaxLineAdjustments {
		errs.Add(path+".discounts", "and charges must be at most %d together on one line", MaxLineAdjustments)
		return l
	}
	for i := range w.Discounts {
		l.Discounts = append(l.Discounts, w.Discounts[i].validate(errs, fmt.Sprintf("%s.discounts[%d]", path, i)))
	}
	for i := range w.Charges {
		l.Charges = append(l.Charges, w.Charges[i].validate(errs, fmt.Sprintf("%s.charges[%d]", path, i)))
	}
	return l
}

// validate checks a discount or a charge: a percentage or an amount, not
// both, and a reason.
func (w *wireAdjustment) validate(errs *Errors, path string) Adjustment {
	a := Adjustment{Reason: strings.TrimSpace(w.Reason), ReasonCode: strings.TrimSpace(w.ReasonCode)}
	switch {
	case w.Percent != nil && w.Amount != nil:
		errs.Add(path, "give either percent or amount, not both")
	case w.Percent != nil:
		if p, ok := parseAmount(errs, path+".percent", w.Percent, MaxPercentScale); ok {
			if p.Sign() <= 0 || money.Cmp(p, hundred) > 0 {
				errs.Add(path+".percent", "%s must be above 0 and at most 100", p)
			}
			a.Percent = &p
		}
	case w.Amount != nil:
		if v, ok := parseAmount(errs, path+".amount", w.Amount, AmountScale); ok {
			switch {
			case v.Sign() <= 0:
				errs.Add(path+".amount", "must be greater than zero")
			case money.Cmp(v, MaxAmount) > 0:
				errs.Add(path+".amount", "%s exceeds the limit of %s", v, MaxAmount)
			}
			a.Amount = v
		}
	default:
		errs.Add(path, `needs a percent (such as "10") or an amount (such as "2.50")`)
	}
	if a.Reason == "" {
		errs.Add(path+".reason", "is required: the text the shopper reads, such as \"Loyalty discount\"")
	}
	checkText(errs, path+".reason", a.Reason, MaxTextLength, textpolicy.SingleLine)
	checkCode(errs, path+".reason_code", a.ReasonCode)
	return a
}

// validate checks a document-level discount or charge and its VAT
// category. Only a percentage discount may leave the category out: it then
// applies to every VAT group of the basket.
func (w *wireDocumentAdjustment) validate(errs *Errors, path string, charge bool) DocumentAdjustment {
	d := DocumentAdjustment{
		Adjustment:      (&wireAdjustment{Percent: w.Percent, Amount: w.Amount, Reason: w.Reason, ReasonCode: w.ReasonCode}).validate(errs, path),
		Category:        VATCategory(w.VATCategory),
		ExemptionReason: strings.TrimSpace(w.ExemptionReason),
	}
	checkCode(errs, path+".exemption_reason", d.ExemptionReason)
	switch d.Category {
	case Standard, ZeroRated, Exempt, OutOfScope:
		d.Rate = parseVATRate(errs, path, d.Category, w.VATRate)
		if d.Category == Standard && d.ExemptionReason != "" {
			errs.Add(path+".exemption_reason", "is only allowed in categories Z, E and O")
		}
	case "":
		switch {
		case charge:
			errs.Add(path+".vat_category", `is required for a charge: the VAT category of what it charges for, one of "S", "Z", "E", "O"`)
		case d.Percent == nil:
			errs.Add(path+".vat_category", `is required for a discount given as an amount (only a percentage discount may leave it out to apply to the whole basket): one of "S", "Z", "E", "O"`)
		case w.VATRate != nil || d.ExemptionReason != "":
			errs.Add(path+".vat_category", "is required when vat_rate or exemption_reason is given")
		}
	default:
		errs.Add(path+".vat_category", `must be one of "S" (standard), "Z" (zero rated), "E" (exempt), "O" (out of scope)`)
	}
	return d
}

// parseVATRate parses the vat_rate of an entry in category c: required and
// in (0, 100) for S, 0 or omitted for Z, E and O.
func parseVATRate(errs *Errors, path string, c VATCategory, raw *string) money.Decimal {
	if c != Standard {
		if raw != nil {
			if r, ok := parseAmount(errs, path+".vat_rate", raw, MaxRateScale); ok && !r.IsZero() {
				errs.Add(path+".vat_rate", "must be 0 or omitted for category %s", c)
			}
		}
		return money.Decimal{}
	}
	r, ok := parseAmount(errs, path+".vat_rate", raw, MaxRateScale)
	if ok && (r.Sign() <= 0 || money.Cmp(r, hundred) >= 0) {
		errs.Add(path+".vat_rate", "must be above 0 and below 100 for category S")
	}
	return r
}

// parseCashRounding parses a cash rounding increment: "none" or one of
// CashRoundingIncrements.
func parseCashRounding(errs *Errors, v string) money.Decimal {
	if v == "none" {
		return money.Decimal{}
	}
	for _, inc := range CashRoundingIncrements {
		if v == inc {
			return money.MustParse(inc)
		}
	}
	errs.Add("cash_rounding", "%q %s", v, cashRoundingRule)
	return money.Decimal{}
}

// cashRoundingRule says what a cash rounding increment may be.
const cashRoundingRule = `must be "none", "0.05", "0.25" or "1.00"`

// ParseCashRounding parses a unit's configured cash rounding increment:
// "", "none" or one of CashRoundingIncrements.
func ParseCashRounding(v string) (money.Decimal, error) {
	if v == "" {
		return money.Decimal{}, nil
	}
	var errs Errors
	d := parseCashRounding(&errs, v)
	return d, errs.Err()
}

func (w *wirePayment) validate(errs *Errors, path string) Payment {
	p := Payment{Means: PaymentMeans(w.Means)}
	switch p.Means {
	case Cash, Card, BankTransfer, Credit, MobileMoney, Other:
	default:
		errs.Add(path+".means", `must be one of "cash", "card", "bank_transfer", "credit", "mobile_money", "other"`)
	}
	if w.Amount != nil {
		if a, ok := parseAmount(errs, path+".amount", w.Amount, AmountScale); ok {
			if a.Sign() < 0 {
				errs.Add(path+".amount", "must not be negative")
			} else if money.Cmp(a, MaxAmount) > 0 {
				errs.Add(path+".amount", "%s exceeds the limit of %s", a, MaxAmount)
			}
			p.Amount = &a
		}
	}
	if w.Tendered != nil {
		if p.Means != Cash {
			errs.Add(path+".tendered", "is only for cash: other means pay the exact amount")
		}
		if a, ok := parseAmount(errs, path+".tendered", w.Tendered, AmountScale); ok {
			if a.Sign() <= 0 {
				errs.Add(path+".tendered", "must be greater than zero")
			} else if money.Cmp(a, MaxAmount) > 0 {
				errs.Add(path+".tendered", "%s exceeds the limit of %s", a, MaxAmount)
			}
			p.Tendered = &a
		}
	}
	return p
}

// parseAmount parses a required decimal string with at most maxScale decimals.
func parseAmount(errs *Errors, field string, s *string, maxScale uint8) (money.Decimal, bool) {
	if s == nil {
		errs.Add(field, `is required: a decimal string such as "1.50"`)
		return money.Decimal{}, false
	}
	d, err := money.Parse(*s)
	if err != nil {
		errs.Add(field, "%q %v", *s, err)
		return money.Decimal{}, false
	}
	if d.Scale > maxScale {
		errs.Add(field, "%q has %d decimals; at most %d are allowed", *s, d.Scale, maxScale)
		return money.Decimal{}, false
	}
	return d, true
}

// checkText checks a text field: its length, and each character against
// the one character policy of documents (package textpolicy), which the
// XML writer and the receipt apply too.
func checkText(errs *Errors, field, v string, max int, lines textpolicy.Lines) {
	if n := utf8.RuneCountInString(v); n > max {
		errs.Add(field, "is %d characters long; at most %d are allowed", n, max)
	}
	if p := textpolicy.Check(v, lines); p != nil {
		errs.Add(field, "%s", p.Rule)
	}
}

func checkCode(errs *Errors, field, v string) {
	checkText(errs, field, v, MaxCodeLength, textpolicy.SingleLine)
}

func isCurrencyCode(s string) bool { return len(s) == 3 && isUpperASCII(s) }

func isUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

var hundred = money.MustParse("100")

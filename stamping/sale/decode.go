package sale

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/egsd/egsd/stamping/money"
)

// The JSON wire form. Amounts are *string so that a JSON number in their
// place is a type error that names the field, not a silent float.
type wireSale struct {
	Kind     string        `json:"kind"`
	Currency string        `json:"currency"`
	Buyer    *wireBuyer    `json:"buyer"`
	Lines    []wireLine    `json:"lines"`
	Payments []wirePayment `json:"payments"`
	Original string        `json:"original"`
	Reason   string        `json:"reason"`
	Note     string        `json:"note"`
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
}

type wirePayment struct {
	Means  string  `json:"means"`
	Amount *string `json:"amount"`
}

// Options are the defaults Decode applies.
type Options struct {
	// DefaultCurrency is used when the sale names none. Empty means the
	// sale must name one.
	DefaultCurrency string
}

// Decode parses and validates the JSON form of a sale. Unknown fields,
// trailing data, JSON numbers for amounts, and every rule of the model are
// errors; the returned error is an Errors listing each problem with its
// field path.
func Decode(data []byte, opts Options) (*Sale, error) {
	if !utf8.Valid(data) {
		return nil, Errors{{Rule: "body is not valid UTF-8"}}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wireSale
	if err := dec.Decode(&w); err != nil {
		return nil, Errors{jsonError(err, data)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Errors{{Rule: "body has data after the sale object; send exactly one JSON object"}}
	}
	return w.validate(opts)
}

// jsonError turns encoding/json's errors into a FieldError that names the
// field where it can.
func jsonError(err error, data []byte) FieldError {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := jsonPath(typeErr.Field)
		if p, ok := misfitPath(data); ok {
			field = p
		}
		if typeErr.Value == "number" && isAmountField(field) {
			return FieldError{field, `must be a decimal string such as "12.50", not a JSON number (numbers lose precision)`}
		}
		return FieldError{field, fmt.Sprintf("must be a JSON %s, not %s", jsonTypeName(typeErr.Type.String()), typeErr.Value)}
	case errors.As(err, &syntaxErr):
		line := 1 + bytes.Count(data[:min(int(syntaxErr.Offset), len(data))], []byte("\n"))
		return FieldError{"", fmt.Sprintf("body is not valid JSON (line %d, byte %d): %v", line, syntaxErr.Offset, syntaxErr)}
	case errors.Is(err, io.EOF):
		return FieldError{"", "body is empty; send a JSON sale object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return FieldError{"", "body is truncated JSON"}
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		field := strings.Trim(f, `"`)
		if p, ok := misfitPath(data); ok {
			field = p
		}
		return FieldError{field, "is not a field of a sale; check the spelling against docs/api.md"}
	}
	return FieldError{"", "body is not a valid sale: " + strings.TrimPrefix(msg, "json: ")}
}

// jsonPath turns encoding/json's "lines.2.quantity" into "lines[2].quantity".
func jsonPath(p string) string {
	parts := strings.Split(p, ".")
	var b strings.Builder
	for i, part := range parts {
		if _, err := strconv.Atoi(part); err == nil {
			b.WriteString("[" + part + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
	}
	return b.String()
}

// misfitPath returns the path, such as "lines[2].quantity", of the first
// value in data that the wire types cannot hold: a key that is not a field,
// or a JSON kind the field does not take. encoding/json stops at the same
// value (it keeps its first error, in document order) but names it without
// array indices ("lines.quantity"), and an unknown key without any path.
func misfitPath(data []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	path, found, _ := misfit(dec, reflect.TypeFor[wireSale](), "")
	return path, found
}

func misfit(dec *json.Decoder, t reflect.Type, path string) (string, bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", false, err
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if tok == nil { // null leaves any wire field unset
		return "", false, nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			return path, true, nil
		}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return "", false, err
			}
			name, _ := key.(string)
			sub := name
			if path != "" {
				sub = path + "." + name
			}
			f, ok := wireField(t, name)
			if !ok {
				return sub, true, nil
			}
			if p, found, err := misfit(dec, f.Type, sub); found || err != nil {
				return p, found, err
			}
		}
	case reflect.Slice:
		if tok != json.Delim('[') {
			return path, true, nil
		}
		for i := 0; dec.More(); i++ {
			if p, found, err := misfit(dec, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); found || err != nil {
				return p, found, err
			}
		}
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return path, true, nil
		}
		return "", false, nil
	default:
		return "", false, nil
	}
	_, err = dec.Token() // the closing delimiter
	return "", false, err
}

// wireField finds the field that encoding/json would decode key into: the
// exact JSON name, else a case-insensitive match.
func wireField(t reflect.Type, key string) (reflect.StructField, bool) {
	var fold *reflect.StructField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == key {
			return f, true
		}
		if fold == nil && strings.EqualFold(name, key) {
			fold = &f
		}
	}
	if fold != nil {
		return *fold, true
	}
	return reflect.StructField{}, false
}

func isAmountField(path string) bool {
	for _, suffix := range []string{"quantity", "unit_price", "vat_rate", "amount"} {
		if strings.HasSuffix(path, suffix) {
			return true
		}
	}
	return false
}

func jsonTypeName(goType string) string {
	switch {
	case goType == "string" || goType == "*string":
		return "string"
	case strings.HasPrefix(goType, "[]"):
		return "array"
	case strings.HasPrefix(goType, "*sale.") || strings.HasPrefix(goType, "sale."):
		return "object"
	}
	return goType
}

func (w *wireSale) validate(opts Options) (*Sale, error) {
	var errs Errors
	s := &Sale{
		Kind:     Kind(w.Kind),
		Currency: w.Currency,
		Original: strings.TrimSpace(w.Original),
		Reason:   strings.TrimSpace(w.Reason),
		Note:     w.Note,
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
	}
	checkText(&errs, "original", s.Original, MaxCodeLength*4)
	checkText(&errs, "reason", s.Reason, MaxTextLength)
	checkText(&errs, "note", s.Note, MaxTextLength)

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
			s.Lines[i] = w.Lines[i].validate(&errs, fmt.Sprintf("lines[%d]", i))
		}
	}
	for i, p := range w.Payments {
		s.Payments = append(s.Payments, p.validate(&errs, fmt.Sprintf("payments[%d]", i)))
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

func (w *wireBuyer) validate(errs *Errors) *Buyer {
	b := &Buyer{
		Name:      strings.TrimSpace(w.Name),
		VATNumber: strings.TrimSpace(w.VATNumber),
		IDScheme:  strings.TrimSpace(w.IDScheme),
		ID:        strings.TrimSpace(w.ID),
	}
	checkText(errs, "buyer.name", b.Name, MaxNameLength)
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
			checkText(errs, "buyer.address."+f.name, f.v, MaxNameLength)
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
	}
	if l.Name == "" {
		errs.Add(path+".name", "is required")
	}
	checkText(errs, path+".name", l.Name, MaxNameLength)
	checkCode(errs, path+".seller_code", l.SellerCode)
	checkCode(errs, path+".buyer_code", l.BuyerCode)
	checkCode(errs, path+".standard_code", l.StandardCode)
	checkCode(errs, path+".exemption_reason", l.ExemptionReason)

	if q, ok := parseAmount(errs, path+".quantity", w.Quantity, MaxQuantityScale); ok {
		checkQuantity(errs, path+".quantity", q)
		l.Quantity = q
	}
	if p, ok := parseAmount(errs, path+".unit_price", w.UnitPrice, MaxPriceScale); ok {
		checkUnitPrice(errs, path+".unit_price", p)
		l.UnitPrice = p
	}
	switch l.Category {
	case Standard:
		if r, ok := parseAmount(errs, path+".vat_rate", w.VATRate, MaxRateScale); ok {
			if r.Sign() <= 0 || money.Cmp(r, hundred) >= 0 {
				errs.Add(path+".vat_rate", "must be above 0 and below 100 for category S")
			}
			l.Rate = r
		}
	case ZeroRated, Exempt, OutOfScope:
		if w.VATRate != nil {
			r, ok := parseAmount(errs, path+".vat_rate", w.VATRate, MaxRateScale)
			if ok && !r.IsZero() {
				errs.Add(path+".vat_rate", "must be 0 or omitted for category %s", l.Category)
			}
		}
	case "":
		errs.Add(path+".vat_category", `is required: one of "S" (standard), "Z" (zero rated), "E" (exempt), "O" (out of scope)`)
	default:
		errs.Add(path+".vat_category", `must be one of "S" (standard), "Z" (zero rated), "E" (exempt), "O" (out of scope)`)
	}
	if l.Category == Standard && l.ExemptionReason != "" {
		errs.Add(path+".exemption_reason", "is only allowed on Z, E and O lines")
	}
	return l
}

func (w *wirePayment) validate(errs *Errors, path string) Payment {
	p := Payment{Means: PaymentMeans(w.Means)}
	switch p.Means {
	case Cash, Card, BankTransfer, Credit, Other:
	default:
		errs.Add(path+".means", `must be one of "cash", "card", "bank_transfer", "credit", "other"`)
	}
	if w.Amount != nil {
		if a, ok := parseAmount(errs, path+".amount", w.Amount, 2); ok {
			if a.Sign() < 0 {
				errs.Add(path+".amount", "must not be negative")
			} else if money.Cmp(a, MaxAmount) > 0 {
				errs.Add(path+".amount", "%s exceeds the limit of %s", a, MaxAmount)
			}
			p.Amount = &a
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

func checkText(errs *Errors, field, v string, max int) {
	if n := utf8.RuneCountInString(v); n > max {
		errs.Add(field, "is %d characters long; at most %d are allowed", n, max)
	}
	for _, r := range v {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			errs.Add(field, "contains a control character (U+%04X)", r)
			return
		}
	}
}

func checkCode(errs *Errors, field, v string) {
	checkText(errs, field, v, MaxCodeLength)
	if strings.ContainsAny(v, "\n\t") {
		errs.Add(field, "must be a single line")
	}
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

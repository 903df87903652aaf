// Package archive keeps each Kazakh document as a UTF-8 XML record — the
// ticket as sent to the OFD, its fiscal or autonomous sign, its shift and
// the unit's registration numbers — signed with the unit's own key as an
// enveloped XML signature (XML-DSig: Reference URI="" with the
// enveloped-signature transform, inclusive Canonical XML 1.0, SHA-256,
// ECDSA-SHA256 on secp256k1). docs/kz.md "The signed archive" says what a
// unit must do with the records.
//
// A record is written directly in its canonical form (no comments, no
// prefixes, one namespace on the root, attributes in order, empty elements
// as start-end pairs, C14N escaping), so its bytes after the XML
// declaration are the octets the signature covers. Sign and Verify accept
// only records in exactly the form Build writes: anything else — another
// serialisation of the same facts included — is reported as changed.
//
// NewRegime, registered as "kz", is the Kazakh regime with the unit's
// archive key: it seals a record when a ticket is issued autonomously and
// when the OFD accepts a ticket (docs/kz.md "What is sealed when").
package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/egsd/egsd/stamping/kz"
	"github.com/egsd/egsd/stamping/money"
)

// Namespace is the record's XML namespace.
const Namespace = "urn:egsd:kz:archive:1"

// declaration opens every record; canonical XML drops it, so it is not
// covered by the signature, and Verify requires it exactly.
const declaration = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// rootEnd closes the record; the signature goes just before it.
const rootEnd = "</KKMRecord>"

// ErrForm wraps every report that a document is not a record in the form
// Build writes (or Sign, once signed).
var ErrForm = errors.New("not a Kazakh archive record as egsd writes it")

// Unit is the cash register's registration.
type Unit struct {
	RNM   string // registration number at the tax authority (РНМ, kgd_kkm_id)
	ZNM   string // factory serial number (ЗНМ)
	OFDID uint32 // the KKM's id at the OFD (the frame header's ID)
	BIN   string // the seller's BIN or IIN
}

// Facts are what a record holds.
type Facts struct {
	Unit   Unit
	Ticket *kz.TicketRequest // as sent to the OFD: shift numbers, items, taxes, payments, totals
	// FiscalSign is the OFD's fiscal sign (TicketResponse.TicketNumber);
	// empty for a ticket issued autonomously, whose sign is
	// Ticket.OfflineTicketNumber. A ticket issued autonomously and later
	// accepted carries both.
	FiscalSign string
	// Document is the journal document the record belongs to; see
	// DocumentOf. Seal requires it.
	Document DocumentRef
}

// DocumentRef names a record's document in the unit's journal: its
// counter, its UUID, and the SHA-256 of its stored bytes, so that a
// record moved to another document, or a document changed after its
// record was signed, is caught.
type DocumentRef struct {
	Counter uint64
	UUID    string
	SHA256  string // lower-case hex
}

// DocumentOf is the reference to document counter with id uuid and the
// stored bytes doc.
func DocumentOf(counter uint64, uuid string, doc []byte) DocumentRef {
	sum := sha256.Sum256(doc)
	return DocumentRef{Counter: counter, UUID: uuid, SHA256: hex.EncodeToString(sum[:])}
}

// Record is a record as read back: every value as the text it has in the
// XML (amounts with two decimals, quantities and percents with three).
type Record struct {
	XMLName xml.Name `xml:"urn:egsd:kz:archive:1 KKMRecord"`
	Version string   `xml:"version,attr"`
	Unit    UnitXML  `xml:"Unit"`
	// Document is nil in a record built without a DocumentRef.
	Document *DocumentXML `xml:"Document"`
	Shift    ShiftXML     `xml:"Shift"`
	Sign     SignXML      `xml:"FiscalSign"`
	Ticket   TicketXML    `xml:"Ticket"`
}

type UnitXML struct {
	BIN   string `xml:"bin,attr"`
	OFDID string `xml:"ofdId,attr"`
	RNM   string `xml:"rnm,attr"`
	ZNM   string `xml:"znm,attr"`
}

type DocumentXML struct {
	Counter string `xml:"counter,attr"`
	SHA256  string `xml:"sha256,attr"`
	UUID    string `xml:"uuid,attr"`
}

type ShiftXML struct {
	Document string `xml:"document,attr"`
	Number   string `xml:"number,attr"`
}

// SignXML holds the autonomous sign, the OFD's, or both.
type SignXML struct {
	Autonomous string `xml:"autonomous,attr"`
	OFD        string `xml:"ofd,attr"`
}

type TicketXML struct {
	DateTime  string       `xml:"dateTime,attr"`
	Domain    string       `xml:"domain,attr"`
	Operation string       `xml:"operation,attr"`
	Operator  OperatorXML  `xml:"Operator"`
	Items     []ItemXML    `xml:"Item"`
	Payments  []PaymentXML `xml:"Payment"`
	Taxes     []TaxXML     `xml:"Tax"`
	Amounts   AmountsXML   `xml:"Amounts"`
	Customer  *CustomerXML `xml:"Customer"`
	Parent    *ParentXML   `xml:"Parent"`
}

type OperatorXML struct {
	Code string `xml:"code,attr"`
	Name string `xml:"name,attr"`
}

type ItemXML struct {
	Type      string        `xml:"type,attr"`
	Commodity *CommodityXML `xml:"Commodity"`
	Modifier  *ModifierXML  `xml:"Modifier"`
}

type CommodityXML struct {
	Barcode      string   `xml:"barcode,attr"`
	Code         string   `xml:"code,attr"`
	MeasureUnit  string   `xml:"measureUnit,attr"`
	NTIN         string   `xml:"ntin,attr"`
	Price        string   `xml:"price,attr"`
	ProductID    string   `xml:"productId,attr"`
	Quantity     string   `xml:"quantity,attr"`
	Section      string   `xml:"section,attr"`
	Sum          string   `xml:"sum,attr"`
	Name         *string  `xml:"Name"`
	Taxes        []TaxXML `xml:"Tax"`
	ExciseStamps []string `xml:"ExciseStamp"`
}

type ModifierXML struct {
	Sum   string   `xml:"sum,attr"`
	Name  *string  `xml:"Name"`
	Taxes []TaxXML `xml:"Tax"`
}

type TaxXML struct {
	InTotal      string `xml:"inTotal,attr"`
	Percent      string `xml:"percent,attr"`
	Sum          string `xml:"sum,attr"`
	TaxationType string `xml:"taxationType,attr"`
	Type         string `xml:"type,attr"`
}

type PaymentXML struct {
	Sum  string `xml:"sum,attr"`
	Type string `xml:"type,attr"`
}

type AmountsXML struct {
	Change   string       `xml:"change,attr"`
	Taken    string       `xml:"taken,attr"`
	Total    string       `xml:"total,attr"`
	Discount *ModifierXML `xml:"Discount"`
	Markup   *ModifierXML `xml:"Markup"`
}

type CustomerXML struct {
	Email    string `xml:"email,attr"`
	IINOrBIN string `xml:"iinOrBin,attr"`
	Phone    string `xml:"phone,attr"`
}

type ParentXML struct {
	DateTime string `xml:"dateTime,attr"`
	Number   string `xml:"number,attr"`
	Offline  string `xml:"offline,attr"`
	RNM      string `xml:"rnm,attr"`
	Total    string `xml:"total,attr"`
}

// Build writes the unsigned record of f. Every value is checked: a field
// that is missing or that XML cannot carry is an error naming it.
func Build(f Facts) ([]byte, error) {
	r, err := recordOf(f)
	if err != nil {
		return nil, err
	}
	if err := checkText(r); err != nil {
		return nil, err
	}
	return render(r), nil
}

func recordOf(f Facts) (*Record, error) {
	var errs []error
	need := func(field, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("archive: %s is required", field))
		}
	}
	need("unit.rnm", f.Unit.RNM)
	need("unit.znm", f.Unit.ZNM)
	need("unit.bin", f.Unit.BIN)
	t := f.Ticket
	if t == nil {
		return nil, errors.Join(append(errs, errors.New("archive: ticket is required"))...)
	}
	if f.FiscalSign == "" && t.OfflineTicketNumber == 0 {
		errs = append(errs, errors.New("archive: fiscal_sign is required: a ticket has the OFD's fiscal sign or an autonomous one"))
	}
	r := &Record{
		Version: "1",
		Unit:    UnitXML{BIN: f.Unit.BIN, OFDID: u64(uint64(f.Unit.OFDID)), RNM: f.Unit.RNM, ZNM: f.Unit.ZNM},
		Shift:   ShiftXML{Document: u64(uint64(t.ShiftDocumentNumber)), Number: u64(uint64(t.ShiftNumber))},
		Sign:    SignXML{OFD: f.FiscalSign},
	}
	if d := f.Document; d != (DocumentRef{}) {
		if d.Counter == 0 {
			errs = append(errs, errors.New("archive: document.counter is required"))
		}
		need("document.uuid", d.UUID)
		if len(d.SHA256) != 2*sha256.Size || strings.Trim(d.SHA256, "0123456789abcdef") != "" {
			errs = append(errs, errors.New("archive: document.sha256 must be 64 lower-case hex digits"))
		}
		r.Document = &DocumentXML{Counter: u64(d.Counter), SHA256: d.SHA256, UUID: d.UUID}
	}
	if t.OfflineTicketNumber != 0 {
		r.Sign.Autonomous = u64(uint64(t.OfflineTicketNumber))
	}
	op := t.Operation.String()
	if !slices.Contains(kz.Operations, t.Operation) {
		errs = append(errs, fmt.Errorf("archive: ticket.operation %d is not an operation of the protocol", t.Operation))
	}
	r.Ticket = TicketXML{
		DateTime: t.DateTime.String(), Domain: u64(uint64(t.Domain)), Operation: op,
		Operator: OperatorXML{Code: u64(uint64(t.Operator.Code)), Name: t.Operator.Name},
	}
	for i, it := range t.Items {
		x, err := itemOf(it)
		if err != nil {
			errs = append(errs, fmt.Errorf("archive: ticket.items[%d]: %w", i, err))
			continue
		}
		r.Ticket.Items = append(r.Ticket.Items, x)
	}
	for i, p := range t.Payments {
		name, ok := paymentNames[p.Type]
		if !ok {
			errs = append(errs, fmt.Errorf("archive: ticket.payments[%d].type %d is not a payment type of the protocol", i, p.Type))
		}
		r.Ticket.Payments = append(r.Ticket.Payments, PaymentXML{Sum: p.Sum.String(), Type: name})
	}
	r.Ticket.Taxes = taxesOf(t.Taxes)
	a := t.Amounts
	r.Ticket.Amounts = AmountsXML{Total: a.Total.String()}
	if a.Taken != nil {
		r.Ticket.Amounts.Taken = a.Taken.String()
	}
	if a.Change != nil {
		r.Ticket.Amounts.Change = a.Change.String()
	}
	if a.Discount != nil {
		r.Ticket.Amounts.Discount = modifierOf(a.Discount)
	}
	if a.Markup != nil {
		r.Ticket.Amounts.Markup = modifierOf(a.Markup)
	}
	if x := t.Extension; x != nil && *x != (kz.ExtensionOptions{}) {
		r.Ticket.Customer = &CustomerXML{Email: x.CustomerEmail, IINOrBIN: x.CustomerIINOrBIN, Phone: x.CustomerPhone}
	}
	if p := t.Parent; p != nil {
		need("ticket.parent.number", p.Number)
		r.Ticket.Parent = &ParentXML{DateTime: p.DateTime.String(), Number: p.Number, Offline: strconv.FormatBool(p.IsOffline), RNM: p.KgdKkmID, Total: p.Total.String()}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

var itemNames = map[kz.ItemType]string{
	kz.ItemCommodity: "COMMODITY", kz.ItemStornoCommodity: "STORNO_COMMODITY",
	kz.ItemMarkup: "MARKUP", kz.ItemStornoMarkup: "STORNO_MARKUP",
	kz.ItemDiscount: "DISCOUNT", kz.ItemStornoDiscount: "STORNO_DISCOUNT",
}

var paymentNames = map[kz.PaymentType]string{kz.PaymentCash: "CASH", kz.PaymentCard: "CARD", kz.PaymentMobile: "MOBILE"}

func itemOf(it kz.Item) (ItemXML, error) {
	name, ok := itemNames[it.Type]
	if !ok {
		return ItemXML{}, fmt.Errorf("type %d is not an item type of the protocol", it.Type)
	}
	x := ItemXML{Type: name}
	switch {
	case it.Commodity != nil:
		c := it.Commodity
		if c.Quantity > 1<<62 {
			return ItemXML{}, fmt.Errorf("commodity.quantity %d is out of range", c.Quantity)
		}
		x.Commodity = &CommodityXML{
			Barcode: c.Barcode, MeasureUnit: c.MeasureUnitCode, NTIN: c.NTIN, Price: c.Price.String(),
			ProductID: c.ProductID, Quantity: thousandths(c.Quantity), Section: c.SectionCode, Sum: c.Sum.String(),
			Name: optText(c.Name), Taxes: taxesOf(c.Taxes), ExciseStamps: slices.Clone(c.ExciseStamps),
		}
		if c.Code != 0 {
			x.Commodity.Code = u64(c.Code)
		}
	case it.Modifier != nil:
		x.Modifier = modifierOf(it.Modifier)
	default:
		return ItemXML{}, errors.New("has neither a commodity nor a modifier")
	}
	return x, nil
}

func modifierOf(m *kz.Modifier) *ModifierXML {
	return &ModifierXML{Sum: m.Sum.String(), Name: optText(m.Name), Taxes: taxesOf(m.Taxes)}
}

func taxesOf(ts []kz.Tax) []TaxXML {
	var out []TaxXML
	for _, t := range ts {
		x := TaxXML{InTotal: strconv.FormatBool(t.InTotal), Percent: thousandths(uint64(t.Percent)), Sum: t.Sum.String(), Type: u64(uint64(t.Type))}
		if t.TaxationType != 0 {
			x.TaxationType = u64(uint64(t.TaxationType))
		}
		out = append(out, x)
	}
	return out
}

func optText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }

// thousandths writes a protocol value in thousandths (quantity, percent)
// as a decimal with three places: 1500 is "1.500".
func thousandths(v uint64) string { return money.Decimal{Coef: int64(v), Scale: 3}.String() }

// checkText refuses a value XML 1.0 cannot carry, naming where it is.
func checkText(r *Record) error {
	var bad error
	visit(r, func(where, v string) {
		if bad == nil {
			if err := xmlChars(v); err != nil {
				bad = fmt.Errorf("archive: %s: %w", where, err)
			}
		}
	})
	return bad
}

// xmlChars reports the first character of s that XML 1.0 cannot carry.
func xmlChars(s string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return fmt.Errorf("byte %d is not UTF-8", i)
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r', r == 0xFFFE, r == 0xFFFF:
			return fmt.Errorf("character U+%04X at byte %d is not allowed in XML", r, i)
		}
	}
	return nil
}

// visit calls fn with every text value of r that comes from outside
// (names, codes and identifiers), and where it is.
func visit(r *Record, fn func(where, v string)) {
	fn("unit.rnm", r.Unit.RNM)
	fn("unit.znm", r.Unit.ZNM)
	fn("unit.bin", r.Unit.BIN)
	fn("fiscal_sign", r.Sign.OFD)
	if d := r.Document; d != nil {
		fn("document.uuid", d.UUID)
	}
	t := &r.Ticket
	fn("ticket.operator.name", t.Operator.Name)
	for i, it := range t.Items {
		p := fmt.Sprintf("ticket.items[%d]", i)
		if c := it.Commodity; c != nil {
			for _, kv := range [][2]string{{"barcode", c.Barcode}, {"measure_unit_code", c.MeasureUnit}, {"ntin", c.NTIN}, {"product_id", c.ProductID}, {"section_code", c.Section}} {
				fn(p+".commodity."+kv[0], kv[1])
			}
			if c.Name != nil {
				fn(p+".commodity.name", *c.Name)
			}
			for j, s := range c.ExciseStamps {
				fn(fmt.Sprintf("%s.commodity.excise_stamps[%d]", p, j), s)
			}
		}
		if m := it.Modifier; m != nil && m.Name != nil {
			fn(p+".modifier.name", *m.Name)
		}
	}
	for _, m := range []*ModifierXML{t.Amounts.Discount, t.Amounts.Markup} {
		if m != nil && m.Name != nil {
			fn("ticket.amounts.modifier.name", *m.Name)
		}
	}
	if c := t.Customer; c != nil {
		fn("ticket.customer.email", c.Email)
		fn("ticket.customer.phone", c.Phone)
		fn("ticket.customer.iin_or_bin", c.IINOrBIN)
	}
	if p := t.Parent; p != nil {
		fn("ticket.parent.number", p.Number)
		fn("ticket.parent.rnm", p.RNM)
	}
}

// Parse reads an unsigned record and checks it is exactly in the form
// Build writes.
func Parse(doc []byte) (*Record, error) {
	body, ok := bytes.CutPrefix(doc, []byte(declaration))
	if !ok {
		return nil, fmt.Errorf("%w: it does not begin with the XML declaration %q", ErrForm, strings.TrimSpace(declaration))
	}
	body, ok = bytes.CutSuffix(body, []byte("\n"))
	if !ok {
		return nil, fmt.Errorf("%w: it does not end with a line end", ErrForm)
	}
	return parseCanonical(body)
}

// parseCanonical reads the canonical body of a record (no declaration,
// no signature) and checks that writing what it says gives it back byte
// for byte.
func parseCanonical(body []byte) (*Record, error) {
	var r Record
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	if err := d.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForm, err)
	}
	if err := checkText(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForm, err)
	}
	again := canonical(&r)
	if !bytes.Equal(again, body) {
		i := 0
		for i < len(again) && i < len(body) && again[i] == body[i] {
			i++
		}
		return nil, fmt.Errorf("%w: byte %d differs from the record's canonical form", ErrForm, i)
	}
	return &r, nil
}

// render is the unsigned record file: declaration, canonical body, line end.
func render(r *Record) []byte {
	return slices.Concat([]byte(declaration), canonical(r), []byte("\n"))
}

// canonical writes r in Canonical XML: the bytes a signature covers.
func canonical(r *Record) []byte {
	var w writer
	w.open("KKMRecord", "xmlns", Namespace, "version", r.Version)
	w.nl()
	w.empty("Unit", "bin", r.Unit.BIN, "ofdId", r.Unit.OFDID, "rnm", r.Unit.RNM, "znm", r.Unit.ZNM)
	if d := r.Document; d != nil {
		w.empty("Document", "counter", d.Counter, "sha256", d.SHA256, "uuid", d.UUID)
	}
	w.empty("Shift", "document", r.Shift.Document, "number", r.Shift.Number)
	w.empty("FiscalSign", "autonomous", r.Sign.Autonomous, "ofd", r.Sign.OFD)
	t := &r.Ticket
	w.open("Ticket", "dateTime", t.DateTime, "domain", t.Domain, "operation", t.Operation)
	w.nl()
	w.empty("Operator", "code", t.Operator.Code, "name", t.Operator.Name)
	for _, it := range t.Items {
		w.open("Item", "type", it.Type)
		w.nl()
		if c := it.Commodity; c != nil {
			w.open("Commodity", "barcode", c.Barcode, "code", c.Code, "measureUnit", c.MeasureUnit, "ntin", c.NTIN, "price", c.Price,
				"productId", c.ProductID, "quantity", c.Quantity, "section", c.Section, "sum", c.Sum)
			w.nl()
			if c.Name != nil {
				w.textElement("Name", *c.Name)
			}
			w.taxes(c.Taxes)
			for _, s := range c.ExciseStamps {
				w.textElement("ExciseStamp", s)
			}
			w.close("Commodity")
		}
		if m := it.Modifier; m != nil {
			w.modifier("Modifier", m)
		}
		w.close("Item")
	}
	for _, p := range t.Payments {
		w.empty("Payment", "sum", p.Sum, "type", p.Type)
	}
	w.taxes(t.Taxes)
	a := &t.Amounts
	w.open("Amounts", "change", a.Change, "taken", a.Taken, "total", a.Total)
	w.nl()
	if a.Discount != nil {
		w.modifier("Discount", a.Discount)
	}
	if a.Markup != nil {
		w.modifier("Markup", a.Markup)
	}
	w.close("Amounts")
	if c := t.Customer; c != nil {
		w.empty("Customer", "email", c.Email, "iinOrBin", c.IINOrBIN, "phone", c.Phone)
	}
	if p := t.Parent; p != nil {
		w.empty("Parent", "dateTime", p.DateTime, "number", p.Number, "offline", p.Offline, "rnm", p.RNM, "total", p.Total)
	}
	w.close("Ticket")
	w.b.WriteString(rootEnd)
	return w.b.Bytes()
}

// writer writes canonical XML. Attribute names are given in canonical
// order (unprefixed names sort by code point; xmlns comes first); empty
// values are left out.
type writer struct{ b bytes.Buffer }

func (w *writer) nl() { w.b.WriteByte('\n') }

func (w *writer) start(name string, attrs []string) {
	w.b.WriteByte('<')
	w.b.WriteString(name)
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		w.b.WriteByte(' ')
		w.b.WriteString(attrs[i])
		w.b.WriteString(`="`)
		escapeAttr(&w.b, attrs[i+1])
		w.b.WriteByte('"')
	}
	w.b.WriteByte('>')
}

func (w *writer) open(name string, attrs ...string) { w.start(name, attrs) }

func (w *writer) close(name string) {
	w.b.WriteString("</")
	w.b.WriteString(name)
	w.b.WriteString(">\n")
}

func (w *writer) empty(name string, attrs ...string) {
	w.start(name, attrs)
	w.close(name)
}

func (w *writer) textElement(name, text string) {
	w.start(name, nil)
	escapeText(&w.b, text)
	w.close(name)
}

func (w *writer) taxes(ts []TaxXML) {
	for _, t := range ts {
		w.empty("Tax", "inTotal", t.InTotal, "percent", t.Percent, "sum", t.Sum, "taxationType", t.TaxationType, "type", t.Type)
	}
}

func (w *writer) modifier(name string, m *ModifierXML) {
	w.open(name, "sum", m.Sum)
	w.nl()
	if m.Name != nil {
		w.textElement("Name", *m.Name)
	}
	w.taxes(m.Taxes)
	w.close(name)
}

// escapeText and escapeAttr escape as Canonical XML does.
func escapeText(b *bytes.Buffer, s string) {
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\r':
			b.WriteString("&#xD;")
		default:
			b.WriteRune(r)
		}
	}
}

func escapeAttr(b *bytes.Buffer, s string) {
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '"':
			b.WriteString("&quot;")
		case '\t':
			b.WriteString("&#x9;")
		case '\n':
			b.WriteString("&#xA;")
		case '\r':
			b.WriteString("&#xD;")
		default:
			b.WriteRune(r)
		}
	}
}

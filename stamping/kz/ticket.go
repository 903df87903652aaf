package kz

import (
	"errors"
	"fmt"
)

// Operation is OperationTypeEnum.
type Operation uint32

// The ticket operations (spec §2.1). BUY is a purchase by the till's
// owner from a member of the public (scrap, produce), SELL the ordinary
// sale.
const (
	OperationBuy        Operation = 0
	OperationBuyReturn  Operation = 1
	OperationSell       Operation = 2
	OperationSellReturn Operation = 3
)

// Operations lists the operations in their wire order.
var Operations = []Operation{OperationBuy, OperationBuyReturn, OperationSell, OperationSellReturn}

// IsReturn reports whether o returns an earlier ticket, which a return
// must name (ParentTicket).
func (o Operation) IsReturn() bool { return o == OperationBuyReturn || o == OperationSellReturn }

func (o Operation) String() string {
	switch o {
	case OperationBuy:
		return "BUY"
	case OperationBuyReturn:
		return "BUY_RETURN"
	case OperationSell:
		return "SELL"
	case OperationSellReturn:
		return "SELL_RETURN"
	}
	return fmt.Sprintf("operation %d", uint32(o))
}

// PaymentType is PaymentTypeEnum; CREDIT (2) and TARE (3) are deprecated
// in 2.0.3 and never sent.
type PaymentType uint32

// The payment types.
const (
	PaymentCash   PaymentType = 0
	PaymentCard   PaymentType = 1
	PaymentMobile PaymentType = 4
)

// PaymentTypes lists the payment types in wire order.
var PaymentTypes = []PaymentType{PaymentCash, PaymentCard, PaymentMobile}

// ItemType is TicketRequest.Item.ItemTypeEnum; there is no 0.
type ItemType uint32

// The item types.
const (
	ItemCommodity       ItemType = 1
	ItemStornoCommodity ItemType = 2
	ItemMarkup          ItemType = 3
	ItemStornoMarkup    ItemType = 4
	ItemDiscount        ItemType = 5
	ItemStornoDiscount  ItemType = 6
)

// TaxTypeVAT is the one tax type, VAT (spec §2.9).
const TaxTypeVAT = 100

// DomainTrading is DOMAIN_TRADING, the domain every ticket carries
// (required since 2.0.3).
const DomainTrading = 0

// MeasureUnitPiece is the unit code of a piece ("796").
const MeasureUnitPiece = "796"

// Tax is a tax on a commodity, a modifier or a ticket. Percent is the rate
// × 1000 (16 % is 16000); Sum is the tax contained in the amount when
// InTotal (the Kazakh way: prices include VAT).
type Tax struct {
	Type uint32
	// TaxationType is optional since 2.0.1 and left out when zero.
	TaxationType uint32
	Percent      uint32
	Sum          Money
	InTotal      bool
}

func (t Tax) encode(e *encoder) {
	e.uint(1, uint64(t.Type))
	e.optUint(2, uint64(t.TaxationType))
	e.uint(3, uint64(t.Percent))
	e.message(4, t.Sum.encode)
	e.bool(5, t.InTotal)
}

func (t *Tax) decode(b []byte, depth int) error {
	return decodeMessage(b, "Tax", func(f field) (known bool, err error) {
		switch f.num {
		case 1:
			t.Type, err = f.uint32()
		case 2:
			t.TaxationType, err = f.uint32()
		case 3:
			t.Percent, err = f.uint32()
		case 4:
			err = f.sub(&t.Sum, depth)
		case 5:
			t.InTotal, err = f.bool()
		default:
			return false, nil
		}
		return true, err
	}, need{1, "tax_type"}, need{3, "percent"}, need{4, "sum"}, need{5, "is_in_total_sum"})
}

func encodeTaxes(e *encoder, num int, taxes []Tax) {
	for _, t := range taxes {
		e.message(num, t.encode)
	}
}

func decodeTax(f field, list *[]Tax, depth int) error {
	var t Tax
	if err := f.sub(&t, depth); err != nil {
		return err
	}
	*list = append(*list, t)
	return nil
}

// Modifier is a discount or a markup: on an item, or on the whole ticket
// in Amounts.
type Modifier struct {
	Name  string // optional on the wire, required since 2.0.1
	Sum   Money
	Taxes []Tax
}

func (m *Modifier) encode(e *encoder) {
	e.optString(1, m.Name)
	e.message(2, m.Sum.encode)
	encodeTaxes(e, 3, m.Taxes)
}

func (m *Modifier) decode(b []byte, depth int) error {
	r := required{msg: "Modifier"}
	err := fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			m.Name, err = f.string()
		case 2:
			r.saw(2)
			err = f.sub(&m.Sum, depth)
		case 3:
			err = decodeTax(f, &m.Taxes, depth)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("Modifier: %w", err)
	}
	return r.need(2, "sum")
}

// Commodity is a line of goods or services. Quantity is × 1000.
type Commodity struct {
	Code            uint64
	Name            string
	SectionCode     string
	Quantity        uint64
	Price           Money
	Sum             Money
	Taxes           []Tax
	ProductID       string
	Barcode         string
	MeasureUnitCode string
	ExciseStamps    []string // list_excise_stamp: marking codes
	NTIN            string   // the National Catalogue's identifier
}

func (c *Commodity) encode(e *encoder) {
	e.optUint(1, c.Code)
	e.optString(2, c.Name)
	e.string(3, c.SectionCode)
	e.uint(4, c.Quantity)
	e.message(5, c.Price.encode)
	e.message(6, c.Sum.encode)
	encodeTaxes(e, 7, c.Taxes)
	e.optString(11, c.ProductID)
	e.optString(12, c.Barcode)
	e.optString(13, c.MeasureUnitCode)
	for _, s := range c.ExciseStamps {
		e.string(14, s)
	}
	e.optString(15, c.NTIN)
}

func (c *Commodity) decode(b []byte, depth int) error {
	r := required{msg: "Commodity"}
	err := fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			c.Code, err = f.uint64()
		case 2:
			c.Name, err = f.string()
		case 3:
			c.SectionCode, err = f.string()
		case 4:
			c.Quantity, err = f.uint64()
		case 5:
			err = f.sub(&c.Price, depth)
		case 6:
			err = f.sub(&c.Sum, depth)
		case 7:
			err = decodeTax(f, &c.Taxes, depth)
		case 11:
			c.ProductID, err = f.string()
		case 12:
			c.Barcode, err = f.string()
		case 13:
			c.MeasureUnitCode, err = f.string()
		case 14:
			var s string
			s, err = f.string()
			c.ExciseStamps = append(c.ExciseStamps, s)
		case 15:
			c.NTIN, err = f.string()
		default:
			return nil
		}
		r.saw(f.num)
		return err
	})
	if err != nil {
		return fmt.Errorf("Commodity: %w", err)
	}
	return errors.Join(r.need(3, "section_code"), r.need(4, "quantity"), r.need(5, "price"), r.need(6, "sum"))
}

// Item is one entry of a ticket: a commodity, or a discount or markup
// applying to the commodity before it. Exactly the field of its Type is
// set. Storno commodities are not sent by this package and are skipped
// when read.
type Item struct {
	Type      ItemType
	Commodity *Commodity
	// Modifier is the markup, storno markup, discount or storno discount,
	// by Type (fields 4 to 7).
	Modifier *Modifier
}

func (it *Item) encode(e *encoder) {
	e.uint(1, uint64(it.Type))
	if it.Commodity != nil {
		e.message(2, it.Commodity.encode)
	}
	if it.Modifier != nil {
		if n := modifierField(it.Type); n != 0 {
			e.message(n, it.Modifier.encode)
		}
	}
}

// modifierField is the field of Item that carries a modifier of type t.
func modifierField(t ItemType) int {
	switch t {
	case ItemMarkup:
		return 4
	case ItemStornoMarkup:
		return 5
	case ItemDiscount:
		return 6
	case ItemStornoDiscount:
		return 7
	}
	return 0
}

func (it *Item) decode(b []byte, depth int) error {
	r := required{msg: "Item"}
	err := fields(b, func(f field) error {
		switch f.num {
		case 1:
			v, err := f.uint32()
			it.Type = ItemType(v)
			r.saw(1)
			return err
		case 2:
			it.Commodity = &Commodity{}
			return f.sub(it.Commodity, depth)
		case 4, 5, 6, 7:
			it.Modifier = &Modifier{}
			return f.sub(it.Modifier, depth)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("Item: %w", err)
	}
	if err := r.need(1, "type"); err != nil {
		return err
	}
	switch {
	case it.Type == ItemCommodity && it.Commodity == nil:
		return errors.New("Item: a COMMODITY item has no commodity")
	case modifierField(it.Type) != 0 && it.Modifier == nil:
		return fmt.Errorf("Item: a type %d item has no modifier", it.Type)
	}
	return nil
}

// Payment is one payment of a ticket.
type Payment struct {
	Type PaymentType
	Sum  Money
}

// Amounts are the ticket's totals: Total is what is payable; Taken and
// Change the cash handed over and given back; Markup or Discount a
// modifier of the whole ticket (one or the other, never both).
type Amounts struct {
	Total    Money
	Taken    *Money
	Change   *Money
	Markup   *Modifier
	Discount *Modifier
}

func (a *Amounts) encode(e *encoder) {
	e.message(1, a.Total.encode)
	if a.Taken != nil {
		e.message(2, a.Taken.encode)
	}
	if a.Change != nil {
		e.message(3, a.Change.encode)
	}
	if a.Markup != nil {
		e.message(4, a.Markup.encode)
	}
	if a.Discount != nil {
		e.message(5, a.Discount.encode)
	}
}

func (a *Amounts) decode(b []byte, depth int) error {
	r := required{msg: "Amounts"}
	err := fields(b, func(f field) error {
		switch f.num {
		case 1:
			r.saw(1)
			return f.sub(&a.Total, depth)
		case 2:
			a.Taken = &Money{}
			return f.sub(a.Taken, depth)
		case 3:
			a.Change = &Money{}
			return f.sub(a.Change, depth)
		case 4:
			a.Markup = &Modifier{}
			return f.sub(a.Markup, depth)
		case 5:
			a.Discount = &Modifier{}
			return f.sub(a.Discount, depth)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("Amounts: %w", err)
	}
	return r.need(1, "total")
}

// ParentTicket names the ticket a return returns (required on returns
// since 2.0.3): its fiscal sign, time, the RNM of the KKM that issued it,
// its total, and whether its sign was autonomous.
type ParentTicket struct {
	Number    string
	DateTime  DateTime
	KgdKkmID  string
	Total     Money
	IsOffline bool
}

func (p *ParentTicket) encode(e *encoder) {
	e.string(1, p.Number)
	e.message(2, p.DateTime.encode)
	e.string(3, p.KgdKkmID)
	e.message(4, p.Total.encode)
	e.bool(5, p.IsOffline)
}

func (p *ParentTicket) decode(b []byte, depth int) error {
	r := required{msg: "ParentTicket"}
	err := fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			p.Number, err = f.string()
		case 2:
			err = f.sub(&p.DateTime, depth)
		case 3:
			p.KgdKkmID, err = f.string()
		case 4:
			err = f.sub(&p.Total, depth)
		case 5:
			p.IsOffline, err = f.bool()
		default:
			return nil
		}
		r.saw(f.num)
		return err
	})
	if err != nil {
		return fmt.Errorf("ParentTicket: %w", err)
	}
	return errors.Join(r.need(1, "parent_ticket_number"), r.need(2, "parent_ticket_data_time"), r.need(3, "kgd_kkm_id"),
		r.need(4, "parent_ticket_total"), r.need(5, "parent_ticket_is_offline"))
}

// ExtensionOptions carry the buyer's contacts and IIN/BIN.
type ExtensionOptions struct {
	CustomerEmail    string
	CustomerPhone    string
	CustomerIINOrBIN string
}

// TicketRequest is a receipt (spec §2.4).
type TicketRequest struct {
	Operation Operation
	DateTime  DateTime
	Operator  Operator
	// Domain is the domain type, always sent (required since 2.0.3);
	// DomainTrading for a shop.
	Domain    uint32
	Items     []Item
	Payments  []Payment
	Taxes     []Tax // ticket-level taxes; the mapping puts taxes on items
	Amounts   Amounts
	Extension *ExtensionOptions
	// OfflineTicketNumber is the autonomous fiscal sign of a ticket issued
	// without the OFD; zero online.
	OfflineTicketNumber uint32
	ShiftNumber         uint32 // fr_shift_number
	ShiftDocumentNumber uint32 // from 1 in each shift
	Parent              *ParentTicket
}

func (t *TicketRequest) encode(e *encoder) {
	e.uint(1, uint64(t.Operation))
	e.message(2, t.DateTime.encode)
	e.message(3, t.Operator.encode)
	e.message(4, func(e *encoder) { e.uint(1, uint64(t.Domain)) })
	for i := range t.Items {
		e.message(5, t.Items[i].encode)
	}
	for _, p := range t.Payments {
		e.message(6, func(e *encoder) {
			e.uint(1, uint64(p.Type))
			e.message(2, p.Sum.encode)
		})
	}
	encodeTaxes(e, 7, t.Taxes)
	e.message(8, t.Amounts.encode)
	if x := t.Extension; x != nil {
		e.message(9, func(e *encoder) {
			e.optString(1, x.CustomerEmail)
			e.optString(2, x.CustomerPhone)
			e.optString(4, x.CustomerIINOrBIN)
		})
	}
	e.optUint(10, uint64(t.OfflineTicketNumber))
	e.optUint(14, uint64(t.ShiftNumber))
	e.optUint(15, uint64(t.ShiftDocumentNumber))
	if t.Parent != nil {
		e.message(17, t.Parent.encode)
	}
}

func (t *TicketRequest) decode(b []byte, depth int) error {
	r := required{msg: "TicketRequest"}
	err := fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			var v uint32
			v, err = f.uint32()
			t.Operation = Operation(v)
		case 2:
			err = f.sub(&t.DateTime, depth)
		case 3:
			err = f.sub(&t.Operator, depth)
		case 4:
			err = f.sub((*domainOf)(&t.Domain), depth)
		case 5:
			var it Item
			err = f.sub(&it, depth)
			t.Items = append(t.Items, it)
		case 6:
			var p Payment
			err = f.sub((*paymentOf)(&p), depth)
			t.Payments = append(t.Payments, p)
		case 7:
			err = decodeTax(f, &t.Taxes, depth)
		case 8:
			err = f.sub(&t.Amounts, depth)
		case 9:
			t.Extension = &ExtensionOptions{}
			err = f.sub((*extensionOf)(t.Extension), depth)
		case 10:
			t.OfflineTicketNumber, err = f.uint32()
		case 14:
			t.ShiftNumber, err = f.uint32()
		case 15:
			t.ShiftDocumentNumber, err = f.uint32()
		case 17:
			t.Parent = &ParentTicket{}
			err = f.sub(t.Parent, depth)
		default:
			return nil
		}
		r.saw(f.num)
		return err
	})
	if err != nil {
		return fmt.Errorf("TicketRequest: %w", err)
	}
	return errors.Join(r.need(1, "operation"), r.need(2, "date_time"), r.need(3, "operator"), r.need(8, "amounts"))
}

type domainOf uint32

func (d *domainOf) decode(b []byte, _ int) error {
	return fields(b, func(f field) (err error) {
		if f.num == 1 {
			var v uint32
			v, err = f.uint32()
			*d = domainOf(v)
		}
		return err
	})
}

type paymentOf Payment

func (p *paymentOf) decode(b []byte, depth int) error {
	return decodeMessage(b, "Payment", func(f field) (known bool, err error) {
		switch f.num {
		case 1:
			var v uint32
			v, err = f.uint32()
			p.Type = PaymentType(v)
		case 2:
			err = f.sub(&p.Sum, depth)
		default:
			return false, nil
		}
		return true, err
	}, need{1, "type"}, need{2, "sum"})
}

type extensionOf ExtensionOptions

func (x *extensionOf) decode(b []byte, _ int) error {
	return fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			x.CustomerEmail, err = f.string()
		case 2:
			x.CustomerPhone, err = f.string()
		case 4:
			x.CustomerIINOrBIN, err = f.string()
		}
		return err
	})
}

// TicketResponse is the OFD's answer to a ticket: the fiscal sign printed
// on the receipt and, optionally, the consumer QR URL.
type TicketResponse struct {
	TicketNumber string
	QRCode       []byte
}

func (t *TicketResponse) encode(e *encoder) {
	e.string(1, t.TicketNumber)
	if len(t.QRCode) > 0 {
		e.bytes(2, t.QRCode)
	}
}

func (t *TicketResponse) decode(b []byte, _ int) error {
	r := required{msg: "TicketResponse"}
	err := fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			r.saw(1)
			t.TicketNumber, err = f.string()
		case 2:
			t.QRCode, err = f.bytes()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("TicketResponse: %w", err)
	}
	return r.need(1, "ticket_number")
}

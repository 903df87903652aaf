package kz

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/sale"
)

// TestValidateTaxID: spec kazakhstan.md §B6. The valid numbers are the
// spec's (940140000385, 990140004654) and one whose check digit needs the
// second weighting (computed by hand: Σ dᵢ·i = 153 ≡ 10, Σ dᵢ·w'ᵢ = 177 ≡ 1).
func TestValidateTaxID(t *testing.T) {
	for _, c := range []struct {
		id    string
		valid bool
	}{
		{"940140000385", true},
		{"990140004654", true},
		{"900101300811", true},  // second weighting
		{"940140000386", false}, // check digit off by one
		{"990140004655", false},
		{"900101300810", false},
		{"900101300800", false}, // both weightings give 10: never issued
		{"94014000038", false},  // 11 digits
		{"9401400003850", false},
		{"94014000038a", false},
		{"", false},
		{"９４０１４０００0385", false}, // full-width digits
	} {
		err := ValidateTaxID(c.id)
		if (err == nil) != c.valid {
			t.Errorf("ValidateTaxID(%q) = %v, want valid %v", c.id, err, c.valid)
		}
	}
}

func TestConsumerURL(t *testing.T) {
	at := time.Date(2028, 6, 29, 17, 9, 16, 0, almaty)
	got, err := ConsumerURL("http://consumer.test-oofd.kz", "4228143549", "640300014538", dec("696.9"), at)
	if err != nil {
		t.Fatal(err)
	}
	// The URL of the test server's captured answer (spec §1.2 [obs]).
	if want := "http://consumer.test-oofd.kz?i=4228143549&f=640300014538&s=696.90&t=20280629T170916"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	got, err = ConsumerURL("https://ofd1.kz/t/", "1", "640300014538", dec("1"), at)
	if err != nil || got != "https://ofd1.kz/t/?i=1&f=640300014538&s=1.00&t=20280629T170916" {
		t.Errorf("got %s, %v", got, err)
	}
	for _, bad := range []struct{ base, sign, rnm, total string }{
		{"consumer.oofd.kz", "1", "640300014538", "1"},
		{"http://x.kz?a=1", "1", "640300014538", "1"},
		{"http://x.kz", "1a", "640300014538", "1"},
		{"http://x.kz", "1", "64030001453", "1"},
		{"http://x.kz", "1", "640300014538", "1.005"},
		{"http://x.kz", "1", "640300014538", "-1"},
	} {
		if _, err := ConsumerURL(bad.base, bad.sign, bad.rnm, dec(bad.total), at); err == nil {
			t.Errorf("ConsumerURL(%+v) accepted", bad)
		}
	}
}

func TestVATTable(t *testing.T) {
	for _, c := range []struct {
		date  time.Time
		rate  string
		valid bool
	}{
		{localDate(2025, 12, 31), "12", true},
		{localDate(2025, 12, 31), "16", false},
		{time.Date(2025, 12, 31, 23, 59, 59, 0, almaty), "12", true},
		{localDate(2026, 1, 1), "16", true},
		{localDate(2026, 1, 1), "12", false},
		{localDate(2026, 6, 1), "5", true},
		{localDate(2026, 6, 1), "10", false},
		{localDate(2027, 1, 1), "10", true},
		{localDate(2027, 1, 1), "5", false},
	} {
		p, err := DefaultVATTable.At(c.date)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Check(dec(c.rate)); (err == nil) != c.valid {
			t.Errorf("%s at %s: %v, want valid %v", c.rate, c.date.Format(time.DateOnly), err, c.valid)
		}
	}
	if p, err := PercentThousandths(dec("16")); err != nil || p != 16000 {
		t.Errorf("16 %% = %d, %v; want 16000", p, err)
	}
	if p, err := PercentThousandths(dec("12.5")); err != nil || p != 12500 {
		t.Errorf("12.5 %% = %d, %v; want 12500", p, err)
	}
}

// TestBuildTicketAmounts checks the fixture sale by hand. Lines: bread
// 2 × 250 = 500.00 at 16 %; cheese 0.455 × 3999.99 = 1820.00 less 100 =
// 1720.00 at 16 %; a newspaper 150.00 exempt; a bag charge of 50.00 at
// 16 %. Standard group: 500 + 1720 + 50 = 2270.00, VAT 363.20. Total
// 2270 + 363.20 + 150 = 2783.20: 1000 by card, 1783.20 in cash from 5000,
// change 3216.80.
func TestBuildTicketAmounts(t *testing.T) {
	tr := fixtureTicket(OperationSell, false).Ticket
	if tr.Amounts.Total != (Money{2783, 20}) {
		t.Errorf("total %s, want 2783.20", tr.Amounts.Total)
	}
	if *tr.Amounts.Taken != (Money{5000, 0}) || *tr.Amounts.Change != (Money{3216, 80}) {
		t.Errorf("taken %s change %s, want 5000.00 and 3216.80", tr.Amounts.Taken, tr.Amounts.Change)
	}
	wantPay := []Payment{{PaymentCard, Money{1000, 0}}, {PaymentCash, Money{1783, 20}}}
	if len(tr.Payments) != 2 || tr.Payments[0] != wantPay[0] || tr.Payments[1] != wantPay[1] {
		t.Errorf("payments %+v, want %+v", tr.Payments, wantPay)
	}
	var vat, items int64
	types := ""
	for _, it := range tr.Items {
		var taxes []Tax
		var sum Money
		sign := int64(1)
		switch it.Type {
		case ItemCommodity:
			types += "C"
			taxes, sum = it.Commodity.Taxes, it.Commodity.Sum
		case ItemDiscount:
			types += "D"
			taxes, sum, sign = it.Modifier.Taxes, it.Modifier.Sum, -1
		case ItemMarkup:
			types += "M"
			taxes, sum = it.Modifier.Taxes, it.Modifier.Sum
		}
		c, _ := sum.Cents()
		items += sign * c
		for _, tx := range taxes {
			if tx.Type != 100 || tx.Percent != 16000 || !tx.InTotal {
				t.Errorf("tax %+v, want VAT 100 at 16000 included", tx)
			}
			v, _ := tx.Sum.Cents()
			vat += sign * v
		}
	}
	if types != "CCDCM" {
		t.Errorf("items %s, want commodity, commodity, its discount, commodity, the charge", types)
	}
	if items != 278320 || vat != 36320 {
		t.Errorf("items come to %d with VAT %d; want 278320 and 36320", items, vat)
	}
	bread := tr.Items[0].Commodity
	// 2 × 250 = 500 + 16 % = 580.00; unit price 290.00; quantity 2000.
	if bread.Sum != (Money{580, 0}) || bread.Price != (Money{290, 0}) || bread.Quantity != 2000 || bread.MeasureUnitCode != "796" || bread.NTIN != "02000000000012345" {
		t.Errorf("bread %+v", bread)
	}
	if paper := tr.Items[3].Commodity; len(paper.Taxes) != 0 || paper.Sum != (Money{150, 0}) {
		t.Errorf("the exempt newspaper %+v, want 150.00 and no tax", paper)
	}
}

// TestBuildTicketReturnKeepsRate: a return issued in 2026 of a 2025 sale
// keeps the 12 % it was sold at, and is refused at 16 %.
func TestBuildTicketReturnKeepsRate(t *testing.T) {
	s := &sale.Sale{Kind: sale.CreditNote, Currency: "KZT", Lines: []sale.Line{{Name: "Чай", Quantity: dec("1"), UnitPrice: dec("1000"), Category: sale.Standard, Rate: dec("12")}}}
	parent := &ParentTicket{Number: "1", DateTime: DateTimeOf(time.Date(2025, 12, 31, 20, 0, 0, 0, almaty)), KgdKkmID: "620300000011", Total: Money{1120, 0}}
	in := TicketInput{IssuedAt: time.Date(2026, 1, 5, 10, 0, 0, 0, almaty), Parent: parent}
	tr, err := BuildTicket(s, in)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Operation != OperationSellReturn || tr.Items[0].Commodity.Taxes[0].Percent != 12000 || tr.Amounts.Total != (Money{1120, 0}) {
		t.Errorf("return %+v", tr)
	}
	s.Lines[0].Rate = dec("16")
	_, err = BuildTicket(s, in)
	var fe sale.Errors
	if !errors.As(err, &fe) || fe[0].Field != "lines[0].vat_rate" || !strings.Contains(fe[0].Rule, "12") {
		t.Errorf("a 16 %% return of a 2025 sale: %v", err)
	}
}

// TestBuildTicketRefusals: each bad Kazakh sale names its field.
func TestBuildTicketRefusals(t *testing.T) {
	at := fixtureTime
	for _, c := range []struct {
		field string
		edit  func(*sale.Sale, *TicketInput)
	}{
		{"currency", func(s *sale.Sale, _ *TicketInput) { s.Currency = "USD" }},
		{"kind", func(s *sale.Sale, _ *TicketInput) { s.Kind = sale.DebitNote }},
		{"original", func(s *sale.Sale, _ *TicketInput) { s.Kind = sale.CreditNote }},
		{"cash_rounding", func(s *sale.Sale, _ *TicketInput) { s.CashRounding = dec("0.05") }},
		{"buyer.vat_number", func(s *sale.Sale, _ *TicketInput) { s.Buyer = &sale.Buyer{VATNumber: "940140000386"} }},
		{"buyer.id", func(s *sale.Sale, _ *TicketInput) { s.Buyer = &sale.Buyer{ID: "12345"} }},
		{"buyer.vat_number", func(s *sale.Sale, in *TicketInput) {
			s.Buyer = &sale.Buyer{VATNumber: "940140000385"}
			in.SellerTaxID = "940140000385"
		}},
		{"lines[0].vat_rate", func(s *sale.Sale, _ *TicketInput) { s.Lines[0].Rate = dec("12") }},
		{"lines[1].vat_rate", func(s *sale.Sale, _ *TicketInput) { s.Lines[1].Rate = dec("15") }},
		{"charges[0].vat_rate", func(s *sale.Sale, _ *TicketInput) { s.Charges[0].Rate = dec("20") }},
		{"lines[0].quantity_unit", func(s *sale.Sale, _ *TicketInput) { s.Lines[0].QuantityUnit = "kg" }},
		{"payments[0].means", func(s *sale.Sale, _ *TicketInput) { s.Payments[0].Means = sale.BankTransfer }},
		{"payments[1].means", func(s *sale.Sale, _ *TicketInput) { s.Payments[1].Means = sale.Credit }},
		{"payments", func(s *sale.Sale, _ *TicketInput) { s.Payments[0].Amount = decp("99999") }},
		{"issued_at", func(_ *sale.Sale, in *TicketInput) { in.IssuedAt = time.Date(2001, 1, 1, 0, 0, 0, 0, almaty) }},
	} {
		s := fixtureSale()
		in := TicketInput{IssuedAt: at}
		c.edit(s, &in)
		_, err := BuildTicket(s, in)
		var fe sale.Errors
		if !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want field errors", c.field, err)
			continue
		}
		found := false
		for _, e := range fe {
			found = found || e.Field == c.field
		}
		if !found {
			t.Errorf("%s: the errors %v do not name it", c.field, fe)
		}
	}
}

// TestFrameLimits: an attacker's SIZE is refused before the payload is
// read, a short stream is an error, and a frame over the limit is not
// written.
func TestFrameLimits(t *testing.T) {
	hdr := func(size uint32) []byte {
		b, _ := AppendFrame(nil, 1, 2, 3, nil)
		b[4], b[5], b[6], b[7] = byte(size), byte(size>>8), byte(size>>16), byte(size>>24)
		return b
	}
	// 4 GB announced, and an endless stream behind it.
	r := io.MultiReader(bytes.NewReader(hdr(0xFFFFFFFF)), zeros{})
	if _, _, err := ReadFrame(r); !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), "SIZE") {
		t.Errorf("SIZE 4 GB: %v", err)
	}
	if _, _, err := ReadFrame(bytes.NewReader(hdr(17))); !errors.Is(err, ErrFrame) {
		t.Errorf("SIZE 17: %v", err)
	}
	if _, _, err := ReadFrame(bytes.NewReader(append(hdr(30), 1, 2, 3))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a short payload: %v", err)
	}
	bad := hdr(18)
	bad[0] = 0
	if _, _, err := ReadFrame(bytes.NewReader(bad)); !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), "APPCODE") {
		t.Errorf("a wrong APPCODE: %v", err)
	}
	bad = hdr(18)
	bad[2] = 202
	if _, _, err := ReadFrame(bytes.NewReader(bad)); !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), "VERSION") {
		t.Errorf("VERSION 202: %v", err)
	}
	if _, err := AppendFrame(nil, 1, 2, 3, make([]byte, MaxFrameSize)); !errors.Is(err, ErrFrame) {
		t.Errorf("an oversized frame was written: %v", err)
	}
	// A payload read in many small pieces.
	frame, _ := AppendFrame(nil, 1, 2, 3, bytes.Repeat([]byte{8, 1}, 2000))
	h, p, err := ReadFrame(io.MultiReader(oneByte{bytes.NewReader(frame)}))
	if err != nil || h.Size != uint32(len(frame)) || len(p) != 4000 {
		t.Errorf("byte-at-a-time read: %v, %d", err, len(p))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) { return o.r.Read(p[:min(1, len(p))]) }

// TestSessionRules: REQNUM +1 per request and wrapping to 1, the pending
// frame kept on a retry outcome and dropped otherwise, the TOKEN of every
// answer adopted, and a stored session read back.
func TestSessionRules(t *testing.T) {
	s := &Session{ID: 7, Token: 100, ReqNum: 65534}
	p, err := s.Begin(&Request{Command: CommandSystem, Service: &ServiceRequest{}})
	if err != nil || p.ReqNum != 65535 {
		t.Fatalf("%v, REQNUM %d", err, p.ReqNum)
	}
	if _, err := s.Begin(&Request{Command: CommandSystem}); !errors.Is(err, ErrPending) {
		t.Errorf("a second request while one is pending: %v", err)
	}
	stored, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalSession(stored)
	if err != nil || !bytes.Equal(back.Pending.Frame, p.Frame) {
		t.Fatalf("read back: %v", err)
	}
	if o := s.Complete(&Reply{Header: Header{Token: 101}, Response: &Response{Result: Result{Code: ResultServiceUnavailable}}}); o != Retry || s.Pending == nil || s.Token != 101 {
		t.Errorf("254: outcome %v, pending %v, token %d", o, s.Pending != nil, s.Token)
	}
	if o := s.Complete(&Reply{Header: Header{Token: 102}, Response: &Response{}}); o != Accepted || s.Pending != nil || s.Token != 102 {
		t.Errorf("0: outcome %v, pending %v, token %d", o, s.Pending != nil, s.Token)
	}
	p, _ = s.Begin(&Request{Command: CommandSystem})
	if p.ReqNum != 1 {
		t.Errorf("REQNUM after 65535 is %d, want 1", p.ReqNum)
	}
	if o := s.Complete(&Reply{Header: Header{Token: 103}, Response: &Response{Result: Result{Code: ResultInvalidRequestNumber}}}); o != Renumber || s.Pending != nil {
		t.Errorf("8: %v", o)
	}
	// A tampered pending frame is refused.
	s.Begin(&Request{Command: CommandSystem})
	stored, _ = s.Marshal()
	tampered := bytes.Replace(stored, []byte(`"command":0,"reqnum":2`), []byte(`"command":0,"reqnum":9`), 1)
	if _, err := UnmarshalSession(tampered); err == nil {
		t.Error("a session whose pending frame does not match it was read")
	}
}

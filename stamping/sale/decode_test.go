package sale_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/textpolicy/textpolicytest"
)

// okLine is a valid line: 2 × 3.50 at 15 %.
const okLine = `{"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"15"}`

// invoice wraps lines (the inside of the JSON array) in a valid invoice.
func invoice(lines string) string {
	return `{"kind":"invoice","currency":"SAR","lines":[` + lines + `]}`
}

// withLine is an invoice with one line made of fields (the inside of the
// line's JSON object).
func withLine(fields string) string {
	return invoice(`{` + fields + `}`)
}

func d(s string) money.Decimal { return money.MustParse(s) }

var badSales = []struct {
	name   string
	body   string
	opts   sale.Options
	fields []string // the exact Field of each returned FieldError, in order
}{
	{"not JSON", `{"kind":`, sale.Options{}, []string{"body"}},
	{"trailing comma", `{"kind":"invoice",}`, sale.Options{}, []string{"body"}},
	{"empty body", ``, sale.Options{}, []string{"body"}},
	{"only whitespace", " \n", sale.Options{}, []string{"body"}},
	{"invalid UTF-8", "{\"kind\":\"invoice\",\"note\":\"\xff\"}", sale.Options{}, []string{"body"}},
	{"array body", `[]`, sale.Options{}, []string{"body"}},
	{"null body", `null`, sale.Options{}, []string{"kind", "currency", "lines"}},
	{"trailing object", invoice(okLine) + `{}`, sale.Options{}, []string{"body"}},
	{"trailing garbage", invoice(okLine) + ` x`, sale.Options{}, []string{"body"}},

	{"truncated inside a line", invoice(`{"name":"Tea","quantity":"2"`), sale.Options{}, []string{"body"}},
	{"truncated inside a string", `{"kind":"invoi`, sale.Options{}, []string{"body"}},

	// Field names are case-sensitive, and each key appears once, at any depth.
	{"upper-case KIND", `{"KIND":"invoice","currency":"SAR","lines":[` + okLine + `]}`, sale.Options{}, []string{"KIND"}},
	{"Kind beside kind", `{"kind":"invoice","Kind":"credit_note","currency":"SAR","lines":[` + okLine + `]}`, sale.Options{}, []string{"Kind"}},
	{"Quantity in the third line", invoice(okLine + "," + okLine + `,{"name":"Tea","Quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"15"}`), sale.Options{}, []string{"lines[2].Quantity"}},
	{"Country in the buyer address", `{"kind":"invoice","currency":"SAR","buyer":{"name":"Ali","address":{"Country":"SA"}},"lines":[` + okLine + `]}`, sale.Options{}, []string{"buyer.address.Country"}},
	{"duplicate kind", `{"kind":"invoice","kind":"credit_note","currency":"SAR","lines":[` + okLine + `]}`, sale.Options{}, []string{"kind"}},
	{"duplicate lines", `{"kind":"invoice","lines":[` + okLine + `],"currency":"SAR","lines":[]}`, sale.Options{}, []string{"lines"}},
	{"duplicate quantity in a line", invoice(`{"name":"Tea","quantity":"2","unit_price":"3.50","quantity":"200","vat_category":"S","vat_rate":"15"}`), sale.Options{}, []string{"lines[0].quantity"}},
	{"duplicate means in a payment", `{"kind":"invoice","currency":"SAR","lines":[` + okLine + `],"payments":[{"means":"cash"},{"means":"card","means":"cash"}]}`, sale.Options{}, []string{"payments[1].means"}},
	{"duplicate buyer, the first null", `{"kind":"invoice","buyer":null,"buyer":{"name":"Ali"},"currency":"SAR","lines":[` + okLine + `]}`, sale.Options{}, []string{"buyer"}},
	{"lone high surrogate in a name", withLine(`"name":"Te\ud800a","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].name"}},
	{"lone low surrogate in the note", `{"kind":"invoice","currency":"SAR","note":"\udc00","lines":[` + okLine + `]}`, sale.Options{}, []string{"note"}},
	{"reversed surrogate pair", `{"kind":"invoice","currency":"SAR","note":"\ude00\ud83d","lines":[` + okLine + `]}`, sale.Options{}, []string{"note"}},
	{"high surrogate before a plain character", `{"kind":"invoice","currency":"SAR","note":"\ud83d\u0041","lines":[` + okLine + `]}`, sale.Options{}, []string{"note"}},

	{"quantity is a number", withLine(`"name":"Tea","quantity":2,"unit_price":"3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].quantity"}},
	{"unit_price is a number in the second line", invoice(okLine + `,{"name":"Tea","quantity":"2","unit_price":3.5,"vat_category":"S","vat_rate":"15"}`), sale.Options{}, []string{"lines[1].unit_price"}},
	{"vat_rate is a number", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":15`), sale.Options{}, []string{"lines[0].vat_rate"}},
	{"payment amount is a number", `{"kind":"invoice","currency":"SAR","lines":[` + okLine + `],"payments":[{"means":"card"},{"means":"cash","amount":8.05}]}`, sale.Options{}, []string{"payments[1].amount"}},
	{"kind is a number", `{"kind":1,"currency":"SAR","lines":[` + okLine + `]}`, sale.Options{}, []string{"kind"}},
	{"lines is an object", `{"kind":"invoice","currency":"SAR","lines":{}}`, sale.Options{}, []string{"lines"}},
	{"buyer is a string", `{"kind":"invoice","currency":"SAR","buyer":"Ali","lines":[` + okLine + `]}`, sale.Options{}, []string{"buyer"}},
	{"country is a number", `{"kind":"invoice","currency":"SAR","buyer":{"name":"Ali","address":{"country":966}},"lines":[` + okLine + `]}`, sale.Options{}, []string{"buyer.address.country"}},

	{"exponent", withLine(`"name":"Tea","quantity":"1e2","unit_price":"3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].quantity"}},
	{"comma decimal", withLine(`"name":"Tea","quantity":"1,5","unit_price":"3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].quantity"}},
	{"leading space", withLine(`"name":"Tea","quantity":"2","unit_price":" 3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].unit_price"}},
	{"negative quantity", withLine(`"name":"Tea","quantity":"-1","unit_price":"3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].quantity"}},
	{"zero quantity", withLine(`"name":"Tea","quantity":"0.000","unit_price":"3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].quantity"}},
	{"missing quantity", withLine(`"name":"Tea","unit_price":"3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].quantity"}},
	{"null quantity", withLine(`"name":"Tea","quantity":null,"unit_price":"3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].quantity"}},
	{"quantity with 4 decimals", withLine(`"name":"Tea","quantity":"1.0000","unit_price":"3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].quantity"}},
	{"price with 5 decimals", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50000","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].unit_price"}},
	{"negative price", withLine(`"name":"Tea","quantity":"2","unit_price":"-3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].unit_price"}},
	{"rate with 3 decimals", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"15.000"`), sale.Options{}, []string{"lines[0].vat_rate"}},
	{"unknown vat_category", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"X","vat_rate":"15"`), sale.Options{}, []string{"lines[0].vat_category"}},
	{"lower-case vat_category", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"s","vat_rate":"15"`), sale.Options{}, []string{"lines[0].vat_category"}},
	{"missing vat_category", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_rate":"15"`), sale.Options{}, []string{"lines[0].vat_category"}},
	{"missing vat_rate for S", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"S"`), sale.Options{}, []string{"lines[0].vat_rate"}},
	{"zero rate for S", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"0.00"`), sale.Options{}, []string{"lines[0].vat_rate"}},
	{"rate 100", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"100"`), sale.Options{}, []string{"lines[0].vat_rate"}},
	{"negative rate", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"-15"`), sale.Options{}, []string{"lines[0].vat_rate"}},
	{"non-zero rate for Z", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"Z","vat_rate":"5"`), sale.Options{}, []string{"lines[0].vat_rate"}},
	{"non-zero rate for E", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"E","vat_rate":"0.01"`), sale.Options{}, []string{"lines[0].vat_rate"}},
	{"non-zero rate for O", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"O","vat_rate":"15"`), sale.Options{}, []string{"lines[0].vat_rate"}},
	{"bad zero rate for Z", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"Z","vat_rate":"zero"`), sale.Options{}, []string{"lines[0].vat_rate"}},
	{"exemption reason on S", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"15","exemption_reason":"VATEX-SA-32"`), sale.Options{}, []string{"lines[0].exemption_reason"}},
	{"missing line name", withLine(`"quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].name"}},
	{"blank line name", withLine(`"name":"   ","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].name"}},
	{"control character in name", withLine(`"name":"Te\u0001a","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].name"}},
	{"DEL in name", withLine(`"name":"Te\u007fa","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].name"}},
	{"overlong name", withLine(`"name":"` + strings.Repeat("x", sale.MaxNameLength+1) + `","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"15"`), sale.Options{}, []string{"lines[0].name"}},
	{"tab in seller_code", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"15","seller_code":"A\tB"`), sale.Options{}, []string{"lines[0].seller_code"}},
	{"overlong standard_code", withLine(`"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"15","standard_code":"` + strings.Repeat("9", sale.MaxCodeLength+1) + `"`), sale.Options{}, []string{"lines[0].standard_code"}},

	{"no lines", `{"kind":"invoice","currency":"SAR"}`, sale.Options{}, []string{"lines"}},
	{"empty lines", `{"kind":"invoice","currency":"SAR","lines":[]}`, sale.Options{}, []string{"lines"}},
	{"too many lines", invoice(strings.Repeat(okLine+",", sale.MaxLines) + okLine), sale.Options{}, []string{"lines"}},

	{"unknown field", `{"kind":"invoice","currency":"SAR","discount":"1","lines":[` + okLine + `]}`, sale.Options{}, []string{"discount"}},
	{"unknown field in a line", invoice(okLine + `,{"name":"Tea","colour":"red"}`), sale.Options{}, []string{"lines[1].colour"}},
	{"unknown field in buyer", `{"kind":"invoice","currency":"SAR","buyer":{"name":"Ali","nickname":"A"},"lines":[` + okLine + `]}`, sale.Options{}, []string{"buyer.nickname"}},
	{"unknown field in address", `{"kind":"invoice","currency":"SAR","buyer":{"name":"Ali","address":{"zip":"1"}},"lines":[` + okLine + `]}`, sale.Options{}, []string{"buyer.address.zip"}},
	{"unknown field in a payment", `{"kind":"invoice","currency":"SAR","lines":[` + okLine + `],"payments":[{"means":"cash","tip":"1"}]}`, sale.Options{}, []string{"payments[0].tip"}},

	{"missing kind", `{"currency":"SAR","lines":[` + okLine + `]}`, sale.Options{}, []string{"kind"}},
	{"bad kind", `{"kind":"receipt","currency":"SAR","lines":[` + okLine + `]}`, sale.Options{}, []string{"kind"}},
	{"credit note without original", `{"kind":"credit_note","currency":"SAR","reason":"returned","lines":[` + okLine + `]}`, sale.Options{}, []string{"original"}},
	{"credit note without reason", `{"kind":"credit_note","currency":"SAR","original":"17","lines":[` + okLine + `]}`, sale.Options{}, []string{"reason"}},
	{"debit note with blank original and reason", `{"kind":"debit_note","currency":"SAR","original":" ","reason":"\t","lines":[` + okLine + `]}`, sale.Options{}, []string{"original", "reason"}},
	{"invoice with original", `{"kind":"invoice","currency":"SAR","original":"17","lines":[` + okLine + `]}`, sale.Options{}, []string{"original"}},
	{"lower-case currency", `{"kind":"invoice","currency":"sar","lines":[` + okLine + `]}`, sale.Options{}, []string{"currency"}},
	{"four-letter currency", `{"kind":"invoice","currency":"SARX","lines":[` + okLine + `]}`, sale.Options{}, []string{"currency"}},
	{"missing currency, no default", `{"kind":"invoice","lines":[` + okLine + `]}`, sale.Options{}, []string{"currency"}},
	{"missing currency, bad default", `{"kind":"invoice","lines":[` + okLine + `]}`, sale.Options{DefaultCurrency: "riyal"}, []string{"currency"}},
	{"control character in note", `{"kind":"invoice","currency":"SAR","note":"ring \u0007","lines":[` + okLine + `]}`, sale.Options{}, []string{"note"}},
	{"overlong note", `{"kind":"invoice","currency":"SAR","note":"` + strings.Repeat("é", sale.MaxTextLength+1) + `","lines":[` + okLine + `]}`, sale.Options{}, []string{"note"}},

	{"buyer with nothing", `{"kind":"invoice","currency":"SAR","buyer":{},"lines":[` + okLine + `]}`, sale.Options{}, []string{"buyer"}},
	{"buyer with a blank name", `{"kind":"invoice","currency":"SAR","buyer":{"name":"  "},"lines":[` + okLine + `]}`, sale.Options{}, []string{"buyer"}},
	{"buyer id without scheme", `{"kind":"invoice","currency":"SAR","buyer":{"name":"Ali","id":"1010101010"},"lines":[` + okLine + `]}`, sale.Options{}, []string{"buyer.id_scheme"}},
	{"buyer scheme without id", `{"kind":"invoice","currency":"SAR","buyer":{"name":"Ali","id_scheme":"CRN"},"lines":[` + okLine + `]}`, sale.Options{}, []string{"buyer.id_scheme"}},
	{"buyer name with control character", `{"kind":"invoice","currency":"SAR","buyer":{"name":"A\u001bli"},"lines":[` + okLine + `]}`, sale.Options{}, []string{"buyer.name"}},
	{"lower-case country", `{"kind":"invoice","currency":"SAR","buyer":{"name":"Ali","address":{"country":"sa"}},"lines":[` + okLine + `]}`, sale.Options{}, []string{"buyer.address.country"}},
	{"three-letter country", `{"kind":"invoice","currency":"SAR","buyer":{"name":"Ali","address":{"country":"SAU"}},"lines":[` + okLine + `]}`, sale.Options{}, []string{"buyer.address.country"}},
	{"overlong city", `{"kind":"invoice","currency":"SAR","buyer":{"name":"Ali","address":{"city":"` + strings.Repeat("R", sale.MaxNameLength+1) + `"}},"lines":[` + okLine + `]}`, sale.Options{}, []string{"buyer.address.city"}},

	{"bad payment means", `{"kind":"invoice","currency":"SAR","lines":[` + okLine + `],"payments":[{"means":"bitcoin"}]}`, sale.Options{}, []string{"payments[0].means"}},
	{"missing payment means", `{"kind":"invoice","currency":"SAR","lines":[` + okLine + `],"payments":[{"means":"cash"},{"amount":"1.00"}]}`, sale.Options{}, []string{"payments[1].means"}},
	{"negative payment amount", `{"kind":"invoice","currency":"SAR","lines":[` + okLine + `],"payments":[{"means":"cash","amount":"-8.05"}]}`, sale.Options{}, []string{"payments[0].amount"}},
	{"payment amount with 3 decimals", `{"kind":"invoice","currency":"SAR","lines":[` + okLine + `],"payments":[{"means":"cash","amount":"8.050"}]}`, sale.Options{}, []string{"payments[0].amount"}},

	// Every problem is reported at once, in document order.
	{"many problems", `{"kind":"receipt","currency":"sar","lines":[{"name":"","quantity":"0","unit_price":"-1","vat_category":"S","vat_rate":"100"},` + okLine + `,{"name":"Water","quantity":"1","unit_price":"1","vat_category":"Z","vat_rate":"1"}],"payments":[{"means":"gold","amount":"-1"}]}`,
		sale.Options{}, []string{"kind", "currency", "lines[0].name", "lines[0].quantity", "lines[0].unit_price", "lines[0].vat_rate", "lines[2].vat_rate", "payments[0].means", "payments[0].amount"}},
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range badSales {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sale.Decode([]byte(tc.body), tc.opts)
			if err == nil {
				t.Fatalf("Decode accepted %s: %+v", tc.body, s)
			}
			if s != nil {
				t.Errorf("Decode returned a sale with its error: %+v", s)
			}
			var errs sale.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Decode error is %T (%v), want sale.Errors", err, err)
			}
			var fields []string
			for _, e := range errs {
				fields = append(fields, e.Field)
				if e.Rule == "" {
					t.Errorf("%q has an empty rule", e.Field)
				}
			}
			if !reflect.DeepEqual(fields, tc.fields) {
				t.Errorf("Decode error fields = %q, want %q\n%v", fields, tc.fields, err)
			}
		})
	}
}

// TestDecodeStrictRules: the messages of the strict JSON rules name the
// field and say what to do.
func TestDecodeStrictRules(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{invoice(okLine + "," + okLine + `,{"name":"Tea","Quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"15"}`),
			`lines[2].Quantity: is not a field of a sale; field names are case-sensitive — did you mean "quantity"?`},
		{`{"kind":"invoice","kind":"invoice","currency":"SAR","lines":[` + okLine + `]}`, `kind: appears twice in the object`},
		{`{"kind":"invoice","currency":"SAR","discount":"1","lines":[` + okLine + `]}`, `discount: is not a field of a sale; check the spelling`},
		{`{"kind":"invoice","currency":"SAR","lines":[{"name":"Tea"`, `body: is truncated JSON: it ends after byte 57`},
		{`{"kind":"invoice","currency":"SAR","note":"\ud800","lines":[` + okLine + `]}`, `note: contains the escape \ud800, half of a surrogate pair`},
		{invoice(okLine) + "{}", `body: has data after the sale object`},
	} {
		_, err := sale.Decode([]byte(tc.body), sale.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%s) = %v, want %q", tc.body, err, tc.want)
		}
	}
}

// TestDecodeNumberRule checks that a JSON number in an amount's place says
// why (precision), not just "wrong type".
func TestDecodeNumberRule(t *testing.T) {
	_, err := sale.Decode([]byte(withLine(`"name":"Tea","quantity":2,"unit_price":"3.50","vat_category":"S","vat_rate":"15"`)), sale.Options{})
	if err == nil || !strings.Contains(err.Error(), "decimal string") {
		t.Errorf("error = %v, want it to ask for a decimal string", err)
	}
}

var goodSales = []struct {
	name string
	body string
	opts sale.Options
	want *sale.Sale
}{
	{
		name: "minimal invoice",
		body: invoice(okLine),
		want: &sale.Sale{Kind: sale.Invoice, Currency: "SAR", Lines: []sale.Line{
			{Name: "Tea", Quantity: money.Decimal{Coef: 2}, UnitPrice: money.Decimal{Coef: 350, Scale: 2}, Category: sale.Standard, Rate: money.Decimal{Coef: 15}},
		}},
	},
	{
		name: "default currency and trailing whitespace",
		body: `{"kind":"invoice","lines":[` + okLine + `]}` + "\n\t ",
		opts: sale.Options{DefaultCurrency: "KES"},
		want: &sale.Sale{Kind: sale.Invoice, Currency: "KES", Lines: []sale.Line{
			{Name: "Tea", Quantity: d("2"), UnitPrice: d("3.50"), Category: sale.Standard, Rate: d("15")},
		}},
	},
	{
		name: "credit note with everything",
		body: `{
			"kind": "credit_note", "currency": "SAR", "original": " INV-17 ", "reason": "returned", "note": "thank you\ncome again",
			"buyer": {"name": " Ali Co ", "vat_number": "300000000000003", "id_scheme": "CRN", "id": "1010101010",
				"address": {"street": "King Fahd Rd", "building_number": "1234", "district": "Olaya", "city": "Riyadh", "postal_code": "12345", "country": "SA"}},
			"lines": [
				{"name": "  Tea ", "quantity": "0.001", "unit_price": "0.0001", "vat_category": "S", "vat_rate": "16.00", "seller_code": "T-1", "buyer_code": "B-1", "standard_code": "6281000000000"},
				{"name": "Bread", "quantity": "3", "unit_price": "0", "vat_category": "Z", "exemption_reason": "VATEX-SA-32"},
				{"name": "Rent", "quantity": "1", "unit_price": "1000", "vat_category": "E", "vat_rate": "0"},
				{"name": "Fine", "quantity": "1", "unit_price": "1", "vat_category": "O", "vat_rate": null}
			],
			"payments": [{"means": "cash", "amount": "10.00"}, {"means": "card"}, {"means": "bank_transfer", "amount": "0"}, {"means": "credit"}, {"means": "mobile_money"}, {"means": "other"}]
		}`,
		want: &sale.Sale{
			Kind: sale.CreditNote, Currency: "SAR", Original: "INV-17", Reason: "returned", Note: "thank you\ncome again",
			Buyer: &sale.Buyer{Name: "Ali Co", VATNumber: "300000000000003", IDScheme: "CRN", ID: "1010101010",
				Address: &sale.Address{Street: "King Fahd Rd", BuildingNumber: "1234", District: "Olaya", City: "Riyadh", PostalCode: "12345", Country: "SA"}},
			Lines: []sale.Line{
				{Name: "Tea", Quantity: d("0.001"), UnitPrice: d("0.0001"), Category: sale.Standard, Rate: d("16.00"), SellerCode: "T-1", BuyerCode: "B-1", StandardCode: "6281000000000"},
				{Name: "Bread", Quantity: d("3"), UnitPrice: d("0"), Category: sale.ZeroRated, ExemptionReason: "VATEX-SA-32"},
				{Name: "Rent", Quantity: d("1"), UnitPrice: d("1000"), Category: sale.Exempt},
				{Name: "Fine", Quantity: d("1"), UnitPrice: d("1"), Category: sale.OutOfScope},
			},
			Payments: []sale.Payment{
				{Means: sale.Cash, Amount: ptr(d("10.00"))}, {Means: sale.Card}, {Means: sale.BankTransfer, Amount: ptr(d("0"))},
				{Means: sale.Credit}, {Means: sale.MobileMoney}, {Means: sale.Other},
			},
		},
	},
	{
		name: "debit note, buyer by VAT number only, rate 99.99, longest name",
		body: `{"kind":"debit_note","currency":"KZT","original":"42","reason":"price correction","buyer":{"vat_number":"123456789012"},"lines":[` +
			`{"name":"` + strings.Repeat("ж", sale.MaxNameLength) + `","quantity":"1000000000","unit_price":"0.0001","vat_category":"S","vat_rate":"99.99"}]}`,
		want: &sale.Sale{Kind: sale.DebitNote, Currency: "KZT", Original: "42", Reason: "price correction",
			Buyer: &sale.Buyer{VATNumber: "123456789012"},
			Lines: []sale.Line{{Name: strings.Repeat("ж", sale.MaxNameLength), Quantity: d("1000000000"), UnitPrice: d("0.0001"), Category: sale.Standard, Rate: d("99.99")}},
		},
	},
	{
		// A pair is one character; "\\ud800" is a backslash and five letters.
		name: "surrogate pair and an escaped backslash before u",
		body: `{"kind":"invoice","currency":"SAR","note":"\ud83d\ude00 \\ud800","lines":[` + okLine + `]}`,
		want: &sale.Sale{Kind: sale.Invoice, Currency: "SAR", Note: "\U0001F600 \\ud800", Lines: []sale.Line{
			{Name: "Tea", Quantity: d("2"), UnitPrice: d("3.50"), Category: sale.Standard, Rate: d("15")},
		}},
	},
	{
		name: "null buyer is anonymous",
		body: `{"kind":"invoice","currency":"SAR","buyer":null,"lines":[` + okLine + `],"payments":null}`,
		want: &sale.Sale{Kind: sale.Invoice, Currency: "SAR", Lines: []sale.Line{
			{Name: "Tea", Quantity: d("2"), UnitPrice: d("3.50"), Category: sale.Standard, Rate: d("15")},
		}},
	},
}

func ptr[T any](v T) *T { return &v }

func TestDecodeAccepts(t *testing.T) {
	for _, tc := range goodSales {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sale.Decode([]byte(tc.body), tc.opts)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decode =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestDecodeMaxLines(t *testing.T) {
	s, err := sale.Decode([]byte(invoice(strings.Repeat(okLine+",", sale.MaxLines-1)+okLine)), sale.Options{})
	if err != nil || len(s.Lines) != sale.MaxLines {
		t.Fatalf("Decode of %d lines: %v", sale.MaxLines, err)
	}
}

func TestErrors(t *testing.T) {
	var es sale.Errors
	if es.Err() != nil {
		t.Errorf("empty Errors.Err() = %v, want nil", es.Err())
	}
	es.Add("lines[0].quantity", "must be above %d", 0)
	es.Add("", "body is empty")
	if got, want := es.Error(), "invalid sale: lines[0].quantity: must be above 0; body is empty"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if es.Err() == nil {
		t.Error("non-empty Errors.Err() = nil")
	}
}

// FuzzDecode: Decode never panics; what it rejects is a non-empty Errors,
// and what it accepts keeps the model's invariants.
func FuzzDecode(f *testing.F) {
	for _, tc := range badSales {
		f.Add(tc.body)
	}
	for _, tc := range goodSales {
		f.Add(tc.body)
	}
	for _, tc := range badAdjustments {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		s, err := sale.Decode([]byte(body), sale.Options{})
		if err != nil {
			var errs sale.Errors
			if !errors.As(err, &errs) || len(errs) == 0 || s != nil {
				t.Fatalf("Decode(%q) = %v, %v; want nil and a non-empty sale.Errors", body, s, err)
			}
			_ = errs.Error()
			return
		}
		checkInvariants(t, s)
	})
}

func checkInvariants(t *testing.T, s *sale.Sale) {
	t.Helper()
	zero := money.Decimal{}
	hundred := d("100")
	switch s.Kind {
	case sale.Invoice:
		if s.Original != "" {
			t.Errorf("invoice with original %q", s.Original)
		}
	case sale.CreditNote, sale.DebitNote:
		if s.Original == "" || s.Reason == "" {
			t.Errorf("%s without original (%q) or reason (%q)", s.Kind, s.Original, s.Reason)
		}
	default:
		t.Errorf("kind %q accepted", s.Kind)
	}
	if len(s.Currency) != 3 || strings.ToUpper(s.Currency) != s.Currency {
		t.Errorf("currency %q accepted", s.Currency)
	}
	if len(s.Lines) == 0 || len(s.Lines) > sale.MaxLines {
		t.Fatalf("%d lines accepted", len(s.Lines))
	}
	for i, l := range s.Lines {
		if l.Name == "" {
			t.Errorf("lines[%d]: empty name", i)
		}
		if l.Quantity.Sign() <= 0 || l.Quantity.Scale > sale.MaxQuantityScale {
			t.Errorf("lines[%d]: quantity %v accepted", i, l.Quantity)
		}
		if l.UnitPrice.Sign() < 0 || l.UnitPrice.Scale > sale.MaxPriceScale {
			t.Errorf("lines[%d]: unit price %v accepted", i, l.UnitPrice)
		}
		switch l.Category {
		case sale.Standard:
			if money.Cmp(l.Rate, zero) <= 0 || money.Cmp(l.Rate, hundred) >= 0 || l.Rate.Scale > sale.MaxRateScale {
				t.Errorf("lines[%d]: S rate %v accepted", i, l.Rate)
			}
			if l.ExemptionReason != "" {
				t.Errorf("lines[%d]: S line with exemption reason", i)
			}
		case sale.ZeroRated, sale.Exempt, sale.OutOfScope:
			if !l.Rate.IsZero() {
				t.Errorf("lines[%d]: %s rate %v accepted", i, l.Category, l.Rate)
			}
		default:
			t.Errorf("lines[%d]: category %q accepted", i, l.Category)
		}
	}
	for i, p := range s.Payments {
		switch p.Means {
		case sale.Cash, sale.Card, sale.BankTransfer, sale.Credit, sale.MobileMoney, sale.Other:
		default:
			t.Errorf("payments[%d]: means %q accepted", i, p.Means)
		}
		if p.Amount != nil && (p.Amount.Sign() < 0 || p.Amount.Scale > 2) {
			t.Errorf("payments[%d]: amount %v accepted", i, *p.Amount)
		}
	}
	if b := s.Buyer; b != nil {
		if b.Name == "" && b.VATNumber == "" && b.ID == "" {
			t.Errorf("empty buyer accepted")
		}
		if (b.ID == "") != (b.IDScheme == "") {
			t.Errorf("buyer id %q with scheme %q accepted", b.ID, b.IDScheme)
		}
	}
}

// TestDecodeCharacterClasses puts each class of characters into a line's
// name, the buyer's name and the note: each is accepted or refused as the
// character policy says, and a refusal names exactly that field.
func TestDecodeCharacterClasses(t *testing.T) {
	for _, c := range textpolicytest.Classes() {
		for _, f := range []struct {
			field string
			body  string
			want  bool
		}{
			{"lines[0].name", invoice(`{"name":` + c.JSON + `,"quantity":"1","unit_price":"1","vat_category":"S","vat_rate":"15"}`), c.InName},
			{"buyer.name", `{"kind":"invoice","currency":"SAR","buyer":{"name":` + c.JSON + `},"lines":[` + okLine + `]}`, c.InName},
			{"note", `{"kind":"invoice","currency":"SAR","note":` + c.JSON + `,"lines":[` + okLine + `]}`, c.InNote},
		} {
			s, err := sale.Decode([]byte(f.body), sale.Options{})
			if f.want {
				if err != nil {
					t.Errorf("%s in %s: %v", c.Name, f.field, err)
				}
				continue
			}
			var errs sale.Errors
			if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Field != f.field {
				t.Errorf("%s in %s: Decode = %+v, %v; want one error naming %s", c.Name, f.field, s, err, f.field)
			}
		}
	}
}

// teaLine is okLine with more fields: 2 × 3.50 = 7.00 at 15 %, 8.05 with
// VAT.
func teaLine(extra string) string {
	return `{"name":"Tea","quantity":"2","unit_price":"3.50","vat_category":"S","vat_rate":"15"` + extra + `}`
}

// basket is an invoice of lines (the inside of the JSON array) with more
// top-level fields.
func basket(lines, extra string) string {
	return `{"kind":"invoice","currency":"SAR","lines":[` + lines + `]` + extra + `}`
}

// repeated is n copies of item, comma-separated.
func repeated(item string, n int) string {
	return strings.TrimSuffix(strings.Repeat(item+",", n), ",")
}

const (
	breadLine = `{"name":"Bread","quantity":"1","unit_price":"3.00","vat_category":"Z","exemption_reason":"VATEX-SA-32"}`
	milkLine  = `{"name":"Milk","quantity":"1","unit_price":"4.00","vat_category":"Z","exemption_reason":"VATEX-SA-33"}`
	freeLine  = `{"name":"Sample","quantity":"1","unit_price":"0","vat_category":"Z","exemption_reason":"VATEX-SA-32"}`
)

// badAdjustments are sales whose discounts, charges, payments or cash
// rounding break a rule: each is refused with exactly one error, naming
// field, whose rule contains rule.
var badAdjustments = []struct {
	name, body, field, rule string
}{
	{"line discount with percent and amount", invoice(teaLine(`,"discounts":[{"percent":"10","amount":"1.00","reason":"Promo"}]`)),
		"lines[0].discounts[0]", "either percent or amount, not both"},
	{"line discount with neither percent nor amount", invoice(teaLine(`,"discounts":[{"reason":"Promo"}]`)),
		"lines[0].discounts[0]", "needs a percent"},
	{"percent 0", invoice(teaLine(`,"discounts":[{"percent":"0","reason":"Promo"}]`)),
		"lines[0].discounts[0].percent", "must be above 0 and at most 100"},
	{"percent 100.01", invoice(teaLine(`,"discounts":[{"percent":"100.01","reason":"Promo"}]`)),
		"lines[0].discounts[0].percent", "100.01 must be above 0 and at most 100"},
	{"percent with 3 decimals", invoice(teaLine(`,"charges":[{"percent":"12.345","reason":"Gift wrap"}]`)),
		"lines[0].charges[0].percent", "has 3 decimals; at most 2"},
	{"percent as a JSON number", invoice(teaLine(`,"discounts":[{"percent":10,"reason":"Promo"}]`)),
		"lines[0].discounts[0].percent", "decimal string"},
	{"amount 0", invoice(teaLine(`,"discounts":[{"amount":"0.00","reason":"Promo"}]`)),
		"lines[0].discounts[0].amount", "must be greater than zero"},
	{"negative amount", invoice(teaLine(`,"discounts":[{"amount":"-1.00","reason":"Promo"}]`)),
		"lines[0].discounts[0].amount", "must be greater than zero"},
	{"amount with 3 decimals", invoice(teaLine(`,"discounts":[{"amount":"1.005","reason":"Promo"}]`)),
		"lines[0].discounts[0].amount", "has 3 decimals; at most 2"},
	{"amount above the limit", invoice(teaLine(`,"charges":[{"amount":"100000000000.01","reason":"Setup"}]`)),
		"lines[0].charges[0].amount", "exceeds the limit of 100000000000.00"},
	{"missing reason", invoice(teaLine(`,"discounts":[{"percent":"10"}]`)),
		"lines[0].discounts[0].reason", "is required"},
	{"blank reason", basket(teaLine(""), `,"discounts":[{"percent":"10","reason":"   "}]`),
		"discounts[0].reason", "is required"},
	{"control character in reason", invoice(teaLine(`,"discounts":[{"percent":"10","reason":"Promo\u0007"}]`)),
		"lines[0].discounts[0].reason", "control character U+0007"},
	{"overlong reason code", invoice(teaLine(`,"discounts":[{"percent":"10","reason":"Promo","reason_code":"` + strings.Repeat("9", sale.MaxCodeLength+1) + `"}]`)),
		"lines[0].discounts[0].reason_code", "at most 64"},
	{"price discount above the unit price", invoice(teaLine(`,"price_discount":"3.5001"`)),
		"lines[0].price_discount", "3.5001 is above the unit price 3.50"},
	{"negative price discount", invoice(teaLine(`,"price_discount":"-0.50"`)),
		"lines[0].price_discount", "must not be negative"},
	{"price discount with 5 decimals", invoice(teaLine(`,"price_discount":"0.00001"`)),
		"lines[0].price_discount", "has 5 decimals; at most 4"},
	{"line discounts above the line amount", invoice(teaLine(`,"discounts":[{"amount":"5.00","reason":"Promo"},{"percent":"28.7","reason":"Staff"}]`)),
		// 28.7 % of 7.00 = 2.009 → 2.01; 5.00 + 2.01 = 7.01 > 7.00.
		"lines[0].discounts", "7.01 in all, exceed its amount 7.00"},
	{"11 adjustments on a line", invoice(teaLine(`,"discounts":[` + repeated(`{"amount":"0.01","reason":"Promo"}`, 6) + `],"charges":[` + repeated(`{"amount":"0.01","reason":"Wrap"}`, 5) + `]`)),
		"lines[0].discounts", "at most 10 together on one line"},
	{"21 adjustments on the document", basket(teaLine(""), `,"discounts":[`+repeated(`{"percent":"1","reason":"Promo"}`, 11)+`],"charges":[`+repeated(`{"amount":"0.01","reason":"Bag","vat_category":"S","vat_rate":"15"}`, 10)+`]`),
		"discounts", "at most 20 together"},
	{"charge without vat_category", basket(teaLine(""), `,"charges":[{"amount":"5.00","reason":"Delivery"}]`),
		"charges[0].vat_category", "is required for a charge"},
	{"percent charge without vat_category", basket(teaLine(""), `,"charges":[{"percent":"10","reason":"Service"}]`),
		"charges[0].vat_category", "is required for a charge"},
	{"amount discount without vat_category", basket(teaLine(""), `,"discounts":[{"amount":"1.00","reason":"Coupon"}]`),
		"discounts[0].vat_category", "only a percentage discount may leave it out"},
	{"unknown vat_category", basket(teaLine(""), `,"charges":[{"amount":"1.00","reason":"Bag","vat_category":"X"}]`),
		"charges[0].vat_category", `must be one of "S"`},
	{"vat_rate on a Z discount", basket(teaLine("")+","+breadLine, `,"discounts":[{"amount":"1.00","reason":"Coupon","vat_category":"Z","vat_rate":"15"}]`),
		"discounts[0].vat_rate", "must be 0 or omitted for category Z"},
	{"S charge without vat_rate", basket(teaLine(""), `,"charges":[{"amount":"1.00","reason":"Bag","vat_category":"S"}]`),
		"charges[0].vat_rate", "is required"},
	{"exemption_reason on an S discount", basket(teaLine(""), `,"discounts":[{"amount":"1.00","reason":"Coupon","vat_category":"S","vat_rate":"15","exemption_reason":"VATEX-SA-32"}]`),
		"discounts[0].exemption_reason", "only allowed in categories Z, E and O"},
	{"basket-wide discount with a vat_rate", basket(teaLine(""), `,"discounts":[{"percent":"10","reason":"Staff","vat_rate":"15"}]`),
		"discounts[0].vat_category", "is required when vat_rate or exemption_reason is given"},
	{"document discount above its group", basket(teaLine("")+","+breadLine, `,"discounts":[{"amount":"7.01","reason":"Coupon","vat_category":"S","vat_rate":"15"}]`),
		"discounts", "its total without VAT would be -0.01"},
	{"percent on a group with no lines", basket(teaLine(""), `,"discounts":[{"percent":"10","reason":"Promo","vat_category":"S","vat_rate":"5"}]`),
		"discounts[0].percent", "no amount in VAT category S 5.00%"},
	{"basket-wide percent on free lines", basket(freeLine, `,"discounts":[{"percent":"10","reason":"Staff"}]`),
		"discounts[0].percent", "nothing to take a percentage of"},
	{"Z discount, two Z exemption reasons, none named", basket(teaLine("")+","+breadLine+","+milkLine, `,"discounts":[{"amount":"1.00","reason":"Coupon","vat_category":"Z"}]`),
		"discounts[0].exemption_reason", "different exemption reasons"},
	{"tendered on card", basket(okLine, `,"payments":[{"means":"card","tendered":"10.00"}]`),
		"payments[0].tendered", "only for cash"},
	{"tendered below the cash amount", basket(okLine, `,"payments":[{"means":"cash","tendered":"8.00"}]`),
		"payments[0].tendered", "8.00 is below the amount due in cash, 8.05"},
	{"tendered below a split cash amount", basket(okLine, `,"payments":[{"means":"card","amount":"5.00"},{"means":"cash","tendered":"3.00"}]`),
		"payments[1].tendered", "3.00 is below the amount due in cash, 3.05"},
	{"tendered with 3 decimals", basket(okLine, `,"payments":[{"means":"cash","tendered":"10.000"}]`),
		"payments[0].tendered", "has 3 decimals"},
	{"tendered as a JSON number", basket(okLine, `,"payments":[{"means":"cash","tendered":10}]`),
		"payments[0].tendered", "decimal string"},
	{"tendered where the split is unknown", basket(okLine, `,"payments":[{"means":"cash","tendered":"20.00"},{"means":"cash"}]`),
		"payments[0].tendered", "needs the payment's amount"},
	{"payments not adding up", basket(okLine, `,"payments":[{"means":"card","amount":"5.00"},{"means":"cash","amount":"3.00"}]`),
		"payments", "add up to 8.00, but the amount due is 8.05"},
	{"payments above the amount due", basket(okLine, `,"payments":[{"means":"card","amount":"9.00"},{"means":"cash"}]`),
		"payments", "add up to 9.00, more than the amount due 8.05"},
	{"cash_rounding 0.10", basket(okLine, `,"cash_rounding":"0.10"`),
		"cash_rounding", `"0.10" must be "none", "0.05", "0.25" or "1.00"`},
	{"cash_rounding as a JSON number", basket(okLine, `,"cash_rounding":0.05`),
		"cash_rounding", `must be "none", "0.05", "0.25" or "1.00", as a string`},
}

func TestDecodeRejectsAdjustments(t *testing.T) {
	for _, tc := range badAdjustments {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sale.Decode([]byte(tc.body), sale.Options{})
			var errs sale.Errors
			if !errors.As(err, &errs) || s != nil {
				t.Fatalf("Decode = %+v, %v; want a refusal naming %s\n%s", s, err, tc.field, tc.body)
			}
			if len(errs) != 1 || errs[0].Field != tc.field || !strings.Contains(errs[0].Rule, tc.rule) {
				t.Errorf("Decode refused with %v\nwant one error: %s: …%s…", err, tc.field, tc.rule)
			}
		})
	}
}

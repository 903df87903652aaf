package sale_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/sale"
)

// The item fields of a line and the reason code of a note are carried as
// sent (trimmed), optional in the model, and refused where they break the
// limits of a code or do not belong.
func TestDecodeItemFieldsAndReasonCode(t *testing.T) {
	line := `{"name":"Maize flour 2 kg","quantity":"2","unit_price":"150.00","vat_category":"S","vat_rate":"16",` +
		`"item_class":" 5059690800 ","packaging_unit":"NT","quantity_unit":"U","item_code":"KE1NTXU0000001"}`
	s, err := sale.Decode([]byte(creditNote(`"reason_code":" 06 ",`, line)), sale.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := s.Lines[0]
	if l.ItemClass != "5059690800" || l.PackagingUnit != "NT" || l.QuantityUnit != "U" || l.ItemCode != "KE1NTXU0000001" {
		t.Errorf("line item fields = %q %q %q %q", l.ItemClass, l.PackagingUnit, l.QuantityUnit, l.ItemCode)
	}
	if s.ReasonCode != "06" {
		t.Errorf("ReasonCode = %q, want 06", s.ReasonCode)
	}
	// Without them the sale is still a sale: the model does not require them.
	if s, err := sale.Decode([]byte(invoice(okLine)), sale.Options{}); err != nil || s.Lines[0].ItemCode != "" || s.ReasonCode != "" {
		t.Errorf("a sale without item fields: %v %+v", err, s)
	}

	long := strings.Repeat("9", sale.MaxCodeLength+1)
	withField := func(k, v string) string {
		return invoice(`{"name":"Tea","quantity":"1","unit_price":"1","vat_category":"S","vat_rate":"16","` + k + `":"` + v + `"}`)
	}
	for name, tc := range map[string]struct{ body, field string }{
		"reason_code on an invoice":      {`{"kind":"invoice","currency":"KES","reason_code":"06","lines":[` + okLine + `]}`, "reason_code"},
		"reason_code too long":           {creditNote(`"reason_code":"`+long+`",`, okLine), "reason_code"},
		"reason_code a number":           {creditNote(`"reason_code":6,`, okLine), "reason_code"},
		"item_class too long":            {withField("item_class", long), "lines[0].item_class"},
		"packaging_unit with a tab":      {withField("packaging_unit", `N\tT`), "lines[0].packaging_unit"},
		"quantity_unit with a line feed": {withField("quantity_unit", `U\nX`), "lines[0].quantity_unit"},
		"item_code too long":             {withField("item_code", long), "lines[0].item_code"},
		"item_code only spaces":          {withField("item_code", "\u200b"), "lines[0].item_code"},
		"Item_Code misspelt":             {withField("Item_Code", "KE1"), "lines[0].Item_Code"},
	} {
		_, err := sale.Decode([]byte(tc.body), sale.Options{DefaultCurrency: "KES"})
		var errs sale.Errors
		if !errors.As(err, &errs) || !slices.ContainsFunc(errs, func(e sale.FieldError) bool { return e.Field == tc.field }) {
			t.Errorf("%s: %v, want %s named", name, err, tc.field)
		}
	}
}

package sale_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/egsd/egsd/stamping/sale"
)

// creditNote is a credit note for "INV-1" with lines (the inside of the
// JSON array) and extra top-level fields.
func creditNote(extra, lines string) string {
	return `{"kind":"credit_note","currency":"SAR","original":"INV-1","reason":"returned",` + extra + `"lines":[` + lines + `]}`
}

// The note fields: original_external on notes, original_line on note
// lines, each with its JSON type; anything else names the field.
func TestDecodeNoteReferences(t *testing.T) {
	line := func(ref string) string {
		return `{"name":"Tea","quantity":"1","unit_price":"3.50","vat_category":"S","vat_rate":"15","original_line":` + ref + `}`
	}
	s, err := sale.Decode([]byte(creditNote(`"original_external":true,`, okLine+","+line("2"))), sale.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !s.OriginalExternal || s.Lines[0].OriginalLine != 0 || s.Lines[1].OriginalLine != 2 {
		t.Errorf("decoded %+v", s)
	}
	bad := map[string]struct {
		body  string
		field string
	}{
		"original_line on an invoice":      {invoice(line("1")), "lines[0].original_line"},
		"original_line zero":               {creditNote("", line("0")), "lines[0].original_line"},
		"original_line past the limit":     {creditNote("", okLine+","+line("1001")), "lines[1].original_line"},
		"original_line a string":           {creditNote("", okLine+","+line(`"2"`)), "lines[1].original_line"},
		"original_line a fraction":         {creditNote("", line("1.5")), "lines[0].original_line"},
		"original_external on an invoice":  {`{"kind":"invoice","original_external":true,"lines":[` + okLine + `]}`, "original_external"},
		"original_external a string":       {creditNote(`"original_external":"yes",`, okLine), "original_external"},
		"original_external false, invoice": {`{"kind":"invoice","original_external":false,"lines":[` + okLine + `]}`, ""},
	}
	for name, tc := range bad {
		_, err := sale.Decode([]byte(tc.body), sale.Options{DefaultCurrency: "SAR"})
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v, want accepted", name, err)
			}
			continue
		}
		var errs sale.Errors
		if !errors.As(err, &errs) || !slices.ContainsFunc(errs, func(e sale.FieldError) bool { return e.Field == tc.field }) {
			t.Errorf("%s: %v, want %s named", name, err, tc.field)
		}
	}
}

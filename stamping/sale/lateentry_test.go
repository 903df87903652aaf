package sale_test

import (
	"errors"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/sale"
)

// TestDecodeLateEntry reads transaction_time and incident into Late, with
// the offset the POS gave, and leaves Late nil on an ordinary sale.
func TestDecodeLateEntry(t *testing.T) {
	s, err := sale.Decode([]byte(`{"kind":"invoice","currency":"SAR","transaction_time":"2031-03-01T12:05:00+03:00","incident":7,"lines":[`+okLine+`]}`), sale.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Late == nil {
		t.Fatal("Late is nil")
	}
	if want := time.Date(2031, 3, 1, 9, 5, 0, 0, time.UTC); !s.Late.TransactionTime.Equal(want) || s.Late.Incident != 7 {
		t.Errorf("Late = %+v, want %v and incident 7", s.Late, want)
	}
	if _, off := s.Late.TransactionTime.Zone(); off != 3*3600 {
		t.Errorf("offset %d, want the POS's +03:00", off)
	}
	if got, want := s.Late.Text(), "Issued late for unit failure incident 7; transaction time 2031-03-01T12:05:00+03:00"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
	plain, err := sale.Decode([]byte(invoice(okLine)), sale.Options{})
	if err != nil || plain.Late != nil {
		t.Errorf("an ordinary sale: Late = %+v, err %v", plain.Late, err)
	}
}

// TestDecodeLateEntryRefusals names the field of each malformed late
// entry.
func TestDecodeLateEntryRefusals(t *testing.T) {
	for _, c := range []struct{ name, fields, field string }{
		{"no offset", `"transaction_time":"2031-03-01T12:05:00"`, "transaction_time"},
		{"date only", `"transaction_time":"2031-03-01"`, "transaction_time"},
		{"not a time", `"transaction_time":"yesterday"`, "transaction_time"},
		{"incident without a time", `"incident":3`, "incident"},
		{"incident zero", `"transaction_time":"2031-03-01T12:05:00Z","incident":0`, "incident"},
		{"incident negative", `"transaction_time":"2031-03-01T12:05:00Z","incident":-1`, "incident"},
		{"incident as a string", `"transaction_time":"2031-03-01T12:05:00Z","incident":"3"`, "incident"},
		{"time as a number", `"transaction_time":1700000000`, "transaction_time"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := sale.Decode([]byte(`{"kind":"invoice","currency":"SAR",`+c.fields+`,"lines":[`+okLine+`]}`), sale.Options{})
			var errs sale.Errors
			if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Field != c.field {
				t.Fatalf("err = %v, want one error on %s", err, c.field)
			}
		})
	}
}

package etims_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/etims"
)

// Number writes the two numbers in place and changes no other byte.
func TestNumber(t *testing.T) {
	tmpl, err := etims.Template(mustBuild(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := etims.Number(tmpl, 1234567, 0)
	if err != nil {
		t.Fatal(err)
	}
	const head = `{"invcNo":0,"orgInvcNo":0,`
	if !bytes.Equal(got[len(`{"invcNo":1234567,"orgInvcNo":0,`):], tmpl[len(head):]) {
		t.Errorf("the rest of the request changed:\n%s\n%s", got, tmpl)
	}
	if n, o, err := etims.Numbers(got); n != 1234567 || o != 0 || err != nil {
		t.Errorf("Numbers = %d %d %v", n, o, err)
	}
	// The template is not changed.
	if !bytes.HasPrefix(tmpl, []byte(head)) {
		t.Error("Number changed its template")
	}
}

func TestNumberRefuses(t *testing.T) {
	sale, err := etims.Template(mustBuild(t))
	if err != nil {
		t.Fatal(err)
	}
	cn, err := etims.BuildSale(creditNote(), etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-2", IssuedAt: nairobi("2026-01-20 09:15:00")})
	if err != nil {
		t.Fatal(err)
	}
	note, err := etims.Template(cn)
	if err != nil {
		t.Fatal(err)
	}
	numberedSale, err := etims.Number(sale, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		tmpl              []byte
		invcNo, orgInvcNo int64
		want              string
	}{
		"invcNo 0":                   {sale, 0, 0, "starts at 1"},
		"negative invcNo":            {sale, -1, 0, "starts at 1"},
		"a sale naming an original":  {sale, 5, 4, "orgInvcNo 0"},
		"a note without an original": {note, 5, 0, "original"},
		"a note naming a later one":  {note, 5, 6, "original"},
		"a note naming itself":       {note, 5, 5, "original"},
		"a numbered request":         {numberedSale, 4, 0, "not a sale template"},
		"not JSON":                   {[]byte(`{"invcNo":0,"orgInvcNo":0,x`), 1, 0, "not a sale request"},
	} {
		if _, err := etims.Number(tc.tmpl, tc.invcNo, tc.orgInvcNo); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %q", name, err, tc.want)
		}
	}
	if _, err := etims.Number(note, 5, 4); err != nil {
		t.Errorf("a note naming an earlier original: %v", err)
	}
}

package etims

import (
	"fmt"

	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// Band is one of KRA's five taxation types, code class 04 (spec/etims.md
// §A4.3): A exempt, B the standard rate (16 %), C zero rated, D non-VAT,
// E the reduced rate (8 %).
type Band byte

// The bands.
const (
	BandA Band = 'A'
	BandB Band = 'B'
	BandC Band = 'C'
	BandD Band = 'D'
	BandE Band = 'E'
)

// Bands are the five bands in the order KRA's request lists them.
var Bands = []Band{BandA, BandB, BandC, BandD, BandE}

// ReceiptBands are the bands in the order a receipt prints them (Odoo's
// certified layout, spec/etims.md §A4.3): B, E, C, D, A.
var ReceiptBands = []Band{BandB, BandE, BandC, BandD, BandA}

func (b Band) String() string { return string(b) }

// index is b's place in Bands, or -1.
func (b Band) index() int {
	if b >= BandA && b <= BandE {
		return int(b - BandA)
	}
	return -1
}

// Label is the band's name as a receipt prints it.
func (b Band) Label() string {
	switch b {
	case BandA:
		return "A-Exempt"
	case BandB:
		return "B-VAT"
	case BandC:
		return "C-Zero Rated"
	case BandD:
		return "D-Non VAT"
	case BandE:
		return "E-VAT"
	}
	return string(b)
}

// Rates are the rates of the two taxed bands, from code class 04
// (userDfnCd1); A, C and D are 0 by definition.
type Rates struct {
	B, E money.Decimal
}

// DefaultRates are the rates of spec/etims.md §A4.3: B 16 %, E 8 %. The
// unit uses the code list's once it has fetched it.
var DefaultRates = Rates{B: money.MustParse("16"), E: money.MustParse("8")}

// Of is the rate of band b.
func (r Rates) Of(b Band) money.Decimal {
	switch b {
	case BandB:
		return r.B
	case BandE:
		return r.E
	}
	return money.Decimal{}
}

// BandOf maps a sale's VAT category and rate to KRA's band
// (spec/etims.md §A4.3): S at the B rate → B, S at the E rate → E, Z → C,
// E → A, O → D. A standard rate that is neither is an error.
func (r Rates) BandOf(c sale.VATCategory, rate money.Decimal) (Band, error) {
	switch c {
	case sale.Standard:
		switch {
		case money.Cmp(rate, r.B) == 0:
			return BandB, nil
		case money.Cmp(rate, r.E) == 0:
			return BandE, nil
		}
		return 0, fmt.Errorf("%s %% is not a Kenyan VAT rate: KRA's standard rate (band B) is %s %% and its reduced rate (band E) %s %%", rate, r.B, r.E)
	case sale.ZeroRated:
		return BandC, nil
	case sale.Exempt:
		return BandA, nil
	case sale.OutOfScope:
		return BandD, nil
	}
	return 0, fmt.Errorf("VAT category %q has no KRA band", c)
}

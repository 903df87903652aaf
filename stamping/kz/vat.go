package kz

import (
	"fmt"
	"strings"
	"time"

	"github.com/egsd/egsd/stamping/money"
)

// VATGroup is a group of supplies with its own rate.
type VATGroup string

// The groups (spec kazakhstan.md §B7).
const (
	// VATStandard is the standard rate: 12 % until 2025, 16 % from 2026.
	VATStandard VATGroup = "standard"
	// VATMedical is medicines, medical devices and medical services: 5 % in
	// 2026, 10 % from 2027.
	VATMedical VATGroup = "medical"
	// VATPeriodicals is periodicals and print: 10 % from 2027.
	VATPeriodicals VATGroup = "periodicals"
)

// VATPeriod is the rates in force from a date (inclusive) until the next
// period's.
type VATPeriod struct {
	From  time.Time // midnight, local time
	Rates map[VATGroup]money.Decimal
}

// VATTable is the rate table, periods in ascending order. The rate of a
// document is the one in force on its date; a return keeps the rate of the
// document it returns (its date is the original's).
type VATTable []VATPeriod

// almaty is UTC+5, Kazakhstan's single zone since 2024-03-01; the table's
// dates are local midnights.
var almaty = time.FixedZone("UTC+5", 5*3600)

func localDate(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, almaty) }

// DefaultVATTable is Kazakhstan's VAT: 12 % before the Tax Code of 2026,
// then 16 % standard and the reduced groups.
var DefaultVATTable = VATTable{
	{From: localDate(2009, 1, 1), Rates: map[VATGroup]money.Decimal{VATStandard: money.MustParse("12")}},
	{From: localDate(2026, 1, 1), Rates: map[VATGroup]money.Decimal{VATStandard: money.MustParse("16"), VATMedical: money.MustParse("5")}},
	{From: localDate(2027, 1, 1), Rates: map[VATGroup]money.Decimal{VATStandard: money.MustParse("16"), VATMedical: money.MustParse("10"), VATPeriodicals: money.MustParse("10")}},
}

// At is the period in force at t.
func (tab VATTable) At(t time.Time) (VATPeriod, error) {
	for i := len(tab) - 1; i >= 0; i-- {
		if !t.Before(tab[i].From) {
			return tab[i], nil
		}
	}
	return VATPeriod{}, fmt.Errorf("no VAT rates are known for %s", t.Format("2006-01-02"))
}

// Check reports whether rate (percent) is a rate of the period: the
// standard one or a reduced group's. The error lists the rates in force.
func (p VATPeriod) Check(rate money.Decimal) error {
	for _, r := range p.Rates {
		if money.Cmp(r, rate) == 0 {
			return nil
		}
	}
	var in []string
	for _, g := range []VATGroup{VATStandard, VATMedical, VATPeriodicals} {
		if r, ok := p.Rates[g]; ok {
			in = append(in, fmt.Sprintf("%s %% (%s)", r, g))
		}
	}
	return fmt.Errorf("%s %% is not a Kazakh VAT rate on %s; the rates in force then are %s", rate, p.From.Format("2006-01-02")+" onwards", strings.Join(in, ", "))
}

// PercentThousandths is a rate in percent as the protocol writes it: × 1000
// (16 % is 16000). Rates have at most three decimals.
func PercentThousandths(rate money.Decimal) (uint32, error) {
	r, err := rate.Rescale(3)
	if err != nil || money.Cmp(r, rate) != 0 || r.Coef < 0 || r.Coef > 100_000 {
		return 0, fmt.Errorf("VAT rate %s %% cannot be written in thousandths of a percent", rate)
	}
	return uint32(r.Coef), nil
}

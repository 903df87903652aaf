package kz

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/egsd/egsd/stamping/money"
)

// Money is an amount in tenge (bills) and tiyn (coins, 0–99), both
// required on the wire (spec §2.2).
type Money struct {
	Bills uint64
	Coins uint32
}

// MoneyOfCents is the Money of a non-negative amount in tiyn.
func MoneyOfCents(c int64) (Money, error) {
	if c < 0 {
		return Money{}, fmt.Errorf("amount %d.%02d is negative; the protocol carries no negative amounts", c/100, -c%100)
	}
	return Money{Bills: uint64(c / 100), Coins: uint32(c % 100)}, nil
}

// MoneyOf is the Money of a non-negative decimal with at most two decimals.
func MoneyOf(d money.Decimal) (Money, error) {
	c, err := centsOf(d)
	if err != nil {
		return Money{}, err
	}
	return MoneyOfCents(c)
}

// Cents is m in tiyn; coins of 100 or more (a sender that does not
// normalise) still count at their value. It fails when m is beyond int64.
func (m Money) Cents() (int64, error) {
	if m.Bills > (math.MaxInt64-uint64(m.Coins))/100 {
		return 0, fmt.Errorf("amount of %d tenge is too large", m.Bills)
	}
	return int64(m.Bills)*100 + int64(m.Coins), nil
}

// Decimal is m as a decimal with two decimals.
func (m Money) Decimal() (money.Decimal, error) {
	c, err := m.Cents()
	return money.Decimal{Coef: c, Scale: 2}, err
}

func (m Money) String() string {
	d, err := m.Decimal()
	if err != nil {
		return fmt.Sprintf("%d tenge %d tiyn", m.Bills, m.Coins)
	}
	return d.String()
}

// centsOf is d in hundredths; it fails when d has more than two decimals.
func centsOf(d money.Decimal) (int64, error) {
	r, err := d.Rescale(2)
	if err != nil {
		return 0, err
	}
	if money.Cmp(r, d) != 0 {
		return 0, fmt.Errorf("%s has more than two decimals", d)
	}
	return r.Coef, nil
}

func (m Money) encode(e *encoder) {
	e.uint(1, m.Bills)
	e.uint(2, uint64(m.Coins))
}

func (m *Money) decode(b []byte, _ int) error {
	return decodeMessage(b, "Money", func(f field) (known bool, err error) {
		switch f.num {
		case 1:
			m.Bills, err = f.uint64()
		case 2:
			m.Coins, err = f.uint32()
		default:
			return false, nil
		}
		return true, err
	}, need{1, "bills"}, need{2, "coins"})
}

// DateTime is a local wall-clock time (spec §2.9: the KKM's time zone,
// UTC+5 since 2024-03-01). Second is optional on the wire but always
// sent, as every implementation does.
type DateTime struct {
	Year, Month, Day     uint32
	Hour, Minute, Second uint32
}

// DateTimeOf is t's wall clock in t's own location.
func DateTimeOf(t time.Time) DateTime {
	return DateTime{uint32(t.Year()), uint32(t.Month()), uint32(t.Day()), uint32(t.Hour()), uint32(t.Minute()), uint32(t.Second())}
}

// Time is d in loc; it fails for a date or time out of range.
func (d DateTime) Time(loc *time.Location) (time.Time, error) {
	if d.Year < 1 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 || d.Hour > 23 || d.Minute > 59 || d.Second > 59 {
		return time.Time{}, fmt.Errorf("date and time %s are out of range", d)
	}
	t := time.Date(int(d.Year), time.Month(d.Month), int(d.Day), int(d.Hour), int(d.Minute), int(d.Second), 0, loc)
	if t.Day() != int(d.Day) {
		return time.Time{}, fmt.Errorf("date %s does not exist", d)
	}
	return t, nil
}

// IsZero reports whether d was never set.
func (d DateTime) IsZero() bool { return d == DateTime{} }

func (d DateTime) String() string {
	return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d", d.Year, d.Month, d.Day, d.Hour, d.Minute, d.Second)
}

func (d DateTime) encode(e *encoder) {
	e.message(1, func(e *encoder) {
		e.uint(1, uint64(d.Year))
		e.uint(2, uint64(d.Month))
		e.uint(3, uint64(d.Day))
	})
	e.message(2, func(e *encoder) {
		e.uint(1, uint64(d.Hour))
		e.uint(2, uint64(d.Minute))
		e.uint(3, uint64(d.Second))
	})
}

func (d *DateTime) decode(b []byte, depth int) error {
	r := required{msg: "DateTime"}
	err := fields(b, func(f field) error {
		var part decodable
		switch f.num {
		case 1:
			part = (*dateOf)(d)
		case 2:
			part = (*timeOf)(d)
		default:
			return nil
		}
		r.saw(f.num)
		return f.sub(part, depth)
	})
	if err != nil {
		return fmt.Errorf("DateTime: %w", err)
	}
	return errors.Join(r.need(1, "date"), r.need(2, "time"))
}

// dateOf and timeOf decode the Date and Time halves of a DateTime.
type dateOf DateTime
type timeOf DateTime

func (d *dateOf) decode(b []byte, _ int) error {
	return decodeMessage(b, "Date", func(f field) (known bool, err error) {
		switch f.num {
		case 1:
			d.Year, err = f.uint32()
		case 2:
			d.Month, err = f.uint32()
		case 3:
			d.Day, err = f.uint32()
		default:
			return false, nil
		}
		return true, err
	}, need{1, "year"}, need{2, "month"}, need{3, "day"})
}

func (d *timeOf) decode(b []byte, _ int) error {
	return decodeMessage(b, "Time", func(f field) (known bool, err error) {
		switch f.num {
		case 1:
			d.Hour, err = f.uint32()
		case 2:
			d.Minute, err = f.uint32()
		case 3:
			d.Second, err = f.uint32()
		default:
			return false, nil
		}
		return true, err
	}, need{1, "hour"}, need{2, "minute"})
}

// Operator is the cashier: a code (required) and a name.
type Operator struct {
	Code uint32
	Name string
}

func (o Operator) encode(e *encoder) {
	e.uint(1, uint64(o.Code))
	e.optString(2, o.Name)
}

func (o *Operator) decode(b []byte, _ int) error {
	r := required{msg: "Operator"}
	err := fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			o.Code, err = f.uint32()
		case 2:
			o.Name, err = f.string()
		default:
			return nil
		}
		r.saw(f.num)
		return err
	})
	if err != nil {
		return fmt.Errorf("Operator: %w", err)
	}
	return r.need(1, "code")
}

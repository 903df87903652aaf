// Package money holds exact decimal numbers for amounts, quantities and
// rates. Values are parsed from decimal strings into a scaled int64; there is
// no floating point anywhere, so "0.1" is exactly one tenth.
//
// Every operation that could lose a digit or overflow returns an error, and
// no result is ever approximated: a caller that ignores the error would hold
// a wrong amount. TestNoDiscardedErrors scans the module and fails on any
// call into this package whose error is assigned to _ or dropped.
package money

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// MaxIntegerDigits bounds the integer part of a parsed number. It does not
// make arithmetic safe by itself (two such numbers multiply past int64):
// every operation reports what it cannot represent, and callers set their
// own, tighter limits on amounts (package sale).
const MaxIntegerDigits = 12

// MaxScale is the largest number of decimals any Decimal may carry.
const MaxScale = 9

// Decimal is an exact decimal number: Coef × 10^-Scale.
// The zero value is 0.
type Decimal struct {
	Coef  int64
	Scale uint8
}

// Errors returned by Parse; callers wrap them with the field name.
var (
	ErrEmpty      = errors.New("is empty")
	ErrSyntax     = errors.New(`must be a plain decimal such as "12.50" (digits, an optional leading minus and one dot; no exponent, spaces or thousands separators)`)
	ErrTooLarge   = fmt.Errorf("has more than %d digits before the decimal point", MaxIntegerDigits)
	ErrTooPrecise = fmt.Errorf("has more than %d decimals", MaxScale)
	ErrOverflow   = errors.New("is out of range")
)

// Parse reads a plain decimal string. It accepts an optional leading '-',
// digits, and at most one '.', and rejects exponents, '+', spaces, NaN, Inf
// and empty parts ("1." and ".5" are rejected to keep the wire format strict).
func Parse(s string) (Decimal, error) {
	if s == "" {
		return Decimal{}, ErrEmpty
	}
	neg := false
	body := s
	if body[0] == '-' {
		neg = true
		body = body[1:]
	}
	intPart, fracPart, hasDot := strings.Cut(body, ".")
	if intPart == "" || (hasDot && fracPart == "") {
		return Decimal{}, ErrSyntax
	}
	for _, part := range []string{intPart, fracPart} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return Decimal{}, ErrSyntax
			}
		}
	}
	trimmed := strings.TrimLeft(intPart, "0")
	if len(trimmed) > MaxIntegerDigits {
		return Decimal{}, ErrTooLarge
	}
	if len(fracPart) > MaxScale {
		return Decimal{}, ErrTooPrecise
	}
	var coef int64
	for _, c := range trimmed + fracPart {
		digit := int64(c - '0')
		if coef > (math.MaxInt64-digit)/10 { // 12 integer digits + 9 decimals exceed int64
			return Decimal{}, ErrOverflow
		}
		coef = coef*10 + digit
	}
	if neg {
		coef = -coef
	}
	return Decimal{Coef: coef, Scale: uint8(len(fracPart))}, nil
}

// MustParse is Parse for constants in code and tests; it panics on error.
func MustParse(s string) Decimal {
	d, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("money.MustParse(%q): %v", s, err))
	}
	return d
}

// String formats d with exactly its scale of decimals ("12.50" stays "12.50").
func (d Decimal) String() string {
	neg := d.Coef < 0
	u := uint64(d.Coef)
	if neg {
		u = uint64(-d.Coef)
	}
	digits := fmt.Sprintf("%0*d", int(d.Scale)+1, u)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	if d.Scale == 0 {
		b.WriteString(digits)
		return b.String()
	}
	cut := len(digits) - int(d.Scale)
	b.WriteString(digits[:cut])
	b.WriteByte('.')
	b.WriteString(digits[cut:])
	return b.String()
}

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int {
	switch {
	case d.Coef < 0:
		return -1
	case d.Coef > 0:
		return 1
	}
	return 0
}

// IsZero reports whether d is 0.
func (d Decimal) IsZero() bool { return d.Coef == 0 }

var pow10 = [...]int64{1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// MaxStoredScale is the largest scale an arithmetic result can have (a
// product of two MaxScale numbers). Operations refuse a Decimal with more
// decimals (ErrTooPrecise) instead of guessing.
const MaxStoredScale = 18

// Rescale returns d with the given scale; it fails if that would drop
// non-zero digits or overflow.
func (d Decimal) Rescale(scale uint8) (Decimal, error) {
	if d.Scale > MaxStoredScale || scale > MaxStoredScale {
		return Decimal{}, ErrTooPrecise
	}
	switch {
	case scale == d.Scale:
		return d, nil
	case scale > d.Scale:
		m, err := mul64(d.Coef, pow10[scale-d.Scale])
		if err != nil {
			return Decimal{}, err
		}
		return Decimal{m, scale}, nil
	default:
		p := pow10[d.Scale-scale]
		if d.Coef%p != 0 {
			return Decimal{}, ErrTooPrecise
		}
		return Decimal{d.Coef / p, scale}, nil
	}
}

// Round rounds d half-up (half away from zero) to scale decimals, the rule
// tax authorities use ("round half-up" in ZATCA's XML standard §10).
func (d Decimal) Round(scale uint8) (Decimal, error) {
	if d.Scale > MaxStoredScale || scale > MaxStoredScale {
		return Decimal{}, ErrTooPrecise
	}
	if scale >= d.Scale {
		return d.Rescale(scale)
	}
	p := pow10[d.Scale-scale]
	q, r := d.Coef/p, d.Coef%p
	if r < 0 {
		r = -r
	}
	if r >= p-r { // 2r ≥ p without overflowing 2r
		if d.Coef < 0 {
			q--
		} else {
			q++
		}
	}
	return Decimal{q, scale}, nil
}

// Add returns a+b at the larger scale.
func Add(a, b Decimal) (Decimal, error) {
	a, b, err := align(a, b)
	if err != nil {
		return Decimal{}, err
	}
	s := a.Coef + b.Coef
	if (s > a.Coef) != (b.Coef > 0) {
		return Decimal{}, ErrOverflow
	}
	return Decimal{s, a.Scale}, nil
}

// Sub returns a-b at the larger scale.
func Sub(a, b Decimal) (Decimal, error) {
	if b.Coef == math.MinInt64 { // -b does not exist in int64
		return Decimal{}, ErrOverflow
	}
	return Add(a, Decimal{-b.Coef, b.Scale})
}

// Mul returns the exact product a×b (scale a.Scale+b.Scale, at most 18).
func Mul(a, b Decimal) (Decimal, error) {
	if int(a.Scale)+int(b.Scale) > MaxStoredScale {
		return Decimal{}, ErrTooPrecise
	}
	m, err := mul64(a.Coef, b.Coef)
	if err != nil {
		return Decimal{}, err
	}
	return Decimal{m, a.Scale + b.Scale}, nil
}

// MulRound returns a×b rounded half-up (away from zero) to scale decimals.
// The product is formed exactly in 128 bits, so the only failure is a
// rounded result that int64 cannot hold (ErrOverflow): a product too large
// for Mul at its full scale may still round to one that fits.
func MulRound(a, b Decimal, scale uint8) (Decimal, error) {
	if a.Scale > MaxStoredScale || b.Scale > MaxStoredScale || scale > MaxStoredScale {
		return Decimal{}, ErrTooPrecise
	}
	hi, lo := bits.Mul64(abs64(a.Coef), abs64(b.Coef))
	exact := a.Scale + b.Scale // the product's scale, at most 36
	for exact > scale {
		// Divide by 10^k in steps of at most 10^18. Rounding on the last
		// remainder alone is exact: with N = q1×p1 + r1 and a last divisor
		// p2 that is even, N/(p1×p2) rounds up exactly when the last
		// remainder r2 ≥ p2/2, whatever r1 was.
		k := min(exact-scale, MaxStoredScale)
		p := uint64(pow10[k])
		var r uint64
		hi, lo, r = div128(hi, lo, p)
		exact -= k
		if exact == scale && r >= p-r {
			var carry uint64
			lo, carry = bits.Add64(lo, 1, 0)
			hi += carry
		}
	}
	for exact < scale {
		k := min(scale-exact, MaxStoredScale)
		if hi != 0 {
			return Decimal{}, ErrOverflow
		}
		hi, lo = bits.Mul64(lo, uint64(pow10[k]))
		exact += k
	}
	if hi != 0 || lo > math.MaxInt64 {
		return Decimal{}, ErrOverflow
	}
	if (a.Coef < 0) != (b.Coef < 0) {
		return Decimal{-int64(lo), scale}, nil
	}
	return Decimal{int64(lo), scale}, nil
}

// div128 divides the 128-bit number hi:lo by p.
func div128(hi, lo, p uint64) (qhi, qlo, r uint64) {
	qhi = hi / p
	qlo, r = bits.Div64(hi%p, lo, p)
	return qhi, qlo, r
}

// Cmp compares a and b exactly: -1, 0 or +1. It cannot fail: it compares
// the two values in 128-bit arithmetic at their common scale.
func Cmp(a, b Decimal) int {
	if sa, sb := a.Sign(), b.Sign(); sa != sb || sa == 0 {
		return cmp.Compare(sa, sb)
	}
	// Same sign, both non-zero: compare magnitudes, then flip for negatives.
	c := cmpMagnitude(a, b)
	if a.Sign() < 0 {
		return -c
	}
	return c
}

// cmpMagnitude compares |a| and |b|, both non-zero: |a|×10^d against |b|
// when a has d fewer decimals, the product formed in 128 bits. When d is
// above 18, 10^d alone exceeds any int64, so |a| is the larger.
func cmpMagnitude(a, b Decimal) int {
	ua, ub := abs64(a.Coef), abs64(b.Coef)
	switch {
	case a.Scale == b.Scale:
		return cmp.Compare(ua, ub)
	case a.Scale > b.Scale:
		return -cmpMagnitude(b, a)
	}
	d := int(b.Scale) - int(a.Scale)
	if d > MaxStoredScale {
		return 1
	}
	hi, lo := bits.Mul64(ua, uint64(pow10[d]))
	if hi != 0 {
		return 1 // |a|×10^d ≥ 2^64 > |b|
	}
	return cmp.Compare(lo, ub)
}

func align(a, b Decimal) (Decimal, Decimal, error) {
	if a.Scale > MaxStoredScale || b.Scale > MaxStoredScale {
		return Decimal{}, Decimal{}, ErrTooPrecise
	}
	var err error
	if a.Scale < b.Scale {
		a, err = a.Rescale(b.Scale)
	} else if b.Scale < a.Scale {
		b, err = b.Rescale(a.Scale)
	}
	return a, b, err
}

func mul64(x, y int64) (int64, error) {
	neg := (x < 0) != (y < 0)
	ux, uy := abs64(x), abs64(y)
	hi, lo := bits.Mul64(ux, uy)
	if hi != 0 || lo > 1<<63-1 {
		return 0, ErrOverflow
	}
	if neg {
		return -int64(lo), nil
	}
	return int64(lo), nil
}

func abs64(x int64) uint64 {
	if x < 0 {
		return uint64(-x)
	}
	return uint64(x)
}

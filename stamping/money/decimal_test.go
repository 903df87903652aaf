package money

import (
	"errors"
	"flag"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

var seed = flag.Uint64("seed", 1, "seed of the randomised money tests")

// parseCases are Parse's wire rules. The expected coefficients are written
// out by hand from the string: "12.50" is 1250 hundredths.
var parseCases = []struct {
	in      string
	want    Decimal
	wantErr error
}{
	{"0", Decimal{0, 0}, nil},
	{"-0", Decimal{0, 0}, nil},
	{"0.00", Decimal{0, 2}, nil},
	{"12.50", Decimal{1250, 2}, nil},
	{"-12.50", Decimal{-1250, 2}, nil},
	{"007", Decimal{7, 0}, nil},
	{"0.5", Decimal{5, 1}, nil},
	{"100", Decimal{100, 0}, nil},
	{"0.123456789", Decimal{123456789, 9}, nil}, // 9 decimals: the most allowed
	{"-0.000000001", Decimal{-1, 9}, nil},
	{"999999999999", Decimal{999999999999, 0}, nil},          // 12 integer digits: the most allowed
	{"0000000000000000001", Decimal{1, 0}, nil},              // leading zeros do not count
	{"922337203685.4775807", Decimal{math.MaxInt64, 7}, nil}, // exactly MaxInt64
	{"-922337203685.4775807", Decimal{-math.MaxInt64, 7}, nil},

	{"", Decimal{}, ErrEmpty},
	{"1e3", Decimal{}, ErrSyntax},
	{"1E3", Decimal{}, ErrSyntax},
	{"+1", Decimal{}, ErrSyntax},
	{"1.", Decimal{}, ErrSyntax},
	{".5", Decimal{}, ErrSyntax},
	{"-.5", Decimal{}, ErrSyntax},
	{" 1", Decimal{}, ErrSyntax},
	{"1 ", Decimal{}, ErrSyntax},
	{"0x10", Decimal{}, ErrSyntax},
	{"NaN", Decimal{}, ErrSyntax},
	{"Inf", Decimal{}, ErrSyntax},
	{"-Inf", Decimal{}, ErrSyntax},
	{"1,000", Decimal{}, ErrSyntax},
	{"1,5", Decimal{}, ErrSyntax},
	{"1.2.3", Decimal{}, ErrSyntax},
	{"-", Decimal{}, ErrSyntax},
	{"--1", Decimal{}, ErrSyntax},
	{"1-", Decimal{}, ErrSyntax},
	{"١٢", Decimal{}, ErrSyntax}, // Arabic-Indic digits are not ASCII digits
	{"1_000", Decimal{}, ErrSyntax},
	{"1234567890123", Decimal{}, ErrTooLarge}, // 13 integer digits
	{"-1234567890123.5", Decimal{}, ErrTooLarge},
	{"0.1234567890", Decimal{}, ErrTooPrecise}, // 10 decimals
	{"1.0000000000", Decimal{}, ErrTooPrecise},
	// Both limits hold separately but 12+7 digits exceed int64.
	{"999999999999.9999999", Decimal{}, ErrOverflow},
	{"922337203685.4775808", Decimal{}, ErrOverflow}, // MaxInt64+1
	{"-922337203685.4775808", Decimal{}, ErrOverflow},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Parse(%q) = %v, %v; want error %v", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Parse(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), `"1e3"`) {
			t.Fatalf("MustParse(\"1e3\") panic = %v; want a panic naming the input", p)
		}
	}()
	MustParse("1e3")
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		d    Decimal
		want string
	}{
		{Decimal{0, 0}, "0"},
		{Decimal{0, 2}, "0.00"},
		{Decimal{5, 2}, "0.05"},
		{Decimal{-5, 2}, "-0.05"},
		{Decimal{1250, 2}, "12.50"},
		{Decimal{-1250, 2}, "-12.50"},
		{Decimal{123, 0}, "123"},
		{Decimal{-1, 9}, "-0.000000001"},
		{Decimal{1, 18}, "0.000000000000000001"},
		{Decimal{math.MaxInt64, 0}, "9223372036854775807"},
		{Decimal{math.MinInt64, 0}, "-9223372036854775808"},
		{Decimal{math.MinInt64, 4}, "-922337203685477.5808"},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestStringRoundTrip parses every accepted table input, formats it, and
// parses the result again.
func TestStringRoundTrip(t *testing.T) {
	for _, tc := range parseCases {
		if tc.wantErr != nil {
			continue
		}
		d := MustParse(tc.in)
		back, err := Parse(d.String())
		if err != nil || back != d {
			t.Errorf("Parse(%q.String() = %q) = %#v, %v; want %#v", tc.in, d.String(), back, err, d)
		}
	}
}

func TestRound(t *testing.T) {
	for _, tc := range []struct {
		in    string
		scale uint8
		want  string
	}{
		{"0.005", 2, "0.01"},
		{"-0.005", 2, "-0.01"}, // half away from zero, not toward +∞
		{"0.004", 2, "0.00"},
		{"-0.004", 2, "0.00"},
		{"0.0049999", 2, "0.00"},
		{"2.345", 2, "2.35"},
		{"2.3449", 2, "2.34"},
		{"-2.345", 2, "-2.35"},
		{"-2.3449", 2, "-2.34"},
		{"2.5", 0, "3"}, // not banker's rounding
		{"3.5", 0, "4"},
		{"-2.5", 0, "-3"},
		{"1.4999", 0, "1"},
		{"0.125", 2, "0.13"},
		{"9.995", 2, "10.00"},
		{"-9.995", 2, "-10.00"},
		{"0.000000005", 8, "0.00000001"},
		{"12.3", 3, "12.300"}, // more decimals: exact rescale
		{"12.30", 2, "12.30"},
		{"7", 2, "7.00"},
	} {
		d := MustParse(tc.in)
		got, err := d.Round(tc.scale)
		if err != nil || got.String() != tc.want || got.Scale != tc.scale {
			t.Errorf("Round(%s, %d) = %v (scale %d), %v; want %s", tc.in, tc.scale, got, got.Scale, err, tc.want)
		}
	}
}

func TestRescale(t *testing.T) {
	d := MustParse("1.50")
	if got, err := d.Rescale(4); err != nil || got != (Decimal{15000, 4}) {
		t.Errorf("Rescale(1.50, 4) = %#v, %v; want 1.5000", got, err)
	}
	if got, err := d.Rescale(1); err != nil || got != (Decimal{15, 1}) {
		t.Errorf("Rescale(1.50, 1) = %#v, %v; want 1.5", got, err)
	}
	if _, err := d.Rescale(0); !errors.Is(err, ErrTooPrecise) {
		t.Errorf("Rescale(1.50, 0) error = %v; want ErrTooPrecise (it would drop the 5)", err)
	}
	if _, err := (Decimal{math.MaxInt64/100 + 1, 0}).Rescale(2); !errors.Is(err, ErrOverflow) {
		t.Errorf("Rescale of a huge number error = %v; want ErrOverflow", err)
	}
}

func TestAddSub(t *testing.T) {
	for _, tc := range []struct{ a, b, sum, diff string }{
		{"0.1", "0.2", "0.3", "-0.1"},
		{"1.5", "0.25", "1.75", "1.25"},
		{"1.00", "0.995", "1.995", "0.005"},
		{"-3", "1.5", "-1.5", "-4.5"},
		{"0", "0.00", "0.00", "0.00"},
		{"999999999999", "1", "1000000000000", "999999999998"},
	} {
		a, b := MustParse(tc.a), MustParse(tc.b)
		if got, err := Add(a, b); err != nil || got.String() != tc.sum {
			t.Errorf("Add(%s, %s) = %v, %v; want %s", tc.a, tc.b, got, err, tc.sum)
		}
		if got, err := Sub(a, b); err != nil || got.String() != tc.diff {
			t.Errorf("Sub(%s, %s) = %v, %v; want %s", tc.a, tc.b, got, err, tc.diff)
		}
	}
}

func TestOverflow(t *testing.T) {
	max := Decimal{math.MaxInt64, 0}
	for _, tc := range []struct {
		name string
		f    func() (Decimal, error)
		want error
	}{
		{"Add max+1", func() (Decimal, error) { return Add(max, Decimal{1, 0}) }, ErrOverflow},
		{"Add -max-2", func() (Decimal, error) { return Add(Decimal{-math.MaxInt64, 0}, Decimal{-2, 0}) }, ErrOverflow},
		{"Sub -max-2", func() (Decimal, error) { return Sub(Decimal{-math.MaxInt64, 0}, Decimal{2, 0}) }, ErrOverflow},
		// (MaxInt64/10+1)×10 = 9223372036854775810 > MaxInt64 once aligned to scale 1.
		{"Add rescale", func() (Decimal, error) { return Add(Decimal{math.MaxInt64/10 + 1, 0}, Decimal{1, 1}) }, ErrOverflow},
		{"Mul max×2", func() (Decimal, error) { return Mul(max, Decimal{2, 0}) }, ErrOverflow},
		{"Mul -max×2", func() (Decimal, error) { return Mul(Decimal{-math.MaxInt64, 0}, Decimal{2, 0}) }, ErrOverflow},
		// 2^32 × 2^32 = 2^64: the high word is 1.
		{"Mul 2^64", func() (Decimal, error) { return Mul(Decimal{1 << 32, 0}, Decimal{1 << 32, 0}) }, ErrOverflow},
		// 3037000500² = 9223372037000250000 > MaxInt64 = 9223372036854775807,
		// but fits in 64 unsigned bits: the low word's top bit is set.
		{"Mul top bit", func() (Decimal, error) { return Mul(Decimal{3037000500, 0}, Decimal{3037000500, 0}) }, ErrOverflow},
		{"Mul scale 19", func() (Decimal, error) { return Mul(Decimal{1, 10}, Decimal{1, 9}) }, ErrTooPrecise},
		// -MinInt64 does not exist: Sub must not wrap it into MinInt64.
		{"Sub 0-MinInt64", func() (Decimal, error) { return Sub(Decimal{}, Decimal{math.MinInt64, 0}) }, ErrOverflow},
		// Scales beyond 18 are refused, never indexed past the powers of ten.
		{"Round scale 30", func() (Decimal, error) { return Decimal{1, 30}.Round(2) }, ErrTooPrecise},
		{"Rescale to 19", func() (Decimal, error) { return Decimal{1, 0}.Rescale(19) }, ErrTooPrecise},
		{"Add scale 25", func() (Decimal, error) { return Add(Decimal{1, 25}, Decimal{1, 0}) }, ErrTooPrecise},
		{"MulRound result max+1", func() (Decimal, error) { return MulRound(max, Decimal{10000000001, 10}, 0) }, ErrOverflow},
		{"MulRound 10^18×10^18", func() (Decimal, error) { return MulRound(Decimal{1e18, 0}, Decimal{1e18, 0}, 0) }, ErrOverflow},
		{"MulRound scale up", func() (Decimal, error) { return MulRound(Decimal{1e10, 0}, Decimal{1, 0}, 10) }, ErrOverflow},
	} {
		got, err := tc.f()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s = %#v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	// The largest product that fits: 3037000499² = 9223372030926249001.
	if got, err := Mul(Decimal{3037000499, 0}, Decimal{3037000499, 0}); err != nil || got.Coef != 9223372030926249001 {
		t.Errorf("Mul(3037000499²) = %#v, %v; want 9223372030926249001", got, err)
	}
}

func TestMul(t *testing.T) {
	for _, tc := range []struct{ a, b, want string }{
		{"1.5", "1.5", "2.25"},
		{"-1.5", "1.5", "-2.25"},
		{"-1.5", "-1.5", "2.25"},
		{"3", "0.333", "0.999"},
		{"1.500", "2.9900", "4.4850000"}, // scale adds up: 3+4
		{"0", "-7.25", "0.00"},
	} {
		if got, err := Mul(MustParse(tc.a), MustParse(tc.b)); err != nil || got.String() != tc.want {
			t.Errorf("Mul(%s, %s) = %v, %v; want %s", tc.a, tc.b, got, err, tc.want)
		}
	}
}

func TestCmp(t *testing.T) {
	for _, tc := range []struct {
		a, b Decimal
		want int
	}{
		{MustParse("1.0"), MustParse("1"), 0},
		{MustParse("-1"), MustParse("-1.000"), 0},
		{MustParse("1.01"), MustParse("1.1"), -1},
		{MustParse("1.10"), MustParse("1.1"), 0},
		{MustParse("-0.5"), MustParse("0.4"), -1},
		{MustParse("0.00"), MustParse("-0"), 0},
		{MustParse("100"), MustParse("99.99"), 1},
		// Aligning the scales overflows: the comparison still holds.
		{Decimal{math.MaxInt64, 0}, Decimal{1, 18}, 1},
		{Decimal{1, 18}, Decimal{math.MaxInt64, 0}, -1},
		{Decimal{-math.MaxInt64, 0}, Decimal{-1, 18}, -1},
		{Decimal{-1, 18}, Decimal{-math.MaxInt64, 0}, 1},
		{Decimal{math.MaxInt64, 0}, Decimal{-1, 18}, 1},
		{Decimal{-math.MaxInt64, 0}, Decimal{5, 18}, -1},
		{Decimal{math.MinInt64, 0}, Decimal{math.MinInt64, 18}, -1},
		{Decimal{math.MinInt64, 18}, Decimal{math.MaxInt64, 18}, -1},
		// Scales further apart than one power-of-ten table entry.
		{Decimal{1, 0}, Decimal{math.MaxInt64, 30}, 1},
		{Decimal{0, 0}, Decimal{1, 200}, -1},
		{Decimal{-1, 0}, Decimal{-math.MaxInt64, 40}, -1},
		{Decimal{100, 2}, Decimal{1000000000000000000, 18}, 0},
	} {
		if got := Cmp(tc.a, tc.b); got != tc.want {
			t.Errorf("Cmp(%v, %v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := Cmp(tc.b, tc.a); got != -tc.want {
			t.Errorf("Cmp(%v, %v) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
		if got := rat(tc.a).Cmp(rat(tc.b)); got != tc.want {
			t.Errorf("table is wrong: big.Rat says Cmp(%v, %v) = %d", tc.a, tc.b, got)
		}
	}
}

func TestSign(t *testing.T) {
	for in, want := range map[string]int{"-0.01": -1, "0": 0, "0.000": 0, "-0": 0, "3": 1} {
		d := MustParse(in)
		if d.Sign() != want || d.IsZero() != (want == 0) {
			t.Errorf("%s: Sign() = %d, IsZero() = %v; want %d", in, d.Sign(), d.IsZero(), want)
		}
	}
}

// rat is d's exact value, computed by math/big independently of Decimal.
func rat(d Decimal) *big.Rat {
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale)), nil)
	return new(big.Rat).SetFrac(big.NewInt(d.Coef), den)
}

// roundHalfUp rounds x half away from zero to scale decimals with math/big.
func roundHalfUp(x *big.Rat, scale uint8) *big.Rat {
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	y := new(big.Rat).Mul(new(big.Rat).Abs(x), new(big.Rat).SetInt(p))
	y.Add(y, big.NewRat(1, 2))
	q := new(big.Int).Quo(y.Num(), y.Denom()) // floor, y ≥ 0
	if x.Sign() < 0 {
		q.Neg(q)
	}
	return new(big.Rat).SetFrac(q, p)
}

func randomDecimal(r *rand.Rand) Decimal {
	scale := uint8(r.IntN(MaxScale + 1))
	digits := r.IntN(9) + 1 // products of two stay below 10^18 < MaxInt64
	coef := r.Int64N(int64(math.Pow10(digits)))
	if r.IntN(2) == 0 {
		coef = -coef
	}
	return Decimal{coef, scale}
}

func TestMulRound(t *testing.T) {
	for _, tc := range []struct {
		a, b  Decimal
		scale uint8
		want  Decimal
	}{
		{MustParse("1.5"), MustParse("2.99"), 2, MustParse("4.49")},   // 4.485 half-up
		{MustParse("-1.5"), MustParse("2.99"), 2, MustParse("-4.49")}, // away from zero
		{MustParse("0.333"), MustParse("0.015"), 2, MustParse("0.00")},
		{MustParse("7"), MustParse("3"), 2, MustParse("21.00")}, // scaled up
		// 999999999 × 999999999 = 999999998000000001: fits int64 at scale
		// 0 but not at scale 2, where Mul and then Rescale overflow.
		{MustParse("999999999"), MustParse("999999999"), 0, Decimal{999999998000000001, 0}},
		// A product of 36 decimals whose exact value fits once rounded.
		{Decimal{999999999999999999, 18}, Decimal{999999999999999999, 18}, 2, MustParse("1.00")},
		{Decimal{5, 18}, Decimal{1, 18}, 2, MustParse("0.00")},
		// 0.5 at the 36th decimal rounds up only when it is exactly half.
		{Decimal{5, 18}, Decimal{1e17, 18}, 18, Decimal{1, 18}},
		{Decimal{4999999999, 18}, Decimal{1e8, 18}, 18, Decimal{0, 18}},
		{Decimal{math.MaxInt64, 0}, Decimal{1, 0}, 0, Decimal{math.MaxInt64, 0}},
		{Decimal{math.MinInt64, 0}, Decimal{1, 1}, 0, Decimal{-922337203685477581, 0}},
	} {
		got, err := MulRound(tc.a, tc.b, tc.scale)
		if err != nil || got != tc.want {
			t.Errorf("MulRound(%v, %v, %d) = %#v, %v; want %#v", tc.a, tc.b, tc.scale, got, err, tc.want)
		}
		if want := roundHalfUp(new(big.Rat).Mul(rat(tc.a), rat(tc.b)), tc.scale); rat(tc.want).Cmp(want) != 0 {
			t.Errorf("table is wrong: big.Rat says MulRound(%v, %v, %d) = %s", tc.a, tc.b, tc.scale, want.FloatString(int(tc.scale)))
		}
	}
}

// TestMulRoundAndCmpAgainstBigRat covers the whole int64 range and every
// scale up to 18, where Mul and Rescale would overflow: MulRound either
// returns big.Rat's rounded product or fails with ErrOverflow exactly when
// that product does not fit int64; Cmp always agrees with big.Rat.
func TestMulRoundAndCmpAgainstBigRat(t *testing.T) {
	r := rand.New(rand.NewPCG(*seed, 7))
	maxInt := new(big.Rat).SetInt64(math.MaxInt64)
	minInt := new(big.Rat).SetInt64(math.MinInt64)
	wide := func() Decimal {
		coef := int64(r.Uint64() >> r.IntN(64))
		if r.IntN(2) == 0 {
			coef = -coef
		}
		return Decimal{coef, uint8(r.IntN(MaxStoredScale + 1))}
	}
	for range 50000 {
		a, b := wide(), wide()
		scale := uint8(r.IntN(MaxStoredScale + 1))
		want := roundHalfUp(new(big.Rat).Mul(rat(a), rat(b)), scale)
		coef := new(big.Rat).Mul(want, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
		fits := coef.Cmp(maxInt) <= 0 && coef.Cmp(minInt) > 0
		got, err := MulRound(a, b, scale)
		switch {
		case fits && (err != nil || rat(got).Cmp(want) != 0 || got.Scale != scale):
			t.Fatalf("MulRound(%#v, %#v, %d) = %#v, %v; want %s", a, b, scale, got, err, want.FloatString(int(scale)))
		case !fits && !errors.Is(err, ErrOverflow):
			t.Fatalf("MulRound(%#v, %#v, %d) = %#v, %v; want ErrOverflow (%s does not fit)", a, b, scale, got, err, want.FloatString(int(scale)))
		}
		if got, want := Cmp(a, b), rat(a).Cmp(rat(b)); got != want {
			t.Fatalf("Cmp(%#v, %#v) = %d, want %d", a, b, got, want)
		}
	}
}

// TestArithmeticAgainstBigRat checks Add, Sub, Mul, Round and Cmp on random
// operands against math/big.
func TestArithmeticAgainstBigRat(t *testing.T) {
	t.Logf("seed %d (set with -seed)", *seed)
	r := rand.New(rand.NewPCG(*seed, 0))
	for range 20000 {
		a, b := randomDecimal(r), randomDecimal(r)
		ra, rb := rat(a), rat(b)
		if sum, err := Add(a, b); err != nil || rat(sum).Cmp(new(big.Rat).Add(ra, rb)) != 0 || sum.Scale != max(a.Scale, b.Scale) {
			t.Fatalf("Add(%v, %v) = %v, %v; want %s", a, b, sum, err, new(big.Rat).Add(ra, rb).FloatString(9))
		}
		if diff, err := Sub(a, b); err != nil || rat(diff).Cmp(new(big.Rat).Sub(ra, rb)) != 0 {
			t.Fatalf("Sub(%v, %v) = %v, %v", a, b, diff, err)
		}
		if prod, err := Mul(a, b); err != nil || rat(prod).Cmp(new(big.Rat).Mul(ra, rb)) != 0 {
			t.Fatalf("Mul(%v, %v) = %v, %v", a, b, prod, err)
		}
		if got := Cmp(a, b); got != ra.Cmp(rb) {
			t.Fatalf("Cmp(%v, %v) = %d, want %d", a, b, got, ra.Cmp(rb))
		}
		scale := uint8(r.IntN(int(a.Scale) + 1))
		want := roundHalfUp(ra, scale)
		if got, err := a.Round(scale); err != nil || rat(got).Cmp(want) != 0 || got.Scale != scale {
			t.Fatalf("Round(%v, %d) = %v, %v; want %s", a, scale, got, err, want.FloatString(int(scale)))
		}
	}
}

// FuzzParse: Parse never panics, and what it accepts formats back to a
// string that parses to the same Decimal and has the value big.Rat reads.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if d.Scale > MaxScale {
			t.Fatalf("Parse(%q) scale = %d, above MaxScale", s, d.Scale)
		}
		back, err := Parse(d.String())
		if err != nil || back != d {
			t.Fatalf("Parse(String(Parse(%q))) = %#v, %v; want %#v", s, back, err, d)
		}
		want, ok := new(big.Rat).SetString(s)
		if !ok || rat(d).Cmp(want) != 0 {
			t.Fatalf("Parse(%q) = %v; big.Rat reads %v (ok=%v)", s, d, want, ok)
		}
	})
}

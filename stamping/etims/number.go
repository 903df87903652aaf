package etims

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/egsd/egsd/stamping/money"
)

// Decimal is an exact decimal written in JSON as a number with exactly
// its digits ("580000.00"), never through float64: KRA's amounts are JSON
// numbers (spec/etims.md §A4.1), and egsd's are exact.
//
// Decoding takes a JSON number or a string holding one (KRA's answers
// write receipt numbers either way), as plain decimal digits: an exponent
// is refused rather than approximated. null reads as zero.
type Decimal struct{ money.Decimal }

// Dec wraps d.
func Dec(d money.Decimal) Decimal { return Decimal{d} }

// MarshalJSON writes the number's digits.
func (d Decimal) MarshalJSON() ([]byte, error) { return []byte(d.Decimal.String()), nil }

// UnmarshalJSON reads a plain decimal number or string.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	text, err := numberText(b)
	if err != nil || text == "" {
		*d = Decimal{}
		return err
	}
	v, err := money.Parse(text)
	if err != nil {
		return fmt.Errorf("%q %w", text, err)
	}
	d.Decimal = v
	return nil
}

// numberText is the text of a JSON number, or of a string holding one;
// "" for null.
func numberText(b []byte) (string, error) {
	text := bytes.TrimSpace(b)
	switch {
	case string(text) == "null":
		return "", nil
	case len(text) > 0 && text[0] == '"':
		var s string
		err := json.Unmarshal(text, &s)
		return s, err
	}
	return string(text), nil
}

// at returns v written with scale decimals, exactly.
func at(v money.Decimal, scale uint8) (Decimal, error) {
	r, err := v.Rescale(scale)
	return Decimal{r}, err
}

// cents reads an amount of at most two decimals as hundredths.
func cents(v money.Decimal) (int64, error) {
	r, err := v.Rescale(2)
	return r.Coef, err
}

// fromCents is an amount of hundredths.
func fromCents(c int64) money.Decimal { return money.Decimal{Coef: c, Scale: 2} }

// Integer is a whole number that KRA writes as a JSON number or a string
// ("curRcptNo": "1" in one answer, 169 in another). null reads as zero.
type Integer int64

// UnmarshalJSON reads a JSON integer or a string of decimal digits.
func (n *Integer) UnmarshalJSON(b []byte) error {
	text, err := numberText(b)
	if err != nil || text == "" {
		*n = 0
		return err
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return errors.New("is not a whole number")
	}
	*n = Integer(v)
	return nil
}

// Text is a string in KRA's answers that may also come as null or false
// (Odoo's recorded answers have "itemCd": false): anything but a string
// reads as "".
type Text string

// UnmarshalJSON takes a JSON string and ignores any other value.
func (t *Text) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*t = Text(s)
	} else {
		*t = ""
	}
	return nil
}

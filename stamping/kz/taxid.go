package kz

import (
	"errors"
	"fmt"
)

// ValidateTaxID checks a BIN (business identification number) or IIN
// (individual identification number): 12 digits whose last is the check
// digit of the first 11 (spec kazakhstan.md §B6): Σ dᵢ·wᵢ mod 11 with
// weights 1…11; when that is 10, again with weights 3…11, 1, 2; when that
// is 10 too, the number is never issued.
func ValidateTaxID(id string) error {
	if len(id) != 12 {
		return fmt.Errorf("%q has %d characters; a BIN or IIN has 12 digits", id, len(id))
	}
	var d [12]int
	for i := range 12 {
		c := id[i]
		if c < '0' || c > '9' {
			return fmt.Errorf("%q is not all digits; a BIN or IIN has 12 digits", id)
		}
		d[i] = int(c - '0')
	}
	check := func(first int) int {
		sum := 0
		for i := range 11 {
			w := (first+i-1)%11 + 1 // first, first+1, … wrapping 11 → 1
			sum += d[i] * w
		}
		return sum % 11
	}
	c := check(1)
	if c == 10 {
		c = check(3)
	}
	if c == 10 {
		return errors.New("is not a BIN or IIN that can be issued: its check digit cannot be computed (both weightings give 10)")
	}
	if c != d[11] {
		return fmt.Errorf("%q has the check digit %d, but its first 11 digits give %d; check for a mistyped digit", id, d[11], c)
	}
	return nil
}

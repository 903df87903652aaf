// Package fixture holds every way of keeping and of losing an error from
// package money, for TestDiscardCheckFindsEachForm: each line that loses
// one ends in the marker the test looks for.
package fixture

import (
	"fmt"

	m "github.com/egsd/egsd/stamping/money"
)

func losses(a, b m.Decimal) {
	net, _ := a.Round(2) // want
	_ = net
	sum, _ := m.Add(a, b) // want
	_ = sum
	var prod, _ = m.Mul(a, b) // want
	_ = prod
	_, _ = m.Parse("1")       // want
	a.Rescale(4)              // want
	m.Sub(a, b)               // want
	defer m.MulRound(a, b, 2) // want
	go a.Round(0)             // want
	x, y := a, b
	x, _ = (m.Add)(x, y) // want
	fmt.Println(x)
}

func kept(a, b m.Decimal) (m.Decimal, error) {
	if _, err := a.Round(2); err != nil {
		return m.Decimal{}, err
	}
	sum, err := m.Add(a, b)
	if err != nil {
		return m.Decimal{}, err
	}
	_ = m.Cmp(a, b) // no error to lose
	_ = a.String()
	fmt.Println(m.Sub(a, b)) // passed on
	return m.Mul(sum, b)
}

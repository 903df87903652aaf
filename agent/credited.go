package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// What the credit notes of a document took from it, kept per original as
// the store's References.Credited, and what they may take (the same
// measures of the document itself).
//
// A line is measured by its quantity and its net amount (sale.LineTotal.Net:
// quantity × unit price after the price discount, less the line's
// discounts, plus its charges, as the document states it), so that a
// discounted line is credited at what was paid for it, however the note
// states the price. A VAT group (category, rate, exemption reason) is
// measured by its taxable amount (sale.CategoryTotal.Taxable: the lines'
// net amounts after the document's discounts and charges), so that the
// credit notes of a sale with a basket discount give back the discounted
// amounts, never more, and never move an amount from one VAT group to
// another. Every measure is an amount the documents state, so what the
// notes credit never exceeds what the original charged.

// creditedVersion is the form of the credited totals this egsd writes.
// The form before it had no version: per line, the quantity and quantity
// × unit price, exact; the agent recomputes such totals from the notes at
// its first start (recredit).
const creditedVersion = 2

// errCreditedForm is returned (wrapped) by decodeCredited for totals
// written by an earlier egsd and not recomputed yet.
var errCreditedForm = errors.New("credited totals in the form of an earlier egsd, not recomputed yet")

// credited is what credit notes took from a document, or, as limits, what
// the document has: per line (1-based) and per VAT group.
type credited struct {
	Lines  map[int]lineCredit
	Groups []groupCredit // in order of first appearance
}

type lineCredit struct {
	Quantity money.Decimal
	Net      money.Decimal
}

// vatGroup is a VAT category with its rate (two decimals) and exemption
// reason: the unit that VAT is computed on.
type vatGroup struct {
	Category        sale.VATCategory
	Rate            string
	ExemptionReason string
}

type groupCredit struct {
	vatGroup
	Taxable money.Decimal
}

func groupOf(c *sale.CategoryTotal) vatGroup {
	return vatGroup{c.Category, c.Rate.String(), c.ExemptionReason}
}

// String names the group in messages: "S 15.00 %", "Z (VATEX-SA-32)".
func (g vatGroup) String() string {
	if g.ExemptionReason != "" {
		return fmt.Sprintf("%s (%s)", g.Category, g.ExemptionReason)
	}
	return fmt.Sprintf("%s %s %%", g.Category, g.Rate)
}

type creditedJSON struct {
	Version int                    `json:"version"`
	Lines   map[int]lineCreditJSON `json:"lines"`
	Groups  []groupCreditJSON      `json:"groups,omitempty"`
}

type lineCreditJSON struct {
	Quantity string `json:"quantity"`
	Net      string `json:"net"`
}

type groupCreditJSON struct {
	Category        string `json:"vat_category"`
	Rate            string `json:"vat_rate"`
	ExemptionReason string `json:"exemption_reason,omitempty"`
	Taxable         string `json:"taxable"`
}

func newCredited() credited { return credited{Lines: map[int]lineCredit{}} }

func (c credited) MarshalJSON() ([]byte, error) {
	j := creditedJSON{Version: creditedVersion, Lines: map[int]lineCreditJSON{}}
	for k, l := range c.Lines {
		j.Lines[k] = lineCreditJSON{l.Quantity.String(), l.Net.String()}
	}
	for _, g := range c.Groups {
		j.Groups = append(j.Groups, groupCreditJSON{string(g.Category), g.Rate, g.ExemptionReason, g.Taxable.String()})
	}
	return json.Marshal(j)
}

// decodeCredited reads a document's References.Credited; empty means
// nothing credited.
func decodeCredited(b []byte) (credited, error) {
	c := newCredited()
	if len(b) == 0 {
		return c, nil
	}
	var j creditedJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return c, fmt.Errorf("credited state: %w", err)
	}
	if j.Version != creditedVersion {
		return c, fmt.Errorf("credited state of version %d: %w", j.Version, errCreditedForm)
	}
	var err error
	for k, l := range j.Lines {
		var lc lineCredit
		if lc.Quantity, err = money.Parse(l.Quantity); err != nil {
			return c, fmt.Errorf("credited state: line %d: quantity %q: %w", k, l.Quantity, err)
		}
		if lc.Net, err = money.Parse(l.Net); err != nil {
			return c, fmt.Errorf("credited state: line %d: net amount %q: %w", k, l.Net, err)
		}
		c.Lines[k] = lc
	}
	for _, g := range j.Groups {
		taxable, err := money.Parse(g.Taxable)
		if err != nil {
			return c, fmt.Errorf("credited state: VAT group %s %s: taxable amount %q: %w", g.Category, g.Rate, g.Taxable, err)
		}
		c.Groups = append(c.Groups, groupCredit{vatGroup{sale.VATCategory(g.Category), g.Rate, g.ExemptionReason}, taxable})
	}
	return c, nil
}

func (c credited) clone() credited {
	out := newCredited()
	for k, l := range c.Lines {
		out.Lines[k] = l
	}
	out.Groups = slices.Clone(c.Groups)
	return out
}

// taxable is what c holds for group g (zero if nothing).
func (c credited) taxable(g vatGroup) money.Decimal {
	for _, gc := range c.Groups {
		if gc.vatGroup == g {
			return gc.Taxable
		}
	}
	return money.Decimal{}
}

// empty reports whether c takes nothing.
func (c credited) empty() bool {
	for _, l := range c.Lines {
		if !l.Quantity.IsZero() || !l.Net.IsZero() {
			return false
		}
	}
	for _, g := range c.Groups {
		if !g.Taxable.IsZero() {
			return false
		}
	}
	return true
}

func addOrSub(sign int) func(a, b money.Decimal) (money.Decimal, error) {
	if sign < 0 {
		return money.Sub
	}
	return money.Add
}

// addLine adds (sign +1) or takes away (sign -1) l to line k.
func (c *credited) addLine(k int, l lineCredit, sign int) error {
	op, cur := addOrSub(sign), c.Lines[k]
	var err error
	if cur.Quantity, err = op(cur.Quantity, l.Quantity); err != nil {
		return fmt.Errorf("line %d: credited quantity %w", k, err)
	}
	if cur.Net, err = op(cur.Net, l.Net); err != nil {
		return fmt.Errorf("line %d: credited net amount %w", k, err)
	}
	c.Lines[k] = cur
	return nil
}

// addGroup adds (sign +1) or takes away (sign -1) taxable to group g.
func (c *credited) addGroup(g vatGroup, taxable money.Decimal, sign int) error {
	i := slices.IndexFunc(c.Groups, func(gc groupCredit) bool { return gc.vatGroup == g })
	if i < 0 {
		i = len(c.Groups)
		c.Groups = append(c.Groups, groupCredit{vatGroup: g})
	}
	sum, err := addOrSub(sign)(c.Groups[i].Taxable, taxable)
	if err != nil {
		return fmt.Errorf("VAT group %s: credited taxable amount %w", g, err)
	}
	c.Groups[i].Taxable = sum
	return nil
}

// add adds (sign +1) or takes away (sign -1) share from c.
func (c *credited) add(share credited, sign int) error {
	for _, k := range slices.Sorted(maps.Keys(share.Lines)) {
		if err := c.addLine(k, share.Lines[k], sign); err != nil {
			return err
		}
	}
	for _, g := range share.Groups {
		if err := c.addGroup(g.vatGroup, g.Taxable, sign); err != nil {
			return err
		}
	}
	return nil
}

// shareOf is what sale s, with totals t, takes: lines[i] is the original
// line of s's line i (nil: s is the original itself, line i is line i+1).
// A line matched to no line (0) counts for nothing, in its group too.
func shareOf(s *sale.Sale, t *sale.Totals, lines []int) (credited, error) {
	c := newCredited()
	for _, cat := range t.Categories {
		if err := c.addGroup(groupOf(&cat), cat.Taxable, 1); err != nil {
			return c, err
		}
	}
	for i := range s.Lines {
		k := i + 1
		if lines != nil {
			k = lines[i]
		}
		l := &s.Lines[i]
		if k == 0 {
			// Only notes issued before lines were matched have such lines,
			// and those had no document discounts or charges.
			rate, err := l.Rate.Rescale(sale.MaxRateScale)
			if err != nil {
				return c, fmt.Errorf("lines[%d]: VAT rate %w", i, err)
			}
			if err := c.addGroup(vatGroup{l.Category, rate.String(), l.ExemptionReason}, t.Lines[i].Net, -1); err != nil {
				return c, err
			}
			continue
		}
		if err := c.addLine(k, lineCredit{l.Quantity, t.Lines[i].Net}, 1); err != nil {
			return c, fmt.Errorf("lines[%d]: %w", i, err)
		}
	}
	return c, nil
}

// saleShare computes the totals of s and what it takes (shareOf).
func saleShare(s *sale.Sale, lines []int) (credited, *sale.Totals, error) {
	t, err := sale.ComputeTotals(s)
	if err != nil {
		return credited{}, nil, err
	}
	c, err := shareOf(s, &t, lines)
	return c, &t, err
}

// covers reports whether c takes all of limits: every line's quantity and
// net amount, and every VAT group's taxable amount. Nothing of the
// original is then left to credit.
func (c credited) covers(limits credited) bool {
	for k, limit := range limits.Lines {
		taken := c.Lines[k]
		if money.Cmp(taken.Quantity, limit.Quantity) < 0 || money.Cmp(taken.Net, limit.Net) < 0 {
			return false
		}
	}
	for _, g := range limits.Groups {
		if money.Cmp(c.taxable(g.vatGroup), g.Taxable) < 0 {
			return false
		}
	}
	return true
}

// credit is c as the store keeps it, with whether it takes all of limits.
func (c credited) credit(limits credited) (queue.Credit, error) {
	b, err := json.Marshal(c)
	return queue.Credit{Credited: b, InFull: c.covers(limits)}, err
}

// proRata is amount × part ÷ whole, rounded half-up to two decimals
// (whole > 0): the share of an amount that a part of a quantity carries.
func proRata(amount, part, whole money.Decimal) (money.Decimal, error) {
	if whole.Sign() <= 0 {
		return money.Decimal{}, fmt.Errorf("pro rata of %s over %s", amount, whole)
	}
	// amount × part × 10^(2 + whole.Scale) ÷ (whole.Coef × 10^(amount.Scale + part.Scale)),
	// in hundredths.
	num := new(big.Int).Mul(big.NewInt(amount.Coef), big.NewInt(part.Coef))
	num.Mul(num, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(sale.AmountScale)+int64(whole.Scale)), nil))
	den := new(big.Int).Mul(big.NewInt(whole.Coef), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(amount.Scale)+int64(part.Scale)), nil))
	neg := num.Sign() < 0
	num.Abs(num)
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Lsh(r, 1).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	if !q.IsInt64() {
		return money.Decimal{}, fmt.Errorf("pro rata of %s: out of range", amount)
	}
	return money.Decimal{Coef: q.Int64(), Scale: sale.AmountScale}, nil
}

// recredit recomputes, at start, the credited totals that an egsd before
// this form wrote (store schema 3 and before: per line, the quantity and
// quantity × unit price), from the credit notes themselves as this egsd
// measures them: those the authority did not reject, their lines matched
// as they were when issued. 1,000 documents a transaction; an audit entry
// says how many. A document whose sale, or one of whose credit notes'
// sales, this egsd cannot read keeps what it had (notes against it are
// refused as unreadable anyway) and is counted apart.
func (a *Agent) recredit() error {
	var docs, unreadable int
	for {
		done := false
		err := a.store.Update(func(tx *queue.Tx) error {
			for range reindexBatch {
				o := tx.RecreditFrom()
				if o == 0 {
					done = true
					return nil
				}
				b, err := a.recomputeCredited(tx, o)
				switch {
				case err != nil:
					a.log.Warn().Err(err).Uint64("document", o).Msg("credited totals not recomputed")
					unreadable++
					b = nil
				case b != nil:
					docs++
				}
				if err := tx.Recredit(o, b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if done {
			break
		}
	}
	if docs+unreadable == 0 {
		return nil
	}
	a.log.Info().Int("documents", docs).Int("documents_unreadable", unreadable).
		Msg("recomputed what the credit notes took from each document, by net and taxable amounts")
	return a.store.Audit(queue.AuditEntry{Actor: queue.ActorSystem, ActorKind: queue.ActorSystem, Action: queue.AuditRecredit, Details: map[string]string{
		"documents": strconv.Itoa(docs), "documents_unreadable": strconv.Itoa(unreadable),
	}})
}

// recomputeCredited is the credited totals of document o from its credit
// notes; nil when it has none to recompute.
func (a *Agent) recomputeCredited(tx *queue.Tx, o uint64) ([]byte, error) {
	refs, err := tx.References(o)
	if err != nil || len(refs.Credited) == 0 {
		return nil, err
	}
	orig, err := tx.Record(o)
	if err != nil {
		return nil, err
	}
	c := newCredited()
	for _, n := range refs.Notes {
		note, err := tx.Record(n)
		if err != nil {
			return nil, err
		}
		if note.Kind != string(sale.CreditNote) || note.Status == queue.StatusRejected {
			continue
		}
		share, err := a.storedNoteShare(note, orig, nil)
		if err != nil {
			return nil, err
		}
		if err := c.add(share, 1); err != nil {
			return nil, fmt.Errorf("note %d: %w", n, err)
		}
	}
	return json.Marshal(c)
}

package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
	"github.com/egsd/egsd/stamping/textpolicy"
)

// correctiveBody is the corrective credit note of the rejected document
// rec: its sale as a credit note for what refs says the credit notes
// already issued against it left.
//
// When nothing was credited, the note is the sale itself — its lines with
// their price discounts, discounts and charges, the document's discounts
// and charges, its cash rounding and its payments — and so credits exactly
// the original's totals. After earlier credit notes, each line states the
// quantity left, with the original's prices, discounts and charges
// (amounts pro rata to the quantity); where that does not come to the net
// amount left to the cent (rounding, or notes at another price), the
// line's discounts and charges give way to the one discount or charge
// that does. The document's discounts and charges likewise: as they were
// when that meets each VAT group's taxable amount left, else amounts pro
// rata to what is left of the lines of their group, else one discount or
// charge per group that meets it. The payments then lose their amounts (they were for
// the whole sale). A credit note hands nothing over, so cash tendered is
// left out. What no note can credit — a line whose quantity was all
// credited but not all of its amount, a charge whose lines were all
// credited — is a conflict (prob, 409) that says so.
func (a *Agent) correctiveBody(rec *queue.Record, refs queue.References) (body []byte, prob *Problem, err error) {
	var s map[string]json.RawMessage
	var rawLines []map[string]json.RawMessage
	if err := json.Unmarshal(rec.Sale, &s); err != nil {
		return nil, nil, fmt.Errorf("stored sale of document %d: %w", rec.Counter, err)
	}
	if err := json.Unmarshal(s["lines"], &rawLines); err != nil {
		return nil, nil, fmt.Errorf("stored sale of document %d: %w", rec.Counter, err)
	}
	opts := sale.Options{DefaultCurrency: a.cfg.Regime.Currency}
	origSale, err := sale.Decode(rec.Sale, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("stored sale of document %d: %w", rec.Counter, err)
	}
	limits, ot, err := saleShare(origSale, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("stored sale of document %d: %w", rec.Counter, err)
	}
	taken, err := decodeCredited(refs.Credited)
	if errors.Is(err, errCreditedForm) {
		return nil, &Problem{Type: problemConflict, Title: "No corrective credit note", Status: http.StatusConflict, Detail: fmt.Sprintf(
			"what the credit notes %s took from document %d was kept by an earlier egsd, and this one could not recompute it at its start (one of their sales cannot be read; the log says which): what is left of it is not known, so no corrective note can be built",
			joinCounters(refs.Notes), rec.Counter)}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("document %d: %w", rec.Counter, err)
	}
	left := limits.clone()
	if err := left.add(taken, -1); err != nil {
		return nil, nil, fmt.Errorf("document %d: %w", rec.Counter, err)
	}
	number := cmpOr(rec.Number, strconv.FormatUint(rec.Counter, 10))
	c := &correction{counter: rec.Counter, number: number, notes: refs.Notes, orig: origSale, totals: ot, raw: rawLines, left: left}

	reason := fmt.Sprintf("Correction of document %s, rejected by the tax authority", number)
	if len(rec.Messages) > 0 {
		reason += ": " + rec.Messages[0]
	}
	// The authority's message may hold what a reason may not (a line
	// break, a control character): the reason is made one printable line.
	reason = textpolicy.Printable(reason)
	if r := []rune(reason); len(r) > sale.MaxTextLength {
		reason = string(r[:sale.MaxTextLength])
	}
	for key, v := range map[string]any{"kind": sale.CreditNote, "original": number, "reason": reason} {
		if s[key], err = json.Marshal(v); err != nil {
			return nil, nil, err
		}
	}
	// The note is issued now, for a document the authority refused: even
	// when that document was entered late, the note is not.
	delete(s, "note")
	delete(s, "transaction_time")
	delete(s, "incident")
	if err := withoutTendered(s); err != nil {
		return nil, nil, fmt.Errorf("stored sale of document %d: payments: %w", rec.Counter, err)
	}
	if taken.empty() {
		err = c.whole(s)
	} else {
		prob, err = c.rest(s, opts)
	}
	if prob != nil || err != nil {
		return nil, prob, err
	}
	if body, err = json.Marshal(s); err != nil {
		return nil, nil, err
	}
	return body, nil, c.verify(body, opts)
}

// correction builds the corrective credit note of one rejected document.
type correction struct {
	counter uint64
	number  string   // the document's number as printed, or its counter
	notes   []uint64 // the notes already issued against it
	orig    *sale.Sale
	totals  *sale.Totals
	raw     []map[string]json.RawMessage // the original's lines as stored
	left    credited                     // what is left to credit: the original less what notes took
	origOf  []int                        // per line of the note, the original's line
}

func (c *correction) conflict(format string, args ...any) *Problem {
	return &Problem{Type: problemConflict, Title: "No corrective credit note", Status: http.StatusConflict, Detail: fmt.Sprintf(format, args...)}
}

// whole makes s's lines the original's, each naming its line.
func (c *correction) whole(s map[string]json.RawMessage) error {
	lines := make([]map[string]json.RawMessage, len(c.raw))
	for i, raw := range c.raw {
		lines[i] = maps.Clone(raw)
		lines[i]["original_line"] = json.RawMessage(strconv.Itoa(i + 1))
		c.origOf = append(c.origOf, i+1)
	}
	return setJSON(s, "lines", lines)
}

// rest makes s the note for what is left of the original.
func (c *correction) rest(s map[string]json.RawMessage, opts sale.Options) (*Problem, error) {
	var lines []map[string]json.RawMessage
	linesLeft := map[vatGroup]money.Decimal{} // per VAT group, the net amounts of the lines left
	for i := range c.orig.Lines {
		k, ol := i+1, &c.orig.Lines[i]
		lt := c.left.Lines[k]
		want := nonNegative(lt.Net)
		if lt.Quantity.Sign() <= 0 {
			if want.Sign() > 0 {
				return c.conflict("all of the quantity of line %d of document %d (%s) was credited by notes %s, but %s of its net amount was not: a note credits a quantity, so no note can credit it; nothing else of the line is left to correct",
					k, c.counter, ol.Name, joinCounters(c.notes), want), nil
			}
			continue
		}
		line, err := c.lineLeft(k, lt.Quantity, want)
		if err != nil {
			return nil, err
		}
		lines = append(lines, line)
		c.origOf = append(c.origOf, k)
		g, err := c.groupOfLine(ol)
		if err != nil {
			return nil, err
		}
		sum, err := money.Add(linesLeft[g], want)
		if err != nil {
			return nil, err
		}
		linesLeft[g] = sum
	}
	if len(lines) == 0 {
		for _, g := range c.left.Groups {
			if g.Taxable.Sign() > 0 {
				return c.conflict("every line of document %d was credited in full by notes %s, but %s of its taxable amount in VAT group %s (its document charges) was not: a note credits lines, so no note can credit it",
					c.counter, joinCounters(c.notes), g.Taxable, g.vatGroup), nil
			}
		}
		return c.conflict("document %d was credited in full by notes %s: nothing is left to correct", c.counter, joinCounters(c.notes)), nil
	}
	if err := setJSON(s, "lines", lines); err != nil {
		return nil, err
	}
	if err := withoutPaymentAmounts(s); err != nil {
		return nil, fmt.Errorf("stored sale of document %d: payments: %w", c.counter, err)
	}
	// The document's discounts and charges as they were (a charge the
	// notes did not credit is all left), else amounts pro rata, else
	// settled per group.
	if c.groupsMet(s, opts) {
		return nil, nil
	}
	if err := c.documentProRata(s, linesLeft); err != nil {
		return nil, err
	}
	if c.groupsMet(s, opts) {
		return nil, nil
	}
	return nil, c.settleDocument(s, linesLeft)
}

// lineLeft is the original's line k for quantity q, coming to the net
// amount want.
func (c *correction) lineLeft(k int, q, want money.Decimal) (map[string]json.RawMessage, error) {
	ol := &c.orig.Lines[k-1]
	line := maps.Clone(c.raw[k-1])
	line["original_line"] = json.RawMessage(strconv.Itoa(k))
	if err := setJSON(line, "quantity", q.String()); err != nil {
		return nil, err
	}
	delete(line, "discounts")
	delete(line, "charges")
	cand := sale.Line{Name: ol.Name, Quantity: q, UnitPrice: ol.UnitPrice, PriceDiscount: ol.PriceDiscount,
		Category: ol.Category, Rate: ol.Rate, ExemptionReason: ol.ExemptionReason}
	var err error
	if cand.Discounts, err = adjustmentsProRata(ol.Discounts, q, ol.Quantity); err != nil {
		return nil, fmt.Errorf("line %d: %w", k, err)
	}
	if cand.Charges, err = adjustmentsProRata(ol.Charges, q, ol.Quantity); err != nil {
		return nil, fmt.Errorf("line %d: %w", k, err)
	}
	t, err := sale.ComputeTotals(&sale.Sale{Lines: []sale.Line{cand}})
	if err == nil && money.Cmp(t.Lines[0].Net, want) == 0 {
		return line, setAdjustments(line, cand.Discounts, cand.Charges)
	}
	// Settle: one discount (or charge) from the line's amount to what is left.
	netPrice, err := money.Sub(ol.UnitPrice, ol.PriceDiscount)
	base := netPrice
	if err == nil {
		base, err = money.MulRound(q, netPrice, sale.AmountScale)
	}
	if err != nil {
		return nil, fmt.Errorf("line %d: %w", k, err)
	}
	diff, err := money.Sub(base, want)
	if err != nil {
		return nil, fmt.Errorf("line %d: %w", k, err)
	}
	var discounts, charges []sale.Adjustment
	generic := fmt.Sprintf("What is left of line %d of %s", k, c.number)
	switch diff.Sign() {
	case 1:
		discounts = []sale.Adjustment{settling(diff, ol.Discounts, generic)}
	case -1:
		diff.Coef = -diff.Coef
		charges = []sale.Adjustment{settling(diff, ol.Charges, generic)}
	}
	return line, setAdjustments(line, discounts, charges)
}

// groupOfLine is the VAT group of the original's line l.
func (c *correction) groupOfLine(l *sale.Line) (vatGroup, error) {
	for i, cat := range c.totals.Categories {
		if cat.Category == l.Category && money.Cmp(cat.Rate, l.Rate) == 0 && cat.ExemptionReason == l.ExemptionReason {
			return groupOf(&c.totals.Categories[i]), nil
		}
	}
	return vatGroup{}, fmt.Errorf("document %d: line %s is in no VAT group of its totals", c.counter, l.Name)
}

// documentProRata writes the original's document discounts and charges
// into s with their amounts pro rata to what is left of the lines of
// their VAT group (percentages as they were).
func (c *correction) documentProRata(s map[string]json.RawMessage, linesLeft map[vatGroup]money.Decimal) error {
	for charge, list := range [2][]sale.DocumentAdjustment{c.orig.Discounts, c.orig.Charges} {
		var out []map[string]any
		for j, d := range list {
			if d.Percent == nil {
				for _, a := range c.totals.Adjustments {
					if a.Charge != (charge == 1) || a.Source != j {
						continue
					}
					g := vatGroup{a.Category, a.Rate.String(), a.ExemptionReason}
					whole := c.linesNet(g)
					if whole.Sign() <= 0 {
						break // a group with no lines: its amounts stay
					}
					amount, err := proRata(d.Amount, linesLeft[g], whole)
					if err != nil {
						return err
					}
					d.Amount = amount
				}
				if d.Amount.IsZero() {
					continue
				}
			}
			out = append(out, documentAdjustmentJSON(d))
		}
		key := [2]string{"discounts", "charges"}[charge]
		delete(s, key)
		if len(out) > 0 {
			if err := setJSON(s, key, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// linesNet is the net amount of the original's lines in group g.
func (c *correction) linesNet(g vatGroup) money.Decimal {
	for i := range c.totals.Categories {
		if groupOf(&c.totals.Categories[i]) == g {
			return c.totals.Categories[i].LinesNet
		}
	}
	return money.Decimal{}
}

// groupsMet reports whether the note s takes exactly the taxable amount
// left of each VAT group.
func (c *correction) groupsMet(s map[string]json.RawMessage, opts sale.Options) bool {
	b, err := json.Marshal(s)
	if err != nil {
		return false
	}
	ns, err := sale.Decode(b, opts)
	if err != nil {
		return false
	}
	share, _, err := saleShare(ns, c.origOf)
	return err == nil && c.sameGroups(share)
}

func (c *correction) sameGroups(share credited) bool {
	for _, g := range c.left.Groups {
		if money.Cmp(share.taxable(g.vatGroup), nonNegative(g.Taxable)) != 0 {
			return false
		}
	}
	for _, g := range share.Groups {
		if money.Cmp(g.Taxable, nonNegative(c.left.taxable(g.vatGroup))) != 0 {
			return false
		}
	}
	return true
}

// settleDocument replaces s's document discounts and charges by one per
// VAT group that brings the group's lines left to its taxable amount left.
func (c *correction) settleDocument(s map[string]json.RawMessage, linesLeft map[vatGroup]money.Decimal) error {
	var discounts, charges []map[string]any
	generic := "What is left of the document discounts and charges of " + c.number
	for _, g := range c.left.Groups {
		diff, err := money.Sub(linesLeft[g.vatGroup], nonNegative(g.Taxable))
		if err != nil {
			return err
		}
		var applied []sale.Adjustment // the original's entries of that kind in the group, for their reason
		charge := diff.Sign() < 0
		for _, a := range c.totals.Adjustments {
			if a.Charge == charge && (vatGroup{a.Category, a.Rate.String(), a.ExemptionReason}) == g.vatGroup {
				applied = append(applied, sale.Adjustment{Reason: a.Reason, ReasonCode: a.ReasonCode})
			}
		}
		if charge {
			diff.Coef = -diff.Coef
		}
		if diff.IsZero() {
			continue
		}
		d := sale.DocumentAdjustment{Adjustment: settling(diff, applied, generic), Category: g.Category, ExemptionReason: g.ExemptionReason}
		if g.Category == sale.Standard {
			rate, err := money.Parse(g.Rate)
			if err != nil {
				return err
			}
			d.Rate = rate
		}
		if charge {
			charges = append(charges, documentAdjustmentJSON(d))
		} else {
			discounts = append(discounts, documentAdjustmentJSON(d))
		}
	}
	for key, list := range map[string][]map[string]any{"discounts": discounts, "charges": charges} {
		delete(s, key)
		if len(list) > 0 {
			if err := setJSON(s, key, list); err != nil {
				return err
			}
		}
	}
	return nil
}

// verify decodes the note body and checks that it takes exactly what is
// left of the original: every line's quantity and net amount, every VAT
// group's taxable amount.
func (c *correction) verify(body []byte, opts sale.Options) error {
	ns, err := sale.Decode(body, opts)
	if err != nil {
		return fmt.Errorf("corrective credit note of document %d: %w", c.counter, err)
	}
	share, _, err := saleShare(ns, c.origOf)
	if err != nil {
		return fmt.Errorf("corrective credit note of document %d: %w", c.counter, err)
	}
	for _, k := range c.origOf {
		got, want := share.Lines[k], c.left.Lines[k]
		if money.Cmp(got.Quantity, want.Quantity) != 0 || money.Cmp(got.Net, nonNegative(want.Net)) != 0 {
			return fmt.Errorf("corrective credit note of document %d: line %d credits %s for %s, not the %s for %s left", c.counter, k, got.Net, got.Quantity, want.Net, want.Quantity)
		}
	}
	if !c.sameGroups(share) {
		return fmt.Errorf("corrective credit note of document %d: its taxable amounts per VAT group are not those left", c.counter)
	}
	return nil
}

// adjustmentsProRata is a line's discounts or charges for quantity q of
// whole: percentages as they are, amounts pro rata (those that come to
// nothing left out).
func adjustmentsProRata(adjs []sale.Adjustment, q, whole money.Decimal) ([]sale.Adjustment, error) {
	var out []sale.Adjustment
	for _, a := range adjs {
		if a.Percent == nil {
			amount, err := proRata(a.Amount, q, whole)
			if err != nil {
				return nil, err
			}
			if amount.IsZero() {
				continue
			}
			a.Amount = amount
		}
		out = append(out, a)
	}
	return out, nil
}

// settling is a discount or charge of amount with the reason of the first
// of like (the original's entries of that kind), or generic.
func settling(amount money.Decimal, like []sale.Adjustment, generic string) sale.Adjustment {
	a := sale.Adjustment{Amount: amount, Reason: generic}
	if len(like) > 0 {
		a.Reason, a.ReasonCode = like[0].Reason, like[0].ReasonCode
	}
	return a
}

func adjustmentJSON(a sale.Adjustment) map[string]any {
	m := map[string]any{"reason": a.Reason}
	if a.Percent != nil {
		m["percent"] = a.Percent.String()
	} else {
		m["amount"] = a.Amount.String()
	}
	if a.ReasonCode != "" {
		m["reason_code"] = a.ReasonCode
	}
	return m
}

func documentAdjustmentJSON(d sale.DocumentAdjustment) map[string]any {
	m := adjustmentJSON(d.Adjustment)
	if d.Category != "" {
		m["vat_category"] = string(d.Category)
	}
	if d.Category == sale.Standard {
		m["vat_rate"] = d.Rate.String()
	}
	if d.ExemptionReason != "" {
		m["exemption_reason"] = d.ExemptionReason
	}
	return m
}

// setAdjustments writes a line's discounts and charges.
func setAdjustments(line map[string]json.RawMessage, discounts, charges []sale.Adjustment) error {
	for key, list := range map[string][]sale.Adjustment{"discounts": discounts, "charges": charges} {
		if len(list) == 0 {
			continue
		}
		out := make([]map[string]any, len(list))
		for i, a := range list {
			out[i] = adjustmentJSON(a)
		}
		if err := setJSON(line, key, out); err != nil {
			return err
		}
	}
	return nil
}

func setJSON(m map[string]json.RawMessage, key string, v any) error {
	b, err := json.Marshal(v)
	if err == nil {
		m[key] = b
	}
	return err
}

// withoutTendered leaves cash tendered out of s's payments: a credit note
// hands the money back, nothing is tendered for it.
func withoutTendered(s map[string]json.RawMessage) error {
	return editPayments(s, "tendered")
}

// withoutPaymentAmounts leaves the amounts out of s's payments: they were
// for the whole sale.
func withoutPaymentAmounts(s map[string]json.RawMessage) error {
	return editPayments(s, "amount")
}

func editPayments(s map[string]json.RawMessage, drop string) error {
	raw, ok := s["payments"]
	if !ok {
		return nil
	}
	var payments []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &payments); err != nil {
		return err
	}
	if payments == nil {
		return nil
	}
	for _, p := range payments {
		delete(p, drop)
	}
	return setJSON(s, "payments", payments)
}

// nonNegative is d, or zero when d is below zero (what notes issued before
// these limits may have over-credited).
func nonNegative(d money.Decimal) money.Decimal {
	if d.Sign() < 0 {
		return money.Decimal{Scale: sale.AmountScale}
	}
	return d
}

package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// Credit and debit notes against the documents of this unit.
//
// A note names its original by number as printed, UUID or counter. It may
// reference:
//
//   - a credit note: an invoice or a debit note of this unit;
//   - a debit note: an invoice of this unit, which it adds to;
//
// never a credit note, and never a document whose rejection by the
// authority was corrected (POST /v1/documents/{id}/credit-note). A rejected
// document may still be credited (within what is left of it); it may not
// be debited. Each line of a credit note is matched to a line of the
// original (matchLine) and must have that line's VAT category, rate and
// exemption reason. Of all the credit notes that reference the original,
// this one included, the quantities and the net amounts credited per
// original line, and the taxable amounts credited per VAT group, must not
// exceed the original's (credited.go says why these measures). A credit
// note the authority rejected takes nothing any more. The store runs the
// check inside the issue transaction (queue.NoteRef), so notes racing for
// the same original are checked one after the other.

// notePlan is a note's reference as checked before the store: what Issue
// passes to the store and how the stored sale says it.
type notePlan struct {
	ref    *queue.NoteRef    // nil for a note for a document issued elsewhere
	number string            // how the note names its original from now on: its number (or counter)
	lines  []int             // per note line, the original's line it corrects (1-based; 0: none)
	audit  map[string]string // added to the note's audit entry
}

// planNote resolves and checks the reference of note s, issued by role. A
// corrective note (corrective non-zero) references that counter. Every
// problem is an *IssueError: 403 for original_external without the role,
// 400 naming the field otherwise. What depends on the notes already issued
// is checked by plan.ref.Check, in the issue transaction.
func (a *Agent) planNote(s *sale.Sale, role Role, corrective uint64) (*notePlan, error) {
	_, numbered := a.regime.(stamping.Numbered)
	if s.OriginalExternal {
		if numbered {
			// The authority needs the number it accepted the original under.
			return nil, invalidSale(sale.Errors{{Field: "original_external", Rule: fmt.Sprintf(
				"a note must name a document of this unit: the %s regime sends each note with the number the authority accepted its original under, which egsd knows only for its own documents", a.regime.Name())}})
		}
		return a.planExternalNote(s, role)
	}
	var orig *queue.Record
	var err error
	if corrective != 0 {
		orig, err = a.store.Document(corrective)
	} else {
		orig, err = a.store.ResolveDocument(s.Original)
	}
	switch {
	case errors.Is(err, queue.ErrPruned):
		return nil, invalidSale(sale.Errors{{Field: "original", Rule: err.Error() +
			"; a note for it is issued by a manager as for a document issued elsewhere, with \"original_external\": true"}})
	case errors.Is(err, queue.ErrNotFound):
		return nil, invalidSale(sale.Errors{{Field: "original", Rule: fmt.Sprintf(
			"no document of this unit has the number, UUID or counter %q; a note for a document issued elsewhere (before egsd, or by another till) is issued by a manager with \"original_external\": true", s.Original)}})
	case errors.Is(err, queue.ErrAmbiguous):
		return nil, invalidSale(sale.Errors{{Field: "original", Rule: err.Error()}})
	case err != nil:
		return nil, err
	}
	name := documentName(orig)
	if orig.Kind == string(sale.CreditNote) {
		return nil, invalidSale(sale.Errors{{Field: "original", Rule: fmt.Sprintf(
			"%s is a credit note: a note references the invoice (or, for a credit note, the debit note) it corrects, never a credit note", name)}})
	}
	if s.Kind == sale.DebitNote && orig.Kind != string(sale.Invoice) {
		return nil, invalidSale(sale.Errors{{Field: "original", Rule: fmt.Sprintf(
			"%s is a %s: a debit note references the invoice it adds to", name, strings.ReplaceAll(orig.Kind, "_", " "))}})
	}
	origSale, err := sale.Decode(orig.Sale, sale.Options{DefaultCurrency: a.cfg.Regime.Currency})
	if err != nil {
		// Stored by an egsd whose rules differed: nothing to check against.
		return nil, &IssueError{Problem{Type: problemConflict, Title: "Original cannot be checked", Status: http.StatusConflict,
			Detail: fmt.Sprintf("the sale of %s, as stored, cannot be read to check this note (%v); a manager may issue the note with \"original_external\": true", name, err)}}
	}
	var errs sale.Errors
	if s.Currency != origSale.Currency {
		errs.Add("currency", "must be %s's currency, %s", name, origSale.Currency)
	}
	checkSameBuyer(&errs, s.Buyer, origSale.Buyer, name)
	noteTotals, err := sale.ComputeTotals(s)
	if err != nil {
		return nil, fmt.Errorf("totals of the note: %w", err)
	}
	limits, origTotals, err := saleShare(origSale, nil)
	if err != nil {
		return nil, fmt.Errorf("stored sale of document %d: %w", orig.Counter, err)
	}
	lines := make([]int, len(s.Lines))
	for i := range s.Lines {
		lines[i] = matchLine(&errs, s, &noteTotals, i, origSale, origTotals, name)
	}
	share, err := shareOf(s, &noteTotals, lines)
	if err != nil {
		errs.Add("lines", "the amounts cannot be computed: %v", err)
	}
	if err := errs.Err(); err != nil {
		return nil, invalidSale(err.(sale.Errors))
	}
	number := cmpOr(orig.Number, strconv.FormatUint(orig.Counter, 10))
	plan := &notePlan{number: number, lines: lines,
		audit: map[string]string{"original": number, "original_counter": strconv.FormatUint(orig.Counter, 10)}}
	chk := &creditCheck{kind: s.Kind, name: name, numbered: numbered, noteLines: s.Lines, lines: lines, share: share, limits: limits,
		hints: groupHints(&noteTotals, origTotals)}
	plan.ref = &queue.NoteRef{Original: orig.Counter, Corrective: corrective != 0,
		Check: func(o *queue.Record, refs queue.References) (queue.Credit, error) {
			return chk.check(o, refs)
		}}
	return plan, nil
}

// planExternalNote accepts a note for a document issued elsewhere: an
// explicit choice by a manager, recorded with the note's audit entry.
func (a *Agent) planExternalNote(s *sale.Sale, role Role) (*notePlan, error) {
	if role != RoleManager {
		return nil, &IssueError{Problem{Type: problemForbidden, Title: "A manager must issue this note", Status: http.StatusForbidden,
			Detail: "original_external: a note for a document issued elsewhere cannot be checked against that document, so only a manager may issue it; ask a manager to issue this note"}}
	}
	plan := &notePlan{number: s.Original, audit: map[string]string{"original": s.Original, "original_external": "true", "reason": s.Reason}}
	switch rec, err := a.store.DocumentByUUID(s.Original); {
	case err == nil:
		return nil, invalidSale(sale.Errors{{Field: "original_external", Rule: fmt.Sprintf(
			"%q is the UUID of %s of this unit: a note for it is checked against it; leave original_external out", s.Original, documentName(rec))}})
	case !errors.Is(err, queue.ErrNotFound):
		return nil, err
	}
	// Another till may print the same numbers: allowed, and said in the audit log.
	if rec, err := a.store.ResolveDocument(s.Original); err == nil {
		plan.audit["same_reference_as"] = strconv.FormatUint(rec.Counter, 10)
	}
	return plan, nil
}

// creditCheck is what a note's check in the issue transaction needs: the
// note's share of its original and the original's limits.
type creditCheck struct {
	kind sale.Kind
	// numbered: the authority numbers what it accepts (stamping.Numbered),
	// and a note is sent with its original's number.
	numbered  bool
	name      string      // the original, as messages name it
	noteLines []sale.Line // the note's lines, for their names
	lines     []int       // per note line, the original line it corrects
	share     credited    // what the note takes
	limits    credited    // what the original has
	hints     map[vatGroup]groupHint
}

// groupHint is what a refusal for a VAT group's taxable amount names: the
// fields to change, and what the original's document discounts there were.
type groupHint struct {
	fields    []string
	discounts money.Decimal // the original's document discounts in the group
	noteHas   bool          // whether the note has document discounts there
}

// groupHints names, per VAT group of the note, the fields that make its
// taxable amount: the document discounts when the original had some there
// (the note lacks them), the note's charges there, else its lines.
func groupHints(note, orig *sale.Totals) map[vatGroup]groupHint {
	hints := map[vatGroup]groupHint{}
	for i := range note.Categories {
		hints[groupOf(&note.Categories[i])] = groupHint{}
	}
	sum := func(t *sale.Totals, g vatGroup, charge bool) (money.Decimal, bool) {
		total, found := money.Decimal{Scale: sale.AmountScale}, false
		for _, a := range t.Adjustments {
			if a.Charge == charge && (vatGroup{a.Category, a.Rate.String(), a.ExemptionReason}) == g {
				if s, err := money.Add(total, a.Amount); err == nil {
					total = s
				}
				found = true
			}
		}
		return total, found
	}
	for g := range hints {
		var h groupHint
		if d, ok := sum(orig, g, false); ok {
			h.fields, h.discounts = append(h.fields, "discounts"), d
			_, h.noteHas = sum(note, g, false)
		}
		if _, ok := sum(note, g, true); ok {
			h.fields = append(h.fields, "charges")
		}
		if len(h.fields) == 0 {
			h.fields = []string{"lines"}
		}
		hints[g] = h
	}
	return hints
}

// check is the note's check in the issue transaction: the rules that
// depend on the original's status and on the notes already issued against
// it, and, for a credit note, the new running totals and whether they take
// all of the original.
func (chk *creditCheck) check(o *queue.Record, refs queue.References) (queue.Credit, error) {
	name := chk.name
	if refs.Corrective != 0 {
		return queue.Credit{}, sale.Errors{{Field: "original", Rule: fmt.Sprintf(
			"%s was rejected by the authority and corrected by credit note %d: nothing more may be issued against it", name, refs.Corrective)}}
	}
	if chk.kind == sale.DebitNote {
		if o.Status == queue.StatusRejected {
			return queue.Credit{}, sale.Errors{{Field: "original", Rule: fmt.Sprintf(
				"%s was rejected by the authority: it cannot be debited; a manager issues its corrective credit note (POST /v1/documents/%d/credit-note)", name, o.Counter)}}
		}
		return unchangedCredit(refs), nil
	}
	if chk.numbered && o.Status == queue.StatusRejected {
		return queue.Credit{}, sale.Errors{{Field: "original", Rule: fmt.Sprintf(
			"%s was rejected by the authority, which therefore never numbered it: a credit note is sent with its original's number, so none can be issued for it; issue the sale again correctly instead", name)}}
	}
	before, err := decodeCredited(refs.Credited)
	if errors.Is(err, errCreditedForm) {
		return queue.Credit{}, sale.Errors{{Field: "original", Rule: fmt.Sprintf(
			"what the credit notes before this one took from %s was kept by an earlier egsd, and this one could not recompute it at its start (one of their sales cannot be read; the log and the credits_recomputed audit entry say so): the note cannot be checked against it; a manager may issue it with \"original_external\": true, naming the original by its number", name)}}
	}
	if err != nil {
		return queue.Credit{}, fmt.Errorf("document %d: %w", o.Counter, err)
	}
	c := before.clone()
	if err := c.add(chk.share, 1); err != nil {
		return queue.Credit{}, sale.Errors{{Field: "lines", Rule: err.Error()}}
	}
	var errs sale.Errors
	for _, k := range slices.Sorted(maps.Keys(chk.share.Lines)) {
		limit, now, had, took := chk.limits.Lines[k], c.Lines[k], before.Lines[k], chk.share.Lines[k]
		for _, i := range noteLinesOf(chk.lines, k) {
			switch {
			case money.Cmp(now.Quantity, limit.Quantity) > 0:
				errs.Add(fmt.Sprintf("lines[%d].quantity", i), "credits %s of line %d of %s (%s), which had %s, of which %s %s already credited: at most %s remain",
					took.Quantity, k, name, chk.noteLines[i].Name, limit.Quantity, had.Quantity, isOrAre(had.Quantity), remaining(limit.Quantity, had.Quantity))
			case money.Cmp(now.Net, limit.Net) > 0:
				errs.Add(fmt.Sprintf("lines[%d].unit_price", i), "credits %s (the net amount: quantity × unit price, less the price discount and the line's discounts, plus its charges) of line %d of %s (%s), which came to %s, of which %s %s already credited: at most %s remain",
					took.Net, k, name, chk.noteLines[i].Name, limit.Net, had.Net, isOrAre(had.Net), remaining(limit.Net, had.Net))
			}
		}
	}
	if len(errs) == 0 {
		// The VAT groups once the lines fit: a line over its own limit is
		// the clearer message.
		for _, g := range chk.share.Groups {
			limit, now, had := chk.limits.taxable(g.vatGroup), c.taxable(g.vatGroup), before.taxable(g.vatGroup)
			if money.Cmp(now, limit) <= 0 {
				continue
			}
			h := chk.hints[g.vatGroup]
			rule := fmt.Sprintf("the note's taxable amount in VAT group %s is %s, but %s had %s there (after its document discounts and charges), of which %s %s already credited: at most %s remain",
				g.vatGroup, g.Taxable, name, limit, had, isOrAre(had), remaining(limit, had))
			for _, f := range h.fields {
				switch f {
				case "discounts":
					if h.noteHas {
						errs.Add(f, "%s; the original's document discounts there came to %s", rule, h.discounts)
					} else {
						errs.Add(f, "%s; the original's document discounts there came to %s: give the note the same discount (the same percent, or its share as an amount)", rule, h.discounts)
					}
				case "charges":
					errs.Add(f, "%s; the note's document charges there must not take it over", rule)
				default:
					errs.Add(f, "%s", rule)
				}
			}
		}
	}
	if err := errs.Err(); err != nil {
		return queue.Credit{}, err
	}
	return c.credit(chk.limits)
}

// unchangedCredit is the credit of an original that a note leaves as it
// was (a debit note takes nothing).
func unchangedCredit(refs queue.References) queue.Credit {
	return queue.Credit{Credited: refs.Credited, InFull: refs.CreditedInFull != 0}
}

// creditLimits is what the credit notes of the stored document orig may
// take from it: the measures of its own lines and VAT groups.
func (a *Agent) creditLimits(orig *queue.Record) (credited, error) {
	origSale, err := sale.Decode(orig.Sale, sale.Options{DefaultCurrency: a.cfg.Regime.Currency})
	if err != nil {
		return credited{}, fmt.Errorf("stored sale of document %d: %w", orig.Counter, err)
	}
	limits, _, err := saleShare(origSale, nil)
	return limits, err
}

func isOrAre(d money.Decimal) string {
	if money.Cmp(d, money.MustParse("1")) == 0 {
		return "is"
	}
	return "are"
}

// remaining is limit − taken, or "0" when nothing is left (legacy notes
// may have taken more).
func remaining(limit, taken money.Decimal) string {
	r, err := money.Sub(limit, taken)
	if err != nil || r.Sign() <= 0 {
		return "0"
	}
	return r.String()
}

// noteLinesOf lists the note lines matched to original line k.
func noteLinesOf(lines []int, k int) []int {
	var out []int
	for i, l := range lines {
		if l == k {
			out = append(out, i)
		}
	}
	return out
}

// matchLine finds the line of the original origSale (totals ot) that
// line i of note s (totals st) corrects, and checks that it has the same
// VAT. The line is the one original_line names; without it, for a credit
// note, the original's one line with the same seller_code (or, when the
// note's line has none, the same name), narrowed, when there are several,
// to those with the same price: as listed, then as paid per unit (a price
// may be stated gross with its discounts, or net). A line that matches
// none or several is refused, naming original_line. A debit note's line
// without original_line is an addition matched to no line (0).
func matchLine(errs *sale.Errors, s *sale.Sale, st *sale.Totals, i int, origSale *sale.Sale, ot *sale.Totals, name string) int {
	l := &s.Lines[i]
	path := fmt.Sprintf("lines[%d]", i)
	k := l.OriginalLine
	switch {
	case k > len(origSale.Lines):
		errs.Add(path+".original_line", "is %d, but %s has %d lines", k, name, len(origSale.Lines))
		return 0
	case k == 0 && s.Kind == sale.DebitNote:
		return 0
	case k == 0:
		by, key := "name", l.Name
		if l.SellerCode != "" {
			by, key = "seller_code", l.SellerCode
		}
		var candidates []int
		for j, o := range origSale.Lines {
			if by == "seller_code" && o.SellerCode == key || by == "name" && o.Name == key {
				candidates = append(candidates, j+1)
			}
		}
		// Among several, those with the same unit price as listed, then
		// those paid the same per unit: a price stated net (9.00) finds
		// the line listed gross with its discount (10.00 less 10 %).
		paid := paidPerUnit(l, &st.Lines[i])
		candidates = narrow(candidates, func(j int) bool { return money.Cmp(origSale.Lines[j-1].UnitPrice, l.UnitPrice) == 0 })
		candidates = narrow(candidates, func(j int) bool {
			return money.Cmp(paidPerUnit(&origSale.Lines[j-1], &ot.Lines[j-1]), paid) == 0
		})
		switch len(candidates) {
		case 0:
			errs.Add(path+".original_line", "is required: no line of %s has the %s %q; give the number of the line this one corrects (1 to %d)", name, by, key, len(origSale.Lines))
			return 0
		case 1:
			k = candidates[0]
		default:
			errs.Add(path+".original_line", "is required: lines %s of %s all have the %s %q and the prices of this line (%s as listed, %s as paid per unit); give the number of the line this one corrects",
				joinInts(candidates), name, by, key, l.UnitPrice, paid)
			return 0
		}
	}
	o := &origSale.Lines[k-1]
	if l.Category != o.Category {
		errs.Add(path+".vat_category", "must be %q, the VAT category of line %d of %s (%s)", o.Category, k, name, o.Name)
	} else if money.Cmp(l.Rate, o.Rate) != 0 {
		errs.Add(path+".vat_rate", "must be %s, the VAT rate of line %d of %s (%s)", o.Rate, k, name, o.Name)
	} else if l.ExemptionReason != o.ExemptionReason {
		errs.Add(path+".exemption_reason", "must be %q, the exemption reason of line %d of %s (%s)", o.ExemptionReason, k, name, o.Name)
	}
	return k
}

// paidPerUnit is what a line was paid per unit: its net amount ÷
// quantity, to the cent (zero if that cannot be computed, which a line
// within the limits never meets).
func paidPerUnit(l *sale.Line, lt *sale.LineTotal) money.Decimal {
	paid, err := proRata(lt.Net, money.Decimal{Coef: 1}, l.Quantity)
	if err != nil {
		return money.Decimal{}
	}
	return paid
}

// narrow keeps the candidates that keep holds for, or all of them when
// none does.
func narrow(candidates []int, keep func(j int) bool) []int {
	if len(candidates) < 2 {
		return candidates
	}
	var out []int
	for _, j := range candidates {
		if keep(j) {
			out = append(out, j)
		}
	}
	if len(out) == 0 {
		return candidates
	}
	return out
}

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ", ")
}

// checkSameBuyer: a note goes to its original's buyer (a standard
// document's notes are standard too, for the same buyer).
func checkSameBuyer(errs *sale.Errors, b, ob *sale.Buyer, name string) {
	var vat, scheme, id, ovat, oscheme, oid string
	if b != nil {
		vat, scheme, id = b.VATNumber, b.IDScheme, b.ID
	}
	if ob != nil {
		ovat, oscheme, oid = ob.VATNumber, ob.IDScheme, ob.ID
	}
	if vat != ovat {
		errs.Add("buyer.vat_number", "must be %s, the buyer's VAT number on %s: a note goes to the original's buyer", orNone(ovat), name)
	}
	if scheme != oscheme || id != oid {
		errs.Add("buyer.id", "must be %s, the buyer's ID on %s: a note goes to the original's buyer", orNone(strings.TrimSpace(oscheme+" "+oid)), name)
	}
}

func orNone(v string) string {
	if v == "" {
		return "absent"
	}
	return strconv.Quote(v)
}

// documentName names a document in messages: "document 7 (INV-7)".
func documentName(r *queue.Record) string {
	if r.Number == "" {
		return fmt.Sprintf("document %d", r.Counter)
	}
	return fmt.Sprintf("document %d (%s)", r.Counter, r.Number)
}

func invalidSale(errs sale.Errors) *IssueError {
	return &IssueError{Problem{Type: problemInvalidSale, Title: "Invalid sale", Status: http.StatusBadRequest, Detail: errs.Error(), Errors: errs}}
}

func cmpOr(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// noteSale is the note as the store keeps it: the body with original set
// to how the plan names the original and, on each line matched to a line
// of it, original_line.
func noteSale(body []byte, plan *notePlan) ([]byte, error) {
	var s map[string]json.RawMessage
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, err
	}
	var err error
	if s["original"], err = json.Marshal(plan.number); err != nil {
		return nil, err
	}
	if plan.lines == nil {
		return json.Marshal(s)
	}
	var lines []map[string]json.RawMessage
	if err := json.Unmarshal(s["lines"], &lines); err != nil {
		return nil, err
	}
	for i, k := range plan.lines {
		if k != 0 {
			lines[i]["original_line"] = json.RawMessage(strconv.Itoa(k))
		}
	}
	if s["lines"], err = json.Marshal(lines); err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// releaseNote is the store's ReleaseNote: what a credit note the authority
// rejected took from its original is given back.
func (a *Agent) releaseNote(note, orig *queue.Record, refs queue.References) (queue.Credit, error) {
	if note.Kind != string(sale.CreditNote) {
		return unchangedCredit(refs), nil
	}
	share, err := a.storedNoteShare(note, orig, nil)
	if err != nil {
		return queue.Credit{}, err
	}
	c, err := decodeCredited(refs.Credited)
	if err != nil {
		return queue.Credit{}, err
	}
	if err := c.add(share, -1); err != nil {
		return queue.Credit{}, err
	}
	limits, err := a.creditLimits(orig)
	if err != nil {
		return queue.Credit{}, err
	}
	return c.credit(limits)
}

// storedNoteShare is what a stored credit note takes from its original,
// its lines matched as they were when it was issued (its stored sale names
// original_line; a note stored before egsd kept that is matched again).
// unmatched, if not nil, counts the lines that match no line.
func (a *Agent) storedNoteShare(note, orig *queue.Record, unmatched *int) (credited, error) {
	opts := sale.Options{DefaultCurrency: a.cfg.Regime.Currency}
	ns, err := sale.Decode(note.Sale, opts)
	if err != nil {
		return credited{}, fmt.Errorf("stored sale of note %d: %w", note.Counter, err)
	}
	nt, err := sale.ComputeTotals(ns)
	if err != nil {
		return credited{}, fmt.Errorf("stored sale of note %d: %w", note.Counter, err)
	}
	origSale, err := sale.Decode(orig.Sale, opts)
	if err != nil {
		return credited{}, fmt.Errorf("stored sale of document %d: %w", orig.Counter, err)
	}
	ot, err := sale.ComputeTotals(origSale)
	if err != nil {
		return credited{}, fmt.Errorf("stored sale of document %d: %w", orig.Counter, err)
	}
	lines := make([]int, len(ns.Lines))
	for i := range ns.Lines {
		var errs sale.Errors
		lines[i] = matchLine(&errs, ns, &nt, i, origSale, &ot, documentName(orig))
		if lines[i] == 0 && unmatched != nil {
			*unmatched++
		}
	}
	return shareOf(ns, &nt, lines)
}

// handleCorrectiveCreditNote issues, for a document the authority
// rejected, the credit note that cancels it in the books before the sale is
// issued again correctly (the rejected document keeps its slot in the
// chain: it cannot be withdrawn). The note is built from the rejected sale,
// for what the credit notes already issued against it left (usually all of
// it). A document has one corrective note: whoever asks again, or at the
// same time, gets that note (200, Idempotent-Replayed).
func (a *Agent) handleCorrectiveCreditNote(w http.ResponseWriter, r *http.Request, p *Principal) {
	rec, ok := a.lookupDocument(w, r, p)
	if !ok {
		return
	}
	refs, err := a.store.References(rec.Counter)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	if refs.Corrective != 0 {
		note, err := a.store.Document(refs.Corrective)
		a.writeIssued(w, r, note, true, err)
		return
	}
	if rec.Status != queue.StatusRejected || rec.Kind == string(sale.CreditNote) || len(rec.Sale) == 0 {
		writeProblem(w, Problem{Type: problemConflict, Title: "No corrective credit note", Status: http.StatusConflict,
			Detail: fmt.Sprintf("document %d is %s %s: only a rejected invoice or debit note gets a corrective credit note", rec.Counter, rec.Status, strings.ReplaceAll(rec.Kind, "_", " "))})
		return
	}
	body, prob, err := a.correctiveBody(rec, refs)
	switch {
	case err != nil:
		a.internalError(w, r, err)
		return
	case prob != nil:
		writeProblem(w, *prob)
		return
	}
	note, replayed, err := a.issue(r.Context(), p, "", body, rec.Counter)
	a.writeIssued(w, r, note, replayed, err)
}

func joinCounters(cs []uint64) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = strconv.FormatUint(c, 10)
	}
	return strings.Join(parts, ", ")
}

// reindexBatch is how many documents one transaction of reindex indexes.
const reindexBatch = 1000

// reindex indexes the documents issued before the store kept their
// numbers and their notes' references (queue schema 2): each document's
// number from its receipt, and each note whose original is a document of
// this unit in that original's references, with what a credit note took
// (its lines matched as a note's are now; a line that matches none counts
// for nothing). It runs once, at start, before anything is issued, and
// records what it did in the audit log.
func (a *Agent) reindex() error {
	var docs, notes, unresolved, unmatched int
	for {
		done := false
		err := a.store.Update(func(tx *queue.Tx) error {
			for range reindexBatch {
				c := tx.ReindexFrom()
				if c == 0 {
					done = true
					return nil
				}
				rec, err := tx.Record(c)
				if err != nil {
					return err
				}
				var info stamping.ReceiptInfo
				if len(rec.Receipt) > 0 {
					if err := json.Unmarshal(rec.Receipt, &info); err != nil {
						return fmt.Errorf("document %d: receipt facts: %w", c, err)
					}
				}
				original, credit, ok := a.legacyNote(tx, rec, &unmatched)
				switch {
				case ok:
					notes++
				case sale.Kind(rec.Kind).IsNote():
					unresolved++
				}
				if err := tx.Reindex(c, info.Number, original, credit); err != nil {
					return err
				}
				docs++
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
	if docs == 0 {
		return nil
	}
	a.log.Info().Int("documents", docs).Int("notes", notes).Int("notes_unresolved", unresolved).Int("note_lines_unmatched", unmatched).
		Msg("indexed the numbers and note references of the documents issued before this version")
	return a.store.Audit(queue.AuditEntry{Actor: queue.ActorSystem, ActorKind: queue.ActorSystem, Action: queue.AuditReindex, Details: map[string]string{
		"documents": strconv.Itoa(docs), "notes": strconv.Itoa(notes),
		"notes_unresolved": strconv.Itoa(unresolved), "note_lines_unmatched": strconv.Itoa(unmatched),
	}})
}

// legacyNote resolves the original of a note issued before notes were
// checked, and what it made of the original's credit: what a credit note
// took (nothing if the authority rejected it), and whether that left
// nothing of the original to credit. ok is false for a document that is
// not a note, or a note whose original is not an earlier document of this
// unit, or whose sales cannot be read: it is left unlinked.
func (a *Agent) legacyNote(tx *queue.Tx, rec *queue.Record, unmatched *int) (original uint64, credit queue.Credit, ok bool) {
	if !sale.Kind(rec.Kind).IsNote() {
		return 0, credit, false
	}
	var ref struct {
		Original string `json:"original"`
	}
	if json.Unmarshal(rec.Sale, &ref) != nil {
		return 0, credit, false
	}
	orig, err := tx.Resolve(strings.TrimSpace(ref.Original))
	if err != nil || orig.Counter >= rec.Counter {
		return 0, credit, false
	}
	refs, err := tx.References(orig.Counter)
	if err != nil {
		return 0, credit, false
	}
	if rec.Kind != string(sale.CreditNote) || rec.Status == queue.StatusRejected {
		return orig.Counter, unchangedCredit(refs), true
	}
	share, err := a.storedNoteShare(rec, orig, unmatched)
	if err != nil {
		return 0, credit, false
	}
	c, err := decodeCredited(refs.Credited)
	if err != nil || c.add(share, 1) != nil {
		return 0, credit, false
	}
	limits, err := a.creditLimits(orig)
	if err != nil {
		return 0, credit, false
	}
	if credit, err = c.credit(limits); err != nil {
		return 0, credit, false
	}
	return orig.Counter, credit, true
}

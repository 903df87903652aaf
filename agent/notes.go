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
	"github.com/egsd/egsd/stamping/textpolicy"
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
// exemption reason; per original line, the quantities and the amounts
// (quantity × unit price, exact, before rounding) of all the credit notes
// that reference it, this one included, must not exceed the original's. A
// credit note the authority rejected takes nothing any more. The store
// runs the check inside the issue transaction (queue.NoteRef), so notes
// racing for the same original are checked one after the other.

// credited is what the credit notes of one document took from it: per
// original line (1-based), the quantity and the amount. It is the store's
// References.Credited, in this JSON form.
type credited struct {
	Lines map[int]lineCredit `json:"lines"`
}

type lineCredit struct {
	Quantity money.Decimal `json:"-"`
	Amount   money.Decimal `json:"-"`
}

type lineCreditJSON struct {
	Quantity string `json:"quantity"`
	Amount   string `json:"amount"`
}

func (c lineCredit) MarshalJSON() ([]byte, error) {
	return json.Marshal(lineCreditJSON{c.Quantity.String(), c.Amount.String()})
}

func (c *lineCredit) UnmarshalJSON(b []byte) error {
	var j lineCreditJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var err error
	if c.Quantity, err = money.Parse(j.Quantity); err != nil {
		return fmt.Errorf("credited quantity %q: %w", j.Quantity, err)
	}
	if c.Amount, err = money.Parse(j.Amount); err != nil {
		return fmt.Errorf("credited amount %q: %w", j.Amount, err)
	}
	return nil
}

func decodeCredited(b []byte) (credited, error) {
	c := credited{Lines: map[int]lineCredit{}}
	if len(b) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("credited state: %w", err)
	}
	if c.Lines == nil {
		c.Lines = map[int]lineCredit{}
	}
	return c, nil
}

// add adds (sign +1) or takes away (sign -1) share from c.
func (c credited) add(share map[int]lineCredit, sign int) error {
	for k, s := range share {
		cur, ok := c.Lines[k]
		if !ok {
			cur = lineCredit{Quantity: money.Decimal{}, Amount: money.Decimal{}}
		}
		op := money.Add
		if sign < 0 {
			op = money.Sub
		}
		var err error
		if cur.Quantity, err = op(cur.Quantity, s.Quantity); err != nil {
			return fmt.Errorf("line %d: credited quantity %w", k, err)
		}
		if cur.Amount, err = op(cur.Amount, s.Amount); err != nil {
			return fmt.Errorf("line %d: credited amount %w", k, err)
		}
		c.Lines[k] = cur
	}
	return nil
}

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
	if s.OriginalExternal {
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
	lines := make([]int, len(s.Lines))
	for i := range s.Lines {
		lines[i] = matchLine(&errs, s, i, origSale, name)
	}
	share, err := noteShare(s, lines)
	if err != nil {
		errs.Add("lines", "the amounts cannot be computed: %v", err)
	}
	if err := errs.Err(); err != nil {
		return nil, invalidSale(err.(sale.Errors))
	}
	limits, err := noteShare(origSale, nil)
	if err != nil {
		return nil, fmt.Errorf("stored sale of document %d: %w", orig.Counter, err)
	}
	number := cmpOr(orig.Number, strconv.FormatUint(orig.Counter, 10))
	plan := &notePlan{number: number, lines: lines,
		audit: map[string]string{"original": number, "original_counter": strconv.FormatUint(orig.Counter, 10)}}
	kind := s.Kind
	plan.ref = &queue.NoteRef{Original: orig.Counter, Corrective: corrective != 0,
		Check: func(o *queue.Record, refs queue.References) (queue.Credit, error) {
			return checkCredit(kind, o, refs, name, s.Lines, lines, share, limits)
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

// checkCredit is a note's check in the issue transaction: the rules that
// depend on the original's status and on the notes already issued against
// it, and, for a credit note, the new running totals and whether they take
// all of the original (limits).
func checkCredit(kind sale.Kind, o *queue.Record, refs queue.References, name string, noteLines []sale.Line, lines []int, share, limits map[int]lineCredit) (queue.Credit, error) {
	if refs.Corrective != 0 {
		return queue.Credit{}, sale.Errors{{Field: "original", Rule: fmt.Sprintf(
			"%s was rejected by the authority and corrected by credit note %d: nothing more may be issued against it", name, refs.Corrective)}}
	}
	if kind == sale.DebitNote {
		if o.Status == queue.StatusRejected {
			return queue.Credit{}, sale.Errors{{Field: "original", Rule: fmt.Sprintf(
				"%s was rejected by the authority: it cannot be debited; a manager issues its corrective credit note (POST /v1/documents/%d/credit-note)", name, o.Counter)}}
		}
		return unchangedCredit(refs), nil
	}
	c, err := decodeCredited(refs.Credited)
	if err != nil {
		return queue.Credit{}, fmt.Errorf("document %d: %w", o.Counter, err)
	}
	before := credited{Lines: map[int]lineCredit{}}
	if err := before.add(c.Lines, 1); err != nil {
		return queue.Credit{}, err
	}
	if err := c.add(share, 1); err != nil {
		return queue.Credit{}, sale.Errors{{Field: "lines", Rule: err.Error()}}
	}
	var errs sale.Errors
	for _, k := range slices.Sorted(maps.Keys(share)) {
		limit, now, had := limits[k], c.Lines[k], before.Lines[k]
		fields := noteLinesOf(lines, k)
		if money.Cmp(now.Quantity, limit.Quantity) > 0 {
			for _, i := range fields {
				errs.Add(fmt.Sprintf("lines[%d].quantity", i), "credits %s of line %d of %s (%s), which had %s, of which %s %s already credited: at most %s remain",
					share[k].Quantity, k, name, noteLines[i].Name, limit.Quantity, had.Quantity, isOrAre(had.Quantity), remaining(limit.Quantity, had.Quantity))
			}
		} else if money.Cmp(now.Amount, limit.Amount) > 0 {
			for _, i := range fields {
				errs.Add(fmt.Sprintf("lines[%d].unit_price", i), "credits %s (quantity × unit price) of line %d of %s (%s), which was %s, of which %s %s already credited: at most %s remain",
					share[k].Amount, k, name, noteLines[i].Name, limit.Amount, had.Amount, isOrAre(had.Amount), remaining(limit.Amount, had.Amount))
			}
		}
	}
	if err := errs.Err(); err != nil {
		return queue.Credit{}, err
	}
	return c.credit(limits)
}

// credit is c as the store keeps it, with whether it takes all of an
// original whose lines are limits.
func (c credited) credit(limits map[int]lineCredit) (queue.Credit, error) {
	b, err := json.Marshal(c)
	return queue.Credit{Credited: b, InFull: c.covers(limits)}, err
}

// covers reports whether c takes all of every line of limits, quantity
// and amount: nothing of the original is left to credit (as
// correctiveBody judges a line credited in full).
func (c credited) covers(limits map[int]lineCredit) bool {
	for k, limit := range limits {
		taken := c.Lines[k]
		if money.Cmp(taken.Quantity, limit.Quantity) < 0 || money.Cmp(taken.Amount, limit.Amount) < 0 {
			return false
		}
	}
	return true
}

// unchangedCredit is the credit of an original that a note leaves as it
// was (a debit note takes nothing).
func unchangedCredit(refs queue.References) queue.Credit {
	return queue.Credit{Credited: refs.Credited, InFull: refs.CreditedInFull != 0}
}

// creditLimits is what the credit notes of the stored document orig may
// take from it: per line, its quantity and amount.
func (a *Agent) creditLimits(orig *queue.Record) (map[int]lineCredit, error) {
	origSale, err := sale.Decode(orig.Sale, sale.Options{DefaultCurrency: a.cfg.Regime.Currency})
	if err != nil {
		return nil, fmt.Errorf("stored sale of document %d: %w", orig.Counter, err)
	}
	return noteShare(origSale, nil)
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

// noteShare sums the lines of s per original line: lines[i] is the
// original line of s's line i (nil: s is the original, line i is line
// i+1). Lines matched to no line (0) count for nothing.
func noteShare(s *sale.Sale, lines []int) (map[int]lineCredit, error) {
	share := map[int]lineCredit{}
	for i, l := range s.Lines {
		k := i + 1
		if lines != nil {
			k = lines[i]
		}
		if k == 0 {
			continue
		}
		amount, err := money.Mul(l.Quantity, l.UnitPrice)
		if err != nil {
			return nil, fmt.Errorf("lines[%d]: quantity × unit_price %w", i, err)
		}
		cur := share[k]
		if cur.Quantity, err = money.Add(cur.Quantity, l.Quantity); err != nil {
			return nil, fmt.Errorf("lines[%d]: quantity %w", i, err)
		}
		if cur.Amount, err = money.Add(cur.Amount, amount); err != nil {
			return nil, fmt.Errorf("lines[%d]: amount %w", i, err)
		}
		share[k] = cur
	}
	return share, nil
}

// matchLine finds the line of the original origSale that line i of note s
// corrects, and checks that it has the same VAT. The line is the one
// original_line names; without it, for a credit note, the original's one
// line with the same seller_code (or, when the note's line has none, the
// same name), narrowed to the same unit price when there are several. A
// line that matches none or several is refused, naming original_line. A
// debit note's line without original_line is an addition matched to no
// line (0).
func matchLine(errs *sale.Errors, s *sale.Sale, i int, origSale *sale.Sale, name string) int {
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
		if len(candidates) > 1 {
			var samePrice []int
			for _, j := range candidates {
				if money.Cmp(origSale.Lines[j-1].UnitPrice, l.UnitPrice) == 0 {
					samePrice = append(samePrice, j)
				}
			}
			if len(samePrice) > 0 {
				candidates = samePrice
			}
		}
		switch len(candidates) {
		case 0:
			errs.Add(path+".original_line", "is required: no line of %s has the %s %q; give the number of the line this one corrects (1 to %d)", name, by, key, len(origSale.Lines))
			return 0
		case 1:
			k = candidates[0]
		default:
			errs.Add(path+".original_line", "is required: lines %s of %s all have the %s %q and the unit price %s; give the number of the line this one corrects",
				joinInts(candidates), name, by, key, l.UnitPrice)
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
func (a *Agent) storedNoteShare(note, orig *queue.Record, unmatched *int) (map[int]lineCredit, error) {
	opts := sale.Options{DefaultCurrency: a.cfg.Regime.Currency}
	ns, err := sale.Decode(note.Sale, opts)
	if err != nil {
		return nil, fmt.Errorf("stored sale of note %d: %w", note.Counter, err)
	}
	origSale, err := sale.Decode(orig.Sale, opts)
	if err != nil {
		return nil, fmt.Errorf("stored sale of document %d: %w", orig.Counter, err)
	}
	lines := make([]int, len(ns.Lines))
	for i := range ns.Lines {
		var errs sale.Errors
		lines[i] = matchLine(&errs, ns, i, origSale, documentName(orig))
		if lines[i] == 0 && unmatched != nil {
			*unmatched++
		}
	}
	return noteShare(ns, lines)
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

// correctiveBody is the corrective credit note of the rejected document
// rec: its sale as a credit note for what refs says is left of each line.
// A line partly credited at another unit price cannot be expressed as
// what is left at the original's price: prob says so (409), and how to
// credit it by hand.
func (a *Agent) correctiveBody(rec *queue.Record, refs queue.References) (body []byte, prob *Problem, err error) {
	var s map[string]json.RawMessage
	var rawLines []map[string]json.RawMessage
	if err := json.Unmarshal(rec.Sale, &s); err != nil {
		return nil, nil, fmt.Errorf("stored sale of document %d: %w", rec.Counter, err)
	}
	if err := json.Unmarshal(s["lines"], &rawLines); err != nil {
		return nil, nil, fmt.Errorf("stored sale of document %d: %w", rec.Counter, err)
	}
	origSale, err := sale.Decode(rec.Sale, sale.Options{DefaultCurrency: a.cfg.Regime.Currency})
	if err != nil {
		return nil, nil, fmt.Errorf("stored sale of document %d: %w", rec.Counter, err)
	}
	taken, err := decodeCredited(refs.Credited)
	if err != nil {
		return nil, nil, fmt.Errorf("document %d: %w", rec.Counter, err)
	}
	number := cmpOr(rec.Number, strconv.FormatUint(rec.Counter, 10))
	conflict := func(format string, args ...any) *Problem {
		return &Problem{Type: problemConflict, Title: "No corrective credit note", Status: http.StatusConflict, Detail: fmt.Sprintf(format, args...)}
	}
	var lines []map[string]json.RawMessage
	partial := false
	for i, l := range origSale.Lines {
		k := i + 1
		line := maps.Clone(rawLines[i])
		line["original_line"] = json.RawMessage(strconv.Itoa(k))
		t, ok := taken.Lines[k]
		if !ok || t.Quantity.IsZero() && t.Amount.IsZero() {
			lines = append(lines, line)
			continue
		}
		partial = true
		amount, err := money.Mul(l.Quantity, l.UnitPrice)
		if err != nil {
			return nil, nil, fmt.Errorf("document %d line %d: %w", rec.Counter, k, err)
		}
		q, qerr := money.Sub(l.Quantity, t.Quantity)
		left, aerr := money.Sub(amount, t.Amount)
		if qerr != nil || aerr != nil {
			return nil, nil, fmt.Errorf("document %d line %d: %w", rec.Counter, k, errors.Join(qerr, aerr))
		}
		if q.Sign() <= 0 && left.Sign() <= 0 {
			continue // credited in full already
		}
		if want, err := money.Mul(q, l.UnitPrice); err != nil || q.Sign() <= 0 || money.Cmp(want, left) != 0 {
			return nil, conflict("line %d of document %d (%s) was partly credited at another unit price (notes %s): credit what is left of it with a credit note naming original %q and original_line %d (POST /v1/sales), then ask again",
				k, rec.Counter, l.Name, joinCounters(refs.Notes), number, k), nil
		}
		if line["quantity"], err = json.Marshal(q.String()); err != nil {
			return nil, nil, err
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return nil, conflict("document %d was credited in full by notes %s: nothing is left to correct", rec.Counter, joinCounters(refs.Notes)), nil
	}
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
	for key, v := range map[string]any{"kind": sale.CreditNote, "original": number, "reason": reason, "lines": lines} {
		if s[key], err = json.Marshal(v); err != nil {
			return nil, nil, err
		}
	}
	delete(s, "note")
	if partial {
		// The amounts paid were for the whole sale.
		var payments []map[string]json.RawMessage
		if err := json.Unmarshal(s["payments"], &payments); err == nil && payments != nil {
			for _, pm := range payments {
				delete(pm, "amount")
			}
			if s["payments"], err = json.Marshal(payments); err != nil {
				return nil, nil, err
			}
		}
	}
	body, err = json.Marshal(s)
	return body, nil, err
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

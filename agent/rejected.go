package agent

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/sale"
)

// statusRejectedShown is how many rejected documents the status lists.
const statusRejectedShown = 5

// RejectedSummary is the status's part about documents the authority
// rejected. Each keeps its slot in the chain. A rejected invoice or debit
// note is corrected by a credit note: its corrective credit note (POST
// /v1/documents/{id}/credit-note, egsd documents credit-note), or the
// credit note after which nothing of it was left to credit. A rejected
// credit note takes nothing from its original any more: the return is
// issued again, corrected.
type RejectedSummary struct {
	Count int `json:"count"`
	// WithoutCreditNote counts the rejected invoices and debit notes that
	// no credit note corrects yet.
	WithoutCreditNote int `json:"without_credit_note"`
	// Newest are the most recently issued ones, newest first, at most 5.
	Newest []RejectedDocument `json:"newest"`
}

// RejectedDocument is one rejected document in the status: the store's
// index entry and the document's number.
type RejectedDocument struct {
	queue.RejectedEntry
	// Number is the document's number as printed and sent (ZATCA: the
	// invoice number); the counter where the regime has none.
	Number string `json:"number"`
}

// needsCreditNote reports whether a rejected document of kind is
// corrected by a credit note (a rejected credit note is issued again).
func needsCreditNote(kind string) bool { return kind != string(sale.CreditNote) }

// rejectedSummary reads the store's index of rejected documents: its
// counts and the newest few entries, however long the journal is.
func (a *Agent) rejectedSummary() (RejectedSummary, error) {
	st, err := a.store.Rejected(statusRejectedShown)
	if err != nil {
		return RejectedSummary{}, err
	}
	sum := RejectedSummary{Count: st.Count, Newest: []RejectedDocument{}}
	for kind, n := range st.WithoutCreditNote {
		if needsCreditNote(kind) {
			sum.WithoutCreditNote += n
		}
	}
	err = a.store.View(func(tx *queue.Tx) error {
		for _, e := range st.Newest {
			rec, err := tx.Record(e.Counter)
			if err != nil {
				return err
			}
			sum.Newest = append(sum.Newest, RejectedDocument{RejectedEntry: e, Number: cmpOr(rec.Number, strconv.FormatUint(rec.Counter, 10))})
		}
		return nil
	})
	return sum, err
}

// rejectionNextStep says, for the log, what a rejected document needs.
func rejectionNextStep(e queue.RejectedEntry) string {
	what := strings.ReplaceAll(e.Kind, "_", " ")
	switch {
	case !needsCreditNote(e.Kind):
		return fmt.Sprintf("the authority rejected %s %d: it keeps its place in the chain and takes nothing from its original any more; issue the return again, corrected", what, e.Counter)
	case e.CreditNote != 0:
		return fmt.Sprintf("the authority rejected %s %d: it keeps its place in the chain; credit note %d, issued before the answer, already credits all of it", what, e.Counter, e.CreditNote)
	}
	return fmt.Sprintf("the authority rejected %s %d: it keeps its place in the chain and needs a corrective credit note (egsd documents credit-note %d, manager)", what, e.Counter, e.Counter)
}

// settleRejected records, for each rejected document that no credit note
// corrects although its credit notes took all of it, the last of them as
// the one that did. The store records that as each note is issued; only
// references written before it did (schema 2) need this. It reads the
// rejected documents without a credit note, at each start.
func (a *Agent) settleRejected() error {
	var settled []string
	err := a.store.Update(func(tx *queue.Tx) error {
		settled = nil
		var open []queue.RejectedEntry
		if err := tx.RejectedWithoutCreditNote(func(e queue.RejectedEntry) bool { open = append(open, e); return true }); err != nil {
			return err
		}
		for _, e := range open {
			refs, err := tx.References(e.Counter)
			if err != nil {
				return err
			}
			if len(refs.Credited) == 0 || refs.CreditedInFull != 0 {
				continue
			}
			orig, err := tx.Record(e.Counter)
			if err != nil {
				return err
			}
			limits, err := a.creditLimits(orig)
			if err != nil {
				continue // a sale this version cannot read is not judged
			}
			c, err := decodeCredited(refs.Credited)
			if errors.Is(err, errCreditedForm) {
				continue // not recomputed: not judged
			}
			if err != nil {
				return fmt.Errorf("document %d: %w", e.Counter, err)
			}
			if !c.covers(limits) {
				continue
			}
			last, err := lastCredit(tx, refs.Notes)
			if err != nil || last == 0 {
				return err
			}
			if err := tx.SetCreditedInFull(e.Counter, last); err != nil {
				return err
			}
			settled = append(settled, fmt.Sprintf("%d by %d", e.Counter, last))
		}
		return nil
	})
	if err == nil && len(settled) > 0 {
		a.log.Info().Strs("documents", settled).Msg("rejected documents found credited in full by their credit notes")
	}
	return err
}

// lastCredit is the last of notes that is a credit note the authority
// did not reject, or 0.
func lastCredit(tx *queue.Tx, notes []uint64) (uint64, error) {
	for i := len(notes) - 1; i >= 0; i-- {
		r, err := tx.Record(notes[i])
		if err != nil {
			return 0, err
		}
		if r.Kind == string(sale.CreditNote) && r.Status != queue.StatusRejected {
			return r.Counter, nil
		}
	}
	return 0, nil
}

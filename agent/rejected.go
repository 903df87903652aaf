package agent

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/sale"
)

// statusRejectedShown is how many rejected documents the status lists.
const statusRejectedShown = 5

// RejectedSummary is the status's part about documents the authority
// rejected: each keeps its slot in the chain and needs a corrective credit
// note (POST /v1/documents/{id}/credit-note, egsd documents credit-note).
type RejectedSummary struct {
	Count             int `json:"count"`
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

// rejectedSummary reads the store's index of rejected documents: two
// counters and the newest few entries, however long the journal is.
func (a *Agent) rejectedSummary() (RejectedSummary, error) {
	st, err := a.store.Rejected(statusRejectedShown)
	if err != nil {
		return RejectedSummary{}, err
	}
	sum := RejectedSummary{Count: st.Count, WithoutCreditNote: st.WithoutCreditNote, Newest: []RejectedDocument{}}
	for _, e := range st.Newest {
		rec, err := a.store.Document(e.Counter)
		if err != nil {
			return RejectedSummary{}, err
		}
		sum.Newest = append(sum.Newest, RejectedDocument{RejectedEntry: e, Number: documentNumber(rec)})
	}
	return sum, nil
}

// documentNumber is rec's number as printed (the regime's receipt
// invoice_number), or its counter.
func documentNumber(rec *queue.Record) string {
	var receipt struct {
		InvoiceNumber string `json:"invoice_number"`
	}
	if json.Unmarshal(rec.Receipt, &receipt) == nil && receipt.InvoiceNumber != "" {
		return receipt.InvoiceNumber
	}
	return strconv.FormatUint(rec.Counter, 10)
}

// correctedDocument returns the counter of the rejected document of this
// unit that a credit note's original names (by counter, UUID or number),
// or 0 when it names none: the note is then not a correction of a
// rejection, and the index is left alone.
func (a *Agent) correctedDocument(original string) (uint64, error) {
	original = strings.TrimSpace(original)
	rejected := func(counter uint64) (uint64, error) {
		_, err := a.store.RejectedDocument(counter)
		if errors.Is(err, queue.ErrNotFound) {
			return 0, nil
		}
		return counter, err
	}
	if n, err := strconv.ParseUint(original, 10, 64); err == nil && n > 0 {
		if c, err := rejected(n); c != 0 || err != nil {
			return c, err
		}
	}
	switch rec, err := a.store.DocumentByUUID(original); {
	case err == nil:
		return rejected(rec.Counter)
	case !errors.Is(err, queue.ErrNotFound):
		return 0, err
	}
	// By number: only a document still without a credit note can be
	// linked, so only those are read (collected first: a read inside the
	// walk would nest transactions).
	var open []uint64
	if err := a.store.RejectedWithoutCreditNote(func(e queue.RejectedEntry) bool {
		open = append(open, e.Counter)
		return true
	}); err != nil {
		return 0, err
	}
	for _, c := range open {
		rec, err := a.store.Document(c)
		if err != nil {
			return 0, err
		}
		if documentNumber(rec) == original {
			return c, nil
		}
	}
	return 0, nil
}

// linkEarlierCreditNotes finishes the store's upgrade to its index of
// rejected documents: credit notes issued before it existed are linked to
// the rejections they correct. It reads the journal from the oldest
// rejected document once, at the first start after the upgrade.
func (a *Agent) linkEarlierCreditNotes() error {
	since, pending, err := a.store.CreditNoteLinksPending()
	if err != nil || !pending {
		return err
	}
	isNote := func(r *queue.Record) bool { return r.Kind == string(sale.CreditNote) }
	for {
		notes, next, err := a.store.Documents(since, 1000, isNote)
		if err != nil {
			return err
		}
		for _, n := range notes {
			var s struct {
				Original string `json:"original"`
			}
			if json.Unmarshal(n.Sale, &s) != nil || s.Original == "" {
				continue
			}
			original, err := a.correctedDocument(s.Original)
			if err != nil {
				return err
			}
			if original != 0 {
				if err := a.store.LinkCreditNote(original, n.Counter); err != nil {
					return err
				}
			}
		}
		if next == 0 {
			return a.store.CreditNoteLinksDone()
		}
		since = next
	}
}

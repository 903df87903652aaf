package etims

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/egsd/egsd/stamping"
)

// The regime is numbered (stamping.Numbered): the agent keeps KRA's invcNo
// sequence in its store and hands each document its number here.
var (
	_ stamping.Numbered       = (*Regime)(nil)
	_ stamping.OfflineLimited = (*Regime)(nil)
	_ stamping.Onboarder      = (*Regime)(nil)
	_ stamping.Readiness      = (*Regime)(nil)
)

// StoredAnswer is what the journal keeps as a Kenyan document's answer:
// the exact request that was sent (the stored template with its invcNo
// and orgInvcNo) and KRA's answer to it as received (the save answer, or
// the selectInvoiceDetails answer when the sale was found by a lookup).
// Receipts, exports and audits need both: the signature is KRA's, the
// amounts and numbers it signed are the request's.
type StoredAnswer struct {
	Request json.RawMessage `json:"request"`
	Answer  json.RawMessage `json:"answer"`
}

// storedAnswer writes the journal's answer. An answer that is not JSON
// (an HTTP error page) is kept as a JSON string.
func storedAnswer(request, answer []byte) ([]byte, error) {
	a := json.RawMessage(answer)
	if !json.Valid(answer) {
		s, err := json.Marshal(string(answer))
		if err != nil {
			return nil, err
		}
		a = s
	}
	return json.Marshal(StoredAnswer{Request: request, Answer: a})
}

// DecodeStoredAnswer reads an answer the journal keeps.
func DecodeStoredAnswer(b []byte) (StoredAnswer, error) {
	var sa StoredAnswer
	if err := json.Unmarshal(b, &sa); err != nil {
		return sa, fmt.Errorf("etims: the stored answer is not a request and KRA's answer: %w", err)
	}
	if len(sa.Request) == 0 || len(sa.Answer) == 0 {
		return sa, errors.New("etims: the stored answer lacks the request or KRA's answer")
	}
	return sa, nil
}

// SubmitNumbered sends the stored template sub.Document as KRA's invcNo n
// (stamping.Numbered). A credit note's orgInvcNo is the number its
// original was accepted under (sub.OriginalNumber); without one the note
// cannot be sent, and is rejected here without calling KRA. A resend
// (resend: n went out before and its outcome is unknown) is looked up
// before anything is sent ([Client.Deliver]). A final answer is kept as
// [StoredAnswer]: the request sent and KRA's answer.
func (r *Regime) SubmitNumbered(ctx context.Context, sub stamping.Submission, n uint64, resend bool) stamping.Result {
	req, err := readOwnRequest(sub.Document)
	if err != nil {
		return stamping.Result{Outcome: stamping.Rejected, Messages: []string{"the stored document is not a KRA sale request: " + err.Error()}}
	}
	if n < 1 || n > math.MaxInt64 {
		return stamping.Result{Outcome: stamping.Rejected, Messages: []string{fmt.Sprintf("invcNo %d is out of KRA's range", n)}}
	}
	var org int64
	if req.RcptTyCd == "R" {
		if sub.OriginalNumber == 0 || sub.OriginalNumber > math.MaxInt64 {
			return stamping.Result{Outcome: stamping.Rejected, Messages: []string{fmt.Sprintf(
				"credit note %s was not sent to KRA: its original has no KRA invoice number (KRA did not accept it), so orgInvcNo cannot be filled; "+
					"a credit note can only correct a sale KRA signed", req.TrdInvcNo)}}
		}
		org = int64(sub.OriginalNumber)
	}
	numbered, err := Number(sub.Document, int64(n), org)
	if err != nil {
		return stamping.Result{Outcome: stamping.Rejected, Messages: []string{"the stored document cannot be numbered: " + err.Error()}}
	}
	attempt := 1
	if resend {
		attempt = max(2, sub.Attempt)
	}
	res := r.Submit(ctx, stamping.Submission{Slot: sub.Slot, Document: numbered, Hash: sub.Hash, Attempt: attempt, OriginalNumber: sub.OriginalNumber})
	switch res.Outcome {
	case stamping.Accepted, stamping.AcceptedWithWarnings, stamping.Duplicate, stamping.Rejected:
		kept, err := storedAnswer(numbered, res.Answer)
		if err != nil {
			// Not recorded: the next attempt looks n up and finds it again.
			return stamping.Result{Outcome: stamping.Retryable, Messages: append(res.Messages, "the answer could not be kept: "+err.Error())}
		}
		res.Answer = kept
	}
	return res
}

// Signed reads the receipt facts of a document KRA signed out of its
// stored answer (stamping.AuthoritySigned).
func (r *Regime) Signed(answer []byte) (stamping.ReceiptInfo, error) {
	sa, err := DecodeStoredAnswer(answer)
	if err != nil {
		return stamping.ReceiptInfo{}, err
	}
	f, err := r.Receipt(sa.Request, sa.Answer)
	if err != nil {
		return stamping.ReceiptInfo{}, err
	}
	return f.ReceiptInfo(), nil
}

// ReceiptInfo is everything the printed receipt takes from KRA's answer
// (spec/etims.md §A5): the number, title, the control unit's time, the
// totals and the QR, and labelled: the SCU ID, the CU invoice number (and
// the original's on a credit note), the receipt number, the MRC number,
// the item count, the payment type, the internal data and the signature,
// and the tax table B, E, C, D, A with its total.
func (f ReceiptFacts) ReceiptInfo() stamping.ReceiptInfo {
	info := f.Info()
	info.Number = f.TraderInvoiceNo
	info.TaxNumberLabel = taxNumberLabel
	add := func(label, value string) {
		if value != "" {
			info.Fields = append(info.Fields, stamping.ReceiptField{Label: label, Value: value})
		}
	}
	add("SCU ID", f.SCUID)
	add("CU Invoice No", f.CUInvoiceNumber)
	add("Original CU Invoice No", f.OriginalCUInvoiceNumber)
	add("Receipt No", strconv.FormatInt(f.ReceiptNumber, 10)+"/"+strconv.FormatInt(f.TotalReceipts, 10))
	add("MRC No", f.MRCNo)
	add("Items", strconv.Itoa(f.ItemCount))
	add("Payment", f.PaymentType)
	add("Internal Data", f.InternalData)
	add("Receipt Signature", f.Signature)
	info.TaxTable = append(info.TaxTable, stamping.ReceiptField{Label: "Rate", Value: "Taxable  Tax  Total"})
	for _, b := range f.Bands {
		info.TaxTable = append(info.TaxTable, stamping.ReceiptField{Label: b.Label + " " + b.Rate.String() + "%",
			Value: b.Taxable.String() + "  " + b.Tax.String() + "  " + b.Total.String()})
	}
	info.TaxTable = append(info.TaxTable, stamping.ReceiptField{Label: f.Total.Label,
		Value: f.Total.Taxable.String() + "  " + f.Total.Tax.String() + "  " + f.Total.Total.String()})
	return info
}

package zatca

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"

	"github.com/egsd/egsd/stamping"
)

// documentTitle is the receipt's heading for a document type, in English and
// Arabic (ZATCA's names: Tax Invoice / فاتورة ضريبية, Simplified Tax Invoice /
// فاتورة ضريبية مبسطة, Credit Note / إشعار دائن, Debit Note / إشعار مدين).
func documentTitle(code TypeCode, simplified bool) (english, arabic string) {
	switch {
	case code == TypeCreditNote:
		return "Credit Note", "إشعار دائن"
	case code == TypeDebitNote:
		return "Debit Note", "إشعار مدين"
	case simplified:
		return "Simplified Tax Invoice", "فاتورة ضريبية مبسطة"
	}
	return "Tax Invoice", "فاتورة ضريبية"
}

// NeedsClearance reports whether a stored document is a standard one, which
// ZATCA must clear before the buyer gets it (spec §6.9).
func (r *regime) NeedsClearance(doc []byte) bool { return r.phase == 2 && standardDocument(doc) }

// Cleared reads the cleared invoice out of a stored clearance answer. A
// reporting answer (clearance was off: 303) carries none, and ok is false.
func (r *regime) Cleared(answer []byte) ([]byte, stamping.ReceiptInfo, bool, error) {
	ans, err := ParseInvoiceAnswer(200, answer)
	if err != nil {
		return nil, stamping.ReceiptInfo{}, false, err
	}
	if len(ans.ClearedInvoice) == 0 {
		return nil, stamping.ReceiptInfo{}, false, nil
	}
	info, err := ReceiptInfoOf(ans.ClearedInvoice)
	if err != nil {
		return nil, stamping.ReceiptInfo{}, false, fmt.Errorf("cleared invoice: %w", err)
	}
	return ans.ClearedInvoice, info, true, nil
}

// ReceiptInfoOf reads a receipt's facts from a ZATCA document as written:
// the number, time, totals and the QR in its AdditionalDocumentReference.
func ReceiptInfoOf(doc []byte) (stamping.ReceiptInfo, error) {
	var v verifyView
	if err := xml.NewDecoder(bytes.NewReader(doc)).Decode(&v); err != nil {
		return stamping.ReceiptInfo{}, fmt.Errorf("not a readable UBL invoice: %w", err)
	}
	info := stamping.ReceiptInfo{Number: v.ID, Timestamp: v.IssueDate + "T" + v.IssueTime, Total: v.Totals.Payable,
		Simplified: len(v.TypeCode.Name) >= 2 && v.TypeCode.Name[:2] == "02"}
	info.Title, info.TitleLocal = documentTitle(TypeCode(v.TypeCode.Code), info.Simplified)
	for _, t := range v.TaxTotals {
		if len(t.Subtotals) == 0 && t.Amount.Currency == v.TaxCurrency {
			info.VAT = t.Amount.Value
		}
	}
	for _, ref := range v.References {
		if ref.ID == "QR" {
			info.QR = ref.Binary
		}
	}
	if info.QR == "" {
		return info, errors.New("no QR (AdditionalDocumentReference ID=QR)")
	}
	return info, nil
}

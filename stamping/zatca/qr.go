package zatca

import (
	"encoding/base64"
	"fmt"

	"github.com/egsd/egsd/stamping/tlv"
)

// MaxQRLength is the longest QR text ZATCA accepts: base64 characters in
// AdditionalDocumentReference[ID=QR] (R3.4.5 schematron; spec/zatca.md §3.1).
const MaxQRLength = 1000

// QR is the content of a document's QR code (spec/zatca.md §3.2).
type QR struct {
	SellerName string // tag 1
	VATNumber  string // tag 2
	Timestamp  string // tag 3: IssueDate + "T" + IssueTime, exactly as in the XML
	Total      string // tag 4: LegalMonetaryTotal/PayableAmount
	VATTotal   string // tag 5: the TaxTotal without subtotals, in SAR
	// Phase 2 only:
	InvoiceHash    string // tag 6: the ASCII of the base64 invoice hash
	SignatureValue string // tag 7: the ASCII of the base64 ds:SignatureValue
	PublicKey      []byte // tag 8: DER SubjectPublicKeyInfo
	// CertificateSignature is tag 9, the CA's signature over the stamping
	// certificate; simplified documents and their notes only.
	CertificateSignature []byte
}

// Encode returns the base64 TLV text: tags 1–5 for Phase 1 (phase2 false);
// 1–8 for a standard document and 1–9 for a simplified one in Phase 2.
func (q *QR) Encode(phase2, simplified bool) (string, error) {
	fields := []tlv.Field{
		{Tag: 1, Value: []byte(q.SellerName)},
		{Tag: 2, Value: []byte(q.VATNumber)},
		{Tag: 3, Value: []byte(q.Timestamp)},
		{Tag: 4, Value: []byte(q.Total)},
		{Tag: 5, Value: []byte(q.VATTotal)},
	}
	if phase2 {
		fields = append(fields,
			tlv.Field{Tag: 6, Value: []byte(q.InvoiceHash)},
			tlv.Field{Tag: 7, Value: []byte(q.SignatureValue)},
			tlv.Field{Tag: 8, Value: q.PublicKey},
		)
		if simplified {
			fields = append(fields, tlv.Field{Tag: 9, Value: q.CertificateSignature})
		}
	}
	for _, f := range fields {
		if len(f.Value) == 0 {
			return "", fmt.Errorf("QR tag %d is empty", f.Tag)
		}
	}
	raw, err := tlv.Encode(fields)
	if err != nil {
		return "", fmt.Errorf("QR: %w", err)
	}
	text := base64.StdEncoding.EncodeToString(raw)
	if len(text) > MaxQRLength {
		return "", fmt.Errorf("QR is %d characters; ZATCA accepts at most %d (shorten the seller name)", len(text), MaxQRLength)
	}
	return text, nil
}

// DecodeQR reads a QR text back into its tags.
func DecodeQR(text string) (*QR, error) {
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("QR is not base64: %w", err)
	}
	fields, err := tlv.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("QR: %w", err)
	}
	q := new(QR)
	for _, f := range fields {
		switch f.Tag {
		case 1:
			q.SellerName = string(f.Value)
		case 2:
			q.VATNumber = string(f.Value)
		case 3:
			q.Timestamp = string(f.Value)
		case 4:
			q.Total = string(f.Value)
		case 5:
			q.VATTotal = string(f.Value)
		case 6:
			q.InvoiceHash = string(f.Value)
		case 7:
			q.SignatureValue = string(f.Value)
		case 8:
			q.PublicKey = f.Value
		case 9:
			q.CertificateSignature = f.Value
		default:
			return nil, fmt.Errorf("QR has unknown tag %d", f.Tag)
		}
	}
	return q, nil
}

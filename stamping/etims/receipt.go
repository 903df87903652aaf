package etims

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/money"
)

// Device is what initialisation gave the unit besides its key: the sales
// control unit's ID (sdcId, the "SCU ID" of the receipt) and its MRC
// number.
type Device struct {
	SdcID string `json:"sdc_id"`
	MrcNo string `json:"mrc_no"`
}

// ReceiptBand is one row of the receipt's tax table.
type ReceiptBand struct {
	Band    Band
	Label   string // "B-VAT", "C-Zero Rated", …
	Rate    money.Decimal
	Taxable money.Decimal
	Tax     money.Decimal
	Total   money.Decimal // Taxable + Tax
}

// ReceiptFacts are what a Kenyan receipt prints of the control unit's
// answer and of the request (spec/etims.md §A5): the seller's KRA PIN,
// the SCU ID, the CU invoice number, the receipt number, the control
// unit's date and time, the internal data and the signature hyphenated
// every four characters, the tax table (B, E, C, D, A and a total), on a
// credit note the original's CU invoice number, and the QR code (§A6).
type ReceiptFacts struct {
	Title           string // "TAX INVOICE" or "CREDIT NOTE"
	SellerPIN       string
	BranchID        string
	SCUID           string
	MRCNo           string
	TraderInvoiceNo string
	// CUInvoiceNumber is "<sdcId>/<invcNo>"; OriginalCUInvoiceNumber the
	// original's, on a credit note ("" otherwise).
	CUInvoiceNumber         string
	OriginalCUInvoiceNumber string
	ReceiptNumber           int64
	TotalReceipts           int64
	DateTime                time.Time // the control unit's, in Nairobi time
	InternalData            string    // hyphenated
	Signature               string    // hyphenated
	ItemCount               int
	PaymentType             string // KRA's name of pmtTyCd; "" without payments
	Bands                   []ReceiptBand
	Total                   ReceiptBand // the Total row: Band 0, Label "Total"
	QR                      string
}

// ReceiptOf makes the receipt facts of a sale from the numbered request
// that was sent and the answer that the journal keeps (a save or a lookup
// answer). seller is the unit's PIN and branch (an OSCU request carries
// them in headers, not in the body); dev is the unit's initialisation, and
// a VSCU answer's own sdcId and mrcNo take precedence; env chooses the QR
// host.
func ReceiptOf(request, answer []byte, seller Identity, dev Device, env Environment) (ReceiptFacts, error) {
	r, err := ParseSaleRequest(request)
	if err != nil {
		return ReceiptFacts{}, err
	}
	if r.InvcNo < 1 {
		return ReceiptFacts{}, fmt.Errorf("etims: receipt: %w", ErrNotNumbered)
	}
	sig, err := DecodeSignature(answer, r.InvcNo)
	if err != nil {
		return ReceiptFacts{}, err
	}
	if sig.SdcID != "" {
		dev.SdcID = sig.SdcID
	}
	if sig.MrcNo != "" {
		dev.MrcNo = sig.MrcNo
	}
	if dev.SdcID == "" {
		return ReceiptFacts{}, fmt.Errorf("etims: receipt: the unit has no SCU ID (sdcId): initialise it first")
	}
	if !IsPIN(seller.Tin) || !IsBranchID(seller.BhfID) {
		return ReceiptFacts{}, fmt.Errorf("etims: receipt: %q %q is not a KRA PIN and branch", seller.Tin, seller.BhfID)
	}
	f := ReceiptFacts{Title: "TAX INVOICE", SellerPIN: seller.Tin, BranchID: seller.BhfID, SCUID: dev.SdcID, MRCNo: dev.MrcNo, TraderInvoiceNo: r.TrdInvcNo,
		CUInvoiceNumber: CUInvoiceNumber(dev.SdcID, r.InvcNo), ReceiptNumber: sig.CurRcptNo, TotalReceipts: sig.TotRcptNo,
		DateTime: sig.SdcDateTime, InternalData: Hyphenate(sig.IntrlData), Signature: Hyphenate(sig.RcptSign),
		ItemCount: r.TotItemCnt, PaymentType: PaymentTypeName(r.PmtTyCd),
		Total: ReceiptBand{Label: "Total", Taxable: r.TotTaxblAmt.Decimal, Tax: r.TotTaxAmt.Decimal, Total: r.TotAmt.Decimal}}
	if r.RcptTyCd == "R" {
		f.Title = "CREDIT NOTE"
		f.OriginalCUInvoiceNumber = CUInvoiceNumber(dev.SdcID, r.OrgInvcNo)
	}
	for _, b := range r.BandTotals(ReceiptBands) {
		total, err := money.Add(b.Taxable.Decimal, b.Tax.Decimal)
		if err != nil {
			return ReceiptFacts{}, fmt.Errorf("etims: receipt: band %s: %w", b.Band, err)
		}
		f.Bands = append(f.Bands, ReceiptBand{Band: b.Band, Label: b.Band.Label(), Rate: b.Rate.Decimal,
			Taxable: b.Taxable.Decimal, Tax: b.Tax.Decimal, Total: total})
	}
	f.QR = QRURL(env, f.SellerPIN, f.BranchID, sig.RcptSign)
	return f, nil
}

// Info is the regime-neutral part of the receipt: the CU invoice number,
// the title, the control unit's time, the totals and the QR.
func (f ReceiptFacts) Info() stamping.ReceiptInfo {
	return stamping.ReceiptInfo{Number: f.CUInvoiceNumber, Title: f.Title, Timestamp: f.DateTime.In(Nairobi).Format("2006-01-02 15:04:05"),
		Total: f.Total.Total.String(), VAT: f.Total.Tax.String(), QR: f.QR}
}

// CUInvoiceNumber is the control unit invoice number a receipt prints,
// "<sdcId>/<invcNo>" (spec/etims.md §A5).
func CUInvoiceNumber(sdcID string, invcNo int64) string {
	return sdcID + "/" + strconv.FormatInt(invcNo, 10)
}

// QRURL is the receipt's QR code (spec/etims.md §A6): KRA's verification
// page with the seller's PIN, the branch and the receipt signature
// concatenated, on the environment's host.
func QRURL(env Environment, pin, bhfID, rcptSign string) string {
	return QRBaseURL(env) + pin + bhfID + rcptSign
}

// Hyphenate writes s in groups of four characters joined by hyphens, as
// the receipt prints the internal data and the signature
// ("EAHSAV6ECUUX" → "EAHS-AV6E-CUUX").
func Hyphenate(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

package etims

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/egsd/egsd/stamping/securefile"
)

// A Kenyan document is exported two ways:
//
//   - as it went to KRA (WriteWire): the exact request sent, the stored
//     template numbered with the invcNo (and orgInvcNo) it was sent under,
//     as <counter>-<uuid>.json, and KRA's answer beside it as
//     <counter>-<uuid>.answer.json;
//   - in the readable layout of the sample the product was specified from
//     (Summarise, format etims-summary): header, seller, buyer, items,
//     taxSummary and receipt, with KRA's real codes (bands A–E, rcptTyCd,
//     pmtTyCd), the control unit's real signature fields and the real QR
//     URL (spec/etims.md §A5, §A6), not the sample's invented ones.

// WireNames are the file names of a document's request and answer.
func WireNames(counter uint64, uuid string) (request, answer string) {
	base := fmt.Sprintf("%010d-%s", counter, uuid)
	return base + ".json", base + ".answer.json"
}

// WireRequest is the request that was sent for a stored template: the
// template numbered with invcNo and orgInvcNo ([Number]), byte for byte.
func WireRequest(template []byte, invcNo, orgInvcNo int64) ([]byte, error) {
	return Number(template, invcNo, orgInvcNo)
}

// WriteWire writes the request sent and KRA's answer (when there is one)
// into dir under WireNames, 0600.
func WriteWire(dir string, counter uint64, uuid string, request, answer []byte) error {
	reqName, ansName := WireNames(counter, uuid)
	if err := securefile.Write(filepath.Join(dir, reqName), request); err != nil {
		return err
	}
	if len(answer) == 0 {
		return nil
	}
	return securefile.Write(filepath.Join(dir, ansName), answer)
}

// Summary is a signed Kenyan document in the sample's readable layout.
// Amounts are JSON numbers with two decimals, as in the sample.
type Summary struct {
	Header     SummaryHeader  `json:"header"`
	Seller     SummarySeller  `json:"seller"`
	Buyer      *SummaryBuyer  `json:"buyer,omitempty"`
	Items      []SummaryItem  `json:"items"`
	TaxSummary []SummaryTax   `json:"taxSummary"`
	Receipt    SummaryReceipt `json:"receipt"`
}

// SummaryHeader is the document's numbers, kind, date and totals.
type SummaryHeader struct {
	InvoiceNumber           string  `json:"invoiceNumber"`   // trdInvcNo
	CUInvoiceNumber         string  `json:"cuInvoiceNumber"` // <sdcId>/<invcNo>
	InvcNo                  int64   `json:"invcNo"`
	OriginalCUInvoiceNumber string  `json:"originalCuInvoiceNumber,omitempty"`
	OrgInvcNo               int64   `json:"orgInvcNo,omitempty"`
	InvoiceDate             string  `json:"invoiceDate"` // YYYY-MM-DD, Nairobi
	InvoiceTime             string  `json:"invoiceTime"` // hh:mm:ss
	ReceiptTypeCode         string  `json:"receiptTypeCode"`
	ReceiptType             string  `json:"receiptType"`
	SalesTypeCode           string  `json:"salesTypeCode"`
	SalesStatusCode         string  `json:"salesStatusCode"`
	RefundReasonCode        string  `json:"refundReasonCode,omitempty"`
	PaymentTypeCode         string  `json:"paymentTypeCode,omitempty"`
	PaymentType             string  `json:"paymentType,omitempty"`
	Currency                string  `json:"currency"`
	TotalTaxableAmount      Decimal `json:"totalTaxableAmount"`
	TotalTaxAmount          Decimal `json:"totalTaxAmount"`
	TotalAmount             Decimal `json:"totalAmount"`
}

// SummarySeller is the seller as KRA knows it.
type SummarySeller struct {
	KRAPIN             string `json:"kraPin"`
	Name               string `json:"name,omitempty"`
	BranchID           string `json:"branchId"`
	DeviceSerialNumber string `json:"deviceSerialNumber,omitempty"`
	SdcID              string `json:"sdcId"`
	MrcNo              string `json:"mrcNo,omitempty"`
}

// SummaryBuyer is the buyer of the request.
type SummaryBuyer struct {
	KRAPIN  string `json:"kraPin,omitempty"`
	Name    string `json:"name,omitempty"`
	Address string `json:"address,omitempty"`
}

// SummaryItem is one line with KRA's amounts.
type SummaryItem struct {
	ItemSequence       int     `json:"itemSequence"`
	ItemCode           string  `json:"itemCode"`
	ItemDescription    string  `json:"itemDescription"`
	ItemClassCode      string  `json:"itemClassCode"`
	PackagingUnitCode  string  `json:"packagingUnitCode"`
	QuantityUnitCode   string  `json:"quantityUnitCode"`
	Quantity           Decimal `json:"quantity"`
	UnitPrice          Decimal `json:"unitPrice"`
	SupplyAmount       Decimal `json:"supplyAmount"`
	DiscountRate       Decimal `json:"discountRate"`
	Discount           Decimal `json:"discount"`
	NetAmount          Decimal `json:"netAmount"` // taxblAmt: net of discounts, VAT excluded
	TaxCode            string  `json:"taxCode"`   // KRA's band, A–E
	TaxCodeDescription string  `json:"taxCodeDescription"`
	TaxRate            Decimal `json:"taxRate"`
	TaxAmount          Decimal `json:"taxAmount"`
	TotalAmount        Decimal `json:"totalAmount"`
}

// SummaryTax is one band with an amount, in the receipt's order (B, E,
// C, D, A).
type SummaryTax struct {
	TaxCode        string  `json:"taxCode"`
	TaxDescription string  `json:"taxDescription"`
	TaxRate        Decimal `json:"taxRate"`
	NetAmount      Decimal `json:"netAmount"`
	TaxAmount      Decimal `json:"taxAmount"`
}

// SummaryReceipt is the control unit's signature and the QR code.
type SummaryReceipt struct {
	ReceiptNumber      int64  `json:"receiptNumber"`      // curRcptNo
	TotalReceiptNumber int64  `json:"totalReceiptNumber"` // totRcptNo
	ReceiptDate        string `json:"receiptDate"`        // sdcDateTime, RFC 3339 in Nairobi time
	InternalData       string `json:"internalData"`       // intrlData, hyphenated as printed
	ReceiptSignature   string `json:"receiptSignature"`   // rcptSign, hyphenated as printed
	ReceiptQRCode      string `json:"receiptQRCode"`      // spec/etims.md §A6
}

// SummaryInput is what a summary needs besides the request and the
// answer: the unit as KRA knows it.
type SummaryInput struct {
	Seller       Identity
	SellerName   string
	DeviceSerial string
	Device       Device
	Environment  Environment
}

// Summarise writes a sent request and KRA's answer (a save or a lookup
// answer with the signature) in the sample's layout. A document without a
// signature has no summary: it is an error.
func Summarise(request, answer []byte, in SummaryInput) (*Summary, error) {
	r, err := ParseSaleRequest(request)
	if err != nil {
		return nil, err
	}
	f, err := ReceiptOf(request, answer, in.Seller, in.Device, in.Environment)
	if err != nil {
		return nil, err
	}
	cfm, err := ParseDateTime(r.CfmDt)
	if err != nil {
		return nil, fmt.Errorf("etims: summary: cfmDt %q: %w", r.CfmDt, err)
	}
	s := &Summary{
		Header: SummaryHeader{InvoiceNumber: r.TrdInvcNo, CUInvoiceNumber: f.CUInvoiceNumber, InvcNo: r.InvcNo,
			OriginalCUInvoiceNumber: f.OriginalCUInvoiceNumber, OrgInvcNo: r.OrgInvcNo,
			InvoiceDate: cfm.Format("2006-01-02"), InvoiceTime: cfm.Format("15:04:05"),
			ReceiptTypeCode: r.RcptTyCd, ReceiptType: receiptTypeName(r.RcptTyCd), SalesTypeCode: r.SalesTyCd,
			SalesStatusCode: r.SalesSttsCd, RefundReasonCode: r.RfdRsnCd, PaymentTypeCode: r.PmtTyCd, PaymentType: f.PaymentType,
			Currency: Currency, TotalTaxableAmount: r.TotTaxblAmt, TotalTaxAmount: r.TotTaxAmt, TotalAmount: r.TotAmt},
		Seller: SummarySeller{KRAPIN: f.SellerPIN, Name: in.SellerName, BranchID: f.BranchID, DeviceSerialNumber: in.DeviceSerial,
			SdcID: f.SCUID, MrcNo: f.MRCNo},
		Receipt: SummaryReceipt{ReceiptNumber: f.ReceiptNumber, TotalReceiptNumber: f.TotalReceipts,
			ReceiptDate: f.DateTime.In(Nairobi).Format("2006-01-02T15:04:05-07:00"), InternalData: f.InternalData,
			ReceiptSignature: f.Signature, ReceiptQRCode: f.QR},
		Items: []SummaryItem{}, TaxSummary: []SummaryTax{},
	}
	if r.CustTin != "" || r.CustNm != "" || r.Receipt.Adrs != "" {
		s.Buyer = &SummaryBuyer{KRAPIN: r.CustTin, Name: r.CustNm, Address: r.Receipt.Adrs}
	}
	for i, it := range r.ItemList {
		b := Band(firstByte(it.TaxTyCd))
		if len(it.TaxTyCd) != 1 || b.index() < 0 {
			return nil, fmt.Errorf("etims: summary: itemList[%d].taxTyCd: %q is not a band A–E", i, it.TaxTyCd)
		}
		_, rate, _ := r.bandFields(b) // the band's rate; its taxable and tax amounts are the summary's below
		s.Items = append(s.Items, SummaryItem{ItemSequence: it.ItemSeq, ItemCode: it.ItemCd, ItemDescription: it.ItemNm,
			ItemClassCode: it.ItemClsCd, PackagingUnitCode: it.PkgUnitCd, QuantityUnitCode: it.QtyUnitCd, Quantity: it.Qty,
			UnitPrice: it.Prc, SupplyAmount: it.SplyAmt, DiscountRate: it.DcRt, Discount: it.DcAmt, NetAmount: it.TaxblAmt,
			TaxCode: it.TaxTyCd, TaxCodeDescription: b.Label(), TaxRate: *rate, TaxAmount: it.TaxAmt, TotalAmount: it.TotAmt})
	}
	for _, b := range f.Bands {
		if b.Taxable.IsZero() && b.Tax.IsZero() {
			continue
		}
		s.TaxSummary = append(s.TaxSummary, SummaryTax{TaxCode: b.Band.String(), TaxDescription: b.Label, TaxRate: Dec(b.Rate),
			NetAmount: Dec(b.Taxable), TaxAmount: Dec(b.Tax)})
	}
	return s, nil
}

func receiptTypeName(code string) string {
	switch code {
	case "S":
		return "Sale"
	case "R":
		return "Credit Note"
	}
	return code
}

// SummaryName is the file name of a document's summary.
func SummaryName(counter uint64, uuid string) string {
	return fmt.Sprintf("%010d-%s.etims-summary.json", counter, uuid)
}

// WriteSummary writes s into dir under SummaryName, indented, 0600.
func WriteSummary(dir string, counter uint64, uuid string, s *Summary) error {
	b, err := MarshalIndent(s)
	if err != nil {
		return err
	}
	return securefile.Write(filepath.Join(dir, SummaryName(counter, uuid)), b)
}

// MarshalIndent writes v as indented JSON without HTML escaping, ending in
// a newline.
func MarshalIndent(v any) ([]byte, error) {
	b, err := Marshal(v)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// Summary is Summarise for the unit's own documents.
func (r *Regime) Summary(request, answer []byte) (*Summary, error) {
	return Summarise(request, answer, SummaryInput{Seller: r.settings.Identity, SellerName: r.sellerName,
		DeviceSerial: r.settings.DeviceSerial, Device: r.Device(), Environment: r.settings.Environment})
}

package etims

import (
	"encoding/json"
	"fmt"

	"github.com/egsd/egsd/stamping/strictjson"
)

// The wire types of the requests and answers egsd uses, with KRA's field
// names (spec/etims.md §A4.1, §A4.2; the init, code list, item class and
// item fields as in KRA's OSCU specification's objects
// DeviceVerificationReq, CodeSearchReq, ItemClsSearchReq and ItemSaveReq).
// Field order is fixed: the same request always has the same bytes.

// SaleRequest is TrnsSalesSaveWrReq, the body of saveTrnsSalesOsdc (OSCU)
// and trnsSales/saveSales (VSCU).
//
// InvcNo and OrgInvcNo come first so that a stored template (both zero)
// becomes the request that is sent by writing the two numbers in place
// ([Number]), without re-serialising anything else.
type SaleRequest struct {
	InvcNo    int64 `json:"invcNo"`    // the gap-free sequence KRA sees
	OrgInvcNo int64 `json:"orgInvcNo"` // 0 on a sale; the original's invcNo on a credit note
	// Tin and BhfID travel in the body for VSCU only; OSCU sends them as
	// headers (spec/etims.md §A3).
	Tin       string `json:"tin,omitempty"`
	BhfID     string `json:"bhfId,omitempty"`
	TrdInvcNo string `json:"trdInvcNo"` // the trader's number, egsd's document number
	CustTin   string `json:"custTin,omitempty"`
	CustNm    string `json:"custNm,omitempty"`
	SalesTyCd string `json:"salesTyCd"` // N normal
	RcptTyCd  string `json:"rcptTyCd"`  // S sale, R credit note
	PmtTyCd   string `json:"pmtTyCd,omitempty"`
	// SalesSttsCd is 02, approved.
	SalesSttsCd string `json:"salesSttsCd"`
	CfmDt       string `json:"cfmDt"`   // YYYYMMDDhhmmss, the issue time
	SalesDt     string `json:"salesDt"` // YYYYMMDD
	RfdDt       string `json:"rfdDt,omitempty"`
	RfdRsnCd    string `json:"rfdRsnCd,omitempty"`
	TotItemCnt  int    `json:"totItemCnt"`

	TaxblAmtA Decimal `json:"taxblAmtA"`
	TaxblAmtB Decimal `json:"taxblAmtB"`
	TaxblAmtC Decimal `json:"taxblAmtC"`
	TaxblAmtD Decimal `json:"taxblAmtD"`
	TaxblAmtE Decimal `json:"taxblAmtE"`
	TaxRtA    Decimal `json:"taxRtA"`
	TaxRtB    Decimal `json:"taxRtB"`
	TaxRtC    Decimal `json:"taxRtC"`
	TaxRtD    Decimal `json:"taxRtD"`
	TaxRtE    Decimal `json:"taxRtE"`
	TaxAmtA   Decimal `json:"taxAmtA"`
	TaxAmtB   Decimal `json:"taxAmtB"`
	TaxAmtC   Decimal `json:"taxAmtC"`
	TaxAmtD   Decimal `json:"taxAmtD"`
	TaxAmtE   Decimal `json:"taxAmtE"`

	TotTaxblAmt Decimal `json:"totTaxblAmt"`
	TotTaxAmt   Decimal `json:"totTaxAmt"`
	TotAmt      Decimal `json:"totAmt"`

	PrchrAcptcYn string `json:"prchrAcptcYn"`
	Remark       string `json:"remark,omitempty"`
	RegrID       string `json:"regrId"`
	RegrNm       string `json:"regrNm"`
	ModrID       string `json:"modrId"`
	ModrNm       string `json:"modrNm"`

	Receipt  SaleReceipt `json:"receipt"`
	ItemList []SaleItem  `json:"itemList"`
}

// SaleReceipt is the request's receipt object.
type SaleReceipt struct {
	CustTin      string `json:"custTin,omitempty"`
	CustMblNo    string `json:"custMblNo,omitempty"`
	RcptPbctDt   string `json:"rcptPbctDt"` // YYYYMMDDhhmmss
	Adrs         string `json:"adrs,omitempty"`
	TopMsg       string `json:"topMsg,omitempty"`
	BtmMsg       string `json:"btmMsg,omitempty"`
	PrchrAcptcYn string `json:"prchrAcptcYn"`
}

// SaleItem is one entry of itemList.
type SaleItem struct {
	ItemSeq   int     `json:"itemSeq"`
	ItemCd    string  `json:"itemCd"`
	ItemClsCd string  `json:"itemClsCd"`
	ItemNm    string  `json:"itemNm"`
	Bcd       string  `json:"bcd,omitempty"`
	PkgUnitCd string  `json:"pkgUnitCd"`
	Pkg       Decimal `json:"pkg"`
	QtyUnitCd string  `json:"qtyUnitCd"`
	Qty       Decimal `json:"qty"`
	Prc       Decimal `json:"prc"`     // unit price before any discount
	SplyAmt   Decimal `json:"splyAmt"` // prc × qty, before discount
	DcRt      Decimal `json:"dcRt"`    // discount rate, percent of splyAmt
	DcAmt     Decimal `json:"dcAmt"`   // splyAmt − taxblAmt
	TaxTyCd   string  `json:"taxTyCd"`
	TaxblAmt  Decimal `json:"taxblAmt"` // net of discounts, VAT excluded
	TaxAmt    Decimal `json:"taxAmt"`
	TotAmt    Decimal `json:"totAmt"` // taxblAmt + taxAmt
}

// Band fields by band, for code that walks the five of them.
func (r *SaleRequest) bandFields(b Band) (taxable, rate, tax *Decimal) {
	switch b {
	case BandA:
		return &r.TaxblAmtA, &r.TaxRtA, &r.TaxAmtA
	case BandB:
		return &r.TaxblAmtB, &r.TaxRtB, &r.TaxAmtB
	case BandC:
		return &r.TaxblAmtC, &r.TaxRtC, &r.TaxAmtC
	case BandD:
		return &r.TaxblAmtD, &r.TaxRtD, &r.TaxAmtD
	case BandE:
		return &r.TaxblAmtE, &r.TaxRtE, &r.TaxAmtE
	}
	panic("etims: no band " + string(b))
}

// BandTotals are one band's amounts as the request states them.
type BandTotals struct {
	Band    Band
	Taxable Decimal
	Rate    Decimal
	Tax     Decimal
}

// BandTotals returns the request's five band totals in the order of b.
func (r *SaleRequest) BandTotals(order []Band) []BandTotals {
	out := make([]BandTotals, 0, len(order))
	for _, b := range order {
		taxable, rate, tax := r.bandFields(b)
		out = append(out, BandTotals{Band: b, Taxable: *taxable, Rate: *rate, Tax: *tax})
	}
	return out
}

// ParseSaleRequest reads a sale request (a stored template or a numbered
// request) strictly (package strictjson): every field KRA's name exactly,
// once, of its JSON kind, and nothing unknown, since egsd wrote it.
func ParseSaleRequest(data []byte) (*SaleRequest, error) {
	var r SaleRequest
	if err := strictjson.Decode(data, &r, "a sale request"); err != nil {
		return nil, fmt.Errorf("etims: not a sale request: %w", err)
	}
	return &r, nil
}

// readOwnRequest reads a sale request this unit built — a stored template,
// or the request numbered from it — on the submission path. The stored
// bytes are the hashed ones the store checks, so the strict reading of
// ParseSaleRequest, which cost most of a submission's CPU, is kept for what
// reads the journal from outside (export, receipts).
func readOwnRequest(data []byte) (*SaleRequest, error) {
	var r SaleRequest
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("etims: not a sale request: %w", err)
	}
	return &r, nil
}

// InitRequest is DeviceVerificationReq, the body of selectInitOsdcInfo.
type InitRequest struct {
	Tin      string `json:"tin"`
	BhfID    string `json:"bhfId"`
	DvcSrlNo string `json:"dvcSrlNo"`
}

// InitInfo is data.info of the init answer: the taxpayer, branch and
// device facts. CmcKey is a secret (see [CmcKey]).
type InitInfo struct {
	Tin       Text   `json:"tin"`
	TaxprNm   Text   `json:"taxprNm"`
	BsnsActv  Text   `json:"bsnsActv"`
	BhfID     Text   `json:"bhfId"`
	BhfNm     Text   `json:"bhfNm"`
	BhfOpenDt Text   `json:"bhfOpenDt"`
	PrvncNm   Text   `json:"prvncNm"`
	DstrtNm   Text   `json:"dstrtNm"`
	SctrNm    Text   `json:"sctrNm"`
	LocDesc   Text   `json:"locDesc"`
	HqYn      Text   `json:"hqYn"`
	MgrNm     Text   `json:"mgrNm"`
	MgrTelNo  Text   `json:"mgrTelNo"`
	MgrEmail  Text   `json:"mgrEmail"`
	DvcID     Text   `json:"dvcId"`
	SdcID     Text   `json:"sdcId"`
	MrcNo     Text   `json:"mrcNo"`
	CmcKey    CmcKey `json:"cmcKey"`
}

// CodeListRequest is CodeSearchReq (selectCodeList) and ItemClsSearchReq
// (selectItemClsList): everything changed since LastReqDt.
type CodeListRequest struct {
	Tin       string `json:"tin,omitempty"`   // VSCU only
	BhfID     string `json:"bhfId,omitempty"` // VSCU only
	LastReqDt string `json:"lastReqDt"`
}

// CodeClass is one code class of selectCodeList's clsList.
type CodeClass struct {
	Class   Text   `json:"cdCls"`
	Name    Text   `json:"cdClsNm"`
	UseYn   Text   `json:"useYn"`
	Details []Code `json:"dtlList"`
}

// Code is one code of a class. UserDefined1 is the rate for class 04.
type Code struct {
	Code         Text    `json:"cd"`
	Name         Text    `json:"cdNm"`
	Description  Text    `json:"cdDesc"`
	UseYn        Text    `json:"useYn"`
	Order        Integer `json:"srtOrd"`
	UserDefined1 Text    `json:"userDfnCd1"`
	UserDefined2 Text    `json:"userDfnCd2"`
}

// ItemClass is one entry of selectItemClsList's itemClsList.
type ItemClass struct {
	Code    Text    `json:"itemClsCd"`
	Name    Text    `json:"itemClsNm"`
	Level   Integer `json:"itemClsLvl"`
	TaxType Text    `json:"taxTyCd"`
	UseYn   Text    `json:"useYn"`
}

// ItemRequest is ItemSaveReq, the body of saveItem (OSCU) and
// items/saveItems (VSCU).
type ItemRequest struct {
	Tin         string  `json:"tin,omitempty"`   // VSCU only
	BhfID       string  `json:"bhfId,omitempty"` // VSCU only
	ItemCd      string  `json:"itemCd"`
	ItemClsCd   string  `json:"itemClsCd"`
	ItemTyCd    string  `json:"itemTyCd"` // 1 raw material, 2 finished product, 3 service
	ItemNm      string  `json:"itemNm"`
	OrgnNatCd   string  `json:"orgnNatCd"`
	PkgUnitCd   string  `json:"pkgUnitCd"`
	QtyUnitCd   string  `json:"qtyUnitCd"`
	TaxTyCd     string  `json:"taxTyCd"`
	Bcd         string  `json:"bcd,omitempty"`
	DftPrc      Decimal `json:"dftPrc"`
	IsrcAplcbYn string  `json:"isrcAplcbYn"`
	UseYn       string  `json:"useYn"`
	RegrID      string  `json:"regrId"`
	RegrNm      string  `json:"regrNm"`
	ModrID      string  `json:"modrId"`
	ModrNm      string  `json:"modrNm"`
}

// LookupRequest is the body of selectInvoiceDetails.
type LookupRequest struct {
	Tin    string `json:"tin,omitempty"`   // VSCU only
	BhfID  string `json:"bhfId,omitempty"` // VSCU only
	InvcNo int64  `json:"invcNo"`
}

// Envelope is KRA's answer to every call (spec/etims.md §A4.2): a result
// code ("000" success), its message, KRA's time, and data.
type Envelope struct {
	ResultCd  Text            `json:"resultCd"`
	ResultMsg Text            `json:"resultMsg"`
	ResultDt  Text            `json:"resultDt"`
	Data      json.RawMessage `json:"data"`
	// HTTPStatus is the answer's status code and Raw its whole body (what
	// the journal keeps); neither is part of KRA's JSON.
	HTTPStatus int    `json:"-"`
	Raw        []byte `json:"-"`
}

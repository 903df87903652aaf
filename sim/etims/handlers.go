package etimssim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/egsd/egsd/stamping/etims"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/strictjson"
)

// initLocked is selectInitOsdcInfo and VSCU's initializer (spec/etims.md
// §A3).
func (s *Server) initLocked(p etims.Profile, body []byte) answer {
	var req etims.InitRequest
	if err := strictjson.Decode(body, &req, "a DeviceVerificationReq"); err != nil {
		return result(etims.ResultParameterError, "not a DeviceVerificationReq: "+err.Error(), nil)
	}
	if !etims.IsPIN(req.Tin) || !etims.IsBranchID(req.BhfID) || req.DvcSrlNo == "" || len(req.DvcSrlNo) > 100 {
		return result(etims.ResultParameterError, "tin must be a KRA PIN, bhfId two digits, dvcSrlNo 1 to 100 characters", nil)
	}
	if len(s.Devices) > 0 {
		i := slices.IndexFunc(s.Devices, func(d Device) bool {
			return d.Tin == req.Tin && d.BhfID == req.BhfID && d.Serial == req.DvcSrlNo
		})
		switch {
		case i < 0:
			return result(etims.ResultInvalidDevice, "no device with this PIN, branch and serial is registered on the eTIMS portal", nil)
		case s.Devices[i].Profile != p:
			return result(etims.ResultOnlyOSCU, fmt.Sprintf("the device is registered as %s", s.Devices[i].Profile), nil)
		}
	}
	k := unitKey{p, req.Tin, req.BhfID}
	u := s.units[k]
	switch {
	case u == nil:
		u = s.newUnitLocked(k, req.DvcSrlNo)
	case u.serial != req.DvcSrlNo || !s.Reinitialise:
		return result(etims.ResultAlreadyInstall, "the branch's device was initialised before; its key is with that installation", nil)
	}
	type info struct {
		Tin      string `json:"tin"`
		TaxprNm  string `json:"taxprNm"`
		BsnsActv string `json:"bsnsActv"`
		BhfID    string `json:"bhfId"`
		BhfNm    string `json:"bhfNm"`
		HqYn     string `json:"hqYn"`
		DvcID    string `json:"dvcId"`
		SdcID    string `json:"sdcId"`
		MrcNo    string `json:"mrcNo"`
		CmcKey   string `json:"cmcKey"`
	}
	hq := "N"
	if req.BhfID == "00" {
		hq = "Y"
	}
	return ok(map[string]info{"info": {Tin: req.Tin, TaxprNm: "Taxpayer " + req.Tin, BsnsActv: "retail", BhfID: req.BhfID,
		BhfNm: "Branch " + req.BhfID, HqYn: hq, DvcID: u.dvcID, SdcID: u.sdcID, MrcNo: u.mrcNo, CmcKey: u.cmcKey}})
}

// searchSince reads lastReqDt and reports whether anything changed after
// it.
func (s *Server) searchSince(body []byte) (bool, answer) {
	var req etims.CodeListRequest
	if err := strictjson.Decode(body, &req, "a search request"); err != nil {
		return false, result(etims.ResultParameterError, "not a search request: "+err.Error(), nil)
	}
	since, err := time.ParseInLocation(etims.DateTimeLayout, req.LastReqDt, etims.Nairobi)
	if err != nil || len(req.LastReqDt) != 14 {
		return false, result(etims.ResultParameterError, "lastReqDt must be YYYYMMDDhhmmss", nil)
	}
	if !since.Before(s.codesChangedAt()) {
		return false, result(etims.ResultNoSearchResult, "", nil)
	}
	return true, answer{}
}

// codeListLocked is selectCodeList (spec/etims.md §A4.3).
func (s *Server) codeListLocked(body []byte) answer {
	changed, a := s.searchSince(body)
	if !changed {
		return a
	}
	type code struct {
		Cd         string  `json:"cd"`
		CdNm       string  `json:"cdNm"`
		UseYn      string  `json:"useYn"`
		SrtOrd     int     `json:"srtOrd"`
		UserDfnCd1 *string `json:"userDfnCd1"`
	}
	type class struct {
		CdCls   string `json:"cdCls"`
		CdClsNm string `json:"cdClsNm"`
		UseYn   string `json:"useYn"`
		DtlList []code `json:"dtlList"`
	}
	rate := func(v money.Decimal) *string { s := v.String(); return &s }
	zero := "0"
	r := s.rates()
	taxes := class{"04", "Taxation Type", "Y", []code{
		{"A", "A-Exempt", "Y", 1, &zero}, {"B", "B-VAT " + r.B.String() + "%", "Y", 2, rate(r.B)}, {"C", "C-Zero Rated", "Y", 3, &zero},
		{"D", "D-Non VAT", "Y", 4, &zero}, {"E", "E-VAT " + r.E.String() + "%", "Y", 5, rate(r.E)}}}
	payments := class{"07", "Payment Type", "Y", nil}
	for i, n := range []string{"CASH", "CREDIT", "CASH/CREDIT", "BANK CHECK", "DEBIT&CREDIT CARD", "MOBILE MONEY", "OTHER"} {
		payments.DtlList = append(payments.DtlList, code{fmt.Sprintf("%02d", i+1), n, "Y", i + 1, nil})
	}
	reasons := class{"32", "Credit Note Reason", "Y", nil}
	for i, n := range refundReasonNames {
		reasons.DtlList = append(reasons.DtlList, code{fmt.Sprintf("%02d", i+1), n, "Y", i + 1, nil})
	}
	return ok(map[string][]class{"clsList": {taxes, payments, reasons}})
}

// refundReasonNames are code class 32 (spec/etims.md §A4.3).
var refundReasonNames = []string{"Missing Quantity", "Missing data", "Damaged", "Wasted", "Raw Material Shortage", "Refund"}

func isRefundReason(c string) bool {
	return len(c) == 2 && c >= "01" && c <= fmt.Sprintf("%02d", len(refundReasonNames))
}

// itemClassesLocked is selectItemClsList: a few UNSPSC-based classes.
func (s *Server) itemClassesLocked(body []byte) answer {
	changed, a := s.searchSince(body)
	if !changed {
		return a
	}
	type class struct {
		ItemClsCd  string `json:"itemClsCd"`
		ItemClsNm  string `json:"itemClsNm"`
		ItemClsLvl int    `json:"itemClsLvl"`
		TaxTyCd    string `json:"taxTyCd"`
		UseYn      string `json:"useYn"`
	}
	return ok(map[string][]class{"itemClsList": {
		{"5010150100", "Cereal flours", 4, "B", "Y"}, {"5013170100", "Milk", 4, "C", "Y"},
		{"1510150500", "Diesel fuel", 4, "E", "Y"}, {"1010150100", "Seeds", 4, "A", "Y"},
		{"81121500", "Economic analysis", 3, "B", "Y"}, {"85234110", "Software licences", 4, "B", "Y"},
		{"85234190", "Software support", 4, "B", "Y"},
	}})
}

// saveItemLocked is saveItem (spec/etims.md §A8): the item's form, then
// its registration, which a sale needs.
func (s *Server) saveItemLocked(u *unit, body []byte) answer {
	var it etims.ItemRequest
	if err := strictjson.Decode(body, &it, "an ItemSaveReq"); err != nil {
		return result(etims.ResultParameterError, "not an ItemSaveReq: "+err.Error(), nil)
	}
	var problems []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	check(etims.IsItemCode(it.ItemCd), "itemCd %q is not a KRA item code", it.ItemCd)
	check(len(it.ItemCd) >= 3 && it.ItemTyCd == it.ItemCd[2:3], "itemTyCd %q is not the item code's type", it.ItemTyCd)
	check(len(it.ItemCd) >= 2 && it.OrgnNatCd == it.ItemCd[:2], "orgnNatCd %q is not the item code's origin", it.OrgnNatCd)
	check(isDigits(it.ItemClsCd, 10), "itemClsCd %q is not 1 to 10 digits", it.ItemClsCd)
	check(len(it.TaxTyCd) == 1 && it.TaxTyCd >= "A" && it.TaxTyCd <= "E", "taxTyCd %q is not a band A–E", it.TaxTyCd)
	check(isCode(it.PkgUnitCd) && isCode(it.QtyUnitCd), "pkgUnitCd %q and qtyUnitCd %q must be codes of 1 to 5 letters or digits", it.PkgUnitCd, it.QtyUnitCd)
	check(it.ItemNm != "" && len([]rune(it.ItemNm)) <= 200, "itemNm must be 1 to 200 characters")
	check(it.DftPrc.Sign() >= 0, "dftPrc must not be negative")
	check(it.UseYn == "Y" || it.UseYn == "N", "useYn must be Y or N")
	check(it.IsrcAplcbYn == "Y" || it.IsrcAplcbYn == "N", "isrcAplcbYn must be Y or N")
	check(it.RegrID != "" && it.RegrNm != "" && it.ModrID != "" && it.ModrNm != "", "regrId, regrNm, modrId and modrNm are required")
	if len(problems) > 0 {
		return result(etims.ResultParameterError, strings.Join(problems, "; "), nil)
	}
	u.items[it.ItemCd] = it
	s.stats.Items++
	return ok(nil)
}

func isDigits(v string, max int) bool {
	if v == "" || len(v) > max {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

func isCode(v string) bool {
	if v == "" || len(v) > 5 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !(v[i] >= 'A' && v[i] <= 'Z' || v[i] >= '0' && v[i] <= '9') {
			return false
		}
	}
	return true
}

// saveSaleLocked is saveTrnsSalesOsdc and trnsSales/saveSales
// (spec/etims.md §A4, §A7).
func (s *Server) saveSaleLocked(u *unit, body []byte) answer {
	a := s.receiveSaleLocked(u, body)
	switch a.code {
	case etims.ResultOK:
		s.stats.Sales++
	case etims.ResultDuplicate:
		s.stats.Duplicates++
	default:
		s.stats.Refused++
	}
	return a
}

func (s *Server) receiveSaleLocked(u *unit, body []byte) answer {
	r, err := etims.ParseSaleRequest(body)
	if err != nil {
		return result(etims.ResultParameterError, err.Error(), nil)
	}
	if code, ok := s.forcedResultLocked(r.InvcNo); ok {
		return result(code, "simulated", nil)
	}
	if r.InvcNo < 1 {
		return result(etims.ResultParameterError, fmt.Sprintf("invcNo %d: the sequence starts at 1", r.InvcNo), nil)
	}
	// §A4.3: a number KRA has is overlapped data, and no signature comes
	// back with it (§A7).
	if _, dup := u.sales[r.InvcNo]; dup {
		return result(etims.ResultDuplicate, "", nil)
	}
	vscu := u.key.profile == etims.VSCU
	if vscu && r.InvcNo > u.last+1 {
		return result(etims.ResultSalesOrder, fmt.Sprintf("invcNo %d arrived before invcNo %d", r.InvcNo, u.last+1), nil)
	}
	if vscu && (r.Tin != u.key.tin || r.BhfID != u.key.bhf) {
		return result(etims.ResultParameterError, "tin and bhfId of the body are not the device's", nil)
	}
	if !vscu && (r.Tin != "" || r.BhfID != "") {
		return result(etims.ResultParameterError, "an OSCU request sends tin and bhfId as headers", nil)
	}
	var orig *Sale
	switch r.RcptTyCd {
	case "S":
		if r.OrgInvcNo != 0 || r.RfdRsnCd != "" {
			return result(etims.ResultParameterError, "a sale (rcptTyCd S) has orgInvcNo 0 and no rfdRsnCd", nil)
		}
	case "R":
		orig = u.sales[r.OrgInvcNo]
		if orig == nil || orig.RcptTyCd != "S" {
			if vscu {
				return result(etims.ResultSalesNotReceive, fmt.Sprintf("orgInvcNo %d is not a sale this device declared", r.OrgInvcNo), nil)
			}
			return result(etims.ResultParameterError, fmt.Sprintf("orgInvcNo %d is not a sale of this device", r.OrgInvcNo), nil)
		}
		if !isRefundReason(r.RfdRsnCd) {
			return result(etims.ResultParameterError, fmt.Sprintf("rfdRsnCd %q is not a credit note reason (code class 32)", r.RfdRsnCd), nil)
		}
	default:
		return result(etims.ResultParameterError, fmt.Sprintf("rcptTyCd %q: a sale is S, a credit note R", r.RcptTyCd), nil)
	}
	if p := s.checkSaleLocked(u, r); p != "" {
		return result(etims.ResultParameterError, p, nil)
	}
	if !vscu && r.InvcNo != u.last+1 {
		u.breaks = append(u.breaks, fmt.Sprintf("invcNo %d arrived after invcNo %d", r.InvcNo, u.last))
	}
	if orig != nil {
		u.findings = append(u.findings, creditNoteFindings(u, r, orig)...)
	}
	now := s.now()
	u.total++
	u.receipts[r.RcptTyCd]++
	sale := &Sale{InvcNo: r.InvcNo, OrgInvcNo: r.OrgInvcNo, RcptTyCd: r.RcptTyCd, TrdInvcNo: r.TrdInvcNo, CustTin: r.CustTin,
		TotAmt: r.TotAmt.String(), CfmDt: r.CfmDt, CurRcptNo: u.receipts[r.RcptTyCd], TotRcptNo: u.total,
		SdcDateTime: now.In(etims.Nairobi).Truncate(time.Second), Request: bytes.Clone(body), req: r}
	sale.IntrlData, sale.RcptSign = u.sign(r.InvcNo, body)
	u.sales[r.InvcNo] = sale
	u.order = append(u.order, r.InvcNo)
	u.last = max(u.last, r.InvcNo)
	if vscu {
		return ok(map[string]any{"rcptNo": sale.CurRcptNo, "totRcptNo": sale.TotRcptNo, "intrlData": sale.IntrlData,
			"rcptSign": sale.RcptSign, "sdcId": u.sdcID, "mrcNo": u.mrcNo, "vsdcRcptPbctDate": etims.FormatDateTime(sale.SdcDateTime)})
	}
	return ok(map[string]any{"curRcptNo": sale.CurRcptNo, "totRcptNo": sale.TotRcptNo, "intrlData": sale.IntrlData,
		"rcptSign": sale.RcptSign, "sdcDateTime": etims.FormatDateTime(sale.SdcDateTime)})
}

// checkSaleLocked checks the request's fields, its items against their
// registration, and its amounts; it returns the first problem, or "".
func (s *Server) checkSaleLocked(u *unit, r *etims.SaleRequest) string {
	switch {
	case r.SalesTyCd != "N":
		return fmt.Sprintf("salesTyCd %q: the simulator takes normal sales (N)", r.SalesTyCd)
	case r.SalesSttsCd != "02":
		return fmt.Sprintf("salesSttsCd %q: a sale is approved (02)", r.SalesSttsCd)
	case r.CustTin != "" && !etims.IsPIN(r.CustTin):
		return fmt.Sprintf("custTin %q is not a KRA PIN", r.CustTin)
	case r.Receipt.CustTin != r.CustTin:
		return "receipt.custTin differs from custTin"
	case r.TrdInvcNo == "" || len(r.TrdInvcNo) > 50:
		return "trdInvcNo must be 1 to 50 characters"
	case r.RegrID == "" || r.RegrNm == "" || r.ModrID == "" || r.ModrNm == "":
		return "regrId, regrNm, modrId and modrNm are required"
	case len(r.ItemList) == 0:
		return "itemList is empty"
	}
	for _, f := range []struct{ name, v, layout string }{{"cfmDt", r.CfmDt, etims.DateTimeLayout}, {"salesDt", r.SalesDt, etims.DateLayout},
		{"receipt.rcptPbctDt", r.Receipt.RcptPbctDt, etims.DateTimeLayout}} {
		if _, err := time.ParseInLocation(f.layout, f.v, etims.Nairobi); err != nil || len(f.v) != len(f.layout) {
			return fmt.Sprintf("%s %q is not %d digits of a date", f.name, f.v, len(f.layout))
		}
	}
	if !strings.HasPrefix(r.CfmDt, r.SalesDt) {
		return fmt.Sprintf("salesDt %s is not the date of cfmDt %s", r.SalesDt, r.CfmDt)
	}
	for i, it := range r.ItemList {
		reg, ok := u.items[it.ItemCd]
		switch {
		case it.ItemSeq != i+1:
			return fmt.Sprintf("itemList[%d].itemSeq is %d, not %d", i, it.ItemSeq, i+1)
		case !ok:
			return fmt.Sprintf("itemList[%d].itemCd %s is not registered: save the item (saveItem) before its first sale", i, it.ItemCd)
		case reg.ItemClsCd != it.ItemClsCd || reg.TaxTyCd != it.TaxTyCd:
			return fmt.Sprintf("itemList[%d]: item %s is registered with class %s, band %s, not %s, %s", i, it.ItemCd, reg.ItemClsCd, reg.TaxTyCd, it.ItemClsCd, it.TaxTyCd)
		case reg.PkgUnitCd != it.PkgUnitCd || reg.QtyUnitCd != it.QtyUnitCd:
			return fmt.Sprintf("itemList[%d]: item %s is registered with units %s/%s, not %s/%s", i, it.ItemCd, reg.PkgUnitCd, reg.QtyUnitCd, it.PkgUnitCd, it.QtyUnitCd)
		}
	}
	if p := etims.CheckAmounts(r, s.rates()); len(p) > 0 {
		return p[0]
	}
	return ""
}

// creditNoteFindings are what the certified integration checks of a
// credit note and KRA does not (spec/etims.md §A4.1).
func creditNoteFindings(u *unit, r *etims.SaleRequest, orig *Sale) []string {
	var out []string
	if r.CustTin != orig.CustTin {
		out = append(out, fmt.Sprintf("credit note %d has buyer PIN %q, its original %d %q", r.InvcNo, r.CustTin, orig.InvcNo, orig.CustTin))
	}
	if r.CfmDt < orig.CfmDt {
		out = append(out, fmt.Sprintf("credit note %d (%s) is dated before its original %d (%s)", r.InvcNo, r.CfmDt, orig.InvcNo, orig.CfmDt))
	}
	credited := r.TotAmt.Decimal
	for _, n := range u.order {
		if c := u.sales[n]; c.RcptTyCd == "R" && c.OrgInvcNo == orig.InvcNo {
			if sum, err := money.Add(credited, c.req.TotAmt.Decimal); err == nil {
				credited = sum
			}
		}
	}
	if money.Cmp(credited, orig.req.TotAmt.Decimal) > 0 {
		out = append(out, fmt.Sprintf("the credit notes of %d come to %s, above its total %s", orig.InvcNo, credited, orig.TotAmt))
	}
	return out
}

// lookupLocked is selectInvoiceDetails (spec/etims.md §A7): the sale as
// received, with its receipt and the control unit's time in the lookup's
// own format.
func (s *Server) lookupLocked(u *unit, body []byte) answer {
	s.stats.Lookups++
	var req etims.LookupRequest
	if err := strictjson.Decode(body, &req, "an invoice lookup"); err != nil {
		return result(etims.ResultParameterError, "not an invoice lookup: "+err.Error(), nil)
	}
	sale := u.sales[req.InvcNo]
	if sale == nil {
		return result(etims.ResultNoSearchResult, "", nil)
	}
	var entry map[string]any
	dec := json.NewDecoder(bytes.NewReader(sale.Request))
	dec.UseNumber() // the amounts keep their digits
	if err := dec.Decode(&entry); err != nil {
		return result(etims.ResultUnknown, "stored sale: "+err.Error(), nil)
	}
	receipt, _ := entry["receipt"].(map[string]any)
	if receipt == nil {
		receipt = map[string]any{}
	}
	receipt["curRcptNo"], receipt["totRcptNo"] = sale.CurRcptNo, sale.TotRcptNo
	receipt["intrlData"], receipt["rcptSign"] = sale.IntrlData, sale.RcptSign
	receipt["sdcDateTime"] = sale.SdcDateTime.In(etims.Nairobi).Format("2006-01-02 15:04:05") + ".0"
	entry["receipt"] = receipt
	return ok(map[string]any{"salesList": []any{entry}})
}

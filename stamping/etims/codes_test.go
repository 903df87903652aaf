package etims_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/egsd/egsd/stamping/etims"
)

// A code list as KRA answers it (the shape of Odoo's recorded answer):
// class 04 with the rates in userDfnCd1, class 32 with a reason out of use.
const codeList = `[
 {"cdCls":"04","cdClsNm":"Taxation Type","cdClsDesc":null,"useYn":"Y","dtlList":[
  {"cd":"A","cdNm":"A-Exempt","useYn":"Y","srtOrd":1,"userDfnCd1":"0"},
  {"cd":"B","cdNm":"B-VAT 16%","useYn":"Y","srtOrd":2,"userDfnCd1":"16"},
  {"cd":"C","cdNm":"C-Zero Rated","useYn":"Y","srtOrd":3,"userDfnCd1":"0"},
  {"cd":"E","cdNm":"E-VAT 8%","useYn":"Y","srtOrd":4,"userDfnCd1":"8"},
  {"cd":"D","cdNm":"D-Non VAT","useYn":"Y","srtOrd":5,"userDfnCd1":"0"}]},
 {"cdCls":"32","cdClsNm":"Refund Reason","useYn":"Y","dtlList":[
  {"cd":"02","cdNm":"Missing data","useYn":"Y","srtOrd":2},
  {"cd":"01","cdNm":"Missing Quantity","useYn":"Y","srtOrd":1},
  {"cd":"07","cdNm":"Old reason","useYn":"N","srtOrd":3},
  {"cd":"06","cdNm":"Refund","useYn":"Y","srtOrd":6}]}]`

func TestRulesFromCodeLists(t *testing.T) {
	var classes []etims.CodeClass
	if err := json.Unmarshal([]byte(codeList), &classes); err != nil {
		t.Fatal(err)
	}
	r, err := etims.RulesFromCodeLists(classes, etims.Rules{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Rates.B.String() != "16" || r.Rates.E.String() != "8" || !slices.Equal(r.RefundReasons, []string{"01", "02", "06"}) {
		t.Errorf("rules %+v", r)
	}
	// A new rate moves band B; an answer without class 32 keeps the reasons.
	classes[0].Details[1].UserDefined1 = "17"
	r2, err := etims.RulesFromCodeLists(classes[:1], r)
	if err != nil || r2.Rates.B.String() != "17" || !slices.Equal(r2.RefundReasons, r.RefundReasons) {
		t.Errorf("update %+v %v", r2, err)
	}
	// A rate that is not a percentage changes nothing.
	classes[0].Details[1].UserDefined1 = "sixteen"
	if r3, err := etims.RulesFromCodeLists(classes, r); err == nil || r3.Rates.B.String() != "16" {
		t.Errorf("a bad rate: %+v %v", r3, err)
	}
}

package etims_test

import (
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/etims"
)

// CheckAmounts finds each way a request can fail to add up.
func TestCheckAmountsFindsErrors(t *testing.T) {
	s := multiBandSale()
	for _, tc := range []struct {
		name   string
		change func(r *etims.SaleRequest)
		want   string
	}{
		{"supply", func(r *etims.SaleRequest) { r.ItemList[0].SplyAmt = etims.Dec(d("451.00")) }, "itemList[0].splyAmt"},
		{"discount", func(r *etims.SaleRequest) { r.ItemList[1].DcAmt = etims.Dec(d("22.55")) }, "itemList[1].dcAmt"},
		{"item tax", func(r *etims.SaleRequest) { r.ItemList[0].TaxAmt = etims.Dec(d("61.55")) }, "itemList[0].taxAmt"},
		{"item total", func(r *etims.SaleRequest) { r.ItemList[2].TotAmt = etims.Dec(d("247.01")) }, "itemList[2].totAmt"},
		{"band", func(r *etims.SaleRequest) { r.ItemList[3].TaxTyCd = "F" }, "itemList[3].taxTyCd"},
		{"band taxable", func(r *etims.SaleRequest) { r.TaxblAmtC = etims.Dec(d("246.00")) }, "taxblAmtC"},
		{"band tax", func(r *etims.SaleRequest) { r.TaxAmtE = etims.Dec(d("34.29")) }, "taxAmtE"},
		{"band rate", func(r *etims.SaleRequest) { r.TaxRtB = etims.Dec(d("18.00")) }, "taxRtB"},
		{"one decimal", func(r *etims.SaleRequest) { r.TotAmt = etims.Dec(d("2072.1")) }, "totAmt"},
		{"total", func(r *etims.SaleRequest) { r.TotTaxAmt = etims.Dec(d("156.67")) }, "totTaxAmt"},
		{"item count", func(r *etims.SaleRequest) { r.TotItemCnt = 4 }, "totItemCnt"},
	} {
		r, err := etims.BuildSale(s, etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-9", IssuedAt: nairobi("2026-03-01 00:05:10")})
		if err != nil {
			t.Fatal(err)
		}
		if p := etims.CheckAmounts(r, etims.DefaultRates); len(p) != 0 {
			t.Fatalf("the built request does not add up: %v", p)
		}
		tc.change(r)
		p := etims.CheckAmounts(r, etims.DefaultRates)
		if len(p) == 0 || !strings.HasPrefix(p[0], tc.want) {
			t.Errorf("%s: %q, want a problem with %s first", tc.name, p, tc.want)
		}
	}
}

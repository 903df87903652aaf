package etims_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/etims"
	"github.com/egsd/egsd/stamping/sale"
)

const okAnswer = `{"resultCd":"000","resultMsg":"It is succeeded","resultDt":"20260115103000","data":null}`

// initialised is a regime on a fresh data directory, initialised with
// the recorder's KRA.
func initialised(t *testing.T, answers map[string]string) (*etims.Regime, *recorder) {
	t.Helper()
	answers["/selectInitOsdcInfo"] = initAnswer
	for _, p := range []string{"/selectCodeList", "/selectItemClsList"} {
		if _, ok := answers[p]; !ok {
			answers[p] = noChange
		}
	}
	rc, srv := newRecorder(t, answers)
	r := newRegime(t, t.TempDir(), etims.Options{BaseURL: srv.URL}, nil)
	if err := r.Onboard(context.Background(), stamping.OnboardRequest{}, nil, func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return r, rc
}

func submitSample(t *testing.T, r *etims.Regime, s *sale.Sale) stamping.Result {
	t.Helper()
	doc, err := r.Stamp(stamping.Slot{Counter: 1, IssuedAt: nairobi("2026-01-15 10:30:00")}, s)
	if err != nil {
		t.Fatal(err)
	}
	req, err := etims.Number(doc.Bytes, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r.Submit(context.Background(), stamping.Submission{Document: req, Attempt: 1})
}

// KRA refusing an item (910) rejects the sale, naming the item, and the
// sale is never sent: KRA has not seen its invcNo.
func TestItemRefusedRejectsTheSale(t *testing.T) {
	r, rc := initialised(t, map[string]string{
		"/saveItem": `{"resultCd":"910","resultMsg":"Request parameter error: itemClsCd","resultDt":"20260115103000","data":null}`})
	res := submitSample(t, r, sampleSale())
	msg := strings.Join(res.Messages, " ")
	if res.Outcome != stamping.Rejected || !strings.Contains(msg, "KE3NTU0000001") || !strings.Contains(msg, "itemClsCd") {
		t.Fatalf("saveItem refused: %v %q", res.Outcome, res.Messages)
	}
	if slices.Contains(rc.paths(), "/saveTrnsSalesOsdc") {
		t.Errorf("the sale was sent without its item: %q", rc.paths())
	}
	if len(r.RegisteredItems()) != 0 {
		t.Errorf("a refused item is remembered: %q", r.RegisteredItems())
	}
}

// KRA's 994 to saveItem means it has the item: the sale goes on. The
// request sent is the golden item registration's form.
func TestItemKnownToKRA(t *testing.T) {
	r, rc := initialised(t, map[string]string{
		"/saveItem":          `{"resultCd":"994","resultMsg":"There is an overlapped Data","resultDt":"20260115103000","data":null}`,
		"/saveTrnsSalesOsdc": oscuSave})
	if res := submitSample(t, r, sampleSale()); res.Outcome != stamping.Accepted {
		t.Fatalf("%v %q", res.Outcome, res.Messages)
	}
	want := []string{"/saveItem", "/saveItem", "/saveTrnsSalesOsdc"}
	if got := rc.paths()[3:]; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	var item etims.ItemRequest
	if err := json.Unmarshal(rc.requests[3].body, &item); err != nil || item.ItemCd != "KE3NTU0000001" || item.TaxTyCd != "B" ||
		item.DftPrc.String() != "400000.00" || item.ItemTyCd != "3" || item.OrgnNatCd != "KE" || rc.requests[3].header.Get("cmcKey") == "" {
		t.Errorf("saveItem request %s: %v", rc.requests[3].body, err)
	}
}

// A key KRA refuses on saveItem is the sale's credential error.
func TestItemCredentialError(t *testing.T) {
	r, _ := initialised(t, map[string]string{
		"/saveItem": `{"resultCd":"901","resultMsg":"It is not valid device","resultDt":"20260115103000","data":null}`})
	if res := submitSample(t, r, sampleSale()); res.Outcome != stamping.CredentialError {
		t.Fatalf("%v %q", res.Outcome, res.Messages)
	}
}

// The code list decides the payment types and the bands in use: a sale
// paid by a type KRA withdrew, or under a band it withdrew, is a 400
// naming the field.
func TestCodeListPaymentTypesAndBands(t *testing.T) {
	list := `[
 {"cdCls":"04","useYn":"Y","dtlList":[
  {"cd":"A","useYn":"Y","userDfnCd1":"0"},{"cd":"B","useYn":"Y","userDfnCd1":"16"},{"cd":"C","useYn":"Y","userDfnCd1":"0"},
  {"cd":"D","useYn":"Y","userDfnCd1":"0"},{"cd":"E","useYn":"N","userDfnCd1":"8"}]},
 {"cdCls":"07","useYn":"Y","dtlList":[{"cd":"01","useYn":"Y","srtOrd":1},{"cd":"05","useYn":"N","srtOrd":5},{"cd":"07","useYn":"Y","srtOrd":7}]}]`
	var classes []etims.CodeClass
	if err := json.Unmarshal([]byte(list), &classes); err != nil {
		t.Fatal(err)
	}
	rules, err := etims.RulesFromCodeLists(classes, etims.Rules{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rules.PaymentTypes, []string{"01", "07"}) || slices.Contains(rules.Bands, etims.BandE) || len(rules.Bands) != 4 {
		t.Fatalf("rules %+v", rules)
	}
	mpesa := sampleSale()
	mpesa.Payments = []sale.Payment{{Means: sale.MobileMoney}}
	assertFields(t, etims.Validate(mpesa, rules), []string{"payments[0].means"})
	if req, err := etims.BuildSale(mpesa, etims.SaleInput{Identity: oscu, TraderInvoiceNo: "KE-1", IssuedAt: nairobi("2026-01-15 10:30:00")}); err != nil || req.PmtTyCd != "06" {
		t.Errorf("mobile money with KRA's default list: %v", err)
	}
	card := sampleSale()
	card.Payments = []sale.Payment{{Means: sale.Card}}
	assertFields(t, etims.Validate(card, rules), []string{"payments[0].means"})
	if err := etims.Validate(sampleSale(), rules); err != nil {
		t.Errorf("bank transfer (07): %v", err)
	}
	diesel := sampleSale()
	diesel.Lines[1].Rate = d("8")
	err = etims.Validate(diesel, rules)
	assertFields(t, err, []string{"lines[1].vat_rate"})
	if !strings.Contains(err.Error(), "band E") {
		t.Errorf("band E withdrawn: %v", err)
	}
}

// Code lists are refreshed before a submission once the period has
// passed, not before; a failed refresh is not tried again on every
// submission.
func TestCodeRefreshPeriod(t *testing.T) {
	r, rc := initialised(t, map[string]string{"/saveItem": okAnswer, "/saveTrnsSalesOsdc": oscuSave})
	count := func() int { return strings.Count(strings.Join(rc.paths(), " "), "/selectCodeList") }
	if count() != 1 {
		t.Fatalf("code list calls after initialisation: %d", count())
	}
	now := time.Now()
	etims.SetClock(r, func() time.Time { return now })
	submitSample(t, r, sampleSale())
	if count() != 1 {
		t.Errorf("refreshed within the period: %d calls", count())
	}
	now = now.Add(etims.DefaultCodeRefresh + time.Minute)
	submitSample(t, r, sampleSale())
	if count() != 2 {
		t.Errorf("not refreshed after the period: %d calls", count())
	}
	// KRA failing the refresh: the submission goes on, and the next one
	// does not try again within ten minutes.
	rc.mu.Lock()
	rc.answers["/selectCodeList"] = "not json"
	rc.mu.Unlock()
	now = now.Add(etims.DefaultCodeRefresh + time.Minute)
	if res := submitSample(t, r, sampleSale()); res.Outcome != stamping.Accepted {
		t.Errorf("a failed refresh stopped the sale: %v", res.Outcome)
	}
	submitSample(t, r, sampleSale())
	if count() != 3 {
		t.Errorf("a failed refresh is tried again at once: %d calls", count())
	}
	now = now.Add(11 * time.Minute)
	submitSample(t, r, sampleSale())
	if count() != 4 {
		t.Errorf("not tried again after ten minutes: %d calls", count())
	}
}

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestConformanceLateEntryZATCA runs the daemon with the zatca regime on
// the SDK test key: a manager opens a unit failure incident and enters
// sales made during it — a simplified and a standard invoice, and a
// credit note for the first — between ordinary sales. The exported
// documents verify as one chain (`egsd verify --chain`) and pass ZATCA's
// and CEN's rules (zatca-validate); the late ones carry the transaction's
// Saudi date as cac:Delivery/cbc:ActualDeliveryDate (KSA-5) and a note
// that they were issued late, the ordinary simplified ones neither.
func TestConformanceLateEntryZATCA(t *testing.T) {
	u := startSDKUnit(t)
	ctx := context.Background()
	riyadh := time.FixedZone("AST", 3*3600)
	// 23:30 in Riyadh two days ago: the supply date is that Riyadh date.
	sold := time.Now().In(riyadh).AddDate(0, 0, -2)
	sold = time.Date(sold.Year(), sold.Month(), sold.Day(), 23, 30, 0, 0, riyadh)
	body := fmt.Sprintf(`{"kind":"unit-failure","since":%q,"cause":"power cut"}`, sold.Add(-time.Hour).Format(time.RFC3339))
	if ans, err := u.manager.do(ctx, http.MethodPost, "/v1/incidents", http.Header{"Content-Type": {"application/json"}}, []byte(body)); err != nil || ans.Status != http.StatusCreated {
		t.Fatalf("POST /v1/incidents = %d %s, %v", ans.Status, ans.Body, err)
	}
	at := sold.Format(time.RFC3339)
	buyer := `"buyer":{"name":"Fatoora Samples LTD","vat_number":"399999999800003","address":{"street":"Salah Al-Din","building_number":"1111","district":"Al-Murooj","city":"Riyadh","postal_code":"12222","country":"SA"}}`
	tea := `"lines":[{"name":"Tea","quantity":"2","unit_price":"4.35","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]`
	steps := []struct {
		client *apiClient
		body   string
		late   bool
	}{
		{u.cashier, `{"kind":"invoice",` + tea + `}`, false},
		{u.manager, `{"kind":"invoice","transaction_time":"` + at + `",` + tea + `}`, true},
		{u.manager, `{"kind":"invoice","transaction_time":"` + at + `","note":"Paper receipt 17",` + buyer + `,` + tea + `}`, true},
		{u.manager, `{"kind":"credit_note","original":"EGS1-2","reason":"Goods returned","transaction_time":"` + at + `",` + tea + `}`, true},
		{u.cashier, `{"kind":"invoice",` + tea + `}`, false},
	}
	for i, st := range steps {
		ans, err := st.client.postSale(ctx, fmt.Sprint("late-zatca-", i), []byte(st.body))
		if err != nil || ans.Status != http.StatusCreated {
			t.Fatalf("sale %d = %d %s, %v", i, ans.Status, ans.Body, err)
		}
	}
	u.d.stop()

	out := filepath.Join(u.tmp, "export")
	if res := runEgsd(t, u.env, "journal", "export", "--config", u.cfg, "--out", out); res.Code != 0 {
		t.Fatalf("journal export: %s", res)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.xml"))
	if len(files) != len(steps) {
		t.Fatalf("exported %d XML files, want %d", len(files), len(steps))
	}
	verify := runEgsd(t, u.env, append([]string{"verify", "--chain"}, files...)...)
	if verify.Code != 0 || !strings.Contains(verify.Stdout, fmt.Sprintf("OK chain ICV 1–%d", len(steps))) {
		t.Fatalf("egsd verify --chain: %s", verify)
	}
	supply := regexp.MustCompile(`<cac:Delivery>\s*<cbc:ActualDeliveryDate>([0-9-]+)</cbc:ActualDeliveryDate>`)
	icv := regexp.MustCompile(`<cbc:ID>ICV</cbc:ID>\s*<cbc:UUID>(\d+)</cbc:UUID>`)
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := icv.FindSubmatch(doc)
		if m == nil {
			t.Fatalf("%s: no ICV", f)
		}
		var n int
		fmt.Sscan(string(m[1]), &n)
		st := steps[n-1]
		date := supply.FindSubmatch(doc)
		note := strings.Contains(string(doc), "Issued late for unit failure incident 1; transaction time "+at)
		switch {
		case st.late && (date == nil || string(date[1]) != sold.Format(time.DateOnly) || !note):
			t.Errorf("late document %d: supply date %q, note %v; want %s and the note", n, date, note, sold.Format(time.DateOnly))
		case !st.late && (date != nil || note):
			t.Errorf("ordinary simplified document %d carries a supply date or the late note", n)
		}
	}
	zatcaValidate(t, out, len(steps), func(string, string) bool { return false })
}

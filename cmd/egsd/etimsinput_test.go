package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/stamping"
)

// keLine is item k of the test's items, quantity q, with the JSON edits
// given (each "old→new").
func keLine(k int, q string, edits ...string) string {
	l := fmt.Sprintf(keItems[k], q)
	for _, e := range edits {
		old, repl, _ := strings.Cut(e, "→")
		if !strings.Contains(l, old) {
			panic("no " + old + " in " + l)
		}
		l = strings.Replace(l, old, repl, 1)
	}
	return l
}

func keInvoice(extra, lines string) string {
	return `{"kind":"invoice",` + extra + `"lines":[` + lines + `],"payments":[{"means":"cash"}]}`
}

// TestETIMSBadInput: Kenyan sales and credit notes the unit must refuse,
// through the API: each is a 400 that names the field, and the counter
// does not move.
func TestETIMSBadInput(t *testing.T) {
	u := newETIMSUnit(t, nil)
	buyer := `"buyer":{"name":"Mfano Technologies Ltd.","vat_number":"` + keBuyerPIN + `"},`
	_, withBuyer := u.issue("orig-buyer", keInvoice(buyer, keLine(0, "2")+","+keLine(2, "3")))
	_, noBuyer := u.issue("orig-none", keInvoice("", keLine(1, "2")))
	note := func(orig, extra, lines string) string {
		return `{"kind":"credit_note","original":"` + orig + `","reason":"Goods returned","reason_code":"01",` + extra +
			`"lines":[` + lines + `],"payments":[{"means":"cash"}]}`
	}
	for i, tc := range []struct{ name, field, body string }{
		{"PIN too short", "buyer.vat_number", keInvoice(`"buyer":{"name":"X Ltd","vat_number":"P05123456A"},`, keLine(0, "1"))},
		{"PIN in lower case", "buyer.vat_number", keInvoice(`"buyer":{"name":"X Ltd","vat_number":"p051234567a"},`, keLine(0, "1"))},
		{"PIN starting with a digit", "buyer.vat_number", keInvoice(`"buyer":{"name":"X Ltd","vat_number":"1051234567A"},`, keLine(0, "1"))},
		{"PIN ending with a digit", "buyer.vat_number", keInvoice(`"buyer":{"name":"X Ltd","vat_number":"P0512345678"},`, keLine(0, "1"))},
		{"PIN too long", "buyer.vat_number", keInvoice(`"buyer":{"name":"X Ltd","vat_number":"P0512345678A"},`, keLine(0, "1"))},
		{"buyer name over 60", "buyer.name", keInvoice(`"buyer":{"name":"`+strings.Repeat("N", 61)+`","vat_number":"`+keBuyerPIN+`"},`, keLine(0, "1"))},
		{"currency other than KES", "currency", keInvoice(`"currency":"USD",`, keLine(0, "1"))},
		{"debit note", "kind", `{"kind":"debit_note","original":"` + withBuyer + `","reason":"Price raised",` + buyer + `"lines":[` + keLine(0, "1") + `]}`},
		{"no item class", "lines[0].item_class", keInvoice("", keLine(0, "1", `"item_class":"5010150100",→`))},
		{"no packaging unit", "lines[0].packaging_unit", keInvoice("", keLine(0, "1", `"packaging_unit":"NT",→`))},
		{"no quantity unit", "lines[0].quantity_unit", keInvoice("", keLine(0, "1", `"quantity_unit":"KG",→`))},
		{"no item code", "lines[0].item_code", keInvoice("", keLine(0, "1", `,"item_code":"KE2NTKG0000011"→`))},
		{"item code not KRA's form", "lines[0].item_code", keInvoice("", keLine(0, "1", `KE2NTKG0000011→XX`))},
		{"item class not digits", "lines[0].item_class", keInvoice("", keLine(0, "1", `5010150100→50101A`))},
		{"packaging unit in lower case", "lines[0].packaging_unit", keInvoice("", keLine(0, "1", `"NT"→"nt"`))},
		{"unknown band: 15 %", "lines[0].vat_rate", keInvoice("", keLine(0, "1", `"vat_rate":"16"→"vat_rate":"15"`))},
		{"unknown band: 10 % on the second line", "lines[1].vat_rate", keInvoice("", keLine(2, "1")+","+keLine(0, "1", `"vat_rate":"16"→"vat_rate":"10"`))},
		{"quantity with three decimals", "lines[0].quantity", keInvoice("", keLine(0, "1.125"))},
		{"unit price with three decimals", "lines[0].unit_price", keInvoice("", keLine(0, "1", `150.00→150.005`))},
		{"exemption reason on a zero-rated line", "lines[0].exemption_reason", keInvoice("", keLine(2, "1", `"vat_category":"Z"→"vat_category":"Z","exemption_reason":"export"`))},
		{"line charge", "lines[0].charges[0]", keInvoice("", keLine(0, "1", `"vat_rate":"16"→"vat_rate":"16","charges":[{"amount":"5.00","reason":"Wrapping"}]`))},
		{"document charge", "charges[0]", keInvoice(`"charges":[{"amount":"50.00","reason":"Delivery","vat_category":"S","vat_rate":"16"}],`, keLine(0, "1"))},
		{"remark over 400", "note", keInvoice(`"note":"`+strings.Repeat("n", 401)+`",`, keLine(0, "1"))},
		{"credit note without a KRA reason code", "reason_code", strings.Replace(note(withBuyer, buyer, keLine(0, "1")), `"reason_code":"01",`, "", 1)},
		{"credit note with a reason code not in class 32", "reason_code", strings.Replace(note(withBuyer, buyer, keLine(0, "1")), `"reason_code":"01"`, `"reason_code":"99"`, 1)},
		{"credit note above the original's quantity", "lines[0].quantity", note(withBuyer, buyer, keLine(0, "5"))},
		{"credit note above the original's amount", "lines[0].unit_price", note(withBuyer, buyer, keLine(0, "2", `150.00→151.00`))},
		{"credit note with another buyer PIN", "buyer.vat_number", note(withBuyer, `"buyer":{"name":"Mfano Technologies Ltd.","vat_number":"P000000009Z"},`, keLine(0, "1"))},
		{"credit note with a PIN its original lacks", "buyer.vat_number", note(noBuyer, buyer, keLine(1, "1"))},
		{"credit note without its original's PIN", "buyer.vat_number", note(withBuyer, "", keLine(0, "1"))},
		{"credit note for an item its original lacks", "lines[0]", note(withBuyer, buyer, keLine(3, "1"))},
		{"credit note for a document issued elsewhere", "original_external", strings.Replace(note("ELSEWHERE-1", buyer, keLine(0, "1")), `"kind"`, `"original_external":true,"kind"`, 1)},
	} {
		key := fmt.Sprint("bad-", i)
		t.Run(tc.name, func(t *testing.T) {
			head, err := u.a.Store().Head()
			if err != nil {
				t.Fatal(err)
			}
			ans, err := u.cashier.postSale(context.Background(), key, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			var p agent.Problem
			json.Unmarshal(ans.Body, &p)
			named := false
			for _, fe := range p.Errors {
				named = named || fe.Field == tc.field || strings.HasPrefix(fe.Field, tc.field+".")
			}
			if ans.Status != http.StatusBadRequest || !named {
				t.Errorf("= %d, fields %v, want 400 naming %s: %s", ans.Status, p.Errors, tc.field, ans.Body)
			}
			if h, _ := u.a.Store().Head(); h.Counter != head.Counter {
				t.Errorf("the counter moved from %d to %d", head.Counter, h.Counter)
			}
		})
	}
}

// TestETIMSConfigRefused: a bad branch ID or PIN in the configuration is
// refused at start, naming the option.
func TestETIMSConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		option string
		mod    func(*agent.Config)
	}{
		{"regime.options.bhf_id", func(c *agent.Config) { c.Regime.Options["bhf_id"] = "0A" }},
		{"regime.options.bhf_id", func(c *agent.Config) { c.Regime.Options["bhf_id"] = "001" }},
		{"regime.options.tin", func(c *agent.Config) { c.Seller.VATNumber = "P05123456" }},
		{"regime.options.profile", func(c *agent.Config) { c.Regime.Options["profile"] = "cloud" }},
	} {
		cfg := etimsConfig(t.TempDir(), "http://127.0.0.1:1/etims-api")
		tc.mod(&cfg)
		a, err := agent.New(cfg, agent.Options{})
		if err == nil {
			a.Close()
		}
		var oe *stamping.OptionError
		if !errors.As(err, &oe) || !strings.HasPrefix("regime.options."+oe.Option, tc.option) {
			t.Errorf("%s: %v", tc.option, err)
		}
	}
}

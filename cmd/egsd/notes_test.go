package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/device/fakeprinter"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/zatca"
)

// TestZATCANoteNamesItsOriginalByNumber: a credit note that names its
// original by UUID is issued with the original's invoice number in its
// BillingReference, verifies, is accepted by the simulator, and its
// receipt prints that number.
func TestZATCANoteNamesItsOriginalByNumber(t *testing.T) {
	p := startPrinter(t, fakeprinter.Options{WidthDots: 576})
	u := newZATCAUnit(t, withPrinter(p))
	inv, _, err := u.a.Issue(context.Background(), "cashier", "inv", []byte(saleJSON(0)))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"kind":"credit_note","original":"` + inv.UUID + `","reason":"Returned",` +
		`"lines":[{"name":"Tea","quantity":"1","unit_price":"4.35","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]}`
	note, _, err := u.a.Issue(context.Background(), "cashier", "note", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if inv.Number != "EGS1-1" || note.Original != inv.Counter {
		t.Fatalf("invoice number %q, note's original %d", inv.Number, note.Original)
	}
	ref := "<cac:BillingReference>\n        <cac:InvoiceDocumentReference>\n            <cbc:ID>EGS1-1</cbc:ID>"
	if !strings.Contains(string(note.Document), ref) || strings.Contains(string(note.Document), inv.UUID) {
		t.Errorf("the credit note does not reference EGS1-1 by number:\n%s", note.Document)
	}
	if _, err := zatca.Verify(note.Document); err != nil {
		t.Errorf("the credit note does not verify: %v", err)
	}
	u.drained(20 * time.Second)
	for _, c := range []uint64{inv.Counter, note.Counter} {
		if r, err := u.a.Store().Document(c); err != nil || r.Status != queue.StatusAccepted && r.Status != queue.StatusAcceptedWithWarnings {
			t.Errorf("document %d: %v, %v; want accepted by the simulator", c, r.Status, err)
		}
	}
	receipts := waitReceipts(t, p, 2)
	if text := receipts[1].Text; !strings.Contains(text, "EGS1-1") || strings.Contains(text, inv.UUID) {
		t.Errorf("the credit note's receipt does not name the original EGS1-1:\n%s", text)
	}
}

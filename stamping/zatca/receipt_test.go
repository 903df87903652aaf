package zatca

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping"
)

// TestReceiptInfo: the receipt facts a stamp records are the document's own
// (number, time, totals, the QR embedded in it), with the title of its type;
// and a clearance answer gives the cleared document's facts.
func TestReceiptInfo(t *testing.T) {
	r := sdkRegime(t)
	shapes := ublShapes()
	docs := stampChain(t, r, shapes)
	clearance := r.(stamping.Clearance)
	titles := map[string]bool{}
	for i, d := range docs {
		var stamped stamping.ReceiptInfo
		if err := json.Unmarshal(d.Receipt, &stamped); err != nil {
			t.Fatalf("%s: receipt JSON: %v", shapes[i].name, err)
		}
		read, err := ReceiptInfoOf(d.Bytes)
		if err != nil {
			t.Fatalf("%s: ReceiptInfoOf: %v", shapes[i].name, err)
		}
		if !reflect.DeepEqual(stamped, read) {
			t.Errorf("%s: stamped receipt %+v, the document says %+v", shapes[i].name, stamped, read)
		}
		qr, err := DecodeQR(read.QR)
		if err != nil || qr.Total != read.Total || qr.Timestamp != read.Timestamp {
			t.Errorf("%s: QR %+v, %v does not restate the receipt's total and time", shapes[i].name, qr, err)
		}
		if got := clearance.NeedsClearance(d.Bytes); got == read.Simplified {
			t.Errorf("%s: NeedsClearance = %v for simplified = %v", shapes[i].name, got, read.Simplified)
		}
		titles[read.Title+" / "+read.TitleLocal] = true

		// A clearance answer carrying this document as cleared.
		answer := answerCleared(d.Bytes, "PASS")
		doc, info, ok, err := clearance.Cleared([]byte(answer))
		if err != nil || !ok || string(doc) != string(d.Bytes) || !reflect.DeepEqual(info, read) {
			t.Errorf("%s: Cleared = %d bytes, %+v, %v, %v", shapes[i].name, len(doc), info, ok, err)
		}
	}
	for _, want := range []string{"Simplified Tax Invoice / فاتورة ضريبية مبسطة", "Tax Invoice / فاتورة ضريبية", "Credit Note / إشعار دائن", "Debit Note / إشعار مدين"} {
		if !titles[want] {
			t.Errorf("no document titled %q among %v", want, titles)
		}
	}
	// A reporting answer (clearance off) carries no cleared document.
	if _, _, ok, err := clearance.Cleared([]byte(`{"validationResults":{"status":"PASS"},"reportingStatus":"REPORTED"}`)); ok || err != nil {
		t.Errorf("reporting answer: ok = %v, err = %v; want no cleared document", ok, err)
	}
	if _, _, _, err := clearance.Cleared([]byte(`{"clearedInvoice":"` + strings.Repeat("A", 8) + `"}`)); err == nil {
		t.Error("a cleared invoice that is not UBL was accepted")
	}
}

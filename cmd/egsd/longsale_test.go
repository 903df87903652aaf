package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	imagepng "image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/device/fakeprinter/qrscan"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/sale"
)

// TestDemoPrintsLongSale: a sale of sale.MaxLines lines is issued by the
// demo and its receipt, some 2,000 printed lines long, comes out of the
// virtual printer whole, QR code included; the daemon (whose process the
// virtual printer shares) keeps serving, and prints the next sale too.
func TestDemoPrintsLongSale(t *testing.T) {
	var lines []string
	for i := range sale.MaxLines {
		lines = append(lines, fmt.Sprintf(`{"name":"Item %04d","quantity":"1","unit_price":"1.00","vat_category":"S","vat_rate":"15"}`, i+1))
	}
	data := filepath.Join(t.TempDir(), "demo")
	d, c, ans := demoSale(t, data, "long-1", []byte(`{"kind":"invoice","lines":[`+strings.Join(lines, ",")+`]}`))
	defer d.stop()
	var doc struct {
		Receipt stamping.ReceiptInfo `json:"receipt"`
	}
	if err := json.Unmarshal(ans.Body, &doc); err != nil || doc.Receipt.QR == "" {
		t.Fatalf("sale answer: %v %s", err, ans.Body)
	}

	receipts := filepath.Join(data, "receipts")
	waitFor(t, "the long receipt", 60*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(receipts, "receipt-0001.txt"))
		return err == nil
	})
	text, err := os.ReadFile(filepath.Join(receipts, "receipt-0001.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Item 0001\n", fmt.Sprintf("Item %04d\n", sale.MaxLines), "[QR native", "[CUT full]"} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("the receipt lacks %q", want)
		}
	}
	for _, bad := range []string{"PAPER LIMIT", "PRINTER FAULT", "NOT PRINTED"} {
		if bytes.Contains(text, []byte(bad)) {
			t.Errorf("the receipt says %q", bad)
		}
	}
	f, err := os.Open(filepath.Join(receipts, "receipt-0001.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := imagepng.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The QR code is near the end of the paper (a scanner reads a window
	// of the receipt, as a phone does).
	b := img.Bounds()
	if b.Dy() < 2*sale.MaxLines*30 {
		t.Fatalf("the receipt is %d rows long: not every line was drawn", b.Dy())
	}
	tail := img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(0, b.Max.Y-1000, b.Max.X, b.Max.Y))
	if got, err := qrscan.Decode(tail); err != nil || len(got) != 1 || got[0] != doc.Receipt.QR {
		t.Errorf("QR read from the end of the receipt: %d codes, %v; want the document's", len(got), err)
	}

	// The daemon is still there, and prints the next sale.
	next, err := c.postSale(context.Background(), "long-2", []byte(`{"kind":"invoice","lines":[{"name":"Tea","quantity":"1","unit_price":"5.00","vat_category":"S","vat_rate":"15"}]}`))
	if err != nil || next.Status != http.StatusCreated {
		t.Fatalf("the next sale: %v %d %s", err, next.Status, next.Body)
	}
	waitFor(t, "the next receipt", 30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(receipts, "receipt-0002.txt"))
		return err == nil
	})
}

// demoSale starts `egsd run --demo` (the ZATCA simulator and the virtual
// printer) on data, logs in as the demo cashier, and issues body once the
// unit has onboarded. The caller stops the daemon.
func demoSale(t *testing.T, data, key string, body []byte) (*daemon, *apiClient, apiAnswer) {
	t.Helper()
	d := startListening(t, data, func(addr string) []string {
		return []string{"run", "--demo", "--data", data, "--listen", addr}
	})
	c := newAPIClient(d.url)
	c.login(t, "cashier", "cashier-demo")
	var ans apiAnswer
	waitFor(t, "the demo unit to onboard and issue", 60*time.Second, func() bool {
		var err error
		ans, err = c.postSale(context.Background(), key, body)
		return err == nil && ans.Status == http.StatusCreated
	})
	return d, c, ans
}

package receipt_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/device/escpos"
	"github.com/egsd/egsd/device/fakeprinter"
	"github.com/egsd/egsd/device/fakeprinter/qrscan"
	"github.com/egsd/egsd/device/receipt"
)

var update = flag.Bool("update", false, "rewrite testdata/*.escpos from the layout (review them against the printed transcript)")

// printOn sends job to a fake printer of the given width and returns what
// it printed.
func printOn(t *testing.T, width int, job []byte) fakeprinter.Receipt {
	t.Helper()
	p, err := fakeprinter.Start(fakeprinter.Options{WidthDots: width})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f, err := os.OpenFile(p.Path(), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(job); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := p.WaitReceipts(ctx, 1)
	if err != nil {
		t.Fatalf("no receipt printed: %v", err)
	}
	st := p.Stats()
	if st.Unknown != 0 || st.Invalid != 0 || st.NotPrinted != 0 || st.Wraps != 0 {
		t.Errorf("the printer found %d unknown, %d invalid, %d unprinted commands and %d wrapped lines:\n%s",
			st.Unknown, st.Invalid, st.NotPrinted, st.Wraps, got[0].Text)
	}
	return got[0]
}

// decodeQR reads the receipt's QR codes back from the printed image.
func decodeQR(t *testing.T, r fakeprinter.Receipt) []string {
	t.Helper()
	var out []string
	for _, img := range r.QRImages() {
		got, err := qrscan.Decode(img)
		if err != nil {
			t.Fatalf("QR does not decode: %v", err)
		}
		out = append(out, got...)
	}
	return out
}

// checkGolden compares a job with testdata/name, which -update rewrites
// from it.
func checkGolden(t *testing.T, name string, job []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, job, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./device/receipt -update to create it, then review it)", err)
	}
	if !bytes.Equal(job, want) {
		at := 0
		for at < min(len(job), len(want)) && job[at] == want[at] {
			at++
		}
		t.Errorf("job differs from %s at byte %d of %d (want %d bytes)", golden, at, len(job), len(want))
	}
}

// phase1QR is a ZATCA Phase 1 QR: TLV tags 1-5 (seller name in Arabic, VAT
// number, time, total, VAT), base64.
func phase1QR() string {
	var tlv []byte
	for i, v := range []string{"مؤسسة النور للتجارة", "399999999900003", "2026-11-21T10:15:00", "1150.00", "150.00"} {
		tlv = append(tlv, byte(i+1), byte(len(v)))
		tlv = append(tlv, v...)
	}
	return base64.StdEncoding.EncodeToString(tlv)
}

// base64Payload is n characters of random base64, like a Phase 2 QR.
func base64Payload(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 7))
	raw := make([]byte, n)
	for i := range raw {
		raw[i] = byte(r.UintN(256))
	}
	return base64.StdEncoding.EncodeToString(raw)[:n]
}

func sample(qr string) *receipt.Receipt {
	return &receipt.Receipt{
		Title: "Simplified Tax Invoice", TitleLocal: "فاتورة ضريبية مبسطة",
		SellerName: "Al Noor Trading", SellerNameLocal: "مؤسسة النور للتجارة",
		Address: "1234 King Fahd Road, Al Olaya, 12345 Riyadh", SellerVAT: "399999999900003",
		Fields: []receipt.Field{{Label: "No", Value: "INV-000123"}, {Label: "Date", Value: "2026-11-21 10:15:00"}},
		Lines: []receipt.Line{
			{Name: "Coffee beans 1kg", Quantity: "1", UnitPrice: "45.00", Amount: "45.00"},
			{Name: "حليب طازج 2 لتر", Quantity: "2", UnitPrice: "8.50", Amount: "17.00"},
		},
		Totals: []receipt.Field{{Label: "VAT 15% on 62.00", Value: "9.30"}, {Label: "Total excl. VAT", Value: "62.00"}, {Label: "VAT", Value: "9.30"}, {Label: "Total incl. VAT SAR", Value: "71.30"}},
		QR:     qr,
	}
}

// TestQRRoundTrip: a receipt printed on the fake printer gives back its QR
// payload from the printed image — Phase 1 and Phase 2 sizes up to 1,000
// characters, native and raster, 58 and 80 mm.
func TestQRRoundTrip(t *testing.T) {
	payloads := map[string]string{"phase1": phase1QR()}
	for _, n := range []int{255, 544, 700, 1000} {
		payloads[fmt.Sprintf("base64-%d", n)] = base64Payload(n, uint64(n))
	}
	for _, name := range []string{"generic-58mm", "raster-58mm", "generic-80mm", "epson-tm-t88"} {
		prof, err := escpos.LookupProfile(name)
		if err != nil {
			t.Fatal(err)
		}
		layout, err := receipt.NewLayout(prof)
		if err != nil {
			t.Fatal(err)
		}
		for pname, payload := range payloads {
			t.Run(name+"/"+pname, func(t *testing.T) {
				job, err := layout.Render(sample(payload))
				if err != nil {
					t.Fatal(err)
				}
				wantNative := prof.QRNative && (prof.QRMaxBytes == 0 || len(payload) <= prof.QRMaxBytes)
				if job.QR.Native != wantNative {
					t.Errorf("native = %v for %d bytes on %s (limit %d)", job.QR.Native, len(payload), name, prof.QRMaxBytes)
				}
				printed := printOn(t, prof.WidthDots, job.Bytes)
				got := decodeQR(t, printed)
				if len(got) != 1 || got[0] != payload {
					t.Fatalf("decoded %d QR codes %.40q…, want the %d-character payload", len(got), got, len(payload))
				}
				if job.QR.WidthDots > prof.WidthDots {
					t.Errorf("QR is %d dots wide on %d-dot paper", job.QR.WidthDots, prof.WidthDots)
				}
			})
		}
	}
}

// TestReceiptContent: what a cashier and an auditor read on the receipt —
// seller, VAT number, number, date, lines, VAT breakdown, totals —
// with right-aligned amounts, the Arabic lines as images, and the cut.
func TestReceiptContent(t *testing.T) {
	prof, _ := escpos.LookupProfile("generic-80mm")
	layout, err := receipt.NewLayout(prof)
	if err != nil {
		t.Fatal(err)
	}
	job, err := layout.Render(sample(phase1QR()))
	if err != nil {
		t.Fatal(err)
	}
	printed := printOn(t, prof.WidthDots, job.Bytes)
	lines := strings.Split(printed.Text, "\n")
	want := []string{
		"{bold}Simplified Tax Invoice",
		"{bold}Al Noor Trading",
		"1234 King Fahd Road, Al Olaya, 12345 Riyadh",
		"VAT No 399999999900003",
		"No" + strings.Repeat(" ", 48-2-10) + "INV-000123",
		"Coffee beans 1kg",
		"  1 x 45.00" + strings.Repeat(" ", 48-11-5) + "45.00",
		"  2 x 8.50" + strings.Repeat(" ", 48-10-5) + "17.00",
		"VAT 15% on 62.00" + strings.Repeat(" ", 48-16-4) + "9.30",
		"{bold}Total incl. VAT SAR" + strings.Repeat(" ", 48-19-5) + "71.30",
		"[CUT full]",
	}
	for _, w := range want {
		found := false
		for _, l := range lines {
			if strings.HasSuffix(l, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("receipt lacks the line %q:\n%s", w, printed.Text)
		}
	}
	// Title, seller name and the Arabic item name are printed as images.
	if n := strings.Count(printed.Text, "[RASTER "); n != 3 {
		t.Errorf("%d raster lines, want 3 (title, seller, item name):\n%s", n, printed.Text)
	}
	// The profile lets the printer scale: text lines go at half width.
	if n := strings.Count(printed.Text, " m=1]"); n != 3 {
		t.Errorf("%d raster lines at double width (m=1), want 3:\n%s", n, printed.Text)
	}
	if !printed.Cut {
		t.Error("the receipt was not cut")
	}
	if strings.Contains(printed.Text, "COPY") {
		t.Error("an original says COPY")
	}

	// A reprint says COPY, at the top and the bottom.
	r := sample(phase1QR())
	r.Copy = 2
	job, err = layout.Render(r)
	if err != nil {
		t.Fatal(err)
	}
	printed = printOn(t, prof.WidthDots, job.Bytes)
	if n := strings.Count(printed.Text, "{bold 2x2}COPY 2"); n != 2 {
		t.Errorf("COPY 2 printed %d times, want 2:\n%s", n, printed.Text)
	}
}

// TestAlignmentAfterArabic: an Arabic item name prints right-aligned (its
// script starts at the right margin), and the Latin lines after it print
// left-aligned again — the printer keeps the last ESC a it was sent, so
// each line must state its own. The golden file is the whole ESC/POS job.
func TestAlignmentAfterArabic(t *testing.T) {
	prof, _ := escpos.LookupProfile("generic-80mm")
	layout, err := receipt.NewLayout(prof)
	if err != nil {
		t.Fatal(err)
	}
	r := sample(phase1QR())
	r.Lines = []receipt.Line{
		{Name: "Coffee beans 1kg", Quantity: "1", UnitPrice: "45.00", Amount: "45.00"},
		{Name: "حليب طازج 2 لتر", Quantity: "2", UnitPrice: "8.50", Amount: "17.00"},
		{Name: "Tea bags 100", Quantity: "3", UnitPrice: "12.00", Amount: "36.00"},
	}
	job, err := layout.Render(r)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "latin_arabic_latin.escpos", job.Bytes)

	printed := printOn(t, prof.WidthDots, job.Bytes)
	lines := strings.Split(printed.Text, "\n")
	at := func(prefix string) int {
		for i, l := range lines {
			if strings.HasPrefix(strings.TrimPrefix(strings.TrimPrefix(l, "[right] "), "[center] "), prefix) {
				return i
			}
		}
		t.Fatalf("the receipt lacks a line starting %q:\n%s", prefix, printed.Text)
		return -1
	}
	// The printed lines around the Arabic name (a raster image), as the
	// printer aligned them: the interpreter prefixes "[right] " or
	// "[center] " to a line not aligned left.
	arabic := at("  1 x 45.00") + 1
	if !strings.HasPrefix(lines[arabic], "[RASTER ") {
		t.Fatalf("line %d is %q, want the Arabic name's image:\n%s", arabic, lines[arabic], printed.Text)
	}
	for _, want := range []string{
		"Coffee beans 1kg",
		"  1 x 45.00" + strings.Repeat(" ", 48-11-5) + "45.00",
		"  2 x 8.50" + strings.Repeat(" ", 48-10-5) + "17.00",
		"Tea bags 100",
		"  3 x 12.00" + strings.Repeat(" ", 48-11-5) + "36.00",
	} {
		if got := lines[at(want)]; got != want {
			t.Errorf("printed %q, want %q aligned left:\n%s", got, want, printed.Text)
		}
	}
}

// discounted is a receipt with a line's price discount, discounts and
// charges, the document's discounts and charges, bilingual totals and
// payments.
func discounted(qr string) *receipt.Receipt {
	r := sample(qr)
	r.Lines = []receipt.Line{
		{Name: "Coffee beans 1kg", Quantity: "3", UnitPrice: "5.00", Amount: "15.80", Details: []string{
			"Price discount 1.00 x 3", "Loyalty 10% -1.20", "Gift wrap +5.00"}},
		{Name: "حليب طازج 2 لتر", Quantity: "2", UnitPrice: "8.50", Amount: "14.45", Details: []string{"خصم الولاء 15% -2.55"}},
		{Name: "Tea bags 100", Quantity: "1", UnitPrice: "12.00", Amount: "10.00", Details: []string{
			"Clearance of the summer range, ends with the stock in store -2.00"}},
	}
	r.Adjustments = []receipt.Field{
		{Label: "Staff discount 10% (VAT 15.00%)", Value: "-4.03"},
		{Label: "توصيل", Value: "+5.00"},
	}
	r.Totals = []receipt.Field{
		{Label: "Subtotal", LabelLocal: "المجموع الفرعي", Value: "40.25"},
		{Label: "Discounts", LabelLocal: "الخصومات", Value: "-4.03"},
		{Label: "Charges", LabelLocal: "الرسوم الإضافية", Value: "+5.00"},
		{Label: "Total excl. VAT", LabelLocal: "الإجمالي بدون الضريبة", Value: "41.22"},
		{Label: "VAT 15.00% on 41.22", Value: "6.18"},
		{Label: "VAT", LabelLocal: "ضريبة القيمة المضافة", Value: "6.18"},
		{Label: "Total incl. VAT", LabelLocal: "الإجمالي شامل الضريبة", Value: "47.40"},
		{Label: "Rounding", LabelLocal: "التقريب", Value: "+0.10"},
		{Label: "Amount due SAR", LabelLocal: "المبلغ المستحق", Value: "47.50"},
	}
	r.Payments = []receipt.Field{
		{Label: "Cash", LabelLocal: "نقدي", Value: "47.50"},
		{Label: "Tendered", LabelLocal: "المبلغ المستلم", Value: "50.00"},
		{Label: "Change", LabelLocal: "الباقي", Value: "2.50"},
	}
	return r
}

// TestDiscountsAndPayments: a line's details print under it, indented
// (wrapped lines too; an Arabic one indented from the right margin), the
// document's discounts and charges after the lines with their amounts at
// the right, each total's Arabic label above it, the amount due bold,
// then the payments; on 80 and 58 mm paper, nothing wider than the paper.
// The 80 mm job is the golden file testdata/discounts_payments.escpos.
func TestDiscountsAndPayments(t *testing.T) {
	for _, name := range []string{"generic-80mm", "generic-58mm", "epson-tm-t88"} {
		t.Run(name, func(t *testing.T) {
			prof, _ := escpos.LookupProfile(name)
			layout, err := receipt.NewLayout(prof)
			if err != nil {
				t.Fatal(err)
			}
			job, err := layout.Render(discounted(phase1QR()))
			if err != nil {
				t.Fatal(err)
			}
			if name == "generic-80mm" {
				checkGolden(t, "discounts_payments.escpos", job.Bytes)
			}
			printed := printOn(t, prof.WidthDots, job.Bytes)
			cols := prof.Columns
			row := func(label, value string) string {
				return label + strings.Repeat(" ", cols-len(label)-len(value)) + value
			}
			want := []string{
				"Coffee beans 1kg",
				row("  3 x 5.00", "15.80"),
				"    Price discount 1.00 x 3",
				"    Loyalty 10% -1.20",
				"    Gift wrap +5.00",
				row("  2 x 8.50", "14.45"),
				"[RASTER", // the Arabic detail
				"Tea bags 100",
				row("  1 x 12.00", "10.00"),
				"    Clearance of the summer…",
				"[RASTER", // the Arabic charge's reason
				row("", "+5.00"),
				"[RASTER", row("Subtotal", "40.25"),
				"[RASTER", row("Discounts", "-4.03"),
				"[RASTER", row("Charges", "+5.00"),
				"[RASTER", row("Total excl. VAT", "41.22"),
				row("VAT 15.00% on 41.22", "6.18"),
				"[RASTER", row("VAT", "6.18"),
				"[RASTER", row("Total incl. VAT", "47.40"),
				"[RASTER", row("Rounding", "+0.10"),
				"[RASTER", "{bold}" + row("Amount due SAR", "47.50"),
				"[center] " + strings.Repeat("-", cols/2),
				"[RASTER", row("Cash", "47.50"),
				"[RASTER", row("Tendered", "50.00"),
				"[RASTER", row("Change", "2.50"),
				"[QR ",
			}
			lines := strings.Split(printed.Text, "\n")
			at := 0
			for _, w := range want {
				// "[RASTER", "[QR " and a line ending in "…" match a line
				// that starts so.
				prefix, isPrefix := strings.CutSuffix(w, "…")
				isPrefix = isPrefix || strings.HasPrefix(w, "[")
				for at < len(lines) && !(lines[at] == w || isPrefix && strings.HasPrefix(lines[at], prefix)) {
					at++
				}
				if at == len(lines) {
					t.Fatalf("the receipt lacks %q after the lines before it:\n%s", w, printed.Text)
				}
				at++
			}
			// The long reason wraps, every line of it indented.
			for _, l := range lines {
				if strings.Contains(l, "summer") || strings.Contains(l, "stock") {
					if !strings.HasPrefix(l, "    ") || len(l) > cols {
						t.Errorf("wrapped detail %q: want it indented by 4 and at most %d columns", l, cols)
					}
				}
			}
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "    ") && strings.HasSuffix(l, " store -2.00") }) {
				t.Errorf("the wrapped reason's last line is missing:\n%s", printed.Text)
			}
			if strings.Contains(printed.Text, "NOT PRINTED") {
				t.Errorf("something did not fit the paper:\n%s", printed.Text)
			}
		})
	}
}

// TestCodePageArabic: a printer that shapes Arabic itself gets the text in
// its code page, not images.
func TestCodePageArabic(t *testing.T) {
	prof, _ := escpos.LookupProfile("epson-tm-t20")
	prof.Arabic = escpos.ArabicCodePage
	layout, err := receipt.NewLayout(prof)
	if err != nil {
		t.Fatal(err)
	}
	job, err := layout.Render(sample(phase1QR()))
	if err != nil {
		t.Fatal(err)
	}
	printed := printOn(t, prof.WidthDots, job.Bytes)
	if strings.Contains(printed.Text, "[RASTER") {
		t.Errorf("Arabic printed as raster on a code-page printer:\n%s", printed.Text)
	}
	for _, w := range []string{"فاتورة ضريبية مبسطة", "مؤسسة النور للتجارة"} {
		if !strings.Contains(printed.Text, w) {
			t.Errorf("the receipt lacks %q in CP1256:\n%s", w, printed.Text)
		}
	}
}

// TestTestPage: the technician's test page prints QR codes at the
// profile's limits, and each scans back.
func TestTestPage(t *testing.T) {
	for _, name := range []string{"generic-58mm", "generic-80mm", "raster-58mm"} {
		t.Run(name, func(t *testing.T) {
			prof, _ := escpos.LookupProfile(name)
			layout, err := receipt.NewLayout(prof)
			if err != nil {
				t.Fatal(err)
			}
			job, err := layout.TestPage(receipt.TestInfo{Unit: "U1", Port: "/dev/ttyUSB0", Time: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			wantQRs := 1
			if prof.QRNative {
				wantQRs = 2
				if len(job.QRs[0]) != prof.QRMaxBytes && prof.QRMaxBytes != 0 && prof.QRMaxBytes < 1000 {
					t.Errorf("native test QR is %d bytes, want the profile's limit %d", len(job.QRs[0]), prof.QRMaxBytes)
				}
			}
			if len(job.QRs) != wantQRs {
				t.Fatalf("%d test QR codes, want %d", len(job.QRs), wantQRs)
			}
			printed := printOn(t, prof.WidthDots, job.Bytes)
			got := decodeQR(t, printed)
			if strings.Join(got, "|") != strings.Join(job.QRs, "|") {
				t.Errorf("decoded QR lengths %d, want %v", len(got), len(job.QRs))
			}
			// The largest raster payload is the largest that fits: one more
			// character does not.
			last := job.QRs[len(job.QRs)-1]
			raster := prof
			raster.QRNative = false
			if len(last) < 1000 {
				if plan, err := escpos.PlanQR([]byte(last+"A"), raster); err == nil {
					t.Errorf("a %d-byte raster QR still fits (%+v): the test page is not at the limit", len(last)+1, plan)
				}
			}
		})
	}
}

// TestRenderErrors: a payload no paper can hold is refused with a reason,
// and nothing is half-built.
func TestRenderErrors(t *testing.T) {
	prof, _ := escpos.LookupProfile("generic-58mm")
	layout, _ := receipt.NewLayout(prof)
	_, err := layout.Render(sample(strings.Repeat("a", 3000)))
	if err == nil || !strings.Contains(err.Error(), "3000") {
		t.Errorf("3,000-byte QR on 58 mm: err = %v, want one naming the length", err)
	}
	if _, err := layout.Render(nil); err == nil {
		t.Error("nil receipt accepted")
	}
	bad := prof
	bad.WidthDots = 100
	if _, err := receipt.NewLayout(bad); err == nil || !strings.Contains(err.Error(), "width_dots") {
		t.Errorf("bad profile: err = %v", err)
	}
}

// BenchmarkReceiptWire reports the bytes a typical Phase 2 simplified
// receipt puts on the wire and its wire time at 9600 and 115200 baud
// (8N1: 10 bits a byte), native and raster.
func BenchmarkReceiptWire(b *testing.B) {
	qr := base64Payload(544, 1) // spec/escpos.md §2.2: a Phase 2 TLV is about 544 characters
	for _, name := range []string{"generic-80mm", "generic-58mm", "raster-58mm"} {
		b.Run(name, func(b *testing.B) {
			prof, _ := escpos.LookupProfile(name)
			layout, err := receipt.NewLayout(prof)
			if err != nil {
				b.Fatal(err)
			}
			var job *receipt.Job
			for b.Loop() {
				if job, err = layout.Render(sample(qr)); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(len(job.Bytes))
			b.ReportMetric(n, "wire-bytes")
			b.ReportMetric(n*10/9600, "s@9600")
			b.ReportMetric(n*10/115200, "s@115200")
			if job.QR.Native {
				b.ReportMetric(1, "native")
			} else {
				b.ReportMetric(0, "native")
			}
		})
	}
}

// kazakhReceipt is a Kazakh receipt with headings in Kazakh and Russian, a
// Kazakh item, a Russian detail and a total in tenge.
func kazakhReceipt() *receipt.Receipt {
	return &receipt.Receipt{
		Title: "Fiscal receipt", TitleLocal: "ФИСКАЛДЫҚ ЧЕК / ФИСКАЛЬНЫЙ ЧЕК",
		SellerName: "Ak Bidai LLP", SellerNameLocal: "ЖШС «Ақ Бидай»",
		Address: "Абай даңғылы 10, Алматы", SellerVAT: "180140000021", SellerVATLabel: "БСН/BIN",
		Fields: []receipt.Field{{Label: "Ауысым / Смена", Value: "12"}, {Label: "No", Value: "000045"}},
		Lines: []receipt.Line{
			{Name: "Қымыз 1 л (ҚҚС 16%)", Quantity: "2", UnitPrice: "1 250,00", Amount: "2 500,00",
				Details: []string{"Скидка 10%: −250,00"}},
			{Name: "Хлеб ржаной", Quantity: "1", UnitPrice: "320,00", Amount: "320,00"},
		},
		Totals: []receipt.Field{
			{Label: "ҚҚС 16% / НДС 16%", Value: "310,34 ₸"},
			{Label: "БАРЛЫҒЫ / ИТОГО", Value: "2 570,00 ₸"},
		},
		Payments: []receipt.Field{{Label: "Қолма-қол / Наличные", Value: "3 000,00 ₸"}, {Label: "Қайтарым / Сдача", Value: "430,00 ₸"}},
		Footer:   []string{"ӘҒҚҢӨҰҮҺ әғқңөұүһ"},
	}
}

var receiptPNG = flag.String("png", "", "write the Kazakh receipt as printed to this PNG file, for review")

// TestKazakhRussianReceipt: Kazakh and Russian lines and a total in tenge
// print on a raster-Cyrillic printer as images (no text line holds a
// Cyrillic byte or a replacement), left-to-right lines at the left margin
// and amounts at the right. The job is the golden file
// testdata/kazakh_russian.escpos, reviewed as a PNG (-png).
func TestKazakhRussianReceipt(t *testing.T) {
	prof, _ := escpos.LookupProfile("generic-80mm")
	layout, err := receipt.NewLayout(prof)
	if err != nil {
		t.Fatal(err)
	}
	job, err := layout.Render(kazakhReceipt())
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "kazakh_russian.escpos", job.Bytes)
	printed := printOn(t, prof.WidthDots, job.Bytes)
	if *receiptPNG != "" {
		b, err := printed.PNG()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*receiptPNG, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(printed.Text, "\n")
	rasters := 0
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimPrefix(strings.TrimPrefix(l, "[right] "), "[center] "), "[RASTER ") {
			rasters++
			continue
		}
		if strings.ContainsFunc(l, func(r rune) bool { return r >= 0x80 }) || strings.Contains(l, `\x`) {
			t.Errorf("text line %q holds a byte outside ASCII: Cyrillic must go as an image here", l)
		}
	}
	// Title, seller, address, 2 field labels, 2 item names, detail,
	// 2 total labels and values, 2 payment labels and values, footer.
	if rasters < 17 {
		t.Errorf("%d raster lines, want at least 17:\n%s", rasters, printed.Text)
	}
	for _, want := range []string{"  2 x 1 250,00" + strings.Repeat(" ", 48-14-8) + "2 500,00"} {
		if !strings.Contains(printed.Text, want) {
			t.Errorf("the receipt lacks %q:\n%s", want, printed.Text)
		}
	}
	// The item name is Cyrillic, left to right: it starts at the left margin.
	for i, l := range lines {
		if strings.HasPrefix(l, "  2 x 1 250,00") {
			if prev := lines[i-1]; !strings.HasPrefix(prev, "[RASTER ") {
				t.Errorf("the Kazakh item name before %q is %q, want a raster at the left margin", l, prev)
			}
		}
	}
}

// TestCodePageCyrillic: on a printer with a Russian code page, Russian lines
// go as text in that table, and lines the table cannot hold (Kazakh
// letters, ₸) as images — in both tables.
func TestCodePageCyrillic(t *testing.T) {
	for _, tc := range []struct {
		enc  escpos.TextEncoding
		page byte
	}{{escpos.EncodingCP866, 17}, {escpos.EncodingCP1251, 46}} {
		t.Run(string(tc.enc), func(t *testing.T) {
			prof, _ := escpos.LookupProfile("epson-tm-t20")
			prof.Cyrillic, prof.CyrillicEncoding, prof.CyrillicCodePage = escpos.CyrillicCodePage, tc.enc, tc.page
			layout, err := receipt.NewLayout(prof)
			if err != nil {
				t.Fatal(err)
			}
			job, err := layout.Render(kazakhReceipt())
			if err != nil {
				t.Fatal(err)
			}
			printed := printOn(t, prof.WidthDots, job.Bytes)
			for _, want := range []string{"Хлеб ржаной", "Ауысым / Смена"} {
				if !strings.Contains(printed.Text, want) {
					t.Errorf("the receipt lacks %q in %s:\n%s", want, tc.enc, printed.Text)
				}
			}
			// The detail's minus sign (U+2212) is in neither table.
			for _, notText := range []string{"Қымыз", "₸", "БАРЛЫҒЫ", "Скидка"} {
				if strings.Contains(printed.Text, notText) {
					t.Errorf("%q printed as text, but %s cannot hold it:\n%s", notText, tc.enc, printed.Text)
				}
			}
			if !strings.Contains(printed.Text, "[RASTER") {
				t.Errorf("no line printed as an image:\n%s", printed.Text)
			}
			// Every Cyrillic line leaves the printer in the Latin table again.
			if !bytes.Contains(job.Bytes, []byte{0x1B, 't', tc.page}) || !bytes.Contains(job.Bytes, []byte{0x1B, 't', prof.TextCodePage}) {
				t.Errorf("the job does not switch to ESC t %d and back", tc.page)
			}
		})
	}
}

package receipt

import (
	"fmt"
	"strings"
	"time"

	"github.com/egsd/egsd/device/escpos"
)

// TestInfo is what a test page says about the unit.
type TestInfo struct {
	Unit string
	Port string
	Time time.Time
}

// maxTestRaster caps the raster QR of the test page: larger symbols print,
// but take tens of seconds at 9600 baud.
const maxTestRaster = 1000

// TestPage lays out the technician's test page: the profile, a column
// ruler, text styles, an Arabic line with numbers, and QR codes at the
// profile's limits — the largest native payload the profile allows and the
// largest raster payload that fits the paper — each labelled with its
// length, module size and error correction, so that scanning them proves
// the profile right.
func (l *Layout) TestPage(info TestInfo) (*Job, error) {
	p := l.profile
	w := &writer{l: l, e: escpos.NewEncoder()}
	w.e.Init().CodePage(p.TextCodePage)
	w.align(escpos.AlignCenter)
	w.e.Bold(true).Size(2, 2).Line([]byte("TEST PAGE")).Size(1, 1).Bold(false)
	w.wrapped("egsd receipt printer test", escpos.AlignCenter)
	w.rule()
	for _, f := range []Field{
		{Label: "Unit", Value: info.Unit}, {Label: "Port", Value: info.Port}, {Label: "Time", Value: info.Time.Format(time.DateTime)},
		{Label: "Profile", Value: p.Name}, {Label: "Width", Value: fmt.Sprintf("%d dots, %d dpi", p.WidthDots, p.DPI)},
		{Label: "Columns", Value: fmt.Sprint(p.Columns)}, {Label: "Baud", Value: fmt.Sprint(p.Baud)},
		{Label: "Arabic", Value: p.Arabic}, {Label: "QR", Value: qrMode(p)},
	} {
		w.field(f, false)
	}
	w.rule()
	ruler := strings.Repeat("1234567890", p.Columns/10+1)[:p.Columns]
	w.align(escpos.AlignLeft)
	w.e.Line([]byte(ruler))
	w.e.Bold(true).Line([]byte("Bold text")).Bold(false)
	w.e.Size(2, 1).Line([]byte("Double width")).Size(1, 1)
	w.local("الإجمالي: 1150.00 ر.س", escpos.AlignRight, false)
	w.rule()
	job := &Job{}
	for _, native := range []bool{true, false} {
		if native && !p.QRNative {
			continue
		}
		q := p
		q.QRNative = native
		payload := testPayload(largestQR(q, native))
		plan, err := escpos.PlanQR([]byte(payload), q)
		if err != nil {
			return nil, fmt.Errorf("test page: %w", err)
		}
		kind := "raster"
		if native {
			kind = "native"
		}
		w.wrapped(fmt.Sprintf("QR %s: %d bytes, module %d, ECC %s", kind, len(payload), plan.Module, plan.ECC), escpos.AlignCenter)
		sub := &writer{l: &Layout{profile: q, text: l.text, bold: l.bold}, e: w.e}
		if _, err := sub.qr(payload); err != nil {
			return nil, fmt.Errorf("test page: %w", err)
		}
		w.e.Feed(1)
		job.QRs = append(job.QRs, payload)
	}
	w.align(escpos.AlignLeft)
	w.e.Feed(3).Cut(p.Cut, p.CutFeed)
	if w.err == nil {
		w.err = w.e.Err()
	}
	if w.err != nil {
		return nil, fmt.Errorf("test page: %w", w.err)
	}
	job.Bytes, job.enc = w.e.Bytes(), w.e
	return job, nil
}

func qrMode(p escpos.Profile) string {
	if !p.QRNative {
		return "raster"
	}
	limit := p.QRMaxBytes
	if limit == 0 {
		limit = escpos.QRMaxData
	}
	return fmt.Sprintf("native up to %d bytes", limit)
}

// largestQR is the longest payload that p prints in the given mode: within
// the native limit, and fitting the paper.
func largestQR(p escpos.Profile, native bool) int {
	hi := maxTestRaster
	if native {
		hi = p.QRMaxBytes
		if hi == 0 {
			hi = escpos.QRMaxData
		}
	}
	lo := 1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if plan, err := escpos.PlanQR([]byte(testPayload(mid)), p); err == nil && plan.Native == native {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// testPayload is n characters of base64-like text, as a ZATCA QR is.
func testPayload(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var b strings.Builder
	for i := range n {
		b.WriteByte(alphabet[(i*7+i/64)%len(alphabet)])
	}
	return b.String()
}

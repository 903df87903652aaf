// Package receipt lays out a printed receipt for one printer profile: a
// neutral receipt model (filled by the agent from the stamped document) in,
// an ESC/POS job out. Latin text goes as text in the printer's code page;
// Arabic lines are shaped and printed as raster images, or sent through the
// printer's Arabic code page when the profile says the printer shapes; the
// QR code is native or raster, sized so that the symbol fits the paper.
package receipt

import (
	"errors"
	"fmt"
	"image"
	"strings"

	"github.com/egsd/egsd/device/escpos"
	"github.com/egsd/egsd/device/textraster"
)

// Receipt is what a printed receipt says. Amounts are decimal strings as
// the document writes them.
type Receipt struct {
	// Copy marks a reprint: the receipt says COPY at the top and bottom.
	Copy int
	// Title and TitleLocal head the receipt ("Simplified Tax Invoice",
	// "فاتورة ضريبية مبسطة").
	Title, TitleLocal string
	// SellerName and SellerNameLocal are the seller's names in English and
	// in the country's language; Address is one line.
	SellerName, SellerNameLocal string
	Address                     string
	SellerVAT                   string
	// SellerVATLabel names SellerVAT in the header; empty means "VAT No"
	// (Kenya: "KRA PIN").
	SellerVATLabel string
	// Fields are label/value rows under the header: number, date, buyer,
	// the original document of a note.
	Fields []Field
	Lines  []Line
	// Adjustments are the document's discounts and charges, printed after
	// the lines with their signed amounts.
	Adjustments []Field
	// Totals are the closing rows — the amounts, the VAT breakdown by
	// category and rate — the last of which (the amount due) is printed
	// bold.
	Totals []Field
	// Payments follow the totals: the amount paid per means, the cash
	// tendered and the change.
	Payments []Field
	// QR is the payload of the receipt's QR code ("" for none).
	QR string
	// Footer lines close the receipt.
	Footer []string
}

// Field is one label/value row. LabelLocal, when set, is the label in the
// country's language: it prints on a line of its own above the English
// label and the value, the way the headings print.
type Field struct {
	Label      string
	LabelLocal string
	Value      string
}

// Line is one sold item: its name, then quantity × unit price and the
// line's amount (after its own discounts and charges), then Details.
type Line struct {
	Name      string
	Quantity  string
	UnitPrice string
	Amount    string
	// Details are printed under the line, indented: its price discount,
	// discounts and charges, each with its reason and amount.
	Details []string
}

// Layout turns receipts into ESC/POS jobs for one printer.
type Layout struct {
	profile escpos.Profile
	text    *textraster.Renderer
	bold    *textraster.Renderer
}

// NewLayout prepares a layout for profile p.
func NewLayout(p escpos.Profile) (*Layout, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	text, err := textraster.New(textraster.Options{SizePx: 24})
	if err != nil {
		return nil, err
	}
	bold, err := textraster.New(textraster.Options{SizePx: 28, Bold: true})
	if err != nil {
		return nil, err
	}
	return &Layout{profile: p, text: text, bold: bold}, nil
}

// Profile returns the layout's printer profile.
func (l *Layout) Profile() escpos.Profile { return l.profile }

// Job is a laid-out receipt.
type Job struct {
	// Bytes is the whole ESC/POS stream, ending with the cut (the driver
	// adds its own status commands around it).
	Bytes []byte
	// QR is how the receipt's QR code was printed; zero when there is none.
	QR escpos.QRPlan
	// QRs are the payloads of every QR code in the job, in print order.
	QRs []string

	enc *escpos.Encoder
}

// Chunks splits the job at command boundaries into pieces of at most max
// bytes, for writing with status checks in between.
func (j *Job) Chunks(max int) [][]byte { return j.enc.Chunks(max) }

// Render lays out r for the layout's printer.
func (l *Layout) Render(r *Receipt) (*Job, error) {
	if r == nil {
		return nil, errors.New("receipt: nothing to print")
	}
	p := l.profile
	w := &writer{l: l, e: escpos.NewEncoder()}
	w.e.Init().CodePage(p.TextCodePage)

	if r.Copy > 0 {
		w.copyMark(r.Copy)
	}
	w.heading(r.TitleLocal, r.Title)
	w.heading(r.SellerNameLocal, r.SellerName)
	w.wrapped(r.Address, escpos.AlignCenter)
	if r.SellerVAT != "" {
		label := r.SellerVATLabel
		if label == "" {
			label = "VAT No"
		}
		w.text(label + " " + r.SellerVAT)
	}
	w.rule()
	for _, f := range r.Fields {
		w.field(f, false)
	}
	w.rule()
	for _, ln := range r.Lines {
		w.wrapped(ln.Name, escpos.AlignLeft)
		w.field(Field{Label: "  " + ln.Quantity + " x " + ln.UnitPrice, Value: ln.Amount}, false)
		for _, d := range ln.Details {
			w.indented(d, detailIndent)
		}
	}
	for _, f := range r.Adjustments {
		w.field(f, false)
	}
	w.rule()
	for i, f := range r.Totals {
		w.field(f, i == len(r.Totals)-1)
	}
	if len(r.Payments) > 0 {
		w.rule()
		for _, f := range r.Payments {
			w.field(f, false)
		}
	}
	var plan escpos.QRPlan
	if r.QR != "" {
		w.align(escpos.AlignCenter)
		w.e.Feed(1)
		var err error
		if plan, err = w.qr(r.QR); err != nil {
			return nil, err
		}
	}
	for _, f := range r.Footer {
		w.wrapped(f, escpos.AlignCenter)
	}
	if r.Copy > 0 {
		w.copyMark(r.Copy)
	}
	w.align(escpos.AlignLeft)
	w.e.Feed(3).Cut(p.Cut, p.CutFeed)
	if w.err == nil {
		w.err = w.e.Err()
	}
	if w.err != nil {
		return nil, fmt.Errorf("receipt: %w", w.err)
	}
	job := &Job{Bytes: w.e.Bytes(), QR: plan, enc: w.e}
	if r.QR != "" {
		job.QRs = []string{r.QR}
	}
	return job, nil
}

// writer appends one receipt's lines; the first error sticks.
type writer struct {
	l   *Layout
	e   *escpos.Encoder
	err error
}

// align makes the next lines print with a. The printer keeps an alignment
// until told otherwise, so every line states its own, or it inherits the
// one before it (a right-aligned Arabic line would push the Latin lines
// after it to the right); ESC a goes out only when the stream has not
// selected a already.
func (w *writer) align(a escpos.Alignment) {
	if cur, ok := w.e.Alignment(); !ok || cur != a {
		w.e.Align(a)
	}
}

// text prints one centred line of Latin text, or rasterises it when the
// printer's code page cannot hold it.
func (w *writer) text(s string) {
	if w.err != nil || s == "" {
		return
	}
	if b, err := escpos.EncodeText(s, w.l.profile.TextEncoding); err == nil && !textraster.NeedsRaster(s) {
		w.align(escpos.AlignCenter)
		w.e.Line(b)
		return
	}
	w.wrapped(s, escpos.AlignCenter)
}

// heading prints a title pair: the local-language line, then the English
// one in bold.
func (w *writer) heading(local, english string) {
	if local != "" {
		// Regular weight: bold costs half as many bytes again on the wire.
		w.local(local, escpos.AlignCenter, false)
	}
	if english != "" {
		w.e.Bold(true)
		w.wrapped(english, escpos.AlignCenter)
		w.e.Bold(false)
	}
}

// wrapped prints s over as many lines as it needs.
func (w *writer) wrapped(s string, align escpos.Alignment) {
	if w.err != nil || s == "" {
		return
	}
	if textraster.NeedsRaster(s) {
		w.local(s, align, false)
		return
	}
	b, err := escpos.EncodeText(s, w.l.profile.TextEncoding)
	if err != nil {
		w.local(s, align, false)
		return
	}
	w.align(align)
	for _, line := range wrapText(string(b), w.l.profile.Columns) {
		w.e.Line([]byte(line))
	}
}

// detailIndent is how far a line's details are indented: under its
// quantity, which is indented by two.
const detailIndent = 4

// indented prints s indented by n columns, wrapped lines too. Text printed
// as an image starts at the right margin (Arabic), indented from it.
func (w *writer) indented(s string, n int) {
	if w.err != nil || s == "" {
		return
	}
	b, err := escpos.EncodeText(s, w.l.profile.TextEncoding)
	if err != nil || textraster.NeedsRaster(s) {
		w.localIndented(s, escpos.AlignLeft, false, n)
		return
	}
	pad := strings.Repeat(" ", n)
	w.align(escpos.AlignLeft)
	for _, line := range wrapText(string(b), w.l.profile.Columns-n) {
		w.e.Line([]byte(pad + line))
	}
}

// local prints text in the country's script: through the printer's code
// page when it shapes, else as shaped raster lines.
func (w *writer) local(s string, align escpos.Alignment, bold bool) {
	w.localIndented(s, align, bold, 0)
}

// localIndented is local with raster lines that start at the right margin
// indented by indent columns, as a detail under an item is indented from
// the left in a left-to-right script.
func (w *writer) localIndented(s string, align escpos.Alignment, bold bool, indent int) {
	if w.err != nil {
		return
	}
	p := w.l.profile
	if p.Arabic == escpos.ArabicCodePage && w.codePageText(s, align, p.ArabicEncoding, p.ArabicCodePage) {
		return
	}
	if p.Cyrillic == escpos.CyrillicCodePage && w.codePageText(s, align, p.CyrillicEncoding, p.CyrillicCodePage) {
		return
	}
	r := w.l.text
	if bold {
		r = w.l.bold
	}
	indentDots := indent * p.WidthDots / p.Columns
	width := p.WidthDots - indentDots
	// One line when it fits; else wrapped lines. Either way only the ink
	// is sent (a full-width blank margin costs as much as ink), and the
	// printer aligns it.
	var lines []*image.Gray
	if img, err := r.Render(s, width); err == nil {
		lines = []*image.Gray{img}
	} else if _, tooWide := errors.AsType[*textraster.TooWideError](err); tooWide {
		ta := textraster.AlignStart
		if align == escpos.AlignCenter {
			ta = textraster.AlignCenter
		}
		if lines, err = r.Wrap(s, width, ta); err != nil {
			w.err = err
			return
		}
	} else {
		w.err = err
		return
	}
	rightToLeft := textraster.RightToLeft(s)
	if align == escpos.AlignLeft && rightToLeft {
		// Text in a right-to-left script starts at the right margin.
		align = escpos.AlignRight
	}
	for _, img := range lines {
		ink := inkBounds(img)
		if ink.Empty() {
			continue
		}
		// A few blank rows keep stacked lines apart.
		ink.Min.Y, ink.Max.Y = max(ink.Min.Y-linePad, img.Rect.Min.Y), min(ink.Max.Y+linePad, img.Rect.Max.Y)
		line := img.SubImage(ink).(*image.Gray)
		opt := escpos.RasterOptions{BandRows: p.RasterBandRows}
		if p.RasterScale2x {
			// Half the columns, doubled by the printer: half the bytes,
			// and strokes of at least two dots, which thermal heads print
			// more evenly than single-dot lines.
			line, opt.DoubleWidth = halfWidth(line), true
		}
		if align == escpos.AlignLeft && indentDots > 0 {
			margin := indentDots
			if opt.DoubleWidth {
				margin /= 2
			}
			line = padLeft(line, margin)
		}
		if align == escpos.AlignRight {
			margin, paper := indentDots, p.WidthDots
			if opt.DoubleWidth {
				margin, paper = margin/2, paper/2
			}
			line = padRight(line, margin, paper)
		}
		w.align(align)
		w.e.Raster(line, opt)
	}
}

// codePageText prints s through the printer's code page enc, selected by
// ESC t page, and reports false, printing nothing, when enc cannot hold
// every character of s.
func (w *writer) codePageText(s string, align escpos.Alignment, enc escpos.TextEncoding, page byte) bool {
	b, err := escpos.EncodeText(s, enc)
	if err != nil {
		return false
	}
	p := w.l.profile
	w.align(align)
	w.e.CodePage(page)
	for _, line := range wrapText(string(b), p.Columns) {
		w.e.Line([]byte(line))
	}
	w.e.CodePage(p.TextCodePage)
	return true
}

// padLeft widens img with margin white columns at the left.
func padLeft(img *image.Gray, margin int) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, margin+b.Dx(), b.Dy()))
	for i := range out.Pix {
		out.Pix[i] = 0xFF
	}
	for y := range b.Dy() {
		at := out.PixOffset(margin, y)
		copy(out.Pix[at:at+b.Dx()], img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):])
	}
	return out
}

// halfWidth merges each pair of columns into one that is dark where either
// is, for printing at double width.
func halfWidth(img *image.Gray) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, (b.Dx()+1)/2, b.Dy()))
	for y := range b.Dy() {
		src := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):]
		dst := out.Pix[out.PixOffset(0, y):]
		for x := range out.Rect.Dx() {
			v := src[2*x]
			if 2*x+1 < b.Dx() {
				v = min(v, src[2*x+1])
			}
			dst[x] = v
		}
	}
	return out
}

// padRight widens img with white for printing right-aligned on paper
// dots: margin columns at the right, and at the left as many as make whole
// bytes a row. GS v 0 sends rows in whole bytes, so the encoder would pad
// them with white at the right, and the line would end short of the right
// margin, out of line with the amounts above and below it. What would not
// fit the paper is left off.
func padRight(img *image.Gray, margin, paper int) *image.Gray {
	b := img.Bounds()
	margin = max(0, min(margin, paper-b.Dx()))
	left := (8 - (b.Dx()+margin)%8) % 8
	if b.Dx()+margin+left > paper {
		left = 0
	}
	if left == 0 && margin == 0 {
		return img
	}
	out := image.NewGray(image.Rect(0, 0, left+b.Dx()+margin, b.Dy()))
	for i := range out.Pix {
		out.Pix[i] = 0xFF
	}
	for y := range b.Dy() {
		at := out.PixOffset(left, y)
		copy(out.Pix[at:at+b.Dx()], img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):])
	}
	return out
}

// linePad is the blank rows kept above and below a raster line's ink.
const linePad = 3

// inkBounds is the smallest rectangle holding every dark pixel of img.
func inkBounds(img *image.Gray) image.Rectangle {
	b := img.Bounds()
	ink := image.Rectangle{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[(y-b.Min.Y)*img.Stride:]
		for x := b.Min.X; x < b.Max.X; x++ {
			if row[x-b.Min.X] < 128 {
				ink = ink.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return ink
}

// field prints a label on the left and a value on the right of one line, or
// the value on a line of its own when both do not fit.
func (w *writer) field(f Field, bold bool) {
	if w.err != nil {
		return
	}
	if f.LabelLocal != "" {
		// At the reading start of its script: right for Arabic.
		at := escpos.AlignLeft
		if textraster.RightToLeft(f.LabelLocal) {
			at = escpos.AlignRight
		}
		w.local(f.LabelLocal, at, false)
	}
	if bold {
		w.e.Bold(true)
		defer w.e.Bold(false)
	}
	cols := w.l.profile.Columns
	label, value := []rune(f.Label), []rune(f.Value)
	if textraster.NeedsRaster(f.Value) {
		// The label on its own lines, the value under it at the right,
		// where amounts stand ("1 150,00 ₸").
		w.wrapped(f.Label, escpos.AlignLeft)
		w.local(f.Value, escpos.AlignRight, bold)
		return
	}
	if textraster.NeedsRaster(f.Label) || len(label)+1+len(value) > cols {
		// The label on its own lines, the amount under it at the right.
		w.wrapped(f.Label, escpos.AlignLeft)
		w.wrapped(strings.Repeat(" ", max(0, cols-len(value)))+f.Value, escpos.AlignLeft)
		return
	}
	lb, lerr := escpos.EncodeText(f.Label, w.l.profile.TextEncoding)
	vb, verr := escpos.EncodeText(f.Value, w.l.profile.TextEncoding)
	if lerr != nil || verr != nil {
		w.wrapped(f.Label, escpos.AlignLeft)
		w.wrapped(f.Value, escpos.AlignLeft)
		return
	}
	// The value is right-aligned by moving the print position, which is
	// four bytes instead of a run of spaces.
	charDots := w.l.profile.WidthDots / cols
	w.align(escpos.AlignLeft)
	w.e.Text(lb).Position((cols - len(value)) * charDots).Line(vb)
}

// rule separates the receipt's sections: a centred rule of half the
// paper's width, which reads as well as a full one for half the bytes.
func (w *writer) rule() {
	w.align(escpos.AlignCenter)
	w.e.Line([]byte(strings.Repeat("-", w.l.profile.Columns/2)))
}

func (w *writer) copyMark(n int) {
	w.align(escpos.AlignCenter)
	w.e.Bold(true).Size(2, 2)
	label := "COPY"
	if n > 1 {
		label = fmt.Sprintf("COPY %d", n)
	}
	w.e.Line([]byte(label))
	w.e.Size(1, 1).Bold(false)
}

// qr prints the payload natively when the printer can, else as a raster,
// with the module size and error correction PlanQR chose to fit the paper.
func (w *writer) qr(payload string) (escpos.QRPlan, error) {
	p := w.l.profile
	plan, err := escpos.PlanQR([]byte(payload), p)
	if err != nil {
		return plan, err
	}
	w.align(escpos.AlignCenter)
	if plan.Native {
		w.e.QR([]byte(payload), escpos.QROptions{Module: plan.Module, ECC: plan.ECC})
		return plan, nil
	}
	img, err := escpos.RasterQR([]byte(payload), plan, plan.Scale2x)
	if err != nil {
		return plan, err
	}
	w.e.Raster(img, escpos.RasterOptions{BandRows: p.RasterBandRows, Scale2x: plan.Scale2x})
	return plan, nil
}

// wrapText breaks s into lines of at most cols characters, at spaces where
// it can.
func wrapText(s string, cols int) []string {
	var lines []string
	for len(s) > cols {
		cut := strings.LastIndexByte(s[:cols+1], ' ')
		if cut <= 0 {
			cut = cols
		}
		lines = append(lines, strings.TrimRight(s[:cut], " "))
		s = strings.TrimLeft(s[cut:], " ")
	}
	return append(lines, s)
}

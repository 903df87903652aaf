package fakeprinter

import (
	"fmt"
	"strings"

	"github.com/skip2/go-qrcode"
	"golang.org/x/text/encoding/charmap"
)

// Print geometry. The line spacing and font cells are those of an Epson
// TM-class printer: they decide how much paper a text line takes and when a
// long line wraps.
const (
	defaultWidthDots   = 576
	defaultLineSpacing = 30 // dots; ESC 2, 1/6 inch at 180 dpi
	fontAWidth         = 12
	fontAHeight        = 24
	fontBWidth         = 9
	fontBHeight        = 17
	// defaultMaxRows bounds one receipt's paper at the length of a roll
	// (80 m at 8 dots a mm): no receipt is longer than the paper it is
	// printed on, and a host that never cuts cannot exhaust memory. The
	// paper is allocated as it is printed.
	defaultMaxRows = 80_000 * 8
	// maxQRData is the largest GS ( k fn 80 store: pL+pH·256 ≤ 7092, less cn, fn and m.
	maxQRData = 7089
)

type alignment int

const (
	alignLeft alignment = iota
	alignCenter
	alignRight
)

// style is the character print mode: ESC !, ESC E, ESC -, ESC M and GS !.
type style struct {
	fontB     bool
	bold      bool
	underline int // 0 off, 1 or 2 dots thick
	width     int // 1-8
	height    int // 1-8
}

var normalStyle = style{width: 1, height: 1}

// String names the non-default attributes, in the transcript's {…} marks.
func (s style) String() string {
	var parts []string
	if s.fontB {
		parts = append(parts, "fontB")
	}
	if s.bold {
		parts = append(parts, "bold")
	}
	switch s.underline {
	case 1:
		parts = append(parts, "underline")
	case 2:
		parts = append(parts, "underline2")
	}
	if s.width != 1 || s.height != 1 {
		parts = append(parts, fmt.Sprintf("%dx%d", s.width, s.height))
	}
	if len(parts) == 0 {
		return "normal"
	}
	return strings.Join(parts, " ")
}

func (s style) cell() (width, height int) {
	if s.fontB {
		return fontBWidth * s.width, fontBHeight * s.height
	}
	return fontAWidth * s.width, fontAHeight * s.height
}

// qrSettings is what GS ( k fn 65/67/69/80 have set; ESC @ restores the defaults.
type qrSettings struct {
	model  byte // 49 model 1, 50 model 2, 51 micro
	module int  // dots per module
	ecc    byte // 48 L, 49 M, 50 Q, 51 H
	data   []byte
	stored bool
}

var defaultQR = qrSettings{model: 50, module: 3, ecc: 48}

// printBuffer is the text of the line being received, not yet printed.
type printBuffer struct {
	text      strings.Builder
	chars     int // printable characters; 0 means the printer is at the start of a line
	dots      int
	align     alignment
	lastStyle style
	maxHeight int // tallest character cell on the line, in dots
	glyphs    []glyph
}

func (b *printBuffer) empty() bool { return b.chars == 0 && b.text.Len() == 0 }

func (b *printBuffer) reset() {
	b.text.Reset()
	b.chars, b.dots, b.maxHeight = 0, 0, 0
	b.lastStyle = normalStyle
	b.glyphs = b.glyphs[:0]
}

// counters are the interpreter's share of Stats.
type counters struct {
	commands       map[string]int
	textBytes      int64
	unknown        int
	invalid        int
	wraps          int
	notPrinted     int
	transmitStatus int
}

// interpreter turns an ESC/POS byte stream into receipts. It is not safe for
// concurrent use; the Printer serialises access.
type interpreter struct {
	widthDots int
	maxRows   int
	// reply sends bytes back to the host.
	reply func([]byte)
	// sendASB sends the current automatic status back message.
	sendASB func()
	nearEnd bool

	pending []byte // received bytes not yet forming a whole command

	align       alignment
	style       style
	lineSpacing int
	codePage    byte
	qr          qrSettings
	asb         byte

	line  printBuffer
	sheet *sheet
	done  []Receipt // completed receipts not yet collected by the Printer
	count counters
	// onCommand, when set, sees each command's name before it runs: tests
	// make the interpreter fail with it.
	onCommand func(name string)
}

func newInterpreter(widthDots, maxRows int) *interpreter {
	in := &interpreter{
		widthDots: widthDots,
		maxRows:   maxRows,
		reply:     func([]byte) {},
		sendASB:   func() {},
		count:     counters{commands: map[string]int{}},
	}
	in.initialize()
	in.line.reset()
	in.sheet = newSheet(widthDots, maxRows)
	return in
}

// initialize is ESC @: print modes, alignment, code page and QR settings
// return to their power-on values. Automatic status back is kept.
func (in *interpreter) initialize() {
	in.align = alignLeft
	in.style = normalStyle
	in.lineSpacing = defaultLineSpacing
	in.codePage = 0
	in.qr = defaultQR
}

// feed interprets data, keeping an incomplete trailing command for the next call.
func (in *interpreter) feed(data []byte) {
	in.pending = append(in.pending, data...)
	for len(in.pending) > 0 {
		n := in.step(in.pending)
		if n == 0 {
			break
		}
		in.pending = in.pending[n:]
	}
	switch {
	case len(in.pending) == 0:
		in.pending = nil
	case cap(in.pending) > 4*len(in.pending)+4096:
		in.pending = append([]byte(nil), in.pending...)
	}
}

// step interprets the command at the start of b and returns how many bytes
// it took, or 0 when b does not yet hold the whole command.
func (in *interpreter) step(b []byte) int {
	switch c := b[0]; {
	case c == 0x0A:
		in.counted("LF")
		in.lineFeed()
		return 1
	case c == 0x0D:
		in.counted("CR") // the printer's LF already returns the carriage
		return 1
	case c == 0x00:
		in.counted("NUL") // receiptio's 8 KB NUL flush
		return 1
	case c == 0x1B:
		return in.esc(b)
	case c == 0x1D:
		return in.gs(b)
	case c == 0x10:
		return in.dle(b)
	case c < 0x20:
		in.unknown(b[:1])
		return 1
	default:
		n := 0
		for n < len(b) && b[n] >= 0x20 {
			in.printChar(b[n])
			n++
		}
		return n
	}
}

func (in *interpreter) counted(name string) {
	if in.onCommand != nil {
		in.onCommand(name)
	}
	in.count.commands[name]++
}

func (in *interpreter) esc(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '@':
		in.counted("ESC @")
		if in.line.chars > 0 {
			lost := in.line.text.String()
			in.line.reset()
			in.invalid(fmt.Sprintf("ESC @ discarded unprinted text %q", lost))
		}
		in.initialize()
		return 2
	case '2':
		in.counted("ESC 2")
		in.lineSpacing = defaultLineSpacing
		return 2
	case '$':
		if len(b) < 4 {
			return 0
		}
		in.counted("ESC $")
		in.position(int(b[2]) + int(b[3])*256)
		return 4
	case 'a', 'E', '!', '-', 'M', '3', 'd', 't':
	default:
		in.unknown(b[:2])
		return 2
	}
	if len(b) < 3 {
		return 0
	}
	n := b[2]
	switch b[1] {
	case 'a':
		in.counted("ESC a")
		switch {
		case n > 2 && (n < 48 || n > 50):
			in.invalid(fmt.Sprintf("ESC a %d: n must be 0-2 or 48-50", n))
		case in.line.chars > 0:
			in.invalid("ESC a: not at the start of a line")
		default:
			in.align = alignment(n % 48)
		}
	case 'E':
		in.counted("ESC E")
		in.style.bold = n&1 == 1
	case '!':
		in.counted("ESC !")
		in.style.fontB = n&0x01 != 0
		in.style.bold = n&0x08 != 0
		in.style.height = 1 + int(n>>4&1)
		in.style.width = 1 + int(n>>5&1)
		in.style.underline = int(n >> 7)
	case '-':
		in.counted("ESC -")
		if n > 2 && (n < 48 || n > 50) {
			in.invalid(fmt.Sprintf("ESC - %d: n must be 0-2 or 48-50", n))
		} else {
			in.style.underline = int(n % 48)
		}
	case 'M':
		in.counted("ESC M")
		if n > 1 && n != 48 && n != 49 {
			in.invalid(fmt.Sprintf("ESC M %d: n must be 0, 1, 48 or 49", n))
		} else {
			in.style.fontB = n%48 == 1
		}
	case '3':
		in.counted("ESC 3")
		in.lineSpacing = int(n)
	case 'd':
		in.counted("ESC d")
		in.feedLines(int(n))
	case 't':
		in.counted("ESC t")
		in.codePage = n
	}
	return 3
}

func (in *interpreter) gs(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '(':
		return in.gsParen(b)
	case 'v':
		return in.raster(b)
	case '!', 'V', 'r', 'a':
	default:
		in.unknown(b[:2])
		return 2
	}
	if len(b) < 3 {
		return 0
	}
	n := b[2]
	switch b[1] {
	case '!':
		in.counted("GS !")
		w, h := int(n>>4)+1, int(n&0x0F)+1
		if w > 8 || h > 8 {
			in.invalid(fmt.Sprintf("GS ! 0x%02X: width and height nibbles must be 0-7", n))
		} else {
			in.style.width, in.style.height = w, h
		}
	case 'V':
		return in.cut(b)
	case 'r':
		in.counted("GS r")
		switch n {
		case 1, 49: // paper sensor: bits 0-1 near end; bits 2-3 paper end never show, an offline printer does not answer
			status := byte(0)
			if in.nearEnd {
				status |= 0x03
			}
			in.count.transmitStatus++
			in.reply([]byte{status})
		case 2, 50: // drawer kick-out connector: no drawer
			in.count.transmitStatus++
			in.reply([]byte{0})
		default:
			in.invalid(fmt.Sprintf("GS r %d: n must be 1, 2, 49 or 50", n))
		}
	case 'a':
		in.counted("GS a")
		in.asb = n
		if n != 0 {
			in.sendASB() // enabling ASB sends the current status once
		}
	}
	return 3
}

func (in *interpreter) dle(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	if b[1] != 0x04 && b[1] != 0x05 {
		in.unknown(b[:1])
		return 1
	}
	if len(b) < 3 {
		return 0
	}
	n := b[2]
	switch {
	case b[1] == 0x04 && n >= 1 && n <= 4:
		// Answered by the Printer when the bytes arrived, wherever they were.
		in.counted("DLE EOT")
	case b[1] == 0x05 && (n == 1 || n == 2):
		in.counted("DLE ENQ") // nothing to recover from: the fake has no error state
	default:
		in.unknown(b[:3])
	}
	return 3
}

// cut is GS V m [n]. b holds at least 3 bytes.
func (in *interpreter) cut(b []byte) int {
	m := b[2]
	size := 3
	feed := -1
	switch m {
	case 0, 1, 48, 49:
	case 65, 66:
		if len(b) < 4 {
			return 0
		}
		size, feed = 4, int(b[3])
	default:
		in.counted("GS V")
		in.invalid(fmt.Sprintf("GS V %d: m must be 0, 1, 48, 49, 65 or 66", m))
		return 3
	}
	in.counted("GS V")
	if in.line.chars > 0 {
		in.invalid("GS V: not at the start of a line")
		return size
	}
	kind := "full"
	if m == 1 || m == 49 || m == 66 {
		kind = "partial"
	}
	marker := "[CUT " + kind + "]"
	if feed >= 0 {
		marker = fmt.Sprintf("[CUT %s feed=%d]", kind, feed)
		in.sheet.feed(feed) // one motion unit taken as one dot
	}
	in.blockMarker(marker)
	in.finishReceipt(true)
	return size
}

// gsParen handles the GS ( family: GS ( fn pL pH, then pL+pH·256 bytes.
func (in *interpreter) gsParen(b []byte) int {
	if len(b) < 5 {
		return 0
	}
	size := int(b[3]) + int(b[4])<<8
	if len(b) < 5+size {
		return 0
	}
	p := b[5 : 5+size]
	if b[2] != 'k' || size < 2 || p[0] != 49 {
		in.unknown(b[:min(5+size, 7)])
		return 5 + size
	}
	fn, args := p[1], p[2:]
	switch fn {
	case 65:
		in.counted("GS ( k QR model")
		if len(args) != 2 || args[0] < 49 || args[0] > 51 || args[1] != 0 {
			in.invalid("GS ( k fn 65 (QR model): n1 must be 49, 50 or 51 and n2 0, pL+pH·256 = 4")
			break
		}
		in.qr.model = args[0]
	case 67:
		in.counted("GS ( k QR module")
		if len(args) != 1 || args[0] < 1 || args[0] > 16 {
			in.invalid("GS ( k fn 67 (QR module size): n must be 1-16, pL+pH·256 = 3")
			break
		}
		in.qr.module = int(args[0])
	case 69:
		in.counted("GS ( k QR ecc")
		if len(args) != 1 || args[0] < 48 || args[0] > 51 {
			in.invalid("GS ( k fn 69 (QR error correction): n must be 48-51, pL+pH·256 = 3")
			break
		}
		in.qr.ecc = args[0]
	case 80:
		in.counted("GS ( k QR store")
		if len(args) < 2 || args[0] != 48 || len(args)-1 > maxQRData {
			in.invalid(fmt.Sprintf("GS ( k fn 80 (QR store): m must be 48 and k = pL+pH·256-3 must be 1-%d", maxQRData))
			break
		}
		in.qr.data = append(in.qr.data[:0], args[1:]...)
		in.qr.stored = true
	case 81:
		in.counted("GS ( k QR print")
		if len(args) != 1 || args[0] != 48 {
			in.invalid("GS ( k fn 81 (QR print): m must be 48, pL+pH·256 = 3")
			break
		}
		in.printQR()
	case 82:
		// Size report: not answered, as on printers that do not support it.
		in.counted("GS ( k QR size")
	default:
		in.unknown(b[:7])
	}
	return 5 + size
}

var eccNames = map[byte]string{48: "L", 49: "M", 50: "Q", 51: "H"}
var eccLevels = map[byte]qrcode.RecoveryLevel{48: qrcode.Low, 49: qrcode.Medium, 50: qrcode.High, 51: qrcode.Highest}
var modelNames = map[byte]string{49: "1", 50: "2", 51: "micro"}

// printQR renders the stored data with the stored settings. Every model is
// drawn as a model 2 symbol; the transcript names the model selected.
func (in *interpreter) printQR() {
	q := in.qr
	marker := fmt.Sprintf("[QR native model=%s module=%d ecc=%s bytes=%d", modelNames[q.model], q.module, eccNames[q.ecc], len(q.data))
	if in.line.chars > 0 {
		in.invalid("GS ( k fn 81 (QR print): not at the start of a line")
		return
	}
	var bitmap [][]bool
	reason := ""
	if !q.stored {
		reason = "no data stored"
	} else if code, err := qrcode.New(string(q.data), eccLevels[q.ecc]); err != nil {
		reason = "data exceeds the symbol's capacity"
	} else {
		code.DisableBorder = true
		bitmap = code.Bitmap()
		if w := len(bitmap) * q.module; w > in.widthDots {
			reason = fmt.Sprintf("%d dots wider than the paper's %d", w, in.widthDots)
		}
	}
	if reason != "" {
		in.count.notPrinted++
		in.blockMarker(marker + " NOT PRINTED: " + reason + "]")
		return
	}
	in.blockMarker(marker + "]")
	side := len(bitmap) * q.module
	x0 := in.alignedX(side)
	y0 := in.sheet.draw(x0, side, side, func(x, y int) bool { return bitmap[y/q.module][x/q.module] })
	in.sheet.qr = append(in.sheet.qr, string(q.data))
	in.sheet.addSymbol(x0, y0, side, side, 4*q.module)
}

// raster is GS v 0 m xL xH yL yH d1…dk, k = x·y, x in bytes, y in dots.
func (in *interpreter) raster(b []byte) int {
	if len(b) < 3 {
		return 0
	}
	if b[2] != '0' {
		in.unknown(b[:2])
		return 2
	}
	if len(b) < 8 {
		return 0
	}
	m := b[3]
	xBytes := int(b[4]) + int(b[5])<<8
	rows := int(b[6]) + int(b[7])<<8
	need := 8 + int64(xBytes)*int64(rows) // up to 4 GiB: int64 on every platform
	if int64(len(b)) < need {
		return 0
	}
	size := int(need)
	in.counted("GS v 0")
	data := b[8:size]
	if m > 3 && (m < 48 || m > 51) {
		in.invalid(fmt.Sprintf("GS v 0 m=%d: m must be 0-3 or 48-51", m))
		return size
	}
	if in.line.chars > 0 {
		in.invalid("GS v 0: not at the start of a line")
		return size
	}
	m %= 48
	sx, sy := 1+int(m&1), 1+int(m>>1&1)
	marker := fmt.Sprintf("[RASTER %dx%d m=%d", xBytes*8, rows, m)
	w, h := xBytes*8*sx, rows*sy
	switch {
	case xBytes == 0 || rows == 0:
		in.count.notPrinted++
		in.blockMarker(marker + " NOT PRINTED: empty image]")
		return size
	case w > in.widthDots:
		in.count.notPrinted++
		in.blockMarker(fmt.Sprintf("%s NOT PRINTED: %d dots wider than the paper's %d]", marker, w, in.widthDots))
		return size
	}
	in.blockMarker(marker + "]")
	x0 := in.alignedX(w)
	y0 := in.sheet.draw(x0, w, h, func(x, y int) bool {
		x, y = x/sx, y/sy
		return data[y*xBytes+x/8]&(0x80>>(x%8)) != 0
	})
	if quiet, ok := in.sheet.looksLikeQR(x0, y0, w, h); ok {
		in.sheet.addSymbol(x0, y0, w, h, quiet)
	} else {
		// A tall image comes in bands: a band right under a symbol's
		// region, as wide and at the same place, continues the symbol.
		in.sheet.extendSymbol(x0, y0, w, h)
	}
	return size
}

func (in *interpreter) alignedX(width int) int {
	switch in.align {
	case alignCenter:
		return (in.widthDots - width) / 2
	case alignRight:
		return in.widthDots - width
	}
	return 0
}

// position is ESC $ nL nH: the next character prints at dots from the start
// of the line (one motion unit is one dot here). A position past the paper
// is ignored, as printers do. The transcript shows the gap as spaces of the
// current character width, so a right-aligned column reads as it prints.
func (in *interpreter) position(dots int) {
	if dots > in.widthDots {
		in.invalid(fmt.Sprintf("ESC $ %d: past the paper's %d dots", dots, in.widthDots))
		return
	}
	if in.line.chars == 0 {
		in.line.align = in.align
	}
	w, _ := in.style.cell()
	if gap := dots - in.line.dots; gap > 0 {
		in.line.text.WriteString(strings.Repeat(" ", max(1, gap/w)))
	} else if gap < 0 {
		in.line.text.WriteString(fmt.Sprintf("[<-%d]", -gap))
	}
	in.line.dots = dots
}

// printChar adds one text byte to the print buffer, wrapping the line when
// it would run past the paper as a printer does.
func (in *interpreter) printChar(c byte) {
	in.count.textBytes++
	w, h := in.style.cell()
	if in.line.chars > 0 && in.line.dots+w > in.widthDots {
		in.count.wraps++
		in.lineFeed()
	}
	if in.line.chars == 0 {
		in.line.align = in.align
	}
	if in.style != in.line.lastStyle {
		in.line.text.WriteString("{" + in.style.String() + "}")
		in.line.lastStyle = in.style
	}
	shown := in.decode(c)
	in.line.text.WriteString(shown)
	if r := []rune(shown); len(r) == 1 {
		in.line.glyphs = append(in.line.glyphs, glyph{x: in.line.dots, r: r[0], st: in.style})
	}
	in.line.chars++
	in.line.dots += w
	in.line.maxHeight = max(in.line.maxHeight, h)
}

// decode shows a text byte as the code page selected by ESC t maps it:
// CP437 for page 0, Windows-1256 for 50 (Epson) and 92 (POS-5890),
// CP866 for 17 and Windows-1251 for 46 (Epson's PC866 and WPC1251),
// hex escapes for the rest of an unknown page.
func (in *interpreter) decode(c byte) string {
	switch {
	case c < 0x80:
		return string(rune(c))
	case in.codePage == 0:
		return string(charmap.CodePage437.DecodeByte(c))
	case in.codePage == 50 || in.codePage == 92:
		return string(charmap.Windows1256.DecodeByte(c))
	case in.codePage == 17:
		return string(charmap.CodePage866.DecodeByte(c))
	case in.codePage == 46:
		return string(charmap.Windows1251.DecodeByte(c))
	}
	return fmt.Sprintf(`\x%02X`, c)
}

// lineFeed is LF: print the buffer and feed one line.
func (in *interpreter) lineFeed() { in.printBuffered(1) }

// feedLines is ESC d n: print the buffer and feed n lines.
func (in *interpreter) feedLines(n int) {
	if !in.line.empty() {
		in.sheet.lines = append(in.sheet.lines, in.lineText())
	}
	in.sheet.lines = append(in.sheet.lines, fmt.Sprintf("[FEED %d]", n))
	in.advance(n)
}

func (in *interpreter) printBuffered(n int) {
	in.sheet.lines = append(in.sheet.lines, in.lineText())
	in.advance(n)
}

// advance feeds n lines; the first is as tall as the tallest character on it.
func (in *interpreter) advance(n int) {
	if n > 0 {
		top, height := in.sheet.rows, max(in.lineSpacing, in.line.maxHeight)
		in.sheet.feed(height + (n-1)*in.lineSpacing)
		offset := 0
		switch in.line.align {
		case alignCenter:
			offset = (in.widthDots - in.line.dots) / 2
		case alignRight:
			offset = in.widthDots - in.line.dots
		}
		in.sheet.drawText(in.line.glyphs, offset, top, height)
	}
	in.line.reset()
}

func (in *interpreter) lineText() string {
	if in.line.chars == 0 {
		return in.line.text.String()
	}
	switch in.line.align {
	case alignCenter:
		return "[center] " + in.line.text.String()
	case alignRight:
		return "[right] " + in.line.text.String()
	}
	return in.line.text.String()
}

// blockMarker records a printed object (QR, raster, cut) on its own line,
// after any marks waiting in the (textless) print buffer.
func (in *interpreter) blockMarker(marker string) {
	if !in.line.empty() {
		in.sheet.lines = append(in.sheet.lines, in.lineText())
		in.line.reset()
	}
	in.sheet.lines = append(in.sheet.lines, marker)
}

// unknown marks bytes the printer does not know, where they arrived.
func (in *interpreter) unknown(b []byte) {
	in.count.unknown++
	var sb strings.Builder
	sb.WriteString("[UNKNOWN")
	for _, c := range b {
		fmt.Fprintf(&sb, " 0x%02X", c)
	}
	sb.WriteString("]")
	in.line.text.WriteString(sb.String())
}

// invalid marks a known command refused for a parameter out of range or for
// arriving in the middle of a line.
func (in *interpreter) invalid(why string) {
	in.count.invalid++
	in.line.text.WriteString("[INVALID " + why + "]")
}

// faulted recovers from a failure in the middle of a command: the paper
// printed so far is torn off with the reason, and what was pending of the
// job (a half-received command, the line being built) is dropped. The
// print modes return to their power-on values.
func (in *interpreter) faulted(reason string) {
	func() {
		// A sheet left inconsistent by the failure is dropped, not
		// allowed to fail again here.
		defer func() {
			if recover() != nil {
				in.sheet = newSheet(in.widthDots, in.maxRows)
			}
		}()
		in.sheet.lines = append(in.sheet.lines, "[PRINTER FAULT: "+reason+"]")
		in.finishReceipt(false)
	}()
	in.pending = nil
	in.line.reset()
	in.initialize()
}

// finishReceipt ends the sheet: a cut, paper running out, or a fault.
func (in *interpreter) finishReceipt(cut bool) {
	in.done = append(in.done, in.sheet.receipt(cut))
	in.sheet = newSheet(in.widthDots, in.maxRows)
}

// takeDone returns the receipts finished since the last call.
func (in *interpreter) takeDone() []Receipt {
	done := in.done
	in.done = nil
	return done
}

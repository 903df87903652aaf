package escpos

import (
	"fmt"
	"image"
)

// Command prefixes.
const (
	esc = 0x1B
	gs  = 0x1D
	dle = 0x10
	lf  = 0x0A
)

// Alignment is the parameter of ESC a.
type Alignment byte

// Alignments. ESC a only takes effect at the start of a line; it also
// positions raster images.
const (
	AlignLeft   Alignment = 0
	AlignCenter Alignment = 1
	AlignRight  Alignment = 2
)

// CutMode says how the receipt is cut off at the end of a job.
type CutMode string

// Cut modes. Some cheap printers only cut partially whatever they are sent.
const (
	CutFull    CutMode = "full"
	CutPartial CutMode = "partial"
	CutNone    CutMode = "none"
)

// StatusKind selects which status byte DLE EOT n asks for.
type StatusKind byte

// Status kinds of DLE EOT n.
const (
	StatusPrinter StatusKind = 1 // online/offline, drawer
	StatusOffline StatusKind = 2 // why offline: cover, feed button, paper end, error
	StatusError   StatusKind = 3 // error cause (model-specific meaning)
	StatusPaper   StatusKind = 4 // roll paper sensor: near end, end
)

// ECCLevel is the QR error correction level, as GS ( k function 169 takes it.
type ECCLevel byte

// Error correction levels: the share of the symbol that may be damaged.
const (
	ECCL ECCLevel = 48 // 7 %, the printers' default
	ECCM ECCLevel = 49 // 15 %
	ECCQ ECCLevel = 50 // 25 %
	ECCH ECCLevel = 51 // 30 %
)

// String returns the level's letter.
func (l ECCLevel) String() string {
	switch l {
	case ECCL:
		return "L"
	case ECCM:
		return "M"
	case ECCQ:
		return "Q"
	case ECCH:
		return "H"
	}
	return fmt.Sprintf("ECCLevel(%d)", byte(l))
}

func (l ECCLevel) valid() bool { return l >= ECCL && l <= ECCH }

// QROptions are the symbol parameters of a native QR code.
type QROptions struct {
	Module int      // dots per module, 1..16
	ECC    ECCLevel // ECCL..ECCH
}

// QR data limits of GS ( k function 180: the parameter length
// pL+pH·256 = k+3 may be at most 7092.
const (
	QRMaxData      = 7089
	qrMinModule    = 1
	qrMaxModule    = 16
	defaultBandRow = 128
)

// RasterOptions control how Encoder.Raster sends an image.
type RasterOptions struct {
	// BandRows is the height of each GS v 0 command; 0 means 128. Firmware
	// limits on one command's height vary, so tall images go in bands.
	BandRows int
	// Scale2x sends the image with m=3: the printer doubles it in both
	// directions, so a quarter of the bytes prints at the same size.
	Scale2x bool
	// DoubleWidth sends the image with m=1: the printer doubles its width
	// only. Ignored with Scale2x.
	DoubleWidth bool
}

// Encoder builds an ESC/POS byte stream. Each method appends one or more
// whole commands and returns the encoder, so calls chain. The first invalid
// parameter is recorded (see Err) and every later call does nothing.
// The zero value is not ready: use NewEncoder.
type Encoder struct {
	buf  []byte
	ends []int // offset just past each command, in order
	err  error
	// align is the alignment the stream has selected, once alignSet.
	align    Alignment
	alignSet bool
}

// NewEncoder returns an empty encoder.
func NewEncoder() *Encoder { return &Encoder{} }

// Err returns the first error, naming the command and the parameter.
func (e *Encoder) Err() error { return e.err }

// Bytes returns the stream built so far, or nil once Err is set. The slice
// aliases the encoder's buffer until the next call.
func (e *Encoder) Bytes() []byte {
	if e.err != nil {
		return nil
	}
	return e.buf
}

// Chunks splits the stream at command boundaries only, packing whole
// commands greedily so that each chunk is at most max bytes; a command
// longer than max (a raster band, a large QR store) is a chunk of its own.
// It returns nil once Err is set.
func (e *Encoder) Chunks(max int) [][]byte {
	if e.err != nil || len(e.buf) == 0 {
		return nil
	}
	var chunks [][]byte
	start, last := 0, 0 // current chunk start; end of the last command taken
	for _, end := range e.ends {
		if end-start > max && last > start {
			chunks = append(chunks, e.buf[start:last:last])
			start = last
		}
		last = end
	}
	return append(chunks, e.buf[start:last:last])
}

func (e *Encoder) fail(command, format string, args ...any) {
	e.err = fmt.Errorf("escpos: %s: %s", command, fmt.Sprintf(format, args...))
}

// emit appends one command and records its end.
func (e *Encoder) emit(b ...byte) {
	e.buf = append(e.buf, b...)
	e.ends = append(e.ends, len(e.buf))
}

// Init resets the printer's modes (ESC @).
func (e *Encoder) Init() *Encoder {
	if e.err == nil {
		e.emit(esc, '@')
		e.align, e.alignSet = AlignLeft, true
	}
	return e
}

// Align sets the justification of the following lines (ESC a n).
func (e *Encoder) Align(a Alignment) *Encoder {
	if e.err != nil {
		return e
	}
	if a > AlignRight {
		e.fail("ESC a (align)", "alignment %d: must be 0 (left), 1 (center) or 2 (right)", a)
		return e
	}
	e.emit(esc, 'a', byte(a))
	e.align, e.alignSet = a, true
	return e
}

// Alignment returns the alignment the stream has selected so far (ESC @
// selects left), and false when it has selected none: the printer keeps
// the alignment of the previous lines, and of the previous job.
func (e *Encoder) Alignment() (Alignment, bool) { return e.align, e.alignSet }

// Bold turns emphasised printing on or off (ESC E n).
func (e *Encoder) Bold(on bool) *Encoder {
	if e.err != nil {
		return e
	}
	n := byte(0)
	if on {
		n = 1
	}
	e.emit(esc, 'E', n)
	return e
}

// Size sets the character magnification (GS ! n), 1..8 in each direction.
func (e *Encoder) Size(width, height int) *Encoder {
	if e.err != nil {
		return e
	}
	if width < 1 || width > 8 {
		e.fail("GS ! (size)", "width %d: must be between 1 and 8", width)
		return e
	}
	if height < 1 || height > 8 {
		e.fail("GS ! (size)", "height %d: must be between 1 and 8", height)
		return e
	}
	e.emit(gs, '!', byte(width-1)<<4|byte(height-1))
	return e
}

// CodePage selects the character table (ESC t n). The numbering depends on
// the printer model, so n comes from the printer's profile.
func (e *Encoder) CodePage(n byte) *Encoder {
	if e.err == nil {
		e.emit(esc, 't', n)
	}
	return e
}

// Text appends characters already encoded in the printer's code page (see
// EncodeText). Control bytes (below 0x20) are refused: a stray one would
// start a command and swallow the text after it.
func (e *Encoder) Text(b []byte) *Encoder {
	if e.err != nil || len(b) == 0 {
		return e
	}
	for i, c := range b {
		if c < 0x20 {
			e.fail("text", "byte %d is control byte 0x%02X: text must not contain bytes below 0x20", i, c)
			return e
		}
	}
	e.emit(b...)
	return e
}

// Position moves the print position to dots from the start of the line
// (ESC $ nL nH, in horizontal motion units: one dot at the default motion
// unit of 203 and 180 dpi printers). A right-aligned column costs four
// bytes this way instead of a run of spaces.
func (e *Encoder) Position(dots int) *Encoder {
	if e.err != nil {
		return e
	}
	if dots < 0 || dots > 0xFFFF {
		e.fail("ESC $ (position)", "position %d: must be between 0 and 65535 dots", dots)
		return e
	}
	e.emit(esc, '$', byte(dots), byte(dots>>8))
	return e
}

// Line appends text and a line feed (LF), which prints the line.
func (e *Encoder) Line(b []byte) *Encoder {
	e.Text(b)
	if e.err == nil {
		e.emit(lf)
	}
	return e
}

// Feed prints the buffer and feeds the paper by lines (ESC d n), 0..255.
func (e *Encoder) Feed(lines int) *Encoder {
	if e.err != nil {
		return e
	}
	if lines < 0 || lines > 255 {
		e.fail("ESC d (feed)", "lines %d: must be between 0 and 255", lines)
		return e
	}
	e.emit(esc, 'd', byte(lines))
	return e
}

// Cut cuts the paper (GS V). With feed 0 it cuts where the paper is
// (m = 0 full, 1 partial); with feed > 0 the printer first feeds to its
// own cutting position plus feed motion units (m = 65 full, 66 partial),
// so the last lines are not left under the head. CutNone emits nothing.
func (e *Encoder) Cut(mode CutMode, feed int) *Encoder {
	if e.err != nil {
		return e
	}
	if feed < 0 || feed > 255 {
		e.fail("GS V (cut)", "feed %d: must be between 0 and 255", feed)
		return e
	}
	var m byte
	switch mode {
	case CutFull:
		m = 0
	case CutPartial:
		m = 1
	case CutNone:
		return e
	default:
		e.fail("GS V (cut)", "mode %q: must be %q, %q or %q", mode, CutFull, CutPartial, CutNone)
		return e
	}
	if feed == 0 {
		e.emit(gs, 'V', m)
	} else {
		e.emit(gs, 'V', 65+m, byte(feed))
	}
	return e
}

// qrCommand appends one GS ( k command for the QR symbol (cn = 49):
// 1D 28 6B pL pH 31 fn params, where pL+pH·256 counts cn, fn and params.
func (e *Encoder) qrCommand(fn byte, params ...byte) {
	n := len(params) + 2
	e.buf = append(e.buf, gs, '(', 'k', byte(n), byte(n>>8), 49, fn)
	e.buf = append(e.buf, params...)
	e.ends = append(e.ends, len(e.buf))
}

// QR prints data as a model 2 QR symbol drawn by the printer (GS ( k):
// select model (fn 165), module size (fn 167), error correction (fn 169),
// store the data (fn 180) and print (fn 181). The printer chooses the
// version and the encoding mode itself; use PlanQR to know that the symbol
// fits the paper, since a symbol wider than the print area is not printed.
func (e *Encoder) QR(data []byte, q QROptions) *Encoder {
	if e.err != nil {
		return e
	}
	const cmd = "GS ( k (QR)"
	switch {
	case len(data) == 0:
		e.fail(cmd, "data is empty: must be 1 to %d bytes", QRMaxData)
	case len(data) > QRMaxData:
		e.fail(cmd, "data is %d bytes: must be 1 to %d bytes", len(data), QRMaxData)
	case q.Module < qrMinModule || q.Module > qrMaxModule:
		e.fail(cmd, "module %d: must be between %d and %d dots", q.Module, qrMinModule, qrMaxModule)
	case !q.ECC.valid():
		e.fail(cmd, "ecc %d: must be 48 (L), 49 (M), 50 (Q) or 51 (H)", byte(q.ECC))
	}
	if e.err != nil {
		return e
	}
	e.qrCommand(65, 50, 0) // fn 165: model 2
	e.qrCommand(67, byte(q.Module))
	e.qrCommand(69, byte(q.ECC))
	e.qrCommand(80, append([]byte{48}, data...)...) // fn 180: store, m = 48
	e.qrCommand(81, 48)                             // fn 181: print, m = 48
	return e
}

// Raster prints an image with GS v 0 (1D 76 30 m xL xH yL yH d1..dk), in
// bands of opt.BandRows rows, each band one command. Rows are padded to
// whole bytes with white; the most significant bit is the leftmost dot and
// 1 is black. A pixel is black when it is darker than mid-grey after
// compositing over white paper.
func (e *Encoder) Raster(img image.Image, opt RasterOptions) *Encoder {
	if e.err != nil {
		return e
	}
	const cmd = "GS v 0 (raster)"
	band := opt.BandRows
	if band == 0 {
		band = defaultBandRow
	}
	if img == nil {
		e.fail(cmd, "image is nil")
		return e
	}
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	rowBytes := (w + 7) / 8
	switch {
	case band < 1 || band > 0xFFFF:
		e.fail(cmd, "band rows %d: must be between 1 and 65535", opt.BandRows)
	case w < 1 || h < 1:
		e.fail(cmd, "image is %dx%d: must be at least 1x1", w, h)
	case rowBytes > 0xFFFF:
		e.fail(cmd, "image width %d: must be at most %d dots", w, 0xFFFF*8)
	}
	if e.err != nil {
		return e
	}
	m := byte(0)
	switch {
	case opt.Scale2x:
		m = 3
	case opt.DoubleWidth:
		m = 1
	}
	for y0 := 0; y0 < h; y0 += band {
		rows := min(band, h-y0)
		e.buf = append(e.buf, gs, 'v', '0', m,
			byte(rowBytes), byte(rowBytes>>8), byte(rows), byte(rows>>8))
		for y := y0; y < y0+rows; y++ {
			e.buf = appendRasterRow(e.buf, img, r.Min.X, r.Min.Y+y, w)
		}
		e.ends = append(e.ends, len(e.buf))
	}
	return e
}

// appendRasterRow packs one row of w pixels starting at (x0, y), MSB first.
func appendRasterRow(buf []byte, img image.Image, x0, y, w int) []byte {
	var cur byte
	for i := 0; i < w; i++ {
		if isDark(img, x0+i, y) {
			cur |= 0x80 >> (i % 8)
		}
		if i%8 == 7 {
			buf = append(buf, cur)
			cur = 0
		}
	}
	if w%8 != 0 {
		buf = append(buf, cur)
	}
	return buf
}

// isDark reports whether a pixel, laid over white paper, is darker than
// mid-grey. Transparent pixels are paper.
func isDark(img image.Image, x, y int) bool {
	if g, ok := img.(*image.Gray); ok {
		return g.GrayAt(x, y).Y < 0x80
	}
	r, g, b, a := img.At(x, y).RGBA() // premultiplied, 16 bits
	white := 0xFFFF - a
	r, g, b = r+white, g+white, b+white
	// ITU-R BT.601 luma, as image/color's gray conversion uses.
	luma := (19595*r + 38470*g + 7471*b + 1<<15) >> 16
	return luma < 0x8000
}

// RequestStatus asks for one real-time status byte (DLE EOT n). The printer
// answers at once, even offline; decode the reply with DecodeStatus.
func (e *Encoder) RequestStatus(n StatusKind) *Encoder {
	if e.err != nil {
		return e
	}
	if n < StatusPrinter || n > StatusPaper {
		e.fail("DLE EOT (status)", "kind %d: must be between 1 and 4", n)
		return e
	}
	e.emit(dle, 0x04, byte(n))
	return e
}

// TransmitStatus appends GS r 1. The printer answers it only after
// everything before it has been processed, so its reply marks the end of
// the job (see IsTransmitStatusReply).
func (e *Encoder) TransmitStatus() *Encoder {
	if e.err == nil {
		e.emit(gs, 'r', 1)
	}
	return e
}

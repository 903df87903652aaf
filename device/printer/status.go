package printer

import "fmt"

// The ESC/POS status protocol, as far as the driver needs it. Bits are
// from the Epson command reference (spec/escpos.md §1.4).
const (
	dle = 0x10
	eot = 0x04
)

// statusRequest returns DLE EOT n, the real-time status request. The
// printer answers it at once, even offline or with a full buffer.
func statusRequest(n byte) []byte { return []byte{dle, eot, n} }

// transmitStatus is GS r 1. It is processed in order with the data before
// it, so its reply means everything before it has been printed.
var transmitStatus = []byte{0x1d, 0x72, 0x01}

// isStatusReply reports whether b has the shape of a DLE EOT reply:
// 0xx1xx10, that is bit 1 and bit 4 set, bits 0 and 7 clear.
func isStatusReply(b byte) bool { return b&0x93 == 0x12 }

// isTransmitStatusReply reports whether b can be the reply to GS r: bits 4
// and 7 clear. Bit 4 tells it apart from a DLE EOT reply.
func isTransmitStatusReply(b byte) bool { return b&0x90 == 0 }

// status is one set of answers to DLE EOT 1, 2 and 4.
type status struct{ printer, offlineCause, paperSensor byte }

// decode turns the answers into a State and the text for the status page.
// A physical cause wins over the bare offline bit, and an open cover over
// paper: the cover must be shut before the paper can be seen to.
func (s status) decode() (state State, detail string, paperLow bool) {
	paperLow = s.paperSensor&0x0c != 0 // roll near end
	paperEnd := s.paperSensor&0x60 != 0 || s.offlineCause&0x20 != 0
	switch {
	case s.offlineCause&0x04 != 0:
		return StateCoverOpen, "cover open", paperLow
	case paperEnd:
		return StatePaperOut, "paper out", paperLow
	case s.offlineCause&0x40 != 0:
		return StateError, fmt.Sprintf("the printer reports an error (DLE EOT 2 answered %02x)", s.offlineCause), paperLow
	case s.printer&0x08 != 0:
		return StateOffline, fmt.Sprintf("offline (DLE EOT 1 answered %02x, DLE EOT 2 %02x)", s.printer, s.offlineCause), paperLow
	case paperLow:
		return StateOnline, "ready, paper low", paperLow
	}
	return StateOnline, "ready", paperLow
}

// triggerCounter counts the DLE EOT n sequences (n = 1 to 4) in the bytes
// sent to the printer, across writes. The printer answers each one, also
// when the bytes are data inside another command (a raster image), so each
// is a reply to expect: that is how a reply to the driver's own request is
// told apart from replies the data triggered.
type triggerCounter struct{ last [2]byte }

func (c *triggerCounter) count(b []byte) int {
	n := 0
	for _, x := range b {
		if c.last[0] == dle && c.last[1] == eot && x >= 1 && x <= 4 {
			n++
		}
		c.last[0], c.last[1] = c.last[1], x
	}
	return n
}

func (c *triggerCounter) reset() { c.last = [2]byte{} }

package fakeprinter

// Status bytes, after the printer's bit layouts in spec/escpos.md §1.4.
const (
	// realtimeFixed is the DLE EOT pattern 0xx1xx10: bit 1 and bit 4 set.
	realtimeFixed   = 0x12
	rtOffline       = 0x08 // n=1 bit 3
	rtCoverOpen     = 0x04 // n=2 bit 2
	rtPaperEndStop  = 0x20 // n=2 bit 5
	rtRollNearEnd   = 0x0C // n=4 bits 2-3
	rtRollPaperEnd  = 0x60 // n=4 bits 5-6
	asbFixed        = 0x10 // byte 1 pattern 0xx1xx00
	asbOffline      = 0x08 // byte 1 bit 3
	asbCoverOpen    = 0x20 // byte 1 bit 5
	asbRollNearEnd  = 0x03 // byte 3 bits 0-1
	asbRollPaperEnd = 0x0C // byte 3 bits 2-3
	// GS a n: which changes send a message.
	asbOnlineChanges = 0x02 // bit 1: online/offline (cover, paper end)
	asbPaperChanges  = 0x08 // bit 3: roll paper sensor
)

// rtErrorOccurred is DLE EOT 2 bit 6: an error occurred.
const rtErrorOccurred = 0x40

func (p *Printer) offline() bool { return p.paperOut || p.coverOpen || p.fault != "" }

// realtimeStatus answers DLE EOT n (n is 1-4).
func (p *Printer) realtimeStatus(n byte) byte {
	b := byte(realtimeFixed)
	switch n {
	case 1:
		if p.offline() {
			b |= rtOffline
		}
	case 2:
		if p.coverOpen {
			b |= rtCoverOpen
		}
		if p.paperOut {
			b |= rtPaperEndStop
		}
		if p.fault != "" {
			b |= rtErrorOccurred
		}
	case 4:
		if p.nearEnd {
			b |= rtRollNearEnd
		}
		if p.paperOut {
			b |= rtRollPaperEnd
		}
	}
	return b
}

// asbStatusLocked is the 4-byte automatic status back message.
func (p *Printer) asbStatusLocked() []byte {
	msg := []byte{asbFixed, 0, 0, 0}
	if p.offline() {
		msg[0] |= asbOffline
	}
	if p.coverOpen {
		msg[0] |= asbCoverOpen
	}
	if p.nearEnd {
		msg[2] |= asbRollNearEnd
	}
	if p.paperOut {
		msg[2] |= asbRollPaperEnd
	}
	return msg
}

// statusChangeLocked notes the status before a fault changes; the function
// it returns, called after the change, sends an automatic status back
// message when GS a asked for that kind of change.
func (p *Printer) statusChangeLocked() func() {
	before := p.asbStatusLocked()
	return func() {
		after := p.asbStatusLocked()
		var changed byte
		if before[0] != after[0] {
			changed |= asbOnlineChanges
		}
		if before[2] != after[2] {
			changed |= asbPaperChanges
		}
		if changed&p.in.asb != 0 {
			p.sendASBLocked()
		}
	}
}

func (p *Printer) sendASBLocked() {
	p.stats.ASBReplies++
	p.replyLocked(p.asbStatusLocked())
}

package escpos

import (
	"fmt"
	"strings"
)

// PrinterStatus is what the printer reported about itself. Each DLE EOT
// reply fills in only the flags its kind carries; Merge combines replies.
type PrinterStatus struct {
	Offline      bool // kind 1 bit 3
	CoverOpen    bool // kind 2 bit 2
	PaperOut     bool // kind 2 bit 5 (printing stopped at paper end), kind 4 bits 5-6
	PaperNearEnd bool // kind 4 bits 2-3
	Error        bool // kind 2 bit 6, or any error-cause bit of kind 3
	FeedButton   bool // kind 2 bit 3: paper is being fed by the button
}

// Fixed bits of every DLE EOT reply: pattern 0xx1xx10.
const (
	statusFixedMask  = 0x93
	statusFixedValue = 0x12
)

// DecodeStatus decodes the reply byte b to DLE EOT kind. A byte that does
// not have the fixed bits of a status reply (bit 0 = 0, bit 1 = 1, bit 4 = 1,
// bit 7 = 0) is refused: it is noise, or the reply to something else.
func DecodeStatus(kind StatusKind, b byte) (PrinterStatus, error) {
	var s PrinterStatus
	if kind < StatusPrinter || kind > StatusPaper {
		return s, fmt.Errorf("escpos: status kind %d: must be between 1 and 4", kind)
	}
	if b&statusFixedMask != statusFixedValue {
		return s, fmt.Errorf("escpos: status reply 0x%02X to DLE EOT %d: fixed bits must match 0xx1xx10", b, kind)
	}
	switch kind {
	case StatusPrinter:
		s.Offline = b&0x08 != 0
	case StatusOffline:
		s.CoverOpen = b&0x04 != 0
		s.FeedButton = b&0x08 != 0
		s.PaperOut = b&0x20 != 0
		s.Error = b&0x40 != 0
	case StatusError:
		// Bits 2, 3, 5 and 6 name error causes whose meaning differs
		// between models (cutter, unrecoverable, auto-recoverable...);
		// any of them means the printer cannot print now.
		s.Error = b&0x6C != 0
	case StatusPaper:
		s.PaperNearEnd = b&0x0C != 0
		s.PaperOut = b&0x60 != 0
	}
	return s, nil
}

// Merge returns the status with every flag set in s or in o.
func (s PrinterStatus) Merge(o PrinterStatus) PrinterStatus {
	return PrinterStatus{
		Offline:      s.Offline || o.Offline,
		CoverOpen:    s.CoverOpen || o.CoverOpen,
		PaperOut:     s.PaperOut || o.PaperOut,
		PaperNearEnd: s.PaperNearEnd || o.PaperNearEnd,
		Error:        s.Error || o.Error,
		FeedButton:   s.FeedButton || o.FeedButton,
	}
}

// Ready reports whether a job may be sent: online, cover closed, paper in,
// no error. Paper near its end still prints.
func (s PrinterStatus) Ready() bool {
	return !s.Offline && !s.CoverOpen && !s.PaperOut && !s.Error
}

// String lists the flags that are set, or "ready".
func (s PrinterStatus) String() string {
	var f []string
	for _, x := range []struct {
		on   bool
		name string
	}{
		{s.Offline, "offline"}, {s.CoverOpen, "cover open"}, {s.PaperOut, "paper out"},
		{s.PaperNearEnd, "paper near end"}, {s.Error, "error"}, {s.FeedButton, "feed button"},
	} {
		if x.on {
			f = append(f, x.name)
		}
	}
	if len(f) == 0 {
		return "ready"
	}
	return strings.Join(f, ", ")
}

// IsTransmitStatusReply reports whether b can be the reply to GS r 1: bits
// 4 and 7 are 0. DLE EOT replies always have bit 4 set, so the two cannot
// be confused on the same line.
func IsTransmitStatusReply(b byte) bool { return b&0x90 == 0 }

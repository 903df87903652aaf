package escpos_test

import (
	"strings"
	"testing"

	"github.com/egsd/egsd/device/escpos"
)

// Replies as documented in spec/escpos.md §1.4 (Epson bit layout; the
// python-escpos masks 0x12 / 0x1E / 0x72 for paper).
func TestDecodeStatus(t *testing.T) {
	tests := []struct {
		name string
		kind escpos.StatusKind
		b    byte
		want escpos.PrinterStatus
	}{
		{"online", escpos.StatusPrinter, 0x12, escpos.PrinterStatus{}},
		{"online, drawer pin high", escpos.StatusPrinter, 0x16, escpos.PrinterStatus{}},
		{"offline", escpos.StatusPrinter, 0x1a, escpos.PrinterStatus{Offline: true}},
		{"offline, drawer pin high", escpos.StatusPrinter, 0x1e, escpos.PrinterStatus{Offline: true}},
		{"no offline cause", escpos.StatusOffline, 0x12, escpos.PrinterStatus{}},
		{"cover open", escpos.StatusOffline, 0x16, escpos.PrinterStatus{CoverOpen: true}},
		{"feed button", escpos.StatusOffline, 0x1a, escpos.PrinterStatus{FeedButton: true}},
		{"stopped at paper end", escpos.StatusOffline, 0x32, escpos.PrinterStatus{PaperOut: true}},
		{"error", escpos.StatusOffline, 0x52, escpos.PrinterStatus{Error: true}},
		{"cover open at paper end with error", escpos.StatusOffline, 0x76,
			escpos.PrinterStatus{CoverOpen: true, PaperOut: true, Error: true}},
		{"no error cause", escpos.StatusError, 0x12, escpos.PrinterStatus{}},
		{"cutter error", escpos.StatusError, 0x1a, escpos.PrinterStatus{Error: true}},
		{"unrecoverable error", escpos.StatusError, 0x32, escpos.PrinterStatus{Error: true}},
		{"auto-recoverable error", escpos.StatusError, 0x52, escpos.PrinterStatus{Error: true}},
		{"paper ok", escpos.StatusPaper, 0x12, escpos.PrinterStatus{}},
		{"paper near end", escpos.StatusPaper, 0x1e, escpos.PrinterStatus{PaperNearEnd: true}},
		{"paper out", escpos.StatusPaper, 0x72, escpos.PrinterStatus{PaperOut: true}},
		{"paper out and near end", escpos.StatusPaper, 0x7e, escpos.PrinterStatus{PaperOut: true, PaperNearEnd: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := escpos.DecodeStatus(tt.kind, tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("DecodeStatus(%d, %#02x) = %+v, want %+v", tt.kind, tt.b, got, tt.want)
			}
		})
	}
}

func TestDecodeStatusInvalid(t *testing.T) {
	tests := []struct {
		name string
		kind escpos.StatusKind
		b    byte
		want string
	}{
		{"zero", escpos.StatusPrinter, 0x00, "0x00"},
		{"bit 0 set", escpos.StatusPrinter, 0x13, "0x13"},
		{"bit 1 clear", escpos.StatusOffline, 0x10, "0x10"},
		{"bit 4 clear", escpos.StatusPaper, 0x02, "0x02"},
		{"bit 7 set", escpos.StatusPaper, 0x92, "0x92"},
		{"all set", escpos.StatusError, 0xff, "0xFF"},
		{"GS r reply", escpos.StatusPrinter, 0x0c, "0x0C"},
		{"kind 0", 0, 0x12, "kind 0"},
		{"kind 5", 5, 0x12, "kind 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := escpos.DecodeStatus(tt.kind, tt.b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}

// Four bits are fixed (0xx1xx10), so exactly 16 of the 256 bytes are
// replies, for every kind; none of them looks like a GS r reply.
func TestStatusReplySpace(t *testing.T) {
	for kind := escpos.StatusPrinter; kind <= escpos.StatusPaper; kind++ {
		valid := 0
		for b := range 256 {
			if _, err := escpos.DecodeStatus(kind, byte(b)); err == nil {
				valid++
				if escpos.IsTransmitStatusReply(byte(b)) {
					t.Errorf("%#02x is both a DLE EOT and a GS r reply", b)
				}
			}
		}
		if valid != 16 {
			t.Errorf("kind %d: %d valid bytes, want 16", kind, valid)
		}
	}
}

func TestIsTransmitStatusReply(t *testing.T) {
	for _, tt := range []struct {
		b    byte
		want bool
	}{
		{0x00, true}, {0x03, true}, {0x0c, true}, {0x6f, true},
		{0x10, false}, {0x12, false}, {0x80, false}, {0x90, false}, {0xff, false},
	} {
		if got := escpos.IsTransmitStatusReply(tt.b); got != tt.want {
			t.Errorf("IsTransmitStatusReply(%#02x) = %v, want %v", tt.b, got, tt.want)
		}
	}
}

func TestStatusMergeAndReady(t *testing.T) {
	online, _ := escpos.DecodeStatus(escpos.StatusPrinter, 0x12)
	cause, _ := escpos.DecodeStatus(escpos.StatusOffline, 0x12)
	near, _ := escpos.DecodeStatus(escpos.StatusPaper, 0x1e)
	s := online.Merge(cause).Merge(near)
	if !s.Ready() || !s.PaperNearEnd || s.String() != "paper near end" {
		t.Errorf("near end: %+v ready=%v %q", s, s.Ready(), s)
	}
	if (escpos.PrinterStatus{}).String() != "ready" {
		t.Error("empty status is not ready")
	}
	for _, bad := range []escpos.PrinterStatus{
		{Offline: true}, {CoverOpen: true}, {PaperOut: true}, {Error: true},
	} {
		m := s.Merge(bad)
		if m.Ready() || m != bad.Merge(s) {
			t.Errorf("%v: ready=%v, merge not symmetric", bad, m.Ready())
		}
	}
	all := escpos.PrinterStatus{Offline: true, CoverOpen: true, PaperOut: true, PaperNearEnd: true, Error: true, FeedButton: true}
	if got := all.String(); got != "offline, cover open, paper out, paper near end, error, feed button" {
		t.Errorf("String() = %q", got)
	}
}

package printer

import (
	"reflect"
	"testing"
)

// The reply bytes below are built from the bit layouts in spec/escpos.md
// §1.4: every DLE EOT reply is 0xx1xx10, so 0x12 is "nothing to report".
const (
	okByte      = 0x12        // any DLE EOT n: nothing set
	offline     = 0x12 | 0x08 // n=1 bit 3
	coverOpen   = 0x12 | 0x04 // n=2 bit 2
	feedButton  = 0x12 | 0x08 // n=2 bit 3, paper fed by the button
	paperStop   = 0x12 | 0x20 // n=2 bit 5, printing stopped by paper end
	errorBit    = 0x12 | 0x40 // n=2 bit 6
	nearEnd     = 0x12 | 0x0c // n=4 bits 2-3
	paperEnd    = 0x12 | 0x60 // n=4 bits 5-6
	nearAndEnd  = 0x12 | 0x6c // n=4: both sensors
	gsrPrinted  = 0x00        // GS r 1: paper present, nothing set
	gsrNearEnd  = 0x03        // GS r 1: bits 0-1 near end
	notAnyReply = 0x90
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		st       status
		state    State
		detail   string
		paperLow bool
	}{
		{"online", status{okByte, okByte, okByte}, StateOnline, "ready", false},
		{"online, paper low", status{okByte, okByte, nearEnd}, StateOnline, "ready, paper low", true},
		{"paper out, reported by both", status{offline, paperStop, paperEnd}, StatePaperOut, "paper out", false},
		{"paper out, roll sensor only", status{okByte, okByte, paperEnd}, StatePaperOut, "paper out", false},
		{"paper out, offline cause only", status{offline, paperStop, okByte}, StatePaperOut, "paper out", false},
		{"paper out with near end", status{offline, paperStop, nearAndEnd}, StatePaperOut, "paper out", true},
		{"cover open", status{offline, coverOpen, okByte}, StateCoverOpen, "cover open", false},
		{"cover open wins over paper out", status{offline, coverOpen | paperStop, paperEnd}, StateCoverOpen, "cover open", false},
		{"error", status{offline, errorBit, okByte}, StateError, "the printer reports an error (DLE EOT 2 answered 52)", false},
		{"offline, feed button", status{offline, feedButton, okByte}, StateOffline, "offline (DLE EOT 1 answered 1a, DLE EOT 2 1a)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, detail, low := tt.st.decode()
			if state != tt.state || detail != tt.detail || low != tt.paperLow {
				t.Errorf("decode(%02x %02x %02x) = %s, %q, %v; want %s, %q, %v",
					tt.st.printer, tt.st.offlineCause, tt.st.paperSensor, state, detail, low, tt.state, tt.detail, tt.paperLow)
			}
		})
	}
}

func TestReplyShapes(t *testing.T) {
	tests := []struct {
		b            byte
		status, gsr1 bool
	}{
		{okByte, true, false},
		{offline, true, false},
		{paperEnd, true, false},
		{nearAndEnd | 0x04, true, false}, // every bit a DLE EOT reply may carry
		{gsrPrinted, false, true},
		{gsrNearEnd, false, true},
		{0x0f, false, true},
		{0x13, false, false}, // bit 0 set
		{0x10, false, false}, // bit 1 clear
		{0x92, false, false}, // bit 7 set
		{notAnyReply, false, false},
		{0x80, false, false},
	}
	for _, tt := range tests {
		if got := isStatusReply(tt.b); got != tt.status {
			t.Errorf("isStatusReply(%02x) = %v, want %v", tt.b, got, tt.status)
		}
		if got := isTransmitStatusReply(tt.b); got != tt.gsr1 {
			t.Errorf("isTransmitStatusReply(%02x) = %v, want %v", tt.b, got, tt.gsr1)
		}
	}
}

func TestTriggerCounter(t *testing.T) {
	tests := []struct {
		name   string
		writes [][]byte
		want   int
	}{
		{"one request", [][]byte{{0x10, 0x04, 0x01}}, 1},
		{"the three requests", [][]byte{{0x10, 0x04, 0x01}, {0x10, 0x04, 0x02}, {0x10, 0x04, 0x04}}, 3},
		{"n=3 counts", [][]byte{{0x10, 0x04, 0x03}}, 1},
		{"n=0 and n=5 are not requests", [][]byte{{0x10, 0x04, 0x00, 0x10, 0x04, 0x05}}, 0},
		{"inside raster data", [][]byte{{0x1d, 0x76, 0x30, 0x00, 0x04, 0x00, 0x01, 0x00, 0xff, 0x10, 0x04, 0x04}}, 1},
		{"split across writes", [][]byte{{0x41, 0x10}, {0x04}, {0x02, 0x42}}, 1},
		{"DLE DLE EOT n", [][]byte{{0x10, 0x10, 0x04, 0x01}}, 1},
		{"text", [][]byte{[]byte("TOTAL 115.00\n")}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c triggerCounter
			got := 0
			for _, w := range tt.writes {
				got += c.count(w)
			}
			if got != tt.want {
				t.Errorf("count = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestBatch(t *testing.T) {
	b := func(n int, v byte) []byte {
		s := make([]byte, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name   string
		chunks [][]byte
		limit  int
		want   [][]byte
	}{
		{"nothing", nil, 10, nil},
		{"only empty chunks", [][]byte{{}, nil}, 10, nil},
		{"joined up to the limit", [][]byte{b(4, 1), b(4, 2), b(4, 3)}, 8, [][]byte{cat(b(4, 1), b(4, 2)), b(4, 3)}},
		{"exactly the limit", [][]byte{b(5, 1), b(5, 2)}, 10, [][]byte{cat(b(5, 1), b(5, 2))}},
		{"a chunk over the limit goes alone", [][]byte{b(2, 1), b(12, 2), b(2, 3)}, 10, [][]byte{b(2, 1), b(12, 2), b(2, 3)}},
		{"empty chunks skipped", [][]byte{b(3, 1), {}, b(3, 2)}, 10, [][]byte{cat(b(3, 1), b(3, 2))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := batch(tt.chunks, tt.limit)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("batch = %v, want %v", got, tt.want)
			}
		})
	}
	in := [][]byte{{1, 2, 3}}
	out := batch(in, 10)
	in[0][0] = 9
	if out[0][0] != 1 {
		t.Error("batch shares memory with the caller's chunk")
	}
}

package kz

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func seedGolden(f *testing.F, prefix string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", prefix+"*.frame"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzReadFrame: any bytes either fail or give a frame whose SIZE is
// within the limit and matches what was read; nothing panics.
func FuzzReadFrame(f *testing.F) {
	seedGolden(f, "")
	f.Fuzz(func(t *testing.T, b []byte) {
		h, payload, err := ReadFrame(bytes.NewReader(b))
		if err != nil {
			return
		}
		if h.Size > MaxFrameSize || int(h.Size) != HeaderSize+len(payload) {
			t.Fatalf("SIZE %d with a payload of %d", h.Size, len(payload))
		}
	})
}

// FuzzUnmarshalRequest: any payload either fails or decodes to a request
// that encodes and decodes again to the same encoding.
func FuzzUnmarshalRequest(f *testing.F) {
	seedGolden(f, "request_")
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= HeaderSize {
			if _, p, err := SplitFrame(b); err == nil {
				b = p
			}
		}
		r, err := UnmarshalRequest(b)
		if err != nil {
			return
		}
		once := r.Marshal()
		r2, err := UnmarshalRequest(once)
		if err != nil {
			t.Fatalf("a decoded request re-encodes to something undecodable: %v", err)
		}
		if !bytes.Equal(r2.Marshal(), once) {
			t.Fatal("encoding is not stable")
		}
	})
}

// FuzzUnmarshalResponse: the same for responses.
func FuzzUnmarshalResponse(f *testing.F) {
	seedGolden(f, "response_")
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= HeaderSize {
			if _, p, err := SplitFrame(b); err == nil {
				b = p
			}
		}
		r, err := UnmarshalResponse(b)
		if err != nil {
			return
		}
		once := r.Marshal()
		r2, err := UnmarshalResponse(once)
		if err != nil {
			t.Fatalf("a decoded response re-encodes to something undecodable: %v", err)
		}
		if !bytes.Equal(r2.Marshal(), once) {
			t.Fatal("encoding is not stable")
		}
	})
}

// BenchmarkTicketEncodeFrame: a sale mapped to a TICKET, encoded and
// framed by the session, per ticket.
func BenchmarkTicketEncodeFrame(b *testing.B) {
	s := fixtureSale()
	in := TicketInput{IssuedAt: fixtureTime, Operator: Operator{Code: 1}, ShiftNumber: 1}
	sess := &Session{ID: 1, Token: 1}
	b.ReportAllocs()
	for b.Loop() {
		t, err := BuildTicket(s, in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sess.Begin(&Request{Command: CommandTicket, Ticket: t, Service: fixtureService(false)}); err != nil {
			b.Fatal(err)
		}
		sess.Pending = nil
	}
}

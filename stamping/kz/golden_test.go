package kz

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/egsd/egsd/stamping/kz/kzspec"
)

var update = flag.Bool("update", false, "rewrite the golden frames under testdata/")

// TestGoldenFrames: each command's request and response, as one raw frame
// (header and payload) under testdata/*.frame. The frame the encoder
// makes equals the stored one; the stored one decodes back to the same
// message; and protoc --decode_raw reads it as the spec's tables say,
// with every required field present even when zero.
func TestGoldenFrames(t *testing.T) {
	protoc, _ := lookProtoc()
	check := func(t *testing.T, name string, frame []byte, msg string, decode func([]byte) (any, error), want any) {
		path := filepath.Join("testdata", name+".frame")
		if *update {
			if err := os.WriteFile(path, frame, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		stored, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestGoldenFrames -update to write it)", err)
		}
		if !bytes.Equal(stored, frame) {
			t.Errorf("the encoder's frame differs from %s", path)
		}
		_, payload, err := SplitFrame(stored)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(payload)
		if err != nil {
			t.Fatalf("decoding %s: %v", path, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s decodes to\n%+v\nwant\n%+v", path, got, want)
		}
		if protoc == "" {
			t.Skip("protoc is not installed (apt-get install protobuf-compiler): the frame is not cross-checked by protoc here; CI installs it")
		}
		kzspec.CheckFrame(t, protoc, stored, msg)
	}
	reqs := goldenRequests()
	for _, name := range slices.Sorted(maps.Keys(reqs)) {
		t.Run(name, func(t *testing.T) {
			frame, err := AppendFrame(nil, fixtureID, fixtureToken, fixtureReqNum, reqs[name].Marshal())
			if err != nil {
				t.Fatal(err)
			}
			check(t, name, frame, "Request", func(b []byte) (any, error) { return UnmarshalRequest(b) }, reqs[name])
		})
	}
	resps := goldenResponses()
	for _, name := range slices.Sorted(maps.Keys(resps)) {
		t.Run(name, func(t *testing.T) {
			frame, err := AppendFrame(nil, fixtureID, fixtureToken+1, fixtureReqNum, resps[name].Marshal())
			if err != nil {
				t.Fatal(err)
			}
			check(t, name, frame, "Response", func(b []byte) (any, error) { return UnmarshalResponse(b) }, resps[name])
		})
	}
}

func lookProtoc() (string, error) { return exec.LookPath("protoc") }

// TestCapturedHeader reads the header of the test server's answer quoted
// in spec §1.2 [obs].
func TestCapturedHeader(t *testing.T) {
	b := []byte{0xa2, 0x81, 0xcb, 0x00, 0x41, 0x02, 0x00, 0x00, 0x13, 0x1b, 0x03, 0x00, 0xf4, 0xc9, 0x0a, 0x28, 0x54, 0x00}
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{AppCode: 0x81A2, Version: 203, Size: 577, ID: 203539, Token: 671795700, ReqNum: 84}
	if h != want {
		t.Errorf("header %+v, want %+v", h, want)
	}
	// And the request header of spec §5 demonstration 1.
	frame, err := AppendFrame(nil, 203539, 671795700, 85, make([]byte, 188-18))
	if err != nil {
		t.Fatal(err)
	}
	wantHdr := []byte{0xa2, 0x81, 0xcb, 0x00, 0xbc, 0x00, 0x00, 0x00, 0x13, 0x1b, 0x03, 0x00, 0xf4, 0xc9, 0x0a, 0x28, 0x55, 0x00}
	if !bytes.Equal(frame[:HeaderSize], wantHdr) {
		t.Errorf("header % x, want % x", frame[:HeaderSize], wantHdr)
	}
}

// TestUnknownFieldsSkipped: a response with the test server's field 11
// (and unknown fields inside known messages) decodes; a known field with
// the wrong wire type does not.
func TestUnknownFieldsSkipped(t *testing.T) {
	r := &Response{Command: CommandTicket, Ticket: &TicketResponse{TicketNumber: "4228143549"}}
	b := r.Marshal()
	b = append(b, 0x5a, 3, 'a', 'b', 'c') // field 11, bytes
	b = append(b, 0xf8, 0x01, 7)          // field 31, varint
	got, err := UnmarshalResponse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ticket == nil || got.Ticket.TicketNumber != "4228143549" {
		t.Errorf("got %+v", got)
	}
	// Result as a varint instead of a message.
	if _, err := UnmarshalResponse([]byte{0x08, 0x01, 0x10, 0x00}); err == nil {
		t.Error("a Response whose result is a varint decoded")
	}
	// Money without coins is refused: a required field is missing.
	if _, err := UnmarshalResponse([]byte{0x08, 0x01, 0x12, 0x02, 0x08, 0x00, 0x22, 0x06, 0x08, 0x00, 0x12, 0x02, 0x08, 0x05}); err == nil {
		t.Error("a ZXReport of a Money without coins decoded")
	}
}

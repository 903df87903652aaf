package kz

import (
	"strings"
	"testing"
)

// TestKkmRegInfoRequiredOnWire: point_of_payment_number and
// terminal_number are required strings (spec §2.6): an empty one is on
// the wire, and a message without them is refused naming the field.
func TestKkmRegInfoRequiredOnWire(t *testing.T) {
	req := &Request{Command: CommandSystem, Service: &ServiceRequest{Kkm: &KkmRegInfo{FnsKkmID: "620300000011"}, Org: &OrgRegInfo{}}}
	got, err := UnmarshalRequest(req.Marshal())
	if err != nil {
		t.Fatalf("a KkmRegInfo with empty required strings does not read back: %v", err)
	}
	if got.Service.Kkm.FnsKkmID != "620300000011" {
		t.Errorf("read back %+v", got.Service.Kkm)
	}
	// KkmRegInfo with field 3 only: tag 3, length-delimited.
	err = (&KkmRegInfo{}).decode([]byte{0x1a, 1, '6'}, 0)
	if err == nil || !strings.Contains(err.Error(), "point_of_payment_number") {
		t.Errorf("a KkmRegInfo without its required fields: %v", err)
	}
}

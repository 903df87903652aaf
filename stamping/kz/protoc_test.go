package kz

import (
	"strings"
	"testing"

	"github.com/egsd/egsd/stamping/kz/kzspec"
)

// TestSpecCheckerCatchesMistakes: the checker itself fails on a missing
// zero required field and on a misnumbered field, so that its passing
// means something.
func TestSpecCheckerCatchesMistakes(t *testing.T) {
	protoc := kzspec.RequireProtoc(t)
	// A Result without result_code 0: a proto3-style encoder's mistake.
	e := encoder{}
	e.uint(1, uint64(CommandTicket))
	e.message(2, func(e *encoder) {})
	probs := kzspec.Check("Response", "Response", kzspec.DecodeRaw(t, protoc, e.b))
	if len(probs) == 0 || !strings.Contains(strings.Join(probs, "\n"), "Result") {
		t.Errorf("a Result without result_code passed: %v", probs)
	}
	// customer_iin_or_bin at 3, as the 1.2.4 protocol numbered it.
	e = encoder{}
	e.message(9, func(e *encoder) { e.string(3, "940140000385") })
	probs = kzspec.Check("TicketRequest", "TicketRequest", kzspec.DecodeRaw(t, protoc, e.b))
	joined := strings.Join(probs, "\n")
	if !strings.Contains(joined, "TicketRequest.9.3") {
		t.Errorf("ExtensionOptions field 3 as a string passed: %v", probs)
	}
}

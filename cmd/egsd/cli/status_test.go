package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
)

// The status's rejected documents say, each, what corrects it or what it
// needs: a rejected credit note is issued again, not credited.
func TestPrintRejected(t *testing.T) {
	var out bytes.Buffer
	printRejected(IO{Stdout: &out}, agent.RejectedSummary{Count: 4, WithoutCreditNote: 1, Newest: []agent.RejectedDocument{
		{RejectedEntry: queue.RejectedEntry{Counter: 9, Kind: "credit_note", Message: "BR-KSA-56"}, Number: "EGS1-9"},
		{RejectedEntry: queue.RejectedEntry{Counter: 7, Kind: "invoice", CreditNote: 8}, Number: "EGS1-7"},
		{RejectedEntry: queue.RejectedEntry{Counter: 5, Kind: "invoice"}, Number: "EGS1-5"},
	}})
	lines := strings.Split(out.String(), "\n")
	for i, want := range []string{
		"REJECTED     4 documents by the authority, 1 without a credit note: a manager issues each one's credit note with egsd documents credit-note N",
		"9  EGS1-9", "a credit note: issue the return again", "7  EGS1-7", "credit note 8", "5  EGS1-5", "NO CREDIT NOTE",
		"and 1 older: egsd documents list --status rejected",
	} {
		line := map[int]int{0: 0, 1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 4}[i]
		if line >= len(lines) || !strings.Contains(lines[line], want) {
			t.Errorf("line %d lacks %q:\n%s", line, want, out.String())
		}
	}
}

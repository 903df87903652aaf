package agent

import (
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
)

// DeliveryDeadline is the status's deadline clock: how long the regime
// gives a document to reach the authority after its issue, and when the
// oldest pending document runs out of that time.
type DeliveryDeadline struct {
	// WithinSeconds is the time from issue to delivery that the regime
	// allows (ZATCA: 86400, the 24-hour reporting limit).
	WithinSeconds int64 `json:"within_seconds"`
	// OldestDue is when the oldest pending document must have reached the
	// authority; absent while nothing is pending.
	OldestDue time.Time `json:"oldest_due,omitzero"`
	// Overdue says that the oldest pending document is past OldestDue:
	// the authority must be notified of the delay.
	Overdue bool `json:"overdue"`
}

// deliveryDeadline measures the outbox against the regime's deadline at
// now; nil for a regime (or a unit) without one.
func deliveryDeadline(r stamping.Regime, ob queue.OutboxStats, now time.Time) *DeliveryDeadline {
	d, ok := r.(stamping.Deadlined)
	if !ok || d.DeliveryDeadline() <= 0 {
		return nil
	}
	within := d.DeliveryDeadline()
	dl := &DeliveryDeadline{WithinSeconds: int64(within / time.Second)}
	if ob.Pending > 0 && !ob.Oldest.IsZero() {
		dl.OldestDue = ob.Oldest.Add(within).UTC()
		dl.Overdue = now.After(dl.OldestDue)
	}
	return dl
}

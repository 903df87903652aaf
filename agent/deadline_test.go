package agent

import (
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
)

// deadlinedRegime is a regime with a delivery deadline; only the
// deadline is ever called.
type deadlinedRegime struct {
	stamping.Regime
	within time.Duration
}

func (r deadlinedRegime) DeliveryDeadline() time.Duration { return r.within }

func TestDeliveryDeadline(t *testing.T) {
	issued := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	due := issued.Add(24 * time.Hour)
	pending := queue.OutboxStats{Pending: 3, Oldest: issued}
	cases := []struct {
		name   string
		regime stamping.Regime
		ob     queue.OutboxStats
		now    time.Time
		want   *DeliveryDeadline
	}{
		{"a regime without a deadline", struct{ stamping.Regime }{}, pending, issued, nil},
		{"a unit whose regime sends nothing", deadlinedRegime{within: 0}, pending, issued, nil},
		{"nothing pending", deadlinedRegime{within: 24 * time.Hour}, queue.OutboxStats{}, due.Add(time.Hour),
			&DeliveryDeadline{WithinSeconds: 86400}},
		{"pending, in time", deadlinedRegime{within: 24 * time.Hour}, pending, issued.Add(23 * time.Hour),
			&DeliveryDeadline{WithinSeconds: 86400, OldestDue: due}},
		{"pending, at the deadline", deadlinedRegime{within: 24 * time.Hour}, pending, due,
			&DeliveryDeadline{WithinSeconds: 86400, OldestDue: due}},
		{"pending, past the deadline", deadlinedRegime{within: 24 * time.Hour}, pending, due.Add(time.Second),
			&DeliveryDeadline{WithinSeconds: 86400, OldestDue: due, Overdue: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := deliveryDeadline(c.regime, c.ob, c.now)
			if (got == nil) != (c.want == nil) || got != nil && (got.WithinSeconds != c.want.WithinSeconds ||
				!got.OldestDue.Equal(c.want.OldestDue) || got.Overdue != c.want.Overdue) {
				t.Errorf("deliveryDeadline at %s = %+v, want %+v", c.now, got, c.want)
			}
		})
	}
}

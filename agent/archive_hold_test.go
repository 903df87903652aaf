package agent

import (
	"testing"

	"github.com/egsd/egsd/queue"
)

// TestArchiveHoldFrom: pruning keeps what the off-site archive has not
// stored, counting nothing as stored for another destination.
func TestArchiveHoldFrom(t *testing.T) {
	on := ArchiveConfig{Enabled: true, Endpoint: "s3.example:443", Bucket: "b", Prefix: "p", TLS: true}
	off := on
	off.Enabled = false
	here := queue.OffsiteCursor{Target: on.target(), Documents: 40, Answers: 12}
	for _, c := range []struct {
		name string
		cfg  ArchiveConfig
		cur  queue.OffsiteCursor
		want uint64
	}{
		{"archive off", off, here, 0},
		{"first document without its answer archived", on, here, 13},
		{"a cursor for another destination", on, queue.OffsiteCursor{Target: "https://other:443/b/p", Documents: 40, Answers: 40}, 1},
		{"nothing archived yet", on, queue.OffsiteCursor{}, 1},
	} {
		if got := c.cfg.HoldFrom(c.cur); got != c.want {
			t.Errorf("%s: HoldFrom = %d, want %d", c.name, got, c.want)
		}
	}
}

package agent

import (
	"net/http"

	"github.com/egsd/egsd/stamping"
)

// offlineRefusal is why issuing must stop for a regime that may issue only
// for a limited time while the authority signs nothing (KRA's VSCU), or
// nil. The time runs from the later of the authority's last answer and
// the issue of the oldest document still waiting for it: a unit whose
// queue is empty, or drains, issues again by itself.
func (a *Agent) offlineRefusal() (*IssueError, error) {
	ol, ok := a.regime.(stamping.OfflineLimited)
	if !ok {
		return nil, nil
	}
	waiting, err := a.store.Outbox(1)
	if err != nil || len(waiting) == 0 {
		return nil, err
	}
	since := waiting[0].EnqueuedAt
	// An autonomous unit's time runs from the oldest document waiting,
	// until the queue drains, whatever the authority answered meanwhile.
	if _, autonomous := a.regime.(stamping.Autonomous); !autonomous {
		if last := a.submit.State().LastContact; last.After(since) {
			since = last
		}
	}
	if err := ol.CheckOffline(since, a.time.Wall()); err != nil {
		return &IssueError{Problem{Type: problemUnavailable, Title: "Offline for too long: issuing stopped", Status: http.StatusServiceUnavailable,
			Detail: err.Error()}}, nil
	}
	return nil, nil
}

package agent

import (
	"fmt"
	"time"
)

// Unit states that GET /v1/status reports, derived by unitState from
// facts, never set on their own. The names are stable: the POS may act on
// them.
const (
	// StateNotOnboarded: the regime cannot stamp yet (a ZATCA unit without
	// its certificate). Sales are refused with 503.
	StateNotOnboarded = "not_onboarded"
	// StateClockError: the clock reads earlier than the last document.
	// Sales are refused with 409 until it is right.
	StateClockError = "clock_error"
	// StateDiskFull: a write failed because the disk of the data directory
	// is full. Sales are refused with 507 until space is freed; issuing
	// resumes by itself.
	StateDiskFull = "disk_full"
	// StateDiskLow: the disk of the data directory has less than
	// store.min_free_bytes free (a disk_space incident is open). Sales are
	// issued; free space before the disk fills.
	StateDiskLow = "disk_space_low"
	// StateSubmissionPaused: the authority refused the unit's credentials.
	// Sales are issued and kept; none is delivered until the credentials
	// are renewed and a manager replays.
	StateSubmissionPaused = "submission_paused"
	// StateOffline: the authority has been unreachable for longer than
	// submission.outage_after (an outage incident is open). Sales are
	// issued and kept, and delivered when it is back.
	StateOffline = "offline"
	// StateReady: the unit issues and delivers.
	StateReady = "ready"
)

// unitFacts are what the unit's state is derived from.
type unitFacts struct {
	notReady      error     // why the regime cannot stamp; nil when it can
	clockError    bool      // a clock incident is open: issuing is refused
	paused        string    // why submission is paused; "" when it is not
	outage        uint64    // the open outage incident, or 0
	failingSince  time.Time // when delivery started failing
	lastDelivery  string    // the last delivery error
	outageStarted time.Time // when the open outage began
	diskFull      bool      // a write failed for lack of space, and space has not returned
	diskLow       bool      // free space is below store.min_free_bytes
	diskDetail    string    // what is wrong with the disk and what to do
}

// unitState derives the state from f, the most severe first: a unit that
// cannot issue says so before a unit that cannot deliver. issuing says
// whether a sale can be issued now; detail says what the state means and
// what to do.
func unitState(f unitFacts) (state string, issuing bool, detail string) {
	switch {
	case f.notReady != nil:
		return StateNotOnboarded, false, f.notReady.Error()
	case f.clockError:
		return StateClockError, false, "the system clock reads earlier than the last document: sales are refused until the clock is right (set it, or fix NTP); issuing resumes by itself"
	case f.diskFull:
		return StateDiskFull, false, f.diskDetail
	case f.diskLow:
		return StateDiskLow, true, f.diskDetail
	case f.paused != "":
		return StateSubmissionPaused, true, f.paused + ": sales are issued and kept, but none is delivered until a technician renews the credentials (egsd onboard --renew --otp …) and a manager runs egsd replay"
	case f.outage != 0:
		since := f.outageStarted
		if since.IsZero() {
			since = f.failingSince
		}
		d := "the tax authority is unreachable"
		if !since.IsZero() {
			d += " since " + since.UTC().Format(time.RFC3339)
		}
		if f.lastDelivery != "" {
			d += fmt.Sprintf(" (%s)", f.lastDelivery)
		}
		return StateOffline, true, d + fmt.Sprintf(": sales are issued and kept, and delivered when it is back; notify the authority and record its reference on the outage incident (egsd incidents notify %d --reference REF)", f.outage)
	}
	return StateReady, true, ""
}

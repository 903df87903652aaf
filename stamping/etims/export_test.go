package etims

import "time"

// SetClock replaces the regime's clock, for tests of its periods.
func SetClock(r *Regime, now func() time.Time) { r.now = now }

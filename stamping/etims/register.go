package etims

import "github.com/egsd/egsd/stamping"

// The agent selects the regime as [regime] name = "etims".
func init() {
	stamping.Register(Name, func(cfg stamping.Config) (stamping.Regime, error) {
		r, err := New(cfg)
		if err != nil {
			return nil, err
		}
		return r, nil
	})
}

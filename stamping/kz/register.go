package kz

import "github.com/egsd/egsd/stamping"

// The agent selects the regime as [regime] name = "kz".
func init() {
	stamping.Register(Name, func(cfg stamping.Config) (stamping.Regime, error) {
		r, err := NewRegime(cfg)
		if err != nil {
			return nil, err
		}
		return r, nil
	})
}

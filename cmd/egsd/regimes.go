package main

// The regimes linked into this binary. Each registers itself in init.
import (
	_ "github.com/egsd/egsd/stamping/etims"
	_ "github.com/egsd/egsd/stamping/kz/archive" // the Kazakh regime, with its signed archive
	_ "github.com/egsd/egsd/stamping/testregime"
	_ "github.com/egsd/egsd/stamping/zatca"
)

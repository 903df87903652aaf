module github.com/egsd/egsd

go 1.26

require (
	github.com/decred/dcrd/dcrec/secp256k1/v4 v4.4.1
	github.com/kardianos/service v1.2.4
	github.com/pelletier/go-toml/v2 v2.2.4
	github.com/rs/zerolog v1.34.0
	go.etcd.io/bbolt v1.4.3
	golang.org/x/crypto v0.45.0
	golang.org/x/sys v0.38.0
	golang.org/x/term v0.37.0
)

require (
	github.com/mattn/go-colorable v0.1.13 // indirect
	github.com/mattn/go-isatty v0.0.19 // indirect
)

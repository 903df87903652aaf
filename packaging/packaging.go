// Package packaging holds what installs egsd on a till: the systemd unit
// template used by `egsd service install` and shipped rendered in the
// .deb and .rpm, the maintainer scripts and the package build config
// (nfpm.yaml).
package packaging

import (
	_ "embed"
	"strings"
	"text/template"
)

// SystemdUnit is the kardianos/service template for the systemd unit. It
// restarts the agent within two seconds of a failure and runs it as the
// dedicated user named in the service configuration.
//
//go:embed egsd.service.tmpl
var SystemdUnit string

// ServiceUser is the dedicated system user the service runs as on Linux.
const ServiceUser = "egsd"

// Installed paths of the packaged service.
const (
	BinaryPath = "/usr/bin/egsd"
	ConfigPath = "/etc/egsd/config.toml"
	DataDir    = "/var/lib/egsd"
)

// UnitData is what the unit template reads, named as kardianos/service
// names it.
type UnitData struct {
	Name, Description, Path, UserName string
	Arguments                         []string
}

// unitFuncs are kardianos/service's template functions (service_linux.go),
// so the packaged unit is byte for byte the one `egsd service install`
// writes for the same paths.
var unitFuncs = template.FuncMap{
	"cmd":       func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` },
	"cmdEscape": func(s string) string { return strings.ReplaceAll(s, " ", `\x20`) },
}

// RenderSystemdUnit renders SystemdUnit for d.
func RenderSystemdUnit(d UnitData) (string, error) {
	tmpl, err := template.New("unit").Funcs(unitFuncs).Parse(SystemdUnit)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// PackagedUnit is the unit the packages install: the binary and
// configuration at their packaged paths, run as ServiceUser.
func PackagedUnit() (string, error) {
	return RenderSystemdUnit(UnitData{
		Name:        "egsd",
		Description: "egsd fiscal device agent: issues, stamps, prints and delivers fiscal documents",
		Path:        BinaryPath,
		UserName:    ServiceUser,
		Arguments:   []string{"run", "--config", ConfigPath},
	})
}

// WindowsRecovery are the kardianos/service options that make the Service
// Control Manager restart egsd 2 seconds after it fails, as systemd's
// Restart=on-failure and RestartSec=2 do, the failure count reset after a
// minute without one.
var WindowsRecovery = map[string]any{
	"OnFailure":              "restart",
	"OnFailureDelayDuration": "2s",
	"OnFailureResetPeriod":   60,
}

// Package packaging holds what installs egsd on a till: the systemd unit
// template used by `egsd service install`, and the package build config
// (nfpm.yaml).
package packaging

import _ "embed"

// SystemdUnit is the kardianos/service template for the systemd unit. It
// restarts the agent within two seconds of a failure and runs it as the
// dedicated user named in the service configuration.
//
//go:embed egsd.service.tmpl
var SystemdUnit string

// ServiceUser is the dedicated system user the service runs as on Linux.
const ServiceUser = "egsd"

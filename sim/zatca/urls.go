package zatcasim

import (
	"fmt"
	"io"
	"strings"

	"github.com/egsd/egsd/stamping/csr"
)

// Environments are ZATCA's three environments in the order of §5.1.
var Environments = []csr.Environment{csr.DeveloperPortal, csr.Simulation, csr.Core}

// BasePath returns the base path of env below the server's root, e.g.
// "/e-invoicing/developer-portal" (§5.1).
func BasePath(env csr.Environment) string { return "/e-invoicing/" + env.String() }

// BaseURL returns the base URL of env for a simulator served at root
// (e.g. "http://127.0.0.1:8443" or an httptest.Server's URL): what a unit
// is configured with in place of https://gw-fatoora.zatca.gov.sa/….
func BaseURL(root string, env csr.Environment) string {
	return strings.TrimSuffix(root, "/") + BasePath(env)
}

// WriteURLs prints, for a simulator served at root, the base URL of each
// environment and how to get an OTP there, then the admin endpoints; the
// banner of `egsd sim zatca`. OTPs other than the developer portal's are
// not printed.
func (s *Server) WriteURLs(w io.Writer, root string) error {
	root = strings.TrimSuffix(root, "/")
	otp := "none configured (egsd sim zatca --otp NNNNNN)"
	if len(s.OTPs) > 0 || s.CheckOTP != nil {
		otp = "as configured"
	}
	var b strings.Builder
	for _, env := range Environments {
		note := "OTP " + otp
		if env == csr.DeveloperPortal {
			note = "OTP " + DeveloperPortalOTP
		}
		fmt.Fprintf(&b, "%-17s %s  (%s)\n", env.String(), BaseURL(root, env), note)
	}
	fmt.Fprintf(&b, "%-17s %s/admin/faults (GET, POST, DELETE), %s/admin/state, POST %s/admin/down, %s/admin/up\n",
		"admin", root, root, root, root)
	_, err := io.WriteString(w, b.String())
	return err
}

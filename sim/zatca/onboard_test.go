package zatcasim

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/egsd/egsd/stamping/csr"
	"github.com/egsd/egsd/stamping/sale"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TestComplianceCSIDErrors: the OTP and CSR rules of POST /compliance
// (§4.3, §4.4, §5.1, §5.5).
func TestComplianceCSIDErrors(t *testing.T) {
	h := newHarness(t, nil)
	u := h.newEGS("1100")
	good := u.csrBody()

	long := h.newEGS("1100")
	long.req.Location = strings.Repeat("x", 65)
	// csr.Build refuses values over 64 characters, so the CSR is built
	// and signed by hand.
	longBody := map[string]string{"csr": csr.APIBody(buildUnchecked(t, long, long.req))}

	tests := []struct {
		name   string
		otp    string
		body   any
		status int
		code   string
	}{
		{"missing OTP", "", good, 400, "Missing-OTP"},
		{"wrong OTP", "654321", good, 400, "Invalid-OTP"},
		{"OTP of five digits", "12334", good, 400, "Invalid-OTP"},
		{"OTP with letters", "12a345", good, 400, "Invalid-OTP"},
		{"missing CSR", DeveloperPortalOTP, map[string]string{}, 400, "Missing-CSR"},
		{"CSR not base64", DeveloperPortalOTP, map[string]string{"csr": "%%%"}, 400, "Invalid-CSR"},
		{"CSR garbage", DeveloperPortalOTP, map[string]string{"csr": base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"))}, 400, "Invalid-CSR"},
		{"CSR signature broken", DeveloperPortalOTP, map[string]string{"csr": base64.StdEncoding.EncodeToString(pemReplace(t, good["csr"], "Riyadh Branch", "Jeddah Branch"))}, 400, "Invalid-CSR"},
		{"value over 64 characters", DeveloperPortalOTP, longBody, 400, "Invalid-CSR"},
		{"body not JSON", DeveloperPortalOTP, []byte("csr=abc"), 400, "Invalid-Request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.otp != "" {
				hdr["OTP"] = tt.otp
			}
			var e apiErr
			resp := h.do(req{path: "/compliance", header: hdr, body: tt.body}, &e)
			if resp.StatusCode != tt.status || e.Code != tt.code || len(e.Errors) != 1 || e.Errors[0].Code != tt.code || e.Message == "" {
				t.Errorf("%d %+v, want %d %s", resp.StatusCode, e, tt.status, tt.code)
			}
		})
	}
	if h.sim.Stats().CSIDs != 0 {
		t.Error("a CSID was issued for a refused request")
	}
	// The developer portal's OTP works only there.
	h.env = csr.Simulation
	var e apiErr
	if resp := h.do(req{path: "/compliance", header: map[string]string{"OTP": DeveloperPortalOTP}, body: good}, &e); resp.StatusCode != 400 || e.Code != "Invalid-OTP" {
		t.Errorf("123345 in simulation: %d %+v", resp.StatusCode, e)
	}
}

// pemReplace changes text inside the DER of a base64-PEM CSR field.
func pemReplace(t *testing.T, field, old, repl string) []byte {
	t.Helper()
	p, err := csr.ParseAPIBody(field)
	if err != nil {
		t.Fatal(err)
	}
	der := bytes.Replace(p.Raw, []byte(old), []byte(repl), 1)
	if bytes.Equal(der, p.Raw) {
		t.Fatalf("%q not in the CSR", old)
	}
	return csr.PEM(der)
}

// buildUnchecked is csr.Build without its validation, for CSRs ZATCA
// refuses: the CertificationRequestInfo written as the SDK lays it out
// (§4.2) and signed by the unit's key.
func buildUnchecked(t *testing.T, u *egs, r csr.Request) []byte {
	t.Helper()
	atv := func(b *cryptobyte.Builder, oid []int, tag cbasn1.Tag, v string) {
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oid)
				b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(v)) })
			})
		})
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			atv(b, []int{2, 5, 4, 6}, cbasn1.PrintableString, r.Country)
			atv(b, []int{2, 5, 4, 11}, cbasn1.UTF8String, r.OrganizationUnit)
			atv(b, []int{2, 5, 4, 10}, cbasn1.UTF8String, r.Organization)
			atv(b, []int{2, 5, 4, 3}, cbasn1.UTF8String, r.CommonName)
		})
		b.AddBytes(u.key.PublicKeyDER())
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier([]int{1, 2, 840, 113549, 1, 9, 14})
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier([]int{1, 3, 6, 1, 4, 1, 311, 20, 2})
							b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
								b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(r.Environment.TemplateName())) })
							})
						})
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier([]int{2, 5, 29, 17})
							b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
								b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
									b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
										b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
											atv(b, []int{2, 5, 4, 4}, cbasn1.UTF8String, r.SerialNumber)
											atv(b, []int{0, 9, 2342, 19200300, 100, 1, 1}, cbasn1.UTF8String, r.OrganizationIdentifier)
											atv(b, []int{2, 5, 4, 12}, cbasn1.UTF8String, r.InvoiceType)
											atv(b, []int{2, 5, 4, 26}, cbasn1.UTF8String, r.Location)
											atv(b, []int{2, 5, 4, 15}, cbasn1.UTF8String, r.Industry)
										})
									})
								})
							})
						})
					})
				})
			})
		})
	})
	info := b.BytesOrPanic()
	sig, err := u.key.SignSHA256(info)
	if err != nil {
		t.Fatal(err)
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(info)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier([]int{1, 2, 840, 10045, 4, 3, 2}) })
		b.AddASN1BitString(sig)
	})
	der := out.BytesOrPanic()
	// The same builder with a valid request must give what csr.Build
	// gives, or this helper does not test what it claims to.
	if p, err := csr.Parse(der); err != nil || p.Request() != r {
		t.Fatalf("buildUnchecked made a CSR that parses to %+v, %v", p, err)
	}
	return der
}

// OTPs of the simulation and core environments come from Config.OTPs or
// Config.CheckOTP (§5.1).
func TestConfiguredOTPs(t *testing.T) {
	var asked []string
	sim := New(Config{OTPs: []string{"111111"}, CheckOTP: func(env, otp string) bool {
		asked = append(asked, env+":"+otp)
		return otp == "222222" && env == "core"
	}})
	h := newHarness(t, sim)
	for _, c := range []struct {
		env    csr.Environment
		otp    string
		status int
	}{
		{csr.Simulation, "111111", 200},
		{csr.Core, "111111", 200},
		{csr.DeveloperPortal, "111111", 200},
		{csr.Core, "222222", 200},
		{csr.Simulation, "222222", 400},
		{csr.Core, "333333", 400},
		{csr.DeveloperPortal, DeveloperPortalOTP, 200},
	} {
		h.env = c.env
		u := h.newEGS("0100")
		var e apiErr
		if resp := h.do(req{path: "/compliance", header: map[string]string{"OTP": c.otp}, body: u.csrBody()}, &e); resp.StatusCode != c.status {
			t.Errorf("%s OTP %s: %d %+v, want %d", c.env, c.otp, resp.StatusCode, e, c.status)
		}
	}
	if strings.Join(asked, " ") != "core:222222 simulation:222222 core:333333" {
		t.Errorf("CheckOTP asked %v", asked)
	}
}

// The zero Server works, its CA is made once, and every environment and
// any prefix before /e-invoicing/ reach the API (§5.1).
func TestZeroValueAndPaths(t *testing.T) {
	var sim Server
	h := newHarness(t, &sim)
	ca := sim.CACertificate()
	for _, prefix := range []string{"", "/zatca", "/a/b"} {
		for _, env := range Environments {
			u := h.newEGS("0100")
			var c creds
			resp := h.do(req{path: prefix + BasePath(env) + "/compliance", abs: true,
				header: map[string]string{"OTP": DeveloperPortalOTP}, body: u.csrBody()}, &c)
			// The zero Server knows only the developer portal's OTP.
			want := http.StatusOK
			if env != csr.DeveloperPortal {
				want = http.StatusBadRequest
			}
			if resp.StatusCode != want {
				t.Errorf("%s%s: %d, want %d", prefix, BasePath(env), resp.StatusCode, want)
			}
		}
	}
	if !bytes.Equal(sim.CACertificate(), ca) {
		t.Error("the CA changed")
	}
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/e-invoicing/sandbox/compliance", 404},
		{"POST", "/e-invoicing/core/unknown", 404},
		{"POST", "/compliance", 404},
		{"GET", "/e-invoicing/core/compliance", 405},
		{"DELETE", "/e-invoicing/core/production/csids", 405},
		{"GET", "/admin/nothing", 404},
	} {
		if resp := h.do(req{method: c.method, path: c.path, abs: true}, nil); resp.StatusCode != c.status {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
	}
	var b strings.Builder
	if err := sim.WriteURLs(&b, "http://127.0.0.1:8443/"); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "WriteURLs", b.String(),
		"developer-portal  http://127.0.0.1:8443/e-invoicing/developer-portal  (OTP 123345)",
		"simulation        http://127.0.0.1:8443/e-invoicing/simulation  (OTP none configured",
		"core              http://127.0.0.1:8443/e-invoicing/core",
		"http://127.0.0.1:8443/admin/faults")
}

// Logf gets one line per API request and never a credential or OTP.
func TestLogf(t *testing.T) {
	var lines []string
	var mu sync.Mutex
	sim := New(Config{Logf: func(format string, args ...any) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf(format, args...))
		mu.Unlock()
	}})
	h := newHarness(t, sim)
	u := h.ready("0100")
	d := u.stamp(sale.Invoice, false)
	u.submit(EndpointReporting, u.pcsid, d.body())
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(lines, "\n")
	mustContain(t, "log", all, "POST /e-invoicing/developer-portal/compliance: 200", "POST /e-invoicing/developer-portal/invoices/reporting/single: 200")
	for _, secret := range []string{u.ccsid.Secret, u.pcsid.Secret, u.pcsid.BinarySecurityToken[:40], DeveloperPortalOTP} {
		if strings.Contains(all, secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
}

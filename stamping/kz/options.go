package kz

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/egsd/egsd/stamping"
)

// Options is the regime's configuration, [regime.options] in the agent's
// TOML (docs/kz.md "Configuration"). The seller's BIN/IIN is
// seller.vat_number.
type Options struct {
	// OFDAddress is the OFD's host:port (TCP); required.
	OFDAddress string `toml:"ofd_address"`
	// KKMID is the id the OFD gave the KKM, sent in every header; required.
	KKMID uint32 `toml:"kkm_id"`
	// Token is the first TOKEN the OFD gave; the unit adopts every later
	// one from the OFD's answers. Required.
	Token uint32 `toml:"token"`
	// RNM is the registration number at the tax authority (РНМ, 12
	// digits); ZNM the factory (serial) number (ЗНМ). Both required.
	RNM string `toml:"rnm"`
	ZNM string `toml:"znm"`
	// OFDName and OFDWebsite are printed on every receipt (Order 626).
	OFDName    string `toml:"ofd_name"`
	OFDWebsite string `toml:"ofd_website"`
	// ConsumerHost is the base of the consumer QR; default
	// "http://consumer.oofd.kz".
	ConsumerHost string `toml:"consumer_host"`
	// SectionCode is the section (department) of every line; default "1".
	SectionCode string `toml:"section_code"`
	// ShiftLimit is how long a shift stays open before it is closed by
	// itself before the next document, a Go duration; default "23h50m",
	// ten minutes inside the legal 24 h so that the OFD's clock never
	// sees a longer shift.
	ShiftLimit string `toml:"shift_limit"`
	// AutonomousLimit is how long the unit may issue autonomously; default
	// "72h" (spec/kazakhstan.md §B4).
	AutonomousLimit string `toml:"autonomous_limit"`
	// DialTimeout, ReadTimeout and WriteTimeout bound one exchange with
	// the OFD, Go durations; defaults 5s, 10s, 5s.
	DialTimeout  string `toml:"dial_timeout"`
	ReadTimeout  string `toml:"read_timeout"`
	WriteTimeout string `toml:"write_timeout"`
}

// Settings are resolved Options.
type Settings struct {
	OFDAddress      string
	KKMID, Token    uint32
	RNM, ZNM        string
	OFDName         string
	OFDWebsite      string
	ConsumerHost    string
	SectionCode     string
	ShiftLimit      time.Duration
	AutonomousLimit time.Duration
	Dial, Read      time.Duration
	Write           time.Duration
	SellerTaxID     string
}

// DefaultConsumerHost is the consumer QR's base unless configured.
const DefaultConsumerHost = "http://consumer.oofd.kz"

// Resolve checks the options and the seller and fills in defaults. Each
// problem names its key.
func (o Options) Resolve(seller stamping.Seller) (Settings, error) {
	s := Settings{OFDAddress: o.OFDAddress, KKMID: o.KKMID, Token: o.Token, RNM: o.RNM, ZNM: o.ZNM,
		OFDName: strings.TrimSpace(o.OFDName), OFDWebsite: strings.TrimSpace(o.OFDWebsite), ConsumerHost: o.ConsumerHost,
		SectionCode: o.SectionCode, SellerTaxID: seller.VATNumber}
	if err := ValidateTaxID(seller.VATNumber); err != nil {
		return s, fmt.Errorf("seller.vat_number: the seller's BIN/IIN: %w", err)
	}
	if _, _, err := net.SplitHostPort(o.OFDAddress); err != nil {
		return s, &stamping.OptionError{Option: "ofd_address", Rule: fmt.Sprintf("must be the OFD's host:port, not %q", o.OFDAddress)}
	}
	if o.KKMID == 0 {
		return s, &stamping.OptionError{Option: "kkm_id", Rule: "is required: the KKM's id at the OFD (a number above 0)"}
	}
	if o.Token == 0 {
		return s, &stamping.OptionError{Option: "token", Rule: "is required: the first TOKEN the OFD issued for the KKM (a number above 0)"}
	}
	if len(o.RNM) != 12 || strings.Trim(o.RNM, "0123456789") != "" {
		return s, &stamping.OptionError{Option: "rnm", Rule: fmt.Sprintf("%q must be the KKM's registration number (РНМ), 12 digits", o.RNM)}
	}
	if o.ZNM == "" || len(o.ZNM) > 64 {
		return s, &stamping.OptionError{Option: "znm", Rule: "is required: the KKM's factory number (ЗНМ), up to 64 characters"}
	}
	if s.OFDName == "" {
		return s, &stamping.OptionError{Option: "ofd_name", Rule: "is required: the OFD's name is printed on every receipt"}
	}
	if s.OFDWebsite == "" {
		return s, &stamping.OptionError{Option: "ofd_website", Rule: "is required: the OFD's website for checking receipts is printed on every receipt"}
	}
	if s.ConsumerHost == "" {
		s.ConsumerHost = DefaultConsumerHost
	}
	if u, err := url.Parse(s.ConsumerHost); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return s, &stamping.OptionError{Option: "consumer_host", Rule: fmt.Sprintf("%q must be an http or https URL without a query", s.ConsumerHost)}
	}
	if s.SectionCode == "" {
		s.SectionCode = "1"
	}
	durations := []struct {
		key string
		v   string
		def time.Duration
		dst *time.Duration
	}{
		{"shift_limit", o.ShiftLimit, 23*time.Hour + 50*time.Minute, &s.ShiftLimit},
		{"autonomous_limit", o.AutonomousLimit, 72 * time.Hour, &s.AutonomousLimit},
		{"dial_timeout", o.DialTimeout, DefaultDialTimeout, &s.Dial},
		{"read_timeout", o.ReadTimeout, DefaultReadTimeout, &s.Read},
		{"write_timeout", o.WriteTimeout, DefaultWriteTimeout, &s.Write},
	}
	for _, d := range durations {
		*d.dst = d.def
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil || v <= 0 {
			return s, &stamping.OptionError{Option: d.key, Rule: fmt.Sprintf("%q must be a positive Go duration such as %q", d.v, d.def.String())}
		}
		*d.dst = v
	}
	if s.ShiftLimit > 24*time.Hour {
		return s, &stamping.OptionError{Option: "shift_limit", Rule: "must not exceed 24h, the legal length of a shift"}
	}
	if s.AutonomousLimit > 72*time.Hour {
		return s, &stamping.OptionError{Option: "autonomous_limit", Rule: "must not exceed 72h, the legal length of the autonomous mode"}
	}
	return s, nil
}

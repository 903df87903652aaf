package agent

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// Config is egsd's configuration, read from TOML. config.example.toml at
// the repository root documents every key; keep the two in step (a test
// checks that the example decodes strictly and sets every key).
type Config struct {
	// DataDir holds the store, the stamping key and the owner token.
	DataDir string        `toml:"data_dir"`
	API     APIConfig     `toml:"api"`
	Regime  RegimeConfig  `toml:"regime"`
	Seller  SellerConfig  `toml:"seller"`
	Sale    SaleConfig    `toml:"sale"`
	Device  DeviceConfig  `toml:"device"`
	Auth    AuthConfig    `toml:"auth"`
	Clock   ClockConfig   `toml:"clock"`
	Store   StoreConfig   `toml:"store"`
	Submit  SubmitConfig  `toml:"submission"`
	Printer PrinterConfig `toml:"printer"`
	Log     LogConfig     `toml:"log"`
	// Failure is the unit's own failures and the sales entered after them.
	Failure FailureConfig `toml:"unit_failure"`
	Metrics MetricsConfig `toml:"metrics"`
	Archive ArchiveConfig `toml:"archive"`
}

// FailureConfig is how the unit notices its own downtime and how late a
// sale made meanwhile may be entered.
type FailureConfig struct {
	// HeartbeatEvery is how often the running unit records that it is up.
	HeartbeatEvery Duration `toml:"heartbeat_every"`
	// After is the gap since the last heartbeat (not a clean stop) that
	// opens a unit failure incident at start.
	After Duration `toml:"after"`
	// LateEntryMaxAge is the oldest transaction time a late entry may
	// have.
	LateEntryMaxAge Duration `toml:"late_entry_max_age"`
	// LateEntryAfterClose is how long after its incident closed a late
	// entry is still accepted for it.
	LateEntryAfterClose Duration `toml:"late_entry_after_close"`
}

// MetricsConfig is the Prometheus endpoint, GET /metrics.
type MetricsConfig struct {
	// TokenFile holds the bearer token a scraper must send over TCP: one
	// line of at least MinMetricsToken characters, in a file other users
	// cannot read. "" (the default) refuses TCP scrapes; over
	// api.unix_socket, whose file mode limits who may connect, no token is
	// needed.
	TokenFile string `toml:"token_file"`
}

// SubmitConfig is the delivery of documents to the authority.
type SubmitConfig struct {
	// Enabled starts the worker that drains the outbox.
	Enabled bool `toml:"enabled"`
	// Concurrency bounds the documents that need no order at the
	// authority at once.
	Concurrency int `toml:"concurrency"`
	// OutageAfter is how long the authority may be unreachable before an
	// outage incident opens.
	OutageAfter Duration `toml:"outage_after"`
	// MaxBackoff caps the wait between attempts at one document.
	MaxBackoff Duration `toml:"max_backoff"`
	// StandardHandover is when a document the authority must clear (ZATCA
	// standard invoices) is printed and handed over: "cleared" (from the
	// authority's cleared document, once cleared) or "issued" (at once,
	// from the issued document).
	StandardHandover string `toml:"standard_handover"`
}

// PrinterConfig is the receipt printer. The profile gives the model's
// defaults; the keys below it override single values.
type PrinterConfig struct {
	Enabled bool   `toml:"enabled"`
	Profile string `toml:"profile"` // a built-in profile: egsd printer profiles
	// Port is the device path (/dev/ttyUSB0, /dev/serial/by-id/…, COM3,
	// or a USB printer-class file /dev/usb/lp0). Alternatively, the
	// USB ids find the adapter wherever it is plugged in.
	Port       string `toml:"port"`
	USBVendor  string `toml:"usb_vendor"`  // hex, e.g. "04b8"
	USBProduct string `toml:"usb_product"` // hex
	USBSerial  string `toml:"usb_serial"`  // optional
	Baud       int    `toml:"baud"`        // 0: the profile's
	DataBits   int    `toml:"data_bits"`
	Parity     string `toml:"parity"` // none, even, odd
	StopBits   int    `toml:"stop_bits"`
	// ReplyTimeout is how long a status reply may take; JobTimeout how long
	// the printer may take to confirm a job once sent; WriteTimeout how long
	// one write may block before the printer counts as stalled.
	ReplyTimeout Duration `toml:"reply_timeout"`
	JobTimeout   Duration `toml:"job_timeout"`
	WriteTimeout Duration `toml:"write_timeout"`
	// RetryEvery is how often a waiting job is retried and the printer's
	// state refreshed.
	RetryEvery Duration `toml:"retry_every"`
	// ProvisionalSlip prints, for a regime whose fiscal receipt carries the
	// authority's signature (eTIMS), a slip marked NOT A TAX INVOICE at
	// once, while the receipt waits for the signature. Off by default.
	ProvisionalSlip bool `toml:"provisional_slip"`

	// Overrides of the profile; unset keys keep the profile's value.
	WidthDots      *int    `toml:"width_dots"`
	Columns        *int    `toml:"columns"`
	Arabic         *string `toml:"arabic"` // raster or codepage
	ArabicCodePage *int    `toml:"arabic_code_page"`
	// Cyrillic is raster or codepage; CyrillicEncoding (cp866, cp1251) and
	// CyrillicCodePage (its ESC t number on the model) are for codepage.
	Cyrillic         *string `toml:"cyrillic"`
	CyrillicEncoding *string `toml:"cyrillic_encoding"`
	CyrillicCodePage *int    `toml:"cyrillic_code_page"`
	QRNative         *bool   `toml:"qr_native"`
	QRMaxBytes       *int    `toml:"qr_max_bytes"`
	QRModule         *int    `toml:"qr_module"`
	RasterBandRows   *int    `toml:"raster_band_rows"`
	RasterScale2x    *bool   `toml:"raster_scale2x"`
	Cut              *string `toml:"cut"` // full, partial, none
}

// APIConfig is the local HTTP API.
type APIConfig struct {
	Listen       string `toml:"listen"`      // host:port, loopback only by default
	UnixSocket   string `toml:"unix_socket"` // optional path; "" for none
	MaxBodyBytes int64  `toml:"max_body_bytes"`
}

// RegimeConfig picks the tax regime.
type RegimeConfig struct {
	Name     string `toml:"name"`
	Currency string `toml:"currency"` // default currency of sales
	// Options is the regime's own table, [regime.options], decoded strictly
	// by the regime.
	Options map[string]any `toml:"options"`
}

// SellerConfig is the taxpayer.
type SellerConfig struct {
	Name           string `toml:"name"`
	NameLocal      string `toml:"name_local"`
	VATNumber      string `toml:"vat_number"`
	IDScheme       string `toml:"id_scheme"`
	ID             string `toml:"id"`
	Street         string `toml:"street"`
	BuildingNumber string `toml:"building_number"`
	District       string `toml:"district"`
	City           string `toml:"city"`
	PostalCode     string `toml:"postal_code"`
	Country        string `toml:"country"`
}

// SaleConfig is how the unit settles sales, whatever the regime.
type SaleConfig struct {
	// CashRounding is the increment the amount due of a sale paid in cash
	// only is rounded to: "none", "0.05", "0.25" or "1.00". A sale may
	// name it too, but only the same.
	CashRounding CashRounding `toml:"cash_rounding"`
}

// CashRounding is a configured cash rounding increment, checked when the
// configuration is read so that an error gives its line.
type CashRounding string

// UnmarshalText accepts "none" or one of sale.CashRoundingIncrements.
func (r *CashRounding) UnmarshalText(b []byte) error {
	v := CashRounding(b)
	if _, err := v.Increment(); err != nil {
		return err
	}
	*r = v
	return nil
}

// Increment is the increment as a decimal; zero for "none" (or "").
func (r CashRounding) Increment() (money.Decimal, error) {
	inc, err := sale.ParseCashRounding(string(r))
	var errs sale.Errors
	if errors.As(err, &errs) {
		return money.Decimal{}, fmt.Errorf("sale.cash_rounding: %s", errs[0].Rule)
	}
	return inc, err
}

// DeviceConfig identifies the unit.
type DeviceConfig struct {
	Serial string `toml:"serial"`
	Model  string `toml:"model"`
}

// AuthConfig is the session and password policy.
type AuthConfig struct {
	SessionTTL      Duration `toml:"session_ttl"`
	LockoutAttempts int      `toml:"lockout_attempts"`
	LockoutDuration Duration `toml:"lockout_duration"`
	// MinPassword is the fewest characters (Unicode code points) a
	// password may have; never below MinPasswordFloor.
	MinPassword int `toml:"min_password_length"`
	// BcryptCost is the password hashing cost (bcrypt, 10–14 sensible).
	BcryptCost int `toml:"bcrypt_cost"`
}

// MinPasswordFloor is the default and the lowest allowed
// auth.min_password_length: the minimum the API documents.
const MinPasswordFloor = 10

// ClockConfig is the clock guard.
type ClockConfig struct {
	// BackwardTolerance is how far the wall clock may step back relative to
	// the monotonic clock before issuing stops.
	BackwardTolerance Duration `toml:"backward_tolerance"`
}

// StoreConfig tunes the store.
type StoreConfig struct {
	// GroupCommit lets concurrent sales, and the answers recorded
	// meanwhile, share one fsync; false commits each on its own.
	GroupCommit bool `toml:"group_commit"`
	// MinFreeBytes is the free space on the data directory's disk below
	// which the unit warns (status, metrics, an incident) while it still
	// issues; 0 turns the warning off.
	MinFreeBytes int64 `toml:"min_free_bytes"`
	// RetentionYears is how many years a document is kept, counted from
	// the end of the calendar year it was issued in, before `egsd journal
	// compact` may remove it; 0 means the regime's legal period
	// (LegalRetentionYears). It may be longer than that, never shorter.
	RetentionYears int `toml:"retention_years"`
}

// legalRetentionYears are the periods the regimes' laws require records to
// be kept: Saudi Arabia's VAT Implementing Regulations (Article 66) six
// years; Kazakhstan's accounting law five; Kenya's Tax Procedures Act 2015
// (section 23) five. Each is counted from the end of the tax period, which
// ends no later than the calendar year.
var legalRetentionYears = map[string]int{"zatca": 6, "kz": 5, "etims": 5}

// LegalRetentionYears returns the years regime's law requires documents
// to be kept, and false for a regime without one (the test regimes).
func LegalRetentionYears(regime string) (int, bool) {
	y, ok := legalRetentionYears[regime]
	return y, ok
}

// RetentionYears returns how many years this unit keeps its documents:
// store.retention_years, or the regime's legal period; false when neither
// says (nothing may be removed then).
func (c *Config) RetentionYears() (int, bool) {
	if c.Store.RetentionYears > 0 {
		return c.Store.RetentionYears, true
	}
	return LegalRetentionYears(c.Regime.Name)
}

// RetentionCutoff is the first instant whose documents must still be kept
// at now, for a retention of years counted from the end of the calendar
// year of issue: documents issued before it may be removed.
func RetentionCutoff(now time.Time, years int) time.Time {
	return time.Date(now.UTC().Year()-years, time.January, 1, 0, 0, 0, 0, time.UTC)
}

// DefaultMinFreeBytes is store.min_free_bytes by default: room for some
// ten thousand documents after the warning.
const DefaultMinFreeBytes = 256 << 20

// LogConfig configures logging.
type LogConfig struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // auto (console on a terminal, else JSON), json, console
}

// Duration is a time.Duration written as a string such as "12h" or "5m".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"90s\", \"5m\" or \"12h\"", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// DefaultConfig returns the configuration used for keys a file leaves out.
func DefaultConfig() Config {
	return Config{
		DataDir: "/var/lib/egsd",
		API:     APIConfig{Listen: "127.0.0.1:7070", MaxBodyBytes: 1 << 20},
		Regime:  RegimeConfig{Currency: "SAR"},
		Sale:    SaleConfig{CashRounding: "none"},
		Auth: AuthConfig{
			SessionTTL:      Duration{12 * time.Hour},
			LockoutAttempts: 5,
			LockoutDuration: Duration{5 * time.Minute},
			MinPassword:     MinPasswordFloor,
			BcryptCost:      11,
		},
		Clock: ClockConfig{BackwardTolerance: Duration{2 * time.Second}},
		Store: StoreConfig{GroupCommit: true, MinFreeBytes: DefaultMinFreeBytes},
		Submit: SubmitConfig{Enabled: false, Concurrency: 4,
			OutageAfter: Duration{5 * time.Minute}, MaxBackoff: Duration{5 * time.Minute}, StandardHandover: "cleared"},
		Printer: PrinterConfig{Profile: "generic-80mm", DataBits: 8, Parity: "none", StopBits: 1,
			ReplyTimeout: Duration{2 * time.Second}, JobTimeout: Duration{30 * time.Second},
			WriteTimeout: Duration{10 * time.Second}, RetryEvery: Duration{5 * time.Second}},
		Log: LogConfig{Level: "info", Format: "auto"},
		Failure: FailureConfig{HeartbeatEvery: Duration{time.Minute}, After: Duration{10 * time.Minute},
			LateEntryMaxAge: Duration{7 * 24 * time.Hour}, LateEntryAfterClose: Duration{24 * time.Hour}},
		Archive: defaultArchiveConfig(),
	}
}

// DemoConfig is the configuration of `egsd run --demo`: the test regime, a
// demo seller, and dataDir.
func DemoConfig(dataDir string) Config {
	c := DefaultConfig()
	c.DataDir = dataDir
	c.Regime.Name = "test"
	c.Seller = SellerConfig{
		Name: "Demo Store", NameLocal: "متجر تجريبي", VATNumber: "399999999900003",
		IDScheme: "CRN", ID: "1010010000", Street: "King Fahd Road", BuildingNumber: "1234",
		District: "Al Olaya", City: "Riyadh", PostalCode: "12345", Country: "SA",
	}
	c.Device = DeviceConfig{Serial: "DEMO-0001", Model: "egsd-demo"}
	return c
}

// LoadConfig reads path over the defaults. Unknown keys and wrong types are
// errors that give the line.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig decodes TOML data (named name in errors) over the defaults
// and validates the result.
func ParseConfig(name string, data []byte) (Config, error) {
	c := DefaultConfig()
	if err := decodeStrict(data, &c); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

func decodeStrict(data []byte, v any) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var missing *toml.StrictMissingError
	var decErr *toml.DecodeError
	switch {
	case errors.As(err, &missing):
		var msgs []string
		for _, e := range missing.Errors {
			row, _ := e.Position()
			msgs = append(msgs, fmt.Sprintf("line %d: unknown key %q", row, strings.Join(e.Key(), ".")))
		}
		return errors.New(strings.Join(msgs, "; "))
	case errors.As(err, &decErr):
		row, _ := decErr.Position()
		return fmt.Errorf("line %d: %s", row, strings.TrimPrefix(decErr.Error(), "toml: "))
	}
	return err
}

// Validate checks values that decode but make no sense.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.DataDir == "" {
		bad("data_dir is required")
	}
	if c.API.Listen == "" && c.API.UnixSocket == "" {
		bad("api.listen or api.unix_socket is required")
	}
	if c.API.MaxBodyBytes < 1024 {
		bad("api.max_body_bytes must be at least 1024")
	}
	if len(c.Regime.Currency) != 3 {
		bad("regime.currency must be a three-letter ISO 4217 code")
	}
	if _, err := c.Sale.CashRounding.Increment(); err != nil {
		errs = append(errs, err)
	}
	if c.Auth.SessionTTL.Duration < time.Minute {
		bad("auth.session_ttl must be at least 1m")
	}
	if c.Auth.LockoutAttempts < 1 {
		bad("auth.lockout_attempts must be at least 1")
	}
	if c.Auth.LockoutDuration.Duration < 0 {
		bad("auth.lockout_duration must not be negative")
	}
	if c.Auth.MinPassword < MinPasswordFloor {
		bad("auth.min_password_length must be at least %d", MinPasswordFloor)
	}
	if c.Auth.BcryptCost < 4 || c.Auth.BcryptCost > 16 {
		bad("auth.bcrypt_cost must be between 4 and 16")
	}
	if c.Submit.Concurrency < 1 || c.Submit.Concurrency > 64 {
		bad("submission.concurrency must be between 1 and 64")
	}
	if f := c.Failure; f.HeartbeatEvery.Duration < time.Second || f.After.Duration < 2*f.HeartbeatEvery.Duration {
		bad("unit_failure.heartbeat_every must be at least 1s, and unit_failure.after at least twice as long")
	}
	if f := c.Failure; f.LateEntryMaxAge.Duration < time.Hour || f.LateEntryAfterClose.Duration < 0 {
		bad("unit_failure.late_entry_max_age must be at least 1h, and unit_failure.late_entry_after_close not negative")
	}
	if c.Submit.OutageAfter.Duration < time.Second {
		bad("submission.outage_after must be at least 1s")
	}
	if c.Submit.MaxBackoff.Duration < time.Second {
		bad("submission.max_backoff must be at least 1s")
	}
	switch c.Submit.StandardHandover {
	case "cleared", "issued":
	default:
		bad("submission.standard_handover must be cleared or issued")
	}
	if c.Printer.Enabled {
		if _, err := c.Printer.profile(); err != nil {
			errs = append(errs, err)
		}
		if _, err := c.Printer.serial(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{{"reply_timeout", c.Printer.ReplyTimeout}, {"job_timeout", c.Printer.JobTimeout}, {"write_timeout", c.Printer.WriteTimeout}, {"retry_every", c.Printer.RetryEvery}} {
		if d.v.Duration < 100*time.Millisecond {
			bad("printer.%s must be at least 100ms", d.name)
		}
	}
	if c.Store.MinFreeBytes < 0 {
		bad("store.min_free_bytes must not be negative")
	}
	if legal, ok := LegalRetentionYears(c.Regime.Name); c.Store.RetentionYears < 0 {
		bad("store.retention_years must not be negative (0 means the regime's legal period)")
	} else if ok && c.Store.RetentionYears != 0 && c.Store.RetentionYears < legal {
		bad("store.retention_years must be 0 (the regime's legal period) or at least %d, the years %s's law requires records to be kept", legal, c.Regime.Name)
	}
	if c.Clock.BackwardTolerance.Duration < 0 {
		bad("clock.backward_tolerance must not be negative")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "auto", "json", "console":
	default:
		bad("log.format must be auto, json or console")
	}
	c.Archive.validate(c, bad)
	return errors.Join(errs...)
}

// regimeDecoder returns a function that decodes [regime.options] strictly
// into a regime's own options struct. Each unknown key or wrong type is a
// stamping.OptionError.
func (c *Config) regimeDecoder() func(v any) error {
	decode := func(options map[string]any, v any) error {
		data, err := toml.Marshal(options)
		if err != nil {
			return err
		}
		dec := toml.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		return dec.Decode(v)
	}
	return func(v any) error {
		if len(c.Regime.Options) == 0 {
			return nil
		}
		// Each key is tried on its own first, into a scratch value, so
		// that an error names its key: the decoder's own type errors name
		// the Go field instead.
		var errs []error
		for _, key := range slices.Sorted(maps.Keys(c.Regime.Options)) {
			scratch := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			err := decode(map[string]any{key: c.Regime.Options[key]}, scratch)
			var missing *toml.StrictMissingError
			switch {
			case errors.As(err, &missing):
				for _, e := range missing.Errors {
					errs = append(errs, &stamping.OptionError{Option: strings.Join(e.Key(), "."),
						Rule: "is not an option of regime " + c.Regime.Name + " (each regime's options are in its documentation)"})
				}
			case err != nil:
				errs = append(errs, &stamping.OptionError{Option: key, Rule: "has the wrong type: " + strings.TrimPrefix(err.Error(), "toml: ")})
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		if err := decode(c.Regime.Options, v); err != nil {
			return fmt.Errorf("regime.options: %w", err)
		}
		return nil
	}
}

// LocateOptionErrors prefixes each stamping.OptionError in err (from New:
// the regime decodes and checks [regime.options] only when the agent
// starts) with the configuration file and the option's line in it. err is
// returned as it is when the file cannot be read.
func LocateOptionErrors(path string, err error) error {
	var oe *stamping.OptionError
	if !errors.As(err, &oe) {
		return err
	}
	data, rerr := os.ReadFile(path)
	if rerr != nil {
		return err
	}
	lines := regimeOptionLines(data)
	var located []error
	for _, oe := range optionErrors(err) {
		if line := lines[oe.Option]; line > 0 {
			located = append(located, fmt.Errorf("%s: line %d: %w", path, line, oe))
		} else {
			located = append(located, fmt.Errorf("%s: %w", path, oe))
		}
	}
	return errors.Join(located...)
}

// optionErrors lists the stamping.OptionErrors in err's tree.
func optionErrors(err error) []*stamping.OptionError {
	if oe, ok := err.(*stamping.OptionError); ok {
		return []*stamping.OptionError{oe}
	}
	var found []*stamping.OptionError
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		found = optionErrors(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			found = append(found, optionErrors(e)...)
		}
	}
	return found
}

// regimeOptionLines finds the line of each key under [regime.options] in
// a TOML document (as a table, or as dotted keys); nil when there is none.
func regimeOptionLines(data []byte) map[string]int {
	var lines map[string]int
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		var key []string
		var first *unstable.Node
		for it := e.Key(); it.Next(); {
			if first == nil {
				first = it.Node()
			}
			key = append(key, string(it.Node().Data))
		}
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = key
		case unstable.KeyValue:
			full := append(slices.Clone(table), key...)
			if len(full) > 2 && full[0] == "regime" && full[1] == "options" && first != nil {
				if lines == nil {
					lines = map[string]int{}
				}
				lines[strings.Join(full[2:], ".")] = p.Shape(first.Raw).Start.Line
			}
		}
	}
	return lines
}

// StampingConfig is what the regime the configuration names is made from:
// the seller, the device, the data directory and the regime's options.
// event, if not nil, receives the regime's events (onboarding steps, keys)
// for the audit log.
func (c *Config) StampingConfig(event func(action string, details map[string]string)) stamping.Config {
	return stamping.Config{
		Seller: stamping.Seller{
			Name: c.Seller.Name, NameLocal: c.Seller.NameLocal, VATNumber: c.Seller.VATNumber,
			IDScheme: c.Seller.IDScheme, ID: c.Seller.ID,
			Address: sale.Address{Street: c.Seller.Street, BuildingNumber: c.Seller.BuildingNumber,
				District: c.Seller.District, City: c.Seller.City, PostalCode: c.Seller.PostalCode, Country: c.Seller.Country},
		},
		Device:  stamping.Device{Serial: c.Device.Serial, Model: c.Device.Model},
		DataDir: c.DataDir,
		Decode:  c.regimeDecoder(),
		Event:   event,
	}
}

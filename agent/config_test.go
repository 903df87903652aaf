package agent

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/rs/zerolog"

	"github.com/egsd/egsd/device"
	"github.com/egsd/egsd/device/escpos"
	"github.com/egsd/egsd/stamping"
)

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want []string // texts the error must contain
	}{
		{"unknown top-level key", "data_dir = \"/x\"\ndatadir = \"/y\"\n", []string{"line 2", `"datadir"`}},
		{"unknown key in a table", "data_dir = \"/x\"\n[api]\nlisten = \"127.0.0.1:1\"\nbogus = 1\n", []string{"line 4", "api.bogus"}},
		{"unknown table", "data_dir = \"/x\"\n[drawer]\nport = \"/dev/ttyUSB0\"\n", []string{"line 2", `"drawer"`}},
		{"unknown printer profile", "[printer]\nenabled = true\nprofile = \"tm-x\"\n", []string{"printer.profile", "tm-x", "generic-80mm"}},
		{"printer without a port", "[printer]\nenabled = true\n", []string{"printer", "path or usb"}},
		{"bad printer override", "[printer]\nenabled = true\nport = \"/dev/ttyS0\"\nwidth_dots = 100\n", []string{"printer", "width_dots"}},
		{"bad handover", "[submission]\nstandard_handover = \"later\"\n", []string{"submission.standard_handover", "cleared or issued"}},
		{"misspelt key", "[auth]\nsession_tll = \"1h\"\n", []string{"line 2", "auth.session_tll"}},
		{"string for an int", "[auth]\n\nlockout_attempts = \"five\"\n", []string{"line 3"}},
		{"string for a bool", "[store]\ngroup_commit = \"yes\"\n", []string{"line 2"}},
		{"int for a string", "[log]\nlevel = 3\n", []string{"line 2"}},
		{"not a duration", "[auth]\nsession_ttl = \"5 minutes\"\n", []string{"line 2", "5 minutes", "duration"}},
		{"number for a duration", "[clock]\nbackward_tolerance = 2\n", []string{"line 2", "duration"}},
		{"bad TOML", "data_dir = \n", []string{"line 1"}},
		{"cash rounding to 0.10", "[sale]\n\ncash_rounding = \"0.10\"\n", []string{"line 3", `sale.cash_rounding: "0.10" must be "none", "0.05", "0.25" or "1.00"`}},
		{"cash rounding to 0.10 as a number", "[sale]\ncash_rounding = 0.10\n", []string{"line 2", "sale.cash_rounding"}},
		{"cash rounding spelt out", "[sale]\ncash_rounding = \"0.5\"\n", []string{"line 2", "sale.cash_rounding"}},
		{"loud log level", "[log]\nlevel = \"loud\"\n", []string{"log.level"}},
		{"bad log format", "[log]\nformat = \"xml\"\n", []string{"log.format"}},
		{"short session", "[auth]\nsession_ttl = \"30s\"\n", []string{"auth.session_ttl"}},
		{"zero lockout attempts", "[auth]\nlockout_attempts = 0\n", []string{"auth.lockout_attempts"}},
		{"negative lockout", "[auth]\nlockout_duration = \"-1m\"\n", []string{"auth.lockout_duration"}},
		{"short passwords", "[auth]\nmin_password_length = 4\n", []string{"auth.min_password_length"}},
		{"passwords below the documented minimum", "[auth]\nmin_password_length = 9\n", []string{"auth.min_password_length", "at least 10"}},
		{"bcrypt cost too high", "[auth]\nbcrypt_cost = 31\n", []string{"auth.bcrypt_cost"}},
		{"negative clock tolerance", "[clock]\nbackward_tolerance = \"-1s\"\n", []string{"clock.backward_tolerance"}},
		{"tiny body limit", "[api]\nmax_body_bytes = 10\n", []string{"api.max_body_bytes"}},
		{"no listener", "[api]\nlisten = \"\"\n", []string{"api.listen"}},
		{"no data dir", "data_dir = \"\"\n", []string{"data_dir"}},
		{"two-letter currency", "[regime]\ncurrency = \"SA\"\n", []string{"regime.currency"}},
		{"two bad values at once", "[log]\nlevel = \"loud\"\nformat = \"xml\"\n", []string{"log.level", "log.format"}},
		{"retention below the law", "[regime]\nname = \"zatca\"\n[store]\nretention_years = 5\n", []string{"store.retention_years", "at least 6", "zatca"}},
		{"negative retention", "[store]\nretention_years = -1\n", []string{"store.retention_years", "negative"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("egsd.toml", []byte(tc.toml))
			if err == nil {
				t.Fatalf("ParseConfig(%q) = nil error", tc.toml)
			}
			if !strings.HasPrefix(err.Error(), "egsd.toml: ") {
				t.Errorf("error %q does not name the file", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseConfigValues(t *testing.T) {
	c, err := ParseConfig("egsd.toml", []byte(`
data_dir = "/srv/egsd"
[api]
listen = ""
unix_socket = "/run/egsd.sock"
[auth]
session_ttl = "30m"
lockout_duration = "1h30m"
[clock]
backward_tolerance = "500ms"
[store]
group_commit = false
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/srv/egsd" || c.API.UnixSocket != "/run/egsd.sock" || c.API.Listen != "" || c.Store.GroupCommit {
		t.Errorf("values not applied: %+v", c)
	}
	if got := c.Auth.SessionTTL.Duration; got != 30*time.Minute {
		t.Errorf("session_ttl = %v, want 30m", got)
	}
	if got := c.Auth.LockoutDuration.Duration; got != 90*time.Minute {
		t.Errorf("lockout_duration = %v, want 1h30m", got)
	}
	if got := c.Clock.BackwardTolerance.Duration; got != 500*time.Millisecond {
		t.Errorf("backward_tolerance = %v, want 500ms", got)
	}
	// Keys left out keep their defaults.
	d := DefaultConfig()
	if c.Auth.LockoutAttempts != d.Auth.LockoutAttempts || c.API.MaxBodyBytes != d.API.MaxBodyBytes || c.Log != d.Log {
		t.Errorf("defaults lost: %+v", c)
	}

	// An empty file is the defaults, which are valid.
	c, err = ParseConfig("empty.toml", nil)
	if err != nil {
		t.Fatalf("empty config: %v", err)
	}
	if !reflect.DeepEqual(c, DefaultConfig()) {
		t.Errorf("empty config = %+v, want the defaults", c)
	}
}

func TestDurationRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{0, time.Second, 90 * time.Second, 12 * time.Hour, 1500 * time.Millisecond} {
		text, err := Duration{d}.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Duration
		if err := back.UnmarshalText(text); err != nil || back.Duration != d {
			t.Errorf("Duration %v → %q → %v, %v", d, text, back.Duration, err)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	path := t.TempDir() + "/egsd.toml"
	if err := os.WriteFile(path, []byte("[log]\nlevel = \"debug\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil || c.Log.Level != "debug" {
		t.Errorf("LoadConfig = %+v, %v", c.Log, err)
	}
	if _, err := LoadConfig(path + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadConfig of a missing file: %v, want ErrNotExist", err)
	}
}

// profileOverrides are the [printer] keys that override the profile: the
// example shows them commented out, so that the profile decides.
var profileOverrides = []string{"width_dots", "columns", "arabic", "arabic_code_page", "cyrillic", "cyrillic_encoding", "cyrillic_code_page", "qr_native", "qr_max_bytes",
	"qr_module", "raster_band_rows", "raster_scale2x", "cut"}

// TestConfigExample: the shipped example decodes strictly, sets every key
// of Config but the profile's overrides (which it shows commented out),
// shows the defaults where it says it does, and starts an agent.
func TestConfigExample(t *testing.T) {
	const path = "../config.example.toml"
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s does not exist yet", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(path, data)
	if err != nil {
		t.Fatalf("the example does not parse: %v", err)
	}

	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, key := range tomlKeys(reflect.TypeFor[Config](), "") {
		name, isPrinter := strings.CutPrefix(key, "printer.")
		switch {
		case isPrinter && slices.Contains(profileOverrides, name):
			if hasKey(raw, key) {
				t.Errorf("%s sets %s, which overrides every profile's value", path, key)
			}
			if !regexp.MustCompile(`(?m)^# ` + name + ` = `).Match(data) {
				t.Errorf("%s does not show %s (commented out)", path, key)
			}
		case !hasKey(raw, key):
			t.Errorf("%s does not set %s", path, key)
		}
	}

	d := DefaultConfig()
	for name, pair := range map[string][2]any{
		"data_dir":        {c.DataDir, d.DataDir},
		"api":             {c.API, d.API},
		"regime.currency": {c.Regime.Currency, d.Regime.Currency},
		"sale":            {c.Sale, d.Sale},
		"auth":            {c.Auth, d.Auth},
		"clock":           {c.Clock, d.Clock},
		"store":           {c.Store, d.Store},
		"log":             {c.Log, d.Log},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("the example's %s is %+v, but the default is %+v (it says it shows the defaults)", name, pair[0], pair[1])
		}
	}

	// The example starts an agent, regime options included.
	c.DataDir = t.TempDir()
	c.Auth.BcryptCost = 4
	a, err := New(c, Options{Time: device.NewFakeTime(t0), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatalf("New with the example: %v", err)
	}
	a.Close()
}

// tomlKeys lists the dotted TOML keys of a config struct's leaves. A map
// (regime.options) counts as a leaf: its keys belong to the regime.
func tomlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[Duration]() {
			keys = append(keys, tomlKeys(f.Type, key+".")...)
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

func hasKey(m map[string]any, dotted string) bool {
	first, rest, more := strings.Cut(dotted, ".")
	v, ok := m[first]
	if !ok || !more {
		return ok
	}
	sub, ok := v.(map[string]any)
	return ok && hasKey(sub, rest)
}

// TestRegimeOptions: [regime.options] is decoded strictly by the regime,
// and the regime's rules reach the sale endpoint.
func TestRegimeOptions(t *testing.T) {
	cfg := testConfig(t)
	cfg.Regime.Options = map[string]any{"max_line_amont": "10"}
	_, err := New(cfg, Options{Time: device.NewFakeTime(t0), Logger: zerolog.Nop()})
	if err == nil || !strings.Contains(err.Error(), "regime.options.max_line_amont") {
		t.Fatalf("New with a misspelt regime option: %v, want an error naming regime.options.max_line_amont", err)
	}

	h := newHarness(t, func(c *Config) { c.Regime.Options = map[string]any{"max_line_amount": "10"} })
	cashier := h.user("cashier1", RoleCashier)
	h.mustSale(cashier, "k1", goodSale) // 2 × 5.00 = 10.00: at the limit
	over := saleWithLine(`"name":"Tea","quantity":"3","unit_price":"5.00","vat_category":"S","vat_rate":"15"`)
	p := problemOf(t, h.sale(cashier, "k2", over), http.StatusBadRequest)
	if p.Type != problemInvalidSale || !namesField(p, "lines[0]") {
		t.Errorf("problem %+v, want invalid-sale naming lines[0]", p)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"unknown regime": func(c *Config) { c.Regime.Name = "atlantis" },
		"no seller":      func(c *Config) { c.Seller.Name = "" },
		"invalid":        func(c *Config) { c.Log.Level = "loud" },
		"cash rounding":  func(c *Config) { c.Sale.CashRounding = "0.10" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t)
			mod(&cfg)
			if a, err := New(cfg, Options{Time: device.NewFakeTime(t0), Logger: zerolog.Nop()}); err == nil {
				a.Close()
				t.Fatal("New accepted it")
			}
		})
	}
}

// The example changes nothing a printer profile sets: with each profile
// named in it, the printer runs with exactly that profile's values. And
// the example is valid for every regime: with each regime named in it, an
// agent starts.
func TestConfigExampleKeepsProfilesAndRegimes(t *testing.T) {
	data, err := os.ReadFile("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	profileLine := regexp.MustCompile(`(?m)^profile = "[^"]*"`)
	regimeLine := regexp.MustCompile(`(?m)^name = "test"`)
	if !profileLine.Match(data) || !regimeLine.Match(data) {
		t.Fatal("the example has no profile = or [regime] name = line to vary")
	}
	// The regimes a unit can be configured with (this package's tests
	// register fakes besides).
	shipped := []string{"test", "test-remote", "zatca"}
	for _, name := range shipped {
		if !slices.Contains(stamping.Names(), name) {
			t.Fatalf("regime %s is not registered", name)
		}
	}
	for _, want := range escpos.Profiles() {
		for _, regime := range shipped {
			t.Run(want.Name+"/"+regime, func(t *testing.T) {
				variant := profileLine.ReplaceAll(data, []byte(`profile = "`+want.Name+`"`))
				variant = regimeLine.ReplaceAll(variant, []byte(`name = "`+regime+`"`))
				c, err := ParseConfig("variant.toml", variant)
				if err != nil {
					t.Fatal(err)
				}
				got, err := c.Printer.profile()
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("effective printer settings:\n got %+v, %v\nwant %+v (the profile's)", got, err, want)
				}
				c.DataDir = t.TempDir()
				c.Auth.BcryptCost = 4
				a, err := New(c, Options{Time: device.NewFakeTime(t0), Logger: zerolog.Nop()})
				if err != nil {
					t.Fatalf("the example with regime %s does not start: %v", regime, err)
				}
				a.Close()
			})
		}
	}
}

// A regime option the regime refuses (unknown, wrong type, out of range)
// is reported with the file and its line.
func TestRegimeOptionErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		name, regime, options string
		want                  []string
	}{
		{"test option in a zatca config", "zatca", "phase = 2\nmax_line_amount = \"10\"\n", []string{"line 9: regime.options.max_line_amount", "not an option of regime zatca"}},
		{"phase out of range", "zatca", "invoice_prefix = \"A-\"\nphase = 3\n", []string{"line 9: regime.options.phase", "must be 1 or 2, not 3"}},
		{"phase of the wrong type", "zatca", "phase = \"two\"\n", []string{"line 8: regime.options.phase"}},
		{"unknown environment", "zatca", "environment = \"moon\"\n", []string{"line 8: regime.options.environment", "moon"}},
		{"two unknown keys", "zatca", "colour = 1\n\nsize = 2\n", []string{"line 8: regime.options.colour", "line 10: regime.options.size"}},
		{"bad amount", "test", "max_line_amount = \"ten\"\n", []string{"line 8: regime.options.max_line_amount", `"ten" is not an amount`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "egsd.toml")
			text := "data_dir = \"" + filepath.Join(dir, "data") + "\"\n[seller]\nname = \"Shop\"\nvat_number = \"399999999900003\"\n" +
				"[regime]\nname = \"" + tc.regime + "\"\n[regime.options]\n" + tc.options
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(cfg, Options{Time: device.NewFakeTime(t0), Logger: zerolog.Nop()})
			if err == nil {
				a.Close()
				t.Fatal("New accepted the options")
			}
			err = LocateOptionErrors(path, err)
			for _, w := range tc.want {
				if strings.HasPrefix(w, "line ") {
					w = path + ": " + w
				}
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestCyrillicOverrides: the [printer] keys for Cyrillic reach the profile,
// and a bad one is refused naming the key.
func TestCyrillicOverrides(t *testing.T) {
	data := []byte("[printer]\nprofile = \"generic-80mm\"\ncyrillic = \"codepage\"\ncyrillic_encoding = \"cp866\"\ncyrillic_code_page = 17\n")
	c, err := ParseConfig("egsd.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Printer.profile()
	if err != nil {
		t.Fatal(err)
	}
	if p.Cyrillic != escpos.CyrillicCodePage || p.CyrillicEncoding != escpos.EncodingCP866 || p.CyrillicCodePage != 17 {
		t.Errorf("profile %q %q %d, want codepage cp866 17", p.Cyrillic, p.CyrillicEncoding, p.CyrillicCodePage)
	}
	for _, bad := range []string{"cyrillic = \"images\"\n", "cyrillic = \"codepage\"\ncyrillic_encoding = \"koi8\"\n", "cyrillic_code_page = 300\n"} {
		c, err := ParseConfig("egsd.toml", []byte("[printer]\nprofile = \"generic-80mm\"\n"+bad))
		if err == nil {
			_, err = c.Printer.profile()
		}
		if err == nil || !strings.Contains(err.Error(), "cyrillic") {
			t.Errorf("%q: %v, want an error naming the cyrillic key", bad, err)
		}
	}
}

// The retention cut-off counts whole calendar years from the end of the
// year of issue: at any time in 2033, six years keep everything issued from
// 2027 on, and the last document of 2026 may go.
func TestRetentionCutoff(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2033, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2033, 12, 31, 23, 59, 0, 0, time.UTC),
	} {
		got := RetentionCutoff(now, 6)
		lastOf2026 := time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
		if !lastOf2026.Before(got) || got.After(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("RetentionCutoff(%s, 6) = %s", now, got)
		}
		if now.Sub(got) < 6*365*24*time.Hour {
			t.Errorf("RetentionCutoff(%s, 6) = %s keeps less than six years", now, got)
		}
	}
	cfg := DefaultConfig()
	for _, tc := range []struct {
		regime string
		set    int
		want   int
		ok     bool
	}{{"zatca", 0, 6, true}, {"etims", 0, 5, true}, {"kz", 0, 5, true}, {"zatca", 10, 10, true}, {"test-local", 0, 0, false}, {"test-local", 2, 2, true}} {
		cfg.Regime.Name, cfg.Store.RetentionYears = tc.regime, tc.set
		if got, ok := cfg.RetentionYears(); got != tc.want || ok != tc.ok {
			t.Errorf("%s with retention_years %d: %d, %v; want %d, %v", tc.regime, tc.set, got, ok, tc.want, tc.ok)
		}
	}
}

package etims

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/egsd/egsd/stamping"
)

// Profile is how the unit reaches KRA's sales control unit (spec/etims.md
// §A1): OSCU, KRA-hosted and always online, or VSCU, KRA's JAR on the
// trader's LAN.
type Profile string

// The profiles.
const (
	OSCU Profile = "oscu"
	VSCU Profile = "vscu"
)

// Environment is KRA's sandbox or production. It chooses the OSCU base URL
// and the host of the receipt's QR code (spec/etims.md §A1, §A6).
type Environment string

// The environments.
const (
	Sandbox    Environment = "sandbox"
	Production Environment = "production"
)

// OSCUBaseURL is KRA's OSCU API for env (spec/etims.md §A1, with the
// /etims-api prefix of the certified integrations).
func OSCUBaseURL(env Environment) string {
	if env == Production {
		return "https://etims-api.kra.go.ke/etims-api"
	}
	return "https://etims-api-sbx.kra.go.ke/etims-api"
}

// VSCUPort is the VSCU JAR's default server.port (spec/etims.md §A1).
const VSCUPort = "8088"

// Operation names a call egsd makes; the path table maps each to a path
// below the base URL.
type Operation string

// The operations (spec/etims.md §A2).
const (
	OpInit        Operation = "init"
	OpCodeList    Operation = "code_list"
	OpItemClasses Operation = "item_classes"
	OpSaveItem    Operation = "save_item"
	OpSaveSale    Operation = "save_sale"
	OpLookup      Operation = "lookup"
)

// Operations lists the operations in a fixed order.
var Operations = []Operation{OpInit, OpCodeList, OpItemClasses, OpSaveItem, OpSaveSale, OpLookup}

// Paths is the path of each operation below the base URL. An empty path
// means the control unit has no such call (VSCU's invoice lookup is not
// known: spec/etims.md §A2 marks it "?").
type Paths map[Operation]string

// DefaultPaths is the path table of a profile (spec/etims.md §A2). KRA's
// integration guide documents VSCU's activation as /selectInitOsdcInfo
// while several VSCU integrations call /initializer/selectInitInfo; the
// table takes the latter, and regime.options.paths overrides any entry
// once checked against the real JAR.
func DefaultPaths(p Profile) Paths {
	if p == VSCU {
		return Paths{OpInit: "/initializer/selectInitInfo", OpCodeList: "/code/selectCodes",
			OpItemClasses: "/itemClass/selectItemsClass", OpSaveItem: "/items/saveItems",
			OpSaveSale: "/trnsSales/saveSales", OpLookup: ""}
	}
	return Paths{OpInit: "/selectInitOsdcInfo", OpCodeList: "/selectCodeList", OpItemClasses: "/selectItemClsList",
		OpSaveItem: "/saveItem", OpSaveSale: "/saveTrnsSalesOsdc", OpLookup: "/selectInvoiceDetails"}
}

// Options is the regime's configuration, [regime.options] in the agent's
// TOML. Every field's zero value means its default.
type Options struct {
	// Profile is "oscu" (default) or "vscu".
	Profile string `toml:"profile"`
	// Environment is "sandbox" (default) or "production": the OSCU base
	// URL and the QR code's host.
	Environment string `toml:"environment"`
	// BaseURL overrides the control unit's address (a simulator, a proxy,
	// or the VSCU's host), an absolute http(s) URL.
	BaseURL string `toml:"base_url"`
	// VSCUHost is the host of the VSCU JAR when BaseURL is not set:
	// http://<vscu_host>:8088; default localhost.
	VSCUHost string `toml:"vscu_host"`
	// Paths overrides entries of the profile's path table.
	Paths PathOptions `toml:"paths"`
	// Tin is the seller's KRA PIN; default seller.vat_number.
	Tin string `toml:"tin"`
	// BranchID is KRA's branch ID, two digits; default "00" (head office).
	BranchID string `toml:"bhf_id"`
	// DeviceSerial is the serial registered on the eTIMS portal's
	// commitment form (dvcSrlNo, at most 100 characters); default
	// device.serial.
	DeviceSerial string `toml:"device_serial"`
	// BearerToken, when set, is sent as "Authorization: Bearer" on every
	// call, for KRA's newer API gateway (spec/etims.md §A3).
	BearerToken string `toml:"bearer_token"`
	// OfflineLimit is how long a VSCU unit keeps issuing while KRA is
	// unreachable, a Go duration; default "24h" (spec/etims.md §A7).
	// Only for profile vscu: an OSCU unit cannot sign offline at all.
	OfflineLimit string `toml:"offline_limit"`
	// CodeRefresh is how often the code lists and item classes are
	// fetched again (incrementally), a Go duration; default "24h".
	CodeRefresh string `toml:"code_refresh"`
	// Timeout bounds one call, a Go duration; default "120s" (KRA's
	// congestion: spec/etims.md §A7).
	Timeout string `toml:"timeout"`
	// InvoicePrefix precedes the counter in the trader's invoice number
	// (trdInvcNo); default "KE-".
	InvoicePrefix string `toml:"invoice_prefix"`
	// RegistrantID and RegistrantName are written as regrId/regrNm and
	// modrId/modrNm; default "egsd" and "egsd".
	RegistrantID   string `toml:"registrant_id"`
	RegistrantName string `toml:"registrant_name"`
}

// PathOptions are the path overrides, [regime.options.paths]; an unset key
// keeps the profile's default.
type PathOptions struct {
	Init        *string `toml:"init"`
	CodeList    *string `toml:"code_list"`
	ItemClasses *string `toml:"item_classes"`
	SaveItem    *string `toml:"save_item"`
	SaveSale    *string `toml:"save_sale"`
	Lookup      *string `toml:"lookup"`
}

func (p PathOptions) byOperation() map[Operation]*string {
	return map[Operation]*string{OpInit: p.Init, OpCodeList: p.CodeList, OpItemClasses: p.ItemClasses,
		OpSaveItem: p.SaveItem, OpSaveSale: p.SaveSale, OpLookup: p.Lookup}
}

// Defaults of the options.
const (
	DefaultOfflineLimit  = 24 * time.Hour
	DefaultTimeout       = 120 * time.Second
	DefaultCodeRefresh   = 24 * time.Hour
	DefaultInvoicePrefix = "KE-"
	DefaultRegistrant    = "egsd"
)

// Settings are the options checked and resolved.
type Settings struct {
	Identity
	Environment  Environment
	BaseURL      string
	Paths        Paths
	DeviceSerial string
	BearerToken  string
	OfflineLimit time.Duration // zero for OSCU
	Timeout      time.Duration
	// CodeRefresh is the period of the code list refresh.
	CodeRefresh time.Duration
	// InvoicePrefix precedes the counter in trdInvcNo.
	InvoicePrefix string
}

// String describes s without the bearer token.
func (s Settings) String() string {
	token := "unset"
	if s.BearerToken != "" {
		token = redacted
	}
	return fmt.Sprintf("etims.Settings{Profile: %s, Environment: %s, BaseURL: %s, Tin: %s, BhfID: %s, DeviceSerial: %q, BearerToken: %s}",
		s.Profile, s.Environment, s.BaseURL, s.Tin, s.BhfID, s.DeviceSerial, token)
}

// Resolve checks the options and fills the defaults from the seller and
// the device. Each bad option is an *stamping.OptionError naming its key.
func (o Options) Resolve(seller stamping.Seller, dev stamping.Device) (Settings, error) {
	s := Settings{Identity: Identity{Profile: Profile(o.Profile), Tin: o.Tin, BhfID: o.BranchID,
		RegistrantID: o.RegistrantID, RegistrantName: o.RegistrantName},
		Environment: Environment(o.Environment), DeviceSerial: o.DeviceSerial, BearerToken: o.BearerToken,
		InvoicePrefix: o.InvoicePrefix}
	bad := func(key, format string, args ...any) (Settings, error) {
		return Settings{}, &stamping.OptionError{Option: key, Rule: fmt.Sprintf(format, args...)}
	}
	switch s.Profile {
	case "":
		s.Profile = OSCU
	case OSCU, VSCU:
	default:
		return bad("profile", `must be "oscu" (KRA-hosted) or "vscu" (KRA's JAR on the LAN), not %q`, o.Profile)
	}
	switch s.Environment {
	case "":
		s.Environment = Sandbox
	case Sandbox, Production:
	default:
		return bad("environment", `must be "sandbox" or "production", not %q`, o.Environment)
	}
	switch {
	case o.BaseURL != "":
		if err := checkBaseURL(o.BaseURL); err != nil {
			return bad("base_url", "%v", err)
		}
		if o.VSCUHost != "" {
			return bad("vscu_host", "give either base_url or vscu_host, not both")
		}
		s.BaseURL = strings.TrimRight(o.BaseURL, "/")
	case s.Profile == VSCU:
		host := o.VSCUHost
		if host == "" {
			host = "localhost"
		}
		s.BaseURL = "http://" + host + ":" + VSCUPort
		if err := checkBaseURL(s.BaseURL); err != nil || strings.ContainsAny(host, "/:@?#") {
			return bad("vscu_host", "%q is not a host name or address", host)
		}
	default:
		if o.VSCUHost != "" {
			return bad("vscu_host", "is for profile vscu only")
		}
		s.BaseURL = OSCUBaseURL(s.Environment)
	}
	s.Paths = DefaultPaths(s.Profile)
	for _, op := range Operations {
		p := o.Paths.byOperation()[op]
		if p == nil {
			continue
		}
		if err := checkPath(*p, op); err != nil {
			return bad("paths."+string(op), "%v", err)
		}
		s.Paths[op] = *p
	}
	if s.Tin == "" {
		s.Tin = seller.VATNumber
	}
	if !IsPIN(s.Tin) {
		key := "tin"
		if o.Tin == "" {
			key = "tin (default seller.vat_number)"
		}
		return bad(key, "%q is not a KRA PIN: a letter, nine digits and a letter, upper case, such as P051234567X", s.Tin)
	}
	if s.BhfID == "" {
		s.BhfID = "00"
	}
	if !IsBranchID(s.BhfID) {
		return bad("bhf_id", "%q is not a KRA branch ID: two digits, 00 for the head office", s.BhfID)
	}
	if s.DeviceSerial == "" {
		s.DeviceSerial = dev.Serial
	}
	if err := checkPrintable(s.DeviceSerial, 100); err != nil {
		return bad("device_serial", "the serial registered on the eTIMS portal's commitment form (dvcSrlNo) %v", err)
	}
	if err := checkPrintable(s.BearerToken, 4096); s.BearerToken != "" && err != nil {
		return bad("bearer_token", "%v", err)
	}
	switch {
	case o.OfflineLimit != "" && s.Profile != VSCU:
		return bad("offline_limit", "is for profile vscu only: an OSCU unit cannot sign without KRA")
	case s.Profile == VSCU:
		s.OfflineLimit = DefaultOfflineLimit
		if o.OfflineLimit != "" {
			d, err := time.ParseDuration(o.OfflineLimit)
			if err != nil || d < time.Minute || d > 30*24*time.Hour {
				return bad("offline_limit", "%q must be a duration from 1m to 720h, such as \"24h\"", o.OfflineLimit)
			}
			s.OfflineLimit = d
		}
	}
	s.Timeout = DefaultTimeout
	if o.Timeout != "" {
		d, err := time.ParseDuration(o.Timeout)
		if err != nil || d < time.Second || d > 10*time.Minute {
			return bad("timeout", "%q must be a duration from 1s to 10m, such as \"120s\"", o.Timeout)
		}
		s.Timeout = d
	}
	s.CodeRefresh = DefaultCodeRefresh
	if o.CodeRefresh != "" {
		d, err := time.ParseDuration(o.CodeRefresh)
		if err != nil || d < time.Minute || d > 30*24*time.Hour {
			return bad("code_refresh", "%q must be a duration from 1m to 720h, such as \"24h\"", o.CodeRefresh)
		}
		s.CodeRefresh = d
	}
	if s.InvoicePrefix == "" {
		s.InvoicePrefix = DefaultInvoicePrefix
	}
	// trdInvcNo holds 50 characters; a 20-digit counter follows the prefix.
	if err := checkPrintable(s.InvoicePrefix, 30); err != nil {
		return bad("invoice_prefix", "%v", err)
	}
	if s.RegistrantID == "" {
		s.RegistrantID = DefaultRegistrant
	}
	if s.RegistrantName == "" {
		s.RegistrantName = DefaultRegistrant
	}
	if err := checkPrintable(s.RegistrantID, 20); err != nil {
		return bad("registrant_id", "%v", err)
	}
	if n := utf8.RuneCountInString(s.RegistrantName); n > 60 {
		return bad("registrant_name", "is %d characters long; KRA's regrNm holds at most 60", n)
	}
	return s, nil
}

// QRBaseURL is the receipt verification page for env (spec/etims.md §A6).
func QRBaseURL(env Environment) string {
	host := "etims-sbx.kra.go.ke"
	if env == Production {
		host = "etims.kra.go.ke"
	}
	return "https://" + host + "/common/link/etims/receipt/indexEtimsReceiptData?Data="
}

func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an absolute http(s) URL without user, query or fragment", raw)
	}
	return nil
}

func checkPath(p string, op Operation) error {
	if p == "" {
		if op == OpLookup {
			return nil
		}
		return fmt.Errorf("must not be empty: egsd needs %s", op)
	}
	if p[0] != '/' || len(p) > 200 || strings.ContainsAny(p, "?# ") {
		return fmt.Errorf("%q must start with / and hold no query, fragment or space (at most 200 characters)", p)
	}
	return checkPrintable(p, 200)
}

// checkPrintable requires 1 to max printable ASCII characters.
func checkPrintable(v string, max int) error {
	if v == "" {
		return fmt.Errorf("is required")
	}
	if len(v) > max {
		return fmt.Errorf("is %d characters long; at most %d are allowed", len(v), max)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return fmt.Errorf("must be printable ASCII")
		}
	}
	return nil
}

package etims

import (
	"fmt"
	"strings"
	"time"
)

// Nairobi is Africa/Nairobi: East Africa Time, UTC+3 all year (Kenya
// has no daylight saving time). A fixed zone, so that egsd needs no time
// zone database on the till; every date KRA reads or writes is in it
// (spec/etims.md §A3).
var Nairobi = time.FixedZone("EAT", 3*60*60)

// The formats of KRA's dates (spec/etims.md §A3).
const (
	// DateTimeLayout is YYYYMMDDhhmmss: cfmDt, rcptPbctDt, resultDt,
	// lastReqDt and the save answer's sdcDateTime.
	DateTimeLayout = "20060102150405"
	// DateLayout is YYYYMMDD: salesDt.
	DateLayout = "20060102"
	// lookupLayout is selectInvoiceDetails' sdcDateTime,
	// "2024-04-15 15:30:39.0" (fraction optional, up to microseconds).
	lookupLayout = "2006-01-02 15:04:05.999999"
)

// FormatDateTime writes t as KRA's 14-digit local date and time.
func FormatDateTime(t time.Time) string { return t.In(Nairobi).Format(DateTimeLayout) }

// FormatDate writes t's local date as KRA's 8 digits.
func FormatDate(t time.Time) string { return t.In(Nairobi).Format(DateLayout) }

// ParseDateTime reads a date and time from KRA: the 14 digits of most
// fields, or selectInvoiceDetails' "YYYY-MM-DD HH:MM:SS[.ffffff]", both
// in Nairobi time.
func ParseDateTime(s string) (time.Time, error) {
	layout := DateTimeLayout
	if strings.Contains(s, "-") {
		layout = lookupLayout
	} else if len(s) != len(DateTimeLayout) {
		return time.Time{}, fmt.Errorf("%q is not a KRA date and time (YYYYMMDDhhmmss)", s)
	}
	t, err := time.ParseInLocation(layout, s, Nairobi)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a KRA date and time (YYYYMMDDhhmmss or YYYY-MM-DD hh:mm:ss)", s)
	}
	return t, nil
}

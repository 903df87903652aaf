package kz

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/egsd/egsd/stamping/money"
)

// ConsumerURL is the consumer-check URL printed as the receipt's QR code
// (spec §4): base is the OFD's consumer host with its scheme
// ("http://consumer.oofd.kz"); i the fiscal sign (or the autonomous one),
// f the RNM, s the total with two decimals, t the local time of the
// receipt as yyyyMMddTHHmmss. Online, the OFD's own qr_code is printed as
// returned; this is for the autonomous receipt and for checking.
func ConsumerURL(base, fiscalSign, rnm string, total money.Decimal, at time.Time) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return "", fmt.Errorf("consumer host %q must be an http or https URL without a query", base)
	}
	if fiscalSign == "" || strings.Trim(fiscalSign, "0123456789") != "" {
		return "", fmt.Errorf("fiscal sign %q must be digits", fiscalSign)
	}
	if len(rnm) != 12 || strings.Trim(rnm, "0123456789") != "" {
		return "", fmt.Errorf("RNM %q must be 12 digits", rnm)
	}
	s, err := total.Rescale(2)
	if err != nil || money.Cmp(s, total) != 0 || s.Sign() < 0 {
		return "", fmt.Errorf("total %s must be a non-negative amount with at most two decimals", total)
	}
	if u.Path == "/" {
		base = strings.TrimSuffix(base, "/") // the host alone, as the OFDs print it
	}
	return fmt.Sprintf("%s?i=%s&f=%s&s=%s&t=%s", base, fiscalSign, rnm, s, at.Format("20060102T150405")), nil
}

package kz

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
)

// TestOptionsResolve: every required option and the seller's BIN/IIN are
// checked at configuration, each error naming its key; defaults fill the
// rest.
func TestOptionsResolve(t *testing.T) {
	good := Options{OFDAddress: "127.0.0.1:7777", KKMID: 203539, Token: 1000, RNM: "620300000011", ZNM: "EGSD-0001", OFDName: "OFD", OFDWebsite: "oofd.kz"}
	seller := stamping.Seller{Name: "ТОО «Демо»", VATNumber: "940140000385"}
	s, err := good.Resolve(seller)
	if err != nil {
		t.Fatal(err)
	}
	if s.ConsumerHost != DefaultConsumerHost || s.SectionCode != "1" || s.ShiftLimit != 23*time.Hour+50*time.Minute || s.AutonomousLimit != 72*time.Hour || s.Read != DefaultReadTimeout {
		t.Errorf("defaults: %+v", s)
	}
	cases := []struct {
		key  string
		edit func(o *Options, s *stamping.Seller)
	}{
		{"seller.vat_number", func(o *Options, s *stamping.Seller) { s.VATNumber = "940140000386" }},
		{"seller.vat_number", func(o *Options, s *stamping.Seller) { s.VATNumber = "" }},
		{"ofd_address", func(o *Options, s *stamping.Seller) { o.OFDAddress = "ofd.kz" }},
		{"kkm_id", func(o *Options, s *stamping.Seller) { o.KKMID = 0 }},
		{"token", func(o *Options, s *stamping.Seller) { o.Token = 0 }},
		{"rnm", func(o *Options, s *stamping.Seller) { o.RNM = "62030000001" }},
		{"rnm", func(o *Options, s *stamping.Seller) { o.RNM = "62030000001X" }},
		{"znm", func(o *Options, s *stamping.Seller) { o.ZNM = "" }},
		{"ofd_name", func(o *Options, s *stamping.Seller) { o.OFDName = " " }},
		{"ofd_website", func(o *Options, s *stamping.Seller) { o.OFDWebsite = "" }},
		{"consumer_host", func(o *Options, s *stamping.Seller) { o.ConsumerHost = "consumer.oofd.kz" }},
		{"shift_limit", func(o *Options, s *stamping.Seller) { o.ShiftLimit = "25h" }},
		{"shift_limit", func(o *Options, s *stamping.Seller) { o.ShiftLimit = "soon" }},
		{"autonomous_limit", func(o *Options, s *stamping.Seller) { o.AutonomousLimit = "73h" }},
		{"read_timeout", func(o *Options, s *stamping.Seller) { o.ReadTimeout = "-1s" }},
	}
	for _, c := range cases {
		o, sl := good, seller
		c.edit(&o, &sl)
		_, err := o.Resolve(sl)
		var oe *stamping.OptionError
		switch {
		case err == nil:
			t.Errorf("%s: accepted", c.key)
		case c.key == "seller.vat_number":
			if !strings.HasPrefix(err.Error(), "seller.vat_number: ") {
				t.Errorf("%s: %v", c.key, err)
			}
		case !errors.As(err, &oe) || oe.Option != c.key:
			t.Errorf("%s: %v", c.key, err)
		}
	}
}

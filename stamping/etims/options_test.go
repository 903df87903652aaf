package etims_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/etims"
)

var (
	seller = stamping.Seller{Name: "Duka Ltd", VATNumber: sellerPIN}
	device = stamping.Device{Serial: "EGSD/P000000001A/1"}
)

func TestResolveDefaults(t *testing.T) {
	s, err := etims.Options{}.Resolve(seller, device)
	if err != nil {
		t.Fatal(err)
	}
	if s.Profile != etims.OSCU || s.Environment != etims.Sandbox || s.BaseURL != "https://etims-api-sbx.kra.go.ke/etims-api" ||
		s.Tin != sellerPIN || s.BhfID != "00" || s.DeviceSerial != device.Serial || s.OfflineLimit != 0 ||
		s.Timeout != etims.DefaultTimeout || s.InvoicePrefix != "KE-" || s.Paths[etims.OpSaveSale] != "/saveTrnsSalesOsdc" {
		t.Errorf("defaults %+v", s)
	}
	p, err := etims.Options{Environment: "production"}.Resolve(seller, device)
	if err != nil || p.BaseURL != "https://etims-api.kra.go.ke/etims-api" {
		t.Errorf("production: %v %s", err, p.BaseURL)
	}
	v, err := etims.Options{Profile: "vscu", VSCUHost: "10.0.0.5", OfflineLimit: "36h",
		Paths: etims.PathOptions{Init: ptr("/selectInitOsdcInfo"), Lookup: ptr("/trnsSales/selectInvoiceDetails")}}.Resolve(seller, device)
	if err != nil {
		t.Fatal(err)
	}
	if v.BaseURL != "http://10.0.0.5:8088" || v.OfflineLimit != 36*time.Hour || v.Paths[etims.OpInit] != "/selectInitOsdcInfo" ||
		v.Paths[etims.OpSaveSale] != "/trnsSales/saveSales" || v.Paths[etims.OpLookup] != "/trnsSales/selectInvoiceDetails" {
		t.Errorf("vscu %+v", v)
	}
	if v, err := (etims.Options{Profile: "vscu"}).Resolve(seller, device); err != nil || v.BaseURL != "http://localhost:8088" ||
		v.OfflineLimit != etims.DefaultOfflineLimit || v.Paths[etims.OpLookup] != "" {
		t.Errorf("vscu defaults %+v %v", v, err)
	}
}

func ptr[T any](v T) *T { return &v }

// Each bad option is an OptionError naming its key.
func TestResolveRefuses(t *testing.T) {
	for _, tc := range []struct {
		o   etims.Options
		s   stamping.Seller
		key string
	}{
		{etims.Options{Profile: "OSCU"}, seller, "profile"},
		{etims.Options{Environment: "prod"}, seller, "environment"},
		{etims.Options{BaseURL: "etims-api.kra.go.ke"}, seller, "base_url"},
		{etims.Options{BaseURL: "ftp://x"}, seller, "base_url"},
		{etims.Options{BaseURL: "http://user:pw@x"}, seller, "base_url"},
		{etims.Options{BaseURL: "http://x", VSCUHost: "y"}, seller, "vscu_host"},
		{etims.Options{VSCUHost: "y"}, seller, "vscu_host"},
		{etims.Options{Profile: "vscu", VSCUHost: "a/b"}, seller, "vscu_host"},
		{etims.Options{Paths: etims.PathOptions{SaveSale: ptr("saveTrnsSalesOsdc")}}, seller, "paths.save_sale"},
		{etims.Options{Paths: etims.PathOptions{Init: ptr("")}}, seller, "paths.init"},
		{etims.Options{Paths: etims.PathOptions{Lookup: ptr("/a?b")}}, seller, "paths.lookup"},
		{etims.Options{Tin: "P05123456X"}, seller, "tin"},
		{etims.Options{}, stamping.Seller{VATNumber: "300000000000003"}, "tin (default seller.vat_number)"},
		{etims.Options{BranchID: "1"}, seller, "bhf_id"},
		{etims.Options{BranchID: "AB"}, seller, "bhf_id"},
		{etims.Options{DeviceSerial: strings.Repeat("s", 101)}, seller, "device_serial"},
		{etims.Options{DeviceSerial: "a\tb"}, seller, "device_serial"},
		{etims.Options{BearerToken: "tok\nen"}, seller, "bearer_token"},
		{etims.Options{OfflineLimit: "24h"}, seller, "offline_limit"},
		{etims.Options{Profile: "vscu", OfflineLimit: "1d"}, seller, "offline_limit"},
		{etims.Options{Profile: "vscu", OfflineLimit: "1000h"}, seller, "offline_limit"},
		{etims.Options{Timeout: "0s"}, seller, "timeout"},
		{etims.Options{InvoicePrefix: strings.Repeat("P", 31)}, seller, "invoice_prefix"},
		{etims.Options{RegistrantID: strings.Repeat("r", 21)}, seller, "registrant_id"},
		{etims.Options{RegistrantName: strings.Repeat("r", 61)}, seller, "registrant_name"},
	} {
		_, err := tc.o.Resolve(tc.s, device)
		var oe *stamping.OptionError
		if !errors.As(err, &oe) || oe.Option != tc.key || oe.Rule == "" {
			t.Errorf("%+v: %v, want an OptionError for %s", tc.o, err, tc.key)
		}
	}
	// No device serial at all.
	if _, err := (etims.Options{}).Resolve(seller, stamping.Device{}); err == nil || !strings.Contains(err.Error(), "device_serial") {
		t.Errorf("no serial: %v", err)
	}
}

// The settings never print the bearer token.
func TestSettingsHideToken(t *testing.T) {
	s, err := etims.Options{BearerToken: "s3cr3t-t0ken"}.Resolve(seller, device)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.String(), "s3cr3t") {
		t.Errorf("String shows the token: %s", s)
	}
}

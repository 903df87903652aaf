package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/device/fakeprinter"
	etimssim "github.com/egsd/egsd/sim/etims"
	ofdsim "github.com/egsd/egsd/sim/ofd"
	zatcasim "github.com/egsd/egsd/sim/zatca"
	"github.com/egsd/egsd/stamping/kz"
)

// demoUnit is what `egsd run --demo` wires around the agent: the ZATCA or
// KRA simulator as the authority and a virtual printer, all in this
// process.
type demoUnit struct {
	simURL   string
	sim      *zatcasim.Server
	kra      *etimssim.Server
	ofd      *ofdsim.Server
	simSrv   *http.Server
	printer  *fakeprinter.Printer
	receipts string
}

// startDemoUnit starts the demo's authority and printer and points cfg at
// them. regime is "zatca" or "etims" (the simulator, onboarded once the
// agent runs) or "test" (no authority).
func startDemoUnit(cfg *agent.Config, regime string, withPrinter bool, log zerolog.Logger) (*demoUnit, error) {
	d := &demoUnit{}
	switch regime {
	case "test":
	case "zatca":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("demo simulator: %w", err)
		}
		d.sim = zatcasim.New(zatcasim.Config{})
		d.simSrv = &http.Server{Handler: d.sim, ReadHeaderTimeout: 10 * time.Second}
		go d.simSrv.Serve(l)
		d.simURL = "http://" + l.Addr().String()
		cfg.Regime.Name = "zatca"
		cfg.Regime.Options = map[string]any{"base_url": d.simURL + "/e-invoicing/developer-portal", "invoice_prefix": "DEMO-"}
		cfg.Submit.Enabled = true
	case "etims":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("demo simulator: %w", err)
		}
		// A demo directory kept from an earlier run was initialised with
		// another simulator: let it initialise again.
		d.kra = etimssim.New(etimssim.Config{Reinitialise: true})
		d.simSrv = &http.Server{Handler: d.kra, ReadHeaderTimeout: 10 * time.Second}
		go d.simSrv.Serve(l)
		d.simURL = "http://" + l.Addr().String()
		cfg.Regime.Name = "etims"
		cfg.Regime.Currency = "KES"
		cfg.Regime.Options = map[string]any{"base_url": d.simURL + "/etims-api", "invoice_prefix": "DEMO-"}
		cfg.Seller = agent.SellerConfig{Name: "Duka Demo Ltd", VATNumber: DemoKRAPIN, Street: "Moi Avenue", BuildingNumber: "12",
			City: "Nairobi", Country: "KE"}
		cfg.Submit.Enabled = true
	case "kz":
		// The OFD adopts the token of the unit's first request, so that a
		// demo directory kept from an earlier run goes on with its session.
		d.ofd = &ofdsim.Server{Config: ofdsim.Config{ID: DemoKKMID, Org: kzOrg(), ConsumerHost: "http://consumer.test-oofd.kz"}}
		addr, err := d.ofd.Start("127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("demo OFD simulator: %w", err)
		}
		d.simURL = "tcp://" + addr
		cfg.Regime.Name = "kz"
		cfg.Regime.Currency = "KZT"
		cfg.Regime.Options = map[string]any{"ofd_address": addr, "kkm_id": DemoKKMID, "token": 1, "rnm": "620300000011", "znm": "EGSD-DEMO-0001",
			"ofd_name": "ОФД (симулятор)", "ofd_website": "consumer.test-oofd.kz", "consumer_host": "http://consumer.test-oofd.kz"}
		cfg.Seller = agent.SellerConfig{Name: "ТОО «Демо»", VATNumber: DemoBIN, Street: "пр. Абая", BuildingNumber: "10",
			City: "Алматы", Country: "KZ"}
		cfg.Submit.Enabled = true
	default:
		return nil, usagef("--demo-regime must be zatca, etims, kz or test, not %q", regime)
	}
	if withPrinter {
		// The printer starts before the store: create the data directory
		// as the store would (0700), not as a parent of the receipts.
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			d.Close()
			return nil, fmt.Errorf("demo data directory: %w", err)
		}
		d.receipts = filepath.Join(cfg.DataDir, "receipts")
		plog := log.With().Str("device", "virtual-printer").Logger()
		// Every receipt is in a file: memory need not hold more than a few.
		p, err := fakeprinter.Start(fakeprinter.Options{WidthDots: 576, OutDir: d.receipts, Keep: 8,
			Log: func(format string, args ...any) { plog.Info().Msgf(format, args...) }})
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("demo printer: %w", err)
		}
		d.printer = p
		cfg.Printer.Enabled = true
		cfg.Printer.Profile = "generic-80mm"
		cfg.Printer.Port = p.Path()
	}
	return d, nil
}

// onboard registers the demo unit with the simulator as the demo
// technician would, through the agent's API.
func (d *demoUnit) onboard(ctx context.Context, url string) error {
	if d.sim == nil && d.kra == nil {
		return nil
	}
	c := newClient(url, "")
	var sess agent.SessionView
	if err := c.postJSON(ctx, "/v1/sessions", map[string]string{"user": "technician", "password": "technician-demo"}, &sess); err != nil {
		return err
	}
	c.token = sess.Token
	otp := zatcasim.DeveloperPortalOTP
	if d.kra != nil {
		otp = "" // KRA's initialisation takes none
	}
	body, _ := json.Marshal(map[string]string{"otp": otp})
	_, problem, err := postOnboarding(ctx, c, body)
	if err != nil {
		return err
	}
	if problem != nil {
		return errors.New(problem.Detail)
	}
	return nil
}

func (d *demoUnit) Close() {
	if d.printer != nil {
		d.printer.Close()
	}
	if d.simSrv != nil {
		if d.sim != nil {
			d.sim.Close()
		}
		if d.kra != nil {
			d.kra.Close()
		}
		d.simSrv.Close()
	}
	if d.ofd != nil {
		d.ofd.Close()
	}
}

// The demo Kazakh unit: its KKM id at the simulated OFD and its seller's
// BIN (a valid check digit).
const (
	DemoKKMID = 203539
	DemoBIN   = "940140000385"
)

// kzOrg is the demo taxpayer as the simulated OFD registered it.
func kzOrg() kz.OrgRegInfo {
	return kz.OrgRegInfo{Title: "ТОО «Демо»", Address: "Алматы, пр. Абая, 10", INN: DemoBIN}
}

// DemoKRAPIN is the demo seller's KRA PIN: a letter, nine digits, a letter.
const DemoKRAPIN = "P051234567D"

package etimssim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/etims"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// The test harness: the simulator on a loopback httptest server and
// units made of the real client (stamping/etims), which initialise with
// it, register items and submit what they build.

const (
	sellerPIN = "P000000001A"
	buyerPIN  = "A000000002B"
)

type harness struct {
	t   testing.TB
	sim *Server
	srv *httptest.Server
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	sim := New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})
	return &harness{t: t, sim: sim, srv: srv}
}

// client is a client of the harness for a profile, with a timeout.
func (h *harness) client(p etims.Profile, timeout time.Duration) *etims.Client {
	id := etims.Identity{Profile: p, Tin: sellerPIN, BhfID: "00", RegistrantID: "egsd", RegistrantName: "egsd"}
	base := h.srv.URL + "/etims-api"
	paths := etims.DefaultPaths(p)
	if p == etims.VSCU {
		base = h.srv.URL
		paths[etims.OpLookup] = VSCULookupPath
	}
	return &etims.Client{BaseURL: base, Paths: paths, Identity: id,
		HTTP: &http.Client{Timeout: timeout, Transport: &http.Transport{}}}
}

// unit is an initialised client.
func (h *harness) unit(p etims.Profile) *etims.Client {
	h.t.Helper()
	c := h.client(p, 10*time.Second)
	info, _, err := c.Init(context.Background(), "EGSD/"+sellerPIN+"/1")
	if err != nil {
		h.t.Fatal(err)
	}
	c.CmcKey = info.CmcKey
	return c
}

func d(s string) money.Decimal { return money.MustParse(s) }

func line(name, code, price string, c sale.VATCategory, rate string) sale.Line {
	l := sale.Line{Name: name, Quantity: d("1"), UnitPrice: d(price), Category: c,
		ItemClass: "5010150100", PackagingUnit: "NT", QuantityUnit: "U", ItemCode: code}
	if rate != "" {
		l.Rate = d(rate)
	}
	return l
}

// catalogue is what the tests sell, one item per band.
var catalogue = []sale.Line{
	line("Cloud Software License", "KE3NTU0000001", "400000.00", sale.Standard, "16"),
	line("Technical Support", "KE3NTU0000002", "100000.00", sale.Standard, "16"),
	line("Diesel 1 l", "KE1NTU0000003", "180.50", sale.Standard, "8"),
	line("Milk 500 ml", "KE2NTU0000004", "65.00", sale.ZeroRated, ""),
	line("Maize seed", "KE1NTU0000005", "500.00", sale.Exempt, ""),
	line("Court fee", "KE3NTU0000006", "1000.00", sale.OutOfScope, ""),
}

// register saves every catalogue item with KRA.
func (h *harness) register(c *etims.Client) {
	h.t.Helper()
	for i := range catalogue {
		item, err := etims.ItemFromLine(&catalogue[i], etims.DefaultRates, c.Identity)
		if err != nil {
			h.t.Fatal(err)
		}
		if _, err := c.SaveItem(context.Background(), item); err != nil {
			h.t.Fatalf("saveItem %s: %v", item.ItemCd, err)
		}
	}
}

func invoice(lines ...sale.Line) *sale.Sale {
	return &sale.Sale{Kind: sale.Invoice, Currency: "KES", Buyer: &sale.Buyer{Name: "Mfano Ltd", VATNumber: buyerPIN},
		Lines: lines, Payments: []sale.Payment{{Means: sale.Cash}}}
}

func creditNote(lines ...sale.Line) *sale.Sale {
	s := invoice(lines...)
	s.Kind, s.Original, s.Reason, s.ReasonCode = sale.CreditNote, "KE-1", "Returned", "06"
	return s
}

// template builds the stored document of s for c's identity.
func template(t testing.TB, c *etims.Client, s *sale.Sale, trd string, at time.Time) []byte {
	t.Helper()
	r, err := etims.BuildSale(s, etims.SaleInput{Identity: c.Identity, TraderInvoiceNo: trd, IssuedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	b, err := etims.Template(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func number(t testing.TB, tmpl []byte, invcNo, orgInvcNo int64) []byte {
	t.Helper()
	b, err := etims.Number(tmpl, invcNo, orgInvcNo)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var issued = time.Date(2026, 1, 15, 10, 30, 0, 0, etims.Nairobi)

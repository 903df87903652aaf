package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/device/fakeprinter"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
)

// clearing is the test regime whose documents with a buyer VAT number must
// be cleared: the "authority" answers with a cleared copy of the document
// and its own QR.
type clearing struct{ stamping.Regime }

func (c *clearing) Name() string { return "clearing" }

func (c *clearing) NeedsClearance(doc []byte) bool { return bytes.Contains(doc, []byte(`"buyer":`)) }

type clearedAnswer struct {
	Cleared []byte `json:"cleared"`
	QR      string `json:"qr"`
}

func (c *clearing) Submit(_ context.Context, sub stamping.Submission) stamping.Result {
	if !c.NeedsClearance(sub.Document) {
		return stamping.Result{Outcome: stamping.Accepted, Answer: []byte(`{}`)}
	}
	answer, _ := json.Marshal(clearedAnswer{Cleared: append([]byte("CLEARED "), sub.Document...), QR: "CLEARED-QR-" + sub.Slot.UUID})
	return stamping.Result{Outcome: stamping.Accepted, Answer: answer}
}

func (c *clearing) Cleared(answer []byte) ([]byte, stamping.ReceiptInfo, bool, error) {
	var a clearedAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		return nil, stamping.ReceiptInfo{}, false, err
	}
	if a.Cleared == nil {
		return nil, stamping.ReceiptInfo{}, false, nil
	}
	return a.Cleared, stamping.ReceiptInfo{Number: "CLR", Title: "Tax Invoice", QR: a.QR}, true, nil
}

func init() {
	stamping.Register("clearing", func(cfg stamping.Config) (stamping.Regime, error) {
		base, err := stamping.New("test", cfg)
		if err != nil {
			return nil, err
		}
		return &clearing{Regime: base}, nil
	})
}

const standardSale = `{"kind":"invoice","buyer":{"name":"Buyer Co","vat_number":"311111111100003"},"lines":[{"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"15"}]}`

// printerHarness is an agent with a fake printer, its print worker not
// running unless the test starts it.
func printerHarness(t *testing.T, mod func(*Config)) (*harness, *fakeprinter.Printer) {
	t.Helper()
	p, err := fakeprinter.Start(fakeprinter.Options{WidthDots: 576})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	h := newHarness(t, func(c *Config) {
		c.Printer.Enabled = true
		c.Printer.Port = p.Path()
		// The fake printer answers at once; the window only bounds how long
		// a loaded machine (-race, parallel packages) may take to schedule
		// it. No test here checks a silent printer through this harness
		// (printfault_test.go sets its own timeouts), so a generous window
		// costs nothing and keeps the outcome independent of load.
		c.Printer.ReplyTimeout = Duration{10 * time.Second}
		if mod != nil {
			mod(c)
		}
	})
	return h, p
}

// TestStandardHandover: a document the authority must clear is neither
// printed nor handed over until it is cleared; then its cleared form is.
func TestStandardHandover(t *testing.T) {
	h, _ := printerHarness(t, func(c *Config) {
		c.Regime.Name = "clearing"
		c.Regime.Options = nil
		c.Submit.Enabled = true
	})
	cashier, manager := h.user("ana", RoleCashier), h.user("boss", RoleManager)
	std := h.mustSale(cashier, "s1", standardSale)
	simp := h.mustSale(cashier, "s2", goodSale)
	if std.Handover != "awaiting_clearance" || simp.Handover != "ready" {
		t.Fatalf("handover: standard %q, simplified %q", std.Handover, simp.Handover)
	}
	jobs, _ := h.a.Store().PrintJobs(0)
	if len(jobs) != 2 || jobs[0].State != queue.PrintAwaitingAnswer || jobs[1].State != queue.PrintQueued {
		t.Fatalf("print queue = %+v, want the standard held and the simplified queued", jobs)
	}
	for _, form := range []string{"cleared", "handover"} {
		p := problemOf(t, h.get(cashier, "/v1/documents/1/content?form="+form), http.StatusConflict)
		if !strings.Contains(p.Detail, "clearance") {
			t.Errorf("form=%s before clearance: %q", form, p.Detail)
		}
	}
	if p := problemOf(t, h.do(request{method: "POST", path: "/v1/documents/1/print", token: manager}), http.StatusConflict); !strings.Contains(p.Title, "Not cleared") {
		t.Errorf("reprint before clearance: %+v", p)
	}
	// The simplified one is handed over as issued; it is not a cleared document.
	if w := h.get(cashier, "/v1/documents/2/content?form=handover"); w.Code != 200 || !bytes.Equal(w.Body.Bytes(), h.record(2).Document) {
		t.Errorf("simplified handover = %d", w.Code)
	}
	problemOf(t, h.get(cashier, "/v1/documents/2/content?form=cleared"), http.StatusConflict)
	if p := problemOf(t, h.get(cashier, "/v1/documents/2/content?form=pdf"), http.StatusBadRequest); !strings.Contains(p.Detail, "form") {
		t.Errorf("bad form: %+v", p)
	}

	h.step() // the authority clears it
	jobs, _ = h.a.Store().PrintJobs(0)
	if len(jobs) != 2 || jobs[0].State != queue.PrintQueued {
		t.Fatalf("after clearance the print queue = %+v", jobs)
	}
	w := h.get(cashier, "/v1/documents/1/content?form=handover")
	if w.Code != 200 || !bytes.HasPrefix(w.Body.Bytes(), []byte("CLEARED ")) || w.Header().Get("X-Cleared") != "true" {
		t.Fatalf("handover after clearance = %d %q (X-Cleared %q)", w.Code, w.Body.String()[:min(20, w.Body.Len())], w.Header().Get("X-Cleared"))
	}
	var view DocumentView
	decodeBody(t, h.get(cashier, "/v1/documents/1"), &view)
	if view.Handover != "ready" {
		t.Errorf("handover after clearance = %q", view.Handover)
	}
	r, err := h.a.receiptOf(h.record(1))
	if err != nil || !strings.HasPrefix(r.QR, "CLEARED-QR-") || r.Title != "Tax Invoice" {
		t.Errorf("the receipt is not the cleared document's: %+v, %v", r, err)
	}
}

// TestHandoverIssued: with standard_handover = "issued", a standard
// document prints and is handed over at once.
func TestHandoverIssued(t *testing.T) {
	h, _ := printerHarness(t, func(c *Config) {
		c.Regime.Name = "clearing"
		c.Regime.Options = nil
		c.Submit.StandardHandover = "issued"
	})
	cashier := h.user("ana", RoleCashier)
	if v := h.mustSale(cashier, "s1", standardSale); v.Handover != "ready" {
		t.Errorf("handover = %q", v.Handover)
	}
	if jobs, _ := h.a.Store().PrintJobs(0); len(jobs) != 1 || jobs[0].State != queue.PrintQueued {
		t.Errorf("print queue = %+v, want the receipt queued at once", jobs)
	}
}

// TestPrinterAPI: reprint, printer state, test page; and what a unit
// without a printer answers.
func TestPrinterAPI(t *testing.T) {
	h, p := printerHarness(t, nil)
	cashier, other, manager, tech := h.user("ana", RoleCashier), h.user("bob", RoleCashier), h.user("boss", RoleManager), h.user("tech", RoleTechnician)
	h.mustSale(cashier, "k1", goodSale)

	w := h.do(request{method: "POST", path: "/v1/documents/1/print", token: cashier})
	var out struct{ Job queue.PrintJob }
	decodeBody(t, w, &out)
	if w.Code != http.StatusAccepted || out.Job.Counter != 1 || out.Job.Copy != 1 || out.Job.RequestedBy != "ana" {
		t.Fatalf("reprint = %d %+v", w.Code, out.Job)
	}
	problemOf(t, h.do(request{method: "POST", path: "/v1/documents/1/print", token: other}), http.StatusForbidden)
	problemOf(t, h.do(request{method: "POST", path: "/v1/documents/9/print", token: manager}), http.StatusNotFound)

	var st struct {
		Enabled bool
		Printer PrinterState
		Jobs    []queue.PrintJob
	}
	decodeBody(t, h.get(tech, "/v1/printer"), &st)
	if !st.Enabled || st.Printer.Profile != "generic-80mm" || st.Printer.Queue.Queued != 2 || len(st.Jobs) != 2 {
		t.Errorf("GET /v1/printer = %+v", st)
	}

	w = h.do(request{method: "POST", path: "/v1/printer/test", token: tech})
	if w.Code != http.StatusOK {
		t.Fatalf("test page = %d %s", w.Code, w.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rs, err := p.WaitReceipts(ctx, 1)
	if err != nil || !strings.Contains(rs[0].Text, "TEST PAGE") || len(rs[0].QR) != 1 {
		t.Fatalf("test page printed: %v\n%s", err, rs[0].Text)
	}
	if entries := h.audit(manager); !auditHas(entries, queue.AuditPrint, "test_page") || !auditHas(entries, queue.AuditPrint, "1") {
		t.Error("the test page and the reprint are not in the audit log")
	}

	p.SetCoverOpen(true)
	if w := h.do(request{method: "POST", path: "/v1/printer/test", token: tech}); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "cover") {
		t.Errorf("test page with the cover open = %d %s", w.Code, w.Body)
	}
	if st := h.status(cashier); st.Printer == nil || st.Printer.State != "cover_open" {
		t.Errorf("status printer = %+v, want cover_open", st.Printer)
	}
}

func auditHas(entries []queue.AuditEntry, action, subject string) bool {
	for _, e := range entries {
		if e.Action == action && e.Subject == subject {
			return true
		}
	}
	return false
}

func TestNoPrinter(t *testing.T) {
	h := newHarness(t, nil)
	cashier, tech := h.user("ana", RoleCashier), h.user("tech", RoleTechnician)
	h.mustSale(cashier, "k1", goodSale)
	problemOf(t, h.do(request{method: "POST", path: "/v1/documents/1/print", token: cashier}), http.StatusConflict)
	problemOf(t, h.do(request{method: "POST", path: "/v1/printer/test", token: tech}), http.StatusConflict)
	var st struct{ Enabled bool }
	decodeBody(t, h.get(tech, "/v1/printer"), &st)
	if st.Enabled {
		t.Error("GET /v1/printer says enabled without a printer")
	}
	if s := h.status(cashier); s.Printer != nil {
		t.Errorf("status has a printer: %+v", s.Printer)
	}
	if jobs, _ := h.a.Store().PrintJobs(0); len(jobs) != 0 {
		t.Errorf("a unit without a printer queued %d receipts", len(jobs))
	}
}

// TestReceiptTextIsPrintable: text that reaches the receipt without the
// sale decoder's check — the configuration's seller name and address —
// passes the character policy on the way, so a tab, a line break or a
// bidi override there never makes a receipt fail; the note prints one line
// per line.
func TestReceiptTextIsPrintable(t *testing.T) {
	h, _ := printerHarness(t, func(c *Config) {
		c.Seller.Name = "Demo\tStore"
		c.Seller.NameLocal = "متجر\u202e تجريبي"
		c.Seller.Street = "King Fahd Road\nGate 2"
	})
	cashier := h.user("ana", RoleCashier)
	v := h.mustSale(cashier, "k1", `{"kind":"invoice","note":"Thank you\ncome again 🎂","lines":[{"name":"Tea 🍵","quantity":"1","unit_price":"5","vat_category":"S","vat_rate":"15"}]}`)
	rec, err := h.a.Store().Document(v.Counter)
	if err != nil {
		t.Fatal(err)
	}
	r, err := h.a.receiptOf(rec)
	if err != nil {
		t.Fatal(err)
	}
	if r.SellerName != "Demo Store" || r.SellerNameLocal != "متجر\uFFFD تجريبي" || !strings.Contains(r.Address, "King Fahd Road Gate 2") {
		t.Errorf("seller %q, %q, address %q: want the policy applied", r.SellerName, r.SellerNameLocal, r.Address)
	}
	if strings.Join(r.Footer, "|") != "Thank you|come again 🎂" || r.Lines[0].Name != "Tea 🍵" {
		t.Errorf("footer %q, line %q", r.Footer, r.Lines[0].Name)
	}
	if _, err := h.a.print.layout.Render(r); err != nil {
		t.Errorf("the receipt does not lay out: %v", err)
	}
}

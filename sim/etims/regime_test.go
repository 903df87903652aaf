package etimssim

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/egsd/egsd/sim/simnet"
	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/etims"
)

// The regime end to end against the simulator: onboarding, issuing a
// template, numbering it, submitting it (and again after a timeout), and
// the receipt from the answer.
func TestRegimeAgainstSimulator(t *testing.T) {
	h := newHarness(t, Config{})
	dir := t.TempDir()
	r, err := etims.New(stamping.Config{
		Seller: stamping.Seller{Name: "Duka Ltd", VATNumber: sellerPIN}, Device: stamping.Device{Serial: "EGSD/" + sellerPIN + "/1"},
		DataDir: dir, Decode: func(v any) error {
			*(v.(*etims.Options)) = etims.Options{BaseURL: h.srv.URL + "/etims-api", Timeout: "1s"}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Onboard(ctx, stamping.OnboardRequest{}, nil, func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(etims.DeviceFile(dir)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("device record %v %v", fi, err)
	}
	key := readKey(t, dir)
	c := h.client(etims.OSCU, 10*time.Second)
	c.CmcKey = etims.CmcKey(key)
	h.register(c)

	h.sim.SetFaults(Faults{Knobs: simnet.Knobs{TimeoutCount: 1}, Operations: []etims.Operation{etims.OpSaveSale}})
	s := invoice(catalogue[0], catalogue[1])
	if err := r.Validate(s); err != nil {
		t.Fatal(err)
	}
	doc, err := r.Stamp(stamping.Slot{Counter: 1, IssuedAt: issued}, s)
	if err != nil {
		t.Fatal(err)
	}
	req, err := etims.Number(doc.Bytes, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	sub := stamping.Submission{Slot: stamping.Slot{Counter: 1}, Document: req, Hash: doc.Hash, Attempt: 1}
	if res := r.Submit(context.Background(), sub); res.Outcome != stamping.Retryable {
		t.Fatalf("first attempt: %v %q", res.Outcome, res.Messages)
	}
	sub.Attempt = 2
	res := r.Submit(context.Background(), sub)
	if res.Outcome != stamping.Duplicate {
		t.Fatalf("second attempt: %v %q", res.Outcome, res.Messages)
	}
	f, err := r.Receipt(req, res.Answer)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := h.sim.Sale(etims.OSCU, sellerPIN, "00", 1)
	if f.CUInvoiceNumber != r.Device().SdcID+"/1" || f.QR != etims.QRURL(etims.Sandbox, sellerPIN, "00", got.RcptSign) ||
		f.Total.Total.String() != "580000.00" || f.Total.Tax.String() != "80000.00" {
		t.Errorf("receipt %+v", f)
	}
	// The template itself is never sent.
	if res := r.Submit(context.Background(), stamping.Submission{Document: doc.Bytes, Attempt: 1}); res.Outcome != stamping.Retryable {
		t.Errorf("a template submitted: %v", res.Outcome)
	}
	if st := h.sim.Stats(); st.Sales != 1 || st.Duplicates != 0 {
		t.Errorf("stats %+v", st)
	}
}

func readKey(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(etims.DeviceFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		CmcKey string `json:"cmc_key"`
	}
	if err := json.Unmarshal(b, &rec); err != nil || rec.CmcKey == "" {
		t.Fatalf("device record %s: %v", b, err)
	}
	return rec.CmcKey
}

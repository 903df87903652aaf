package archive

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/kz"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
)

// unitConfig is a Kazakh unit's regime configuration on dataDir, its
// events kept in events.
func unitConfig(dataDir string, events *[]map[string]string) stamping.Config {
	return stamping.Config{Seller: stamping.Seller{Name: "ТОО «Демо»", VATNumber: "940140000385"}, DataDir: dataDir,
		Decode: func(v any) error {
			*v.(*kz.Options) = kz.Options{OFDAddress: "127.0.0.1:1", KKMID: 203539, Token: 1000, RNM: "620300000011", ZNM: "EGSD-0001",
				OFDName: "OFD", OFDWebsite: "oofd.kz"}
			return nil
		},
		Event: func(action string, details map[string]string) {
			details["action"] = action
			*events = append(*events, details)
		}}
}

// The regime registered as "kz" creates the unit's archive key at its
// first start, reporting it with its public key, loads the same key at
// the next, and refuses to start on a key file it cannot use rather than
// replace it. The records it seals verify with that key and carry the
// unit's registration.
func TestNewRegimeArchiveKey(t *testing.T) {
	data := t.TempDir()
	var events []map[string]string
	reg, err := stamping.New(kz.Name, unitConfig(data, &events))
	if err != nil {
		t.Fatal(err)
	}
	key, err := keystore.Load(KeyPath(data))
	if err != nil {
		t.Fatalf("the archive key after the first start: %v", err)
	}
	if len(events) != 1 || events[0]["action"] != "archive_key_created" || events[0]["public_key"] != string(PublicKeyPEM(key.PublicKeyDER())) ||
		events[0]["file"] != KeyPath(data) {
		t.Fatalf("events of the first start: %v", events)
	}
	r := reg.(*kz.Regime)
	r.LoadSession(nil)
	// The OFD at 127.0.0.1:1 does not answer: the next ticket is autonomous.
	if res, _ := r.SubmitSession(t.Context(), stamping.Submission{Slot: stamping.Slot{Counter: 1}, Document: stampOne(t, r, 1).Bytes}, nil,
		func([]byte) error { return nil }); res.Outcome != stamping.Retryable {
		t.Fatalf("submission to nobody: %v %v", res.Outcome, res.Messages)
	}
	doc := stampOne(t, r, 2)
	rec, err := Verify(doc.Archive, key.PublicKeyDER())
	if err != nil {
		t.Fatalf("the autonomous ticket's record: %v", err)
	}
	if err := rec.Matches(2, "uuid-2", doc.Bytes); err != nil || rec.Sign.Autonomous != "2" || rec.Sign.OFD != "" ||
		rec.Unit != (UnitXML{BIN: "940140000385", OFDID: "203539", RNM: "620300000011", ZNM: "EGSD-0001"}) {
		t.Fatalf("the autonomous ticket's record: %+v %+v, %v", rec.Unit, rec.Sign, err)
	}

	events = nil
	if _, err := stamping.New(kz.Name, unitConfig(data, &events)); err != nil || len(events) != 0 {
		t.Fatalf("the second start: %v, events %v", err, events)
	}
	if again, err := keystore.Load(KeyPath(data)); err != nil || again.Fingerprint() != key.Fingerprint() {
		t.Fatalf("the key changed at the second start: %v", err)
	}
	if err := os.Chmod(KeyPath(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := stamping.New(kz.Name, unitConfig(data, &events)); err == nil || !strings.Contains(err.Error(), KeyPath(data)) {
		t.Fatalf("a key file readable by others: %v", err)
	}
	if _, err := stamping.New(kz.Name, unitConfig("", &events)); err == nil || !strings.Contains(err.Error(), "data_dir") {
		t.Fatalf("no data directory: %v", err)
	}
}

// stampOne stamps a sale of one loaf as document counter.
func stampOne(t *testing.T, r *kz.Regime, counter uint64) stamping.Document {
	t.Helper()
	s := &sale.Sale{Kind: sale.Invoice, Currency: "KZT", Payments: []sale.Payment{{Means: sale.Cash}},
		Lines: []sale.Line{{Name: "Хлеб", Quantity: money.MustParse("1"), UnitPrice: money.MustParse("250"), Category: sale.Standard, Rate: money.MustParse("16")}}}
	doc, err := r.Stamp(stamping.Slot{Counter: counter, UUID: "uuid-" + strconv.FormatUint(counter, 10), IssuedAt: time.Now()}, s)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

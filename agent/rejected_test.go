package agent

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping"
)

// rejectSome scripts the authority to reject the documents in rejected
// (with a message naming the document) and accept the others.
func rejectSome(sc *scripted, rejected ...uint64) {
	sc.script(func(c uint64) stamping.Result {
		for _, r := range rejected {
			if c == r {
				return stamping.Result{Outcome: stamping.Rejected, Messages: []string{fmt.Sprintf("BR-KSA-37: document %d", c), "second message"}}
			}
		}
		return stamping.Result{Outcome: stamping.Accepted}
	})
}

// Rejected documents show in the status (count, the newest with their
// number, time and the authority's first message), each rejection is
// logged as a warning, and the status says which have a credit note.
func TestRejectedDocumentsInStatus(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	manager := h.user("boss", RoleManager)
	var logged bytes.Buffer
	h.a.log = zerolog.New(&logged)
	rejectSome(sc, 2, 3)
	for i := range 4 {
		h.mustSale(cashier, fmt.Sprint("k", i), goodSale)
	}
	h.step()

	st := h.status(manager).Rejected
	if st.Count != 2 || st.WithoutCreditNote != 2 || len(st.Newest) != 2 {
		t.Fatalf("status rejected = %+v; want 2, both without a credit note", st)
	}
	newest := st.Newest[0]
	if newest.Counter != 3 || newest.Number != "T-000003" || newest.Kind != "invoice" || newest.Message != "BR-KSA-37: document 3" ||
		!newest.AnsweredAt.Equal(h.ft.Wall()) || newest.IssuedAt.IsZero() || newest.CreditNote != 0 {
		t.Errorf("newest rejected = %+v", newest)
	}
	for _, c := range []string{"2", "3"} {
		want := `"level":"warn","counter":` + c
		if !strings.Contains(logged.String(), want) || !strings.Contains(logged.String(), "egsd documents credit-note "+c) {
			t.Errorf("log lacks a warning for document %s with the next step:\n%s", c, logged.String())
		}
	}

	// The corrective credit note of 2, and a credit note a cashier's POS
	// issues for 3 by its number, are both recorded.
	w := h.do(request{method: "POST", path: "/v1/documents/2/credit-note", token: manager})
	if w.Code != http.StatusCreated {
		t.Fatalf("corrective credit note: %d %s", w.Code, w.Body)
	}
	var note DocumentView
	decodeBody(t, w, &note)
	pos := h.mustSale(manager, "note-3", `{"kind":"credit_note","original":"T-000003","reason":"rejected","lines":[{"name":"Tea","quantity":"2","unit_price":"5.00","vat_category":"S","vat_rate":"15"}]}`)
	st = h.status(manager).Rejected
	if st.Count != 2 || st.WithoutCreditNote != 0 || st.Newest[0].CreditNote != pos.Counter || st.Newest[1].CreditNote != note.Counter {
		t.Errorf("after the credit notes: %+v; want 3 corrected by %d and 2 by %d", st, pos.Counter, note.Counter)
	}
}

// A credit note names the document it corrects by counter, UUID or
// number; one that names a document that was not rejected links nothing.
func TestCorrectedDocument(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	rejectSome(sc, 1)
	d1 := h.mustSale(cashier, "k1", goodSale)
	h.mustSale(cashier, "k2", goodSale)
	h.step()
	for _, tc := range []struct {
		original string
		want     uint64
	}{{"1", 1}, {" 1 ", 1}, {d1.UUID, 1}, {"T-000001", 1}, {"2", 0}, {"T-000002", 0}, {"nothing", 0}, {"0", 0}} {
		if got, err := h.a.correctedDocument(tc.original); err != nil || got != tc.want {
			t.Errorf("correctedDocument(%q) = %d, %v; want %d", tc.original, got, err, tc.want)
		}
	}
}

// A store from before the index (schema 1) is indexed when it is opened,
// and the first start links the credit notes it already had.
func TestRejectedIndexUpgrade(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	manager := h.user("boss", RoleManager)
	rejectSome(sc, 1, 2)
	h.mustSale(cashier, "k1", goodSale)
	h.mustSale(cashier, "k2", goodSale)
	h.step()
	w := h.do(request{method: "POST", path: "/v1/documents/1/credit-note", token: manager})
	if w.Code != http.StatusCreated {
		t.Fatalf("corrective credit note: %d %s", w.Code, w.Body)
	}
	var note DocumentView
	decodeBody(t, w, &note)
	h.close()

	db, err := bolt.Open(filepath.Join(h.cfg.DataDir, queue.FileName), 0o600, &bolt.Options{Timeout: 5 * time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte("rejected")); err != nil {
			return err
		}
		meta := tx.Bucket([]byte("meta"))
		meta.Delete([]byte("rejected_count"))
		meta.Delete([]byte("rejected_without_credit_note"))
		return meta.Put([]byte("schema_version"), binary.BigEndian.AppendUint64(nil, 1))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	h2 := startHarness(t, h.cfg, h.ft)
	st := h2.status(h2.login("boss", testPassword)).Rejected
	if st.Count != 2 || st.WithoutCreditNote != 1 || len(st.Newest) != 2 || st.Newest[1].Counter != 1 || st.Newest[1].CreditNote != note.Counter {
		t.Errorf("status after the upgrade = %+v; want 2 rejected, 1 corrected by %d", st, note.Counter)
	}
}

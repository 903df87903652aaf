package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/egsd/egsd/stamping"
)

// rejectSome scripts the authority to reject the documents in rejected
// (with a message naming the document) and accept the others.
func rejectSome(sc *scripted, rejected ...uint64) {
	sc.script(func(c uint64) stamping.Result {
		if slices.Contains(rejected, c) {
			return stamping.Result{Outcome: stamping.Rejected, Messages: []string{fmt.Sprintf("BR-KSA-37: document %d", c), "second message"}}
		}
		return stamping.Result{Outcome: stamping.Accepted}
	})
}

// rejectedCreditNotes maps each rejected document the status lists to the
// credit note that corrects it (0: none).
func rejectedCreditNotes(st RejectedSummary) map[uint64]uint64 {
	out := map[uint64]uint64{}
	for _, d := range st.Newest {
		out[d.Counter] = d.CreditNote
	}
	return out
}

// Rejected documents show in the status (count, the newest with their
// number, time and the authority's first message), each rejection is
// logged as a warning with what it needs, and the status says which
// credit note corrects each: the corrective credit note, or the credit
// note after which nothing was left; not a note that credits part.
func TestRejectedDocumentsInStatus(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	manager := h.user("boss", RoleManager)
	var logged bytes.Buffer
	h.a.log = zerolog.New(zerolog.SyncWriter(&logged)) // the submitter logs from several goroutines
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

	// The corrective credit note of 2 corrects it; a credit note for one
	// of the two teas of 3, named by its number, does not; the one for the
	// other does.
	w := h.do(request{method: "POST", path: "/v1/documents/2/credit-note", token: manager})
	if w.Code != http.StatusCreated {
		t.Fatalf("corrective credit note: %d %s", w.Code, w.Body)
	}
	var corrective DocumentView
	decodeBody(t, w, &corrective)
	part := h.mustSale(cashier, "part-3", note("credit_note", "T-000003", teaLine("1", "5.00")))
	st = h.status(manager).Rejected
	if st.WithoutCreditNote != 1 || !maps.Equal(rejectedCreditNotes(st), map[uint64]uint64{2: corrective.Counter, 3: 0}) {
		t.Errorf("after the corrective note and a part of 3: %+v; want 2 corrected by %d, 3 without", st, corrective.Counter)
	}
	rest := h.mustSale(cashier, "rest-3", note("credit_note", "T-000003", teaLine("1", "5.00")))
	st = h.status(manager).Rejected
	if st.WithoutCreditNote != 0 || !maps.Equal(rejectedCreditNotes(st), map[uint64]uint64{2: corrective.Counter, 3: rest.Counter}) {
		t.Errorf("after the rest of 3: %+v; want 3 corrected by %d", st, rest.Counter)
	}

	// The authority rejects the first part: it takes nothing any more, so
	// 3 is not credited in full, and waits for its credit note again. The
	// rejected credit note is listed, but needs none.
	rejectSome(sc, part.Counter)
	logged.Reset()
	h.step()
	st = h.status(manager).Rejected
	if st.Count != 3 || st.WithoutCreditNote != 1 || !maps.Equal(rejectedCreditNotes(st), map[uint64]uint64{2: corrective.Counter, 3: 0, part.Counter: 0}) ||
		st.Newest[0].Kind != "credit_note" {
		t.Errorf("after the part's rejection: %+v; want 3 rejected, 3 without a credit note", st)
	}
	if !strings.Contains(logged.String(), fmt.Sprintf("the authority rejected credit note %d", part.Counter)) || !strings.Contains(logged.String(), "issue the return again") {
		t.Errorf("the log does not say what a rejected credit note needs:\n%s", logged.String())
	}
	w = h.do(request{method: "POST", path: "/v1/documents/3/credit-note", token: manager})
	if w.Code != http.StatusCreated {
		t.Fatalf("corrective credit note of 3: %d %s", w.Code, w.Body)
	}
	decodeBody(t, w, &corrective)
	if st = h.status(manager).Rejected; st.WithoutCreditNote != 0 || rejectedCreditNotes(st)[3] != corrective.Counter {
		t.Errorf("after the corrective note of 3: %+v; want it corrected by %d", st, corrective.Counter)
	}
}

// A document credited in full while it waited for the authority is
// logged, when rejected, as corrected already.
func TestRejectedAfterItsCredit(t *testing.T) {
	h, sc, cashier := submitHarness(t)
	manager := h.user("boss", RoleManager)
	var logged bytes.Buffer
	h.a.log = zerolog.New(zerolog.SyncWriter(&logged)) // the submitter logs from several goroutines
	h.mustSale(cashier, "k", goodSale)
	n := h.mustSale(cashier, "n", note("credit_note", "1", teaLine("2", "5.00")))
	rejectSome(sc, 1)
	h.step()
	if st := h.status(manager).Rejected; st.Count != 1 || st.WithoutCreditNote != 0 || st.Newest[0].CreditNote != n.Counter {
		t.Errorf("status rejected = %+v; want 1 corrected by %d", st, n.Counter)
	}
	if want := fmt.Sprintf("credit note %d, issued before the answer, already credits all of it", n.Counter); !strings.Contains(logged.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logged.String())
	}
}

// makeSchema2 rewrites dir's store as schema 2 wrote it: no index of
// rejected documents, and no record of the note that credited a document
// in full.
func makeSchema2(t *testing.T, dir string) {
	t.Helper()
	editStore(t, dir, func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte("meta"))
		for _, k := range []string{"rejected_count", "rejected_without_credit_note"} {
			if err := meta.Delete([]byte(k)); err != nil {
				return err
			}
		}
		if err := tx.DeleteBucket([]byte("rejected")); err != nil {
			return err
		}
		notes := tx.Bucket([]byte("notes"))
		edits := map[string][]byte{}
		err := notes.ForEach(func(k, v []byte) error {
			var refs map[string]any
			if err := json.Unmarshal(v, &refs); err != nil {
				return err
			}
			delete(refs, "credited_in_full")
			b, err := json.Marshal(refs)
			edits[string(k)] = b
			return err
		})
		if err != nil {
			return err
		}
		for k, v := range edits {
			if err := notes.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return meta.Put([]byte("schema_version"), []byte{0, 0, 0, 0, 0, 0, 0, 2})
	})
}

// rejectedUpgradeStore leaves in h's data directory two rejected invoices
// (1 and 2), each credited in full by a credit note (3 and 4), of which
// the authority rejected 4, and a rejected invoice 5 credited in full by
// two credit notes (6 and 7).
func rejectedUpgradeStore(t *testing.T) (h *harness, sc *scripted, cashier string) {
	h, sc, cashier = submitHarness(t)
	rejectSome(sc, 1, 2, 4, 5)
	h.mustSale(cashier, "1", goodSale)
	h.mustSale(cashier, "2", goodSale)
	h.mustSale(cashier, "3", note("credit_note", "1", teaLine("2", "5.00")))
	h.mustSale(cashier, "4", note("credit_note", "2", teaLine("2", "5.00")))
	h.mustSale(cashier, "5", goodSale)
	h.mustSale(cashier, "6", note("credit_note", "5", teaLine("1", "5.00")))
	h.mustSale(cashier, "7", note("credit_note", "5", teaLine("1", "5.00")))
	h.step()
	h.close()
	return h, sc, cashier
}

// A store from schema 1 takes both migrations and the reindex of its
// notes: a rejected document its credit notes credited in full is
// corrected by the last of them; one whose credit note the authority
// rejected is not.
func TestRejectedIndexUpgradeFromSchema1(t *testing.T) {
	h, _, _ := rejectedUpgradeStore(t)
	makeSchema1(t, h.cfg.DataDir)
	h2 := startHarness(t, h.cfg, h.ft)
	st := h2.status(h2.user("boss", RoleManager)).Rejected
	if st.Count != 4 || st.WithoutCreditNote != 1 || !maps.Equal(rejectedCreditNotes(st), map[uint64]uint64{1: 3, 2: 0, 4: 0, 5: 7}) {
		t.Errorf("status after the upgrade = %+v; want 1 corrected by 3, 2 without, 5 corrected by 7", st)
	}
}

// A store from schema 2 takes the second migration: its corrective credit
// notes correct their documents at once, and the first start finds the
// documents that credit notes credited in full.
func TestRejectedIndexUpgradeFromSchema2(t *testing.T) {
	h, _, _ := rejectedUpgradeStore(t)
	h1 := startHarness(t, h.cfg, h.ft)
	manager := h1.user("boss", RoleManager)
	w := h1.do(request{method: "POST", path: "/v1/documents/2/credit-note", token: manager})
	if w.Code != http.StatusCreated {
		t.Fatalf("corrective credit note of 2: %d %s", w.Code, w.Body)
	}
	var corrective DocumentView
	decodeBody(t, w, &corrective)
	h1.close()
	makeSchema2(t, h.cfg.DataDir)

	h2 := startHarness(t, h.cfg, h.ft)
	st := h2.status(h2.login("boss", testPassword)).Rejected
	if st.Count != 4 || st.WithoutCreditNote != 0 || !maps.Equal(rejectedCreditNotes(st), map[uint64]uint64{1: 3, 2: corrective.Counter, 4: 0, 5: 7}) {
		t.Errorf("status after the upgrade = %+v; want 1 corrected by 3, 2 by %d, 5 by 7", st, corrective.Counter)
	}
}

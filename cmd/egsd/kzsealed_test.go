package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/agent"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/kz"
	"github.com/egsd/egsd/stamping/kz/archive"
)

// TestKZArchiveSealed: a Kazakh unit keeps the signed records of its
// tickets by itself. Its archive key is created at its first start (an
// audit entry with the public key) and loaded at the next. Tickets
// accepted online get one record, with the OFD's fiscal sign; tickets
// issued autonomously get theirs at issue, with the autonomous sign, and a
// second with both signs once the OFD accepts them; a shift close gets
// none. The stopped unit's export verifies, its store verifies, and an
// edited record fails, named.
func TestKZArchiveSealed(t *testing.T) {
	u := newKZUnit(t, nil, nil, agent.Options{})
	u.issue("online-1", kzSale(1))
	_, onlineNumber := u.issue("online-2", kzSale(2))
	waitFor(t, "the online sales to be registered", 30*time.Second, func() bool { return u.pending() == 0 })
	u.sim.SetDown(true)
	straddler, _ := u.issue("in-flight", kzSale(3))
	rg := u.a.Regime().(*kz.Regime)
	waitFor(t, "the unit to notice the OFD is gone", 30*time.Second, func() bool { on, _ := rg.Autonomous(); return on })
	firstAutonomous, _ := u.issue("autonomous-1", kzSale(4))
	u.issue("autonomous-2", kzSale(5))
	u.issue("autonomous-return", kzReturn(2, onlineNumber))
	shiftClose := u.closeShift().Counter
	lastAutonomous, _ := u.issue("autonomous-3", kzSale(6))
	// Each autonomous ticket has its record as soon as it is issued.
	for c := firstAutonomous; c <= lastAutonomous; c++ {
		want := 1
		if c == shiftClose {
			want = 0
		}
		if recs, err := u.a.Store().Archive(c); err != nil || len(recs) != want {
			t.Fatalf("document %d has %d records before the OFD answered (%v), want %d", c, len(recs), err, want)
		}
	}
	u.sim.SetDown(false)
	u.replay()
	waitFor(t, "everything to be delivered", 30*time.Second, func() bool { return u.pending() == 0 })
	after, _ := u.issue("online-after", kzSale(7))
	waitFor(t, "the sale after the outage", 30*time.Second, func() bool { return u.pending() == 0 })

	autonomous := func(c uint64) bool { return c >= firstAutonomous && c <= lastAutonomous && c != shiftClose }
	if n := u.checkSealed(autonomous, map[uint64]bool{shiftClose: true}); n != 12 {
		t.Errorf("%d records, want 12 (4 tickets accepted online, 4 autonomous × 2)", n)
	}
	if straddler != firstAutonomous-1 || after != lastAutonomous+1 {
		t.Fatalf("documents %d … %d, %d: not in the order issued", straddler, lastAutonomous, after)
	}
	u.checkKeyCreatedOnce()
	u.restart()
	u.checkKeyCreatedOnce()

	u.stop()
	out := u.exportVerified(12)
	// A changed record fails, named, in the export and in the store.
	rel := filepath.Join("archive", fmt.Sprintf("%010d-2.xml", firstAutonomous))
	replaceIn(t, filepath.Join(out, rel), `autonomous="`+strconv.FormatUint(firstAutonomous, 10)+`"`, `autonomous="`+strconv.FormatUint(firstAutonomous+1, 10)+`"`)
	env := cliEnv(t.TempDir())
	if res := runEgsd(t, env, "verify", out); res.Code == 0 || strings.Count(res.Stdout, "FAIL ") != 1 ||
		!strings.Contains(res.Stdout, "FAIL "+filepath.Join(out, rel)+" ") || !strings.Contains(res.Stdout, "digest mismatch") {
		t.Fatalf("verify of an export with an edited record:\n%s", res)
	}
}

// checkSealed checks the records of every document in the unit's journal
// against the OFD's registrations: a ticket accepted online has one, with
// the OFD's fiscal sign; a ticket autonomous(counter) has two, its
// autonomous sign (its counter), then both signs; a document in none has
// none. Each verifies with the unit's archive key and belongs to its
// document. It returns how many records it checked.
func (u *kzUnit) checkSealed(autonomous func(uint64) bool, none map[uint64]bool) int {
	t := u.t
	t.Helper()
	key, err := keystore.Load(archive.KeyPath(u.data))
	if err != nil {
		t.Fatal(err)
	}
	pub := key.PublicKeyDER()
	registered := map[uint32]string{} // shift document number → fiscal sign
	for _, r := range u.sim.Tickets(kzKKMID) {
		registered[r.Ticket.ShiftNumber<<16|r.Ticket.ShiftDocumentNumber] = r.FiscalSign
	}
	checked := 0
	for _, doc := range journal(t, u.a.Store()) {
		recs, err := u.a.Store().Archive(doc.Counter)
		if err != nil {
			t.Fatal(err)
		}
		if none[doc.Counter] {
			if len(recs) != 0 {
				t.Errorf("document %d has %d records, want none", doc.Counter, len(recs))
			}
			continue
		}
		if doc.Status != queue.StatusAccepted {
			t.Fatalf("document %d is %s: %v", doc.Counter, doc.Status, doc.Messages)
		}
		tk := ticketOf(t, doc)
		sign := registered[tk.ShiftNumber<<16|tk.ShiftDocumentNumber]
		if sign == "" || answerOf(t, doc).FiscalSign != sign {
			t.Fatalf("document %d: the OFD registered it with fiscal sign %q, the journal keeps %q", doc.Counter, sign, answerOf(t, doc).FiscalSign)
		}
		want := []archive.SignXML{{OFD: sign}}
		if autonomous(doc.Counter) {
			c := strconv.FormatUint(doc.Counter, 10)
			want = []archive.SignXML{{Autonomous: c}, {Autonomous: c, OFD: sign}}
		}
		if len(recs) != len(want) {
			t.Errorf("document %d has %d records, want %d", doc.Counter, len(recs), len(want))
			continue
		}
		for i, rec := range recs {
			v, err := archive.Verify(rec.XML, pub)
			if err != nil {
				t.Errorf("record %d/%d: %v", rec.Counter, rec.Seq, err)
				continue
			}
			if err := v.Matches(doc.Counter, doc.UUID, doc.Document); err != nil {
				t.Errorf("record %d/%d: %v", rec.Counter, rec.Seq, err)
			}
			if v.Sign != want[i] || v.Shift.Document != strconv.FormatUint(uint64(tk.ShiftDocumentNumber), 10) ||
				v.Ticket.Amounts.Total != tk.Amounts.Total.String() || v.Unit.RNM != kzRNM || v.Unit.BIN != kzBIN {
				t.Errorf("record %d/%d: signs %+v (want %+v), shift document %s, total %s, unit %+v", rec.Counter, rec.Seq, v.Sign, want[i],
					v.Shift.Document, v.Ticket.Amounts.Total, v.Unit)
			}
			checked++
		}
	}
	return checked
}

// checkKeyCreatedOnce checks that the audit log records the archive key's
// creation once, with the public key of the key on disk.
func (u *kzUnit) checkKeyCreatedOnce() {
	t := u.t
	t.Helper()
	key, err := keystore.Load(archive.KeyPath(u.data))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := u.a.Store().AuditEntries(0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	created := 0
	for _, e := range entries {
		if e.Subject != "archive_key_created" {
			continue
		}
		created++
		if e.Action != queue.AuditKey || e.Details["public_key"] != string(archive.PublicKeyPEM(key.PublicKeyDER())) {
			t.Errorf("the key's audit entry: %+v", e)
		}
	}
	if created != 1 {
		t.Errorf("the archive key's creation is audited %d times, want once", created)
	}
}

// exportVerified exports the stopped unit's journal, checks that `egsd
// verify` passes the export (records in all) and `egsd verify --data` the
// store, and returns the export's directory.
func (u *kzUnit) exportVerified(records int) string {
	t := u.t
	t.Helper()
	env := cliEnv(t.TempDir())
	out := filepath.Join(t.TempDir(), "export")
	res := runEgsd(t, env, "journal", "export", "--data", u.data, "--out", out)
	if res.Code != 0 || !strings.Contains(res.Stdout, fmt.Sprintf("exported %d signed archive records", records)) {
		t.Fatalf("journal export:\n%s", res)
	}
	if res := runEgsd(t, env, "verify", out); res.Code != 0 || strings.Count(res.Stdout, "OK ") != records || strings.Contains(res.Stdout, "FAIL") {
		t.Fatalf("verify of the export:\n%s", res)
	}
	if res := runEgsd(t, env, "verify", "--data", u.data); res.Code != 0 || strings.Count(res.Stdout, "OK record ") != records || strings.Contains(res.Stdout, "FAIL") {
		t.Fatalf("verify --data:\n%s", res)
	}
	pemKey, err := os.ReadFile(filepath.Join(out, "archive", archive.PublicKeyFile))
	key, kerr := keystore.Load(archive.KeyPath(u.data))
	if err != nil || kerr != nil || !bytes.Equal(pemKey, archive.PublicKeyPEM(key.PublicKeyDER())) {
		t.Fatalf("the export's public key is not the unit's: %v %v", err, kerr)
	}
	return out
}

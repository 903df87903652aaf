package queue_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	bolt "go.etcd.io/bbolt"
)

var bucketRegimeState = []byte("regime_state")

func regimeState(t *testing.T, s *queue.Store, key string) []byte {
	t.Helper()
	v, err := s.RegimeState(key)
	if err != nil {
		t.Fatalf("RegimeState(%q): %v", key, err)
	}
	return v
}

func lastAudit(t *testing.T, s *queue.Store) queue.AuditEntry {
	t.Helper()
	es, err := s.AuditEntries(0, 1000)
	if err != nil || len(es) == 0 {
		t.Fatalf("AuditEntries: %d entries, %v", len(es), err)
	}
	return es[len(es)-1]
}

// TestRegimeStatePutGet: a put is read back, replaces the earlier value,
// and leaves one audit entry that names the key and the SHA-256 of the
// bytes (which may hold credentials) but not the bytes.
func TestRegimeStatePutGet(t *testing.T) {
	s := queuetest.Open(t, nil)
	if v := regimeState(t, s, "onboarding"); v != nil {
		t.Fatalf("absent key = %q, want nil", v)
	}
	before := auditCount(t, s)
	details := map[string]string{"step": "csr"}
	for i, value := range [][]byte{[]byte(`{"n":1,"secret":"s3cr3t"}`), []byte(`{"n":2}`)} {
		err := s.Update(func(tx *queue.Tx) error {
			return tx.PutRegimeState("onboarding", value, queue.AuditEntry{Actor: "tech", Action: queue.AuditOnboarding, Details: details})
		})
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		if got := regimeState(t, s, "onboarding"); !bytes.Equal(got, value) {
			t.Fatalf("after put %d: RegimeState = %q, want %q", i, got, value)
		}
		e := lastAudit(t, s)
		sum := sha256.Sum256(value)
		if e.Actor != "tech" || e.Action != queue.AuditOnboarding || e.Subject != "onboarding" ||
			e.Details["key"] != "onboarding" || e.Details["step"] != "csr" || e.Details["state_sha256"] != hex.EncodeToString(sum[:]) {
			t.Errorf("audit entry after put %d = %+v", i, e)
		}
		if bytes.Contains([]byte(e.Details["state_sha256"]+e.Subject), []byte("s3cr3t")) {
			t.Errorf("audit entry shows the stored bytes: %+v", e)
		}
	}
	if len(details) != 1 {
		t.Errorf("PutRegimeState changed the caller's details map: %v", details)
	}
	if n := auditCount(t, s); n != before+2 {
		t.Errorf("%d audit entries after two puts, want %d", n, before+2)
	}
	// The slice returned outlives its transaction and is the caller's own.
	var got []byte
	if err := s.View(func(tx *queue.Tx) error {
		var err error
		got, err = tx.RegimeState("onboarding")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got[0] = 'X'
	if v := regimeState(t, s, "onboarding"); v[0] != '{' {
		t.Errorf("changing a returned slice changed the store: %q", v)
	}
}

// TestRegimeStateRollsBack: a transaction that fails keeps neither the new
// state nor its audit entry.
func TestRegimeStateRollsBack(t *testing.T) {
	s := queuetest.Open(t, nil)
	before := auditCount(t, s)
	boom := errors.New("boom")
	err := s.Update(func(tx *queue.Tx) error {
		if err := tx.PutRegimeState("onboarding", []byte("x"), queue.AuditEntry{Actor: "tech", Action: queue.AuditOnboarding}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	if v := regimeState(t, s, "onboarding"); v != nil {
		t.Errorf("state after a rolled-back put = %q", v)
	}
	if n := auditCount(t, s); n != before {
		t.Errorf("%d audit entries after a rolled-back put, want %d", n, before)
	}
}

func TestRegimeStateRefuses(t *testing.T) {
	s := queuetest.Open(t, nil)
	for name, tc := range map[string]struct {
		key string
		e   queue.AuditEntry
	}{
		"no actor":     {"onboarding", queue.AuditEntry{Action: queue.AuditOnboarding}},
		"no action":    {"onboarding", queue.AuditEntry{Actor: "tech"}},
		"empty key":    {"", queue.AuditEntry{Actor: "tech", Action: queue.AuditOnboarding}},
		"key too long": {string(bytes.Repeat([]byte("k"), 65)), queue.AuditEntry{Actor: "tech", Action: queue.AuditOnboarding}},
	} {
		err := s.Update(func(tx *queue.Tx) error { return tx.PutRegimeState(tc.key, []byte("x"), tc.e) })
		if err == nil {
			t.Errorf("%s: PutRegimeState succeeded", name)
		}
	}
	if _, err := s.RegimeState(""); err == nil {
		t.Error("RegimeState with an empty key succeeded")
	}
}

// TestRegimeStateSurvivesReopen: the state is on disk, and a store file
// from before the bucket existed gets it when opened.
func TestRegimeStateSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := queue.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(tx *queue.Tx) error {
		return tx.PutRegimeState("onboarding", []byte("kept"), queue.AuditEntry{Actor: "tech", Action: queue.AuditOnboarding})
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openChecked(t, dir, nil)
	if v := regimeState(t, s, "onboarding"); string(v) != "kept" {
		t.Fatalf("after reopening: %q, want kept", v)
	}
	s.Close()

	editFile(t, dir, func(tx *bolt.Tx) {
		if err := tx.DeleteBucket(bucketRegimeState); err != nil {
			t.Fatal(err)
		}
	})
	s = openChecked(t, dir, nil)
	if v := regimeState(t, s, "onboarding"); v != nil {
		t.Fatalf("store without the bucket: %q, want nil", v)
	}
	if err := s.Update(func(tx *queue.Tx) error {
		return tx.PutRegimeState("onboarding", []byte("again"), queue.AuditEntry{Actor: "tech", Action: queue.AuditOnboarding})
	}); err != nil {
		t.Fatalf("put after the bucket was added on open: %v", err)
	}
}

// TestAnswerStateAtomic: a session stored with an answer is on disk with
// it, and an answer the store refuses (the document already answered)
// stores no session either; PutSessionState writes one alone, unaudited.
func TestAnswerStateAtomic(t *testing.T) {
	s := queuetest.OpenWithRehash(t, &queue.Options{Clock: newClock().Clock}, queuetest.Rehash)
	r1 := issueSubmitted(t, s, "1")
	audits := auditCount(t, s)
	if err := s.PutSessionState("kz.session", []byte("pending-1")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.RegimeState("kz.session"); string(got) != "pending-1" {
		t.Fatalf("session = %q", got)
	}
	if n := auditCount(t, s); n != audits {
		t.Errorf("PutSessionState added %d audit entries", n-audits)
	}
	if err := s.RecordAnswer(r1.Counter, queue.Answer{Status: queue.StatusAccepted, Body: []byte("sign"), At: t0,
		State: &queue.StateWrite{Key: "kz.session", Value: []byte("token-2")}}); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Document(r1.Counter)
	if got, _ := s.RegimeState("kz.session"); string(got) != "token-2" || err != nil || string(rec.Answer) != "sign" {
		t.Fatalf("after the answer: session %q, answer %q (%v)", got, rec.Answer, err)
	}
	// A second answer for the same document is refused: its session is
	// not stored either.
	if err := s.RecordAnswer(r1.Counter, queue.Answer{Status: queue.StatusAccepted, Body: []byte("other"), At: t0,
		State: &queue.StateWrite{Key: "kz.session", Value: []byte("token-3")}}); err == nil {
		t.Fatal("a second answer was accepted")
	}
	if got, _ := s.RegimeState("kz.session"); string(got) != "token-2" {
		t.Errorf("a refused answer stored its session: %q", got)
	}
	if err := s.PutSessionState("", []byte("x")); err == nil {
		t.Error("an empty key was accepted")
	}
}

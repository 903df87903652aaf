package offsite_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egsd/egsd/offsite"
	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
)

// memStore is an in-process object store that counts what it is asked and
// can be made to fail.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	sums    map[string]string
	puts    map[string]int
	stats   int
	// failAfter, when > 0, makes every Put after that many fail.
	failAfter int
	putsDone  int
}

func newMemStore() *memStore {
	return &memStore{objects: map[string][]byte{}, sums: map[string]string{}, puts: map[string]int{}}
}

var errDown = errors.New("connection refused")

func (m *memStore) Stat(_ context.Context, key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats++
	_, ok := m.objects[key]
	return m.sums[key], ok, nil
}

func (m *memStore) Put(_ context.Context, key string, data []byte, sum string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failAfter > 0 && m.putsDone >= m.failAfter {
		return errDown
	}
	m.putsDone++
	m.objects[key] = slices.Clone(data)
	m.sums[key] = sum
	m.puts[key]++
	return nil
}

func (m *memStore) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.objects[key]
	return slices.Clone(data), ok, nil
}

// totalPuts counts the Puts of objects whose key contains part.
func (m *memStore) totalPuts(part string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, c := range m.puts {
		if strings.Contains(k, part) {
			n += c
		}
	}
	return n
}

// download writes every object under dir, as a copy of the bucket.
func (m *memStore) download(t *testing.T, dir string) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, data := range m.objects {
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// day0 is the first day the tests issue on; documents go over midnight.
var day0 = time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC)

// unit is a store whose documents are issued one second apart from day0,
// with a signer that checkpoints every 5 audit entries (signing: see
// newUnsignedUnit).
type unit struct {
	store *queue.Store
	mu    sync.Mutex
	now   time.Time
}

func newUnit(t *testing.T) *unit {
	u := newUnsignedUnit(t)
	u.store.SetAuditSigner(&queue.AuditSigner{PublicKey: []byte("public key"), Every: 5,
		Sign: func(msg []byte) ([]byte, error) { return []byte("signature"), nil }})
	return u
}

// newUnsignedUnit is a unit without audit checkpoints: nothing but its
// documents and answers changes what there is to archive.
func newUnsignedUnit(t *testing.T) *unit {
	u := &unit{now: day0}
	tick := func() (time.Time, error) {
		u.mu.Lock()
		defer u.mu.Unlock()
		u.now = u.now.Add(time.Second)
		return u.now, nil
	}
	now := func() time.Time { u.mu.Lock(); defer u.mu.Unlock(); return u.now }
	u.store = queuetest.Open(t, &queue.Options{Clock: tick, Now: now, NoSync: true})
	return u
}

// issue issues n documents, submitted to the authority (pending) or not
// (accepted at once).
func (u *unit) issue(t *testing.T, n int, submit bool) []*queue.Record {
	t.Helper()
	var recs []*queue.Record
	for range n {
		req := queuetest.Request("ana", queuetest.UUID(), []byte(`{"sale":1}`))
		req.Submit = submit
		res, err := u.store.Issue(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, res.Record)
	}
	return recs
}

func newUploader(t *testing.T, s *queue.Store, objects offsite.ObjectStore) *offsite.Uploader {
	t.Helper()
	u, err := offsite.New(s, objects, offsite.Config{Prefix: "egsd/archive", Seller: "399999999900003", Device: "TILL-7", Target: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func manifest(t *testing.T, m *memStore, day string) offsite.Manifest {
	t.Helper()
	data, ok, _ := m.Get(context.Background(), "egsd/archive/399999999900003/TILL-7/"+day+"/manifest.json")
	if !ok {
		t.Fatalf("no manifest for %s", day)
	}
	var man offsite.Manifest
	if err := json.Unmarshal(data, &man); err != nil {
		t.Fatal(err)
	}
	return man
}

// TestSyncArchivesEachDayWithItsManifest: documents issued over midnight
// land in two day folders, each listed in its manifest with first and last
// counter and chain head, and the checkpoints with them; a second pass
// sends nothing.
func TestSyncArchivesEachDayWithItsManifest(t *testing.T) {
	u := newUnit(t)
	recs := u.issue(t, 120, false)
	objects := newMemStore()
	up := newUploader(t, u.store, objects)
	if err := up.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	first, second := manifest(t, objects, "2026-03-01"), manifest(t, objects, "2026-03-02")
	if first.FirstCounter != 1 || first.LastCounter != 59 || second.FirstCounter != 60 || second.LastCounter != 120 {
		t.Fatalf("manifests cover %d–%d and %d–%d, want 1–59 and 60–120 (issued from 23:59:01 a second apart)",
			first.FirstCounter, first.LastCounter, second.FirstCounter, second.LastCounter)
	}
	if first.ChainHead != recs[58].Hash || second.ChainHead != recs[119].Hash || second.Documents[0].PrevHash != first.ChainHead {
		t.Errorf("chain heads %s, %s do not match the journal", first.ChainHead, second.ChainHead)
	}
	for _, e := range append(first.Documents, second.Documents...) {
		r := recs[e.Counter-1]
		key := fmt.Sprintf("egsd/archive/399999999900003/TILL-7/%s/documents/%010d-%s.json", offsite.Day(r.IssuedAt), r.Counter, r.UUID)
		if data, ok, _ := objects.Get(context.Background(), key); !ok || string(data) != string(r.Document) {
			t.Fatalf("document %d: object %s holds %q, want the document as issued", r.Counter, key, data)
		}
		if e.Answer == nil || e.Answer.Status != "accepted" {
			t.Errorf("document %d not submitted: answer entry %+v, want status accepted", r.Counter, e.Answer)
		}
	}
	cps, err := u.store.AuditCheckpoints(0, 1000)
	if err != nil || len(cps) < 20 {
		t.Fatalf("%d checkpoints, %v; the test needs the cadence to sign some", len(cps), err)
	}
	listed := len(first.Checkpoints) + len(second.Checkpoints)
	if listed != len(cps) {
		t.Errorf("manifests list %d checkpoints, the store has %d", listed, len(cps))
	}
	cur, err := u.store.OffsiteCursor()
	if err != nil || cur.Documents != 120 || cur.Answers != 120 || cur.Checkpoints != cps[len(cps)-1].Seq {
		t.Errorf("cursor %+v, %v; want documents and answers 120, checkpoints %d", cur, err, cps[len(cps)-1].Seq)
	}
	sent := up.Status().Sent
	if err := up.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again := up.Status().Sent; again != sent {
		t.Errorf("a second pass with nothing new sent %d objects", again-sent)
	}
}

// TestAnswersFollowTheirDocuments: a document archived while pending gets
// its answer object, in its own day's folder, and its manifest entry, once
// the answer lands; the answers cursor stays below the oldest document
// still unanswered.
func TestAnswersFollowTheirDocuments(t *testing.T) {
	u := newUnsignedUnit(t)
	recs := u.issue(t, 10, true)
	objects := newMemStore()
	up := newUploader(t, u.store, objects)
	if err := up.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := objects.totalPuts("/answers/"); n != 0 {
		t.Fatalf("%d answers sent before any arrived", n)
	}
	// The authority answers 2 to 10, not yet 1.
	for _, r := range recs {
		if r.Counter == 1 {
			continue
		}
		if err := u.store.RecordAnswer(r.Counter, queue.Answer{Status: queue.StatusAccepted, Body: []byte(`{"ok":` + fmt.Sprint(r.Counter) + `}`), At: day0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := up.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := objects.totalPuts("/answers/"); n != 9 {
		t.Errorf("%d answers sent, want 9", n)
	}
	if m := manifest(t, objects, "2026-03-01"); m.Documents[0].Answer != nil || m.Documents[1].Answer == nil || m.Documents[9].Answer == nil {
		t.Errorf("the manifest does not list the answers that arrived (2 to 10) without 1's: %+v", m.Documents)
	}
	cur, _ := u.store.OffsiteCursor()
	if cur.Answers != 0 || cur.Documents != 10 {
		t.Errorf("cursor %+v: want answers 0 (document 1 waits), documents 10", cur)
	}
	if hold, _ := up.HoldFrom(); hold != 1 {
		t.Errorf("HoldFrom = %d, want 1", hold)
	}
	if err := u.store.RecordAnswer(1, queue.Answer{Status: queue.StatusRejected, Body: []byte(`{"errors":1}`), Messages: []string{"BR-01"}, At: day0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := up.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cur, _ := u.store.OffsiteCursor(); cur.Answers != 10 {
		t.Errorf("answers cursor %d once every document is answered, want 10", cur.Answers)
	}
	if n := objects.totalPuts("/answers/"); n != 10 {
		t.Errorf("%d answers sent in all, want 10 (one each)", n)
	}
	var ao offsite.AnswerObject
	data, ok, _ := objects.Get(context.Background(), fmt.Sprintf("egsd/archive/399999999900003/TILL-7/2026-03-01/answers/%010d-%s.json", 1, recs[0].UUID))
	if !ok || json.Unmarshal(data, &ao) != nil || ao.Status != "rejected" || string(ao.Answer) != `{"errors":1}` || !slices.Equal(ao.Messages, []string{"BR-01"}) {
		t.Errorf("answer object of document 1 = %s", data)
	}
}

// TestRestartAfterOutageSendsNothingTwice: a pass that fails halfway (the
// store goes down after some objects) leaves the cursor where it was; a
// restarted uploader finds what was stored, sends only the rest, and every
// document and checkpoint object is sent once. A cursor lost entirely (a
// new target) costs look-ups, not uploads.
func TestRestartAfterOutageSendsNothingTwice(t *testing.T) {
	u := newUnit(t)
	u.issue(t, 2500, false)
	objects := newMemStore()
	objects.failAfter = 1700
	if err := newUploader(t, u.store, objects).Sync(context.Background()); !errors.Is(err, errDown) {
		t.Fatalf("Sync with the store down = %v, want the store's error", err)
	}
	cur, _ := u.store.OffsiteCursor()
	if cur.Documents != 0 && cur.Documents != 1000 {
		t.Fatalf("cursor at %d after a failed pass: it must stand at a confirmed step (0 or 1000)", cur.Documents)
	}
	objects.failAfter = 0
	restarted := newUploader(t, u.store, objects)
	if err := restarted.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	for k, n := range objects.puts {
		if n != 1 && !strings.HasSuffix(k, "/manifest.json") {
			t.Errorf("%s sent %d times", k, n)
		}
	}
	if n := objects.totalPuts("/documents/"); n != 2500 {
		t.Errorf("%d documents sent, want 2500", n)
	}
	if restarted.Status().Kept == 0 {
		t.Error("the restarted uploader found nothing already stored; the failed pass had stored some")
	}

	before := maps.Clone(objects.puts)
	fresh, err := offsite.New(u.store, objects, offsite.Config{Prefix: "egsd/archive", Seller: "399999999900003", Device: "TILL-7", Target: "moved"})
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(before, objects.puts) {
		t.Errorf("a pass from an empty cursor re-sent %d objects already stored", fresh.Status().Sent)
	}
	if cur, _ := u.store.OffsiteCursor(); cur.Target != "moved" || cur.Documents != 2500 {
		t.Errorf("cursor %+v after the pass for the new target", cur)
	}
}

// TestReadArchive: a downloaded copy reads back in counter order; a
// changed, a missing and a foreign object are each named.
func TestReadArchive(t *testing.T) {
	u := newUnit(t)
	u.issue(t, 90, false)
	objects := newMemStore()
	if err := newUploader(t, u.store, objects).Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	objects.download(t, dir)
	units, err := offsite.ReadArchive(dir)
	if err != nil || len(units) != 1 {
		t.Fatalf("ReadArchive = %d units, %v", len(units), err)
	}
	a := units[0]
	if a.First != 1 || a.Last != 90 || len(a.Documents) != 90 || a.Answers != 90 || len(a.Days) != 2 || a.Device != "TILL-7" {
		t.Fatalf("read %+v", a)
	}
	for i, p := range a.Documents {
		if !strings.Contains(filepath.Base(p), fmt.Sprintf("%010d-", i+1)) {
			t.Fatalf("document %d is %s", i+1, p)
		}
	}
	unitDir := filepath.Join(dir, "egsd", "archive", "399999999900003", "TILL-7")
	if err := os.WriteFile(a.Documents[4], []byte(`{"forged":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(a.Documents[70]); err != nil {
		t.Fatal(err)
	}
	_, err = offsite.ReadArchive(unitDir)
	if err == nil || !strings.Contains(err.Error(), "document 5: documents/") || !strings.Contains(err.Error(), "has changed") ||
		!strings.Contains(err.Error(), "document 71: ") {
		t.Errorf("ReadArchive of a tampered copy = %v; want the changed document 5 and the missing 71 named", err)
	}

	// A day folder whose manifest drops a document leaves a gap.
	objects.download(t, dir)
	mp := filepath.Join(unitDir, "2026-03-02", "manifest.json")
	var m offsite.Manifest
	data, _ := os.ReadFile(mp)
	json.Unmarshal(data, &m)
	m.Documents = slices.Delete(m.Documents, 10, 11)
	data, _ = json.Marshal(m)
	os.WriteFile(mp, data, 0o600)
	if _, err := offsite.ReadArchive(dir); err == nil || !strings.Contains(err.Error(), "documents 70 to 70 are missing") {
		t.Errorf("ReadArchive with document 70 left out of its manifest = %v", err)
	}
}

// TestUploaderRefusesBadNames: the folder names come from the
// configuration and must stay inside the unit's folder.
func TestUploaderRefusesBadNames(t *testing.T) {
	s := queuetest.Open(t, nil)
	for _, c := range []offsite.Config{
		{Seller: "../x", Device: "TILL-7"},
		{Seller: "399999999900003", Device: "till 7"},
		{Prefix: "/lead", Seller: "399999999900003", Device: "TILL-7"},
		{Prefix: "a//b", Seller: "399999999900003", Device: "TILL-7"},
	} {
		if _, err := offsite.New(s, newMemStore(), c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

// TestManifestWaitsForItsInterval: while documents keep coming, Run sends
// them at once but stores the day's manifest and the cursor only every
// ManifestEvery, or at once when a day is over; stopping stores what
// waits.
func TestManifestWaitsForItsInterval(t *testing.T) {
	u := newUnit(t)
	u.issue(t, 50, false) // 23:59:01 to 23:59:50
	objects := newMemStore()
	up, err := offsite.New(u.store, objects, offsite.Config{Prefix: "egsd/archive", Seller: "399999999900003", Device: "TILL-7", Target: "test",
		Interval: 10 * time.Millisecond, ManifestEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { up.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitUntil(t, "the documents and answers to be sent", func() bool {
		return objects.totalPuts("/documents/") == 50 && objects.totalPuts("/answers/") == 50
	})
	// The first pass stored the first manifest (nothing was stored before);
	// the later ones wait for the hour.
	firstManifests := objects.totalPuts("manifest.json")
	u.issue(t, 5, false) // 23:59:51 to 23:59:55, the same day
	up.Wake()
	waitUntil(t, "the new documents to be sent", func() bool { return objects.totalPuts("/documents/") == 55 })
	if n := objects.totalPuts("manifest.json"); n != firstManifests {
		t.Errorf("the manifest was stored %d more times within its interval", n-firstManifests)
	}
	if cur, _ := u.store.OffsiteCursor(); cur.Documents > 50 {
		t.Errorf("cursor %+v counts documents whose manifest is not stored", cur)
	}
	u.issue(t, 10, false) // past midnight: the first day is over
	up.Wake()
	waitUntil(t, "the finished day's manifest", func() bool {
		cur, _ := u.store.OffsiteCursor()
		return cur.Documents == 65
	})
	if m := manifest(t, objects, "2026-03-01"); m.LastCounter != 59 || len(m.Documents) != 59 {
		t.Errorf("the finished day's manifest lists %d documents up to %d, want 59", len(m.Documents), m.LastCounter)
	}
	u.issue(t, 3, false)
	up.Wake()
	waitUntil(t, "the last documents to be sent", func() bool { return objects.totalPuts("/documents/") == 68 })
	cancel()
	<-done
	if cur, _ := u.store.OffsiteCursor(); cur.Documents != 68 || manifest(t, objects, "2026-03-02").LastCounter != 68 {
		t.Errorf("after stopping: cursor %+v; want the waiting manifest and cursor stored at 68", cur)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

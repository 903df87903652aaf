package main

// Integration and crash tests: they run the real egsd binary (built once by
// the harness) on loopback and check invariants 1–4 of design.md §3 through
// the public API, the CLI, and the store's own Check after the process is
// gone.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/egsd/egsd/cmd/egsd/internal/cmdtest"
	"github.com/egsd/egsd/queue"
)

var (
	salesSeed  = flag.Uint64("sales.seed", 1, "seed of TestConcurrentSalesInvariants (bodies and the resent sample)")
	crashKills = flag.Int("crash.kills", 50, "how many times TestCrashRecovery kills the daemon with SIGKILL")
	crashSeed  = flag.Uint64("crash.seed", 0, "seed of TestCrashRecovery's kill delays and sale bodies (0: pick one and log it)")
)

// issuedSale is a sale the API acknowledged, with what was sent.
type issuedSale struct {
	key  string
	body []byte
	ans  saleAnswer
}

// TestConcurrentSalesInvariants issues 4000 sales from 8 concurrent clients
// and checks invariant 1 (one contiguous counter), 2 (one chain over the
// stored bytes), 3 (every acknowledged sale is in the journal and the
// outbox) and 4 (a resend gets the same document back; a reused key with
// another body is refused).
func TestConcurrentSalesInvariants(t *testing.T) {
	const clients, perClient = 8, 500
	const total = clients * perClient
	const sampleSize = 200
	t.Logf("sales.seed=%d", *salesSeed)

	data := filepath.Join(t.TempDir(), "data")
	d := startDemo(t, data)
	api := newAPIClient(d.url)
	api.login(t, "cashier", "cashier-demo")
	ctx := context.Background()

	issued := make([][]issuedSale, clients)
	var wg sync.WaitGroup
	for c := range clients {
		rng := mrand.New(mrand.NewPCG(*salesSeed, uint64(c)))
		wg.Go(func() {
			for range perClient {
				s := issuedSale{key: newKey(), body: saleBody(rng)}
				ans, err := api.postSale(ctx, s.key, s.body)
				if err != nil {
					t.Errorf("client %d: POST /v1/sales: %v", c, err)
					return
				}
				if ans.Status != http.StatusCreated || ans.Header.Get("Idempotent-Replayed") != "" {
					t.Errorf("client %d: new sale = %d (Idempotent-Replayed %q) %s, want 201",
						c, ans.Status, ans.Header.Get("Idempotent-Replayed"), ans.Body)
					return
				}
				if s.ans, err = decodeSale(ans); err != nil {
					t.Errorf("client %d: %v", c, err)
					return
				}
				issued[c] = append(issued[c], s)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// Invariant 1: the answers' counters are exactly 1..total.
	byCounter := make([]*issuedSale, total+1)
	var all []*issuedSale
	for c := range issued {
		for i := range issued[c] {
			s := &issued[c][i]
			all = append(all, s)
			switch n := s.ans.Counter; {
			case n < 1 || n > total:
				t.Errorf("counter %d answered, want 1..%d", n, total)
			case byCounter[n] != nil:
				t.Errorf("counter %d answered twice: keys %s and %s", n, byCounter[n].key, s.key)
			default:
				byCounter[n] = s
			}
		}
	}
	if len(all) != total {
		t.Fatalf("%d sales answered, want %d", len(all), total)
	}
	// Invariant 2 as the API shows it: each document carries its
	// predecessor's hash, and the answered bytes hash to the answered hash.
	r := testRegime(t)
	for n := uint64(1); n <= total; n++ {
		s := byCounter[n]
		if s == nil {
			t.Errorf("counter %d never answered", n)
			continue
		}
		if n > 1 && byCounter[n-1] != nil && s.ans.PrevHash != byCounter[n-1].ans.Hash {
			t.Errorf("document %d: prev_hash %s, document %d has hash %s", n, s.ans.PrevHash, n-1, byCounter[n-1].ans.Hash)
		}
		if h, err := r.Rehash(s.ans.Document); err != nil || h != s.ans.Hash {
			t.Errorf("document %d: answered bytes hash to %q (%v), answer says %q", n, h, err, s.ans.Hash)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Invariant 4: resend a seeded sample concurrently, each with its key
	// and body: the same document comes back, marked as a replay.
	rng := mrand.New(mrand.NewPCG(*salesSeed, 0xfeed))
	sample := make([]*issuedSale, sampleSize)
	for i, j := range rng.Perm(total)[:sampleSize] {
		sample[i] = all[j]
	}
	var next sync.Mutex
	pos := 0
	for range clients {
		wg.Go(func() {
			for {
				next.Lock()
				i := pos
				pos++
				next.Unlock()
				if i >= len(sample) {
					return
				}
				s := sample[i]
				ans, err := api.postSale(ctx, s.key, s.body)
				if err != nil {
					t.Errorf("resend of document %d: %v", s.ans.Counter, err)
					continue
				}
				if ans.Status != http.StatusOK || ans.Header.Get("Idempotent-Replayed") != "true" {
					t.Errorf("resend of document %d = %d (Idempotent-Replayed %q) %s, want 200 replayed",
						s.ans.Counter, ans.Status, ans.Header.Get("Idempotent-Replayed"), ans.Body)
					continue
				}
				got, err := decodeSale(ans)
				if err != nil {
					t.Errorf("resend of document %d: %v", s.ans.Counter, err)
				} else if diff := got.diff(s.ans); diff != "" {
					t.Errorf("resend of document %d answered %s", s.ans.Counter, diff)
				}
			}
		})
	}
	wg.Wait()
	// The same key with another body is refused, and issues nothing.
	for _, s := range sample[:10] {
		other := saleBody(rng)
		if string(other) == string(s.body) {
			continue
		}
		ans, err := api.postSale(ctx, s.key, other)
		if err != nil {
			t.Fatalf("reuse of the key of document %d: %v", s.ans.Counter, err)
		}
		if ans.Status != http.StatusConflict {
			t.Errorf("reuse of the key of document %d with another body = %d %s, want 409", s.ans.Counter, ans.Status, ans.Body)
		}
	}
	d.stop()

	// Invariants 1–3 in the store, checked by its own Check with Rehash.
	st := openStore(t, data)
	defer st.Close()
	rep := checkStore(t, st)
	recs := journal(t, st)
	ob := outbox(t, st)
	if rep.Documents != total || len(recs) != total {
		t.Errorf("journal ends at %d with %d records, want %d", rep.Documents, len(recs), total)
	}
	// The test regime submits everything and nothing drains the outbox yet.
	if rep.Pending != total || len(ob) != total {
		t.Errorf("outbox has %d entries (check counted %d), want %d", len(ob), rep.Pending, total)
	}
	for _, rec := range recs {
		var s *issuedSale
		if rec.Counter <= total {
			s = byCounter[rec.Counter]
		}
		if s == nil {
			t.Errorf("journal[%d] was never answered to a client", rec.Counter)
			continue
		}
		if rec.UUID != s.ans.UUID || rec.Hash != s.ans.Hash || rec.IdempotencyKey != s.key || string(rec.Document) != string(s.ans.Document) {
			t.Errorf("journal[%d] = uuid %s hash %s key %s, but the client was answered uuid %s hash %s for key %s (or other bytes)",
				rec.Counter, rec.UUID, rec.Hash, rec.IdempotencyKey, s.ans.UUID, s.ans.Hash, s.key)
		}
		if rec.Status != queue.StatusPending || rec.User != "cashier" {
			t.Errorf("journal[%d]: status %s user %q, want pending by cashier", rec.Counter, rec.Status, rec.User)
		}
	}
}

const crashPassword = "till1-password"

// crashLedger is what TestCrashRecovery's clients learned: the sales the
// API acknowledged and the ones whose outcome is unknown.
type crashLedger struct {
	mu      sync.Mutex
	acked   map[string]issuedSale // by key
	unknown map[string][]byte     // key → body: no answer (the daemon died)
}

// TestCrashRecovery is the crash test of design.md §8: it kills the daemon
// with SIGKILL at random moments while four clients issue sales, and after
// each kill checks invariants 1–4 on the store the dead process left:
// counters contiguous, chain and stored bytes intact, every acknowledged
// sale in the journal at the counter, UUID and hash it was answered with
// and pending in the outbox, nothing in the journal that no client asked
// for, no key issued twice. At the end every sale whose outcome the client
// never learned is resent with its key and body: it is either found (200,
// replayed) or issued now (201), never lost or refused.
func TestCrashRecovery(t *testing.T) {
	kills := *crashKills
	if testing.Short() && !flagSet("crash.kills") {
		kills = 5
	}
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("crash.seed=%d crash.kills=%d (rerun with -crash.seed=%d)", seed, kills, seed)
	rng := mrand.New(mrand.NewPCG(seed, 0))

	// A configured unit rather than the demo: the demo hashes its three
	// passwords (bcrypt cost 11) on every start, which would dominate a
	// run of hundreds of restarts.
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	cfg := writeConfig(t, tmp, data, "127.0.0.1:1")
	if res := runEgsd(t, cliEnv(tmp), "users", "add", "--config", cfg, "--name", "till1", "--role", "cashier", "--password", crashPassword); res.Code != 0 {
		t.Fatalf("users add: %s", res)
	}
	start := func() (*daemon, *apiClient) {
		d := startListening(t, data, func(addr string) []string { return []string{"run", "--config", cfg, "--listen", addr} })
		api := newAPIClient(d.url)
		api.login(t, "till1", crashPassword)
		return d, api
	}

	ledger := &crashLedger{acked: map[string]issuedSale{}, unknown: map[string][]byte{}}
	var journalSize uint64
	for kill := 1; kill <= kills; kill++ {
		d, api := start()

		// Bound the clients in case the kill never comes.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var wg sync.WaitGroup
		for c := range 4 {
			crng := mrand.New(mrand.NewPCG(seed, uint64(kill)<<8|uint64(c)))
			wg.Go(func() { runCrashClient(ctx, t, api, crng, ledger) })
		}
		time.Sleep(time.Duration(20+rng.IntN(131)) * time.Millisecond)
		d.kill()
		wg.Wait()
		cancel()
		if t.Failed() {
			t.FailNow()
		}
		journalSize = checkAfterCrash(t, kill, data, ledger, journalSize)
	}

	// Restart once more and resend every sale of unknown outcome.
	d, api := start()
	type resend struct {
		key  string
		body []byte
	}
	var todo []resend
	for k, b := range ledger.unknown {
		todo = append(todo, resend{k, b})
	}
	slices.SortFunc(todo, func(a, b resend) int { return strings.Compare(a.key, b.key) })
	replayed, issuedNow := 0, 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan resend)
	for range 4 {
		wg.Go(func() {
			for r := range work {
				ans, err := api.postSale(context.Background(), r.key, r.body)
				if err != nil {
					t.Errorf("resend of unknown-outcome key %s: %v", r.key, err)
					continue
				}
				replay := ans.Header.Get("Idempotent-Replayed") == "true"
				if !(ans.Status == http.StatusOK && replay) && !(ans.Status == http.StatusCreated && !replay) {
					t.Errorf("resend of unknown-outcome key %s = %d (Idempotent-Replayed %v) %s, want 200 replayed or 201",
						r.key, ans.Status, replay, ans.Body)
					continue
				}
				s, err := decodeSale(ans)
				if err != nil {
					t.Errorf("resend of key %s: %v", r.key, err)
					continue
				}
				mu.Lock()
				if replay {
					replayed++
					if s.Counter > journalSize {
						t.Errorf("key %s replayed as document %d, but the journal before the restart ended at %d", r.key, s.Counter, journalSize)
					}
				} else {
					issuedNow++
					if s.Counter <= journalSize {
						t.Errorf("key %s issued now as document %d, but the journal already ended at %d", r.key, s.Counter, journalSize)
					}
				}
				ledger.acked[r.key] = issuedSale{key: r.key, body: r.body, ans: s}
				mu.Unlock()
			}
		})
	}
	for _, r := range todo {
		work <- r
	}
	close(work)
	wg.Wait()
	d.stop()

	st := openStore(t, data)
	defer st.Close()
	rep := checkStore(t, st)
	recs := journal(t, st)
	want := uint64(len(ledger.acked))
	if rep.Documents != want || uint64(len(recs)) != want {
		t.Errorf("after resending, the journal ends at %d with %d records; want %d (one per key)", rep.Documents, len(recs), want)
	}
	for _, rec := range recs {
		s, ok := ledger.acked[rec.IdempotencyKey]
		if !ok {
			t.Errorf("journal[%d] has key %q that no client sent", rec.Counter, rec.IdempotencyKey)
		} else if s.ans.Counter != rec.Counter || s.ans.UUID != rec.UUID || s.ans.Hash != rec.Hash {
			t.Errorf("journal[%d] = %s/%s, key %s was answered %d/%s/%s", rec.Counter, rec.UUID, rec.Hash, rec.IdempotencyKey, s.ans.Counter, s.ans.UUID, s.ans.Hash)
		}
	}
	t.Logf("kills %d: %d sales acknowledged before a kill, %d of unknown outcome (%d had been committed, %d issued on resend); journal %d documents",
		kills, len(ledger.acked)-len(ledger.unknown), len(ledger.unknown), replayed, issuedNow, rep.Documents)
}

// runCrashClient issues sales until a request fails (the daemon was
// killed) or ctx ends. A failed request's outcome is unknown.
func runCrashClient(ctx context.Context, t *testing.T, api *apiClient, rng *mrand.Rand, ledger *crashLedger) {
	for ctx.Err() == nil {
		key, body := newKey(), saleBody(rng)
		ans, err := api.postSale(ctx, key, body)
		if err != nil {
			ledger.mu.Lock()
			ledger.unknown[key] = body
			ledger.mu.Unlock()
			return
		}
		if ans.Status != http.StatusCreated || ans.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("new sale = %d (Idempotent-Replayed %q) %s, want 201", ans.Status, ans.Header.Get("Idempotent-Replayed"), ans.Body)
			return
		}
		s, err := decodeSale(ans)
		if err != nil {
			t.Error(err)
			return
		}
		ledger.mu.Lock()
		ledger.acked[key] = issuedSale{key: key, body: body, ans: s}
		ledger.mu.Unlock()
	}
}

// checkAfterCrash opens the store the killed daemon left and checks it
// against everything the clients were told; it returns the journal's size.
func checkAfterCrash(t *testing.T, kill int, data string, ledger *crashLedger, before uint64) uint64 {
	t.Helper()
	st := openStore(t, data)
	defer st.Close()
	rep, err := st.Check(checkOptions(t))
	if err != nil {
		t.Fatalf("after kill %d: store check:\n%v", kill, err)
	}
	recs := journal(t, st)
	if uint64(len(recs)) != rep.Documents {
		t.Fatalf("after kill %d: %d journal records, but the counter is at %d", kill, len(recs), rep.Documents)
	}
	if rep.Documents < before {
		t.Fatalf("after kill %d: the journal shrank from %d to %d documents", kill, before, rep.Documents)
	}
	byKey := make(map[string]*queue.Record, len(recs))
	pending := 0
	for i, rec := range recs {
		if rec.Counter != uint64(i+1) {
			t.Fatalf("after kill %d: record %d of the journal has counter %d", kill, i+1, rec.Counter)
		}
		if prev, dup := byKey[rec.IdempotencyKey]; dup {
			t.Errorf("after kill %d: key %s issued twice, as documents %d and %d", kill, rec.IdempotencyKey, prev.Counter, rec.Counter)
		}
		byKey[rec.IdempotencyKey] = rec
		_, acked := ledger.acked[rec.IdempotencyKey]
		_, unknown := ledger.unknown[rec.IdempotencyKey]
		if !acked && !unknown {
			t.Errorf("after kill %d: journal[%d] has key %q that no client sent", kill, rec.Counter, rec.IdempotencyKey)
		}
		if rec.Status == queue.StatusPending {
			pending++
		}
	}
	for key, s := range ledger.acked {
		rec := byKey[key]
		switch {
		case rec == nil:
			t.Errorf("after kill %d: acknowledged document %d (key %s) is not in the journal: lost", kill, s.ans.Counter, key)
		case rec.Counter != s.ans.Counter || rec.UUID != s.ans.UUID || rec.Hash != s.ans.Hash:
			t.Errorf("after kill %d: key %s was answered %d/%s/%s, the journal has %d/%s/%s",
				kill, key, s.ans.Counter, s.ans.UUID, s.ans.Hash, rec.Counter, rec.UUID, rec.Hash)
		}
	}
	if ob := outbox(t, st); len(ob) != pending || rep.Pending != pending {
		t.Errorf("after kill %d: outbox has %d entries (check counted %d), journal has %d pending records", kill, len(ob), rep.Pending, pending)
	}
	if t.Failed() {
		t.FailNow()
	}
	return rep.Documents
}

// writeConfig writes a minimal configuration of a unit on the test regime
// into dir and returns its path. bcrypt_cost 4 keeps logins cheap.
func writeConfig(t *testing.T, dir, data, addr string) string {
	t.Helper()
	path := filepath.Join(dir, "egsd.toml")
	config := fmt.Sprintf("data_dir = %s\n\n[api]\nlisten = %s\n\n[regime]\nname = \"test\"\n\n[seller]\nname = \"Shop\"\n\n[auth]\nbcrypt_cost = 4\n",
		strconv.Quote(data), strconv.Quote(addr))
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// flagSet reports whether the named flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// TestAuditVerifyCLI checks `egsd audit verify` on an intact log and on a
// log with one entry edited behind the agent's back (invariant 7: tampering
// is evident).
func TestAuditVerifyCLI(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	d := startDemo(t, data)
	api := newAPIClient(d.url)
	for range 2 {
		if ans := api.tryLogin(t, "cashier", "wrong-password"); ans.Status != http.StatusUnauthorized {
			t.Fatalf("login with a wrong password = %d %s, want 401", ans.Status, ans.Body)
		}
	}
	api.login(t, "cashier", "cashier-demo")
	rng := mrand.New(mrand.NewPCG(1, 2))
	for range 3 {
		ans, err := api.postSale(context.Background(), newKey(), saleBody(rng))
		if err != nil || ans.Status != http.StatusCreated {
			t.Fatalf("sale = %d %s (%v), want 201", ans.Status, ans.Body, err)
		}
	}
	d.stop()

	env := cliEnv(tmp)
	res := runEgsd(t, env, "audit", "verify", "--data", data)
	if res.Code != 0 || !strings.HasPrefix(res.Stdout, "OK") {
		t.Fatalf("audit verify of an intact log: %s\nwant exit 0 and OK", res)
	}

	// Edit the actor of the middle entry directly in the bbolt file.
	db, err := bolt.Open(filepath.Join(data, queue.FileName), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var edited uint64
	failed := 0
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		if b == nil {
			return errors.New("no audit bucket")
		}
		n := b.Stats().KeyN
		b.ForEach(func(_, v []byte) error {
			var e queue.AuditEntry
			if json.Unmarshal(v, &e) == nil && e.Action == queue.AuditLoginFailed && e.Subject == "cashier" {
				failed++
			}
			return nil
		})
		if !strings.Contains(res.Stdout, fmt.Sprintf(" %d entries", n)) {
			t.Errorf("audit verify said %q, but the log has %d entries", res.Stdout, n)
		}
		if n < 3 {
			return fmt.Errorf("only %d audit entries", n)
		}
		edited = uint64(n/2 + 1)
		key := make([]byte, 8)
		binary.BigEndian.PutUint64(key, edited)
		var entry map[string]any
		if err := json.Unmarshal(b.Get(key), &entry); err != nil {
			return fmt.Errorf("audit entry %d: %v", edited, err)
		}
		entry["actor"] = fmt.Sprint(entry["actor"], "-mallory")
		v, err := json.Marshal(entry)
		if err != nil {
			return err
		}
		return b.Put(key, v)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("edit the audit log: %v", err)
	}
	if failed != 2 {
		t.Errorf("the audit log has %d login_failed entries for cashier, want 2", failed)
	}

	res = runEgsd(t, env, "audit", "verify", "--data", data)
	want := fmt.Sprintf("entry %d", edited)
	if res.Code != 1 || !strings.Contains(res.Stdout+res.Stderr, want) || strings.HasPrefix(res.Stdout, "OK") {
		t.Fatalf("audit verify after editing entry %d: %s\nwant exit 1 naming %q", edited, res, want)
	}
}

// TestUsersBootstrap creates the first manager on the store before the
// agent ever ran, then adds a cashier through the running agent with the
// owner token, as a technician installing a unit does.
func TestUsersBootstrap(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	addr := cmdtest.FreeAddr(t)
	cfg := writeConfig(t, tmp, data, addr)
	env := cliEnv(tmp)

	// No agent yet: the command writes the store itself.
	res := runEgsd(t, env, "users", "add", "--config", cfg, "--name", "boss", "--role", "manager", "--password", "correct horse 1")
	if res.Code != 0 || !strings.Contains(res.Stdout, "added boss (manager)") {
		t.Fatalf("users add boss before the agent runs: %s\nwant exit 0", res)
	}
	res = runEgsd(t, env, "users", "add", "--config", cfg, "--name", "shorty", "--role", "cashier", "--password", "short")
	if res.Code != 1 || !strings.Contains(res.Stderr, "password") {
		t.Errorf("users add with a too-short password (no agent): %s\nwant exit 1 naming password", res)
	}

	d := startDaemon(t, data, addr, "run", "--config", cfg)
	boss := newAPIClient(d.url)
	boss.login(t, "boss", "correct horse 1")

	// The agent holds the store: the command goes through its API with
	// the owner token (the store path would fail on the file lock).
	res = runEgsd(t, env, "users", "add", "--config", cfg, "--name", "alice", "--role", "cashier", "--password", "alice-password-1")
	if res.Code != 0 || !strings.Contains(res.Stdout, "added alice (cashier)") {
		t.Fatalf("users add alice while the agent runs: %s\nwant exit 0", res)
	}
	alice := newAPIClient(d.url)
	alice.login(t, "alice", "alice-password-1")
	if ans := alice.tryLogin(t, "alice", "wrong-password-1"); ans.Status != http.StatusUnauthorized {
		t.Errorf("alice with a wrong password = %d %s, want 401", ans.Status, ans.Body)
	}

	res = runEgsd(t, env, "users", "list", "--config", cfg)
	if res.Code != 0 {
		t.Fatalf("users list: %s", res)
	}
	for _, want := range []*regexp.Regexp{regexp.MustCompile(`(?m)^boss\s+manager\s+active$`), regexp.MustCompile(`(?m)^alice\s+cashier\s+active$`)} {
		if !want.MatchString(res.Stdout) {
			t.Errorf("users list does not match %s:\n%s", want, res.Stdout)
		}
	}
	res = runEgsd(t, env, "users", "add", "--config", cfg, "--name", "bob", "--role", "cashier", "--password", "short")
	if res.Code != 1 || !strings.Contains(res.Stderr, "password") {
		t.Errorf("users add with a too-short password (through the agent): %s\nwant exit 1 naming password", res)
	}
	if ans := newAPIClient(d.url).tryLogin(t, "bob", "short"); ans.Status != http.StatusUnauthorized {
		t.Errorf("bob, refused at creation, logs in: %d %s", ans.Status, ans.Body)
	}
	d.stop()

	st := openStore(t, data)
	defer st.Close()
	checkStore(t, st)
}

var issuedLine = regexp.MustCompile(`(?m)^(issued|already issued earlier) document (\d+) `)

// TestCLISaleFlow drives the demo unit with the CLI a cashier would use:
// login, sale, a resend with --key, status, and a refused sale.
func TestCLISaleFlow(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	d := startDemo(t, data)
	env := cliEnv(tmp)
	const saleFile = "../../examples/sale.json"

	res := runEgsd(t, env, "login", "--api", d.url, "--user", "cashier", "--password", "cashier-demo")
	if res.Code != 0 || !strings.Contains(res.Stdout, "logged in as cashier (cashier)") {
		t.Fatalf("login: %s", res)
	}
	if fi, err := os.Stat(filepath.Join(tmp, "session.json")); err != nil {
		t.Errorf("login kept no session file: %v", err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("session file mode %v, want 0600", fi.Mode().Perm())
	}

	saleJSON, err := os.ReadFile(saleFile)
	if err != nil {
		t.Fatal(err)
	}
	stdin := ""
	sale := func(args ...string) (verb string, counter int, r cliResult) {
		t.Helper()
		r = runEgsdStdin(t, env, stdin, append([]string{"sale"}, args...)...)
		m := issuedLine.FindStringSubmatch(r.Stdout)
		if r.Code != 0 || m == nil {
			t.Fatalf("sale %s: %s", strings.Join(args, " "), r)
		}
		counter, _ = strconv.Atoi(m[2])
		return m[1], counter, r
	}
	if verb, n, r := sale(saleFile); verb != "issued" || n != 1 {
		t.Errorf("first sale: %q document %d, want issued document 1\n%s", verb, n, r)
	}
	key := newKey()
	verb1, n1, r1 := sale("--key", key, saleFile)
	verb2, n2, r2 := sale("--key", key, saleFile)
	if verb1 != "issued" || n1 != 2 || verb2 != "already issued earlier" || n2 != n1 {
		t.Errorf("sale --key twice: %q %d, then %q %d; want issued 2, then already issued earlier 2\n%s\n%s", verb1, n1, verb2, n2, r1, r2)
	}
	if !strings.Contains(r2.Stdout, "key     "+key) {
		t.Errorf("resend does not print its key %s:\n%s", key, r2.Stdout)
	}
	stdin = string(saleJSON)
	if verb, n, r := sale("-"); verb != "issued" || n != 3 {
		t.Errorf("sale from standard input: %q document %d, want issued document 3\n%s", verb, n, r)
	}

	bad := filepath.Join(tmp, "bad-sale.json")
	if err := os.WriteFile(bad, []byte(`{"kind":"invoice","lines":[{"name":"Tea","quantity":2,"unit_price":"5.00","vat_category":"S","vat_rate":"15"}],"payments":[{"means":"cash"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	res = runEgsd(t, env, "sale", bad)
	if res.Code != 1 || !strings.Contains(res.Stderr, "lines[0].quantity") {
		t.Errorf("sale with a numeric quantity: %s\nwant exit 1 naming lines[0].quantity", res)
	}

	res = runEgsd(t, env, "status")
	if res.Code != 0 || !regexp.MustCompile(`(?m)^documents    3\b`).MatchString(res.Stdout) {
		t.Errorf("status: %s\nwant \"documents    3\"", res)
	}
	d.stop()

	st := openStore(t, data)
	defer st.Close()
	if rep := checkStore(t, st); rep.Documents != 3 || rep.Pending != 3 {
		t.Errorf("store after the CLI flow: %d documents, %d pending; want 3 and 3", rep.Documents, rep.Pending)
	}
}

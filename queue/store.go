package queue

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout version this package writes.
const SchemaVersion = 8

// FileName is the store's file inside the data directory.
const FileName = "egsd.db"

var (
	bucketMeta        = []byte("meta")
	bucketJournal     = []byte("journal")      // counter → Record (without the document bytes)
	bucketDocuments   = []byte("documents")    // counter → the frozen document bytes, raw
	bucketUUID        = []byte("journal_uuid") // uuid → counter
	bucketOutbox      = []byte("outbox")       // counter → OutboxEntry
	bucketIdempotency = []byte("idempotency")  // user \x00 key → idempotencyEntry
	bucketIncidents   = []byte("incidents")    // id → Incident
	bucketUsers       = []byte("users")        // name → User
	bucketSessions    = []byte("sessions")     // SHA-256(token) → Session
	bucketAudit       = []byte("audit")        // seq → AuditEntry
	bucketPrintJobs   = []byte("print_jobs")   // counter ‖ copy → PrintJob, until printed
	bucketAnswers     = []byte("answers")      // counter → the authority's answer, packed (compress.go)

	allBuckets = [][]byte{bucketMeta, bucketJournal, bucketDocuments, bucketUUID, bucketOutbox, bucketIdempotency,
		bucketIncidents, bucketUsers, bucketSessions, bucketAudit, bucketRegimeState, bucketPrintJobs,
		bucketNumbers, bucketNotes, bucketCheckpoints, bucketRejected, bucketAuthority, bucketArchive,
		bucketOffsite, bucketAnswers, bucketDictionaries}

	keySchema    = []byte("schema_version")
	keyIdentity  = []byte("identity")
	keyHead      = []byte("chain_head")
	keyAuditHead = []byte("audit_head")
	keyCreated   = []byte("created_at")
	keyOutboxN   = []byte("outbox_count") // entries in the outbox, so status need not walk it
)

// migrations[v] upgrades a schema-v file to v+1. Each runs in the same
// transaction as the version bump, so an interrupted upgrade leaves the file
// as it was.
var migrations = map[int]func(tx *bolt.Tx) error{
	1: migrateNotes,         // the number index and note references (notes.go)
	2: migrateRejectedIndex, // the index of rejected documents (rejected.go)
	3: migrateCredited,      // the caller's credited totals, to recompute (notes.go)
	4: migrateArchive,       // the signed archive records (archive.go)
	5: migrateOffsite,       // the off-site archive's cursor (offsite.go)
	6: migratePacking,       // packed documents and the answers bucket (compress.go)
	7: migratePruning,       // the chain anchor of a pruned journal (retention.go)
}

// Options configure a Store. A nil *Options means the defaults.
type Options struct {
	// Clock returns the time for a new document. An error refuses the
	// issue (the clock guard uses this). Nil means time.Now.
	Clock func() (time.Time, error)
	// MaxBatch is the most documents one commit may carry. 1 gives a
	// commit (and fsync) per document; zero means 256.
	MaxBatch int
	// NoSync skips fsync. Only benchmarks of everything but the disk may
	// set it; a unit that sets it loses acknowledged sales on power loss.
	NoSync bool
	// LockTimeout is how long Open waits for another process to release
	// the file; zero means one second.
	LockTimeout time.Duration
	// Now is the wall clock for audit entries and incidents; nil means
	// time.Now. The agent passes its own clock so that tests can drive it.
	Now func() time.Time
	// TrimInterval is how often the store's memory map is trimmed from the
	// resident set (Linux); zero means every 250 ms, negative never.
	TrimInterval time.Duration
	// MustExist makes Open fail with ErrNoStore instead of creating a new
	// store, for tools that inspect an existing unit.
	MustExist bool
	// ReleaseNote is called when the authority rejects a note of this
	// unit (a record with Original set), inside RecordAnswer's
	// transaction, with the original (without its document bytes) and its
	// references: it returns the original's Credited without what the
	// rejected note took, and whether nothing is left to credit even so.
	// Nil leaves Credited alone. It must not block or call the store.
	ReleaseNote func(note, original *Record, refs References) (Credit, error)
}

// Store is the open store. All methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB
	opts Options

	writes  chan *writeCall // to the single writer (writer.go); closed by Close
	done    chan struct{}   // closed when the writer has stopped
	stop    chan struct{}   // closed by Close to stop the trimmer
	trimmed chan struct{}   // closed when the trimmer has stopped
	mu      sync.RWMutex    // guards closed
	closed  bool
	// signer signs audit checkpoints; nil until SetAuditSigner.
	signer atomic.Pointer[AuditSigner]
}

// Identity is the unit's identity: the device id, fixed when the store is
// created, and what its documents are issued under, fixed when it is first
// needed.
type Identity struct {
	DeviceID  string    `json:"device_id"`
	CreatedAt time.Time `json:"created_at"`
	Regime    string    `json:"regime,omitempty"`  // set by the first issued document
	Genesis   string    `json:"genesis,omitempty"` // PrevHash of counter 1
	// Bound is the identity the unit's chain belongs to, as configuration
	// keys and their values (for egsd: regime.name, seller.vat_number,
	// device.serial). It is fixed by the first issued document or by
	// BindIdentity (onboarding), whichever comes first, and never changes:
	// a unit's documents cannot continue under another identity. BoundAt
	// and BoundBy say when and by what.
	Bound   map[string]string `json:"bound,omitempty"`
	BoundAt time.Time         `json:"bound_at,omitzero"`
	BoundBy string            `json:"bound_by,omitempty"`
}

// Mismatches lists the keys of the bound identity whose values differ in
// given, in key order (a key given does not have counts as ""). An
// identity not bound yet has none.
func (id Identity) Mismatches(given map[string]string) []IdentityMismatch {
	same := true
	for k, v := range id.Bound {
		same = same && given[k] == v
	}
	if same { // every document asks: answer without allocating
		return nil
	}
	var out []IdentityMismatch
	for _, k := range slices.Sorted(maps.Keys(id.Bound)) {
		if given[k] != id.Bound[k] {
			out = append(out, IdentityMismatch{Key: k, Bound: id.Bound[k], Given: given[k]})
		}
	}
	return out
}

// IdentityMismatch is one key whose value differs from the bound identity.
type IdentityMismatch struct{ Key, Bound, Given string }

// BindIdentity fixes the unit's identity to id, with by saying what fixed
// it, unless it is bound already; it returns the identity as it stands and
// whether this call bound it.
func (t *Tx) BindIdentity(id map[string]string, by string) (Identity, bool, error) {
	var ident Identity
	if err := getJSON(t.tx.Bucket(bucketMeta), keyIdentity, &ident); err != nil {
		return ident, false, err
	}
	if ident.Bound != nil || len(id) == 0 {
		return ident, false, nil
	}
	ident.Bound, ident.BoundAt, ident.BoundBy = maps.Clone(id), t.now().UTC(), by
	return ident, true, putJSON(t.tx.Bucket(bucketMeta), keyIdentity, ident)
}

// Open opens or creates the store in dir (created 0700 if missing).
func Open(dir string, opts *Options) (*Store, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Clock == nil {
		o.Clock = func() (time.Time, error) { return time.Now(), nil }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if o.MustExist {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("%s: %w", path, ErrNoStore)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: o.LockTimeout,
		NoSync:  o.NoSync,
		// The freelist is synced: rebuilding it at open would read every
		// page of a file that grows by gigabytes over a unit's life.
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if o.TrimInterval == 0 {
		o.TrimInterval = 250 * time.Millisecond
	}
	s := &Store{db: db, opts: o, writes: make(chan *writeCall, 1024), done: make(chan struct{}),
		stop: make(chan struct{}), trimmed: make(chan struct{})}
	if err := db.Update(s.initOrMigrate); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	go s.writer()
	go s.trimmer()
	return s, nil
}

// trimmer keeps the memory map's resident pages down; see trimMapping.
func (s *Store) trimmer() {
	defer close(s.trimmed)
	if s.opts.TrimInterval < 0 {
		return
	}
	t := time.NewTicker(s.opts.TrimInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.trimMapping() // best effort: a failure only leaves pages resident
		}
	}
}

func (s *Store) initOrMigrate(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	raw := meta.Get(keySchema)
	if raw == nil {
		id := make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			return err
		}
		ident := Identity{DeviceID: hex.EncodeToString(id), CreatedAt: s.opts.Now().UTC()}
		if err := putJSON(meta, keyIdentity, ident); err != nil {
			return err
		}
		return meta.Put(keySchema, u64(SchemaVersion))
	}
	version := int(binary.BigEndian.Uint64(raw))
	if version > SchemaVersion {
		return &SchemaError{Found: version, Known: SchemaVersion}
	}
	for v := version; v < SchemaVersion; v++ {
		m := migrations[v]
		if m == nil {
			return fmt.Errorf("no migration from schema version %d", v)
		}
		if err := m(tx); err != nil {
			return fmt.Errorf("migrate schema %d→%d: %w", v, v+1, err)
		}
	}
	return meta.Put(keySchema, u64(SchemaVersion))
}

// Close stops the writer, waits for issues in flight, and closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.writes)
	close(s.stop)
	s.mu.Unlock()
	<-s.done
	<-s.trimmed
	return s.db.Close()
}

// Path is the store file's path.
func (s *Store) Path() string { return s.db.Path() }

// Identity returns the unit's identity.
func (s *Store) Identity() (Identity, error) {
	var id Identity
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketMeta), keyIdentity, &id)
	})
	return id, err
}

// Update runs fn in a read-write transaction; it commits if fn returns nil.
func (s *Store) Update(fn func(tx *Tx) error) error {
	return s.db.Update(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, s: s, now: s.opts.Now}) })
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(tx *Tx) error) error {
	return s.db.View(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, s: s, now: s.opts.Now}) })
}

// Tx is a transaction on the store, for callers that must change several
// things atomically (a user change and its audit entry).
type Tx struct {
	tx  *bolt.Tx
	s   *Store
	now func() time.Time
}

// appendOnly prepares a bucket whose keys only ever grow (counters,
// sequence numbers) for a write: bbolt splits pages half full by default,
// which for appends leaves every page half empty; 90% halves the pages
// written per commit and the file's growth.
func appendOnly(b *bolt.Bucket) *bolt.Bucket {
	b.FillPercent = 0.9
	return b
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}

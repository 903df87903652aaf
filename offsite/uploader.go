package offsite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/egsd/egsd/queue"
)

// Config is one unit's archive.
type Config struct {
	// Prefix is the folder in the bucket above the sellers' ("" for the
	// bucket's root); Seller and Device name the unit's folders below it.
	Prefix, Seller, Device string
	// Target names the destination (endpoint, bucket, prefix) in the
	// stored cursor: a cursor kept for another target starts over.
	Target string
	// Interval is the wait between passes once everything is sent, and
	// the first wait after a failed pass; MaxBackoff caps the waits
	// after failures, which double.
	Interval   time.Duration
	MaxBackoff time.Duration
	// ManifestEvery is how often, while documents keep coming, the day's
	// manifest and the cursor are stored (default 15 minutes): objects go
	// out every pass, the manifest, which is sent whole, less often. A day
	// that is over gets its manifest at once.
	ManifestEvery time.Duration
	// Workers bounds the objects sent at once (default 4).
	Workers int
	Log     zerolog.Logger
}

// batchSize is how many documents one step of a pass reads and sends
// before it writes the day's manifest and advances the cursor.
const batchSize = 1000

// answerScanLimit bounds the documents one pass re-reads to find answers
// that arrived since they were archived.
const answerScanLimit = 20000

// Uploader copies one unit's journal to its archive. Only one Uploader
// may write a unit's folder: it keeps the day manifests it writes in
// memory between passes.
type Uploader struct {
	store   *queue.Store
	objects ObjectStore
	cfg     Config
	unit    string // the unit's folder: prefix/seller/device

	pass sync.Mutex // one pass at a time
	// sure is true while no object above the cursor can exist: set by a
	// pass that completed, cleared at start and by a failed pass (whose
	// objects may be stored without the cursor saying so). While unsure,
	// an object is looked up before it is sent.
	sure     bool
	deviceID string
	// progress is how far objects are sent, ahead of the stored cursor
	// while manifests wait (nil: from the stored cursor).
	progress  *queue.OffsiteCursor
	lastFlush time.Time

	mu   sync.Mutex // guards days and status
	days map[string]*day
	st   Status

	wake chan struct{}
	sent atomic.Uint64 // objects stored by this uploader
	kept atomic.Uint64 // objects found already stored with the same content
}

// day is a manifest as the uploader last stored it (sha256 of the stored
// bytes) and as it stands now.
type day struct {
	m         Manifest
	storedSHA string
	dirty     bool // m has changes not stored yet
}

// Status is where the uploader stands.
type Status struct {
	Cursor queue.OffsiteCursor `json:"cursor"`
	// LastPass is when the last pass finished with everything sent.
	LastPass time.Time `json:"last_pass,omitzero"`
	// LastError is the last failed pass's error, cleared by one that
	// completes; FailingSince is when the first of the failures began.
	LastError    string    `json:"last_error,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	// Sent and Kept count objects stored, and objects found already
	// stored with the same content, since the uploader started.
	Sent uint64 `json:"sent"`
	Kept uint64 `json:"kept"`
}

// New returns an uploader of store's journal to objects.
func New(store *queue.Store, objects ObjectStore, cfg Config) (*Uploader, error) {
	if err := CheckPrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	if err := CheckSegment("seller", cfg.Seller); err != nil {
		return nil, err
	}
	if err := CheckSegment("device", cfg.Device); err != nil {
		return nil, err
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.MaxBackoff < cfg.Interval {
		cfg.MaxBackoff = max(cfg.Interval, 5*time.Minute)
	}
	if cfg.ManifestEvery <= 0 {
		cfg.ManifestEvery = 15 * time.Minute
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	ident, err := store.Identity()
	if err != nil {
		return nil, err
	}
	return &Uploader{store: store, objects: objects, cfg: cfg, unit: unitPrefix(cfg.Prefix, cfg.Seller, cfg.Device),
		deviceID: ident.DeviceID, days: map[string]*day{}, wake: make(chan struct{}, 1)}, nil
}

// HoldFrom is the lowest counter whose document or answer is not yet in
// the archive: pruning must keep it and everything after it.
func (u *Uploader) HoldFrom() (uint64, error) {
	c, err := u.cursor()
	return c.HoldFrom(), err
}

// Cursor returns the stored cursor, as it counts for this uploader's
// target.
func (u *Uploader) Cursor() (queue.OffsiteCursor, error) { return u.cursor() }

// Status returns where the uploader stands.
func (u *Uploader) Status() Status {
	u.mu.Lock()
	defer u.mu.Unlock()
	st := u.st
	st.Sent, st.Kept = u.sent.Load(), u.kept.Load()
	return st
}

// Wake starts a pass now if the uploader is waiting.
func (u *Uploader) Wake() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Run makes passes until ctx is cancelled: one every Interval, and after a
// failure (the store unreachable) again after a wait that doubles up to
// MaxBackoff. Issuing never waits for it. When ctx is cancelled it stores
// the manifests and the cursor that wait, if the store lets it within a
// few seconds (otherwise the next start finds the objects and lists them).
func (u *Uploader) Run(ctx context.Context) {
	defer u.finish()
	wait := u.cfg.Interval
	for {
		err := u.runPass(ctx, false)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			u.cfg.Log.Warn().Err(err).Dur("retry_in", wait).Msg("archive: upload failed; documents stay queued for it")
			wait = min(2*wait, u.cfg.MaxBackoff)
		default:
			wait = u.cfg.Interval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-u.wake:
			t.Stop()
		}
	}
}

// finish stores what the last passes sent but did not list yet.
func (u *Uploader) finish() {
	u.mu.Lock()
	pending := u.progress != nil && *u.progress != u.st.Cursor
	u.mu.Unlock()
	if !pending {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := u.runPass(ctx, true); err != nil {
		u.cfg.Log.Warn().Err(err).Msg("archive: the last manifests could not be stored at stop; the next start lists what was sent")
	}
}

// Sync makes one pass: every document after the cursor, the answers that
// arrived since, and the new audit checkpoints; each day's manifest after
// the objects it lists, and the cursor after the manifests, after every
// step of 1,000.
func (u *Uploader) Sync(ctx context.Context) error { return u.runPass(ctx, true) }

// runPass makes one pass. Unless flushAll, the manifests and the cursor
// are stored only when ManifestEvery has passed since they last were, or a
// day other than the newest changed: the objects go out at once, their
// listing less often (a manifest is sent whole each time).
func (u *Uploader) runPass(ctx context.Context, flushAll bool) error {
	u.pass.Lock()
	defer u.pass.Unlock()
	err := u.sync(ctx, flushAll)
	now := time.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		u.sure, u.progress = false, nil
		// A failed pass may leave manifests changed in memory only: read
		// them again from the store next time.
		u.days = map[string]*day{}
		if u.st.LastError == "" {
			u.st.FailingSince = now
		}
		u.st.LastError = err.Error()
		return err
	}
	u.sure = true
	u.st.LastPass, u.st.LastError, u.st.FailingSince = now, "", time.Time{}
	return nil
}

func (u *Uploader) cursor() (queue.OffsiteCursor, error) {
	c, err := u.store.OffsiteCursor()
	if err != nil {
		return c, err
	}
	if c.Target != u.cfg.Target {
		c = queue.OffsiteCursor{Target: u.cfg.Target}
	}
	return c, nil
}

func (u *Uploader) sync(ctx context.Context, flushAll bool) error {
	stored, err := u.cursor()
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.st.Cursor = stored
	prog := stored
	if u.progress != nil {
		prog = *u.progress
	}
	u.mu.Unlock()
	// step stores the manifests and the cursor when they are due.
	step := func() error {
		u.mu.Lock()
		due := flushAll || time.Since(u.lastFlush) >= u.cfg.ManifestEvery || u.olderDayChanged()
		changed := prog != stored || u.anyDayChanged()
		u.progress = &prog
		u.mu.Unlock()
		if !due || !changed {
			return nil
		}
		if err := u.flushManifests(ctx); err != nil {
			return err
		}
		if err := u.store.SetOffsiteCursor(prog); err != nil {
			return err
		}
		stored = prog
		u.mu.Lock()
		u.st.Cursor, u.lastFlush = prog, time.Now()
		u.mu.Unlock()
		return nil
	}
	if err := u.syncDocuments(ctx, &prog, step); err != nil {
		return err
	}
	if err := u.syncAnswers(ctx, &prog, step); err != nil {
		return err
	}
	if err := u.syncCheckpoints(ctx, &prog, step); err != nil {
		return err
	}
	u.forgetOldDays()
	return nil
}

// syncDocuments sends the documents after the cursor, with the answers of
// those already answered.
func (u *Uploader) syncDocuments(ctx context.Context, prog *queue.OffsiteCursor, step func() error) error {
	for {
		recs, _, err := u.store.Documents(prog.Documents, batchSize, nil)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		if err := u.putRecords(ctx, recs); err != nil {
			return err
		}
		// The answers mark follows while every document so far is answered.
		if prog.Answers == prog.Documents {
			for _, r := range recs {
				if !answered(r) {
					break
				}
				prog.Answers = r.Counter
			}
		}
		prog.Documents = recs[len(recs)-1].Counter
		if err := step(); err != nil {
			return err
		}
	}
}

// syncAnswers sends the answers that arrived after their documents were
// archived: it reads the documents from the answers mark up to the
// documents mark (at most answerScanLimit a pass) and advances the answers
// mark over those now answered and archived.
func (u *Uploader) syncAnswers(ctx context.Context, prog *queue.OffsiteCursor, step func() error) error {
	advancing, scanned := true, 0
	for since := prog.Answers; since < prog.Documents && scanned < answerScanLimit; {
		recs, _, err := u.store.Documents(since, min(batchSize, answerScanLimit-scanned), nil)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		var answeredRecs []*queue.Record
		answersTo := prog.Answers
		for _, r := range recs {
			if r.Counter > prog.Documents {
				break
			}
			scanned++
			since = r.Counter
			if !answered(r) {
				advancing = false
				continue
			}
			answeredRecs = append(answeredRecs, r)
			if advancing {
				answersTo = r.Counter
			}
		}
		if err := u.putRecords(ctx, answeredRecs); err != nil {
			return err
		}
		prog.Answers = answersTo
		if err := step(); err != nil {
			return err
		}
	}
	return step()
}

// syncCheckpoints sends the signed audit checkpoints after the cursor.
func (u *Uploader) syncCheckpoints(ctx context.Context, prog *queue.OffsiteCursor, step func() error) error {
	for {
		cps, err := u.store.AuditCheckpoints(prog.Checkpoints, batchSize)
		if err != nil {
			return err
		}
		if len(cps) == 0 {
			return step()
		}
		for _, cp := range cps {
			data, err := json.Marshal(cp)
			if err != nil {
				return err
			}
			d, err := u.day(ctx, Day(cp.Time))
			if err != nil {
				return err
			}
			sig := Signature{Seq: cp.Seq, Object: objectOf(checkpointObjectName(cp.Seq), data)}
			u.mu.Lock()
			listed := d.m.checkpoint(cp.Seq)
			u.mu.Unlock()
			if listed != sig {
				if err := u.ensure(ctx, d, sig.Object, data); err != nil {
					return err
				}
			}
			u.mu.Lock()
			if d.m.addCheckpoint(sig) {
				d.dirty = true
			}
			u.mu.Unlock()
		}
		prog.Checkpoints = cps[len(cps)-1].Seq
		if err := step(); err != nil {
			return err
		}
	}
}

// putRecords archives recs (their documents, and answers where there are
// any) with up to Workers objects in flight, and adds them to their days'
// manifests in memory.
func (u *Uploader) putRecords(ctx context.Context, recs []*queue.Record) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *queue.Record)
	errs := make(chan error, u.cfg.Workers)
	var wg sync.WaitGroup
	for range u.cfg.Workers {
		wg.Go(func() {
			for r := range work {
				if err := u.putRecord(ctx, r); err != nil {
					errs <- fmt.Errorf("document %d: %w", r.Counter, err)
					cancel()
					return
				}
			}
		})
	}
	func() {
		defer close(work)
		for _, r := range recs {
			select {
			case work <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if len(all) == 0 && ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.Join(all...)
}

// putRecord archives one record: its document unless the manifest already
// lists it, its answer if it has one the manifest does not list.
func (u *Uploader) putRecord(ctx context.Context, r *queue.Record) error {
	d, err := u.day(ctx, Day(r.IssuedAt))
	if err != nil {
		return err
	}
	e := Entry{Counter: r.Counter, UUID: r.UUID, Regime: r.Regime, Kind: r.Kind, Number: r.Number,
		IssuedAt: r.IssuedAt, PrevHash: r.PrevHash, Hash: r.Hash, ContentType: r.ContentType,
		Object: objectOf(documentObjectName(r), r.Document)}
	u.mu.Lock()
	listed, have := d.m.entry(r.Counter)
	u.mu.Unlock()
	if !have || listed.Object != e.Object {
		if err := u.ensure(ctx, d, e.Object, r.Document); err != nil {
			return err
		}
	}
	if answered(r) {
		data, err := json.Marshal(AnswerObject{Counter: r.Counter, UUID: r.UUID, Status: r.Status.String(),
			AnsweredAt: r.AnsweredAt, AuthorityNumber: r.AuthorityNumber, Messages: r.Messages, Answer: r.Answer})
		if err != nil {
			return err
		}
		a := AnswerEntry{Status: r.Status.String(), Object: objectOf(answerObjectName(r), data)}
		if !have || listed.Answer == nil || *listed.Answer != a {
			if err := u.ensure(ctx, d, a.Object, data); err != nil {
				return err
			}
		}
		e.Answer = &a
	}
	u.mu.Lock()
	if d.m.addDocument(e) {
		d.dirty = true
	}
	u.mu.Unlock()
	return nil
}

// answered reports whether a record has the authority's final word.
func answered(r *queue.Record) bool { return r.Status != queue.StatusPending }

// ensure stores an object of day d unless, while unsure, the store already
// has it with the same content.
func (u *Uploader) ensure(ctx context.Context, d *day, o Object, data []byte) error {
	key := path.Join(u.unit, d.m.Day, o.Name)
	u.mu.Lock()
	sure := u.sure
	u.mu.Unlock()
	if !sure {
		sum, exists, err := u.objects.Stat(ctx, key)
		if err != nil {
			return fmt.Errorf("look up %s: %w", key, err)
		}
		if exists && sum == o.SHA256 {
			u.kept.Add(1)
			return nil
		}
	}
	if err := u.objects.Put(ctx, key, data, o.SHA256); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	u.sent.Add(1)
	return nil
}

// day returns the manifest of a day, read from the store the first time.
func (u *Uploader) day(ctx context.Context, name string) (*day, error) {
	u.mu.Lock()
	d := u.days[name]
	u.mu.Unlock()
	if d != nil {
		return d, nil
	}
	key := path.Join(u.unit, name, ManifestName)
	data, exists, err := u.objects.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	d = &day{m: Manifest{Format: ManifestFormat, Seller: u.cfg.Seller, Device: u.cfg.Device, DeviceID: u.deviceID, Day: name}}
	if exists {
		var m Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
		if err := u.checkManifest(m, name); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		d = &day{m: m, storedSHA: sha256Hex(data)}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if other := u.days[name]; other != nil {
		return other, nil // another worker read it meanwhile
	}
	u.days[name] = d
	return d, nil
}

// checkManifest refuses to add to a manifest that belongs to another unit
// or layout: two units configured with the same seller and device names
// would otherwise overwrite each other's days.
func (u *Uploader) checkManifest(m Manifest, name string) error {
	switch {
	case m.Format != ManifestFormat:
		return fmt.Errorf("manifest format %q, want %q", m.Format, ManifestFormat)
	case m.DeviceID != u.deviceID:
		return fmt.Errorf("the folder belongs to another unit (device id %s, this unit is %s): give each unit its own device.serial", m.DeviceID, u.deviceID)
	case m.Day != name:
		return fmt.Errorf("manifest of day %q in the folder of %s", m.Day, name)
	}
	return nil
}

// flushManifests stores each day manifest that changed since it was last
// stored.
func (u *Uploader) flushManifests(ctx context.Context) error {
	type pending struct {
		d    *day
		data []byte
	}
	var todo []pending
	u.mu.Lock()
	for _, d := range u.days {
		if !d.dirty {
			continue
		}
		data, err := json.Marshal(d.m)
		if err != nil {
			u.mu.Unlock()
			return err
		}
		todo = append(todo, pending{d, data})
	}
	u.mu.Unlock()
	for _, p := range todo {
		o := objectOf(ManifestName, p.data)
		key := path.Join(u.unit, p.d.m.Day, ManifestName)
		if o.SHA256 != p.d.storedSHA {
			if err := u.objects.Put(ctx, key, p.data, o.SHA256); err != nil {
				return fmt.Errorf("store %s: %w", key, err)
			}
			u.sent.Add(1)
		}
		u.mu.Lock()
		p.d.storedSHA, p.d.dirty = o.SHA256, false
		u.mu.Unlock()
	}
	return nil
}

// anyDayChanged reports whether a manifest has changes not stored yet (an
// answer that arrived while an older document still waits for its own
// moves no mark). Called with mu held.
func (u *Uploader) anyDayChanged() bool {
	for _, d := range u.days {
		if d.dirty {
			return true
		}
	}
	return false
}

// olderDayChanged reports whether a day other than the newest has changes
// not stored yet: a day that is over gets its manifest at once. Called
// with mu held.
func (u *Uploader) olderDayChanged() bool {
	newest := ""
	for name := range u.days {
		newest = max(newest, name)
	}
	for name, d := range u.days {
		if d.dirty && name != newest {
			return true
		}
	}
	return false
}

// forgetOldDays keeps in memory only the newest day's manifest, and those
// not stored yet: the next document most likely goes to the newest; an
// older day is read again if an answer for it arrives.
func (u *Uploader) forgetOldDays() {
	u.mu.Lock()
	defer u.mu.Unlock()
	newest := ""
	for name := range u.days {
		newest = max(newest, name)
	}
	for name, d := range u.days {
		if name != newest && !d.dirty {
			delete(u.days, name)
		}
	}
}

package etims

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/egsd/egsd/stamping"
	"github.com/egsd/egsd/stamping/sale"
)

// Name is the regime's name.
const Name = "etims"

// genesisHash is the previous hash of a unit's first document: hex
// SHA-256 of "0" in base64, the convention egsd's regimes share.
var genesisHash = func() string {
	sum := sha256.Sum256([]byte("0"))
	return base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(sum[:])))
}()

// Regime is the eTIMS regime of one unit: its settings, its device as
// initialised with KRA, and the rules learnt from KRA's code lists. It is
// safe for concurrent use: Stamp runs in the store's writer, Submit in the
// submission worker, Validate in API handlers; Onboard and SetRules
// replace what they change under the lock.
//
// Documents are stamped remotely: Stamp stores the sale request as a
// template (invcNo 0); the submission sequence numbers it ([Sequence],
// [Number]) and Submit sends the numbered request; the answer, with the
// control unit's signature, is what the journal keeps and the receipt is
// made from ([Regime.Receipt]).
type Regime struct {
	settings   Settings
	sellerName string
	deviceFile string
	event      func(action string, details map[string]string)
	now        func() time.Time

	// codesMu serialises code list refreshes and guards codes and
	// codesTried.
	codesMu    sync.Mutex
	codesFile  string
	codes      CodeCache
	codesTried time.Time // the last refresh started, successful or not

	// itemsMu serialises item registrations and guards items.
	itemsMu   sync.Mutex
	itemsFile string
	items     map[string]string // item code → its registration's key facts

	mu     sync.RWMutex
	rules  Rules
	device Device
	key    CmcKey
	// initialised is set once the device file is loaded or written.
	initialised bool
}

// deviceRecord is the JSON of the device file: what KRA's initialisation
// gave the unit. It holds the communication key: 0600, never shown.
type deviceRecord struct {
	Tin           string    `json:"tin"`
	BhfID         string    `json:"bhf_id"`
	DeviceSerial  string    `json:"device_serial"`
	DvcID         string    `json:"dvc_id,omitempty"`
	SdcID         string    `json:"sdc_id"`
	MrcNo         string    `json:"mrc_no"`
	CmcKey        string    `json:"cmc_key,omitempty"` // OSCU only
	InitialisedAt time.Time `json:"initialised_at"`
}

// DeviceFile is where a unit's device record is kept, below its data
// directory.
func DeviceFile(dataDir string) string { return filepath.Join(dataDir, "etims", "device.json") }

// New creates the regime from its configuration ([regime.options],
// Options) and loads the unit's device record if it has been initialised.
// It is not registered with the agent's regimes yet.
func New(cfg stamping.Config) (*Regime, error) {
	var o Options
	if cfg.Decode != nil {
		if err := cfg.Decode(&o); err != nil {
			return nil, err
		}
	}
	s, err := o.Resolve(cfg.Seller, cfg.Device)
	if err != nil {
		return nil, err
	}
	if cfg.DataDir == "" {
		return nil, errors.New("data_dir is required: the unit keeps its KRA device record there")
	}
	r := &Regime{settings: s, sellerName: cfg.Seller.Name, deviceFile: DeviceFile(cfg.DataDir), codesFile: CodeCacheFile(cfg.DataDir),
		itemsFile: ItemsFile(cfg.DataDir), event: cfg.Event, now: time.Now}
	if r.event == nil {
		r.event = func(string, map[string]string) {}
	}
	r.loadCaches()
	data, err := os.ReadFile(r.deviceFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return r, nil // not initialised yet: Ready says so
	case err != nil:
		return nil, fmt.Errorf("device record: %w", err)
	}
	var rec deviceRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.SdcID == "" || (s.Profile == OSCU && rec.CmcKey == "") {
		return nil, fmt.Errorf("device record %s: not a KRA device record", r.deviceFile)
	}
	if rec.Tin != s.Tin || rec.BhfID != s.BhfID {
		return nil, fmt.Errorf("%w: the device record %s is for KRA PIN %s branch %s, but the configuration names %s branch %s; "+
			"set them back, or set up a new unit (a new data_dir, initialised with KRA)", stamping.ErrIdentityChanged, r.deviceFile, rec.Tin, rec.BhfID, s.Tin, s.BhfID)
	}
	r.device, r.key, r.initialised = Device{SdcID: rec.SdcID, MrcNo: rec.MrcNo}, CmcKey(rec.CmcKey), true
	return r, nil
}

func (r *Regime) Name() string                     { return Name }
func (r *Regime) Mode() stamping.Mode              { return stamping.StampRemote }
func (r *Regime) GenesisHash() string              { return genesisHash }
func (r *Regime) Settings() Settings               { return r.settings }
func (r *Regime) InOrder(stamping.Submission) bool { return true }

// loadCaches reads the code list cache and the registered items. Either
// file unreadable costs a download or a repeated saveItem, never the
// unit's start: it is reported as an event and the file is rebuilt.
func (r *Regime) loadCaches() {
	codes, err := loadCodeCache(r.codesFile, r.settings.Identity)
	if err != nil {
		r.event("etims_cache_unreadable", map[string]string{"file": r.codesFile, "error": err.Error()})
	}
	rules, err := codes.Rules()
	if err != nil {
		r.event("etims_cache_unreadable", map[string]string{"file": r.codesFile, "error": err.Error()})
		codes, rules = CodeCache{Tin: r.settings.Tin, BhfID: r.settings.BhfID}, Rules{}
	}
	r.codes, r.rules = codes, rules
	items, err := loadItems(r.itemsFile, r.settings.Identity)
	if err != nil {
		r.event("etims_cache_unreadable", map[string]string{"file": r.itemsFile, "error": err.Error()})
	}
	r.items = items
}

// Rules returns the rules in force.
func (r *Regime) Rules() Rules {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.rules
}

// SetRules replaces the rules, for instance with RulesFromCodeLists of a
// fresh code list.
func (r *Regime) SetRules(rules Rules) {
	r.mu.Lock()
	r.rules = rules
	r.mu.Unlock()
}

// Device returns the unit's control unit ID and MRC number; zero before
// initialisation.
func (r *Regime) Device() Device {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.device
}

// Ready reports whether the unit can issue: only once initialised with
// KRA, since its documents could not be submitted before.
func (r *Regime) Ready() error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.initialised {
		return fmt.Errorf("%w: this eTIMS unit is not initialised with KRA; a technician runs egsd onboard (KRA PIN %s, branch %s, device serial %s as registered on the eTIMS portal)",
			stamping.ErrNotReady, r.settings.Tin, r.settings.BhfID, r.settings.DeviceSerial)
	}
	return nil
}

// Validate checks the sale against the Kenyan rules ([Validate]), once
// the unit is initialised.
func (r *Regime) Validate(s *sale.Sale) error {
	if err := r.Ready(); err != nil {
		return err
	}
	return Validate(s, r.Rules())
}

// TraderInvoiceNo is trdInvcNo of the document with counter: the
// configured prefix and the counter.
func (r *Regime) TraderInvoiceNo(counter uint64) string {
	return r.settings.InvoicePrefix + strconv.FormatUint(counter, 10)
}

// Stamp builds the sale request and stores it as a template: invcNo and
// orgInvcNo 0, numbered at the first submission. The document's number is
// the trader's invoice number; its hash is SHA-256 of the bytes.
func (r *Regime) Stamp(slot stamping.Slot, s *sale.Sale) (stamping.Document, error) {
	if err := r.Ready(); err != nil {
		return stamping.Document{}, err
	}
	number := r.TraderInvoiceNo(slot.Counter)
	req, err := BuildSale(s, SaleInput{Identity: r.settings.Identity, Rules: r.Rules(), TraderInvoiceNo: number, IssuedAt: slot.IssuedAt})
	if err != nil {
		return stamping.Document{}, err
	}
	b, err := Template(req)
	if err != nil {
		return stamping.Document{}, err
	}
	// What a receipt can say before KRA signs (a provisional slip): the
	// trader's number, and that the seller's tax number is a KRA PIN.
	receipt, err := json.Marshal(stamping.ReceiptInfo{Number: number, TaxNumberLabel: taxNumberLabel})
	if err != nil {
		return stamping.Document{}, err
	}
	return stamping.Document{Bytes: b, ContentType: "application/json", Hash: hashOf(b), Number: number, Receipt: receipt}, nil
}

// taxNumberLabel names the seller's and the buyer's tax numbers on Kenyan
// receipts.
const taxNumberLabel = "KRA PIN"

// Rehash is SHA-256 of the stored bytes.
func (r *Regime) Rehash(doc []byte) (string, error) { return hashOf(doc), nil }

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Submit sends the numbered request in sub.Document ([Number] of the
// stored template) and classifies the answer ([Client.Deliver]): a retry
// (Attempt above 1) looks the invcNo up before it sends anything. A
// template, not yet numbered, is never sent.
//
// Before the sale, the code lists are refreshed when their period has
// passed (a failure leaves the cached rules in force), and every item of
// the sale that the unit has not registered with KRA is registered
// (saveItem); an item KRA does not register decides the sale's outcome
// and the sale is not sent.
func (r *Regime) Submit(ctx context.Context, sub stamping.Submission) stamping.Result {
	if err := r.Ready(); err != nil {
		return stamping.Result{Outcome: stamping.CredentialError, Messages: []string{err.Error()}}
	}
	invcNo, _, err := Numbers(sub.Document)
	if err != nil || invcNo < 1 {
		return stamping.Result{Outcome: stamping.Retryable, Messages: []string{
			fmt.Sprintf("the document cannot be sent: %v", errors.Join(err, ErrNotNumbered))}}
	}
	r.refreshIfDue(ctx)
	if res := r.registerItems(ctx, sub.Document); res != nil {
		return *res
	}
	return r.client().Deliver(ctx, sub.Document, sub.Attempt > 1)
}

// client is a client with the key in force.
func (r *Regime) client() *Client {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return NewClient(r.settings, r.key)
}

// Receipt makes the receipt facts of a submitted sale from the numbered
// request and the answer kept in the journal.
func (r *Regime) Receipt(request, answer []byte) (ReceiptFacts, error) {
	return ReceiptOf(request, answer, r.settings.Identity, r.Device(), r.settings.Environment)
}

// ErrOfflineLimit is returned (wrapped) by CheckOffline when a VSCU unit
// has been out of touch with KRA for longer than its offline limit.
var ErrOfflineLimit = errors.New("the unit has been offline for longer than KRA allows")

// CheckOffline reports whether a VSCU unit may still issue when KRA was
// last signed a document at lastContact (spec/etims.md §A7): past the offline limit
// it may not, until the outage ends. OSCU units and a zero lastContact
// (nothing submitted yet) pass.
func (r *Regime) CheckOffline(lastContact, now time.Time) error {
	limit := r.settings.OfflineLimit
	if r.settings.Profile != VSCU || limit == 0 || lastContact.IsZero() {
		return nil
	}
	if gone := now.Sub(lastContact); gone > limit {
		return fmt.Errorf("%w: the control unit last signed a document %s ago (at %s), and a VSCU unit may issue for %s without it. "+
			"Restore the connection to the VSCU and the VSCU's to KRA; issuing resumes once the queued documents are signed",
			ErrOfflineLimit, gone.Round(time.Minute), lastContact.In(Nairobi).Format("2006-01-02 15:04"), limit)
	}
	return nil
}

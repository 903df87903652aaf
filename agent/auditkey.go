package agent

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/keystore"
)

// AuditKeyFile is the unit's audit key in the data directory: a secp256k1
// key created on the unit at its first start, stored 0600 like the
// stamping key and, like it, never printed, exported or logged. It signs
// checkpoints of the audit log (queue.AuditCheckpoint).
const AuditKeyFile = "audit-key.pem"

// auditCheckpointEvery is the checkpoint cadence: one is signed in the
// same transaction as every 256th audit entry, and also at each start and
// stop, when the key is created, and when a manager asks for one.
const auditCheckpointEvery = queue.DefaultCheckpointEvery

// Audit key events (key_event entries' subjects).
const (
	auditKeyCreated  = "audit_key_created"
	auditKeyReplaced = "audit_key_replaced"
)

// OpenStore opens the store in dataDir and installs the unit's audit key
// as its checkpoint signer, creating the key on first use. Every process
// that writes the store opens it this way, so that checkpoints keep their
// cadence whoever appends to the audit log. It refuses a store whose
// recorded audit key does not match the key file, or whose key file is
// missing: checkpoints signed by another key would not verify.
func OpenStore(dataDir string, opts *queue.Options) (*queue.Store, error) {
	store, err := queue.Open(dataDir, opts)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if opts != nil && opts.Now != nil {
		now = opts.Now
	}
	if _, err := installAuditKey(store, dataDir, now); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

// installAuditKey loads (or creates) the audit key, checks it against the
// one the store recorded (or records it), and makes the store sign with it.
func installAuditKey(store *queue.Store, dataDir string, now func() time.Time) (*keystore.Key, error) {
	path := filepath.Join(dataDir, AuditKeyFile)
	var recorded []byte
	if err := store.View(func(tx *queue.Tx) error { recorded = tx.AuditKey(); return nil }); err != nil {
		return nil, err
	}
	key, err := keystore.Load(path)
	switch {
	case err == nil && recorded != nil && !bytes.Equal(recorded, key.PublicKeyDER()):
		return nil, fmt.Errorf("audit key %s is key %s, but this unit's audit log is signed with key %s: put the unit's own key file back (from a backup of the data directory); if it is lost, move this file aside and run `egsd audit rekey`",
			path, key.Fingerprint(), queue.KeyFingerprint(recorded))
	case errors.Is(err, fs.ErrNotExist) && recorded != nil:
		return nil, fmt.Errorf("audit key %s is missing, but this unit's audit log is signed with key %s: restore the file from a backup of the data directory (mode 0600, owned by the service's user); if it is lost, run `egsd audit rekey`, which records a new key in the audit log",
			path, queue.KeyFingerprint(recorded))
	case errors.Is(err, fs.ErrNotExist):
		if key, err = keystore.Create(path); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	if recorded == nil {
		if err := recordAuditKey(store, key, nil, queue.SystemActor); err != nil {
			return nil, err
		}
	}
	store.SetAuditSigner(&queue.AuditSigner{PublicKey: key.PublicKeyDER(), Sign: key.SignSHA256, Every: auditCheckpointEvery})
	if recorded == nil {
		// The first checkpoint covers every entry written before the unit
		// had a key.
		if _, err := store.Checkpoint("audit key created", now()); err != nil {
			return nil, err
		}
	}
	return key, nil
}

// recordAuditKey records key as the unit's audit key, with its public key
// in full in the audit entry: from there a checkpoint covers it, so that it
// cannot be changed without breaking the log. previous is the key it
// replaces, if any.
func recordAuditKey(store *queue.Store, key *keystore.Key, previous []byte, by queue.Actor) error {
	pub := key.PublicKeyDER()
	subject := auditKeyCreated
	details := map[string]string{"fingerprint": key.Fingerprint(), "public_key": hex.EncodeToString(pub)}
	if previous != nil {
		subject = auditKeyReplaced
		details["previous_fingerprint"] = queue.KeyFingerprint(previous)
		details["previous_public_key"] = hex.EncodeToString(previous)
	}
	return store.Update(func(tx *queue.Tx) error {
		if err := tx.SetAuditKey(pub); err != nil {
			return err
		}
		return tx.Audit(queue.AuditEntry{Action: queue.AuditKey, Subject: subject, Details: details}.By(by))
	})
}

// AuditVerification is what verifying the audit log found.
type AuditVerification struct {
	queue.AuditReport
	// PublicKey is the audit key checkpoints were checked against, nil
	// when the unit has none (a store from before audit keys).
	PublicKey []byte
	// KeyFromFile says the key came from the key file; otherwise it is the
	// one recorded in the store, which proves only that the log agrees with
	// its own checkpoints.
	KeyFromFile bool
}

// VerifyAudit verifies the audit log of store and its signed checkpoints
// against the unit's audit key: the key file in dataDir when it can be
// read, else the key the store recorded. Breaks are *queue.AuditBreak.
func VerifyAudit(store *queue.Store, dataDir string) (AuditVerification, error) {
	var v AuditVerification
	if key, err := keystore.Load(filepath.Join(dataDir, AuditKeyFile)); err == nil {
		v.PublicKey, v.KeyFromFile = key.PublicKeyDER(), true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return v, err
	}
	if v.PublicKey == nil {
		if err := store.View(func(tx *queue.Tx) error { v.PublicKey = tx.AuditKey(); return nil }); err != nil {
			return v, err
		}
	}
	return v, verifyAuditWith(store, &v)
}

func verifyAuditWith(store *queue.Store, v *AuditVerification) error {
	var err error
	v.AuditReport, err = store.VerifyAuditWith(queue.AuditVerifyOptions{Key: v.PublicKey, VerifySignature: keystore.VerifySHA256,
		Every: auditCheckpointEvery, KeyChange: auditKeyChange})
	return err
}

// auditKeyChange reads the keys out of an audit_key_replaced entry.
func auditKeyChange(e *queue.AuditEntry) (previous, next []byte, ok bool) {
	if e.Action != queue.AuditKey || e.Subject != auditKeyReplaced {
		return nil, nil, false
	}
	// A key that cannot be read is nil, which no checkpoint's key
	// matches: the verification then fails at this entry.
	decode := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil
		}
		return b
	}
	return decode(e.Details["previous_public_key"]), decode(e.Details["public_key"]), true
}

// RekeyAudit replaces a lost audit key: it creates a new key file, records
// it in the audit log together with the key it replaces, and signs a
// checkpoint with it at once. It refuses while a key file exists (a key is
// never overwritten). Run it only with the agent stopped; by is who asked.
func RekeyAudit(dataDir string, by queue.Actor) (fingerprint string, err error) {
	path := filepath.Join(dataDir, AuditKeyFile)
	if _, err := os.Lstat(path); err == nil {
		return "", fmt.Errorf("%s exists: a key is never replaced while its file is there; move it aside first if it is not this unit's key", path)
	}
	store, err := queue.Open(dataDir, &queue.Options{MustExist: true})
	if err != nil {
		return "", err
	}
	defer store.Close()
	var previous []byte
	if err := store.View(func(tx *queue.Tx) error { previous = tx.AuditKey(); return nil }); err != nil {
		return "", err
	}
	key, err := keystore.Create(path)
	if err != nil {
		return "", err
	}
	if err := recordAuditKey(store, key, previous, by); err != nil {
		return "", err
	}
	store.SetAuditSigner(&queue.AuditSigner{PublicKey: key.PublicKeyDER(), Sign: key.SignSHA256, Every: auditCheckpointEvery})
	if _, err := store.Checkpoint("audit key replaced", time.Now()); err != nil {
		return "", err
	}
	return key.Fingerprint(), nil
}

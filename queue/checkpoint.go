package queue

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketCheckpoints = []byte("audit_checkpoints") // audit seq → AuditCheckpoint
	keyAuditKey       = []byte("audit_key")         // meta: the public key that signs checkpoints
)

// DefaultCheckpointEvery is how many audit entries a signed checkpoint
// covers at most when AuditSigner.Every is zero.
const DefaultCheckpointEvery = 256

// AuditCheckpoint is a signature by the unit's audit key over the audit
// log's head at one moment: the sequence number and hash of the newest
// entry. Because every entry's hash covers the one before it, a checkpoint
// vouches for the whole log up to Seq; rewriting any of those entries, even
// with every later hash recomputed, changes the hash at Seq, and a new
// checkpoint cannot be made without the key.
type AuditCheckpoint struct {
	Seq      uint64    `json:"seq"`
	Hash     string    `json:"hash"`
	Time     time.Time `json:"time"`
	DeviceID string    `json:"device_id"`
	// Reason says why it was signed: "every 256 entries", "start", "stop",
	// "requested by boss".
	Reason string `json:"reason"`
	// PublicKey is the DER SubjectPublicKeyInfo of the signing key, so
	// that an exported checkpoint can be checked on its own.
	PublicKey []byte `json:"public_key"`
	// Signature is the DER ECDSA signature over SHA-256 of
	// SignedMessage().
	Signature []byte `json:"signature"`
}

// SignedMessage is what the signature covers: every field but the
// signature, in a fixed text form that does not depend on JSON encoding.
func (c *AuditCheckpoint) SignedMessage() []byte {
	return fmt.Appendf(nil, "egsd audit checkpoint v1\ndevice %s\nseq %d\nhash %s\ntime %s\nreason %s\nkey %x\n",
		c.DeviceID, c.Seq, c.Hash, c.Time.UTC().Format(time.RFC3339Nano), c.Reason, c.PublicKey)
}

// KeyFingerprint returns the first 8 hex digits of SHA-256 of a public key,
// the same short form the keystore prints.
func KeyFingerprint(publicKey []byte) string {
	sum := sha256.Sum256(publicKey)
	return hex.EncodeToString(sum[:4])
}

// AuditSigner signs checkpoints. The store holds only this function and
// the public key, never the private key.
type AuditSigner struct {
	// PublicKey is the signing key's DER SubjectPublicKeyInfo.
	PublicKey []byte
	// Sign returns a DER ECDSA signature over SHA-256(msg).
	Sign func(msg []byte) ([]byte, error)
	// Every is the cadence: a checkpoint is signed in the same transaction
	// as every Every-th entry. Zero means DefaultCheckpointEvery.
	Every uint64
}

func (sg *AuditSigner) every() uint64 {
	if sg.Every == 0 {
		return DefaultCheckpointEvery
	}
	return sg.Every
}

// SetAuditSigner makes the store sign checkpoints from now on: at the
// signer's cadence, and when Checkpoint is called.
func (s *Store) SetAuditSigner(sg *AuditSigner) { s.signer.Store(sg) }

// ErrNoAuditSigner is returned by Checkpoint when no signer is set.
var ErrNoAuditSigner = errors.New("no audit key: checkpoints cannot be signed")

// Checkpoint signs a checkpoint of the audit log's head now, unless the
// newest checkpoint already covers it, and returns the newest checkpoint.
// reason must be one line.
func (s *Store) Checkpoint(reason string, at time.Time) (AuditCheckpoint, error) {
	sg := s.signer.Load()
	if sg == nil {
		return AuditCheckpoint{}, ErrNoAuditSigner
	}
	var cp AuditCheckpoint
	err := s.db.Update(func(tx *bolt.Tx) error {
		var head auditHead
		if err := getJSON(tx.Bucket(bucketMeta), keyAuditHead, &head); err != nil {
			return fmt.Errorf("audit checkpoint: the audit log is empty: %w", err)
		}
		if k, v := tx.Bucket(bucketCheckpoints).Cursor().Last(); k != nil && binary.BigEndian.Uint64(k) == head.Seq {
			return json.Unmarshal(v, &cp)
		}
		var err error
		cp, err = putCheckpoint(tx, sg, head, at, reason)
		return err
	})
	return cp, err
}

// putCheckpoint signs head and stores the checkpoint.
func putCheckpoint(tx *bolt.Tx, sg *AuditSigner, head auditHead, at time.Time, reason string) (AuditCheckpoint, error) {
	var ident Identity
	if err := getJSON(tx.Bucket(bucketMeta), keyIdentity, &ident); err != nil {
		return AuditCheckpoint{}, fmt.Errorf("audit checkpoint: identity: %w", err)
	}
	cp := AuditCheckpoint{Seq: head.Seq, Hash: head.Hash, Time: at.UTC(), DeviceID: ident.DeviceID,
		Reason: strings.ReplaceAll(reason, "\n", " "), PublicKey: bytes.Clone(sg.PublicKey)}
	sig, err := sg.Sign(cp.SignedMessage())
	if err != nil {
		return AuditCheckpoint{}, fmt.Errorf("audit checkpoint: sign: %w", err)
	}
	cp.Signature = sig
	return cp, putJSON(appendOnly(tx.Bucket(bucketCheckpoints)), u64(cp.Seq), cp)
}

// AuditCheckpoints returns up to limit checkpoints covering entries after
// since, oldest first.
func (s *Store) AuditCheckpoints(since uint64, limit int) ([]AuditCheckpoint, error) {
	return listAfter[AuditCheckpoint](s.db, bucketCheckpoints, since, limit, "audit checkpoint")
}

// AuditKey returns the public key recorded as the unit's audit key, or nil
// when none was recorded.
func (t *Tx) AuditKey() []byte {
	return bytes.Clone(t.tx.Bucket(bucketMeta).Get(keyAuditKey))
}

// SetAuditKey records the unit's audit public key (DER
// SubjectPublicKeyInfo).
func (t *Tx) SetAuditKey(publicKey []byte) error {
	return t.tx.Bucket(bucketMeta).Put(keyAuditKey, bytes.Clone(publicKey))
}

// AuditVerifyOptions say how VerifyAuditWith checks checkpoints.
type AuditVerifyOptions struct {
	// Key is the public key the newest checkpoints must be signed with:
	// the unit's audit key. Nil verifies the chain alone.
	Key []byte
	// VerifySignature checks a DER ECDSA signature over SHA-256(msg) by
	// the key pub; required with Key.
	VerifySignature func(pub, msg, sig []byte) error
	// Every is the signer's cadence: fewer than Every entries may follow
	// the newest checkpoint. Zero means DefaultCheckpointEvery.
	Every uint64
	// KeyChange recognises the audit entry that records a replaced audit
	// key and returns the previous key and the new one. Checkpoints before
	// that entry must be signed by the previous key, those from it on by
	// the new one, and at least one by the new one must cover the entry:
	// so the previous key is vouched for by its successor, and the chain
	// of keys ends at Key. Nil means keys are never replaced.
	KeyChange func(e *AuditEntry) (previous, next []byte, ok bool)
}

// AuditReport is what VerifyAuditWith found.
type AuditReport struct {
	Entries     int
	Checkpoints int
	// AnchoredThrough is the entry the newest valid checkpoint covers: a
	// rewrite of any entry up to it is detected even with every hash
	// recomputed.
	AnchoredThrough uint64
}

// keyChange is a replaced audit key, from the entry that records it.
type keyChange struct {
	seq            uint64
	previous, next []byte
}

// VerifyAuditWith verifies the chain as VerifyAudit does and, with
// opts.Key, every checkpoint: its hash equal to the hash of the entry it
// names, signed over this unit's device id by the key in force at that
// entry (opts.Key, or a key it replaced), and the newest not removed
// (fewer than Every entries after it). A failure is an *AuditBreak; one
// found through a checkpoint names it.
func (s *Store) VerifyAuditWith(opts AuditVerifyOptions) (AuditReport, error) {
	var rep AuditReport
	err := s.db.View(func(tx *bolt.Tx) error {
		if opts.Key == nil {
			var err error
			rep.Entries, err = walkAudit(tx, nil)
			return err
		}
		var ident Identity
		if err := getJSON(tx.Bucket(bucketMeta), keyIdentity, &ident); err != nil {
			return fmt.Errorf("identity: %w", err)
		}
		cps, err := storedCheckpoints(tx)
		if err != nil {
			return err
		}
		var changes []keyChange
		next := 0 // the next checkpoint to meet on the walk
		rep.Entries, err = walkAudit(tx, func(e *AuditEntry) error {
			if opts.KeyChange != nil {
				if prev, nxt, ok := opts.KeyChange(e); ok {
					changes = append(changes, keyChange{e.Seq, prev, nxt})
				}
			}
			if next < len(cps) && cps[next].Seq == e.Seq {
				if cps[next].Hash != e.Hash {
					return checkpointBreak(cps[next], fmt.Sprintf("the entry's hash is %.12s…, the checkpoint signed for it says %.12s…: the log up to here was rewritten after the checkpoint",
						e.Hash, cps[next].Hash))
				}
				next++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if next < len(cps) {
			return checkpointBreak(cps[next], fmt.Sprintf("it names entry %d, but the log ends at entry %d (entries were removed)", cps[next].Seq, rep.Entries))
		}
		if err := checkCheckpointKeys(cps, changes, ident.DeviceID, opts); err != nil {
			return err
		}
		if err := checkCadence(cps, uint64(rep.Entries), opts.Every); err != nil {
			return err
		}
		rep.Checkpoints = len(cps)
		if len(cps) > 0 {
			rep.AnchoredThrough = cps[len(cps)-1].Seq
		}
		return nil
	})
	return rep, err
}

// storedCheckpoints reads every checkpoint, oldest first.
func storedCheckpoints(tx *bolt.Tx) ([]AuditCheckpoint, error) {
	var cps []AuditCheckpoint
	err := tx.Bucket(bucketCheckpoints).ForEach(func(k, v []byte) error {
		var cp AuditCheckpoint
		seq := binary.BigEndian.Uint64(k)
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cp); err != nil {
			return &AuditBreak{Seq: seq, Checkpoint: seq, Reason: "the checkpoint stored for this entry is not valid: " + err.Error()}
		}
		if cp.Seq != seq {
			return checkpointBreak(cp, fmt.Sprintf("it is stored under entry %d (the checkpoint was moved)", seq))
		}
		cps = append(cps, cp)
		return nil
	})
	return cps, err
}

// checkCheckpointKeys checks each checkpoint's signature by the key in
// force at its entry. The keys are found from the newest back: opts.Key
// from the last key change on (or throughout), each change's previous key
// before it.
func checkCheckpointKeys(cps []AuditCheckpoint, changes []keyChange, deviceID string, opts AuditVerifyOptions) error {
	want := opts.Key
	c := len(changes) - 1
	covered := false // a checkpoint by want covers the change that brought it in
	for i := len(cps) - 1; i >= 0; i-- {
		cp := cps[i]
		for c >= 0 && cp.Seq < changes[c].seq {
			if err := checkKeyChange(changes[c], want, covered); err != nil {
				return err
			}
			want, covered = changes[c].previous, false
			c--
		}
		if err := CheckCheckpoint(cp, want, deviceID, opts.VerifySignature); err != nil {
			return checkpointBreak(cp, err.Error())
		}
		covered = true
	}
	for ; c >= 0; c-- {
		if err := checkKeyChange(changes[c], want, covered); err != nil {
			return err
		}
		want, covered = changes[c].previous, false
	}
	return nil
}

func checkKeyChange(ch keyChange, want []byte, covered bool) error {
	switch {
	case !bytes.Equal(ch.next, want):
		return &AuditBreak{Seq: ch.seq, Reason: fmt.Sprintf("the audit key replacement recorded here brings in key %s, but the checkpoints after it are signed by key %s",
			KeyFingerprint(ch.next), KeyFingerprint(want))}
	case !covered:
		return &AuditBreak{Seq: ch.seq, Reason: fmt.Sprintf("the audit key replacement recorded here is not covered by a checkpoint signed with the new key %s", KeyFingerprint(ch.next))}
	}
	return nil
}

// checkCadence finds removed checkpoints. The newest checkpoint vouches
// for every entry up to it, so only the newest ones matter: it must lie
// fewer than `every` entries before the head.
func checkCadence(cps []AuditCheckpoint, head, every uint64) error {
	if every == 0 {
		every = DefaultCheckpointEvery
	}
	if head == 0 {
		return nil
	}
	if len(cps) == 0 {
		return &AuditBreak{Seq: 1, Reason: "the unit has an audit key but the log has no signed checkpoint (checkpoints were removed)"}
	}
	if last := cps[len(cps)-1].Seq; head-last >= every {
		return &AuditBreak{Seq: last + 1, Reason: fmt.Sprintf("entries %d to %d are not covered by a signed checkpoint, but one is signed at least every %d entries (checkpoints were removed, or entries added without the unit's key)",
			last+1, head, every)}
	}
	return nil
}

// CheckCheckpoint checks that cp is signed by key for deviceID. It does not
// look at the log; an exported checkpoint is checked against a unit's log
// by comparing its Hash with the hash of entry Seq.
func CheckCheckpoint(cp AuditCheckpoint, key []byte, deviceID string, verify func(pub, msg, sig []byte) error) error {
	switch {
	case !bytes.Equal(cp.PublicKey, key):
		return fmt.Errorf("it is signed by key %s, not the unit's audit key %s", KeyFingerprint(cp.PublicKey), KeyFingerprint(key))
	case deviceID != "" && cp.DeviceID != deviceID:
		return fmt.Errorf("it belongs to device %s, not this unit (%s)", cp.DeviceID, deviceID)
	}
	if err := verify(key, cp.SignedMessage(), cp.Signature); err != nil {
		return fmt.Errorf("its signature does not verify (a forged or altered checkpoint): %v", err)
	}
	return nil
}

func checkpointBreak(cp AuditCheckpoint, why string) *AuditBreak {
	return &AuditBreak{Seq: cp.Seq, Checkpoint: cp.Seq,
		Reason: fmt.Sprintf("checkpoint for entry %d (signed %s, %s): %s", cp.Seq, cp.Time.UTC().Format(time.RFC3339), cp.Reason, why)}
}

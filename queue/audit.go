package queue

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Audit actions. Stored values: never rename one.
const (
	AuditLogin         = "login"
	AuditLoginFailed   = "login_failed"
	AuditLogout        = "logout"
	AuditUserAdded     = "user_added"
	AuditUserChanged   = "user_changed"
	AuditUserRemoved   = "user_removed"
	AuditDocument      = "document_issued"
	AuditDocumentState = "document_answered"
	AuditClock         = "clock_refused"
	AuditConfig        = "config_loaded"
	AuditStart         = "agent_started"
	AuditKey           = "key_event"
	AuditOnboarding    = "onboarding"
	AuditReplay        = "replay"
	AuditIncident      = "incident"
	AuditPrint         = "print"
	AuditIdentity      = "identity"          // the unit's identity bound, or a start refused for a changed one
	AuditReindex       = "documents_indexed" // documents from before schema 2 indexed (numbers, note references)
)

// AuditEntry is one entry of the hash-chained audit log. Hash is the
// SHA-256 of the entry's JSON with Hash empty, and Prev is the Hash of the
// entry before it, so that editing, removing or reordering an entry breaks
// the chain from that entry on.
type AuditEntry struct {
	Seq     uint64            `json:"seq"`
	Time    time.Time         `json:"time"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Subject string            `json:"subject,omitempty"`
	Details map[string]string `json:"details,omitempty"`
	Prev    string            `json:"prev"`
	Hash    string            `json:"hash"`
}

type auditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// auditGenesis is Prev of the first entry.
const auditGenesis = "0000000000000000000000000000000000000000000000000000000000000000"

func (e *AuditEntry) computeHash() (string, error) {
	c := *e
	c.Hash = ""
	data, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// Audit appends e in its own transaction; Seq, Prev and Hash are set here,
// Time if zero.
func (s *Store) Audit(e AuditEntry) error {
	return s.db.Update(func(tx *bolt.Tx) error { return appendAudit(tx, s.opts.Now, &e) })
}

// AuditUnlessRepeated appends e unless the newest entry already records
// the same thing (actor, action, subject and details), and reports whether
// it appended. It bounds what a loop can write: a service restarted every
// few seconds into the same refusal records it once, until anything else
// is recorded.
func (s *Store) AuditUnlessRepeated(e AuditEntry) (bool, error) {
	appended := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		var head auditHead
		if err := getJSON(tx.Bucket(bucketMeta), keyAuditHead, &head); err != nil && err != ErrNotFound {
			return err
		}
		if head.Seq > 0 {
			var last AuditEntry
			if err := getJSON(tx.Bucket(bucketAudit), u64(head.Seq), &last); err != nil {
				return err
			}
			if last.Actor == e.Actor && last.Action == e.Action && last.Subject == e.Subject && maps.Equal(last.Details, e.Details) {
				return nil
			}
		}
		appended = true
		return appendAudit(tx, s.opts.Now, &e)
	})
	return appended, err
}

// Audit appends e inside this transaction.
func (t *Tx) Audit(e AuditEntry) error { return appendAudit(t.tx, t.now, &e) }

func appendAudit(tx *bolt.Tx, now func() time.Time, e *AuditEntry) error {
	meta := tx.Bucket(bucketMeta)
	var head auditHead
	if err := getJSON(meta, keyAuditHead, &head); err != nil && err != ErrNotFound {
		return err
	}
	if head.Hash == "" {
		head.Hash = auditGenesis
	}
	e.Seq = head.Seq + 1
	e.Prev = head.Hash
	if e.Time.IsZero() {
		e.Time = now()
	}
	e.Time = e.Time.UTC()
	h, err := e.computeHash()
	if err != nil {
		return err
	}
	e.Hash = h
	if err := putJSON(appendOnly(tx.Bucket(bucketAudit)), u64(e.Seq), e); err != nil {
		return err
	}
	return putJSON(meta, keyAuditHead, auditHead{Seq: e.Seq, Hash: e.Hash})
}

// AuditEntries returns up to limit entries after seq since, oldest first.
func (s *Store) AuditEntries(since uint64, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Seek(u64(since + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("audit entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// AuditBreak describes the first entry at which the audit chain fails.
type AuditBreak struct {
	Seq    uint64 // the first entry that does not verify
	Reason string
}

func (b *AuditBreak) Error() string {
	return fmt.Sprintf("audit log broken at entry %d: %s", b.Seq, b.Reason)
}

// VerifyAudit walks the whole audit log and returns the number of entries
// and, if the chain is broken, an *AuditBreak naming the first bad entry.
func (s *Store) VerifyAudit() (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		prev := auditGenesis
		var want uint64 = 1
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			if seq != want {
				return &AuditBreak{Seq: want, Reason: fmt.Sprintf("entry missing (next stored entry is %d)", seq)}
			}
			var e AuditEntry
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&e); err != nil {
				return &AuditBreak{Seq: seq, Reason: "entry is not valid: " + err.Error()}
			}
			if e.Seq != seq {
				return &AuditBreak{Seq: seq, Reason: fmt.Sprintf("entry says it is number %d", e.Seq)}
			}
			if e.Prev != prev {
				return &AuditBreak{Seq: seq, Reason: "previous-hash does not match the entry before it"}
			}
			h, err := e.computeHash()
			if err != nil {
				return err
			}
			if h != e.Hash {
				return &AuditBreak{Seq: seq, Reason: "content does not match its hash (the entry was edited)"}
			}
			prev = e.Hash
			want++
			n++
		}
		var head auditHead
		if err := getJSON(tx.Bucket(bucketMeta), keyAuditHead, &head); err != nil && err != ErrNotFound {
			return err
		}
		switch last := want - 1; {
		case head.Seq > last:
			return &AuditBreak{Seq: want, Reason: fmt.Sprintf("log ends at entry %d but its head records entry %d (entries were removed)", last, head.Seq)}
		case head.Seq < last:
			return &AuditBreak{Seq: head.Seq + 1, Reason: fmt.Sprintf("log ends at entry %d but its head records entry %d (entries were added)", last, head.Seq)}
		case last > 0 && head.Hash != prev:
			return &AuditBreak{Seq: last, Reason: "the last entry does not match the hash its head records (the entry was rewritten)"}
		}
		return nil
	})
	return n, err
}

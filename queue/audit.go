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
	AuditIdentity      = "identity"           // the unit's identity bound, or a start refused for a changed one
	AuditReindex       = "documents_indexed"  // documents from before schema 2 indexed (numbers, note references)
	AuditRecredit      = "credits_recomputed" // what credit notes took, kept as before schema 4, recomputed
)

// Kinds of actor an audit entry records. Stored values: never rename one.
const (
	// ActorUser is a named user acting through a session.
	ActorUser = "user"
	// ActorOwner is whoever holds the owner token: the OS user that owns
	// the data directory, or root.
	ActorOwner = "owner"
	// ActorSystem is the agent acting by itself: starting, recording an
	// authority's answer, opening an incident.
	ActorSystem = "system"
	// ActorAnonymous is a caller that has not proven who it is, such as a
	// failed login.
	ActorAnonymous = "anonymous"
)

// Actor is who did what an audit entry records: a name and its kind. For
// every kind but ActorUser the name is the kind itself, and no user may
// take one of those names ([ReservedActorNames]), so that an entry by a
// user can never read like one by the owner or the agent.
type Actor struct {
	Name string
	Kind string
}

// The actors that are not users.
var (
	SystemActor    = Actor{Name: ActorSystem, Kind: ActorSystem}
	OwnerActor     = Actor{Name: ActorOwner, Kind: ActorOwner}
	AnonymousActor = Actor{Name: ActorAnonymous, Kind: ActorAnonymous}
)

// UserActor is the named user.
func UserActor(name string) Actor { return Actor{Name: name, Kind: ActorUser} }

// ReservedActorNames are the names the audit log uses for actors that are
// not users.
func ReservedActorNames() []string { return []string{ActorOwner, ActorSystem, ActorAnonymous} }

// actorKindOf attributes an entry that does not say who its actor is by
// name: a reserved name is that kind, anything else a user.
func actorKindOf(name string) string {
	for _, r := range ReservedActorNames() {
		if name == r {
			return r
		}
	}
	return ActorUser
}

// AuditEntry is one entry of the hash-chained audit log. Hash is the
// SHA-256 of the entry's JSON with Hash empty, and Prev is the Hash of the
// entry before it, so that editing, removing or reordering an entry breaks
// the chain from that entry on.
//
// ActorKind is one of the Actor* kinds. Entries written before it existed
// have none; it is omitted from the JSON when empty, so that their hashes
// still verify. An entry appended without one gets [actorKindOf] its actor.
type AuditEntry struct {
	Seq       uint64            `json:"seq"`
	Time      time.Time         `json:"time"`
	Actor     string            `json:"actor"`
	ActorKind string            `json:"actor_kind,omitempty"`
	Action    string            `json:"action"`
	Subject   string            `json:"subject,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
	Prev      string            `json:"prev"`
	Hash      string            `json:"hash"`
}

// By sets the entry's actor and its kind.
func (e AuditEntry) By(a Actor) AuditEntry {
	e.Actor, e.ActorKind = a.Name, a.Kind
	return e
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
	return s.db.Update(func(tx *bolt.Tx) error { return s.appendAudit(tx, &e) })
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
		return s.appendAudit(tx, &e)
	})
	return appended, err
}

// Audit appends e inside this transaction.
func (t *Tx) Audit(e AuditEntry) error { return t.s.appendAudit(t.tx, &e) }

// appendAudit appends e to the log, and signs a checkpoint of the new head
// in the same transaction when the signer's cadence falls on it.
func (s *Store) appendAudit(tx *bolt.Tx, e *AuditEntry) error {
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
		e.Time = s.opts.Now()
	}
	if e.ActorKind == "" {
		e.ActorKind = actorKindOf(e.Actor)
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
	if err := putJSON(meta, keyAuditHead, auditHead{Seq: e.Seq, Hash: e.Hash}); err != nil {
		return err
	}
	if sg := s.signer.Load(); sg != nil && e.Seq%sg.every() == 0 {
		_, err := putCheckpoint(tx, sg, auditHead{Seq: e.Seq, Hash: e.Hash}, e.Time, fmt.Sprintf("every %d entries", sg.every()))
		return err
	}
	return nil
}

// AuditEntries returns up to limit entries after seq since, oldest first.
func (s *Store) AuditEntries(since uint64, limit int) ([]AuditEntry, error) {
	return listAfter[AuditEntry](s.db, bucketAudit, since, limit, "audit entry")
}

// listAfter decodes up to limit values of a bucket keyed by sequence
// numbers, those after since, oldest first; what names a value in errors.
func listAfter[T any](db *bolt.DB, bucket []byte, since uint64, limit int, what string) ([]T, error) {
	var out []T
	err := db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.Seek(u64(since + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var e T
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("%s %d: %w", what, binary.BigEndian.Uint64(k), err)
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
	// Checkpoint is the entry of the signed checkpoint through which the
	// break was found, or zero.
	Checkpoint uint64
}

func (b *AuditBreak) Error() string {
	return fmt.Sprintf("audit log broken at entry %d: %s", b.Seq, b.Reason)
}

// VerifyAudit walks the whole audit log and returns the number of entries
// and, if the chain is broken, an *AuditBreak naming the first bad entry.
// It does not look at checkpoints; VerifyAuditWith does.
func (s *Store) VerifyAudit() (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = walkAudit(tx, nil)
		return err
	})
	return n, err
}

// walkAudit verifies the chain entry by entry, calling visit (if not nil)
// with each entry that verifies, and then the head. It returns the number
// of entries that verify.
func walkAudit(tx *bolt.Tx, visit func(*AuditEntry) error) (int, error) {
	n := 0
	prev := auditGenesis
	var want uint64 = 1
	c := tx.Bucket(bucketAudit).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		seq := binary.BigEndian.Uint64(k)
		if seq != want {
			return n, &AuditBreak{Seq: want, Reason: fmt.Sprintf("entry missing (next stored entry is %d)", seq)}
		}
		var e AuditEntry
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return n, &AuditBreak{Seq: seq, Reason: "entry is not valid: " + err.Error()}
		}
		if e.Seq != seq {
			return n, &AuditBreak{Seq: seq, Reason: fmt.Sprintf("entry says it is number %d", e.Seq)}
		}
		if e.Prev != prev {
			return n, &AuditBreak{Seq: seq, Reason: "previous-hash does not match the entry before it"}
		}
		h, err := e.computeHash()
		if err != nil {
			return n, err
		}
		if h != e.Hash {
			return n, &AuditBreak{Seq: seq, Reason: "content does not match its hash (the entry was edited)"}
		}
		if visit != nil {
			if err := visit(&e); err != nil {
				return n, err
			}
		}
		prev = e.Hash
		want++
		n++
	}
	var head auditHead
	if err := getJSON(tx.Bucket(bucketMeta), keyAuditHead, &head); err != nil && err != ErrNotFound {
		return n, err
	}
	switch last := want - 1; {
	case head.Seq > last:
		return n, &AuditBreak{Seq: want, Reason: fmt.Sprintf("log ends at entry %d but its head records entry %d (entries were removed)", last, head.Seq)}
	case head.Seq < last:
		return n, &AuditBreak{Seq: head.Seq + 1, Reason: fmt.Sprintf("log ends at entry %d but its head records entry %d (entries were added)", last, head.Seq)}
	case last > 0 && head.Hash != prev:
		return n, &AuditBreak{Seq: last, Reason: "the last entry does not match the hash its head records (the entry was rewritten)"}
	}
	return n, nil
}

package queue

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Status is where a journal record stands with the authority. Stored values.
type Status int

const (
	StatusPending              Status = 1 // in the outbox, not yet answered
	StatusAccepted             Status = 2
	StatusAcceptedWithWarnings Status = 3
	StatusRejected             Status = 4 // the slot stays consumed; see Messages
)

func (s Status) String() string {
	switch s {
	case StatusPending:
		return "pending"
	case StatusAccepted:
		return "accepted"
	case StatusAcceptedWithWarnings:
		return "accepted_with_warnings"
	case StatusRejected:
		return "rejected"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText writes the status by name, for the API.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Statuses are the statuses a record can have, in their order.
func Statuses() []Status {
	return []Status{StatusPending, StatusAccepted, StatusAcceptedWithWarnings, StatusRejected}
}

// UnmarshalText reads a status name written by MarshalText.
func (s *Status) UnmarshalText(b []byte) error {
	for _, v := range Statuses() {
		if v.String() == string(b) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("unknown document status %q", b)
}

// Record is one issued document in the journal.
type Record struct {
	Counter        uint64    `json:"counter"`
	UUID           string    `json:"uuid"`
	Regime         string    `json:"regime"`
	Kind           string    `json:"kind"`
	IssuedAt       time.Time `json:"issued_at"`
	User           string    `json:"user"`
	IdempotencyKey string    `json:"idempotency_key"`
	PrevHash       string    `json:"prev_hash"`
	Hash           string    `json:"hash"`
	ContentType    string    `json:"content_type"`
	Document       []byte    `json:"document,omitempty"` // frozen bytes; stored raw in their own bucket
	Receipt        []byte    `json:"receipt,omitempty"`
	Sale           []byte    `json:"sale,omitempty"` // the sale as received (JSON), see IssueRequest.Sale
	Status         Status    `json:"status"`
	// Number is the document's number as printed (Stamped.Number); empty
	// for a regime without one.
	Number string `json:"number,omitempty"`
	// Original is, for a note, the counter of the document of this unit
	// it references (IssueRequest.Note); 0 otherwise.
	Original uint64 `json:"original_counter,omitempty"`
	// AuthorityNumber is the number the authority accepted the document
	// under, for a regime whose authority numbers documents itself
	// (AssignNumber); 0 otherwise and until it is accepted.
	AuthorityNumber uint64 `json:"authority_number,omitempty"`
	// Answer is the authority's full answer (for remote-stamping regimes,
	// it carries the fiscal signature); Messages its errors or warnings.
	Answer     []byte    `json:"answer,omitempty"`
	Messages   []string  `json:"messages,omitempty"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
	// PrintedAt is when the printer confirmed the original receipt; Copies
	// counts the marked copies printed since.
	PrintedAt time.Time `json:"printed_at,omitzero"`
	Copies    int       `json:"copies,omitempty"`

	// packed says the stored document value is packed (compress.go);
	// documents stored before packing are raw.
	packed bool
}

// Head is the chain head: the last issued counter and its hash.
type Head struct {
	Counter    uint64    `json:"counter"`
	Hash       string    `json:"hash"`
	LastIssued time.Time `json:"last_issued"`
}

func getHead(tx *bolt.Tx) (Head, error) {
	var h Head
	err := getJSON(tx.Bucket(bucketMeta), keyHead, &h)
	if err == ErrNotFound {
		return Head{}, nil
	}
	return h, err
}

// Head returns the chain head.
func (s *Store) Head() (Head, error) {
	var h Head
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		h, err = getHead(tx)
		return err
	})
	return h, err
}

// Head returns the chain head as this transaction sees it.
func (t *Tx) Head() (Head, error) { return getHead(t.tx) }

// Document returns the record with the given counter.
func (s *Store) Document(counter uint64) (*Record, error) {
	var r *Record
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getRecord(tx, counter)
		return err
	})
	return r, err
}

// DocumentByUUID returns the record with the given UUID.
func (s *Store) DocumentByUUID(uuid string) (*Record, error) {
	var r *Record
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketUUID).Get([]byte(uuid))
		if c == nil {
			return ErrNotFound
		}
		var err error
		r, err = getRecord(tx, binary.BigEndian.Uint64(c))
		return err
	})
	return r, err
}

// Documents returns up to limit records with counters above since, in
// counter order, for which keep returns true (nil keeps all). It scans at
// most scanLimit records so that a filter cannot make one call walk the
// whole journal; next is the counter to pass as since to continue (0 when
// the end was reached).
func (s *Store) Documents(since uint64, limit int, keep func(*Record) bool) (recs []*Record, next uint64, err error) {
	const scanLimit = 10000
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketJournal).Cursor()
		scanned := 0
		for k, v := c.Seek(u64(since + 1)); k != nil; k, v = c.Next() {
			counter := binary.BigEndian.Uint64(k)
			if len(recs) == limit || scanned == scanLimit {
				next = counter - 1
				return nil
			}
			scanned++
			r, err := decodeRecord(tx, k, v)
			if err != nil {
				return fmt.Errorf("journal[%d]: %w", counter, err)
			}
			if keep == nil || keep(r) {
				recs = append(recs, r)
			}
		}
		return nil
	})
	return recs, next, err
}

func getRecord(tx *bolt.Tx, counter uint64) (*Record, error) {
	k := u64(counter)
	v := tx.Bucket(bucketJournal).Get(k)
	if v == nil {
		return nil, missingRecord(tx, k)
	}
	return decodeRecord(tx, k, v)
}

// recordMeta reads a journal record without its document bytes.
func recordMeta(tx *bolt.Tx, key []byte) (*Record, error) {
	v := tx.Bucket(bucketJournal).Get(key)
	if v == nil {
		return nil, missingRecord(tx, key)
	}
	return decodeMeta(tx, key, v)
}

// decodeMeta reads the record stored under key k with value v, with its
// answer and without its document bytes.
func decodeMeta(tx *bolt.Tx, k, v []byte) (*Record, error) {
	v, err := journalJSON(tx, v)
	if err != nil {
		return nil, fmt.Errorf("record of %d: %w", binary.BigEndian.Uint64(k), err)
	}
	sr := storedRecord{Record: new(Record)}
	if err := jsonUnmarshal(v, &sr); err != nil {
		return nil, err
	}
	r := sr.Record
	r.Status, r.packed = Status(sr.Status), sr.Packed
	if a := tx.Bucket(bucketAnswers).Get(k); a != nil {
		answer, err := unpack(tx, a)
		if err != nil {
			return nil, fmt.Errorf("answer of %d: %w", binary.BigEndian.Uint64(k), err)
		}
		r.Answer = answer
	}
	return r, nil
}

// storedRecord is a Record as the journal stores it. Status marshals by
// name for the API (MarshalText); the stored form keeps the explicit number
// (stored values are numbers), and the outer field shadows the embedded one
// in encoding/json. Packed says the document value is packed; the answer is
// not in it but packed in the answers bucket.
type storedRecord struct {
	*Record
	Status int  `json:"status"`
	Packed bool `json:"packed,omitempty"`
}

// putRecord stores r's metadata and its answer, if it has one;
// withDocument also stores its frozen bytes, which are written once, at
// issue, and never again.
func putRecord(tx *bolt.Tx, r *Record, withDocument bool) error {
	key := u64(r.Counter)
	if withDocument {
		if err := makeDictionary(tx, r.Counter); err != nil {
			return err
		}
		v, err := packIn(tx, r.Document)
		if err != nil {
			return err
		}
		if err := appendOnly(tx.Bucket(bucketDocuments)).Put(key, v); err != nil {
			return err
		}
		r.packed = true
	}
	meta := *r
	meta.Document, meta.Answer = nil, nil
	if r.Answer != nil {
		v, err := packIn(tx, r.Answer)
		if err != nil {
			return err
		}
		if err := appendOnly(tx.Bucket(bucketAnswers)).Put(key, v); err != nil {
			return err
		}
		// Answers come in behind the documents (all the more after an
		// outage): the dictionary may be due now, with this one in it.
		if err := makeDictionary(tx, r.Counter+1); err != nil {
			return err
		}
	}
	data, err := json.Marshal(storedRecord{&meta, int(r.Status), r.packed})
	if err != nil {
		return err
	}
	v, err := packIn(tx, data)
	if err != nil {
		return err
	}
	return appendOnly(tx.Bucket(bucketJournal)).Put(key, v)
}

// journalJSON returns the JSON of journal value v: packed, as written
// since schema 5, or plain, as before (a JSON object begins with '{',
// which is no format byte).
func journalJSON(tx *bolt.Tx, v []byte) ([]byte, error) {
	if len(v) > 0 && v[0] == '{' {
		return v, nil
	}
	return unpack(tx, v)
}

// decodeRecord reads the record stored under key k with value v, and its
// document bytes (copied: bbolt's memory is only valid in the transaction).
func decodeRecord(tx *bolt.Tx, k, v []byte) (*Record, error) {
	r, err := decodeMeta(tx, k, v)
	if err != nil {
		return nil, err
	}
	doc := tx.Bucket(bucketDocuments).Get(k)
	if doc == nil {
		return nil, fmt.Errorf("document bytes of %d are missing", binary.BigEndian.Uint64(k))
	}
	if !r.packed {
		r.Document = append([]byte(nil), doc...)
		return r, nil
	}
	if r.Document, err = unpack(tx, doc); err != nil {
		return nil, fmt.Errorf("document bytes of %d: %w", binary.BigEndian.Uint64(k), err)
	}
	return r, nil
}

// unmarshalJournal decodes journal value v (packed or plain) into sr.
func unmarshalJournal(tx *bolt.Tx, v []byte, sr *storedRecord) error {
	data, err := journalJSON(tx, v)
	if err != nil {
		return err
	}
	return jsonUnmarshal(data, sr)
}

package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// The archive keeps, for a regime that must (Kazakhstan), signed XML
// records of its documents: a document may get several over its life (an
// autonomous sign at issue, then the authority's fiscal sign on
// acceptance), and every one is kept, in the order written. A record is
// written in the same transaction as what it records (the issue, the
// answer) and never changed afterwards; the store keeps its bytes exactly
// as given, since any change breaks its signature.
var bucketArchive = []byte("archive") // counter ‖ seq (uint32, from 1) → the record's bytes, raw

// Limits on what one document may carry, so that a fault in a caller
// cannot fill the disk through the archive. A record holds one ticket,
// whose frame is at most 1 MiB; its XML is a few times larger at most.
const (
	MaxArchiveRecord      = 4 << 20 // bytes of one record
	MaxArchivePerDocument = 16      // records of one document
)

// ErrArchiveRecord wraps every refusal of an archive record: empty, too
// large, not well-formed XML, or one too many for its document.
var ErrArchiveRecord = errors.New("archive record refused")

// ArchiveRecord is one stored archive record.
type ArchiveRecord struct {
	Counter uint64 // the document it records
	Seq     int    // 1 for the document's first record, 2 for its second, …
	XML     []byte // exactly as stored
}

func archiveKey(counter uint64, seq int) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint64(k, counter)
	binary.BigEndian.PutUint32(k[8:], uint32(seq))
	return k
}

// checkArchiveRecord refuses a record the archive must not take. It runs
// before the transaction it comes with writes anything.
func checkArchiveRecord(doc []byte) error {
	switch {
	case len(doc) == 0:
		return fmt.Errorf("%w: it is empty", ErrArchiveRecord)
	case len(doc) > MaxArchiveRecord:
		return fmt.Errorf("%w: %d bytes, more than the %d a record may have", ErrArchiveRecord, len(doc), MaxArchiveRecord)
	}
	if err := wellFormed(doc); err != nil {
		return fmt.Errorf("%w: %v", ErrArchiveRecord, err)
	}
	return nil
}

// wellFormed checks that doc is one well-formed XML element (with an
// optional declaration and surrounding white space).
func wellFormed(doc []byte) error {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return errors.New("not well-formed XML: text outside the root element")
			}
		}
	}
	switch {
	case depth != 0:
		return errors.New("not well-formed XML: an element is not closed")
	case roots != 1:
		return fmt.Errorf("not well-formed XML: %d root elements, not 1", roots)
	}
	return nil
}

// appendArchive stores doc as counter's next record. The document must
// exist; doc must have passed checkArchiveRecord. err is a refusal that
// wrote nothing, abort a storage failure.
func appendArchive(tx *bolt.Tx, counter uint64, doc []byte) (err, abort error) {
	if tx.Bucket(bucketJournal).Get(u64(counter)) == nil {
		return fmt.Errorf("%w: document %d does not exist", ErrArchiveRecord, counter), nil
	}
	b := tx.Bucket(bucketArchive)
	seq := 1
	c := b.Cursor()
	for k, _ := c.Seek(archiveKey(counter, 0)); k != nil && binary.BigEndian.Uint64(k) == counter; k, _ = c.Next() {
		seq = int(binary.BigEndian.Uint32(k[8:])) + 1
	}
	if seq > MaxArchivePerDocument {
		return fmt.Errorf("%w: document %d has %d records already, the most one may have", ErrArchiveRecord, counter, MaxArchivePerDocument), nil
	}
	return nil, appendOnly(b).Put(archiveKey(counter, seq), doc)
}

// AppendArchive stores doc as the next archive record of document counter
// in this transaction, for a caller that writes what the record records
// in the same transaction. Issue (Stamped.Archive) and RecordAnswer
// (Answer.Archive) do it themselves.
func (t *Tx) AppendArchive(counter uint64, doc []byte) error {
	if err := checkArchiveRecord(doc); err != nil {
		return err
	}
	err, abort := appendArchive(t.tx, counter, doc)
	return errors.Join(err, abort)
}

// Archive returns the archive records of document counter, in the order
// they were written; none (and no error) for a document without any.
func (s *Store) Archive(counter uint64) ([]ArchiveRecord, error) {
	var out []ArchiveRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketArchive).Cursor()
		for k, v := c.Seek(archiveKey(counter, 0)); k != nil && binary.BigEndian.Uint64(k) == counter; k, v = c.Next() {
			out = append(out, archiveRecord(k, v))
		}
		return nil
	})
	return out, err
}

// ArchiveRecords returns the archive records of the documents after
// counter since, in order: every record of a document or none, and at
// least limit records unless the archive ends first. next is the last
// document returned when more follow (pass it as since), else 0.
func (s *Store) ArchiveRecords(since uint64, limit int) (recs []ArchiveRecord, next uint64, err error) {
	if limit <= 0 {
		limit = 1
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketArchive).Cursor()
		for k, v := c.Seek(archiveKey(since+1, 0)); k != nil; k, v = c.Next() {
			counter := binary.BigEndian.Uint64(k)
			if len(recs) >= limit && counter != recs[len(recs)-1].Counter {
				next = recs[len(recs)-1].Counter
				return nil
			}
			recs = append(recs, archiveRecord(k, v))
		}
		return nil
	})
	return recs, next, err
}

// archiveRecord copies a record out of its transaction.
func archiveRecord(k, v []byte) ArchiveRecord {
	return ArchiveRecord{Counter: binary.BigEndian.Uint64(k), Seq: int(binary.BigEndian.Uint32(k[8:])), XML: bytes.Clone(v)}
}

// migrateArchive adds the archive's bucket (schema 4 → 5).
func migrateArchive(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketArchive)
	return err
}

// checkArchive is Check's part for the archive: every key a document's
// counter and a sequence number, each document's records numbered 1, 2, …
// with no gap, each belonging to a document of the journal, each a
// well-formed record within the limits, and, with CheckOptions.Archive,
// each accepted by the caller's verification. It returns the number of
// records.
func checkArchive(tx *bolt.Tx, opts CheckOptions, bad func(format string, args ...any)) (int, error) {
	n := 0
	var last uint64
	wantSeq := 1
	err := tx.Bucket(bucketArchive).ForEach(func(k, v []byte) error {
		n++
		if len(k) != 12 {
			bad("archive key %x is not a counter and a sequence number", k)
			return nil
		}
		r := ArchiveRecord{Counter: binary.BigEndian.Uint64(k), Seq: int(binary.BigEndian.Uint32(k[8:])), XML: v}
		if r.Counter != last {
			last, wantSeq = r.Counter, 1
		}
		if r.Seq != wantSeq {
			bad("archive[%d/%d]: record %d of its document follows %d (gap or duplicate)", r.Counter, r.Seq, r.Seq, wantSeq-1)
		}
		wantSeq = r.Seq + 1
		if err := checkArchiveRecord(v); err != nil {
			bad("archive[%d/%d]: %v", r.Counter, r.Seq, err)
			return nil
		}
		if tx.Bucket(bucketJournal).Get(k[:8]) == nil {
			bad("archive[%d/%d]: document %d does not exist", r.Counter, r.Seq, r.Counter)
			return nil
		}
		if opts.Archive != nil {
			rec, err := getRecord(tx, r.Counter)
			if err != nil {
				bad("archive[%d/%d]: document %d: %v", r.Counter, r.Seq, r.Counter, err)
				return nil
			}
			if err := opts.Archive(r, rec); err != nil {
				bad("archive[%d/%d]: %v", r.Counter, r.Seq, err)
			}
		}
		return nil
	})
	return n, err
}

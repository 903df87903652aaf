package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Notes (credit and debit notes) and the documents they reference. The
// store knows no document format: the caller resolves a note's lines
// against its original and keeps its running totals as bytes of its own
// (References.Credited); the store keeps them per original, hands them to
// the caller's check inside the issue transaction, and writes the result in
// that same transaction. Two notes racing for the same original are thereby
// checked one after the other, each against what the other left.
var (
	bucketNumbers = []byte("journal_number") // number as printed → counter (0: more than one document)
	bucketNotes   = []byte("notes")          // original counter → References
)

// keyReindexFrom, while present, is the next counter whose number and
// note reference still have to be indexed: documents issued before the
// store kept these indexes (schema 1). See Tx.ReindexFrom.
var keyReindexFrom = []byte("reindex_from")

// keyRecreditFrom, while present, is the next document whose references
// hold credited totals in the form the caller wrote before schema 4: see
// Tx.RecreditFrom.
var keyRecreditFrom = []byte("recredit_from")

// References is what the unit has issued against one of its documents.
type References struct {
	// Notes are the counters of the notes that reference the document, in
	// issue order (rejected ones included: they stay in the chain).
	Notes []uint64 `json:"notes,omitempty"`
	// Corrective is the corrective credit note of a document the authority
	// rejected (see NoteRef.Corrective); 0 when it has none, or when the
	// authority rejected that note too.
	Corrective uint64 `json:"corrective,omitempty"`
	// CreditedInFull is the note after which nothing of the document was
	// left to credit (Credit.InFull); 0 while something is.
	CreditedInFull uint64 `json:"credited_in_full,omitempty"`
	// Credited is the caller's account of what the notes took from the
	// document (for egsd: the quantities and amounts credited per line).
	// The store keeps it as given.
	Credited json.RawMessage `json:"credited,omitempty"`
}

// Correction is the credit note that corrects the document, should the
// authority reject it: its corrective credit note, or else the note that
// left nothing of it to credit; 0 when there is neither. The index of
// rejected documents names it (RejectedEntry.CreditNote).
func (r References) Correction() uint64 {
	if r.Corrective != 0 {
		return r.Corrective
	}
	return r.CreditedInFull
}

// Credit is what the caller's check of a note, or its release of one,
// makes of the original's credit: the new References.Credited, and
// whether nothing of the original is left to credit.
type Credit struct {
	Credited []byte
	InFull   bool
}

// NoteRef is the reference of a note to a document of this unit, checked
// and recorded in the issue transaction.
type NoteRef struct {
	// Original is the counter of the referenced document.
	Original uint64
	// Corrective marks the corrective credit note of a rejected document:
	// a document has at most one. If it has one already, Issue returns that
	// note (Replayed) whoever asks, and Check is not called. A corrective
	// request needs no IdempotencyKey: the original is its key.
	Corrective bool
	// Check runs in the issue transaction, after the idempotency key and
	// before the stamp, with the original (without its document bytes) and
	// its references as the transaction sees them. An error refuses the note
	// (Issue returns it; nothing is written, no counter is consumed);
	// otherwise the result becomes References.Credited and, when it leaves
	// nothing to credit, makes this note References.CreditedInFull (unless
	// an earlier one is). It must not block or call the store.
	Check func(original *Record, refs References) (Credit, error)
}

// ErrAmbiguous is returned (wrapped) by ResolveDocument when a reference
// names more than one document.
var ErrAmbiguous = errors.New("names more than one document")

// MaxNotes is the most notes one document may have. A document's
// references are rewritten with every note, so without a bound a stream of
// tiny notes against one invoice would cost ever more to write; a real
// sale has a few.
const MaxNotes = 1000

// ErrTooManyNotes is returned (wrapped) by Issue for a note whose original
// has MaxNotes notes already.
var ErrTooManyNotes = fmt.Errorf("the document has %d notes already, the most one document may have", MaxNotes)

// ResolveDocument finds the document that ref names: its number as printed
// (the regime's, such as "INV-42"), its UUID, or its counter. A reference
// that names two documents (a number that is also another document's
// counter, or a number two documents share) is ErrAmbiguous, with the
// candidates in the message; one that names none is ErrNotFound.
func (s *Store) ResolveDocument(ref string) (*Record, error) {
	var r *Record
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = resolve(tx, ref)
		return err
	})
	return r, err
}

// Resolve is ResolveDocument inside this transaction.
func (t *Tx) Resolve(ref string) (*Record, error) { return resolve(t.tx, ref) }

func resolve(tx *bolt.Tx, ref string) (*Record, error) {
	if ref == "" {
		return nil, ErrNotFound
	}
	found := map[uint64][]string{} // counter → how ref names it
	var order []uint64
	add := func(counter uint64, how string) {
		if _, ok := found[counter]; !ok {
			order = append(order, counter)
		}
		found[counter] = append(found[counter], how)
	}
	if v := tx.Bucket(bucketNumbers).Get([]byte(ref)); v != nil {
		if c := binary.BigEndian.Uint64(v); c != 0 {
			add(c, "number")
		} else {
			return nil, fmt.Errorf("%q %w: more than one document was printed with this number; name it by its UUID", ref, ErrAmbiguous)
		}
	}
	if v := tx.Bucket(bucketUUID).Get([]byte(ref)); v != nil {
		add(binary.BigEndian.Uint64(v), "UUID")
	}
	if c, err := strconv.ParseUint(ref, 10, 64); err == nil && c > 0 && tx.Bucket(bucketJournal).Get(u64(c)) != nil {
		add(c, "counter")
	}
	switch len(order) {
	case 0:
		if c, err := strconv.ParseUint(ref, 10, 64); err == nil && c > 0 {
			return nil, missingRecord(tx, u64(c)) // pruned, or never issued
		}
		return nil, ErrNotFound
	case 1:
		return getRecord(tx, order[0])
	}
	var parts []string
	for _, c := range order {
		parts = append(parts, fmt.Sprintf("the %s of document %d", strings.Join(found[c], " and "), c))
	}
	return nil, fmt.Errorf("%q %w: it is %s; name it by its UUID", ref, ErrAmbiguous, strings.Join(parts, ", and "))
}

// References returns what was issued against the document with the given
// counter (empty References when nothing was).
func (s *Store) References(counter uint64) (References, error) {
	var refs References
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		refs, err = getReferences(tx, counter)
		return err
	})
	return refs, err
}

// References is Store.References inside this transaction.
func (t *Tx) References(counter uint64) (References, error) { return getReferences(t.tx, counter) }

func getReferences(tx *bolt.Tx, counter uint64) (References, error) {
	var refs References
	err := getJSON(tx.Bucket(bucketNotes), u64(counter), &refs)
	if err == ErrNotFound {
		return References{}, nil
	}
	return refs, err
}

// putReferences writes the references of document counter and, if the
// authority rejected it, keeps its index entry in step.
func putReferences(tx *bolt.Tx, counter uint64, refs References) error {
	if err := putJSON(tx.Bucket(bucketNotes), u64(counter), refs); err != nil {
		return err
	}
	return syncRejected(tx, counter, refs)
}

// indexNumber records that number names counter; a number that already
// names another document names none from then on (ResolveDocument says so).
func indexNumber(tx *bolt.Tx, number string, counter uint64) error {
	if number == "" {
		return nil
	}
	b := tx.Bucket(bucketNumbers)
	if v := b.Get([]byte(number)); v != nil && binary.BigEndian.Uint64(v) != counter {
		counter = 0
	}
	return b.Put([]byte(number), u64(counter))
}

// checkNote runs ref's check in the issue transaction: the original's
// record and references, or the corrective note it already has. A problem
// with this note is noteErr (the request's error); err is a storage
// failure.
func checkNote(tx *bolt.Tx, ref *NoteRef) (refs References, credit *Credit, existing *Record, noteErr, err error) {
	orig, err := recordMeta(tx, u64(ref.Original))
	if err == ErrNotFound {
		return refs, nil, nil, fmt.Errorf("the original document %d %w", ref.Original, ErrNotFound), nil
	}
	if err != nil {
		return refs, nil, nil, nil, err
	}
	if refs, err = getReferences(tx, ref.Original); err != nil {
		return refs, nil, nil, nil, err
	}
	if ref.Corrective && refs.Corrective != 0 {
		existing, err = getRecord(tx, refs.Corrective)
		return refs, nil, existing, nil, err
	}
	if len(refs.Notes) >= MaxNotes {
		return refs, nil, nil, fmt.Errorf("document %d: %w", ref.Original, ErrTooManyNotes), nil
	}
	if ref.Check == nil {
		return refs, nil, nil, nil, nil
	}
	c, noteErr := checkSafely(ref.Check, orig, refs)
	return refs, &c, nil, noteErr, nil
}

// checkSafely runs a note check and turns a panic into an error, so that
// one bad note cannot take the writer down.
func checkSafely(check func(*Record, References) (Credit, error), orig *Record, refs References) (c Credit, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("checking the note panicked: %v", p)
		}
	}()
	return check(orig, refs)
}

// recordNote adds the issued note rec to its original's references, with
// what the note's check made of the original's credit (nil: unchanged).
func recordNote(tx *bolt.Tx, ref *NoteRef, refs References, credit *Credit, rec *Record) error {
	refs.Notes = append(refs.Notes, rec.Counter)
	if ref.Corrective {
		refs.Corrective = rec.Counter
	}
	if credit != nil {
		refs.Credited = credit.Credited
		switch {
		case !credit.InFull:
			refs.CreditedInFull = 0
		case refs.CreditedInFull == 0:
			refs.CreditedInFull = rec.Counter
		}
	}
	return putReferences(tx, ref.Original, refs)
}

// correctiveNote returns the corrective note already issued for ref's
// original, if ref asks for one and there is one.
func (s *Store) correctiveNote(ref *NoteRef) (*Record, error) {
	if ref == nil || !ref.Corrective {
		return nil, nil
	}
	var r *Record
	err := s.db.View(func(tx *bolt.Tx) error {
		refs, err := getReferences(tx, ref.Original)
		if err != nil || refs.Corrective == 0 {
			return err
		}
		r, err = getRecord(tx, refs.Corrective)
		return err
	})
	return r, err
}

// releaseNote runs when the authority rejects a note of this unit: the
// note no longer takes anything from its original, so the caller's
// Options.ReleaseNote recomputes the original's Credited, and a rejected
// corrective note, or the note that left nothing to credit, no longer
// corrects it. A failure of ReleaseNote leaves Credited as it was and is
// returned as the detail to audit (the answer is recorded regardless: it
// must not block the outbox).
func (s *Store) releaseNote(tx *bolt.Tx, note *Record) (detail string, err error) {
	refs, err := getReferences(tx, note.Original)
	if err != nil {
		return "", err
	}
	if refs.Corrective == note.Counter {
		refs.Corrective = 0
	}
	if refs.CreditedInFull == note.Counter {
		refs.CreditedInFull = 0
	}
	if s.opts.ReleaseNote != nil {
		orig, err := recordMeta(tx, u64(note.Original))
		if err != nil {
			return "", fmt.Errorf("the original %d of note %d: %w", note.Original, note.Counter, err)
		}
		c, rerr := releaseSafely(s.opts.ReleaseNote, note, orig, refs)
		if rerr != nil {
			detail = rerr.Error()
		} else {
			refs.Credited = c.Credited
			if !c.InFull {
				refs.CreditedInFull = 0
			}
		}
	}
	return detail, putReferences(tx, note.Original, refs)
}

func releaseSafely(release func(note, orig *Record, refs References) (Credit, error), note, orig *Record, refs References) (c Credit, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("releasing the note panicked: %v", p)
		}
	}()
	return release(note, orig, refs)
}

// SetCreditedInFull records note, one of the notes of original, as the
// one after which nothing of it was left to credit, for references
// written before the store recorded that (schema 2); the caller judged
// their Credited. References that name one already are left alone.
func (t *Tx) SetCreditedInFull(original, note uint64) error {
	refs, err := getReferences(t.tx, original)
	if err != nil || refs.CreditedInFull != 0 {
		return err
	}
	if !slices.Contains(refs.Notes, note) {
		return fmt.Errorf("queue: document %d is not a note of document %d", note, original)
	}
	refs.CreditedInFull = note
	return putReferences(t.tx, original, refs)
}

// Record returns the record with the given counter, without its document
// bytes.
func (t *Tx) Record(counter uint64) (*Record, error) { return recordMeta(t.tx, u64(counter)) }

// ReindexFrom returns the next counter whose number and note reference are
// still to be indexed (documents issued before the store kept these
// indexes), or 0 when every document is indexed.
func (t *Tx) ReindexFrom() uint64 { return reindexFrom(t.tx) }

func reindexFrom(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketMeta).Get(keyReindexFrom); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Reindex records, for a document issued before the store kept these
// indexes, its number and, for a note whose original the caller resolved
// (original non-zero), the note's place in its original's references with
// what it made of the original's credit (as a note's check does). It moves
// ReindexFrom past counter, which must be ReindexFrom; past the last
// document, indexing is done.
func (t *Tx) Reindex(counter uint64, number string, original uint64, credit Credit) error {
	if from := t.ReindexFrom(); from == 0 || counter != from {
		return fmt.Errorf("queue: reindex of document %d out of order (next is %d)", counter, from)
	}
	rec, err := recordMeta(t.tx, u64(counter))
	if err != nil {
		return fmt.Errorf("reindex document %d: %w", counter, err)
	}
	if number != "" || original != 0 {
		rec.Number, rec.Original = number, original
		if err := putRecord(t.tx, rec, false); err != nil {
			return err
		}
	}
	if err := indexNumber(t.tx, number, counter); err != nil {
		return err
	}
	if original != 0 {
		if original >= counter {
			return fmt.Errorf("queue: document %d cannot reference a later document %d", counter, original)
		}
		refs, err := getReferences(t.tx, original)
		if err != nil {
			return err
		}
		if err := recordNote(t.tx, &NoteRef{Original: original}, refs, &credit, rec); err != nil {
			return err
		}
	}
	head, err := getHead(t.tx)
	if err != nil {
		return err
	}
	meta := t.tx.Bucket(bucketMeta)
	if counter >= head.Counter {
		return meta.Delete(keyReindexFrom)
	}
	return meta.Put(keyReindexFrom, u64(counter+1))
}

// migrateNotes (schema 1 → 2) marks the documents already issued for
// indexing: their numbers and note references are read by the caller,
// which knows the formats (agent: Tx.ReindexFrom and Tx.Reindex at start).
func migrateNotes(tx *bolt.Tx) error {
	head, err := getHead(tx)
	if err != nil || head.Counter == 0 {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keyReindexFrom, u64(1))
}

// migrateCredited (schema 3 → 4) marks the references already written
// for the caller to recompute their Credited, whose form the caller
// changed (agent: per line the net amount, per VAT group the taxable
// amount; Tx.RecreditFrom and Tx.Recredit at start).
func migrateCredited(tx *bolt.Tx) error {
	k, _ := tx.Bucket(bucketNotes).Cursor().First()
	if k == nil {
		return nil
	}
	return tx.Bucket(bucketMeta).Put(keyRecreditFrom, bytes.Clone(k))
}

// RecreditFrom returns the next document whose references still hold
// Credited as written before schema 4, or 0 when none does.
func (t *Tx) RecreditFrom() uint64 {
	if v := t.tx.Bucket(bucketMeta).Get(keyRecreditFrom); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Recredit records credited, which the caller recomputed from the notes,
// as the Credited of original's references (nil leaves them as they
// were), and moves RecreditFrom to the next document with references;
// past the last one, the recomputation is done. original must be
// RecreditFrom. CreditedInFull is left alone: a note recorded as having
// credited the document in full stays so.
func (t *Tx) Recredit(original uint64, credited []byte) error {
	if from := t.RecreditFrom(); from == 0 || original != from {
		return fmt.Errorf("queue: recredit of document %d out of order (next is %d)", original, from)
	}
	if credited != nil {
		refs, err := getReferences(t.tx, original)
		if err != nil {
			return err
		}
		refs.Credited = credited
		if err := putReferences(t.tx, original, refs); err != nil {
			return err
		}
	}
	meta := t.tx.Bucket(bucketMeta)
	c := t.tx.Bucket(bucketNotes).Cursor()
	k, _ := c.Seek(u64(original))
	if k != nil && binary.BigEndian.Uint64(k) == original {
		k, _ = c.Next()
	}
	if k == nil {
		return meta.Delete(keyRecreditFrom)
	}
	return meta.Put(keyRecreditFrom, bytes.Clone(k))
}

// checkNumber verifies, during Check's walk of the journal, that r's
// number is indexed to it (or marked as shared by several documents).
func checkNumber(tx *bolt.Tx, r *Record, bad func(string, ...any)) {
	if r.Number == "" || reindexFrom(tx) != 0 && r.Counter >= reindexFrom(tx) {
		return
	}
	v := tx.Bucket(bucketNumbers).Get([]byte(r.Number))
	if len(v) != 8 || binary.BigEndian.Uint64(v) != r.Counter && binary.BigEndian.Uint64(v) != 0 {
		bad("journal[%d]: number %q is not indexed to it", r.Counter, r.Number)
	}
}

// checkNotes verifies the number index and the note references against
// the journal; originals maps each note to the original its record names.
// Notes of a pruned original (pruned: the anchor's counter) keep their
// record's reference; the original's references went with it. Numbers
// stay indexed to pruned documents.
func checkNotes(tx *bolt.Tx, originals map[uint64]uint64, pruned uint64, bad func(string, ...any)) error {
	journal := tx.Bucket(bucketJournal)
	err := tx.Bucket(bucketNumbers).ForEach(func(k, v []byte) error {
		switch {
		case len(v) != 8:
			bad("number %q: unreadable index entry", k)
		case binary.BigEndian.Uint64(v) > pruned && journal.Get(v) == nil:
			bad("number %q points at document %d, which is not in the journal", k, binary.BigEndian.Uint64(v))
		}
		return nil
	})
	if err != nil {
		return err
	}
	listed := map[uint64]uint64{} // note → original, as the references say
	err = tx.Bucket(bucketNotes).ForEach(func(k, v []byte) error {
		orig := binary.BigEndian.Uint64(k)
		var refs References
		if err := json.Unmarshal(v, &refs); err != nil {
			bad("references of document %d: %v", orig, err)
			return nil
		}
		if journal.Get(k) == nil {
			bad("references of document %d, which is not in the journal", orig)
		}
		for _, n := range refs.Notes {
			listed[n] = orig
			if originals[n] != orig {
				bad("document %d is listed as a note of %d, but its record says %d", n, orig, originals[n])
			}
		}
		if refs.Corrective != 0 && listed[refs.Corrective] != orig {
			bad("the corrective note %d of document %d is not one of its notes", refs.Corrective, orig)
		}
		if refs.CreditedInFull != 0 && listed[refs.CreditedInFull] != orig {
			bad("note %d, which credited document %d in full, is not one of its notes", refs.CreditedInFull, orig)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for n, orig := range originals {
		if listed[n] != orig && orig > pruned {
			bad("journal[%d]: a note of document %d that its references do not list", n, orig)
		}
	}
	return nil
}

package offsite

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/egsd/egsd/queue"
)

// ManifestFormat names the manifest layout; a reader refuses any other.
const ManifestFormat = "egsd-archive-day/1"

// ManifestName is the manifest's object name inside a day's folder.
const ManifestName = "manifest.json"

// DayLayout is how a day's folder is named: the UTC date of issue.
const DayLayout = "2006-01-02"

// Manifest describes one day's folder of a unit's archive: every document
// issued that day (UTC), the authority's answer to it once there is one,
// and the signed audit checkpoints made that day. Object names are
// relative to the day's folder.
type Manifest struct {
	Format   string `json:"format"`
	Seller   string `json:"seller"`
	Device   string `json:"device"`
	DeviceID string `json:"device_id"`
	Day      string `json:"day"`
	// FirstCounter and LastCounter are the lowest and highest counter of
	// the day's documents; ChainHead is the hash of the last one, which
	// the next day's first document continues.
	FirstCounter uint64      `json:"first_counter"`
	LastCounter  uint64      `json:"last_counter"`
	ChainHead    string      `json:"chain_head"`
	Documents    []Entry     `json:"documents"`
	Checkpoints  []Signature `json:"checkpoints"`
}

// Entry is one document in a manifest.
type Entry struct {
	Counter     uint64    `json:"counter"`
	UUID        string    `json:"uuid"`
	Regime      string    `json:"regime"`
	Kind        string    `json:"kind"`
	Number      string    `json:"number,omitempty"`
	IssuedAt    time.Time `json:"issued_at"`
	PrevHash    string    `json:"prev_hash"`
	Hash        string    `json:"hash"`
	ContentType string    `json:"content_type"`
	Object      Object    `json:"object"`
	// Answer is the authority's answer, once the document has one.
	Answer *AnswerEntry `json:"answer,omitempty"`
}

// AnswerEntry is the answer object of a document.
type AnswerEntry struct {
	Status string `json:"status"`
	Object Object `json:"object"`
}

// Signature is one signed audit checkpoint in a manifest.
type Signature struct {
	Seq    uint64 `json:"seq"`
	Object Object `json:"object"`
}

// Object is a stored object: its name in the day's folder, its SHA-256
// and size.
type Object struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
}

func objectOf(name string, data []byte) Object {
	return Object{Name: name, SHA256: sha256Hex(data), Size: len(data)}
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// AnswerObject is what a document's answer object holds: the record's
// outcome and the authority's answer bytes exactly as stored.
type AnswerObject struct {
	Counter         uint64    `json:"counter"`
	UUID            string    `json:"uuid"`
	Status          string    `json:"status"`
	AnsweredAt      time.Time `json:"answered_at"`
	AuthorityNumber uint64    `json:"authority_number,omitempty"`
	Messages        []string  `json:"messages,omitempty"`
	Answer          []byte    `json:"answer,omitempty"`
}

// DocumentName is the file name of a document, the same in an archive and
// in `egsd journal export`: the counter, the UUID and the extension of its
// content type.
func DocumentName(r *queue.Record) string {
	return fmt.Sprintf("%010d-%s%s", r.Counter, r.UUID, Extension(r.ContentType))
}

// Extension is the file extension for a document's content type.
func Extension(contentType string) string {
	switch {
	case strings.Contains(contentType, "xml"):
		return ".xml"
	case strings.Contains(contentType, "json"):
		return ".json"
	}
	return ".bin"
}

func documentObjectName(r *queue.Record) string { return "documents/" + DocumentName(r) }

func answerObjectName(r *queue.Record) string {
	return fmt.Sprintf("answers/%010d-%s.json", r.Counter, r.UUID)
}

func checkpointObjectName(seq uint64) string { return fmt.Sprintf("checkpoints/%012d.json", seq) }

// Day is the folder day of a moment: its UTC date.
func Day(t time.Time) string { return t.UTC().Format(DayLayout) }

// pathSegment is what a seller or device may be to name a folder.
var pathSegment = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckSegment checks that v can name a folder of the layout; what names
// the field in the error.
func CheckSegment(what, v string) error {
	if !pathSegment.MatchString(v) {
		return fmt.Errorf("%s %q cannot name an archive folder: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", what, v)
	}
	return nil
}

// CheckPrefix checks an archive prefix: empty, or folder names separated
// by '/', each a valid segment.
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	for seg := range strings.SplitSeq(prefix, "/") {
		if !pathSegment.MatchString(seg) {
			return fmt.Errorf("archive.prefix %q: each part between '/' must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (no leading or trailing '/')", prefix)
		}
	}
	return nil
}

// unitPrefix is the folder of one unit: prefix/seller/device.
func unitPrefix(prefix, seller, device string) string {
	return path.Join(prefix, seller, device)
}

// addDocument puts e into m in counter order, replacing an entry with the
// same counter (keeping its answer unless e has one). It reports whether m
// changed.
func (m *Manifest) addDocument(e Entry) bool {
	i, found := slices.BinarySearchFunc(m.Documents, e.Counter, func(x Entry, c uint64) int { return cmp.Compare(x.Counter, c) })
	if found {
		old := m.Documents[i]
		if e.Answer == nil {
			e.Answer = old.Answer
		}
		if entryEqual(old, e) {
			return false
		}
		m.Documents[i] = e
	} else {
		m.Documents = slices.Insert(m.Documents, i, e)
	}
	m.summarise()
	return true
}

// entry returns the manifest's entry for a counter.
func (m *Manifest) entry(counter uint64) (Entry, bool) {
	i, found := slices.BinarySearchFunc(m.Documents, counter, func(x Entry, c uint64) int { return cmp.Compare(x.Counter, c) })
	if !found {
		return Entry{}, false
	}
	return m.Documents[i], true
}

// checkpoint returns the manifest's entry for a checkpoint.
func (m *Manifest) checkpoint(seq uint64) Signature {
	i, found := slices.BinarySearchFunc(m.Checkpoints, seq, func(x Signature, q uint64) int { return cmp.Compare(x.Seq, q) })
	if !found {
		return Signature{}
	}
	return m.Checkpoints[i]
}

func (m *Manifest) addCheckpoint(s Signature) bool {
	i, found := slices.BinarySearchFunc(m.Checkpoints, s.Seq, func(x Signature, q uint64) int { return cmp.Compare(x.Seq, q) })
	if found {
		if m.Checkpoints[i] == s {
			return false
		}
		m.Checkpoints[i] = s
		return true
	}
	m.Checkpoints = slices.Insert(m.Checkpoints, i, s)
	return true
}

func (m *Manifest) summarise() {
	if len(m.Documents) == 0 {
		m.FirstCounter, m.LastCounter, m.ChainHead = 0, 0, ""
		return
	}
	first, last := m.Documents[0], m.Documents[len(m.Documents)-1]
	m.FirstCounter, m.LastCounter, m.ChainHead = first.Counter, last.Counter, last.Hash
}

func entryEqual(a, b Entry) bool {
	if (a.Answer == nil) != (b.Answer == nil) || (a.Answer != nil && *a.Answer != *b.Answer) {
		return false
	}
	a.Answer, b.Answer = nil, nil
	return a.Counter == b.Counter && a.UUID == b.UUID && a.Regime == b.Regime && a.Kind == b.Kind &&
		a.Number == b.Number && a.IssuedAt.Equal(b.IssuedAt) && a.PrevHash == b.PrevHash && a.Hash == b.Hash &&
		a.ContentType == b.ContentType && a.Object == b.Object
}

package cli

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/kz/archive"
)

// archiveDir is where an export keeps the signed archive records, beside
// the documents.
const archiveDir = "archive"

// exportArchive writes the archive records of the documents after since
// into dir/archive, one file per record (<counter>-<n>.xml) exactly as
// stored, with the public key of the unit's archive key. It returns the
// number of records and, when the key cannot be read, why (the records
// are written all the same).
func exportArchive(dir string, store *queue.Store, dataDir string, since uint64) (n int, keyProblem error, err error) {
	out := filepath.Join(dir, archiveDir)
	for next := since; ; {
		recs, more, err := store.ArchiveRecords(next, 1000)
		if err != nil {
			return n, nil, err
		}
		if n == 0 && len(recs) > 0 {
			if err := os.MkdirAll(out, 0o700); err != nil {
				return n, nil, err
			}
		}
		for _, r := range recs {
			// The bytes exactly as stored: any other form breaks the signature.
			if err := os.WriteFile(filepath.Join(out, archiveFileName(r.Counter, r.Seq)), r.XML, 0o600); err != nil {
				return n, nil, fmt.Errorf("archive record %d/%d: %w", r.Counter, r.Seq, err)
			}
			n++
		}
		if more == 0 {
			break
		}
		next = more
	}
	if n == 0 {
		return 0, nil, nil
	}
	pubFile := filepath.Join(out, archive.PublicKeyFile)
	key, err := keystore.Load(archive.KeyPath(dataDir))
	if err != nil {
		// A key left by an earlier export into the same directory is not
		// necessarily this unit's.
		if rerr := os.Remove(pubFile); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return n, nil, rerr
		}
		return n, err, nil
	}
	return n, nil, os.WriteFile(pubFile, archive.PublicKeyPEM(key.PublicKeyDER()), 0o600)
}

func archiveFileName(counter uint64, seq int) string {
	return fmt.Sprintf("%010d-%d.xml", counter, seq)
}

var (
	archiveFilePattern  = regexp.MustCompile(`^([0-9]{10,20})-([1-9][0-9]{0,8})\.xml$`)
	documentFilePattern = regexp.MustCompile(`^([0-9]{10,20})-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.[a-z]+$`)
)

// exportedDocument is a document file of an export.
type exportedDocument struct {
	uuid, path string
	dup        bool // more than one file has this counter
}

// recordCheck verifies archive records one after the other, in counter
// and sequence order, printing a line for each.
type recordCheck struct {
	io              IO
	pub             []byte
	last            uint64
	wantSeq         int
	checked, failed int
	recorded        map[uint64]bool
}

func newRecordCheck(io IO, pub []byte) *recordCheck {
	return &recordCheck{io: io, pub: pub, wantSeq: 1, recorded: map[uint64]bool{}}
}

func (c *recordCheck) fail(name, format string, args ...any) {
	c.checked++
	c.failed++
	fmt.Fprintf(c.io.Stdout, "FAIL %s %s\n", name, fmt.Sprintf(format, args...))
}

// check verifies record seq of document counter, named name: its
// signature, that no record of the document before it is missing, and
// that it belongs to the document document returns (its UUID and bytes).
func (c *recordCheck) check(name string, counter uint64, seq int, data []byte, document func() (uuid string, doc []byte, err error)) {
	c.recorded[counter] = true
	if counter != c.last {
		c.last, c.wantSeq = counter, 1
	}
	want := c.wantSeq
	c.wantSeq = seq + 1
	if seq != want {
		c.fail(name, "follows record %d of document %d: record %d is missing", want-1, counter, want)
		return
	}
	r, err := archive.Verify(data, c.pub)
	if err != nil {
		c.fail(name, "%v", err)
		return
	}
	uuid, doc, err := document()
	if err == nil {
		err = r.Matches(counter, uuid, doc)
	}
	if err != nil {
		c.fail(name, "%v", err)
		return
	}
	c.checked++
	fmt.Fprintf(c.io.Stdout, "OK %s document %d, shift %s document %s, total %s, %s\n", name, counter, r.Shift.Number, r.Shift.Document, r.Ticket.Amounts.Total, signs(r.Sign))
}

// readPublicKey reads the PEM public key records are checked with.
func readPublicKey(path string) ([]byte, error) {
	pemKey, err := readAtMost(path, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("the archive's public key: %w; give the unit's key with --key", err)
	}
	pub, err := archive.ParsePublicKeyPEM(pemKey)
	if err != nil {
		return nil, fmt.Errorf("the archive's public key %s: %w", path, err)
	}
	return pub, nil
}

// verifyExportRecords verifies every archive record of the export in dir: its
// signature with the public key at keyPath (default: the one in the
// export), that it belongs to the exported document its file name
// names (counter, UUID, bytes), and that each document's records run 1,
// 2, … with none missing. It prints a line per record and returns how
// many failed.
func verifyExportRecords(io IO, dir, keyPath string) (checked, failed int, err error) {
	adir := filepath.Join(dir, archiveDir)
	entries, err := os.ReadDir(adir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, usagef("%s has no %s directory: give a directory written by `egsd journal export` for a unit that keeps signed records", dir, archiveDir)
	}
	if err != nil {
		return 0, 0, err
	}
	if keyPath == "" {
		keyPath = filepath.Join(adir, archive.PublicKeyFile)
	}
	pub, err := readPublicKey(keyPath)
	if err != nil {
		return 0, 0, err
	}
	docs, err := exportedDocuments(dir)
	if err != nil {
		return 0, 0, err
	}
	c := newRecordCheck(io, pub)
	type recordFile struct {
		counter uint64
		seq     int
		path    string
	}
	var files []recordFile
	for _, e := range entries {
		path := filepath.Join(adir, e.Name())
		if e.Name() == archive.PublicKeyFile {
			continue
		}
		m := archiveFilePattern.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			c.fail(path, "is not an archive record (<counter>-<n>.xml)")
			continue
		}
		counter, err1 := strconv.ParseUint(m[1], 10, 64)
		seq, err2 := strconv.Atoi(m[2])
		if err := errors.Join(err1, err2); err != nil {
			c.fail(path, "%v", err)
			continue
		}
		files = append(files, recordFile{counter, seq, path})
	}
	slices.SortFunc(files, func(a, b recordFile) int {
		return cmp.Or(cmp.Compare(a.counter, b.counter), cmp.Compare(a.seq, b.seq))
	})
	for _, f := range files {
		data, err := readAtMost(f.path, queue.MaxArchiveRecord)
		if err != nil {
			c.fail(f.path, "%v", err)
			continue
		}
		c.check(f.path, f.counter, f.seq, data, func() (string, []byte, error) {
			d, ok := docs[f.counter]
			switch {
			case !ok:
				return "", nil, fmt.Errorf("document %d is not in the export", f.counter)
			case d.dup:
				return "", nil, fmt.Errorf("more than one file in the export is document %d", f.counter)
			}
			doc, err := readAtMost(d.path, maxExportedDocument)
			if err != nil {
				return "", nil, fmt.Errorf("document %s: %w", d.path, err)
			}
			return d.uuid, doc, nil
		})
	}
	if c.checked == 0 {
		return 0, 0, fmt.Errorf("%s holds no archive records", adir)
	}
	var without []uint64
	for counter := range docs {
		if !c.recorded[counter] {
			without = append(without, counter)
		}
	}
	noteWithout(io, without)
	fmt.Fprintf(io.Stdout, "checked with the public key %s (SHA-256 %s)\n", keyPath, archive.KeyName(pub))
	return c.checked, c.failed, nil
}

// noteWithout says which documents have no record, which is no fault: a
// ticket accepted online gets its record with the OFD's answer.
func noteWithout(io IO, counters []uint64) {
	if len(counters) == 0 {
		return
	}
	slices.Sort(counters)
	names := make([]string, len(counters))
	for i, c := range counters {
		names[i] = strconv.FormatUint(c, 10)
	}
	which := "documents"
	if len(names) == 1 {
		which = "document"
	}
	fmt.Fprintf(io.Stdout, "NOTE no archive record for %s %s: a ticket gets its record when it is issued autonomously or accepted by the OFD, a shift close none\n",
		which, strings.Join(names, ", "))
}

// verifyStoredArchive verifies the archive records in a stopped unit's
// store as verifyArchive does an export's, against the documents of its
// journal, with the public key at keyPath (default: that of the unit's
// archive key in dataDir).
func verifyStoredArchive(io IO, dataDir, keyPath string) (checked, failed int, err error) {
	var pub []byte
	if keyPath != "" {
		if pub, err = readPublicKey(keyPath); err != nil {
			return 0, 0, err
		}
	} else {
		key, err := keystore.Load(archive.KeyPath(dataDir))
		if err != nil {
			return 0, 0, fmt.Errorf("%w; give the unit's public key with --key", err)
		}
		keyPath, pub = archive.KeyPath(dataDir), key.PublicKeyDER()
	}
	store, err := queue.Open(dataDir, &queue.Options{MustExist: true})
	if errors.Is(err, queue.ErrLocked) {
		return 0, 0, fmt.Errorf("%w; stop the agent to verify its store, or verify an export (`egsd journal export`)", err)
	}
	if err != nil {
		return 0, 0, err
	}
	defer store.Close()
	c := newRecordCheck(io, pub)
	for since := uint64(0); ; {
		recs, next, err := store.ArchiveRecords(since, 1000)
		if err != nil {
			return c.checked, c.failed, err
		}
		for _, r := range recs {
			c.check(fmt.Sprintf("record %d/%d", r.Counter, r.Seq), r.Counter, r.Seq, r.XML, func() (string, []byte, error) {
				d, err := store.Document(r.Counter)
				if err != nil {
					return "", nil, fmt.Errorf("document %d: %w", r.Counter, err)
				}
				return d.UUID, d.Document, nil
			})
		}
		if next == 0 {
			break
		}
		since = next
	}
	if c.checked == 0 {
		return 0, 0, fmt.Errorf("the store in %s holds no archive records", dataDir)
	}
	fmt.Fprintf(io.Stdout, "checked with the public key of %s (SHA-256 %s)\n", keyPath, archive.KeyName(pub))
	return c.checked, c.failed, nil
}

// maxExportedDocument bounds what verify reads of an exported document: a
// Kazakh ticket is at most a 1 MiB frame.
const maxExportedDocument = 16 << 20

// readAtMost reads the file at path, refusing one larger than limit, so
// that a file planted in an export cannot make verify read without end.
func readAtMost(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("the file is larger than the %d bytes it may have", limit)
	}
	return data, nil
}

// exportedDocuments indexes the document files of an export by counter.
func exportedDocuments(dir string) (map[uint64]exportedDocument, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	docs := map[uint64]exportedDocument{}
	for _, e := range entries {
		m := documentFilePattern.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		counter, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		_, seen := docs[counter]
		docs[counter] = exportedDocument{uuid: m[2], path: filepath.Join(dir, e.Name()), dup: seen}
	}
	return docs, nil
}

func signs(s archive.SignXML) string {
	var out []string
	if s.Autonomous != "" {
		out = append(out, "autonomous sign "+s.Autonomous)
	}
	if s.OFD != "" {
		out = append(out, "fiscal sign "+s.OFD)
	}
	return strings.Join(out, ", ")
}

// isJournalExport tells an `egsd journal export` directory with signed
// archive records (archive/ and its public key) from a downloaded copy of
// the object-store archive.
func isJournalExport(dir string) bool {
	for _, name := range []string{archiveDir, archive.PublicKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

package cli

import (
	"cmp"
	"errors"
	"fmt"
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
	key, err := keystore.Load(archive.KeyPath(dataDir))
	if err != nil {
		return n, err, nil
	}
	return n, nil, os.WriteFile(filepath.Join(out, archive.PublicKeyFile), archive.PublicKeyPEM(key.PublicKeyDER()), 0o600)
}

func archiveFileName(counter uint64, seq int) string {
	return fmt.Sprintf("%010d-%d.xml", counter, seq)
}

var (
	archiveFilePattern  = regexp.MustCompile(`^([0-9]{10})-([1-9][0-9]*)\.xml$`)
	documentFilePattern = regexp.MustCompile(`^([0-9]{10})-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.[a-z]+$`)
)

// exportedDocument is a document file of an export.
type exportedDocument struct {
	uuid, path string
	dup        bool // more than one file has this counter
}

// verifyArchive verifies every archive record of the export in dir: its
// signature with the public key at keyPath (default: the one in the
// export), that it belongs to the exported document its file name
// names (counter, UUID, bytes), and that each document's records run 1,
// 2, … with none missing. It prints a line per record and returns how
// many failed.
func verifyArchive(io IO, dir, keyPath string) (checked, failed int, err error) {
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
	pemKey, err := os.ReadFile(keyPath)
	if err != nil {
		return 0, 0, fmt.Errorf("the archive's public key: %w; give the unit's key with --key", err)
	}
	pub, err := archive.ParsePublicKeyPEM(pemKey)
	if err != nil {
		return 0, 0, fmt.Errorf("the archive's public key %s: %w", keyPath, err)
	}
	docs, err := exportedDocuments(dir)
	if err != nil {
		return 0, 0, err
	}
	fail := func(path string, format string, args ...any) {
		failed++
		fmt.Fprintf(io.Stdout, "FAIL %s %s\n", path, fmt.Sprintf(format, args...))
	}
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
			checked++
			fail(path, "is not an archive record (<counter>-<n>.xml)")
			continue
		}
		counter, err1 := strconv.ParseUint(m[1], 10, 64)
		seq, err2 := strconv.Atoi(m[2])
		if err := errors.Join(err1, err2); err != nil {
			checked++
			fail(path, "%v", err)
			continue
		}
		files = append(files, recordFile{counter, seq, path})
	}
	slices.SortFunc(files, func(a, b recordFile) int {
		return cmp.Or(cmp.Compare(a.counter, b.counter), cmp.Compare(a.seq, b.seq))
	})
	var last uint64
	wantSeq := 1
	recorded := map[uint64]bool{}
	for _, f := range files {
		recorded[f.counter] = true
		checked++
		if f.counter != last {
			last, wantSeq = f.counter, 1
		}
		if f.seq != wantSeq {
			fail(f.path, "follows record %d of document %d: record %d is missing", wantSeq-1, f.counter, wantSeq)
		}
		wantSeq = f.seq + 1
		data, err := os.ReadFile(f.path)
		if err != nil {
			fail(f.path, "%v", err)
			continue
		}
		r, err := archive.Verify(data, pub)
		if err != nil {
			fail(f.path, "%v", err)
			continue
		}
		d, ok := docs[f.counter]
		switch {
		case !ok:
			fail(f.path, "document %d is not in the export", f.counter)
			continue
		case d.dup:
			fail(f.path, "more than one file in the export is document %d", f.counter)
			continue
		}
		doc, err := os.ReadFile(d.path)
		if err != nil {
			fail(f.path, "%v", err)
			continue
		}
		if err := r.Matches(f.counter, d.uuid, doc); err != nil {
			fail(f.path, "%v", err)
			continue
		}
		fmt.Fprintf(io.Stdout, "OK %s document %d, shift %s document %s, total %s, %s\n", f.path, f.counter, r.Shift.Number, r.Shift.Document, r.Ticket.Amounts.Total, signs(r.Sign))
	}
	if checked == 0 {
		return 0, 0, fmt.Errorf("%s holds no archive records", adir)
	}
	var without []uint64
	for c := range docs {
		if !recorded[c] {
			without = append(without, c)
		}
	}
	if len(without) > 0 {
		slices.Sort(without)
		names := make([]string, len(without))
		for i, c := range without {
			names[i] = strconv.FormatUint(c, 10)
		}
		which := "documents"
		if len(names) == 1 {
			which = "document"
		}
		fmt.Fprintf(io.Stdout, "NOTE no archive record for %s %s: a ticket gets its record when it is issued autonomously or accepted by the OFD\n",
			which, strings.Join(names, ", "))
	}
	fmt.Fprintf(io.Stdout, "checked with the public key %s (SHA-256 %s)\n", keyPath, archive.KeyName(pub))
	return checked, failed, nil
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

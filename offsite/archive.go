package offsite

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/egsd/egsd/queue"
)

// ArchivedUnit is one unit's folder of a downloaded archive, read and
// checked against its manifests.
type ArchivedUnit struct {
	Dir                      string
	Seller, Device, DeviceID string
	Days                     []string
	// Documents are the documents' files in counter order, First to Last,
	// and Regimes the regime each was issued under.
	Documents   []string
	Regimes     []string
	First, Last uint64
	Answers     int
	Checkpoints []queue.AuditCheckpoint
}

// ReadArchive finds the units in a directory copy of an archive (the
// bucket, its prefix, or one unit's folder) and checks each against its
// day manifests: every listed object present with its SHA-256 and size,
// every counter from the first to the last exactly once, each document's
// previous hash the hash of the one before, and each checkpoint the one
// listed. It returns the units read and every problem found.
func ReadArchive(root string) ([]ArchivedUnit, error) {
	byUnit := map[string][]string{} // unit folder → its days' folders
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || e.Name() != ManifestName {
			return nil
		}
		dayDir := filepath.Dir(p)
		if _, err := time.Parse(DayLayout, filepath.Base(dayDir)); err != nil {
			return nil
		}
		unit := filepath.Dir(dayDir)
		byUnit[unit] = append(byUnit[unit], dayDir)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(byUnit) == 0 {
		return nil, fmt.Errorf("%s holds no archive: no <yyyy-mm-dd>/%s below it", root, ManifestName)
	}
	var units []ArchivedUnit
	var problems []error
	for _, dir := range slices.Sorted(maps.Keys(byUnit)) {
		u, err := readUnit(dir, byUnit[dir])
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", dir, err))
		}
		units = append(units, u)
	}
	return units, errors.Join(problems...)
}

type placedEntry struct {
	Entry
	path string
}

func readUnit(dir string, dayDirs []string) (ArchivedUnit, error) {
	u := ArchivedUnit{Dir: dir}
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	var entries []placedEntry
	slices.Sort(dayDirs)
	for _, dayDir := range dayDirs {
		data, err := os.ReadFile(filepath.Join(dayDir, ManifestName))
		if err != nil {
			bad("%v", err)
			continue
		}
		var m Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			bad("%s: %v", filepath.Join(dayDir, ManifestName), err)
			continue
		}
		name := filepath.Base(dayDir)
		switch {
		case m.Format != ManifestFormat:
			bad("%s: format %q, want %q", name, m.Format, ManifestFormat)
			continue
		case m.Day != name:
			bad("%s: the manifest is of day %q", name, m.Day)
		}
		if u.DeviceID == "" {
			u.Seller, u.Device, u.DeviceID = m.Seller, m.Device, m.DeviceID
		} else if m.DeviceID != u.DeviceID || m.Seller != u.Seller || m.Device != u.Device {
			bad("%s: the manifest is of seller %s device %s (id %s), the folder's other days of seller %s device %s (id %s)",
				name, m.Seller, m.Device, m.DeviceID, u.Seller, u.Device, u.DeviceID)
		}
		u.Days = append(u.Days, name)
		checkSummary(name, m, bad)
		for _, e := range m.Documents {
			if Day(e.IssuedAt) != name {
				bad("%s: document %d was issued on %s", name, e.Counter, Day(e.IssuedAt))
			}
			if _, err := checkObject(dayDir, e.Object); err != nil {
				bad("%s: document %d: %v", name, e.Counter, err)
			}
			if e.Answer != nil {
				data, err := checkObject(dayDir, e.Answer.Object)
				var ao AnswerObject
				switch {
				case err != nil:
					bad("%s: answer to document %d: %v", name, e.Counter, err)
				case json.Unmarshal(data, &ao) != nil || ao.Counter != e.Counter || ao.UUID != e.UUID || ao.Status != e.Answer.Status:
					bad("%s: answer to document %d: %s is not that document's answer", name, e.Counter, e.Answer.Object.Name)
				default:
					u.Answers++
				}
			}
			entries = append(entries, placedEntry{e, filepath.Join(dayDir, filepath.FromSlash(e.Object.Name))})
		}
		for _, s := range m.Checkpoints {
			data, err := checkObject(dayDir, s.Object)
			if err != nil {
				bad("%s: checkpoint %d: %v", name, s.Seq, err)
				continue
			}
			var cp queue.AuditCheckpoint
			if err := json.Unmarshal(data, &cp); err != nil || cp.Seq != s.Seq || cp.DeviceID != m.DeviceID {
				bad("%s: checkpoint %d: %s is not this unit's checkpoint %d", name, s.Seq, s.Object.Name, s.Seq)
				continue
			}
			u.Checkpoints = append(u.Checkpoints, cp)
		}
	}
	slices.SortFunc(entries, func(a, b placedEntry) int { return cmp.Compare(a.Counter, b.Counter) })
	slices.SortFunc(u.Checkpoints, func(a, b queue.AuditCheckpoint) int { return cmp.Compare(a.Seq, b.Seq) })
	for i, e := range entries {
		if i == 0 {
			u.First = e.Counter
		} else {
			prev := entries[i-1]
			switch {
			case e.Counter == prev.Counter:
				bad("document %d is listed twice", e.Counter)
				continue
			case e.Counter != prev.Counter+1:
				bad("documents %d to %d are missing", prev.Counter+1, e.Counter-1)
			case e.PrevHash != prev.Hash:
				bad("document %d does not continue the chain: its previous hash %s, the hash of %d %s", e.Counter, e.PrevHash, prev.Counter, prev.Hash)
			}
		}
		u.Last = e.Counter
		u.Documents = append(u.Documents, e.path)
		u.Regimes = append(u.Regimes, e.Regime)
	}
	return u, errors.Join(problems...)
}

// checkSummary checks a manifest's first and last counter and chain head
// against its entries.
func checkSummary(name string, m Manifest, bad func(string, ...any)) {
	if len(m.Documents) == 0 {
		if m.FirstCounter != 0 || m.LastCounter != 0 || m.ChainHead != "" {
			bad("%s: the manifest lists no documents but counters %d–%d", name, m.FirstCounter, m.LastCounter)
		}
		return
	}
	if !slices.IsSortedFunc(m.Documents, func(a, b Entry) int { return cmp.Compare(a.Counter, b.Counter) }) {
		bad("%s: the manifest's documents are not in counter order", name)
	}
	first, last := m.Documents[0], m.Documents[len(m.Documents)-1]
	if m.FirstCounter != first.Counter || m.LastCounter != last.Counter || m.ChainHead != last.Hash {
		bad("%s: the manifest says counters %d–%d with chain head %s; its documents are %d–%d ending with %s",
			name, m.FirstCounter, m.LastCounter, m.ChainHead, first.Counter, last.Counter, last.Hash)
	}
}

// checkObject reads an object listed in a manifest and checks its size
// and SHA-256.
func checkObject(dayDir string, o Object) ([]byte, error) {
	if !filepath.IsLocal(filepath.FromSlash(o.Name)) {
		return nil, fmt.Errorf("object name %q leaves the day's folder", o.Name)
	}
	data, err := os.ReadFile(filepath.Join(dayDir, filepath.FromSlash(o.Name)))
	if err != nil {
		return nil, err
	}
	if len(data) != o.Size || sha256Hex(data) != o.SHA256 {
		return nil, fmt.Errorf("%s has changed: %d bytes with SHA-256 %s, the manifest says %d bytes with %s", o.Name, len(data), sha256Hex(data), o.Size, o.SHA256)
	}
	return data, nil
}

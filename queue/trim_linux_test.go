package queue

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rssFileKB reads this process's file-backed resident set.
func rssFileKB(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("kernel reports no RssFile")
	return 0
}

// TestTrimMappingDropsResidentPages reads a few megabytes of journal
// through bbolt's memory map, trims it, and requires the file-backed
// resident set to fall by most of that while every document stays intact.
func TestTrimMappingDropsResidentPages(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, &Options{NoSync: true, TrimInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := []byte(strings.Repeat("x", 2000))
	const n = 4000
	for i := 1; i <= n; i++ {
		_, err := s.Issue(context.Background(), &IssueRequest{
			User: "u", IdempotencyKey: fmt.Sprint(i), UUID: fmt.Sprintf("uuid-%d", i), Regime: "r", GenesisHash: "g",
			Stamp: func(slot Slot) (Stamped, error) {
				doc := append([]byte(fmt.Sprint(slot.Counter)), body...)
				sum := sha256.Sum256(doc)
				return Stamped{Bytes: doc, Hash: base64.StdEncoding.EncodeToString(sum[:])}, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	readAll := func() {
		for since := uint64(0); ; {
			recs, next, err := s.Documents(since, 1000, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if !strings.HasPrefix(string(r.Document), fmt.Sprint(r.Counter)) {
					t.Fatalf("document %d reads back as %.20q", r.Counter, r.Document)
				}
			}
			if next == 0 {
				return
			}
			since = next
		}
	}
	readAll()
	before := rssFileKB(t)
	if err := s.trimMapping(); err != nil {
		t.Fatal(err)
	}
	after := rssFileKB(t)
	dataKB := n * len(body) / 1024
	if before-after < dataKB/2 {
		t.Errorf("trim freed %d kB of file-backed RSS (%d → %d); the journal holds %d kB of documents in a %d kB file",
			before-after, before, after, dataKB, fi.Size()/1024)
	}
	readAll() // the pages fault back in from the page cache
	if _, err := s.Check(CheckOptions{}); err != nil {
		t.Fatal(err)
	}
}

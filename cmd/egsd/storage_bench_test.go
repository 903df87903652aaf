//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkStoredBytesZATCA issues a mix of real ZATCA documents
// (simplified and standard invoices, credit and debit notes) through a
// unit whose simulator answers them (standard ones come back cleared, with
// the cleared XML in the answer), then measures what the journal holds per
// document: the bytes the documents and answers have, and the store file
// after compaction divided by the documents. Run with
// go test -run '^$' -bench StoredBytesZATCA -benchtime 1x ./cmd/egsd/
var storedDocs = flag.Int("stored.docs", 1000, "documents of BenchmarkStoredBytesZATCA")

func BenchmarkStoredBytesZATCA(b *testing.B) {
	for b.Loop() {
		u := newZATCAUnit(b, nil)
		u.issue(0, *storedDocs)
		u.drained(5 * time.Minute)
		logical := 0
		for since := uint64(0); ; {
			recs, next, err := u.a.Store().Documents(since, 1000, nil)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range recs {
				logical += len(r.Document) + len(r.Answer)
				since = r.Counter
			}
			if next == 0 && len(recs) < 1000 {
				break
			}
		}
		compacted := compactedSize(b, u.a.Store())
		b.ReportMetric(float64(logical)/float64(*storedDocs), "doc+answer-B/doc")
		b.ReportMetric(float64(compacted)/float64(*storedDocs), "pages-B/doc")
	}
}

// compactedSize copies the open store and compacts the copy with bbolt:
// the bytes its pages take without free ones (the file itself grows in
// steps of bbolt's allocation size).
func compactedSize(b *testing.B, s *queue.Store) int64 {
	b.Helper()
	dir := b.TempDir()
	f, err := os.Create(filepath.Join(dir, "copy.db"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.CopyTo(f); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return pagesAfterCompact(b, filepath.Join(dir, "copy.db"))
}

// pagesAfterCompact compacts the bbolt file at path into a new one and
// returns the size of the new one's pages.
func pagesAfterCompact(b *testing.B, path string) int64 {
	b.Helper()
	src, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := bolt.Open(path+".compact", 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer dst.Close()
	if err := bolt.Compact(dst, src, 64<<20); err != nil {
		b.Fatal(err)
	}
	var size int64
	if err := dst.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil }); err != nil {
		b.Fatal(err)
	}
	return size
}

// BenchmarkGrowth fills a store with a million documents shaped like real
// ZATCA ones (taken from a unit, with counter, UUID and previous hash
// changed per document, and their answers) and compares the latency of
// issuing a document, with a real fsync per commit, on the empty store and
// on the full one: p50 and p99 of single issues one after another, and of
// eight concurrent issuers (group commit). The file size is reported
// before and after compaction. It takes several minutes and some GB of
// disk; run it with make growth, or
// go test -run '^$' -bench Growth -benchtime 1x -timeout 2h ./cmd/egsd/
// (-growth.docs sets the size; -growth.dir keeps the store in a chosen
// directory).
var (
	growthDocs = flag.Int("growth.docs", 1_000_000, "documents BenchmarkGrowth fills the store with")
	growthDir  = flag.String("growth.dir", "", "directory for BenchmarkGrowth's store (default: a temporary one)")
)

func BenchmarkGrowth(b *testing.B) {
	for b.Loop() {
		templates := zatcaTemplates(b, 40)
		dir := *growthDir
		if dir == "" {
			dir = b.TempDir()
		} else if err := os.RemoveAll(filepath.Join(dir, queue.FileName)); err != nil {
			b.Fatal(err)
		}
		var seq atomic.Uint64
		empty := issueLatencies(b, dir, templates, &seq)
		start := time.Now()
		fillStore(b, dir, templates, *growthDocs, &seq)
		fill := time.Since(start)
		size := fileSize(b, filepath.Join(dir, queue.FileName))
		full := issueLatencies(b, dir, templates, &seq)
		compactStart := time.Now()
		rep, err := queue.Compact(dir, queue.CompactOptions{})
		if err != nil {
			b.Fatal(err)
		}
		docs := float64(rep.Check.Documents)
		b.Logf("filled %d documents in %s (%.0f docs/s); file %.1f MB (%.0f B/doc), compacted in %s to %.1f MB (%.0f B/doc)",
			*growthDocs, fill.Round(time.Second), float64(*growthDocs)/fill.Seconds(), float64(size)/(1<<20), float64(size)/docs,
			time.Since(compactStart).Round(time.Second), float64(rep.After)/(1<<20), float64(rep.After)/docs)
		for _, l := range []struct {
			name string
			lat  latencies
		}{{"empty", empty}, {"full", full}} {
			b.Logf("%s store: one issuer p50 %s p99 %s; eight issuers p50 %s p99 %s", l.name,
				l.lat.single.p(50), l.lat.single.p(99), l.lat.group.p(50), l.lat.group.p(99))
		}
		b.ReportMetric(float64(size)/(1<<20), "file-MB")
		b.ReportMetric(float64(rep.After)/(1<<20), "compacted-MB")
		b.ReportMetric(float64(rep.After)/docs, "compacted-B/doc")
		b.ReportMetric(float64(empty.single.p(99).Microseconds())/1000, "empty-p99-ms")
		b.ReportMetric(float64(full.single.p(99).Microseconds())/1000, "full-p99-ms")
		b.ReportMetric(float64(empty.group.p(99).Microseconds())/1000, "empty-group-p99-ms")
		b.ReportMetric(float64(full.group.p(99).Microseconds())/1000, "full-group-p99-ms")
	}
}

// template is a real document and the answer the simulator gave it.
type template struct {
	doc, answer []byte
	uuid, pih   []byte
	icv         []byte
}

// zatcaTemplates issues n documents of the unit tests' mix through a ZATCA
// unit and its simulator and returns them with their answers.
func zatcaTemplates(b *testing.B, n int) []template {
	b.Helper()
	u := newZATCAUnit(b, nil)
	u.issue(0, n)
	u.drained(time.Minute)
	recs, _, err := u.a.Store().Documents(0, n, nil)
	if err != nil {
		b.Fatal(err)
	}
	var out []template
	for _, r := range recs {
		out = append(out, template{doc: r.Document, answer: r.Answer, uuid: []byte(r.UUID), pih: []byte(r.PrevHash),
			icv: fmt.Appendf(nil, "<cbc:UUID>%d</cbc:UUID>", r.Counter)})
	}
	return out
}

// stamp makes the template into the document of slot: its UUID, previous
// hash and counter replaced, hashed with SHA-256 (the growth test measures
// the store, not the signature).
func (t template) stamp(slot queue.Slot) (queue.Stamped, error) {
	doc := bytes.Replace(t.doc, t.uuid, []byte(slot.UUID), -1)
	doc = bytes.Replace(doc, t.pih, []byte(slot.PrevHash), -1)
	doc = bytes.Replace(doc, t.icv, fmt.Appendf(nil, "<cbc:UUID>%d</cbc:UUID>", slot.Counter), 1)
	sum := sha256.Sum256(doc)
	return queue.Stamped{Bytes: doc, ContentType: "application/xml", Hash: base64.StdEncoding.EncodeToString(sum[:])}, nil
}

func growthRequest(templates []template, seq *atomic.Uint64) (*queue.IssueRequest, template) {
	n := seq.Add(1)
	t := templates[n%uint64(len(templates))]
	return &queue.IssueRequest{
		User: "cashier", IdempotencyKey: fmt.Sprint("g", n), Regime: "zatca", Kind: "invoice", Submit: true,
		UUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), GenesisHash: "NWZlY2ViNjZmZmM4NmYzOGQ5NTI3ODZjNmQ2OTZjNzljMmRiYzIzOWRkNGU5MWI0NjcyOWQ3M2EyN2ZiNTdlOQ==",
		Stamp: t.stamp,
	}, t
}

// fillStore issues n documents and their answers in large groups, without
// fsync: the fill is set-up, not what is measured.
func fillStore(b *testing.B, dir string, templates []template, n int, seq *atomic.Uint64) {
	b.Helper()
	s, err := queue.Open(dir, &queue.Options{NoSync: true, MaxBatch: 2048, TrimInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	for range 256 {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				req, t := growthRequest(templates, seq)
				res, err := s.Issue(context.Background(), req)
				if err != nil {
					b.Error(err)
					return
				}
				if err := s.RecordAnswer(res.Record.Counter, queue.Answer{Status: queue.StatusAccepted, Body: t.answer, At: time.Now()}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

type durations []time.Duration

func (d durations) p(pct int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*pct/100]
}

type latencies struct{ single, group durations }

// issueLatencies opens the store with fsync and times 1,000 issues one
// after another, then 2,000 by eight concurrent issuers, each document
// answered after it is timed.
func issueLatencies(b *testing.B, dir string, templates []template, seq *atomic.Uint64) latencies {
	b.Helper()
	s, err := queue.Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var l latencies
	// Each document is answered as the authority would, after its issue
	// is timed: a store whose documents are never answered is not a
	// unit's (its compression dictionary, for one, would hold no answer).
	issue := func() (time.Duration, error) {
		req, t := growthRequest(templates, seq)
		start := time.Now()
		res, err := s.Issue(context.Background(), req)
		took := time.Since(start)
		if err != nil {
			return took, err
		}
		return took, s.RecordAnswer(res.Record.Counter, queue.Answer{Status: queue.StatusAccepted, Body: t.answer, At: time.Now()})
	}
	for range 1000 {
		d, err := issue()
		if err != nil {
			b.Fatal(err)
		}
		l.single = append(l.single, d)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 250 {
				d, err := issue()
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				l.group = append(l.group, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return l
}

func fileSize(b *testing.B, path string) int64 {
	b.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

package queue

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/klauspost/compress/zstd"
	bolt "go.etcd.io/bbolt"
)

// Stored values that can be large — a document's frozen bytes and the
// authority's answer — are packed: one format byte, then the bytes in that
// format. Readers get the bytes back exactly as given; the store's check
// proves it by rehashing what it unpacks.
//
// A journal record says whether its document value is packed
// (storedRecord.Packed): documents stored before packing keep their raw
// bytes and are read as they are. Answers moved into their own bucket with
// packing, so every value there is packed; an older record still carries its
// answer inline in its JSON.
const (
	formatRaw  byte = 0 // the bytes follow as they are (packing would not shrink them)
	formatZstd byte = 1 // one zstd frame, with its checksum
	// formatDict: the key of a dictionary in bucketDictionaries (8 bytes),
	// then one zstd frame made with it, with its checksum.
	formatDict byte = 2
)

// A unit's documents repeat each other: the same seller, certificate,
// namespaces and layout, and the authority answers them alike. Compressed
// alone, a 13 KB ZATCA invoice keeps 3.6 KB; compressed against an earlier
// document of the same unit, about 0.6 KB. So once the journal holds
// dictionaryFrom documents, the store makes a dictionary of its latest
// documents and their answers (raw zstd content, at most dictionaryMax
// bytes; see makeDictionary), keeps it for good, and packs later values
// against it. The dictionary is
// made from the store's own bytes by a fixed rule, and Check proves every
// value that uses it unpacks to the bytes that were hashed.
var bucketDictionaries = []byte("pack_dictionaries") // sequence → dictionary content, never changed

const (
	dictionaryFrom     = 32
	dictionaryLatest   = 1024
	dictionaryScan     = 64
	dictionaryDocs     = 8
	dictionaryAnswered = 4
	dictionaryMax      = 64 << 10
)

// maxUnpacked bounds what one stored value may unpack to, so that a value
// damaged on disk cannot make a reader allocate without bound. A document
// or answer is a few tens of kilobytes; the bound leaves room for the
// largest an authority allows.
const maxUnpacked = 64 << 20

var (
	codecOnce sync.Once
	encoder   *zstd.Encoder
	decoder   *zstd.Decoder
	codecErr  error
)

// codec returns the shared encoder and decoder. Both are safe for
// concurrent EncodeAll/DecodeAll calls and keep their buffers between
// calls, so a value costs no allocation of tables.
func codec() (*zstd.Encoder, *zstd.Decoder, error) {
	codecOnce.Do(func() {
		encoder, codecErr = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderCRC(true),
			zstd.WithZeroFrames(true),
			// A value is small: a window larger than it only costs memory.
			zstd.WithWindowSize(1<<20),
			zstd.WithEncoderConcurrency(2))
		if codecErr != nil {
			return
		}
		decoder, codecErr = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(2),
			zstd.WithDecoderMaxMemory(maxUnpacked),
			zstd.WithDecoderMaxWindow(8<<20))
	})
	return encoder, decoder, codecErr
}

// pack returns b in the stored form: zstd when that is smaller, else raw.
func pack(b []byte) ([]byte, error) {
	enc, _, err := codec()
	if err != nil {
		return nil, err
	}
	return packWith(enc, []byte{formatZstd}, b), nil
}

// packWith appends enc's frame of b to head, or returns b raw when that is
// not smaller.
func packWith(enc *zstd.Encoder, head, b []byte) []byte {
	out := make([]byte, len(head), len(head)+len(b)/3+64)
	copy(out, head)
	out = enc.EncodeAll(b, out)
	if len(out) >= len(b)+1 {
		out = append(append(out[:0], formatRaw), b...)
	}
	return out
}

// packIn packs b for a write in tx: against the store's dictionary when it
// has one.
func packIn(tx *bolt.Tx, b []byte) ([]byte, error) {
	k, content := tx.Bucket(bucketDictionaries).Cursor().Last()
	if k == nil {
		return pack(b)
	}
	dc, err := dictionaryCodec(content)
	if err != nil {
		return nil, err
	}
	return packWith(dc.enc, append([]byte{formatDict}, k...), b), nil
}

// errPacked says a stored value cannot be unpacked.
var errPacked = errors.New("stored value is damaged")

// unpack returns the bytes a packed value v holds, as a new slice (v may be
// bbolt's memory, valid only in its transaction).
func unpack(tx *bolt.Tx, v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: empty", errPacked)
	}
	var dec *zstd.Decoder
	switch v[0] {
	case formatRaw:
		return append([]byte(nil), v[1:]...), nil
	case formatZstd:
		_, d, err := codec()
		if err != nil {
			return nil, err
		}
		dec, v = d, v[1:]
	case formatDict:
		if len(v) < 9 {
			return nil, fmt.Errorf("%w: truncated", errPacked)
		}
		content := tx.Bucket(bucketDictionaries).Get(v[1:9])
		if content == nil {
			return nil, fmt.Errorf("%w: its dictionary %x is missing", errPacked, v[1:9])
		}
		dc, err := dictionaryCodec(content)
		if err != nil {
			return nil, err
		}
		dec, v = dc.dec, v[9:]
	default:
		return nil, fmt.Errorf("%w: unknown format %d", errPacked, v[0])
	}
	b, err := dec.DecodeAll(v, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errPacked, err)
	}
	return b, nil
}

// dictCodec is an encoder and a decoder for one dictionary.
type dictCodec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

// dictionaryCodecs caches codecs by a checksum of their dictionary's
// content, so that a value costs a checksum of the dictionary rather than
// the set-up of its tables. A codec found for another content with the
// same checksum would fail the frame's own checksum, never return other
// bytes. The cache is small: a unit has one dictionary.
var dictionaryCodecs struct {
	sync.Mutex
	byKey map[uint64]*dictCodec
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func dictionaryCodec(content []byte) (*dictCodec, error) {
	key := uint64(crc32.Checksum(content, castagnoli))<<32 | uint64(len(content))
	dictionaryCodecs.Lock()
	defer dictionaryCodecs.Unlock()
	if dc := dictionaryCodecs.byKey[key]; dc != nil {
		return dc, nil
	}
	// The content is bbolt's memory: the codec keeps its own copy.
	content = bytes.Clone(content)
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true), zstd.WithWindowSize(1<<20), zstd.WithEncoderConcurrency(2),
		zstd.WithEncoderDictRaw(1, content))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxMemory(maxUnpacked),
		zstd.WithDecoderMaxWindow(8<<20), zstd.WithDecoderDictRaw(1, content))
	if err != nil {
		return nil, err
	}
	if dictionaryCodecs.byKey == nil || len(dictionaryCodecs.byKey) >= 8 {
		dictionaryCodecs.byKey = map[uint64]*dictCodec{}
	}
	dc := &dictCodec{enc: enc, dec: dec}
	dictionaryCodecs.byKey[key] = dc
	return dc, nil
}

// makeDictionary makes the store's dictionary, if it has none, when
// document counter is about to be stored or the answer to counter-1 has
// just been: from the latest documents before counter that have their answer (at most dictionaryDocs of them within
// dictionaryScan documents back, and dictionaryMax bytes), so that answers
// pack as well as documents. While fewer than dictionaryAnswered have one
// (the authority has not answered yet, an outage at the start) it waits,
// until document dictionaryLatest, from which it takes documents alone.
func makeDictionary(tx *bolt.Tx, counter uint64) error {
	b := tx.Bucket(bucketDictionaries)
	if counter < dictionaryFrom {
		return nil
	}
	if k, _ := b.Cursor().First(); k != nil {
		return nil
	}
	answers := tx.Bucket(bucketAnswers)
	var picked []uint64
	for c := counter - 1; c > 0 && c+dictionaryScan >= counter && len(picked) < dictionaryDocs; c-- {
		if answers.Get(u64(c)) != nil {
			picked = append(picked, c)
		}
	}
	if len(picked) < dictionaryAnswered {
		if counter < dictionaryLatest {
			return nil
		}
		picked = picked[:0]
		for c := counter - 1; c > 0 && len(picked) < dictionaryDocs; c-- {
			picked = append(picked, c)
		}
	}
	var content []byte
	for _, c := range picked {
		if len(content) >= dictionaryMax {
			break
		}
		r, err := getRecord(tx, c)
		if errors.Is(err, ErrNotFound) {
			continue // pruned
		}
		if err != nil {
			return fmt.Errorf("dictionary from document %d: %w", c, err)
		}
		content = append(append(content, r.Document...), r.Answer...)
	}
	if len(content) == 0 {
		return nil
	}
	return b.Put(u64(1), content[:min(len(content), dictionaryMax)])
}

// migratePacking prepares a store for packed values: the answers bucket is
// created with the others at open, and values stored before stay as they
// are (a record without Packed is read raw), so nothing is rewritten.
func migratePacking(*bolt.Tx) error { return nil }

package queue

import (
	"errors"
	"fmt"
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
	out := make([]byte, 1, len(b)/3+64)
	out[0] = formatZstd
	out = enc.EncodeAll(b, out)
	if len(out) >= len(b)+1 {
		out = append(append(out[:0], formatRaw), b...)
	}
	return out, nil
}

// errPacked says a stored value cannot be unpacked.
var errPacked = errors.New("stored value is damaged")

// unpack returns the bytes a packed value v holds, as a new slice (v may be
// bbolt's memory, valid only in its transaction).
func unpack(v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: empty", errPacked)
	}
	switch v[0] {
	case formatRaw:
		return append([]byte(nil), v[1:]...), nil
	case formatZstd:
		_, dec, err := codec()
		if err != nil {
			return nil, err
		}
		b, err := dec.DecodeAll(v[1:], nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errPacked, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%w: unknown format %d", errPacked, v[0])
}

// migratePacking prepares a store for packed values: the answers bucket is
// created with the others at open, and values stored before stay as they
// are (a record without Packed is read raw), so nothing is rewritten.
func migratePacking(*bolt.Tx) error { return nil }

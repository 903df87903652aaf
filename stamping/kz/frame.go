package kz

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The header's constants (spec §1.2).
const (
	HeaderSize = 18
	AppCode    = 0x81A2
	// Version is protocol 2.0.3 written without dots.
	Version = 203
	// MaxFrameSize bounds SIZE: a reader never allocates more for one
	// frame. A ticket of sale.MaxLines lines with long names and marking
	// codes stays far below it; an attacker's SIZE of 4 GB is refused
	// before a byte of payload is read.
	MaxFrameSize = 1 << 20
)

// Header is the 18-byte little-endian header of every message.
type Header struct {
	AppCode uint16
	Version uint16
	Size    uint32 // header + payload
	ID      uint32 // the KKM's id at the OFD
	Token   uint32
	ReqNum  uint16
}

// ErrFrame is wrapped by every error about a malformed frame.
var ErrFrame = errors.New("malformed OFD frame")

// AppendFrame appends a frame of id, token and reqNum around payload.
func AppendFrame(b []byte, id, token uint32, reqNum uint16, payload []byte) ([]byte, error) {
	size := HeaderSize + len(payload)
	if size > MaxFrameSize {
		return b, fmt.Errorf("%w: the message is %d bytes, above the limit of %d", ErrFrame, size, MaxFrameSize)
	}
	b = binary.LittleEndian.AppendUint16(b, AppCode)
	b = binary.LittleEndian.AppendUint16(b, Version)
	b = binary.LittleEndian.AppendUint32(b, uint32(size))
	b = binary.LittleEndian.AppendUint32(b, id)
	b = binary.LittleEndian.AppendUint32(b, token)
	b = binary.LittleEndian.AppendUint16(b, reqNum)
	return append(b, payload...), nil
}

// ParseHeader reads and checks the header at the start of b: APPCODE,
// VERSION, and a SIZE from 18 to MaxFrameSize.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrFrame, len(b), HeaderSize)
	}
	h := Header{
		AppCode: binary.LittleEndian.Uint16(b[0:]),
		Version: binary.LittleEndian.Uint16(b[2:]),
		Size:    binary.LittleEndian.Uint32(b[4:]),
		ID:      binary.LittleEndian.Uint32(b[8:]),
		Token:   binary.LittleEndian.Uint32(b[12:]),
		ReqNum:  binary.LittleEndian.Uint16(b[16:]),
	}
	switch {
	case h.AppCode != AppCode:
		return h, fmt.Errorf("%w: APPCODE is %#04x, want %#04x", ErrFrame, h.AppCode, AppCode)
	case h.Version != Version:
		return h, fmt.Errorf("%w: VERSION is %d, want %d (protocol 2.0.3)", ErrFrame, h.Version, Version)
	case h.Size < HeaderSize:
		return h, fmt.Errorf("%w: SIZE is %d, less than the %d-byte header", ErrFrame, h.Size, HeaderSize)
	case h.Size > MaxFrameSize:
		return h, fmt.Errorf("%w: SIZE is %d, above the limit of %d", ErrFrame, h.Size, MaxFrameSize)
	}
	return h, nil
}

// SplitFrame checks a whole frame held in b and returns its header and
// payload; b must be exactly SIZE bytes.
func SplitFrame(b []byte) (Header, []byte, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, nil, err
	}
	if int(h.Size) != len(b) {
		return h, nil, fmt.Errorf("%w: SIZE is %d but the frame has %d bytes", ErrFrame, h.Size, len(b))
	}
	return h, b[HeaderSize:], nil
}

// ReadFrame reads one frame from r: the header, then SIZE − 18 bytes of
// payload, in as many reads as it takes. It never allocates more than
// MaxFrameSize; a stream that ends early is io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader) (Header, []byte, error) {
	var hb [HeaderSize]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return Header{}, nil, err
	}
	h, err := ParseHeader(hb[:])
	if err != nil {
		return h, nil, err
	}
	payload := make([]byte, h.Size-HeaderSize)
	if _, err := io.ReadFull(r, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, nil, fmt.Errorf("reading a %d-byte payload: %w", len(payload), err)
	}
	return h, payload, nil
}

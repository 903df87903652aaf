package kz

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Default timeouts (spec §1.1: implementations use 4–10 s to connect and
// read; the protocol asks for at least 5 s in all).
const (
	DefaultDialTimeout  = 5 * time.Second
	DefaultReadTimeout  = 10 * time.Second
	DefaultWriteTimeout = 5 * time.Second
)

// Client talks to an OFD over TCP: one request per connection (spec §1.1),
// one request in flight at a time. The zero value with Addr set is ready.
type Client struct {
	Addr                                   string
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// Dial replaces net.Dialer.DialContext (tests, proxies).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu sync.Mutex // one request in flight
}

// Reply is an answer: its header, its payload decoded, and the raw frame.
type Reply struct {
	Header   Header
	Response *Response
	Frame    []byte
}

// ErrTransport is wrapped by every error where the request may or may not
// have reached the OFD: the caller resends the same pending frame.
var ErrTransport = errors.New("no answer from the OFD")

// Send sends p's frame and reads the answer. A connection, write or read
// failure wraps ErrTransport; an answer that is not a well-formed
// response to p (another id, another command) is an error too, and p
// stays pending either way.
func (c *Client) Send(ctx context.Context, p *Pending) (*Reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	reqHeader, _, err := SplitFrame(p.Frame)
	if err != nil {
		return nil, err
	}
	dialTimeout := orDefault(c.DialTimeout, DefaultDialTimeout)
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	dial := c.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(dctx, "tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: connecting to %s: %w", ErrTransport, c.Addr, err)
	}
	defer conn.Close()
	// A cancelled ctx ends the exchange at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if err := conn.SetWriteDeadline(time.Now().Add(orDefault(c.WriteTimeout, DefaultWriteTimeout))); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	if _, err := conn.Write(p.Frame); err != nil {
		return nil, fmt.Errorf("%w: sending %s: %w", ErrTransport, p.Command, err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(orDefault(c.ReadTimeout, DefaultReadTimeout))); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	h, payload, err := ReadFrame(conn)
	if err != nil {
		if errors.Is(err, ErrFrame) {
			return nil, fmt.Errorf("%w: the answer to %s: %w", ErrTransport, p.Command, err)
		}
		return nil, fmt.Errorf("%w: reading the answer to %s: %w", ErrTransport, p.Command, err)
	}
	resp, err := UnmarshalResponse(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: the answer to %s: %w", ErrTransport, p.Command, err)
	}
	if h.ID != reqHeader.ID {
		return nil, fmt.Errorf("%w: the answer is for KKM id %d, not %d", ErrTransport, h.ID, reqHeader.ID)
	}
	if resp.Command != p.Command {
		return nil, fmt.Errorf("%w: the answer to %s is for %s", ErrTransport, p.Command, resp.Command)
	}
	frame := make([]byte, 0, h.Size)
	frame, err = AppendFrame(frame, h.ID, h.Token, h.ReqNum, payload)
	if err != nil {
		return nil, err
	}
	return &Reply{Header: h, Response: resp, Frame: frame}, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

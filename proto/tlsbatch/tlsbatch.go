// Package tlsbatch gathers the TLS records of one Write into one write(2).
package tlsbatch

import (
	"crypto/tls"
	"net"
	"sync"
)

// Wrap wraps a TLS connection so that the records one Write produces
// reach the transport in one write(2), not one per 16 KiB record. The
// session's writer hands over batches of up to a megabyte; without this,
// TLS cuts each into sixty-odd syscalls.
//
// raw must be the transport under conn (tls.Client(raw, ...) or
// tls.Server(raw, ...) built with Batcher(raw) as the transport):
//
//	b := tlsbatch.NewBatcher(raw)
//	conn := tlsbatch.Wrap(tls.Client(b, cfg), b)
//
// Close closes the transport without a TLS close_notify: the session's
// own GOAWAY ends it cleanly, and a close_notify could block behind a
// write to a peer that stopped reading.
func Wrap(conn *tls.Conn, b *Batcher) net.Conn { return &batchedTLS{Conn: conn, b: b} }

// Batcher is the transport side of Wrap: while batching it gathers
// writes instead of sending them.
type Batcher struct {
	net.Conn
	mu       sync.Mutex // held across a flush, so records keep their order
	batching bool
	buf      []byte

	// Owned by the one goroutine that reads (the TLS layer's reader):
	rbuf *[]byte // pooled; rbuf[roff:rend] is read from the socket and not yet taken
	roff int
	rend int
	hot  bool // the last read filled what it was given: more is likely waiting
}

// readChunk is how much one read(2) takes while data streams in.
const readChunk = 256 << 10

var readBufs = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}

// Read serves TLS's small reads (a record header, then about one record)
// from few large reads of the socket while data streams in: reading a
// loopback or LAN socket costs per call as well as per octet, and TLS on
// its own asks for about 16 KiB at a time. A session that goes quiet
// returns the buffer to the pool and reads the socket directly again, so
// an idle session pins no read buffer.
func (b *Batcher) Read(p []byte) (int, error) {
	if b.rbuf != nil {
		n := copy(p, (*b.rbuf)[b.roff:b.rend])
		b.roff += n
		if b.roff == b.rend {
			readBufs.Put(b.rbuf)
			b.rbuf = nil
		}
		return n, nil
	}
	if !b.hot || len(p) >= readChunk {
		n, err := b.Conn.Read(p)
		b.hot = n == len(p)
		return n, err
	}
	rb := readBufs.Get().(*[]byte)
	m, err := b.Conn.Read(*rb)
	b.hot = m == len(*rb)
	n := copy(p, (*rb)[:m])
	if n < m {
		b.rbuf, b.roff, b.rend = rb, n, m
	} else {
		readBufs.Put(rb)
	}
	return n, err
}

// NewBatcher wraps the raw transport.
func NewBatcher(raw net.Conn) *Batcher { return &Batcher{Conn: raw} }

func (b *Batcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.batching {
		b.buf = append(b.buf, p...)
		if len(b.buf) < flushAt {
			return len(p), nil
		}
		// Enough for one efficient write: send it, so the peer can start
		// decrypting while we encrypt the rest (on two cores, that overlap
		// is worth more than fewer syscalls).
		_, err := b.Conn.Write(b.buf)
		b.buf = b.buf[:0]
		return len(p), err
	}
	return b.Conn.Write(p)
}

// flushAt is how many octets of records are gathered per write(2): four
// full records.
var flushAt = 64 << 10

type batchedTLS struct {
	*tls.Conn
	b *Batcher
}

func (c *batchedTLS) Write(p []byte) (int, error) {
	c.b.mu.Lock()
	c.b.batching = true
	c.b.mu.Unlock()
	n, err := c.Conn.Write(p)
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.b.batching = false
	if len(c.b.buf) > 0 {
		_, werr := c.b.Conn.Write(c.b.buf)
		if cap(c.b.buf) > 1<<20 {
			c.b.buf = nil
		} else {
			c.b.buf = c.b.buf[:0]
		}
		if err == nil {
			err = werr
		}
	}
	return n, err
}

func (c *batchedTLS) Close() error { return c.b.Conn.Close() }

package proto

import "sync"

// recvChunk is the size of the pooled chunks a stream's received data is
// kept in.
const recvChunk = 32 << 10

// smallChunk is the size of the chunk a stream's first octets go to when
// they arrive as a small frame: most responses are a few hundred octets,
// and 256 of them in flight held 8 MB of 32 KiB chunks.
const smallChunk = 2 << 10

var (
	recvChunks  = sync.Pool{New: func() any { b := make([]byte, recvChunk); return &b }}
	smallChunks = sync.Pool{New: func() any { b := make([]byte, smallChunk); return &b }}
)

// recvBuf holds the octets a stream received and its reader has not read,
// in pooled chunks (32 KiB, or 2 KiB for a small first frame). It replaces one slice that grew to the
// window for every stream (growslice and its copies were about a quarter
// of the copying on the upload path, and every stream allocated again):
// a chunk goes back to the pool as soon as it is read, so a stream holds
// at most its unread octets plus one chunk, and an idle or finished
// stream holds nothing. Not safe for concurrent use (the stream's mu
// guards it).
type recvBuf struct {
	chunks []*[]byte // chunks[0][off:] is the oldest unread octet
	off    int
	last   int // octets used in the last chunk
	n      int // unread octets in all
}

// write appends p.
func (b *recvBuf) write(p []byte) {
	if len(p) == 0 { // an empty DATA (END_STREAM alone) must not take a chunk
		return
	}
	b.n += len(p)
	if len(b.chunks) == 0 && len(p) <= smallChunk {
		b.chunks = append(b.chunks, smallChunks.Get().(*[]byte))
		b.last = 0
	}
	for len(p) > 0 {
		if len(b.chunks) == 0 || b.last == len(*b.chunks[len(b.chunks)-1]) {
			b.chunks = append(b.chunks, recvChunks.Get().(*[]byte))
			b.last = 0
		}
		k := copy((*b.chunks[len(b.chunks)-1])[b.last:], p)
		b.last += k
		p = p[k:]
	}
}

// read moves up to len(p) octets into p.
func (b *recvBuf) read(p []byte) int {
	n := 0
	for n < len(p) && b.n > 0 {
		c := *b.chunks[0]
		end := len(c)
		if len(b.chunks) == 1 {
			end = b.last
		}
		k := copy(p[n:], c[b.off:end])
		n += k
		b.off += k
		b.n -= k
		if b.off == end {
			b.dropFirst()
		}
	}
	return n
}

func (b *recvBuf) dropFirst() {
	if len(*b.chunks[0]) == smallChunk {
		smallChunks.Put(b.chunks[0])
	} else {
		recvChunks.Put(b.chunks[0])
	}
	// Shift rather than reslice, so the few pointers' array is reused and
	// steady state allocates nothing.
	k := copy(b.chunks, b.chunks[1:])
	b.chunks[k] = nil
	b.chunks = b.chunks[:k]
	b.off = 0
	if k == 0 {
		b.last = 0
	}
}

// reset discards everything and returns the chunks to the pool; it
// returns how many octets were discarded.
func (b *recvBuf) reset() int {
	n := b.n
	for len(b.chunks) > 0 {
		b.dropFirst()
	}
	b.n = 0
	return n
}

// held returns the capacity the buffer pins (for tests).
func (b *recvBuf) held() int {
	n := 0
	for _, c := range b.chunks {
		n += len(*c)
	}
	return n
}

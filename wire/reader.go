package wire

import (
	"io"
)

// Reader reads frames from a byte stream with one reusable buffer. It reads
// ahead as much as the stream offers, so many small frames cost one read.
// Not safe for concurrent use.
type Reader struct {
	r          io.Reader
	buf        []byte
	start, end int // buf[start:end] is unread
	maxFrame   uint32
}

// NewReader returns a Reader that refuses frames longer than maxFrameSize
// (spec §4) and starts with a buffer of bufSize octets.
func NewReader(r io.Reader, maxFrameSize uint32, bufSize int) *Reader {
	bufSize = max(bufSize, HeaderLen+MinMaxFrameSize)
	return &Reader{r: r, buf: make([]byte, bufSize), maxFrame: maxFrameSize}
}

// SetMaxFrameSize changes the largest payload accepted, as when the
// handshake ends (spec §3.2).
func (r *Reader) SetMaxFrameSize(n uint32) { r.maxFrame = n }

// Buffered returns the number of unread octets held.
func (r *Reader) Buffered() int { return r.end - r.start }

// Peek returns the header of the next frame when its HeaderLen octets are
// already buffered, without consuming anything or reading from the
// stream. A header that does not parse is reported as absent: ReadFrame
// will meet the error.
func (r *Reader) Peek() (FrameHeader, bool) {
	if r.end-r.start < HeaderLen {
		return FrameHeader{}, false
	}
	h, err := ParseHeader(r.buf[r.start:r.end])
	return h, err == nil
}

// ReadPreface reads and checks the 8-octet preface (spec §3.1).
func (r *Reader) ReadPreface() error {
	if err := r.fill(len(Preface)); err != nil {
		return err
	}
	if string(r.buf[r.start:r.start+len(Preface)]) != Preface {
		return ErrBadPreface
	}
	r.start += len(Preface)
	return nil
}

// ReadFrame returns the next frame's header and payload. The payload
// aliases the Reader's buffer and is valid until the next call. The length
// is checked against the limit before any of the payload is read, so an
// oversized frame costs nothing to refuse.
func (r *Reader) ReadFrame() (FrameHeader, []byte, error) {
	if err := r.fill(HeaderLen); err != nil {
		return FrameHeader{}, nil, err
	}
	h, err := ParseHeader(r.buf[r.start:r.end])
	if err != nil {
		return h, nil, err
	}
	if h.Length > r.maxFrame {
		return h, nil, connErr(ErrCodeFrameSize, "%v frame of %d octets exceeds MAX_FRAME_SIZE %d", h.Type, h.Length, r.maxFrame)
	}
	n := HeaderLen + int(h.Length)
	if err := r.fill(n); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, nil, err
	}
	p := r.buf[r.start+HeaderLen : r.start+n]
	r.start += n
	return h, p, nil
}

// fill makes at least n unread octets available, growing the buffer only as
// far as one whole frame needs.
func (r *Reader) fill(n int) error {
	if r.end-r.start >= n {
		return nil
	}
	if r.start+n > len(r.buf) {
		if n > len(r.buf) {
			// Double for amortized growth, but never past one largest frame.
			nb := make([]byte, max(n, min(2*len(r.buf), HeaderLen+int(r.maxFrame))))
			r.end = copy(nb, r.buf[r.start:r.end])
			r.buf = nb
		} else {
			r.end = copy(r.buf, r.buf[r.start:r.end])
		}
		r.start = 0
	}
	for r.end-r.start < n {
		m, err := r.r.Read(r.buf[r.end:])
		r.end += m
		if err != nil {
			if r.end-r.start >= n {
				return nil
			}
			if err == io.EOF && r.end-r.start > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

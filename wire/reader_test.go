package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// countingReader fails the test if more than limit octets are read.
type countingReader struct {
	r     io.Reader
	n     int
	limit int
	t     *testing.T
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	if c.n > c.limit {
		c.t.Fatalf("read %d octets, more than %d", c.n, c.limit)
	}
	return n, err
}

func TestReaderRefusesOversizedFrameFromHeader(t *testing.T) {
	// A header that declares 16 MiB, and nothing after it: the reader must
	// refuse from the header without waiting for, or buffering, the payload.
	hdr := AppendHeader(nil, MaxLength, FrameData, 0, 1)
	r := NewReader(&countingReader{r: bytes.NewReader(hdr), limit: HeaderLen, t: t}, 65536, 0)
	_, _, err := r.ReadFrame()
	var ce ConnError
	if !errors.As(err, &ce) || ce.Code != ErrCodeFrameSize {
		t.Fatalf("got %v, want FRAME_SIZE_ERROR", err)
	}
	if len(r.buf) > HeaderLen+MinMaxFrameSize {
		t.Fatalf("buffer grew to %d", len(r.buf))
	}
}

func TestReaderOneByteAtATime(t *testing.T) {
	var stream []byte
	stream = append(stream, Preface...)
	var frames []Frame
	for i := range 50 {
		f := &Data{StreamID: uint32(2*i + 1), Data: bytes.Repeat([]byte{byte(i)}, i*1000)}
		frames = append(frames, f)
		stream = f.Append(stream)
	}
	r := NewReader(iotest.OneByteReader(bytes.NewReader(stream)), 65536, 0)
	if err := r.ReadPreface(); err != nil {
		t.Fatal(err)
	}
	for _, want := range frames {
		h, p, err := r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParsePayload(h, p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Append(nil), want.Append(nil)) {
			t.Fatalf("frame on stream %d differs", h.StreamID)
		}
	}
	if _, _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("at end: %v, want EOF", err)
	}
}

func TestReaderGrowsOnlyToMaxFrame(t *testing.T) {
	f := &Data{StreamID: 1, Data: make([]byte, 100000)}
	r := NewReader(bytes.NewReader(f.Append(nil)), 100000, 0)
	if _, p, err := r.ReadFrame(); err != nil || len(p) != 100000 {
		t.Fatalf("len=%d err=%v", len(p), err)
	}
	if len(r.buf) > HeaderLen+100000 {
		t.Fatalf("buffer %d exceeds one frame", len(r.buf))
	}
}

func TestReaderTruncated(t *testing.T) {
	b := (&Data{StreamID: 1, Data: []byte("hello")}).Append(nil)
	r := NewReader(bytes.NewReader(b[:len(b)-1]), MinMaxFrameSize, 0)
	if _, _, err := r.ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Fatalf("got %v, want ErrUnexpectedEOF", err)
	}
	r = NewReader(bytes.NewReader(b[:4]), MinMaxFrameSize, 0)
	if _, _, err := r.ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated header: got %v, want ErrUnexpectedEOF", err)
	}
}

func TestReaderBadPreface(t *testing.T) {
	r := NewReader(bytes.NewReader([]byte("GET / HTTP/1.1\r\n")), MinMaxFrameSize, 0)
	if err := r.ReadPreface(); !errors.Is(err, ErrBadPreface) {
		t.Fatalf("got %v", err)
	}
}

func TestReaderPeekReadsNothing(t *testing.T) {
	stream := (&Data{StreamID: 3, Data: []byte("abc")}).Append(nil)
	stream = AppendWindowUpdate(stream, 5, 1)
	r := NewReader(&countingReader{r: bytes.NewReader(stream), limit: len(stream), t: t}, 65536, 0)
	if _, ok := r.Peek(); ok {
		t.Fatal("Peek before any read reported a frame")
	}
	if h, _, err := r.ReadFrame(); err != nil || h.StreamID != 3 {
		t.Fatalf("first frame %+v, %v", h, err)
	}
	h, ok := r.Peek() // both frames came in one read: the second's header is held
	if !ok || h.Type != FrameWindowUpdate || h.StreamID != 5 {
		t.Fatalf("Peek: %+v %v, want WINDOW_UPDATE on 5", h, ok)
	}
	if h2, _, err := r.ReadFrame(); err != nil || h2 != h {
		t.Fatalf("ReadFrame after Peek: %+v, %v", h2, err)
	}
	if _, ok := r.Peek(); ok {
		t.Fatal("Peek at the end reported a frame")
	}
	// Eight octets of a header are not a header.
	r = NewReader(iotest.OneByteReader(bytes.NewReader(AppendWindowUpdate(nil, 1, 1))), 65536, 0)
	if err := r.fill(HeaderLen - 1); err != nil || r.Buffered() != HeaderLen-1 {
		t.Fatalf("fill: %v, %d buffered", err, r.Buffered())
	}
	if _, ok := r.Peek(); ok {
		t.Fatal("Peek reported a partial header")
	}
}

package proto

import (
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgrok/wsgrok/wire"
)

// Receiver takes a stream's frames by callback: the non-blocking face of
// a Stream, for event-loop code. Every method is called on one of the
// session's goroutines and must not block, nor call Session.Close.
type Receiver interface {
	// OnHeaders delivers a header block; fields are valid only during the
	// call.
	OnHeaders(st *Stream, fields []wire.HeaderField, endStream bool)
	// OnData delivers data; p is valid only during the call. The stream's
	// window stays spent until the receiver calls Consumed.
	OnData(st *Stream, p []byte, endStream bool)
	// OnReset reports, once, that the stream was reset by the peer, by
	// the session in answer to the peer's misbehaviour on it, or that the
	// session ended; not a reset the owner asked for. It may come after OnData with endStream, when the
	// peer stops a stream it has finished reading (RESET NO_ERROR).
	OnReset(st *Stream, err error)
	// OnWritable reports that window opened after TryWrite took less than
	// it was given.
	OnWritable(st *Stream)
}

// Stream state bits, for deciding when a stream is finished in both
// directions and can be forgotten (spec §5.2).
const (
	stSentEnd uint32 = 1 << iota
	stRecvEnd
	stReset
	stRemoved
)

// Stream is one bidirectional stream of a Session. As a net.Conn it is safe
// for one reader and one writer goroutine at a time, and its other methods
// are safe from any goroutine.
type Stream struct {
	// Immutable after creation:
	s          *Session
	id         uint32
	local      bool // we opened it
	tunnelID   uint32
	kind       wire.StreamKind
	remoteAddr string
	meta       wire.Metadata
	recv       Receiver

	// Guarded by mu:
	mu         sync.Mutex
	rbuf       recvBuf
	heads      [][]wire.HeaderField
	recvWindow int64 // credit the peer has left on this stream
	recvUnsent int64 // consumed, not yet returned
	recvEnd    bool  // END_STREAM received
	rerr       error // reset or session end; Read returns it once rbuf is drained
	rnotify    chan struct{}
	onFail     func() // see OnFail
	readDL     deadline
	writeDL    deadline

	// Guarded by s.w.mu:
	sendWindow int64
	sentEnd    bool
	werr       error
	wantWrite  bool
	compress   bool
	wnotify    chan struct{}

	state     atomic.Uint32
	resetOnce sync.Once
	failed    chan struct{} // closed when reset or the session ends
}

var _ net.Conn = (*Stream)(nil)

func newStream(s *Session, id uint32, o OpenOptions) *Stream {
	return &Stream{
		s:          s,
		id:         id,
		local:      id == 0, // Open assigns our ids after this
		tunnelID:   o.TunnelID,
		kind:       o.Kind,
		remoteAddr: o.RemoteAddr,
		meta:       o.Meta,
		recv:       o.Receiver,
		compress:   o.Compress,
		recvWindow: int64(s.cfg.InitialStreamWindow),
		sendWindow: int64(s.peer[wire.SettingInitialStreamWindow]),
		rnotify:    make(chan struct{}, 1),
		wnotify:    make(chan struct{}, 1),
		failed:     make(chan struct{}),
	}
}

// ID returns the stream identifier.
func (st *Stream) ID() uint32 { return st.id }

// Session returns the session the stream belongs to.
func (st *Stream) Session() *Session { return st.s }

// TunnelID returns the tunnel named in the stream's OPEN.
func (st *Stream) TunnelID() uint32 { return st.tunnelID }

// Kind returns the stream's kind (HTTP or TCP).
func (st *Stream) Kind() wire.StreamKind { return st.kind }

// ClientAddr returns the public client's address from OPEN, or "".
func (st *Stream) ClientAddr() string { return st.remoteAddr }

// Meta returns the metadata of the stream's OPEN.
func (st *Stream) Meta() wire.Metadata { return st.meta }

// Failed returns a channel closed when the stream is reset, by either
// side, or its session ends; not when it completes normally.
func (st *Stream) Failed() <-chan struct{} { return st.failed }

// OnFail has f called once when the stream fails as Failed reports, or at
// once if it has; nil removes it. f runs in the goroutine that fails the
// stream and must not block: a context's cancel is what it is for. It
// saves the goroutine that would wait on Failed for every request.
func (st *Stream) OnFail(f func()) {
	st.mu.Lock()
	failed := isClosed(st.failed)
	if !failed {
		st.onFail = f
	}
	st.mu.Unlock()
	if failed && f != nil {
		f()
	}
}

// SetCompress asks that DATA this stream sends be S2-compressed when the
// peer supports it (for compressible content).
func (st *Stream) SetCompress(on bool) {
	st.s.w.mu.Lock()
	st.compress = on
	st.s.w.mu.Unlock()
}

func (st *Stream) notifyReader() {
	select {
	case st.rnotify <- struct{}{}:
	default:
	}
}

func (st *Stream) wakeWriter() {
	if st.recv != nil {
		st.recv.OnWritable(st)
		return
	}
	select {
	case st.wnotify <- struct{}{}:
	default:
	}
}

func (st *Stream) markDone(bit uint32) {
	for {
		old := st.state.Load()
		nw := old | bit
		done := nw&stReset != 0 || nw&(stSentEnd|stRecvEnd) == stSentEnd|stRecvEnd
		if done {
			nw |= stRemoved
		}
		if st.state.CompareAndSwap(old, nw) {
			if done && old&stRemoved == 0 {
				st.s.removeStream(st)
			}
			return
		}
	}
}

// --- receive side, called on the reader goroutine ---

func (st *Stream) receiveData(p []byte, end bool) error {
	n := int64(len(p))
	if end {
		// Accounted closed before Read can see EOF, so that a caller that
		// read to the end finds the stream gone from the session.
		st.markDone(stRecvEnd)
	}
	st.mu.Lock()
	if st.recvEnd {
		st.mu.Unlock()
		st.s.w.credit(0, 0, len(p))
		return wire.StreamError{StreamID: st.id, Code: wire.ErrCodeStreamClosed, Reason: "DATA after END_STREAM"}
	}
	if n > st.recvWindow {
		st.mu.Unlock()
		return wire.ConnError{Code: wire.ErrCodeFlowControl, Reason: "DATA beyond the window of stream " + itoa(st.id)}
	}
	st.recvWindow -= n
	st.recvEnd = end
	if st.rerr != nil { // reset locally; the peer had this in flight
		st.mu.Unlock()
		st.s.w.credit(0, 0, len(p))
		return nil
	}
	if st.recv != nil {
		st.mu.Unlock()
		st.recv.OnData(st, p, end)
		return nil
	}
	st.rbuf.write(p)
	st.notifyReader()
	st.mu.Unlock()
	return nil
}

func (st *Stream) receiveHeaders(fields []wire.HeaderField, end bool) error {
	if end {
		st.markDone(stRecvEnd) // as in receiveData
	}
	st.mu.Lock()
	if st.recvEnd {
		st.mu.Unlock()
		return wire.StreamError{StreamID: st.id, Code: wire.ErrCodeStreamClosed, Reason: "HEADERS after END_STREAM"}
	}
	st.recvEnd = end
	if st.rerr != nil {
		st.mu.Unlock()
		return nil
	}
	if st.recv != nil {
		st.mu.Unlock()
		st.recv.OnHeaders(st, fields, end)
		return nil
	}
	st.heads = append(st.heads, slices.Clone(fields))
	st.notifyReader()
	st.mu.Unlock()
	return nil
}

func (st *Stream) receiveReset(code wire.ErrCode) {
	st.fail(&ResetError{Code: code, Remote: true}, false, true)
}

func (st *Stream) sessionClosed(err error) {
	st.fail(err, false, true)
}

// fail ends the stream with err in both directions. Data already received
// stays readable; a RESET is sent when sendReset is set. notify tells the
// Receiver: always unless the stream's owner reset it itself.
func (st *Stream) fail(err error, sendReset, notify bool) {
	first := false
	st.resetOnce.Do(func() { first = true })
	if !first {
		return
	}
	st.mu.Lock()
	close(st.failed)
	onFail := st.onFail
	st.onFail = nil
	if st.rerr == nil {
		st.rerr = err
	}
	var discard int
	if sendReset {
		// We will never read what is buffered: give its credit back.
		discard = st.rbuf.reset()
	}
	st.notifyReader()
	st.mu.Unlock()
	if onFail != nil {
		onFail()
	}
	st.s.w.mu.Lock()
	if st.werr == nil {
		st.werr = err
	}
	st.s.w.mu.Unlock()
	if discard > 0 {
		st.s.w.credit(0, 0, discard)
	}
	st.wakeWriterAlways()
	if st.recv != nil && notify {
		st.recv.OnReset(st, err)
	}
	st.markDone(stReset)
}

func (st *Stream) wakeWriterAlways() {
	select {
	case st.wnotify <- struct{}{}:
	default:
	}
}

// reset fails the stream locally and sends RESET with code. answer marks a
// reset sent in reply to the peer's misbehaviour (counted against the
// control queue bound).
func (st *Stream) reset(code wire.ErrCode, answer bool) error {
	if st.state.Load()&stRemoved != 0 {
		return nil
	}
	err := st.s.w.control(func(b []byte) []byte {
		return (&wire.Reset{StreamID: st.id, Code: code}).Append(b)
	}, answer)
	// A reset in answer to the peer's misbehaviour (DATA after END_STREAM,
	// a bad header block) is news to the Receiver, which would otherwise
	// wait for the rest of a stream that will never come; a reset by the
	// stream's owner is its own doing.
	st.fail(&ResetError{Code: code}, true, answer)
	return err
}

// --- the blocking face ---

// Read reads data the peer sent. It returns io.EOF after the peer's
// END_STREAM, and the reset error after a RESET (once buffered data is
// read).
func (st *Stream) Read(p []byte) (int, error) {
	for {
		st.mu.Lock()
		if st.rbuf.n > 0 {
			n := st.rbuf.read(p)
			inc := st.consumedLocked(n)
			st.mu.Unlock()
			st.s.w.credit(st.id, inc, n)
			return n, nil
		}
		if st.recvEnd {
			st.mu.Unlock()
			return 0, io.EOF
		}
		if st.rerr != nil {
			err := st.rerr
			st.mu.Unlock()
			return 0, err
		}
		st.mu.Unlock()
		select {
		case <-st.rnotify:
		case <-st.readDL.wait():
			return 0, os.ErrDeadlineExceeded
		}
	}
}

// consumedLocked records n consumed octets and returns the stream credit to
// send now, already added to the receive window (spec §6 batching).
func (st *Stream) consumedLocked(n int) int64 {
	if st.recvEnd || st.rerr != nil {
		return 0 // the peer will send no more on this stream
	}
	st.recvUnsent += int64(n)
	if st.recvUnsent < int64(st.s.cfg.InitialStreamWindow/2) {
		return 0
	}
	inc := st.recvUnsent
	st.recvUnsent = 0
	st.recvWindow += inc
	return inc
}

// ReadHeaders returns the next header block the peer sent. It returns
// io.EOF when the peer ended the stream with no block left.
func (st *Stream) ReadHeaders() ([]wire.HeaderField, error) {
	for {
		st.mu.Lock()
		if len(st.heads) > 0 {
			h := st.heads[0]
			st.heads = st.heads[1:]
			st.mu.Unlock()
			return h, nil
		}
		if st.recvEnd {
			st.mu.Unlock()
			return nil, io.EOF
		}
		if st.rerr != nil {
			err := st.rerr
			st.mu.Unlock()
			return nil, err
		}
		st.mu.Unlock()
		select {
		case <-st.rnotify:
		case <-st.readDL.wait():
			return nil, os.ErrDeadlineExceeded
		}
	}
}

// Write writes p as DATA, waiting for flow-control credit as needed.
func (st *Stream) Write(p []byte) (int, error) { return st.write(p, false) }

// WriteEnd writes p as DATA and half-closes the stream, like Write and
// then CloseWrite, but END_STREAM rides on p's last frame: a response
// that fits in one frame costs the peer one frame, not two.
func (st *Stream) WriteEnd(p []byte) (int, error) { return st.write(p, true) }

func (st *Stream) write(p []byte, end bool) (int, error) {
	total := 0
	for {
		n, sentEnd, err := st.s.w.data(st, p, end)
		total += n
		p = p[n:]
		if sentEnd {
			st.markDone(stSentEnd)
			return total, nil
		}
		if err != nil {
			return total, err
		}
		if len(p) == 0 && !end {
			return total, nil
		}
		select {
		case <-st.wnotify:
		case <-st.writeDL.wait():
			return total, os.ErrDeadlineExceeded
		case <-st.s.closed:
			return total, st.s.closedErr()
		}
	}
}

// WriteHeaders sends a header block, with END_STREAM when end is set. It
// does not block. A block that cannot fit in one of the peer's frames is
// refused with ErrHeaderTooLarge and nothing is sent.
func (st *Stream) WriteHeaders(fields []wire.HeaderField, end bool) error {
	sentEnd, err := st.s.w.headers(st, fields, end)
	if sentEnd {
		st.markDone(stSentEnd)
	}
	return err
}

// CloseWrite half-closes the stream: END_STREAM is sent and the peer reads
// EOF; reading continues. It does not block.
func (st *Stream) CloseWrite() error {
	_, sentEnd, err := st.s.w.data(st, nil, true)
	if sentEnd {
		st.markDone(stSentEnd)
	}
	if err == ErrWriteClosed {
		return nil
	}
	return err
}

// Close ends the stream: it half-closes the write side if still open and,
// if the peer has not finished sending, asks it to stop with RESET
// NO_ERROR, as HTTP/2 servers do after a complete response.
func (st *Stream) Close() error {
	err := st.CloseWrite()
	st.mu.Lock()
	done := st.recvEnd || st.rerr != nil
	st.mu.Unlock()
	if !done {
		code := wire.ErrCodeNo
		if err != nil {
			code = wire.ErrCodeCancel
		}
		st.reset(code, false)
	}
	if _, ok := err.(*ResetError); ok {
		return nil
	}
	return err
}

// Reset closes the stream abortively in both directions with code.
func (st *Stream) Reset(code wire.ErrCode) error { return st.reset(code, false) }

// --- the non-blocking face ---

// TryWrite queues as much of p as the windows allow, without blocking. When
// it takes less than all of p, the Receiver's OnWritable is called once
// more credit arrives.
func (st *Stream) TryWrite(p []byte) (int, error) {
	n, _, err := st.s.w.data(st, p, false)
	return n, err
}

// Consumed returns credit for n octets delivered by OnData that have now
// left the receiver (spec §6: credit goes back as buffer space frees).
func (st *Stream) Consumed(n int) {
	if n <= 0 {
		return
	}
	st.mu.Lock()
	inc := st.consumedLocked(n)
	st.mu.Unlock()
	st.s.w.credit(st.id, inc, n)
}

// Ended reports whether the peer has ended its side (END_STREAM) and every
// header block and octet it sent has been read.
func (st *Stream) Ended() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.recvEnd && st.rbuf.n == 0 && len(st.heads) == 0
}

// Buffered returns the octets received and not yet read.
func (st *Stream) Buffered() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.rbuf.n
}

// --- net.Conn plumbing ---

type streamAddr string

func (a streamAddr) Network() string { return "wsgrok" }
func (a streamAddr) String() string  { return string(a) }

// LocalAddr returns the session's local address.
func (st *Stream) LocalAddr() net.Addr { return st.s.LocalAddr() }

// RemoteAddr returns the public client's address when OPEN carried one,
// else the session's remote address.
func (st *Stream) RemoteAddr() net.Addr {
	if st.remoteAddr != "" {
		return streamAddr(st.remoteAddr)
	}
	return st.s.RemoteAddr()
}

// SetDeadline sets the read and write deadlines.
func (st *Stream) SetDeadline(t time.Time) error {
	st.readDL.set(t)
	st.writeDL.set(t)
	return nil
}

// SetReadDeadline sets the deadline for Read and ReadHeaders.
func (st *Stream) SetReadDeadline(t time.Time) error { st.readDL.set(t); return nil }

// SetWriteDeadline sets the deadline for Write.
func (st *Stream) SetWriteDeadline(t time.Time) error { st.writeDL.set(t); return nil }

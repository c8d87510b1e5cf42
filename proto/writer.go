package proto

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgrok/wsgrok/wire"
)

// writer is a session's send side. Every frame is encoded straight into buf
// under mu, in the order callers ask, so HPACK blocks reach the wire in the
// order they were encoded and a stream's frames keep their order. The
// writer goroutine swaps buf for an empty spare and hands the whole batch
// to the connection in one Write: under load, many frames cost one
// syscall and no frame costs an allocation.
type writer struct {
	s *Session

	// Immutable after init:
	peerMaxFrame int
	high         int // buffered octets past which DATA waits
	signal       chan struct{}

	mu          sync.Mutex
	buf         []byte
	spare       []byte
	henc        *wire.HeaderEncoder
	nextID      uint32 // next stream id we open; also guarded by Session.mu
	sendWindow  int64  // session credit the peer granted us
	blocked     []*Stream
	wakeScratch []*Stream // the reader goroutine's copy of blocked, reused
	answers     int       // PING ACKs and RESETs queued since the last flush
	idleFlushes int       // flushes since the spare buffer was last well used
	closing     bool      // flush what is queued, then close the connection
	closeTimer  *time.Timer

	framesOut atomic.Uint64
	bytesOut  atomic.Uint64
	writes    atomic.Uint64
	writing   atomic.Int64 // unix nanos when the current Write began; 0 when idle
}

func (w *writer) init(s *Session) {
	w.s = s
	w.peerMaxFrame = int(s.peer[wire.SettingMaxFrameSize])
	w.high = s.cfg.WriteBufferHigh
	w.signal = make(chan struct{}, 1)
	w.henc = wire.NewHeaderEncoder(s.peer[wire.SettingHeaderTableSize])
	w.sendWindow = int64(s.peer[wire.SettingInitialSessionWindow])
}

// kick wakes the writer goroutine. Call with or without mu held.
func (w *writer) kick() {
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// control appends one control frame. answer marks frames sent in reply to
// the peer (PING ACK, RESET); too many of those unwritten means the peer
// asks faster than it reads, and the session must end.
func (w *writer) control(appendFrame func([]byte) []byte, answer bool) error {
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		return ErrSessionClosed
	}
	if answer {
		w.answers++
		if w.answers > w.s.cfg.MaxControlQueue {
			w.mu.Unlock()
			// CVE-2019-9512 (ping flood), CVE-2019-9514 (reset flood), yamux
			// GHSA-29qp-crvh-w22m: answers pile up for a peer that does not
			// read them; bound the pile.
			return wire.ConnError{Code: wire.ErrCodeEnhanceYourCalm, Reason: "peer does not read the answers it keeps asking for"}
		}
	}
	w.buf = appendFrame(w.buf)
	w.framesOut.Add(1)
	w.mu.Unlock()
	w.kick()
	return nil
}

// open assigns st its id and queues its OPEN frame. Called with Session.mu
// held, so ids reach the wire in increasing order.
func (w *writer) open(st *Stream, o OpenOptions) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		return ErrSessionClosed
	}
	if w.nextID > wire.MaxStreamID {
		return ErrStreamIDsExhausted
	}
	st.id = w.nextID
	w.nextID += 2
	f := wire.Open{StreamID: st.id, TunnelID: o.TunnelID, Kind: o.Kind, RemoteAddr: o.RemoteAddr, Meta: o.Meta}
	w.buf = f.Append(w.buf)
	w.framesOut.Add(1)
	w.kick()
	return nil
}

// headers queues a HEADERS frame. The size bound is checked before the
// encoder's table changes: a block that does not fit must never be half
// encoded (spec §11.2).
func (w *writer) headers(st *Stream, fields []wire.HeaderField, end bool) (sentEnd bool, err error) {
	bound := 5 // a dynamic table size update
	for _, f := range fields {
		bound += 1 + 5 + len(f.Name) + 5 + len(f.Value) // the longest literal form
	}
	if bound > w.peerMaxFrame {
		return false, ErrHeaderTooLarge
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.writableLocked(st); err != nil {
		return false, err
	}
	var flags wire.Flags
	if end {
		flags = wire.FlagEndStream
		st.sentEnd = true
	}
	start := len(w.buf)
	w.buf = wire.AppendHeader(w.buf, 0, wire.FrameHeaders, flags, st.id)
	w.buf = w.henc.AppendBlock(w.buf, fields)
	n := len(w.buf) - start - wire.HeaderLen
	w.buf[start], w.buf[start+1], w.buf[start+2] = byte(n>>16), byte(n>>8), byte(n)
	w.framesOut.Add(1)
	w.kick()
	return end, nil
}

func (w *writer) writableLocked(st *Stream) error {
	if st.werr != nil {
		return st.werr
	}
	if w.closing {
		return ErrSessionClosed
	}
	if st.sentEnd {
		return ErrWriteClosed
	}
	return nil
}

// data queues as much of p as the windows, the frame size and the buffer
// allow, and END_STREAM with the last of it when end is set. It never
// blocks; a short count means the caller waits for st to be woken.
func (w *writer) data(st *Stream, p []byte, end bool) (n int, sentEnd bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.writableLocked(st); err != nil {
		return 0, false, err
	}
	for len(p) > 0 {
		if len(w.buf) >= w.high {
			w.blockLocked(st)
			break
		}
		k := int(min(int64(len(p)), int64(w.peerMaxFrame), st.sendWindow, w.sendWindow))
		if k <= 0 {
			if w.sendWindow <= 0 {
				w.blockLocked(st)
			}
			// Otherwise the stream window is shut; its WINDOW_UPDATE wakes it.
			st.wantWrite = true
			break
		}
		var flags wire.Flags
		if end && k == len(p) {
			flags = wire.FlagEndStream
		}
		w.appendData(st, flags, p[:k])
		st.sendWindow -= int64(k)
		w.sendWindow -= int64(k)
		n += k
		p = p[k:]
		if flags != 0 {
			st.sentEnd = true
			sentEnd = true
		}
	}
	if end && len(p) == 0 && !sentEnd {
		w.appendData(st, wire.FlagEndStream, nil)
		st.sentEnd = true
		sentEnd = true
	}
	if n > 0 || sentEnd {
		w.kick()
	}
	return n, sentEnd, nil
}

// minCompress is the smallest chunk worth trying to compress.
const minCompress = 256

func (w *writer) appendData(st *Stream, flags wire.Flags, chunk []byte) {
	w.framesOut.Add(1)
	if st.compress && w.s.compress && len(chunk) >= minCompress {
		start := len(w.buf)
		w.buf = wire.AppendHeader(w.buf, 0, wire.FrameData, flags|wire.FlagCompressed, st.id)
		var ok bool
		if w.buf, ok = wire.CompressData(w.buf, chunk); ok {
			n := len(w.buf) - start - wire.HeaderLen
			w.buf[start], w.buf[start+1], w.buf[start+2] = byte(n>>16), byte(n>>8), byte(n)
			return
		}
		w.buf = w.buf[:start]
	}
	w.buf = wire.AppendData(w.buf, st.id, flags, chunk)
}

func (w *writer) blockLocked(st *Stream) {
	st.wantWrite = true
	for _, b := range w.blocked {
		if b == st {
			return
		}
	}
	w.blocked = append(w.blocked, st)
}

// addSessionWindow applies a session WINDOW_UPDATE.
func (w *writer) addSessionWindow(inc uint32) error {
	w.mu.Lock()
	if w.sendWindow+int64(inc) > wire.MaxWindow {
		w.mu.Unlock()
		return wire.ConnError{Code: wire.ErrCodeFlowControl, Reason: "session window overflows 2^31-1"}
	}
	w.sendWindow += int64(inc)
	w.wakeScratch = w.takeBlockedLocked(w.wakeScratch[:0])
	blocked := w.wakeScratch
	w.mu.Unlock()
	wakeAll(blocked) // only the reader goroutine calls this: its scratch is its own
	return nil
}

// addStreamWindow applies a stream WINDOW_UPDATE.
func (w *writer) addStreamWindow(st *Stream, inc uint32) error {
	w.mu.Lock()
	if st.sendWindow+int64(inc) > wire.MaxWindow {
		w.mu.Unlock()
		return wire.StreamError{StreamID: st.id, Code: wire.ErrCodeFlowControl, Reason: "stream window overflows 2^31-1"}
	}
	st.sendWindow += int64(inc)
	want := st.wantWrite
	st.wantWrite = false
	w.mu.Unlock()
	if want {
		st.wakeWriter()
	}
	return nil
}

// takeBlockedLocked moves the blocked streams into dst, keeping the list's
// capacity so that blocking never allocates in steady state.
func (w *writer) takeBlockedLocked(dst []*Stream) []*Stream {
	for _, st := range w.blocked {
		st.wantWrite = false
		dst = append(dst, st)
	}
	clear(w.blocked)
	w.blocked = w.blocked[:0]
	return dst
}

func wakeAll(sts []*Stream) {
	for _, st := range sts {
		st.wakeWriter()
	}
}

// credit returns flow-control credit for n consumed octets: streamInc to
// the stream (already added to its receive window by the caller) and n to
// the session, batched past half the initial window (spec §6).
func (w *writer) credit(streamID uint32, streamInc int64, n int) {
	s := w.s
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		return
	}
	queued := false
	if streamInc > 0 {
		w.buf = wire.AppendWindowUpdate(w.buf, streamID, uint32(streamInc))
		w.framesOut.Add(1)
		queued = true
	}
	s.recvUnsent += int64(n)
	if s.recvUnsent >= int64(s.cfg.InitialSessionWindow/2) {
		inc := s.recvUnsent
		s.recvUnsent = 0
		// Grant before the frame can reach the peer, so its DATA never
		// races our own bookkeeping.
		s.addRecvWindow(inc)
		w.buf = wire.AppendWindowUpdate(w.buf, 0, uint32(inc))
		w.framesOut.Add(1)
		queued = true
	}
	w.mu.Unlock()
	if queued {
		w.kick()
	}
}

// shutdown queues the final frame, stops accepting more, and makes sure
// the connection is closed within the flush timeout even if the peer has
// stopped reading.
func (w *writer) shutdown(final func([]byte) []byte) {
	w.mu.Lock()
	if !w.closing {
		w.closing = true
		if w.s.version != 0 { // the handshake completed: frames are allowed
			w.buf = final(w.buf)
		}
		w.closeTimer = time.AfterFunc(w.s.flushTimeout, func() { w.s.conn.Close() })
	}
	blocked := w.takeBlockedLocked(nil)
	w.mu.Unlock()
	w.kick()
	wakeAll(blocked)
}

// spareLimit is the capacity past which a write buffer is released once
// the session has gone quiet, so that a burst does not pin memory for the
// session's life. Under load the buffer is always kept: regrowing it costs
// a copy of everything queued (growslice was 20% of CPU when it was not).
const spareLimit = 64 << 10

func (s *Session) writeLoop() {
	defer s.wg.Done()
	w := &s.w
	var blocked []*Stream // this goroutine's scratch for wakeups
	for range w.signal {
		// No yield before a small batch to let more frames join it: at
		// c=1 through the whole tunnel that yield cost 40-120 µs of p50
		// (bench/README.md); under load, frames queued during a Write
		// share the next one anyway.
		w.mu.Lock()
		buf := w.buf
		w.buf = w.spare[:0]
		w.spare = nil
		closing := w.closing
		w.answers = 0
		blocked = w.takeBlockedLocked(blocked[:0])
		w.mu.Unlock()
		wakeAll(blocked)
		clear(blocked)

		if len(buf) > 0 {
			if closing {
				s.conn.SetWriteDeadline(time.Now().Add(s.flushTimeout))
			}
			w.writing.Store(time.Now().UnixNano())
			_, err := s.conn.Write(buf)
			w.writing.Store(0)
			w.writes.Add(1)
			w.bytesOut.Add(uint64(len(buf)))
			if err != nil && !closing {
				s.fail(err)
				closing = true
			}
		}
		if closing {
			w.mu.Lock()
			if w.closeTimer != nil {
				w.closeTimer.Stop()
			}
			w.buf = nil
			w.mu.Unlock()
			s.conn.Close()
			return
		}
		w.mu.Lock()
		w.spare = buf[:0]
		w.mu.Unlock()
	}
}

// trimIdle releases large write buffers of a session with nothing to
// write; the heartbeat calls it, so an idle session costs little memory.
func (w *writer) trimIdle() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 && cap(w.buf) > spareLimit {
		w.buf = nil
	}
	if cap(w.spare) > spareLimit {
		w.spare = nil
	}
}

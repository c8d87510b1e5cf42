package proto

import (
	"errors"
	"time"

	"github.com/wsgrok/wsgrok/wire"
)

// maxEmptyFrames bounds consecutive DATA frames that carry nothing and do
// not end their stream (CVE-2019-9518: empty frames cost the receiver work
// and the sender nothing).
const maxEmptyFrames = 1000

// maxRefused bounds OPENs past our MAX_CONCURRENT_STREAMS (spec §5.3).
const maxRefused = 100

func (s *Session) readLoop() {
	defer s.wg.Done()
	for {
		h, p, err := s.rd.ReadFrame()
		if err != nil {
			s.fail(s.readErr(err))
			return
		}
		s.lastRecv.Store(time.Now().UnixNano())
		s.framesIn.Add(1)
		s.bytesIn.Add(uint64(wire.HeaderLen + len(p)))
		if err := s.handleFrame(h, p); err != nil {
			var se wire.StreamError
			if errors.As(err, &se) {
				if err := s.resetStreamID(se.StreamID, se.Code); err != nil {
					s.fail(err)
					return
				}
				continue
			}
			s.fail(err)
			return
		}
	}
}

// readErr prefers the reason the peer gave in GOAWAY over the bare EOF that
// follows it.
func (s *Session) readErr(err error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.goAwayRecv && s.peerGoAway.Code != wire.ErrCodeNo {
		return &PeerError{Code: s.peerGoAway.Code, Message: s.peerGoAway.Debug}
	}
	return err
}

func (s *Session) handleFrame(h wire.FrameHeader, p []byte) error {
	switch h.Type {
	case wire.FrameData:
		f, err := wire.ParseData(h, p)
		if err != nil {
			return err
		}
		return s.handleData(&f)
	case wire.FrameHeaders:
		f, err := wire.ParseHeaders(h, p)
		if err != nil {
			return err
		}
		return s.handleHeaders(&f)
	case wire.FrameOpen:
		f, err := wire.ParseOpen(h, p)
		if err != nil {
			return err
		}
		return s.handleOpen(&f)
	case wire.FrameReset:
		f, err := wire.ParseReset(h, p)
		if err != nil {
			return err
		}
		return s.handleReset(&f)
	case wire.FrameWindowUpdate:
		f, err := wire.ParseWindowUpdate(h, p)
		if err != nil {
			return err
		}
		return s.handleWindowUpdate(&f)
	case wire.FramePing:
		f, err := wire.ParsePing(h, p)
		if err != nil {
			return err
		}
		return s.handlePing(&f)
	case wire.FrameGoAway:
		f, err := wire.ParseGoAway(h, p)
		if err != nil {
			return err
		}
		return s.handleGoAway(&f)
	case wire.FrameHello:
		return wire.ConnError{Code: wire.ErrCodeProtocol, Reason: "second HELLO"}
	case wire.FrameBind:
		f, err := wire.ParseBind(h, p)
		if err != nil {
			return err
		}
		return s.handleBind(f)
	case wire.FrameBindResult:
		f, err := wire.ParseBindResult(h, p)
		if err != nil {
			return err
		}
		return s.handleBindResult(f)
	case wire.FrameUnbind:
		f, err := wire.ParseUnbind(h, p)
		if err != nil {
			return err
		}
		if s.cfg.OnUnbind != nil {
			s.cfg.OnUnbind(s, f)
		}
		return nil
	}
	return nil // spec §10: unknown frame types are ignored
}

// lookup returns the open stream id, or nil with idle reporting whether
// nobody has opened id yet (spec §5.1).
func (s *Session) lookup(id uint32) (st *Stream, idle bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if st := s.streams[id]; st != nil {
		return st, false
	}
	if s.ownID(id) {
		return nil, id >= s.w.nextID
	}
	return nil, id > s.lastPeerID
}

func (s *Session) ownID(id uint32) bool { return (id%2 == 1) == s.client }

func idleErr(t wire.FrameType, id uint32) error {
	return wire.ConnError{Code: wire.ErrCodeProtocol, Reason: t.String() + " on idle stream " + itoa(id)}
}

func (s *Session) handleData(f *wire.Data) error {
	data := f.Data
	if f.Flags.Has(wire.FlagCompressed) {
		if !s.cfg.Compression {
			return wire.ConnError{Code: wire.ErrCodeProtocol, Reason: "compressed DATA without negotiated compression"}
		}
		var err error
		s.decompressed, err = wire.DecompressData(s.decompressed[:0], data, int(s.cfg.MaxFrameSize))
		if err != nil {
			return err
		}
		data = s.decompressed
	}
	n := int64(len(data))
	if s.recvWindow.Add(-n) < 0 {
		return wire.ConnError{Code: wire.ErrCodeFlowControl, Reason: "DATA beyond the session window"}
	}
	if n == 0 && !f.EndStream() {
		s.emptyFrames++
		if s.emptyFrames > maxEmptyFrames {
			return wire.ConnError{Code: wire.ErrCodeEnhanceYourCalm, Reason: "flood of empty DATA frames"}
		}
	} else {
		s.emptyFrames = 0
	}
	st, idle := s.lookup(f.StreamID)
	if st == nil {
		if idle {
			return idleErr(wire.FrameData, f.StreamID)
		}
		// Closed: the peer sent it before it saw our RESET (spec §5.2).
		s.w.credit(0, 0, int(n))
		return nil
	}
	return st.receiveData(data, f.EndStream())
}

func (s *Session) handleHeaders(f *wire.Headers) error {
	// Decode first, always: every block moves the HPACK context (spec §11.2).
	fields, derr := s.hdec.Decode(f.StreamID, f.Block)
	var se wire.StreamError
	if derr != nil && !errors.As(derr, &se) {
		return derr
	}
	st, idle := s.lookup(f.StreamID)
	if st == nil {
		if idle {
			return idleErr(wire.FrameHeaders, f.StreamID)
		}
		return nil
	}
	if derr != nil {
		return derr
	}
	return st.receiveHeaders(fields, f.EndStream())
}

func (s *Session) handleOpen(f *wire.Open) error {
	if s.ownID(f.StreamID) {
		return wire.ConnError{Code: wire.ErrCodeProtocol, Reason: "peer opened stream " + itoa(f.StreamID) + " with our parity"}
	}
	s.mu.Lock()
	if f.StreamID <= s.lastPeerID {
		s.mu.Unlock()
		return wire.ConnError{Code: wire.ErrCodeProtocol, Reason: "stream identifier " + itoa(f.StreamID) + " reused"}
	}
	s.lastPeerID = f.StreamID
	refuse := func(code wire.ErrCode, why string) error {
		s.mu.Unlock()
		return wire.StreamError{StreamID: f.StreamID, Code: code, Reason: why}
	}
	switch {
	case s.goAwaySent:
		return refuse(wire.ErrCodeRefusedStream, "going away")
	case uint32(s.peerOpen) >= s.local[wire.SettingMaxConcurrentStreams]:
		s.refused++
		if s.refused > maxRefused {
			s.mu.Unlock()
			return wire.ConnError{Code: wire.ErrCodeEnhanceYourCalm, Reason: "peer keeps opening streams past MAX_CONCURRENT_STREAMS"}
		}
		return refuse(wire.ErrCodeRefusedStream, "MAX_CONCURRENT_STREAMS exceeded")
	case f.Kind != wire.KindHTTP && f.Kind != wire.KindTCP:
		return refuse(wire.ErrCodeRefusedStream, "unknown stream kind")
	}
	st := newStream(s, f.StreamID, OpenOptions{TunnelID: f.TunnelID, Kind: f.Kind, RemoteAddr: f.RemoteAddr, Meta: f.Meta})
	s.streams[st.id] = st
	s.peerOpen++
	s.mu.Unlock()

	if s.cfg.OnStream != nil {
		s.cfg.OnStream(st)
		return nil
	}
	select {
	case s.acceptCh <- st:
		return nil
	default:
		st.Reset(wire.ErrCodeRefusedStream)
		return nil
	}
}

func (s *Session) handleReset(f *wire.Reset) error {
	// CVE-2023-44487 (rapid reset): a token bucket of MaxResetRate per
	// second, bursting to the same.
	now := time.Now()
	rate := float64(s.cfg.MaxResetRate)
	if !s.resetRefill.IsZero() {
		s.resetTokens = min(rate, s.resetTokens+now.Sub(s.resetRefill).Seconds()*rate)
	}
	s.resetRefill = now
	s.resetTokens--
	if s.resetTokens < 0 {
		return wire.ConnError{Code: wire.ErrCodeEnhanceYourCalm, Reason: "peer resets streams too fast"}
	}
	st, idle := s.lookup(f.StreamID)
	if st == nil {
		if idle {
			return idleErr(wire.FrameReset, f.StreamID)
		}
		return nil
	}
	st.receiveReset(f.Code)
	return nil
}

func (s *Session) handleWindowUpdate(f *wire.WindowUpdate) error {
	if f.StreamID == 0 {
		return s.w.addSessionWindow(f.Increment)
	}
	st, idle := s.lookup(f.StreamID)
	if st == nil {
		if idle {
			return idleErr(wire.FrameWindowUpdate, f.StreamID)
		}
		return nil
	}
	return s.w.addStreamWindow(st, f.Increment)
}

func (s *Session) handleGoAway(f *wire.GoAway) error {
	s.mu.Lock()
	s.goAwayRecv = true
	s.peerGoAway = *f
	// Streams we opened past LastStreamID were not processed (spec §8):
	// fail them as refused so that callers may retry elsewhere.
	var refused []*Stream
	for id, st := range s.streams {
		if st.local && id > f.LastStreamID {
			refused = append(refused, st)
		}
	}
	s.checkDrainedLocked()
	s.mu.Unlock()
	for _, st := range refused {
		st.receiveReset(wire.ErrCodeRefusedStream)
	}
	return nil
}

// resetStreamID answers a stream error: RESET on the wire, and the stream
// failed locally if we still hold it.
func (s *Session) resetStreamID(id uint32, code wire.ErrCode) error {
	st, _ := s.lookup(id)
	if st != nil {
		return st.reset(code, true)
	}
	return s.w.control(func(b []byte) []byte {
		return (&wire.Reset{StreamID: id, Code: code}).Append(b)
	}, true)
}

func (s *Session) addRecvWindow(n int64) { s.recvWindow.Add(n) }

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

package proto

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgrok/wsgrok/wire"
)

// Session is one multiplexed connection between an agent (client) and an
// edge (server). All methods are safe to call from any goroutine.
type Session struct {
	// Immutable after the handshake:
	conn     net.Conn
	client   bool
	cfg      Config
	local    wire.Settings // what we announced
	peer     wire.Settings // what the peer announced
	peerMeta wire.Metadata
	version  uint16
	compress bool // the peer decodes S2 DATA
	created  time.Time

	// Guarded by mu (lock order: mu, then a stream's mu, then wmu):
	mu          sync.RWMutex
	streams     map[uint32]*Stream
	lastPeerID  uint32 // highest stream id the peer opened
	peerOpen    int    // open streams the peer opened
	localOpen   int    // open streams we opened
	goAwaySent  bool
	goAwayRecv  bool
	peerGoAway  wire.GoAway
	nextBindID  uint32
	pendingBind map[uint32]chan wire.BindResult
	drained     chan struct{} // closed when no stream is left after GOAWAY; nil until asked

	w writer // the write side: buffer, send windows, HPACK encoder

	// Owned by the reader goroutine:
	rd           *wire.Reader
	hdec         *wire.HeaderDecoder
	emptyFrames  int // consecutive empty DATA frames without END_STREAM
	refused      int // OPENs refused for exceeding our limit
	resetTokens  float64
	resetRefill  time.Time
	decompressed []byte

	// Session credit the peer has left: taken by the reader, given back by
	// consumers, so atomic.
	recvWindow atomic.Int64
	// Session credit consumed by readers and not yet returned; guarded by
	// the writer's mutex because returning it writes a frame.
	recvUnsent int64

	acceptCh     chan *Stream
	bindSlots    chan struct{}
	lastRecv     atomic.Int64 // unix nanos of the last frame received
	rtt          atomic.Int64 // nanoseconds, last measured
	pingSent     atomic.Int64 // unix nanos of the outstanding PING, 0 if none
	pingPayload  atomic.Uint64
	pingWaiters  pingWaiters
	framesIn     atomic.Uint64
	bytesIn      atomic.Uint64
	closed       chan struct{}
	closeOnce    sync.Once
	err          error // why the session ended; set before closed is closed
	wg           sync.WaitGroup
	flushTimeout time.Duration
}

// Client performs the client side of the handshake on conn and returns the
// running session. On refusal the error is a *PeerError carrying the
// server's code and message. conn is closed if the handshake fails.
func Client(conn net.Conn, cfg Config) (*Session, error) {
	return newSession(conn, cfg, true)
}

// Server performs the server side of the handshake on conn: it reads the
// client's HELLO, picks a version, calls cfg.Authenticate, and answers.
// conn is closed if the handshake fails.
func Server(conn net.Conn, cfg Config) (*Session, error) {
	return newSession(conn, cfg, false)
}

func newSession(conn net.Conn, cfg Config, client bool) (*Session, error) {
	if err := cfg.Validate(); err != nil {
		conn.Close()
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Session{
		conn:         conn,
		client:       client,
		cfg:          cfg,
		local:        cfg.settings(),
		peer:         wire.DefaultSettings(),
		created:      time.Now(),
		streams:      make(map[uint32]*Stream),
		pendingBind:  make(map[uint32]chan wire.BindResult),
		closed:       make(chan struct{}),
		acceptCh:     make(chan *Stream, cfg.AcceptBacklog),
		bindSlots:    make(chan struct{}, cfg.MaxPendingBinds),
		resetTokens:  float64(cfg.MaxResetRate),
		flushTimeout: min(cfg.DeadPeerTimeout, 2*time.Second),
	}
	// Frames before the handshake completes are at most 16384 octets
	// (spec §3.2); the read buffer starts small and grows per frame.
	s.rd = wire.NewReader(conn, wire.MinMaxFrameSize, 16<<10)
	conn.SetDeadline(time.Now().Add(cfg.HandshakeTimeout))
	var err error
	if client {
		err = s.clientHandshake()
	} else {
		err = s.serverHandshake()
	}
	if err != nil {
		conn.Close()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return nil, &PeerError{Code: wire.ErrCodeTimeout, Message: "handshake did not complete within " + cfg.HandshakeTimeout.String()}
		}
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	s.start()
	return s, nil
}

func (s *Session) hello(ack bool, status wire.ErrCode, versions []uint16, meta wire.Metadata) []byte {
	h := wire.Hello{Versions: versions, Status: status, Settings: s.local.List(), Meta: meta}
	if ack {
		h.Flags = wire.FlagAck
	}
	return h.Append([]byte(wire.Preface))
}

func (s *Session) readHello() (*wire.Hello, error) {
	if err := s.rd.ReadPreface(); err != nil {
		return nil, err
	}
	h, p, err := s.rd.ReadFrame()
	if err != nil {
		return nil, err
	}
	if h.Type != wire.FrameHello {
		return nil, wire.ConnError{Code: wire.ErrCodeProtocol, Reason: h.Type.String() + " before HELLO"}
	}
	hello, err := wire.ParseHello(h, p)
	if err != nil {
		return nil, err
	}
	if hello.IsAck() == s.client {
		return &hello, nil
	}
	return nil, wire.ConnError{Code: wire.ErrCodeProtocol, Reason: "HELLO with the wrong ACK flag for its sender"}
}

func (s *Session) clientHandshake() error {
	if _, err := s.conn.Write(s.hello(false, 0, []uint16{wire.Version}, s.cfg.Meta)); err != nil {
		return err
	}
	hello, err := s.readHello()
	if err != nil {
		return err
	}
	if hello.Status != wire.ErrCodeNo {
		return &PeerError{Code: hello.Status, Message: hello.Meta.Get("message")}
	}
	if len(hello.Versions) != 1 || hello.Versions[0] != wire.Version {
		return wire.ConnError{Code: wire.ErrCodeProtocol, Reason: "server chose a version we did not offer"}
	}
	s.finishHandshake(hello)
	return nil
}

func (s *Session) serverHandshake() error {
	hello, err := s.readHello()
	if err != nil {
		return err
	}
	if !slices.Contains(hello.Versions, wire.Version) {
		s.conn.Write(s.hello(true, wire.ErrCodeVersionMismatch, []uint16{wire.Version},
			wire.Metadata{{Key: "message", Value: "no common protocol version: this edge speaks version 1; update the agent"}}))
		return &PeerError{Code: wire.ErrCodeVersionMismatch, Message: "client offered no version we speak"}
	}
	meta := s.cfg.Meta
	if s.cfg.Authenticate != nil {
		extra, err := s.cfg.Authenticate(s.conn, hello)
		if err != nil {
			pe, ok := err.(*PeerError)
			if !ok {
				pe = &PeerError{Code: wire.ErrCodeUnauthorized, Message: err.Error()}
			}
			s.conn.Write(s.hello(true, pe.Code, []uint16{wire.Version}, wire.Metadata{{Key: "message", Value: pe.Message}}))
			return pe
		}
		meta = append(slices.Clone(meta), extra...)
	}
	if _, err := s.conn.Write(s.hello(true, 0, []uint16{wire.Version}, meta)); err != nil {
		return err
	}
	s.finishHandshake(hello)
	return nil
}

func (s *Session) finishHandshake(hello *wire.Hello) {
	s.version = wire.Version
	s.peer.Apply(hello.Settings)
	s.peerMeta = hello.Meta
	s.compress = s.peer[wire.SettingCompression]&wire.CompressionS2 != 0
	s.rd.SetMaxFrameSize(s.cfg.MaxFrameSize)
	s.hdec = wire.NewHeaderDecoder(s.cfg.HeaderTableSize, s.cfg.MaxHeaderListSize)
	s.recvWindow.Store(int64(s.cfg.InitialSessionWindow))
	s.w.init(s)
	if s.client {
		s.w.nextID = 1
	} else {
		s.w.nextID = 2
	}
	s.lastRecv.Store(time.Now().UnixNano())
}

func (s *Session) start() {
	s.wg.Add(3)
	go s.readLoop()
	go s.writeLoop()
	go s.heartbeatLoop()
}

// Client reports whether this is the client end.
func (s *Session) IsClient() bool { return s.client }

// PeerMeta returns the metadata of the peer's HELLO (for a server, the
// client's authtoken, agent and instance; for a client, the account).
func (s *Session) PeerMeta() wire.Metadata { return s.peerMeta }

// PeerSettings returns the settings the peer announced.
func (s *Session) PeerSettings() wire.Settings { return s.peer }

// RemoteAddr returns the transport's remote address.
func (s *Session) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

// LocalAddr returns the transport's local address.
func (s *Session) LocalAddr() net.Addr { return s.conn.LocalAddr() }

// Created returns when the session was established.
func (s *Session) Created() time.Time { return s.created }

// RTT returns the last measured round-trip time, or 0 before the first
// PING is answered.
func (s *Session) RTT() time.Duration { return time.Duration(s.rtt.Load()) }

// Done returns a channel closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.closed }

// Err returns why the session ended, or nil while it runs. A session ended
// by Close reports ErrSessionClosed; one ended by the peer's GOAWAY with an
// error reports a *PeerError.
func (s *Session) Err() error {
	select {
	case <-s.closed:
		return s.err
	default:
		return nil
	}
}

// NumStreams returns the number of open streams.
func (s *Session) NumStreams() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.streams)
}

// GoingAway reports whether GOAWAY was sent or received: no new streams.
func (s *Session) GoingAway() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.goAwaySent || s.goAwayRecv
}

// Accept returns the next stream the peer opened. It fails once the
// session has ended. Not used when Config.OnStream is set.
func (s *Session) Accept() (*Stream, error) {
	select {
	case st := <-s.acceptCh:
		return st, nil
	case <-s.closed:
		return nil, s.err
	}
}

// OpenOptions describe a stream to open (spec §11.3).
type OpenOptions struct {
	TunnelID   uint32
	Kind       wire.StreamKind
	RemoteAddr string
	Meta       wire.Metadata
	// Receiver, when set, receives the stream's frames by callback instead
	// of buffering them for Read (the non-blocking face of a Stream).
	Receiver Receiver
	// Compress asks that DATA sent on the stream be S2-compressed when the
	// peer supports it and a frame shrinks.
	Compress bool
}

// Open opens a stream. It never blocks: when the peer's concurrency limit
// is reached it returns ErrStreamLimit at once, so that the caller can try
// another session.
func (s *Session) Open(o OpenOptions) (*Stream, error) {
	if len(o.RemoteAddr) > wire.MaxRemoteAddrLen {
		o.RemoteAddr = o.RemoteAddr[:wire.MaxRemoteAddrLen]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return nil, s.closedErr()
	default:
	}
	if s.goAwaySent || s.goAwayRecv {
		return nil, ErrGoAway
	}
	if uint32(s.localOpen) >= s.peer[wire.SettingMaxConcurrentStreams] {
		return nil, ErrStreamLimit
	}
	st := newStream(s, 0, o)
	if err := s.w.open(st, o); err != nil {
		return nil, err
	}
	s.streams[st.id] = st
	s.localOpen++
	return st, nil
}

// GoAway tells the peer to open no new streams and refuses new streams
// from now on (spec §8). Streams already open continue.
func (s *Session) GoAway(code wire.ErrCode, debug string) {
	s.mu.Lock()
	last := s.lastPeerID
	s.goAwaySent = true
	s.checkDrainedLocked()
	s.mu.Unlock()
	s.w.control(func(b []byte) []byte {
		return (&wire.GoAway{LastStreamID: last, Code: code, Debug: debug}).Append(b)
	}, false)
}

// Drain sends GOAWAY, waits until every stream has finished or ctx is
// done, then closes the session. It returns ctx's error if streams were
// cut off.
func (s *Session) Drain(ctx context.Context, debug string) error {
	s.GoAway(wire.ErrCodeNo, debug)
	s.mu.Lock()
	if s.drained == nil {
		s.drained = make(chan struct{})
		s.checkDrainedLocked()
	}
	drained := s.drained
	s.mu.Unlock()
	var err error
	select {
	case <-drained:
	case <-s.closed:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.Close()
	return err
}

// Drained returns a channel closed once the session has sent or received
// GOAWAY and has no streams left, or has ended.
func (s *Session) Drained() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drained == nil {
		s.drained = make(chan struct{})
		s.checkDrainedLocked()
	}
	return s.drained
}

func (s *Session) checkDrainedLocked() {
	if s.drained != nil && (s.goAwaySent || s.goAwayRecv) && len(s.streams) == 0 && !isClosed(s.drained) {
		close(s.drained)
	}
}

// Close ends the session at once: it sends GOAWAY (NO_ERROR) if it can,
// fails every open stream, and waits for the session's goroutines to end.
func (s *Session) Close() error {
	s.closeWith(ErrSessionClosed, wire.ErrCodeNo, "session closed")
	s.wg.Wait()
	return nil
}

// CloseWithError ends the session, telling the peer code and msg in GOAWAY
// (for instance REVOKED and "authtoken revoked").
func (s *Session) CloseWithError(code wire.ErrCode, msg string) error {
	s.closeWith(&PeerError{Code: code, Message: msg}, code, msg)
	s.wg.Wait()
	return nil
}

// closeWith ends the session once. It may be called from any goroutine,
// including the session's own; it does not wait for them.
func (s *Session) closeWith(err error, code wire.ErrCode, debug string) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		last := s.lastPeerID
		s.err = err
		streams := make([]*Stream, 0, len(s.streams))
		for _, st := range s.streams {
			streams = append(streams, st)
		}
		s.mu.Unlock()
		s.w.shutdown(func(b []byte) []byte {
			return (&wire.GoAway{LastStreamID: last, Code: code, Debug: debug}).Append(b)
		})
		close(s.closed)
		for _, st := range streams {
			st.sessionClosed(s.closedErr())
		}
		s.mu.Lock()
		for _, ch := range s.pendingBind {
			close(ch)
		}
		clear(s.pendingBind)
		if s.drained != nil && !isClosed(s.drained) {
			close(s.drained)
		}
		s.mu.Unlock()
	})
}

// closedErr is the error operations return after the session ended.
func (s *Session) closedErr() error {
	if s.err == nil || s.err == ErrSessionClosed {
		return ErrSessionClosed
	}
	return s.err
}

// fail ends the session because of err, mapped to the code the peer sees.
func (s *Session) fail(err error) {
	var ce wire.ConnError
	switch {
	case errors.As(err, &ce):
		s.closeWith(err, ce.Code, ce.Reason)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		s.closeWith(err, wire.ErrCodeNo, "")
	default:
		s.closeWith(err, wire.ErrCodeInternal, err.Error())
	}
}

// removeStream forgets a stream that is closed in both directions.
func (s *Session) removeStream(st *Stream) {
	s.mu.Lock()
	if s.streams[st.id] == st {
		delete(s.streams, st.id)
		if st.local {
			s.localOpen--
		} else {
			s.peerOpen--
		}
	}
	s.checkDrainedLocked()
	s.mu.Unlock()
}

// Stats is a snapshot of a session's counters.
type Stats struct {
	Streams   int
	RTT       time.Duration
	FramesIn  uint64
	BytesIn   uint64
	FramesOut uint64
	BytesOut  uint64
	Writes    uint64 // calls to the transport's Write
}

// Stats returns the session's counters.
func (s *Session) Stats() Stats {
	return Stats{
		Streams:   s.NumStreams(),
		RTT:       s.RTT(),
		FramesIn:  s.framesIn.Load(),
		BytesIn:   s.bytesIn.Load(),
		FramesOut: s.w.framesOut.Load(),
		BytesOut:  s.w.bytesOut.Load(),
		Writes:    s.w.writes.Load(),
	}
}

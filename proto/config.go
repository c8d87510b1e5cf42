// Package proto runs the wsgrok protocol (spec/PROTOCOL.md) over any
// net.Conn: the handshake, multiplexed streams with flow control,
// heartbeats, GOAWAY drain and the limits that keep a bad peer bounded.
//
// Each Session has one reader goroutine, one writer goroutine and one
// heartbeat goroutine. Frames are encoded straight into a shared write
// buffer that the writer hands to the connection in as few writes as the
// load allows.
//
// A Stream has two faces. Goroutine code uses it as a blocking net.Conn
// (Read, Write, CloseWrite, deadlines). Event-loop code that must never
// block sets a Receiver and uses TryWrite and Consumed: data arrives by
// callback, writes take what the window allows, and credit goes back to
// the peer only when the caller says the bytes have left.
package proto

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/wsgrok/wsgrok/wire"
)

// Config configures a Session. The zero value of every field means its
// default; DefaultConfig spells the defaults out.
type Config struct {
	// MaxFrameSize is the largest frame payload we accept, announced as
	// MAX_FRAME_SIZE. It also bounds header blocks the peer sends us.
	// Default 65536; 16384 to 16777215.
	MaxFrameSize uint32

	// InitialStreamWindow is the credit each stream grants the peer,
	// announced as INITIAL_STREAM_WINDOW: the most a stream buffers for a
	// reader that does not read. Default 256 KiB.
	InitialStreamWindow uint32

	// InitialSessionWindow is the credit the session grants the peer across
	// all streams, announced as INITIAL_SESSION_WINDOW. Default 16 MiB.
	InitialSessionWindow uint32

	// MaxConcurrentStreams is how many streams the peer may have open that
	// it opened, announced as MAX_CONCURRENT_STREAMS. Default 1024. Set
	// RefuseStreams to allow none.
	MaxConcurrentStreams uint32
	// RefuseStreams announces MAX_CONCURRENT_STREAMS 0: the peer may not
	// open streams at all (an edge that only opens streams to agents).
	RefuseStreams bool

	// AcceptBacklog bounds streams opened by the peer that Accept has not
	// yet returned; more are refused with REFUSED_STREAM. Default 256.
	AcceptBacklog int

	// HeartbeatInterval is how often we PING, announced as
	// HEARTBEAT_INTERVAL. Default 5 s.
	HeartbeatInterval time.Duration

	// DeadPeerTimeout is how long the peer may be silent, or our writes may
	// make no progress, before the session is closed with TIMEOUT (spec §7).
	// Default 15 s; at least twice the peer's heartbeat interval.
	DeadPeerTimeout time.Duration

	// HandshakeTimeout bounds the preface and HELLO exchange. Default 10 s.
	HandshakeTimeout time.Duration

	// Compression announces that we decode S2-compressed DATA, and lets
	// streams that ask for it compress what they send when the peer
	// announced the same. Default off.
	Compression bool

	// HeaderTableSize is our HPACK decoder's dynamic table size, announced
	// as HEADER_TABLE_SIZE. Default 4096; at most 65536.
	HeaderTableSize uint32

	// MaxHeaderListSize bounds a decoded header list, announced as
	// MAX_HEADER_LIST_SIZE. Default 65536.
	MaxHeaderListSize uint32

	// MaxControlQueue bounds answers (PING ACK, RESET) queued for a peer
	// that does not read them; beyond it the session ends with
	// ENHANCE_YOUR_CALM (CVE-2019-9512, CVE-2019-9514). Default 1024.
	MaxControlQueue int

	// MaxResetRate bounds the RESET frames per second the peer may send
	// before the session ends with ENHANCE_YOUR_CALM (CVE-2023-44487 rapid
	// reset), with bursts up to the same number. Default 2000.
	MaxResetRate int

	// WriteBufferHigh is how many encoded octets may wait for the writer
	// before stream writes wait for it. Default 1 MiB.
	WriteBufferHigh int

	// Meta is sent in our HELLO: the client's credentials and description,
	// or the server's account and edge names.
	Meta wire.Metadata

	// Authenticate, on a server, vets the client's HELLO before the session
	// exists. Return the metadata to add to our HELLO, or an error: a
	// *PeerError chooses the code and message the client sees; any other
	// error is sent as UNAUTHORIZED with its text.
	Authenticate func(conn net.Conn, hello *wire.Hello) (wire.Metadata, error)

	// OnBind, on a server, answers a client's BIND. It runs on its own
	// goroutine, at most MaxPendingBinds at once per session.
	OnBind func(s *Session, b wire.Bind) wire.BindResult
	// MaxPendingBinds bounds BINDs awaiting an answer. Default 16.
	MaxPendingBinds int

	// OnUnbind is called when the peer sends UNBIND. It runs on the reader
	// goroutine and must not block.
	OnUnbind func(s *Session, u wire.Unbind)

	// OnStream, when set, receives each stream the peer opens, on the
	// reader goroutine, instead of Accept. It must not block (start a
	// goroutine).
	OnStream func(st *Stream)
}

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	return Config{
		MaxFrameSize:         65536,
		InitialStreamWindow:  256 << 10,
		InitialSessionWindow: 16 << 20,
		MaxConcurrentStreams: 1024,
		AcceptBacklog:        256,
		HeartbeatInterval:    5 * time.Second,
		DeadPeerTimeout:      15 * time.Second,
		HandshakeTimeout:     10 * time.Second,
		HeaderTableSize:      4096,
		MaxHeaderListSize:    65536,
		MaxControlQueue:      1024,
		MaxResetRate:         2000,
		WriteBufferHigh:      1 << 20,
		MaxPendingBinds:      16,
	}
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *uint32, dv uint32) {
		if *v == 0 {
			*v = dv
		}
	}
	set(&c.MaxFrameSize, d.MaxFrameSize)
	set(&c.InitialStreamWindow, d.InitialStreamWindow)
	set(&c.InitialSessionWindow, d.InitialSessionWindow)
	set(&c.MaxConcurrentStreams, d.MaxConcurrentStreams)
	set(&c.HeaderTableSize, d.HeaderTableSize)
	set(&c.MaxHeaderListSize, d.MaxHeaderListSize)
	setD := func(v *time.Duration, dv time.Duration) {
		if *v == 0 {
			*v = dv
		}
	}
	setD(&c.HeartbeatInterval, d.HeartbeatInterval)
	setD(&c.DeadPeerTimeout, d.DeadPeerTimeout)
	setD(&c.HandshakeTimeout, d.HandshakeTimeout)
	setI := func(v *int, dv int) {
		if *v == 0 {
			*v = dv
		}
	}
	setI(&c.AcceptBacklog, d.AcceptBacklog)
	setI(&c.MaxControlQueue, d.MaxControlQueue)
	setI(&c.MaxResetRate, d.MaxResetRate)
	setI(&c.WriteBufferHigh, d.WriteBufferHigh)
	setI(&c.MaxPendingBinds, d.MaxPendingBinds)
	return c
}

// Validate reports the first field outside its range.
func (c Config) Validate() error {
	c = c.withDefaults()
	announced := c.settings()
	for _, s := range announced.List() {
		if err := s.Valid(); err != nil {
			return fmt.Errorf("wsgrok: config: %w", err)
		}
	}
	if c.HeartbeatInterval < 100*time.Millisecond || c.HeartbeatInterval > 600*time.Second {
		return errors.New("wsgrok: config: HeartbeatInterval must be 100ms to 10m")
	}
	if c.DeadPeerTimeout < 2*c.HeartbeatInterval {
		return errors.New("wsgrok: config: DeadPeerTimeout must be at least twice HeartbeatInterval")
	}
	return nil
}

// settings returns what we announce in HELLO.
func (c Config) settings() wire.Settings {
	s := wire.DefaultSettings()
	s[wire.SettingMaxFrameSize] = c.MaxFrameSize
	s[wire.SettingInitialStreamWindow] = c.InitialStreamWindow
	s[wire.SettingInitialSessionWindow] = c.InitialSessionWindow
	s[wire.SettingMaxConcurrentStreams] = c.MaxConcurrentStreams
	if c.RefuseStreams {
		s[wire.SettingMaxConcurrentStreams] = 0
	}
	s[wire.SettingHeartbeatInterval] = uint32(c.HeartbeatInterval / time.Millisecond)
	s[wire.SettingHeaderTableSize] = c.HeaderTableSize
	s[wire.SettingMaxHeaderListSize] = c.MaxHeaderListSize
	if c.Compression {
		s[wire.SettingCompression] = wire.CompressionS2
	}
	return s
}

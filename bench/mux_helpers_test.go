package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/xtaci/smux"
	"go.uber.org/goleak"

	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/proto/prototest"
	"github.com/wsgrok/wsgrok/wire"
)

// TestMain fails the run if a benchmark or test leaves goroutines behind
// (every session of every multiplexer must be closed).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// --- multiplexers ---

// muxSession is the face of one end of a multiplexed session that the
// scenarios need: open a stream, accept one, and close everything.
type muxSession interface {
	Open() (net.Conn, error)
	Accept() (net.Conn, error)
	Close() error
}

// muxImpl names a multiplexer and starts a client and a server session
// over a connected pair of transports.
type muxImpl struct {
	name  string
	start func(c, s net.Conn) (client, server muxSession, err error)
}

var muxes = []muxImpl{
	{"wsgrok", startWsgrok},
	{"yamux", startYamux},
	{"smux", startSmux},
}

type transport struct {
	name string
	pair func(tb testing.TB) (client, server net.Conn)
}

var transports = []transport{
	{"tcp", prototest.TCP},
	{"tls", prototest.TLS},
	{"tlsbatch", prototest.BatchedTLS}, // TLS records gathered per write, as the edge and agent ship
}

// wsgrok: proto's defaults (256 KiB per stream, 16 MiB per session,
// 64 KiB frames, heartbeat every 5 s).

type wsgrokSession struct{ s *proto.Session }

func (w wsgrokSession) Open() (net.Conn, error) {
	st, err := w.s.Open(proto.OpenOptions{TunnelID: 1, Kind: wire.KindTCP})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (w wsgrokSession) Accept() (net.Conn, error) {
	st, err := w.s.Accept()
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (w wsgrokSession) Close() error { return w.s.Close() }

func startWsgrok(c, s net.Conn) (muxSession, muxSession, error) {
	type res struct {
		s   *proto.Session
		err error
	}
	ch := make(chan res, 1)
	go func() {
		ss, err := proto.Server(s, proto.Config{})
		ch <- res{ss, err}
	}()
	cs, cerr := proto.Client(c, proto.Config{})
	r := <-ch
	if cerr != nil || r.err != nil {
		if cs != nil {
			cs.Close()
		}
		if r.s != nil {
			r.s.Close()
		}
		return nil, nil, errors.Join(cerr, r.err)
	}
	return wsgrokSession{cs}, wsgrokSession{r.s}, nil
}

// yamux: defaults, but a 256 KiB stream window like ours (yamux has no
// session window) and its log silenced (it logs every closed session).

type yamuxSession struct{ s *yamux.Session }

func (y yamuxSession) Open() (net.Conn, error)   { return y.s.Open() }
func (y yamuxSession) Accept() (net.Conn, error) { return y.s.Accept() }
func (y yamuxSession) Close() error              { return y.s.Close() }

func yamuxConfig() *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.MaxStreamWindowSize = 256 << 10
	cfg.LogOutput = io.Discard
	return cfg
}

func startYamux(c, s net.Conn) (muxSession, muxSession, error) {
	ss, err := yamux.Server(s, yamuxConfig())
	if err != nil {
		return nil, nil, err
	}
	cs, err := yamux.Client(c, yamuxConfig())
	if err != nil {
		ss.Close()
		return nil, nil, err
	}
	return yamuxSession{cs}, yamuxSession{ss}, nil
}

// smux: defaults (32 KiB frames), but protocol version 2 (per-stream flow
// control) with windows like ours: 256 KiB per stream, 16 MiB per session.

type smuxSession struct{ s *smux.Session }

func (m smuxSession) Open() (net.Conn, error) {
	st, err := m.s.OpenStream()
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (m smuxSession) Accept() (net.Conn, error) {
	st, err := m.s.AcceptStream()
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (m smuxSession) Close() error { return m.s.Close() }

func smuxConfig() *smux.Config {
	cfg := smux.DefaultConfig()
	cfg.Version = 2
	cfg.MaxStreamBuffer = 256 << 10
	cfg.MaxReceiveBuffer = 16 << 20
	return cfg
}

func startSmux(c, s net.Conn) (muxSession, muxSession, error) {
	ss, err := smux.Server(s, smuxConfig())
	if err != nil {
		return nil, nil, err
	}
	cs, err := smux.Client(c, smuxConfig())
	if err != nil {
		ss.Close()
		return nil, nil, err
	}
	return smuxSession{cs}, smuxSession{ss}, nil
}

// --- a running pair ---

// watchdogLimit bounds how long one pair may live: past it the transport
// is closed, which fails every blocked read and write, so that a hung
// multiplexer ends a run with an error instead of the test timeout.
const watchdogLimit = 2 * time.Minute

// pair is a client session and a server session over one transport. The
// server accepts every stream and runs handler on it in its own goroutine.
type pair struct {
	client, server muxSession
	conns          [2]net.Conn
	handler        func(net.Conn) error

	wg       sync.WaitGroup // the accept loop and every handler
	closing  atomic.Bool
	timedOut atomic.Bool
	watchdog *time.Timer

	mu  sync.Mutex
	err error // the first handler error seen before closing
}

func newPair(tb testing.TB, m muxImpl, tr transport, handler func(net.Conn) error) *pair {
	tb.Helper()
	c, s := tr.pair(tb)
	cs, ss, err := m.start(c, s)
	if err != nil {
		tb.Fatalf("%s over %s: %v", m.name, tr.name, err)
	}
	p := &pair{client: cs, server: ss, conns: [2]net.Conn{c, s}, handler: handler}
	p.watchdog = time.AfterFunc(watchdogLimit, func() {
		p.timedOut.Store(true)
		c.Close()
		s.Close()
	})
	p.wg.Add(1)
	go p.acceptLoop()
	return p
}

func (p *pair) acceptLoop() {
	defer p.wg.Done()
	for {
		st, err := p.server.Accept()
		if err != nil {
			return // the session is closed
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer st.Close()
			if err := p.handler(st); err != nil && !p.closing.Load() {
				p.mu.Lock()
				if p.err == nil {
					p.err = err
				}
				p.mu.Unlock()
			}
		}()
	}
}

// close ends both sessions and the transport, waits for the server's
// goroutines, and reports handler errors and hangs.
func (p *pair) close(tb testing.TB) {
	tb.Helper()
	p.closing.Store(true)
	p.watchdog.Stop()
	p.client.Close()
	p.server.Close()
	p.conns[0].Close()
	p.conns[1].Close()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		tb.Error("server handlers still running 10s after the sessions were closed")
	}
	if p.timedOut.Load() {
		tb.Errorf("pair ran past the %v watchdog; its transport was closed", watchdogLimit)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		tb.Errorf("server: %v", p.err)
	}
}

// --- bulk: the client sends 64 KiB chunks, the server reads them ---

const chunkSize = 64 << 10

// endMark in a chunk's sequence field ends a bulk stream: the server
// answers with the number of chunks it received.
const endMark = ^uint64(0)

// pattern is what every chunk carries after its 8-octet sequence number
// (and what the echo messages carry after theirs).
var pattern = func() []byte {
	b := make([]byte, chunkSize)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}()

// bulkServer reads chunks until the end mark, checks their sequence
// numbers (and, with verify, their contents), and answers with the count.
func bulkServer(verify bool) func(net.Conn) error {
	return func(c net.Conn) error {
		buf := make([]byte, chunkSize)
		var want uint64
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return fmt.Errorf("bulk: after %d chunks: %w", want, err)
			}
			seq := binary.LittleEndian.Uint64(buf)
			if seq == endMark {
				var ack [8]byte
				binary.LittleEndian.PutUint64(ack[:], want)
				_, err := c.Write(ack[:])
				return err
			}
			if seq != want {
				return fmt.Errorf("bulk: chunk %d arrived as %d", want, seq)
			}
			if verify && !bytes.Equal(buf[8:], pattern[8:]) {
				return fmt.Errorf("bulk: chunk %d corrupted", want)
			}
			want++
		}
	}
}

// bulkSender is the client end of one bulk stream.
type bulkSender struct {
	c   net.Conn
	buf []byte
	seq uint64
}

func newBulkSender(p *pair) (*bulkSender, error) {
	c, err := p.client.Open()
	if err != nil {
		return nil, err
	}
	return &bulkSender{c: c, buf: bytes.Clone(pattern)}, nil
}

// step sends one chunk.
func (s *bulkSender) step() error {
	binary.LittleEndian.PutUint64(s.buf, s.seq)
	if _, err := s.c.Write(s.buf); err != nil {
		return fmt.Errorf("bulk: write chunk %d: %w", s.seq, err)
	}
	s.seq++
	return nil
}

// finish sends the end mark, waits until the server has read every chunk,
// checks the count and closes the stream.
func (s *bulkSender) finish() error {
	defer s.c.Close()
	binary.LittleEndian.PutUint64(s.buf, endMark)
	if _, err := s.c.Write(s.buf); err != nil {
		return fmt.Errorf("bulk: write end mark: %w", err)
	}
	var ack [8]byte
	if _, err := io.ReadFull(s.c, ack[:]); err != nil {
		return fmt.Errorf("bulk: read count: %w", err)
	}
	if got := binary.LittleEndian.Uint64(ack[:]); got != s.seq {
		return fmt.Errorf("bulk: server received %d chunks, sent %d", got, s.seq)
	}
	return nil
}

// openSenders opens k bulk streams.
func openSenders(p *pair, k int) ([]*bulkSender, error) {
	ss := make([]*bulkSender, k)
	for i := range ss {
		s, err := newBulkSender(p)
		if err != nil {
			return nil, err
		}
		ss[i] = s
	}
	return ss, nil
}

// runParallel sends n chunks in all, split evenly over the senders, each
// on its own goroutine, and waits until the server has read them all.
func runParallel(tb testing.TB, senders []*bulkSender, n int) {
	var wg sync.WaitGroup
	for i, s := range senders {
		k := n / len(senders)
		if i < n%len(senders) {
			k++
		}
		wg.Go(func() {
			for range k {
				if err := s.step(); err != nil {
					tb.Error(err)
					return
				}
			}
			if err := s.finish(); err != nil {
				tb.Error(err)
			}
		})
	}
	wg.Wait()
}

// --- rtt: 64-octet messages echoed one at a time ---

const msgSize = 64

// echoServer returns every 64-octet message it reads until the client
// closes the stream.
func echoServer(c net.Conn) error {
	buf := make([]byte, msgSize)
	for {
		n, err := io.ReadFull(c, buf)
		if err != nil {
			if n == 0 {
				return nil // the client is done (EOF, or its close raced ours)
			}
			return fmt.Errorf("echo: partial message: %w", err)
		}
		if _, err := c.Write(buf); err != nil {
			return fmt.Errorf("echo: write: %w", err)
		}
	}
}

// echoClient is the client end of an echo stream.
type echoClient struct {
	c          net.Conn
	msg, reply []byte
	seq        uint64
}

func newEchoClient(p *pair) (*echoClient, error) {
	c, err := p.client.Open()
	if err != nil {
		return nil, err
	}
	return &echoClient{c: c, msg: bytes.Clone(pattern[:msgSize]), reply: make([]byte, msgSize)}, nil
}

// step makes one round trip and checks the echo.
func (e *echoClient) step() error {
	binary.LittleEndian.PutUint64(e.msg, e.seq)
	if _, err := e.c.Write(e.msg); err != nil {
		return fmt.Errorf("echo %d: write: %w", e.seq, err)
	}
	if _, err := io.ReadFull(e.c, e.reply); err != nil {
		return fmt.Errorf("echo %d: read: %w", e.seq, err)
	}
	if !bytes.Equal(e.msg, e.reply) {
		return fmt.Errorf("echo %d: got back % x", e.seq, e.reply[:16])
	}
	e.seq++
	return nil
}

func (e *echoClient) finish() error { return e.c.Close() }

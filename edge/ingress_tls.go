package edge

import (
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// HTTPS/1.1 on the event loops. net/http on a tls.Conn spends a goroutine
// and a background read per request, and a blocking write to the client;
// the edge's CPU per small https GET was about 1.7 times the plain
// ingress's (bench/README.md). Here a connection's TLS handshake runs on
// a goroutine over the blocking socket, as net/http's would. If it
// negotiates http/1.1 (or no ALPN), the connection is enrolled in a gnet
// engine and served by the same hconn code as plain HTTP: its tls.Conn
// decrypts what the loop has read (switchConn's reads never block: an
// empty buffer is a temporary error, which crypto/tls does not keep), and
// encrypts into a non-blocking write that queues what the socket does not
// take. Anything else (h2, acme-tls/1) and every hand-off (large or
// chunked uploads, Upgrade, Expect) goes to net/http as before.

// errWouldBlock is switchConn's read error when no ciphertext is waiting.
var errWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "wsgrok: tls: no ciphertext buffered" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

// switchConn is the transport under a tls.Conn: the socket while
// handshaking and after a hand-off to net/http, and in between, on the
// loop, a read buffer and a non-blocking write. Only the loop changes
// mode (before enrolling, and when handing off), at moments no other
// goroutine uses the tls.Conn.
type switchConn struct {
	net.Conn      // the socket: handshake, and after a hand-off its duplicate
	loop     bool // on the loop
	hc       *hconn
	raw      []byte // ciphertext read by the loop, not yet taken; loop only

	mu   sync.Mutex
	pend []byte // ciphertext the socket did not take, for the loop to queue
	busy bool   // gnet's outbound buffer held bytes when the loop last looked
}

func (s *switchConn) Read(p []byte) (int, error) {
	if !s.loop {
		return s.Conn.Read(p)
	}
	if len(s.raw) == 0 {
		return 0, errWouldBlock
	}
	n := copy(p, s.raw)
	s.raw = s.raw[n:]
	if len(s.raw) == 0 {
		s.raw = nil
	}
	return n, nil
}

// Write never blocks on the loop: what the socket does not take waits in
// pend, behind which every later write queues, until the loop hands it to
// gnet (flush). Callers off the loop hold hc.mu with the connection open,
// so the descriptor is this connection's, and wake the loop when
// something was queued (writeDirectLocked); it cannot be woken from here,
// under hc.mu.
func (s *switchConn) Write(p []byte) (int, error) {
	if !s.loop {
		return s.Conn.Write(p)
	}
	s.mu.Lock()
	n := 0
	if len(s.pend) == 0 && !s.busy {
		n = writeFd(s.hc.c.Fd(), [][]byte{p})
	}
	if n < len(p) {
		if s.pend == nil {
			s.pend = getOut()
		}
		s.pend = append(s.pend, p[n:]...)
	}
	s.mu.Unlock()
	return len(p), nil
}

// flush hands queued ciphertext to gnet, which writes it as the socket
// drains. Loop only.
func (s *switchConn) flush() {
	s.mu.Lock()
	if len(s.pend) > 0 {
		s.hc.c.Write(s.pend)
		putOut(s.pend)
		s.pend = nil
	}
	s.busy = s.hc.c.OutboundBuffered() > 0
	s.mu.Unlock()
}

// queuedLocked is how much ciphertext waits in this process, or -1 when
// gnet holds some (whose size only the loop may read). Under s.mu.
func (s *switchConn) queuedLocked() int {
	if s.busy {
		return -1
	}
	return len(s.pend)
}

// tlsLink is the TLS state of an hconn.
type tlsLink struct {
	tc    *tls.Conn
	sc    *switchConn
	plain []byte // decrypted octets not yet parsed, from off; loop only
	off   int
	wbuf  []byte // scratch for writeTLSLocked; under hc.mu
}

// maxPlainAhead bounds what the loop decrypts ahead of the request it
// serves; the rest waits as ciphertext (in gnet's buffer and tls.Conn's).
const maxPlainAhead = 256 << 10

// fill takes what arrived and decrypts it. Loop only.
func (tl *tlsLink) fill(c gnet.Conn) error {
	if b, _ := c.Next(-1); len(b) > 0 {
		tl.sc.raw = append(tl.sc.raw, b...)
	}
	for len(tl.plain)-tl.off < maxPlainAhead {
		if cap(tl.plain)-len(tl.plain) < 2<<10 {
			tl.compact()
		}
		n, err := tl.tc.Read(tl.plain[len(tl.plain):cap(tl.plain)])
		tl.plain = tl.plain[:len(tl.plain)+n]
		if err != nil {
			if errors.Is(err, errWouldBlock) {
				err = nil
			}
			if len(tl.plain) == tl.off {
				tl.release()
			}
			return err
		}
	}
	return nil
}

// compact makes room in plain: unparsed octets move to the front, and a
// full buffer grows.
func (tl *tlsLink) compact() {
	rest := tl.plain[tl.off:]
	if tl.plain == nil || cap(tl.plain)-len(rest) < 2<<10 {
		b := make([]byte, len(rest), max(16<<10, 2*cap(tl.plain)))
		copy(b, rest)
		tl.plain = b
	} else {
		tl.plain = tl.plain[:copy(tl.plain, rest)]
	}
	tl.off = 0
}

// release drops the buffer of an idle connection.
func (tl *tlsLink) release() { tl.plain, tl.off = nil, 0 }

func (hc *hconn) ingress() string {
	if hc.tl != nil {
		return "https"
	}
	return "http"
}

// peek returns the received octets not yet parsed. Loop only.
func (hc *hconn) peek() []byte {
	if tl := hc.tl; tl != nil {
		return tl.plain[tl.off:]
	}
	b, _ := hc.c.Peek(-1)
	return b
}

func (hc *hconn) discard(n int) {
	tl := hc.tl
	if tl == nil {
		hc.c.Discard(n)
		return
	}
	tl.off += n
	if tl.off >= len(tl.plain) {
		tl.release()
	}
}

// write sends b from the loop.
func (hc *hconn) write(b []byte) {
	if tl := hc.tl; tl != nil {
		tl.sc.flush()
		tl.tc.Write(b)
		tl.sc.flush()
		return
	}
	hc.c.Write(b)
}

// outbound is how many octets of ours wait to be written. Loop only.
func (hc *hconn) outbound() int {
	n := hc.c.OutboundBuffered()
	if tl := hc.tl; tl != nil {
		tl.sc.mu.Lock()
		n += len(tl.sc.pend)
		tl.sc.mu.Unlock()
	}
	return n
}

// writeTLSLocked encrypts iov as one record (or as few as its size
// needs) and writes it without blocking; under hc.mu. It returns the
// ciphertext that waits in this process, -1 if unknown.
func (hc *hconn) writeTLSLocked(iov [][]byte) int {
	tl := hc.tl
	b := tl.wbuf[:0]
	for _, p := range iov {
		b = append(b, p...)
	}
	if len(b) > 0 {
		tl.tc.Write(b)
	}
	if cap(b) <= 64<<10 {
		tl.wbuf = b[:0]
	} else {
		tl.wbuf = nil
	}
	tl.sc.mu.Lock()
	q := tl.sc.queuedLocked()
	tl.sc.mu.Unlock()
	return q
}

// tlsEngine is the handler of the gnet engine the TLS connections are
// enrolled in: the ingress's, but OnBoot is the listening engine's.
type tlsEngine struct{ *httpIngress }

func (tlsEngine) OnBoot(gnet.Engine) gnet.Action { return gnet.None }

// runTLS starts the engine for TLS connections and accepts them from ln;
// conns that stay with net/http go to in.handoff.
func (in *httpIngress) runTLS(ln net.Listener, cfg *tls.Config, loops int) error {
	in.conns = map[*hconn]struct{}{}
	in.tlsCfg = cfg
	cli, err := gnet.NewClient(tlsEngine{in}, gnet.WithMulticore(loops != 1), gnet.WithNumEventLoop(loops),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithReadBufferCap(64<<10), gnet.WithLogger(gnetLogger{in.log}))
	if err == nil {
		err = cli.Start()
	}
	if err != nil {
		return err
	}
	in.cli = cli
	go in.acceptTLS(ln)
	return nil
}

func (in *httpIngress) acceptTLS(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond) // out of descriptors: let some close
				continue
			}
			return
		}
		go in.handshake(c)
	}
}

// handshake runs a connection's TLS handshake, within the header timeout
// (a slow handshake is slowloris too), and sends it on.
func (in *httpIngress) handshake(c net.Conn) {
	sc := &switchConn{Conn: c}
	tc := tls.Server(sc, in.tlsCfg)
	if in.headerTO > 0 {
		c.SetDeadline(time.Now().Add(in.headerTO))
	}
	if err := tc.Handshake(); err != nil {
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	if p := tc.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
		if !in.handoff.push(tc) {
			c.Close()
		}
		return
	}
	hc := &hconn{in: in, tl: &tlsLink{tc: tc, sc: sc}}
	sc.hc = hc
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		hc.setRemote(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	}
	sc.loop = true // the loop is the tls.Conn's only user from here
	if _, err := in.cli.EnrollContext(c, hc); err != nil {
		in.log.Warn("https: cannot put a connection on the event loop", "err", err)
		c.Close()
	}
}

// handOffTLS moves a TLS connection to net/http before its body is read:
// the tls.Conn goes on over a duplicate of the socket, behind the octets
// the loop decrypted already. Loop only, with nothing of ours waiting to
// be written (the caller checks): those octets would go out behind the
// ones net/http writes.
func (hc *hconn) handOffTLS(buf []byte) gnet.Action {
	fd, err := hc.c.Dup()
	if err != nil {
		return hc.refuse(errAgentFailed)
	}
	f := os.NewFile(uintptr(fd), "handoff")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		hc.in.log.Warn("handoff failed", "err", err)
		return gnet.Close
	}
	tl := hc.tl
	tl.sc.Conn, tl.sc.loop = nc, false
	prefix := append([]byte(nil), buf...)
	hc.handedOff = true
	hc.in.m.handoffs.Inc()
	pc := &prefixConn{Conn: tl.tc, prefix: prefix, remote: net.TCPAddrFromAddrPort(hc.remote)}
	go func() {
		if !hc.in.handoff.push(pc) {
			nc.Close()
		}
	}()
	return gnet.Close
}

// handedOffTLS is the TLS state of a connection net/http was handed by
// the loop, or nil (http.Server's ConnContext puts it in each request's
// context, as r.TLS cannot be).
func handedOffTLS(c net.Conn) *tls.ConnectionState {
	if pc, ok := c.(*prefixConn); ok {
		if tc, ok := pc.Conn.(*tls.Conn); ok {
			cs := tc.ConnectionState()
			return &cs
		}
	}
	return nil
}

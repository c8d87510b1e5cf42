package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/wire"
)

// httpIngress is the public plain-HTTP/1.1 listener, on a gnet event loop.
// The loop owns its connections and never blocks: session goroutines hand
// response bytes in under a small per-connection lock and wake the loop.
//
// A request whose body is small and already here is served on the loop.
// Anything that could make the loop buffer without bound (a large or
// chunked upload, Upgrade, Expect: 100-continue) is handed to net/http on
// a duplicate of the socket (Conn.Dup, net.FileConn): gnet cannot stop
// reading one connection (gnet issues #712, #722), so such a connection
// must leave the loop before its body arrives. There, reads wait for
// stream credit, and memory stays within the window.
type httpIngress struct {
	gnet.BuiltinEventEngine
	f         *forwarder
	m         *edgeMetrics
	log       *slog.Logger
	trusted   TrustedNets
	maxHead   int
	fastBody  int
	headerTO  time.Duration
	idleTO    time.Duration
	handoff   *chanListener
	handoffTO time.Duration
	tlsCfg    *tls.Config  // the https ingress: TLS terminated on the loop
	cli       *gnet.Client // the https ingress's engine: its connections are enrolled, not accepted

	eng      gnet.Engine
	addr     net.Addr
	ready    chan error
	draining atomic.Bool

	mu    sync.Mutex
	conns map[*hconn]struct{}
}

// hconn is one public connection. Fields without a comment are owned by
// the loop.
type hconn struct {
	c         gnet.Conn
	in        *httpIngress
	remote    netip.AddrPort
	remoteIP  string // remote's address, printed once per connection (setRemote)
	remoteAP  string // remote's address:port, likewise
	needProxy bool
	handedOff bool
	req       HTTP1Request
	ex        *exchange
	spare     []byte
	tl        *tlsLink // TLS state, on the https ingress
	drain     *time.Timer
	drainWait time.Duration

	headSince atomic.Int64 // unix nanos an unfinished head began; 0 if none
	idleSince atomic.Int64 // unix nanos the connection went idle; 0 if busy

	mu       sync.Mutex // guards what session goroutines touch:
	out      []byte     // response bytes for the loop to write
	outBody  int64      // body octets in out (for flow-control credit)
	woken    bool
	closed   bool
	flushing bool     // the loop took out and is writing it
	pending  bool     // gnet's outbound buffer held bytes when the loop last looked
	iov      [][]byte // scratch for direct writes
	chunkHdr [20]byte // scratch for a direct chunk's size line
}

// exchange is one request in flight on an hconn; it is the stream's
// Receiver.
type exchange struct {
	hc        *hconn
	t         *Tunnel
	host      string
	start     time.Time
	isHead    bool
	closeConn bool
	method    string
	path      string
	blocked   string
	bytesIn   int64
	fields    []wire.HeaderField // kept for one retry
	reqBody   []byte             // kept for one retry
	attempts  int
	holdUntil time.Time // waiting for an offline agent until then

	// Guarded by hc.mu:
	st       *proto.Stream
	body     []byte // request body not yet taken by the window
	gotHead  bool
	chunked  bool
	declared int64 // Content-Length of the response, -1 if none
	sent     int64 // body octets of the response so far
	status   int
	finished bool
	abort    bool
	failErr  error // the stream failed before a head

	// Loop-owned:
	written, credited int64
}

func (in *httpIngress) OnBoot(eng gnet.Engine) gnet.Action {
	in.eng = eng
	fd, err := eng.Dup()
	if err == nil {
		f := os.NewFile(uintptr(fd), "listener")
		if ln, err2 := net.FileListener(f); err2 == nil {
			in.addr = ln.Addr()
			ln.Close()
		} else {
			err = err2
		}
		f.Close()
	}
	in.ready <- err
	return gnet.None
}

func (hc *hconn) setRemote(ap netip.AddrPort) {
	hc.remote, hc.remoteIP, hc.remoteAP = ap, ap.Addr().String(), ap.String()
}

func (in *httpIngress) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	hc, _ := c.Context().(*hconn) // a TLS connection comes with its own
	if hc != nil {
		hc.c = c
		defer c.Wake(nil) // the handshake may have read the first request
	} else {
		hc = &hconn{c: c, in: in}
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ap := ta.AddrPort()
			hc.setRemote(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		}
	}
	hc.needProxy = len(in.trusted) > 0 && in.trusted.Contains(hc.remote.Addr())
	hc.idleSince.Store(time.Now().UnixNano())
	c.SetContext(hc)
	in.mu.Lock()
	in.conns[hc] = struct{}{}
	in.mu.Unlock()
	in.m.conns.Inc()
	return nil, gnet.None
}

func (in *httpIngress) OnClose(c gnet.Conn, _ error) gnet.Action {
	hc, _ := c.Context().(*hconn)
	if hc == nil {
		return gnet.None
	}
	in.mu.Lock()
	delete(in.conns, hc)
	in.mu.Unlock()
	in.m.conns.Dec()
	hc.mu.Lock()
	hc.closed = true
	ex := hc.ex
	var st *proto.Stream
	var status int
	var sent int64
	if ex != nil {
		st = ex.st
		ex.finished = true
		status, sent = ex.status, ex.sent
	}
	hc.mu.Unlock()
	if hc.drain != nil {
		hc.drain.Stop()
	}
	hc.mu.Lock()
	putOut(hc.out)
	hc.out = nil
	hc.mu.Unlock()
	putOut(hc.spare)
	hc.spare = nil
	if hc.handedOff || ex == nil {
		return gnet.None
	}
	// The client left mid-exchange: still a request, counted as nginx
	// does (499, client closed request) unless a status was sent.
	if status == 0 {
		status = statusClientClosed
	}
	in.f.finish(hc.ingress(), exchangeRecord{t: ex.t, method: ex.method, path: ex.path, client: hc.remoteIP,
		status: status, start: ex.start, bytesIn: ex.bytesIn, bytesOut: sent, blocked: ex.blocked})
	if st != nil {
		// The client left: stop the exchange and return every octet of
		// credit it still held, or the session's window would shrink.
		st.Reset(wire.ErrCodeCancel)
		if left := ex.receivedTotal() - ex.credited; left > 0 {
			st.Consumed(int(left))
		}
	}
	return gnet.None
}

func (ex *exchange) receivedTotal() int64 {
	ex.hc.mu.Lock()
	defer ex.hc.mu.Unlock()
	return ex.written + ex.hc.outBody
}

// wake asks the loop to run this connection. Safe from any goroutine.
func (hc *hconn) wake() {
	hc.mu.Lock()
	if hc.woken || hc.closed {
		hc.mu.Unlock()
		return
	}
	hc.woken = true
	hc.mu.Unlock()
	hc.c.Wake(nil)
}

func (in *httpIngress) OnTraffic(c gnet.Conn) gnet.Action {
	hc, _ := c.Context().(*hconn)
	if hc == nil {
		return gnet.Close
	}
	if hc.tl != nil {
		if err := hc.tl.fill(c); err != nil {
			return gnet.Close
		}
		hc.tl.sc.flush()
	}
	return hc.run()
}

// run flushes response bytes, retires a finished exchange and starts the
// next request. Loop only.
func (hc *hconn) run() gnet.Action {
	hc.mu.Lock()
	out, body := hc.out, hc.outBody
	hc.out, hc.outBody = hc.spare, 0
	hc.spare = nil
	hc.woken = false
	hc.flushing = len(out) > 0
	ex := hc.ex
	var finished, abort bool
	var failErr error
	if ex != nil {
		finished, abort, failErr = ex.finished, ex.abort, ex.failErr
	}
	hc.mu.Unlock()
	if len(out) > 0 {
		hc.write(out) // gnet copies what the socket does not take
		hc.in.m.bytesOut.Add(len(out))
	}
	if ex != nil {
		// Over TLS, body octets may have been written directly, their
		// credit held back until they leave (writeDirectLocked).
		ex.written += body
	}
	// Session goroutines may write to the socket themselves again once
	// nothing of ours waits in front of their bytes.
	pending := hc.outbound() > 0
	hc.mu.Lock()
	hc.flushing, hc.pending = false, pending
	hc.mu.Unlock()
	if out != nil {
		hc.spare = out[:0]
	}

	if ex != nil {
		if failErr != nil {
			return hc.failed(ex, failErr)
		}
		if !ex.holdUntil.IsZero() {
			return hc.retryOpen(ex)
		}
		progress := hc.credit(ex)
		if abort {
			return gnet.Close // mid-body failure: the client must see a broken response
		}
		if !finished || hc.outbound() > 0 || ex.written > ex.credited {
			if ex.written > ex.credited || (finished && hc.outbound() > 0) {
				hc.pollDrain(progress)
			}
			return gnet.None
		}
		hc.retire(ex)
		if ex.closeConn {
			return gnet.Close
		}
	}
	return hc.next()
}

// credit returns window for response octets that have left the process:
// everything handed to the connection minus what still waits in gnet's
// outbound buffer. A slow client thus holds at most one window here.
func (hc *hconn) credit(ex *exchange) bool {
	n := ex.written - ex.credited - int64(hc.outbound())
	if n <= 0 {
		return false
	}
	ex.credited += n
	hc.mu.Lock()
	st := ex.st
	hc.mu.Unlock()
	st.Consumed(int(n))
	return true
}

// pollDrain arranges for the loop to look again soon: gnet has no event
// for "outbound buffer drained". Slow clients are polled less often.
func (hc *hconn) pollDrain(progress bool) {
	if progress || hc.drainWait == 0 {
		hc.drainWait = time.Millisecond
	} else if hc.drainWait < 50*time.Millisecond {
		hc.drainWait *= 2
	}
	if hc.drain == nil {
		hc.drain = time.AfterFunc(hc.drainWait, hc.wake)
	} else {
		hc.drain.Reset(hc.drainWait)
	}
}

func (hc *hconn) retire(ex *exchange) {
	hc.in.f.finish(hc.ingress(), exchangeRecord{t: ex.t, method: ex.method, path: ex.path, client: hc.remoteIP,
		status: ex.status, start: ex.start, bytesIn: ex.bytesIn, bytesOut: ex.sent, blocked: ex.blocked})
	hc.ex = nil
	// An idle connection keeps no buffer: both go back to the pool.
	putOut(hc.spare)
	hc.spare = nil
	hc.mu.Lock()
	if len(hc.out) == 0 {
		putOut(hc.out)
		hc.out = nil
	}
	hc.mu.Unlock()
}

// failed handles a stream that failed before the agent sent a head: one
// retry on another session when the agent surely did not process it,
// else an error page.
func (hc *hconn) failed(ex *exchange, err error) gnet.Action {
	if retryable(err) && ex.attempts < 2 {
		hc.mu.Lock()
		ex.failErr, ex.finished, ex.st = nil, false, nil
		hc.mu.Unlock()
		return hc.open(ex)
	}
	k := failureKind(err)
	ex.status = k.Status
	hc.retireWithPage(ex, k)
	if ex.closeConn {
		return gnet.Close
	}
	return hc.next()
}

func (hc *hconn) retireWithPage(ex *exchange, k errKind) {
	hc.write(k.appendHTTP1(nil, ex.host, !ex.closeConn))
	ex.status = k.Status
	hc.retire(ex)
}

// next parses and starts the next request, or waits for more bytes.
func (hc *hconn) next() gnet.Action {
	in := hc.in
	buf := hc.peek()
	if len(buf) == 0 {
		hc.headSince.Store(0)
		hc.idleSince.Store(time.Now().UnixNano())
		if in.draining.Load() {
			return gnet.Close
		}
		return gnet.None
	}
	hc.idleSince.Store(0)
	if hc.needProxy {
		if !HasProxyV2Prefix(buf) {
			hc.needProxy = false // a trusted peer that sent no header: its own address stands
		} else {
			h, n, err := ParseProxyV2(buf)
			if errors.Is(err, ErrProxyIncomplete) {
				hc.markHead()
				return gnet.None
			}
			if err != nil {
				return gnet.Close
			}
			if h.Command == 1 && h.Source.IsValid() {
				hc.setRemote(h.Source)
			}
			hc.needProxy = false
			hc.discard(n)
			if buf = hc.peek(); len(buf) == 0 {
				return gnet.None
			}
		}
	}
	r := &hc.req
	n, err := parseH1Request(buf, in.maxHead, r)
	switch {
	case errors.Is(err, errH1Incomplete):
		hc.markHead()
		return gnet.None
	case errors.Is(err, errH1TooLarge):
		return hc.refuse(errHeaderTooLarge)
	case errors.Is(err, errH1Version):
		return hc.refuse(errVersion)
	case err != nil:
		return hc.refuse(errBadRequest)
	}
	if r.Chunked || r.Upgrade || r.Expect || r.ContentLength > int64(in.fastBody) {
		if hc.tl != nil {
			if hc.outbound() > 0 {
				hc.pollDrain(false) // the last response first: see handOffTLS
				return gnet.None
			}
			return hc.handOffTLS(buf)
		}
		return hc.handOff(buf)
	}
	cl := max(r.ContentLength, 0)
	if int64(len(buf)-n) < cl {
		hc.markHead() // the body is on its way; the header timeout covers it
		return gnet.None
	}
	hc.headSince.Store(0)
	ex := &exchange{hc: hc, start: time.Now(), isHead: r.Method == http.MethodHead, declared: -1,
		closeConn: r.CloseConn || in.draining.Load()}
	host, err := CanonicalHost(r.Authority)
	if err != nil {
		hc.discard(n + int(cl))
		hc.retireWithPage(ex, errBadRequest)
		return gnet.Close
	}
	ex.host = host
	t := in.f.reg.Lookup(host)
	if t == nil || t.Kind != wire.KindHTTP {
		hc.discard(n + int(cl))
		hc.retireWithPage(ex, errNoTunnel)
		return hc.afterPage(ex)
	}
	ex.t = t
	ex.method, ex.path = r.Method, r.Target
	norm, strip, deny := t.admit(hc.remote.Addr(), r.Target, wire.Get(r.Header, "authorization"), ex.start)
	if deny != nil {
		hc.discard(n + int(cl))
		ex.blocked = deny.reason
		hc.write(deny.kind.appendHTTP1(nil, host, !ex.closeConn, deny.headers()...))
		ex.status = deny.kind.Status
		hc.retire(ex)
		return hc.afterPage(ex)
	}
	ex.path = norm.Path
	head := wire.RequestHead{Method: r.Method, Scheme: hc.ingress(), Authority: r.Authority, Path: norm.RequestURI(), Header: r.Header}
	forwardHeaders(&head, hc.remoteIP, r.Authority, strip)
	ex.fields = head.AppendFields(make([]wire.HeaderField, 0, len(head.Header)+4))
	if cl > 0 {
		ex.reqBody = append([]byte(nil), buf[n:n+int(cl)]...)
		ex.bytesIn = cl
		in.m.bytesIn.Add(int(cl))
	}
	hc.discard(n + int(cl))
	hc.ex = ex
	return hc.open(ex)
}

func (hc *hconn) afterPage(ex *exchange) gnet.Action {
	if ex.closeConn {
		return gnet.Close
	}
	return hc.next()
}

func (hc *hconn) markHead() {
	if hc.headSince.Load() == 0 {
		hc.headSince.Store(time.Now().UnixNano())
	}
}

func (hc *hconn) refuse(k errKind) gnet.Action {
	hc.write(k.appendHTTP1(nil, "", false))
	hc.in.m.request(hc.ingress(), k.Status, time.Now())
	return gnet.Close
}

// open opens the exchange's stream and sends its head and body. Loop only.
func (hc *hconn) open(ex *exchange) gnet.Action {
	ex.attempts++
	in := hc.in
	opts := proto.OpenOptions{Kind: wire.KindHTTP, RemoteAddr: hc.remoteAP, Meta: requestMeta("HTTP/1.1", hc.tl != nil, ex.start), Receiver: ex}
	st, err := ex.t.Open(opts)
	if errors.Is(err, ErrAgentOffline) {
		if ex.holdUntil.IsZero() {
			ex.holdUntil = time.Now().Add(in.f.hold)
		}
		if time.Now().Before(ex.holdUntil) {
			// Wait for the agent to come back, without blocking the loop.
			online := ex.t.Online()
			wait := time.Until(ex.holdUntil)
			go func() {
				select {
				case <-online:
				case <-time.After(wait):
				}
				hc.wake()
			}()
			return gnet.None
		}
	}
	ex.holdUntil = time.Time{}
	if err != nil {
		k := failureKind(err)
		hc.retireWithPage(ex, k)
		return hc.afterPage(ex)
	}
	hc.mu.Lock()
	ex.st = st
	err = st.WriteHeaders(ex.fields, len(ex.reqBody) == 0)
	if err == nil && len(ex.reqBody) > 0 {
		ex.body = ex.reqBody
		ex.pushBodyLocked()
	}
	hc.mu.Unlock()
	if err != nil {
		st.Reset(wire.ErrCodeCancel)
		if errors.Is(err, proto.ErrHeaderTooLarge) {
			hc.retireWithPage(ex, errHeaderTooLarge)
			return gnet.Close
		}
		hc.mu.Lock()
		ex.failErr = err
		hc.mu.Unlock()
		return hc.failed(ex, err)
	}
	return gnet.None
}

// retryOpen runs when a held request is woken: the agent may be back.
func (hc *hconn) retryOpen(ex *exchange) gnet.Action {
	ex.attempts--
	return hc.open(ex)
}

// pushBodyLocked sends as much of the request body as the window takes.
func (ex *exchange) pushBodyLocked() {
	n, err := ex.st.TryWrite(ex.body)
	ex.body = ex.body[n:]
	if err == nil && len(ex.body) == 0 {
		ex.st.CloseWrite()
	}
}

// --- proto.Receiver: called on session goroutines ---

func (ex *exchange) OnWritable(st *proto.Stream) {
	hc := ex.hc
	hc.mu.Lock()
	if !ex.finished && ex.st == st && len(ex.body) > 0 {
		ex.pushBodyLocked()
	}
	hc.mu.Unlock()
}

func (ex *exchange) OnHeaders(st *proto.Stream, fields []wire.HeaderField, end bool) {
	hc := ex.hc
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if ex.finished || ex.st != st {
		return
	}
	if ex.gotHead { // trailers
		if ex.chunked {
			hc.out = append(hc.outLocked(), "0\r\n"...)
			if tr, err := wire.ParseResponseHead(fields, true); err == nil {
				for _, f := range tr.Header {
					hc.out = append(hc.out, f.Name...)
					hc.out = append(hc.out, ": "...)
					hc.out = append(hc.out, f.Value...)
					hc.out = append(hc.out, "\r\n"...)
				}
			}
			hc.out = append(hc.out, "\r\n"...)
		}
		ex.endLocked(end)
		hc.wakeLocked()
		return
	}
	resp, err := wire.ParseResponseHead(fields, false)
	if err != nil || resp.Status == http.StatusSwitchingProtocols {
		// An agent is not trusted to write our framing (CWE-113).
		st.Reset(wire.ErrCodeProtocol)
		ex.failErr = fmt.Errorf("%w: %v", errBadAgentHead, err)
		ex.finished = true
		hc.wakeLocked()
		return
	}
	if resp.Status < 200 {
		if resp.Status != http.StatusContinue {
			hc.out = appendH1ResponseHead(hc.outLocked(), resp.Status, resp.Header, false, false)
			hc.wakeLocked()
		}
		return
	}
	ex.gotHead = true
	ex.status = resp.Status
	noBody := ex.isHead || resp.Status == http.StatusNoContent || resp.Status == http.StatusNotModified
	if cl := wire.Get(resp.Header, "content-length"); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			ex.declared = v
		}
	}
	ex.chunked = !noBody && ex.declared < 0
	if noBody {
		ex.declared = 0
	}
	hc.out = appendH1ResponseHead(hc.outLocked(), resp.Status, resp.Header, ex.chunked, ex.closeConn)
	ex.endLocked(end)
	if !end && st.NextFrameIsOwn() {
		// This response's next frame is here already, most likely its
		// body: the head waits in out and goes with it, in OnData's
		// write, or the loop is woken then (every callback for this
		// stream flushes or wakes). Waking the loop now instead made it
		// race OnData for out and hc.mu, and won often enough to put a
		// loop wake-up on the path of most small responses.
		return
	}
	if !end && hc.directLocked() {
		hc.writeDirectLocked(ex, nil, false) // a head carries no credit
		return
	}
	hc.wakeLocked()
}

// outPool recycles the response buffers of connections: a response
// grows its buffer up to a stream window, and without recycling every
// large response would allocate it again. Idle connections hold none.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// maxPooledOut is the largest buffer worth keeping in the pool.
const maxPooledOut = 1 << 20

func getOut() []byte { return (*outPool.Get().(*[]byte))[:0] }

func putOut(b []byte) {
	if b != nil && cap(b) <= maxPooledOut {
		b = b[:0]
		outPool.Put(&b)
	}
}

// statusClientClosed records a request whose client left before a
// response (nginx's 499).
const statusClientClosed = 499

var errBadAgentHead = errors.New("wsgrok: agent sent a malformed response head")

func (ex *exchange) OnData(st *proto.Stream, p []byte, end bool) {
	hc := ex.hc
	hc.mu.Lock()
	if ex.finished || ex.st != st || !ex.gotHead || (ex.declared == 0 && !ex.chunked) {
		if !ex.finished && ex.st == st && ex.gotHead {
			// A response without a body whose END_STREAM comes in a DATA
			// frame of its own: its head may be waiting in out.
			ex.endLocked(end)
			hc.wakeLocked()
		}
		hc.mu.Unlock()
		st.Consumed(len(p)) // nothing to deliver: give the credit straight back
		if !ex.gotHead && len(p) > 0 {
			st.Reset(wire.ErrCodeProtocol)
		}
		return
	}
	if len(p) > 0 && !ex.abort && (ex.declared < 0 || ex.sent+int64(len(p)) <= ex.declared) && hc.directLocked() {
		ex.sent += int64(len(p))
		credit := hc.writeDirectLocked(ex, p, end && ex.chunked)
		ex.endLocked(end)
		if end || len(hc.out) > 0 {
			hc.wakeLocked() // to retire the exchange, or to write the rest
		}
		hc.mu.Unlock()
		st.Consumed(int(credit))
		return
	}
	if len(p) > 0 {
		hc.outLocked()
		if ex.chunked {
			hc.out = strconv.AppendInt(hc.out, int64(len(p)), 16)
			hc.out = append(hc.out, "\r\n"...)
			hc.out = append(hc.out, p...)
			hc.out = append(hc.out, "\r\n"...)
		} else {
			hc.out = append(hc.out, p...)
		}
		hc.outBody += int64(len(p))
		ex.sent += int64(len(p))
		if ex.declared >= 0 && ex.sent > ex.declared {
			ex.abort = true // more than Content-Length: the framing would break
		}
	}
	if end && ex.chunked {
		hc.out = append(hc.outLocked(), "0\r\n\r\n"...)
	}
	ex.endLocked(end)
	hc.wakeLocked()
	hc.mu.Unlock()
}

func (ex *exchange) endLocked(end bool) {
	if !end {
		return
	}
	ex.finished = true
	if !ex.chunked && ex.declared >= 0 && ex.sent != ex.declared && !ex.isHead && ex.status != http.StatusNotModified && ex.status != http.StatusNoContent {
		ex.abort = true // short body: the client must see it broken
	}
}

func (ex *exchange) OnReset(st *proto.Stream, err error) {
	hc := ex.hc
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if ex.finished || ex.st != st {
		return
	}
	ex.finished = true
	if ex.gotHead {
		ex.abort = true
	} else {
		ex.failErr = err
	}
	hc.wakeLocked()
}

// directLocked reports whether a session goroutine may write to the
// socket itself: the connection is open and no bytes of the loop's wait
// in front (out is written first, in the same call). Writing from the
// session's reader spares a wake-up of the loop and a copy for every
// frame; the loop is still woken for what the socket does not take.
func (hc *hconn) directLocked() bool {
	// OnClose sets closed before gnet closes the descriptor, so under
	// mu an open hconn's Fd is its own.
	return !hc.closed && !hc.flushing && !hc.pending
}

// writeDirectLocked writes out, then p (framed as a chunk when the
// response is chunked) and the last chunk when lastChunk is set, straight
// to the socket without blocking. What the socket does not take goes to
// out for the loop, and the loop is woken. It returns the body octets
// that left the process, whose credit the caller returns (after
// unlocking mu).
func (hc *hconn) writeDirectLocked(ex *exchange, p []byte, lastChunk bool) int64 {
	iov := hc.iov[:0]
	if len(hc.out) > 0 {
		iov = append(iov, hc.out)
	}
	if len(p) > 0 {
		if ex.chunked {
			sz := strconv.AppendInt(hc.chunkHdr[:0], int64(len(p)), 16)
			sz = append(sz, "\r\n"...)
			iov = append(iov, sz, p, crlf)
		} else {
			iov = append(iov, p)
		}
	}
	if lastChunk {
		iov = append(iov, lastChunkBytes)
	}
	total := 0
	for _, b := range iov {
		total += len(b)
	}
	body := hc.outBody + int64(len(p))
	if hc.tl != nil {
		// Encrypted and written, or queued behind what waits: credit
		// goes back now only for octets that left, the rest once the
		// loop sees them leave.
		q := hc.writeTLSLocked(iov)
		hc.in.m.bytesOut.Add(total)
		if hc.out != nil {
			hc.out = hc.out[:0]
		}
		clear(iov)
		hc.iov = iov[:0]
		credited := body
		if q != 0 {
			credited = 0
			if q > 0 {
				credited = max(0, body-int64(q))
			}
			hc.wakeLocked()
		}
		hc.outBody = body - credited
		return credited
	}
	n := 0
	if total > 0 {
		n = writeFd(hc.c.Fd(), iov)
		hc.in.m.bytesOut.Add(n)
	}
	if n == total {
		if hc.out != nil {
			hc.out = hc.out[:0]
		}
		hc.outBody = 0
		clear(iov)
		hc.iov = iov[:0]
		return body
	}
	// The socket is full: the rest waits for the loop, and its credit with
	// it. Framing octets in the rest make the credit returned now an
	// underestimate, never more than what left.
	rest := getOut()
	skip := n
	for _, b := range iov {
		if skip >= len(b) {
			skip -= len(b)
			continue
		}
		rest = append(rest, b[skip:]...)
		skip = 0
	}
	putOut(hc.out)
	hc.out = rest
	credited := max(0, body-int64(len(rest)))
	hc.outBody = body - credited
	clear(iov)
	hc.iov = iov[:0]
	hc.wakeLocked()
	return credited
}

var (
	crlf           = []byte("\r\n")
	lastChunkBytes = []byte("0\r\n\r\n")
)

// writeFd writes iov to a non-blocking socket and returns how much it
// took; 0 when it would block or failed (the loop's own write then
// meets the error and closes the connection).
func writeFd(fd int, iov [][]byte) int {
	for {
		var n int
		var err error
		if len(iov) == 1 {
			n, err = unix.Write(fd, iov[0])
		} else {
			n, err = unix.Writev(fd, iov)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < 0 {
			return 0
		}
		return n
	}
}

// outLocked returns the buffer to append response bytes to.
func (hc *hconn) outLocked() []byte {
	if hc.out == nil {
		hc.out = getOut()
	}
	return hc.out
}

func (hc *hconn) wakeLocked() {
	if hc.woken || hc.closed {
		return
	}
	hc.woken = true
	hc.c.Wake(nil)
}

// handOff moves the connection to net/http before its body is read.
func (hc *hconn) handOff(buf []byte) gnet.Action {
	fd, err := hc.c.Dup()
	if err != nil {
		return hc.refuse(errAgentFailed)
	}
	prefix := append([]byte(nil), buf...)
	hc.handedOff = true
	hc.in.m.handoffs.Inc()
	remote := net.TCPAddrFromAddrPort(hc.remote)
	go hc.in.adopt(fd, prefix, remote)
	return gnet.Close
}

func (in *httpIngress) adopt(fd int, prefix []byte, remote net.Addr) {
	f := os.NewFile(uintptr(fd), "handoff")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		in.log.Warn("handoff failed", "err", err)
		return
	}
	pc := &prefixConn{Conn: nc, prefix: prefix, remote: remote}
	if !in.handoff.push(pc) {
		nc.Close()
	}
}

// janitor closes connections whose head is too slow (slowloris) or that
// sat idle too long. It runs off the loop; gnet's Close is async-safe.
func (in *httpIngress) janitor(stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			in.sweep(now)
		}
	}
}

func (in *httpIngress) sweep(now time.Time) {
	in.mu.Lock()
	var victims []gnet.Conn
	draining := in.draining.Load()
	for hc := range in.conns {
		if hs := hc.headSince.Load(); hs != 0 && now.Sub(time.Unix(0, hs)) > in.headerTO {
			victims = append(victims, hc.c)
			continue
		}
		if is := hc.idleSince.Load(); is != 0 && (draining || now.Sub(time.Unix(0, is)) > in.idleTO) {
			victims = append(victims, hc.c)
		}
	}
	in.mu.Unlock()
	for _, c := range victims {
		c.Close()
	}
}

// run starts the engine on addr and returns once it listens.
func (in *httpIngress) run(addr string, loops int) error {
	in.ready = make(chan error, 1)
	in.conns = map[*hconn]struct{}{}
	errc := make(chan error, 1)
	go func() {
		errc <- gnet.Run(in, "tcp://"+addr,
			gnet.WithMulticore(loops != 1), gnet.WithNumEventLoop(loops),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithReuseAddr(true),
			gnet.WithReadBufferCap(64<<10), gnet.WithLogger(gnetLogger{in.log}))
	}()
	select {
	case err := <-in.ready:
		return err
	case err := <-errc:
		if err == nil {
			err = errors.New("wsgrok: http ingress stopped at start")
		}
		return fmt.Errorf("wsgrok: http ingress on %s: %w", addr, err)
	}
}

func (in *httpIngress) stop(ctx context.Context) error {
	if in.cli != nil {
		return in.cli.Stop()
	}
	return in.eng.Stop(ctx)
}

// gnetLogger routes gnet's log lines into ours.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...)) }

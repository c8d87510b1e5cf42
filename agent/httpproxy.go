package agent

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/wire"
)

func newUpstreamTransport(cfg Config) *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // the local service is local: never via a proxy
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: cfg.UpstreamTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass Accept-Encoding and bodies through untouched
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: !cfg.UpstreamTLSVerify},
		ForceAttemptHTTP2:     true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Bulk copies, those that keep filling the small buffer, move in large
// ones: a Stream.Write of 256 KiB is four full frames in one batch for
// the session writer, where 32 KiB writes woke it (and, through it, the
// edge's reader and event loop) once per 32 KiB. Only a few bulk copies
// get one: a 100 MiB download took 8-20% more agent CPU with 128 KiB,
// but POST echoes at c=8 hold sixteen copies, one each way per
// exchange, and at 256 KiB each they were 3.5 MB of the agent's peak.
// The rest get 128 KiB, two frames a write.
const (
	bulkLarge    = 256 << 10
	bulkSmall    = 128 << 10
	bulkLargeMax = 4 // large buffers in use at once
)

var (
	bulkLargeBufs = sync.Pool{New: func() any { b := make([]byte, bulkLarge); return &b }}
	bulkSmallBufs = sync.Pool{New: func() any { b := make([]byte, bulkSmall); return &b }}
	bulkLargeUsed atomic.Int32
)

func getBulk() *[]byte {
	if bulkLargeUsed.Add(1) <= bulkLargeMax {
		return bulkLargeBufs.Get().(*[]byte)
	}
	bulkLargeUsed.Add(-1)
	return bulkSmallBufs.Get().(*[]byte)
}

func putBulk(b *[]byte) {
	if len(*b) == bulkLarge {
		bulkLargeBufs.Put(b)
		bulkLargeUsed.Add(-1)
		return
	}
	bulkSmallBufs.Put(b)
}

// copyStream copies src to dst like io.CopyBuffer with a pooled 32 KiB
// buffer, moving to a pooled bulk one (getBulk) once a read fills the
// small buffer: a small body never touches the large pool, so a thousand
// concurrent small exchanges cost 32 KiB each, while a bulk body moves in
// few large writes.
func copyStream(dst io.Writer, src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	buf := *bp
	var bulk *[]byte
	defer func() {
		copyBufs.Put(bp)
		if bulk != nil {
			putBulk(bulk)
		}
	}()
	lw, _ := dst.(lastWriter)
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			var m int
			var werr error
			if err == io.EOF && lw != nil {
				m, werr = lw.WriteLast(buf[:n])
			} else {
				m, werr = dst.Write(buf[:n])
			}
			total += int64(m)
			if werr != nil {
				return total, werr
			}
			if m != n {
				return total, io.ErrShortWrite
			}
			if bulk == nil && n == len(buf) {
				bulk = getBulk()
				buf = *bulk
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// lastWriter is a writer that can end its stream with its last octets.
// copyStream uses it when a read brings both data and io.EOF, as a
// response body with a Content-Length does with its last octets.
type lastWriter interface {
	WriteLast(p []byte) (int, error)
}

// responseWriter writes a response body to the stream. The last octets
// carry END_STREAM, so a small response is HEADERS and one DATA frame,
// unless trailers are still to follow.
type responseWriter struct {
	st   *proto.Stream
	resp *http.Response
}

func (w responseWriter) Write(p []byte) (int, error) { return w.st.Write(p) }

func (w responseWriter) WriteLast(p []byte) (int, error) {
	if len(w.resp.Trailer) > 0 {
		return w.st.Write(p)
	}
	return w.st.WriteEnd(p)
}

// streamBody is a request body read from the stream.
type streamBody struct {
	st *proto.Stream
	n  atomic.Int64 // read by the transport's writer, reported by serveHTTP
}

func (b *streamBody) Read(p []byte) (int, error) {
	n, err := b.st.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *streamBody) Close() error { return nil }

// serveHTTP carries one HTTP exchange from the stream to the local service
// and back. Bodies stream both ways; nothing is buffered whole.
func (a *Agent) serveHTTP(t *Tunnel, st *proto.Stream) {
	start := time.Now()
	ev := RequestEvent{Tunnel: t, ClientAddr: st.ClientAddr()}
	var body *streamBody
	defer func() {
		ev.Duration = time.Since(start)
		if body != nil {
			ev.BytesIn = body.n.Load()
		}
		a.event(ev)
	}()
	st.SetReadDeadline(time.Now().Add(30 * time.Second))
	fields, err := st.ReadHeaders()
	st.SetReadDeadline(time.Time{})
	if err != nil {
		st.Reset(wire.ErrCodeProtocol)
		ev.Err = err
		return
	}
	head, err := wire.ParseRequestHead(fields)
	if err != nil {
		st.Reset(wire.ErrCodeProtocol)
		ev.Err = err
		return
	}
	ev.Method, ev.Path = head.Method, head.Path

	var req *http.Request
	req, body, err = a.upstreamRequest(t, &head, st)
	if err != nil {
		st.Reset(wire.ErrCodeProtocol)
		ev.Err = err
		return
	}
	var cp Capture
	if a.cfg.Observer != nil {
		cp = a.cfg.Observer.Begin(t, &ObservedRequest{Method: head.Method, Path: head.Path, Host: head.Authority,
			Proto: st.Meta().Get("proto"), Header: req.Header, ClientAddr: st.ClientAddr(),
			RTT: st.Session().RTT(), EdgeStart: edgeStart(st.Meta()), Start: start})
	}
	if cp != nil {
		defer func() { cp.Done(ev.Err) }()
		if body != nil {
			req.Body = io.NopCloser(teeReader{r: body, fed: cp.RequestBody})
		}
	}
	got1xx := func(code int, h textproto.MIMEHeader) error {
		if code == http.StatusSwitchingProtocols {
			return nil
		}
		f := []wire.HeaderField{{Name: ":status", Value: strconv.Itoa(code)}}
		f = wire.AppendHTTPHeader(f, http.Header(h))
		return st.WriteHeaders(f, false)
	}
	// When the public client leaves or the edge resets the stream, the
	// exchange with the local service stops: the pool's through the
	// stream's OnFail, Transport's through a context.
	var resp *http.Response
	if pool := a.upstreamPool(req); pool != nil {
		resp, err = pool.roundTrip(st, req, got1xx, a.cfg.UpstreamTimeout)
	} else {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st.OnFail(cancel)
		defer st.OnFail(nil)
		req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got1xxResponse: got1xx}))
		resp, err = a.upstream.RoundTrip(req)
	}
	if err != nil {
		ev.Err = err
		st.Reset(upstreamCode(err))
		return
	}
	defer resp.Body.Close()
	ev.Status = resp.StatusCode
	if cp != nil {
		cp.Response(resp.StatusCode, resp.Header, time.Since(start))
	}

	// resp.Header is left as it came (the observer may hold it): its
	// Content-Length is dropped from the fields, and set from
	// resp.ContentLength below.
	out := make([]wire.HeaderField, 0, len(resp.Header)+2)
	out = append(out, wire.HeaderField{Name: ":status", Value: strconv.Itoa(resp.StatusCode)})
	out = slices.DeleteFunc(wire.AppendHTTPHeader(out, resp.Header), func(f wire.HeaderField) bool { return f.Name == "content-length" })
	if resp.ContentLength >= 0 && resp.StatusCode != http.StatusSwitchingProtocols {
		out = append(out, wire.HeaderField{Name: "content-length", Value: strconv.FormatInt(resp.ContentLength, 10)})
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		rwc, ok := resp.Body.(io.ReadWriteCloser)
		if !ok || st.WriteHeaders(out, false) != nil {
			st.Reset(wire.ErrCodeInternal)
			return
		}
		ev.BytesIn, ev.BytesOut = splice(rwc, st)
		return
	}
	noBody := head.Method == http.MethodHead || resp.ContentLength == 0 && len(resp.Trailer) == 0
	if err := st.WriteHeaders(out, noBody); err != nil {
		st.Reset(wire.ErrCodeCancel)
		ev.Err = err
		return
	}
	if noBody {
		st.Close()
		return
	}
	var dst io.Writer = responseWriter{st, resp}
	if cp != nil {
		dst = teeWriter{w: dst, fed: cp.ResponseBody}
	}
	n, err := copyStream(dst, resp.Body)
	ev.BytesOut = n
	if err != nil {
		// The local service broke off mid-body: the client must see a
		// broken response, not a short complete one.
		st.Reset(wire.ErrCodeCancel)
		ev.Err = err
		return
	}
	if len(resp.Trailer) > 0 {
		tr := wire.AppendHTTPHeader(nil, resp.Trailer)
		if len(tr) > 0 {
			st.WriteHeaders(tr, true)
			st.Close()
			return
		}
	}
	st.Close()
}

// upstreamRequest builds the request to the local service.
func (a *Agent) upstreamRequest(t *Tunnel, head *wire.RequestHead, st *proto.Stream) (*http.Request, *streamBody, error) {
	target := *t.target
	u, err := target.Parse(head.Path)
	if err != nil || head.Path == "*" {
		u = &target
	}
	u.Scheme, u.Host = target.Scheme, target.Host
	var body io.ReadCloser = http.NoBody
	var sb *streamBody
	cl := int64(-1)
	if v := wire.Get(head.Header, "content-length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			cl = n
		}
	}
	// A request whose HEADERS ended the stream has no body, and neither
	// has a protocol switch: after 101 the stream carries the new
	// protocol's bytes, which must not be sent as a request body.
	upgrade := wire.Get(head.Header, "upgrade") != ""
	if !(cl == 0 || upgrade || st.Ended()) {
		sb = &streamBody{st: st}
		body = sb
	}
	// As http.NewRequest would build it, without printing u and parsing
	// it again (ParseRequestHead has checked the method).
	req := &http.Request{Method: head.Method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(http.Header, len(head.Header)), Body: body, Host: u.Host}
	if body != http.NoBody {
		req.ContentLength = cl
	} else {
		req.ContentLength = 0
	}
	wire.ToHTTPHeader(req.Header, head.Header)
	req.Header.Del("Content-Length")
	switch t.HostHeader {
	case "":
		req.Host = head.Authority // keep what the public client asked for
	case "rewrite":
		req.Host = target.Host
	default:
		req.Host = t.HostHeader
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header["User-Agent"] = nil // do not add Go's
	}
	return req, sb, nil
}

// upstreamCode maps a failure to reach the local service to the RESET code
// the edge turns into a page.
func upstreamCode(err error) wire.ErrCode {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return wire.ErrCodeUpstreamRefused
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return wire.ErrCodeUpstreamTimeout
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return wire.ErrCodeUpstreamRefused
	}
	if errors.Is(err, context.Canceled) {
		return wire.ErrCodeCancel
	}
	return wire.ErrCodeUpstreamRefused
}

type streamWriter struct{ st *proto.Stream }

func (s streamWriter) Write(p []byte) (int, error) { return s.st.Write(p) }

type streamReader struct{ st *proto.Stream }

func (s streamReader) Read(p []byte) (int, error) { return s.st.Read(p) }

// splice copies raw bytes both ways until both directions end, passing
// half-closes through. It returns the octets that went up and down.
func splice(c io.ReadWriteCloser, st *proto.Stream) (up, down int64) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		up, err = copyStream(c, streamReader{st})
		if err == nil {
			if cw, ok := c.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
				return
			}
		}
		c.Close()
	}()
	down, err := copyStream(streamWriter{st}, c)
	if err != nil {
		st.Reset(wire.ErrCodeCancel)
	} else {
		st.CloseWrite()
	}
	<-done
	c.Close()
	st.Close()
	return up, down
}

// --- the agent's own HTTP/1.1 client, for plain-http local services ---
//
// net/http's Transport runs a reader and a writer goroutine per upstream
// connection and hands every request and response head between them and
// the caller: two thread hand-offs per exchange, on a path that already
// crosses the session's reader and writer. For a plain-http local service
// the exchange's own goroutine writes the request and reads the response
// here, on connections kept alive in upstreamPool. Anything else (TLS
// upstreams, which may speak HTTP/2, protocol switches, Expect:
// 100-continue, bodies of unknown length) still goes through Transport.

// maxIdleUpstream bounds the idle connections kept per local service
// (Transport's MaxIdleConnsPerHost above).
const maxIdleUpstream = 256

// upstreamIdleTimeout closes connections idle this long (Transport's
// IdleConnTimeout above).
const upstreamIdleTimeout = 90 * time.Second

// inlineBody is the largest request body written by the exchange's
// goroutine before it reads the response; larger ones are written by a
// goroutine of their own, so that a local service that answers while it
// reads (an echo) never deadlocks against us.
const inlineBody = 16 << 10

// upstreamPool returns the pool that serves req, or nil when req needs
// net/http's Transport.
func (a *Agent) upstreamPool(req *http.Request) *upstreamPool {
	if req.URL.Scheme != "http" || req.ContentLength < 0 || len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 ||
		req.Header["Upgrade"] != nil || req.Header["Expect"] != nil {
		return nil
	}
	return a.h1
}

func newUpstreamPool() *upstreamPool { return &upstreamPool{idle: map[string][]*upConn{}} }

// closeIdle closes every idle connection (the agent is stopping).
func (p *upstreamPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = map[string][]*upConn{}, true
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	p.mu.Unlock()
	for _, l := range idle {
		for _, uc := range l {
			uc.c.Close()
		}
	}
}

// upstreamPool keeps idle connections to local services, newest last.
// Safe for concurrent use.
type upstreamPool struct {
	mu     sync.Mutex
	idle   map[string][]*upConn // by host:port
	sweep  *time.Timer          // armed while anything is idle
	closed bool                 // the agent stopped: nothing more is kept
}

// upConn is one connection to a local service. It is owned by one
// exchange at a time, or by the pool while idle.
type upConn struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	host   string
	reused bool
	idleAt time.Time
	abort  func() // fails pending I/O on c: an abortable's OnFail
}

// abortable is what an exchange serves (a proto.Stream): once it fails,
// because the public client left, the exchange is of no use and stops.
type abortable interface {
	OnFail(f func())
	Failed() <-chan struct{}
}

func failed(ab abortable) bool { return isDone(ab.Failed()) }

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func newUpConn(c net.Conn, host string) *upConn {
	return &upConn{c: c, host: host, abort: func() { c.SetDeadline(aLongTimeAgo) }}
}

var upDialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}

func (p *upstreamPool) get(ab abortable, host string) (*upConn, error) {
	p.mu.Lock()
	if l := p.idle[host]; len(l) > 0 {
		uc := l[len(l)-1]
		l[len(l)-1] = nil
		p.idle[host] = l[:len(l)-1]
		p.mu.Unlock()
		uc.reused = true
		uc.attach()
		return uc, nil
	}
	p.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	ab.OnFail(cancel)
	c, err := upDialer.DialContext(ctx, "tcp", host)
	ab.OnFail(nil)
	cancel()
	if err != nil {
		return nil, err
	}
	uc := newUpConn(c, host)
	uc.attach()
	return uc, nil
}

// Buffers of upstream connections belong to exchanges, not to idle
// connections: after a burst of 256 concurrent requests the pool holds
// 256 idle connections, and with a reader each they pinned 8 MB. The
// reader takes 16 KiB, so a response head and a page-sized body come in
// one read(2) and leave in one DATA frame: with 4 KiB, a 5.7 KB page
// took two reads here, two frames and two writes to the client at the
// edge.
var (
	upReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}
	upWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

// attach gives uc buffers for an exchange.
func (uc *upConn) attach() {
	uc.br = upReaders.Get().(*bufio.Reader)
	uc.br.Reset(uc.c)
	uc.bw = upWriters.Get().(*bufio.Writer)
	uc.bw.Reset(uc.c)
}

// detach takes uc's buffers back as it goes idle. It reports false when
// the service sent octets past the end of its response: the connection
// is then not fit for another request.
func (uc *upConn) detach() bool {
	clean := uc.br.Buffered() == 0
	uc.br.Reset(nil)
	uc.bw.Reset(nil)
	upReaders.Put(uc.br)
	upWriters.Put(uc.bw)
	uc.br, uc.bw = nil, nil
	return clean
}

func (p *upstreamPool) put(uc *upConn) {
	uc.idleAt = time.Now()
	if !uc.detach() {
		uc.c.Close()
		return
	}
	p.mu.Lock()
	l := p.idle[uc.host]
	if len(l) >= maxIdleUpstream || p.closed {
		p.mu.Unlock()
		uc.c.Close()
		return
	}
	p.idle[uc.host] = append(l, uc)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(upstreamIdleTimeout/3, p.sweepIdle)
	}
	p.mu.Unlock()
}

// sweepIdle closes connections idle past the timeout; it re-arms itself
// while any connection is idle.
func (p *upstreamPool) sweepIdle() {
	cutoff := time.Now().Add(-upstreamIdleTimeout)
	var victims []*upConn
	p.mu.Lock()
	left := 0
	for host, l := range p.idle {
		k := 0
		for k < len(l) && l[k].idleAt.Before(cutoff) { // oldest first
			k++
		}
		victims = append(victims, l[:k]...)
		l = append(l[:0], l[k:]...)
		if len(l) == 0 {
			delete(p.idle, host)
		} else {
			p.idle[host] = l
		}
		left += len(l)
	}
	if left > 0 {
		p.sweep.Reset(upstreamIdleTimeout / 3)
	} else {
		p.sweep = nil
	}
	p.mu.Unlock()
	for _, uc := range victims {
		uc.c.Close()
	}
}

// roundTrip sends req to the local service and reads its response head;
// the body streams from the returned Response, whose Close gives the
// connection back to the pool when the exchange ended cleanly. got1xx
// hears interim responses. A request without a body that fails on a
// reused connection before any answer (the service closed it while idle)
// is tried once more on a new one, as Transport does.
func (p *upstreamPool) roundTrip(ab abortable, req *http.Request, got1xx func(int, textproto.MIMEHeader) error, headTO time.Duration) (*http.Response, error) {
	noBody := req.Body == nil || req.Body == http.NoBody
	for attempt := 0; ; attempt++ {
		uc, err := p.get(ab, req.URL.Host)
		if err != nil {
			return nil, err
		}
		resp, err := uc.exchange(ab, p, req, got1xx, headTO)
		if err == nil {
			return resp, nil
		}
		uc.c.Close()
		if attempt == 0 && uc.reused && noBody && !failed(ab) && staleConn(err) {
			continue
		}
		return nil, err
	}
}

// staleConn reports an error that a connection closed by the peer while
// idle gives on its next use.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// aLongTimeAgo is a deadline in the past: it fails pending I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

func (uc *upConn) exchange(ab abortable, p *upstreamPool, req *http.Request, got1xx func(int, textproto.MIMEHeader) error, headTO time.Duration) (*http.Response, error) {
	c := uc.c
	ab.OnFail(uc.abort)
	stop := func() { ab.OnFail(nil) }
	hasBody := req.Body != nil && req.Body != http.NoBody && req.ContentLength > 0
	writeRequestHead(uc.bw, req)
	var bodyErr chan error
	var err error
	switch {
	case !hasBody:
		err = uc.bw.Flush()
	case req.ContentLength <= inlineBody:
		err = copyBody(uc.bw, req.Body, req.ContentLength)
		if err == nil {
			err = uc.bw.Flush()
		}
	default:
		if err = uc.bw.Flush(); err == nil {
			bodyErr = make(chan error, 1)
			go upstreamBodyWriter(c, req.Body, req.ContentLength, bodyErr)
		}
	}
	if err != nil {
		stop()
		return nil, err
	}
	if headTO > 0 {
		setReadDeadline(c, ab, time.Now().Add(headTO))
	}
	var resp *http.Response
	for interim := 0; ; interim++ {
		resp, err = http.ReadResponse(uc.br, req)
		if err != nil {
			stop()
			return nil, err
		}
		if resp.StatusCode >= 200 {
			break
		}
		if resp.StatusCode == http.StatusSwitchingProtocols || interim >= 5 {
			stop()
			return nil, errors.New("wsgrok: local service sent an unexpected " + resp.Status)
		}
		if got1xx != nil {
			if err := got1xx(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				stop()
				return nil, err
			}
		}
	}
	if headTO > 0 {
		setReadDeadline(c, ab, time.Time{})
	}
	resp.Body = &upBody{rc: resp.Body, uc: uc, p: p, ab: ab, bodyErr: bodyErr,
		reuse: !resp.Close, eof: resp.Body == http.NoBody}
	return resp, nil
}

// setReadDeadline sets c's read deadline while ab may abort the exchange
// at any moment. The abort's past deadline may have been set just before
// and undone by this one: the read would then wait out t while the local
// service, which never sees the connection close, works on (the CI flake
// of TestClientLeavingCancelsTheLocalRequest, 2026-12-06). ab's Failed
// closes before its OnFail runs, so checking after setting misses none.
func setReadDeadline(c net.Conn, ab abortable, t time.Time) {
	c.SetReadDeadline(t)
	if failed(ab) {
		c.SetDeadline(aLongTimeAgo)
	}
}

// writeRequestHead writes req's head as Transport would for it: Host,
// the header map, and Content-Length.
func writeRequestHead(bw *bufio.Writer, req *http.Request) {
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	bw.WriteString(req.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if req.Host != "" {
		bw.WriteString(req.Host)
	} else {
		bw.WriteString(req.URL.Host)
	}
	bw.WriteString("\r\n")
	for k, vs := range req.Header {
		for _, v := range vs { // a nil list (User-Agent) writes nothing
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if req.ContentLength > 0 || req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
		bw.WriteString("Content-Length: ")
		var nb [20]byte
		bw.Write(strconv.AppendInt(nb[:0], req.ContentLength, 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
}

// copyBody copies exactly n octets of body to w.
func copyBody(w io.Writer, body io.Reader, n int64) error {
	m, err := copyStream(w, io.LimitReader(body, n))
	if err == nil && m < n {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// upstreamBodyWriter writes a large request body while the exchange's
// goroutine reads the response.
func upstreamBodyWriter(c net.Conn, body io.Reader, n int64, done chan<- error) {
	err := copyBody(c, body, n)
	if err != nil {
		c.SetDeadline(aLongTimeAgo) // the request is broken: so is the exchange
	}
	done <- err
}

// upBody is a response body from an upConn. Close returns the connection
// to the pool when the response was read to its end, the request body
// was written whole and the exchange was not cancelled; else it closes
// the connection (rather than drain what is left).
type upBody struct {
	rc      io.ReadCloser
	uc      *upConn
	p       *upstreamPool
	ab      abortable
	bodyErr chan error // nil when the request body was written inline
	reuse   bool
	eof     bool
	closed  bool
}

func (b *upBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *upBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.ab.OnFail(nil)
	ok := !failed(b.ab) && b.eof && b.reuse
	if ok && b.bodyErr != nil {
		select {
		case err := <-b.bodyErr:
			ok = err == nil
		default:
			ok = false // still writing: the service answered before it read all
		}
	}
	if !ok {
		b.uc.c.Close()
	}
	b.rc.Close()
	if ok {
		b.uc.reused = false
		b.p.put(b.uc)
	}
	return nil
}

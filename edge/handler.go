package edge

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/wire"
)

// httpHandler is the goroutine face of HTTP ingress: the TLS listener
// (HTTP/1.1 and HTTP/2) and the plain connections the event loop hands
// over (uploads, Upgrade, Expect, chunked bodies) are served by net/http
// with this handler, which moves the exchange over a blocking stream.
type httpHandler struct {
	f       *forwarder
	ingress string // metrics label
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// bulkPool holds the buffers of copies that keep filling the small one.
var bulkPool = sync.Pool{New: func() any { b := make([]byte, bulkCopy); return &b }}

// bulkCopy is the buffer of a bulk copy: one Stream.Write of this much
// is four full frames for the session writer in one batch, where 32 KiB
// writes woke it once per 32 KiB.
const bulkCopy = 256 << 10

// copyBuf is a pooled copy buffer that starts at 32 KiB and moves to
// 256 KiB once a read fills it: small bodies never touch the large pool.
type copyBuf struct {
	small, bulk *[]byte
	buf         []byte
}

func getCopyBuf() copyBuf {
	small := bufPool.Get().(*[]byte)
	return copyBuf{small: small, buf: *small}
}

// filled notes a read of n octets; a full buffer means a bulk body.
func (b *copyBuf) filled(n int) {
	if b.bulk == nil && n == len(b.buf) {
		b.bulk = bulkPool.Get().(*[]byte)
		b.buf = *b.bulk
	}
}

func (b *copyBuf) put() {
	bufPool.Put(b.small)
	if b.bulk != nil {
		bulkPool.Put(b.bulk)
	}
}

// copyStream is io.Copy through a copyBuf.
func copyStream(dst io.Writer, src io.Reader) (int64, error) {
	b := getCopyBuf()
	defer b.put()
	var total int64
	for {
		n, err := src.Read(b.buf)
		if n > 0 {
			m, werr := dst.Write(b.buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
			if m != n {
				return total, io.ErrShortWrite
			}
			b.filled(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := exchangeRecord{start: time.Now(), method: r.Method, path: r.URL.Path, client: clientAddr(r).String()}
	h.serve(w, r, &rec)
	h.f.finish(h.ingress, rec)
}

func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (h *httpHandler) serve(w http.ResponseWriter, r *http.Request, rec *exchangeRecord) {
	rec.status = h.exchange(w, r, rec)
}

func (h *httpHandler) exchange(w http.ResponseWriter, r *http.Request, rec *exchangeRecord) int {
	start := rec.start
	if r.ProtoMajor == 1 {
		// Stream the request body up while the response streams down; by
		// default net/http would swallow the unread body first.
		http.NewResponseController(w).EnableFullDuplex()
	}
	host, err := CanonicalHost(r.Host)
	if err != nil {
		errBadRequest.write(w, "")
		return errBadRequest.Status
	}
	t := h.f.reg.Lookup(host)
	if t == nil {
		errNoTunnel.write(w, host)
		return errNoTunnel.Status
	}
	if t.Kind != wire.KindHTTP {
		errNotHTTP.write(w, host)
		return errNotHTTP.Status
	}
	rec.t = t
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") && target != "*" {
		target = r.URL.RequestURI() // absolute form: its path
	}
	client := clientAddr(r)
	norm, strip, deny := t.admit(client, target, r.Header.Get("Authorization"), start)
	if deny != nil {
		rec.blocked = deny.reason
		deny.kind.write(w, host, deny.headers()...)
		return deny.kind.Status
	}
	rec.path = norm.Path
	scheme := "http"
	if isTLS(r) {
		scheme = "https"
	}
	head := wire.RequestHead{Method: r.Method, Scheme: scheme, Authority: r.Host, Path: norm.RequestURI()}
	head.Header = wire.AppendHTTPHeader(make([]wire.HeaderField, 0, len(r.Header)+4), r.Header)
	upgrade := r.ProtoMajor == 1 && head.Header != nil && wire.Get(head.Header, "upgrade") != ""
	forwardHeaders(&head, rec.client, r.Host, strip)
	fields := head.AppendFields(make([]wire.HeaderField, 0, len(head.Header)+4))

	noBody := r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 && len(r.TransferEncoding) == 0
	ctx := r.Context()
	var st *proto.Stream
	for attempt := 0; ; attempt++ {
		st, err = h.f.open(ctx, t, proto.OpenOptions{Kind: wire.KindHTTP, RemoteAddr: r.RemoteAddr, Meta: requestMeta(r.Proto, isTLS(r), start)})
		if err == nil {
			err = st.WriteHeaders(fields, noBody && !upgrade)
		}
		if err == nil || attempt > 0 || !noBody || !retryable(err) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, proto.ErrHeaderTooLarge) {
			errHeaderTooLarge.write(w, host)
			return errHeaderTooLarge.Status
		}
		k := failureKind(err)
		k.write(w, host)
		return k.Status
	}
	stop := context.AfterFunc(ctx, func() { st.Reset(wire.ErrCodeCancel) })
	defer stop()
	defer st.Close()

	expect := strings.EqualFold(r.Header.Get("Expect"), "100-continue")
	var up *upload // nil without a body: a GET costs none of its goroutine, channels and timer
	if !noBody && !upgrade {
		up = h.startUpload(st, r.Body, expect)
		defer func() { rec.bytesIn = up.n.Load() }()
		defer up.stop() // an early return leaves the body unsent
	}

	var resp wire.ResponseHead
	for {
		st.SetReadDeadline(time.Now().Add(h.f.headTimeout))
		fields, err := st.ReadHeaders()
		if err != nil {
			if errors.Is(err, proto.ErrSessionClosed) || err == io.EOF {
				err = ErrAgentOffline
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				err = errHeadTimeout
			}
			k := failureKind(err)
			k.write(w, host)
			return k.Status
		}
		resp, err = wire.ParseResponseHead(fields, false)
		if err != nil {
			st.Reset(wire.ErrCodeProtocol)
			errAgentFailed.write(w, host)
			return errAgentFailed.Status
		}
		if resp.Status >= 200 || resp.Status == http.StatusSwitchingProtocols {
			break
		}
		if resp.Status == http.StatusContinue {
			up.decide(true) // net/http writes the 100 itself when the body is read
			continue
		}
		wire.ToHTTPHeader(w.Header(), resp.Header)
		w.WriteHeader(resp.Status) // 103 Early Hints and the like
		clear(w.Header())
	}
	st.SetReadDeadline(time.Time{})
	up.decide(!expect) // a final answer before 100: the upload is not wanted

	if resp.Status == http.StatusSwitchingProtocols {
		if !upgrade {
			st.Reset(wire.ErrCodeProtocol)
			errAgentFailed.write(w, host)
			return errAgentFailed.Status
		}
		h.switchProtocols(w, st, resp, rec)
		return resp.Status
	}
	if upgrade {
		st.CloseWrite() // not switched: the stream carries no raw bytes up
	}
	hdr := w.Header()
	wire.ToHTTPHeader(hdr, resp.Header)
	hdr.Del("Connection")
	w.WriteHeader(resp.Status)
	if r.Method == http.MethodHead {
		return resp.Status
	}
	n, err := h.copyResponse(w, st)
	rec.bytesOut = n
	if err != nil {
		// The agent or its session died mid-body: abort so the client sees
		// a broken response (connection closed or RST_STREAM), never a
		// complete-looking one.
		panic(http.ErrAbortHandler)
	}
	if trailers, err := st.ReadHeaders(); err == nil {
		if tr, err := wire.ParseResponseHead(trailers, true); err == nil {
			for _, f := range tr.Header {
				hdr.Add(http.TrailerPrefix+f.Name, f.Value)
			}
		}
	}
	up.wait()
	return resp.Status
}

// upload sends a request body up its stream while the response comes
// down. With Expect: 100-continue it waits for the agent's 100 (or a
// second, as clients do), and is never sent if a final answer comes
// first, so a refusal (401, 413) is not preceded by the upload (RFC 9110
// §10.1.1). A nil *upload is a request without a body.
type upload struct {
	decision chan bool
	once     sync.Once
	done     chan struct{}
	timer    *time.Timer  // sends anyway after a second of no 100; nil without Expect
	n        atomic.Int64 // octets sent; the goroutine may outlive the exchange
}

func (h *httpHandler) startUpload(st *proto.Stream, body io.Reader, expect bool) *upload {
	u := &upload{decision: make(chan bool, 1), done: make(chan struct{})}
	go func() {
		defer close(u.done)
		if !<-u.decision {
			return
		}
		n, err := copyStream(streamWriter{st}, body)
		h.f.m.bytesIn.Add(int(n))
		u.n.Store(n)
		if err != nil {
			st.Reset(wire.ErrCodeCancel)
			return
		}
		st.CloseWrite()
	}()
	if expect {
		u.timer = time.AfterFunc(time.Second, func() { u.decide(true) })
	} else {
		u.decide(true)
	}
	return u
}

// decide lets the body go up, or not; the first decision holds.
func (u *upload) decide(send bool) {
	if u != nil {
		u.once.Do(func() { u.decision <- send })
	}
}

// stop ends the wait for a 100; an undecided body is not sent.
func (u *upload) stop() {
	if u.timer != nil {
		u.timer.Stop()
	}
	u.decide(false)
}

// wait waits for the body to be sent or given up.
func (u *upload) wait() {
	if u != nil {
		<-u.done
	}
}

// copyResponse streams the body, flushing whenever the stream has nothing
// more buffered, so that server-sent events and chunks arrive as written.
func (h *httpHandler) copyResponse(w http.ResponseWriter, st *proto.Stream) (int64, error) {
	rc := http.NewResponseController(w)
	b := getCopyBuf()
	defer b.put()
	var total int64
	for {
		n, err := st.Read(b.buf)
		if n > 0 {
			if _, werr := w.Write(b.buf[:n]); werr != nil {
				return total, werr
			}
			b.filled(n)
			total += int64(n)
			h.f.m.bytesOut.Add(n)
			if st.Buffered() == 0 {
				rc.Flush()
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

// switchProtocols completes a 101 and then carries raw bytes both ways
// (WebSocket and any other Upgrade).
func (h *httpHandler) switchProtocols(w http.ResponseWriter, st *proto.Stream, resp wire.ResponseHead, rec *exchangeRecord) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		st.Reset(wire.ErrCodeCancel)
		return
	}
	defer conn.Close()
	bw := brw.Writer
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	for _, f := range resp.Header {
		bw.WriteString(f.Name)
		bw.WriteString(": ")
		bw.WriteString(f.Value)
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	if bw.Flush() != nil {
		st.Reset(wire.ErrCodeCancel)
		return
	}
	rec.bytesIn, rec.bytesOut = spliceBoth(conn, brw.Reader, st, h.f.m)
}

// spliceBoth copies client<->stream until both directions end, passing
// half-closes through. r reads from the client (it may hold bytes the
// HTTP server buffered).
func spliceBoth(conn net.Conn, r io.Reader, st *proto.Stream, m *edgeMetrics) (up, down int64) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		n, err := copyStream(streamWriter{st}, r)
		up = n
		m.bytesIn.Add(int(n))
		if err != nil {
			st.Reset(wire.ErrCodeCancel)
			return
		}
		st.CloseWrite()
	}()
	n, err := copyStream(conn, streamReader{st})
	m.bytesOut.Add(int(n))
	down = n
	if err == nil {
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	} else {
		conn.Close()
	}
	<-done
	return up, down
}

// streamWriter and streamReader hide the Stream's other methods from io.Copy
// so that it uses our pooled buffer rather than ReadFrom/WriteTo probing.
type streamWriter struct{ st *proto.Stream }

func (s streamWriter) Write(p []byte) (int, error) { return s.st.Write(p) }

type streamReader struct{ st *proto.Stream }

func (s streamReader) Read(p []byte) (int, error) { return s.st.Read(p) }

// prefixConn is a connection handed over from the event loop: the bytes the
// loop had already read come first, and RemoteAddr is the real client.
type prefixConn struct {
	net.Conn
	prefix []byte
	remote net.Addr
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *prefixConn) RemoteAddr() net.Addr { return c.remote }

func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// chanListener is a net.Listener fed by the event loop's handovers.
type chanListener struct {
	ch     chan net.Conn
	addr   net.Addr
	closed chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{ch: make(chan net.Conn), addr: addr, closed: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// push hands c to the server; false if the listener is closed.
func (l *chanListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

func itoa(n int) string { return strconv.Itoa(n) }

// handedOffTLSKey marks, in a request's context, a TLS connection the
// https event loop handed to net/http (http.Server's ConnContext).
type handedOffTLSKey struct{}

// isTLS reports whether r came over TLS: net/http's own TLS connections
// set r.TLS; those handed over by the https loop carry their state in the
// context instead.
func isTLS(r *http.Request) bool {
	return r.TLS != nil || r.Context().Value(handedOffTLSKey{}) != nil
}

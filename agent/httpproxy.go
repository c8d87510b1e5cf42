package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
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

// bulkBufs hold the buffers of copies that keep filling the small one.
var bulkBufs = sync.Pool{New: func() any { b := make([]byte, bulkCopy); return &b }}

// bulkCopy is the buffer of a bulk copy: a Stream.Write of this much is
// four full frames in one batch for the session writer, where 32 KiB
// writes woke it (and, through it, the edge's reader and event loop)
// once per 32 KiB.
const bulkCopy = 256 << 10

// copyStream copies src to dst like io.CopyBuffer with a pooled 32 KiB
// buffer, moving to a pooled 256 KiB one once a read fills the small
// buffer: a small body never touches the large pool, so a thousand
// concurrent small exchanges cost 32 KiB each, while a bulk body moves in
// few large writes.
func copyStream(dst io.Writer, src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	buf := *bp
	var bulk *[]byte
	defer func() {
		copyBufs.Put(bp)
		if bulk != nil {
			bulkBufs.Put(bulk)
		}
	}()
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			m, werr := dst.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
			if m != n {
				return total, io.ErrShortWrite
			}
			if bulk == nil && n == len(buf) {
				bulk = bulkBufs.Get().(*[]byte)
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

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-st.Failed(): // the public client left or the edge reset the stream
			cancel()
		case <-ctx.Done():
		}
	}()
	var req *http.Request
	req, body, err = a.upstreamRequest(ctx, t, &head, st)
	if err != nil {
		st.Reset(wire.ErrCodeProtocol)
		ev.Err = err
		return
	}
	var cp Capture
	if a.cfg.Observer != nil {
		cp = a.cfg.Observer.Begin(t, &ObservedRequest{Method: head.Method, Path: head.Path, Host: head.Authority,
			Proto: st.Meta().Get("proto"), Header: req.Header.Clone(), ClientAddr: st.ClientAddr(),
			EdgeStart: edgeStart(st.Meta()), Start: start})
	}
	if cp != nil {
		defer func() { cp.Done(ev.Err) }()
		if body != nil {
			req.Body = io.NopCloser(teeReader{r: body, fed: cp.RequestBody})
		}
	}
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if code == http.StatusSwitchingProtocols {
			return nil
		}
		f := []wire.HeaderField{{Name: ":status", Value: strconv.Itoa(code)}}
		f = wire.AppendHTTPHeader(f, http.Header(h))
		return st.WriteHeaders(f, false)
	}}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))
	resp, err := a.upstream.RoundTrip(req)
	if err != nil {
		ev.Err = err
		st.Reset(upstreamCode(err))
		return
	}
	defer resp.Body.Close()
	ev.Status = resp.StatusCode
	if cp != nil {
		cp.Response(resp.StatusCode, resp.Header.Clone(), time.Since(start))
	}

	out := make([]wire.HeaderField, 0, len(resp.Header)+2)
	out = append(out, wire.HeaderField{Name: ":status", Value: strconv.Itoa(resp.StatusCode)})
	resp.Header.Del("Content-Length")
	out = wire.AppendHTTPHeader(out, resp.Header)
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
	var dst io.Writer = streamWriter{st}
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
func (a *Agent) upstreamRequest(ctx context.Context, t *Tunnel, head *wire.RequestHead, st *proto.Stream) (*http.Request, *streamBody, error) {
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
	req, err := http.NewRequestWithContext(ctx, head.Method, u.String(), body)
	if err != nil {
		return nil, nil, err
	}
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

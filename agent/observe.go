package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/wsgrok/wsgrok/wire"
)

// Observer sees every HTTP exchange the agent carries, as it streams: the
// request inspector is one. Methods may be called from many goroutines at
// once and must not block long.
type Observer interface {
	// Begin is called when a request head arrives. It returns the Capture
	// that follows this exchange, or nil to ignore it.
	Begin(t *Tunnel, r *ObservedRequest) Capture
}

// ObservedRequest is a request as the agent received it.
type ObservedRequest struct {
	Method     string
	Path       string
	Host       string
	Proto      string      // of the public request: HTTP/1.1, HTTP/2.0
	Header     http.Header // as sent to the local service: keep it, but Clone it to change it
	ClientAddr string
	RTT        time.Duration // of the session that carried it (0 if unknown)
	EdgeStart  time.Time     // when the edge received the request (zero if unknown)
	Start      time.Time     // when the agent received it
	Replay     bool          // sent by Agent.Replay, not by a public client
}

// Capture follows one exchange. Body slices are only valid during the
// call: copy what you keep.
type Capture interface {
	RequestBody(p []byte)
	// Response reports the local service's response head; upstream is how
	// long the local service took to answer. header may be kept, but must
	// be cloned to be changed.
	Response(status int, header http.Header, upstream time.Duration)
	ResponseBody(p []byte)
	// Done ends the exchange; err is nil on success.
	Done(err error)
}

// teeReader hands what it reads to a capture.
type teeReader struct {
	r   io.Reader
	fed func([]byte)
}

func (t teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.fed(p[:n])
	}
	return n, err
}

// teeWriter hands what it writes to a capture.
type teeWriter struct {
	w   io.Writer
	fed func([]byte)
}

func (t teeWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if n > 0 {
		t.fed(p[:n])
	}
	return n, err
}

// WriteLast feeds p to the capture and ends the stream with it when the
// writer under the tee can.
func (t teeWriter) WriteLast(p []byte) (int, error) {
	lw, ok := t.w.(lastWriter)
	if !ok {
		return t.Write(p)
	}
	n, err := lw.WriteLast(p)
	if n > 0 {
		t.fed(p[:n])
	}
	return n, err
}

// ReplayRequest is a request to send again, as captured or edited.
type ReplayRequest struct {
	Method string
	Path   string // origin form: /path?query
	Host   string // Host header; "" keeps the tunnel's default
	Header http.Header
	Body   []byte
}

// ReplayResult is what the local service answered.
type ReplayResult struct {
	Status int
	Header http.Header
	Body   []byte // up to 1 MiB
}

// Replay sends a request to a tunnel's local service as if it had come
// through the tunnel, observed like any other (marked Replay), and returns
// the answer.
func (a *Agent) Replay(ctx context.Context, t *Tunnel, rr ReplayRequest) (ReplayResult, error) {
	if t.Kind != wire.KindHTTP || t.target == nil {
		return ReplayResult{}, fmt.Errorf("wsgrok: only HTTP tunnels can replay")
	}
	if rr.Method == "" {
		rr.Method = http.MethodGet
	}
	if rr.Path == "" || rr.Path[0] != '/' {
		return ReplayResult{}, fmt.Errorf("wsgrok: replay path %q must start with /", rr.Path)
	}
	target := *t.target
	u, err := target.Parse(rr.Path)
	if err != nil {
		return ReplayResult{}, fmt.Errorf("wsgrok: replay path %q: %w", rr.Path, err)
	}
	u.Scheme, u.Host = target.Scheme, target.Host
	req, err := http.NewRequestWithContext(ctx, rr.Method, u.String(), bytes.NewReader(rr.Body))
	if err != nil {
		return ReplayResult{}, err
	}
	for k, vs := range rr.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Connection", "Transfer-Encoding", "Host":
			continue
		}
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	req.ContentLength = int64(len(rr.Body))
	req.Host = rr.Host
	if req.Host == "" {
		req.Host = target.Host
	}
	start := time.Now()
	var cp Capture
	if a.cfg.Observer != nil {
		cp = a.cfg.Observer.Begin(t, &ObservedRequest{Method: rr.Method, Path: rr.Path, Host: req.Host, Proto: "HTTP/1.1",
			Header: req.Header.Clone(), ClientAddr: "replay", Start: start, Replay: true})
		if cp != nil && len(rr.Body) > 0 {
			cp.RequestBody(rr.Body)
		}
	}
	resp, err := a.upstream.RoundTrip(req)
	if err != nil {
		if cp != nil {
			cp.Done(err)
		}
		return ReplayResult{}, fmt.Errorf("wsgrok: replay to %s: %w", target.Host, err)
	}
	defer resp.Body.Close()
	if cp != nil {
		cp.Response(resp.StatusCode, resp.Header.Clone(), time.Since(start))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if cp != nil {
		if len(body) > 0 {
			cp.ResponseBody(body)
		}
		cp.Done(err)
	}
	return ReplayResult{Status: resp.StatusCode, Header: resp.Header, Body: body}, err
}

// Tunnels returns the agent's tunnels (for the inspector's replay).
func (a *Agent) Tunnels() []*Tunnel {
	out := make([]*Tunnel, len(a.cfg.Tunnels))
	for i := range a.cfg.Tunnels {
		out[i] = &a.cfg.Tunnels[i]
	}
	return out
}

// edgeStart reads the edge's receive time from OPEN metadata.
func edgeStart(m wire.Metadata) time.Time {
	v, err := strconv.ParseInt(m.Get("start"), 10, 64)
	if err != nil || v <= 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

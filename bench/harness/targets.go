package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/websocket"
)

// httpTarget sends HTTP requests: Conns transports of one connection each,
// Streams workers per transport.
type httpTarget struct {
	cfg        Config
	body       []byte
	transports []*http.Transport
}

func newHTTPTarget(cfg Config) (*httpTarget, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("URL %q: want http:// or https://", cfg.URL)
	}
	tc, err := cfg.Client.tlsConfig()
	if err != nil {
		return nil, err
	}
	t := &httpTarget{cfg: cfg}
	if cfg.Body > 0 {
		t.body = randomBody(cfg.Body)
	}
	for range cfg.Conns {
		t.transports = append(t.transports, cfg.Client.newTransport(u, tc))
	}
	return t, nil
}

func (t *httpTarget) ops() []op {
	var ops []op
	for _, tr := range t.transports {
		for range t.cfg.Streams {
			ops = append(ops, t.op(tr))
		}
	}
	return ops
}

func (t *httpTarget) close() {
	for _, tr := range t.transports {
		tr.CloseIdleConnections()
	}
}

// op returns a worker's request function. It reads every response body to
// the end (so the connection is reused) with its own buffer, because
// io.Copy to io.Discard would read in 8 KiB pieces.
func (t *httpTarget) op(tr *http.Transport) op {
	buf := make([]byte, 64<<10)
	return func(ctx context.Context) (int64, error) {
		ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
		defer cancel()
		var body io.Reader
		if t.body != nil {
			body = bytes.NewReader(t.body) // sets ContentLength and GetBody
		}
		req, err := http.NewRequestWithContext(ctx, t.cfg.Method, t.cfg.URL, body)
		if err != nil {
			return 0, err
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return 0, err
		}
		n, err := drain(resp.Body, buf)
		resp.Body.Close()
		moved := int64(len(t.body)) + n
		if err != nil {
			return moved, fmt.Errorf("%s %s: reading the body after %d bytes: %w", t.cfg.Method, t.cfg.URL, n, err)
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			msg := fmt.Sprintf("%s %s: %s", t.cfg.Method, t.cfg.URL, resp.Status)
			if code := resp.Header.Get("X-Wsgrok-Error"); code != "" {
				msg += " (X-Wsgrok-Error: " + code + ")"
			}
			return moved, fmt.Errorf("%s", msg)
		}
		return moved, nil
	}
}

func drain(r io.Reader, buf []byte) (int64, error) {
	var total int64
	for {
		n, err := r.Read(buf)
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// wsTarget does WebSocket round trips: Conns connections, each one worker
// sending a binary message of MsgSize bytes and reading the echo back.
type wsTarget struct {
	cfg   Config
	u     *url.URL // ws:// or wss://
	tc    *tls.Config
	msg   []byte
	conns []*websocket.Conn
}

func newWSTarget(cfg Config) (*wsTarget, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("URL %q: want ws://, wss://, http:// or https://", cfg.URL)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return nil, fmt.Errorf("URL %q: want ws://, wss://, http:// or https://", cfg.URL)
	}
	tc, err := cfg.Client.tlsConfig()
	if err != nil {
		return nil, err
	}
	return &wsTarget{cfg: cfg, u: u, tc: tc, msg: randomBody(cfg.MsgSize), conns: make([]*websocket.Conn, cfg.Conns)}, nil
}

func (t *wsTarget) ops() []op {
	ops := make([]op, len(t.conns))
	for i := range t.conns {
		ops[i] = t.op(i)
	}
	return ops
}

// close closes every connection; each worker owns its slot, and close runs
// after the workers have ended.
func (t *wsTarget) close() {
	for i, c := range t.conns {
		if c != nil {
			c.Close()
			t.conns[i] = nil
		}
	}
}

// op returns worker i's round trip. The connection is dialed on first use
// (inside the warmup, if there is one) and again after a failure.
func (t *wsTarget) op(i int) op {
	in := make([]byte, len(t.msg))
	return func(ctx context.Context) (int64, error) {
		ws := t.conns[i]
		if ws == nil {
			var err error
			if ws, err = t.dial(ctx); err != nil {
				return 0, err
			}
			t.conns[i] = ws
		}
		fail := func(err error) (int64, error) {
			ws.Close()
			t.conns[i] = nil
			return 0, fmt.Errorf("websocket %s: %w", t.u, err)
		}
		ws.SetDeadline(time.Now().Add(t.cfg.Timeout))
		if _, err := ws.Write(t.msg); err != nil {
			return fail(err)
		}
		// The echo may come back in several frames; ReadFull reads across them.
		if _, err := io.ReadFull(ws, in); err != nil {
			return fail(err)
		}
		return 2 * int64(len(t.msg)), nil
	}
}

func (t *wsTarget) dial(ctx context.Context) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	host := t.u.Host
	if t.u.Port() == "" {
		port := "80"
		if t.u.Scheme == "wss" {
			port = "443"
		}
		host = net.JoinHostPort(t.u.Hostname(), port)
	}
	raw, err := t.cfg.Client.dial(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("websocket %s: %w", t.u, err)
	}
	conn := raw
	if t.u.Scheme == "wss" {
		tc := t.tc.Clone()
		tc.ServerName = t.u.Hostname()
		tc.NextProtos = []string{"http/1.1"} // the upgrade needs HTTP/1.1
		c := tls.Client(raw, tc)
		if err := c.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("websocket %s: %w", t.u, err)
		}
		conn = c
	}
	origin := "http://" + t.u.Host
	if t.u.Scheme == "wss" {
		origin = "https://" + t.u.Host
	}
	wc, err := websocket.NewConfig(t.u.String(), origin)
	if err != nil {
		conn.Close()
		return nil, err
	}
	// NewClient does the handshake with no deadline of its own.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	ws, err := websocket.NewClient(wc, conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("websocket %s: handshake: %w", t.u, err)
	}
	ws.PayloadType = websocket.BinaryFrame
	return ws, nil
}

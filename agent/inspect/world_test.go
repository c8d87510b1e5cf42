package inspect_test

// The tests' world: a real edge, an in-process agent with the inspector
// as its Observer, a local service that records what it receives, and the
// inspector served on loopback; all on ephemeral ports, with real TLS.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/agent/inspect"
	"github.com/wsgrok/wsgrok/edge"
	"github.com/wsgrok/wsgrok/wire"
)

// received is a request as the local service saw it.
type received struct {
	Method, Path, Host string
	Header             http.Header
	Body               string
}

type world struct {
	t       testing.TB
	e       *edge.Edge
	ins     *inspect.Inspector
	a       *agent.Agent
	api     string // http://127.0.0.1:port of the inspector
	pub     string // public base URL of the tunnel on the plain ingress
	client  *http.Client
	got     chan received // what the local service received
	service string        // host:port of the local service
}

// newWorld starts everything, with an inspector configured by cfg.
func newWorld(t testing.TB, cfg inspect.Config) *world {
	t.Helper()
	dir := t.TempDir()
	tcpPort := freePort(t)
	e, err := edge.New(edge.Config{
		HTTPAddr: "127.0.0.1:0", HTTPSAddr: "off", AgentAddr: "127.0.0.1:0", AdminAddr: "off",
		TCPPortMin: tcpPort, TCPPortMax: tcpPort, DataDir: dir, EventLoops: 1,
		Hold: time.Second, OfflineGrace: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	token, err := e.MintDevToken("alice")
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, e: e, got: make(chan received, 64)}
	w.startService()

	w.ins = inspect.New(cfg)
	t.Cleanup(func() { w.ins.Close() })
	ev := &forwarding{urls: make(chan []string, 4)}
	w.a, err = agent.New(agent.Config{Edge: e.AgentAddr.String(), Authtoken: token, CAFile: filepath.Join(dir, "ca.pem"),
		ServerName: "localhost", Tunnels: []agent.Tunnel{{Kind: wire.KindHTTP, Upstream: "http://" + w.service, Subdomain: "demo"}},
		Observer: w.ins, Events: ev, MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w.ins.SetAgent(w.a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("agent did not stop")
		}
	})
	select {
	case <-ev.urls:
	case err := <-done:
		t.Fatalf("agent stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not bind in 10s")
	}
	w.pub = "http://demo.localhost:" + fmt.Sprint(e.HTTPAddr.(*net.TCPAddr).Port)

	ln, err := inspect.Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); w.ins.Serve(ln) }()
	t.Cleanup(func() { w.ins.Close(); <-served })
	w.api = "http://" + ln.Addr().String()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.CAPEM())
	tr := &http.Transport{
		// Every *.localhost name reaches the edge, whatever the resolver says.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, p, _ := net.SplitHostPort(addr)
			return (&net.Dialer{}).DialContext(ctx, "tcp", "127.0.0.1:"+p)
		},
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}
	t.Cleanup(tr.CloseIdleConnections)
	w.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	return w
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startService runs the local service: it records each request and
// answers with JSON naming what it got.
func (w *world) startService() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec := received{Method: r.Method, Path: r.URL.RequestURI(), Host: r.Host, Header: r.Header.Clone(), Body: string(b)}
		select {
		case w.got <- rec:
		default:
		}
		switch {
		case r.URL.Path == "/binary":
			rw.Header().Set("Content-Type", "application/octet-stream")
			rw.Write([]byte{0, 1, 2, 3, 0xff, 0xfe, 'w', 's'})
			return
		case r.URL.Path == "/big":
			rw.Header().Set("Content-Type", "text/plain")
			rw.Write([]byte(strings.Repeat("x", 10000)))
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		rw.Header().Set("Set-Cookie", "session=s3cret; Path=/; HttpOnly")
		json.NewEncoder(rw).Encode(map[string]any{"method": r.Method, "path": r.URL.RequestURI(), "bytes": len(b)})
	})}
	go srv.Serve(ln)
	w.t.Cleanup(func() { srv.Close() })
	w.service = ln.Addr().String()
}

type forwarding struct{ urls chan []string }

func (f *forwarding) Forwarding(t *agent.Tunnel, urls []string) {
	select {
	case f.urls <- urls:
	default:
	}
}
func (f *forwarding) Status(string, error)         {}
func (f *forwarding) Request(r agent.RequestEvent) {}

// do sends a request through the tunnel and returns the response body.
func (w *world) do(method, path, ctype, body string, hdr ...string) (*http.Response, string) {
	w.t.Helper()
	req, err := http.NewRequest(method, w.pub+path, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := w.client.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		w.t.Fatal(err)
	}
	return resp, string(b)
}

// receive waits for the local service's next request.
func (w *world) receive() received {
	w.t.Helper()
	select {
	case r := <-w.got:
		return r
	case <-time.After(10 * time.Second):
		w.t.Fatal("the local service received nothing in 10s")
		return received{}
	}
}

// apiGet fetches an inspector API path and decodes JSON into v (when
// not nil); it returns the status and raw body.
func (w *world) apiGet(path string, v any) (int, string) {
	w.t.Helper()
	resp, err := http.Get(w.api + path)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			w.t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

// apiPost posts JSON to an inspector API path.
func (w *world) apiPost(path, body string, v any) (int, string) {
	w.t.Helper()
	resp, err := http.Post(w.api+path, "application/json", strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		json.Unmarshal(b, v)
	}
	return resp.StatusCode, string(b)
}

// waitDone waits until exchange id has ended, by following the event
// stream (no polling).
func (w *world) waitDone(id uint64) inspect.Detail {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.api+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	check := func() (inspect.Detail, bool) {
		d, ok := w.ins.Detail(id)
		return d, ok && (d.State == "done" || d.State == "error")
	}
	// The stream's head is in, so it is subscribed: whatever happens
	// from now on is announced on it.
	buf := make([]byte, 4096)
	for {
		if d, ok := check(); ok {
			return d
		}
		if _, err := resp.Body.Read(buf); err != nil {
			w.t.Fatalf("exchange %d did not end: %v", id, err)
		}
	}
}

// lastID is the newest exchange's id.
func (w *world) lastID() uint64 {
	w.t.Helper()
	es := w.ins.Entries()
	if len(es) == 0 {
		w.t.Fatal("the inspector recorded nothing")
	}
	return es[0].ID
}

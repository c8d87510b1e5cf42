package edge_test

// End-to-end tests: a real edge, real agents (in-process, or the wsgrok
// binary as a process where a crash must be real), a real backend, all on
// loopback with ephemeral ports and real TLS.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/bench/backend"
	"github.com/wsgrok/wsgrok/edge"
	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/wire"
)

var agentBin string // the wsgrok binary, built once by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wsgrok-e2e")
	if err != nil {
		panic(err)
	}
	agentBin = filepath.Join(dir, "wsgrok")
	build := exec.Command("go", "build", "-o", agentBin, "github.com/wsgrok/wsgrok/agent/cmd/wsgrok")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the agent:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type world struct {
	t       testing.TB
	e       *edge.Edge
	dir     string
	caFile  string
	caPool  *x509.CertPool
	backend string // host:port of the backend
	token   string
	// agentSession is the session config of agents startAgent runs.
	agentSession proto.Config
}

type worldOpt func(*edge.Config)

func newWorld(t testing.TB, opts ...worldOpt) *world {
	t.Helper()
	dir := t.TempDir()
	cfg := edge.Config{
		HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", AgentAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		TCPPortMin: 0, TCPPortMax: 0, DataDir: dir, EventLoops: 2,
		Hold: time.Second, OfflineGrace: 3 * time.Second,
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.TCPPortMin, cfg.TCPPortMax = freePortRange(t)
	for _, o := range opts {
		o(&cfg)
	}
	e, err := edge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, e: e, dir: dir, caFile: filepath.Join(dir, "ca.pem")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	w.caPool = x509.NewCertPool()
	w.caPool.AppendCertsFromPEM(e.CAPEM())
	if w.token, err = e.MintDevToken("alice"); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: backend.Handler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	w.backend = ln.Addr().String()
	return w
}

// freePortRange finds a small range of free ports for TCP tunnels.
func freePortRange(t testing.TB) (int, int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p, p
}

func port(a net.Addr) string { return fmt.Sprint(a.(*net.TCPAddr).Port) }

// url returns the public URL of name on the plain or TLS ingress.
func (w *world) url(scheme, name, path string) string {
	a := w.e.HTTPAddr
	if scheme == "https" {
		a = w.e.HTTPSAddr
	}
	return scheme + "://" + name + ".localhost:" + port(a) + path
}

// client returns an HTTP client that reaches the edge for any *.localhost
// host (whatever the resolver says) and trusts its CA; h2 selects HTTP/2
// over TLS.
func (w *world) client(h2 bool) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, p, _ := net.SplitHostPort(addr)
		return (&net.Dialer{}).DialContext(ctx, "tcp", "127.0.0.1:"+p)
	}
	tr := &http.Transport{
		DialContext:         dial,
		TLSClientConfig:     &tls.Config{RootCAs: w.caPool},
		ForceAttemptHTTP2:   h2,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 64,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	w.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}
}

// events records what an in-process agent reports.
type events struct {
	mu     sync.Mutex
	urls   chan []string
	status []string
	reqs   []agent.RequestEvent
}

func newEvents() *events { return &events{urls: make(chan []string, 16)} }

func (e *events) Forwarding(t *agent.Tunnel, urls []string) { e.urls <- urls }
func (e *events) Status(state string, err error) {
	e.mu.Lock()
	e.status = append(e.status, fmt.Sprint(state, err))
	e.mu.Unlock()
}
func (e *events) Request(r agent.RequestEvent) {
	e.mu.Lock()
	e.reqs = append(e.reqs, r)
	e.mu.Unlock()
}

// startAgent runs an in-process agent for the given tunnels and waits
// until its first tunnel is bound. It stops at test cleanup.
func (w *world) startAgent(token string, pool int, tunnels ...agent.Tunnel) (*agent.Agent, *events, context.CancelFunc) {
	w.t.Helper()
	ev := newEvents()
	a, err := agent.New(agent.Config{Edge: w.e.AgentAddr.String(), Authtoken: token, CAFile: w.caFile, ServerName: "localhost",
		Pool: pool, Tunnels: tunnels, Events: ev, Session: w.agentSession, MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	w.t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			w.t.Error("agent did not stop")
		}
	})
	select {
	case <-ev.urls:
	case err := <-done:
		w.t.Fatalf("agent stopped: %v", err)
	case <-time.After(10 * time.Second):
		w.t.Fatal("agent did not bind in 10s")
	}
	return a, ev, cancel
}

func (w *world) httpTunnel(sub string) agent.Tunnel {
	return agent.Tunnel{Kind: wire.KindHTTP, Upstream: "http://" + w.backend, Subdomain: sub}
}

// agentProc is the wsgrok binary running as a real process.
type agentProc struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runAgentProc starts `wsgrok args...` against the world's edge and waits
// for its Forwarding line (unless wantForwarding is false).
func (w *world) runAgentProc(wantForwarding bool, args ...string) *agentProc {
	w.t.Helper()
	full := append(args, "--edge", w.e.AgentAddr.String(), "--ca", w.caFile, "--server-name", "localhost", "--config", filepath.Join(w.dir, "none.yml"),
		"--inspect-addr", "127.0.0.1:0") // tests never take a fixed port
	cmd := exec.Command(agentBin, full...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	p := &agentProc{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(p.exited) }()
	w.t.Cleanup(p.kill)
	if wantForwarding {
		deadline := time.Now().Add(15 * time.Second)
		for !strings.Contains(out.String(), "Forwarding") {
			select {
			case <-p.exited:
				w.t.Fatalf("agent exited: %s", out.String())
			case <-time.After(10 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				w.t.Fatalf("no Forwarding line in 15s: %s", out.String())
			}
		}
	}
	return p
}

func (p *agentProc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// waitExit waits for the process to exit and returns its code.
func (p *agentProc) waitExit(t testing.TB, within time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("agent still running after %v: %s", within, p.out.String())
		return -1
	}
}

// heapWatch samples the process heap until stopped and reports the peak
// above the starting point.
func heapWatch() (stop func() uint64) {
	var start runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&start)
	done := make(chan struct{})
	peak := make(chan uint64, 1)
	go func() {
		var m runtime.MemStats
		var max uint64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				peak <- max
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				if m.HeapInuse > start.HeapInuse && m.HeapInuse-start.HeapInuse > max {
					max = m.HeapInuse - start.HeapInuse
				}
			}
		}
	}()
	return func() uint64 { close(done); return <-peak }
}

func mustGet(t testing.TB, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET %s body: %v", url, err)
	}
	return resp, string(b)
}

type edgeConfig = edge.Config

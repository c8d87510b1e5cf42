package control_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/bench/backend"
	"github.com/wsgrok/wsgrok/control"
	"github.com/wsgrok/wsgrok/control/store"
	"github.com/wsgrok/wsgrok/edge"
	"github.com/wsgrok/wsgrok/wire"
)

// plane is a control service with an edge synced to it, on loopback.
type plane struct {
	svc     *control.Service
	url     string
	e       *edge.Edge
	acct    store.Account
	caFile  string
	backend string
}

func newPlane(t *testing.T) *plane {
	t.Helper()
	dir := t.TempDir()
	var logger *slog.Logger
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	svc, err := control.New(control.Config{DataDir: filepath.Join(dir, "control"), Quarantine: time.Hour, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go svc.Serve(ln)
	t.Cleanup(func() { svc.Close() })
	p := &plane{svc: svc, url: "http://" + ln.Addr().String()}
	e, err := edge.New(edge.Config{HTTPAddr: "127.0.0.1:0", HTTPSAddr: "off", AgentAddr: "127.0.0.1:0", AdminAddr: "off",
		TCPPortMin: -1, DataDir: filepath.Join(dir, "edge"), ControlURL: p.url, ControlSecret: svc.EdgeSecret(),
		SyncInterval: 200 * time.Millisecond, Hold: 200 * time.Millisecond, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	p.e = e
	p.caFile = filepath.Join(dir, "edge", "ca.pem")
	if p.acct, err = svc.Store().CreateAccount(t.Context(), store.Account{Email: "alice@example.com", Name: "alice", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	bl, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: backend.Handler()}
	go srv.Serve(bl)
	t.Cleanup(func() { srv.Close() })
	p.backend = bl.Addr().String()
	return p
}

func (p *plane) agent(t *testing.T, token, name string) (context.CancelFunc, chan error) {
	t.Helper()
	urls := make(chan []string, 4)
	a, err := agent.New(agent.Config{Edge: p.e.AgentAddr.String(), Authtoken: token, CAFile: p.caFile, ServerName: "localhost",
		Tunnels: []agent.Tunnel{{Kind: wire.KindHTTP, Upstream: p.backend, Subdomain: name}}, Events: urlEvents(urls),
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(cancel)
	select {
	case <-urls:
	case err := <-done:
		t.Fatalf("agent ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("agent never bound")
	}
	return cancel, done
}

type urlEvents chan []string

func (u urlEvents) Forwarding(_ *agent.Tunnel, urls []string) { u <- urls }
func (u urlEvents) Status(string, error)                      {}
func (u urlEvents) Request(agent.RequestEvent)                {}

func (p *plane) get(t *testing.T, name, path string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+p.e.HTTPAddr.String()+path, nil)
	req.Host = name + ".localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// eventually polls cond for up to within.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func TestTokenFromControlWorksAndRevocationDisconnects(t *testing.T) {
	p := newPlane(t)
	tok, rec, err := p.svc.CreateAuthtoken(t.Context(), p.acct, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	_, done := p.agent(t, tok, "demo")
	if code := p.get(t, "demo", "/hello"); code != 200 {
		t.Fatalf("through the tunnel: %d", code)
	}
	if err := p.svc.Store().RevokeAuthtoken(t.Context(), p.acct.ID, rec.ID); err != nil {
		t.Fatal(err)
	}
	var runErr error
	took := eventually(t, 5*time.Second, "agent disconnected after revocation", func() bool {
		select {
		case runErr = <-done:
			return true
		default:
			return false
		}
	})
	t.Logf("agent disconnected %v after revocation", took.Round(time.Millisecond))
	if !errors.Is(runErr, agent.ErrAuth) || !strings.Contains(runErr.Error(), "revoked") {
		t.Fatalf("agent ended with %v", runErr)
	}
}

func TestDashboardPolicyReachesTheEdge(t *testing.T) {
	p := newPlane(t)
	tok, _, _ := p.svc.CreateAuthtoken(t.Context(), p.acct, "")
	p.agent(t, tok, "guarded")
	if _, err := p.svc.Store().ReserveName(t.Context(), p.acct.ID, "guarded", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := p.svc.Store().PutPolicy(t.Context(), p.acct.ID, store.Policy{Endpoint: "guarded", DenyCIDRs: []string{"127.0.0.0/8"}}); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 5*time.Second, "deny rule in force", func() bool { return p.get(t, "guarded", "/hello") == 403 })
	t.Logf("policy in force %v after it was saved", took.Round(time.Millisecond))
	p.svc.Store().DeletePolicy(t.Context(), p.acct.ID, "guarded")
	eventually(t, 5*time.Second, "deny rule lifted", func() bool { return p.get(t, "guarded", "/hello") == 200 })
}

func TestReservedNameRefusedToOtherAccounts(t *testing.T) {
	p := newPlane(t)
	if _, err := p.svc.Store().ReserveName(t.Context(), p.acct.ID, "mine", time.Hour); err != nil {
		t.Fatal(err)
	}
	bob, _ := p.svc.Store().CreateAccount(t.Context(), store.Account{Email: "bob@example.com", Name: "bob", PasswordHash: "x"})
	tok, _, _ := p.svc.CreateAuthtoken(t.Context(), bob, "")
	eventually(t, 5*time.Second, "reservation synced", func() bool {
		acct, ok := p.e.Registry().Reserved("mine")
		return ok && acct == p.acct.ID
	})
	a, _ := agent.New(agent.Config{Edge: p.e.AgentAddr.String(), Authtoken: tok, CAFile: p.caFile, ServerName: "localhost",
		Tunnels: []agent.Tunnel{{Kind: wire.KindHTTP, Upstream: p.backend, Subdomain: "mine"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Run(ctx); !errors.Is(err, agent.ErrBind) || !strings.Contains(err.Error(), "reserved by another account") {
		t.Fatalf("got %v", err)
	}
}

func TestUsageReachesTheStore(t *testing.T) {
	p := newPlane(t)
	tok, _, _ := p.svc.CreateAuthtoken(t.Context(), p.acct, "")
	p.agent(t, tok, "counted")
	for range 7 {
		p.get(t, "counted", "/hello")
	}
	eventually(t, 5*time.Second, "usage stored", func() bool {
		u, err := p.svc.Store().Usage(t.Context(), p.acct.ID, "counted", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		var n int64
		for _, s := range u {
			n += s.Requests
		}
		t.Logf("n=%d err=%v", n, err)
		if n > 7 {
			t.Fatalf("%d requests counted for 7", n)
		}
		return err == nil && n == 7
	})
}

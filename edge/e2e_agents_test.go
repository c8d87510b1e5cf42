package edge_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/wire"
)

func tcpTunnel(upstream string) agent.Tunnel {
	return agent.Tunnel{Kind: wire.KindTCP, Upstream: upstream}
}

func TestTwoAgentsShareANameAndSurviveOneKilled(t *testing.T) {
	w := newWorld(t)
	a := w.runAgentProc(true, "http", w.backend, "--subdomain", "shared", "--authtoken", w.token)
	w.runAgentProc(true, "http", w.backend, "--subdomain", "shared", "--authtoken", w.token)
	tun := w.e.Registry().Lookup("shared.localhost")
	if tun == nil || tun.Sessions() != 2 {
		t.Fatalf("want one tunnel with 2 sessions, got %v", tun)
	}
	cl := w.client(false)
	for range 20 {
		if resp, _ := mustGet(t, cl, w.url("http", "shared", "/hello")); resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
	}
	a.kill()
	// Once the edge has noticed, no request fails.
	deadline := time.Now().Add(10 * time.Second)
	for tun.Sessions() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("edge still counts %d sessions after the kill", tun.Sessions())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 200 {
		resp, body := mustGet(t, cl, w.url("http", "shared", "/hello"))
		if resp.StatusCode != 200 || body != "hello\n" {
			t.Fatalf("request %d after the kill: %s %q", i, resp.Status, body)
		}
	}
}

func TestLoadIsSpreadAcrossAgents(t *testing.T) {
	w := newWorld(t)
	_, ev1, _ := w.startAgent(w.token, 1, w.httpTunnel("spread"))
	_, ev2, _ := w.startAgent(w.token, 1, w.httpTunnel("spread"))
	cl := w.client(false)
	for range 40 {
		mustGet(t, cl, w.url("http", "spread", "/hello"))
	}
	count := func(e *events) int { e.mu.Lock(); defer e.mu.Unlock(); return len(e.reqs) }
	deadline := time.Now().Add(5 * time.Second)
	for count(ev1)+count(ev2) < 40 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if count(ev1) < 10 || count(ev2) < 10 {
		t.Fatalf("requests split %d / %d, want both to serve", count(ev1), count(ev2))
	}
}

func TestAgentKilledMidDownloadBreaksTheResponse(t *testing.T) {
	w := newWorld(t)
	for _, framing := range []string{"content-length", "chunked"} {
		t.Run(framing, func(t *testing.T) {
			a := w.runAgentProc(true, "http", w.backend, "--subdomain", "dl-"+strings.Split(framing, "-")[0], "--authtoken", w.token)
			path := "/bytes?n=1073741824"
			if framing == "chunked" {
				path = "/chunked?n=10000"
			}
			resp, err := w.client(false).Get(w.url("http", "dl-"+strings.Split(framing, "-")[0], path))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatal(resp.Status)
			}
			buf := make([]byte, 64<<10)
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				t.Fatal(err)
			}
			a.kill()
			_, err = io.Copy(io.Discard, resp.Body)
			if err == nil {
				t.Fatal("the body ended cleanly although the agent died mid-download")
			}
		})
	}
}

func TestAgentRestartServesSameURL(t *testing.T) {
	w := newWorld(t)
	a := w.runAgentProc(true, "http", w.backend, "--subdomain", "again", "--authtoken", w.token)
	cl := w.client(false)
	if resp, _ := mustGet(t, cl, w.url("http", "again", "/hello")); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	a.kill()
	restarted := time.Now()
	w.runAgentProc(true, "http", w.backend, "--subdomain", "again", "--authtoken", w.token)
	for {
		resp, _ := mustGet(t, cl, w.url("http", "again", "/hello"))
		if resp.StatusCode == 200 {
			break
		}
		if time.Since(restarted) > 5*time.Second {
			t.Fatalf("same URL not serving 5s after restart: %s", resp.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("serving again %v after restart", time.Since(restarted).Round(time.Millisecond))
}

func TestRequestsWaitForReconnectingAgent(t *testing.T) {
	w := newWorld(t, func(c *edgeConfig) { c.Hold = 5 * time.Second })
	a := w.runAgentProc(true, "http", w.backend, "--subdomain", "hold", "--authtoken", w.token)
	a.kill()
	tun := w.e.Registry().Lookup("hold.localhost")
	for tun.Sessions() != 0 {
		time.Sleep(5 * time.Millisecond)
	}
	result := make(chan int, 1)
	go func() {
		resp, err := w.client(false).Get(w.url("http", "hold", "/hello"))
		if err != nil {
			result <- 0
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	time.Sleep(300 * time.Millisecond) // the request is now waiting at the edge
	w.runAgentProc(true, "http", w.backend, "--subdomain", "hold", "--authtoken", w.token)
	if code := <-result; code != 200 {
		t.Fatalf("held request got %d", code)
	}
}

func TestAgentOfflinePage(t *testing.T) {
	w := newWorld(t, func(c *edgeConfig) { c.Hold = 200 * time.Millisecond })
	a := w.runAgentProc(true, "http", w.backend, "--subdomain", "gone", "--authtoken", w.token)
	a.kill()
	tun := w.e.Registry().Lookup("gone.localhost")
	for tun.Sessions() != 0 {
		time.Sleep(5 * time.Millisecond)
	}
	resp, body := mustGet(t, w.client(false), w.url("http", "gone", "/"))
	if resp.StatusCode != 502 || resp.Header.Get("X-Wsgrok-Error") != "WSG_AGENT_OFFLINE" || !strings.Contains(body, "Agent offline") {
		t.Fatalf("%s %s", resp.Status, resp.Header.Get("X-Wsgrok-Error"))
	}
}

func TestLocalServiceRefusedPage(t *testing.T) {
	w := newWorld(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close() // nothing listens here now
	w.startAgent(w.token, 1, agent.Tunnel{Kind: wire.KindHTTP, Upstream: dead, Subdomain: "refused"})
	for _, scheme := range []string{"http", "https"} {
		resp, _ := mustGet(t, w.client(true), w.url(scheme, "refused", "/"))
		if resp.StatusCode != 502 || resp.Header.Get("X-Wsgrok-Error") != "WSG_UPSTREAM_REFUSED" {
			t.Fatalf("%s: %s %s", scheme, resp.Status, resp.Header.Get("X-Wsgrok-Error"))
		}
	}
}

func TestUpstreamTimeoutPage(t *testing.T) {
	w := newWorld(t)
	ev := newEvents()
	a, err := agent.New(agent.Config{Edge: w.e.AgentAddr.String(), Authtoken: w.token, CAFile: w.caFile, ServerName: "localhost",
		Tunnels: []agent.Tunnel{w.httpTunnel("slow")}, Events: ev, UpstreamTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	<-ev.urls
	resp, _ := mustGet(t, w.client(false), w.url("http", "slow", "/slow?delay=3s"))
	if resp.StatusCode != 504 || resp.Header.Get("X-Wsgrok-Error") != "WSG_UPSTREAM_TIMEOUT" {
		t.Fatalf("%s %s", resp.Status, resp.Header.Get("X-Wsgrok-Error"))
	}
}

func TestNoSuchTunnel(t *testing.T) {
	w := newWorld(t)
	for _, scheme := range []string{"http", "https"} {
		resp, _ := mustGet(t, w.client(false), w.url(scheme, "nobody", "/"))
		if resp.StatusCode != 404 || resp.Header.Get("X-Wsgrok-Error") != "WSG_TUNNEL_NOT_FOUND" {
			t.Fatalf("%s: %s", scheme, resp.Status)
		}
	}
}

func TestEdgeDrainLetsInFlightRequestsFinish(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, w.httpTunnel("drain"))
	cl := w.client(false)
	var wg sync.WaitGroup
	var ok atomic.Int32
	started := make(chan struct{}, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scheme := []string{"http", "https"}[i%2]
			req, _ := http.NewRequest("GET", w.url(scheme, "drain", "/slow?delay=1s"), nil)
			started <- struct{}{}
			resp, err := cl.Do(req)
			if err != nil {
				t.Errorf("in-flight request: %v", err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(b) == "ok" {
				ok.Add(1)
			} else {
				t.Errorf("in-flight request: %s %q", resp.Status, b)
			}
		}()
	}
	for range 10 {
		<-started
	}
	time.Sleep(300 * time.Millisecond) // all ten are now at the agent
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.e.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	wg.Wait()
	if ok.Load() != 10 {
		t.Fatalf("%d of 10 in-flight requests completed", ok.Load())
	}
}

func TestBadTokenRefused(t *testing.T) {
	w := newWorld(t)
	for _, tok := range []string{"", "garbage", w.token[:len(w.token)-4] + "AAAA"} {
		args := []string{"http", w.backend, "--subdomain", "x"}
		if tok != "" {
			args = append(args, "--authtoken", tok)
		}
		p := w.runAgentProc(false, args...)
		if code := p.waitExit(t, 10*time.Second); code != 1 {
			t.Fatalf("token %q: exit %d: %s", tok, code, p.out.String())
		}
		out := p.out.String()
		if !strings.Contains(out, "authtoken") || !strings.Contains(out, "(ERR_WSGROK_") || strings.Count(strings.TrimSpace(out), "\n") > 0 {
			t.Fatalf("token %q: want one clear line about the authtoken, got %q", tok, out)
		}
	}
	if n := len(w.e.Registry().Tunnels()); n != 0 {
		t.Fatalf("%d tunnels bound by bad tokens", n)
	}
}

func TestNameHeldByAnotherAccount(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, w.httpTunnel("mine"))
	bob, _ := w.e.MintDevToken("bob")
	p := w.runAgentProc(false, "http", w.backend, "--subdomain", "mine", "--authtoken", bob)
	if code := p.waitExit(t, 10*time.Second); code != 1 {
		t.Fatalf("exit %d: %s", code, p.out.String())
	}
	if !strings.Contains(p.out.String(), "held by another account") || !strings.Contains(p.out.String(), "(ERR_WSGROK_BIND_NAME_TAKEN)") {
		t.Fatalf("output %q", p.out.String())
	}
	// Alice's tunnel is undisturbed.
	if resp, _ := mustGet(t, w.client(false), w.url("http", "mine", "/hello")); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
}

func TestMalformedAndOversizedHeadsAreContained(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, w.httpTunnel("ok"))
	// A keep-alive client in the middle of its work must not be disturbed.
	good, err := net.Dial("tcp", w.e.HTTPAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	gbr := bufio.NewReader(good)
	roundTrip := func() {
		fmt.Fprintf(good, "GET /hello HTTP/1.1\r\nHost: ok.localhost\r\n\r\n")
		resp, err := http.ReadResponse(gbr, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("bystander: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
	}
	roundTrip()
	for _, c := range []struct {
		name, req string
		status    int
	}{
		{"garbage", "HELLO\r\n\r\n", 400},
		{"bare LF", "GET / HTTP/1.1\nHost: ok.localhost\n\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : ok.localhost\r\n\r\n", 400},
		{"two Content-Length", "POST / HTTP/1.1\r\nHost: ok.localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: ok.localhost\r\nX: a\r\n b\r\n\r\n", 400},
		{"HTTP/2.0 on the plain port", "GET / HTTP/2.0\r\nHost: ok.localhost\r\n\r\n", 505},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"oversized header", "GET / HTTP/1.1\r\nHost: ok.localhost\r\nX-Big: " + strings.Repeat("a", 40<<10) + "\r\n\r\n", 431},
	} {
		conn, err := net.Dial("tcp", w.e.HTTPAddr.String())
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(c.req))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != c.status || resp.Header.Get("X-Wsgrok-Error") == "" {
			t.Errorf("%s: %v %v, want %d with an error code", c.name, resp, err, c.status)
		}
		conn.Close()
		roundTrip()
	}
	// The TLS ingress (net/http) refuses an oversized head too.
	req, _ := http.NewRequest("GET", w.url("https", "ok", "/hello"), nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	if resp, err := w.client(false).Do(req); err == nil && resp.StatusCode != 431 {
		t.Errorf("TLS oversized header: %s", resp.Status)
	}
	roundTrip()
}

// TestClientLeavingCancelsTheLocalRequest: a public client that hangs up
// while the local service is still working resets the stream, and the
// agent ends its exchange with the service (the request's context is
// done there), on the pooled HTTP/1.1 path and on the general one (a
// request with a chunked body takes Transport).
func TestClientLeavingCancelsTheLocalRequest(t *testing.T) {
	w := newWorld(t)
	started, cancelled := make(chan struct{}, 1), make(chan struct{}, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // net/http notices a closed connection once the body is read
		started <- struct{}{}
		<-r.Context().Done()
		cancelled <- struct{}{}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	w.startAgent(w.token, 1, agent.Tunnel{Kind: wire.KindHTTP, Upstream: "http://" + ln.Addr().String(), Subdomain: "leave"})
	for _, chunked := range []bool{false, true} {
		ctx, hangUp := context.WithCancel(context.Background())
		var body io.Reader
		if chunked {
			body = io.MultiReader(strings.NewReader("x")) // no length: chunked
		}
		req, _ := http.NewRequestWithContext(ctx, "POST", w.url("http", "leave", "/work"), body)
		errc := make(chan error, 1)
		go func() {
			resp, err := w.client(false).Do(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatalf("chunked=%v: the request did not reach the local service", chunked)
		}
		hangUp()
		select {
		case <-cancelled:
		case <-time.After(10 * time.Second):
			t.Fatalf("chunked=%v: the local request went on after the client left", chunked)
		}
		<-errc
	}
}

package edge_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/proto"
)

func TestPoolOpensParallelSessions(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 3, w.httpTunnel("pooled"))
	tun := w.e.Registry().Lookup("pooled.localhost")
	deadline := time.Now().Add(10 * time.Second)
	for tun.Sessions() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions serve the tunnel, want 3", tun.Sessions())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRandomNames(t *testing.T) {
	w := newWorld(t)
	_, ev1, _ := w.startAgent(w.token, 1, w.httpTunnel(""))
	_, ev2, _ := w.startAgent(w.token, 1, w.httpTunnel(""))
	names := map[string]bool{}
	for _, ev := range []*events{ev1, ev2} {
		for _, tun := range w.e.Registry().Tunnels() {
			names[tun.Name] = true
		}
		_ = ev
	}
	if len(names) != 2 {
		t.Fatalf("two agents without a subdomain got names %v", names)
	}
	for n := range names {
		if resp, _ := mustGet(t, w.client(false), w.url("http", n, "/hello")); resp.StatusCode != 200 {
			t.Fatalf("%s: %s", n, resp.Status)
		}
	}
}

func TestTunnelLimitPerAgent(t *testing.T) {
	w := newWorld(t, func(c *edgeConfig) { c.MaxTunnelsPerAgent = 2 })
	a, err := agent.New(agent.Config{Edge: w.e.AgentAddr.String(), Authtoken: w.token, CAFile: w.caFile, ServerName: "localhost",
		Tunnels: []agent.Tunnel{w.httpTunnel("l1"), w.httpTunnel("l2"), w.httpTunnel("l3")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = a.Run(ctx)
	if !errors.Is(err, agent.ErrBind) || !strings.Contains(err.Error(), "at most 2 tunnels") {
		t.Fatalf("got %v", err)
	}
}

// proxyV2 builds a PROXY protocol v2 header for a TCP/IPv4 connection.
func proxyV2(src, dst netip.AddrPort) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, 0x21, 0x11, 0, 12)
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	b = append(b, s4[:]...)
	b = append(b, d4[:]...)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

func TestProxyProtocolFromTrustedPeersOnly(t *testing.T) {
	w := newWorld(t, func(c *edgeConfig) { c.TrustedProxies = []string{"127.0.0.1/32"} })
	w.startAgent(w.token, 1, w.httpTunnel("pp"))
	real := netip.MustParseAddrPort("203.0.113.7:40000")
	ask := func(local string, withProxy bool) (*http.Response, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		conn, err := d.Dial("tcp", w.e.HTTPAddr.String())
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { conn.Close() })
		if withProxy {
			conn.Write(proxyV2(real, netip.MustParseAddrPort("127.0.0.1:80")))
		}
		fmt.Fprintf(conn, "GET /headers HTTP/1.1\r\nHost: pp.localhost\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n")
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		return http.ReadResponse(bufio.NewReader(conn), nil)
	}
	xff := func(resp *http.Response) string {
		var seen struct{ Headers http.Header }
		json.NewDecoder(resp.Body).Decode(&seen)
		return seen.Headers.Get("X-Forwarded-For")
	}
	// From the trusted load balancer, the header names the real client.
	resp, err := ask("127.0.0.1", true)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("trusted: %v %v", resp, err)
	}
	if got := xff(resp); got != "203.0.113.7" {
		t.Fatalf("trusted peer's PROXY header: X-Forwarded-For %q", got)
	}
	// The same bytes from an untrusted peer are not HTTP: refused.
	resp, err = ask("127.0.0.2", true)
	if err == nil && resp.StatusCode == 200 {
		t.Fatalf("untrusted peer's PROXY header was honoured: %q", xff(resp))
	}
	// An untrusted peer is itself the client, whatever it claims.
	resp, err = ask("127.0.0.2", false)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("untrusted plain: %v %v", resp, err)
	}
	if got := xff(resp); got != "127.0.0.2" {
		t.Fatalf("X-Forwarded-For %q, want the peer 127.0.0.2", got)
	}
}

func TestSlowHeadIsCutOff(t *testing.T) {
	w := newWorld(t, func(c *edgeConfig) { c.HeaderTimeout = 500 * time.Millisecond })
	conn, err := net.Dial("tcp", w.e.HTTPAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET / HTTP/1.1\r\nHost: slow.localhost\r\n")) // and never the rest
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(conn)
	if err != nil {
		t.Fatalf("connection not closed: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("slow head cut after %v, header timeout 500ms", d)
	}
}

// TestSmallResponseIsTwoFrames checks the agent's batching from the
// edge's side: a response whose body the local service sends in one piece
// with a Content-Length reaches the edge as HEADERS and one DATA frame
// that ends the stream, not a third, empty one (issue 4: each frame the
// edge reads is an event-loop wakeup and, often, a write to the client).
func TestSmallResponseIsTwoFrames(t *testing.T) {
	quiet := func(c *proto.Config) { c.HeartbeatInterval, c.DeadPeerTimeout = 10*time.Minute, 30*time.Minute }
	w := newWorld(t, func(c *edgeConfig) { quiet(&c.Session) })
	quiet(&w.agentSession)
	w.startAgent(w.token, 1, w.httpTunnel("frames"))
	framesIn := func() uint64 {
		_, body := mustGet(t, http.DefaultClient, "http://"+w.e.AdminAddr.String()+"/status")
		var st struct{ Sessions []struct{ FramesIn uint64 } }
		if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Sessions) != 1 {
			t.Fatalf("status %q: %v", body, err)
		}
		return st.Sessions[0].FramesIn
	}
	c := w.client(false)
	// Only /hello is asserted: the backend sends its head and body in one
	// write, where a larger page may leave its server in two writes and
	// reach the agent in two reads.
	for _, path := range []string{"/hello", "/hello?again"} {
		before := framesIn()
		resp, body := mustGet(t, c, w.url("http", "frames", path))
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("%s: %s, %d bytes", path, resp.Status, len(body))
		}
		if n := framesIn() - before; n != 2 {
			t.Errorf("%s (%d bytes) came in %d frames, want HEADERS and one DATA", path, len(body), n)
		}
	}
}

func TestMetricsAndHealth(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, w.httpTunnel("m"))
	mustGet(t, w.client(false), w.url("http", "m", "/hello"))
	admin := "http://" + w.e.AdminAddr.String()
	// The request is counted when the exchange retires, which may be just
	// after the client has read the whole response: poll for it.
	counted := `wsgrok_edge_requests_total{ingress="http",class="2xx"} 1`
	resp, body := mustGet(t, http.DefaultClient, admin+"/metrics")
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(body, counted) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // no signal to wait on from outside the edge: /metrics is the interface
		resp, body = mustGet(t, http.DefaultClient, admin+"/metrics")
	}
	for _, want := range []string{`wsgrok_edge_requests_total{ingress="http",class="2xx"}`, "wsgrok_edge_agent_sessions 1", "wsgrok_edge_tunnels 1",
		"wsgrok_edge_streams", "wsgrok_edge_agent_rtt_seconds_max", "wsgrok_edge_public_bytes_out_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if resp, body = mustGet(t, http.DefaultClient, admin+"/healthz"); resp.StatusCode != 200 || body != "ok\n" {
		t.Fatalf("healthz: %s %q", resp.Status, body)
	}
}

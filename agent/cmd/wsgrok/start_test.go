package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartAll runs `wsgrok start --all` against a real edge on loopback:
// both tunnels of the file are bound over the one agent's sessions, and
// the command returns when its context ends.
func TestStartAll(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	e, token := startEdge(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a local service that is never called
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	path := writeConfig(t, fmt.Sprintf(`version: 1
authtoken: %s
edge: %s
ca: %s
server_name: localhost
pool: 2
tunnels:
  web:
    proto: http
    addr: %s
    subdomain: cfg-web
    allow_cidr: [127.0.0.0/8]
    rate_limit: 600
  api:
    proto: http
    addr: http://%[4]s
    subdomain: cfg-api
    basic_auth: ["alice:secret"]
`, token, e.AgentAddr, filepath.Join(dir, "ca.pem"), ln.Addr()))

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errw syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"start", "--all", "--config", path}, &out, &errw) }()

	deadline := time.Now().Add(15 * time.Second)
	printed := func(name string) bool { return strings.Contains(out.String(), "Forwarding  "+name+"  http") }
	// Both tunnels bound and both printed: the edge may register a name
	// before its agent has printed its lines.
	for e.Registry().Lookup("cfg-web.localhost") == nil || e.Registry().Lookup("cfg-api.localhost") == nil ||
		!printed("web") || !printed("api") {
		select {
		case code := <-done:
			t.Fatalf("exit %d before binding; stdout %q stderr %q", code, out.String(), errw.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not both bound in 15s; stdout %q stderr %q", out.String(), errw.String())
		}
	}
	if n := strings.Count(out.String(), "Forwarding"); n != 4 {
		t.Errorf("%d Forwarding lines, want 4 (two tunnels, two URLs each): %q", n, out.String())
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after cancel; stderr %q", code, errw.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after its context ended")
	}
	if s := errw.String(); s != "" {
		t.Errorf("stderr: %q", s)
	}
}

package edge_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/wire"
)

// rawGet sends one request head from a chosen loopback source address to
// the plain ingress and returns the response.
func rawGet(t *testing.T, w *world, from, head string) *http.Response {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", w.e.HTTPAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.Write([]byte(head))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%q from %s: %v", head, from, err)
	}
	return resp
}

func policyTunnel(w *world, name string, opts ...string) agent.Tunnel {
	t := w.httpTunnel(name)
	for i := 0; i+1 < len(opts); i += 2 {
		t.Options = append(t.Options, wire.Field{Key: opts[i], Value: opts[i+1]})
	}
	return t
}

func TestIPAllowAndDenyOnTheRealPeer(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, policyTunnel(w, "ipallow", "allow-cidr", "127.0.0.2/32"))
	w.startAgent(w.token, 1, policyTunnel(w, "ipdeny", "deny-cidr", "127.0.0.3/32"))
	get := func(name string) string {
		return fmt.Sprintf("GET /hello HTTP/1.1\r\nHost: %s.localhost\r\nX-Forwarded-For: 127.0.0.2\r\nX-Real-IP: 127.0.0.2\r\nForwarded: for=127.0.0.2\r\n\r\n", name)
	}
	for _, c := range []struct {
		from, name string
		status     int
	}{
		{"127.0.0.2", "ipallow", 200},
		{"127.0.0.3", "ipallow", 403}, // forged X-Forwarded-For naming the allowed address changes nothing
		{"127.0.0.1", "ipallow", 403},
		{"127.0.0.2", "ipdeny", 200},
		{"127.0.0.3", "ipdeny", 403},
	} {
		resp := rawGet(t, w, c.from, get(c.name))
		if resp.StatusCode != c.status {
			t.Errorf("%s from %s: %s, want %d", c.name, c.from, resp.Status, c.status)
		}
		if c.status == 403 && resp.Header.Get("X-Wsgrok-Error") != "WSG_BLOCKED" {
			t.Errorf("403 without its code: %v", resp.Header)
		}
	}
	// IPv6 rules hold too: ::1 is not in an IPv4 allow list.
	d := net.Dialer{}
	if conn, err := d.Dial("tcp6", "[::1]:"+port(w.e.HTTPAddr)); err == nil {
		conn.Close() // the ingress listens on 127.0.0.1 only; nothing to test over v6 here
	}
}

func TestPathBlockingBypassCorpus(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, policyTunnel(w, "paths", "block-path", "/admin"))
	corpus := []string{
		"/admin", "/ADMIN", "/Admin/users", "//admin", "///admin", "/x/../admin", "/./admin", "/admin/.",
		"/%61dmin", "/%2e%2e/admin", "/x/%2e%2e/admin", "/x/%2E%2E/admin", "/admin%2Fsecret", "/x%2F..%2Fadmin",
		"/admin;jsessionid=1", "/admin%3bx", "/x/..;/admin", "/admin?x=1", "/admin#frag",
	}
	check := func(how string, status int, target string) {
		if status != 403 && status != 400 {
			t.Errorf("%s %q: %d, want 403 or 400", how, target, status)
		}
	}
	for _, target := range corpus {
		resp := rawGet(t, w, "127.0.0.1", "GET "+target+" HTTP/1.1\r\nHost: paths.localhost\r\n\r\n")
		check("plain", resp.StatusCode, target)
		// Absolute form names the path inside the target.
		resp = rawGet(t, w, "127.0.0.1", "GET http://paths.localhost"+target+" HTTP/1.1\r\nHost: paths.localhost\r\n\r\n")
		check("absolute-form", resp.StatusCode, target)
		// A body large enough to go through the net/http path.
		body := strings.Repeat("x", 100<<10)
		resp = rawGet(t, w, "127.0.0.1", fmt.Sprintf("POST %s HTTP/1.1\r\nHost: paths.localhost\r\nContent-Length: %d\r\n\r\n%s", target, len(body), body))
		check("handed-off", resp.StatusCode, target)
	}
	// HTTP/2 over TLS: the client sends :path as given.
	cl := w.client(true)
	for _, target := range corpus {
		if strings.Contains(target, "#") {
			continue
		}
		req, _ := http.NewRequest("GET", w.url("https", "paths", "/"), nil)
		req.URL.Opaque = target // sent verbatim as :path
		resp, err := cl.Do(req)
		if err != nil {
			continue // refused by the client or server stack: fine
		}
		resp.Body.Close()
		check("h2", resp.StatusCode, target)
	}
	// Neighbours are not blocked.
	for _, target := range []string{"/administrator", "/hello", "/x/admin"} {
		if resp := rawGet(t, w, "127.0.0.1", "GET "+target+" HTTP/1.1\r\nHost: paths.localhost\r\n\r\n"); resp.StatusCode == 403 {
			t.Errorf("%q blocked", target)
		}
	}
}

func TestBasicAuth(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, policyTunnel(w, "auth", "basic-auth", "alice:s3cret"))
	creds := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	for _, c := range []struct {
		name, head string
		status     int
	}{
		{"none", "GET /headers HTTP/1.1\r\nHost: auth.localhost\r\n\r\n", 401},
		{"wrong password", "GET /headers HTTP/1.1\r\nHost: auth.localhost\r\nAuthorization: " + creds("alice", "nope") + "\r\n\r\n", 401},
		{"wrong user", "GET /headers HTTP/1.1\r\nHost: auth.localhost\r\nAuthorization: " + creds("bob", "s3cret") + "\r\n\r\n", 401},
		{"absolute form without", "GET http://auth.localhost/headers HTTP/1.1\r\nHost: other.localhost\r\n\r\n", 401},
		{"absolute form with", "GET http://auth.localhost/headers HTTP/1.1\r\nHost: x\r\nAuthorization: " + creds("alice", "s3cret") + "\r\n\r\n", 200},
		{"right", "GET /headers HTTP/1.1\r\nHost: auth.localhost\r\nAuthorization: " + creds("alice", "s3cret") + "\r\n\r\n", 200},
	} {
		resp := rawGet(t, w, "127.0.0.1", c.head)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %s, want %d", c.name, resp.Status, c.status)
			continue
		}
		if c.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: no challenge", c.name)
		}
		if c.status == 200 {
			var seen struct{ Headers http.Header }
			json.NewDecoder(resp.Body).Decode(&seen)
			if seen.Headers.Get("Authorization") != "" {
				t.Errorf("%s: the tunnel's credentials reached the local service", c.name)
			}
		}
	}
	// Over HTTP/2 too.
	req, _ := http.NewRequest("GET", w.url("https", "auth", "/hello"), nil)
	resp, err := w.client(true).Do(req)
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("h2 without credentials: %v %v", resp, err)
	}
	req.SetBasicAuth("alice", "s3cret")
	if resp, err = w.client(true).Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("h2 with credentials: %v %v", resp, err)
	}
}

func TestRateLimit(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, policyTunnel(w, "limited", "rate-limit", "5"))
	var ok, limited int
	var retry string
	for range 8 {
		resp := rawGet(t, w, "127.0.0.2", "GET /hello HTTP/1.1\r\nHost: limited.localhost\r\n\r\n")
		switch resp.StatusCode {
		case 200:
			ok++
		case 429:
			limited++
			retry = resp.Header.Get("Retry-After")
		}
	}
	if ok != 5 || limited != 3 || retry == "" {
		t.Fatalf("%d ok, %d limited, Retry-After %q; want 5, 3 and a value", ok, limited, retry)
	}
	// Another client address has its own allowance.
	if resp := rawGet(t, w, "127.0.0.3", "GET /hello HTTP/1.1\r\nHost: limited.localhost\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("second client: %s", resp.Status)
	}
}

func TestBadPolicyOptionRefusedAtBind(t *testing.T) {
	w := newWorld(t)
	p := w.runAgentProc(false, "http", w.backend, "--subdomain", "typo", "--authtoken", w.token)
	p.kill()
	a, err := agent.New(agent.Config{Edge: w.e.AgentAddr.String(), Authtoken: w.token, CAFile: w.caFile, ServerName: "localhost",
		Tunnels: []agent.Tunnel{policyTunnel(w, "typo", "allow-cidr", "10.0.0.0/33")}})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "not a CIDR") {
		t.Fatalf("got %v", err)
	}
}

var _ = tls.VersionTLS12
var _ = io.EOF

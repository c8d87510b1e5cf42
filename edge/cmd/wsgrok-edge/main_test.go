//go:build !nocontrol

package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/wire"
)

// started is what one run of the edge printed.
type started struct {
	dashboard, email, password, agentAddr, ca, token string
}

var (
	dashboardLine = regexp.MustCompile(`dashboard: (\S+)  \(log in as (\S+), password (\S+)\)`)
	agentLine     = regexp.MustCompile(`agent: wsgrok http 3000 --edge (\S+) --ca (\S+) --authtoken (\S+)`)
)

// startEdge runs the edge command in process with ephemeral ports, and
// returns what it printed and a function that sends SIGTERM and waits.
func startEdge(t *testing.T, dataDir string) (started, func() error) {
	t.Helper()
	pr, pw := io.Pipe()
	sig := make(chan os.Signal, 2)
	done := make(chan error, 1)
	go func() {
		err := run([]string{"--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0",
			"--agent-addr", "127.0.0.1:0", "--admin-addr", "off", "--control-addr", "127.0.0.1:0",
			"--tcp-port-min", "-1", "--log-level", "error"}, pw, sig)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	var s started
	sc := bufio.NewScanner(pr)
	for s.token == "" && sc.Scan() {
		if m := dashboardLine.FindStringSubmatch(sc.Text()); m != nil {
			s.dashboard, s.email, s.password = m[1], m[2], m[3]
		}
		if m := agentLine.FindStringSubmatch(sc.Text()); m != nil {
			s.agentAddr, s.ca, s.token = m[1], m[2], m[3]
		}
	}
	go io.Copy(io.Discard, pr)
	if s.token == "" || s.dashboard == "" {
		t.Fatalf("the edge printed no dashboard or agent line: %+v (%v)", s, <-done)
	}
	stop := func() error {
		sig <- syscall.SIGTERM
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("the edge did not stop within 20 s of SIGTERM")
			return nil
		}
	}
	return s, stop
}

type forwarding chan []string

func (f forwarding) Forwarding(_ *agent.Tunnel, urls []string) { f <- urls }
func (forwarding) Status(string, error)                        {}
func (forwarding) Request(agent.RequestEvent)                  {}

// TestEdgeEmbedsControl runs wsgrok-edge as `make run` does: the control
// service and dashboard run in the same process, the printed development
// authtoken (an account of that control service) works for an agent, a
// request reaches the local service through the tunnel, SIGTERM stops it
// all, and a second start keeps the account and the token.
func TestEdgeEmbedsControl(t *testing.T) {
	dataDir := t.TempDir()
	s, stop := startEdge(t, dataDir)

	resp, err := http.Get(s.dashboard + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("dashboard %s/healthz: %v %v", s.dashboard, resp, err)
	}
	resp.Body.Close()
	if s.email != "dev@localhost" || len(s.password) < 12 {
		t.Errorf("development login %q / %q", s.email, s.password)
	}

	local := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from local") })}
	ln := listen(t)
	go local.Serve(ln)
	defer local.Close()

	urls := make(forwarding, 4)
	a, err := agent.New(agent.Config{Edge: s.agentAddr, Authtoken: s.token, CAFile: s.ca, ServerName: "localhost",
		Tunnels: []agent.Tunnel{{Kind: wire.KindHTTP, Upstream: ln.Addr().String(), Subdomain: "demo"}}, Events: urls})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	var public string
	select {
	case u := <-urls:
		for _, x := range u {
			if strings.HasPrefix(x, "http://") {
				public = x
			}
		}
	case err := <-ran:
		t.Fatalf("the agent ended: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("the agent never bound with the printed token")
	}
	body := get(t, public)
	if body != "hello from local" {
		t.Errorf("through the tunnel: %q", body)
	}
	cancel()
	<-ran
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}

	again, stop2 := startEdge(t, dataDir)
	defer stop2()
	if again.token != s.token || again.password != s.password {
		t.Errorf("a restart changed the development token or password")
	}
	if _, err := os.Stat(filepath.Join(dataDir, "control")); err != nil {
		t.Errorf("control data not under the edge's data dir: %v", err)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// get fetches a public URL of the dev domain, dialling loopback whatever
// the name (as browsers and curl resolve *.localhost).
func get(t *testing.T, url string) string {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		return (&net.Dialer{}).DialContext(ctx, "tcp", "127.0.0.1:"+port)
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v %s", url, resp.StatusCode, err, b)
	}
	return string(b)
}

func TestEventLoopsOutOfRangeIsRefused(t *testing.T) {
	for _, n := range []string{"-1", "257"} {
		err := run([]string{"--data-dir", t.TempDir(), "--event-loops", n, "--http-addr", "127.0.0.1:0",
			"--https-addr", "127.0.0.1:0", "--agent-addr", "127.0.0.1:0", "--admin-addr", "off",
			"--control-addr", "127.0.0.1:0", "--tcp-port-min", "-1", "--log-level", "error"}, io.Discard, make(chan os.Signal))
		if err == nil || !strings.Contains(err.Error(), "--event-loops "+n+" is out of range") {
			t.Errorf("--event-loops %s: got %v, want an out-of-range error", n, err)
		}
	}
}

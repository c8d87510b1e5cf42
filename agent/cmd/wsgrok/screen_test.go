package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScreenTmux drives the real wsgrok binary in a real terminal (tmux):
// the live screen shows the forwarding line, then a request made through
// a real edge with its status, redraws for a narrower window, and exits
// with status 0 on Ctrl-C and on q.
func TestScreenTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("tmux is not installed (apt-get install -y tmux); with CI set this test fails instead")
		}
		t.Fatal("CI is set and tmux is missing: install it (apt-get install -y tmux)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "wsgrok")
	// Before isolate, which moves HOME and with it Go's build cache.
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	isolate(t)

	e, token := startEdge(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hello" {
			w.Write([]byte("hello\n"))
			return
		}
		http.NotFound(w, r)
	})}
	go backend.Serve(ln)
	t.Cleanup(func() { backend.Close() })

	for _, tc := range []struct{ name, key string }{{"ctrl-c", "C-c"}, {"q", "q"}} {
		t.Run(tc.name, func(t *testing.T) {
			sub := "screen-" + tc.name
			term := newTmux(t, tmux)
			exitFile := filepath.Join(term.dir, "exit")
			errFile := filepath.Join(term.dir, "stderr")
			script := filepath.Join(term.dir, "run.sh")
			cmd := strings.Join([]string{
				shq(bin), "http", ln.Addr().String(), "--subdomain", sub,
				"--edge", e.AgentAddr.String(), "--ca", shq(filepath.Join(dir, "ca.pem")), "--server-name", "localhost",
				"--authtoken", token, "--config", shq(filepath.Join(term.dir, "none.yml")), "--inspect-addr", "127.0.0.1:0",
			}, " ")
			os.WriteFile(script, fmt.Appendf(nil, "%s 2>%s\necho EXIT=$? >%s\n", cmd, shq(errFile), shq(exitFile)), 0o700)
			term.run("new-session", "-d", "-s", "wsgrok", "-x", "120", "-y", "40", "/bin/sh "+shq(script))
			stderr := func() string { b, _ := os.ReadFile(errFile); return string(b) }

			term.waitFor(t, "the forwarding line", func(p string) bool {
				return hasLine(p, "Forwarding", "https://"+sub+".localhost:", "-> http://"+ln.Addr().String()) &&
					hasLine(p, "http://"+sub+".localhost:", "-> http://"+ln.Addr().String()) &&
					hasLine(p, "Session Status", "online") && hasLine(p, "Account", "alice")
			}, stderr)

			for path, want := range map[string]int{"/hello": 200, "/missing": 404} {
				req, _ := http.NewRequest("GET", "http://"+e.HTTPAddr.String()+path, nil)
				req.Host = sub + ".localhost"
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
				}
			}
			pane := term.waitFor(t, "the request lines", func(p string) bool {
				return hasLine(p, "GET", "/hello", "200 OK") && hasLine(p, "GET", "/missing", "404 Not Found")
			}, stderr)
			if fields := counters(pane); len(fields) < 6 || fields[0] != "2" || fields[4] == "-" || fields[5] == "-" {
				t.Errorf("counters %q, want 2 requests and percentiles:\n%s", fields, pane)
			}

			// A narrower window: the title's right end moves to column 60.
			term.run("resize-window", "-t", "wsgrok", "-x", "60", "-y", "20")
			term.waitFor(t, "a redraw at 60 columns", func(p string) bool {
				title, _, _ := strings.Cut(p, "\n")
				return strings.HasPrefix(title, "wsgrok") && strings.HasSuffix(title, "(Ctrl+C to quit)") && len(title) == 60 &&
					hasLine(p, "Forwarding", "https://"+sub)
			}, stderr)

			term.run("send-keys", "-t", "wsgrok", tc.key)
			deadline := time.Now().Add(15 * time.Second)
			for {
				b, err := os.ReadFile(exitFile)
				if err == nil && strings.HasSuffix(string(b), "\n") {
					if got := strings.TrimSpace(string(b)); got != "EXIT=0" {
						t.Errorf("after %s: %s, want EXIT=0; stderr %q", tc.key, got, stderr())
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("wsgrok still running 15s after %s; stderr %q", tc.key, stderr())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if s := stderr(); s != "" {
				t.Errorf("stderr: %q", s)
			}
		})
	}
}

// tmuxServer is a tmux server on a private socket, killed at cleanup.
type tmuxServer struct {
	t    *testing.T
	bin  string
	dir  string
	args []string // selects the socket, and no config file
}

func newTmux(t *testing.T, bin string) *tmuxServer {
	dir := t.TempDir()
	sock := filepath.Join(dir, "tmux.sock")
	args := []string{"-S", sock, "-f", "/dev/null"}
	if len(sock) > 100 { // a Unix socket's path has room for about 104 bytes
		args = []string{"-L", fmt.Sprintf("wsgrok-test-%d-%d", os.Getpid(), time.Now().UnixNano()), "-f", "/dev/null"}
	}
	s := &tmuxServer{t: t, bin: bin, dir: dir, args: args}
	t.Cleanup(func() { exec.Command(bin, append(args, "kill-server")...).Run() })
	return s
}

func (s *tmuxServer) command(args ...string) *exec.Cmd {
	cmd := exec.Command(s.bin, append(append([]string{}, s.args...), args...)...)
	cmd.Env = os.Environ()
	if os.Getenv("TERM") == "" || os.Getenv("TERM") == "dumb" {
		cmd.Env = append(cmd.Env, "TERM=xterm-256color")
	}
	return cmd
}

func (s *tmuxServer) run(args ...string) string {
	s.t.Helper()
	out, err := s.command(args...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitFor polls the pane until ok holds, for at most 15 seconds.
func (s *tmuxServer) waitFor(t *testing.T, what string, ok func(pane string) bool, stderr func() string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var pane string
	for {
		out, err := s.command("capture-pane", "-p", "-t", "wsgrok").CombinedOutput()
		pane = string(out)
		if err == nil && ok(pane) {
			return pane
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in 15s (capture: %v); pane:\n%s\nstderr: %q", what, err, pane, stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hasLine reports whether some line of pane holds parts in order.
func hasLine(pane string, parts ...string) bool {
	for _, l := range strings.Split(pane, "\n") {
		rest, ok := l, true
		for _, p := range parts {
			i := strings.Index(rest, p)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(p):]
		}
		if ok {
			return true
		}
	}
	return false
}

// counters is the row under "Connections": ttl opn rt1 rt5 p50 p90.
func counters(pane string) []string {
	lines := strings.Split(pane, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "Connections") && i+1 < len(lines) {
			return strings.Fields(lines[i+1])
		}
	}
	return nil
}

// shq quotes s for sh.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestUseScreen checks the choice between the screen and plain lines for
// what is not a terminal (a terminal is TestScreenTmux's part).
func TestUseScreen(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var buf syncBuffer
	for _, log := range []string{"false", "stdout", "stderr", filepath.Join(t.TempDir(), "log")} {
		if useScreen(log, w, w) || useScreen(log, &buf, &buf) {
			t.Errorf("--log %s: a screen on a pipe or a buffer", log)
		}
	}
}

package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is a child process of the suite. Its output goes to a log file in
// the suite's temporary directory, quoted in errors when it fails.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when it has exited
	err  error         // from Wait, once done
}

// startProc starts bin with args. The child gets its own process group,
// so that a Ctrl-C in the terminal reaches only the suite, which then stops
// its children in order; Pdeathsig kills it if the suite dies without
// doing so. WSGROK_* variables are left out of its environment so that a
// developer's agent settings do not change what is measured.
func startProc(name, logPath, bin string, args ...string) (*proc, error) {
	out, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WSGROK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to end (SIGTERM), then kills it after grace.
func (p *proc) stop(grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// failure describes why the process is unusable, with the end of its log.
func (p *proc) failure(what string) error {
	state := "still running"
	if p.exited() {
		state = fmt.Sprintf("exited: %v", p.err)
	}
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return fmt.Errorf("%s: %s (%s); log %s:\n%s", p.name, what, state, p.log, bytes.TrimSpace(b))
}

// waitFor polls cond every 20 ms until it holds, p exits, or timeout.
func (p *proc) waitFor(timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if p.exited() {
			return p.failure(what)
		}
		if time.Now().After(deadline) {
			return p.failure(fmt.Sprintf("%s: not after %v", what, timeout))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// freePorts returns n distinct ports that were free a moment ago. The edge
// takes its addresses as flags and prints none of them, so they are chosen
// here; another program could take one in between, so startEdge retries.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// edgeProc is a running wsgrok-edge with its addresses.
type edgeProc struct {
	*proc
	http, https, agent, admin string // 127.0.0.1:port
	token, caFile             string
}

// startEdge runs a wsgrok-edge with a fresh data directory under dir.
func startEdge(bin, dir, name string) (*edgeProc, error) {
	var last error
	for range 3 {
		e, err := tryStartEdge(bin, dir, name)
		if err == nil {
			return e, nil
		}
		last = err
	}
	return nil, last
}

func tryStartEdge(bin, dir, name string) (*edgeProc, error) {
	data, err := os.MkdirTemp(dir, name+"-")
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	e := &edgeProc{http: addr(0), https: addr(1), agent: addr(2), admin: addr(3), caFile: filepath.Join(data, "ca.pem")}
	tokenFile := filepath.Join(data, "token")
	e.proc, err = startProc(name, data+".log", filepath.Join(bin, "wsgrok-edge"),
		"--data-dir", data, "--dev-token-file", tokenFile,
		"--http-addr", e.http, "--https-addr", e.https, "--agent-addr", e.agent, "--admin-addr", e.admin,
		"--tcp-port-min", "-1", "--log-level", "warn", "--shutdown-grace", "1s",
		// The edge alone, as it runs beside a standalone wsgrok-control:
		// what is measured is the data path. (The embedded control service
		// adds about 8 MB of RSS, most of it the SQLite code's pages.)
		"--control-addr", "off")
	if err != nil {
		return nil, err
	}
	err = e.waitFor(15*time.Second, "writing its development token", func() bool {
		b, err := os.ReadFile(tokenFile)
		e.token = strings.TrimSpace(string(b))
		return err == nil && e.token != ""
	})
	if err == nil {
		err = e.waitFor(5*time.Second, "answering /healthz", func() bool {
			resp, err := http.Get("http://" + e.admin + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	if err != nil {
		e.stop(time.Second)
		return nil, err
	}
	return e, nil
}

// metric reads one unlabelled value from the edge's /metrics.
func (e *edgeProc) metric(name string) (float64, error) {
	resp, err := http.Get("http://" + e.admin + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	for line := range strings.Lines(b.String()) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			_, err := fmt.Sscan(v, &f)
			return f, err
		}
	}
	return 0, fmt.Errorf("/metrics has no %s", name)
}

// startBackend runs wsgrok-backend on a free port with h2c.
func startBackend(bin, dir string) (*proc, string, error) {
	return startListener("wsgrok-backend", filepath.Join(dir, "backend.log"), filepath.Join(bin, "wsgrok-backend"), "-addr", "127.0.0.1:0", "-h2c")
}

// startAgent runs the wsgrok agent tunnelling upstream as name, and waits
// until the public URLs of both ingresses answer /hello.
func startAgent(bin, dir string, e *edgeProc, upstream, name string) (*proc, error) {
	p, err := startProc("wsgrok agent "+name, filepath.Join(dir, "agent-"+name+".log"), filepath.Join(bin, "wsgrok"),
		"http", upstream, "--subdomain", name, "--edge", e.agent, "--ca", e.caFile, "--authtoken", e.token,
		"--config", filepath.Join(dir, "no-such-agent-config.yml"), "--log", "false")
	if err != nil {
		return nil, err
	}
	opts := ClientOptions{CAFile: e.caFile}
	tc, err := opts.tlsConfig()
	if err != nil {
		p.stop(time.Second)
		return nil, err
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: opts.dial, TLSClientConfig: tc}}
	defer client.CloseIdleConnections()
	for _, u := range []string{publicURL("http", name, e.http, "/hello"), publicURL("https", name, e.https, "/hello")} {
		err := p.waitFor(20*time.Second, "serving "+u, func() bool {
			resp, err := client.Get(u)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		if err != nil {
			p.stop(time.Second)
			return nil, err
		}
	}
	return p, nil
}

// relayPair is the bare relay (RelayConfig): its public half, which
// stands where the edge stands, and its backend half, where the agent
// stands.
type relayPair struct {
	public, back *proc
	addr         string // the public half's 127.0.0.1:port
}

// startRelay runs both halves of the bare relay in front of backend.
func startRelay(bin, dir, backend string) (*relayPair, error) {
	exe := filepath.Join(bin, "wsgrok-bench")
	cert := filepath.Join(dir, "relay.pem")
	r := &relayPair{}
	var err error
	var backAddr string
	if r.back, backAddr, err = startListener("relay (backend half)", filepath.Join(dir, "relay-back.log"), exe,
		"relay", "-to", backend, "-cert-out", cert); err != nil {
		return nil, err
	}
	if r.public, r.addr, err = startListener("relay (public half)", filepath.Join(dir, "relay-public.log"), exe,
		"relay", "-to", backAddr, "-dial-ca", cert); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

func (r *relayPair) stop() {
	if r != nil {
		r.public.stop(3 * time.Second)
		r.back.stop(3 * time.Second)
	}
}

// startListener starts a child that prints "listening on [scheme://]ADDR"
// once it listens, and returns that address.
func startListener(name, logPath, bin string, args ...string) (*proc, string, error) {
	p, err := startProc(name, logPath, bin, args...)
	if err != nil {
		return nil, "", err
	}
	var addr string
	err = p.waitFor(10*time.Second, "printing its address", func() bool {
		b, _ := os.ReadFile(logPath)
		_, rest, ok := strings.Cut(string(b), "listening on ")
		addr, _, _ = strings.Cut(rest, "\n")
		if _, a, scheme := strings.Cut(addr, "://"); scheme {
			addr = a
		}
		return ok && strings.HasSuffix(string(b), "\n")
	})
	if err != nil {
		p.stop(time.Second)
		return nil, "", err
	}
	return p, addr, nil
}

// publicURL is the edge's URL for tunnel name on listener addr.
func publicURL(scheme, name, addr, path string) string {
	_, port, _ := net.SplitHostPort(addr)
	return scheme + "://" + name + ".localhost:" + port + path
}

// raiseFileLimit lifts the soft limit on open files to the hard one. The
// Go runtime does this for its own process but restores the original limit
// for children, unless the program sets it itself, as here: the edge
// inherits the raised limit too. It returns the new limit.
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

// checkBinaries says what to run when ./bin is not built.
func checkBinaries(bin string) error {
	var missing []string
	for _, b := range []string{"wsgrok-edge", "wsgrok", "wsgrok-backend", "wsgrok-bench"} {
		if _, err := os.Stat(filepath.Join(bin, b)); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: missing %s: run `make build` first (or pass -bin)", bin, strings.Join(missing, ", "))
	}
	return nil
}

// waitCtx sleeps d or until ctx ends.
func waitCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/wire"
)

// namedTunnel is a tunnel and the name it has in the config file ("" for
// the one of `wsgrok http` and `wsgrok tcp`).
type namedTunnel struct {
	name string
	agent.Tunnel
}

// serve runs one agent for all the tunnels, so that they share its
// sessions, until ctx ends or the edge refuses for good.
func serve(ctx context.Context, c *common, tunnels []namedTunnel, stdout, stderr io.Writer) error {
	if c.authtoken == "" {
		return errNoAuthtoken
	}
	if err := c.check(); err != nil {
		return err
	}
	updateNotice(ctx, c.updateURL, stderr)
	logger, closeLog, err := openLog(c.log, stdout, stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	insp, err := startInspector(&c.inspect, stderr) // inspector.go; nil when off
	if err != nil {
		return err
	}
	defer insp.close()
	pr := &printer{ctx: ctx, out: stdout, errw: stderr, log: logger, tunnels: tunnels}
	if insp != nil {
		pr.inspector = insp.URL()
	}
	var ev agent.Events = pr
	var scr *screen // the live screen, when stdout is a terminal (screen.go)
	if useScreen(c.log, stdout, stderr) {
		scr = newScreen(c, tunnels, stdout, insp.URL())
		ev = scr.ui
	}
	ev = &settle{Events: ev}
	ts := make([]agent.Tunnel, len(tunnels))
	for i, t := range tunnels {
		ts[i] = t.Tunnel
	}
	a, err := agent.New(agent.Config{
		Edge: c.edge, Authtoken: c.authtoken, CAFile: c.ca, ServerName: c.serverName, Pool: c.pool,
		Tunnels: ts, UpstreamTimeout: c.upstreamTimeout, UpstreamTLSVerify: c.verifyUpstream,
		Logger: logger, Events: ev, Observer: insp.observer(),
	})
	if err != nil {
		return err
	}
	insp.attach(a)
	if scr != nil {
		return scr.run(ctx, a)
	}
	return a.Run(ctx)
}

// settle gives the start-up's garbage back to the OS once the first
// tunnel is up. Loading the system's root certificates for the edge's TLS
// allocates about 3.7 MB that is garbage a moment later; Go keeps the heap
// pages, and an idle agent held about 4 MB it had no use for.
type settle struct {
	agent.Events
	once sync.Once
}

func (s *settle) Forwarding(t *agent.Tunnel, urls []string) {
	s.Events.Forwarding(t, urls)
	s.once.Do(func() { go debug.FreeOSMemory() })
}

func openLog(dest string, stdout, stderr io.Writer) (*slog.Logger, func(), error) {
	switch dest {
	case "", "false":
		return slog.New(slog.DiscardHandler), func() {}, nil
	case "stdout":
		return slog.New(slog.NewTextHandler(stdout, nil)), func() {}, nil
	case "stderr":
		return slog.New(slog.NewTextHandler(stderr, nil)), func() {}, nil
	}
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open the log file %s: %w", dest, err)
	}
	return slog.New(slog.NewTextHandler(f, nil)), func() { f.Close() }, nil
}

// printer shows the forwarding lines and one line per failure.
type printer struct {
	ctx       context.Context // the run's: once it ends, failures are the shutdown's
	out, errw io.Writer
	log       *slog.Logger
	tunnels   []namedTunnel
	inspector string // the inspector's URL, until it is printed

	mu          sync.Mutex
	lastRefused time.Time
	lastStatus  string
}

// name finds t's name in the config file. The agent hands back its own
// copy of the tunnel, so it is matched by value.
func (p *printer) name(t *agent.Tunnel) string {
	for _, n := range p.tunnels {
		if n.Kind == t.Kind && n.Upstream == t.Upstream && n.Subdomain == t.Subdomain && n.Port == t.Port &&
			n.HostHeader == t.HostHeader && slices.Equal(n.Options, t.Options) {
			return n.name
		}
	}
	return ""
}

func (p *printer) Forwarding(t *agent.Tunnel, urls []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	local := t.Upstream
	if t.Kind == wire.KindHTTP {
		if u, err := agent.ParseUpstream(t.Upstream); err == nil {
			local = u.String()
		}
	} else {
		local = "tcp://" + local
	}
	label := ""
	if name := p.name(t); name != "" {
		width := 0
		for _, n := range p.tunnels {
			width = max(width, len(n.name))
		}
		label = fmt.Sprintf("%-*s  ", width, name)
	}
	if p.inspector != "" {
		// With the first forwarding lines, not before: an agent the edge
		// refuses prints one line, the reason.
		fmt.Fprintf(p.out, "Inspector   %s\n", p.inspector)
		p.inspector = ""
	}
	for _, u := range urls {
		fmt.Fprintf(p.out, "Forwarding  %s%s -> %s\n", label, u, local)
	}
}

func (p *printer) Status(state string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case state == "online" && p.lastStatus == "reconnecting":
		fmt.Fprintln(p.errw, "wsgrok: reconnected")
	case state == "reconnecting" && p.ctx.Err() == nil:
		fmt.Fprintf(p.errw, "wsgrok: %s\n", withCode(err))
	}
	p.lastStatus = state
}

func (p *printer) Request(r agent.RequestEvent) {
	// Enabled first: boxing the attributes costs three allocations a
	// request even when the log is off (issue 4).
	if p.log.Enabled(p.ctx, slog.LevelInfo) {
		p.log.Info("request", "method", r.Method, "path", r.Path, "status", r.Status, "dur", r.Duration.Round(time.Microsecond),
			"in", r.BytesIn, "out", r.BytesOut, "client", r.ClientAddr, "err", r.Err)
	}
	if r.Err == nil || r.Status != 0 {
		return
	}
	if !errors.Is(r.Err, syscall.ECONNREFUSED) && !strings.Contains(r.Err.Error(), "connection refused") {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.lastRefused) < 10*time.Second {
		return
	}
	p.lastRefused = time.Now()
	fmt.Fprintf(p.errw, "wsgrok: local service %s refused the connection: start it, or check the address given to wsgrok (ERR_WSGROK_LOCAL_REFUSED)\n", r.Tunnel.Upstream)
}

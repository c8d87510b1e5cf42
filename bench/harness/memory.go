package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/wire"
)

// MemoryResult is what a memory scenario measured: the edge's resident
// set before and after N idle connections or agent sessions.
type MemoryResult struct {
	N               int     `json:"n"`
	Opened          int     `json:"opened"` // how many were established and held
	EdgeRSSBeforeMB float64 `json:"edge_rss_before_mb"`
	EdgeRSSAfterMB  float64 `json:"edge_rss_after_mb"`
	KBPer           float64 `json:"kb_per"` // (after - before) / Opened, in KB (1000 bytes)
	// EdgeCount is the edge's own count from /metrics while they were held
	// (wsgrok_edge_public_connections or wsgrok_edge_agent_sessions).
	EdgeCount float64 `json:"edge_count"`
	Seconds   float64 `json:"seconds"`
	Error     string  `json:"error,omitempty"`
}

// settle is how long the edge is left alone before its RSS is read, so
// that goroutines started by a burst have finished and parked.
const settle = 2 * time.Second

// idleConns opens IdleConns keep-alive connections to the gnet ingress of a
// fresh edge, sends one GET /hello on each, reads the answer, and holds
// them open while it reads the edge's RSS.
func (s *suite) idleConns(ctx context.Context) (*MemoryResult, error) {
	n := s.cfg.IdleConns
	s.logf("%s: a fresh edge and agent, then %d idle keep-alive connections", idleConnsName, n)
	e, err := startEdge(s.cfg.Bin, s.dir, "edge-idle")
	if err != nil {
		return nil, err
	}
	defer e.stop(3 * time.Second)
	const name = "idle"
	a, err := startAgent(s.cfg.Bin, s.dir, e, s.beAddr, name)
	if err != nil {
		return nil, err
	}
	defer a.stop(3 * time.Second)

	_, port, _ := net.SplitHostPort(e.http)
	request := []byte("GET /hello HTTP/1.1\r\nHost: " + name + ".localhost:" + port + "\r\n\r\n")
	hello := func(ctx context.Context) (net.Conn, error) {
		d := net.Dialer{Timeout: 10 * time.Second}
		c, err := d.DialContext(ctx, "tcp", e.http)
		if err != nil {
			return nil, err
		}
		c.SetDeadline(time.Now().Add(15 * time.Second))
		if _, err := c.Write(request); err != nil {
			c.Close()
			return nil, err
		}
		// A small reader: the answer is a few hundred bytes, and 10,000
		// default 4 KiB readers would only inflate this process.
		resp, err := http.ReadResponse(bufio.NewReaderSize(c, 1024), nil)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("GET /hello: %s", resp.Status)
			}
		}
		if err != nil {
			c.Close()
			return nil, err
		}
		c.SetDeadline(time.Time{})
		return c, nil
	}
	// Warm the path up (event loops, the tunnel, the agent's upstream pool)
	// so that the baseline is a working edge, not a cold one.
	for range 20 {
		c, err := hello(ctx)
		if err != nil {
			return nil, fmt.Errorf("warming up %s: %w", e.http, err)
		}
		c.Close()
	}
	if err := waitCtx(ctx, settle); err != nil {
		return nil, err
	}
	before, _, err := procMem(e.pid())
	if err != nil {
		return nil, err
	}

	conns := make([]net.Conn, n)
	var failed atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				c, err := hello(ctx)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	m := &MemoryResult{N: n, Opened: n - int(failed.Load()), EdgeRSSBeforeMB: mb(before)}
	if err := waitCtx(ctx, settle); err != nil {
		return nil, err
	}
	after, _, err := procMem(e.pid())
	if err != nil {
		return nil, err
	}
	m.EdgeRSSAfterMB = mb(after)
	m.EdgeCount, _ = e.metric("wsgrok_edge_public_connections")
	if m.Opened > 0 {
		m.KBPer = float64(after-before) / 1e3 / float64(m.Opened)
	}
	s.logf("%s: %d held, edge RSS %.1f → %.1f MB: %.2f KB per connection (edge counts %.0f open)",
		idleConnsName, m.Opened, m.EdgeRSSBeforeMB, m.EdgeRSSAfterMB, m.KBPer, m.EdgeCount)
	if failed.Load() > 0 {
		return m, fmt.Errorf("%d of %d connections failed; first: %v", failed.Load(), n, firstErr)
	}
	if int(m.EdgeCount) != m.Opened {
		s.anomaly("%s: the edge reports %.0f open public connections, the harness holds %d", idleConnsName, m.EdgeCount, m.Opened)
	}
	return m, nil
}

// sessionEvents counts the agents that bound their tunnel.
type sessionEvents struct {
	bound        atomic.Int64
	reconnecting atomic.Int64
	mu           sync.Mutex
	firstErr     error
}

func (ev *sessionEvents) first() error {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.firstErr
}

func (ev *sessionEvents) Forwarding(*agent.Tunnel, []string) { ev.bound.Add(1) }
func (ev *sessionEvents) Request(agent.RequestEvent)         {}
func (ev *sessionEvents) Status(state string, err error) {
	if state != "reconnecting" {
		return
	}
	ev.reconnecting.Add(1)
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.firstErr == nil {
		ev.firstErr = err
	}
}

// agentSessions connects Agents in-process agents to a fresh edge, each
// with its own session and tunnel name, and reads the edge's RSS.
func (s *suite) agentSessions(ctx context.Context) (*MemoryResult, error) {
	n := s.cfg.Agents
	s.logf("%s: a fresh edge, then %d agents in this process, one session and name each", agentSessionsName, n)
	e, err := startEdge(s.cfg.Bin, s.dir, "edge-agents")
	if err != nil {
		return nil, err
	}
	defer e.stop(3 * time.Second)
	if err := waitCtx(ctx, settle); err != nil {
		return nil, err
	}
	before, _, err := procMem(e.pid())
	if err != nil {
		return nil, err
	}

	actx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			s.anomaly("%s: agents still running 15 s after being stopped", agentSessionsName)
		}
	}()
	ev := new(sessionEvents)
	// Batches: a thousand TLS handshakes at once on two cores would time
	// out and measure the retry storm instead.
	const batch = 50
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		for i := start; i < end; i++ {
			a, err := agent.New(agent.Config{
				Edge: e.agent, Authtoken: e.token, CAFile: e.caFile, ServerName: "localhost", Events: ev,
				Tunnels: []agent.Tunnel{{Kind: wire.KindHTTP, Upstream: s.beAddr, Subdomain: fmt.Sprintf("a%d", i)}},
			})
			if err != nil {
				return nil, err
			}
			wg.Go(func() {
				if err := a.Run(actx); err != nil {
					ev.Status("reconnecting", err) // fatal: counted like a failure
				}
			})
		}
		deadline := time.Now().Add(30 * time.Second)
		for ev.bound.Load() < int64(end) {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("%d of %d agents bound after 30 s; %d reconnects, first: %v",
					ev.bound.Load(), end, ev.reconnecting.Load(), ev.first())
			}
			if err := waitCtx(ctx, 10*time.Millisecond); err != nil {
				return nil, err
			}
		}
	}
	if err := waitCtx(ctx, settle); err != nil {
		return nil, err
	}
	after, _, err := procMem(e.pid())
	if err != nil {
		return nil, err
	}
	m := &MemoryResult{N: n, Opened: int(ev.bound.Load()), EdgeRSSBeforeMB: mb(before), EdgeRSSAfterMB: mb(after)}
	m.EdgeCount, _ = e.metric("wsgrok_edge_agent_sessions")
	m.KBPer = float64(after-before) / 1e3 / float64(max(m.Opened, 1))
	s.logf("%s: %d bound, edge RSS %.1f → %.1f MB: %.1f KB per agent session (edge counts %.0f sessions)",
		agentSessionsName, m.Opened, m.EdgeRSSBeforeMB, m.EdgeRSSAfterMB, m.KBPer, m.EdgeCount)
	if r := ev.reconnecting.Load(); r > 0 {
		s.anomaly("%s: %d agent reconnects while connecting %d agents; first: %v", agentSessionsName, r, n, ev.first())
	}
	if int(m.EdgeCount) != m.Opened {
		s.anomaly("%s: the edge reports %.0f agent sessions, the harness bound %d", agentSessionsName, m.EdgeCount, m.Opened)
	}
	return m, nil
}

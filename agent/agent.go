// Package agent is the developer's side of wsgrok: it keeps sessions to an
// edge, binds tunnels, and carries each stream to a local service.
package agent

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/proto/tlsbatch"
	"github.com/wsgrok/wsgrok/wire"
)

// Version is the agent's version, reported to the edge.
var Version = "0.1.0"

// Tunnel describes one tunnel to serve.
type Tunnel struct {
	Kind       wire.StreamKind
	Upstream   string // http://127.0.0.1:3000, https://..., or host:port for TCP
	Subdomain  string // HTTP: the name asked for; "" for a random one
	Port       int    // TCP: the public port asked for; 0 for any
	HostHeader string // "": keep the public Host; "rewrite": the upstream's; else this value
	Options    wire.Metadata

	target *url.URL // parsed Upstream (HTTP)
}

// Config configures an Agent.
type Config struct {
	Edge       string // host:port of the edge's agent listener
	Authtoken  string
	CAFile     string // extra CA to trust (PEM), e.g. the edge's development CA
	ServerName string // TLS name to verify; default: Edge's host
	Pool       int    // parallel sessions to the edge; default 1
	Tunnels    []Tunnel

	// UpstreamTimeout bounds waiting for the local service's response
	// head; a response that is flowing is never cut. Default 60 s.
	UpstreamTimeout time.Duration
	// UpstreamTLSVerify verifies https:// upstreams' certificates (local
	// services often use self-signed ones, so it is off by default).
	UpstreamTLSVerify bool

	Session proto.Config
	Logger  *slog.Logger
	// Events receives what a user may want to see; may be nil.
	Events Events
	// Observer sees every HTTP exchange (the request inspector); may be nil.
	Observer Observer

	// Backoff bounds; defaults 250 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
}

// Events are the agent's notifications for a user interface. Each method
// may be called from any goroutine and must not block long.
type Events interface {
	// Forwarding reports a tunnel's public URLs once bound, and again if
	// they change after a reconnect.
	Forwarding(t *Tunnel, urls []string)
	// Status reports the connection state: "online", "reconnecting",
	// with the error that caused it.
	Status(state string, err error)
	// Request reports a finished HTTP exchange or TCP connection.
	Request(r RequestEvent)
}

// RequestEvent describes one exchange for logs and the inspector.
type RequestEvent struct {
	Tunnel     *Tunnel
	Method     string
	Path       string
	Status     int
	Duration   time.Duration
	BytesIn    int64 // request body
	BytesOut   int64 // response body
	ClientAddr string
	Err        error
}

// Fatal errors end Run: retrying cannot help.
var (
	ErrAuth = errors.New("wsgrok: the edge refused the authtoken")
	ErrBind = errors.New("wsgrok: the edge refused a tunnel")
)

// ErrEdgeUntrusted means the edge's certificate did not verify; the agent
// keeps retrying (the operator may be fixing it), and says so.
var ErrEdgeUntrusted = errors.New("wsgrok: the edge's certificate is not trusted")

// Agent keeps Pool sessions to the edge and serves the tunnels on each.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	tlsConf  *tls.Config
	instance string
	upstream *http.Transport
	h1       *upstreamPool // plain-http local services, without Transport's goroutines (httpproxy.go)

	mu       sync.Mutex
	names    map[*Tunnel]string // name the edge gave each tunnel, to reclaim
	urls     map[*Tunnel]string // last URLs reported
	sessions map[int]*proto.Session
	fatal    chan error
	byID     sync.Map // *proto.Session -> map[uint32]*Tunnel: each session's tunnel ids
}

// New validates cfg and prepares an Agent.
func New(cfg Config) (*Agent, error) {
	if cfg.Edge == "" {
		return nil, errors.New("wsgrok: no edge address: pass --edge host:port")
	}
	if len(cfg.Tunnels) == 0 {
		return nil, errors.New("wsgrok: no tunnel to serve")
	}
	if cfg.Pool <= 0 {
		cfg.Pool = 1
	}
	if cfg.UpstreamTimeout == 0 {
		cfg.UpstreamTimeout = 60 * time.Second
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for i := range cfg.Tunnels {
		t := &cfg.Tunnels[i]
		if t.Kind == wire.KindHTTP {
			u, err := ParseUpstream(t.Upstream)
			if err != nil {
				return nil, err
			}
			t.target = u
		}
	}
	host, _, err := net.SplitHostPort(cfg.Edge)
	if err != nil {
		return nil, fmt.Errorf("wsgrok: edge address %q: want host:port", cfg.Edge)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if cfg.ServerName != "" {
		tc.ServerName = cfg.ServerName
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("wsgrok: cannot read --ca %s: %w", cfg.CAFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("wsgrok: --ca %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	var inst [8]byte
	rand.Read(inst[:])
	a := &Agent{
		cfg: cfg, log: cfg.Logger, tlsConf: tc, instance: hex.EncodeToString(inst[:]),
		names: map[*Tunnel]string{}, urls: map[*Tunnel]string{}, sessions: map[int]*proto.Session{},
		fatal: make(chan error, 1),
	}
	a.upstream = newUpstreamTransport(cfg)
	a.h1 = newUpstreamPool()
	return a, nil
}

// ParseUpstream accepts 3000, host:port, http://host:port and
// https://host:port and returns the URL to forward to.
func ParseUpstream(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("wsgrok: no local address: give a port (3000), host:port or URL")
	}
	if p, err := strconv.Atoi(s); err == nil {
		if p <= 0 || p > 65535 {
			return nil, fmt.Errorf("wsgrok: port %d out of range 1-65535", p)
		}
		return &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", s)}, nil
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("wsgrok: local address %q: want a port, host:port, or an http(s):// URL", s)
	}
	return u, nil
}

// Run serves until ctx ends (nil error) or a fatal refusal (bad token, a
// name held by another account) ends it.
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for slot := range a.cfg.Pool {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.keepSession(ctx, slot)
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-a.fatal:
		cancel()
	}
	wg.Wait()
	a.upstream.CloseIdleConnections()
	a.h1.closeIdle()
	return err
}

func (a *Agent) fail(err error) {
	select {
	case a.fatal <- err:
	default:
	}
}

// keepSession holds one slot's session, reconnecting with exponential
// backoff and full jitter; a session that lived long resets the backoff,
// and a drain (GOAWAY NO_ERROR) reconnects at once.
func (a *Agent) keepSession(ctx context.Context, slot int) {
	b := backoff{min: a.cfg.MinBackoff, max: a.cfg.MaxBackoff}
	for ctx.Err() == nil {
		s, err := a.connect(ctx, slot)
		if err == nil {
			err = a.bindAll(ctx, s)
			if err == nil {
				a.setSession(slot, s)
				a.status("online", nil)
				began := time.Now()
				select {
				case <-s.Done():
					err = s.Err()
					var pe *proto.PeerError
					if errors.As(err, &pe) && (pe.Code == wire.ErrCodeRevoked || pe.Code == wire.ErrCodeUnauthorized) {
						err = &refusal{kind: ErrAuth, peer: pe}
					}
				case <-ctx.Done():
					s.Close()
				}
				a.setSession(slot, nil)
				if ctx.Err() != nil {
					return
				}
				if time.Since(began) > 10*time.Second || s.GoingAway() {
					b.reset()
				}
			} else {
				s.Close()
			}
		}
		if fatal(err) {
			a.fail(err)
			return
		}
		wait := b.next()
		a.status("reconnecting", fmt.Errorf("%w; retrying in %v", err, wait.Round(10*time.Millisecond)))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
}

func fatal(err error) bool { return errors.Is(err, ErrAuth) || errors.Is(err, ErrBind) }

func (a *Agent) status(state string, err error) {
	if a.cfg.Events != nil {
		a.cfg.Events.Status(state, err)
	}
	if err != nil {
		a.log.Warn(state, "err", err)
	}
}

func (a *Agent) setSession(slot int, s *proto.Session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s == nil {
		delete(a.sessions, slot)
	} else {
		a.sessions[slot] = s
	}
}

// Sessions returns the live sessions (for status screens: RTT, streams).
func (a *Agent) Sessions() []*proto.Session {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*proto.Session, 0, len(a.sessions))
	for _, s := range a.sessions {
		out = append(out, s)
	}
	return out
}

// connect dials the edge, verifies its certificate and completes the
// handshake.
func (a *Agent) connect(ctx context.Context, slot int) (*proto.Session, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	conn, err := a.dial(dctx)
	cancel()
	if err != nil {
		var cv *tls.CertificateVerificationError
		if errors.As(err, &cv) {
			return nil, fmt.Errorf("%w (%v): pass --ca with the edge's CA file", ErrEdgeUntrusted, cv.Err)
		}
		return nil, fmt.Errorf("wsgrok: edge %s unreachable: %w", a.cfg.Edge, err)
	}
	cfg := a.cfg.Session
	cfg.Meta = wire.Metadata{
		{Key: "authtoken", Value: a.cfg.Authtoken},
		{Key: "agent", Value: "wsgrok/" + Version},
		{Key: "os", Value: runtime.GOOS + "/" + runtime.GOARCH},
		{Key: "instance", Value: a.instance},
		{Key: "slot", Value: strconv.Itoa(slot)},
	}
	cfg.OnStream = func(st *proto.Stream) { go a.handleStream(st) }
	s, err := proto.Client(conn, cfg)
	if err != nil {
		var pe *proto.PeerError
		if errors.As(err, &pe) && (pe.Code == wire.ErrCodeUnauthorized || pe.Code == wire.ErrCodeRevoked) {
			return nil, &refusal{kind: ErrAuth, peer: pe}
		}
		return nil, fmt.Errorf("wsgrok: handshake with %s failed: %w", a.cfg.Edge, err)
	}
	return s, nil
}

// dial connects to the edge over TLS, with records batched into few
// writes (proto/tlsbatch).
func (a *Agent) dial(ctx context.Context) (net.Conn, error) {
	raw, err := (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext(ctx, "tcp", a.cfg.Edge)
	if err != nil {
		return nil, err
	}
	b := tlsbatch.NewBatcher(raw)
	tc := tls.Client(b, a.tlsConf)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return tlsbatch.Wrap(tc, b), nil
}

// bindAll binds every tunnel on s, asking for the name each had before so
// that a reconnect keeps its URL.
func (a *Agent) bindAll(ctx context.Context, s *proto.Session) error {
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ids := map[uint32]*Tunnel{}
	for i := range a.cfg.Tunnels {
		t := &a.cfg.Tunnels[i]
		b := wire.Bind{Kind: t.Kind, Options: t.Options}
		a.mu.Lock()
		b.Name = a.names[t]
		a.mu.Unlock()
		if b.Name == "" {
			b.Name = t.Subdomain
			if t.Kind == wire.KindTCP && t.Port != 0 {
				b.Name = strconv.Itoa(t.Port)
			}
		}
		r, err := s.Bind(bctx, b)
		if err != nil {
			var pe *proto.PeerError
			if errors.As(err, &pe) {
				return &refusal{kind: ErrBind, peer: pe}
			}
			return err
		}
		ids[r.TunnelID] = t
		a.bound(t, r)
	}
	a.mu.Lock()
	a.tunnelIDs(s, ids)
	a.mu.Unlock()
	return nil
}

func (a *Agent) bound(t *Tunnel, r wire.BindResult) {
	urls := r.Meta.All("url")
	a.mu.Lock()
	a.names[t] = r.Meta.Get("name")
	key := strings.Join(urls, " ")
	changed := a.urls[t] != key
	a.urls[t] = key
	a.mu.Unlock()
	if changed && a.cfg.Events != nil {
		a.cfg.Events.Forwarding(t, urls)
	}
}

func (a *Agent) tunnelIDs(s *proto.Session, ids map[uint32]*Tunnel) {
	a.byID.Store(s, ids)
	go func() {
		<-s.Done()
		a.byID.Delete(s)
	}()
}

func (a *Agent) tunnelFor(st *proto.Stream) *Tunnel {
	for range 100 { // a stream can race its BIND_RESULT's bookkeeping
		if v, ok := a.byID.Load(st.Session()); ok {
			if t := v.(map[uint32]*Tunnel)[st.TunnelID()]; t != nil {
				return t
			}
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

func (a *Agent) handleStream(st *proto.Stream) {
	t := a.tunnelFor(st)
	if t == nil || t.Kind != st.Kind() {
		st.Reset(wire.ErrCodeUnknownTunnel)
		return
	}
	switch t.Kind {
	case wire.KindHTTP:
		a.serveHTTP(t, st)
	case wire.KindTCP:
		a.serveTCP(t, st)
	}
}

func (a *Agent) event(e RequestEvent) {
	if a.cfg.Events != nil {
		a.cfg.Events.Request(e)
	}
}

// backoff is exponential with "equal jitter" (AWS architecture blog,
// "Exponential Backoff And Jitter"): half the ceiling plus a random half,
// so that many agents reconnecting at once spread out but never spin.
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) next() time.Duration {
	ceil := b.min << min(b.n, 20)
	if ceil > b.max || ceil <= 0 {
		ceil = b.max
	}
	b.n++
	var r [8]byte
	rand.Read(r[:])
	j := time.Duration(uint64(r[0])|uint64(r[1])<<8|uint64(r[2])<<16|uint64(r[3])<<24) % (ceil/2 + 1)
	return ceil/2 + j
}

func (b *backoff) reset() { b.n = 0 }

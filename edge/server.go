// Package edge is wsgrok's public side: it accepts agents over TLS, binds
// their tunnels to names and ports, and forwards public HTTP (gnet event
// loop for plain HTTP/1.1, crypto/tls + HTTP/2 for HTTPS) and TCP traffic
// to them over multiplexed streams.
package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/wire"
)

// Config configures an Edge. The zero value of a field means its default;
// DefaultConfig spells them out. With no configuration at all the edge runs
// on loopback with the dev domain "localhost" (*.localhost resolves to
// 127.0.0.1 in browsers and curl) and a generated development CA.
type Config struct {
	Domain    string // public domain; tunnels are <name>.<Domain>. Default "localhost".
	HTTPAddr  string // plain HTTP/1.1 ingress (gnet). Default 127.0.0.1:8080; "off" disables.
	HTTPSAddr string // HTTPS ingress, HTTP/1.1 and HTTP/2. Default 127.0.0.1:8443; "off" disables.
	AgentAddr string // agent listener (TLS). Default 127.0.0.1:4443.
	AdminAddr string // /metrics and /healthz. Default 127.0.0.1:9090; "off" disables.

	// Public ports for URLs when a load balancer maps them (0: the
	// listeners' own ports; 80 and 443 are left out of URLs).
	PublicHTTPPort, PublicHTTPSPort int

	TCPHost    string // address TCP tunnel ports listen on. Default 127.0.0.1.
	TCPPortMin int    // TCP tunnel port range. Default 20000-20999; MinPort -1 disables.
	TCPPortMax int

	DataDir        string   // keys and the development CA. Default ./wsgrok-edge-data.
	TLSCert        string   // operator certificate (PEM, wildcard for Domain); empty: development CA
	TLSKey         string   // its key
	TrustedProxies []string // CIDRs allowed to send PROXY protocol v2 to the HTTP ingress

	// ACME gets a certificate per name (the domain and each bound or
	// reserved tunnel host) from an ACME CA on first use, proved with
	// TLS-ALPN-01 on the HTTPS listener (the CA must reach it on port 443),
	// cached in DataDir/acme; see NewACMECertSource. Excludes TLSCert and
	// TLSKey; refused for the domain localhost.
	ACME          bool
	ACMEDirectory string // ACME directory URL. Default Let's Encrypt production.
	ACMEEmail     string // contact address registered with the CA; optional
	ACMECARoots   string // PEM roots for the ACME server's HTTPS (private CA, tests); empty: system roots

	// Auth verifies agents' authtokens. Nil: the control service's keys
	// when ControlURL is set, else a development key in DataDir.
	Auth Authenticator

	// ControlURL is the control service this edge syncs keys, revocations,
	// reserved names and policies from, and reports usage to; empty runs
	// the edge alone. ControlSecret authenticates the edge to it.
	ControlURL    string
	ControlSecret string
	EdgeName      string        // how this edge names itself to the control service. Default: the agent address.
	SyncInterval  time.Duration // how often to sync and report. Default 1 s.

	MaxHeaderBytes     int           // request head limit. Default 32 KiB.
	HeaderTimeout      time.Duration // time to send a request head. Default 10 s.
	IdleTimeout        time.Duration // keep-alive idle limit. Default 90 s.
	ResponseTimeout    time.Duration // time for the agent to send a response head. Default 5 min.
	Hold               time.Duration // how long a request waits for a reconnecting agent. Default 5 s.
	OfflineGrace       time.Duration // how long an agentless tunnel keeps its name routed. Default 60 s.
	NameQuarantine     time.Duration // how long a released name is kept from other accounts. Default 24 h.
	MaxTunnelsPerAgent int           // per agent connection. Default 32.
	FastBodyMax        int           // largest request body served on the event loop. Default 64 KiB.
	EventLoops         int           // gnet loops of each ingress. Default: one per CPU.
	HTTPSNetHTTP       bool          // serve HTTPS/1.1 with net/http rather than on event loops (h2 always is)
	Session            proto.Config  // agent sessions; zero fields take proto's defaults

	Logger *slog.Logger
}

// DefaultConfig returns the defaults described on Config.
func DefaultConfig() Config {
	return Config{
		Domain: "localhost", HTTPAddr: "127.0.0.1:8080", HTTPSAddr: "127.0.0.1:8443",
		AgentAddr: "127.0.0.1:4443", AdminAddr: "127.0.0.1:9090",
		TCPHost: "127.0.0.1", TCPPortMin: 20000, TCPPortMax: 20999,
		DataDir: "wsgrok-edge-data", MaxHeaderBytes: 32 << 10,
		HeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second, ResponseTimeout: 5 * time.Minute,
		Hold: 5 * time.Second, OfflineGrace: 60 * time.Second, NameQuarantine: 24 * time.Hour,
		MaxTunnelsPerAgent: 32, FastBodyMax: 64 << 10, EventLoops: runtime.NumCPU(),
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	str := func(v *string, dv string) {
		if *v == "" {
			*v = dv
		}
	}
	str(&c.Domain, d.Domain)
	str(&c.HTTPAddr, d.HTTPAddr)
	str(&c.HTTPSAddr, d.HTTPSAddr)
	str(&c.AgentAddr, d.AgentAddr)
	str(&c.AdminAddr, d.AdminAddr)
	str(&c.TCPHost, d.TCPHost)
	str(&c.DataDir, d.DataDir)
	num := func(v *int, dv int) {
		if *v == 0 {
			*v = dv
		}
	}
	if c.TCPPortMin == 0 && c.TCPPortMax == 0 {
		c.TCPPortMin, c.TCPPortMax = d.TCPPortMin, d.TCPPortMax
	}
	num(&c.MaxHeaderBytes, d.MaxHeaderBytes)
	num(&c.MaxTunnelsPerAgent, d.MaxTunnelsPerAgent)
	num(&c.FastBodyMax, d.FastBodyMax)
	num(&c.EventLoops, d.EventLoops)
	dur := func(v *time.Duration, dv time.Duration) {
		if *v == 0 {
			*v = dv
		}
	}
	dur(&c.HeaderTimeout, d.HeaderTimeout)
	dur(&c.IdleTimeout, d.IdleTimeout)
	dur(&c.ResponseTimeout, d.ResponseTimeout)
	dur(&c.Hold, d.Hold)
	dur(&c.OfflineGrace, d.OfflineGrace)
	dur(&c.NameQuarantine, d.NameQuarantine)
	dur(&c.SyncInterval, time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// Edge is a running edge: its listeners and the registry they share.
type Edge struct {
	cfg     Config
	log     *slog.Logger
	reg     *Registry
	fwd     *forwarder
	agents  *agentServer
	httpIn  *httpIngress
	httpsIn *httpIngress // nil with HTTPSNetHTTP
	tcpIn   *tcpIngress
	m       *edgeMetrics
	certs   CertSource
	devCA   *DevCA
	devAuth *devAuth
	ctl     *controlClient
	stopCtl context.CancelFunc
	ctlDone chan struct{}

	servers    []*http.Server
	lns        []net.Listener
	stopJan    chan struct{}
	stopJanTLS chan struct{}
	wg         sync.WaitGroup

	shutdownOnce sync.Once

	HTTPAddr, HTTPSAddr, AgentAddr, AdminAddr net.Addr
}

// New prepares an edge: certificates, keys and the registry. Start opens
// its listeners.
func New(cfg Config) (*Edge, error) {
	cfg = cfg.withDefaults()
	if !validDomain(cfg.Domain) {
		return nil, fmt.Errorf("wsgrok: edge: domain %q is not a DNS name", cfg.Domain)
	}
	if cfg.EventLoops < 1 || cfg.EventLoops > 256 {
		return nil, fmt.Errorf("wsgrok: edge: --event-loops %d is out of range: give 1 to 256, or leave it unset for one per CPU", cfg.EventLoops)
	}
	e := &Edge{cfg: cfg, log: cfg.Logger}
	var err error
	if cfg.ACME {
		if e.certs, err = e.newACMECerts(); err != nil {
			return nil, err
		}
	} else if cfg.TLSCert != "" || cfg.TLSKey != "" {
		if cfg.TLSCert == "" || cfg.TLSKey == "" {
			return nil, errors.New("wsgrok: edge: give both --tls-cert and --tls-key, or neither to use the development CA")
		}
		if e.certs, err = NewFileCertSource(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, err
		}
	} else {
		if e.devCA, err = LoadOrCreateDevCA(cfg.DataDir); err != nil {
			return nil, err
		}
		if e.certs, err = NewDevCertSource(e.devCA, cfg.Domain); err != nil {
			return nil, err
		}
	}
	auth := cfg.Auth
	if cfg.ControlURL != "" {
		name := cfg.EdgeName
		if name == "" {
			name = cfg.AgentAddr
		}
		e.ctl = newControlClient(e, strings.TrimSuffix(cfg.ControlURL, "/"), cfg.ControlSecret, name, cfg.SyncInterval)
		if auth == nil {
			auth = e.ctl
		}
	}
	if auth == nil {
		if e.devAuth, err = loadDevAuth(cfg.DataDir); err != nil {
			return nil, err
		}
		auth = e.devAuth
	}
	e.reg = newRegistry(cfg.Domain, cfg.OfflineGrace, cfg.NameQuarantine)
	e.m = newEdgeMetrics(e.streamCount, func() float64 { return float64(len(e.reg.Tunnels())) }, e.maxRTT)
	e.fwd = &forwarder{reg: e.reg, hold: cfg.Hold, headTimeout: cfg.ResponseTimeout, m: e.m, reportUsage: e.ctl != nil}
	scfg := cfg.Session
	scfg.RefuseStreams = true // agents answer streams; they never open them
	e.agents = &agentServer{
		reg: e.reg, auth: auth, tlsConf: ServerTLSConfig(e.certs), protoCfg: scfg,
		maxTunnels: cfg.MaxTunnelsPerAgent, handshakeTimeout: 10 * time.Second, m: e.m, log: e.log,
		sessions: map[*proto.Session]*agentSession{}, slots: map[string]*agentSession{},
		urls: e.urls,
	}
	if cfg.TCPPortMin > 0 {
		e.tcpIn = &tcpIngress{host: cfg.TCPHost, min: cfg.TCPPortMin, max: cfg.TCPPortMax, f: e.fwd, reg: e.reg, log: e.log}
		e.reg.tcp = e.tcpIn
	}
	return e, nil
}

func validDomain(d string) bool {
	c, err := CanonicalHost(d)
	return err == nil && c == d
}

func (e *Edge) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wsgrok: edge: cannot listen on %s: %w (is another edge running? choose another address)", addr, err)
	}
	e.lns = append(e.lns, ln)
	return ln, nil
}

// Start opens every listener and returns once they accept connections.
func (e *Edge) Start() error {
	cfg := e.cfg
	ln, err := e.listen(cfg.AgentAddr)
	if err != nil {
		return err
	}
	e.AgentAddr = ln.Addr()
	agentLn := ln

	plainHandler := &httpHandler{f: e.fwd, ingress: "http"}
	if cfg.HTTPAddr != "off" {
		trusted, err := ParseTrustedNets(cfg.TrustedProxies)
		if err != nil {
			return err
		}
		e.httpIn = &httpIngress{f: e.fwd, m: e.m, log: e.log, trusted: trusted, maxHead: cfg.MaxHeaderBytes,
			fastBody: cfg.FastBodyMax, headerTO: cfg.HeaderTimeout, idleTO: cfg.IdleTimeout,
			handoff: newChanListener(nil)}
		if err := e.httpIn.run(cfg.HTTPAddr, cfg.EventLoops); err != nil {
			return err
		}
		e.HTTPAddr = e.httpIn.addr
		e.httpIn.handoff.addr = e.HTTPAddr // before Serve reads it
		e.serve(&http.Server{Handler: plainHandler, MaxHeaderBytes: cfg.MaxHeaderBytes,
			ReadHeaderTimeout: cfg.HeaderTimeout, IdleTimeout: cfg.IdleTimeout, ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelDebug)},
			e.httpIn.handoff)
		e.stopJan = make(chan struct{})
		go e.httpIn.janitor(e.stopJan)
	}
	if cfg.HTTPSAddr != "off" {
		ln, err := e.listen(cfg.HTTPSAddr)
		if err != nil {
			return err
		}
		e.HTTPSAddr = ln.Addr()
		srv := &http.Server{Handler: &httpHandler{f: e.fwd, ingress: "https"}, MaxHeaderBytes: cfg.MaxHeaderBytes,
			ReadHeaderTimeout: cfg.HeaderTimeout, IdleTimeout: cfg.IdleTimeout,
			TLSConfig: ServerTLSConfig(e.certs, "h2", "http/1.1"), ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelDebug)}
		if err := http2.ConfigureServer(srv, &http2.Server{MaxConcurrentStreams: 250, IdleTimeout: cfg.IdleTimeout}); err != nil {
			return err
		}
		if a, ok := e.certs.(*ACMECertSource); ok {
			a.configureServer(srv) // TLS-ALPN-01 validations arrive here
		}
		if cfg.HTTPSNetHTTP {
			e.serve(srv, tls.NewListener(ln, srv.TLSConfig))
		} else {
			// HTTPS/1.1 on event loops; net/http serves the rest (h2, ACME's
			// validations, hand-offs), which the ingress passes on.
			e.httpsIn = &httpIngress{f: e.fwd, m: e.m, log: e.log, maxHead: cfg.MaxHeaderBytes,
				fastBody: cfg.FastBodyMax, headerTO: cfg.HeaderTimeout, idleTO: cfg.IdleTimeout,
				handoff: newChanListener(ln.Addr())}
			srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
				if cs := handedOffTLS(c); cs != nil {
					return context.WithValue(ctx, handedOffTLSKey{}, cs)
				}
				return ctx
			}
			if err := e.httpsIn.runTLS(ln, srv.TLSConfig, cfg.EventLoops); err != nil {
				return err
			}
			e.serve(srv, e.httpsIn.handoff)
			e.stopJanTLS = make(chan struct{})
			go e.httpsIn.janitor(e.stopJanTLS)
		}
	}
	if cfg.AdminAddr != "off" {
		ln, err := e.listen(cfg.AdminAddr)
		if err != nil {
			return err
		}
		e.AdminAddr = ln.Addr()
		e.serve(&http.Server{Handler: e.adminHandler(), ReadHeaderTimeout: 5 * time.Second}, ln)
	}
	if e.ctl != nil {
		// One sync before agents are let in, so that their tokens verify;
		// if the control service is down, agents wait until it is back.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := e.ctl.syncOnce(sctx); err != nil {
			e.log.Warn("control service not reachable at start; agents wait for it", "url", cfg.ControlURL, "err", err)
		}
		cancel()
		ctx, stop := context.WithCancel(context.Background())
		e.stopCtl, e.ctlDone = stop, make(chan struct{})
		go func() { defer close(e.ctlDone); e.ctl.run(ctx) }()
	}
	// Agents last: their tunnels' URLs name the public listeners above.
	e.wg.Add(1)
	go func() { defer e.wg.Done(); e.agents.serve(agentLn) }()
	e.log.Info("edge started", "domain", cfg.Domain, "http", e.HTTPAddr, "https", e.HTTPSAddr, "agents", e.AgentAddr, "admin", e.AdminAddr)
	return nil
}

func (e *Edge) serve(srv *http.Server, ln net.Listener) {
	e.servers = append(e.servers, srv)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		srv.Serve(ln)
	}()
}

// Shutdown drains: agents get GOAWAY, in-flight requests and streams
// finish until ctx ends, then everything closes.
func (e *Edge) Shutdown(ctx context.Context) error {
	err := ctx.Err()
	e.shutdownOnce.Do(func() { err = e.shutdown(ctx) })
	return err
}

func (e *Edge) shutdown(ctx context.Context) error {
	e.log.Info("edge draining")
	for _, in := range []*httpIngress{e.httpIn, e.httpsIn} {
		if in != nil {
			in.draining.Store(true)
		}
	}
	for _, srv := range e.servers {
		srv.SetKeepAlivesEnabled(false)
	}
	e.agents.drain(ctx)
	var wg sync.WaitGroup
	for _, srv := range e.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if srv.Shutdown(ctx) != nil {
				srv.Close()
			}
		}()
	}
	wg.Wait()
	if e.httpIn != nil {
		close(e.stopJan)
		e.httpIn.handoff.Close()
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		e.httpIn.stop(stopCtx)
		cancel()
	}
	if e.httpsIn != nil {
		close(e.stopJanTLS)
		e.httpsIn.handoff.Close()
		e.httpsIn.stop(context.Background())
	}
	if e.tcpIn != nil {
		e.tcpIn.closeAll()
	}
	if e.stopCtl != nil {
		e.stopCtl() // a last report carries the drained requests' usage
		<-e.ctlDone
	}
	for _, ln := range e.lns {
		ln.Close()
	}
	e.wg.Wait()
	e.log.Info("edge stopped")
	return ctx.Err()
}

// urls are the public addresses of a tunnel, for BIND_RESULT.
func (e *Edge) urls(t *Tunnel) []string {
	if t.Kind == wire.KindTCP {
		return []string{tcpURL(e.cfg.Domain, t.Port)}
	}
	var out []string
	if e.HTTPSAddr != nil {
		out = append(out, "https://"+t.Host+portSuffix(e.cfg.PublicHTTPSPort, e.HTTPSAddr, 443))
	}
	if e.HTTPAddr != nil {
		out = append(out, "http://"+t.Host+portSuffix(e.cfg.PublicHTTPPort, e.HTTPAddr, 80))
	}
	return out
}

func portSuffix(public int, addr net.Addr, def int) string {
	port := public
	if port == 0 {
		if ta, ok := addr.(*net.TCPAddr); ok {
			port = ta.Port
		}
	}
	if port == def || port == 0 {
		return ""
	}
	return ":" + strconv.Itoa(port)
}

// CAPEM returns the development CA certificate, or nil with operator
// certificates.
func (e *Edge) CAPEM() []byte {
	if e.devCA == nil {
		return nil
	}
	return e.devCA.CertPEM
}

// MintDevToken returns an authtoken for account signed by the development
// key (only when Config.Auth is nil).
func (e *Edge) MintDevToken(account string) (string, error) {
	if e.devAuth == nil {
		return "", errors.New("wsgrok: edge: no development key: this edge verifies tokens from the control service")
	}
	return e.devAuth.mint(account)
}

// Registry gives tests and the control plane access to the tunnels.
func (e *Edge) Registry() *Registry { return e.reg }

// DisconnectToken closes the sessions of a revoked token, telling the
// agents why. It returns how many were closed.
func (e *Edge) DisconnectToken(tokenID, msg string) int {
	return e.agents.closeToken(tokenID, wire.ErrCodeRevoked, msg)
}

func (e *Edge) streamCount() float64 {
	n := 0
	for _, s := range e.agents.snapshot() {
		n += s.Streams
	}
	return float64(n)
}

func (e *Edge) maxRTT() float64 {
	var m time.Duration
	for _, s := range e.agents.snapshot() {
		m = max(m, s.RTT)
	}
	return m.Seconds()
}

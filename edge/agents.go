package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/proto/tlsbatch"
	"github.com/wsgrok/wsgrok/wire"
)

// Identity is who an authtoken belongs to.
type Identity struct {
	Account     string // stable account id; names belong to it
	AccountName string // for people
	TokenID     string // for revocation
}

// Authenticator checks an agent's authtoken locally, without a round trip
// to the control service.
type Authenticator interface {
	Authenticate(token string) (Identity, error)
}

// AuthFunc adapts a function to Authenticator.
type AuthFunc func(token string) (Identity, error)

func (f AuthFunc) Authenticate(token string) (Identity, error) { return f(token) }

// agentSession is one agent connection and the tunnels it serves.
type agentSession struct {
	s        *proto.Session
	id       Identity
	slot     string // instance/slot: a newer session with the same one replaces this
	remote   string
	since    time.Time
	mu       sync.Mutex
	tunnels  map[uint32]*Tunnel
	nextTID  uint32
	maxTunls int
}

// agentServer accepts agent connections over TLS and binds their tunnels.
type agentServer struct {
	reg              *Registry
	auth             Authenticator
	tlsConf          *tls.Config
	protoCfg         proto.Config
	maxTunnels       int
	handshakeTimeout time.Duration
	m                *edgeMetrics
	log              *slog.Logger
	urls             func(t *Tunnel) []string

	mu       sync.Mutex
	sessions map[*proto.Session]*agentSession
	slots    map[string]*agentSession
	lns      []net.Listener
	closing  bool
	wg       sync.WaitGroup
}

func (a *agentServer) serve(ln net.Listener) {
	a.mu.Lock()
	a.lns = append(a.lns, ln)
	a.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return
		}
		a.wg.Add(1)
		go a.handle(c)
	}
}

func (a *agentServer) handle(raw net.Conn) {
	defer a.wg.Done()
	// Records of one session flush leave in a few large writes, not one
	// write(2) per 16 KiB record.
	batcher := tlsbatch.NewBatcher(raw)
	tc := tls.Server(batcher, a.tlsConf)
	hctx, cancel := context.WithTimeout(context.Background(), a.handshakeTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		raw.Close()
		a.log.Debug("agent TLS handshake failed", "remote", raw.RemoteAddr(), "err", err)
		return
	}
	conn := tlsbatch.Wrap(tc, batcher)
	var id Identity
	cfg := a.protoCfg
	cfg.Authenticate = func(_ net.Conn, h *wire.Hello) (wire.Metadata, error) {
		a.mu.Lock()
		closing := a.closing
		a.mu.Unlock()
		if closing {
			return nil, &proto.PeerError{Code: wire.ErrCodeRefusedStream, Message: "edge is shutting down: reconnect in a moment"}
		}
		tok := h.Meta.Get("authtoken")
		if tok == "" {
			return nil, &proto.PeerError{Code: wire.ErrCodeUnauthorized, Message: "no authtoken: run `wsgrok config add-authtoken <token>` with a token from the dashboard"}
		}
		var err error
		id, err = a.auth.Authenticate(tok)
		if err != nil {
			code := wire.ErrCodeUnauthorized
			if strings.Contains(err.Error(), "revoked") {
				code = wire.ErrCodeRevoked
			}
			return nil, &proto.PeerError{Code: code, Message: err.Error()}
		}
		return wire.Metadata{{Key: "account", Value: id.AccountName}}, nil
	}
	cfg.OnBind = a.onBind
	cfg.OnUnbind = a.onUnbind
	s, err := proto.Server(conn, cfg)
	if err != nil {
		a.m.agentRefused.Inc()
		a.log.Info("agent refused", "remote", raw.RemoteAddr(), "err", err)
		return
	}
	as := &agentSession{
		s: s, id: id, remote: raw.RemoteAddr().String(), since: time.Now(),
		tunnels: map[uint32]*Tunnel{}, maxTunls: a.maxTunnels,
	}
	if inst := s.PeerMeta().Get("instance"); inst != "" {
		as.slot = id.Account + "/" + inst + "/" + s.PeerMeta().Get("slot")
	}
	a.register(as)
	a.log.Info("agent connected", "account", id.AccountName, "remote", as.remote, "agent", s.PeerMeta().Get("agent"))
	<-s.Done()
	a.unregister(as)
	a.log.Info("agent disconnected", "account", id.AccountName, "remote", as.remote, "err", s.Err())
}

func (a *agentServer) register(as *agentSession) {
	a.mu.Lock()
	a.sessions[as.s] = as
	var stale *agentSession
	if as.slot != "" {
		stale = a.slots[as.slot]
		a.slots[as.slot] = as
	}
	a.mu.Unlock()
	a.m.sessions.Inc()
	if stale != nil {
		// The same agent process reconnected on the same slot: its old
		// session is dead (crash, sleep, lost network) and must not keep
		// the names.
		go stale.s.CloseWithError(wire.ErrCodeNo, "replaced by a newer session of the same agent")
	}
}

func (a *agentServer) unregister(as *agentSession) {
	a.mu.Lock()
	delete(a.sessions, as.s)
	if as.slot != "" && a.slots[as.slot] == as {
		delete(a.slots, as.slot)
	}
	a.mu.Unlock()
	a.m.sessions.Dec()
	as.mu.Lock()
	tunnels := as.tunnels
	as.tunnels = map[uint32]*Tunnel{}
	as.mu.Unlock()
	for _, t := range tunnels {
		a.reg.detach(t, as)
	}
}

func (a *agentServer) lookup(s *proto.Session) *agentSession {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sessions[s]
}

func (a *agentServer) onBind(s *proto.Session, b wire.Bind) wire.BindResult {
	as := a.lookup(s)
	for as == nil { // OnBind can run before register; wait briefly
		select {
		case <-s.Done():
			return bindError(wire.ErrCodeInternal, "session ended")
		case <-time.After(time.Millisecond):
		}
		as = a.lookup(s)
	}
	as.mu.Lock()
	if len(as.tunnels) >= as.maxTunls {
		as.mu.Unlock()
		return bindError(wire.ErrCodeTunnelLimit, "at most %d tunnels per agent connection", as.maxTunls)
	}
	as.mu.Unlock()
	if err := ValidateOptions(b.Options); err != nil {
		return bindError(wire.ErrCodeNameInvalid, "bad tunnel option: %v", err)
	}
	t, res := a.reg.bind(as, b)
	if t == nil {
		a.log.Info("bind refused", "account", as.id.AccountName, "name", b.Name, "code", res.Code, "msg", res.Message)
		return res
	}
	as.mu.Lock()
	as.nextTID++
	tid := as.nextTID
	as.tunnels[tid] = t
	as.mu.Unlock()
	t.addBinding(binding{sess: as, id: tid}, b.Options)
	res = wire.BindResult{TunnelID: tid, Meta: wire.Metadata{{Key: "name", Value: t.Name}}}
	for _, u := range a.urls(t) {
		res.Meta = res.Meta.Add("url", u)
	}
	a.log.Info("tunnel bound", "account", as.id.AccountName, "name", t.Name, "kind", t.Kind, "sessions", t.Sessions())
	return res
}

func (a *agentServer) onUnbind(s *proto.Session, u wire.Unbind) {
	as := a.lookup(s)
	if as == nil {
		return
	}
	as.mu.Lock()
	t := as.tunnels[u.TunnelID]
	delete(as.tunnels, u.TunnelID)
	as.mu.Unlock()
	if t != nil {
		go a.reg.detach(t, as)
	}
}

// closeListeners stops accepting agents.
func (a *agentServer) closeListeners() {
	a.mu.Lock()
	a.closing = true
	lns := a.lns
	a.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
}

// drain sends GOAWAY to every agent, lets in-flight streams finish until
// ctx ends, then closes the sessions.
func (a *agentServer) drain(ctx context.Context) {
	a.closeListeners()
	a.mu.Lock()
	sessions := make([]*proto.Session, 0, len(a.sessions))
	for s := range a.sessions {
		sessions = append(sessions, s)
	}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Drain(ctx, "edge shutting down: reconnect")
		}()
	}
	wg.Wait()
	a.wg.Wait()
}

// closeToken disconnects every session that authenticated with tokenID,
// telling the agent why.
func (a *agentServer) closeToken(tokenID string, code wire.ErrCode, msg string) int {
	a.mu.Lock()
	var victims []*proto.Session
	for s, as := range a.sessions {
		if as.id.TokenID == tokenID {
			victims = append(victims, s)
		}
	}
	a.mu.Unlock()
	for _, s := range victims {
		go s.CloseWithError(code, msg)
	}
	return len(victims)
}

// sessionInfo describes one agent session for status pages.
type sessionInfo struct {
	Account string
	Remote  string
	Agent   string
	Since   time.Time
	RTT     time.Duration
	Streams int
	Tunnels []string
	// FramesIn and FramesOut count the session's frames each way: with
	// bytes on the public side they tell how well frames are batched.
	FramesIn, FramesOut uint64
}

func (a *agentServer) snapshot() []sessionInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]sessionInfo, 0, len(a.sessions))
	for s, as := range a.sessions {
		si := sessionInfo{Account: as.id.AccountName, Remote: as.remote, Agent: s.PeerMeta().Get("agent"), Since: as.since, RTT: s.RTT(), Streams: s.NumStreams()}
		st := s.Stats()
		si.FramesIn, si.FramesOut = st.FramesIn, st.FramesOut
		as.mu.Lock()
		for _, t := range as.tunnels {
			si.Tunnels = append(si.Tunnels, t.Name)
		}
		as.mu.Unlock()
		out = append(out, si)
	}
	return out
}

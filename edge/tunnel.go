package edge

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgrok/wsgrok/control/api"
	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/wire"
)

// ErrAgentOffline means a tunnel exists but no agent session can take a
// stream right now.
var ErrAgentOffline = errors.New("wsgrok: the agent serving this tunnel is offline")

// Tunnel is one public name (or TCP port) and the agent sessions that
// serve it. Streams are spread over its sessions round-robin; when one
// session dies the others carry the traffic.
type Tunnel struct {
	// Immutable after creation:
	Name    string // subdomain label, or the port for TCP
	Host    string // canonical host (HTTP) or "" (TCP)
	Port    int    // public port (TCP)
	Account string
	Kind    wire.StreamKind

	binds  atomic.Pointer[[]binding] // copy-on-write; readers never lock
	rr     atomic.Uint32
	pol    atomic.Pointer[policy] // compiled from agentOpts and ctl
	limits limiter

	mu        sync.Mutex    // guards writes to binds, online, offline, agentOpts, ctl
	online    chan struct{} // closed when a binding is added; nil while online
	offline   time.Time     // when the last binding left; zero while online
	agentOpts wire.Metadata // policy options of the latest BIND
	ctl       *api.Policy   // the dashboard's policy, if any
}

type binding struct {
	sess *agentSession
	id   uint32 // the tunnel id in that session's BIND_RESULT
}

func newTunnel(name, host string, port int, account string, kind wire.StreamKind) *Tunnel {
	t := &Tunnel{Name: name, Host: host, Port: port, Account: account, Kind: kind}
	t.binds.Store(&[]binding{})
	t.pol.Store(&policy{})
	t.online = make(chan struct{})
	t.offline = time.Now()
	return t
}

// setControlPolicy installs the dashboard's policy (nil removes it).
func (t *Tunnel) setControlPolicy(p *api.Policy) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ctl = p
	t.pol.Store(compilePolicy(t.agentOpts, t.ctl))
}

// Sessions returns how many agent sessions serve the tunnel.
func (t *Tunnel) Sessions() int { return len(*t.binds.Load()) }

func (t *Tunnel) addBinding(b binding, opts wire.Metadata) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := *t.binds.Load()
	next := make([]binding, 0, len(cur)+1)
	next = append(next, cur...)
	next = append(next, b)
	t.binds.Store(&next)
	t.agentOpts = opts
	t.pol.Store(compilePolicy(t.agentOpts, t.ctl))
	if t.online != nil {
		close(t.online)
		t.online = nil
	}
	t.offline = time.Time{}
}

// removeSession drops every binding of sess and reports whether the tunnel
// has no session left.
func (t *Tunnel) removeSession(sess *agentSession) (empty bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := *t.binds.Load()
	next := make([]binding, 0, len(cur))
	for _, b := range cur {
		if b.sess != sess {
			next = append(next, b)
		}
	}
	t.binds.Store(&next)
	if len(next) == 0 && t.online == nil {
		t.online = make(chan struct{})
		t.offline = time.Now()
	}
	return len(next) == 0
}

// offlineSince returns when the tunnel lost its last session, or zero.
func (t *Tunnel) offlineSince() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.offline
}

// Online returns a channel closed once a session serves the tunnel; it is
// already closed when one does.
func (t *Tunnel) Online() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.online == nil {
		return closedChan
	}
	return t.online
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Open opens a stream on one of the tunnel's sessions, starting after the
// last one used and skipping sessions that are full, draining or gone. It
// never blocks.
func (t *Tunnel) Open(o proto.OpenOptions) (*proto.Stream, error) {
	binds := *t.binds.Load()
	n := len(binds)
	if n == 0 {
		return nil, ErrAgentOffline
	}
	start := int(t.rr.Add(1))
	var lastErr error = ErrAgentOffline
	for i := range n {
		b := binds[(start+i)%n]
		o.TunnelID = b.id
		st, err := b.sess.s.Open(o)
		if err == nil {
			return st, nil
		}
		lastErr = err
	}
	if errors.Is(lastErr, proto.ErrStreamLimit) {
		return nil, lastErr
	}
	return nil, ErrAgentOffline
}

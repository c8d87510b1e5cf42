package edge

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/wsgrok/wsgrok/control/api"
	"github.com/wsgrok/wsgrok/wire"
)

// reservedNames can never be bound: they name the operator's own services.
var reservedNames = map[string]bool{
	"www": true, "api": true, "admin": true, "dashboard": true, "edge": true,
	"control": true, "status": true, "mail": true, "wsgrok": true, "metrics": true,
}

// Registry owns the names and TCP ports tunnels hold, and the router that
// maps hosts to them.
type Registry struct {
	domain       string
	router       *Router
	offlineGrace time.Duration
	quarantine   time.Duration
	tcp          *tcpIngress // nil when TCP tunnels are off

	mu       sync.Mutex
	byName   map[string]*Tunnel // HTTP tunnels by subdomain
	byPort   map[int]*Tunnel    // TCP tunnels by public port
	released map[string]released
	reserved map[string]api.Name    // from the control service
	policies map[string]*api.Policy // from the control service, by endpoint
}

// released remembers who held a name that went away, so it is not handed
// to another account at once (a link someone still follows must not reach a
// stranger's service).
type released struct {
	account string
	until   time.Time
}

func newRegistry(domain string, offlineGrace, quarantine time.Duration) *Registry {
	return &Registry{
		domain:       domain,
		router:       NewRouter(),
		offlineGrace: offlineGrace,
		quarantine:   quarantine,
		byName:       map[string]*Tunnel{},
		byPort:       map[int]*Tunnel{},
		released:     map[string]released{},
		reserved:     map[string]api.Name{},
		policies:     map[string]*api.Policy{},
	}
}

// Reserved returns the account a name is reserved for, as last synced
// from the control service.
func (r *Registry) Reserved(name string) (account string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.reserved[name]
	return n.Account, ok && n.Released == nil
}

// setReserved records a reservation from the control service.
func (r *Registry) setReserved(n api.Name) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reserved[n.Name] = n
}

// setControlPolicy installs (or, when Deleted, removes) the dashboard's
// policy for an endpoint; it takes effect on the next request.
func (r *Registry) setControlPolicy(p *api.Policy) {
	r.mu.Lock()
	endpoint, account := p.Endpoint, p.Account
	if p.Deleted {
		delete(r.policies, endpoint)
		p = nil
	} else {
		r.policies[endpoint] = p
	}
	t := r.byName[endpoint]
	r.mu.Unlock()
	if t != nil && t.Account == account {
		t.setControlPolicy(p)
	}
}

// bindError is a refused BIND with the code and message the agent shows.
func bindError(code wire.ErrCode, format string, args ...any) wire.BindResult {
	return wire.BindResult{Code: code, Message: fmt.Sprintf(format, args...)}
}

// bind attaches sess to the tunnel b asks for, creating it if needed.
func (r *Registry) bind(sess *agentSession, b wire.Bind) (*Tunnel, wire.BindResult) {
	switch b.Kind {
	case wire.KindHTTP:
		return r.bindHTTP(sess, b)
	case wire.KindTCP:
		return r.bindTCP(sess, b)
	}
	return nil, bindError(wire.ErrCodeNameInvalid, "unknown tunnel kind %d: update the agent", b.Kind)
}

func (r *Registry) bindHTTP(sess *agentSession, b wire.Bind) (*Tunnel, wire.BindResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := b.Name
	if name == "" {
		name = r.randomNameLocked()
	} else if !ValidName(name) {
		return nil, bindError(wire.ErrCodeNameInvalid, "%q is not a valid subdomain: use 1-63 lower-case letters, digits and hyphens", name)
	} else if reservedNames[name] {
		return nil, bindError(wire.ErrCodeNameInvalid, "%q is reserved: choose another subdomain", name)
	}
	t := r.byName[name]
	if t != nil && t.Account != sess.id.Account {
		return nil, bindError(wire.ErrCodeNameTaken, "%s.%s is held by another account: choose another subdomain", name, r.domain)
	}
	if res, ok := r.reserved[name]; ok && res.Account != sess.id.Account {
		if res.Released == nil || time.Since(*res.Released) < r.quarantine {
			return nil, bindError(wire.ErrCodeNameTaken, "%s.%s is reserved by another account: choose another subdomain", name, r.domain)
		}
	}
	if rel, ok := r.released[name]; ok && t == nil {
		if time.Now().Before(rel.until) && rel.account != sess.id.Account {
			return nil, bindError(wire.ErrCodeNameTaken, "%s.%s was recently used by another account: choose another subdomain", name, r.domain)
		}
		delete(r.released, name)
	}
	if t == nil {
		t = newTunnel(name, name+"."+r.domain, 0, sess.id.Account, wire.KindHTTP)
		if p := r.policies[name]; p != nil && p.Account == t.Account {
			t.ctl = p
		}
		r.byName[name] = t
		r.router.Set(t.Host, t)
	}
	return t, wire.BindResult{}
}

func (r *Registry) bindTCP(sess *agentSession, b wire.Bind) (*Tunnel, wire.BindResult) {
	if r.tcp == nil {
		return nil, bindError(wire.ErrCodeNameInvalid, "this edge does not offer TCP tunnels")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if b.Name != "" {
		port, err := strconv.Atoi(b.Name)
		if err != nil || !r.tcp.inRange(port) {
			return nil, bindError(wire.ErrCodeNameInvalid, "port %q is outside this edge's range %d-%d", b.Name, r.tcp.min, r.tcp.max)
		}
		if t := r.byPort[port]; t != nil {
			if t.Account != sess.id.Account {
				return nil, bindError(wire.ErrCodeNameTaken, "port %d is held by another account", port)
			}
			return t, wire.BindResult{}
		}
		if err := r.tcp.listen(port); err != nil {
			return nil, bindError(wire.ErrCodeNameTaken, "port %d is not available: %v", port, err)
		}
		t := newTunnel(b.Name, "", port, sess.id.Account, wire.KindTCP)
		r.byPort[port] = t
		return t, wire.BindResult{}
	}
	for range 64 {
		port := r.tcp.randomPort()
		if r.byPort[port] != nil {
			continue
		}
		if rel, ok := r.released[strconv.Itoa(port)]; ok && time.Now().Before(rel.until) {
			continue
		}
		if err := r.tcp.listen(port); err != nil {
			continue
		}
		t := newTunnel(strconv.Itoa(port), "", port, sess.id.Account, wire.KindTCP)
		r.byPort[port] = t
		return t, wire.BindResult{}
	}
	return nil, bindError(wire.ErrCodeTunnelLimit, "no free TCP port on this edge: try again later")
}

var adjectives = []string{"amber", "brave", "calm", "clever", "crisp", "eager", "fancy", "gentle", "happy", "jolly",
	"keen", "lucky", "mellow", "nimble", "proud", "quick", "quiet", "rapid", "shiny", "sunny", "swift", "tidy", "vivid", "witty"}
var nouns = []string{"otter", "falcon", "river", "maple", "comet", "harbor", "meadow", "pebble", "canyon", "lantern",
	"orchid", "panda", "rocket", "sparrow", "tiger", "willow", "zephyr", "badger", "cedar", "delta", "ember", "fjord"}

// randomNameLocked picks a free name nobody held recently. Random names
// carry 24 random bits, so a name is not guessed or soon reused.
func (r *Registry) randomNameLocked() string {
	for {
		var b [8]byte
		rand.Read(b[:])
		v := binary.BigEndian.Uint64(b[:])
		name := fmt.Sprintf("%s-%s-%06x", adjectives[v%uint64(len(adjectives))], nouns[(v>>8)%uint64(len(nouns))], (v>>16)&0xffffff)
		if r.byName[name] == nil {
			if _, recent := r.released[name]; !recent {
				return name
			}
		}
	}
}

// detach removes sess from t; an emptied tunnel stays routed for the
// offline grace (requests wait for the agent to come back), then goes.
func (r *Registry) detach(t *Tunnel, sess *agentSession) {
	if !t.removeSession(sess) {
		return
	}
	time.AfterFunc(r.offlineGrace, func() { r.expire(t) })
}

// expire forgets t if it is still without a session after the grace.
func (r *Registry) expire(t *Tunnel) {
	r.mu.Lock()
	defer r.mu.Unlock()
	since := t.offlineSince()
	if since.IsZero() || time.Since(since) < r.offlineGrace {
		return // an agent came back (or left again later; that timer will act)
	}
	switch t.Kind {
	case wire.KindHTTP:
		if r.byName[t.Name] == t {
			delete(r.byName, t.Name)
			r.router.Delete(t.Host, t)
		}
	case wire.KindTCP:
		if r.byPort[t.Port] == t {
			delete(r.byPort, t.Port)
			r.tcp.close(t.Port)
		}
	}
	r.released[t.Name] = released{account: t.Account, until: time.Now().Add(r.quarantine)}
	r.pruneReleasedLocked()
}

func (r *Registry) pruneReleasedLocked() {
	now := time.Now()
	for k, v := range r.released {
		if now.After(v.until) {
			delete(r.released, k)
		}
	}
}

// Lookup returns the tunnel for a canonical host.
func (r *Registry) Lookup(host string) *Tunnel { return r.router.Lookup(host) }

// lookupPort returns the TCP tunnel on a public port.
func (r *Registry) lookupPort(port int) *Tunnel {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byPort[port]
}

// Tunnels returns every tunnel, for status pages and metrics.
func (r *Registry) Tunnels() []*Tunnel {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Tunnel, 0, len(r.byName)+len(r.byPort))
	for _, t := range r.byName {
		out = append(out, t)
	}
	for _, t := range r.byPort {
		out = append(out, t)
	}
	return out
}

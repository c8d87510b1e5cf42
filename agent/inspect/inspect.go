// Package inspect is the agent's request inspector: it records the HTTP
// exchanges an agent carries (as an agent.Observer), and serves a web page
// and a JSON API to look at them, replay them as they were or edited,
// export them as curl commands or HAR, all on loopback by default.
//
// Memory is bounded: the newest MaxRequests exchanges, each with at most
// MaxBody bytes of request and of response body; what is cut is marked,
// with the true size kept; and at most MaxTotalBody bytes of bodies in
// all, the oldest exchanges' bodies dropped first.
package inspect

import (
	"crypto/sha256"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgrok/wsgrok/agent"
)

// Defaults for Config.
const (
	DefaultMaxRequests  = 500
	DefaultMaxBody      = 1 << 20
	DefaultMaxTotalBody = 2 << 20
)

// Config configures an Inspector.
type Config struct {
	MaxRequests int  // exchanges kept, newest first; default 500
	MaxBody     int  // body bytes kept per direction per exchange; 0: 1 MiB; negative: none (sizes are kept)
	Redact      bool // store and export Authorization, Proxy-Authorization, Cookie and Set-Cookie values as "[redacted]"
	// MaxTotalBody bounds the body bytes kept across all exchanges, at
	// every moment (MaxRequests × 2 × MaxBody would be 1 GiB by default):
	// to stay under it, the oldest exchanges' bodies are dropped first,
	// marked as truncated, their sizes kept. Default 2 MiB: hundreds of
	// webhook payloads or the newest large bodies, and an agent that stays
	// small (with 4 MiB, eight concurrent 1 MiB echoes took the agent's
	// peak RSS from 28 MB without the inspector to 40 MB; with 2 MiB, and
	// 128 KiB bulk copy buffers, to 33 MB).
	MaxTotalBody int64
	// Agent replays requests; may be set later with SetAgent.
	Agent *agent.Agent
}

// Inspector records exchanges and serves them. It implements
// agent.Observer. All methods are safe for concurrent use.
type Inspector struct {
	cfg   Config
	agent atomic.Pointer[agent.Agent]

	held     atomic.Int64 // body bytes kept by all exchanges
	trimming atomic.Bool

	mu      sync.Mutex // before any exchange's mu
	nextID  uint64
	ring    []*exchange // circular; len == cfg.MaxRequests once full
	head    int         // index of the oldest entry when full
	byID    map[uint64]*exchange
	pending []*pendingReplay // replays sent by this inspector, waiting for their Begin

	subsMu sync.Mutex
	subs   map[*subscriber]struct{}

	remote atomic.Bool // served on a non-loopback listener: no Host check

	srvMu   sync.Mutex
	servers []*http.Server
	closed  chan struct{}
	once    sync.Once
}

var _ agent.Observer = (*Inspector)(nil)

// New returns an Inspector.
func New(cfg Config) *Inspector {
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = DefaultMaxRequests
	}
	if cfg.MaxTotalBody <= 0 {
		cfg.MaxTotalBody = DefaultMaxTotalBody
	}
	switch {
	case cfg.MaxBody == 0:
		cfg.MaxBody = DefaultMaxBody
	case cfg.MaxBody < 0:
		cfg.MaxBody = 0
	}
	i := &Inspector{
		cfg:    cfg,
		byID:   map[uint64]*exchange{},
		subs:   map[*subscriber]struct{}{},
		closed: make(chan struct{}),
	}
	if cfg.Agent != nil {
		i.agent.Store(cfg.Agent)
	}
	return i
}

// SetAgent sets the agent that replays requests (the agent needs the
// inspector as its Observer first, so it usually comes second).
func (i *Inspector) SetAgent(a *agent.Agent) { i.agent.Store(a) }

// exchange is one recorded request and its response. Its capture methods
// run on the proxy's goroutines: they only copy into bounded buffers.
type exchange struct {
	i  *Inspector
	id uint64

	// Set at Begin, then read-only.
	tunnel     *agent.Tunnel
	tunnelName string
	method     string
	path       string
	host       string
	proto      string
	reqHeader  http.Header
	clientAddr string
	edgeStart  time.Time
	start      time.Time
	replay     bool
	replayOf   uint64
	rtt        time.Duration // the session's round trip at Begin; 0 if unknown

	mu         sync.Mutex
	reqBody    body
	respBody   body
	gotResp    bool
	status     int
	respHeader http.Header
	upstream   time.Duration
	end        time.Time
	done       bool
	err        string
}

// pendingReplay matches a replay this inspector sends with the exchange
// the agent reports for it.
type pendingReplay struct {
	method, path, fingerprint string
	of                        uint64
	id                        uint64 // set by Begin
}

// Begin implements agent.Observer.
func (i *Inspector) Begin(t *agent.Tunnel, r *agent.ObservedRequest) agent.Capture {
	if t == nil || r == nil {
		return nil
	}
	h := r.Header // the agent's; cloned before redaction changes it
	if h == nil {
		h = http.Header{}
	}
	fp := ""
	if r.Replay {
		fp = headerFingerprint(h) // before redaction, as the replay computed it
	}
	if i.cfg.Redact {
		h = h.Clone()
		redactHeader(h, false)
	}
	e := &exchange{
		i: i, tunnel: t, tunnelName: tunnelName(t, r),
		method: r.Method, path: r.Path, host: r.Host, proto: r.Proto, reqHeader: h,
		clientAddr: r.ClientAddr, edgeStart: r.EdgeStart, start: r.Start, replay: r.Replay,
		reqBody:  body{max: i.cfg.MaxBody, held: &i.held, budget: i.cfg.MaxTotalBody},
		respBody: body{max: i.cfg.MaxBody, held: &i.held, budget: i.cfg.MaxTotalBody},
		rtt:      r.RTT,
	}
	if e.start.IsZero() {
		e.start = time.Now()
	}
	i.mu.Lock()
	if r.Replay {
		for k, p := range i.pending {
			if p.method != r.Method || p.path != r.Path {
				continue
			}
			if p.fingerprint == fp {
				p.id = i.nextID + 1
				e.replayOf = p.of
				i.pending = append(i.pending[:k], i.pending[k+1:]...)
				break
			}
		}
	}
	i.nextID++
	e.id = i.nextID
	i.insertLocked(e)
	i.mu.Unlock()
	i.notify(e.id)
	return e
}

// headerFingerprint is a digest of a header's names and values, in a
// canonical order, to match a replay with the exchange the agent reports.
func headerFingerprint(h http.Header) string {
	lines := make([]string, 0, len(h))
	for k, vs := range h {
		k = http.CanonicalHeaderKey(k)
		for _, v := range vs {
			lines = append(lines, k+"\x00"+v)
		}
	}
	sort.Strings(lines)
	d := sha256.New()
	for _, l := range lines {
		d.Write([]byte(l))
		d.Write([]byte{'\n'})
	}
	return string(d.Sum(nil))
}

// tunnelName labels a tunnel in the list: its subdomain, or the first
// label of the public host, or its upstream.
func tunnelName(t *agent.Tunnel, r *agent.ObservedRequest) string {
	if t.Subdomain != "" {
		return t.Subdomain
	}
	if !r.Replay {
		if name, _, ok := strings.Cut(r.Host, "."); ok && name != "" {
			return name
		}
	}
	return t.Upstream
}

// insertLocked adds e to the ring, evicting the oldest when full.
func (i *Inspector) insertLocked(e *exchange) {
	max := i.cfg.MaxRequests
	if len(i.ring) < max {
		i.ring = append(i.ring, e)
	} else {
		old := i.ring[i.head]
		delete(i.byID, old.id)
		old.dropBodies()
		i.ring[i.head] = e
		i.head = (i.head + 1) % max
	}
	i.byID[e.id] = e
}

// get returns the exchange id, if kept.
func (i *Inspector) get(id uint64) *exchange {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.byID[id]
}

// all returns the kept exchanges, newest first.
func (i *Inspector) all() []*exchange {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make([]*exchange, 0, len(i.ring))
	n := len(i.ring)
	for k := n - 1; k >= 0; k-- {
		idx := k
		if n == i.cfg.MaxRequests {
			idx = (i.head + k) % n
		}
		out = append(out, i.ring[idx])
	}
	return out
}

// Clear forgets every exchange.
func (i *Inspector) Clear() {
	i.mu.Lock()
	for _, e := range i.ring {
		e.dropBodies()
	}
	i.ring, i.head = nil, 0
	clear(i.byID)
	i.mu.Unlock()
	i.broadcastClear()
}

// RequestBody implements agent.Capture.
func (e *exchange) RequestBody(p []byte) { e.capture(&e.reqBody, p) }

// capture keeps what of p fits b. When the inspector's budget is spent,
// the oldest exchanges give up their bodies and b tries once more; if
// the bodies of newer exchanges still fill it, b keeps no more and shows
// as truncated.
func (e *exchange) capture(b *body, p []byte) {
	e.mu.Lock()
	b.total += int64(len(p))
	kept := b.keep(p)
	e.mu.Unlock()
	if kept {
		return
	}
	e.i.trim()
	e.mu.Lock()
	if !b.keep(p) {
		b.max = len(b.data)
	}
	e.mu.Unlock()
}

// Response implements agent.Capture.
func (e *exchange) Response(status int, header http.Header, upstream time.Duration) {
	if header == nil {
		header = http.Header{}
	}
	if e.i.cfg.Redact {
		header = header.Clone()
		redactHeader(header, true)
	}
	e.mu.Lock()
	e.gotResp, e.status, e.respHeader, e.upstream = true, status, header, upstream
	e.mu.Unlock()
	e.i.notify(e.id)
}

// ResponseBody implements agent.Capture.
func (e *exchange) ResponseBody(p []byte) { e.capture(&e.respBody, p) }

// dropBodies forgets e's captured bodies (their sizes stay) and stops
// capturing more: e is evicted, or its bytes are needed for newer ones.
func (e *exchange) dropBodies() {
	e.mu.Lock()
	e.reqBody.drop()
	e.respBody.drop()
	e.mu.Unlock()
}

// trim drops the bodies of the oldest exchanges down to three quarters
// of MaxTotalBody, to make room for newer ones.
func (i *Inspector) trim() {
	if !i.trimming.CompareAndSwap(false, true) {
		return
	}
	defer i.trimming.Store(false)
	goal := i.cfg.MaxTotalBody / 4 * 3
	i.mu.Lock()
	defer i.mu.Unlock()
	n := len(i.ring)
	for k := 0; k < n && i.held.Load() > goal; k++ {
		idx := k
		if n == i.cfg.MaxRequests {
			idx = (i.head + k) % n
		}
		i.ring[idx].dropBodies()
	}
}

// Done implements agent.Capture.
func (e *exchange) Done(err error) {
	e.mu.Lock()
	if e.done { // once is enough
		e.mu.Unlock()
		return
	}
	e.done, e.end = true, time.Now()
	if err != nil {
		e.err = err.Error()
	}
	e.mu.Unlock()
	e.i.notify(e.id)
}

// body is a captured body: the first max bytes, and the true size.
type body struct {
	max    int
	data   []byte
	total  int64
	held   *atomic.Int64 // the inspector's count of kept body bytes
	budget int64         // the most held may reach (MaxTotalBody)
}

// drop forgets the data and captures no more; total stays.
func (b *body) drop() {
	if b.held != nil {
		b.held.Add(-int64(cap(b.data)))
	}
	putBodyBuf(b.data)
	b.data, b.max = nil, 0
}

// keep appends what of p fits under max. It reports false, keeping
// nothing, when growing the buffer would take the bytes held past the
// budget: the budget holds at every moment, so that eight concurrent
// 1 MiB exchanges do not each grow a 1 MiB buffer before the oldest are
// trimmed (that took the agent from 28 to 44 MB of RSS).
func (b *body) keep(p []byte) bool {
	room := b.max - len(b.data)
	if room <= 0 {
		return true
	}
	if len(p) > room {
		p = p[:room]
	}
	if need := len(b.data) + len(p); need > cap(b.data) {
		// Grow to the next size class, never past max: memory stays
		// bounded, and the classes are recycled (a 1 MiB response would
		// otherwise allocate 2 MiB on its way there, at every request).
		grow := int64(sizeClass(need, b.max) - cap(b.data))
		if b.held != nil {
			if b.held.Add(grow) > b.budget {
				b.held.Add(-grow)
				return false
			}
		}
		nd := getBodyBuf(need, b.max)
		nd = append(nd, b.data...)
		putBodyBuf(b.data)
		b.data = nd
	}
	b.data = append(b.data, p...)
	return true
}

// bodyClasses are the capacities captured bodies grow through; each has a
// pool, fed by dropped and evicted bodies.
var bodyClasses = [...]int{512, 4 << 10, 32 << 10, 256 << 10, 1 << 20}

var bodyPools [len(bodyClasses)]sync.Pool

// sizeClass is the capacity of the buffer getBodyBuf(need, limit) returns.
func sizeClass(need, limit int) int {
	for _, c := range bodyClasses {
		if c >= need && c <= limit {
			return c
		}
	}
	return min(max(need, limit), limit)
}

// getBodyBuf returns an empty buffer that holds at least need bytes (at
// most limit, when limit is not a class).
func getBodyBuf(need, limit int) []byte {
	for k, c := range bodyClasses {
		if c >= need && c <= limit {
			if v, ok := bodyPools[k].Get().(*[]byte); ok {
				return (*v)[:0]
			}
			return make([]byte, 0, c)
		}
	}
	return make([]byte, 0, min(max(need, limit), limit))
}

func putBodyBuf(b []byte) {
	for k, c := range bodyClasses {
		if cap(b) == c {
			p := new([]byte) // only here: b itself must not escape on every call
			*p = b[:0]
			bodyPools[k].Put(p)
			return
		}
	}
}

func (b *body) truncated() bool { return b.total > int64(len(b.data)) }

// redacted is what a redacted credential reads as.
const redacted = "[redacted]"

// redactHeader replaces credentials in h, keeping what helps reading:
// the Authorization scheme, cookie names, Set-Cookie attributes.
func redactHeader(h http.Header, response bool) {
	for k, vs := range h {
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "Proxy-Authorization":
			if response {
				continue
			}
			for n, v := range vs {
				vs[n] = redactAuth(v)
			}
		case "Cookie":
			if response {
				continue
			}
			for n, v := range vs {
				vs[n] = redactCookie(v)
			}
		case "Set-Cookie":
			if !response {
				continue
			}
			for n, v := range vs {
				vs[n] = redactSetCookie(v)
			}
		}
	}
}

func redactAuth(v string) string {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if ok && rest != "" && isToken(scheme) && len(scheme) <= 20 {
		return scheme + " " + redacted
	}
	return redacted
}

func redactCookie(v string) string {
	parts := strings.Split(v, ";")
	for n, p := range parts {
		if name, _, ok := strings.Cut(p, "="); ok {
			parts[n] = name + "=" + redacted
		} else if strings.TrimSpace(p) != "" {
			parts[n] = " " + redacted
		}
	}
	return strings.Join(parts, ";")
}

func redactSetCookie(v string) string {
	first, attrs, hasAttrs := strings.Cut(v, ";")
	out := redacted
	if name, _, ok := strings.Cut(first, "="); ok {
		out = name + "=" + redacted
	}
	if hasAttrs {
		out += ";" + attrs
	}
	return out
}

// isToken reports whether s is an HTTP token (RFC 9110 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

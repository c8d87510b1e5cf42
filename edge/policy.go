package edge

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsgrok/wsgrok/control/api"
	"github.com/wsgrok/wsgrok/wire"
)

// policy is a tunnel's compiled security settings: the agent's BIND
// options overlaid field by field with the dashboard's (the dashboard wins
// where both speak). Immutable; replaced whole.
type policy struct {
	allow, deny []netip.Prefix
	blocks      []string // match keys, see NormalizePath
	users       []basicUser
	perClient   int // requests per minute per client address; 0: none
	perEndpoint int // requests per minute for the endpoint; 0: none
}

type basicUser struct {
	user string
	salt []byte
	sum  [sha256.Size]byte
}

func (p *policy) empty() bool {
	return len(p.allow)+len(p.deny)+len(p.blocks)+len(p.users) == 0 && p.perClient == 0 && p.perEndpoint == 0
}

// compilePolicy merges agent options and a control policy. Bad entries
// from the agent are skipped (BIND already refused what it could not
// parse); the control service validates its own.
func compilePolicy(opts wire.Metadata, ctl *api.Policy) *policy {
	p := &policy{}
	p.allow = parseCIDRs(opts.All("allow-cidr"))
	p.deny = parseCIDRs(opts.All("deny-cidr"))
	for _, b := range opts.All("block-path") {
		if r, err := normalizeRule(b); err == nil {
			p.blocks = append(p.blocks, r)
		}
	}
	for _, ba := range opts.All("basic-auth") {
		if u, pass, ok := strings.Cut(ba, ":"); ok && u != "" {
			p.users = append(p.users, newBasicUser(u, pass))
		}
	}
	p.perClient, _ = strconv.Atoi(opts.Get("rate-limit"))
	p.perEndpoint, _ = strconv.Atoi(opts.Get("endpoint-rate-limit"))
	if ctl == nil {
		return p
	}
	if len(ctl.AllowCIDRs) > 0 {
		p.allow = parseCIDRs(ctl.AllowCIDRs)
	}
	if len(ctl.DenyCIDRs) > 0 {
		p.deny = parseCIDRs(ctl.DenyCIDRs)
	}
	if len(ctl.BlockPaths) > 0 {
		p.blocks = p.blocks[:0]
		for _, b := range ctl.BlockPaths {
			if r, err := normalizeRule(b); err == nil {
				p.blocks = append(p.blocks, r)
			}
		}
	}
	if len(ctl.BasicAuth) > 0 {
		p.users = p.users[:0]
		for _, ba := range ctl.BasicAuth {
			if u, ok := parseBasicHash(ba); ok {
				p.users = append(p.users, u)
			}
		}
	}
	if ctl.RateLimit > 0 {
		p.perClient = ctl.RateLimit
	}
	if ctl.EndpointRateLimit > 0 {
		p.perEndpoint = ctl.EndpointRateLimit
	}
	return p
}

// ValidateOptions checks the policy options of a BIND, so an agent learns
// of a typo at once rather than running unprotected.
func ValidateOptions(opts wire.Metadata) error {
	for _, c := range append(opts.All("allow-cidr"), opts.All("deny-cidr")...) {
		if _, err := parseCIDR(c); err != nil {
			return fmt.Errorf("%q is not a CIDR (like 10.0.0.0/8 or 2001:db8::/32)", c)
		}
	}
	for _, b := range opts.All("block-path") {
		if _, err := normalizeRule(b); err != nil {
			return fmt.Errorf("%q is not a path to block", b)
		}
	}
	for _, ba := range opts.All("basic-auth") {
		if u, _, ok := strings.Cut(ba, ":"); !ok || u == "" {
			return fmt.Errorf("basic auth must be user:password")
		}
	}
	for _, k := range []string{"rate-limit", "endpoint-rate-limit"} {
		if v := opts.Get(k); v != "" {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				return fmt.Errorf("%s %q is not a count of requests per minute", k, v)
			}
		}
	}
	return nil
}

func parseCIDR(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

func parseCIDRs(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := parseCIDR(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func newBasicUser(user, pass string) basicUser {
	u := basicUser{user: user, salt: make([]byte, 16)}
	rand.Read(u.salt)
	u.sum = api.SaltedSum(u.salt, pass)
	return u
}

func parseBasicHash(ba api.BasicAuth) (basicUser, bool) {
	salt, sum, ok := api.ParseBasicHash(ba.Hash)
	if !ok || ba.User == "" {
		return basicUser{}, false
	}
	return basicUser{user: ba.User, salt: salt, sum: sum}, true
}

// denial is why a request was refused before reaching the agent.
type denial struct {
	kind       errKind
	reason     string // for counters and the traffic view
	retryAfter int    // seconds, for 429
	challenge  bool   // send WWW-Authenticate
}

var (
	errBlocked      = errKind{403, "WSG_BLOCKED", "Blocked", "This address may not reach this tunnel."}
	errPathBlocked  = errKind{403, "WSG_PATH_BLOCKED", "Blocked", "This path is blocked on this tunnel."}
	errAuthRequired = errKind{401, "WSG_AUTH_REQUIRED", "Authentication required", "This tunnel is protected by a username and password."}
	errRateLimited  = errKind{429, "WSG_RATE_LIMITED", "Too many requests", "This tunnel limits how often it may be called: try again later."}
	errBadPath      = errKind{400, "WSG_BAD_PATH", "Bad request path", "The request path cannot be read unambiguously."}
)

// admit applies t's policy to a request. client is the real client
// address (the TCP peer, or PROXY v2 from a trusted balancer: never a
// header a client can forge). It returns the normalized path to forward
// and, when basic auth admitted the request, strip=true so that the
// credential is not passed to the local service.
func (t *Tunnel) admit(client netip.Addr, target, authz string, now time.Time) (n NormalizedPath, strip bool, d *denial) {
	n, err := NormalizePath(target)
	if err != nil {
		return n, false, &denial{kind: errBadPath, reason: "bad path"}
	}
	p := t.pol.Load()
	if p == nil || p.empty() {
		return n, false, nil
	}
	client = client.Unmap()
	for _, pre := range p.deny {
		if pre.Contains(client) {
			return n, false, &denial{kind: errBlocked, reason: "ip denied"}
		}
	}
	if len(p.allow) > 0 {
		ok := false
		for _, pre := range p.allow {
			if pre.Contains(client) {
				ok = true
				break
			}
		}
		if !ok {
			return n, false, &denial{kind: errBlocked, reason: "ip not allowed"}
		}
	}
	if len(p.blocks) > 0 && pathBlocked(n.Match, p.blocks) {
		return n, false, &denial{kind: errPathBlocked, reason: "path blocked"}
	}
	if len(p.users) > 0 {
		if !checkBasic(p.users, authz) {
			return n, false, &denial{kind: errAuthRequired, reason: "auth required", challenge: true}
		}
		strip = true
	}
	if p.perEndpoint > 0 {
		if wait := t.limits.take("", p.perEndpoint, now); wait > 0 {
			return n, strip, &denial{kind: errRateLimited, reason: "rate limited", retryAfter: wait}
		}
	}
	if p.perClient > 0 {
		if wait := t.limits.take(client.String(), p.perClient, now); wait > 0 {
			return n, strip, &denial{kind: errRateLimited, reason: "rate limited", retryAfter: wait}
		}
	}
	return n, strip, nil
}

// checkBasic compares credentials in constant time against every user, so
// that timing says nothing about which part was wrong.
func checkBasic(users []basicUser, authz string) bool {
	const prefix = "Basic "
	if len(authz) < len(prefix) || !strings.EqualFold(authz[:len(prefix)], prefix) {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(authz[len(prefix):]))
	if err != nil {
		return false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return false
	}
	match := 0
	for _, u := range users {
		sum := api.SaltedSum(u.salt, pass)
		userOK := subtle.ConstantTimeCompare([]byte(user), []byte(u.user))
		passOK := subtle.ConstantTimeCompare(sum[:], u.sum[:])
		match |= userOK & passOK
	}
	return match == 1
}

// limiter holds token buckets per client address (and "" for the whole
// endpoint), each refilled at limit per minute with a burst of one
// minute's worth.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the limiter's memory: addresses idle long enough to
// have refilled are swept when it grows past this.
const maxBuckets = 100000

// take spends one token and returns 0, or the seconds until one is due.
func (l *limiter) take(key string, perMinute int, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	rate := float64(perMinute) / 60
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.sweep(now, rate)
		}
		b = &bucket{tokens: float64(perMinute), last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(float64(perMinute), b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return int(math.Ceil((1 - b.tokens) / rate))
}

func (l *limiter) sweep(now time.Time, rate float64) {
	for k, b := range l.buckets {
		if now.Sub(b.last).Seconds()*rate >= 60*rate { // refilled: forgetting it changes nothing
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets { // still full: drop arbitrary ones rather than grow
		for k := range l.buckets {
			delete(l.buckets, k)
			if len(l.buckets) < maxBuckets/2 {
				break
			}
		}
	}
	l.swept = now
}

// headers are the response fields a denial needs.
func (d *denial) headers() []string {
	switch {
	case d.challenge:
		return []string{"WWW-Authenticate", `Basic realm="wsgrok", charset="UTF-8"`}
	case d.retryAfter > 0:
		return []string{"Retry-After", strconv.Itoa(d.retryAfter)}
	}
	return nil
}

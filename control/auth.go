package control

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wsgrok/wsgrok/control/store"
)

// Dashboard authentication: accounts with argon2id passwords and an
// optional TOTP second factor, server-side sessions behind an opaque
// cookie, per-session CSRF tokens, and rate-limited logins.
const (
	sessionCookie = "wsgrok_session" // 32 random bytes; the store keeps only their SHA-256
	csrfCookie    = "wsgrok_csrf"    // double-submit token of the forms shown before a session exists
	flashCookie   = "wsgrok_flash"   // a one-shot message after a redirect

	sessionTTL        = 7 * 24 * time.Hour // sliding: every visit moves it
	sessionTouchEvery = time.Minute        // how stale LastSeen may get before a visit writes it
	pendingLoginTTL   = 5 * time.Minute    // from a right password to the TOTP code
	pendingLoginTries = 5

	loginLimit       = 10 // failed logins per client address and per email...
	loginWindow      = 5 * time.Minute
	signupLimit      = 20 // sign-ups per client address...
	signupWindow     = time.Hour
	minPasswordLen   = 10
	maxPasswordLen   = 1024
	maxNameLen       = 64
	maxFormBody      = 64 << 10
	csrfField        = "csrf"
	csrfHeader       = "X-CSRF-Token"
	apiKeyPrefix     = "wsgk_"
	maxLimiterKeys   = 100_000
	limiterSweepSize = 1024
)

// principal is who a request acts for: a dashboard session, or an API key.
type principal struct {
	acct store.Account
	sess *store.DashboardSession // nil for API keys
	key  *store.APIKey           // nil for sessions
}

// randomToken returns n random bytes, base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// secretHash is how credentials are looked up: the hex SHA-256 of the
// secret, so that a stolen database holds no usable session or key.
func secretHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func equalSecret(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// clientIP is the address the login limiter counts. The control service
// takes the connection's peer: put it behind a proxy only if the proxy is
// on the same host, or every client shares one budget.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// secureRequest reports whether cookies must be marked Secure.
func (u *web) secureRequest(r *http.Request) bool {
	return u.s.cfg.SecureCookies || r.TLS != nil
}

func (u *web) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: u.secureRequest(r)}
	if maxAge < 0 {
		c.MaxAge = -1
	} else if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
		c.Expires = u.s.cfg.now().Add(maxAge)
	}
	http.SetCookie(w, c)
}

// startSession logs the browser in as acct with a fresh session (never
// one the browser brought: no fixation).
func (u *web) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, acct store.Account) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		u.s.st.DeleteSession(ctx, secretHash(c.Value))
	}
	secret := randomToken(32)
	now := u.s.cfg.now()
	_, err := u.s.st.CreateSession(ctx, store.DashboardSession{ID: secretHash(secret), AccountID: acct.ID,
		CSRF: randomToken(32), Created: now, LastSeen: now, Expires: now.Add(sessionTTL)})
	if err != nil {
		return err
	}
	u.setCookie(w, r, sessionCookie, secret, sessionTTL)
	return nil
}

// session returns the request's valid session and its account, moving
// the session's expiry forward (at most once a minute).
func (u *web) session(w http.ResponseWriter, r *http.Request) (*principal, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil, false
	}
	ctx := r.Context()
	sess, err := u.s.st.SessionByID(ctx, secretHash(c.Value))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			u.s.log.Error("control: session lookup", "err", err)
		}
		return nil, false
	}
	acct, err := u.s.st.AccountByID(ctx, sess.AccountID)
	if err != nil {
		return nil, false
	}
	now := u.s.cfg.now()
	if now.Sub(sess.LastSeen) >= sessionTouchEvery {
		if err := u.s.st.TouchSession(ctx, sess.ID, now.Add(sessionTTL)); err == nil {
			sess.LastSeen, sess.Expires = now, now.Add(sessionTTL)
			u.setCookie(w, r, sessionCookie, c.Value, sessionTTL)
		}
	}
	return &principal{acct: acct, sess: &sess}, true
}

// apiKeyPrincipal authenticates "Authorization: Bearer wsgk_...".
func (u *web) apiKeyPrincipal(ctx context.Context, header string) (*principal, bool) {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return nil, false
	}
	secret, ok := strings.CutPrefix(strings.TrimSpace(tok), apiKeyPrefix)
	if !ok || secret == "" || len(secret) > 128 {
		return nil, false
	}
	key, err := u.s.st.APIKeyByHash(ctx, secretHash(secret))
	if err != nil {
		return nil, false
	}
	acct, err := u.s.st.AccountByID(ctx, key.AccountID)
	if err != nil {
		return nil, false
	}
	return &principal{acct: acct, key: &key}, true
}

// newAPIKeySecret returns a key's text (shown once) and the hash stored.
func newAPIKeySecret() (text, hash string) {
	secret := randomToken(32)
	return apiKeyPrefix + secret, secretHash(secret)
}

// preCSRF returns the double-submit token of the login and sign-up forms,
// setting its cookie if the browser has none.
func (u *web) preCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
		return c.Value
	}
	tok := randomToken(32)
	u.setCookie(w, r, csrfCookie, tok, 0)
	return tok
}

// checkPreCSRF checks a login or sign-up form's token against its cookie.
func checkPreCSRF(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	return err == nil && equalSecret(c.Value, r.PostFormValue(csrfField))
}

// limiter counts events per key in a sliding window: login failures per
// client address and per email, sign-ups per address. It forgets keys
// whose events have all left the window, and is bounded in size.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	hits   map[string][]time.Time
	adds   int
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, hits: map[string][]time.Time{}}
}

// retryAfter returns 0 if key may try now, else how long until it may.
func (l *limiter) retryAfter(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.trim(key, now)
	if len(h) < l.max {
		return 0
	}
	return max(h[len(h)-l.max].Add(l.window).Sub(now), time.Second)
}

// add records an event for each key.
func (l *limiter) add(now time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		h := append(l.trim(k, now), now)
		if len(h) > l.max {
			h = h[len(h)-l.max:]
		}
		l.hits[k] = h
	}
	l.adds++
	if l.adds%limiterSweepSize == 0 || len(l.hits) > maxLimiterKeys {
		for k := range l.hits {
			if len(l.trim(k, now)) == 0 {
				delete(l.hits, k)
			}
		}
		// Still too many: an attack from many addresses. Forgetting the
		// oldest keys is better than running out of memory.
		for k := range l.hits {
			if len(l.hits) <= maxLimiterKeys {
				break
			}
			delete(l.hits, k)
		}
	}
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.hits, key)
}

// trim drops key's events older than the window; l.mu is held.
func (l *limiter) trim(key string, now time.Time) []time.Time {
	h := l.hits[key]
	i := 0
	for i < len(h) && now.Sub(h[i]) >= l.window {
		i++
	}
	if i == len(h) {
		delete(l.hits, key)
		return nil
	}
	h = h[i:]
	l.hits[key] = h
	return h
}

// pendingLogin is a login with the right password that waits for its
// TOTP code.
type pendingLogin struct {
	account string
	email   string
	next    string
	expires time.Time
	tries   int
}

type pendingLogins struct {
	mu sync.Mutex
	m  map[string]*pendingLogin // by the random id in the form
	// lastStep is the TOTP step last accepted per account: a code is good
	// once.
	lastStep map[string]int64
}

func (p *pendingLogins) add(pl *pendingLogin, now time.Time) string {
	id := randomToken(24)
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range p.m {
		if now.After(v.expires) {
			delete(p.m, k)
		}
	}
	p.m[id] = pl
	return id
}

func (p *pendingLogins) get(id string, now time.Time) *pendingLogin {
	p.mu.Lock()
	defer p.mu.Unlock()
	pl := p.m[id]
	if pl == nil || now.After(pl.expires) || pl.tries >= pendingLoginTries {
		delete(p.m, id)
		return nil
	}
	return pl
}

func (p *pendingLogins) fail(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pl := p.m[id]; pl != nil {
		pl.tries++
	}
}

func (p *pendingLogins) done(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, id)
}

// useStep accepts a TOTP step for an account once, and never an older one.
func (p *pendingLogins) useStep(account string, step int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if step <= p.lastStep[account] {
		return false
	}
	p.lastStep[account] = step
	return true
}

// validEmail accepts a bare address: local@domain, where the domain has a
// dot (or is localhost) and no display name or comments.
func validEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, " <>\"(),;:\\[]") {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && (strings.Contains(domain, ".") || domain == "localhost") &&
		!strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// checkNewPassword says what is wrong with a new password, or "".
func checkNewPassword(p string) string {
	switch n := utf8.RuneCountInString(p); {
	case n < minPasswordLen:
		return "Use a password of at least " + strconv.Itoa(minPasswordLen) + " characters."
	case len(p) > maxPasswordLen:
		return "That password is too long (at most " + strconv.Itoa(maxPasswordLen) + " bytes)."
	}
	return ""
}

// checkAccountName says what is wrong with a display name, or "".
func checkAccountName(n string) string {
	switch {
	case n == "":
		return "Tell us your name (or your team's)."
	case utf8.RuneCountInString(n) > maxNameLen:
		return "A name is at most " + strconv.Itoa(maxNameLen) + " characters."
	case strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "A name cannot contain control characters."
	}
	return ""
}

// localNext returns next if it is a path on this site, else "/": a login
// link must not send the user elsewhere.
func localNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

func retrySeconds(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

func humanWait(d time.Duration) string {
	if d < time.Minute {
		return retrySeconds(d) + " seconds"
	}
	m := int((d + time.Minute - 1) / time.Minute)
	if m == 1 {
		return "a minute"
	}
	return strconv.Itoa(m) + " minutes"
}

package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/control/api"
	"github.com/wsgrok/wsgrok/control/store"
)

// testClock is a clock tests move; it starts at the real time.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testServer is a control service on a loopback port with a real SQLite
// store in a temporary directory.
type testServer struct {
	svc   *Service
	url   string
	clock *testClock
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	clock := &testClock{t: time.Now()}
	svc, err := New(Config{DataDir: filepath.Join(t.TempDir(), "control"), Quarantine: time.Hour, now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { svc.Serve(ln); close(served) }()
	t.Cleanup(func() {
		svc.Close()
		<-served
	})
	return &testServer{svc: svc, url: "http://" + ln.Addr().String(), clock: clock}
}

// browser is an HTTP client with cookies that does not follow redirects,
// so that tests see them.
type browser struct {
	t    *testing.T
	ts   *testServer
	hc   *http.Client
	csrf string // the session's token, from the last page
}

func (ts *testServer) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, ts: ts, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches a page and remembers its CSRF token.
func (b *browser) get(path string) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.hc.Get(b.ts.url + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRe.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(body), resp.Header
}

// post sends a form with the current CSRF token (unless vals has one).
func (b *browser) post(path string, vals url.Values) (int, string, http.Header) {
	b.t.Helper()
	if _, ok := vals["csrf"]; !ok {
		vals.Set("csrf", b.csrf)
	}
	resp, err := b.hc.PostForm(b.ts.url+path, vals)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRe.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(body), resp.Header
}

const testPassword = "correct horse battery"

// signup creates an account through the form and stays logged in.
func (b *browser) signup(email string) {
	b.t.Helper()
	b.get("/signup")
	code, body, h := b.post("/signup", url.Values{"name": {"Test User"}, "email": {email}, "password": {testPassword}})
	if code != http.StatusSeeOther || h.Get("Location") != "/tokens" {
		b.t.Fatalf("sign-up: %d %s\n%s", code, h.Get("Location"), body)
	}
	b.get("/tokens")
}

func (b *browser) login(email, pass string) (int, string, http.Header) {
	b.t.Helper()
	b.get("/login")
	return b.post("/login", url.Values{"email": {email}, "password": {pass}})
}

// call makes a JSON API request; auth is an API key, or "" for the
// browser's session (with its CSRF token when csrf is set).
func (b *browser) call(method, path, auth string, csrf bool, body any) (int, map[string]any) {
	b.t.Helper()
	var rd io.Reader
	if s, ok := body.(string); ok {
		rd = strings.NewReader(s)
	} else if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.ts.url+path, rd)
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	if csrf {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			b.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestWebSignupLoginLogout(t *testing.T) {
	ts := newTestServer(t)
	b := ts.browser(t)
	if code, _, h := b.get("/tunnels"); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login?next=%2Ftunnels") {
		t.Fatalf("anonymous /tunnels: %d %s", code, h.Get("Location"))
	}
	b.signup("Ann@Example.com")
	code, body, _ := b.get("/tunnels")
	if code != 200 || !strings.Contains(body, "No tunnel is online") {
		t.Fatalf("tunnels after sign-up: %d\n%s", code, body)
	}
	for _, p := range []string{"/traffic", "/analytics", "/analytics?range=7d", "/security", "/names", "/tokens", "/account"} {
		if code, body, _ := b.get(p); code != 200 {
			t.Fatalf("%s: %d\n%s", p, code, body)
		}
	}
	if code, _, h := b.post("/logout", url.Values{}); code != http.StatusSeeOther || h.Get("Location") != "/login" {
		t.Fatalf("logout: %d %s", code, h.Get("Location"))
	}
	if code, _, _ := b.get("/tunnels"); code != http.StatusSeeOther {
		t.Fatalf("after logout /tunnels: %d", code)
	}

	if code, body, _ := b.login("ann@example.com", "wrong password!"); code != http.StatusUnauthorized || !strings.Contains(body, "Wrong email or password") {
		t.Fatalf("wrong password: %d\n%s", code, body)
	}
	if code, body, _ := b.login("nobody@example.com", testPassword); code != http.StatusUnauthorized || !strings.Contains(body, "Wrong email or password") {
		t.Fatalf("unknown email: %d\n%s", code, body)
	}
	b.get("/login?next=/analytics")
	code, _, h := b.post("/login", url.Values{"email": {"ANN@example.com"}, "password": {testPassword}, "next": {"/analytics"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/analytics" {
		t.Fatalf("login: %d %s", code, h.Get("Location"))
	}
	if code, _, _ := b.get("/analytics"); code != 200 {
		t.Fatalf("after login: %d", code)
	}
	// next must stay on this site.
	b.post("/logout", url.Values{})
	b.get("/login")
	if _, _, h := b.post("/login", url.Values{"email": {"ann@example.com"}, "password": {testPassword}, "next": {"//evil.example/x"}}); h.Get("Location") != "/" {
		t.Fatalf("open redirect: %s", h.Get("Location"))
	}
}

func TestWebSignupValidation(t *testing.T) {
	ts := newTestServer(t)
	ts.browser(t).signup("taken@example.com")
	for _, c := range []struct {
		name, email, pass string
		status            int
		want              string
	}{
		{"Bo", "not-an-email", testPassword, 400, "does not look right"},
		{"Bo", "bo@example.com", "short", 400, "at least 10 characters"},
		{"", "bo@example.com", testPassword, 400, "Tell us your name"},
		{"Bo", "TAKEN@example.com", testPassword, 409, "exists already"},
	} {
		b := ts.browser(t)
		b.get("/signup")
		code, body, _ := b.post("/signup", url.Values{"name": {c.name}, "email": {c.email}, "password": {c.pass}})
		if code != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%+v: %d, want %d with %q", c, code, c.status, c.want)
		}
	}
}

func TestWebCSRFRejected(t *testing.T) {
	ts := newTestServer(t)
	b := ts.browser(t)
	b.get("/signup")
	code, body, _ := b.post("/signup", url.Values{"csrf": {"forged-token-forged-token-forged-token"}, "name": {"X"}, "email": {"x@example.com"}, "password": {testPassword}})
	if code != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Fatalf("sign-up with a wrong token: %d", code)
	}
	b.signup("x@example.com")
	for _, path := range []string{"/tokens", "/apikeys", "/names", "/logout", "/account/password"} {
		code, body, _ := b.post(path, url.Values{"csrf": {""}, "name": {"sneaky"}})
		if code != http.StatusForbidden || !strings.Contains(body, "This form has expired") {
			t.Errorf("POST %s without CSRF: %d", path, code)
		}
	}
	// Nothing was created, and the session survived.
	acct, _ := ts.svc.st.AccountByEmail(t.Context(), "x@example.com")
	if toks, _ := ts.svc.st.ListAuthtokens(t.Context(), acct.ID); len(toks) != 0 {
		t.Fatalf("a token was created without CSRF: %v", toks)
	}
	if names, _ := ts.svc.st.ReservedNames(t.Context(), acct.ID); len(names) != 0 {
		t.Fatalf("a name was reserved without CSRF")
	}
	// The JSON API refuses session writes without X-CSRF-Token.
	if code, m := b.call("POST", "/api/v1/tokens", "", false, map[string]string{"name": "x"}); code != 403 || errCode(m) != "csrf_failed" {
		t.Fatalf("API write without CSRF header: %d %v", code, m)
	}
	if code, m := b.call("POST", "/api/v1/tokens", "", true, map[string]string{"name": "x"}); code != 201 || m["token"] == "" {
		t.Fatalf("API write with CSRF header: %d %v", code, m)
	}
	if code, _ := b.call("GET", "/api/v1/tokens", "", false, nil); code != 200 {
		t.Fatalf("API read with a session: %d", code)
	}
}

func TestWebLoginRateLimit(t *testing.T) {
	ts := newTestServer(t)
	ts.browser(t).signup("rl@example.com")
	b := ts.browser(t)
	for i := range loginLimit {
		if code, _, _ := b.login("rl@example.com", "wrong password "+string(rune('a'+i))); code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, code)
		}
	}
	code, body, h := b.login("rl@example.com", testPassword)
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" || !strings.Contains(body, "Too many failed attempts") {
		t.Fatalf("after %d failures, the right password: %d Retry-After=%q", loginLimit, code, h.Get("Retry-After"))
	}
	// Another address is limited by email too; after the window, it works.
	ts.clock.add(loginWindow + time.Second)
	if code, _, h := b.login("rl@example.com", testPassword); code != http.StatusSeeOther {
		t.Fatalf("after the window: %d %s", code, h.Get("Location"))
	}
}

var secretRe = regexp.MustCompile(`name="secret" value="([A-Z2-7]+)"`)

func TestWebTOTP(t *testing.T) {
	ts := newTestServer(t)
	b := ts.browser(t)
	b.signup("totp@example.com")
	b.get("/account")
	code, body, _ := b.post("/account/totp/setup", url.Values{})
	m := secretRe.FindStringSubmatch(body)
	if code != 200 || m == nil {
		t.Fatalf("setup: %d\n%s", code, body)
	}
	secret := m[1]
	key, _ := decodeTOTPSecret(secret)
	if code, body, _ := b.post("/account/totp/enable", url.Values{"secret": {secret}, "code": {"000000"}}); code != 400 || !strings.Contains(body, "does not match") {
		t.Fatalf("enable with a wrong code: %d", code)
	}
	if code, _, _ := b.post("/account/totp/enable", url.Values{"secret": {secret}, "code": {totpCode(key, ts.clock.now(), 6)}}); code != http.StatusSeeOther {
		t.Fatalf("enable: %d", code)
	}
	b.get("/account")
	b.post("/logout", url.Values{})

	// The password alone is not enough.
	ts.clock.add(totpStep * time.Second)
	code, body, _ = b.login("totp@example.com", testPassword)
	pending := regexp.MustCompile(`name="pending" value="([^"]+)"`).FindStringSubmatch(body)
	if code != 200 || pending == nil || !strings.Contains(body, "6-digit code") {
		t.Fatalf("login with TOTP on: %d\n%s", code, body)
	}
	if code, _, _ := b.get("/tunnels"); code != http.StatusSeeOther {
		t.Fatalf("logged in before the code: %d", code)
	}
	if code, body, _ := b.post("/login/totp", url.Values{"pending": {pending[1]}, "code": {"123456"}}); code != 401 || !strings.Contains(body, "not right") {
		t.Fatalf("wrong code: %d", code)
	}
	good := totpCode(key, ts.clock.now(), 6)
	if code, _, h := b.post("/login/totp", url.Values{"pending": {pending[1]}, "code": {good}}); code != http.StatusSeeOther || h.Get("Location") != "/" {
		t.Fatalf("right code: %d %s", code, h.Get("Location"))
	}
	if code, _, _ := b.get("/tunnels"); code != 200 {
		t.Fatalf("after the code: %d", code)
	}

	// A code is good once: another browser replaying it is refused.
	b2 := ts.browser(t)
	_, body, _ = b2.login("totp@example.com", testPassword)
	pending = regexp.MustCompile(`name="pending" value="([^"]+)"`).FindStringSubmatch(body)
	if code, _, _ := b2.post("/login/totp", url.Values{"pending": {pending[1]}, "code": {good}}); code != 401 {
		t.Fatalf("replayed code: %d", code)
	}
	// A forged pending id gets nowhere.
	if code, _, _ := b2.post("/login/totp", url.Values{"pending": {"forged"}, "code": {good}}); code != 401 {
		t.Fatalf("forged pending login: %d", code)
	}

	// Turning it off needs a current code.
	b.get("/account")
	if code, _, _ := b.post("/account/totp/disable", url.Values{"code": {"999999"}}); code != 400 {
		t.Fatalf("disable with a wrong code: %d", code)
	}
	ts.clock.add(totpStep * time.Second)
	if code, _, _ := b.post("/account/totp/disable", url.Values{"code": {totpCode(key, ts.clock.now(), 6)}}); code != http.StatusSeeOther {
		t.Fatalf("disable: %d", code)
	}
	if acct, _ := ts.svc.st.AccountByEmail(t.Context(), "totp@example.com"); acct.TOTPSecret != "" {
		t.Fatal("TOTP still on")
	}
}

func TestWebPasswordChange(t *testing.T) {
	ts := newTestServer(t)
	b := ts.browser(t)
	b.signup("pw@example.com")
	other := ts.browser(t)
	other.login("pw@example.com", testPassword)
	b.get("/account")
	if code, body, _ := b.post("/account/password", url.Values{"current": {"nope nope nope"}, "new": {"another long password"}}); code != 400 || !strings.Contains(body, "not right") {
		t.Fatalf("wrong current password: %d", code)
	}
	if code, _, _ := b.post("/account/password", url.Values{"current": {testPassword}, "new": {"another long password"}}); code != http.StatusSeeOther {
		t.Fatalf("change: %d", code)
	}
	if code, _, _ := b.get("/account"); code != 200 {
		t.Fatalf("this browser was logged out: %d", code)
	}
	if code, _, _ := other.get("/account"); code != http.StatusSeeOther {
		t.Fatalf("the other browser is still logged in: %d", code)
	}
	if code, _, _ := ts.browser(t).login("pw@example.com", "another long password"); code != http.StatusSeeOther {
		t.Fatalf("login with the new password: %d", code)
	}
}

var apiKeyRe = regexp.MustCompile(`id="new-key-value">(wsgk_[A-Za-z0-9_-]+)<`)

// apiKey signs up and creates an API key in the dashboard.
func apiKey(t *testing.T, ts *testServer, email string) (*browser, string) {
	b := ts.browser(t)
	b.signup(email)
	code, body, _ := b.post("/apikeys", url.Values{"name": {"tests"}})
	m := apiKeyRe.FindStringSubmatch(body)
	if code != 200 || m == nil {
		t.Fatalf("creating an API key: %d\n%s", code, body)
	}
	return b, m[1]
}

func TestAPIKeyAuth(t *testing.T) {
	ts := newTestServer(t)
	b, key := apiKey(t, ts, "keys@example.com")
	anon := ts.browser(t)
	if code, m := anon.call("GET", "/api/v1/account", key, false, nil); code != 200 || m["via"] != "api_key" || m["email"] != "keys@example.com" {
		t.Fatalf("with the key: %d %v", code, m)
	}
	if code, m := anon.call("GET", "/api/v1/account", "", false, nil); code != 401 || errCode(m) != "unauthenticated" {
		t.Fatalf("without a key: %d %v", code, m)
	}
	if code, m := anon.call("GET", "/api/v1/account", key+"x", false, nil); code != 401 || errCode(m) != "invalid_api_key" {
		t.Fatalf("wrong key: %d %v", code, m)
	}
	if code, m := anon.call("GET", "/api/v1/account", "wsgk_", false, nil); code != 401 || errCode(m) != "invalid_api_key" {
		t.Fatalf("empty key: %d %v", code, m)
	}
	// API key writes need no CSRF token.
	if code, m := anon.call("POST", "/api/v1/names", key, false, map[string]string{"name": "via-key"}); code != 201 {
		t.Fatalf("write with the key: %d %v", code, m)
	}
	_, list := anon.call("GET", "/api/v1/api-keys", key, false, nil)
	id := list["api_keys"].([]any)[0].(map[string]any)["id"].(string)
	if _, ok := list["api_keys"].([]any)[0].(map[string]any)["key"]; ok {
		t.Fatal("a listed key shows its secret")
	}
	b.get("/tokens")
	if code, _, _ := b.post("/apikeys/"+id+"/revoke", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("revoke in the dashboard: %d", code)
	}
	if code, m := anon.call("GET", "/api/v1/account", key, false, nil); code != 401 || errCode(m) != "invalid_api_key" {
		t.Fatalf("revoked key: %d %v", code, m)
	}
}

func TestAPIEndpoints(t *testing.T) {
	ts := newTestServer(t)
	_, key := apiKey(t, ts, "api@example.com")
	_, otherKey := apiKey(t, ts, "other@example.com")
	c := ts.browser(t)
	call := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		return c.call(method, path, key, false, body)
	}
	expect := func(what string, code int, m map[string]any, wantCode int, wantErr string) {
		t.Helper()
		if code != wantCode || errCode(m) != wantErr {
			t.Fatalf("%s: %d %v, want %d %q", what, code, m, wantCode, wantErr)
		}
		if wantErr != "" {
			if msg, _ := m["error"].(map[string]any)["message"].(string); len(msg) < 10 {
				t.Fatalf("%s: the message says nothing: %v", what, m)
			}
		}
	}

	// Authtokens.
	code, m := call("POST", "/api/v1/tokens", map[string]string{"name": "ci"})
	expect("create token", code, m, 201, "")
	tokID, tokText := m["id"].(string), m["token"].(string)
	if tokText == "" || m["fingerprint"] == "" {
		t.Fatalf("token: %v", m)
	}
	code, m = call("GET", "/api/v1/tokens", nil)
	expect("list tokens", code, m, 200, "")
	if l := m["tokens"].([]any); len(l) != 1 || l[0].(map[string]any)["token"] != nil || l[0].(map[string]any)["name"] != "ci" {
		t.Fatalf("tokens: %v", m)
	}
	code, m = call("POST", "/api/v1/tokens", map[string]string{"name": strings.Repeat("x", 65)})
	expect("long token name", code, m, 400, "invalid_name")
	code, m = c.call("DELETE", "/api/v1/tokens/"+tokID, otherKey, false, nil)
	expect("revoke another account's token", code, m, 404, "not_found")
	code, m = call("DELETE", "/api/v1/tokens/"+tokID, nil)
	expect("revoke token", code, m, 204, "")
	code, m = call("GET", "/api/v1/tokens", nil)
	if m["tokens"].([]any)[0].(map[string]any)["revoked"] == nil {
		t.Fatalf("not revoked: %v", m)
	}

	// API keys.
	code, m = call("POST", "/api/v1/api-keys", map[string]string{"name": "deploy"})
	expect("create key", code, m, 201, "")
	if !strings.HasPrefix(m["key"].(string), "wsgk_") {
		t.Fatalf("key: %v", m)
	}
	newKey := m["key"].(string)
	code, m = c.call("GET", "/api/v1/account", newKey, false, nil)
	expect("the new key works", code, m, 200, "")
	code, m = call("DELETE", "/api/v1/api-keys/"+m["id"].(string), nil)
	expect("revoke unknown key id", code, m, 404, "not_found")

	// Names.
	code, m = call("POST", "/api/v1/names", map[string]string{"name": "My-App"})
	expect("reserve", code, m, 201, "")
	if m["name"] != "my-app" {
		t.Fatalf("reserved %v", m)
	}
	code, m = c.call("POST", "/api/v1/names", otherKey, false, map[string]string{"name": "my-app"})
	expect("reserve another account's name", code, m, 409, "name_taken")
	code, m = call("POST", "/api/v1/names", map[string]string{"name": "-bad-"})
	expect("invalid name", code, m, 400, "invalid_name")
	code, m = call("POST", "/api/v1/names", `{"name": "x", "extra": 1}`)
	expect("unknown field", code, m, 400, "invalid_json")
	code, m = call("POST", "/api/v1/names", `not json`)
	expect("bad JSON", code, m, 400, "invalid_json")
	code, m = call("POST", "/api/v1/names", ``)
	expect("empty body", code, m, 400, "invalid_json")
	code, m = call("POST", "/api/v1/names", `{"name":"`+strings.Repeat("a", maxAPIBody)+`"}`)
	expect("huge body", code, m, 413, "body_too_large")
	code, m = call("GET", "/api/v1/names", nil)
	if l := m["names"].([]any); len(l) != 1 {
		t.Fatalf("names: %v", m)
	}

	// Policies.
	pol := map[string]any{"allow_cidrs": []string{"10.0.0.0/8", "::ffff:192.0.2.1"}, "deny_cidrs": []string{"10.1.0.0/16"},
		"block_paths": []string{"/admin/"}, "basic_auth": []map[string]string{{"user": "ann", "password": "s3cret-pass"}}, "rate_limit": 60}
	code, m = call("PUT", "/api/v1/policies/my-app", pol)
	expect("put policy", code, m, 200, "")
	if got := m["allow_cidrs"].([]any); got[1] != "192.0.2.1/32" || m["block_paths"].([]any)[0] != "/admin" {
		t.Fatalf("canonical policy: %v", m)
	}
	stored, _ := ts.svc.st.Policy(t.Context(), mustAcct(t, ts, "api@example.com"), "my-app")
	hash := stored.BasicAuth[0].PasswordHash
	// What GET returns can be PUT back; the password is kept.
	code, m = call("GET", "/api/v1/policies/my-app", nil)
	expect("get policy", code, m, 200, "")
	if ba := m["basic_auth"].([]any)[0].(map[string]any); ba["user"] != "ann" || ba["password"] != nil {
		t.Fatalf("basic auth in GET: %v", ba)
	}
	code, m = call("PUT", "/api/v1/policies/my-app", m)
	expect("put back", code, m, 200, "")
	if again, _ := ts.svc.st.Policy(t.Context(), mustAcct(t, ts, "api@example.com"), "my-app"); again.BasicAuth[0].PasswordHash != hash {
		t.Fatal("the basic auth password changed on a PUT without one")
	}
	for _, bad := range []struct {
		body any
		err  string
	}{
		{map[string]any{"deny_cidrs": []string{"10.0.0.300/8"}}, "invalid_cidr"},
		{map[string]any{"block_paths": []string{"admin"}}, "invalid_path"},
		{map[string]any{"block_paths": []string{"/a/../b"}}, "invalid_path"},
		{map[string]any{"rate_limit": -1}, "invalid_rate_limit"},
		{map[string]any{"basic_auth": []map[string]string{{"user": "new"}}}, "invalid_basic_auth"},
		{map[string]any{"endpoint": "other"}, "endpoint_mismatch"},
	} {
		code, m = call("PUT", "/api/v1/policies/my-app", bad.body)
		expect("bad policy "+bad.err, code, m, 400, bad.err)
	}
	code, m = call("PUT", "/api/v1/policies/nobodys", pol)
	expect("policy of an unreserved name", code, m, 409, "name_not_reserved")
	code, m = c.call("PUT", "/api/v1/policies/my-app", otherKey, false, pol)
	expect("policy of another account's name", code, m, 404, "not_found")
	code, m = call("GET", "/api/v1/policies", nil)
	if l := m["policies"].([]any); code != 200 || len(l) != 1 {
		t.Fatalf("policies: %d %v", code, m)
	}
	code, m = call("DELETE", "/api/v1/policies/my-app", nil)
	expect("delete policy", code, m, 204, "")
	code, m = call("GET", "/api/v1/policies/my-app", nil)
	expect("deleted policy", code, m, 404, "not_found")
	code, m = call("DELETE", "/api/v1/names/my-app", nil)
	expect("release", code, m, 204, "")
	code, m = call("DELETE", "/api/v1/names/my-app", nil)
	expect("release again", code, m, 404, "not_found")

	// Tunnels, requests and usage come from the edges.
	code, m = call("GET", "/api/v1/tunnels", nil)
	if code != 200 || len(m["tunnels"].([]any)) != 0 {
		t.Fatalf("tunnels: %d %v", code, m)
	}
	acct := mustAcct(t, ts, "api@example.com")
	minute := ts.clock.now().UTC().Truncate(time.Minute)
	ts.svc.st.AddUsage(t.Context(), store.UsageSample{AccountID: acct, Endpoint: "my-app", Minute: minute, Requests: 10,
		BytesIn: 100, BytesOut: 2000, Status2xx: 7, Status4xx: 3, Blocked: 2, LatencyBuckets: []int64{0, 0, 10}},
		store.UsageSample{AccountID: acct, Endpoint: "my-app", Minute: minute.Add(-2 * time.Minute), Requests: 5, Status5xx: 5})
	code, m = call("GET", "/api/v1/usage?endpoint=my-app", nil)
	expect("usage", code, m, 200, "")
	if m["requests"].(float64) != 15 || m["blocked"].(float64) != 2 || len(m["buckets"].([]any)) != 2 || m["bytes_out"].(float64) != 2000 {
		t.Fatalf("usage: %v", m)
	}
	if p50 := m["latency_ms"].(map[string]any)["p50"].(float64); p50 <= 2 || p50 > 5 {
		t.Fatalf("p50 of requests in (2ms, 5ms]: %v", p50)
	}
	from := minute.Add(-10 * time.Minute).Format(time.RFC3339)
	to := minute.Add(time.Minute).Format(time.RFC3339)
	code, m = call("GET", "/api/v1/usage?from="+from+"&to="+to+"&step=5m", nil)
	expect("usage by 5m", code, m, 200, "")
	if m["requests"].(float64) != 15 || m["step"] != "5m0s" {
		t.Fatalf("usage by 5m: %v", m)
	}
	code, m = c.call("GET", "/api/v1/usage", otherKey, false, nil)
	if m["requests"].(float64) != 0 {
		t.Fatalf("another account sees usage: %v", m)
	}
	code, m = call("GET", "/api/v1/usage?range=2y", nil)
	expect("bad range", code, m, 400, "invalid_range")
	code, m = call("GET", "/api/v1/usage?from=yesterday&to="+to, nil)
	expect("bad from", code, m, 400, "invalid_time")
	code, m = call("GET", "/api/v1/usage?from="+from+"&to="+to+"&step=30s", nil)
	expect("bad step", code, m, 400, "invalid_step")
	code, m = call("GET", "/api/v1/requests", nil)
	expect("requests", code, m, 200, "")
	code, m = c.call("GET", "/api/v1/", "", false, nil)
	expect("index", code, m, 200, "")
	code, m = call("GET", "/api/v1/nothing-here", nil)
	expect("unknown path", code, m, 404, "no_such_endpoint")
}

func mustAcct(t *testing.T, ts *testServer, email string) string {
	t.Helper()
	a, err := ts.svc.st.AccountByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func TestWebDashboardForms(t *testing.T) {
	ts := newTestServer(t)
	b := ts.browser(t)
	b.signup("forms@example.com")
	acct := mustAcct(t, ts, "forms@example.com")

	code, body, _ := b.post("/tokens", url.Values{"name": {"laptop"}})
	if code != 200 || !strings.Contains(body, "wsgrok config add-authtoken ") || !strings.Contains(body, "shown only once") {
		t.Fatalf("create token: %d", code)
	}
	if _, body, _ := b.get("/tokens"); strings.Contains(body, "add-authtoken wsg") {
		t.Fatal("the token is shown again")
	}
	if code, body, _ := b.post("/names", url.Values{"name": {"Bad Name!"}}); code != 400 || !strings.Contains(body, "is not a tunnel name") {
		t.Fatalf("bad name: %d", code)
	}
	if code, _, _ := b.post("/names", url.Values{"name": {"shop"}}); code != http.StatusSeeOther {
		t.Fatalf("reserve: %d", code)
	}
	if code, body, _ := b.get("/security?endpoint=shop"); code != 200 || !strings.Contains(body, `action="/security/shop"`) {
		t.Fatalf("security page: %d", code)
	}
	code, body, _ = b.post("/security/shop", url.Values{"allow": {"10.0.0.0/8\nnot-an-ip"}, "deny": {""}, "paths": {"/admin"}, "users": {""}, "rate_limit": {""}})
	if code != 400 || !strings.Contains(body, "not-an-ip") || !strings.Contains(body, "is not an IP address or CIDR") {
		t.Fatalf("bad CIDR: %d", code)
	}
	code, _, h := b.post("/security/shop", url.Values{"allow": {"10.0.0.0/8, 192.168.0.0/16"}, "deny": {"10.9.9.9"}, "paths": {"/admin\n/.git"},
		"users": {"ann:pass-word-1"}, "rate_limit": {"120"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/security?endpoint=shop" {
		t.Fatalf("save: %d", code)
	}
	p, err := ts.svc.st.Policy(t.Context(), acct, "shop")
	if err != nil || len(p.AllowCIDRs) != 2 || p.DenyCIDRs[0] != "10.9.9.9/32" || len(p.BlockPaths) != 2 || p.RateLimit != 120 || p.BasicAuth[0].User != "ann" {
		t.Fatalf("stored policy: %+v %v", p, err)
	}
	if _, body, _ := b.get("/security?endpoint=shop"); !strings.Contains(body, "10.9.9.9/32") || strings.Contains(body, "pass-word-1") {
		t.Fatal("the page does not show the rules, or shows a password")
	}
	if code, _, _ := b.post("/security/shop", url.Values{"rate_limit": {"lots"}}); code != 400 {
		t.Fatalf("bad rate limit: %d", code)
	}
	if code, _, _ := b.post("/security/shop/delete", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("remove rules: %d", code)
	}
	if code, _, _ := b.get("/security?endpoint=someone-elses"); code != 404 {
		t.Fatalf("security of a name not held: %d", code)
	}
	if code, _, _ := b.post("/names/shop/release", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("release: %d", code)
	}
	if _, body, _ := b.get("/names"); !strings.Contains(body, "Recently released") {
		t.Fatal("released name not listed")
	}
	toks, _ := ts.svc.st.ListAuthtokens(t.Context(), acct)
	b.get("/tokens")
	if code, _, _ := b.post("/tokens/"+toks[0].ID+"/revoke", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", code)
	}
	if code, _, _ := b.post("/tokens/nope/revoke", url.Values{}); code != 404 {
		t.Fatalf("revoke unknown: %d", code)
	}
}

// TestWebEventsStream checks that an edge's report reaches an open
// dashboard page's event stream.
func TestWebEventsStream(t *testing.T) {
	ts := newTestServer(t)
	b := ts.browser(t)
	b.signup("sse@example.com")
	acct := mustAcct(t, ts, "sse@example.com")
	resp, err := b.hc.Get(ts.url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan [2]string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		var kind string
		for sc.Scan() {
			line := sc.Text()
			if k, ok := strings.CutPrefix(line, "event: "); ok {
				kind = k
			} else if d, ok := strings.CutPrefix(line, "data: "); ok {
				events <- [2]string{kind, d}
			}
		}
		close(events)
	}()
	next := func(want string) string {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok || ev[0] != want {
				t.Fatalf("got event %v, want %s", ev, want)
			}
			return ev[1]
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s event", want)
		}
		return ""
	}
	next("tunnels") // the current state first
	rep := api.Report{Edge: "e1", Tunnels: []api.Tunnel{{Name: "web", Account: acct, Kind: "http", URLs: []string{"http://web.localhost"},
		Agents: []api.Agent{{Remote: "192.0.2.7:5000", Version: "wsgrok/test", Since: ts.clock.now(), RTT: 3 * time.Millisecond}}}},
		Events: []api.RequestEvent{{Time: ts.clock.now(), Account: acct, Endpoint: "web", Method: "GET", Path: "/<script>", Status: 404, Client: "192.0.2.9"}},
		Usage:  []api.Usage{{Account: acct, Endpoint: "web", Minute: ts.clock.now(), Requests: 1, Status: [5]int64{0, 0, 0, 1, 0}}}}
	j, _ := json.Marshal(rep)
	req, _ := http.NewRequest("POST", ts.url+api.PathReport, bytes.NewReader(j))
	req.Header.Set("Authorization", "Bearer "+ts.svc.EdgeSecret())
	r2, err := http.DefaultClient.Do(req)
	if err != nil || r2.StatusCode != 204 {
		t.Fatalf("report: %v %v", r2, err)
	}
	r2.Body.Close()
	row := next("request")
	if !strings.Contains(row, "192.0.2.9") || strings.Contains(row, "<script>") {
		t.Fatalf("request row (must be escaped): %s", row)
	}
	if d := next("tunnels"); !strings.Contains(d, "192.0.2.7:5000") || !strings.Contains(d, "web") {
		t.Fatalf("tunnels: %s", d)
	}
	next("usage")
	// Another account sees none of it.
	if code, _, _ := b.get("/tunnels"); code != 200 {
		t.Fatal(code)
	}
	_, otherKey := apiKey(t, ts, "other@example.com")
	if code, m := b.call("GET", "/api/v1/tunnels", otherKey, false, nil); code != 200 || len(m["tunnels"].([]any)) != 0 {
		t.Fatalf("another account's tunnels: %v", m)
	}
}

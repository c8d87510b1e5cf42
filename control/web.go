package control

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wsgrok/wsgrok/control/store"
)

// The dashboard: server-rendered pages (html/template) with embedded
// assets, a little plain JavaScript and Server-Sent Events for the live
// parts. Every page but sign-up and log-in needs a session; every form
// carries a CSRF token.

//go:embed web/templates/*.html web/static/*
var webFS embed.FS

// web holds the dashboard's and the user API's state.
type web struct {
	s *Service

	// Immutable after newWeb:
	pages  map[string]*template.Template // by file name, each with the layout and partials
	parts  *template.Template            // partials alone, for SSE fragments
	static http.Handler

	// Safe for concurrent use:
	logins  *limiter // failed logins per client address and per email
	signups *limiter // sign-ups per client address
	pending *pendingLogins
}

// pageFiles are the templates rendered inside the layout.
var pageFiles = []string{"login.html", "signup.html", "totp.html", "tunnels.html", "traffic.html", "security.html",
	"analytics.html", "tokens.html", "names.html", "account.html", "error.html"}

var tmplFuncs = template.FuncMap{
	"ago":      ago,
	"stamp":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ms":       fmtDuration,
	"bytes":    fmtBytes,
	"num":      fmtNum,
	"join":     strings.Join,
	"lines":    func(s []string) string { return strings.Join(s, "\n") },
	"statusOf": statusClass,
	"pathq":    url.PathEscape,
	"deref":    func(t *time.Time) time.Time { return *t },
}

func newWeb(s *Service) (*web, error) {
	u := &web{s: s, pages: map[string]*template.Template{},
		logins: newLimiter(loginLimit, loginWindow), signups: newLimiter(signupLimit, signupWindow),
		pending: &pendingLogins{m: map[string]*pendingLogin{}, lastStep: map[string]int64{}}}
	base, err := template.New("").Funcs(tmplFuncs).ParseFS(webFS, "web/templates/layout.html", "web/templates/partials.html")
	if err != nil {
		return nil, err
	}
	u.parts = base
	for _, p := range pageFiles {
		t, err := template.Must(base.Clone()).ParseFS(webFS, "web/templates/"+p)
		if err != nil {
			return nil, err
		}
		u.pages[p] = t
	}
	static, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, err
	}
	u.static = http.StripPrefix("/static/", http.FileServerFS(static))
	return u, nil
}

// userRoutes adds the dashboard and the user API to mux.
func (s *Service) userRoutes(mux *http.ServeMux) {
	u, err := newWeb(s)
	if err != nil {
		panic("wsgrok: control: dashboard templates: " + err.Error()) // embedded: a build mistake
	}
	mux.Handle("GET /static/", cacheStatic(u.static))
	mux.HandleFunc("GET /{$}", u.home)
	mux.HandleFunc("GET /signup", u.signupPage)
	mux.HandleFunc("POST /signup", u.signup)
	mux.HandleFunc("GET /login", u.loginPage)
	mux.HandleFunc("POST /login", u.login)
	mux.HandleFunc("POST /login/totp", u.loginTOTP)
	mux.HandleFunc("POST /logout", u.page(u.logout))

	mux.HandleFunc("GET /tunnels", u.page(u.tunnelsPage))
	mux.HandleFunc("GET /traffic", u.page(u.trafficPage))
	mux.HandleFunc("GET /events", u.page(u.events))
	mux.HandleFunc("GET /security", u.page(u.securityPage))
	mux.HandleFunc("POST /security/{endpoint}", u.page(u.securitySave))
	mux.HandleFunc("POST /security/{endpoint}/delete", u.page(u.securityDelete))
	mux.HandleFunc("GET /analytics", u.page(u.analyticsPage))
	mux.HandleFunc("GET /analytics/panel", u.page(u.analyticsPanel))
	mux.HandleFunc("GET /tokens", u.page(u.tokensPage))
	mux.HandleFunc("POST /tokens", u.page(u.tokenCreate))
	mux.HandleFunc("POST /tokens/{id}/revoke", u.page(u.tokenRevoke))
	mux.HandleFunc("POST /apikeys", u.page(u.apiKeyCreate))
	mux.HandleFunc("POST /apikeys/{id}/revoke", u.page(u.apiKeyRevoke))
	mux.HandleFunc("GET /names", u.page(u.namesPage))
	mux.HandleFunc("POST /names", u.page(u.nameReserve))
	mux.HandleFunc("POST /names/{name}/release", u.page(u.nameRelease))
	mux.HandleFunc("GET /account", u.page(u.accountPage))
	mux.HandleFunc("POST /account/totp/setup", u.page(u.totpSetup))
	mux.HandleFunc("POST /account/totp/enable", u.page(u.totpEnable))
	mux.HandleFunc("POST /account/totp/disable", u.page(u.totpDisable))
	mux.HandleFunc("POST /account/password", u.page(u.passwordChange))
	mux.HandleFunc("POST /account/name", u.page(u.nameChange))

	u.apiRoutes(mux)
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		h.ServeHTTP(w, r)
	})
}

// pageHandler is a dashboard handler for a logged-in user.
type pageHandler func(w http.ResponseWriter, r *http.Request, p *principal)

// page admits requests with a session (sending others to the login page)
// and checks the CSRF token of every POST.
func (u *web) page(h pageHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		p, ok := u.session(w, r)
		if !ok {
			if r.Method == http.MethodGet && r.URL.Path != "/events" && r.URL.Path != "/analytics/panel" {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			u.errorPage(w, r, nil, http.StatusUnauthorized, "Your session has ended",
				"You were logged out (or your session expired). Log in again, then repeat what you were doing.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
			if !equalSecret(p.sess.CSRF, r.PostFormValue(csrfField)) {
				u.errorPage(w, r, p, http.StatusForbidden, "This form has expired",
					"The page you sent it from is out of date (or the request did not come from this dashboard). Go back, reload the page and try again.")
				return
			}
		}
		h(w, r, p)
	}
}

// securityHeaders keeps pages out of frames and scripts to our own files.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// view is what every page template gets.
type view struct {
	Title  string
	Nav    string // the highlighted menu entry
	Live   string // what app.js keeps live on this page
	Acct   *store.Account
	CSRF   string
	Flash  string
	Error  string
	Domain string
	Data   any
}

func (u *web) view(p *principal, title, nav string, data any) *view {
	v := &view{Title: title, Nav: nav, Domain: u.s.cfg.Domain, Data: data}
	if p != nil {
		v.Acct = &p.acct
		if p.sess != nil {
			v.CSRF = p.sess.CSRF
		}
	}
	return v
}

// render writes a page; a template error is logged and answered with a
// plain 500, since the page is half-built by then only in the buffer.
func (u *web) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	securityHeaders(w)
	if v.Flash == "" {
		v.Flash = u.takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := u.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		u.s.log.Error("control: rendering", "page", page, "err", err)
		http.Error(w, "the dashboard failed to draw this page; see the control service's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fragment renders a partial template to a string, for SSE and fetches.
func (u *web) fragment(name string, data any) (string, error) {
	var buf bytes.Buffer
	err := u.parts.ExecuteTemplate(&buf, name, data)
	return buf.String(), err
}

type errorData struct {
	Heading, Message string
}

func (u *web) errorPage(w http.ResponseWriter, r *http.Request, p *principal, status int, heading, msg string) {
	u.render(w, r, status, "error.html", u.view(p, heading, "", errorData{heading, msg}))
}

// failed shows err: a userErr as the page's error, anything else as an
// internal error (logged).
func (u *web) failed(w http.ResponseWriter, r *http.Request, p *principal, err error) {
	var ue *userErr
	if errors.As(err, &ue) {
		u.errorPage(w, r, p, ue.status, "That did not work", capitalize(ue.msg)+".")
		return
	}
	u.s.log.Error("control: internal error", "path", r.URL.Path, "err", err)
	u.errorPage(w, r, p, http.StatusInternalServerError, "Something went wrong on our side",
		"The control service could not finish this. Try again in a moment; if it keeps failing, its log says why.")
}

// redirect sends the browser to path with a one-shot message.
func (u *web) redirect(w http.ResponseWriter, r *http.Request, path, flash string) {
	if flash != "" {
		u.setCookie(w, r, flashCookie, url.QueryEscape(flash), time.Minute)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

func (u *web) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	u.setCookie(w, r, flashCookie, "", -1)
	msg, _ := url.QueryUnescape(c.Value)
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}

func (u *web) home(w http.ResponseWriter, r *http.Request) {
	if _, ok := u.session(w, r); ok {
		http.Redirect(w, r, "/tunnels", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Formatting helpers of the templates.

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %cB", f, "KMGTP"[i])
}

func fmtNum(n int64) string {
	switch {
	case n < 10_000:
		return fmt.Sprint(n)
	case n < 1_000_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	case n < 1_000_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1fG", float64(n)/1e9)
}

func statusClass(code int) string {
	switch {
	case code >= 500:
		return "s5"
	case code >= 400:
		return "s4"
	case code >= 300:
		return "s3"
	case code >= 200:
		return "s2"
	}
	return "s1"
}

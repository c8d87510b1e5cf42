package control

import (
	"errors"
	"net/http"
	"strings"

	"github.com/wsgrok/wsgrok/control/store"
)

// Sign-up, log-in (with the optional TOTP step) and log-out.

type authForm struct {
	Email, Name, Next string
	Pending           string // the pending login of the TOTP step
}

func (u *web) anonView(w http.ResponseWriter, r *http.Request, title string, f authForm) *view {
	v := u.view(nil, title, "", f)
	v.CSRF = u.preCSRF(w, r)
	return v
}

func (u *web) signupPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := u.session(w, r); ok {
		http.Redirect(w, r, "/tunnels", http.StatusSeeOther)
		return
	}
	u.render(w, r, http.StatusOK, "signup.html", u.anonView(w, r, "Create your account", authForm{}))
}

func (u *web) signup(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	f := authForm{Email: strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))), Name: strings.TrimSpace(r.PostFormValue("name"))}
	fail := func(status int, msg string) {
		v := u.anonView(w, r, "Create your account", f)
		v.Error = msg
		u.render(w, r, status, "signup.html", v)
	}
	if !checkPreCSRF(r) {
		fail(http.StatusForbidden, "This form had expired. We refreshed it: please send it again.")
		return
	}
	now := u.s.cfg.now()
	ip := "ip:" + clientIP(r)
	if d := u.signups.retryAfter(ip, now); d > 0 {
		w.Header().Set("Retry-After", retrySeconds(d))
		fail(http.StatusTooManyRequests, "Too many accounts were created from your address. Try again in "+humanWait(d)+".")
		return
	}
	pass := r.PostFormValue("password")
	if msg := checkAccountName(f.Name); msg != "" {
		fail(http.StatusBadRequest, msg)
		return
	}
	if !validEmail(f.Email) {
		fail(http.StatusBadRequest, "That email address does not look right: write it as name@example.com.")
		return
	}
	if msg := checkNewPassword(pass); msg != "" {
		fail(http.StatusBadRequest, msg)
		return
	}
	acct, err := u.s.st.CreateAccount(r.Context(), store.Account{Email: f.Email, Name: f.Name, PasswordHash: hashPassword(pass)})
	if errors.Is(err, store.ErrDuplicate) {
		fail(http.StatusConflict, "An account with this email exists already. Log in instead (or use another address).")
		return
	}
	if err != nil {
		u.failed(w, r, nil, err)
		return
	}
	u.signups.add(now, ip)
	if err := u.startSession(r.Context(), w, r, acct); err != nil {
		u.failed(w, r, nil, err)
		return
	}
	u.redirect(w, r, "/tokens", "Welcome to wsgrok! Create an authtoken to connect your first agent.")
}

func (u *web) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localNext(r.URL.Query().Get("next"))
	if _, ok := u.session(w, r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	u.render(w, r, http.StatusOK, "login.html", u.anonView(w, r, "Log in", authForm{Next: next}))
}

func (u *web) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	f := authForm{Email: strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))), Next: localNext(r.PostFormValue("next"))}
	fail := func(status int, msg string) {
		v := u.anonView(w, r, "Log in", f)
		v.Error = msg
		u.render(w, r, status, "login.html", v)
	}
	if !checkPreCSRF(r) {
		fail(http.StatusForbidden, "This form had expired. We refreshed it: please log in again.")
		return
	}
	now := u.s.cfg.now()
	ipKey, emailKey := "ip:"+clientIP(r), "email:"+f.Email
	if d := max(u.logins.retryAfter(ipKey, now), u.logins.retryAfter(emailKey, now)); d > 0 {
		w.Header().Set("Retry-After", retrySeconds(d))
		fail(http.StatusTooManyRequests, "Too many failed attempts. For your safety, wait "+humanWait(d)+" before trying again.")
		return
	}
	pass := r.PostFormValue("password")
	acct, err := u.s.st.AccountByEmail(r.Context(), f.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		u.failed(w, r, nil, err)
		return
	}
	hash := acct.PasswordHash
	if err != nil || hash == "" {
		hash = dummyHash()
	}
	ok, herr := checkPassword(hash, pass)
	if err != nil || herr != nil || !ok || len(pass) > maxPasswordLen {
		u.logins.add(now, ipKey, emailKey)
		fail(http.StatusUnauthorized, "Wrong email or password. Check both and try again.")
		return
	}
	if acct.TOTPSecret != "" {
		id := u.pending.add(&pendingLogin{account: acct.ID, email: acct.Email, next: f.Next, expires: now.Add(pendingLoginTTL)}, now)
		v := u.anonView(w, r, "Two-factor code", authForm{Email: acct.Email, Pending: id})
		u.render(w, r, http.StatusOK, "totp.html", v)
		return
	}
	u.logins.reset(emailKey)
	if err := u.startSession(r.Context(), w, r, acct); err != nil {
		u.failed(w, r, nil, err)
		return
	}
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
}

func (u *web) loginTOTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	now := u.s.cfg.now()
	id := r.PostFormValue("pending")
	pl := u.pending.get(id, now)
	if !checkPreCSRF(r) || pl == nil {
		v := u.anonView(w, r, "Log in", authForm{})
		v.Error = "That login took too long or had too many wrong codes. Log in again."
		u.render(w, r, http.StatusUnauthorized, "login.html", v)
		return
	}
	f := authForm{Email: pl.email, Pending: id}
	ipKey := "ip:" + clientIP(r)
	if d := u.logins.retryAfter(ipKey, now); d > 0 {
		w.Header().Set("Retry-After", retrySeconds(d))
		v := u.anonView(w, r, "Two-factor code", f)
		v.Error = "Too many failed attempts. Wait " + humanWait(d) + " before trying again."
		u.render(w, r, http.StatusTooManyRequests, "totp.html", v)
		return
	}
	acct, err := u.s.st.AccountByID(r.Context(), pl.account)
	if err != nil {
		u.failed(w, r, nil, err)
		return
	}
	step, ok := totpVerify(acct.TOTPSecret, r.PostFormValue("code"), now)
	if !ok || !u.pending.useStep(acct.ID, step) {
		u.pending.fail(id)
		u.logins.add(now, ipKey, "email:"+pl.email)
		v := u.anonView(w, r, "Two-factor code", f)
		v.Error = "That code is not right (or was used already). Enter the current 6-digit code from your authenticator app."
		u.render(w, r, http.StatusUnauthorized, "totp.html", v)
		return
	}
	u.pending.done(id)
	u.logins.reset("email:" + pl.email)
	if err := u.startSession(r.Context(), w, r, acct); err != nil {
		u.failed(w, r, nil, err)
		return
	}
	http.Redirect(w, r, pl.next, http.StatusSeeOther)
}

func (u *web) logout(w http.ResponseWriter, r *http.Request, p *principal) {
	u.s.st.DeleteSession(r.Context(), p.sess.ID)
	u.setCookie(w, r, sessionCookie, "", -1)
	u.redirect(w, r, "/login", "You are logged out.")
}

package control

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wsgrok/wsgrok/control/store"
)

// Authtokens and API keys, reserved names, and account settings.

type tokensData struct {
	Tokens   []store.Authtoken
	Keys     []store.APIKey
	NewToken string // shown once, right after it was created
	NewName  string
	NewKey   string
	URL      string // of this service, for the API example
}

func (u *web) showTokens(w http.ResponseWriter, r *http.Request, p *principal, status int, d tokensData, errMsg string) {
	var err error
	if d.Tokens, err = u.s.st.ListAuthtokens(r.Context(), p.acct.ID); err != nil {
		u.failed(w, r, p, err)
		return
	}
	if d.Keys, err = u.s.st.ListAPIKeys(r.Context(), p.acct.ID); err != nil {
		u.failed(w, r, p, err)
		return
	}
	// Newest first, revoked last: what people look for is on top.
	slices.Reverse(d.Tokens)
	slices.SortStableFunc(d.Tokens, func(a, b store.Authtoken) int { return boolCmp(a.Revoked != nil, b.Revoked != nil) })
	slices.Reverse(d.Keys)
	slices.SortStableFunc(d.Keys, func(a, b store.APIKey) int { return boolCmp(a.Revoked != nil, b.Revoked != nil) })
	d.URL = u.s.cfg.PublicURL
	v := u.view(p, "Authtokens & API keys", "tokens", d)
	v.Error = errMsg
	u.render(w, r, status, "tokens.html", v)
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func (u *web) tokensPage(w http.ResponseWriter, r *http.Request, p *principal) {
	u.showTokens(w, r, p, http.StatusOK, tokensData{}, "")
}

func (u *web) tokenCreate(w http.ResponseWriter, r *http.Request, p *principal) {
	tok, rec, err := u.createAuthtoken(r.Context(), p.acct, r.PostFormValue("name"))
	if err != nil {
		if ue, ok := err.(*userErr); ok {
			u.showTokens(w, r, p, ue.status, tokensData{}, capitalize(ue.msg)+".")
			return
		}
		u.failed(w, r, p, err)
		return
	}
	u.showTokens(w, r, p, http.StatusOK, tokensData{NewToken: tok, NewName: rec.Name}, "")
}

func (u *web) tokenRevoke(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := u.revokeAuthtoken(r.Context(), p.acct, r.PathValue("id")); err != nil {
		u.failed(w, r, p, err)
		return
	}
	u.redirect(w, r, "/tokens", "Authtoken revoked. Agents using it are disconnected within a few seconds.")
}

func (u *web) apiKeyCreate(w http.ResponseWriter, r *http.Request, p *principal) {
	text, _, err := u.createAPIKey(r.Context(), p.acct, r.PostFormValue("name"))
	if err != nil {
		if ue, ok := err.(*userErr); ok {
			u.showTokens(w, r, p, ue.status, tokensData{}, capitalize(ue.msg)+".")
			return
		}
		u.failed(w, r, p, err)
		return
	}
	u.showTokens(w, r, p, http.StatusOK, tokensData{NewKey: text}, "")
}

func (u *web) apiKeyRevoke(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := u.revokeAPIKey(r.Context(), p.acct, r.PathValue("id")); err != nil {
		u.failed(w, r, p, err)
		return
	}
	u.redirect(w, r, "/tokens", "API key revoked: requests with it are refused from now on.")
}

type namesData struct {
	Held       []store.ReservedName
	Released   []store.ReservedName
	Unreserved []string // live tunnels on names nobody reserved
	Quarantine time.Duration
	Name       string // the form's value after an error
}

func (u *web) showNames(w http.ResponseWriter, r *http.Request, p *principal, status int, name, errMsg string) {
	names, err := u.s.st.ReservedNames(r.Context(), p.acct.ID)
	if err != nil {
		u.failed(w, r, p, err)
		return
	}
	d := namesData{Quarantine: u.s.cfg.Quarantine, Name: name}
	for _, n := range names {
		if n.Released == nil {
			d.Held = append(d.Held, n)
		} else {
			d.Released = append(d.Released, n)
		}
	}
	for _, t := range u.s.live.tunnels(p.acct.ID, u.s.cfg.now()) {
		if t.Kind != "tcp" && validName(t.Name) && !slices.ContainsFunc(d.Held, func(n store.ReservedName) bool { return n.Name == t.Name }) &&
			!slices.Contains(d.Unreserved, t.Name) {
			d.Unreserved = append(d.Unreserved, t.Name)
		}
	}
	v := u.view(p, "Reserved names", "names", d)
	v.Error = errMsg
	u.render(w, r, status, "names.html", v)
}

func (u *web) namesPage(w http.ResponseWriter, r *http.Request, p *principal) {
	u.showNames(w, r, p, http.StatusOK, "", "")
}

func (u *web) nameReserve(w http.ResponseWriter, r *http.Request, p *principal) {
	name := r.PostFormValue("name")
	rn, err := u.reserveName(r.Context(), p.acct, name)
	if err != nil {
		if ue, ok := err.(*userErr); ok {
			u.showNames(w, r, p, ue.status, name, capitalize(ue.msg)+".")
			return
		}
		u.failed(w, r, p, err)
		return
	}
	u.redirect(w, r, "/names", rn.Name+"."+u.s.cfg.Domain+" is yours: only your agents can use it now.")
}

func (u *web) nameRelease(w http.ResponseWriter, r *http.Request, p *principal) {
	name := r.PathValue("name")
	if err := u.releaseName(r.Context(), p.acct, name); err != nil {
		u.failed(w, r, p, err)
		return
	}
	u.redirect(w, r, "/names", name+" released. Nobody else can take it for "+humanWait(u.s.cfg.Quarantine)+"; you can take it back any time.")
}

type accountData struct {
	TOTPOn      bool
	SetupSecret string // while enabling two-factor
	SetupGroups string // the secret in groups of four, to type
	SetupURI    string
}

func (u *web) showAccount(w http.ResponseWriter, r *http.Request, p *principal, status int, d accountData, errMsg string) {
	d.TOTPOn = p.acct.TOTPSecret != ""
	v := u.view(p, "Account", "account", d)
	v.Error = errMsg
	u.render(w, r, status, "account.html", v)
}

func (u *web) accountPage(w http.ResponseWriter, r *http.Request, p *principal) {
	u.showAccount(w, r, p, http.StatusOK, accountData{}, "")
}

func setupData(acct store.Account, secret string) accountData {
	var groups []string
	for i := 0; i < len(secret); i += 4 {
		groups = append(groups, secret[i:min(i+4, len(secret))])
	}
	return accountData{SetupSecret: secret, SetupGroups: strings.Join(groups, " "), SetupURI: totpURI("wsgrok", acct.Email, secret)}
}

// totpSetup shows a new secret to add to an authenticator app; it is not
// saved until a code from the app proves the app has it.
func (u *web) totpSetup(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.acct.TOTPSecret != "" {
		u.redirect(w, r, "/account", "Two-factor authentication is on already.")
		return
	}
	u.showAccount(w, r, p, http.StatusOK, setupData(p.acct, newTOTPSecret()), "")
}

func (u *web) totpEnable(w http.ResponseWriter, r *http.Request, p *principal) {
	secret := strings.TrimSpace(r.PostFormValue("secret"))
	if k, err := decodeTOTPSecret(secret); err != nil || len(k) < 16 {
		u.showAccount(w, r, p, http.StatusBadRequest, accountData{}, "The setup form was damaged. Start again with “Enable two-factor”.")
		return
	}
	step, ok := totpVerify(secret, r.PostFormValue("code"), u.s.cfg.now())
	if !ok {
		u.showAccount(w, r, p, http.StatusBadRequest, setupData(p.acct, secret),
			"That code does not match. Check that your phone's clock is right and enter the code your app shows now.")
		return
	}
	u.pending.useStep(p.acct.ID, step)
	acct := p.acct
	acct.TOTPSecret = secret
	if err := u.s.st.UpdateAccount(r.Context(), acct); err != nil {
		u.failed(w, r, p, err)
		return
	}
	u.redirect(w, r, "/account", "Two-factor authentication is on. You will need a code from your app at every login.")
}

func (u *web) totpDisable(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.acct.TOTPSecret == "" {
		u.redirect(w, r, "/account", "Two-factor authentication was already off.")
		return
	}
	step, ok := totpVerify(p.acct.TOTPSecret, r.PostFormValue("code"), u.s.cfg.now())
	if !ok || !u.pending.useStep(p.acct.ID, step) {
		u.showAccount(w, r, p, http.StatusBadRequest, accountData{}, "That code is not right. Enter the current code from your authenticator app to turn two-factor off.")
		return
	}
	acct := p.acct
	acct.TOTPSecret = ""
	if err := u.s.st.UpdateAccount(r.Context(), acct); err != nil {
		u.failed(w, r, p, err)
		return
	}
	u.redirect(w, r, "/account", "Two-factor authentication is off.")
}

func (u *web) passwordChange(w http.ResponseWriter, r *http.Request, p *principal) {
	cur, next := r.PostFormValue("current"), r.PostFormValue("new")
	if d := u.logins.retryAfter("email:"+p.acct.Email, u.s.cfg.now()); d > 0 {
		w.Header().Set("Retry-After", retrySeconds(d))
		u.showAccount(w, r, p, http.StatusTooManyRequests, accountData{}, "Too many wrong passwords. Wait "+humanWait(d)+" before trying again.")
		return
	}
	ok, err := checkPassword(p.acct.PasswordHash, cur)
	if err != nil || !ok {
		now := u.s.cfg.now()
		u.logins.add(now, "email:"+p.acct.Email)
		u.showAccount(w, r, p, http.StatusBadRequest, accountData{}, "Your current password is not right, so nothing changed.")
		return
	}
	if msg := checkNewPassword(next); msg != "" {
		u.showAccount(w, r, p, http.StatusBadRequest, accountData{}, msg)
		return
	}
	acct := p.acct
	acct.PasswordHash = hashPassword(next)
	ctx := r.Context()
	if err := u.s.st.UpdateAccount(ctx, acct); err != nil {
		u.failed(w, r, p, err)
		return
	}
	// Every other browser is logged out; this one gets a new session.
	if err := u.s.st.DeleteAccountSessions(ctx, acct.ID); err != nil {
		u.failed(w, r, p, err)
		return
	}
	if err := u.startSession(ctx, w, r, acct); err != nil {
		u.failed(w, r, p, err)
		return
	}
	u.redirect(w, r, "/account", "Password changed. Other browsers were logged out.")
}

func (u *web) nameChange(w http.ResponseWriter, r *http.Request, p *principal) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if msg := checkAccountName(name); msg != "" {
		u.showAccount(w, r, p, http.StatusBadRequest, accountData{}, msg)
		return
	}
	acct := p.acct
	acct.Name = name
	if err := u.s.st.UpdateAccount(r.Context(), acct); err != nil {
		u.failed(w, r, p, err)
		return
	}
	u.redirect(w, r, "/account", "Name saved.")
}

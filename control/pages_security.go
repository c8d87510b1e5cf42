package control

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsgrok/wsgrok/control/store"
)

// The Security page: an endpoint's IP allow and deny lists, blocked
// paths, basic auth users and rate limit.

type securityData struct {
	Endpoints []string
	Selected  string
	Live      bool // the selected endpoint has a live tunnel
	Reserved  bool // the account holds the name
	HasPolicy bool
	Updated   time.Time
	Form      policyForm
}

// policyForm is a policy as the page's fields show it: one entry a line.
type policyForm struct {
	Allow, Deny, Paths, Users string
	RateLimit                 string
}

func formOf(p store.Policy) policyForm {
	users := make([]string, len(p.BasicAuth))
	for i, b := range p.BasicAuth {
		users[i] = b.User
	}
	f := policyForm{Allow: strings.Join(p.AllowCIDRs, "\n"), Deny: strings.Join(p.DenyCIDRs, "\n"),
		Paths: strings.Join(p.BlockPaths, "\n"), Users: strings.Join(users, "\n")}
	if p.RateLimit > 0 {
		f.RateLimit = strconv.Itoa(p.RateLimit)
	}
	return f
}

// splitList splits a field on newlines and commas.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// inputOf parses the page's fields. Basic auth lines are "user:password",
// or "user" alone to keep that user's current password.
func inputOf(f policyForm) (policyInput, error) {
	in := policyInput{AllowCIDRs: splitList(f.Allow), DenyCIDRs: splitList(f.Deny), BlockPaths: splitList(f.Paths)}
	for _, line := range strings.Split(f.Users, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		user, pass, _ := strings.Cut(line, ":")
		in.BasicAuth = append(in.BasicAuth, basicAuthInput{User: strings.TrimSpace(user), Password: pass})
	}
	if rl := strings.TrimSpace(f.RateLimit); rl != "" {
		n, err := strconv.Atoi(rl)
		if err != nil {
			return in, badInput("invalid_rate_limit", "the rate limit %q is not a whole number of requests per minute", rl)
		}
		in.RateLimit = n
	}
	return in, nil
}

func (u *web) securityData(r *http.Request, p *principal, endpoint string) (securityData, error) {
	eps, names, err := u.endpointNames(r.Context(), p.acct.ID)
	if err != nil {
		return securityData{}, err
	}
	d := securityData{Endpoints: eps, Selected: endpoint}
	if d.Selected == "" && len(eps) > 0 {
		d.Selected = eps[0]
	}
	if d.Selected == "" {
		return d, nil
	}
	if !slices.Contains(eps, d.Selected) {
		return d, notFound("endpoint")
	}
	d.Live = u.hasLiveTunnel(p.acct.ID, d.Selected)
	d.Reserved = slices.ContainsFunc(names, func(n store.ReservedName) bool { return n.Name == d.Selected && n.Released == nil })
	pol, err := u.s.st.Policy(r.Context(), p.acct.ID, d.Selected)
	switch {
	case err == nil:
		d.HasPolicy, d.Updated, d.Form = true, pol.Updated, formOf(pol)
	case !errors.Is(err, store.ErrNotFound):
		return d, err
	}
	return d, nil
}

func (u *web) securityPage(w http.ResponseWriter, r *http.Request, p *principal) {
	d, err := u.securityData(r, p, strings.ToLower(r.URL.Query().Get("endpoint")))
	if err != nil {
		u.failed(w, r, p, err)
		return
	}
	u.render(w, r, http.StatusOK, "security.html", u.view(p, "Security", "security", d))
}

func (u *web) securitySave(w http.ResponseWriter, r *http.Request, p *principal) {
	endpoint := strings.ToLower(r.PathValue("endpoint"))
	f := policyForm{Allow: r.PostFormValue("allow"), Deny: r.PostFormValue("deny"), Paths: r.PostFormValue("paths"),
		Users: r.PostFormValue("users"), RateLimit: r.PostFormValue("rate_limit")}
	in, err := inputOf(f)
	if err == nil {
		_, err = u.savePolicy(r.Context(), p.acct, endpoint, in)
	}
	if err != nil {
		var ue *userErr
		if !errors.As(err, &ue) {
			u.failed(w, r, p, err)
			return
		}
		d, derr := u.securityData(r, p, endpoint)
		if derr != nil {
			u.failed(w, r, p, err) // the endpoint itself is wrong: say why saving failed
			return
		}
		d.Form = f
		v := u.view(p, "Security", "security", d)
		v.Error = capitalize(ue.msg) + "."
		u.render(w, r, ue.status, "security.html", v)
		return
	}
	u.redirect(w, r, "/security?endpoint="+url.QueryEscape(endpoint),
		"Saved. Every edge enforces the new rules for "+endpoint+" within a few seconds.")
}

func (u *web) securityDelete(w http.ResponseWriter, r *http.Request, p *principal) {
	endpoint, err := normEndpoint(r.PathValue("endpoint"))
	if err == nil {
		err = asUserErr(u.s.st.DeletePolicy(r.Context(), p.acct.ID, endpoint), "policy")
	}
	if err != nil {
		u.failed(w, r, p, err)
		return
	}
	u.redirect(w, r, "/security?endpoint="+url.QueryEscape(endpoint),
		"Rules removed: "+endpoint+" is back to what its agent's flags say.")
}

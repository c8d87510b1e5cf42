package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wsgrok/wsgrok/control/api"
	"github.com/wsgrok/wsgrok/control/store"
	"github.com/wsgrok/wsgrok/wire"
)

// What the dashboard and the JSON API both do, with errors that carry an
// HTTP status, a stable code and a message saying what to do.

// userErr is a refusal to show to the user.
type userErr struct {
	status int
	code   string
	msg    string
}

func (e *userErr) Error() string { return e.msg }

func badInput(code, format string, args ...any) *userErr {
	return &userErr{http.StatusBadRequest, code, fmt.Sprintf(format, args...)}
}

func notFound(what string) *userErr {
	return &userErr{http.StatusNotFound, "not_found", "no " + what + " of this account has that name or id"}
}

// asUserErr maps store errors (ownership included: another account's
// object is not found, so that ids cannot be probed) to refusals; other
// errors are internal and returned as they are.
func asUserErr(err error, what string) error {
	var ue *userErr
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ue):
		return ue
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrForbidden):
		return notFound(what)
	case errors.Is(err, errBadInput):
		return badInput("invalid", "%s", strings.TrimPrefix(err.Error(), errBadInput.Error()+": "))
	}
	return err
}

// Limits on what an account may configure, so that a policy stays small
// enough for every edge to hold and check quickly.
const (
	maxCIDRs        = 1000
	maxBlockPaths   = 200
	maxBasicUsers   = 50
	maxPathLen      = 1024
	maxBasicUserLen = 128
	maxBasicPassLen = 1024
	maxRateLimit    = 1_000_000
	maxTokenName    = 64
)

// validName reports whether s may be a tunnel's subdomain label: lower-case
// letters, digits and hyphens, 1 to 63 long, no hyphen at either end (as
// the edge checks).
func validName(s string) bool { return wire.ValidName(s) }

func normEndpoint(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if !validName(s) {
		return "", badInput("invalid_name", "%q is not a tunnel name: use 1 to 63 lower-case letters, digits and hyphens, not starting or ending with a hyphen", s)
	}
	return s, nil
}

// basicAuthInput is a basic auth user as the API and the dashboard send
// it. An empty password keeps the user's current one.
type basicAuthInput struct {
	User     string `json:"user"`
	Password string `json:"password,omitempty"`
}

// policyInput is an endpoint's policy as the API takes it. Endpoint and
// Updated are accepted (and checked or ignored) so that what GET returns
// can be PUT back.
type policyInput struct {
	Endpoint   string           `json:"endpoint,omitempty"`
	AllowCIDRs []string         `json:"allow_cidrs"`
	DenyCIDRs  []string         `json:"deny_cidrs"`
	BlockPaths []string         `json:"block_paths"`
	BasicAuth  []basicAuthInput `json:"basic_auth"`
	RateLimit  int              `json:"rate_limit"`
	Updated    *time.Time       `json:"updated,omitempty"`
}

// cleanCIDRs validates and canonicalises a list of CIDRs; a bare address
// is taken as a one-address prefix.
func cleanCIDRs(field string, in []string) ([]string, error) {
	if len(in) > maxCIDRs {
		return nil, badInput("too_many_cidrs", "%s has %d entries; at most %d are allowed", field, len(in), maxCIDRs)
	}
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil {
				a = a.Unmap()
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || p.Addr().Zone() != "" {
			return nil, badInput("invalid_cidr", "%s: %q is not an IP address or CIDR (like 203.0.113.0/24 or 2001:db8::/32)", field, s)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		c := p.Masked().String()
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// cleanPaths validates block paths: absolute, without query, fragment,
// backslash, spaces or control characters, as the edge matches them.
func cleanPaths(in []string) ([]string, error) {
	if len(in) > maxBlockPaths {
		return nil, badInput("too_many_paths", "block_paths has %d entries; at most %d are allowed", len(in), maxBlockPaths)
	}
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		switch {
		case !strings.HasPrefix(s, "/"):
			return nil, badInput("invalid_path", "block path %q must start with /", s)
		case len(s) > maxPathLen:
			return nil, badInput("invalid_path", "block path %.40q... is longer than %d bytes", s, maxPathLen)
		case !utf8.ValidString(s) || strings.ContainsAny(s, "?#\\ \t"),
			strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return nil, badInput("invalid_path", "block path %q may not contain spaces, ?, #, backslashes or control characters", s)
		case strings.Contains(s, "//") || strings.Contains("/"+s+"/", "/../") || strings.Contains("/"+s+"/", "/./"):
			return nil, badInput("invalid_path", "block path %q has empty, . or .. segments: write the path as it is served", s)
		}
		if len(s) > 1 {
			s = strings.TrimSuffix(s, "/")
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// buildPolicy turns input into a stored policy; basic auth users without a
// password keep the hash they have in cur.
func buildPolicy(endpoint string, in policyInput, cur *store.Policy) (store.Policy, error) {
	if in.Endpoint != "" && strings.ToLower(strings.TrimSpace(in.Endpoint)) != endpoint {
		return store.Policy{}, badInput("endpoint_mismatch", "the body is for endpoint %q but the URL for %q", in.Endpoint, endpoint)
	}
	p := store.Policy{Endpoint: endpoint}
	var err error
	if p.AllowCIDRs, err = cleanCIDRs("allow_cidrs", in.AllowCIDRs); err != nil {
		return p, err
	}
	if p.DenyCIDRs, err = cleanCIDRs("deny_cidrs", in.DenyCIDRs); err != nil {
		return p, err
	}
	if p.BlockPaths, err = cleanPaths(in.BlockPaths); err != nil {
		return p, err
	}
	if in.RateLimit < 0 || in.RateLimit > maxRateLimit {
		return p, badInput("invalid_rate_limit", "rate_limit is requests per minute per client address: 0 (none) to %d", maxRateLimit)
	}
	p.RateLimit = in.RateLimit
	if len(in.BasicAuth) > maxBasicUsers {
		return p, badInput("too_many_users", "basic_auth has %d users; at most %d are allowed", len(in.BasicAuth), maxBasicUsers)
	}
	for _, b := range in.BasicAuth {
		user := strings.TrimSpace(b.User)
		switch {
		case user == "" || len(user) > maxBasicUserLen || strings.Contains(user, ":") ||
			strings.ContainsFunc(user, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return p, badInput("invalid_basic_auth", "basic auth user %q must be 1 to %d characters without a colon", user, maxBasicUserLen)
		case len(b.Password) > maxBasicPassLen:
			return p, badInput("invalid_basic_auth", "the password of %q is longer than %d bytes", user, maxBasicPassLen)
		case slices.ContainsFunc(p.BasicAuth, func(u store.BasicAuthUser) bool { return u.User == user }):
			return p, badInput("invalid_basic_auth", "basic auth user %q is listed twice", user)
		}
		hash := ""
		if b.Password != "" {
			hash = api.HashBasicPassword(b.Password)
		} else if cur != nil {
			for _, u := range cur.BasicAuth {
				if u.User == user {
					hash = u.PasswordHash
				}
			}
		}
		if hash == "" {
			return p, badInput("invalid_basic_auth", "basic auth user %q needs a password", user)
		}
		p.BasicAuth = append(p.BasicAuth, store.BasicAuthUser{User: user, PasswordHash: hash})
	}
	return p, nil
}

// hasLiveTunnel reports whether the account has a live tunnel named name.
func (u *web) hasLiveTunnel(acct, name string) bool {
	for _, t := range u.s.live.tunnels(acct, u.s.cfg.now()) {
		if t.Name == name {
			return true
		}
	}
	return false
}

// savePolicy validates and stores an endpoint's policy. A policy needs the
// name to be the account's: a name its live tunnel uses is reserved on
// the way, if it is free.
func (u *web) savePolicy(ctx context.Context, acct store.Account, endpoint string, in policyInput) (store.Policy, error) {
	endpoint, err := normEndpoint(endpoint)
	if err != nil {
		return store.Policy{}, err
	}
	var cur *store.Policy
	if p, err := u.s.st.Policy(ctx, acct.ID, endpoint); err == nil {
		cur = &p
	}
	p, err := buildPolicy(endpoint, in, cur)
	if err != nil {
		return p, err
	}
	if u.hasLiveTunnel(acct.ID, endpoint) {
		if _, err := u.s.st.ReserveName(ctx, acct.ID, endpoint, u.s.cfg.Quarantine); err != nil {
			return p, u.nameErr(err, endpoint)
		}
	}
	saved, err := u.s.st.PutPolicy(ctx, acct.ID, p)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return p, &userErr{http.StatusConflict, "name_not_reserved",
			fmt.Sprintf("reserve %q first (or start a tunnel with that name): a policy needs a name the account holds", endpoint)}
	case errors.Is(err, store.ErrForbidden):
		return p, notFound("endpoint")
	}
	return saved, asUserErr(err, "policy")
}

func (u *web) nameErr(err error, name string) error {
	if errors.Is(err, store.ErrNameTaken) {
		return &userErr{http.StatusConflict, "name_taken",
			fmt.Sprintf("%q is held by another account (or was released less than %v ago): choose another name", name, u.s.cfg.Quarantine)}
	}
	return asUserErr(err, "name")
}

// reserveName reserves a subdomain for the account.
func (u *web) reserveName(ctx context.Context, acct store.Account, name string) (store.ReservedName, error) {
	name, err := normEndpoint(name)
	if err != nil {
		return store.ReservedName{}, err
	}
	rn, err := u.s.st.ReserveName(ctx, acct.ID, name, u.s.cfg.Quarantine)
	return rn, u.nameErr(err, name)
}

// releaseName gives a held name up; a released name is not found.
func (u *web) releaseName(ctx context.Context, acct store.Account, name string) error {
	name, err := normEndpoint(name)
	if err != nil {
		return err
	}
	names, err := u.s.st.ReservedNames(ctx, acct.ID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(names, func(n store.ReservedName) bool { return n.Name == name && n.Released == nil }) {
		return notFound("reserved name")
	}
	return asUserErr(u.s.st.ReleaseName(ctx, acct.ID, name), "reserved name")
}

func checkTokenName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case utf8.RuneCountInString(name) > maxTokenName:
		return "", badInput("invalid_name", "a name is at most %d characters", maxTokenName)
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", badInput("invalid_name", "a name cannot contain control characters")
	}
	return name, nil
}

// createAPIKey mints an API key; its text is returned once.
func (u *web) createAPIKey(ctx context.Context, acct store.Account, name string) (string, store.APIKey, error) {
	name, err := checkTokenName(name)
	if err != nil {
		return "", store.APIKey{}, err
	}
	if name == "" {
		name = "API key"
	}
	text, hash := newAPIKeySecret()
	k, err := u.s.st.CreateAPIKey(ctx, store.APIKey{AccountID: acct.ID, Name: name, Hash: hash})
	return text, k, err
}

// createAuthtoken mints an agent authtoken; its text is returned once.
func (u *web) createAuthtoken(ctx context.Context, acct store.Account, name string) (string, store.Authtoken, error) {
	name, err := checkTokenName(name)
	if err != nil {
		return "", store.Authtoken{}, err
	}
	tok, rec, err := u.s.CreateAuthtoken(ctx, acct, name)
	return tok, rec, asUserErr(err, "authtoken")
}

// revokeAuthtoken revokes one of the account's tokens: edges cut its
// agents within a sync interval.
func (u *web) revokeAuthtoken(ctx context.Context, acct store.Account, id string) error {
	return asUserErr(u.s.st.RevokeAuthtoken(ctx, acct.ID, id), "authtoken")
}

func (u *web) revokeAPIKey(ctx context.Context, acct store.Account, id string) error {
	return asUserErr(u.s.st.RevokeAPIKey(ctx, acct.ID, id), "API key")
}

// endpointNames lists what an account may set policies for: the names it
// holds and those of its live tunnels, sorted.
func (u *web) endpointNames(ctx context.Context, acct string) ([]string, []store.ReservedName, error) {
	names, err := u.s.st.ReservedNames(ctx, acct)
	if err != nil {
		return nil, nil, err
	}
	var out []string
	for _, n := range names {
		if n.Released == nil {
			out = append(out, n.Name)
		}
	}
	for _, t := range u.s.live.tunnels(acct, u.s.cfg.now()) {
		if t.Kind != "tcp" && validName(t.Name) && !slices.Contains(out, t.Name) {
			out = append(out, t.Name)
		}
	}
	slices.Sort(out)
	return out, names, nil
}

package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wsgrok/wsgrok/control/api"
	"github.com/wsgrok/wsgrok/control/store"
)

// The user API under /api/v1/: everything the dashboard does, as JSON.
// Callers authenticate with an API key (Authorization: Bearer wsgk_...)
// or with a dashboard session, which must then send its CSRF token in
// X-CSRF-Token on every write. Errors are
// {"error":{"code":"...","message":"..."}} with a stable code.

const maxAPIBody = 256 << 10

type apiHandler func(w http.ResponseWriter, r *http.Request, p *principal) error

func (u *web) apiRoutes(mux *http.ServeMux) {
	h := func(pattern string, f apiHandler) { mux.HandleFunc(pattern, u.api(f)) }
	h("GET /api/v1/account", u.apiAccount)
	h("GET /api/v1/tokens", u.apiTokens)
	h("POST /api/v1/tokens", u.apiTokenCreate)
	h("DELETE /api/v1/tokens/{id}", u.apiTokenRevoke)
	h("GET /api/v1/api-keys", u.apiKeys)
	h("POST /api/v1/api-keys", u.apiKeyCreateJSON)
	h("DELETE /api/v1/api-keys/{id}", u.apiKeyRevokeJSON)
	h("GET /api/v1/names", u.apiNames)
	h("POST /api/v1/names", u.apiNameReserve)
	h("DELETE /api/v1/names/{name}", u.apiNameRelease)
	h("GET /api/v1/policies", u.apiPolicies)
	h("GET /api/v1/policies/{endpoint}", u.apiPolicy)
	h("PUT /api/v1/policies/{endpoint}", u.apiPolicyPut)
	h("DELETE /api/v1/policies/{endpoint}", u.apiPolicyDelete)
	h("GET /api/v1/tunnels", u.apiTunnels)
	h("GET /api/v1/requests", u.apiRequests)
	h("GET /api/v1/usage", u.apiUsage)
	mux.HandleFunc("GET /api/v1/{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"auth": "Authorization: Bearer wsgk_... (an API key from the dashboard's Tokens page)",
			"endpoints": apiIndex})
	})
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "no_such_endpoint",
			fmt.Sprintf("%s %s is not part of the API: see /api/v1/ paths tokens, api-keys, names, policies, tunnels, requests, usage", r.Method, r.URL.Path))
	})
}

// apiIndex is what GET /api/v1/ lists.
var apiIndex = []string{
	"GET /api/v1/account",
	"GET /api/v1/tokens", "POST /api/v1/tokens {name}", "DELETE /api/v1/tokens/{id}",
	"GET /api/v1/api-keys", "POST /api/v1/api-keys {name}", "DELETE /api/v1/api-keys/{id}",
	"GET /api/v1/names", "POST /api/v1/names {name}", "DELETE /api/v1/names/{name}",
	"GET /api/v1/policies", "GET /api/v1/policies/{endpoint}",
	"PUT /api/v1/policies/{endpoint} {allow_cidrs, deny_cidrs, block_paths, basic_auth: [{user, password}], rate_limit}",
	"DELETE /api/v1/policies/{endpoint}",
	"GET /api/v1/tunnels", "GET /api/v1/requests?endpoint=",
	"GET /api/v1/usage?endpoint=&range=1h|6h|24h|7d (or &from=&to=&step=)",
}

// api authenticates, checks CSRF for session writes, and maps errors.
func (u *web) api(f apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var p *principal
		var ok bool
		if auth := r.Header.Get("Authorization"); auth != "" {
			if p, ok = u.apiKeyPrincipal(r.Context(), auth); !ok {
				apiError(w, http.StatusUnauthorized, "invalid_api_key",
					"the API key is wrong or revoked: send Authorization: Bearer wsgk_... with a key from the dashboard's Tokens page")
				return
			}
		} else if p, ok = u.session(w, r); !ok {
			apiError(w, http.StatusUnauthorized, "unauthenticated",
				"send Authorization: Bearer wsgk_... with an API key (create one on the dashboard's Tokens page)")
			return
		} else if r.Method != http.MethodGet && r.Method != http.MethodHead && !equalSecret(p.sess.CSRF, r.Header.Get(csrfHeader)) {
			apiError(w, http.StatusForbidden, "csrf_failed",
				"a dashboard session must send its CSRF token in the "+csrfHeader+" header for writes (or use an API key)")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxAPIBody)
		err := f(w, r, p)
		var ue *userErr
		switch {
		case err == nil:
		case errors.As(err, &ue):
			apiError(w, ue.status, ue.code, ue.msg)
		default:
			internalError(w, u.s.log, err)
		}
	}
}

// decode reads a JSON body into v, refusing unknown fields so that typos
// are not silently ignored.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return &userErr{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is larger than %d bytes", maxAPIBody)}
		case errors.Is(err, io.EOF):
			return badInput("invalid_json", "the body is empty: send a JSON object")
		}
		return badInput("invalid_json", "the body is not the JSON expected: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return badInput("invalid_json", "the body has data after its JSON object")
	}
	return nil
}

type apiAccountJSON struct {
	ID      string    `json:"id"`
	Email   string    `json:"email"`
	Name    string    `json:"name"`
	TOTP    bool      `json:"totp"`
	Created time.Time `json:"created"`
	Via     string    `json:"via"` // "api_key" or "session"
}

func (u *web) apiAccount(w http.ResponseWriter, r *http.Request, p *principal) error {
	via := "session"
	if p.key != nil {
		via = "api_key"
	}
	writeJSON(w, http.StatusOK, apiAccountJSON{p.acct.ID, p.acct.Email, p.acct.Name, p.acct.TOTPSecret != "", p.acct.Created, via})
	return nil
}

type apiTokenJSON struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Fingerprint string     `json:"fingerprint"`
	Created     time.Time  `json:"created"`
	Expires     *time.Time `json:"expires,omitempty"`
	LastUsed    *time.Time `json:"last_used,omitempty"`
	Revoked     *time.Time `json:"revoked,omitempty"`
	Token       string     `json:"token,omitempty"` // only in the answer to its creation
}

func tokenJSON(t store.Authtoken) apiTokenJSON {
	return apiTokenJSON{ID: t.ID, Name: t.Name, Fingerprint: t.Fingerprint, Created: t.Created, Expires: t.Expires, LastUsed: t.LastUsed, Revoked: t.Revoked}
}

func (u *web) apiTokens(w http.ResponseWriter, r *http.Request, p *principal) error {
	ts, err := u.s.st.ListAuthtokens(r.Context(), p.acct.ID)
	if err != nil {
		return err
	}
	out := make([]apiTokenJSON, len(ts))
	for i, t := range ts {
		out[i] = tokenJSON(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

type nameBody struct {
	Name string `json:"name"`
}

func (u *web) apiTokenCreate(w http.ResponseWriter, r *http.Request, p *principal) error {
	var b nameBody
	if err := decode(r, &b); err != nil {
		return err
	}
	tok, rec, err := u.createAuthtoken(r.Context(), p.acct, b.Name)
	if err != nil {
		return err
	}
	out := tokenJSON(rec)
	out.Token = tok
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (u *web) apiTokenRevoke(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := u.revokeAuthtoken(r.Context(), p.acct, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type apiKeyJSON struct {
	ID      string     `json:"id"`
	Name    string     `json:"name"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
	Key     string     `json:"key,omitempty"` // only in the answer to its creation
}

func (u *web) apiKeys(w http.ResponseWriter, r *http.Request, p *principal) error {
	ks, err := u.s.st.ListAPIKeys(r.Context(), p.acct.ID)
	if err != nil {
		return err
	}
	out := make([]apiKeyJSON, len(ks))
	for i, k := range ks {
		out[i] = apiKeyJSON{ID: k.ID, Name: k.Name, Created: k.Created, Revoked: k.Revoked}
	}
	writeJSON(w, http.StatusOK, map[string]any{"api_keys": out})
	return nil
}

func (u *web) apiKeyCreateJSON(w http.ResponseWriter, r *http.Request, p *principal) error {
	var b nameBody
	if err := decode(r, &b); err != nil {
		return err
	}
	text, k, err := u.createAPIKey(r.Context(), p.acct, b.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apiKeyJSON{ID: k.ID, Name: k.Name, Created: k.Created, Key: text})
	return nil
}

func (u *web) apiKeyRevokeJSON(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := u.revokeAPIKey(r.Context(), p.acct, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type apiNameJSON struct {
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	Released *time.Time `json:"released,omitempty"`
}

func (u *web) apiNames(w http.ResponseWriter, r *http.Request, p *principal) error {
	ns, err := u.s.st.ReservedNames(r.Context(), p.acct.ID)
	if err != nil {
		return err
	}
	out := make([]apiNameJSON, len(ns))
	for i, n := range ns {
		out[i] = apiNameJSON{n.Name, n.Created, n.Released}
	}
	writeJSON(w, http.StatusOK, map[string]any{"names": out})
	return nil
}

func (u *web) apiNameReserve(w http.ResponseWriter, r *http.Request, p *principal) error {
	var b nameBody
	if err := decode(r, &b); err != nil {
		return err
	}
	n, err := u.reserveName(r.Context(), p.acct, b.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apiNameJSON{n.Name, n.Created, n.Released})
	return nil
}

func (u *web) apiNameRelease(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := u.releaseName(r.Context(), p.acct, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiPolicyJSON is a policy as GET returns it: basic auth users without
// their hashes, so that it can be PUT back unchanged.
type apiPolicyJSON struct {
	Endpoint   string           `json:"endpoint"`
	AllowCIDRs []string         `json:"allow_cidrs"`
	DenyCIDRs  []string         `json:"deny_cidrs"`
	BlockPaths []string         `json:"block_paths"`
	BasicAuth  []basicAuthInput `json:"basic_auth"`
	RateLimit  int              `json:"rate_limit"`
	Updated    *time.Time       `json:"updated,omitempty"`
}

func policyJSON(p store.Policy) apiPolicyJSON {
	out := apiPolicyJSON{Endpoint: p.Endpoint, AllowCIDRs: nonNil(p.AllowCIDRs), DenyCIDRs: nonNil(p.DenyCIDRs),
		BlockPaths: nonNil(p.BlockPaths), BasicAuth: []basicAuthInput{}, RateLimit: p.RateLimit}
	if !p.Updated.IsZero() {
		t := p.Updated
		out.Updated = &t
	}
	for _, b := range p.BasicAuth {
		out.BasicAuth = append(out.BasicAuth, basicAuthInput{User: b.User})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (u *web) apiPolicies(w http.ResponseWriter, r *http.Request, p *principal) error {
	ps, err := u.s.st.Policies(r.Context(), p.acct.ID)
	if err != nil {
		return err
	}
	out := make([]apiPolicyJSON, len(ps))
	for i, pol := range ps {
		out[i] = policyJSON(pol)
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": out})
	return nil
}

func (u *web) apiPolicy(w http.ResponseWriter, r *http.Request, p *principal) error {
	ep, err := normEndpoint(r.PathValue("endpoint"))
	if err != nil {
		return err
	}
	pol, err := u.s.st.Policy(r.Context(), p.acct.ID, ep)
	if err != nil {
		return asUserErr(err, "policy")
	}
	writeJSON(w, http.StatusOK, policyJSON(pol))
	return nil
}

func (u *web) apiPolicyPut(w http.ResponseWriter, r *http.Request, p *principal) error {
	var in policyInput
	if err := decode(r, &in); err != nil {
		return err
	}
	pol, err := u.savePolicy(r.Context(), p.acct, r.PathValue("endpoint"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, policyJSON(pol))
	return nil
}

func (u *web) apiPolicyDelete(w http.ResponseWriter, r *http.Request, p *principal) error {
	ep, err := normEndpoint(r.PathValue("endpoint"))
	if err != nil {
		return err
	}
	if _, err := u.s.st.Policy(r.Context(), p.acct.ID, ep); err != nil {
		return asUserErr(err, "policy")
	}
	if err := u.s.st.DeletePolicy(r.Context(), p.acct.ID, ep); err != nil {
		return asUserErr(err, "policy")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (u *web) apiTunnels(w http.ResponseWriter, r *http.Request, p *principal) error {
	ts := u.s.live.tunnels(p.acct.ID, u.s.cfg.now())
	if ts == nil {
		ts = []api.Tunnel{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tunnels": ts})
	return nil
}

func (u *web) apiRequests(w http.ResponseWriter, r *http.Request, p *principal) error {
	evs := u.s.live.recent(p.acct.ID)
	if ep := strings.ToLower(r.URL.Query().Get("endpoint")); ep != "" {
		evs = slices.DeleteFunc(evs, func(e api.RequestEvent) bool { return e.Endpoint != ep })
	}
	if evs == nil {
		evs = []api.RequestEvent{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": evs})
	return nil
}

type usageBucketJSON struct {
	Start    time.Time `json:"start"`
	Requests int64     `json:"requests"`
	BytesIn  int64     `json:"bytes_in"`
	BytesOut int64     `json:"bytes_out"`
	Status   [4]int64  `json:"status"` // 1xx-2xx, 3xx, 4xx, 5xx
	Blocked  int64     `json:"blocked"`
}

// apiUsage answers GET /api/v1/usage?endpoint=&range=1h|6h|24h|7d, or
// &from=&to= (RFC 3339) with &step= (a Go duration, at least 1m).
func (u *web) apiUsage(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := r.URL.Query()
	ep := strings.ToLower(strings.TrimSpace(q.Get("endpoint")))
	if ep != "" {
		var err error
		if ep, err = normEndpoint(ep); err != nil {
			return err
		}
	}
	rg := rangeOf(q.Get("range"))
	if k := q.Get("range"); k != "" && k != rg.Key {
		return badInput("invalid_range", "range %q is not one of 1h, 6h, 24h, 7d", k)
	}
	step := rg.Step
	to := u.s.cfg.now().UTC().Truncate(step).Add(step)
	from := to.Add(-rg.Span)
	if q.Get("from") != "" || q.Get("to") != "" || q.Get("step") != "" {
		var err error
		if step = time.Minute; q.Get("step") != "" {
			if step, err = time.ParseDuration(q.Get("step")); err != nil || step < time.Minute || step%time.Minute != 0 {
				return badInput("invalid_step", "step must be a whole number of minutes, like 1m, 5m or 1h")
			}
		}
		if from, err = time.Parse(time.RFC3339, q.Get("from")); err != nil {
			return badInput("invalid_time", "from must be an RFC 3339 time like 2025-01-02T15:04:05Z")
		}
		if to, err = time.Parse(time.RFC3339, q.Get("to")); err != nil {
			return badInput("invalid_time", "to must be an RFC 3339 time like 2025-01-02T15:04:05Z")
		}
		from = from.UTC().Truncate(step)
		if t := to.UTC().Truncate(step); t.Equal(to) {
			to = t
		} else {
			to = t.Add(step)
		}
		if !from.Before(to) || to.Sub(from)/step > 10_000 {
			return badInput("invalid_range", "from must be before to, with at most 10000 steps between them")
		}
	}
	sum, err := u.summarizeRange(r.Context(), p.acct.ID, ep, from, to, step)
	if err != nil {
		return err
	}
	out := struct {
		Endpoint  string             `json:"endpoint"`
		From      time.Time          `json:"from"`
		To        time.Time          `json:"to"`
		Step      string             `json:"step"`
		Requests  int64              `json:"requests"`
		BytesIn   int64              `json:"bytes_in"`
		BytesOut  int64              `json:"bytes_out"`
		Status    [5]int64           `json:"status"`
		Blocked   int64              `json:"blocked"`
		LatencyMS map[string]float64 `json:"latency_ms"`
		Latency   []int64            `json:"latency_buckets"`
		Buckets   []usageBucketJSON  `json:"buckets"`
	}{Endpoint: ep, From: sum.From, To: sum.To, Step: step.String(), Requests: sum.Total.Requests,
		BytesIn: sum.Total.BytesIn, BytesOut: sum.Total.BytesOut, Blocked: sum.Total.Blocked,
		Status:    [5]int64{sum.Total.Status1xx, sum.Total.Status2xx, sum.Total.Status3xx, sum.Total.Status4xx, sum.Total.Status5xx},
		LatencyMS: map[string]float64{"p50": ms(sum.P50), "p90": ms(sum.P90), "p99": ms(sum.P99)},
		Latency:   sum.Total.LatencyBuckets, Buckets: []usageBucketJSON{}}
	for _, b := range sum.Buckets {
		if b.Requests == 0 && b.BytesIn == 0 && b.BytesOut == 0 {
			continue
		}
		out.Buckets = append(out.Buckets, usageBucketJSON{b.Start, b.Requests, b.BytesIn, b.BytesOut,
			[4]int64{b.S2xx, b.S3xx, b.S4xx, b.S5xx}, b.Blocked})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

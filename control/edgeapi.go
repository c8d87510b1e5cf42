package control

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/wsgrok/wsgrok/control/api"
	"github.com/wsgrok/wsgrok/control/store"
)

// maxReport bounds an edge report's body.
const maxReport = 8 << 20

// edgeAuth admits requests that carry the edge secret, compared in
// constant time.
func (s *Service) edgeAuth(next http.HandlerFunc) http.HandlerFunc {
	want := []byte("Bearer " + s.cfg.EdgeSecret)
	return func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			apiError(w, http.StatusUnauthorized, "edge_unauthorized", "wrong or missing edge secret: give the edge --edge-secret from the control service's data directory")
			return
		}
		next(w, r)
	}
}

// handleSync answers an edge's poll with what changed after ?since.
func (s *Service) handleSync(w http.ResponseWriter, r *http.Request) {
	since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
	ctx := r.Context()
	out := api.Sync{Revision: since, Full: since == 0, Keys: s.keys.published()}
	revs, err := s.st.RevokedTokenIDs(ctx, since)
	if err != nil {
		internalError(w, s.log, err)
		return
	}
	now := s.cfg.now()
	for _, rv := range revs {
		out.Revision = max(out.Revision, rv.Revision)
		if rv.Expires != nil && now.After(*rv.Expires) {
			continue // an expired token fails verification anyway
		}
		out.Revoked = append(out.Revoked, rv.TokenID)
	}
	pols, err := s.st.PoliciesSince(ctx, since)
	if err != nil {
		internalError(w, s.log, err)
		return
	}
	for _, p := range pols {
		out.Revision = max(out.Revision, p.Revision)
		out.Policies = append(out.Policies, toAPIPolicy(p))
	}
	names, err := s.st.NamesSince(ctx, since)
	if err != nil {
		internalError(w, s.log, err)
		return
	}
	for _, n := range names {
		out.Revision = max(out.Revision, n.Revision)
		out.Names = append(out.Names, api.Name{Name: n.Name, Account: n.AccountID, Released: n.Released})
	}
	writeJSON(w, http.StatusOK, out)
}

func toAPIPolicy(p store.Policy) api.Policy {
	out := api.Policy{Endpoint: p.Endpoint, Account: p.AccountID, AllowCIDRs: p.AllowCIDRs, DenyCIDRs: p.DenyCIDRs,
		BlockPaths: p.BlockPaths, RateLimit: p.RateLimit, Deleted: p.Deleted}
	for _, u := range p.BasicAuth {
		out.BasicAuth = append(out.BasicAuth, api.BasicAuth{User: u.User, Hash: u.PasswordHash})
	}
	return out
}

// handleReport takes an edge's usage deltas, live tunnels and request
// events.
func (s *Service) handleReport(w http.ResponseWriter, r *http.Request) {
	var rep api.Report
	dec := json.NewDecoder(io.LimitReader(r.Body, maxReport))
	if err := dec.Decode(&rep); err != nil {
		apiError(w, http.StatusBadRequest, "bad_report", "malformed report: "+err.Error())
		return
	}
	if rep.Edge == "" {
		rep.Edge = r.RemoteAddr
	}
	samples := make([]store.UsageSample, 0, len(rep.Usage))
	for _, u := range rep.Usage {
		if u.Account == "" || u.Endpoint == "" {
			continue
		}
		samples = append(samples, store.UsageSample{
			AccountID: u.Account, Endpoint: u.Endpoint, Minute: u.Minute.UTC().Truncate(time.Minute),
			Requests: u.Requests, BytesIn: u.BytesIn, BytesOut: u.BytesOut,
			Status1xx: u.Status[0], Status2xx: u.Status[1], Status3xx: u.Status[2], Status4xx: u.Status[3], Status5xx: u.Status[4],
			Blocked: u.Blocked, LatencyBuckets: u.Latency,
		})
	}
	if len(samples) > 0 {
		if err := s.st.AddUsage(r.Context(), samples...); err != nil {
			// The edge keeps the deltas and sends them again.
			internalError(w, s.log, err)
			return
		}
	}
	s.live.report(rep, s.cfg.now())
	for _, t := range rep.Tunnels {
		for _, a := range t.Agents {
			if a.TokenID != "" {
				s.st.MarkAuthtokenUsed(r.Context(), a.TokenID, s.cfg.now())
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

var errBadInput = errors.New("wsgrok: control: bad input")

// apiError writes a JSON error with a stable code and a message that says
// what to do.
func apiError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func internalError(w http.ResponseWriter, log interface{ Error(string, ...any) }, err error) {
	log.Error("control: internal error", "err", err)
	apiError(w, http.StatusInternalServerError, "internal", "the control service failed; try again, and see its log")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

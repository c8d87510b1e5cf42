package edge

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"sort"
)

// adminHandler serves /metrics (Prometheus text), /healthz, /status
// (the tunnels and agent sessions, as JSON) and /debug/pprof/ on the admin
// listener, which is the operator's (loopback by default).
func (e *Edge) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		e.m.write(w)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if e.httpIn != nil && e.httpIn.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		type tunnel struct {
			Name     string `json:"name"`
			Kind     string `json:"kind"`
			Account  string `json:"account"`
			Sessions int    `json:"sessions"`
		}
		var ts []tunnel
		for _, t := range e.reg.Tunnels() {
			ts = append(ts, tunnel{t.Name, t.Kind.String(), t.Account, t.Sessions()})
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"tunnels": ts, "sessions": e.agents.snapshot()})
	})
	return mux
}

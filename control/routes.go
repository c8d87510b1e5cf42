package control

import (
	"net/http"

	"github.com/wsgrok/wsgrok/control/api"
)

// routes wires the edge API; the dashboard and the user API add theirs.
func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathSync, s.edgeAuth(s.handleSync))
	mux.HandleFunc("POST "+api.PathReport, s.edgeAuth(s.handleReport))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	if s.cfg.ReleasesDir != "" {
		mux.Handle("GET /releases/", s.releasesHandler())
	}
	s.userRoutes(mux)
	return mux
}

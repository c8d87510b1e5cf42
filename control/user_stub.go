package control

import "net/http"

// userRoutes adds the dashboard and the user-facing JSON API.
func (s *Service) userRoutes(mux *http.ServeMux) {}

package control

import (
	"net/http"
	"os"
	"path"
	"strings"
)

// releasesHandler serves the signed release manifests and binaries in
// Config.ReleasesDir under /releases/, for `wsgrok update`. Files only: no
// directory listings, no dot files. The files need no trust in this
// server: agents verify the manifest's signature against the key built
// into them and each binary against the manifest's SHA-256.
func (s *Service) releasesHandler() http.Handler {
	files := http.StripPrefix("/releases/", http.FileServer(http.Dir(s.cfg.ReleasesDir)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := path.Clean("/" + strings.TrimPrefix(r.URL.Path, "/releases/"))
		if strings.HasSuffix(r.URL.Path, "/") || strings.Contains(p, "/.") {
			http.NotFound(w, r)
			return
		}
		if fi, err := os.Stat(s.cfg.ReleasesDir + p); err != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(p, ".json") {
			w.Header().Set("Cache-Control", "no-cache") // a new release must be seen at once
		}
		files.ServeHTTP(w, r)
	})
}

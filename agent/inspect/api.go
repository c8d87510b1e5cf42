package inspect

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

//go:embed ui
var uiFiles embed.FS

// Handler returns the inspector's web page and JSON API:
//
//	GET    /                           the page
//	GET    /api/requests               the list, newest first
//	DELETE /api/requests               clear it (also POST /api/clear)
//	GET    /api/requests/{id}          one exchange in full
//	POST   /api/requests/{id}/replay   send it again, edited by an optional JSON Edit
//	GET    /api/requests/{id}/curl     a curl command for it
//	GET    /api/har                    the whole list as HAR 1.2
//	GET    /api/events                 Server-Sent Events
//
// Unless the inspector serves a non-loopback listener, requests must name
// a loopback host, so that a web page cannot reach it by DNS rebinding;
// requests that change state must come from the inspector's own page or
// from a client that is not a browser.
func (i *Inspector) Handler() http.Handler {
	mux := http.NewServeMux()
	ui, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	index, err := fs.ReadFile(ui, "index.html")
	if err != nil {
		panic(err)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(index)
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(ui)))
	mux.HandleFunc("GET /api/requests", i.serveList)
	mux.HandleFunc("DELETE /api/requests", i.serveClear)
	mux.HandleFunc("POST /api/clear", i.serveClear)
	mux.HandleFunc("GET /api/requests/{id}", i.serveDetail)
	mux.HandleFunc("POST /api/requests/{id}/replay", i.serveReplay)
	mux.HandleFunc("GET /api/requests/{id}/curl", i.serveCurl)
	mux.HandleFunc("GET /api/har", i.serveHAR)
	mux.HandleFunc("GET /api/events", i.serveEvents)
	return i.guard(mux)
}

// guard applies the Host and Origin checks and the security headers.
func (i *Inspector) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		if !i.remote.Load() && !loopbackHost(r.Host) {
			// DNS rebinding: a hostile name that resolves to 127.0.0.1
			// reaches this port with its own name in Host.
			apiError(w, http.StatusMisdirectedRequest, "the inspector answers only to localhost, 127.0.0.1 or [::1]")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameOrigin(r) {
			apiError(w, http.StatusForbidden, "cross-origin request refused")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports a Host header that names this machine.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sameOrigin refuses what a browser sends from another site: a request
// with an Origin other than this host, or marked cross-site.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true // not a browser, or a same-origin GET
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

type apiErr struct {
	Error string `json:"error"`
}

// apiError answers with a JSON error.
func apiError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiErr{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(b)
	w.Write([]byte("\n"))
}

// List is GET /api/requests.
type List struct {
	Requests    []Entry `json:"requests"` // newest first
	MaxRequests int     `json:"max_requests"`
	MaxBody     int     `json:"max_body"`
	Redact      bool    `json:"redact"`
	CanReplay   bool    `json:"can_replay"`
}

// Entries returns the kept exchanges, newest first.
func (i *Inspector) Entries() []Entry {
	all := i.all()
	out := make([]Entry, len(all))
	for k, e := range all {
		out[k] = e.entry()
	}
	return out
}

// Detail returns exchange id in full.
func (i *Inspector) Detail(id uint64) (Detail, bool) {
	e := i.get(id)
	if e == nil {
		return Detail{}, false
	}
	return e.detail(), true
}

func (i *Inspector) serveList(w http.ResponseWriter, r *http.Request) {
	hl := i.hello()
	writeJSON(w, http.StatusOK, List{Requests: i.Entries(), MaxRequests: hl.MaxRequests, MaxBody: hl.MaxBody,
		Redact: hl.Redact, CanReplay: hl.CanReplay})
}

func (i *Inspector) serveClear(w http.ResponseWriter, r *http.Request) {
	i.Clear()
	w.WriteHeader(http.StatusNoContent)
}

func pathID(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		apiError(w, http.StatusBadRequest, "a request id is a number")
		return 0, false
	}
	return id, true
}

func (i *Inspector) serveDetail(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	d, ok := i.Detail(id)
	if !ok {
		apiError(w, http.StatusNotFound, ErrNotFound.Error())
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (i *Inspector) serveCurl(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	s, ok := i.Curl(id)
	if !ok {
		apiError(w, http.StatusNotFound, ErrNotFound.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, s)
}

func (i *Inspector) serveHAR(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="wsgrok-%s.har"`, time.Now().Format("20060102-150405")))
	writeJSON(w, http.StatusOK, i.HAR())
}

// maxEditBytes bounds a replay edit: the body may be JSON-escaped, so up
// to six bytes a byte, plus room for the head.
func (i *Inspector) maxEditBytes() int64 { return 6*int64(i.cfg.MaxBody) + 1<<20 }

func (i *Inspector) serveReplay(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if ct := r.Header.Get("Content-Type"); r.ContentLength != 0 && ct != "" && !strings.HasPrefix(ct, "application/json") {
		apiError(w, http.StatusUnsupportedMediaType, "send the edit as application/json")
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, i.maxEditBytes()))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, "the edit is too large")
		return
	}
	ed, err := ParseEdit(b, max(i.cfg.MaxBody, 1<<20))
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	out, err := i.Replay(ctx, id, ed)
	switch {
	case errors.Is(err, ErrNotFound):
		apiError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrNoAgent):
		apiError(w, http.StatusServiceUnavailable, err.Error())
	case err != nil:
		apiError(w, http.StatusInternalServerError, err.Error())
	case out.Error != "":
		writeJSON(w, http.StatusBadGateway, out)
	default:
		writeJSON(w, http.StatusOK, out)
	}
}

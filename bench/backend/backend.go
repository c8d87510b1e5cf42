// Package backend is the small HTTP application that wsgrok tunnels in two
// roles: the demo app that `make run` starts (a developer opens its URL in
// a browser) and the upstream that the load harness measures, both directly
// and through the tunnel.
//
// Handler serves:
//
//	GET  /                 HTML demo page (inline CSS and script, no external assets)
//	GET  /hello            "hello\n", text/plain (the small-GET benchmark target)
//	GET  /bytes?n=N        N bytes of the pattern (see FillPattern); default 1 MiB, max 10 GiB
//	POST /echo, PUT /echo  the request body streamed back, with its Content-Type,
//	                       its Content-Length when known and every X-Echo-* header
//	POST /sink             reads the body, replies {"bytes":N,"sha256":"<hex>"}
//	GET  /events?n=K&interval=D
//	                       Server-Sent Events "data: tick <i>\n\n", i = 1..K;
//	                       K default 5, max 1000; D default 200ms, max 10s;
//	                       the first event is flushed at once, then one every D
//	GET  /chunked?n=K      K chunks "chunk <i>\n", i = 1..K, flushed one by one
//	                       (no Content-Length); K default 5, max 10000
//	GET  /ws               WebSocket echo, text and binary, frames up to 16 MiB
//	GET  /slow?delay=D     waits D (default 1s, max 60s), then 200 "ok"
//	GET  /status/{code}    that status (200..599), body "status <code>\n"
//	GET  /headers          JSON with the method, Host, URI, protocol, remote
//	                       address and request headers
//
// HEAD is accepted wherever GET is (except /ws) and never produces a body.
// Another method on a known path gets 405 with Allow; an unknown path gets
// 404; a query value that does not parse or is out of range gets 400. Error
// replies are JSON objects with an "error" field. Durations are Go
// durations ("250ms", "2s"); counts and sizes are decimal integers.
package backend

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"
)

// Limits and defaults of the endpoints.
const (
	DefaultBytes = 1 << 20  // /bytes without n
	MaxBytes     = 10 << 30 // largest /bytes?n=

	DefaultEvents   = 5
	MaxEvents       = 1000
	DefaultInterval = 200 * time.Millisecond
	MaxInterval     = 10 * time.Second

	DefaultChunks = 5
	MaxChunks     = 10000

	DefaultDelay = time.Second
	MaxDelay     = 60 * time.Second

	// MaxWSMessage is the largest WebSocket frame /ws accepts; a larger
	// one closes the connection.
	MaxWSMessage = 16 << 20

	// PatternPeriod is the period of the /bytes pattern. It is prime, so a
	// lost, repeated or reordered block of any power-of-two size shows up
	// as a pattern mismatch, not only as a length error.
	PatternPeriod = 251

	copyBufSize = 32 << 10
)

// FillPattern fills p with the /bytes body as it is from offset off on:
// byte i of the body is byte(i % PatternPeriod).
func FillPattern(p []byte, off int64) {
	k := int(off % PatternPeriod)
	for i := range p {
		p[i] = byte(k)
		if k++; k == PatternPeriod {
			k = 0
		}
	}
}

// CheckPattern returns the index in p of the first byte that differs from
// the /bytes body at offset off+index, or -1 if p matches.
func CheckPattern(p []byte, off int64) int {
	k := int(off % PatternPeriod)
	for i, b := range p {
		if b != byte(k) {
			return i
		}
		if k++; k == PatternPeriod {
			k = 0
		}
	}
	return -1
}

// patternBuf holds the pattern from offset 0 for one copy buffer plus a
// period, so that patternBuf[off%PatternPeriod:][:copyBufSize] is the body
// at off. It is shared by every request and never written after init.
var patternBuf = func() []byte {
	b := make([]byte, copyBufSize+PatternPeriod)
	FillPattern(b, 0)
	return b
}()

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, copyBufSize)
	return &b
}}

// Pre-built header values and body of /hello, so that it does not allocate.
var (
	helloBody   = []byte("hello\n")
	helloLength = []string{strconv.Itoa(len(helloBody))}
	textPlain   = []string{"text/plain; charset=utf-8"}
)

// Handler returns the backend's http.Handler. It is stateless and safe for
// concurrent use; every call returns an equivalent handler.
func Handler() http.Handler { return handler{} }

type handler struct{}

func (handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; p {
	case "/hello":
		if allow(w, r, "GET, HEAD") {
			h := w.Header()
			h["Content-Type"] = textPlain
			h["Content-Length"] = helloLength
			w.Write(helloBody)
		}
	case "/":
		if allow(w, r, "GET, HEAD") {
			serveIndex(w, r)
		}
	case "/bytes":
		if allow(w, r, "GET, HEAD") {
			serveBytes(w, r)
		}
	case "/echo":
		if allow(w, r, "POST, PUT") {
			serveEcho(w, r)
		}
	case "/sink":
		if allow(w, r, "POST") {
			serveSink(w, r)
		}
	case "/events":
		if allow(w, r, "GET, HEAD") {
			serveEvents(w, r)
		}
	case "/chunked":
		if allow(w, r, "GET, HEAD") {
			serveChunked(w, r)
		}
	case "/ws":
		if allow(w, r, "GET") {
			serveWS(w, r)
		}
	case "/slow":
		if allow(w, r, "GET, HEAD") {
			serveSlow(w, r)
		}
	case "/headers":
		if allow(w, r, "GET, HEAD") {
			serveHeaders(w, r)
		}
	default:
		if code, ok := strings.CutPrefix(p, "/status/"); ok && !strings.Contains(code, "/") {
			if allow(w, r, "GET, HEAD") {
				serveStatus(w, code)
			}
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found", "path": p})
	}
}

// allow reports whether r's method is in methods (a ", "-separated list as
// in the Allow header); if not, it answers 405.
func allow(w http.ResponseWriter, r *http.Request, methods string) bool {
	m := r.Method
	for rest := methods; rest != ""; {
		var one string
		one, rest, _ = strings.Cut(rest, ", ")
		if m == one {
			return true
		}
	}
	w.Header().Set("Allow", methods)
	writeJSON(w, http.StatusMethodNotAllowed, map[string]string{
		"error": "method not allowed", "method": m, "allow": methods,
	})
	return false
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(b)
}

func badRequest(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
}

// intParam parses the query value name as a decimal integer in [lo, hi],
// def when absent or empty.
func intParam(q url.Values, name string, def, lo, hi int64) (int64, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be an integer from %d to %d, got %q", name, lo, hi, s)
	}
	return n, nil
}

// durParam parses the query value name as a Go duration in [0, hi], def
// when absent or empty.
func durParam(q url.Values, name string, def, hi time.Duration) (time.Duration, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > hi {
		return 0, fmt.Errorf("%s must be a duration from 0s to %v (like 250ms), got %q", name, hi, s)
	}
	return d, nil
}

func serveBytes(w http.ResponseWriter, r *http.Request) {
	n, err := intParam(r.URL.Query(), "n", DefaultBytes, 0, MaxBytes)
	if err != nil {
		badRequest(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	if r.Method == http.MethodHead {
		return
	}
	for off := int64(0); off < n; {
		k := min(int64(copyBufSize), n-off)
		start := off % PatternPeriod
		if _, err := w.Write(patternBuf[start : start+k]); err != nil {
			return // the client went away
		}
		off += k
	}
}

// onlyReader and flushWriter hide every method but Read and Write, so that
// io.CopyBuffer uses the buffer it is given.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// flushWriter flushes after every write, so that /echo answers each piece
// of the body as it arrives instead of when a buffer fills.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}

func serveEcho(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// HTTP/1.x: keep the request body readable while the response is
	// written. HTTP/2 is always full duplex and may report ErrNotSupported.
	_ = rc.EnableFullDuplex()
	h := w.Header()
	if ct, ok := r.Header["Content-Type"]; ok {
		h["Content-Type"] = ct
	} else {
		h["Content-Type"] = nil // echo exactly: no sniffed Content-Type
	}
	for k, v := range r.Header {
		if strings.HasPrefix(k, "X-Echo-") {
			h[k] = v
		}
	}
	// The body is the client's: never let a browser run it as this origin.
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.ContentLength >= 0 {
		h.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	w.WriteHeader(http.StatusOK)
	if r.ContentLength == 0 {
		return
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	io.CopyBuffer(flushWriter{w, rc}, onlyReader{r.Body}, *bp)
}

func serveSink(w http.ResponseWriter, r *http.Request) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	sum := sha256.New()
	n, err := io.CopyBuffer(sum, onlyReader{r.Body}, *bp)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error": "reading body: " + err.Error(), "bytes": n,
		})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Bytes  int64  `json:"bytes"`
		SHA256 string `json:"sha256"`
	}{n, hex.EncodeToString(sum.Sum(nil))})
}

func serveEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := intParam(q, "n", DefaultEvents, 0, MaxEvents)
	if err != nil {
		badRequest(w, err)
		return
	}
	interval, err := durParam(q, "interval", DefaultInterval, MaxInterval)
	if err != nil {
		badRequest(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)
	if n == 0 {
		rc.Flush()
		return
	}
	var timer *time.Timer
	buf := make([]byte, 0, 32)
	for i := int64(1); i <= n; i++ {
		if i > 1 && interval > 0 {
			if timer == nil {
				timer = time.NewTimer(interval)
				defer timer.Stop()
			} else {
				timer.Reset(interval)
			}
			select {
			case <-timer.C:
			case <-r.Context().Done():
				return
			}
		}
		buf = append(strconv.AppendInt(append(buf[:0], "data: tick "...), i, 10), "\n\n"...)
		if _, err := w.Write(buf); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func serveChunked(w http.ResponseWriter, r *http.Request) {
	n, err := intParam(r.URL.Query(), "n", DefaultChunks, 0, MaxChunks)
	if err != nil {
		badRequest(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)
	if n == 0 {
		rc.Flush() // headers without Content-Length, so an empty chunked body
		return
	}
	buf := make([]byte, 0, 32)
	for i := int64(1); i <= n; i++ {
		buf = append(strconv.AppendInt(append(buf[:0], "chunk "...), i, 10), '\n')
		if _, err := w.Write(buf); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// wsMsg carries one WebSocket frame's payload and type through wsCodec, so
// that text is echoed as text and binary as binary.
type wsMsg struct {
	data []byte
	typ  byte
}

var wsCodec = websocket.Codec{
	Marshal: func(v any) ([]byte, byte, error) {
		m := v.(*wsMsg)
		return m.data, m.typ, nil
	},
	Unmarshal: func(data []byte, typ byte, v any) error {
		m := v.(*wsMsg)
		m.data, m.typ = data, typ
		return nil
	},
}

// wsServer accepts every Origin (or none): the echo has no state or
// credentials to protect, and non-browser clients send no Origin.
var wsServer = websocket.Server{Handler: wsEcho}

// wsEcho echoes every frame until the peer closes or sends a frame larger
// than MaxWSMessage. x/net/websocket does not expose the FIN bit, so a
// message the client fragments comes back as one message per fragment.
func wsEcho(ws *websocket.Conn) {
	defer ws.Close()
	ws.MaxPayloadBytes = MaxWSMessage
	ws.SetDeadline(time.Time{})
	var m wsMsg
	for {
		if err := wsCodec.Receive(ws, &m); err != nil {
			return
		}
		if err := wsCodec.Send(ws, &m); err != nil {
			return
		}
		m.data = nil
	}
}

func serveWS(w http.ResponseWriter, r *http.Request) {
	// x/net/websocket hijacks the connection, which only HTTP/1.x allows
	// (it panics otherwise): refuse anything that is not an HTTP/1.1
	// WebSocket upgrade here, with a clear error.
	if r.ProtoMajor != 1 || !headerHasToken(r.Header, "Connection", "upgrade") ||
		!headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Upgrade", "websocket")
		writeJSON(w, http.StatusUpgradeRequired, map[string]string{
			"error": "this is a WebSocket echo endpoint: connect with an HTTP/1.1 WebSocket client",
		})
		return
	}
	if _, ok := w.(http.Hijacker); !ok {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "connection cannot be hijacked"})
		return
	}
	wsServer.ServeHTTP(w, r)
}

// headerHasToken reports whether the comma-separated header name contains
// token, compared case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[name] {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func serveSlow(w http.ResponseWriter, r *http.Request) {
	d, err := durParam(r.URL.Query(), "delay", DefaultDelay, MaxDelay)
	if err != nil {
		badRequest(w, err)
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return // the client gave up; nobody reads the answer
	}
	h := w.Header()
	h["Content-Type"] = textPlain
	h.Set("Content-Length", "2")
	io.WriteString(w, "ok")
}

func serveStatus(w http.ResponseWriter, s string) {
	code, err := strconv.Atoi(s)
	if err != nil || code < 200 || code > 599 {
		badRequest(w, fmt.Errorf("status code must be an integer from 200 to 599, got %q", s))
		return
	}
	if code == http.StatusNoContent || code == http.StatusNotModified {
		w.WriteHeader(code) // no body allowed
		return
	}
	body := "status " + s + "\n"
	h := w.Header()
	h["Content-Type"] = textPlain
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	io.WriteString(w, body)
}

func serveHeaders(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, HeadersReply{
		Method:     r.Method,
		Host:       r.Host,
		URI:        r.RequestURI,
		Proto:      r.Proto,
		RemoteAddr: r.RemoteAddr,
		Headers:    r.Header,
	})
}

// HeadersReply is the JSON body of /headers. Headers has canonical keys;
// Go's server moves Host out of them into Host.
type HeadersReply struct {
	Method     string      `json:"method"`
	Host       string      `json:"host"`
	URI        string      `json:"uri"`
	Proto      string      `json:"proto"`
	RemoteAddr string      `json:"remote_addr"`
	Headers    http.Header `json:"headers"`
}

type indexData struct {
	Host, Request, RemoteAddr string
	XFF, XFProto, XFHost      string
	Time                      string
}

func serveIndex(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	err := indexTmpl.Execute(&b, indexData{
		Host:       r.Host,
		Request:    r.Method + " " + r.RequestURI + " " + r.Proto,
		RemoteAddr: r.RemoteAddr,
		XFF:        strings.Join(r.Header.Values("X-Forwarded-For"), ", "),
		XFProto:    strings.Join(r.Header.Values("X-Forwarded-Proto"), ", "),
		XFHost:     strings.Join(r.Header.Values("X-Forwarded-Host"), ", "),
		Time:       time.Now().Format("2006-01-02 15:04:05.000 MST"),
	})
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(b.Bytes())
}

var indexTmpl = template.Must(template.New("index").Parse(indexHTML))

const indexHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsgrok demo</title>
<style>
:root{color-scheme:light dark;--bg:#f5f6fa;--fg:#1c2230;--card:#fff;--muted:#6a7284;--accent:#3767e8;--ok:#16a34a;--line:#e2e5ee}
@media (prefers-color-scheme:dark){:root{--bg:#11141a;--fg:#e6e9f1;--card:#1a1f28;--muted:#8c94a7;--accent:#7ea4ff;--ok:#4ade80;--line:#2a303b}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:760px;margin:0 auto;padding:32px 20px 48px}
h1{margin:0;font-size:30px;letter-spacing:-.01em}
.ok{margin:6px 0 0;color:var(--ok);font-weight:600}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px 20px;margin:16px 0}
h2{margin:0 0 10px;font-size:13px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted)}
table{border-collapse:collapse;width:100%}
th{width:1%;padding:3px 16px 3px 0;text-align:left;font-weight:500;color:var(--muted);white-space:nowrap;vertical-align:top}
td{padding:3px 0;word-break:break-all}
code,pre,textarea{font:14px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.muted{color:var(--muted)}
a{color:var(--accent);text-decoration:none}
a:hover{text-decoration:underline}
ul{margin:0;padding-left:20px}
li{margin:2px 0}
textarea{width:100%;min-height:64px;padding:8px;border:1px solid var(--line);border-radius:8px;background:var(--bg);color:var(--fg)}
button{margin-top:8px;padding:6px 14px;border:0;border-radius:8px;background:var(--accent);color:#fff;font:inherit;cursor:pointer}
pre{margin:10px 0 0;padding:8px 10px;border-radius:8px;background:var(--bg);white-space:pre-wrap;word-break:break-all}
#ticks{font-weight:600}
</style>
</head>
<body>
<main>
<h1>wsgrok demo</h1>
<p class="ok">&#10003; The tunnel works: this page came from the demo backend through wsgrok.</p>

<div class="card">
<h2>Your request</h2>
<table>
<tr><th>Host</th><td><code>{{.Host}}</code></td></tr>
<tr><th>X-Forwarded-For</th><td>{{with .XFF}}<code>{{.}}</code>{{else}}<span class="muted">not set</span>{{end}}</td></tr>
<tr><th>X-Forwarded-Proto</th><td>{{with .XFProto}}<code>{{.}}</code>{{else}}<span class="muted">not set</span>{{end}}</td></tr>
<tr><th>X-Forwarded-Host</th><td>{{with .XFHost}}<code>{{.}}</code>{{else}}<span class="muted">not set</span>{{end}}</td></tr>
<tr><th>Request</th><td><code>{{.Request}}</code></td></tr>
<tr><th>From</th><td><code>{{.RemoteAddr}}</code> <span class="muted">(the backend's peer)</span></td></tr>
<tr><th>Server time</th><td>{{.Time}}</td></tr>
</table>
</div>

<div class="card">
<h2>Live</h2>
<p style="margin:0">Server-Sent Events from <code>/events</code>: <span id="ticks" class="muted">connecting&hellip;</span></p>
<button id="ws-btn" type="button">WebSocket echo via /ws</button> <span id="ws-out" class="muted"></span>
</div>

<div class="card">
<h2>Echo</h2>
<form id="echo" method="post" action="/echo" enctype="text/plain">
<textarea name="message" aria-label="message">hello through the tunnel</textarea>
<button type="submit">POST /echo</button>
</form>
<pre id="echo-out" hidden></pre>
</div>

<div class="card">
<h2>Endpoints</h2>
<ul>
<li><a href="/hello">/hello</a> &mdash; a tiny text reply</li>
<li><a href="/bytes?n=1048576">/bytes?n=1048576</a> &mdash; N bytes of a test pattern</li>
<li><a href="/events?n=5&amp;interval=500ms">/events?n=5&amp;interval=500ms</a> &mdash; Server-Sent Events</li>
<li><a href="/chunked?n=5">/chunked?n=5</a> &mdash; a chunked response</li>
<li><a href="/slow?delay=2s">/slow?delay=2s</a> &mdash; answers after a delay</li>
<li><a href="/status/418">/status/418</a> &mdash; any status code</li>
<li><a href="/headers">/headers</a> &mdash; the request headers as JSON</li>
<li><code>POST /echo</code>, <code>POST /sink</code>, <code>GET /ws</code> &mdash; echo, checksum, WebSocket echo</li>
</ul>
</div>
</main>
<script>
(() => {
  const ticks = document.getElementById("ticks"), total = 30;
  let got = 0;
  if (window.EventSource) {
    const es = new EventSource("/events?n=" + total + "&interval=1s");
    es.onmessage = (e) => {
      got++;
      ticks.className = "";
      ticks.textContent = e.data + " (" + got + "/" + total + ")";
      if (got >= total) { es.close(); ticks.textContent += ", done: reload for more"; }
    };
    es.onerror = () => {
      es.close();
      if (got < total) { ticks.className = "muted"; ticks.textContent = "stream closed after " + got + " events"; }
    };
  } else {
    ticks.textContent = "EventSource is not supported here";
  }

  const wsOut = document.getElementById("ws-out");
  document.getElementById("ws-btn").onclick = () => {
    const t0 = performance.now(), msg = "ping " + new Date().toISOString();
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    wsOut.textContent = "connecting\u2026";
    ws.onopen = () => ws.send(msg);
    ws.onmessage = (e) => {
      wsOut.textContent = (e.data === msg ? "echoed" : "unexpected reply") + " in " + Math.round(performance.now() - t0) + " ms";
      ws.close();
    };
    ws.onerror = () => { wsOut.textContent = "WebSocket failed"; };
  };

  const form = document.getElementById("echo"), out = document.getElementById("echo-out");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.hidden = false;
    try {
      const r = await fetch("/echo", {method: "POST", headers: {"Content-Type": "text/plain; charset=utf-8", "X-Echo-Demo": "1"}, body: form.message.value});
      out.textContent = r.status + " " + r.statusText + "\n" + await r.text();
    } catch (e) {
      out.textContent = "error: " + e;
    }
  });
})();
</script>
</body>
</html>
`

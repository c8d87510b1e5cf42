package edge

import (
	"fmt"
	"html"
	"net/http"
	"strconv"
)

// errKind is a failure a public client sees, with a stable code that
// support threads and scripts can match.
type errKind struct {
	Status int
	Code   string
	Title  string
	Hint   string
}

var (
	errNoTunnel       = errKind{http.StatusNotFound, "WSG_TUNNEL_NOT_FOUND", "Tunnel not found", "No tunnel is running on this address. If it is yours, start the agent: wsgrok http <port>."}
	errAgentOffline   = errKind{http.StatusBadGateway, "WSG_AGENT_OFFLINE", "Agent offline", "The agent serving this tunnel is not connected. It may be reconnecting: try again in a few seconds."}
	errUpstreamRefuse = errKind{http.StatusBadGateway, "WSG_UPSTREAM_REFUSED", "Local service refused the connection", "The agent is connected but nothing answers on the local port. Start the local service, or check the port given to wsgrok."}
	errUpstreamTime   = errKind{http.StatusGatewayTimeout, "WSG_UPSTREAM_TIMEOUT", "Local service timed out", "The local service did not answer in time."}
	errAgentFailed    = errKind{http.StatusBadGateway, "WSG_AGENT_ERROR", "Agent error", "The agent could not complete the request."}
	errBadRequest     = errKind{http.StatusBadRequest, "WSG_BAD_REQUEST", "Bad request", "The request could not be parsed."}
	errHeaderTooLarge = errKind{http.StatusRequestHeaderFieldsTooLarge, "WSG_HEADER_TOO_LARGE", "Request headers too large", "The request's headers exceed this edge's limit."}
	errTunnelBusy     = errKind{http.StatusServiceUnavailable, "WSG_TUNNEL_BUSY", "Tunnel busy", "The tunnel has too many requests in flight: try again shortly."}
	errNotHTTP        = errKind{http.StatusNotFound, "WSG_TUNNEL_NOT_FOUND", "Tunnel not found", "This address serves a TCP tunnel, not HTTP."}
	errVersion        = errKind{http.StatusHTTPVersionNotSupported, "WSG_HTTP_VERSION", "HTTP version not supported", "Use HTTP/1.1 or HTTP/2."}
	errBodyTooLarge   = errKind{http.StatusRequestEntityTooLarge, "WSG_BODY_TOO_LARGE", "Request body too large", "The request body exceeds this edge's limit."}
)

// page renders the error as a small HTML page. host is echoed escaped.
func (k errKind) page(host string) []byte {
	return []byte(fmt.Sprintf(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>%d %s · wsgrok</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:36rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px #0002}
h1{font-size:1.4rem;margin:0 0 .5rem}code{background:#eef0f4;padding:.1rem .35rem;border-radius:4px}
.s{color:#8a93a6;font-size:.9rem}</style></head>
<body><main><p class="s">%d · <code>%s</code></p><h1>%s</h1><p>%s</p><p class="s">%s · served by wsgrok</p></main></body></html>
`, k.Status, html.EscapeString(k.Title), k.Status, k.Code, html.EscapeString(k.Title), html.EscapeString(k.Hint), html.EscapeString(host)))
}

// write sends the page through a ResponseWriter; extra holds header
// name/value pairs (WWW-Authenticate, Retry-After).
func (k errKind) write(w http.ResponseWriter, host string, extra ...string) {
	body := k.page(host)
	h := w.Header()
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Wsgrok-Error", k.Code)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(k.Status)
	w.Write(body)
}

// appendHTTP1 appends a whole HTTP/1.1 response carrying the page.
func (k errKind) appendHTTP1(b []byte, host string, keepAlive bool, extra ...string) []byte {
	body := k.page(host)
	b = fmt.Appendf(b, "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\nX-Wsgrok-Error: %s\r\nCache-Control: no-store\r\n",
		k.Status, http.StatusText(k.Status), len(body), k.Code)
	for i := 0; i+1 < len(extra); i += 2 {
		b = fmt.Appendf(b, "%s: %s\r\n", extra[i], extra[i+1])
	}
	if !keepAlive {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

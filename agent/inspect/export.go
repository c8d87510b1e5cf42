package inspect

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/wsgrok/wsgrok/agent"
)

// skipExport are request headers left out of exports: the edge adds the
// forwarding ones, and the transport sets the framing ones.
var skipExport = map[string]bool{
	"Host": true, "Content-Length": true, "Connection": true, "Transfer-Encoding": true,
	"X-Forwarded-For": true, "X-Forwarded-Proto": true, "X-Forwarded-Host": true,
}

// publicURL is the URL the public client asked for, as well as it can be
// known: the edge says the scheme in X-Forwarded-Proto.
func (e *exchange) publicURL() string {
	scheme := e.reqHeader.Get("X-Forwarded-Proto")
	if scheme != "http" && scheme != "https" {
		scheme = "https"
		if e.replay {
			scheme = "http"
		}
	}
	host := e.host
	if host == "" {
		host = "localhost"
	}
	return scheme + "://" + host + e.path
}

// Curl returns a curl command that sends exchange id's request again.
func (i *Inspector) Curl(id uint64) (string, bool) {
	e := i.get(id)
	if e == nil {
		return "", false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	if e.reqBody.truncated() {
		fmt.Fprintf(&b, "# The body was truncated: %d of %d bytes were captured, and only those are sent.\n", len(e.reqBody.data), e.reqBody.total)
	}
	if i.cfg.Redact {
		b.WriteString("# Credentials were redacted when captured; put the real ones back.\n")
	}
	data := e.reqBody.data
	binary := len(data) > 0 && isBinary(&e.reqBody, e.reqHeader.Get("Content-Type"))
	if binary {
		fmt.Fprintf(&b, "printf %%s %s | base64 -d | ", shellQuote(base64.StdEncoding.EncodeToString(data)))
	}
	b.WriteString("curl")
	if e.method != http.MethodGet || len(data) > 0 {
		b.WriteString(" -X " + shellQuote(e.method))
	}
	b.WriteString(" " + shellQuote(e.publicURL()))
	for _, kv := range pairs(e.reqHeader) {
		if skipExport[http.CanonicalHeaderKey(kv[0])] {
			continue
		}
		b.WriteString(" \\\n  -H " + shellQuote(kv[0]+": "+kv[1]))
	}
	switch {
	case binary:
		b.WriteString(" \\\n  --data-binary @-")
	case len(data) > 0:
		b.WriteString(" \\\n  --data-binary " + shellQuote(string(data)))
	}
	b.WriteString("\n")
	return b.String(), true
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), the parts
// an exchange fills.
type (
	harFile struct {
		Log harLog `json:"log"`
	}
	harLog struct {
		Version string     `json:"version"`
		Creator harCreator `json:"creator"`
		Entries []harEntry `json:"entries"`
	}
	harCreator struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	harEntry struct {
		StartedDateTime string      `json:"startedDateTime"`
		Time            float64     `json:"time"`
		Request         harRequest  `json:"request"`
		Response        harResponse `json:"response"`
		Cache           struct{}    `json:"cache"`
		Timings         harTimings  `json:"timings"`
		Comment         string      `json:"comment,omitempty"`
	}
	harNV struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	harRequest struct {
		Method      string       `json:"method"`
		URL         string       `json:"url"`
		HTTPVersion string       `json:"httpVersion"`
		Cookies     []harNV      `json:"cookies"`
		Headers     []harNV      `json:"headers"`
		QueryString []harNV      `json:"queryString"`
		PostData    *harPostData `json:"postData,omitempty"`
		HeadersSize int          `json:"headersSize"`
		BodySize    int64        `json:"bodySize"`
	}
	harPostData struct {
		MimeType string  `json:"mimeType"`
		Text     string  `json:"text"`
		Params   []harNV `json:"params,omitempty"`
		Encoding string  `json:"_encoding,omitempty"` // "base64" for binary bodies (a HAR extension)
	}
	harResponse struct {
		Status      int        `json:"status"`
		StatusText  string     `json:"statusText"`
		HTTPVersion string     `json:"httpVersion"`
		Cookies     []harNV    `json:"cookies"`
		Headers     []harNV    `json:"headers"`
		Content     harContent `json:"content"`
		RedirectURL string     `json:"redirectURL"`
		HeadersSize int        `json:"headersSize"`
		BodySize    int64      `json:"bodySize"`
	}
	harContent struct {
		Size     int64  `json:"size"`
		MimeType string `json:"mimeType"`
		Text     string `json:"text,omitempty"`
		Encoding string `json:"encoding,omitempty"`
	}
	harTimings struct {
		Blocked float64 `json:"blocked"` // the edge's share
		Send    float64 `json:"send"`
		Wait    float64 `json:"wait"`
		Receive float64 `json:"receive"`
	}
)

// HAR returns the kept exchanges, oldest first, as a HAR 1.2 log.
func (i *Inspector) HAR() any {
	all := i.all()
	f := harFile{Log: harLog{Version: "1.2", Creator: harCreator{Name: "wsgrok inspector", Version: agent.Version}, Entries: []harEntry{}}}
	for k := len(all) - 1; k >= 0; k-- {
		f.Log.Entries = append(f.Log.Entries, all[k].har())
	}
	return f
}

func (e *exchange) har() harEntry {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.timingLocked()
	proto := e.proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	h := harEntry{StartedDateTime: e.origin().UTC().Format("2006-01-02T15:04:05.000Z"), Time: t.TotalMS}
	h.Timings = harTimings{Blocked: t.EdgeMS, Send: t.TunnelMS, Wait: t.LocalMS, Receive: t.TransferMS}
	u := e.publicURL()
	h.Request = harRequest{Method: e.method, URL: u, HTTPVersion: proto, Cookies: []harNV{},
		Headers: harHeaders(e.reqHeader), QueryString: []harNV{}, HeadersSize: -1, BodySize: e.reqBody.total}
	if pu, err := url.Parse(u); err == nil {
		q := pu.Query()
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range q[k] {
				h.Request.QueryString = append(h.Request.QueryString, harNV{k, v})
			}
		}
	}
	for _, c := range (&http.Request{Header: e.reqHeader}).Cookies() {
		h.Request.Cookies = append(h.Request.Cookies, harNV{c.Name, c.Value})
	}
	var notes []string
	if e.reqBody.total > 0 {
		ct := e.reqHeader.Get("Content-Type")
		pd := &harPostData{MimeType: ct}
		if !isBinary(&e.reqBody, ct) {
			pd.Text = string(e.reqBody.data)
			if mt, _, _ := mime.ParseMediaType(ct); mt == "application/x-www-form-urlencoded" {
				for _, kv := range showBody(&e.reqBody, ct).Form {
					pd.Params = append(pd.Params, harNV{kv[0], kv[1]})
				}
			}
		} else {
			pd.Text, pd.Encoding = base64.StdEncoding.EncodeToString(e.reqBody.data), "base64"
		}
		h.Request.PostData = pd
		if e.reqBody.truncated() {
			notes = append(notes, fmt.Sprintf("request body truncated: %d of %d bytes captured", len(e.reqBody.data), e.reqBody.total))
		}
	}
	h.Response = harResponse{Status: e.status, StatusText: http.StatusText(e.status), HTTPVersion: proto, Cookies: []harNV{},
		Headers: harHeaders(e.respHeader), HeadersSize: -1, BodySize: e.respBody.total, RedirectURL: e.respHeader.Get("Location")}
	for _, c := range (&http.Response{Header: e.respHeader}).Cookies() {
		h.Response.Cookies = append(h.Response.Cookies, harNV{c.Name, c.Value})
	}
	h.Response.Content = harContent{Size: e.respBody.total, MimeType: e.respHeader.Get("Content-Type")}
	if len(e.respBody.data) > 0 {
		if !isBinary(&e.respBody, e.respHeader.Get("Content-Type")) {
			h.Response.Content.Text = string(e.respBody.data)
		} else {
			h.Response.Content.Text, h.Response.Content.Encoding = base64.StdEncoding.EncodeToString(e.respBody.data), "base64"
		}
	}
	if e.respBody.truncated() {
		notes = append(notes, fmt.Sprintf("response body truncated: %d of %d bytes captured", len(e.respBody.data), e.respBody.total))
	}
	if e.replay {
		notes = append(notes, "replayed by the wsgrok inspector")
	}
	if e.err != "" {
		notes = append(notes, "error: "+e.err)
	}
	h.Comment = strings.Join(notes, "; ")
	return h
}

// isBinary reports a body that is not text (as the page shows it).
func isBinary(b *body, contentType string) bool {
	return len(b.data) > 0 && showBody(b, contentType).Kind == "binary"
}

func harHeaders(h http.Header) []harNV {
	out := []harNV{}
	for _, kv := range pairs(h) {
		out = append(out, harNV{kv[0], kv[1]})
	}
	return out
}

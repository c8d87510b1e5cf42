package inspect

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Entry is an exchange as the list shows it (GET /api/requests and the
// "request" events).
type Entry struct {
	ID         uint64    `json:"id"`
	Tunnel     string    `json:"tunnel"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Host       string    `json:"host"`
	Status     int       `json:"status"` // 0 until the response head arrives
	State      string    `json:"state"`  // "pending", "streaming", "done", "error"
	Error      string    `json:"error,omitempty"`
	Start      time.Time `json:"start"`
	DurationMS float64   `json:"duration_ms"` // so far, while pending
	ReqSize    int64     `json:"req_size"`    // true body sizes, captured or not
	RespSize   int64     `json:"resp_size"`
	Truncated  bool      `json:"truncated"` // a body was cut at MaxBody
	Replay     bool      `json:"replay"`
	ReplayOf   uint64    `json:"replay_of,omitempty"` // the exchange replayed, when the inspector sent it
	ClientAddr string    `json:"client_addr"`
}

// Detail is one exchange in full (GET /api/requests/{id}).
type Detail struct {
	Entry
	Proto    string  `json:"proto"`
	Request  Message `json:"request"`
	Response Message `json:"response"`
	Timing   Timing  `json:"timing"`
}

// Message is a request or a response: its head and captured body.
type Message struct {
	Header [][2]string `json:"header"` // sorted by name, as pairs
	Body   Body        `json:"body"`
}

// Body is a captured body, ready to show.
type Body struct {
	Size        int64       `json:"size"`     // true size
	Captured    int         `json:"captured"` // bytes kept
	Truncated   bool        `json:"truncated"`
	ContentType string      `json:"content_type,omitempty"`
	Kind        string      `json:"kind"`             // "empty", "json", "form", "text", "binary"
	Text        string      `json:"text,omitempty"`   // json (pretty-printed when whole), form and text bodies
	Form        [][2]string `json:"form,omitempty"`   // form bodies, decoded
	Hex         string      `json:"hex,omitempty"`    // binary bodies: a hex dump of the first bytes
	Base64      string      `json:"base64,omitempty"` // binary bodies: the captured bytes
}

// Timing splits an exchange's time. Edge is from the edge receiving the
// request to it entering the tunnel, Tunnel the time spent crossing it
// both ways (estimated from the session's round trip), Local the local
// service's time to answer, Transfer the response body's streaming back.
type Timing struct {
	TotalMS     float64 `json:"total_ms"`
	EdgeMS      float64 `json:"edge_ms"`
	TunnelMS    float64 `json:"tunnel_ms"`
	LocalMS     float64 `json:"local_ms"`
	TransferMS  float64 `json:"transfer_ms"`
	EdgeKnown   bool    `json:"edge_known"`   // the edge stamped its receive time
	TunnelKnown bool    `json:"tunnel_known"` // the session's round trip was measured
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// entry returns the list view of e.
func (e *exchange) entry() Entry {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.entryLocked()
}

func (e *exchange) entryLocked() Entry {
	en := Entry{
		ID: e.id, Tunnel: e.tunnelName, Method: e.method, Path: e.path, Host: e.host, Status: e.status,
		Start: e.start, ReqSize: e.reqBody.total, RespSize: e.respBody.total,
		Truncated: e.reqBody.truncated() || e.respBody.truncated(),
		Replay:    e.replay, ReplayOf: e.replayOf, ClientAddr: e.clientAddr, Error: e.err,
	}
	switch {
	case e.done && e.err != "":
		en.State = "error"
	case e.done:
		en.State = "done"
	case e.gotResp:
		en.State = "streaming"
	default:
		en.State = "pending"
	}
	end := e.end
	if !e.done {
		end = time.Now()
	}
	en.DurationMS = ms(end.Sub(e.origin()))
	return en
}

// origin is when the exchange began: at the edge when it said so.
func (e *exchange) origin() time.Time {
	if e.edgeKnown() {
		return e.edgeStart
	}
	return e.start
}

// edgeKnown reports a usable edge timestamp: set, and not after the
// agent's own (the two clocks may differ).
func (e *exchange) edgeKnown() bool {
	return !e.edgeStart.IsZero() && !e.edgeStart.After(e.start) && e.start.Sub(e.edgeStart) < time.Minute
}

// detail returns the full view of e.
func (e *exchange) detail() Detail {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := Detail{Entry: e.entryLocked(), Proto: e.proto}
	d.Request = Message{Header: pairs(e.reqHeader), Body: showBody(&e.reqBody, e.reqHeader.Get("Content-Type"))}
	d.Response = Message{Header: pairs(e.respHeader), Body: showBody(&e.respBody, e.respHeader.Get("Content-Type"))}
	d.Timing = e.timingLocked()
	return d
}

func (e *exchange) timingLocked() Timing {
	var t Timing
	end := e.end
	if !e.done {
		end = time.Now()
	}
	t.TotalMS = ms(end.Sub(e.origin()))
	half := e.rtt / 2
	t.TunnelKnown = e.rtt > 0 && !e.replay
	if e.edgeKnown() {
		t.EdgeKnown = true
		in := e.start.Sub(e.edgeStart) // edge work plus the way in
		edge := max(in-half, 0)
		t.EdgeMS = ms(edge)
		t.TunnelMS = ms(in - edge)
	}
	if e.gotResp {
		t.LocalMS = ms(e.upstream)
		if e.done {
			transfer := max(end.Sub(e.start)-e.upstream, 0)
			// The way back is at least half a round trip of the transfer.
			back := min(half, transfer)
			t.TunnelMS += ms(back)
			t.TransferMS = ms(transfer - back)
		}
	}
	return t
}

// pairs flattens a header into sorted name/value pairs.
func pairs(h http.Header) [][2]string {
	out := make([][2]string, 0, len(h))
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, [2]string{k, v})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a][0] < out[b][0] })
	return out
}

// hexPreview is how many bytes of a binary body the hex dump shows.
const hexPreview = 512

// showBody classifies and renders a captured body.
func showBody(b *body, contentType string) Body {
	out := Body{Size: b.total, Captured: len(b.data), Truncated: b.truncated(), ContentType: contentType}
	mt, _, _ := mime.ParseMediaType(contentType)
	data := b.data
	text := trimPartialRune(data) // a cut may end inside a character
	valid := utf8.Valid(text)
	switch {
	case b.total == 0:
		out.Kind = "empty"
	case isJSON(mt) && valid:
		out.Kind = "json"
		out.Text = string(text)
		if !out.Truncated {
			var buf bytes.Buffer
			if json.Indent(&buf, data, "", "  ") == nil {
				out.Text = buf.String()
			}
		}
	case mt == "application/x-www-form-urlencoded" && valid:
		out.Kind = "form"
		out.Text = string(text)
		if vals, err := url.ParseQuery(string(text)); err == nil {
			for _, kv := range strings.Split(string(text), "&") {
				k, _, _ := strings.Cut(kv, "=")
				if uk, err := url.QueryUnescape(k); err == nil {
					if vs, ok := vals[uk]; ok {
						for _, v := range vs {
							out.Form = append(out.Form, [2]string{uk, v})
						}
						delete(vals, uk)
					}
				}
			}
		}
	case valid && isText(mt, text):
		out.Kind = "text"
		out.Text = string(text)
	default:
		out.Kind = "binary"
		out.Hex = hex.Dump(data[:min(len(data), hexPreview)])
		out.Base64 = base64.StdEncoding.EncodeToString(data)
	}
	return out
}

func isJSON(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "text/json"
}

// isText reports whether UTF-8 data is to be shown as text: a textual
// media type, or none and no control characters.
func isText(mt string, data []byte) bool {
	switch {
	case strings.HasPrefix(mt, "text/"), strings.HasSuffix(mt, "+xml"), mt == "application/xml",
		mt == "application/javascript", mt == "application/x-ndjson", mt == "application/graphql":
		return true
	case mt == "" || mt == "application/octet-stream":
		for _, c := range data {
			if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
				return false
			}
		}
		return true
	}
	return false
}

// trimPartialRune drops an incomplete UTF-8 sequence that truncation cut.
func trimPartialRune(b []byte) []byte {
	for k := 1; k <= 3 && k <= len(b); k++ {
		if utf8.RuneStart(b[len(b)-k]) {
			if !utf8.FullRune(b[len(b)-k:]) {
				return b[:len(b)-k]
			}
			break
		}
	}
	return b
}

package wire

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// ErrMalformedHead means a header list breaks the HTTP mapping of spec
// §14.1; the receiver resets the stream with PROTOCOL_ERROR.
var ErrMalformedHead = errors.New("wsgrok: malformed HTTP head")

func malformedHead(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedHead, fmt.Sprintf(format, args...))
}

// RequestHead is an HTTP request head as one HEADERS block carries it.
type RequestHead struct {
	Method    string
	Scheme    string
	Authority string
	Path      string
	Header    []HeaderField // regular fields: lower-case names, in order
}

// ResponseHead is an HTTP response head (final, informational or trailers).
type ResponseHead struct {
	Status int // 0 for a trailer block
	Header []HeaderField
}

// AppendFields appends the request's field list, pseudo-headers first.
func (h *RequestHead) AppendFields(dst []HeaderField) []HeaderField {
	dst = append(dst,
		HeaderField{Name: ":method", Value: h.Method},
		HeaderField{Name: ":scheme", Value: h.Scheme},
		HeaderField{Name: ":authority", Value: h.Authority},
		HeaderField{Name: ":path", Value: h.Path})
	return append(dst, h.Header...)
}

// AppendFields appends the response's field list; a Status of 0 makes a
// trailer block.
func (h *ResponseHead) AppendFields(dst []HeaderField) []HeaderField {
	if h.Status != 0 {
		dst = append(dst, HeaderField{Name: ":status", Value: statusText(h.Status)})
	}
	return append(dst, h.Header...)
}

var statusStrings [600]string

func statusText(code int) string {
	if code >= 100 && code < 600 {
		if s := statusStrings[code]; s != "" {
			return s
		}
	}
	return strconv.Itoa(code)
}

func init() {
	for c := 100; c < 600; c++ {
		statusStrings[c] = strconv.Itoa(c)
	}
}

// Get returns the first value of a regular field (name in lower case).
func Get(fields []HeaderField, name string) string {
	for _, f := range fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// ParseRequestHead validates a decoded request block (spec §14.1): the four
// pseudo-header fields once each and first, valid lower-case names, values
// without CR, LF or NUL, and no connection-specific field except those of a
// protocol switch.
func ParseRequestHead(fields []HeaderField) (RequestHead, error) {
	var h RequestHead
	i := 0
	for ; i < len(fields) && strings.HasPrefix(fields[i].Name, ":"); i++ {
		f := fields[i]
		var dst *string
		switch f.Name {
		case ":method":
			dst = &h.Method
		case ":scheme":
			dst = &h.Scheme
		case ":authority":
			dst = &h.Authority
		case ":path":
			dst = &h.Path
		default:
			return h, malformedHead("unknown pseudo-header %q", f.Name)
		}
		if *dst != "" {
			return h, malformedHead("pseudo-header %s twice", f.Name)
		}
		if f.Value == "" || !httpguts.ValidHeaderFieldValue(f.Value) {
			return h, malformedHead("bad value for %s", f.Name)
		}
		*dst = f.Value
	}
	if h.Method == "" || h.Scheme == "" || h.Path == "" {
		return h, malformedHead("request without :method, :scheme or :path")
	}
	if !validMethod(h.Method) {
		return h, malformedHead("bad method %q", h.Method)
	}
	if h.Path[0] != '/' && !(h.Path == "*" && h.Method == http.MethodOptions) {
		return h, malformedHead("path %q is not in origin form", h.Path)
	}
	var err error
	h.Header, err = checkRegular(fields[i:])
	return h, err
}

// ParseResponseHead validates a decoded response block. trailers selects a
// trailer block, which carries no :status.
func ParseResponseHead(fields []HeaderField, trailers bool) (ResponseHead, error) {
	var h ResponseHead
	i := 0
	if !trailers {
		if len(fields) == 0 || fields[0].Name != ":status" {
			return h, malformedHead("response without :status first")
		}
		v := fields[0].Value
		code, err := strconv.Atoi(v)
		if err != nil || len(v) != 3 || code < 100 || code > 599 {
			return h, malformedHead("bad :status %q", v)
		}
		h.Status = code
		i = 1
	}
	if i < len(fields) && strings.HasPrefix(fields[i].Name, ":") {
		return h, malformedHead("unexpected pseudo-header %q", fields[i].Name)
	}
	var err error
	h.Header, err = checkRegular(fields[i:])
	return h, err
}

func validMethod(m string) bool {
	for i := 0; i < len(m); i++ {
		if !httpguts.IsTokenRune(rune(m[i])) {
			return false
		}
	}
	return m != ""
}

func checkRegular(fields []HeaderField) ([]HeaderField, error) {
	hasUpgrade := false
	for _, f := range fields {
		if f.Name == "upgrade" {
			hasUpgrade = true
		}
	}
	for _, f := range fields {
		if f.Name == "" || strings.HasPrefix(f.Name, ":") {
			return nil, malformedHead("pseudo-header %q after regular fields", f.Name)
		}
		if !httpguts.ValidHeaderFieldName(f.Name) || hasUpper(f.Name) {
			// Response splitting starts with a name or value that carries a
			// line break into an HTTP/1.1 head (CWE-113).
			return nil, malformedHead("bad field name %q", f.Name)
		}
		if !httpguts.ValidHeaderFieldValue(f.Value) {
			return nil, malformedHead("bad value for field %q", f.Name)
		}
		switch f.Name {
		case "connection":
			if !hasUpgrade || !strings.EqualFold(strings.TrimSpace(f.Value), "upgrade") {
				return nil, malformedHead("connection-specific field %q", f.Name)
			}
		case "keep-alive", "proxy-connection", "transfer-encoding":
			return nil, malformedHead("connection-specific field %q", f.Name)
		case "te":
			if !strings.EqualFold(f.Value, "trailers") {
				return nil, malformedHead("te other than trailers")
			}
		}
	}
	return fields, nil
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// hopByHop are the fields RFC 9110 §7.6.1 and spec §14.1 keep off streams.
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true,
	"transfer-encoding": true, "te": true, "upgrade": true, "trailer": true,
	"proxy-authenticate": true, "proxy-authorization": true,
}

// AppendHTTPHeader appends the fields of an http.Header, lower-casing names
// and leaving out hop-by-hop fields and those the Connection field names.
// Protocol switches keep upgrade and connection: upgrade; te: trailers is
// kept.
func AppendHTTPHeader(dst []HeaderField, h http.Header) []HeaderField {
	var named map[string]bool
	upgrade := ""
	for _, v := range h["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			tok = strings.ToLower(strings.TrimSpace(tok))
			if tok == "upgrade" {
				upgrade = h.Get("Upgrade")
			}
			if tok != "" {
				if named == nil {
					named = map[string]bool{}
				}
				named[tok] = true
			}
		}
	}
	for k, vs := range h {
		name := strings.ToLower(k)
		if hopByHop[name] || named[name] {
			if name == "te" {
				if hasToken(vs, "trailers") {
					dst = append(dst, HeaderField{Name: "te", Value: "trailers"})
				}
			}
			continue
		}
		for _, v := range vs {
			dst = append(dst, HeaderField{Name: name, Value: v})
		}
	}
	if upgrade != "" {
		dst = append(dst, HeaderField{Name: "upgrade", Value: upgrade}, HeaderField{Name: "connection", Value: "upgrade"})
	}
	return dst
}

// ToHTTPHeader adds regular fields to h with canonical keys. It is on
// every request's path (the agent builds the local request with it, the
// https ingress the response), so it allocates little: the values of keys
// new to h share one array, as textproto's reader does, and the key of a
// common header is not allocated at all (Header.Add took one allocation
// per value and one or two per lower-case key).
func ToHTTPHeader(h http.Header, fields []HeaderField) {
	n := 0
	for _, f := range fields {
		if !strings.HasPrefix(f.Name, ":") {
			n++
		}
	}
	if n == 0 {
		return
	}
	strs := make([]string, 0, n)
	for _, f := range fields {
		if strings.HasPrefix(f.Name, ":") {
			continue
		}
		k := CanonicalKey(f.Name)
		if vs, ok := h[k]; ok {
			h[k] = append(vs, f.Value) // a repeated key: its own array from here
			continue
		}
		strs = append(strs, f.Value) // never grows: cap is n
		h[k] = strs[len(strs)-1 : len(strs) : len(strs)]
	}
}

// CanonicalKey is textproto.CanonicalMIMEHeaderKey without its
// allocations for the names most requests and responses carry: it
// canonicalizes into a stack buffer and returns the interned string of a
// common header, allocating only for the others. FuzzCanonicalKey holds
// it equal to textproto's.
func CanonicalKey(name string) string {
	var buf [40]byte
	if len(name) > len(buf) {
		return textproto.CanonicalMIMEHeaderKey(name)
	}
	b := buf[:len(name)]
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !httpguts.IsTokenRune(rune(c)) {
			return name // as textproto does: a name that is not a token stays as it is
		}
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	if k, ok := commonKeys[string(b)]; ok { // no allocation: the compiler looks up b itself
		return k
	}
	if string(b) == name {
		return name
	}
	return string(b)
}

// commonKeys interns the canonical names of the headers most exchanges
// carry, the edge's forwarding fields among them.
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Accept-Ranges", "Access-Control-Allow-Origin",
		"Age", "Authorization", "Cache-Control", "Connection", "Content-Disposition", "Content-Encoding",
		"Content-Language", "Content-Length", "Content-Range", "Content-Type", "Cookie", "Date", "Etag",
		"Expect", "Expires", "Forwarded", "Host", "If-Match", "If-Modified-Since", "If-None-Match",
		"Keep-Alive", "Last-Modified", "Link", "Location", "Origin", "Pragma", "Range", "Referer",
		"Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Websocket-Key", "Sec-Websocket-Version",
		"Server", "Set-Cookie", "Strict-Transport-Security", "Te", "Traceparent", "Trailer",
		"Transfer-Encoding", "Upgrade", "Upgrade-Insecure-Requests", "User-Agent", "Vary", "Via",
		"Www-Authenticate", "X-Content-Type-Options", "X-Forwarded-For", "X-Forwarded-Host",
		"X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id", "X-Requested-With",
	} {
		m[k] = k
	}
	return m
}()

// hasToken reports whether a comma-separated list holds tok (any case).
func hasToken(values []string, tok string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}

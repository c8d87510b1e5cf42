package edge

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	"github.com/wsgrok/wsgrok/wire"
)

// Errors of the HTTP/1.1 head parser. Each maps to one response.
var (
	errH1Incomplete = errors.New("wsgrok: http: incomplete request head")
	errH1TooLarge   = errors.New("wsgrok: http: request head too large")
	errH1Bad        = errors.New("wsgrok: http: malformed request")
	// ErrHTTP1Bad is the parser's error for a malformed head.
	ErrHTTP1Bad  = errH1Bad
	errH1Version = errors.New("wsgrok: http: unsupported HTTP version")
)

// maxHeaderFields bounds the number of header lines in one head.
const maxHeaderFields = 128

// HTTP1Request is a parsed HTTP/1.x request head.
type HTTP1Request struct {
	Method        string
	Target        string // origin-form path and query, or "*"
	Authority     string // Host, or the authority of an absolute-form target
	Minor         int    // HTTP/1.minor
	Header        []wire.HeaderField
	ContentLength int64 // -1 when absent
	Chunked       bool  // Transfer-Encoding present (net/http takes it)
	Upgrade       bool
	Expect        bool
	CloseConn     bool
}

// ParseHTTP1Request parses the request head at the start of b (at most
// maxHead octets) into r and returns the head's length. It reuses r's
// header slice.
func ParseHTTP1Request(b []byte, maxHead int, r *HTTP1Request) (int, error) {
	return parseH1Request(b, maxHead, r)
}

// parseH1Request parses the request head at the start of b and returns its
// length. It is strict where leniency lets two parsers disagree about where
// a request ends (request smuggling, CVE-2019-18277 and its family): bare LF
// line endings, whitespace before a colon, obs-fold, duplicate or
// conflicting Content-Length, and two Host fields are all refused.
func parseH1Request(b []byte, maxHead int, r *HTTP1Request) (int, error) {
	*r = HTTP1Request{Header: r.Header[:0], ContentLength: -1}
	start := 0
	for start+1 < len(b) && b[start] == '\r' && b[start+1] == '\n' {
		start += 2 // RFC 9112 §2.2: ignore empty lines before the request line
	}
	end := bytes.Index(b[start:], []byte("\r\n\r\n"))
	// Every line must end in CR LF: a bare LF or CR ends a line for some
	// parsers and not others, which is how requests get smuggled.
	scan := b[start:]
	if end >= 0 {
		scan = scan[:end+4]
	}
	for i, c := range scan {
		switch c {
		case '\n':
			if i == 0 || scan[i-1] != '\r' {
				return 0, errH1Bad
			}
		case '\r':
			if i+1 < len(scan) && scan[i+1] != '\n' {
				return 0, errH1Bad
			}
		}
	}
	if end < 0 {
		if len(b) > maxHead {
			return 0, errH1TooLarge
		}
		return 0, errH1Incomplete
	}
	end += start + 4
	if end > maxHead {
		return 0, errH1TooLarge
	}
	// One string for the whole head: every field is a substring of it.
	head := string(b[start : end-2])
	line, rest, _ := strings.Cut(head, "\r\n")
	if err := r.parseRequestLine(line); err != nil {
		return 0, err
	}
	var hosts int
	var connTokens []string
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\r\n")
		if len(r.Header) >= maxHeaderFields {
			return 0, errH1TooLarge
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return 0, errH1Bad // also obs-fold: a line starting with SP or HTAB
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		if !validToken(name) || !validFieldValue(value) {
			return 0, errH1Bad
		}
		lname := lowerName(name)
		switch lname {
		case "host":
			hosts++
			if hosts > 1 {
				return 0, errH1Bad
			}
			if r.Authority == "" {
				r.Authority = value
			}
			continue
		case "content-length":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 || value[0] == '+' || (r.ContentLength >= 0 && r.ContentLength != n) {
				return 0, errH1Bad
			}
			r.ContentLength = n
		case "transfer-encoding":
			r.Chunked = true
			continue
		case "connection":
			for _, tok := range strings.Split(value, ",") {
				tok = strings.ToLower(strings.TrimSpace(tok))
				switch tok {
				case "close":
					r.CloseConn = true
				case "upgrade":
					r.Upgrade = true
				case "keep-alive":
					if r.Minor == 0 {
						r.CloseConn = false
						connTokens = append(connTokens, "keep-alive-1.0")
					}
				}
				connTokens = append(connTokens, tok)
			}
			continue
		case "expect":
			r.Expect = true
		case "keep-alive", "proxy-connection", "te", "trailer", "proxy-authorization", "proxy-authenticate":
			if lname == "te" && strings.Contains(strings.ToLower(value), "trailers") {
				r.Header = append(r.Header, wire.HeaderField{Name: "te", Value: "trailers"})
			}
			continue
		}
		r.Header = append(r.Header, wire.HeaderField{Name: lname, Value: value})
	}
	if r.Minor == 0 {
		r.CloseConn = true
		for _, t := range connTokens {
			if t == "keep-alive-1.0" {
				r.CloseConn = false
			}
		}
	}
	if r.Authority == "" && r.Minor == 1 {
		return 0, errH1Bad // RFC 9112 §3.2: a 1.1 request without Host
	}
	hasUpgradeField := false
	out := r.Header[:0]
	for _, f := range r.Header {
		if f.Name == "upgrade" {
			hasUpgradeField = true
		}
		if containsToken(connTokens, f.Name) && f.Name != "upgrade" {
			continue // fields the client marked hop-by-hop
		}
		out = append(out, f)
	}
	r.Header = out
	r.Upgrade = r.Upgrade && hasUpgradeField
	if !r.Upgrade {
		out = r.Header[:0]
		for _, f := range r.Header {
			if f.Name != "upgrade" {
				out = append(out, f)
			}
		}
		r.Header = out
	}
	return end, nil
}

func (r *HTTP1Request) parseRequestLine(line string) error {
	method, rest, ok1 := strings.Cut(line, " ")
	target, version, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !validToken(method) || target == "" {
		return errH1Bad
	}
	switch version {
	case "HTTP/1.1":
		r.Minor = 1
	case "HTTP/1.0":
		r.Minor = 0
	default:
		if strings.HasPrefix(version, "HTTP/") && len(version) == 8 {
			return errH1Version
		}
		return errH1Bad
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c >= 0x7f {
			return errH1Bad
		}
	}
	r.Method = method
	switch {
	case target[0] == '/':
		r.Target = target
	case target == "*" && method == "OPTIONS":
		r.Target = target
	case strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://"):
		// Absolute form: its authority replaces Host (RFC 9112 §3.2.2).
		_, after, _ := strings.Cut(target, "://")
		auth, path, _ := strings.Cut(after, "/")
		if auth == "" || strings.ContainsAny(auth, "@?#") {
			return errH1Bad
		}
		r.Authority = auth
		r.Target = "/" + path
	default:
		return errH1Bad // authority form (CONNECT) and anything else
	}
	return nil
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar[s[i]] {
			return false
		}
	}
	return true
}

func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func containsToken(toks []string, name string) bool {
	for _, t := range toks {
		if t == name {
			return true
		}
	}
	return false
}

var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return
}()

// commonNames interns the lower-case forms of frequent field names, so a
// typical request lower-cases its names without allocating.
var commonNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Content-Type",
		"Content-Length", "Connection", "Cookie", "Authorization", "Referer", "Origin", "Cache-Control", "Pragma",
		"Upgrade", "Upgrade-Insecure-Requests", "Transfer-Encoding", "Expect", "If-None-Match", "If-Modified-Since",
		"X-Requested-With", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Sec-Fetch-Site", "Sec-Fetch-Mode",
		"Sec-Fetch-Dest", "Sec-Fetch-User", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Dnt", "Te", "Range",
		"Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol", "Priority"} {
		m[n] = strings.ToLower(n)
		m[strings.ToUpper(n)] = strings.ToLower(n)
	}
	return m
}()

func lowerName(name string) string {
	lower := true
	for i := 0; i < len(name); i++ {
		if 'A' <= name[i] && name[i] <= 'Z' {
			lower = false
			break
		}
	}
	if lower {
		return name
	}
	if l, ok := commonNames[name]; ok {
		return l
	}
	return strings.ToLower(name)
}

// responseNames gives common response field names their usual spelling on
// HTTP/1.1; others go out in lower case, which HTTP/1.1 allows.
var responseNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Date", "Server", "Set-Cookie",
		"Cache-Control", "Etag", "Last-Modified", "Location", "Vary", "Expires", "Access-Control-Allow-Origin",
		"Access-Control-Allow-Headers", "Access-Control-Allow-Methods", "Access-Control-Allow-Credentials",
		"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "Accept-Ranges", "Content-Range",
		"Www-Authenticate", "Retry-After", "Content-Disposition", "Link", "Age", "Allow", "Upgrade",
		"Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions", "Trailer", "Alt-Svc"} {
		m[strings.ToLower(n)] = n
	}
	return m
}()

// appendH1ResponseHead writes a status line and fields for HTTP/1.1. The
// fields were validated by wire.ParseResponseHead, so none can split the
// response.
func appendH1ResponseHead(b []byte, status int, fields []wire.HeaderField, chunked, closeConn bool) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, statusReason(status)...)
	b = append(b, "\r\n"...)
	for _, f := range fields {
		if chunked && f.Name == "content-length" {
			continue
		}
		if n, ok := responseNames[f.Name]; ok {
			b = append(b, n...)
		} else {
			b = append(b, f.Name...)
		}
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	if chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if closeConn {
		b = append(b, "Connection: close\r\n"...)
	}
	return append(b, "\r\n"...)
}

func statusReason(code int) string {
	if s := statusTexts[code]; s != "" {
		return s
	}
	return "Status"
}

var statusTexts = func() (t [600]string) {
	for c := 100; c < 600; c++ {
		t[c] = httpStatusText(c)
	}
	return
}()

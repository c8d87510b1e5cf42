package edge

import (
	"errors"
	"strings"
)

// ErrBadPath means a request path cannot be normalized safely; the request
// is refused with 400.
var ErrBadPath = errors.New("wsgrok: bad request path")

// NormalizedPath is a request target after normalization: Path is what the
// edge forwards (and what the agent sees); Match is what path rules compare
// against. Query is kept as received.
type NormalizedPath struct {
	Path         string // normalized path, ";" parameters kept
	Match        string // lower case, ";" parameters removed from every segment
	Query        string // after '?', without it; "" if none
	EncodedSlash bool   // the path held %2F or %5C, which servers disagree on
}

// RequestURI is the normalized path with its query.
func (n NormalizedPath) RequestURI() string {
	if n.Query == "" {
		return n.Path
	}
	return n.Path + "?" + n.Query
}

// NormalizePath normalizes an origin-form request target (or "*") so that
// every spelling of a path compares equal, and forwards that one spelling.
// The same result decides policy and is forwarded, so a path rule can
// never be bypassed by a spelling the local server reads differently
// (CVE-2021-41773-style dot-segment tricks, "//admin", "%2e%2e",
// "/ADMIN", "/admin;x=y"):
//
//   - percent-encoded unreserved characters are decoded (%41 → A, %2e → .),
//     others are kept, with upper-case hex;
//   - "." and ".." segments are removed (RFC 3986 §5.2.4); a ".." above the
//     root is refused;
//   - runs of "/" collapse to one;
//   - raw backslashes, '#', control characters, NUL (also encoded) and
//     broken percent escapes are refused.
//
// Match additionally lower-cases and drops ";" segment parameters, since
// some servers match paths case-insensitively or strip parameters.
func NormalizePath(target string) (NormalizedPath, error) {
	var n NormalizedPath
	if target == "*" {
		n.Path, n.Match = "*", "*"
		return n, nil
	}
	if strings.IndexByte(target, '#') >= 0 {
		// A fragment never belongs in a request target (RFC 9112 §3.2);
		// some servers cut the path at '#', so "/admin#x" would reach
		// "/admin" past a rule that compared the whole.
		return n, ErrBadPath
	}
	path, query, _ := strings.Cut(target, "?")
	n.Query = query
	if path == "" || path[0] != '/' || len(path) > 8192 {
		return n, ErrBadPath
	}
	if clean, plain := cleanPath(path); clean {
		// Already normal, as nearly every path is: forward it as it came,
		// without the copies the general case makes (issue 4).
		n.Path, n.Match = path, path
		if !plain {
			n.Match = matchKey(path)
		}
		return n, nil
	}
	return normalizeSlow(n, path)
}

// cleanPath reports whether normalizeSlow would return path unchanged:
// printable octets other than '%' and backslash, no empty segment but a last
// one (a trailing slash), no "." or ".." segment. plain adds that path is
// its own match key: no upper case, no ';'. FuzzCleanPath checks both
// against normalizeSlow.
func cleanPath(path string) (clean, plain bool) {
	plain = true
	seg := 1 // start of the current segment
	for i := 1; i <= len(path); i++ {
		if i == len(path) || path[i] == '/' {
			switch path[seg:i] {
			case ".", "..":
				return false, false
			case "":
				if i < len(path) {
					return false, false // "//"
				}
			}
			seg = i + 1
			continue
		}
		switch c := path[i]; {
		case c <= 0x20 || c >= 0x7f || c == '%' || c == '\\':
			return false, false
		case 'A' <= c && c <= 'Z' || c == ';':
			plain = false
		}
	}
	return true, plain
}

// normalizeSlow is NormalizePath for a path that needs work.
func normalizeSlow(n NormalizedPath, path string) (NormalizedPath, error) {
	// Decode unreserved escapes and check every octet.
	var b strings.Builder
	b.Grow(len(path))
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '%':
			if i+2 >= len(path) || unhex(path[i+1]) < 0 || unhex(path[i+2]) < 0 {
				return n, ErrBadPath
			}
			v := byte(unhex(path[i+1])<<4 | unhex(path[i+2]))
			i += 2
			switch {
			case v == 0 || v < 0x20 || v == 0x7f:
				return n, ErrBadPath
			case unreserved(v):
				b.WriteByte(v)
			default:
				if v == '/' || v == '\\' {
					n.EncodedSlash = true
				}
				b.WriteByte('%')
				b.WriteByte(upperHex[v>>4])
				b.WriteByte(upperHex[v&15])
			}
		case c == '\\' || c <= 0x20 || c >= 0x7f:
			return n, ErrBadPath
		default:
			b.WriteByte(c)
		}
	}
	n.Path = "/" + strings.Join(removeDots(strings.Split(b.String()[1:], "/"), false), "/")
	if strings.HasPrefix(n.Path, "/..") && (len(n.Path) == 3 || n.Path[3] == '/') {
		return n, ErrBadPath // above the root
	}
	n.Match = matchKey(n.Path)
	return n, nil
}

// matchKey is the most decoded reading of a path any server might make:
// every escape decoded (so %2F and %5C separate), backslashes as slashes,
// ";" parameters dropped before dot segments are resolved (Tomcat reads
// "/..;/admin" as "/../admin"), lower case. Rules compare against it, so a
// block holds whichever way the local server reads the path.
func matchKey(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '%' && i+2 < len(path) {
			c = byte(unhex(path[i+1])<<4 | unhex(path[i+2]))
			i += 2
		}
		if c == '\\' {
			c = '/'
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	segs := strings.Split(strings.TrimPrefix(b.String(), "/"), "/")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ";")
	}
	return "/" + strings.Join(removeDots(segs, true), "/")
}

// removeDots resolves "." and ".." segments and drops empty ones (a run of
// slashes), keeping one trailing slash (RFC 3986 §5.2.4). A ".." above the
// root stays as a leading ".." so the caller can refuse it, unless clamp
// is set, which drops it as a server would.
func removeDots(segs []string, clamp bool) []string {
	out := make([]string, 0, len(segs))
	above := 0
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case "":
			if last && len(out) > 0 {
				out = append(out, "")
			}
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 && out[len(out)-1] == "" {
				out = out[:len(out)-1]
			}
			if len(out) > 0 {
				out = out[:len(out)-1]
			} else {
				above++
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	if above > 0 && !clamp {
		return append([]string{".."}, out...)
	}
	return out
}

const upperHex = "0123456789ABCDEF"

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// pathBlocked reports whether a normalized match key falls under a block
// rule: the rule's own path or anything below it, on segment boundaries
// ("/admin" blocks "/admin" and "/admin/x", not "/administrator").
func pathBlocked(match string, rules []string) bool {
	for _, r := range rules {
		if r == "/" {
			return true
		}
		if strings.HasPrefix(match, r) && (len(match) == len(r) || match[len(r)] == '/') {
			return true
		}
	}
	return false
}

// normalizeRule turns a configured block path into a match key.
func normalizeRule(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	n, err := NormalizePath(p)
	if err != nil || n.Query != "" {
		return "", errors.New("wsgrok: bad block path " + p)
	}
	return strings.TrimSuffix(n.Match, "/"), nil
}

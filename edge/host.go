package edge

import (
	"errors"
	"strings"

	"github.com/wsgrok/wsgrok/wire"
)

// ErrBadHost means a Host header or :authority cannot name a tunnel.
var ErrBadHost = errors.New("wsgrok: bad host")

// CanonicalHost returns the form of a Host value that routing uses: lower
// case, without port, without trailing dot, and only the characters a DNS
// name may hold. Every spelling of a name maps to one key, so no spelling
// reaches a different tunnel than another (or slips past a policy).
func CanonicalHost(host string) (string, error) {
	if host == "" || len(host) > 255+6 {
		return "", ErrBadHost
	}
	if host[0] == '[' { // an IPv6 literal never names a tunnel
		return "", ErrBadHost
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		port := host[i+1:]
		if len(port) > 5 {
			return "", ErrBadHost
		}
		for j := 0; j < len(port); j++ {
			if port[j] < '0' || port[j] > '9' {
				return "", ErrBadHost
			}
		}
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return "", ErrBadHost
	}
	lower := true
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.':
		case 'A' <= c && c <= 'Z':
			lower = false
		default:
			return "", ErrBadHost
		}
	}
	if strings.Contains(host, "..") || host[0] == '.' {
		return "", ErrBadHost
	}
	if !lower {
		host = strings.ToLower(host)
	}
	return host, nil
}

// ValidName reports whether s may be a tunnel's subdomain label
// (wire.ValidName, spec §11.9).
func ValidName(s string) bool { return wire.ValidName(s) }

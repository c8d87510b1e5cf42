package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/wsgrok/wsgrok/wire"
)

// Checks of single values, shared by the file parser and the command
// line's policy flags. Their messages name the value but never a password.

// MaxRateLimit bounds rate_limit; above it a limit is no limit.
const MaxRateLimit = 1_000_000

// maxValueLen bounds one option value: every option travels in the BIND
// frame, which must fit the peer's smallest frame size (spec §7).
const maxValueLen = 256

// CheckCIDR accepts a network such as 10.0.0.0/8 or 2001:db8::/32, or a
// single address, as the edge does.
func CheckCIDR(s string) error {
	if _, err := netip.ParsePrefix(s); err == nil {
		return nil
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	return fmt.Errorf("%q is not a CIDR network: write it like 10.0.0.0/8 or 2001:db8::/32", s)
}

// CheckPath accepts a path prefix such as /admin.
func CheckPath(s string) error {
	switch {
	case !strings.HasPrefix(s, "/"):
		return fmt.Errorf("%q is not a path: start it with / as in /admin", s)
	case len(s) > maxValueLen:
		return fmt.Errorf("path is %d bytes long: the limit is %d", len(s), maxValueLen)
	case strings.ContainsAny(s, "?#"):
		return fmt.Errorf("%q holds a query or fragment: give only the path prefix", s)
	case hasSpaceOrControl(s):
		return fmt.Errorf("%q holds spaces or control characters: percent-encode them", s)
	}
	return nil
}

// CheckBasicAuth accepts user:password. The password never appears in
// its messages: they end up in terminals and CI logs.
func CheckBasicAuth(s string) error {
	user, pass, ok := strings.Cut(s, ":")
	switch {
	case !ok:
		return errors.New("basic auth credentials have no ':': write them as user:password")
	case user == "":
		return errors.New("basic auth credentials have an empty user name before ':': write them as user:password")
	case pass == "":
		return fmt.Errorf("basic auth credentials for user %q have an empty password: write them as user:password", user)
	case len(s) > maxValueLen:
		return fmt.Errorf("basic auth credentials for user %q are longer than %d bytes", user, maxValueLen)
	case hasControl(s):
		return fmt.Errorf("basic auth credentials for user %q hold control characters: remove them", user)
	}
	return nil
}

// CheckSubdomain applies the edge's rule for a name (spec §11.9), so that
// a bad one is caught here, with its line, rather than at bind time.
func CheckSubdomain(s string) error {
	if validLabel(s) {
		return nil
	}
	switch {
	case strings.Contains(s, "."):
		return fmt.Errorf("%q is not a subdomain: give only the first label (myapp, not myapp.example.com)", s)
	case strings.ToLower(s) != s && validLabel(strings.ToLower(s)):
		return fmt.Errorf("%q is not a valid subdomain: use lower case (%s)", s, strings.ToLower(s))
	}
	return fmt.Errorf("%q is not a valid subdomain: use 1-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen", s)
}

func validLabel(s string) bool { return wire.ValidName(s) }

// CheckRateLimit accepts a number of requests a minute.
func CheckRateLimit(n int) error {
	if n < 1 || n > MaxRateLimit {
		return fmt.Errorf("rate limit %d is out of range: use 1-%d requests a minute, or leave it out for none", n, MaxRateLimit)
	}
	return nil
}

// checkPort accepts a TCP port number in text.
func checkPort(s string) error {
	p, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("port %q is not a number", s)
	}
	if p < 1 || p > 65535 {
		return fmt.Errorf("port %d is out of range: use 1-65535", p)
	}
	return nil
}

// checkHostPort accepts host:port.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("%q is not host:port (such as edge.example.com:4443)", s)
	}
	return checkPort(port)
}

// checkHTTPAddr accepts what `wsgrok http` takes: a port, host:port or an
// http(s) URL.
func checkHTTPAddr(s string) error {
	if _, err := strconv.Atoi(s); err == nil {
		return checkPort(s)
	}
	raw := s
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not a local address: give a port (3000), host:port or an http(s)://host:port URL", s)
	}
	if p := u.Port(); p != "" {
		return checkPort(p)
	}
	return nil
}

// checkTCPAddr accepts what `wsgrok tcp` takes: a port or host:port.
func checkTCPAddr(s string) error {
	if _, err := strconv.Atoi(s); err == nil {
		return checkPort(s)
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not a local address: give a port (22) or host:port", s)
	}
	return checkPort(port)
}

// checkToken accepts anything that could be an authtoken: the edge alone
// knows whether it is valid, but whitespace means a bad copy and paste.
func checkToken(s string) error {
	switch {
	case s == "":
		return errors.New("the authtoken is empty: copy it whole from the dashboard")
	case len(s) > 4096:
		return errors.New("the authtoken is too long to be one: copy it whole from the dashboard")
	case hasSpaceOrControl(s):
		return errors.New("the authtoken holds spaces or line breaks: copy it whole from the dashboard")
	}
	return nil
}

// checkTunnelName keeps names easy to type in `wsgrok start NAME`.
func checkTunnelName(s string) error {
	ok := s != "" && len(s) <= 64
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	if !ok {
		return fmt.Errorf("tunnel name %q: use 1-64 letters, digits, '-', '_' and '.'", s)
	}
	return nil
}

func hasSpaceOrControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f })
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}

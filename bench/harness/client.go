package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// ClientOptions say how to reach the target: which address to dial, what
// to trust, which HTTP version to speak.
type ClientOptions struct {
	H2        bool   // HTTP/2: over TLS for https://, prior-knowledge h2c for http://
	CAFile    string // extra CA (PEM) to trust, e.g. the edge's development CA
	Insecure  bool   // skip certificate verification
	ConnectTo string // dial this host:port whatever the URL's host is
}

// dialAddr is the address to dial for addr (host:port from a URL). Names
// under .localhost resolve to loopback by RFC 6761, but Go's resolver asks
// the system resolver, which may not know that, so they are mapped here.
func (o ClientOptions) dialAddr(addr string) string {
	if o.ConnectTo != "" {
		return o.ConnectTo
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

func (o ClientOptions) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return d.DialContext(ctx, network, o.dialAddr(addr))
}

// tlsConfig trusts the system roots plus CAFile.
func (o ClientOptions) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{InsecureSkipVerify: o.Insecure}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", o.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// newTransport returns a transport that keeps exactly one connection to the
// target: a run gives each of its connections its own transport, so that
// "c connections" holds for HTTP/2 too (one shared transport would put every
// HTTP/2 request on a single connection).
func (o ClientOptions) newTransport(u *url.URL, tc *tls.Config) *http.Transport {
	p := new(http.Protocols)
	switch {
	case !o.H2:
		p.SetHTTP1(true)
	case u.Scheme == "https":
		p.SetHTTP2(true)
	default:
		p.SetUnencryptedHTTP2(true)
	}
	return &http.Transport{
		DialContext:         o.dial,
		TLSClientConfig:     tc.Clone(),
		TLSHandshakeTimeout: 10 * time.Second,
		Protocols:           p,
		MaxConnsPerHost:     1,
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // measure the bytes the server sends
		// Larger than the 4 KiB default: fewer syscalls on bulk bodies.
		ReadBufferSize:  64 << 10,
		WriteBufferSize: 64 << 10,
	}
}

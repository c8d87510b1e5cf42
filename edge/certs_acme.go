package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// acmeCacheDirName is the directory under the edge's data directory where
// the ACME account key and issued certificates are kept (autocert.DirCache).
const acmeCacheDirName = "acme"

const (
	// acmeFailureBackoff: after a failed issuance for a name, handshakes for
	// it fail at once for this long instead of starting a new order. Let's
	// Encrypt allows 5 failed validations per account, hostname and hour;
	// autocert itself retries on every handshake.
	acmeFailureBackoff = 5 * time.Minute
	// acmeFailuresMax bounds the failure table; a full table drops an
	// arbitrary entry (only allowed names get there, so it stays small).
	acmeFailuresMax = 4096
)

// ErrACMEHostNotAllowed is returned (wrapped) for a handshake whose server
// name is not one of the edge's own names; no certificate is requested.
var ErrACMEHostNotAllowed = errors.New("wsgrok: tls: not a name of this edge; no ACME certificate is requested for it")

// ACMEConfig configures an ACMECertSource.
type ACMEConfig struct {
	// Domain is the edge's public domain (tunnels are <name>.<Domain>).
	// Required; "localhost" and *.localhost are refused: no ACME CA issues
	// for them (use the development CA there).
	Domain string
	// CacheDir keeps the ACME account key and certificates across restarts
	// (created 0700; files 0600). Required; the edge uses <data dir>/acme.
	CacheDir string
	// DirectoryURL of the ACME server. Default: Let's Encrypt production
	// (acme.LetsEncryptURL).
	DirectoryURL string
	// Email is the contact address registered with the CA (expiry and
	// policy notices). Optional.
	Email string
	// CARootsFile is a PEM file of roots trusted for the ACME server's own
	// HTTPS (a private CA such as step-ca, or Pebble in tests). Empty: the
	// system roots.
	CARootsFile string
	// Allowed reports whether host (lower case, no trailing dot) may have a
	// certificate. Required. It must only accept this edge's own names;
	// see NewACMECertSource.
	Allowed func(host string) bool
	// Logger receives issuance failures. Nil: discarded.
	Logger *slog.Logger
}

// ACMECertSource obtains, caches and renews a certificate per name from an
// ACME CA with golang.org/x/crypto/acme/autocert. Names are proved with the
// TLS-ALPN-01 challenge on the HTTPS listener, so that listener must be
// reachable by the CA on port 443 and offer the "acme-tls/1" protocol (the
// edge does this; see configureServer). HTTP-01 is not used. Clients,
// agents included, must send the name in SNI: a handshake without one fails.
//
// A name's first handshake waits while its certificate is issued (seconds
// with Let's Encrypt); later handshakes are served from memory, and after a
// restart from the disk cache. autocert renews certificates in use 30 days
// before they expire.
type ACMECertSource struct {
	m       *autocert.Manager
	allowed func(string) bool
	log     *slog.Logger

	mu       sync.Mutex
	failures map[string]acmeFailure // by host: recent failed issuance
}

type acmeFailure struct {
	at  time.Time
	err error
}

// NewACMECertSource returns a CertSource that obtains certificates on demand
// from the ACME server of cfg (default Let's Encrypt production), accepting
// the CA's terms of service on the operator's behalf.
func NewACMECertSource(cfg ACMEConfig) (*ACMECertSource, error) {
	d := certHostName(cfg.Domain)
	if d == "localhost" || strings.HasSuffix(d, ".localhost") {
		return nil, fmt.Errorf("wsgrok: tls: ACME cannot issue certificates for %q: no public CA issues them for localhost names (RFC 6761); leave --acme off to use the development CA, or give a public --domain", cfg.Domain)
	}
	if !certValidDNSName(d) || !strings.Contains(d, ".") {
		return nil, fmt.Errorf("wsgrok: tls: invalid domain %q for ACME certificates; give a public DNS name such as \"tunnels.example.com\"", cfg.Domain)
	}
	if cfg.CacheDir == "" {
		return nil, errors.New("wsgrok: tls: ACME needs a cache directory for its account key and certificates; pass a data directory")
	}
	if cfg.Allowed == nil {
		return nil, errors.New("wsgrok: tls: ACME needs a host policy (ACMEConfig.Allowed)")
	}
	dirURL := cfg.DirectoryURL
	if dirURL == "" {
		dirURL = acme.LetsEncryptURL
	}
	client := &acme.Client{DirectoryURL: dirURL, UserAgent: "wsgrok-edge"}
	if cfg.CARootsFile != "" {
		pemData, err := os.ReadFile(cfg.CARootsFile)
		if err != nil {
			return nil, fmt.Errorf("wsgrok: tls: cannot read ACME CA roots %s: %w; give a PEM file of the ACME server's roots in --acme-ca-roots, or leave it empty for the system roots", cfg.CARootsFile, certErrText(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("wsgrok: tls: ACME CA roots %s hold no PEM certificate; give a PEM file of the ACME server's roots in --acme-ca-roots", cfg.CARootsFile)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
		client.HTTPClient = &http.Client{Transport: tr, Timeout: time.Minute}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &ACMECertSource{allowed: cfg.Allowed, log: log, failures: map[string]acmeFailure{}}
	s.m = &autocert.Manager{
		Prompt: autocert.AcceptTOS,
		Cache:  autocert.DirCache(cfg.CacheDir),
		// Only the edge's own names, never whatever a client puts in SNI:
		// otherwise anyone could make the edge order certificates for any
		// host, exhausting the CA's rate limits (Let's Encrypt: 300 new
		// orders per account per 3 hours, 5 failed validations per host per
		// hour) so that the real names cannot be renewed. autocert checks
		// this policy before its cache and before any order.
		HostPolicy: s.hostPolicy,
		Client:     client,
		Email:      cfg.Email,
	}
	return s, nil
}

// hostPolicy is the autocert.HostPolicy of s.
func (s *ACMECertSource) hostPolicy(_ context.Context, host string) error {
	if !s.allowed(certHostName(host)) {
		return fmt.Errorf("%w: %q", ErrACMEHostNotAllowed, host)
	}
	return nil
}

// GetCertificate implements CertSource. TLS-ALPN-01 validation handshakes
// (ALPN "acme-tls/1" alone) get the challenge certificate of a pending order.
func (s *ACMECertSource) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello == nil {
		return nil, errors.New("wsgrok: tls: no ClientHello")
	}
	host := certHostName(hello.ServerName)
	challenge := len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto
	if !challenge {
		if err := s.recentFailure(host, time.Now()); err != nil {
			return nil, err
		}
	}
	c, err := s.m.GetCertificate(hello)
	if err != nil && !challenge && host != "" && !errors.Is(err, ErrACMEHostNotAllowed) {
		s.log.Warn("ACME certificate not obtained; handshakes for this name fail until the retry", "host", host, "retry_in", acmeFailureBackoff, "err", err)
		s.mu.Lock()
		if len(s.failures) >= acmeFailuresMax {
			for k := range s.failures { // map order is random: drop an arbitrary entry
				delete(s.failures, k)
				break
			}
		}
		s.failures[host] = acmeFailure{at: time.Now(), err: err}
		s.mu.Unlock()
	}
	return c, err
}

// recentFailure returns the error of a failed issuance for host within the
// backoff, or nil.
func (s *ACMECertSource) recentFailure(host string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.failures[host]
	if !ok {
		return nil
	}
	if now.Sub(f.at) >= acmeFailureBackoff {
		delete(s.failures, host)
		return nil
	}
	return fmt.Errorf("wsgrok: tls: ACME certificate for %s failed %s ago, retried after %s: %w", host, now.Sub(f.at).Round(time.Second), acmeFailureBackoff, f.err)
}

// configureServer makes srv, the HTTPS ingress, answer TLS-ALPN-01
// validations: it offers "acme-tls/1" after the HTTP protocols (clients
// never ask for it; the CA asks for nothing else), and closes such a
// connection once the handshake has shown the challenge certificate.
// Call it after http2.ConfigureServer and before the listener is wrapped.
func (s *ACMECertSource) configureServer(srv *http.Server) {
	srv.TLSConfig.NextProtos = append(srv.TLSConfig.NextProtos, acme.ALPNProto)
	if srv.TLSNextProto == nil {
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	srv.TLSNextProto[acme.ALPNProto] = func(*http.Server, *tls.Conn, http.Handler) {} // the server closes the conn on return
}

// newACMECerts builds the ACME source of an edge from its Config; the
// registry it consults is created later in New, before any handshake.
func (e *Edge) newACMECerts() (*ACMECertSource, error) {
	cfg := e.cfg
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		return nil, errors.New("wsgrok: edge: --acme and --tls-cert/--tls-key exclude each other: choose one source of certificates")
	}
	if cfg.HTTPSAddr == "off" {
		return nil, errors.New("wsgrok: edge: --acme proves names with TLS-ALPN-01 on the HTTPS listener: give --https-addr (reachable on port 443), or use --tls-cert/--tls-key")
	}
	return NewACMECertSource(ACMEConfig{
		Domain:       cfg.Domain,
		CacheDir:     filepath.Join(cfg.DataDir, acmeCacheDirName),
		DirectoryURL: cfg.ACMEDirectory,
		Email:        cfg.ACMEEmail,
		CARootsFile:  cfg.ACMECARoots,
		Allowed:      func(host string) bool { return e.reg.certHostAllowed(host) },
		Logger:       e.log.With("component", "acme"),
	})
}

// certHostAllowed reports whether host (lower case, no trailing dot) is one
// of this edge's own names, which may have a certificate: the domain itself
// (agents dial it), the host of an HTTP tunnel currently routed (bound, or
// within its offline grace), or <name>.<domain> for a name reserved on the
// control service. Safe from any goroutine.
func (r *Registry) certHostAllowed(host string) bool {
	if host == r.domain {
		return true
	}
	if r.router.Lookup(host) != nil {
		return true
	}
	name, ok := strings.CutSuffix(host, "."+r.domain)
	if !ok || strings.Contains(name, ".") {
		return false
	}
	_, reserved := r.Reserved(name)
	return reserved
}

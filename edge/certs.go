package edge

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// File names of the development CA inside its data directory.
const (
	devCACertName = "ca.pem"
	devCAKeyName  = "ca-key.pem"
	devCACN       = "wsgrok development CA"
)

const (
	devCAValidity = 10 * 365 * 24 * time.Hour
	// leafValidity is the longest validity Apple platforms accept for a
	// TLS server certificate.
	leafValidity = 825 * 24 * time.Hour
	// leafRenewBefore: a cached leaf closer than this to expiry is reissued.
	leafRenewBefore = 30 * 24 * time.Hour
	// certClockSkew back-dates NotBefore so that clients whose clock is a little
	// behind still accept fresh certificates.
	certClockSkew = time.Hour
	// devCertCacheMax bounds the number of per-host leaves a DevCertSource keeps.
	devCertCacheMax = 1024
)

// certReloadInterval is how often, at most, a FileCertSource looks at its
// files' modification times. A variable so that tests can shorten it.
var certReloadInterval = 10 * time.Second

// fileCertHint is the advice attached to errors about operator certificate files.
const fileCertHint = "pass --tls-cert and --tls-key, or leave both empty to use the development CA"

// DevCA is a certificate authority generated for development and kept in a
// data directory, so that browsers and agents trust it across restarts.
type DevCA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
}

// LoadOrCreateDevCA reads dir/ca.pem and dir/ca-key.pem, or creates them
// (ECDSA P-256, 10-year validity, CN "wsgrok development CA", key file mode 0600,
// dir created 0700). A corrupt or mismatched pair is an error that names the
// files and says to delete them to regenerate.
func LoadOrCreateDevCA(dir string) (*DevCA, error) {
	if dir == "" {
		return nil, errors.New("wsgrok: tls: no data directory given for the development CA; pass a data directory, or pass --tls-cert and --tls-key")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("wsgrok: tls: cannot create data directory %s for the development CA: %w; create it or choose another data directory", dir, certErrText(err))
	}
	certPath := filepath.Join(dir, devCACertName)
	keyPath := filepath.Join(dir, devCAKeyName)

	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	certMissing := errors.Is(certErr, fs.ErrNotExist)
	keyMissing := errors.Is(keyErr, fs.ErrNotExist)
	switch {
	case certMissing && keyMissing:
		return createDevCA(certPath, keyPath)
	case certErr != nil && !certMissing:
		return nil, fmt.Errorf("wsgrok: tls: cannot read development CA certificate %s: %w; fix its permissions, or delete %s and %s to regenerate the CA", certPath, certErrText(certErr), certPath, keyPath)
	case keyErr != nil && !keyMissing:
		return nil, fmt.Errorf("wsgrok: tls: cannot read development CA key %s: %w; fix its permissions, or delete %s and %s to regenerate the CA", keyPath, certErrText(keyErr), certPath, keyPath)
	case certMissing || keyMissing:
		present, missing := keyPath, certPath
		if keyMissing {
			present, missing = certPath, keyPath
		}
		return nil, fmt.Errorf("wsgrok: tls: development CA is incomplete: %s exists but %s does not; delete %s to regenerate the CA (clients must then trust the new %s)", present, missing, present, certPath)
	}
	ca, err := parseDevCA(certPEM, keyPEM, time.Now())
	if err != nil {
		return nil, fmt.Errorf("wsgrok: tls: development CA in %s and %s is unusable: %v; delete both files to regenerate the CA (clients must then trust the new %s)", certPath, keyPath, err, certPath)
	}
	return ca, nil
}

// parseDevCA checks and decodes a stored CA pair. Errors are short phrases;
// the caller adds file names and advice.
func parseDevCA(certPEM, keyPEM []byte, now time.Time) (*DevCA, error) {
	certDER, err := certPEMBlock(certPEM, "CERTIFICATE")
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("certificate is corrupt: %w", err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("certificate is not a CA certificate")
	}
	keyDER, keyType, err := certKeyPEMBlock(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	key, err := certParseKey(keyDER, keyType)
	if err != nil {
		return nil, fmt.Errorf("key is corrupt: %w", err)
	}
	if !certKeysEqual(key.Public(), cert.PublicKey) {
		return nil, errors.New("the key does not belong to the certificate")
	}
	if now.After(cert.NotAfter) {
		return nil, fmt.Errorf("the CA certificate expired on %s", cert.NotAfter.UTC().Format(time.DateOnly))
	}
	return &DevCA{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
	}, nil
}

func createDevCA(certPath, keyPath string) (*DevCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("wsgrok: tls: cannot generate development CA key: %w", err)
	}
	serial, err := certSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	subject := pkix.Name{CommonName: devCACN, Organization: []string{"wsgrok development"}}
	if host, err := os.Hostname(); err == nil && host != "" {
		// Tells apart the CAs of several machines in one trust store.
		subject.OrganizationalUnit = []string{host}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-certClockSkew),
		NotAfter:              now.Add(devCAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("wsgrok: tls: cannot create development CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("wsgrok: tls: cannot parse new development CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("wsgrok: tls: cannot encode development CA key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	// Key first: a crash in between leaves only the key, which is reported
	// as an incomplete pair rather than silently replaced.
	if err := certWriteFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("wsgrok: tls: cannot write development CA key %s: %w; check that the data directory is writable", keyPath, certErrText(err))
	}
	if err := certWriteFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("wsgrok: tls: cannot write development CA certificate %s: %w; check that the data directory is writable, then delete %s to retry", certPath, certErrText(err), keyPath)
	}
	return &DevCA{Cert: cert, Key: key, CertPEM: certPEM}, nil
}

// Issue returns a leaf certificate for the given DNS names and IPs signed by the CA
// (ECDSA P-256, valid 825 days max, ExtKeyUsageServerAuth), as a tls.Certificate
// with Leaf set and the CA in the chain.
func (ca *DevCA) Issue(dnsNames []string, ips []net.IP) (tls.Certificate, error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return tls.Certificate{}, errors.New("wsgrok: tls: development CA is not loaded; use LoadOrCreateDevCA")
	}
	if len(dnsNames) == 0 && len(ips) == 0 {
		return tls.Certificate{}, errors.New("wsgrok: tls: cannot issue a certificate without DNS names or IP addresses")
	}
	now := time.Now()
	notBefore := now.Add(-certClockSkew)
	notAfter := notBefore.Add(leafValidity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	if !notAfter.After(now) {
		return tls.Certificate{}, fmt.Errorf("wsgrok: tls: development CA %q expired on %s; delete ca.pem and ca-key.pem in the data directory to regenerate it", ca.Cert.Subject.CommonName, ca.Cert.NotAfter.UTC().Format(time.DateOnly))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("wsgrok: tls: cannot generate certificate key: %w", err)
	}
	serial, err := certSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	cn := ""
	if len(dnsNames) > 0 {
		cn = dnsNames[0]
	} else {
		cn = ips[0].String()
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"wsgrok development"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              append([]string(nil), dnsNames...),
		IPAddresses:           append([]net.IP(nil), ips...),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("wsgrok: tls: cannot issue certificate for %v %v: %w", dnsNames, ips, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("wsgrok: tls: cannot parse issued certificate: %w", err)
	}
	return tls.Certificate{
		Certificate: [][]byte{der, ca.Cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// CertSource gives the TLS certificate for a ClientHello.
type CertSource interface {
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

// DevCertSource issues, caches and serves leaf certificates from a DevCA for
// one domain.
//
// One default leaf covers the apex, "*.domain", "localhost", 127.0.0.1 and ::1;
// it is issued at construction and served for the apex, for names the wildcard
// covers, and when there is no usable SNI. Browsers reject a wildcard directly
// under a single-label domain ("*.localhost", like "*.com"), and a wildcard
// only matches one label, so for such names (e.g. "demo.localhost",
// "a.b.example.test") a leaf naming the host exactly is issued on first use
// and cached (at most 1024 entries; a full cache drops an arbitrary entry).
type DevCertSource struct {
	ca     *DevCA
	domain string
	// wildcardOK: "*.domain" is accepted by browsers (domain has two or more labels).
	wildcardOK bool

	mu    sync.Mutex
	def   *tls.Certificate
	cache map[string]*tls.Certificate
}

// NewDevCertSource issues, caches (bounded: at most 1024 entries, simple
// eviction) and serves leaf certificates from a DevCA for the domain: the apex,
// "*.domain", plus "localhost", 127.0.0.1 and ::1. The wildcard leaf is issued
// at construction and reused; see DevCertSource for per-host leaves.
func NewDevCertSource(ca *DevCA, domain string) (*DevCertSource, error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return nil, errors.New("wsgrok: tls: development CA is not loaded; use LoadOrCreateDevCA")
	}
	d := certHostName(domain)
	if !certValidDNSName(d) {
		return nil, fmt.Errorf("wsgrok: tls: invalid domain %q for the development certificate; give a DNS name such as \"localhost\" or \"dev.example.com\" (no scheme, port or wildcard)", domain)
	}
	s := &DevCertSource{
		ca:         ca,
		domain:     d,
		wildcardOK: strings.Contains(d, "."),
		cache:      make(map[string]*tls.Certificate),
	}
	def, err := s.issueFor("")
	if err != nil {
		return nil, err
	}
	s.def = def
	return s, nil
}

// names returns the DNS names for a leaf; host is an extra exact name or "".
func (s *DevCertSource) names(host string) []string {
	names := make([]string, 0, 4)
	if host != "" && host != s.domain && host != "localhost" {
		names = append(names, host)
	}
	names = append(names, s.domain, "*."+s.domain)
	if s.domain != "localhost" {
		names = append(names, "localhost")
	}
	return names
}

func (s *DevCertSource) issueFor(host string) (*tls.Certificate, error) {
	c, err := s.ca.Issue(s.names(host), []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// fresh reports whether c can still be served, or whether reissuing would
// give a longer-lived certificate.
func (s *DevCertSource) fresh(c *tls.Certificate, now time.Time) bool {
	end := c.Leaf.NotAfter
	return now.Add(leafRenewBefore).Before(end) || !end.Before(s.ca.Cert.NotAfter)
}

// needsOwnLeaf reports whether host, a normalized SNI name, should get a leaf
// naming it exactly rather than the default wildcard leaf.
func (s *DevCertSource) needsOwnLeaf(host string) bool {
	if host == "" || host == s.domain || host == "localhost" {
		return false
	}
	if len(host) > 253 || !strings.HasSuffix(host, "."+s.domain) || !certValidDNSName(host) {
		return false // not ours: the default leaf lets the client report a name mismatch
	}
	sub := strings.TrimSuffix(host, "."+s.domain)
	return !s.wildcardOK || strings.Contains(sub, ".")
}

// GetCertificate implements CertSource.
func (s *DevCertSource) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	host := ""
	if hello != nil {
		host = certHostName(hello.ServerName)
	}
	now := time.Now()
	if !s.needsOwnLeaf(host) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.fresh(s.def, now) {
			c, err := s.issueFor("")
			if err != nil {
				return nil, err
			}
			s.def = c
		}
		return s.def, nil
	}

	s.mu.Lock()
	c, ok := s.cache[host]
	s.mu.Unlock()
	if ok && s.fresh(c, now) {
		return c, nil
	}
	// Issue without the lock so that handshakes for other names go on.
	c, err := s.issueFor(host)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.cache[host]; ok && s.fresh(prev, now) {
		return prev, nil // another handshake won the race
	}
	if _, ok := s.cache[host]; !ok && len(s.cache) >= devCertCacheMax {
		for k := range s.cache { // map order is random: evict an arbitrary entry
			delete(s.cache, k)
			break
		}
	}
	s.cache[host] = c
	return c, nil
}

// FileCertSource serves an operator's certificate chain and key from PEM files
// and reloads them when their modification time (or size) changes, checked at
// most once per 10 s during handshakes, so renewed certificates are picked up
// without restart. If a reload fails (e.g. the files are caught half-renewed),
// the previous certificate stays in use and the reload is retried later.
type FileCertSource struct {
	certFile, keyFile string

	cert atomic.Pointer[tls.Certificate]

	mu        sync.Mutex // guards the fields below; held only by the handshake doing a check
	lastCheck time.Time
	certStamp certFileStamp
	keyStamp  certFileStamp
	lastErr   error
}

type certFileStamp struct {
	mod  time.Time
	size int64
}

// NewFileCertSource loads an operator's certificate chain and key (PEM files)
// and reloads them when the files' modification time changes (checked at most
// once per 10 s on handshakes), so renewed certificates are picked up without
// restart.
func NewFileCertSource(certFile, keyFile string) (*FileCertSource, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("wsgrok: tls: a certificate file and a key file are both needed; " + fileCertHint)
	}
	s := &FileCertSource{certFile: certFile, keyFile: keyFile}
	c, cs, ks, err := loadCertFiles(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	if now := time.Now(); now.After(c.Leaf.NotAfter) {
		return nil, fmt.Errorf("wsgrok: tls: certificate in %s expired on %s; renew it, or leave --tls-cert and --tls-key empty to use the development CA", certFile, c.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	s.cert.Store(c)
	s.lastCheck = time.Now()
	s.certStamp, s.keyStamp = cs, ks
	return s, nil
}

// GetCertificate implements CertSource.
func (s *FileCertSource) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if s.mu.TryLock() { // someone else checking: serve the current certificate
		s.maybeReload(time.Now())
		s.mu.Unlock()
	}
	return s.cert.Load(), nil
}

// LastReloadError returns the error of the latest failed reload, or nil once
// the files have loaded successfully again.
func (s *FileCertSource) LastReloadError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// maybeReload is called with s.mu held.
func (s *FileCertSource) maybeReload(now time.Time) {
	if now.Sub(s.lastCheck) < certReloadInterval {
		return
	}
	s.lastCheck = now
	cs, err1 := certStatFile(s.certFile)
	ks, err2 := certStatFile(s.keyFile)
	if err1 != nil || err2 != nil {
		// Renewal tools may replace files non-atomically; keep serving.
		s.lastErr = fmt.Errorf("wsgrok: tls: cannot check certificate files for renewal: %w", errors.Join(err1, err2))
		return
	}
	if cs == s.certStamp && ks == s.keyStamp {
		return
	}
	c, cs2, ks2, err := loadCertFiles(s.certFile, s.keyFile)
	if err != nil {
		s.lastErr = err // stamps unchanged: retried at the next check
		return
	}
	s.cert.Store(c)
	s.certStamp, s.keyStamp = cs2, ks2
	s.lastErr = nil
}

func certStatFile(name string) (certFileStamp, error) {
	fi, err := os.Stat(name) // follows symlinks, as used by certbot's live/ directory
	if err != nil {
		return certFileStamp{}, err
	}
	return certFileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

// loadCertFiles reads and checks a certificate chain and key; stamps are taken
// before reading so that a change during the read is seen at the next check.
func loadCertFiles(certFile, keyFile string) (c *tls.Certificate, cs, ks certFileStamp, err error) {
	readErr := func(what, name string, err error) error {
		return fmt.Errorf("wsgrok: tls: cannot read %s file %s: %w; %s", what, name, certErrText(err), fileCertHint)
	}
	if cs, err = certStatFile(certFile); err != nil {
		return nil, cs, ks, readErr("certificate", certFile, err)
	}
	if ks, err = certStatFile(keyFile); err != nil {
		return nil, cs, ks, readErr("key", keyFile, err)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, cs, ks, readErr("certificate", certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, cs, ks, readErr("key", keyFile, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, cs, ks, fmt.Errorf("wsgrok: tls: certificate file %s and key file %s are not a usable pair: %w; give the PEM certificate chain in --tls-cert and its private key in --tls-key", certFile, keyFile, err)
	}
	if pair.Leaf == nil { // GODEBUG=x509keypairleaf=0
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, cs, ks, fmt.Errorf("wsgrok: tls: certificate file %s: %w; %s", certFile, err, fileCertHint)
		}
	}
	return &pair, cs, ks, nil
}

// ServerTLSConfig returns a *tls.Config with MinVersion TLS 1.2, the given
// NextProtos, and GetCertificate from src.
func ServerTLSConfig(src CertSource, nextProtos ...string) *tls.Config {
	if src == nil {
		panic("wsgrok: ServerTLSConfig: nil CertSource")
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     append([]string(nil), nextProtos...),
		GetCertificate: src.GetCertificate,
	}
}

// --- helpers ---

func certSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("wsgrok: tls: cannot generate serial number: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil // positive, never zero
}

// certPEMBlock returns the bytes of the first PEM block of type typ.
func certPEMBlock(data []byte, typ string) ([]byte, error) {
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("no PEM %s block found", typ)
		}
		if b.Type == typ {
			return b.Bytes, nil
		}
	}
}

// certKeyPEMBlock returns the first PEM block whose type names a private key.
func certKeyPEMBlock(data []byte) ([]byte, string, error) {
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, "", errors.New("no PEM private key block found")
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			return b.Bytes, b.Type, nil
		}
	}
}

func certParseKey(der []byte, typ string) (crypto.Signer, error) {
	var k any
	var err error
	switch typ {
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(der)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(der)
	default:
		k, err = x509.ParsePKCS8PrivateKey(der)
	}
	if err != nil {
		return nil, err
	}
	if signer, ok := k.(crypto.Signer); ok {
		return signer, nil
	}
	return nil, fmt.Errorf("unsupported key type %T", k)
}

func certKeysEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// certWriteFileAtomic writes data to a temporary file in the same directory and
// renames it into place, so readers never see a partial file.
func certWriteFileAtomic(name string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	ok = true
	return nil
}

// certErrText strips the operation and path from a *fs.PathError, since the
// messages that use it name the file themselves ("no such file or
// directory"); errors.Is still works on the result.
func certErrText(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func certHostName(h string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
}

// certValidDNSName reports whether name (lower case, no trailing dot) is a
// hostname usable in a certificate: labels of letters, digits, '-' and '_'.
func certValidDNSName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	// An IP address is not a DNS name.
	return net.ParseIP(name) == nil
}

package edge

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// certTestServer runs a TLS server on 127.0.0.1:0 that performs one handshake
// per connection and reports its result on the returned channel. Receiving
// that result orders the server's work before the test's next step.
func certTestServer(t *testing.T, cfg *tls.Config) (string, <-chan error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			err = tc.Handshake()
			tc.Close()
			results <- err
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String(), results
}

// certDial performs one handshake against addr and returns the client's view
// and the client's and server's errors.
func certDial(t *testing.T, addr string, results <-chan error, cfg *tls.Config) (tls.ConnectionState, error, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 10 * time.Second}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(raw, cfg)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	clientErr := c.Handshake()
	state := c.ConnectionState()
	c.Close()
	select {
	case serverErr := <-results:
		return state, clientErr, serverErr
	case <-time.After(10 * time.Second):
		t.Fatal("server did not finish the handshake")
		return state, clientErr, nil
	}
}

// certRootsFromFile builds a pool that trusts only the given PEM file, as an
// agent started with --ca does.
func certRootsFromFile(t *testing.T, name string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("no certificates in %s", name)
	}
	return pool
}

func certNewCA(t *testing.T) (*DevCA, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	ca, err := LoadOrCreateDevCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ca, dir
}

func TestDevCACreateAndReload(t *testing.T) {
	ca, dir := certNewCA(t)

	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if ca.Cert.Subject.CommonName != "wsgrok development CA" || !ca.Cert.IsCA {
		t.Errorf("CA subject %q IsCA %v", ca.Cert.Subject.CommonName, ca.Cert.IsCA)
	}
	pub, ok := ca.Cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA key is %T, want ECDSA P-256", ca.Cert.PublicKey)
	}
	if life := ca.Cert.NotAfter.Sub(time.Now()); life < 9*365*24*time.Hour || life > 11*365*24*time.Hour {
		t.Errorf("CA validity %v, want about 10 years", life)
	}
	filePEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil || !bytes.Equal(filePEM, ca.CertPEM) {
		t.Errorf("ca.pem differs from CertPEM (%v)", err)
	}

	again, err := LoadOrCreateDevCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Cert.SerialNumber.Cmp(ca.Cert.SerialNumber) != 0 || !bytes.Equal(again.Cert.Raw, ca.Cert.Raw) {
		t.Error("reloaded CA differs from the created one")
	}
	if !bytes.Equal(again.CertPEM, ca.CertPEM) {
		t.Error("reloaded CertPEM differs")
	}
	if !certKeysEqual(again.Key.Public(), ca.Key.Public()) {
		t.Error("reloaded key differs")
	}
}

func TestDevCACorruptOrMismatched(t *testing.T) {
	_, dir := certNewCA(t)
	certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	goodKey, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	_, otherDir := certNewCA(t)
	otherKey, err := os.ReadFile(filepath.Join(otherDir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}

	check := func(name, want string) {
		t.Helper()
		_, err := LoadOrCreateDevCA(dir)
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		msg := err.Error()
		t.Logf("%s: %v", name, err)
		for _, s := range []string{keyPath, "delete", "regenerate", want} {
			if !strings.Contains(msg, s) {
				t.Errorf("%s: error %q does not mention %q", name, msg, s)
			}
		}
	}

	if err := os.WriteFile(keyPath, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	check("garbage key", "no PEM private key")

	bad := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("garbage")})
	if err := os.WriteFile(keyPath, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	check("corrupt key", "corrupt")

	if err := os.WriteFile(keyPath, otherKey, 0o600); err != nil {
		t.Fatal(err)
	}
	check("mismatched key", "does not belong")

	if err := os.WriteFile(keyPath, goodKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(certPath); err != nil {
		t.Fatal(err)
	}
	check("missing certificate", "incomplete")
	if _, err := os.Stat(keyPath); err != nil {
		t.Errorf("key was touched after an error: %v", err)
	}
}

func TestDevCAIssue(t *testing.T) {
	ca, _ := certNewCA(t)
	c, err := ca.Issue([]string{"demo.localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Leaf == nil || len(c.Certificate) != 2 || !bytes.Equal(c.Certificate[1], ca.Cert.Raw) {
		t.Fatalf("want Leaf set and chain [leaf, CA]; got Leaf=%v chain=%d", c.Leaf != nil, len(c.Certificate))
	}
	if d := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore); d > 825*24*time.Hour {
		t.Errorf("leaf validity %v exceeds 825 days", d)
	}
	if !slices.Equal(c.Leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || c.Leaf.IsCA {
		t.Errorf("ExtKeyUsage %v IsCA %v", c.Leaf.ExtKeyUsage, c.Leaf.IsCA)
	}
	if k, ok := c.PrivateKey.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("leaf key %T, want ECDSA P-256", c.PrivateKey)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, name := range []string{"demo.localhost", "127.0.0.1"} {
		if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("verify %s: %v", name, err)
		}
	}
	if _, err := ca.Issue(nil, nil); err == nil {
		t.Error("Issue without names succeeded")
	}
}

func TestDevCertSourceTLSLocalhost(t *testing.T) {
	ca, dir := certNewCA(t)
	src, err := NewDevCertSource(ca, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(src.def.Leaf.DNSNames, "*.localhost") {
		t.Errorf("default leaf names %v lack *.localhost", src.def.Leaf.DNSNames)
	}
	addr, results := certTestServer(t, ServerTLSConfig(src, "h2", "http/1.1"))
	roots := certRootsFromFile(t, filepath.Join(dir, "ca.pem"))

	names := []string{"demo.localhost", "localhost", "a.b.localhost", "127.0.0.1", "DEMO.localhost"}
	serials := make([]string, len(names))
	for i, name := range names {
		st, cerr, serr := certDial(t, addr, results, &tls.Config{ServerName: name, RootCAs: roots, NextProtos: []string{"h2"}})
		if cerr != nil || serr != nil {
			t.Fatalf("%s: client %v, server %v", name, cerr, serr)
		}
		if st.NegotiatedProtocol != "h2" {
			t.Errorf("%s: ALPN %q", name, st.NegotiatedProtocol)
		}
		if len(st.VerifiedChains) == 0 {
			t.Errorf("%s: not verified", name)
		}
		serials[i] = st.PeerCertificates[0].SerialNumber.String()
		if name == "demo.localhost" && !slices.Contains(st.PeerCertificates[0].DNSNames, "demo.localhost") {
			t.Errorf("leaf for demo.localhost names %v; browsers reject *.localhost", st.PeerCertificates[0].DNSNames)
		}
	}
	// Cached: the same host gets the same leaf; localhost and 127.0.0.1 share the default.
	if serials[0] != serials[4] {
		t.Error("demo.localhost leaf was not cached")
	}
	if serials[1] != serials[3] || serials[1] != src.def.Leaf.SerialNumber.String() || serials[0] == serials[1] {
		t.Error("localhost and 127.0.0.1 do not share the default leaf")
	}

	// A client with no trusted roots fails verification.
	_, cerr, _ := certDial(t, addr, results, &tls.Config{ServerName: "demo.localhost", RootCAs: x509.NewCertPool()})
	var unknown x509.UnknownAuthorityError
	if !errors.As(cerr, &unknown) {
		t.Errorf("client without roots: %v, want unknown authority", cerr)
	}

	// A name outside the domain fails with a hostname mismatch.
	_, cerr, _ = certDial(t, addr, results, &tls.Config{ServerName: "evil.example.com", RootCAs: roots})
	var hostErr x509.HostnameError
	if !errors.As(cerr, &hostErr) {
		t.Errorf("foreign name: %v, want hostname error", cerr)
	}

	// TLS 1.1 is refused.
	_, cerr, serr := certDial(t, addr, results, &tls.Config{ServerName: "localhost", RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if cerr == nil || serr == nil {
		t.Errorf("TLS 1.1 handshake: client %v, server %v; want both to fail", cerr, serr)
	} else if !strings.Contains(serr.Error(), "version") {
		t.Errorf("TLS 1.1 server error %q does not mention the version", serr)
	}
}

func TestDevCertSourceOtherDomain(t *testing.T) {
	ca, _ := certNewCA(t)
	src, err := NewDevCertSource(ca, "Dev.Example.Test.")
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) *tls.Certificate {
		t.Helper()
		c, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	def := get("")
	if want := []string{"dev.example.test", "*.dev.example.test", "localhost"}; !slices.Equal(def.Leaf.DNSNames, want) {
		t.Errorf("default names %v, want %v", def.Leaf.DNSNames, want)
	}
	if get("demo.dev.example.test") != def || get("dev.example.test") != def || get("other.org") != def {
		t.Error("names covered by the wildcard (or foreign names) did not get the default leaf")
	}
	deep := get("a.b.dev.example.test")
	if deep == def || !slices.Contains(deep.Leaf.DNSNames, "a.b.dev.example.test") {
		t.Errorf("deep name got names %v", deep.Leaf.DNSNames)
	}

	for _, bad := range []string{"", "*.example.com", "https://x.com", "x.com:443", "127.0.0.1"} {
		if _, err := NewDevCertSource(ca, bad); err == nil {
			t.Errorf("domain %q accepted", bad)
		}
	}
}

func TestDevCertSourceCacheBounded(t *testing.T) {
	ca, _ := certNewCA(t)
	src, err := NewDevCertSource(ca, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	for i := range devCertCacheMax + 20 {
		if _, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: fmt.Sprintf("h%d.localhost", i)}); err != nil {
			t.Fatal(err)
		}
	}
	src.mu.Lock()
	n := len(src.cache)
	src.mu.Unlock()
	if n > devCertCacheMax {
		t.Errorf("cache holds %d entries, max %d", n, devCertCacheMax)
	}
}

// certWritePair writes c's chain and key as PEM files.
func certWritePair(t *testing.T, c tls.Certificate, certFile, keyFile string, writeCert, writeKey bool) {
	t.Helper()
	if writeCert {
		var chain []byte
		for _, der := range c.Certificate {
			chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
		}
		if err := os.WriteFile(certFile, chain, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if writeKey {
		der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFileCertSourceReload(t *testing.T) {
	saved := certReloadInterval
	t.Cleanup(func() { certReloadInterval = saved })
	certReloadInterval = time.Hour

	ca, caDir := certNewCA(t)
	issue := func() tls.Certificate {
		c, err := ca.Issue([]string{"example.test", "*.example.test"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	stamp := time.Now()
	bump := func() {
		stamp = stamp.Add(time.Minute)
		for _, f := range []string{certFile, keyFile} {
			if err := os.Chtimes(f, stamp, stamp); err != nil {
				t.Fatal(err)
			}
		}
	}

	leaf1 := issue()
	certWritePair(t, leaf1, certFile, keyFile, true, true)
	src, err := NewFileCertSource(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr, results := certTestServer(t, ServerTLSConfig(src))
	roots := certRootsFromFile(t, filepath.Join(caDir, "ca.pem"))
	served := func() string {
		t.Helper()
		st, cerr, serr := certDial(t, addr, results, &tls.Config{ServerName: "demo.example.test", RootCAs: roots})
		if cerr != nil || serr != nil {
			t.Fatalf("handshake: client %v, server %v", cerr, serr)
		}
		return st.PeerCertificates[0].SerialNumber.String()
	}
	serial := func(c tls.Certificate) string { return c.Leaf.SerialNumber.String() }

	if got := served(); got != serial(leaf1) {
		t.Fatalf("served %s, want first leaf %s", got, serial(leaf1))
	}

	// Renewed files are not looked at before the reload interval has passed.
	leaf2 := issue()
	certWritePair(t, leaf2, certFile, keyFile, true, true)
	bump()
	if got := served(); got != serial(leaf1) {
		t.Errorf("served %s within the reload interval, want still %s", got, serial(leaf1))
	}

	certReloadInterval = 10 * time.Millisecond
	time.Sleep(30 * time.Millisecond)
	if got := served(); got != serial(leaf2) {
		t.Errorf("after reload served %s, want new leaf %s", got, serial(leaf2))
	}

	// A half-renewed pair (new certificate, old key) keeps the old certificate.
	leaf3 := issue()
	certWritePair(t, leaf3, certFile, keyFile, true, false)
	bump()
	time.Sleep(30 * time.Millisecond)
	if got := served(); got != serial(leaf2) {
		t.Errorf("with mismatched files served %s, want previous %s", got, serial(leaf2))
	}
	if err := src.LastReloadError(); err == nil || !strings.Contains(err.Error(), certFile) {
		t.Errorf("LastReloadError = %v, want an error naming %s", err, certFile)
	}
	certWritePair(t, leaf3, certFile, keyFile, false, true)
	bump()
	time.Sleep(30 * time.Millisecond)
	if got := served(); got != serial(leaf3) {
		t.Errorf("after completed renewal served %s, want %s", got, serial(leaf3))
	}
	if err := src.LastReloadError(); err != nil {
		t.Errorf("LastReloadError after success = %v", err)
	}
}

func TestFileCertSourceErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	_, err := NewFileCertSource(missing, filepath.Join(dir, "key.pem"))
	if err == nil {
		t.Fatal("missing files accepted")
	}
	t.Log(err)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
	for _, s := range []string{"cannot read certificate file " + missing, "--tls-cert", "--tls-key", "development CA"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}

	ca, _ := certNewCA(t)
	c, err := ca.Issue([]string{"example.test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certWritePair(t, c, certFile, keyFile, true, false)
	if _, err := NewFileCertSource(certFile, keyFile); err == nil || !strings.Contains(err.Error(), "cannot read key file "+keyFile) {
		t.Errorf("missing key: %v", err)
	}

	other, err := ca.Issue([]string{"example.test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	certWritePair(t, other, "", keyFile, false, true)
	if _, err := NewFileCertSource(certFile, keyFile); err == nil || !strings.Contains(err.Error(), "not a usable pair") {
		t.Errorf("mismatched pair: %v", err)
	} else {
		t.Log(err)
	}

	if _, err := NewFileCertSource(certFile, ""); err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Errorf("empty key path: %v", err)
	}
}

func TestServerTLSConfig(t *testing.T) {
	ca, _ := certNewCA(t)
	src, err := NewDevCertSource(ca, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	protos := []string{"h2", "http/1.1"}
	cfg := ServerTLSConfig(src, protos...)
	protos[0] = "changed"
	if cfg.MinVersion != tls.VersionTLS12 || !slices.Equal(cfg.NextProtos, []string{"h2", "http/1.1"}) || cfg.GetCertificate == nil {
		t.Errorf("config: MinVersion %x NextProtos %v", cfg.MinVersion, cfg.NextProtos)
	}
}

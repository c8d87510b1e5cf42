package edge_test

// ACME certificates against a real ACME server: Let's Encrypt's Pebble,
// built from the module cache (a tool dependency in go.mod) and run as a
// process. Validation is real: Pebble resolves names through a small DNS
// server in this test (every name is 127.0.0.1) and performs TLS-ALPN-01
// against the edge's HTTPS listener (its tlsPort is that listener's port).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/edge"
)

const acmeTestDomain = "acme.test"

func TestACMEIssuesBoundNamesOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Pebble")
	}
	pb := startPebble(t)
	dataDir := t.TempDir()
	acmeOpt := func(c *edgeConfig) {
		c.Domain = acmeTestDomain
		c.DataDir = dataDir
		c.ACME = true
		c.ACMEDirectory = pb.directory
		c.ACMEEmail = "ops@" + acmeTestDomain
		c.ACMECARoots = pb.serverCA
	}
	// Pebble needs the edge's HTTPS port for its validations, and the edge
	// needs Pebble's address: the edge starts first (it contacts the CA
	// only at the first handshake), then Pebble.
	w := newWorld(t, acmeOpt)
	pb.run(t, w.e.HTTPSAddr)
	roots := x509.NewCertPool()
	roots.AddCert(pb.root)

	// The agent dials the edge by its domain: that certificate is ordered
	// during the agent's handshake.
	stopAgent := startACMEAgent(t, w, pb.rootFile, "demo")
	if n := pb.orders(); n != 1 {
		t.Fatalf("after the agent connected: %d orders, want 1 (the domain)\n%s", n, pb.out)
	}

	host := "demo." + acmeTestDomain
	leaf := acmeHandshake(t, w.e.HTTPSAddr, host, roots)
	if !slices.Equal(leaf.DNSNames, []string{host}) {
		t.Fatalf("certificate names %v, want exactly [%s]", leaf.DNSNames, host)
	}
	if !strings.HasPrefix(leaf.Issuer.CommonName, "Pebble Intermediate CA") {
		t.Fatalf("certificate issued by %q, want Pebble's intermediate", leaf.Issuer)
	}
	if n := pb.orders(); n != 2 {
		t.Fatalf("after the first handshake for %s: %d orders, want 2\n%s", host, n, pb.out)
	}
	acmeGetHello(t, w.e.HTTPSAddr, host, roots)

	// A name nobody bound, and a name outside the domain: no certificate
	// and no order.
	for _, h := range []string{"nobody." + acmeTestDomain, "example.com", "a.demo." + acmeTestDomain} {
		if err := acmeHandshakeErr(w.e.HTTPSAddr, h, roots); err == nil {
			t.Fatalf("handshake for unbound %s succeeded", h)
		}
	}
	if n := pb.orders(); n != 2 {
		t.Fatalf("after handshakes for unbound names: %d orders, want 2\n%s", n, pb.out)
	}

	// Restart: the same data directory, a new edge (on new ports, so Pebble
	// could not validate it even if it tried). The cached certificates are
	// served; no new order.
	stopAgent()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	w.e.Shutdown(ctx)
	cancel()
	w2 := newWorld(t, acmeOpt)
	startACMEAgent(t, w2, pb.rootFile, "demo")
	leaf2 := acmeHandshake(t, w2.e.HTTPSAddr, host, roots)
	if !leaf2.Equal(leaf) {
		t.Fatalf("restarted edge serves a different certificate (serial %v, was %v)", leaf2.SerialNumber, leaf.SerialNumber)
	}
	acmeGetHello(t, w2.e.HTTPSAddr, host, roots)
	if n := pb.orders(); n != 2 {
		t.Fatalf("after the restart: %d orders, want 2\n%s", n, pb.out)
	}
	if testing.Verbose() {
		t.Logf("pebble:\n%s", pb.out)
	}
}

func TestACMERefusesLocalhost(t *testing.T) {
	for _, d := range []string{"localhost", "dev.localhost"} {
		_, err := edge.New(edge.Config{Domain: d, DataDir: t.TempDir(), ACME: true})
		if err == nil || !strings.Contains(err.Error(), "development CA") {
			t.Errorf("domain %s with ACME: err %v, want a refusal that points to the development CA", d, err)
		}
	}
	_, err := edge.New(edge.Config{Domain: acmeTestDomain, DataDir: t.TempDir(), ACME: true, TLSCert: "c.pem", TLSKey: "k.pem"})
	if err == nil || !strings.Contains(err.Error(), "--acme") {
		t.Errorf("ACME with certificate files: err %v, want a refusal", err)
	}
	_, err = edge.New(edge.Config{Domain: acmeTestDomain, DataDir: t.TempDir(), ACME: true, ACMECARoots: filepath.Join(t.TempDir(), "none.pem")})
	if err == nil || !strings.Contains(err.Error(), "--acme-ca-roots") {
		t.Errorf("ACME with a missing roots file: err %v, want an error naming --acme-ca-roots", err)
	}
}

// A failed issuance is not retried on every handshake: the next ones fail
// at once, without a request to the CA, for the backoff.
func TestACMEBacksOffAfterFailure(t *testing.T) {
	var hits atomic.Int32
	ca := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no directory here", http.StatusNotFound) // 5xx would be retried until the 5 min deadline
	}))
	defer ca.Close()
	src, err := edge.NewACMECertSource(edge.ACMEConfig{
		Domain: acmeTestDomain, CacheDir: t.TempDir(), DirectoryURL: ca.URL + "/dir",
		Allowed: func(host string) bool { return host == "demo."+acmeTestDomain },
	})
	if err != nil {
		t.Fatal(err)
	}
	hello := func(name string) *tls.ClientHelloInfo {
		return &tls.ClientHelloInfo{ServerName: name, SupportedProtos: []string{"h2", "http/1.1"},
			SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
			SupportedCurves:  []tls.CurveID{tls.CurveP256}, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
	}
	if _, err := src.GetCertificate(hello("other." + acmeTestDomain)); !errors.Is(err, edge.ErrACMEHostNotAllowed) {
		t.Fatalf("name not allowed: err %v, want ErrACMEHostNotAllowed", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the CA was asked %d times for a name not allowed", n)
	}
	if _, err := src.GetCertificate(hello("demo." + acmeTestDomain)); err == nil {
		t.Fatal("issuance against a failing CA succeeded")
	}
	n := hits.Load()
	if n == 0 {
		t.Fatal("the CA was never asked")
	}
	_, err = src.GetCertificate(hello("demo." + acmeTestDomain))
	if err == nil || !strings.Contains(err.Error(), "retried after") {
		t.Fatalf("second handshake: err %v, want the recent failure", err)
	}
	if hits.Load() != n {
		t.Fatalf("the CA was asked again within the backoff (%d requests, then %d)", n, hits.Load())
	}
}

// startACMEAgent runs an in-process agent that trusts only Pebble's root
// and verifies the edge as acmeTestDomain, and waits until sub is bound.
func startACMEAgent(t *testing.T, w *world, rootFile, sub string) (stop func()) {
	t.Helper()
	ev := newEvents()
	a, err := agent.New(agent.Config{Edge: w.e.AgentAddr.String(), Authtoken: w.token, CAFile: rootFile,
		ServerName: acmeTestDomain, Tunnels: []agent.Tunnel{w.httpTunnel(sub)}, Events: ev,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("agent did not stop")
		}
	}
	t.Cleanup(stop)
	select {
	case urls := <-ev.urls:
		want := "https://" + sub + "." + acmeTestDomain + ":"
		if len(urls) == 0 || !strings.HasPrefix(urls[0], want) {
			t.Fatalf("agent bound %v, want %s...", urls, want)
		}
	case err := <-done:
		t.Fatalf("agent stopped: %v", err)
	case <-time.After(30 * time.Second):
		ev.mu.Lock()
		defer ev.mu.Unlock()
		t.Fatalf("agent did not bind in 30s: %v", ev.status)
	}
	return stop
}

// acmeHandshakeErr performs a TLS handshake with 127.0.0.1 at the port of
// addr, with SNI host, verifying against roots.
func acmeHandshakeErr(addr net.Addr, host string, roots *x509.CertPool) error {
	_, err := acmeDial(addr, host, roots)
	return err
}

func acmeDial(addr net.Addr, host string, roots *x509.CertPool) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", "127.0.0.1:"+port(addr), &tls.Config{
		ServerName: host, RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12,
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

func acmeHandshake(t *testing.T, addr net.Addr, host string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	leaf, err := acmeDial(addr, host, roots)
	if err != nil {
		t.Fatalf("handshake for %s: %v", host, err)
	}
	return leaf
}

// acmeGetHello fetches /hello from the backend through the tunnel over
// HTTPS (HTTP/2), verifying the edge's ACME certificate.
func acmeGetHello(t *testing.T, addr net.Addr, host string, roots *x509.CertPool) {
	t.Helper()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", "127.0.0.1:"+port(addr))
		},
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	resp, body := mustGet(t, c, "https://"+host+":"+port(addr)+"/hello")
	if resp.StatusCode != http.StatusOK || body == "" || resp.ProtoMajor != 2 {
		t.Fatalf("GET https://%s/hello through the tunnel: %s %s %q", host, resp.Proto, resp.Status, body)
	}
}

// pebble is a Pebble ACME server running as a process.
type pebble struct {
	bin, modDir string
	serverCA    string // CA of Pebble's own HTTPS (test/certs/pebble.minica.pem)
	dir         string
	listen      string // ACME API, host:port
	mgmt        string // management API, host:port
	directory   string // directory URL
	dns         string // the test's DNS server, host:port

	out      *syncBuffer
	root     *x509.Certificate // issuing root, from the management API
	rootFile string
}

// startPebble builds Pebble and chooses its addresses; run starts it.
func startPebble(t *testing.T) *pebble {
	t.Helper()
	dir := t.TempDir()
	p := &pebble{bin: filepath.Join(dir, "pebble"), dir: dir, out: &syncBuffer{}}
	// Build first: it downloads the module when the cache lacks it, and
	// until then go list reports no directory for it.
	build := exec.Command("go", "build", "-o", p.bin, "github.com/letsencrypt/pebble/v2/cmd/pebble")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building pebble: %v\n%s", err, out)
	}
	modDir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2").Output()
	if p.modDir = strings.TrimSpace(string(modDir)); err != nil || p.modDir == "" {
		t.Fatalf("locating the pebble module (a tool dependency in go.mod): %q, %v", modDir, err)
	}
	p.serverCA = filepath.Join(p.modDir, "test", "certs", "pebble.minica.pem")
	// Pebble's config takes fixed ports: take free ones (a port could in
	// theory be taken again before Pebble binds it; Pebble would then exit
	// and run fails).
	p.listen, p.mgmt = freeAddr(t), freeAddr(t)
	p.directory = "https://" + p.listen + "/dir"
	p.dns = startTestDNS(t)
	return p
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// run starts Pebble validating against https (TLS-ALPN-01 goes to its
// port) and waits until its APIs answer and its root is fetched.
func (p *pebble) run(t *testing.T, https net.Addr) {
	t.Helper()
	type profile struct {
		Description    string `json:"description"`
		ValidityPeriod int    `json:"validityPeriod"`
	}
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":           p.listen,
		"managementListenAddress": p.mgmt,
		"certificate":             filepath.Join(p.modDir, "test", "certs", "localhost", "cert.pem"),
		"privateKey":              filepath.Join(p.modDir, "test", "certs", "localhost", "key.pem"),
		"httpPort":                1, // HTTP-01 is not offered by the edge
		"tlsPort":                 https.(*net.TCPAddr).Port,
		"ocspResponderURL":        "",
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":            "ecdsa",
		"profiles":                map[string]profile{"default": {"default", 90 * 24 * 3600}},
	}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(p.dir, "pebble.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p.bin, "-config", cfgFile, "-dnsserver", p.dns)
	cmd.Env = append(os.Environ(),
		"PEBBLE_VA_NOSLEEP=1",      // no random sleep before each validation
		"PEBBLE_WFE_NONCEREJECT=0", // no injected badNonce errors (the client retries them, slowly)
		"PEBBLE_AUTHZREUSE=0",      // every order is validated
		"PEBBLE_VA_ALWAYS_VALID=0") // validate for real
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })

	serverCA, err := os.ReadFile(p.serverCA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(serverCA)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	// Pebble logs its addresses before it listens, so there is no signal
	// to wait for: poll (bounded) until both APIs answer.
	var rootPEM []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		rootPEM, err = httpGetOK(c, "https://"+p.mgmt+"/roots/0")
		if err == nil {
			_, err = httpGetOK(c, p.directory)
		}
		if err == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("pebble exited: %s", p.out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not ready in 30s: %v\n%s", err, p.out)
		}
	}
	blk, _ := pem.Decode(rootPEM)
	if blk == nil {
		t.Fatalf("pebble root is not PEM: %q", rootPEM)
	}
	if p.root, err = x509.ParseCertificate(blk.Bytes); err != nil {
		t.Fatal(err)
	}
	p.rootFile = filepath.Join(p.dir, "pebble-root.pem")
	if err := os.WriteFile(p.rootFile, rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

// orders is how many orders Pebble has created.
func (p *pebble) orders() int { return strings.Count(p.out.String(), "Added order ") }

func httpGetOK(c *http.Client, url string) ([]byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, err
}

// startTestDNS serves DNS over TCP (Pebble's resolver client uses TCP) on
// loopback: every A query is answered 127.0.0.1, other types get no answer.
func startTestDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveTestDNSConn(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func serveTestDNSConn(c net.Conn) {
	defer c.Close()
	for {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		out, err := testDNSAnswer(msg)
		if err != nil {
			return
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// testDNSAnswer returns the length-prefixed answer to a query.
func testDNSAnswer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(make([]byte, 2, 512), dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if q.Type == dnsmessage.TypeA {
		rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
		if err := b.AResource(rh, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}}); err != nil {
			return nil, err
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil, err
	}
	if len(out)-2 > 0xffff {
		return nil, errors.New("dns answer too long")
	}
	binary.BigEndian.PutUint16(out, uint16(len(out)-2))
	return out, nil
}

// Package prototest holds the connection pairs that tests and benchmarks
// of wsgrok sessions share: net.Pipe, loopback TCP and TLS over loopback.
package prototest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/proto/tlsbatch"
)

// Transport names a way to connect two endpoints.
type Transport struct {
	Name string
	Pair func(tb testing.TB) (client, server net.Conn)
}

// Transports lists every transport, for table-driven tests.
var Transports = []Transport{
	{"pipe", Pipe},
	{"tcp", TCP},
	{"tls", TLS},
	{"tls-batched", BatchedTLS},
}

// Pipe returns the two ends of a net.Pipe: synchronous, unbuffered.
func Pipe(tb testing.TB) (net.Conn, net.Conn) {
	c, s := net.Pipe()
	tb.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// TCP returns a connected pair of loopback TCP sockets on an ephemeral port.
func TCP(tb testing.TB) (net.Conn, net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		tb.Fatal(r.err)
	}
	tb.Cleanup(func() { c.Close(); r.c.Close() })
	return c, r.c
}

// TLS returns a TLS 1.3 pair over loopback TCP with the handshake done.
func TLS(tb testing.TB) (net.Conn, net.Conn) {
	tb.Helper()
	rc, rs := TCP(tb)
	srv := tls.Server(rs, ServerTLSConfig())
	cli := tls.Client(rc, ClientTLSConfig())
	return handshake(tb, cli, srv)
}

// BatchedTLS is TLS with records batched into one write per session
// flush (tlsbatch.Wrap), as the edge and the agent use it.
func BatchedTLS(tb testing.TB) (net.Conn, net.Conn) {
	tb.Helper()
	rc, rs := TCP(tb)
	bc, bs := tlsbatch.NewBatcher(rc), tlsbatch.NewBatcher(rs)
	srv := tls.Server(bs, ServerTLSConfig())
	cli := tls.Client(bc, ClientTLSConfig())
	c, s := handshake(tb, cli, srv)
	return tlsbatch.Wrap(c.(*tls.Conn), bc), tlsbatch.Wrap(s.(*tls.Conn), bs)
}

func handshake(tb testing.TB, cli, srv *tls.Conn) (net.Conn, net.Conn) {
	errs := make(chan error, 1)
	go func() { errs <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		tb.Fatal(err)
	}
	if err := <-errs; err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, srv
}

var (
	certOnce sync.Once
	cert     tls.Certificate
	pool     *x509.CertPool
)

func makeCert() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wsgrok test"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
}

// ServerTLSConfig returns a server config with a self-signed certificate
// for localhost and 127.0.0.1.
func ServerTLSConfig() *tls.Config {
	certOnce.Do(makeCert)
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// ClientTLSConfig returns a client config that trusts ServerTLSConfig's
// certificate and verifies it.
func ClientTLSConfig() *tls.Config {
	certOnce.Do(makeCert)
	return &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

package harness

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"sync"
	"time"
)

// RelayConfig is one half of the bare relay, the suite's floor: the
// cheapest tunnel of wsgrok's shape. Its public half takes TCP
// connections and carries each over a TLS 1.3 connection of its own to
// the backend half, which connects to the backend. Each direction of each
// hop is one goroutine copying through a 256 KiB buffer: no framing, no
// multiplexing, no HTTP. It pays what wsgrok cannot avoid on the machine
// (three loopback hops, a TLS pass each way, two more processes to wake)
// and nothing else, so its ratio to direct bounds what any such tunnel
// reaches there.
type RelayConfig struct {
	Listen string // address to listen on
	To     string // address to connect each accepted connection to
	// CertOut, when set, makes the listener TLS with a fresh self-signed
	// certificate for 127.0.0.1, written as PEM to this file.
	CertOut string
	// DialCA, when set, connects to To over TLS trusting this PEM file.
	DialCA string
	// Ready, if set, is called with the listener's address once it listens.
	Ready func(net.Addr)
}

// Relay runs one half of the bare relay until ctx ends.
func Relay(ctx context.Context, cfg RelayConfig) error {
	if cfg.To == "" {
		return errors.New("relay: no address to relay to (-to)")
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	if cfg.CertOut != "" {
		cert, err := relayCert(cfg.CertOut)
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	}
	nd := &net.Dialer{Timeout: 5 * time.Second}
	dial := func() (net.Conn, error) { return nd.DialContext(ctx, "tcp", cfg.To) }
	if cfg.DialCA != "" {
		pem, err := os.ReadFile(cfg.DialCA)
		if err != nil {
			ln.Close()
			return err
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			ln.Close()
			return fmt.Errorf("relay: %s holds no PEM certificate", cfg.DialCA)
		}
		tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13}
		d := &tls.Dialer{NetDialer: nd, Config: tc}
		dial = func() (net.Conn, error) { return d.DialContext(ctx, "tcp", cfg.To) }
	}
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr())
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	// Every open connection is tracked, so that the relay closes them all
	// when it stops; once it is stopping, a new one is closed at once.
	var (
		mu       sync.Mutex
		open     = map[net.Conn]struct{}{}
		stopping bool
		wg       sync.WaitGroup
	)
	track := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if stopping {
			c.Close()
			return false
		}
		open[c] = struct{}{}
		return true
	}
	untrack := func(c net.Conn) {
		mu.Lock()
		delete(open, c)
		mu.Unlock()
		c.Close()
	}
	defer func() {
		mu.Lock()
		stopping = true
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	for {
		in, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if !track(in) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer untrack(in)
			out, err := dial()
			if err != nil || !track(out) {
				return
			}
			defer untrack(out)
			done := make(chan struct{})
			go func() {
				pipe(out, in)
				close(done)
			}()
			pipe(in, out)
			<-done
		}()
	}
}

// pipe copies src to dst until src ends, then ends dst's writing half so
// that the far side sees the end too.
func pipe(dst, src net.Conn) {
	buf := make([]byte, 256<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		return
	}
	dst.Close()
}

// relayCert makes a self-signed ECDSA certificate for 127.0.0.1 and
// writes it as PEM to path.
func relayCert(path string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

package edge_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wsgrok/wsgrok/proto/prototest"
)

// BenchmarkThroughTunnel measures requests through the whole stack in one
// process (edge, agent, backend, client), side by side with the backend
// directly, so the ratio is what matters. The load harness (bench/) does
// the same across processes; this one is for profiles:
//
//	go test -run '^$' -bench ThroughTunnel -cpuprofile cpu.out ./edge
func BenchmarkThroughTunnel(b *testing.B) {
	w := newWorld(b)
	w.startAgent(w.token, 1, w.httpTunnel("bench"))
	direct := "http://" + w.backend
	via := w.url("http", "bench", "")
	viaTLS := w.url("https", "bench", "")
	for _, c := range []struct {
		name, base string
		h2         bool
	}{{"direct", direct, false}, {"gnet", via, false}, {"https", viaTLS, false}, {"h2", viaTLS, true}} {
		for _, p := range []struct {
			path string
			size int64
		}{{"/hello", 0}, {"/bytes?n=1048576", 1 << 20}} {
			b.Run(fmt.Sprintf("%s%s", c.name, p.path), func(b *testing.B) {
				cl := w.client(c.h2)
				cl.Transport.(*http.Transport).MaxIdleConnsPerHost = 256
				b.ReportAllocs()
				if p.size > 0 {
					b.SetBytes(p.size)
				}
				b.SetParallelism(32)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					buf := make([]byte, 64<<10)
					for pb.Next() {
						resp, err := cl.Get(c.base + p.path)
						if err != nil {
							b.Error(err)
							return
						}
						for {
							_, err := resp.Body.Read(buf)
							if err == io.EOF {
								break
							}
							if err != nil {
								b.Error(err)
								return
							}
						}
						resp.Body.Close()
						if resp.StatusCode != 200 {
							b.Errorf("status %d", resp.StatusCode)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkBulkThroughTunnel moves large bodies at the suite's
// concurrencies (bench/cmd/wsgrok-bench: download-100mib, get-1mib-c8,
// post-1mib-c8), direct, through the bare relay (startRelay: the floor of
// any tunnel with wsgrok's three hops and TLS) and through both
// ingresses, for profiles of the bulk path:
//
//	go test -run '^$' -bench 'BulkThroughTunnel/gnet' -cpuprofile cpu.out ./edge
func BenchmarkBulkThroughTunnel(b *testing.B) {
	w := newWorld(b)
	w.startAgent(w.token, 1, w.httpTunnel("bench"))
	bases := []struct {
		name, base string
		h2         bool
	}{
		{"direct", "http://" + w.backend, false},
		{"relay", "http://" + startRelay(b, w.backend), false},
		{"gnet", w.url("http", "bench", ""), false},
		{"h2", w.url("https", "bench", ""), true},
	}
	shapes := []struct {
		name   string
		post   bool
		size   int
		conns  int
		target string
	}{
		{"download-16mib-c1", false, 16 << 20, 1, "/bytes?n=16777216"},
		{"get-1mib-c8", false, 1 << 20, 8, "/bytes?n=1048576"},
		{"post-1mib-c8", true, 1 << 20, 8, "/echo"},
	}
	for _, c := range bases {
		for _, sh := range shapes {
			b.Run(c.name+"/"+sh.name, func(b *testing.B) {
				cl := w.client(c.h2)
				body := make([]byte, sh.size)
				b.ReportAllocs()
				b.SetBytes(int64(sh.size))
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for range sh.conns {
					wg.Add(1)
					go func() {
						defer wg.Done()
						buf := make([]byte, 64<<10)
						for next.Add(1) <= int64(b.N) {
							var resp *http.Response
							var err error
							if sh.post {
								resp, err = cl.Post(c.base+sh.target, "application/octet-stream", bytes.NewReader(body))
							} else {
								resp, err = cl.Get(c.base + sh.target)
							}
							if err != nil {
								b.Error(err)
								return
							}
							n, err := drain(resp.Body, buf)
							resp.Body.Close()
							if err != nil || n != int64(sh.size) || resp.StatusCode != 200 {
								b.Errorf("status %d, %d octets, %v", resp.StatusCode, n, err)
								return
							}
						}
					}()
				}
				wg.Wait()
			})
		}
	}
}

// drain reads r to its end in len(buf) reads (io.Copy to io.Discard
// would read in 8 KiB pieces, whatever buffer it is given).
func drain(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// startRelay runs the cheapest tunnel with wsgrok's shape in front of
// backend: a plain TCP listener (the public side) whose every connection
// is carried over a TLS 1.3 connection of its own to a second relay (the
// agent side), which connects to backend. Each hop is a copy with a 256
// KiB buffer: no framing, no multiplexing, no HTTP parsing. Its ratio to
// direct bounds what any tunnel over TLS with three loopback hops can
// reach on the machine it runs on.
func startRelay(tb testing.TB, backend string) string {
	tb.Helper()
	agentSide, err := tls.Listen("tcp", "127.0.0.1:0", prototest.ServerTLSConfig())
	if err != nil {
		tb.Fatal(err)
	}
	public, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() { public.Close(); agentSide.Close(); wg.Wait() })
	relay := func(ln net.Listener, dial func() (net.Conn, error)) {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := dial()
			if err != nil {
				in.Close()
				continue
			}
			wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				drainTo(dst, src, make([]byte, 256<<10))
				dst.Close()
				src.Close()
			}
			go pipe(out, in)
			go pipe(in, out)
		}
	}
	wg.Add(2)
	go relay(agentSide, func() (net.Conn, error) { return net.Dial("tcp", backend) })
	go relay(public, func() (net.Conn, error) {
		return tls.Dial("tcp", agentSide.Addr().String(), prototest.ClientTLSConfig())
	})
	return public.Addr().String()
}

// drainTo copies src to dst in len(buf) reads until either fails.
func drainTo(dst io.Writer, src io.Reader, buf []byte) {
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

package edge_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/bench/backend"
	"github.com/wsgrok/wsgrok/edge"
)

// dialHTTPS opens a TLS connection to the https ingress offering only
// http/1.1, so that it is served on the event loop.
func (w *world) dialHTTPS(t *testing.T, name string) *tls.Conn {
	t.Helper()
	tc, err := tls.Dial("tcp", w.e.HTTPSAddr.String(), &tls.Config{RootCAs: w.caPool, ServerName: name + ".localhost", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	tc.SetDeadline(time.Now().Add(20 * time.Second))
	return tc
}

// TestHTTPSPipelinedThenHandedOff sends four requests in one TLS write:
// two small GETs, which the event loop serves from what it decrypted
// ahead, a POST too large for the loop, which goes to net/http with the
// TLS connection, and a GET that net/http then serves on it. Every
// response comes back in order, and those net/http served still say the
// request came over TLS.
func TestHTTPSPipelinedThenHandedOff(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, w.httpTunnel("pipe"))
	tc := w.dialHTTPS(t, "pipe")
	body := bytes.Repeat([]byte("x"), 200<<10) // beyond FastBodyMax
	var req bytes.Buffer
	req.WriteString("GET /hello HTTP/1.1\r\nHost: pipe.localhost\r\n\r\n")
	req.WriteString("GET /headers HTTP/1.1\r\nHost: pipe.localhost\r\n\r\n")
	fmt.Fprintf(&req, "POST /echo HTTP/1.1\r\nHost: pipe.localhost\r\nContent-Length: %d\r\n\r\n", len(body))
	req.Write(body)
	req.WriteString("GET /headers HTTP/1.1\r\nHost: pipe.localhost\r\n\r\n")
	if _, err := tc.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(tc)
	for i, want := range []string{"hello", "loop", "echo", "net/http"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("response %d: %s, %v", i, resp.Status, err)
		}
		switch want {
		case "hello":
			if string(b) != "hello\n" {
				t.Fatalf("response %d: %q", i, b)
			}
			continue
		case "echo":
			if !bytes.Equal(b, body) {
				t.Fatalf("response %d: %d octets echoed of %d", i, len(b), len(body))
			}
			continue
		}
		var seen struct{ Headers http.Header }
		if err := json.Unmarshal(b, &seen); err != nil {
			t.Fatalf("response %d: %v in %q", i, err, b)
		}
		if p := seen.Headers.Get("X-Forwarded-Proto"); p != "https" {
			t.Fatalf("%s request: X-Forwarded-Proto %q, want https (headers %v)", want, p, seen.Headers)
		}
	}
}

// TestHTTPSSlowClientHoldsOneWindow stalls a client of a 256 MiB
// download over TLS, then reads it whole. Ciphertext the socket does not
// take waits in the edge, and its stream credit goes back only as it
// leaves: were credit returned for queued ciphertext, the agent would
// fill the edge's memory with the download while the client stalls.
func TestHTTPSSlowClientHoldsOneWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 256 MiB")
	}
	w := newWorld(t)
	w.startAgent(w.token, 1, w.httpTunnel("slow"))
	tc := w.dialHTTPS(t, "slow")
	tc.SetDeadline(time.Now().Add(2 * time.Minute))
	const size = 256 << 20
	stop := heapWatch()
	fmt.Fprintf(tc, "GET /bytes?n=%d HTTP/1.1\r\nHost: slow.localhost\r\n\r\n", size)
	br := bufio.NewReader(tc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the stall: a client that does not read
	got := readPattern(t, resp.Body)
	peak := stop()
	if got != size {
		t.Fatalf("downloaded %d of %d", got, size)
	}
	t.Logf("256 MiB over TLS with a stalled client: heap peaked %d MiB above start", peak>>20)
	if peak > 64<<20 {
		t.Fatalf("heap grew by %d MiB: the edge buffered for a stalled client", peak>>20)
	}
}

// TestSlowTLSHandshakeIsCutOff: a connection that never finishes its
// handshake is closed at the header timeout (slowloris before TLS).
func TestSlowTLSHandshakeIsCutOff(t *testing.T) {
	w := newWorld(t, func(c *edge.Config) { c.HeaderTimeout = 500 * time.Millisecond })
	conn, err := net.Dial("tcp", w.e.HTTPSAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00}) // a record header, and never the record
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("connection not closed: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("slow handshake cut after %v, header timeout 500ms", d)
	}
}

// TestHTTPSOnNetHTTP keeps the escape hatch working: with HTTPSNetHTTP,
// HTTPS/1.1 is net/http's again, forwarding headers and all.
func TestHTTPSOnNetHTTP(t *testing.T) {
	w := newWorld(t, func(c *edge.Config) { c.HTTPSNetHTTP = true })
	w.startAgent(w.token, 1, w.httpTunnel("std"))
	resp, body := mustGet(t, w.client(false), w.url("https", "std", "/headers"))
	if resp.StatusCode != 200 || resp.Proto != "HTTP/1.1" || !strings.Contains(body, `"X-Forwarded-Proto":["https"]`) {
		t.Fatalf("%s %s %q", resp.Status, resp.Proto, body)
	}
}

// readPattern reads r to its end, checking every octet against the
// backend's /bytes pattern, and returns how many came.
func readPattern(t *testing.T, r io.Reader) int64 {
	t.Helper()
	buf := make([]byte, 256<<10)
	var got int64
	for {
		n, err := r.Read(buf)
		if bad := backend.CheckPattern(buf[:n], got); bad >= 0 {
			t.Fatalf("byte %d of the download is wrong", got+int64(bad))
		}
		got += int64(n)
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("after %d octets: %v", got, err)
		}
	}
}

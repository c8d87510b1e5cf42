package edge_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/wsgrok/wsgrok/bench/backend"
)

func TestGetAndPostOverEveryIngress(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, w.httpTunnel("demo"))
	for _, c := range []struct {
		name, scheme string
		h2           bool
		proto        string
	}{
		{"http1.1 plain (gnet)", "http", false, "HTTP/1.1"},
		{"http1.1 over TLS", "https", false, "HTTP/1.1"},
		{"http2 over TLS", "https", true, "HTTP/2.0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := w.client(c.h2)
			resp, body := mustGet(t, cl, w.url(c.scheme, "demo", "/hello"))
			if resp.StatusCode != 200 || body != "hello\n" || resp.Proto != c.proto {
				t.Fatalf("%s %q %s", resp.Status, body, resp.Proto)
			}
			payload := make([]byte, 300<<10) // beyond the event loop's fast path too
			rand.Read(payload)
			for _, size := range []int{0, 100, 40 << 10, len(payload)} {
				resp, err := cl.Post(w.url(c.scheme, "demo", "/echo"), "application/octet-stream", bytes.NewReader(payload[:size]))
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, payload[:size]) {
					t.Fatalf("POST %d octets: %s, %d back, %v", size, resp.Status, len(got), err)
				}
			}
			// The edge sets the forwarding headers, overwriting forged ones.
			req, _ := http.NewRequest("GET", w.url(c.scheme, "demo", "/headers"), nil)
			req.Header.Set("X-Forwarded-For", "6.6.6.6")
			req.Header.Set("X-Forwarded-Host", "evil.example")
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var seen struct {
				Host    string
				Headers http.Header
			}
			json.NewDecoder(resp.Body).Decode(&seen)
			resp.Body.Close()
			h := seen.Headers
			if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Proto") != c.scheme ||
				!strings.HasPrefix(h.Get("X-Forwarded-Host"), "demo.localhost") || len(h["X-Forwarded-For"]) != 1 {
				t.Fatalf("forwarding headers %v", h)
			}
			if !strings.HasPrefix(seen.Host, "demo.localhost") {
				t.Fatalf("Host %q: the public Host is kept by default", seen.Host)
			}
		})
	}
}

func TestHostSpellingsRouteToOneTunnel(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, w.httpTunnel("demo"))
	for _, host := range []string{"DEMO.localhost", "demo.LOCALHOST.", "Demo.Localhost:" + port(w.e.HTTPAddr)} {
		conn, err := net.Dial("tcp", w.e.HTTPAddr.String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /hello HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("Host %q: %v %v", host, resp, err)
		}
		conn.Close()
	}
}

func TestLargeDownloadAndUploadStayBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 1.25 GiB")
	}
	w := newWorld(t)
	w.startAgent(w.token, 1, w.httpTunnel("big"))
	cl := w.client(false)

	const down = 1 << 30
	stop := heapWatch()
	resp, err := cl.Get(w.url("http", "big", fmt.Sprintf("/bytes?n=%d", down)))
	if err != nil {
		t.Fatal(err)
	}
	got := readPattern(t, resp.Body)
	resp.Body.Close()
	peak := stop()
	if got != down {
		t.Fatalf("downloaded %d of %d", got, down)
	}
	t.Logf("1 GiB download: edge+agent+backend heap peaked %d MiB above start", peak>>20)
	if peak > 64<<20 {
		t.Fatalf("heap grew by %d MiB while moving 1 GiB", peak>>20)
	}

	const up = 256 << 20
	stop = heapWatch()
	h := sha256.New()
	body := io.TeeReader(io.LimitReader(patternReader{}, up), h)
	resp, err = cl.Post(w.url("http", "big", "/sink"), "application/octet-stream", body)
	if err != nil {
		t.Fatal(err)
	}
	var sink struct {
		Bytes  int64
		SHA256 string
	}
	json.NewDecoder(resp.Body).Decode(&sink)
	resp.Body.Close()
	peak = stop()
	if sink.Bytes != up || sink.SHA256 != hex.EncodeToString(h.Sum(nil)) {
		t.Fatalf("upload arrived as %d octets, sha %s", sink.Bytes, sink.SHA256)
	}
	t.Logf("256 MiB upload: heap peaked %d MiB above start", peak>>20)
	if peak > 64<<20 {
		t.Fatalf("heap grew by %d MiB while uploading 256 MiB", peak>>20)
	}
}

type patternReader struct{ off int64 }

func (p patternReader) Read(b []byte) (int, error) {
	backend.FillPattern(b, 0)
	return len(b), nil
}

func TestChunkedBothWays(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, w.httpTunnel("chunks"))
	conn, err := net.Dial("tcp", w.e.HTTPAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /echo HTTP/1.1\r\nHost: chunks.localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if string(got) != "hello, world" {
		t.Fatalf("echo of a chunked request: %q", got)
	}
	// A response without Content-Length arrives chunked, chunk by chunk.
	resp, body := mustGet(t, w.client(false), w.url("http", "chunks", "/chunked?n=3"))
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" || !strings.Contains(body, "chunk 3") {
		t.Fatalf("chunked response: %v %q", resp.TransferEncoding, body)
	}
}

func TestServerSentEventsArriveAsWritten(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, w.httpTunnel("sse"))
	for _, scheme := range []string{"http", "https"} {
		// Five events 400 ms apart: the first must arrive long before the
		// response ends (2 s).
		start := time.Now()
		resp, err := w.client(scheme == "https").Get(w.url(scheme, "sse", "/events?n=5&interval=400ms"))
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		first := time.Since(start)
		resp.Body.Close()
		if err != nil || !strings.HasPrefix(line, "data: tick") {
			t.Fatalf("%s: first line %q %v", scheme, line, err)
		}
		if first > time.Second {
			t.Fatalf("%s: first event after %v: the body was buffered", scheme, first)
		}
	}
}

func TestWebSocketEcho(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, w.httpTunnel("ws"))
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			wsScheme := map[string]string{"http": "ws", "https": "wss"}[scheme]
			cfg, err := websocket.NewConfig(wsScheme+"://ws.localhost:"+port(map[string]net.Addr{"http": w.e.HTTPAddr, "https": w.e.HTTPSAddr}[scheme])+"/ws", "http://ws.localhost/")
			if err != nil {
				t.Fatal(err)
			}
			cfg.TlsConfig = &tls.Config{RootCAs: w.caPool, ServerName: "ws.localhost"}
			raw, err := net.Dial("tcp", map[string]net.Addr{"http": w.e.HTTPAddr, "https": w.e.HTTPSAddr}[scheme].String())
			if err != nil {
				t.Fatal(err)
			}
			var conn net.Conn = raw
			if scheme == "https" {
				tc := tls.Client(raw, &tls.Config{RootCAs: w.caPool, ServerName: "ws.localhost", NextProtos: []string{"http/1.1"}})
				conn = tc
			}
			ws, err := websocket.NewClient(cfg, conn)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			ws.MaxPayloadBytes = 2 << 20
			big := make([]byte, 1<<20)
			rand.Read(big)
			n := 10000
			if scheme == "https" {
				n = 1000
			}
			for i := range n {
				msg := []byte(fmt.Sprintf("message %d", i))
				if i%1000 == 0 {
					msg = big
				}
				if err := websocket.Message.Send(ws, msg); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				var back []byte
				if err := websocket.Message.Receive(ws, &back); err != nil {
					t.Fatalf("receive %d: %v", i, err)
				}
				if !bytes.Equal(back, msg) {
					t.Fatalf("message %d came back different (%d octets)", i, len(back))
				}
			}
		})
	}
}

func TestExpectContinue(t *testing.T) {
	w := newWorld(t)
	w.startAgent(w.token, 1, w.httpTunnel("expect"))
	conn, err := net.Dial("tcp", w.e.HTTPAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /echo HTTP/1.1\r\nHost: expect.localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("want 100 Continue before sending the body, got %q %v", line, err)
	}
	br.ReadString('\n') // the blank line after the interim head
	conn.Write([]byte("hello"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != "hello" {
		t.Fatalf("%s %q", resp.Status, got)
	}
}

func TestTCPTunnelEcho(t *testing.T) {
	w := newWorld(t)
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.(*net.TCPConn).CloseWrite() }()
		}
	}()
	_, ev, _ := w.startAgent(w.token, 1, tcpTunnel(echo.Addr().String()))
	_ = ev
	tunnels := w.e.Registry().Tunnels()
	if len(tunnels) != 1 || tunnels[0].Port == 0 {
		t.Fatalf("tunnels %v", tunnels)
	}
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tunnels[0].Port))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<20)
	rand.Read(data)
	go func() { conn.Write(data); conn.(*net.TCPConn).CloseWrite() }()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("echoed %d of %d octets: %v", len(got), len(data), err)
	}
}

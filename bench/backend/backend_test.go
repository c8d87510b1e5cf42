package backend

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// testTimeout bounds every request and connection of a test.
const testTimeout = 30 * time.Second

// serve starts Handler on a real loopback listener and returns its
// "127.0.0.1:port" address; the server closes when the test ends.
func serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Handler(), ReadHeaderTimeout: testTimeout}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

var client = &http.Client{Timeout: testTimeout}

// do sends one request and returns the response with its whole body.
func do(t *testing.T, method, url string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, b
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

func wantStatus(t *testing.T, resp *http.Response, code int) {
	t.Helper()
	if resp.StatusCode != code {
		t.Fatalf("%s %s: status %d, want %d", resp.Request.Method, resp.Request.URL, resp.StatusCode, code)
	}
}

func TestHello(t *testing.T) {
	base := "http://" + serve(t)
	resp, body := do(t, "GET", base+"/hello", nil, nil)
	wantStatus(t, resp, 200)
	if string(body) != "hello\n" {
		t.Fatalf("body %q", body)
	}
	if resp.ContentLength != 6 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("Content-Length %d, Content-Type %q", resp.ContentLength, resp.Header.Get("Content-Type"))
	}
	resp, body = do(t, "HEAD", base+"/hello", nil, nil)
	wantStatus(t, resp, 200)
	if len(body) != 0 || resp.ContentLength != 6 {
		t.Fatalf("HEAD: body %q, Content-Length %d", body, resp.ContentLength)
	}
	resp, body = do(t, "POST", base+"/hello", strings.NewReader("x"), nil)
	wantStatus(t, resp, 405)
	if resp.Header.Get("Allow") != "GET, HEAD" || !json.Valid(body) {
		t.Fatalf("405: Allow %q, body %q", resp.Header.Get("Allow"), body)
	}
}

// TestHelloAllocs checks that the /hello handler itself does not allocate.
func TestHelloAllocs(t *testing.T) {
	h := Handler()
	w := &nopWriter{h: http.Header{}}
	r, _ := http.NewRequest("GET", "/hello", nil)
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); n != 0 {
		t.Fatalf("/hello: %v allocations per request, want 0", n)
	}
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

func BenchmarkHelloHandler(b *testing.B) {
	h := Handler()
	w := &nopWriter{h: http.Header{}}
	r, _ := http.NewRequest("GET", "/hello", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func TestPattern(t *testing.T) {
	whole := make([]byte, 5*PatternPeriod+7)
	FillPattern(whole, 0)
	for i, b := range whole {
		if b != byte(i%PatternPeriod) {
			t.Fatalf("byte %d = %d", i, b)
		}
	}
	part := make([]byte, 300)
	FillPattern(part, 400)
	if !bytes.Equal(part, whole[400:700]) || CheckPattern(part, 400) != -1 {
		t.Fatal("FillPattern at an offset differs from the whole")
	}
	part[123]++
	if i := CheckPattern(part, 400); i != 123 {
		t.Fatalf("CheckPattern found %d, want 123", i)
	}
}

func TestBytes(t *testing.T) {
	base := "http://" + serve(t)
	resp, body := do(t, "GET", base+"/bytes?n=3000000", nil, nil)
	wantStatus(t, resp, 200)
	if len(body) != 3000000 || resp.ContentLength != 3000000 {
		t.Fatalf("got %d bytes, Content-Length %d, want 3000000", len(body), resp.ContentLength)
	}
	if i := CheckPattern(body, 0); i >= 0 {
		t.Fatalf("pattern differs at byte %d", i)
	}

	resp, body = do(t, "GET", base+"/bytes", nil, nil)
	wantStatus(t, resp, 200)
	if len(body) != DefaultBytes || CheckPattern(body, 0) >= 0 {
		t.Fatalf("default: %d bytes or bad pattern", len(body))
	}
	resp, body = do(t, "GET", base+"/bytes?n=0", nil, nil)
	wantStatus(t, resp, 200)
	if len(body) != 0 || resp.ContentLength != 0 {
		t.Fatalf("n=0: %d bytes, Content-Length %d", len(body), resp.ContentLength)
	}
	resp, body = do(t, "HEAD", base+"/bytes?n=10737418240", nil, nil)
	wantStatus(t, resp, 200)
	if len(body) != 0 || resp.ContentLength != MaxBytes {
		t.Fatalf("HEAD max: %d bytes, Content-Length %d", len(body), resp.ContentLength)
	}
	for _, q := range []string{"n=-1", "n=x", "n=10737418241"} {
		resp, body = do(t, "GET", base+"/bytes?"+q, nil, nil)
		wantStatus(t, resp, 400)
		if !json.Valid(body) {
			t.Fatalf("%s: body %q is not JSON", q, body)
		}
	}
}

// TestBytesAbort checks that a huge /bytes stops when the client leaves.
func TestBytesAbort(t *testing.T) {
	base := "http://" + serve(t)
	resp, err := client.Get(base + "/bytes?n=10737418240")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100000)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	if i := CheckPattern(buf, 0); i >= 0 {
		t.Fatalf("pattern differs at byte %d", i)
	}
	resp.Body.Close() // the server's next Write fails and the handler returns
}

func TestEcho(t *testing.T) {
	base := "http://" + serve(t)
	data := randomBytes(5<<20, 1)
	resp, body := do(t, "POST", base+"/echo", bytes.NewReader(data), map[string]string{
		"Content-Type": "application/x-test",
		"X-Echo-Trace": "abc 123",
		"X-Other":      "not echoed",
	})
	wantStatus(t, resp, 200)
	if !bytes.Equal(body, data) {
		t.Fatalf("echo of %d bytes came back as %d different bytes", len(data), len(body))
	}
	if resp.ContentLength != int64(len(data)) {
		t.Fatalf("Content-Length %d, want %d", resp.ContentLength, len(data))
	}
	if got := resp.Header.Get("Content-Type"); got != "application/x-test" {
		t.Fatalf("Content-Type %q", got)
	}
	if got := resp.Header.Get("X-Echo-Trace"); got != "abc 123" {
		t.Fatalf("X-Echo-Trace %q", got)
	}
	if got := resp.Header.Get("X-Other"); got != "" {
		t.Fatalf("X-Other echoed: %q", got)
	}

	// PUT with an unknown length: chunked both ways, no Content-Type.
	data = data[:1<<20+17]
	resp, body = do(t, "PUT", base+"/echo", io.MultiReader(bytes.NewReader(data)), nil)
	wantStatus(t, resp, 200)
	if !bytes.Equal(body, data) || resp.ContentLength != -1 {
		t.Fatalf("chunked echo: %d bytes (equal %v), Content-Length %d", len(body), bytes.Equal(body, data), resp.ContentLength)
	}
	if ct, ok := resp.Header["Content-Type"]; ok {
		t.Fatalf("Content-Type %q set without one in the request", ct)
	}

	resp, body = do(t, "POST", base+"/echo", http.NoBody, nil)
	wantStatus(t, resp, 200)
	if len(body) != 0 || resp.ContentLength != 0 {
		t.Fatalf("empty echo: %d bytes, Content-Length %d", len(body), resp.ContentLength)
	}
}

// TestEchoStreams checks that /echo answers the first part of a body
// before the rest has been sent.
func TestEchoStreams(t *testing.T) {
	base := "http://" + serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/echo", pr)
	first := randomBytes(40000, 2)
	go pw.Write(first)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, len(first))
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, first) {
		t.Fatal("first part echoed wrong")
	}
	second := []byte("and the rest")
	go func() {
		pw.Write(second)
		pw.Close()
	}()
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(rest, second) {
		t.Fatalf("rest %q, %v", rest, err)
	}
}

func TestSink(t *testing.T) {
	base := "http://" + serve(t)
	for _, n := range []int{0, 1, 7<<20 + 3} {
		data := randomBytes(n, 3)
		resp, body := do(t, "POST", base+"/sink", bytes.NewReader(data), nil)
		wantStatus(t, resp, 200)
		var got struct {
			Bytes  int64  `json:"bytes"`
			SHA256 string `json:"sha256"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		sum := sha256.Sum256(data)
		if got.Bytes != int64(n) || got.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("n=%d: got %+v, want sha256 %x", n, got, sum)
		}
	}
}

// readLine reads one line from br, failing the test if it takes longer
// than d; cancel must abort the read (by cancelling the request).
func readLine(t *testing.T, br *bufio.Reader, d time.Duration, cancel func()) string {
	t.Helper()
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := br.ReadString('\n')
		ch <- result{s, err}
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("reading a line: %v (got %q)", r.err, r.s)
		}
		return r.s
	case <-timer.C:
		cancel()
		<-ch
		t.Fatalf("no line within %v", d)
	}
	return ""
}

func TestEvents(t *testing.T) {
	base := "http://" + serve(t)

	// The whole response takes 3 × 2 s; the first event must come at once.
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events?n=4&interval=2s", nil)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	wantStatus(t, resp, 200)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	if line := readLine(t, br, time.Second, cancel); line != "data: tick 1\n" {
		t.Fatalf("first line %q", line)
	}
	if line := readLine(t, br, time.Second, cancel); line != "\n" {
		t.Fatalf("second line %q", line)
	}
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Fatalf("first event after %v", el)
	}
	cancel() // do not wait for the rest

	// A fast stream, read to its end.
	resp, body := do(t, "GET", base+"/events?n=5&interval=10ms", nil, nil)
	wantStatus(t, resp, 200)
	want := "data: tick 1\n\ndata: tick 2\n\ndata: tick 3\n\ndata: tick 4\n\ndata: tick 5\n\n"
	if string(body) != want {
		t.Fatalf("body %q, want %q", body, want)
	}
	resp, body = do(t, "GET", base+"/events?n=0", nil, nil)
	wantStatus(t, resp, 200)
	if len(body) != 0 {
		t.Fatalf("n=0: body %q", body)
	}
	for _, q := range []string{"n=1001", "n=-1", "interval=11s", "interval=-1s", "interval=5"} {
		resp, _ := do(t, "GET", base+"/events?"+q, nil, nil)
		wantStatus(t, resp, 400)
	}
}

func TestChunked(t *testing.T) {
	base := "http://" + serve(t)
	resp, body := do(t, "GET", base+"/chunked?n=4", nil, nil)
	wantStatus(t, resp, 200)
	if resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("Content-Length %d, Transfer-Encoding %q", resp.ContentLength, resp.TransferEncoding)
	}
	if string(body) != "chunk 1\nchunk 2\nchunk 3\nchunk 4\n" {
		t.Fatalf("body %q", body)
	}
	resp, body = do(t, "GET", base+"/chunked?n=0", nil, nil)
	wantStatus(t, resp, 200)
	if len(body) != 0 || resp.ContentLength != -1 {
		t.Fatalf("n=0: body %q, Content-Length %d", body, resp.ContentLength)
	}
}

// wsDial connects to /ws with a deadline on every operation.
func wsDial(t *testing.T, addr string) *websocket.Conn {
	t.Helper()
	ws, err := websocket.Dial("ws://"+addr+"/ws", "", "http://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	ws.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { ws.Close() })
	return ws
}

func TestWebSocket(t *testing.T) {
	addr := serve(t)
	ws := wsDial(t, addr)

	bin := randomBytes(1<<20, 4)
	if err := websocket.Message.Send(ws, bin); err != nil {
		t.Fatal(err)
	}
	var got wsMsg
	if err := wsCodec.Receive(ws, &got); err != nil {
		t.Fatal(err)
	}
	if got.typ != websocket.BinaryFrame || !bytes.Equal(got.data, bin) {
		t.Fatalf("binary echo: type %d, %d bytes (equal %v)", got.typ, len(got.data), bytes.Equal(got.data, bin))
	}

	if err := websocket.Message.Send(ws, "héllo, tunnel"); err != nil {
		t.Fatal(err)
	}
	if err := wsCodec.Receive(ws, &got); err != nil {
		t.Fatal(err)
	}
	if got.typ != websocket.TextFrame || string(got.data) != "héllo, tunnel" {
		t.Fatalf("text echo: type %d, %q", got.typ, got.data)
	}

	// Empty messages come back too.
	if err := websocket.Message.Send(ws, []byte{}); err != nil {
		t.Fatal(err)
	}
	if err := wsCodec.Receive(ws, &got); err != nil || got.typ != websocket.BinaryFrame || len(got.data) != 0 {
		t.Fatalf("empty echo: type %d, %d bytes, %v", got.typ, len(got.data), err)
	}
}

// TestWebSocketTooLarge checks that a frame over MaxWSMessage ends the
// connection instead of being buffered.
func TestWebSocketTooLarge(t *testing.T) {
	ws := wsDial(t, serve(t))
	big := make([]byte, MaxWSMessage+1)
	// The server may close before it has read everything: ignore send errors.
	go websocket.Message.Send(ws, big)
	var got wsMsg
	if err := wsCodec.Receive(ws, &got); err == nil {
		t.Fatalf("got a %d-byte reply to an oversized frame", len(got.data))
	}
}

// TestWebSocketNoOrigin checks that a handshake without Origin (as from
// non-browser clients) is accepted, and that a plain GET /ws is refused
// with 426 rather than a panic.
func TestWebSocketNoOrigin(t *testing.T) {
	addr := serve(t)
	c, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 101 ") {
		t.Fatalf("handshake without Origin: %q, %v", line, err)
	}

	resp, body := do(t, "GET", "http://"+addr+"/ws", nil, nil)
	wantStatus(t, resp, http.StatusUpgradeRequired)
	if !json.Valid(body) {
		t.Fatalf("body %q", body)
	}
}

func TestSlow(t *testing.T) {
	base := "http://" + serve(t)
	start := time.Now()
	resp, body := do(t, "GET", base+"/slow?delay=100ms", nil, nil)
	wantStatus(t, resp, 200)
	if string(body) != "ok" || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("body %q after %v", body, time.Since(start))
	}

	// A client that gives up first gets its timeout; the handler returns.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/slow?delay=60s", nil)
	if resp, err := client.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			resp.Body.Close()
		}
		t.Fatalf("want a deadline error, got %v", err)
	}
	resp, _ = do(t, "GET", base+"/slow?delay=61s", nil, nil)
	wantStatus(t, resp, 400)
}

func TestStatus(t *testing.T) {
	base := "http://" + serve(t)
	resp, body := do(t, "GET", base+"/status/418", nil, nil)
	wantStatus(t, resp, 418)
	if string(body) != "status 418\n" {
		t.Fatalf("body %q", body)
	}
	for _, c := range []string{"200", "404", "503", "599"} {
		resp, body := do(t, "GET", base+"/status/"+c, nil, nil)
		if resp.Status[:3] != c || string(body) != "status "+c+"\n" {
			t.Fatalf("/status/%s: %s %q", c, resp.Status, body)
		}
	}
	resp, body = do(t, "GET", base+"/status/204", nil, nil)
	wantStatus(t, resp, 204)
	if len(body) != 0 {
		t.Fatalf("204 body %q", body)
	}
	for _, c := range []string{"100", "101", "199", "600", "abc", ""} {
		resp, _ := do(t, "GET", base+"/status/"+c, nil, nil)
		wantStatus(t, resp, 400)
	}
	resp, _ = do(t, "GET", base+"/status/418/x", nil, nil)
	wantStatus(t, resp, 404)
}

func TestHeaders(t *testing.T) {
	addr := serve(t)
	resp, body := do(t, "GET", "http://"+addr+"/headers", nil, map[string]string{
		"X-Forwarded-For":   "203.0.113.7, 10.0.0.1",
		"X-Forwarded-Proto": "https",
	})
	wantStatus(t, resp, 200)
	var got HeadersReply
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if got.Host != addr || got.Method != "GET" || got.URI != "/headers" {
		t.Fatalf("got %+v", got)
	}
	if xff := got.Headers.Get("X-Forwarded-For"); xff != "203.0.113.7, 10.0.0.1" {
		t.Fatalf("X-Forwarded-For %q in %s", xff, body)
	}
	if p := got.Headers.Get("X-Forwarded-Proto"); p != "https" {
		t.Fatalf("X-Forwarded-Proto %q", p)
	}
}

func TestIndex(t *testing.T) {
	base := "http://" + serve(t)
	resp, body := do(t, "GET", base+"/", nil, map[string]string{
		"X-Forwarded-For":   "198.51.100.9",
		"X-Forwarded-Host":  `<script>alert("x")</script>.example`,
		"X-Forwarded-Proto": "https",
	})
	wantStatus(t, resp, 200)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type %q", ct)
	}
	page := string(body)
	for _, s := range []string{"<title>wsgrok demo</title>", "198.51.100.9", "https", strings.TrimPrefix(base, "http://"),
		`new EventSource("/events`, `action="/echo"`, `href="/hello"`, "&lt;script&gt;"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if strings.Contains(page, `<script>alert`) {
		t.Error("X-Forwarded-Host is not escaped")
	}
}

func TestNotFound(t *testing.T) {
	base := "http://" + serve(t)
	for _, p := range []string{"/nope", "/hello/", "/index.html"} {
		resp, body := do(t, "GET", base+p, nil, nil)
		wantStatus(t, resp, 404)
		var got map[string]string
		if err := json.Unmarshal(body, &got); err != nil || got["error"] != "not found" || got["path"] != p {
			t.Fatalf("%s: %s %q", p, resp.Header.Get("Content-Type"), body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s: Content-Type %q", p, ct)
		}
	}
}

// TestHTTP2 runs a few endpoints over cleartext HTTP/2 (prior knowledge),
// as wsgrok-backend -h2c serves them.
func TestHTTP2(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Handler(), Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(ln)
	defer srv.Close()

	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: testTimeout}
	base := "http://" + ln.Addr().String()

	resp, err := c.Get(base + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(b) != "hello\n" {
		t.Fatalf("%s %q", resp.Proto, b)
	}

	data := randomBytes(3<<20, 5)
	resp, err = c.Post(base+"/echo", "application/octet-stream", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("h2 echo: %d bytes, %v", len(b), err)
	}

	resp, err = c.Get(base + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("h2 /ws: %s", resp.Status)
	}
}

package harness

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/bench/backend"
)

// countAtLeast is how many samples of h are ≥ d, to bucket precision.
func countAtLeast(h *Histogram, d time.Duration) uint64 {
	var n uint64
	for i := range h.counts {
		if low, w := bucketRange(i); low+w > int64(d) {
			n += h.counts[i].Load()
		}
	}
	return n
}

// connCounter counts the connections a test server accepted.
type connCounter struct {
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func (c *connCounter) hook(conn net.Conn, s http.ConnState) {
	if s == http.StateNew {
		c.mu.Lock()
		if c.conns == nil {
			c.conns = map[net.Conn]bool{}
		}
		c.conns[conn] = true
		c.mu.Unlock()
	}
}

func (c *connCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}

func mustRun(t *testing.T, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestClosedLoopCounts(t *testing.T) {
	var served atomic.Int64
	var cc connCounter
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, "hello\n")
	}))
	srv.Config.ConnState = cc.hook
	srv.Start()
	defer srv.Close()

	r := mustRun(t, Config{URL: srv.URL, Conns: 4, Requests: 500})
	if r.Requests != 500 || r.Errors != 0 || served.Load() != 500 {
		t.Fatalf("requests %d errors %d served %d, want 500, 0, 500", r.Requests, r.Errors, served.Load())
	}
	if r.Latency.Count() != 500 || r.Bytes != 500*6 {
		t.Fatalf("histogram %d samples, %d bytes; want 500 and %d", r.Latency.Count(), r.Bytes, 500*6)
	}
	if n := cc.count(); n != 4 {
		t.Fatalf("%d connections, want 4 (one per worker, kept alive)", n)
	}
	if r.RPS() <= 0 || r.Latency.Quantile(0.5) <= 0 {
		t.Fatalf("rps %v p50 %v", r.RPS(), r.Latency.Quantile(0.5))
	}
}

func TestDurationAndWarmup(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		time.Sleep(time.Millisecond)
	}))
	defer srv.Close()
	measured := false
	r := mustRun(t, Config{URL: srv.URL, Conns: 2, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond,
		OnMeasure: func() { measured = served.Load() > 0 }})
	if !measured {
		t.Fatal("OnMeasure ran before the warmup sent anything")
	}
	if r.Elapsed < 300*time.Millisecond || r.Elapsed > 2*time.Second {
		t.Fatalf("elapsed %v, want about 300ms", r.Elapsed)
	}
	if r.Requests == 0 || r.Requests >= served.Load() {
		t.Fatalf("measured %d of %d served: warmup requests must not count", r.Requests, served.Load())
	}
}

func TestErrorsCounted(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 == 0 {
			w.Header().Set("X-Wsgrok-Error", "WSG_TEST")
			http.Error(w, "nope", http.StatusBadGateway)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	r := mustRun(t, Config{URL: srv.URL, Conns: 2, Requests: 400})
	if r.Errors != 100 || r.Requests != 300 {
		t.Fatalf("errors %d ok %d, want 100 and 300", r.Errors, r.Requests)
	}
	if len(r.ErrorSamples) != 1 || !strings.Contains(r.ErrorSamples[0], "502") || !strings.Contains(r.ErrorSamples[0], "WSG_TEST") {
		t.Fatalf("error samples %q", r.ErrorSamples)
	}

	// A server that stops answering: timeouts, then a refused connection.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	r = mustRun(t, Config{URL: hang.URL, Requests: 2, Timeout: 100 * time.Millisecond})
	hang.Close()
	if r.Errors != 2 || !strings.Contains(r.ErrorSamples[0], "deadline exceeded") {
		t.Fatalf("hanging server: errors %d %q", r.Errors, r.ErrorSamples)
	}
	r = mustRun(t, Config{URL: hang.URL, Requests: 3})
	if r.Errors != 3 || r.Requests != 0 {
		t.Fatalf("closed server: errors %d ok %d", r.Errors, r.Requests)
	}
}

// TestOpenLoopCountsStalls is the reason for open-loop mode: the server
// stalls one request for 500 ms while requests keep falling due every 5 ms.
// Measured from their due times, the requests queued behind the stall see
// up to 500 ms; a closed loop would have recorded one slow request.
func TestOpenLoopCountsStalls(t *testing.T) {
	const stall = 500 * time.Millisecond
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 20 {
			time.Sleep(stall)
		}
	}))
	defer srv.Close()

	open := mustRun(t, Config{URL: srv.URL, Rate: 200, Duration: 1500 * time.Millisecond})
	if open.Latency.Max() < stall {
		t.Errorf("open loop: max %v, want ≥ %v", open.Latency.Max(), stall)
	}
	// About 100 requests fall due during the stall, waiting from 500 ms
	// down to 0: about half of them 250 ms or more.
	if slow := countAtLeast(open.Latency, stall/2); slow < 30 {
		t.Errorf("open loop: %d requests ≥ %v, want ≥ 30 (the ones due during the stall)", slow, stall/2)
	}
	if open.Late < 50 || open.Dropped != 0 {
		t.Errorf("open loop: late %d dropped %d, want ≥ 50 late and none dropped", open.Late, open.Dropped)
	}
	if open.Requests < 280 || open.Requests > 302 {
		t.Errorf("open loop: %d requests, want about 300 (200/s for 1.5 s)", open.Requests)
	}

	n.Store(0)
	closed := mustRun(t, Config{URL: srv.URL, Duration: 1500 * time.Millisecond})
	if slow := countAtLeast(closed.Latency, stall/2); slow != 1 {
		t.Errorf("closed loop: %d requests ≥ %v, want exactly the stalled one", slow, stall/2)
	}
}

func TestOpenLoopDrops(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
	}))
	defer srv.Close()
	// One worker doing 20/s cannot keep up with 500/s; the backlog holds 10.
	r := mustRun(t, Config{URL: srv.URL, Rate: 500, Backlog: 10, Requests: 200})
	if r.Dropped == 0 || r.Requests+r.Dropped != 200 {
		t.Fatalf("ok %d dropped %d, want drops and ok+dropped = 200", r.Requests, r.Dropped)
	}
}

func TestBodyAndH2C(t *testing.T) {
	var cc connCounter
	srv := httptest.NewUnstartedServer(backend.Handler())
	srv.Config.ConnState = cc.hook
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	var h2 atomic.Int64
	inner := srv.Config.Handler
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			h2.Add(1)
		}
		inner.ServeHTTP(w, r)
	})
	srv.Start()
	defer srv.Close()

	r := mustRun(t, Config{URL: srv.URL + "/echo", Body: 100 << 10, Conns: 2, Streams: 4,
		Client: ClientOptions{H2: true}, Requests: 80})
	if r.Errors != 0 || r.Requests != 80 || r.Bytes != 80*2*(100<<10) {
		t.Fatalf("errors %d %q, ok %d, bytes %d; want 0, 80, %d", r.Errors, r.ErrorSamples, r.Requests, r.Bytes, 80*2*(100<<10))
	}
	if h2.Load() != 80 || cc.count() != 2 {
		t.Fatalf("%d HTTP/2 requests on %d connections, want 80 on 2", h2.Load(), cc.count())
	}
	if _, err := Run(context.Background(), Config{URL: srv.URL, Streams: 2, Requests: 1}); err == nil {
		t.Fatal("streams without HTTP/2 accepted")
	}
}

func TestHTTPSAndLocalhost(t *testing.T) {
	srv := httptest.NewUnstartedServer(backend.Handler())
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	// Without trust: certificate errors. With -insecure, *.localhost is
	// dialed on 127.0.0.1, over HTTP/2.
	r := mustRun(t, Config{URL: "https://x.localhost:" + port + "/hello", Requests: 1})
	if r.Errors != 1 || !strings.Contains(r.ErrorSamples[0], "certificate") {
		t.Fatalf("untrusted: %d errors %q", r.Errors, r.ErrorSamples)
	}
	r = mustRun(t, Config{URL: "https://x.localhost:" + port + "/hello", Requests: 5, Conns: 1, Streams: 2,
		Client: ClientOptions{H2: true, Insecure: true}})
	if r.Errors != 0 || r.Requests != 5 {
		t.Fatalf("insecure h2: %d errors %q", r.Errors, r.ErrorSamples)
	}
	// -connect-to: any host name goes to the given address.
	r = mustRun(t, Config{URL: "https://wsgrok-bench.invalid/hello", Requests: 3,
		Client: ClientOptions{Insecure: true, ConnectTo: srv.Listener.Addr().String()}})
	if r.Errors != 0 || r.Requests != 3 {
		t.Fatalf("connect-to: %d errors %q", r.Errors, r.ErrorSamples)
	}
}

func TestWebSocketAndDownload(t *testing.T) {
	srv := httptest.NewServer(backend.Handler())
	defer srv.Close()
	r := mustRun(t, Config{URL: srv.URL + "/ws", WS: true, MsgSize: 1000, Conns: 3, Requests: 300})
	if r.Errors != 0 || r.Requests != 300 || r.Bytes != 300*2*1000 {
		t.Fatalf("ws: errors %d %q ok %d bytes %d", r.Errors, r.ErrorSamples, r.Requests, r.Bytes)
	}
	r = mustRun(t, Config{URL: strings.Replace(srv.URL, "http", "ws", 1) + "/nope", WS: true, Requests: 1})
	if r.Errors != 1 {
		t.Fatalf("ws to a 404: %d errors", r.Errors)
	}
	r = mustRun(t, Config{URL: srv.URL + "/bytes?n=10485760", Conns: 2, Requests: 2})
	if r.Errors != 0 || r.Bytes != 2*10<<20 || r.MiBps() <= 0 {
		t.Fatalf("download: errors %d %q bytes %d", r.Errors, r.ErrorSamples, r.Bytes)
	}
}

func TestProgressLine(t *testing.T) {
	srv := httptest.NewServer(backend.Handler())
	defer srv.Close()
	var buf strings.Builder
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	})
	mustRun(t, Config{URL: srv.URL + "/hello", Duration: 1100 * time.Millisecond, Progress: w, ProgressLines: true, Label: "x"})
	mu.Lock()
	defer mu.Unlock()
	if !strings.HasPrefix(buf.String(), "x 1s ") || !strings.Contains(buf.String(), "/s p99 ") || !strings.Contains(buf.String(), "errs 0") {
		t.Fatalf("progress %q", buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 85 * time.Microsecond: "85.0µs", 1234 * time.Microsecond: "1.23ms",
		123456 * time.Microsecond: "123ms", 2500 * time.Millisecond: "2.50s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

package harness

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestRelayCarriesBothWays runs both halves of the bare relay in front of
// a real HTTP server and sends a GET and a 1 MiB echo through them, on
// one kept-alive connection; cancelling the context ends both halves.
func TestRelayCarriesBothWays(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cert := filepath.Join(t.TempDir(), "relay.pem")
	start := func(cfg RelayConfig) (string, chan error) {
		addr := make(chan string, 1)
		done := make(chan error, 1)
		cfg.Listen, cfg.Ready = "127.0.0.1:0", func(a net.Addr) { addr <- a.String() }
		go func() { done <- Relay(ctx, cfg) }()
		select {
		case a := <-addr:
			return a, done
		case err := <-done:
			t.Fatalf("relay: %v", err)
		}
		return "", nil
	}
	back, backDone := start(RelayConfig{To: ln.Addr().String(), CertOut: cert})
	public, publicDone := start(RelayConfig{To: back, DialCA: cert})

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	body := make([]byte, 1<<20)
	rand.Read(body)
	for _, b := range [][]byte{[]byte("hello"), body} {
		resp, err := cl.Post("http://"+public+"/", "application/octet-stream", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("echo of %d octets: got %d octets, %v", len(b), len(got), err)
		}
	}

	cancel()
	for _, done := range []chan error{backDone, publicDone} {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("relay ended with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("relay still running 10 s after its context ended")
		}
	}
}

// TestRelayNeedsATarget: a relay with nowhere to relay to says so.
func TestRelayNeedsATarget(t *testing.T) {
	if err := Relay(context.Background(), RelayConfig{Listen: "127.0.0.1:0"}); err == nil {
		t.Error("no error without -to")
	}
}

// TestRatioToRelay: a wsgrok row gives its share of the relay's
// throughput; the relay's own row and direct's do not.
func TestRatioToRelay(t *testing.T) {
	sc := ScenarioReport{Contenders: []ContenderReport{
		{Name: direct}, {Name: relay, Ratio: 0.5}, {Name: wsgrokHTTP, Ratio: 0.25},
	}}
	want := []string{"", "0.500×", "0.250× (0.50× relay)"}
	for i := range sc.Contenders {
		if got, _, _, _, _ := sc.Contenders[i].cells(&sc); got != want[i] {
			t.Errorf("%s: %q, want %q", sc.Contenders[i].Name, got, want[i])
		}
	}
	sc.Contenders = sc.Contenders[:1:1]
	sc.Contenders = append(sc.Contenders, ContenderReport{Name: wsgrokHTTP, Ratio: 0.25})
	if got, _, _, _, _ := sc.Contenders[1].cells(&sc); got != "0.250×" {
		t.Errorf("without a relay: %q", got)
	}
}

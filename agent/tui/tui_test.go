package tui

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/agent"
)

// lockedBuffer is the program's output, written by its renderer and read
// by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runScreen runs a screen on pipes, with events coming from other
// goroutines all along, until stop does something that ends it.
func runScreen(t *testing.T, stop func(ctx context.CancelFunc, keys io.Writer)) (out string) {
	t.Helper()
	in, keys := io.Pipe()
	defer keys.Close()
	var buf lockedBuffer
	s := New(Options{
		Version: "9.9.9", Edge: "127.0.0.1:4443", Input: in, Output: &buf,
		Sessions: func() []SessionInfo { return []SessionInfo{{Account: "alice", RTT: time.Millisecond}} },
	})
	tun := &agent.Tunnel{Upstream: "3000"}
	s.Status("online", nil)
	s.Forwarding(tun, []string{"https://demo.localhost"})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var wg sync.WaitGroup
	quit := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-quit:
					return
				default:
				}
				s.Request(agent.RequestEvent{Tunnel: tun, Method: "GET", Path: "/hello", Status: 200, Duration: time.Millisecond})
				time.Sleep(time.Millisecond)
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), "/hello") {
		if time.Now().After(deadline) {
			t.Fatalf("no request drawn in 10s: %q", buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop(cancel, keys)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return in 10s")
	}
	close(quit)
	wg.Wait()
	// Events after Run are harmless.
	s.Request(agent.RequestEvent{Tunnel: tun, Method: "GET", Path: "/late", Status: 200})
	return buf.String()
}

func TestScreenRunQuitKey(t *testing.T) {
	out := runScreen(t, func(_ context.CancelFunc, keys io.Writer) { keys.Write([]byte("q")) })
	for _, want := range []string{"wsgrok", "9.9.9", "https://demo.localhost", "online", "\x1b[?1049h", "\x1b[?1049l"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestScreenRunContextEnds(t *testing.T) {
	out := runScreen(t, func(cancel context.CancelFunc, _ io.Writer) { cancel() })
	if !strings.Contains(out, "\x1b[?1049l") {
		t.Errorf("alternate screen not left: %q", out[max(len(out)-200, 0):])
	}
}

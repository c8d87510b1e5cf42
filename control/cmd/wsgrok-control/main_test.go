package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsThenEnv(t *testing.T) {
	t.Setenv("WSGROK_DOMAIN", "tunnels.example.com")
	t.Setenv("WSGROK_ADDR", "127.0.0.1:9999")
	o, err := parse([]string{"--addr", "127.0.0.1:9001"})
	if err != nil {
		t.Fatal(err)
	}
	if o.addr != "127.0.0.1:9001" || o.domain != "tunnels.example.com" || o.dataDir != "wsgrok-control-data" {
		t.Fatalf("%+v", o)
	}
	if _, err := parse([]string{"--tls-cert", "c.pem"}); err == nil || !strings.Contains(err.Error(), "go together") {
		t.Fatalf("cert without key: %v", err)
	}
	if _, err := parse([]string{"--edge-secret", "short"}); err == nil {
		t.Fatal("short edge secret accepted")
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "d")}, pw)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	_, url, ok := strings.Cut(strings.TrimSpace(line), "dashboard at ")
	if !ok {
		t.Fatalf("first line: %q", line)
	}
	resp, err := http.Get(url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /login: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

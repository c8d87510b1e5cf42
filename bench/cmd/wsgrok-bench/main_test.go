package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgrok/wsgrok/bench/backend"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{
		"0": 0, "1048576": 1 << 20, "64k": 64 << 10, "64KiB": 64 << 10, "1M": 1 << 20,
		"1MiB": 1 << 20, "2mb": 2 << 20, "1G": 1 << 30, "10B": 10,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "k", "1x", "-1", "1.5M", "99999999999G"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

func TestRunWritesReports(t *testing.T) {
	srv := httptest.NewServer(backend.Handler())
	defer srv.Close()
	dir := t.TempDir()
	js, svg := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.svg")
	var stdout, stderr strings.Builder
	code := run(context.Background(), []string{srv.URL + "/hello", "-n", "50", "-c", "2", "-q", "-json", js, "-svg", svg}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "p99.9") || !strings.Contains(stdout.String(), srv.URL) {
		t.Fatalf("table:\n%s", stdout.String())
	}
	var out struct {
		Results []struct {
			Requests int64 `json:"requests"`
			Errors   int64 `json:"errors"`
		} `json:"results"`
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Results) != 1 || out.Results[0].Requests != 50 || out.Results[0].Errors != 0 {
		t.Fatalf("json %s: %v", b, err)
	}
	if b, err := os.ReadFile(svg); err != nil || !strings.HasPrefix(string(b), "<svg") || !strings.Contains(string(b), "<polyline") {
		t.Fatalf("svg: %v %.200s", err, b)
	}
	if code := run(context.Background(), []string{"-c"}, &stdout, &stderr); code != 2 {
		t.Fatalf("bad flags: exit %d", code)
	}
}

package wire

import (
	"errors"
	"net/http"
	"reflect"
	"testing"
)

func req(extra ...HeaderField) []HeaderField {
	return append([]HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"}, {Name: ":authority", Value: "demo.localhost"}, {Name: ":path", Value: "/x?y=1"}}, extra...)
}

func TestParseRequestHead(t *testing.T) {
	h, err := ParseRequestHead(req(HeaderField{Name: "accept", Value: "*/*"}))
	if err != nil || h.Method != "GET" || h.Path != "/x?y=1" || h.Authority != "demo.localhost" || len(h.Header) != 1 {
		t.Fatalf("%+v %v", h, err)
	}
	round := h.AppendFields(nil)
	if h2, err := ParseRequestHead(round); err != nil || h2.Path != h.Path {
		t.Fatalf("round trip %v", err)
	}
	up, err := ParseRequestHead(req(HeaderField{Name: "upgrade", Value: "websocket"}, HeaderField{Name: "connection", Value: "upgrade"}))
	if err != nil || Get(up.Header, "upgrade") != "websocket" {
		t.Fatalf("upgrade: %v", err)
	}
}

func TestParseRequestHeadRejects(t *testing.T) {
	for name, fields := range map[string][]HeaderField{
		"no method":         req()[1:],
		"pseudo twice":      append(req(), HeaderField{Name: ":path", Value: "/"})[:4:4],
		"unknown pseudo":    append([]HeaderField{{Name: ":protocol", Value: "x"}}, req()...),
		"pseudo after":      req(HeaderField{Name: "a", Value: "b"}, HeaderField{Name: ":x", Value: "y"}),
		"upper-case name":   req(HeaderField{Name: "Accept", Value: "x"}),
		"CRLF in value":     req(HeaderField{Name: "x-a", Value: "a\r\nSet-Cookie: evil=1"}),
		"NUL in value":      req(HeaderField{Name: "x-a", Value: "a\x00"}),
		"space in name":     req(HeaderField{Name: "x a", Value: "b"}),
		"transfer-encoding": req(HeaderField{Name: "transfer-encoding", Value: "chunked"}),
		"keep-alive":        req(HeaderField{Name: "keep-alive", Value: "5"}),
		"connection: close": req(HeaderField{Name: "connection", Value: "close"}),
		"te gzip":           req(HeaderField{Name: "te", Value: "gzip"}),
		"absolute path":     {{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"}, {Name: ":path", Value: "http://evil/"}},
		"bad method":        {{Name: ":method", Value: "G ET"}, {Name: ":scheme", Value: "http"}, {Name: ":path", Value: "/"}},
		"CRLF in path":      {{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"}, {Name: ":path", Value: "/\r\nx"}},
	} {
		if name == "pseudo twice" {
			fields = []HeaderField{{Name: ":method", Value: "GET"}, {Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"}, {Name: ":path", Value: "/"}}
		}
		if _, err := ParseRequestHead(fields); !errors.Is(err, ErrMalformedHead) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
}

func TestParseResponseHead(t *testing.T) {
	h, err := ParseResponseHead([]HeaderField{{Name: ":status", Value: "200"}, {Name: "content-type", Value: "text/plain"}}, false)
	if err != nil || h.Status != 200 {
		t.Fatalf("%+v %v", h, err)
	}
	for _, bad := range [][]HeaderField{
		nil,
		{{Name: ":status", Value: "20"}},
		{{Name: ":status", Value: "600"}},
		{{Name: ":status", Value: "abc"}},
		{{Name: "content-type", Value: "x"}, {Name: ":status", Value: "200"}},
		{{Name: ":status", Value: "200"}, {Name: "set-cookie", Value: "a\r\nb"}},
		{{Name: ":status", Value: "200"}, {Name: "Content-Type", Value: "x"}},
	} {
		if _, err := ParseResponseHead(bad, false); !errors.Is(err, ErrMalformedHead) {
			t.Errorf("%v accepted", bad)
		}
	}
	if tr, err := ParseResponseHead([]HeaderField{{Name: "grpc-status", Value: "0"}}, true); err != nil || tr.Status != 0 {
		t.Fatalf("trailers %v", err)
	}
	if _, err := ParseResponseHead([]HeaderField{{Name: ":status", Value: "200"}}, true); err == nil {
		t.Fatal("trailers with :status accepted")
	}
}

func TestAppendHTTPHeader(t *testing.T) {
	h := http.Header{}
	h.Set("Content-Type", "text/plain")
	h.Set("Connection", "keep-alive, X-Private")
	h.Set("X-Private", "hop")
	h.Set("Keep-Alive", "timeout=5")
	h.Set("Transfer-Encoding", "chunked")
	h.Set("TE", "trailers, gzip")
	h.Add("X-Multi", "a")
	h.Add("X-Multi", "b")
	got := AppendHTTPHeader(nil, h)
	want := map[string]int{"content-type": 1, "te": 1, "x-multi": 2}
	count := map[string]int{}
	for _, f := range got {
		count[f.Name]++
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s: %d fields, want %d (%v)", k, count[k], n, got)
		}
	}
	if len(count) != len(want) {
		t.Errorf("unexpected fields: %v", got)
	}
	if _, err := ParseRequestHead(req(got...)); err != nil {
		t.Fatalf("converted header is not a valid head: %v", err)
	}
	ws := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Key": {"k"}}
	got = AppendHTTPHeader(nil, ws)
	if Get(got, "upgrade") != "websocket" || Get(got, "connection") != "upgrade" || Get(got, "sec-websocket-key") != "k" {
		t.Fatalf("upgrade lost: %v", got)
	}
	back := http.Header{}
	ToHTTPHeader(back, got)
	if back.Get("Sec-Websocket-Key") != "k" {
		t.Fatalf("%v", back)
	}
}

// TestToHTTPHeaderKeepsKeysApart: the values of keys new to the map
// share one array, so a later value of one key must not land in the
// next key's slot.
func TestToHTTPHeaderKeepsKeysApart(t *testing.T) {
	h := http.Header{"Vary": {"Origin"}}
	ToHTTPHeader(h, []HeaderField{
		{Name: ":status", Value: "200"}, {Name: "set-cookie", Value: "a=1"}, {Name: "content-type", Value: "text/plain"},
		{Name: "vary", Value: "Accept"}, {Name: "set-cookie", Value: "b=2"}, {Name: "x-app", Value: "yes"},
	})
	want := http.Header{"Set-Cookie": {"a=1", "b=2"}, "Content-Type": {"text/plain"}, "Vary": {"Origin", "Accept"}, "X-App": {"yes"}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("got %v, want %v", h, want)
	}
	h["Content-Type"] = append(h["Content-Type"], "text/html")
	if h.Get("X-App") != "yes" {
		t.Fatalf("appending to one key changed another: %v", h)
	}
}

// BenchmarkToHTTPHeader converts the header list of a typical tunnelled
// request (a browser's GET and the edge's forwarding fields).
func BenchmarkToHTTPHeader(b *testing.B) {
	fields := []HeaderField{
		{Name: "user-agent", Value: "Mozilla/5.0"}, {Name: "accept", Value: "*/*"},
		{Name: "accept-language", Value: "en"}, {Name: "cookie", Value: "s=1"}, {Name: "x-app-trace", Value: "1"},
		{Name: "x-forwarded-for", Value: "203.0.113.9"}, {Name: "x-forwarded-proto", Value: "https"},
		{Name: "x-forwarded-host", Value: "demo.example.com"},
	}
	b.ReportAllocs()
	for b.Loop() {
		ToHTTPHeader(make(http.Header, len(fields)), fields)
	}
}

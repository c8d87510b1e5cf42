package edge

import (
	"errors"
	"strings"
	"testing"

	"github.com/wsgrok/wsgrok/wire"
)

func TestParseHTTP1Request(t *testing.T) {
	var r HTTP1Request
	head := "GET /a?b=1 HTTP/1.1\r\nHost: Demo.localhost:8080\r\nUser-Agent: x\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nX-Keep: 2\r\nTE: trailers\r\n\r\nBODY"
	n, err := ParseHTTP1Request([]byte(head), 4096, &r)
	if err != nil || n != len(head)-4 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if r.Method != "GET" || r.Target != "/a?b=1" || r.Authority != "Demo.localhost:8080" || r.Minor != 1 || r.ContentLength != -1 || r.CloseConn {
		t.Fatalf("%+v", r)
	}
	want := []wire.HeaderField{{Name: "user-agent", Value: "x"}, {Name: "x-keep", Value: "2"}, {Name: "te", Value: "trailers"}}
	if len(r.Header) != len(want) {
		t.Fatalf("header %v", r.Header)
	}
	for i := range want {
		if r.Header[i] != want[i] {
			t.Fatalf("header %v", r.Header)
		}
	}
}

func TestParseHTTP1Forms(t *testing.T) {
	var r HTTP1Request
	cases := []struct {
		head              string
		target, authority string
		closeConn         bool
	}{
		{"GET http://other.localhost:81/x?y HTTP/1.1\r\nHost: demo.localhost\r\n\r\n", "/x?y", "other.localhost:81", false},
		{"GET http://other.localhost HTTP/1.1\r\nHost: demo.localhost\r\n\r\n", "/", "other.localhost", false},
		{"OPTIONS * HTTP/1.1\r\nHost: demo.localhost\r\n\r\n", "*", "demo.localhost", false},
		{"GET / HTTP/1.0\r\n\r\n", "/", "", true},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\nHost: a\r\n\r\n", "/", "a", false},
		{"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "/", "a", true},
	}
	for _, c := range cases {
		if _, err := ParseHTTP1Request([]byte(c.head), 4096, &r); err != nil || r.Target != c.target || r.Authority != c.authority || r.CloseConn != c.closeConn {
			t.Errorf("%q: %+v %v", c.head, r, err)
		}
	}
}

func TestParseHTTP1Rejects(t *testing.T) {
	var r HTTP1Request
	for name, c := range map[string]struct {
		head string
		err  error
	}{
		"incomplete":         {"GET / HTTP/1.1\r\nHost: a\r\n", errH1Incomplete},
		"too large":          {"GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 5000) + "\r\n\r\n", errH1TooLarge},
		"too large unended":  {"GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 5000), errH1TooLarge},
		"too many fields":    {"GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: 1\r\n", 200) + "\r\n", errH1TooLarge},
		"bare LF":            {"GET / HTTP/1.1\nHost: a\n\n", errH1Bad},
		"bare LF in value":   {"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", errH1Bad},
		"bare CR":            {"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", errH1Bad},
		"space before colon": {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", errH1Bad},
		"obs-fold":           {"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", errH1Bad},
		"two hosts":          {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", errH1Bad},
		"CL conflict":        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", errH1Bad},
		"CL sign":            {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", errH1Bad},
		"CL negative":        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", errH1Bad},
		"no host in 1.1":     {"GET / HTTP/1.1\r\n\r\n", errH1Bad},
		"CONNECT":            {"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", errH1Bad},
		"http/2.0":           {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", errH1Version},
		"garbage version":    {"GET / FTP/1.0\r\nHost: a\r\n\r\n", errH1Bad},
		"two spaces":         {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", errH1Bad},
		"control in target":  {"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", errH1Bad},
		"NUL in value":       {"GET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n\r\n", errH1Bad},
		"userinfo authority": {"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", errH1Bad},
		"bad method":         {"G(ET / HTTP/1.1\r\nHost: a\r\n\r\n", errH1Bad},
		"empty name":         {"GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", errH1Bad},
	} {
		if _, err := ParseHTTP1Request([]byte(c.head), 4096, &r); !errors.Is(err, c.err) {
			t.Errorf("%s: got %v, want %v", name, err, c.err)
		}
	}
}

func TestParseHTTP1Flags(t *testing.T) {
	var r HTTP1Request
	ParseHTTP1Request([]byte("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"), 4096, &r)
	if !r.Upgrade || wire.Get(r.Header, "upgrade") != "websocket" {
		t.Fatalf("upgrade: %+v", r)
	}
	ParseHTTP1Request([]byte("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"), 4096, &r)
	if r.Upgrade || wire.Get(r.Header, "upgrade") != "" {
		t.Fatalf("Upgrade without Connection: upgrade is not a switch: %+v", r)
	}
	ParseHTTP1Request([]byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"), 4096, &r)
	if !r.Chunked || !r.Expect || wire.Get(r.Header, "transfer-encoding") != "" {
		t.Fatalf("%+v", r)
	}
}

func TestParseHTTP1AllocatesLittle(t *testing.T) {
	head := []byte("GET /hello HTTP/1.1\r\nHost: demo.localhost:8080\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n")
	var r HTTP1Request
	allocs := testing.AllocsPerRun(100, func() { ParseHTTP1Request(head, 4096, &r) })
	if allocs > 2 {
		t.Fatalf("%v allocations to parse a small head", allocs)
	}
}

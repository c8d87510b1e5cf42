package fuzz

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/wsgrok/wsgrok/agent/inspect"
)

// FuzzReplayEdit feeds the inspector's replay edit parser (the JSON body
// of POST /api/requests/{id}/replay, which any local process can send).
// It must never panic, must refuse with ErrBadEdit only, and whatever it
// accepts must be safe to put on the wire: a token method, an
// origin-form path without spaces or controls, valid header fields, a
// body within the limit.
func FuzzReplayEdit(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`,
		`{"method":"PUT","path":"/orders/7?dry=1","header":{"Content-Type":["application/json"],"X-Trace":["two"]},"body":"{\"sku\":\"B2\"}"}`,
		`{"body_base64":"AP94"}`, `{"body_base64":"not base64"}`,
		`{"method":"GE T"}`, `{"path":"no-slash"}`, `{"path":"/a b"}`, `{"path":"/#frag"}`, `{"path":"/%X0"}`, `{"path":"//host/x"}`,
		`{"header":{"X":["a\nb"]}}`, `{"header":{"Bad Name":["v"]}}`, `{"header":{"Host":["example.com"]}}`,
		`{"nope":1}`, `[1]`, `{"method":"GET"} {"x":1}`, `{"body":"` + strings.Repeat("x", 100) + `"}`,
	} {
		f.Add([]byte(s))
	}
	const maxBody = 64
	f.Fuzz(func(t *testing.T, b []byte) {
		ed, err := inspect.ParseEdit(b, maxBody)
		if err != nil {
			if !errors.Is(err, inspect.ErrBadEdit) {
				t.Fatalf("error not ErrBadEdit: %v", err)
			}
			return
		}
		if ed.Method != nil {
			m := *ed.Method
			if m == "" {
				t.Fatal("empty method accepted")
			}
			for _, r := range m {
				if !httpguts.IsTokenRune(r) {
					t.Fatalf("method %q accepted", m)
				}
			}
		}
		if ed.Path != nil {
			p := *ed.Path
			if p == "" || p[0] != '/' || strings.ContainsAny(p, " #\r\n\t\x00") {
				t.Fatalf("path %q accepted", p)
			}
		}
		n := 0
		for k, vs := range ed.Header {
			if !httpguts.ValidHeaderFieldName(k) {
				t.Fatalf("header name %q accepted", k)
			}
			for _, v := range vs {
				n++
				if !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("header value %q accepted", v)
				}
			}
		}
		if n > 200 {
			t.Fatalf("%d header lines accepted", n)
		}
		if ed.Body64 != nil {
			t.Fatal("body_base64 left undecoded")
		}
		if ed.Body != nil && len(*ed.Body) > maxBody {
			t.Fatalf("body of %d bytes accepted; limit %d", len(*ed.Body), maxBody)
		}
		// What is accepted builds a request the transport takes.
		method, path := http.MethodGet, "/"
		if ed.Method != nil {
			method = *ed.Method
		}
		if ed.Path != nil {
			path = *ed.Path
		}
		req, err := http.NewRequest(method, "http://127.0.0.1"+path, nil)
		if err != nil {
			t.Fatalf("accepted %s %q, but NewRequest says %v", method, path, err)
		}
		_ = req
	})
}

package fuzz

import (
	"strings"
	"testing"

	"github.com/wsgrok/wsgrok/edge"
)

// FuzzNormalizePath checks the path normalization that both policy and
// forwarding use: normalizing twice changes nothing (so the forwarded path
// is judged exactly as the first one was), and no accepted path keeps a
// dot segment, an empty segment or a character servers disagree on.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/b?c=d", "//admin", "/x/../admin", "/%2e%2e/", "/a%2Fb", "/admin;x=1", "/..;/admin", "/caf%C3%A9", "/a/./b/", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		n, err := edge.NormalizePath(target)
		if err != nil {
			return
		}
		if n.Path == "*" {
			return
		}
		again, err := edge.NormalizePath(n.RequestURI())
		if err != nil || again.Path != n.Path || again.Match != n.Match || again.Query != n.Query {
			t.Fatalf("not idempotent: %q -> %+v -> %+v (%v)", target, n, again, err)
		}
		if strings.Contains(n.Path, "//") || strings.ContainsAny(n.Path, "\\# ") {
			t.Fatalf("%q normalized to %q", target, n.Path)
		}
		for _, seg := range strings.Split(n.Path, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("%q kept a dot segment: %q", target, n.Path)
			}
		}
		for _, seg := range strings.Split(n.Match, "/") {
			if seg == "." || seg == ".." || strings.Contains(seg, ";") {
				t.Fatalf("%q match key %q keeps %q", target, n.Match, seg)
			}
		}
		if strings.ContainsFunc(n.Match, func(r rune) bool { return 'A' <= r && r <= 'Z' }) {
			t.Fatalf("match key %q not lower case", n.Match)
		}
	})
}

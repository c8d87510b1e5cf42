package edge

import (
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string][2]string{
		"/":                      {"/", "/"},
		"/a/b?x=1":               {"/a/b", "/a/b"},
		"//admin":                {"/admin", "/admin"},
		"/x/../admin":            {"/admin", "/admin"},
		"/x/./admin/":            {"/x/admin/", "/x/admin/"},
		"/%2e%2e/admin":          {"", ""},
		"/a%2fb/..%2f..%2fadmin": {"/a%2Fb/..%2F..%2Fadmin", "/admin"},
		"/..;/admin":             {"/..;/admin", "/admin"},
		"/x/%2e%2e/admin":        {"/admin", "/admin"},
		"/x/%2E%2E/ADMIN":        {"/ADMIN", "/admin"},
		"/%61dmin":               {"/admin", "/admin"},
		"/admin;jsessionid=1":    {"/admin;jsessionid=1", "/admin"},
		"/a%2fb":                 {"/a%2Fb", "/a/b"},
		"/a/b/..":                {"/a/", "/a/"},
		"/a//b///c":              {"/a/b/c", "/a/b/c"},
		"/caf%C3%A9":             {"/caf%C3%A9", "/caf\xc3\xa9"},
		"/..":                    {"", ""},
		"/a\\b":                  {"", ""},
		"/a%00b":                 {"", ""},
		"/a%0d%0aX":              {"", ""},
		"/a%zz":                  {"", ""},
		"/a%4":                   {"", ""},
		"relative":               {"", ""},
	} {
		got, err := NormalizePath(in)
		if want[0] == "" {
			if err == nil {
				t.Errorf("%q accepted as %+v", in, got)
			}
			continue
		}
		if err != nil || got.Path != want[0] || got.Match != want[1] {
			t.Errorf("%q -> %+v %v, want path %q match %q", in, got, err, want[0], want[1])
		}
	}
	n, _ := NormalizePath("/a%2Fb")
	if !n.EncodedSlash {
		t.Error("encoded slash not flagged")
	}
	if n, _ := NormalizePath("/q?a=%2e%2e/x"); n.RequestURI() != "/q?a=%2e%2e/x" {
		t.Errorf("query altered: %q", n.RequestURI())
	}
}

func TestPathBlockedBypassCorpus(t *testing.T) {
	rule, err := normalizeRule("/admin")
	if err != nil {
		t.Fatal(err)
	}
	rules := []string{rule}
	// Every spelling people try to reach /admin with: each must be blocked
	// or refused outright.
	for _, target := range []string{
		"/admin", "/admin/", "/admin/users", "/ADMIN", "/Admin/x", "//admin", "///admin//x",
		"/x/../admin", "/x/./../admin/", "/%61dmin", "/%41DMIN", "/x/%2e%2e/admin", "/x/%2E%2E/admin",
		"/admin;x=1", "/admin;/x", "/admin%3bx", "/./admin", "/admin/.", "/admin?x=1",
		"/x/..;/admin", "/x%2f..%2fadmin", "/x%5c..%5cadmin", "/admin%2fx", "/%2e/admin",
	} {
		n, err := NormalizePath(target)
		if err != nil {
			continue // refused: 400
		}
		if !pathBlocked(n.Match, rules) {
			t.Errorf("%q slipped past /admin (match %q)", target, n.Match)
		}
	}
	for _, target := range []string{"/administrator", "/", "/x/admin", "/adm", "/api"} {
		n, _ := NormalizePath(target)
		if pathBlocked(n.Match, rules) {
			t.Errorf("%q blocked by /admin", target)
		}
	}
}

// FuzzCleanPath checks NormalizePath's fast path against the general one:
// a path cleanPath passes must come out of normalizeSlow unchanged, with
// itself as the match key when cleanPath says plain.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/", "/hello", "/a/", "/a//b", "/.", "/..", "/a/.", "/a/..", "/..a", "/a.b/.c",
		"/A", "/a;b", "/a%41", "/a\\b", "/a b", "/\x7f", "/a/b/", "//", "/;", "/a/.../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		if path == "" || path[0] != '/' || strings.ContainsAny(path, "?#") {
			return
		}
		clean, plain := cleanPath(path)
		if !clean {
			return
		}
		slow, err := normalizeSlow(NormalizedPath{}, path)
		if err != nil || slow.Path != path {
			t.Fatalf("cleanPath(%q) passed, but the general path gives %q, %v", path, slow.Path, err)
		}
		if plain && slow.Match != path {
			t.Fatalf("cleanPath(%q) says plain, but its match key is %q", path, slow.Match)
		}
	})
}

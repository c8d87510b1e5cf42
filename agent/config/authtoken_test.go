package config

import (
	"strings"
	"testing"
)

func setToken(t *testing.T, src, token string) string {
	t.Helper()
	f, err := Parse([]byte(src), "w.yml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.SetAuthtoken(token)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse(out, "w.yml")
	if err != nil {
		t.Fatalf("result does not parse: %v\n%s", err, out)
	}
	if g.Authtoken != token {
		t.Fatalf("authtoken %q, want %q:\n%s", g.Authtoken, token, out)
	}
	return string(out)
}

func TestSetAuthtokenReplacesInPlace(t *testing.T) {
	src := strings.Replace(example, "authtoken: wsg1_abc.def", "authtoken: wsg1_abc.def   # from the dashboard", 1)
	got := setToken(t, src, "wsg1_new.token")
	want := strings.Replace(src, "wsg1_abc.def", "wsg1_new.token", 1)
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, quoted := range []string{`authtoken: "old"`, `authtoken: 'old'`} {
		src := "# c\n" + quoted + "\n\nedge: e.example.com:1 # the edge\n"
		if got, want := setToken(t, src, "wsg1_x"), "# c\nauthtoken: wsg1_x\n\nedge: e.example.com:1 # the edge\n"; got != want {
			t.Errorf("%s: got\n%s\nwant\n%s", quoted, got, want)
		}
	}
}

func TestSetAuthtokenAdds(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"", "authtoken: wsg1_x\n"},
		{"# my agent\n", "# my agent\nauthtoken: wsg1_x\n"},
		{"# my agent\n\nversion: 1\nedge: e.example.com:1\n", "# my agent\n\nauthtoken: wsg1_x\nversion: 1\nedge: e.example.com:1\n"},
		// A comment on the first key stays with it; the token goes last.
		{"# the edge\nedge: e.example.com:1\n\npool: 2", "# the edge\nedge: e.example.com:1\n\npool: 2\nauthtoken: wsg1_x\n"},
		{"  edge: e.example.com:1\n  pool: 2\n", "  authtoken: wsg1_x\n  edge: e.example.com:1\n  pool: 2\n"},
	} {
		if got := setToken(t, tt.src, "wsg1_x"); got != tt.want {
			t.Errorf("%q: got\n%s\nwant\n%s", tt.src, got, tt.want)
		}
	}
}

func TestSetAuthtokenThroughNodes(t *testing.T) {
	// Shapes the text edit leaves alone go through yaml.v3's node tree,
	// which keeps comments.
	for _, src := range []string{
		"{edge: e.example.com:1, pool: 2}\n",
		"# head\n\nauthtoken: >-\n  folded\n# tail\nedge: e.example.com:1 # edge\n",
		"~\n",
		"authtoken: \"a\\u0041\"\n",
	} {
		got := setToken(t, src, "wsg1_x")
		for _, c := range []string{"# head", "# tail", "# edge"} {
			if strings.Contains(src, c) && !strings.Contains(got, c) {
				t.Errorf("%q: lost %q:\n%s", src, c, got)
			}
		}
	}
}

func TestSetAuthtokenQuotes(t *testing.T) {
	for token, line := range map[string]string{
		"wsg1_abc.def-ghi": "authtoken: wsg1_abc.def-ghi\n",
		"12345":            "authtoken: \"12345\"\n",
		"true":             "authtoken: \"true\"\n",
		"tok#en":           "authtoken: \"tok#en\"\n",
		"a:b":              "authtoken: \"a:b\"\n",
		`q"uote`:           "authtoken: \"q\\\"uote\"\n",
	} {
		if got := setToken(t, "", token); got != line {
			t.Errorf("%q: got %q, want %q", token, got, line)
		}
	}
}

func TestSetAuthtokenRefusesBadTokens(t *testing.T) {
	f, _ := Parse(nil, "w.yml")
	for _, tok := range []string{"", "wsg1 abc", "wsg1_abc\n", strings.Repeat("x", 5000)} {
		if _, err := f.SetAuthtoken(tok); err == nil {
			t.Errorf("%q accepted", tok)
		}
	}
}

package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// errAt is one expected problem: its line, and words its message holds.
type errAt struct {
	line int
	has  []string
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []errAt
	}{
		{"unknown top-level key", "version: 1\nedg: e.example.com:4443\n",
			[]errAt{{2, []string{`unknown key "edg"`, `did you mean "edge"?`}}}},
		{"unknown tunnel key", "version: 1\nedge: e.example.com:4443\ntunnels:\n  web:\n    proto: http\n    addr: 3000\n    subdomian: myapp\n",
			[]errAt{{7, []string{`unknown key "subdomian" in tunnel "web" (did you mean "subdomain"?)`}}}},
		{"unknown key far from any", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    colour: red\n",
			[]errAt{{5, []string{`unknown key "colour"`, "the keys here are proto, addr"}}}},
		{"flag spelling of a key", "server-name: localhost\n",
			[]errAt{{1, []string{`did you mean "server_name"?`}}}},
		{"tunnel key at the top level", "subdomain: demo\n",
			[]errAt{{1, []string{"subdomain belongs in a tunnel under tunnels:"}}}},
		{"top-level key in a tunnel", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    authtoken: x\n",
			[]errAt{{5, []string{"authtoken belongs at the top level"}}}},

		{"pool not a number", "pool: two\n", []errAt{{1, []string{"pool must be a whole number", `"two"`}}}},
		{"tunnels a list", "tunnels:\n  - web\n", []errAt{{2, []string{"tunnels must be a mapping", "not a list"}}}},
		{"tunnel a scalar", "tunnels:\n  web: 3000\n", []errAt{{2, []string{`tunnel "web" must be a mapping`, "not the number 3000"}}}},
		{"list a mapping", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    allow_cidr: {a: b}\n",
			[]errAt{{5, []string{`allow_cidr in tunnel "web" must be a list`}}}},
		{"list entry a list", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    block_path:\n      - /a\n      - [/b]\n",
			[]errAt{{7, []string{"each entry of block_path"}}}},
		{"inspect not a bool", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    inspect: sometimes\n",
			[]errAt{{5, []string{"inspect in tunnel \"web\" must be true or false"}}}},
		{"proto a list", "tunnels:\n  web:\n    proto: [http]\n    addr: 3000\n",
			[]errAt{{3, []string{"proto in tunnel \"web\" must be http or tcp, not a list"}}}},

		{"http port out of range", "tunnels:\n  web:\n    proto: http\n    addr: 70000\n",
			[]errAt{{4, []string{"port 70000 is out of range: use 1-65535"}}}},
		{"http url port out of range", "tunnels:\n  web:\n    proto: http\n    addr: https://localhost:0\n",
			[]errAt{{4, []string{"port 0 is out of range"}}}},
		{"tcp host:port out of range", "tunnels:\n  db:\n    proto: tcp\n    addr: localhost:65536\n",
			[]errAt{{4, []string{"addr in tunnel \"db\""}}}},
		{"remote_port zero", "tunnels:\n  db:\n    proto: tcp\n    addr: 5432\n    remote_port: 0\n",
			[]errAt{{5, []string{"remote_port in tunnel \"db\" is 0: use a port 1-65535"}}}},
		{"edge port", "edge: e.example.com:99999\n", []errAt{{1, []string{"edge: port 99999 is out of range"}}}},
		{"edge without port", "edge: e.example.com\n", []errAt{{1, []string{"is not host:port"}}}},

		{"bad CIDR", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    deny_cidr: [10.0.0.0/8, 10.0.0.0/33]\n",
			[]errAt{{5, []string{`"10.0.0.0/33" is not a CIDR network`}}}},
		{"address with a mask", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    allow_cidr: [192.168.1.1, 10.0.0.1/]\n",
			[]errAt{{5, []string{`"10.0.0.1/" is not a CIDR network`}}}},
		{"basic_auth without colon", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    basic_auth:\n      - alice:secret\n      - bobhunter2\n",
			[]errAt{{7, []string{"basic_auth in tunnel \"web\"", "no ':'", "user:password"}}}},
		{"basic_auth empty password", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    basic_auth: \"bob:\"\n",
			[]errAt{{5, []string{`user "bob" have an empty password`}}}},
		{"block_path without slash", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    block_path: admin\n",
			[]errAt{{5, []string{"start it with /"}}}},
		{"rate_limit zero", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    rate_limit: 0\n",
			[]errAt{{5, []string{"rate limit 0 is out of range"}}}},

		{"subdomain with a hyphen at the end", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    subdomain: my-\n",
			[]errAt{{5, []string{`"my-" is not a valid subdomain`}}}},
		{"subdomain upper case", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    subdomain: MyApp\n",
			[]errAt{{5, []string{"use lower case (myapp)"}}}},
		{"subdomain with a domain", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    subdomain: myapp.example.com\n",
			[]errAt{{5, []string{"give only the first label"}}}},
		{"subdomain too long", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    subdomain: " + strings.Repeat("a", 64) + "\n",
			[]errAt{{5, []string{"1-63 lower-case letters"}}}},
		{"same subdomain twice", "tunnels:\n  a:\n    proto: http\n    addr: 3000\n    subdomain: app\n  b:\n    proto: http\n    addr: 3001\n    subdomain: app\n",
			[]errAt{{9, []string{`subdomain "app" is also asked for by tunnel "a" (line 5)`}}}},
		{"same remote_port twice", "tunnels:\n  a:\n    proto: tcp\n    addr: 22\n    remote_port: 20022\n  b:\n    proto: tcp\n    addr: 23\n    remote_port: 20022\n",
			[]errAt{{9, []string{`remote_port 20022 is also asked for by tunnel "a"`}}}},

		{"tcp key in http tunnel", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    remote_port: 20001\n",
			[]errAt{{5, []string{`remote_port is for tcp tunnels, and tunnel "web" is http`}}}},
		{"http keys in tcp tunnel", "tunnels:\n  ssh:\n    proto: tcp\n    addr: 22\n    subdomain: ssh\n    basic_auth: a:b\n",
			[]errAt{
				{5, []string{`subdomain is for http tunnels, and tunnel "ssh" is tcp`, "tcp tunnels take remote_port"}},
				{6, []string{"basic_auth is for http tunnels"}},
			}},

		{"duplicate tunnel name", "version: 1\ntunnels:\n  web:\n    proto: http\n    addr: 3000\n  web:\n    proto: http\n    addr: 3001\n",
			[]errAt{{6, []string{`duplicate tunnel name "web" (first defined on line 3)`}}}},
		{"duplicate key in a tunnel", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    addr: 3001\n",
			[]errAt{{5, []string{`duplicate key "addr" in tunnel "web" (first on line 4)`}}}},
		{"duplicate top-level key", "edge: a.example.com:1\npool: 1\nedge: b.example.com:1\n",
			[]errAt{{3, []string{`duplicate key "edge" (first on line 1)`}}}},

		{"missing addr", "tunnels:\n  web:\n    proto: http\n", []errAt{{2, []string{`tunnel "web" has no addr`, "addr: 3000"}}}},
		{"null addr", "tunnels:\n  web:\n    proto: http\n    addr:\n", []errAt{{2, []string{`tunnel "web" has no addr`}}}},
		{"missing proto", "tunnels:\n  web:\n    addr: 3000\n", []errAt{{2, []string{`tunnel "web" has no proto`}}}},
		{"unknown proto", "tunnels:\n  web:\n    proto: udp\n    addr: 53\n", []errAt{{3, []string{`unknown proto "udp" in tunnel "web": use http or tcp`}}}},
		{"empty tunnel", "tunnels:\n  web:\n", []errAt{{2, []string{`tunnel "web" is empty`}}}},
		{"bad tunnel name", "tunnels:\n  my web:\n    proto: http\n    addr: 3000\n", []errAt{{2, []string{`tunnel name "my web"`}}}},

		{"version 2", "version: 2\n", []errAt{{1, []string{"version 2 is not supported"}}}},
		{"version text", "version: one\n", []errAt{{1, []string{"version must be a whole number"}}}},
		{"pool out of range", "pool: 17\n", []errAt{{1, []string{"use 1-16"}}}},
		{"log true", "log: true\n", []errAt{{1, []string{"log: true does not say where"}}}},
		{"inspect_addr bad", "inspect_addr: localhost\n", []errAt{{1, []string{"inspect_addr"}}}},
		{"authtoken with a space", "authtoken: wsg1_abc def\n", []errAt{{1, []string{"copy it whole"}}}},

		{"a list", "- web\n- api\n", []errAt{{1, []string{"the file must be a mapping", "not a list"}}}},
		{"a scalar", "hello\n", []errAt{{1, []string{"the file must be a mapping", `"hello"`}}}},
		{"two documents", "edge: a.example.com:1\n---\nedge: b.example.com:1\n", []errAt{{2, []string{"a second YAML document"}}}},
		{"merge key", "tunnels:\n  web:\n    <<: {proto: http}\n    addr: 3000\n    proto: http\n", []errAt{{3, []string{"merge keys (<<) are not supported"}}}},
		{"long list", "tunnels:\n  web:\n    proto: http\n    addr: 3000\n    allow_cidr: [" + strings.Repeat("10.0.0.0/8, ", 101) + "]\n",
			[]errAt{{5, []string{"has 101 entries: the limit is 100"}}}},

		{"bad indentation", "version: 1\nedge: e.example.com:4443\ntunnels:\n  web:\n    proto: http\n   addr: 3000\n",
			[]errAt{{6, []string{"YAML syntax", "indentation"}}}},
		{"over-indented", "tunnels:\n  web:\n    proto: http\n      addr: 3000\n", []errAt{{4, []string{"YAML syntax"}}}},
		{"missing colon", "version: 1\nedge\npool: 1\n", []errAt{{2, []string{"YAML syntax"}}}},
		{"unclosed bracket", "tunnels:\n  web:\n    proto: http\n    allow_cidr: [10.0.0.0/8\n    addr: 3000\n",
			[]errAt{{4, []string{"YAML syntax", "not closed"}}}},
		{"tab indentation", "tunnels:\n  web:\n\tproto: http\n", []errAt{{3, []string{"YAML syntax", "tabs"}}}},
		{"first line", "edge: a: b\n", []errAt{{1, []string{"YAML syntax"}}}},
		{"unknown anchor", "pool: 1\nedge: *nope\n", []errAt{{2, []string{"anchor"}}}},
		{"control character", "pool: 1\nedge: \"a\x01b\"\n", []errAt{{2, []string{"control character U+0001"}}}},
		{"not UTF-8", "pool: 1\n# caf\xe9\n", []errAt{{2, []string{"not UTF-8"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(tt.yaml), "wsgrok.yml")
			if err == nil {
				t.Fatalf("no error; parsed %+v", f)
			}
			if f != nil {
				t.Errorf("a File with an error")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			if len(errs) != len(tt.want) {
				t.Fatalf("%d errors, want %d:\n%v", len(errs), len(tt.want), err)
			}
			for i, w := range tt.want {
				e := errs[i]
				if e.Line != w.line {
					t.Errorf("error %d on line %d, want %d: %v", i, e.Line, w.line, e)
				}
				if !strings.HasPrefix(e.Error(), "wsgrok.yml:") {
					t.Errorf("error %d does not start with the file name: %v", i, e)
				}
				for _, s := range w.has {
					if !strings.Contains(e.Msg, s) {
						t.Errorf("error %d lacks %q: %v", i, s, e)
					}
				}
			}
		})
	}
}

func TestParseErrorColumns(t *testing.T) {
	_, err := Parse([]byte("tunnels:\n  web:\n    proto: http\n    addr: 3000\n    subdomian: x\n"), "w.yml")
	if got, want := err.Error(), `w.yml:5:5: unknown key "subdomian" in tunnel "web" (did you mean "subdomain"?)`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	_, err = Parse([]byte("tunnels:\n  web:\n    proto: http\n    addr: 3000\n    allow_cidr: [10.0.0.0/8, 10.0.0.0/99]\n"), "w.yml")
	if !strings.HasPrefix(err.Error(), "w.yml:5:30: ") {
		t.Errorf("want the column of the list entry: %v", err)
	}
}

// TestParseCollectsAll checks that every problem is reported, in file
// order, not only the first.
func TestParseCollectsAll(t *testing.T) {
	src := `version: 3
pool: 0
tunnels:
  web:
    proto: http
    addr: 99999
  web:
    proto: http
    addr: 3000
  db:
    proto: tcp
    addr: 5432
    subdomain: db
`
	_, err := Parse([]byte(src), "w.yml")
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v", err)
	}
	var lines []int
	for _, e := range errs {
		lines = append(lines, e.Line)
	}
	if want := []int{1, 2, 6, 7, 13}; !slices.Equal(lines, want) {
		t.Errorf("lines %v, want %v:\n%v", lines, want, err)
	}
}

func TestBasicAuthErrorsHidePasswords(t *testing.T) {
	for _, v := range []string{"hunter2secret", ":hunter2secret"} {
		_, err := Parse([]byte("tunnels:\n  web:\n    proto: http\n    addr: 3000\n    basic_auth: \""+v+"\"\n"), "w.yml")
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: %v", v, err)
		}
	}
}

func TestSuggest(t *testing.T) {
	for word, want := range map[string]string{
		"subdomian": "subdomain", "adr": "addr", "remote-port": "remote_port", "Edge": "edge",
		"allowcidr": "allow_cidr", "ratelimit": "rate_limit", "xyz": "", "": "", "a": "",
	} {
		if got := closest(word, append(topKeys, tunnelKeys...)); got != want {
			t.Errorf("closest(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestParseErrorsBounded(t *testing.T) {
	src := "tunnels:\n  web:\n    proto: http\n    addr: 3000\n" + strings.Repeat("    nope: 1\n", 200)
	_, err := Parse([]byte(src), "w.yml")
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != maxErrors+1 {
		t.Fatalf("%d errors", len(errs))
	}
	if last := errs[maxErrors]; last.Line != 5+maxErrors || !strings.Contains(last.Msg, "and 150 more problems") {
		t.Errorf("last: %v", last)
	}
}

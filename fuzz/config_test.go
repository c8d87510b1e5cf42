package fuzz

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wsgrok/wsgrok/agent/config"
)

// configSeeds are a complete file and a few broken ones.
var configSeeds = []string{
	`version: 1
authtoken: wsg1_abc.def   # from the dashboard
edge: edge.example.com:4443
ca: ca.pem
server_name: localhost
pool: 2
inspect_addr: off
log: stderr
tunnels:
  web:
    proto: http
    addr: https://localhost:8443
    subdomain: myapp
    host_header: rewrite
    allow_cidr: [10.0.0.0/8, "2001:db8::/32"]
    deny_cidr: 10.1.0.0/16
    block_path: [/admin]
    basic_auth: ["user:pass"]
    rate_limit: 600
    inspect: false
  ssh: {proto: tcp, addr: 22, remote_port: 20022}
`,
	"tunnels:\n  web:\n    proto: http\n   addr: 3000\n",
	"tunnels:\n  web: &w\n    proto: http\n    addr: 3000\n  api: *w\n  web: {}\n",
	"- a\n- [b, {c: d}]\n",
	"a: 1\n---\nb: 2\n",
	"\xef\xbb\xbfedge: \"x\\u0001\"\r\n",
}

// FuzzAgentConfig checks that config.Parse never panics, that each error
// it reports names a line of the file, and that a file it accepts takes a
// new authtoken and still parses.
func FuzzAgentConfig(f *testing.F) {
	for _, s := range configSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > config.MaxSize {
			return
		}
		file, err := config.Parse(data, "w.yml")
		if err == nil {
			out, err := file.SetAuthtoken("wsg1_fuzz")
			if err != nil {
				return // a shape it cannot rewrite safely: it says so
			}
			if g, err := config.Parse(out, "w.yml"); err != nil || g.Authtoken != "wsg1_fuzz" {
				t.Fatalf("SetAuthtoken gave a file that reads back wrong (%v):\n%q", err, out)
			}
			return
		}
		var errs config.Errors
		if file != nil || !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("Parse = %v, %T %v", file, err, err)
		}
		for _, e := range errs {
			if e.Line < 1 || !strings.HasPrefix(e.Error(), fmt.Sprintf("w.yml:%d:", e.Line)) {
				t.Fatalf("error without a line: %q", e.Error())
			}
		}
	})
}

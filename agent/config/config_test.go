package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/wire"
)

// example is the package comment's example, kept in step with it.
const example = `# wsgrok agent configuration
version: 1
authtoken: wsg1_abc.def
edge: edge.example.com:4443
ca: /etc/wsgrok/ca.pem
server_name: edge.example.com
pool: 2
inspect_addr: 127.0.0.1:4040
log: false

tunnels:
  web:
    proto: http
    addr: 3000
    subdomain: myapp
    host_header: rewrite
    allow_cidr: [10.0.0.0/8]
    deny_cidr: [10.1.0.0/16]
    block_path: [/admin]
    basic_auth: ["user:pass"]
    rate_limit: 600
    inspect: true
  ssh:
    proto: tcp
    addr: 22
    remote_port: 20022
`

func TestParseExample(t *testing.T) {
	f, err := Parse([]byte(example), "/home/me/.config/wsgrok/wsgrok.yml")
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	want := File{
		Path: "/home/me/.config/wsgrok/wsgrok.yml", Version: 1, Authtoken: "wsg1_abc.def",
		Edge: "edge.example.com:4443", CA: "/etc/wsgrok/ca.pem", ServerName: "edge.example.com",
		Pool: 2, InspectAddr: "127.0.0.1:4040", Log: "false",
		Defs: []TunnelDef{
			{Name: "web", Line: 12, Proto: "http", Addr: "3000", Subdomain: "myapp", HostHeader: "rewrite", Policy: Policy{
				AllowCIDR: []string{"10.0.0.0/8"}, DenyCIDR: []string{"10.1.0.0/16"}, BlockPath: []string{"/admin"},
				BasicAuth: []string{"user:pass"}, RateLimit: 600, Inspect: &yes,
			}},
			{Name: "ssh", Line: 23, Proto: "tcp", Addr: "22", RemotePort: 20022},
		},
	}
	if got := f.settings(); !reflect.DeepEqual(got, want.settings()) || f.Authtoken != want.Authtoken || f.Defs[1].Line != 23 {
		t.Errorf("got  %+v\nwant %+v", got, want.settings())
	}
	if got := f.Names(); !reflect.DeepEqual(got, []string{"web", "ssh"}) {
		t.Errorf("Names() = %v", got)
	}
}

// TestDocExample keeps the package comment's example valid.
func TestDocExample(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	in := false
	for _, l := range strings.Split(string(src), "\n") {
		switch {
		case strings.HasPrefix(l, "//\tversion: 1"):
			in = true
		case in && !strings.HasPrefix(l, "//\t") && l != "//":
			in = false
		}
		if in {
			lines = append(lines, strings.TrimPrefix(strings.TrimPrefix(l, "//"), "\t"))
		}
	}
	f, err := Parse([]byte(strings.Join(lines, "\n")), "doc.go example")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Defs) != 2 {
		t.Errorf("%d tunnels in the example", len(f.Defs))
	}
}

func TestTunnels(t *testing.T) {
	f, err := Parse([]byte(example), "wsgrok.yml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Tunnels([]string{"ssh", "web"}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []agent.Tunnel{
		{Kind: wire.KindTCP, Upstream: "127.0.0.1:22", Port: 20022},
		{Kind: wire.KindHTTP, Upstream: "3000", Subdomain: "myapp", HostHeader: "rewrite", Options: wire.Metadata{
			{Key: "allow-cidr", Value: "10.0.0.0/8"}, {Key: "deny-cidr", Value: "10.1.0.0/16"},
			{Key: "block-path", Value: "/admin"}, {Key: "basic-auth", Value: "user:pass"},
			{Key: "rate-limit", Value: "600"}, {Key: "inspect", Value: "1"},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	all, err := f.Tunnels(nil, true)
	if err != nil || len(all) != 2 || all[0].Kind != wire.KindHTTP {
		t.Errorf("all: %+v, %v", all, err)
	}
	// The converted tunnels are what the agent accepts.
	if _, err := agent.New(agent.Config{Edge: "127.0.0.1:1", Tunnels: all}); err != nil {
		t.Errorf("agent.New: %v", err)
	}
}

func TestInspectFalse(t *testing.T) {
	f, err := Parse([]byte("tunnels:\n  web:\n    proto: http\n    addr: localhost:8080\n    inspect: false\n"), "w.yml")
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := f.Tunnels([]string{"web"}, false)
	if got := ts[0].Options; !reflect.DeepEqual(got, wire.Metadata{{Key: "inspect", Value: "0"}}) {
		t.Errorf("options %v", got)
	}
}

func TestSelectErrors(t *testing.T) {
	f, err := Parse([]byte(example), "wsgrok.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		names []string
		all   bool
		has   []string
	}{
		{[]string{"wbe"}, false, []string{`no tunnel "wbe" in wsgrok.yml`, `did you mean "web"?`, "known: web, ssh"}},
		{[]string{"web", "nope"}, false, []string{`no tunnel "nope"`, "known: web, ssh"}},
		{nil, false, []string{"name the tunnels to start, or pass --all", "known: web, ssh"}},
		{[]string{"web"}, true, []string{"either names or --all"}},
	} {
		_, err := f.Tunnels(tt.names, tt.all)
		if err == nil {
			t.Errorf("%v %v: no error", tt.names, tt.all)
			continue
		}
		for _, s := range tt.has {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%v %v: %q lacks %q", tt.names, tt.all, err, s)
			}
		}
	}
	if ts, err := f.Tunnels([]string{"web", "web"}, false); err != nil || len(ts) != 1 {
		t.Errorf("a name given twice: %d tunnels, %v", len(ts), err)
	}
	empty, _ := Parse(nil, "empty.yml")
	if _, err := empty.Tunnels(nil, true); err == nil || !strings.Contains(err.Error(), "defines no tunnels") {
		t.Errorf("--all on an empty file: %v", err)
	}
}

func TestEmptyAndCommentOnly(t *testing.T) {
	for _, src := range []string{"", "# nothing yet\n", "---\n", "~\n", "\n\n"} {
		f, err := Parse([]byte(src), "w.yml")
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if f.Version != 1 || len(f.Defs) != 0 || f.Edge != "" {
			t.Errorf("%q: %+v", src, f)
		}
	}
}

func TestOptionalValues(t *testing.T) {
	src := "ca: certs/ca.pem\nlog: agent.log\ninspect_addr: off\nserver_name:\npool:\ntunnels:\n  x:\n    proto: tcp\n    addr: db.internal:5432\n    allow_cidr: 10.0.0.0/8\n"
	f, err := Parse([]byte(src), filepath.Join("conf", "wsgrok.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if f.CA != filepath.Join("conf", "certs", "ca.pem") || f.Log != filepath.Join("conf", "agent.log") {
		t.Errorf("relative paths: ca %q log %q", f.CA, f.Log)
	}
	if f.InspectAddr != "off" || f.Pool != 0 || f.ServerName != "" {
		t.Errorf("%+v", f)
	}
	if got := f.Defs[0].AgentTunnel().Upstream; got != "db.internal:5432" {
		t.Errorf("tcp upstream %q", got)
	}
	for src, want := range map[string]string{"log: stderr\n": "stderr", "log: off\n": "false", "log: false\n": "false"} {
		if f, err := Parse([]byte(src), "w.yml"); err != nil || f.Log != want {
			t.Errorf("%q: %v %v", src, f, err)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "none.yml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.yml")
	os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxSize)+"\n"), 0o600)
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than 1024 KiB") {
		t.Errorf("big file: %v", err)
	}
	good := filepath.Join(dir, "wsgrok.yml")
	os.WriteFile(good, []byte(example), 0o600)
	if f, err := Load(good); err != nil || f.Path != good || len(f.Defs) != 2 {
		t.Errorf("Load: %v %v", f, err)
	}
}

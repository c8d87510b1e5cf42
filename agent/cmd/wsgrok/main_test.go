package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peterbourgon/ff/v3"

	"github.com/wsgrok/wsgrok/edge"
	"github.com/wsgrok/wsgrok/wire"
)

// syncBuffer is a bytes.Buffer that the agent's goroutines may write to
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runCLI runs wsgrok in process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errw syncBuffer
	code = run(t.Context(), args, &out, &errw)
	return code, out.String(), errw.String()
}

// isolate keeps the tests away from the developer's own config file and
// WSGROK_* settings.
func isolate(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "WSGROK_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	// An agent under test never takes the inspector's fixed port.
	t.Setenv("WSGROK_INSPECT_ADDR", "127.0.0.1:0")
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wsgrok.yml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const goodConfig = `version: 1
edge: 127.0.0.1:1
tunnels:
  web:
    proto: http
    addr: 3000
  api:
    proto: http
    addr: 3001
    subdomain: api
`

func TestConfigCheckGood(t *testing.T) {
	isolate(t)
	path := writeConfig(t, goodConfig)
	code, out, errOut := runCLI(t, "config", "check", "--config", path)
	if code != 0 || out != path+": OK, 2 tunnels\n" || errOut != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// The path may also come from the environment.
	t.Setenv("WSGROK_CONFIG", path)
	if code, out, _ := runCLI(t, "config", "check"); code != 0 || !strings.Contains(out, "OK, 2 tunnels") {
		t.Errorf("with WSGROK_CONFIG: exit %d, %q", code, out)
	}
}

func TestConfigCheckBad(t *testing.T) {
	isolate(t)
	path := writeConfig(t, `version: 1
edge: 127.0.0.1:1
tunnels:
  web:
    proto: http
    addr: 3000
    subdomian: myapp
  ssh:
    proto: tcp
    addr: 99999
  web:
    proto: http
    addr: 3001
`)
	code, out, errOut := runCLI(t, "config", "check", "--config", path)
	want := []string{
		path + `:7:5: unknown key "subdomian" in tunnel "web" (did you mean "subdomain"?)`,
		path + `:10:11: addr in tunnel "ssh": port 99999 is out of range: use 1-65535`,
		path + `:11:3: duplicate tunnel name "web" (first defined on line 4): rename one of them`,
	}
	if code != 1 || out != "" || errOut != strings.Join(want, "\n")+"\n" {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, errOut, strings.Join(want, "\n"))
	}
}

func TestConfigCheckMissing(t *testing.T) {
	isolate(t)
	path := filepath.Join(t.TempDir(), "none.yml")
	code, _, errOut := runCLI(t, "config", "check", "--config", path)
	if code != 1 || errOut != "wsgrok: no config file at "+path+": create it, or pass --config\n" {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

func TestAddAuthtoken(t *testing.T) {
	isolate(t)
	path := filepath.Join(t.TempDir(), "sub", "wsgrok.yml")
	// Flags may follow the token.
	code, out, errOut := runCLI(t, "config", "add-authtoken", "wsg1_first", "--config", path)
	if code != 0 || out != "Authtoken saved to "+path+"\n" {
		t.Fatalf("exit %d, %q %q", code, out, errOut)
	}
	if b, _ := os.ReadFile(path); string(b) != "authtoken: wsg1_first\n" {
		t.Errorf("new file holds %q", b)
	}
	if fi, err := os.Stat(path); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}

	// Replacing it keeps everything else, comments and blank lines too.
	src := "# my agent\nauthtoken: wsg1_first # from the dashboard\n\n" + goodConfig
	os.WriteFile(path, []byte(src), 0o600)
	if code, _, errOut := runCLI(t, "config", "add-authtoken", "--config", path, "wsg1_second"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, _ := os.ReadFile(path)
	if want := strings.Replace(src, "wsg1_first", "wsg1_second", 1); string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
	if code, out, _ := runCLI(t, "config", "check", "--config", path); code != 0 {
		t.Errorf("check after add-authtoken: %d %s", code, out)
	}
}

func TestAddAuthtokenRefuses(t *testing.T) {
	isolate(t)
	path := writeConfig(t, "pool: 99\n")
	code, _, errOut := runCLI(t, "config", "add-authtoken", "--config", path, "wsg1_x")
	if code != 1 || !strings.Contains(errOut, path+":1:7: pool is 99") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("broken file: exit %d, %q", code, errOut)
	}
	if b, _ := os.ReadFile(path); string(b) != "pool: 99\n" {
		t.Errorf("file changed to %q", b)
	}
	code, _, errOut = runCLI(t, "config", "add-authtoken", "--config", writeConfig(t, ""), "wsg1 x")
	if code != 1 || !strings.Contains(errOut, "copy it whole") {
		t.Errorf("bad token: exit %d, %q", code, errOut)
	}
}

func TestStartUnknownName(t *testing.T) {
	isolate(t)
	path := writeConfig(t, goodConfig)
	code, _, errOut := runCLI(t, "start", "wbe", "--config", path, "--authtoken", "x")
	if code != 2 || errOut != `wsgrok: no tunnel "wbe" in `+path+` (did you mean "web"?) (known: web, api)`+"\n" {
		t.Errorf("exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "start", "--config", path)
	if code != 2 || !strings.Contains(errOut, "name the tunnels to start, or pass --all (known: web, api)") {
		t.Errorf("no names: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "start", "--all", "--config", filepath.Join(t.TempDir(), "none.yml"))
	if code != 1 || !strings.Contains(errOut, "no config file at") {
		t.Errorf("no file: exit %d, %q", code, errOut)
	}
}

func TestTunnelCommandsReportConfigErrors(t *testing.T) {
	isolate(t)
	path := writeConfig(t, "edge: 127.0.0.1:1\nedg: x\npool: 0\n")
	code, out, errOut := runCLI(t, "http", "3000", "--config", path, "--authtoken", "x")
	want := "wsgrok: " + path + `:2:1: unknown key "edg" (did you mean "edge"?) (and 1 more: wsgrok config check --config ` + path + " lists them)\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr\n%q\nwant\n%q", code, out, errOut, want)
	}
}

func TestNoAuthtoken(t *testing.T) {
	isolate(t)
	code, _, errOut := runCLI(t, "tcp", "22", "--config", writeConfig(t, "edge: 127.0.0.1:1\n"))
	if code != 1 || !strings.HasPrefix(errOut, "wsgrok: no authtoken: run `wsgrok config add-authtoken") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

func TestBadFlagValues(t *testing.T) {
	isolate(t)
	path := writeConfig(t, goodConfig)
	for _, args := range [][]string{
		{"http", "3000", "--allow-cidr", "10.0.0.0/33"},
		{"http", "3000", "--basic-auth", "nocolon"},
		{"http", "3000", "--subdomain", "Bad_Name", "--authtoken", "x"},
		{"http", "3000", "--rate-limit", "-1", "--authtoken", "x"},
		{"tcp", "22", "--block-path", "/admin"},
		{"start", "--pool", "0", "--all", "--authtoken", "x", "--config", path},
	} {
		if code, _, errOut := runCLI(t, args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
}

// TestPrecedence checks flags > WSGROK_* environment > config file.
func TestPrecedence(t *testing.T) {
	isolate(t)
	path := writeConfig(t, "edge: file.example.com:1\nauthtoken: file-token\nserver_name: file-name\npool: 3\nlog: stderr\n")
	parse := func(args ...string) common {
		var c common
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		c.register(fs)
		if err := ff.Parse(fs, append(args, "--config", path), c.options()...); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := parse()
	if c.edge != "file.example.com:1" || c.authtoken != "file-token" || c.serverName != "file-name" || c.pool != 3 || c.log != "stderr" || c.file == nil {
		t.Errorf("from the file: %+v", c)
	}
	t.Setenv("WSGROK_EDGE", "env.example.com:1")
	t.Setenv("WSGROK_POOL", "4")
	c = parse()
	if c.edge != "env.example.com:1" || c.pool != 4 || c.authtoken != "file-token" {
		t.Errorf("env over the file: %+v", c)
	}
	c = parse("--edge", "flag.example.com:1", "--authtoken", "flag-token")
	if c.edge != "flag.example.com:1" || c.authtoken != "flag-token" || c.pool != 4 || c.serverName != "file-name" {
		t.Errorf("flags over env: %+v", c)
	}
}

func TestPolicyFlags(t *testing.T) {
	var p policyFlags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	p.register(fs, true)
	err := fs.Parse([]string{
		"--allow-cidr", "10.0.0.0/8,192.168.0.0/16", "--allow-cidr", "127.0.0.1", "--deny-cidr", "10.1.0.0/16",
		"--block-path", "/admin", "--basic-auth", "alice:s3cret,with,commas", "--rate-limit", "60",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := wire.Metadata{
		{Key: "allow-cidr", Value: "10.0.0.0/8"}, {Key: "allow-cidr", Value: "192.168.0.0/16"}, {Key: "allow-cidr", Value: "127.0.0.1"},
		{Key: "deny-cidr", Value: "10.1.0.0/16"}, {Key: "block-path", Value: "/admin"},
		{Key: "basic-auth", Value: "alice:s3cret,with,commas"}, {Key: "rate-limit", Value: "60"},
	}
	if got := p.Options(); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	if err := p.check(); err != nil {
		t.Error(err)
	}
}

func TestPermute(t *testing.T) {
	httpFS := flag.NewFlagSet("http", flag.ContinueOnError)
	httpFS.String("subdomain", "", "")
	httpFS.Bool("upstream-tls-verify", false, "")
	addFS := flag.NewFlagSet("add", flag.ContinueOnError)
	addFS.String("config", "", "")
	sets := map[string]*flag.FlagSet{"http": httpFS, "config add-authtoken": addFS}
	for _, tt := range []struct{ in, want []string }{
		{[]string{"http", "3000", "--subdomain", "x", "--upstream-tls-verify"}, []string{"http", "--subdomain", "x", "--upstream-tls-verify", "--", "3000"}},
		{[]string{"config", "add-authtoken", "tok", "--config", "p"}, []string{"config", "add-authtoken", "--config", "p", "--", "tok"}},
		{[]string{"version"}, []string{"version"}},
		{nil, nil},
	} {
		if got := permute(tt.in, sets); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("permute(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	if code, out, _ := runCLI(t, "version"); code != 0 || !strings.HasPrefix(out, "wsgrok ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, _ := runCLI(t); code != 2 {
		t.Errorf("no command: exit %d", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if code := run(ctx, []string{"config"}, &syncBuffer{}, &syncBuffer{}); code != 2 {
		t.Errorf("config alone: exit %d", code)
	}
}

// startEdge runs a real edge on loopback with its development CA and key in
// dir, and returns it with an authtoken of the account alice.
func startEdge(t *testing.T, dir string) (*edge.Edge, string) {
	t.Helper()
	e, err := edge.New(edge.Config{
		HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", AgentAddr: "127.0.0.1:0", AdminAddr: "off",
		TCPPortMin: -1, DataDir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	token, err := e.MintDevToken("alice")
	if err != nil {
		t.Fatal(err)
	}
	return e, token
}

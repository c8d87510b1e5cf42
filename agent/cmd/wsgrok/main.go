// Command wsgrok exposes a local service at a public URL through a wsgrok
// edge:
//
//	wsgrok http 3000
//	wsgrok tcp 22
//	wsgrok config add-authtoken <token>
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/peterbourgon/ff/v3/ffyaml"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/wire"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// common are the flags every tunnel command takes.
type common struct {
	edge, authtoken, ca, serverName, log, hostHeader, config string
	pool                                                     int
	upstreamTimeout                                          time.Duration
	verifyUpstream                                           bool
}

func defaultConfigPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "wsgrok.yml"
	}
	return filepath.Join(dir, "wsgrok", "wsgrok.yml")
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.edge, "edge", "127.0.0.1:4443", "edge agent address host:port (env WSGROK_EDGE)")
	fs.StringVar(&c.authtoken, "authtoken", "", "authtoken from the dashboard (env WSGROK_AUTHTOKEN; or `wsgrok config add-authtoken`)")
	fs.StringVar(&c.ca, "ca", "", "PEM file of a CA to trust for the edge (its development CA)")
	fs.StringVar(&c.serverName, "server-name", "", "TLS name to verify on the edge's certificate (default: the edge's host)")
	fs.IntVar(&c.pool, "pool", 1, "parallel sessions to the edge")
	fs.StringVar(&c.log, "log", "false", "request log: false, stdout, stderr, or a file path")
	fs.StringVar(&c.hostHeader, "host-header", "", "Host sent to the local service: empty keeps the public one, 'rewrite' uses the local address, or a value")
	fs.DurationVar(&c.upstreamTimeout, "upstream-timeout", 60*time.Second, "how long the local service may take to start answering")
	fs.BoolVar(&c.verifyUpstream, "upstream-tls-verify", false, "verify https:// local services' certificates")
	fs.StringVar(&c.config, "config", defaultConfigPath(), "config file (YAML; env WSGROK_CONFIG)")
}

func ffOptions() []ff.Option {
	return []ff.Option{
		ff.WithEnvVarPrefix("WSGROK"),
		ff.WithConfigFileFlag("config"),
		ff.WithConfigFileParser(ffyaml.Parser),
		ff.WithAllowMissingConfigFile(true),
		ff.WithIgnoreUndefined(true),
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		httpFS    = flag.NewFlagSet("wsgrok http", flag.ContinueOnError)
		tcpFS     = flag.NewFlagSet("wsgrok tcp", flag.ContinueOnError)
		httpC     common
		tcpC      common
		subdomain string
		tcpPort   int
	)
	httpC.register(httpFS)
	httpFS.StringVar(&subdomain, "subdomain", "", "subdomain to ask for (default: a random one)")
	tcpC.register(tcpFS)
	tcpFS.IntVar(&tcpPort, "remote-port", 0, "public port to ask for (default: any)")
	for _, fs := range []*flag.FlagSet{httpFS, tcpFS} {
		fs.SetOutput(stderr)
	}

	httpCmd := &ffcli.Command{
		Name:       "http",
		ShortUsage: "wsgrok http [flags] <port | host:port | http(s)://host:port>",
		ShortHelp:  "expose a local HTTP service at a public URL",
		FlagSet:    httpFS,
		Options:    ffOptions(),
		Exec: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return usageErr("give one local address: wsgrok http 3000")
			}
			t := agent.Tunnel{Kind: wire.KindHTTP, Upstream: args[0], Subdomain: subdomain, HostHeader: httpC.hostHeader}
			return serve(ctx, &httpC, t, stdout, stderr)
		},
	}
	tcpCmd := &ffcli.Command{
		Name:       "tcp",
		ShortUsage: "wsgrok tcp [flags] <port | host:port>",
		ShortHelp:  "expose a local TCP service at a public port",
		FlagSet:    tcpFS,
		Options:    ffOptions(),
		Exec: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return usageErr("give one local address: wsgrok tcp 22")
			}
			addr := args[0]
			if !strings.Contains(addr, ":") {
				addr = "127.0.0.1:" + addr
			}
			t := agent.Tunnel{Kind: wire.KindTCP, Upstream: addr, Port: tcpPort}
			return serve(ctx, &tcpC, t, stdout, stderr)
		},
	}
	addTokenFS := flag.NewFlagSet("wsgrok config add-authtoken", flag.ContinueOnError)
	cfgPath := addTokenFS.String("config", defaultConfigPath(), "config file to write")
	configCmd := &ffcli.Command{
		Name:       "config",
		ShortUsage: "wsgrok config add-authtoken <token>",
		ShortHelp:  "manage the agent's configuration file",
		Subcommands: []*ffcli.Command{{
			Name:       "add-authtoken",
			ShortUsage: "wsgrok config add-authtoken <token>",
			ShortHelp:  "store an authtoken in the config file",
			FlagSet:    addTokenFS,
			Exec: func(ctx context.Context, args []string) error {
				if len(args) != 1 {
					return usageErr("give the token: wsgrok config add-authtoken <token>")
				}
				if err := addAuthtoken(*cfgPath, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "Authtoken saved to %s\n", *cfgPath)
				return nil
			},
		}},
		Exec: func(context.Context, []string) error { return flag.ErrHelp },
	}
	versionCmd := &ffcli.Command{
		Name:      "version",
		ShortHelp: "print the version",
		Exec: func(context.Context, []string) error {
			fmt.Fprintf(stdout, "wsgrok %s\n", agent.Version)
			return nil
		},
	}
	root := &ffcli.Command{
		ShortUsage:  "wsgrok <command> [flags] [args]",
		Subcommands: []*ffcli.Command{httpCmd, tcpCmd, configCmd, versionCmd},
		Exec:        func(context.Context, []string) error { return flag.ErrHelp },
	}
	err := root.ParseAndRun(ctx, permute(args, map[string]*flag.FlagSet{"http": httpFS, "tcp": tcpFS}))
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 2
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "wsgrok: %s\n", ue)
		return 2
	}
	fmt.Fprintf(stderr, "wsgrok: %v\n", err)
	return 1
}

// permute lets flags follow the positional argument, as in
// `wsgrok http 3000 --subdomain demo`: Go's flag package stops at the
// first non-flag, so flags are moved in front of it.
func permute(args []string, sets map[string]*flag.FlagSet) []string {
	if len(args) == 0 {
		return args
	}
	fs := sets[args[0]]
	if fs == nil {
		return args
	}
	var flags, pos []string
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append(pos, rest[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBool(f) && i+1 < len(rest) {
			i++
			flags = append(flags, rest[i])
		}
	}
	out := append([]string{args[0]}, flags...)
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return out
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

type usageError string

func (e usageError) Error() string { return string(e) }

func usageErr(s string) error { return usageError(s) }

func serve(ctx context.Context, c *common, t agent.Tunnel, stdout, stderr io.Writer) error {
	if c.authtoken == "" {
		return errors.New("no authtoken: run `wsgrok config add-authtoken <token>` with a token from the dashboard, or pass --authtoken")
	}
	logger, closeLog, err := openLog(c.log)
	if err != nil {
		return err
	}
	defer closeLog()
	ev := &printer{out: stdout, errw: stderr, log: logger}
	a, err := agent.New(agent.Config{
		Edge: c.edge, Authtoken: c.authtoken, CAFile: c.ca, ServerName: c.serverName, Pool: c.pool,
		Tunnels: []agent.Tunnel{t}, UpstreamTimeout: c.upstreamTimeout, UpstreamTLSVerify: c.verifyUpstream,
		Logger: logger, Events: ev,
	})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

func openLog(dest string) (*slog.Logger, func(), error) {
	switch dest {
	case "", "false":
		return slog.New(slog.DiscardHandler), func() {}, nil
	case "stdout":
		return slog.New(slog.NewTextHandler(os.Stdout, nil)), func() {}, nil
	case "stderr":
		return slog.New(slog.NewTextHandler(os.Stderr, nil)), func() {}, nil
	}
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open --log %s: %w", dest, err)
	}
	return slog.New(slog.NewTextHandler(f, nil)), func() { f.Close() }, nil
}

// printer shows the forwarding lines and one line per failure.
type printer struct {
	out, errw io.Writer
	log       *slog.Logger

	mu          sync.Mutex
	lastRefused time.Time
	lastStatus  string
}

func (p *printer) Forwarding(t *agent.Tunnel, urls []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	local := t.Upstream
	if t.Kind == wire.KindHTTP {
		if u, err := agent.ParseUpstream(t.Upstream); err == nil {
			local = u.String()
		}
	} else {
		local = "tcp://" + local
	}
	for _, u := range urls {
		fmt.Fprintf(p.out, "Forwarding  %s -> %s\n", u, local)
	}
}

func (p *printer) Status(state string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case state == "online" && p.lastStatus == "reconnecting":
		fmt.Fprintln(p.errw, "wsgrok: reconnected")
	case state == "reconnecting":
		fmt.Fprintf(p.errw, "wsgrok: %v\n", err)
	}
	p.lastStatus = state
}

func (p *printer) Request(r agent.RequestEvent) {
	p.log.Info("request", "method", r.Method, "path", r.Path, "status", r.Status, "dur", r.Duration.Round(time.Microsecond),
		"in", r.BytesIn, "out", r.BytesOut, "client", r.ClientAddr, "err", r.Err)
	if r.Err == nil || r.Status != 0 {
		return
	}
	msg := r.Err.Error()
	if !strings.Contains(msg, "connection refused") {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.lastRefused) < 10*time.Second {
		return
	}
	p.lastRefused = time.Now()
	fmt.Fprintf(p.errw, "wsgrok: local service %s refused the connection: start it, or check the address given to wsgrok\n", r.Tunnel.Upstream)
}

// addAuthtoken stores token under "authtoken:" in the YAML config file,
// keeping its other lines.
func addAuthtoken(path, token string) error {
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t\r\n:#") {
		return errors.New("that does not look like an authtoken: copy it whole from the dashboard")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("cannot create %s: %w", filepath.Dir(path), err)
	}
	var lines []string
	if b, err := os.ReadFile(path); err == nil {
		for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "authtoken:") && l != "" {
				lines = append(lines, l)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot read %s: %w", path, err)
	}
	lines = append([]string{"authtoken: " + token}, lines...)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

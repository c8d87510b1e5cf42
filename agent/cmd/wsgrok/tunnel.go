package main

import (
	"context"
	"flag"
	"io"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/agent/config"
	"github.com/wsgrok/wsgrok/wire"
)

// httpCommand is `wsgrok http`: one HTTP tunnel described by flags.
func httpCommand(stdout, stderr io.Writer) (*ffcli.Command, *flag.FlagSet) {
	var (
		fs         = flag.NewFlagSet("wsgrok http", flag.ContinueOnError)
		c          common
		pol        policyFlags
		subdomain  string
		hostHeader string
	)
	c.register(fs)
	pol.register(fs, true)
	fs.StringVar(&subdomain, "subdomain", "", "subdomain to ask for (default: a random one)")
	fs.StringVar(&hostHeader, "host-header", "", "Host sent to the local service: empty keeps the public one, 'rewrite' uses the local address, or a value")
	fs.SetOutput(stderr)
	return &ffcli.Command{
		Name:       "http",
		ShortUsage: "wsgrok http [flags] <port | host:port | http(s)://host:port>",
		ShortHelp:  "expose a local HTTP service at a public URL",
		FlagSet:    fs,
		Options:    c.options(),
		Exec: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return usageErr("give one local address: wsgrok http 3000")
			}
			if subdomain != "" {
				if err := config.CheckSubdomain(subdomain); err != nil {
					return usageErr("--subdomain %v", err)
				}
			}
			if err := pol.check(); err != nil {
				return err
			}
			t := agent.Tunnel{Kind: wire.KindHTTP, Upstream: args[0], Subdomain: subdomain, HostHeader: hostHeader, Options: pol.Options()}
			return serve(ctx, &c, []namedTunnel{{Tunnel: t}}, stdout, stderr)
		},
	}, fs
}

// tcpCommand is `wsgrok tcp`: one TCP tunnel described by flags.
func tcpCommand(stdout, stderr io.Writer) (*ffcli.Command, *flag.FlagSet) {
	var (
		fs   = flag.NewFlagSet("wsgrok tcp", flag.ContinueOnError)
		c    common
		pol  policyFlags
		port int
	)
	c.register(fs)
	pol.register(fs, false)
	fs.IntVar(&port, "remote-port", 0, "public port to ask for (default: any)")
	fs.SetOutput(stderr)
	return &ffcli.Command{
		Name:       "tcp",
		ShortUsage: "wsgrok tcp [flags] <port | host:port>",
		ShortHelp:  "expose a local TCP service at a public port",
		FlagSet:    fs,
		Options:    c.options(),
		Exec: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return usageErr("give one local address: wsgrok tcp 22")
			}
			if port < 0 || port > 65535 {
				return usageErr("--remote-port %d: use a port 1-65535, or leave it out for any", port)
			}
			if err := pol.check(); err != nil {
				return err
			}
			addr := args[0]
			if !strings.Contains(addr, ":") {
				addr = "127.0.0.1:" + addr
			}
			t := agent.Tunnel{Kind: wire.KindTCP, Upstream: addr, Port: port, Options: pol.Options()}
			return serve(ctx, &c, []namedTunnel{{Tunnel: t}}, stdout, stderr)
		},
	}, fs
}

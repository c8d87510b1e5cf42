package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// startCommand is `wsgrok start`: tunnels named in the config file, all in
// one agent so that they share its sessions to the edge.
func startCommand(stdout, stderr io.Writer) (*ffcli.Command, *flag.FlagSet) {
	var (
		fs  = flag.NewFlagSet("wsgrok start", flag.ContinueOnError)
		c   common
		all bool
	)
	c.register(fs)
	fs.BoolVar(&all, "all", false, "start every tunnel in the config file")
	fs.SetOutput(stderr)
	return &ffcli.Command{
		Name:       "start",
		ShortUsage: "wsgrok start [flags] <name>... | --all",
		ShortHelp:  "start tunnels defined in the config file",
		LongHelp: "Starts tunnels defined under tunnels: in the config file, all over the same\n" +
			"sessions to the edge. Check the file first with: wsgrok config check",
		FlagSet: fs,
		Options: c.options(),
		Exec: func(ctx context.Context, args []string) error {
			if c.file == nil {
				return fmt.Errorf("no config file at %s: define tunnels there, or pass --config", c.config)
			}
			defs, err := c.file.Select(args, all)
			if err != nil {
				return usageErr("%v", err)
			}
			tunnels := make([]namedTunnel, len(defs))
			for i, d := range defs {
				tunnels[i] = namedTunnel{name: d.Name, Tunnel: d.AgentTunnel()}
			}
			return serve(ctx, &c, tunnels, stdout, stderr)
		},
	}, fs
}

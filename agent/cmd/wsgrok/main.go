// Command wsgrok exposes a local service at a public URL through a wsgrok
// edge:
//
//	wsgrok http 3000
//	wsgrok tcp 22
//	wsgrok start web api            # tunnels named in wsgrok.yml
//	wsgrok start --all
//	wsgrok config check
//	wsgrok config add-authtoken <token>
//	wsgrok update                   # the latest release, signature verified
//
// Settings come from flags, then WSGROK_* environment variables, then the
// config file (see package github.com/wsgrok/wsgrok/agent/config).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/agent/flagorder"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tuneGC()
	cleanupOldBinary()
	servePprof(os.Stderr)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command, with its streams, so that tests can run it in
// process. It returns the exit code: 0, 1 for a failure, 2 for a usage
// error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	httpCmd, httpFS := httpCommand(stdout, stderr)
	tcpCmd, tcpFS := tcpCommand(stdout, stderr)
	startCmd, startFS := startCommand(stdout, stderr)
	configCmd, configFS := configCommand(stdout, stderr)
	updateCmd := updateCommand(stdout, stderr)
	versionCmd := &ffcli.Command{
		Name:      "version",
		FlagSet:   flag.NewFlagSet("wsgrok version", flag.ContinueOnError),
		ShortHelp: "print the version",
		Exec: func(context.Context, []string) error {
			fmt.Fprintf(stdout, "wsgrok %s\n", agent.Version)
			return nil
		},
	}
	root := &ffcli.Command{
		ShortUsage:  "wsgrok <command> [flags] [args]",
		Subcommands: []*ffcli.Command{httpCmd, tcpCmd, startCmd, configCmd, updateCmd, versionCmd},
		Exec:        func(context.Context, []string) error { return flag.ErrHelp },
	}
	versionCmd.FlagSet.SetOutput(stderr)
	root.FlagSet = flag.NewFlagSet("wsgrok", flag.ContinueOnError)
	root.FlagSet.SetOutput(stderr)
	sets := map[string]*flag.FlagSet{"http": httpFS, "tcp": tcpFS, "start": startFS, "update": updateCmd.FlagSet}
	for name, fs := range configFS {
		sets["config "+name] = fs
	}
	err := root.ParseAndRun(ctx, permute(args, sets))
	var (
		code exitCode
		ue   usageError
	)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 2
	case errors.As(err, &code):
		return int(code)
	case flagError(err):
		return 2 // the flag package has printed it, with the usage
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "wsgrok: %s\n", ue)
		return 2
	}
	fmt.Fprintf(stderr, "wsgrok: %s\n", withCode(err))
	return 1
}

// exitCode ends the command with a code once it has said why itself.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

type usageError string

func (e usageError) Error() string { return string(e) }

func usageErr(format string, args ...any) error { return usageError(fmt.Sprintf(format, args...)) }

// flagError reports the flag package's parse errors (which ff wraps),
// which it has printed itself with the command's usage.
func flagError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"flag provided but not defined", "invalid value ", "invalid boolean value ", "flag needs an argument", "bad flag syntax"} {
		if strings.Contains(msg, "error parsing commandline arguments: "+p) || strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// message is err for a person: the agent's errors start with "wsgrok: ",
// which the lines printed here already do.
func message(err error) string {
	return strings.TrimPrefix(err.Error(), "wsgrok: ")
}

var errNoAuthtoken = errors.New("no authtoken: run `wsgrok config add-authtoken <token>` with a token from the dashboard, or pass --authtoken")

// withCode is message(err) with the agent's stable code after it, as in
// "... retrying in 2s (ERR_WSGROK_EDGE_UNREACHABLE)", when it has one.
func withCode(err error) string {
	if errors.Is(err, errNoAuthtoken) {
		return message(err) + " (ERR_WSGROK_NO_AUTHTOKEN)"
	}
	if c := agent.Code(err); c != "ERR_WSGROK_OTHER" {
		return message(err) + " (" + c + ")"
	}
	return message(err)
}

// permute lets flags follow positional arguments, as in
// `wsgrok http 3000 --subdomain demo` or `wsgrok start web --pool 2`: Go's
// flag package stops at the first non-flag, so flags are moved in front of
// it. sets maps a command ("http", or "config check") to its flags.
func permute(args []string, sets map[string]*flag.FlagSet) []string {
	if len(args) == 0 {
		return args
	}
	n, fs := 1, sets[args[0]]
	if len(args) > 1 {
		if sub := sets[args[0]+" "+args[1]]; sub != nil {
			n, fs = 2, sub
		}
	}
	if fs == nil {
		return args
	}
	return append(append([]string{}, args[:n]...), flagorder.FlagsFirst(fs, args[n:])...)
}

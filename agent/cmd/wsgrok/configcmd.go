package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/wsgrok/wsgrok/agent/config"
)

// configCommand is `wsgrok config`, with its subcommands' flag sets by name.
func configCommand(stdout, stderr io.Writer) (*ffcli.Command, map[string]*flag.FlagSet) {
	// The config path comes from --config or WSGROK_CONFIG; these commands
	// read the file themselves, so ff is not given it.
	envOnly := []ff.Option{ff.WithEnvVarPrefix("WSGROK")}

	checkFS := flag.NewFlagSet("wsgrok config check", flag.ContinueOnError)
	checkPath := checkFS.String("config", defaultConfigPath(), "config file to check (env WSGROK_CONFIG)")
	check := &ffcli.Command{
		Name:       "check",
		ShortUsage: "wsgrok config check [--config PATH]",
		ShortHelp:  "validate the config file, naming the line of each problem",
		FlagSet:    checkFS,
		Options:    envOnly,
		Exec: func(_ context.Context, args []string) error {
			if len(args) != 0 {
				return usageErr("config check takes no arguments: give the file with --config")
			}
			return checkConfig(*checkPath, stdout, stderr)
		},
	}

	addFS := flag.NewFlagSet("wsgrok config add-authtoken", flag.ContinueOnError)
	addPath := addFS.String("config", defaultConfigPath(), "config file to write (env WSGROK_CONFIG)")
	add := &ffcli.Command{
		Name:       "add-authtoken",
		ShortUsage: "wsgrok config add-authtoken [--config PATH] <token>",
		ShortHelp:  "store an authtoken in the config file",
		FlagSet:    addFS,
		Options:    envOnly,
		Exec: func(_ context.Context, args []string) error {
			if len(args) != 1 {
				return usageErr("give the token: wsgrok config add-authtoken <token>")
			}
			if err := addAuthtoken(*addPath, strings.TrimSpace(args[0])); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Authtoken saved to %s\n", *addPath)
			return nil
		},
	}

	cfgFS := flag.NewFlagSet("wsgrok config", flag.ContinueOnError)
	for _, fs := range []*flag.FlagSet{checkFS, addFS, cfgFS} {
		fs.SetOutput(stderr)
	}
	return &ffcli.Command{
		Name:        "config",
		ShortUsage:  "wsgrok config <check | add-authtoken> [flags]",
		ShortHelp:   "check or edit the agent's config file",
		FlagSet:     cfgFS,
		Subcommands: []*ffcli.Command{check, add},
		Exec:        func(context.Context, []string) error { return flag.ErrHelp },
	}, map[string]*flag.FlagSet{"check": checkFS, "add-authtoken": addFS}
}

// checkConfig prints "PATH: OK, N tunnels", or every problem one a line.
func checkConfig(path string, stdout, stderr io.Writer) error {
	f, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no config file at %s: create it, or pass --config", path)
	}
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		return exitCode(1)
	}
	if err != nil {
		return err
	}
	noun := "tunnels"
	if len(f.Defs) == 1 {
		noun = "tunnel"
	}
	fmt.Fprintf(stdout, "%s: OK, %d %s\n", path, len(f.Defs), noun)
	return nil
}

// addAuthtoken stores token in the config file, keeping the rest of it.
func addAuthtoken(path, token string) error {
	f, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = config.Parse(nil, path)
	}
	if err != nil {
		return fmt.Errorf("%v: fix the file before adding a token", summarize(err))
	}
	out, err := f.SetAuthtoken(token)
	if err != nil {
		return err
	}
	return writeFile(path, out)
}

// writeFile replaces path atomically, readable by its owner only (it holds
// a secret). A symbolic link, as dotfile managers make, stays one.
func writeFile(path string, data []byte) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".wsgrok-*.yml")
	if err != nil {
		return fmt.Errorf("cannot write to %s: %w", dir, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/agent/update"
)

// updateCommand is `wsgrok update`: replace this binary with the latest
// release, verified against the release keys built into it.
func updateCommand(stdout, stderr io.Writer) *ffcli.Command {
	fs := flag.NewFlagSet("wsgrok update", flag.ContinueOnError)
	fs.SetOutput(stderr)
	manifest := fs.String("update-url", update.DefaultManifestURL, "signed release manifest URL (env WSGROK_UPDATE_URL)")
	check := fs.Bool("check", false, "only say whether a newer release exists")
	exe := fs.String("exe", "", "binary to replace (default: this one)")
	return &ffcli.Command{
		Name:       "update",
		ShortUsage: "wsgrok update [--check] [--update-url URL]",
		ShortHelp:  "update wsgrok to the latest verified release",
		FlagSet:    fs,
		Options:    []ff.Option{ff.WithEnvVarPrefix("WSGROK")},
		Exec: func(ctx context.Context, args []string) error {
			if len(args) != 0 {
				return usageErr("wsgrok update takes no arguments")
			}
			u := &update.Updater{ManifestURL: *manifest, Current: agent.Version, Exe: *exe}
			if u.ManifestURL == "" {
				return update.ErrNoManifestURL
			}
			if *check {
				m, _, newer, err := u.Check(ctx)
				if err != nil {
					return err
				}
				if !newer {
					fmt.Fprintf(stdout, "wsgrok %s is up to date (the latest release is %s)\n", agent.Version, m.Version)
					return nil
				}
				fmt.Fprintf(stdout, "wsgrok %s is available (you have %s): run `wsgrok update`\n", m.Version, agent.Version)
				return nil
			}
			m, err := u.Update(ctx)
			if errors.Is(err, update.ErrUpToDate) {
				fmt.Fprintf(stdout, "wsgrok %s is up to date (the latest release is %s)\n", agent.Version, m.Version)
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Updated wsgrok %s -> %s (signature and SHA-256 verified). The previous binary is kept until the new one starts.\n", agent.Version, m.Version)
			return nil
		},
	}
}

// updateNotice prints a line at start when a newer release exists. It
// never delays the tunnel: it runs beside it and gives up quickly.
func updateNotice(ctx context.Context, manifestURL string, w io.Writer) {
	if manifestURL == "" {
		return
	}
	go func() {
		u := &update.Updater{ManifestURL: manifestURL, Current: agent.Version}
		ctx, cancel := context.WithTimeout(ctx, update.NoticeTimeout+time.Second)
		defer cancel()
		if n := update.Notice(ctx, u); n != "" {
			fmt.Fprintln(w, n)
		}
	}()
}

// cleanupOldBinary removes the binary a successful update kept as
// <exe>.old: this one has started, so the update worked.
func cleanupOldBinary() { update.CleanupOld("") }

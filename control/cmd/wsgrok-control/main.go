// Command wsgrok-control runs the control service on its own: accounts,
// authtokens, reserved names, policies, usage, the dashboard and the JSON
// API, for one or several edges (wsgrok-edge embeds the same service by
// default). Flags may also be set as WSGROK_* environment variables, e.g.
// WSGROK_DATA_DIR.
//
// `wsgrok-control release keygen` and `release sign` make the release key
// and publish signed agent updates into --releases-dir (see release.go).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3"

	"github.com/wsgrok/wsgrok/control"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "wsgrok-control: %v\n", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	addr, dataDir, domain, publicURL, edgeSecret string
	tlsCert, tlsKey, releasesDir, logLevel       string
	quarantine, retention                        time.Duration
}

func parse(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("wsgrok-control", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9000", "listen address of the dashboard, the JSON API and the edge API")
	fs.StringVar(&o.dataDir, "data-dir", "wsgrok-control-data", "directory of the database and the edge secret")
	fs.StringVar(&o.domain, "domain", "localhost", "the tunnels' domain, as the dashboard shows it")
	fs.StringVar(&o.publicURL, "public-url", "", "the dashboard's public URL (default: from --addr)")
	fs.StringVar(&o.edgeSecret, "edge-secret", "", "secret edges authenticate with (default: generated once, kept in --data-dir/edge-secret)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "certificate chain (PEM) to serve HTTPS; empty: plain HTTP")
	fs.StringVar(&o.tlsKey, "tls-key", "", "key (PEM) of --tls-cert")
	fs.StringVar(&o.releasesDir, "releases-dir", "", "signed agent releases to serve under /releases/; empty: none")
	fs.DurationVar(&o.quarantine, "name-quarantine", 24*time.Hour, "how long a released name is kept from other accounts")
	fs.DurationVar(&o.retention, "usage-retention", 30*24*time.Hour, "how long per-minute usage is kept")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("WSGROK")); err != nil {
		return o, err
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return o, errors.New("--tls-cert and --tls-key go together: give both, or neither for plain HTTP")
	}
	if o.edgeSecret != "" && len(o.edgeSecret) < 32 {
		return o, errors.New("--edge-secret must be at least 32 characters (or leave it empty to generate one)")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "release" {
		return releaseCmd(args[1:], stdout)
	}
	o, err := parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", o.logLevel)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (is another wsgrok-control running? choose another --addr)", o.addr, err)
	}
	scheme := "http"
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
		scheme = "https"
	}
	public := o.publicURL
	if public == "" {
		public = scheme + "://" + ln.Addr().String()
	}
	svc, err := control.New(control.Config{DataDir: o.dataDir, PublicURL: strings.TrimSuffix(public, "/"), Domain: o.domain,
		EdgeSecret: o.edgeSecret, Quarantine: o.quarantine, UsageRetention: o.retention,
		SecureCookies: strings.HasPrefix(public, "https://"), ReleasesDir: o.releasesDir, Logger: log})
	if err != nil {
		ln.Close()
		return err
	}
	dir, _ := filepath.Abs(o.dataDir)
	fmt.Fprintf(stdout, "wsgrok-control: dashboard at %s\n", public)
	fmt.Fprintf(stdout, "  data directory: %s\n", dir)
	fmt.Fprintf(stdout, "  edges connect with: --control-url %s --control-secret \"$(cat %s)\"\n", public, filepath.Join(dir, "edge-secret"))

	served := make(chan error, 1)
	go func() { served <- svc.Serve(ln) }()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err = <-served:
	case <-ctx.Done():
		log.Info("shutting down")
	}
	if cerr := svc.Close(); err == nil {
		err = cerr
	}
	return err
}

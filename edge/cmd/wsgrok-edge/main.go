// Command wsgrok-edge runs a wsgrok edge. By default the control service
// (accounts, authtokens, policies, usage and the dashboard) runs in the
// same process, so one binary self-hosts everything; --control-url points
// several edges at one standalone wsgrok-control instead.
//
// With no flags it serves the dev domain *.localhost on loopback with a
// generated development CA, a development account on the dashboard, and
// prints an authtoken for a local agent.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3"

	"github.com/wsgrok/wsgrok/edge"
)

func main() {
	tuneGC()
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	if err := run(os.Args[1:], os.Stdout, sig); err != nil {
		fmt.Fprintf(os.Stderr, "wsgrok-edge: %v\n", err)
		os.Exit(1)
	}
}

// run is the whole command: it serves until the first value on sig, then
// drains for up to --shutdown-grace; a second value stops at once.
func run(args []string, stdout io.Writer, sig <-chan os.Signal) error {
	d := edge.DefaultConfig()
	fs := flag.NewFlagSet("wsgrok-edge", flag.ContinueOnError)
	cfg := d
	fs.StringVar(&cfg.Domain, "domain", d.Domain, "public domain: tunnels are <name>.<domain>")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", d.HTTPAddr, "plain HTTP/1.1 listener, or off")
	fs.StringVar(&cfg.HTTPSAddr, "https-addr", d.HTTPSAddr, "HTTPS listener (HTTP/1.1 and HTTP/2), or off")
	fs.StringVar(&cfg.AgentAddr, "agent-addr", d.AgentAddr, "agent listener (TLS)")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", d.AdminAddr, "/metrics and /healthz listener, or off")
	fs.IntVar(&cfg.PublicHTTPPort, "public-http-port", 0, "HTTP port in public URLs (when a load balancer maps it)")
	fs.IntVar(&cfg.PublicHTTPSPort, "public-https-port", 0, "HTTPS port in public URLs")
	fs.StringVar(&cfg.TCPHost, "tcp-host", d.TCPHost, "address TCP tunnel ports listen on")
	fs.IntVar(&cfg.TCPPortMin, "tcp-port-min", d.TCPPortMin, "lowest TCP tunnel port (-1 disables TCP tunnels)")
	fs.IntVar(&cfg.TCPPortMax, "tcp-port-max", d.TCPPortMax, "highest TCP tunnel port")
	fs.StringVar(&cfg.DataDir, "data-dir", d.DataDir, "directory for keys and the development CA")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "certificate chain (PEM) for *.<domain>; empty: development CA")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "key (PEM) of --tls-cert")
	fs.BoolVar(&cfg.ACME, "acme", false, "get certificates per name from an ACME CA (TLS-ALPN-01 on the HTTPS listener, which the CA must reach on port 443), accepting its terms of service; cached in <data-dir>/acme")
	fs.StringVar(&cfg.ACMEDirectory, "acme-directory", "", "ACME directory URL (default Let's Encrypt production)")
	fs.StringVar(&cfg.ACMEEmail, "acme-email", "", "contact email registered with the ACME CA")
	fs.StringVar(&cfg.ACMECARoots, "acme-ca-roots", "", "PEM file of roots to trust for the ACME server (private ACME CAs); empty: system roots")
	trusted := fs.String("trusted-proxies", "", "comma-separated CIDRs allowed to send PROXY protocol v2")
	fs.IntVar(&cfg.MaxHeaderBytes, "max-header-bytes", d.MaxHeaderBytes, "request head size limit")
	fs.DurationVar(&cfg.HeaderTimeout, "header-timeout", d.HeaderTimeout, "time a client has to send a request head")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", d.IdleTimeout, "keep-alive idle limit")
	fs.DurationVar(&cfg.Hold, "hold", d.Hold, "how long a request waits for a reconnecting agent")
	fs.DurationVar(&cfg.OfflineGrace, "offline-grace", d.OfflineGrace, "how long a tunnel keeps its name after its agent leaves")
	fs.IntVar(&cfg.EventLoops, "event-loops", d.EventLoops, "gnet event loops of each HTTP ingress (plain, and HTTPS/1.1)")
	fs.BoolVar(&cfg.HTTPSNetHTTP, "https-net-http", false, "serve HTTPS/1.1 with net/http instead of on event loops")
	fs.IntVar(&cfg.MaxTunnelsPerAgent, "max-tunnels-per-agent", d.MaxTunnelsPerAgent, "tunnels per agent connection")
	grace := fs.Duration("shutdown-grace", 30*time.Second, "how long SIGTERM waits for in-flight requests")
	controlAddr := fs.String("control-addr", defaultControlAddr, "listener of the embedded control service and dashboard, or off")
	fs.StringVar(&cfg.ControlURL, "control-url", "", "URL of a standalone wsgrok-control to sync from (instead of embedding one)")
	fs.StringVar(&cfg.ControlSecret, "control-secret", "", "the edge secret of --control-url")
	quarantine := fs.Duration("name-quarantine", 24*time.Hour, "embedded control: how long a released name is kept from other accounts")
	devAccount := fs.String("dev-account", "dev", "account of the printed development authtoken (when no control service runs)")
	tokenFile := fs.String("dev-token-file", "", "also write the development authtoken to this file")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("WSGROK_EDGE")); err != nil {
		return err
	}
	if *trusted != "" {
		cfg.TrustedProxies = strings.Split(*trusted, ",")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: %w", *logLevel, err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	dev := cfg.TLSCert == "" && !cfg.ACME // the development CA: a developer's machine
	var ctl *embedded
	if cfg.ControlURL == "" && *controlAddr != "off" {
		var err error
		if ctl, err = startControl(*controlAddr, cfg, *quarantine); err != nil {
			return err
		}
		defer ctl.close()
		cfg.ControlURL, cfg.ControlSecret = ctl.url, ctl.edgeSecret()
	}
	e, err := edge.New(cfg)
	if err != nil {
		return err
	}
	if err := e.Start(); err != nil {
		return err
	}
	if dev {
		caPath, _ := filepath.Abs(filepath.Join(cfg.DataDir, "ca.pem"))
		fmt.Fprintf(stdout, "wsgrok-edge: development mode, domain %s\n", cfg.Domain)
		fmt.Fprintf(stdout, "  development CA: %s\n", caPath)
		var tok string
		switch {
		case ctl != nil:
			email, password, token, err := ctl.devSetup(context.Background(), "dev@localhost")
			if err != nil {
				return err
			}
			tok = token
			fmt.Fprintf(stdout, "  dashboard: %s  (log in as %s, password %s)\n", ctl.url, email, password)
		case cfg.ControlURL == "":
			if tok, err = e.MintDevToken(*devAccount); err != nil {
				return err
			}
		}
		if tok != "" {
			fmt.Fprintf(stdout, "  agent: wsgrok http 3000 --edge %s --ca %s --authtoken %s\n", e.AgentAddr, caPath, tok)
			if *tokenFile != "" {
				if err := os.WriteFile(*tokenFile, []byte(tok+"\n"), 0o600); err != nil {
					return err
				}
			}
		}
	} else if ctl != nil {
		fmt.Fprintf(stdout, "wsgrok-edge: domain %s, dashboard %s\n", cfg.Domain, ctl.url)
	}
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	go func() {
		select {
		case <-sig: // a second signal stops at once
			cancel()
		case <-ctx.Done():
		}
	}()
	e.Shutdown(ctx)
	return nil
}

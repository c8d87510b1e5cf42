// Command wsgrok-edge runs a wsgrok edge. With no flags it serves the dev
// domain *.localhost on loopback with a generated development CA and
// prints an authtoken for a local agent.
package main

import (
	"context"
	"flag"
	"fmt"
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
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "wsgrok-edge: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
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
	trusted := fs.String("trusted-proxies", "", "comma-separated CIDRs allowed to send PROXY protocol v2")
	fs.IntVar(&cfg.MaxHeaderBytes, "max-header-bytes", d.MaxHeaderBytes, "request head size limit")
	fs.DurationVar(&cfg.HeaderTimeout, "header-timeout", d.HeaderTimeout, "time a client has to send a request head")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", d.IdleTimeout, "keep-alive idle limit")
	fs.DurationVar(&cfg.Hold, "hold", d.Hold, "how long a request waits for a reconnecting agent")
	fs.DurationVar(&cfg.OfflineGrace, "offline-grace", d.OfflineGrace, "how long a tunnel keeps its name after its agent leaves")
	fs.IntVar(&cfg.MaxTunnelsPerAgent, "max-tunnels-per-agent", d.MaxTunnelsPerAgent, "tunnels per agent connection")
	grace := fs.Duration("shutdown-grace", 30*time.Second, "how long SIGTERM waits for in-flight requests")
	devAccount := fs.String("dev-account", "dev", "account of the printed development authtoken")
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

	e, err := edge.New(cfg)
	if err != nil {
		return err
	}
	if err := e.Start(); err != nil {
		return err
	}
	if ca := e.CAPEM(); ca != nil {
		tok, err := e.MintDevToken(*devAccount)
		if err != nil {
			return err
		}
		caPath, _ := filepath.Abs(filepath.Join(cfg.DataDir, "ca.pem"))
		fmt.Printf("wsgrok-edge: development mode, domain %s\n", cfg.Domain)
		fmt.Printf("  development CA: %s\n", caPath)
		fmt.Printf("  agent: wsgrok http 3000 --edge %s --ca %s --authtoken %s\n", e.AgentAddr, caPath, tok)
		if *tokenFile != "" {
			if err := os.WriteFile(*tokenFile, []byte(tok+"\n"), 0o600); err != nil {
				return err
			}
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	go func() {
		<-sig // a second signal stops at once
		cancel()
	}()
	e.Shutdown(ctx)
	return nil
}

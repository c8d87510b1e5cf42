// Command wsgrok-backend serves the wsgrok demo and benchmark backend
// (package bench/backend) on one address.
//
//	wsgrok-backend [-addr 127.0.0.1:3000] [-h2c]
//
// On start it prints one line, "wsgrok-backend listening on http://ADDR",
// with the bound address (so -addr 127.0.0.1:0 shows the port picked). On
// SIGINT or SIGTERM it stops accepting, gives open requests 5 s to finish,
// closes whatever is left and exits 0.
//
// -h2c also serves HTTP/2 over cleartext TCP with prior knowledge (the
// client starts with the HTTP/2 preface, as Go's http.Transport with
// Protocols.SetUnencryptedHTTP2 or curl --http2-prior-knowledge do), next
// to HTTP/1.1 on the same port. It uses net/http's own support
// (http.Server.Protocols), which replaces the deprecated
// golang.org/x/net/http2/h2c and, unlike it, keeps HTTP/2 connections
// under Server.Shutdown. The HTTP/1.1 "Upgrade: h2c" route is not offered.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wsgrok/wsgrok/bench/backend"
)

const shutdownGrace = 5 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsgrok-backend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:3000", "`host:port` to listen on (port 0 picks a free port)")
	h2c := fs.Bool("h2c", false, "also serve HTTP/2 over cleartext (prior knowledge) next to HTTP/1.1")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wsgrok-backend: unexpected arguments %q\n", fs.Args())
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "wsgrok-backend: %v\n", err)
		return 1
	}
	srv := &http.Server{
		Handler:           backend.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(stderr, "wsgrok-backend: ", log.LstdFlags),
	}
	if *h2c {
		p := new(http.Protocols)
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		srv.Protocols = p
	}

	fmt.Fprintf(stdout, "wsgrok-backend listening on http://%s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "wsgrok-backend: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	stop() // a second signal now ends the process the default way

	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "wsgrok-backend: requests still open after %v, closing them\n", shutdownGrace)
		srv.Close()
	}
	<-errc // http.ErrServerClosed
	return 0
}

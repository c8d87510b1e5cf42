package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/agent/inspect"
)

// inspectFlags are the request inspector's flags, part of common.
type inspectFlags struct {
	addr        string
	allowRemote bool
	redact      bool
	maxRequests int
	maxBody     int
}

func (f *inspectFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "inspect-addr", inspect.DefaultAddr, "request inspector address host:port; off disables it")
	fs.BoolVar(&f.allowRemote, "inspect-allow-remote", false, "let the inspector listen on an address other machines can reach")
	fs.BoolVar(&f.redact, "inspect-redact", false, "keep Authorization and cookie values out of the inspector")
	fs.IntVar(&f.maxRequests, "inspect-max-requests", inspect.DefaultMaxRequests, "requests the inspector keeps, newest first")
	fs.IntVar(&f.maxBody, "inspect-max-body", inspect.DefaultMaxBody, "body bytes the inspector keeps per request and per response")
}

// inspector is the running inspector of serve; a nil *inspector is off,
// and every method is safe on it.
type inspector struct {
	ins  *inspect.Inspector
	url  string
	done chan struct{}
}

// startInspector listens and serves the inspector unless it is off. A
// busy port is not fatal: the tunnels matter more, so it says so on
// stderr and runs without.
func startInspector(f *inspectFlags, stderr io.Writer) (*inspector, error) {
	if f.addr == "" || f.addr == "off" || f.addr == "false" {
		return nil, nil
	}
	if f.maxRequests < 1 || f.maxBody < 0 {
		return nil, usageErr("--inspect-max-requests must be at least 1 and --inspect-max-body at least 0")
	}
	ln, err := listenInspector(f)
	if errors.Is(err, inspect.ErrNotLoopback) {
		return nil, usageErr("--inspect-addr %s is not a loopback address: use 127.0.0.1, or add --inspect-allow-remote to let other machines reach the inspector", f.addr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "wsgrok: %s; running without the inspector (pick another with --inspect-addr, or off)\n", message(err))
		return nil, nil
	}
	maxBody := f.maxBody
	if maxBody == 0 {
		maxBody = -1 // sizes only
	}
	in := &inspector{
		ins:  inspect.New(inspect.Config{MaxRequests: f.maxRequests, MaxBody: maxBody, Redact: f.redact}),
		done: make(chan struct{}),
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	in.url = "http://" + net.JoinHostPort(host, port)
	go func() {
		defer close(in.done)
		in.ins.Serve(ln)
	}()
	return in, nil
}

// listenInspector opens f.addr; at the default address a busy port is
// followed by the next nine, as ngrok does, so that several agents can
// run side by side.
func listenInspector(f *inspectFlags) (net.Listener, error) {
	if f.addr == inspect.DefaultAddr {
		return listenNear(f.addr, f.allowRemote, 9)
	}
	return inspect.Listen(f.addr, f.allowRemote)
}

// listenNear listens on addr or, when it is taken, on one of the next
// more ports, as agents running side by side need (4040, 4041, ...); the
// error is addr's.
func listenNear(addr string, allowRemote bool, more int) (net.Listener, error) {
	ln, err := inspect.Listen(addr, allowRemote)
	if err == nil {
		return ln, nil
	}
	host, port, _ := net.SplitHostPort(addr)
	first, perr := strconv.Atoi(port)
	if perr != nil || first == 0 {
		return nil, err
	}
	for p := first + 1; p <= first+more && p < 65536; p++ {
		if l, e := inspect.Listen(net.JoinHostPort(host, strconv.Itoa(p)), allowRemote); e == nil {
			return l, nil
		}
	}
	return nil, err
}

// URL is the inspector's address for people, "" when off.
func (in *inspector) URL() string {
	if in == nil {
		return ""
	}
	return in.url
}

// observer is the agent's Observer: nil (no interface value) when off.
func (in *inspector) observer() agent.Observer {
	if in == nil {
		return nil
	}
	return in.ins
}

// attach gives the inspector the agent that replays requests.
func (in *inspector) attach(a *agent.Agent) {
	if in != nil {
		in.ins.SetAgent(a)
	}
}

func (in *inspector) close() {
	if in == nil {
		return
	}
	in.ins.Close()
	<-in.done
}

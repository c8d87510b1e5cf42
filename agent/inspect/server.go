package inspect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// DefaultAddr is where the inspector listens unless told otherwise.
const DefaultAddr = "127.0.0.1:4040"

// ErrNotLoopback refuses a listen address that other machines can reach.
var ErrNotLoopback = errors.New("wsgrok: the inspector listens on loopback only")

// Listen opens the inspector's listener on addr. An address other
// machines could reach is refused unless allowRemote is set: the
// inspector shows credentials and can send requests.
func Listen(addr string, allowRemote bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("wsgrok: inspector address %q: want host:port such as %s", addr, DefaultAddr)
	}
	if !allowRemote && !loopbackHost(host) {
		return nil, fmt.Errorf("%w: %s is not a loopback address (use 127.0.0.1, or allow remote access explicitly)", ErrNotLoopback, host)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wsgrok: inspector cannot listen on %s: %w", addr, err)
	}
	return ln, nil
}

// Serve serves the inspector on ln until Close. On a loopback listener
// only loopback Host names are answered (see Handler).
func (i *Inspector) Serve(ln net.Listener) error {
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
		i.remote.Store(true)
	}
	srv := &http.Server{
		Handler:           i.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	i.srvMu.Lock()
	select {
	case <-i.closed:
		i.srvMu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	default:
	}
	i.servers = append(i.servers, srv)
	i.srvMu.Unlock()
	return srv.Serve(ln)
}

// Close stops serving: event streams end, servers shut down.
func (i *Inspector) Close() error {
	i.once.Do(func() { close(i.closed) })
	i.srvMu.Lock()
	srvs := i.servers
	i.servers = nil
	i.srvMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var err error
	for _, s := range srvs {
		if e := s.Shutdown(ctx); e != nil {
			s.Close()
			err = e
		}
	}
	return err
}

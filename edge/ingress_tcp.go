package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"

	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/wire"
)

// tcpIngress gives TCP tunnels their public ports: one listener per port,
// each accepted connection carried as a TCP stream.
type tcpIngress struct {
	host     string // listen address (IP) for tunnel ports
	min, max int
	f        *forwarder
	reg      *Registry
	log      *slog.Logger

	mu  sync.Mutex
	lns map[int]net.Listener
	wg  sync.WaitGroup
}

func (ti *tcpIngress) inRange(port int) bool { return port >= ti.min && port <= ti.max }

func (ti *tcpIngress) randomPort() int { return ti.min + rand.IntN(ti.max-ti.min+1) }

// listen opens the public listener for port.
func (ti *tcpIngress) listen(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(ti.host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	ti.mu.Lock()
	if ti.lns == nil {
		ti.lns = map[int]net.Listener{}
	}
	ti.lns[port] = ln
	ti.mu.Unlock()
	ti.wg.Add(1)
	go ti.serve(port, ln)
	return nil
}

func (ti *tcpIngress) close(port int) {
	ti.mu.Lock()
	ln := ti.lns[port]
	delete(ti.lns, port)
	ti.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}

func (ti *tcpIngress) closeAll() {
	ti.mu.Lock()
	lns := ti.lns
	ti.lns = nil
	ti.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	ti.wg.Wait()
}

func (ti *tcpIngress) serve(port int, ln net.Listener) {
	defer ti.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		ti.wg.Add(1)
		go func() {
			defer ti.wg.Done()
			ti.handle(port, c)
		}()
	}
}

func (ti *tcpIngress) handle(port int, c net.Conn) {
	defer c.Close()
	t := ti.reg.lookupPort(port)
	if t == nil {
		return
	}
	st, err := ti.f.open(context.Background(), t, proto.OpenOptions{Kind: wire.KindTCP, RemoteAddr: c.RemoteAddr().String()})
	if err != nil {
		ti.log.Debug("tcp tunnel: no agent", "port", port, "err", err)
		return
	}
	defer st.Close()
	spliceBoth(c, c, st, ti.f.m)
}

// tcpURL is the public address of a TCP tunnel.
func tcpURL(publicHost string, port int) string {
	return fmt.Sprintf("tcp://%s", net.JoinHostPort(publicHost, strconv.Itoa(port)))
}

var _ io.Reader = streamReader{}

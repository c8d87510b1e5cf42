package agent

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/proto/prototest"
	"github.com/wsgrok/wsgrok/wire"
)

// sessionPair returns a running client and server session over loopback
// TCP.
func sessionPair(t *testing.T) (*proto.Session, *proto.Session) {
	t.Helper()
	cc, sc := prototest.TCP(t)
	srvc := make(chan *proto.Session, 1)
	go func() {
		s, err := proto.Server(sc, proto.Config{})
		if err != nil {
			t.Errorf("server handshake: %v", err)
		}
		srvc <- s
	}()
	cli, err := proto.Client(cc, proto.Config{})
	if err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	srv := <-srvc
	if srv == nil {
		t.FailNow()
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, srv
}

// resetAfterWrite fails its stream as soon as the first write to the
// local service has gone out: the public client leaves just then.
type resetAfterWrite struct {
	net.Conn
	st   *proto.Stream
	once sync.Once
}

func (c *resetAfterWrite) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.once.Do(func() { c.st.Reset(wire.ErrCodeCancel) })
	return n, err
}

// TestStreamFailingAsTheRequestLeavesEndsTheExchange: a stream that
// fails between the request's flush and the arming of the head timeout
// still ends the exchange at once, and the local service sees its
// connection close. Before the fix the head timeout's deadline undid the
// abort's, and the exchange waited the whole timeout (the flake of
// edge's TestClientLeavingCancelsTheLocalRequest).
func TestStreamFailingAsTheRequestLeavesEndsTheExchange(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hungUp := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			t.Errorf("local service: %v", err)
		}
		br.ReadByte() // never answers; returns when the agent lets go
		close(hungUp)
	}()

	_, srv := sessionPair(t)
	st, err := srv.Open(proto.OpenOptions{Kind: wire.KindHTTP})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	uc := newUpConn(&resetAfterWrite{Conn: c, st: st}, ln.Addr().String())
	uc.attach()
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/work", nil)
	done := make(chan error, 1)
	go func() {
		_, err := uc.exchange(st, newUpstreamPool(), req, nil, time.Hour)
		c.Close() // as roundTrip does after a failed exchange
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the exchange of a failed stream got a response")
		}
	case <-time.After(10 * time.Second):
		c.Close()
		<-done
		t.Fatal("the exchange waited for the head timeout after its stream had failed")
	}
	select {
	case <-hungUp:
	case <-time.After(10 * time.Second):
		t.Fatal("the local service's connection stayed open")
	}
}

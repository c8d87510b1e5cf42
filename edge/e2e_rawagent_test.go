package edge_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/wire"
)

// rawAgent is an agent written against proto alone, as a protocol
// implementer working from spec/ would write one, answering each stream
// with handle. inject writes whole frames of its own between the
// session's writes, for frames the proto API would never send.
type rawAgent struct {
	s    *proto.Session
	conn *injectConn
}

// injectConn serializes the session's writes with injected frames, so
// that each reaches the TLS connection whole.
type injectConn struct {
	net.Conn
	mu sync.Mutex
}

func (c *injectConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.Write(p)
}

func (a *rawAgent) inject(frame []byte) error {
	_, err := a.conn.Write(frame)
	return err
}

func (w *world) startRawAgent(name string, handle func(a *rawAgent, st *proto.Stream)) *rawAgent {
	w.t.Helper()
	tc, err := tls.Dial("tcp", w.e.AgentAddr.String(), &tls.Config{RootCAs: w.caPool, ServerName: "localhost"})
	if err != nil {
		w.t.Fatal(err)
	}
	a := &rawAgent{conn: &injectConn{Conn: tc}}
	cfg := proto.Config{Meta: wire.Metadata{{Key: "authtoken", Value: w.token}, {Key: "agent", Value: "raw-test/0"}}}
	cfg.OnStream = func(st *proto.Stream) { go handle(a, st) }
	a.s, err = proto.Client(a.conn, cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { a.s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.s.Bind(ctx, wire.Bind{Kind: wire.KindHTTP, Name: name}); err != nil {
		w.t.Fatal(err)
	}
	return a
}

// A response without a body may end in a DATA frame of its own (spec
// allows END_STREAM on either): the exchange must retire, or the next
// request on the connection waits for ever.
func TestBodilessResponseEndingInItsOwnFrame(t *testing.T) {
	w := newWorld(t)
	w.startRawAgent("rawend", func(a *rawAgent, st *proto.Stream) {
		if _, err := st.ReadHeaders(); err != nil {
			return
		}
		io.Copy(io.Discard, st)
		if st.WriteHeaders([]wire.HeaderField{{Name: ":status", Value: "204"}}, false) != nil {
			return
		}
		st.CloseWrite()
	})
	c := w.client(false)
	c.Timeout = 10 * time.Second
	for i := range 3 { // one connection, kept alive: each must retire before the next
		resp, body := mustGet(t, c, w.url("http", "rawend", "/"))
		if resp.StatusCode != http.StatusNoContent || body != "" {
			t.Fatalf("request %d: %s %q", i, resp.Status, body)
		}
	}
}

// When the edge resets a stream in answer to the agent's misbehaviour on
// it (here a WINDOW_UPDATE overflowing the stream's window, spec §6), the
// exchange must learn of it: the client sees its response cut off at
// once, not a connection that hangs until a timeout; and the session's
// other streams go on.
func TestStreamResetForAgentMisbehaviourEndsTheResponse(t *testing.T) {
	w := newWorld(t)
	headSeen := make(chan struct{})
	w.startRawAgent("rawbad", func(a *rawAgent, st *proto.Stream) {
		h, err := st.ReadHeaders()
		if err != nil {
			return
		}
		io.Copy(io.Discard, st)
		bad := false
		for _, f := range h {
			bad = bad || f.Name == ":path" && f.Value == "/bad"
		}
		if !bad {
			st.WriteHeaders([]wire.HeaderField{{Name: ":status", Value: "200"}, {Name: "content-length", Value: "2"}}, false)
			st.WriteEnd([]byte("ok"))
			return
		}
		st.WriteHeaders([]wire.HeaderField{{Name: ":status", Value: "200"}, {Name: "content-length", Value: "100"}}, false)
		st.Write([]byte("partial"))
		<-headSeen // the exchange has its head: the reset comes mid-body
		a.inject(wire.AppendWindowUpdate(nil, st.ID(), wire.MaxWindow))
	})

	nc, err := net.Dial("tcp", w.e.HTTPAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second)) // a hang fails here, not at the test's timeout
	req, _ := http.NewRequest("GET", w.url("http", "rawbad", "/bad"), nil)
	if err := req.Write(nc); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), req)
	close(headSeen)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("response hung after the stream was reset (read %q)", body)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("body %q, err %v: want the response cut off", body, err)
	}

	resp2, body2 := mustGet(t, w.client(false), w.url("http", "rawbad", "/good"))
	if resp2.StatusCode != 200 || body2 != "ok" {
		t.Fatalf("after the reset: %s %q", resp2.Status, body2)
	}
}

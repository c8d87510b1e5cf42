package proto

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/proto/prototest"
	"github.com/wsgrok/wsgrok/wire"
)

func TestEchoThousandStreams(t *testing.T) {
	for _, tr := range prototest.Transports {
		t.Run(tr.Name, func(t *testing.T) {
			c, _ := pair(t, tr, Config{}, Config{OnStream: echoServer})
			const streams, size = 1000, 16 << 10
			var wg sync.WaitGroup
			errs := make(chan error, streams)
			for i := range streams {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- echoOnce(c, i, size)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if n := c.NumStreams(); n != 0 {
				t.Fatalf("%d streams left open", n)
			}
		})
	}
}

func echoOnce(s *Session, i, size int) error {
	st, err := s.Open(OpenOptions{TunnelID: 1, Kind: wire.KindTCP})
	if err != nil {
		return err
	}
	defer st.Close()
	data := make([]byte, size)
	rand.Read(data)
	werr := make(chan error, 1)
	go func() {
		_, err := st.Write(data)
		if err == nil {
			err = st.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(st)
	if err != nil {
		return fmt.Errorf("stream %d read: %w", i, err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("stream %d write: %w", i, err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("stream %d: echoed %d octets differ from %d sent", i, len(got), len(data))
	}
	return nil
}

func TestHalfClose(t *testing.T) {
	for _, tr := range prototest.Transports {
		t.Run(tr.Name, func(t *testing.T) {
			accepted := make(chan *Stream, 1)
			c, _ := pair(t, tr, Config{}, Config{OnStream: func(st *Stream) { accepted <- st }})
			cs, err := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindTCP})
			if err != nil {
				t.Fatal(err)
			}
			ss := <-accepted

			// Client to server, then the client half-closes; the server still
			// writes afterwards.
			cs.Write([]byte("request"))
			cs.CloseWrite()
			got, err := io.ReadAll(ss)
			if err != nil || string(got) != "request" {
				t.Fatalf("server read %q, %v", got, err)
			}
			if _, err := cs.Write([]byte("x")); !errors.Is(err, ErrWriteClosed) {
				t.Fatalf("write after CloseWrite: %v", err)
			}
			ss.Write([]byte("response after the client's half-close"))

			// Server half-closes: the client reads everything, then EOF.
			ss.CloseWrite()
			got, err = io.ReadAll(cs)
			if err != nil || string(got) != "response after the client's half-close" {
				t.Fatalf("client read %q, %v", got, err)
			}
			if n := c.NumStreams(); n != 0 {
				t.Fatalf("stream still open after both half-closes: %d", n)
			}
		})
	}
}

// TestWriteEnd checks that END_STREAM rides on the last DATA frame: a
// short write ends in one frame, and a write longer than the stream
// window still arrives whole before EOF.
func TestWriteEnd(t *testing.T) {
	accepted := make(chan *Stream, 2)
	c, srv := pair(t, tcp(), Config{InitialStreamWindow: 64 << 10}, Config{OnStream: func(st *Stream) { accepted <- st }})
	for _, size := range []int{100, 1 << 20} {
		cs, err := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindTCP})
		if err != nil {
			t.Fatal(err)
		}
		cs.CloseWrite()
		ss := <-accepted
		if _, err := io.ReadAll(ss); err != nil {
			t.Fatal(err)
		}
		want := bytes.Repeat([]byte("e"), size)
		before := srv.Stats().FramesOut
		wrote := make(chan error, 1)
		go func() {
			n, err := ss.WriteEnd(want)
			if err == nil && n != size {
				err = fmt.Errorf("wrote %d octets", n)
			}
			wrote <- err
		}()
		got, err := io.ReadAll(cs)
		if werr := <-wrote; werr != nil {
			t.Fatalf("WriteEnd(%d): %v", size, werr)
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("client read %d octets, %v; want %d", len(got), err, size)
		}
		if frames := srv.Stats().FramesOut - before; size == 100 && frames != 1 {
			t.Fatalf("a 100 octet WriteEnd took %d frames, want 1", frames)
		}
		if _, err := ss.Write([]byte("x")); !errors.Is(err, ErrWriteClosed) {
			t.Fatalf("write after WriteEnd: %v", err)
		}
	}
}

func TestHalfCloseServerFirst(t *testing.T) {
	accepted := make(chan *Stream, 1)
	c, _ := pair(t, tcp(), Config{}, Config{OnStream: func(st *Stream) { accepted <- st }})
	cs, _ := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindTCP})
	ss := <-accepted
	ss.Write([]byte("banner"))
	ss.CloseWrite()
	buf, err := io.ReadAll(cs)
	if err != nil || string(buf) != "banner" {
		t.Fatalf("%q %v", buf, err)
	}
	// The client's direction is still open.
	cs.Write([]byte("still talking"))
	cs.CloseWrite()
	buf, err = io.ReadAll(ss)
	if err != nil || string(buf) != "still talking" {
		t.Fatalf("%q %v", buf, err)
	}
}

func TestSlowReaderHoldsOnlyItsWindow(t *testing.T) {
	const window = 64 << 10
	accepted := make(chan *Stream, 2)
	c, _ := pair(t, tcp(), Config{}, Config{InitialStreamWindow: window, OnStream: func(st *Stream) { accepted <- st }})
	stuck, _ := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindTCP})
	stuckSrv := <-accepted // never read

	// Fill the stuck stream: Write blocks once the window is spent.
	stuck.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
	n, err := stuck.Write(make([]byte, 10*window))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a stream nobody reads: n=%d err=%v, want a deadline", n, err)
	}
	if n != window {
		t.Fatalf("wrote %d octets before blocking, want exactly the window %d", n, window)
	}

	// Meanwhile another stream on the same session moves 8 MiB.
	flowing, _ := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindTCP})
	flowingSrv := <-accepted
	const bulk = 8 << 20
	go func() {
		flowing.Write(make([]byte, bulk))
		flowing.CloseWrite()
	}()
	got, err := io.Copy(io.Discard, flowingSrv)
	if err != nil || got != bulk {
		t.Fatalf("second stream moved %d of %d: %v", got, bulk, err)
	}
	if b := stuckSrv.Buffered(); b > window {
		t.Fatalf("stuck stream buffers %d octets, more than its window %d", b, window)
	}
	if h := stuckSrv.rbuf.held(); h > window+recvChunk {
		t.Fatalf("stuck stream's buffer holds %d octets of chunks", h)
	}
}

func TestGoAwayDrainsInFlightAndRefusesNew(t *testing.T) {
	for _, tr := range prototest.Transports {
		t.Run(tr.Name, func(t *testing.T) {
			accepted := make(chan *Stream, 1)
			c, s := pair(t, tr, Config{}, Config{OnStream: func(st *Stream) { accepted <- st }})
			inflight, _ := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindHTTP})
			inflight.Write([]byte("req"))
			inflight.CloseWrite()
			srv := <-accepted

			drained := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				drained <- s.Drain(ctx, "edge shutting down")
			}()
			// The client learns of the GOAWAY and refuses to open more.
			deadline := time.After(5 * time.Second)
			for !c.GoingAway() {
				select {
				case <-deadline:
					t.Fatal("client never saw GOAWAY")
				case <-time.After(time.Millisecond):
				}
			}
			if _, err := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindHTTP}); !errors.Is(err, ErrGoAway) {
				t.Fatalf("open after GOAWAY: %v", err)
			}
			// The in-flight stream still completes.
			io.ReadAll(srv)
			srv.Write([]byte("response"))
			srv.CloseWrite()
			got, err := io.ReadAll(inflight)
			if err != nil || string(got) != "response" {
				t.Fatalf("in-flight stream got %q, %v", got, err)
			}
			if err := <-drained; err != nil {
				t.Fatalf("drain: %v", err)
			}
			if err := waitClosed(t, c, 5*time.Second); !errors.Is(err, io.EOF) && !errors.Is(err, ErrSessionClosed) {
				t.Fatalf("client ended with %v", err)
			}
		})
	}
}

func TestGoAwayRefusesPeerStreams(t *testing.T) {
	r, s := rawClient(t, tcp(), Config{})
	s.GoAway(wire.ErrCodeNo, "draining")
	for {
		if g, ok := r.next().(*wire.GoAway); ok {
			if g.Code != wire.ErrCodeNo || g.Debug != "draining" {
				t.Fatalf("GOAWAY %+v", g)
			}
			break
		}
	}
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindHTTP})
	r.expectReset(1, wire.ErrCodeRefusedStream)
}

func TestHandshakeRefused(t *testing.T) {
	cc, sc := prototest.TCP(t)
	go Server(sc, Config{Authenticate: func(_ net.Conn, h *wire.Hello) (wire.Metadata, error) {
		if h.Meta.Get("authtoken") != "good" {
			return nil, &PeerError{Code: wire.ErrCodeUnauthorized, Message: "authtoken not valid: create one in the dashboard"}
		}
		return nil, nil
	}})
	_, err := Client(cc, Config{Meta: wire.Metadata{{Key: "authtoken", Value: "bad"}}})
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Code != wire.ErrCodeUnauthorized || pe.Message != "authtoken not valid: create one in the dashboard" {
		t.Fatalf("got %v", err)
	}
}

func TestHandshakeMetadataAndAccount(t *testing.T) {
	c, s := pair(t, tcp(),
		Config{Meta: wire.Metadata{{Key: "authtoken", Value: "good"}, {Key: "agent", Value: "test/1"}}},
		Config{Meta: wire.Metadata{{Key: "edge", Value: "e1"}}, Authenticate: func(_ net.Conn, h *wire.Hello) (wire.Metadata, error) {
			return wire.Metadata{{Key: "account", Value: "alice"}}, nil
		}})
	if c.PeerMeta().Get("account") != "alice" || c.PeerMeta().Get("edge") != "e1" {
		t.Fatalf("client sees %v", c.PeerMeta())
	}
	if s.PeerMeta().Get("agent") != "test/1" {
		t.Fatalf("server sees %v", s.PeerMeta())
	}
}

func TestHandshakeVersionMismatch(t *testing.T) {
	cc, sc := prototest.TCP(t)
	errs := make(chan error, 1)
	go func() { _, err := Server(sc, Config{}); errs <- err }()
	hello := wire.Hello{Versions: []uint16{7}}
	cc.Write(hello.Append([]byte(wire.Preface)))
	rd := wire.NewReader(cc, wire.MaxLength, 0)
	if err := rd.ReadPreface(); err != nil {
		t.Fatal(err)
	}
	h, p, err := rd.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	ack, err := wire.ParseHello(h, p)
	if err != nil || ack.Status != wire.ErrCodeVersionMismatch || len(ack.Versions) != 1 || ack.Versions[0] != 1 || ack.Meta.Get("message") == "" {
		t.Fatalf("answer %+v %v", ack, err)
	}
	if err := <-errs; wire.CodeOf(err) != wire.ErrCodeInternal && err == nil {
		t.Fatal("server accepted")
	}
}

func TestHandshakeTimeout(t *testing.T) {
	cc, sc := prototest.TCP(t)
	_ = cc // connects and says nothing
	start := time.Now()
	_, err := Server(sc, Config{HandshakeTimeout: 200 * time.Millisecond})
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Code != wire.ErrCodeTimeout {
		t.Fatalf("got %v, want TIMEOUT", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestHandshakeBadPreface(t *testing.T) {
	cc, sc := prototest.TCP(t)
	go cc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if _, err := Server(sc, Config{}); !errors.Is(err, wire.ErrBadPreface) {
		t.Fatalf("got %v", err)
	}
}

func TestFrameBeforeHelloRefused(t *testing.T) {
	cc, sc := prototest.TCP(t)
	go cc.Write((&wire.Ping{}).Append([]byte(wire.Preface)))
	if _, err := Server(sc, Config{}); wire.CodeOf(err) != wire.ErrCodeProtocol {
		t.Fatalf("got %v", err)
	}
}

func TestBind(t *testing.T) {
	c, _ := pair(t, tcp(), Config{}, Config{OnBind: func(s *Session, b wire.Bind) wire.BindResult {
		if b.Name == "taken" {
			return wire.BindResult{Code: wire.ErrCodeNameTaken, Message: "taken is held by another account"}
		}
		return wire.BindResult{TunnelID: 7, Meta: wire.Metadata{{Key: "url", Value: "https://" + b.Name + ".localhost"}}}
	}})
	ctx := context.Background()
	r, err := c.Bind(ctx, wire.Bind{Kind: wire.KindHTTP, Name: "demo"})
	if err != nil || r.TunnelID != 7 || r.Meta.Get("url") != "https://demo.localhost" {
		t.Fatalf("%+v %v", r, err)
	}
	_, err = c.Bind(ctx, wire.Bind{Kind: wire.KindHTTP, Name: "taken"})
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Code != wire.ErrCodeNameTaken {
		t.Fatalf("got %v", err)
	}
}

func TestResetReachesPeer(t *testing.T) {
	accepted := make(chan *Stream, 1)
	c, _ := pair(t, tcp(), Config{}, Config{OnStream: func(st *Stream) { accepted <- st }})
	cs, _ := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindTCP})
	cs.Write([]byte("x"))
	ss := <-accepted
	cs.Reset(wire.ErrCodeCancel)
	buf := make([]byte, 10)
	for {
		_, err := ss.Read(buf)
		if err == nil {
			continue
		}
		var re *ResetError
		if !errors.As(err, &re) || re.Code != wire.ErrCodeCancel || !re.Remote {
			t.Fatalf("read after peer reset: %v", err)
		}
		break
	}
	if _, err := ss.Write([]byte("y")); err == nil {
		t.Fatal("write after reset succeeded")
	}
}

func TestDeadlines(t *testing.T) {
	accepted := make(chan *Stream, 1)
	c, _ := pair(t, tcp(), Config{}, Config{OnStream: func(st *Stream) { accepted <- st }})
	cs, _ := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindTCP})
	<-accepted
	cs.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := cs.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past deadline: %v", err)
	}
	// Clearing the deadline makes reads block again; a past deadline fails
	// at once.
	cs.SetReadDeadline(time.Time{})
	cs.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := cs.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with past deadline: %v", err)
	}
	// A deadline set while a read already waits (deadlines arm lazily, on
	// the first wait) still ends it.
	cs.SetReadDeadline(time.Time{})
	readErr := make(chan error, 1)
	go func() { _, err := cs.Read(make([]byte, 1)); readErr <- err }()
	cs.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	select {
	case err := <-readErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read given a deadline while waiting: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a deadline set during a read did not end it")
	}
}

func TestOnFail(t *testing.T) {
	accepted := make(chan *Stream, 2)
	c, _ := pair(t, tcp(), Config{}, Config{OnStream: func(st *Stream) { accepted <- st }})
	cs, _ := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindTCP})
	ss := <-accepted
	calls := make(chan string, 4)
	ss.OnFail(func() { calls <- "first" })
	ss.OnFail(func() { calls <- "second" }) // replaces the first
	cs.Reset(wire.ErrCodeCancel)
	select {
	case got := <-calls:
		if got != "second" {
			t.Fatalf("OnFail called %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnFail not called after the peer's reset")
	}
	ss.OnFail(func() { calls <- "late" }) // already failed: called at once
	if got := <-calls; got != "late" {
		t.Fatalf("OnFail on a failed stream called %q", got)
	}
	// A removed callback is not called.
	cs2, _ := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindTCP})
	ss2 := <-accepted
	ss2.OnFail(func() { calls <- "removed" })
	ss2.OnFail(nil)
	cs2.Reset(wire.ErrCodeCancel)
	<-ss2.Failed()
	select {
	case got := <-calls:
		t.Fatalf("removed OnFail called: %q", got)
	default:
	}
}

func TestCloseFailsStreamsAndLeavesNothing(t *testing.T) {
	accepted := make(chan *Stream, 1)
	c, s := pair(t, prototest.Transports[0], Config{}, Config{OnStream: func(st *Stream) { accepted <- st }})
	cs, _ := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindTCP})
	<-accepted
	readErr := make(chan error, 1)
	go func() { _, err := cs.Read(make([]byte, 1)); readErr <- err }()
	s.Close()
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("read succeeded after the session ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read still blocked after the peer closed")
	}
	waitClosed(t, c, 5*time.Second)
	if _, err := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindTCP}); err == nil {
		t.Fatal("open on a closed session")
	}
}

func TestPingMeasuresRTT(t *testing.T) {
	c, _ := pair(t, tcp(), Config{}, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rtt, err := c.Ping(ctx)
	if err != nil || rtt <= 0 || c.RTT() != rtt {
		t.Fatalf("rtt=%v err=%v", rtt, err)
	}
}

func TestHeartbeatsKeepIdleSessionAlive(t *testing.T) {
	cfg := Config{HeartbeatInterval: 100 * time.Millisecond, DeadPeerTimeout: 300 * time.Millisecond}
	c, s := pair(t, tcp(), cfg, cfg)
	// Five dead-peer deadlines of silence from the application: only the
	// heartbeats talk, and they keep both sides alive.
	select {
	case <-c.Done():
		t.Fatalf("client ended: %v", c.Err())
	case <-s.Done():
		t.Fatalf("server ended: %v", s.Err())
	case <-time.After(1500 * time.Millisecond):
	}
	if c.RTT() == 0 || s.RTT() == 0 {
		t.Fatalf("no RTT measured: %v %v", c.RTT(), s.RTT())
	}
}

func TestCompression(t *testing.T) {
	accepted := make(chan *Stream, 1)
	c, s := pair(t, tcp(), Config{Compression: true}, Config{Compression: true, OnStream: func(st *Stream) { accepted <- st }})
	cs, _ := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindHTTP, Compress: true})
	ss := <-accepted
	data := bytes.Repeat([]byte(`{"event":"push","ref":"refs/heads/main"}`), 50000)
	go func() { cs.Write(data); cs.CloseWrite() }()
	got, err := io.ReadAll(ss)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d octets, %v", len(got), err)
	}
	if in := s.Stats().BytesIn; in > uint64(len(data))/4 {
		t.Fatalf("%d octets on the wire for %d of JSON: not compressed", in, len(data))
	}
}

func TestCompressionNeedsBothSides(t *testing.T) {
	accepted := make(chan *Stream, 1)
	c, s := pair(t, tcp(), Config{Compression: true}, Config{OnStream: func(st *Stream) { accepted <- st }})
	cs, _ := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindHTTP, Compress: true})
	ss := <-accepted
	data := bytes.Repeat([]byte("a"), 100000)
	go func() { cs.Write(data); cs.CloseWrite() }()
	got, _ := io.ReadAll(ss)
	if !bytes.Equal(got, data) || s.Stats().BytesIn < uint64(len(data)) {
		t.Fatalf("got %d octets, %d on the wire", len(got), s.Stats().BytesIn)
	}
}

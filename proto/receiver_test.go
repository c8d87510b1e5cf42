package proto

import (
	"errors"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/wire"
)

// recorder is a Receiver that keeps what it is given, as an edge does with
// bytes waiting for a slow public client.
type recorder struct {
	mu       sync.Mutex
	heads    [][]wire.HeaderField
	data     []byte
	end      bool
	resetErr error
	writable chan struct{}
	got      chan struct{}
}

func newRecorder() *recorder {
	return &recorder{writable: make(chan struct{}, 1), got: make(chan struct{}, 1)}
}

func (r *recorder) OnHeaders(st *Stream, f []wire.HeaderField, end bool) {
	r.mu.Lock()
	r.heads = append(r.heads, append([]wire.HeaderField(nil), f...))
	r.end = r.end || end
	r.mu.Unlock()
	r.poke()
}
func (r *recorder) OnData(st *Stream, p []byte, end bool) {
	r.mu.Lock()
	r.data = append(r.data, p...)
	r.end = r.end || end
	r.mu.Unlock()
	r.poke()
}
func (r *recorder) OnReset(st *Stream, err error) {
	r.mu.Lock()
	r.resetErr = err
	r.mu.Unlock()
	r.poke()
}
func (r *recorder) OnWritable(st *Stream) {
	select {
	case r.writable <- struct{}{}:
	default:
	}
}
func (r *recorder) poke() {
	select {
	case r.got <- struct{}{}:
	default:
	}
}

func (r *recorder) waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.got:
		case <-deadline:
			t.Fatal("condition not met in 5s")
		}
	}
}

func TestReceiverCreditOnlyWhenConsumed(t *testing.T) {
	const window = 32 << 10
	// The server plays the edge: it opens streams with a Receiver.
	accepted := make(chan *Stream, 1)
	c, s := pair(t, tcp(), Config{OnStream: func(st *Stream) { accepted <- st }}, Config{InitialStreamWindow: window})
	rec := newRecorder()
	st, err := s.Open(OpenOptions{TunnelID: 1, Kind: wire.KindHTTP, RemoteAddr: "203.0.113.9:1234", Receiver: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteHeaders([]wire.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":path", Value: "/"}}, true); err != nil {
		t.Fatal(err)
	}
	agent := <-accepted
	if agent.ClientAddr() != "203.0.113.9:1234" || agent.TunnelID() != 1 || agent.Kind() != wire.KindHTTP {
		t.Fatalf("OPEN metadata lost: %q %d %v", agent.ClientAddr(), agent.TunnelID(), agent.Kind())
	}
	head, err := agent.ReadHeaders()
	if err != nil || head[1].Value != "/" {
		t.Fatalf("%v %v", head, err)
	}
	if _, err := agent.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("request body: %v, want EOF", err)
	}
	agent.WriteHeaders([]wire.HeaderField{{Name: ":status", Value: "200"}}, false)

	// The agent writes 4 windows; the edge consumes nothing yet, so exactly
	// one window arrives and the agent's write waits.
	agent.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
	n, err := agent.Write(make([]byte, 4*window))
	if !errors.Is(err, os.ErrDeadlineExceeded) || n != window {
		t.Fatalf("agent wrote %d, %v; want one window then a deadline", n, err)
	}
	rec.waitFor(t, func() bool { return len(rec.data) == window })

	// Consuming returns credit and the rest flows.
	agent.SetWriteDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := agent.Write(make([]byte, 3*window))
		if err == nil {
			err = agent.CloseWrite()
		}
		done <- err
	}()
	consumed := 0
	for {
		rec.mu.Lock()
		have, end := len(rec.data), rec.end
		rec.mu.Unlock()
		if have > consumed {
			st.Consumed(have - consumed)
			consumed = have
		}
		if end {
			break
		}
		select {
		case <-rec.got:
		case <-time.After(5 * time.Second):
			t.Fatalf("stalled at %d octets", have)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if consumed != 4*window || len(rec.heads) != 1 || rec.heads[0][0].Value != "200" {
		t.Fatalf("got %d octets, heads %v", consumed, rec.heads)
	}
	if c.NumStreams() != 0 || s.NumStreams() != 0 {
		t.Fatalf("streams left: %d %d", c.NumStreams(), s.NumStreams())
	}
}

func TestTryWriteAndOnWritable(t *testing.T) {
	const window = 32 << 10
	accepted := make(chan *Stream, 1)
	_, s := pair(t, tcp(), Config{InitialStreamWindow: window, OnStream: func(st *Stream) { accepted <- st }}, Config{})
	rec := newRecorder()
	st, _ := s.Open(OpenOptions{TunnelID: 1, Kind: wire.KindTCP, Receiver: rec})
	body := make([]byte, 3*window)
	n, err := st.TryWrite(body)
	if err != nil || n != window {
		t.Fatalf("TryWrite took %d, %v; want the window %d", n, err, window)
	}
	if n2, _ := st.TryWrite(body[n:]); n2 != 0 {
		t.Fatalf("TryWrite with no window took %d", n2)
	}
	agent := <-accepted
	go io.Copy(io.Discard, agent)
	sent := n
	for sent < len(body) {
		select {
		case <-rec.writable:
		case <-time.After(5 * time.Second):
			t.Fatalf("no OnWritable after %d octets", sent)
		}
		k, err := st.TryWrite(body[sent:])
		if err != nil {
			t.Fatal(err)
		}
		sent += k
	}
	st.CloseWrite()
}

func TestReceiverSeesPeerReset(t *testing.T) {
	accepted := make(chan *Stream, 1)
	_, s := pair(t, tcp(), Config{OnStream: func(st *Stream) { accepted <- st }}, Config{})
	rec := newRecorder()
	s.Open(OpenOptions{TunnelID: 1, Kind: wire.KindHTTP, Receiver: rec})
	(<-accepted).Reset(wire.ErrCodeUpstreamRefused)
	rec.waitFor(t, func() bool { return rec.resetErr != nil })
	var re *ResetError
	if !errors.As(rec.resetErr, &re) || re.Code != wire.ErrCodeUpstreamRefused || !re.Remote {
		t.Fatalf("OnReset got %v", rec.resetErr)
	}
}

func TestSteadyStateDataDoesNotAllocate(t *testing.T) {
	// After warm-up, moving DATA allocates nothing per frame on either side:
	// frames are encoded into a reused write buffer, read into a reused read
	// buffer and copied into a reused stream buffer.
	accepted := make(chan *Stream, 1)
	c, _ := pair(t, tcp(), Config{}, Config{OnStream: func(st *Stream) { accepted <- st }})
	cs, _ := c.Open(OpenOptions{TunnelID: 1, Kind: wire.KindTCP})
	ss := <-accepted
	chunk := make([]byte, 16<<10)
	buf := make([]byte, 64<<10)
	move := func(total int) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for got := 0; got < total; {
				n, err := ss.Read(buf)
				if err != nil {
					t.Error(err)
					return
				}
				got += n
			}
		}()
		for sent := 0; sent < total; sent += len(chunk) {
			cs.Write(chunk)
		}
		<-done
	}
	move(64 << 20) // warm up: buffers reach their working size
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const total = 256 << 20
	move(total)
	runtime.ReadMemStats(&after)
	frames := total / len(chunk)
	per := float64(after.Mallocs-before.Mallocs) / float64(frames)
	t.Logf("%.3f allocations per 16 KiB DATA frame", per)
	if per > 0.5 {
		t.Fatalf("%.2f allocations per DATA frame in steady state", per)
	}
}

// A stream reset in answer to the peer's misbehaviour on it is news to
// its Receiver, which would otherwise wait for the rest of the stream;
// a reset by the stream's owner is not reported back to it.
func TestReceiverSeesResetForPeerMisbehaviour(t *testing.T) {
	r, s := rawClient(t, tcp(), Config{})
	rec := newRecorder()
	st, err := s.Open(OpenOptions{TunnelID: 1, Kind: wire.KindHTTP, Receiver: rec})
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := r.next().(*wire.Open); !ok || o.StreamID != st.ID() {
		t.Fatalf("want OPEN of %d, got %#v", st.ID(), o)
	}
	r.send(&wire.WindowUpdate{StreamID: st.ID(), Increment: wire.MaxWindow}) // overflows the stream's window
	r.expectReset(st.ID(), wire.ErrCodeFlowControl)
	rec.waitFor(t, func() bool { return rec.resetErr != nil })
	var re *ResetError
	if !errors.As(rec.resetErr, &re) || re.Code != wire.ErrCodeFlowControl || re.Remote {
		t.Fatalf("OnReset got %v", rec.resetErr)
	}

	own := newRecorder()
	st2, err := s.Open(OpenOptions{TunnelID: 1, Kind: wire.KindHTTP, Receiver: own})
	if err != nil {
		t.Fatal(err)
	}
	st2.Reset(wire.ErrCodeCancel)
	r.expectReset(st2.ID(), wire.ErrCodeCancel)
	r.alive() // the session has handled everything before the PING
	own.mu.Lock()
	defer own.mu.Unlock()
	if own.resetErr != nil {
		t.Fatalf("the owner's own reset came back as OnReset(%v)", own.resetErr)
	}
}

// peeker records NextFrameIsOwn as each callback sees it.
type peeker struct {
	*recorder
	own []bool
}

func (p *peeker) OnHeaders(st *Stream, f []wire.HeaderField, end bool) {
	p.mu.Lock()
	p.own = append(p.own, st.NextFrameIsOwn())
	p.mu.Unlock()
	p.recorder.OnHeaders(st, f, end)
}

func TestNextFrameIsOwn(t *testing.T) {
	r, s := rawClient(t, tcp(), Config{})
	p := &peeker{recorder: newRecorder()}
	a, _ := s.Open(OpenOptions{TunnelID: 1, Kind: wire.KindHTTP, Receiver: p})
	b, _ := s.Open(OpenOptions{TunnelID: 1, Kind: wire.KindHTTP, Receiver: newRecorder()})
	r.next()
	r.next()
	head := func(id uint32, end bool) *wire.Headers {
		var fl wire.Flags
		if end {
			fl = wire.FlagEndStream
		}
		return &wire.Headers{StreamID: id, Flags: fl, Block: r.enc.AppendBlock(nil, []wire.HeaderField{{Name: ":status", Value: "200"}})}
	}
	// Each line one write, so what follows a head is in the reader's
	// buffer: a's DATA (own); b's HEADERS (another stream's); a's
	// WINDOW_UPDATE (a's, but no callback of its Receiver follows);
	// nothing.
	r.send(head(a.ID(), false), &wire.Data{StreamID: a.ID(), Data: []byte("x")})
	r.send(head(a.ID(), false), head(b.ID(), true))
	r.send(head(a.ID(), false), &wire.WindowUpdate{StreamID: a.ID(), Increment: 1})
	r.alive()
	r.send(head(a.ID(), true))
	p.waitFor(t, func() bool { return p.end })
	if want := []bool{true, false, false, false}; !slices.Equal(p.own, want) {
		t.Fatalf("NextFrameIsOwn in OnHeaders: %v, want %v", p.own, want)
	}
}

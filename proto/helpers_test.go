package proto

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wsgrok/wsgrok/proto/prototest"
	"github.com/wsgrok/wsgrok/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair returns a running client and server session over tr.
func pair(tb testing.TB, tr prototest.Transport, ccfg, scfg Config) (*Session, *Session) {
	tb.Helper()
	cc, sc := tr.Pair(tb)
	type res struct {
		s   *Session
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := Server(sc, scfg)
		ch <- res{s, err}
	}()
	c, err := Client(cc, ccfg)
	r := <-ch
	if err != nil {
		tb.Fatalf("client handshake: %v", err)
	}
	if r.err != nil {
		tb.Fatalf("server handshake: %v", r.err)
	}
	tb.Cleanup(func() { c.Close(); r.s.Close() })
	return c, r.s
}

func tcp() prototest.Transport { return prototest.Transports[1] }

// rawPeer speaks frames by hand, to misbehave on purpose.
type rawPeer struct {
	tb   testing.TB
	conn net.Conn
	rd   *wire.Reader
	enc  *wire.HeaderEncoder
}

// rawClient connects a hand-driven client to a real server session.
func rawClient(tb testing.TB, tr prototest.Transport, scfg Config, settings ...wire.Setting) (*rawPeer, *Session) {
	tb.Helper()
	cc, sc := tr.Pair(tb)
	type res struct {
		s   *Session
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := Server(sc, scfg)
		ch <- res{s, err}
	}()
	r := &rawPeer{tb: tb, conn: cc, rd: wire.NewReader(cc, wire.MaxLength, 0), enc: wire.NewHeaderEncoder(4096)}
	hello := wire.Hello{Versions: []uint16{wire.Version}, Settings: settings}
	go cc.Write(hello.Append([]byte(wire.Preface))) // net.Pipe blocks until read
	if err := r.rd.ReadPreface(); err != nil {
		tb.Fatal(err)
	}
	f := r.next()
	if h, ok := f.(*wire.Hello); !ok || !h.IsAck() || h.Status != 0 {
		tb.Fatalf("server answered %#v", f)
	}
	res0 := <-ch
	if res0.err != nil {
		tb.Fatal(res0.err)
	}
	tb.Cleanup(func() { cc.Close(); res0.s.Close() })
	return r, res0.s
}

func (r *rawPeer) send(frames ...wire.Frame) {
	r.tb.Helper()
	var b []byte
	for _, f := range frames {
		b = f.Append(b)
	}
	r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.conn.Write(b); err != nil {
		r.tb.Fatalf("raw write: %v", err)
	}
}

func (r *rawPeer) sendBytes(b []byte) {
	r.tb.Helper()
	if _, err := r.conn.Write(b); err != nil {
		r.tb.Fatalf("raw write: %v", err)
	}
}

// next reads one frame, failing the test after 5 s.
func (r *rawPeer) next() wire.Frame {
	r.tb.Helper()
	f, err := r.tryNext()
	if err != nil {
		r.tb.Fatalf("raw read: %v", err)
	}
	return f
}

func (r *rawPeer) tryNext() (wire.Frame, error) {
	r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, p, err := r.rd.ReadFrame()
	if err != nil {
		return nil, err
	}
	return wire.ParsePayload(h, p)
}

// expectGoAway reads until GOAWAY, checks its code, then expects the
// connection to close.
func (r *rawPeer) expectGoAway(code wire.ErrCode) {
	r.tb.Helper()
	for {
		f := r.next()
		if g, ok := f.(*wire.GoAway); ok {
			if g.Code != code {
				r.tb.Fatalf("GOAWAY %v (%s), want %v", g.Code, g.Debug, code)
			}
			break
		}
	}
	for {
		if _, err := r.tryNext(); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
				r.tb.Fatalf("after GOAWAY: %v, want EOF", err)
			}
			return
		}
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}

// expectReset reads until a RESET of stream id and checks its code.
func (r *rawPeer) expectReset(id uint32, code wire.ErrCode) {
	r.tb.Helper()
	for {
		f := r.next()
		if rs, ok := f.(*wire.Reset); ok && rs.StreamID == id {
			if rs.Code != code {
				r.tb.Fatalf("RESET %d %v, want %v", id, rs.Code, code)
			}
			return
		}
		if g, ok := f.(*wire.GoAway); ok {
			r.tb.Fatalf("GOAWAY %v (%s) while expecting RESET of %d", g.Code, g.Debug, id)
		}
	}
}

// alive proves the session still answers: a PING gets its ACK.
func (r *rawPeer) alive() {
	r.tb.Helper()
	r.send(&wire.Ping{Data: [8]byte{'a', 'l', 'i', 'v', 'e'}})
	for {
		f := r.next()
		if p, ok := f.(*wire.Ping); ok && p.IsAck() && p.Data[0] == 'a' {
			return
		}
		if g, ok := f.(*wire.GoAway); ok {
			r.tb.Fatalf("GOAWAY %v (%s), want the session alive", g.Code, g.Debug)
		}
	}
}

func waitClosed(tb testing.TB, s *Session, within time.Duration) error {
	tb.Helper()
	select {
	case <-s.Done():
		return s.Err()
	case <-time.After(within):
		tb.Fatalf("session still open after %v", within)
		return nil
	}
}

// echoServer echoes every stream back and half-closes after EOF.
func echoServer(st *Stream) {
	go func() {
		io.Copy(st, st)
		st.CloseWrite()
	}()
}

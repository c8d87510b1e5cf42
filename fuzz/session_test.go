package fuzz

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/wire"
)

// FuzzSession feeds arbitrary bytes, after a valid handshake, to a running
// server session with small limits: no panic, no hang (the session ends
// within a bound once the input ends), and the session never holds more
// streams than it allows.
func FuzzSession(f *testing.F) {
	var all []byte
	for _, fr := range seedFrames() {
		all = fr.Append(all)
	}
	f.Add(all)
	f.Add((&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP}).Append(nil))
	f.Add(append((&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindHTTP}).Append(nil), (&wire.Data{StreamID: 1, Flags: wire.FlagEndStream, Data: []byte("x")}).Append(nil)...))
	hello := (&wire.Hello{Versions: []uint16{wire.Version}}).Append([]byte(wire.Preface))
	f.Fuzz(func(t *testing.T, b []byte) {
		cc, sc := net.Pipe()
		defer cc.Close()
		const limit = 8
		cfg := proto.Config{
			MaxConcurrentStreams: limit,
			InitialStreamWindow:  16 << 10,
			InitialSessionWindow: 64 << 10,
			MaxFrameSize:         16 << 10,
			HandshakeTimeout:     time.Second,
			Compression:          true,
			OnStream: func(st *proto.Stream) {
				// Echo, so writes and window updates get exercised too.
				go func() { io.Copy(st, st); st.Close() }()
			},
			OnBind: func(s *proto.Session, b wire.Bind) wire.BindResult {
				return wire.BindResult{TunnelID: 1}
			},
		}
		type res struct {
			s   *proto.Session
			err error
		}
		ch := make(chan res, 1)
		go func() { s, err := proto.Server(sc, cfg); ch <- res{s, err} }()
		go io.Copy(io.Discard, cc) // net.Pipe: writes block until read
		cc.Write(hello)
		r := <-ch
		if r.err != nil {
			t.Fatalf("handshake: %v", r.err)
		}
		s := r.s
		cc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		cc.Write(b)
		if n := s.NumStreams(); n > limit {
			t.Fatalf("%d streams held, limit %d", n, limit)
		}
		cc.Close()
		select {
		case <-s.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("session did not end after its transport closed")
		}
		s.Close()
	})
}

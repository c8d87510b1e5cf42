package proto

import (
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/proto/prototest"
	"github.com/wsgrok/wsgrok/wire"
)

// Each case drives a real server session with a hand-written peer that
// breaks one rule of the spec, and checks the error code the spec names.

func TestDataBeyondStreamWindow(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{InitialStreamWindow: 16384})
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP},
		&wire.Data{StreamID: 1, Data: make([]byte, 16385)})
	r.expectGoAway(wire.ErrCodeFlowControl)
}

func TestDataBeyondSessionWindow(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{InitialSessionWindow: 65535, InitialStreamWindow: 1 << 20})
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP},
		&wire.Data{StreamID: 1, Data: make([]byte, 40000)},
		&wire.Data{StreamID: 1, Data: make([]byte, 40000)})
	r.expectGoAway(wire.ErrCodeFlowControl)
}

func TestDataOnClosedStreamStillCountsAgainstSession(t *testing.T) {
	// A peer may not pretend that data on a stream we reset is free: it
	// still spends session credit (spec §5.2), which we then give back.
	r, s := rawClient(t, tcp(), Config{InitialSessionWindow: 65535, InitialStreamWindow: 1 << 20})
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP})
	st, _ := s.Accept()
	st.Reset(wire.ErrCodeCancel)
	r.expectReset(1, wire.ErrCodeCancel)
	for range 3 { // 6 x 30000 > 65535, fine only because credit comes back
		r.send(&wire.Data{StreamID: 1, Data: make([]byte, 30000)}, &wire.Data{StreamID: 1, Data: make([]byte, 30000)})
		for {
			if wu, ok := r.next().(*wire.WindowUpdate); ok && wu.StreamID == 0 {
				break
			}
		}
	}
	r.alive()
}

func TestWindowUpdateOverflowStream(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{})
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP},
		&wire.WindowUpdate{StreamID: 1, Increment: wire.MaxWindow})
	r.expectReset(1, wire.ErrCodeFlowControl)
	r.alive() // a stream error leaves the session running
}

func TestWindowUpdateOverflowSession(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{})
	r.send(&wire.WindowUpdate{StreamID: 0, Increment: wire.MaxWindow})
	r.expectGoAway(wire.ErrCodeFlowControl)
}

func TestWindowUpdateZeroIncrement(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{})
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP})
	r.sendBytes(wire.AppendWindowUpdate(nil, 1, 0))
	r.expectReset(1, wire.ErrCodeProtocol)
	r.alive()
	r.sendBytes(wire.AppendWindowUpdate(nil, 0, 0))
	r.expectGoAway(wire.ErrCodeProtocol)
}

func TestFrameOverMaxSize(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{MaxFrameSize: 65536})
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP})
	// Only the header: the session must refuse before the payload arrives.
	r.sendBytes(wire.AppendHeader(nil, 65537, wire.FrameData, 0, 1))
	r.expectGoAway(wire.ErrCodeFrameSize)
}

func TestStreamIDReuse(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{})
	r.send(&wire.Open{StreamID: 3, TunnelID: 1, Kind: wire.KindTCP},
		&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP})
	r.expectGoAway(wire.ErrCodeProtocol)
}

func TestStreamWithServerParity(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{})
	r.send(&wire.Open{StreamID: 2, TunnelID: 1, Kind: wire.KindTCP})
	r.expectGoAway(wire.ErrCodeProtocol)
}

func TestFrameOnIdleStream(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{})
	r.send(&wire.Data{StreamID: 5, Data: []byte("x")})
	r.expectGoAway(wire.ErrCodeProtocol)
}

func TestUnknownKindRefused(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{})
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: 9})
	r.expectReset(1, wire.ErrCodeRefusedStream)
	r.alive()
}

func TestUnknownFrameTypeIgnored(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{})
	r.send(&wire.Unknown{FrameHeader: wire.FrameHeader{Type: 0x7f, Flags: 0xff, StreamID: 99}, Payload: []byte("from the future")})
	r.alive()
}

func TestStreamFloodPastLimit(t *testing.T) {
	const limit = 10
	r, s := rawClient(t, tcp(), Config{MaxConcurrentStreams: limit})
	var frames []wire.Frame
	for i := range limit {
		frames = append(frames, &wire.Open{StreamID: uint32(2*i + 1), TunnelID: 1, Kind: wire.KindTCP})
	}
	r.send(frames...)
	// The next ones are refused, one by one, and none is kept.
	r.send(&wire.Open{StreamID: 2*limit + 1, TunnelID: 1, Kind: wire.KindTCP})
	r.expectReset(2*limit+1, wire.ErrCodeRefusedStream)
	if n := s.NumStreams(); n != limit {
		t.Fatalf("%d streams held, limit %d", n, limit)
	}
	// A peer that keeps going is cut off.
	frames = frames[:0]
	for i := range maxRefused + 1 {
		frames = append(frames, &wire.Open{StreamID: uint32(2*(limit+1+i) + 1), TunnelID: 1, Kind: wire.KindTCP})
	}
	r.send(frames...)
	r.expectGoAway(wire.ErrCodeEnhanceYourCalm)
	if n := s.NumStreams(); n > limit {
		t.Fatalf("%d streams held after the flood, limit %d", n, limit)
	}
}

func TestAcceptBacklogFullRefuses(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{AcceptBacklog: 2})
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP},
		&wire.Open{StreamID: 3, TunnelID: 1, Kind: wire.KindTCP},
		&wire.Open{StreamID: 5, TunnelID: 1, Kind: wire.KindTCP})
	r.expectReset(5, wire.ErrCodeRefusedStream)
	r.alive()
}

func TestRapidResetCutOff(t *testing.T) {
	// CVE-2023-44487: open and reset at once, over and over.
	r, _ := rawClient(t, tcp(), Config{MaxResetRate: 100, OnStream: func(st *Stream) {}})
	var frames []wire.Frame
	for i := range 300 {
		id := uint32(2*i + 1)
		frames = append(frames, &wire.Open{StreamID: id, TunnelID: 1, Kind: wire.KindHTTP}, &wire.Reset{StreamID: id, Code: wire.ErrCodeCancel})
	}
	r.send(frames...)
	r.expectGoAway(wire.ErrCodeEnhanceYourCalm)
}

func TestEmptyDataFlood(t *testing.T) {
	// CVE-2019-9518: DATA frames that carry nothing and end nothing.
	r, _ := rawClient(t, tcp(), Config{OnStream: func(st *Stream) {}})
	frames := []wire.Frame{&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP}}
	for range maxEmptyFrames + 1 {
		frames = append(frames, &wire.Data{StreamID: 1})
	}
	r.send(frames...)
	r.expectGoAway(wire.ErrCodeEnhanceYourCalm)
}

func TestSecondHello(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{})
	r.send(&wire.Hello{Versions: []uint16{1}})
	r.expectGoAway(wire.ErrCodeProtocol)
}

func TestCompressedDataWithoutNegotiation(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{})
	block, _ := wire.CompressData(nil, make([]byte, 1000))
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP},
		&wire.Data{StreamID: 1, Flags: wire.FlagCompressed, Data: block})
	r.expectGoAway(wire.ErrCodeProtocol)
}

func TestDecompressionBomb(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{Compression: true, MaxFrameSize: 65536, InitialStreamWindow: 1 << 24})
	block, _ := wire.CompressData(nil, make([]byte, 1<<20)) // ~50 octets for 1 MiB
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP},
		&wire.Data{StreamID: 1, Flags: wire.FlagCompressed, Data: block})
	r.expectGoAway(wire.ErrCodeCompression)
}

func TestHeaderBlockGarbage(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{})
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindHTTP},
		&wire.Headers{StreamID: 1, Block: []byte{0xff, 0xff, 0xff, 0xff, 0x0f}})
	r.expectGoAway(wire.ErrCodeCompression)
}

func TestHeaderListTooLarge(t *testing.T) {
	r, _ := rawClient(t, tcp(), Config{MaxHeaderListSize: 1000})
	big := []wire.HeaderField{{Name: "x-big", Value: string(make([]byte, 2000))}}
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindHTTP},
		&wire.Headers{StreamID: 1, Block: r.enc.AppendBlock(nil, big)})
	r.expectReset(1, wire.ErrCodeHeaderTooLarge)
	r.alive()
}

func TestDataAfterEndStream(t *testing.T) {
	r, s := rawClient(t, tcp(), Config{OnStream: func(st *Stream) {}})
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP},
		&wire.Data{StreamID: 1, Flags: wire.FlagEndStream, Data: []byte("done")},
		&wire.Data{StreamID: 1, Data: []byte("more")})
	r.expectReset(1, wire.ErrCodeStreamClosed)
	r.alive()
	_ = s
}

func TestPingFloodFromPeerThatDoesNotRead(t *testing.T) {
	// CVE-2019-9512 and yamux GHSA-29qp-crvh-w22m: over net.Pipe every write
	// blocks until the peer reads, and this peer never reads, so each PING
	// ACK stays queued. The queue is bounded and the session ends.
	r, s := rawClient(t, prototest.Transports[0], Config{MaxControlQueue: 64})
	go func() {
		var b []byte
		for range 500 {
			b = (&wire.Ping{}).Append(b)
		}
		r.conn.Write(b)
	}()
	err := waitClosed(t, s, 10*time.Second)
	var ce wire.ConnError
	if !errors.As(err, &ce) || ce.Code != wire.ErrCodeEnhanceYourCalm {
		t.Fatalf("session ended with %v, want ENHANCE_YOUR_CALM", err)
	}
}

func TestSilentPeerDeclaredDead(t *testing.T) {
	// A peer that completes the handshake and then sends nothing: not even
	// the PING ACKs. It reads (so our writes succeed) but is silent.
	const dead = 400 * time.Millisecond
	r, s := rawClient(t, tcp(), Config{HeartbeatInterval: 100 * time.Millisecond, DeadPeerTimeout: dead})
	go io.Copy(io.Discard, r.conn)
	start := time.Now()
	err := waitClosed(t, s, 10*time.Second)
	took := time.Since(start)
	var ce wire.ConnError
	if !errors.As(err, &ce) || ce.Code != wire.ErrCodeTimeout {
		t.Fatalf("ended with %v, want TIMEOUT", err)
	}
	if took < dead-50*time.Millisecond || took > dead+time.Second {
		t.Fatalf("declared dead after %v, deadline %v", took, dead)
	}
}

func TestPeerThatStopsReading(t *testing.T) {
	// The peer stops reading while it keeps sending. Our writes block (the
	// kernel buffers fill), yet the other direction keeps flowing and PINGs
	// keep being read; after the dead-peer deadline the session ends with
	// TIMEOUT instead of hanging forever.
	const dead = 600 * time.Millisecond
	r, s := rawClient(t, tcp(), Config{HeartbeatInterval: 100 * time.Millisecond, DeadPeerTimeout: dead},
		wire.Setting{ID: wire.SettingInitialStreamWindow, Value: wire.MaxWindow},
		wire.Setting{ID: wire.SettingInitialSessionWindow, Value: wire.MaxWindow})
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP}, &wire.Open{StreamID: 3, TunnelID: 1, Kind: wire.KindTCP})
	out, _ := s.Accept()
	in, _ := s.Accept()
	// Flood our side's writes towards a peer that never reads.
	go func() {
		chunk := make([]byte, 1<<20)
		for {
			if _, err := out.Write(chunk); err != nil {
				return
			}
		}
	}()
	// Wait until the writer is stuck in a Write.
	for s.w.writing.Load() == 0 || time.Since(time.Unix(0, s.w.writing.Load())) < 50*time.Millisecond {
		time.Sleep(5 * time.Millisecond)
	}
	// The other direction still flows while our writes are stuck.
	stopSending := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		total := 0
		defer func() { sent <- total }()
		for i := 0; ; i++ {
			select {
			case <-stopSending:
				return
			default:
			}
			var b []byte
			b = (&wire.Data{StreamID: 3, Data: make([]byte, 1000)}).Append(b)
			b = (&wire.Ping{Data: [8]byte{byte(i)}}).Append(b)
			r.conn.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := r.conn.Write(b); err != nil {
				return
			}
			total += 1000
			time.Sleep(10 * time.Millisecond)
		}
	}()
	buf := make([]byte, 1000)
	got := 0
	for got < 20000 {
		in.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := in.Read(buf)
		if err != nil {
			t.Fatalf("inbound stream stalled after %d octets: %v", got, err)
		}
		got += n
	}
	start := time.Now()
	err := waitClosed(t, s, 10*time.Second)
	close(stopSending)
	<-sent
	var ce wire.ConnError
	if !errors.As(err, &ce) || ce.Code != wire.ErrCodeTimeout {
		t.Fatalf("ended with %v, want TIMEOUT", err)
	}
	if took := time.Since(start); took > dead+2*time.Second {
		t.Fatalf("took %v after the inbound check", took)
	}
}

func TestMemoryBoundedUnderGarbage(t *testing.T) {
	// A peer sending 64 MiB of DATA frames at a stream nobody reads: the
	// session holds at most the windows, then ends the session.
	r, s := rawClient(t, tcp(), Config{InitialStreamWindow: 1 << 20, InitialSessionWindow: 4 << 20, OnStream: func(*Stream) {}})
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r.send(&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindTCP})
	go func() {
		chunk := (&wire.Data{StreamID: 1, Data: make([]byte, 60000)}).Append(nil)
		for range 64 << 20 / 60000 {
			if _, err := r.conn.Write(chunk); err != nil {
				return
			}
		}
	}()
	r.expectGoAway(wire.ErrCodeFlowControl)
	waitClosed(t, s, 5*time.Second)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 16<<20 {
		t.Fatalf("heap grew by %d MiB for a 1 MiB window", grew>>20)
	}
}

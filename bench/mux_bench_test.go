package bench

import "testing"

// Session benchmarks (issue 2): our session against yamux and smux, in
// the same run, over loopback TCP and TLS. Names have the form
// BenchmarkMux/<scenario>/<transport>/mux=<name>, so that benchstat can put
// the multiplexers side by side:
//
//	benchstat -col /mux out.txt
//
// Allocations are counted in every goroutine of the process: the client's
// and the server's session and the server's handler, not only the loop.

// scenario is one workload, written once for every multiplexer.
type scenario struct {
	name  string
	bench func(b *testing.B, m muxImpl, tr transport)
}

var scenarios = []scenario{
	{"bulk1", benchBulk1},
	{"parallel64", benchParallel64},
	{"rtt", benchRTT},
}

func BenchmarkMux(b *testing.B) {
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			for _, tr := range transports {
				b.Run(tr.name, func(b *testing.B) {
					for _, m := range muxes {
						b.Run("mux="+m.name, func(b *testing.B) { sc.bench(b, m, tr) })
					}
				})
			}
		})
	}
}

// benchBulk1: one stream; each op is a 64 KiB chunk written by the client
// and read by the server. The server's count is checked after the loop;
// what is still in flight then (at most a stream window, 256 KiB) is not
// timed.
func benchBulk1(b *testing.B, m muxImpl, tr transport) {
	p := newPair(b, m, tr, bulkServer(false))
	defer p.close(b)
	s, err := newBulkSender(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(chunkSize)
	b.ReportAllocs()
	cost := startCost()
	for b.Loop() {
		if err := s.step(); err != nil {
			b.Fatal(err)
		}
	}
	cost.report(b)
	if err := s.finish(); err != nil {
		b.Fatal(err)
	}
}

// parallel64Streams is how many streams parallel64 drives at once.
const parallel64Streams = 64

// benchParallel64: 64 streams at once on one session, each on its own
// goroutine; b.N chunks of 64 KiB in all, client to server. The time
// includes waiting until the server has read every chunk.
func benchParallel64(b *testing.B, m muxImpl, tr transport) {
	p := newPair(b, m, tr, bulkServer(false))
	defer p.close(b)
	senders, err := openSenders(p, parallel64Streams)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(chunkSize)
	b.ReportAllocs()
	b.ResetTimer()
	cost := startCost()
	runParallel(b, senders, b.N)
	b.StopTimer()
	cost.report(b)
}

// benchRTT: one stream; each op is a 64-octet message sent by the client,
// echoed by the server and read back (ns/op is the round-trip latency).
func benchRTT(b *testing.B, m muxImpl, tr transport) {
	p := newPair(b, m, tr, echoServer)
	defer p.close(b)
	e, err := newEchoClient(p)
	if err != nil {
		b.Fatal(err)
	}
	if err := e.step(); err != nil { // the stream is open at both ends
		b.Fatal(err)
	}
	b.ReportAllocs()
	cost := startCost()
	for b.Loop() {
		if err := e.step(); err != nil {
			b.Fatal(err)
		}
	}
	cost.report(b)
	if err := e.finish(); err != nil {
		b.Fatal(err)
	}
}

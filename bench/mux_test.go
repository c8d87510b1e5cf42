package bench

import "testing"

// TestMuxScenarios runs each benchmark scenario once with a small count for
// every multiplexer and transport, with the server checking the contents,
// so that the benchmark code is itself tested: counts, order and bytes of
// the bulk chunks, and every echo.
func TestMuxScenarios(t *testing.T) {
	for _, tr := range transports {
		for _, m := range muxes {
			t.Run(tr.name+"/"+m.name, func(t *testing.T) {
				t.Run("bulk1", func(t *testing.T) {
					p := newPair(t, m, tr, bulkServer(true))
					defer p.close(t)
					s, err := newBulkSender(p)
					if err != nil {
						t.Fatal(err)
					}
					for range 100 {
						if err := s.step(); err != nil {
							t.Fatal(err)
						}
					}
					if err := s.finish(); err != nil {
						t.Fatal(err)
					}
				})
				t.Run("parallel64", func(t *testing.T) {
					p := newPair(t, m, tr, bulkServer(true))
					defer p.close(t)
					senders, err := openSenders(p, parallel64Streams)
					if err != nil {
						t.Fatal(err)
					}
					n := 5*parallel64Streams + 7 // uneven split
					runParallel(t, senders, n)
					var sent uint64
					for _, s := range senders {
						sent += s.seq
					}
					if sent != uint64(n) {
						t.Fatalf("sent %d chunks, want %d", sent, n)
					}
				})
				t.Run("rtt", func(t *testing.T) {
					p := newPair(t, m, tr, echoServer)
					defer p.close(t)
					e, err := newEchoClient(p)
					if err != nil {
						t.Fatal(err)
					}
					for range 200 {
						if err := e.step(); err != nil {
							t.Fatal(err)
						}
					}
					if err := e.finish(); err != nil {
						t.Fatal(err)
					}
				})
			})
		}
	}
}

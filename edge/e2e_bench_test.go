package edge_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// BenchmarkThroughTunnel measures requests through the whole stack in one
// process (edge, agent, backend, client), side by side with the backend
// directly, so the ratio is what matters. The load harness (bench/) does
// the same across processes; this one is for profiles:
//
//	go test -run '^$' -bench ThroughTunnel -cpuprofile cpu.out ./edge
func BenchmarkThroughTunnel(b *testing.B) {
	w := newWorld(b)
	w.startAgent(w.token, 1, w.httpTunnel("bench"))
	direct := "http://" + w.backend
	via := w.url("http", "bench", "")
	viaTLS := w.url("https", "bench", "")
	for _, c := range []struct {
		name, base string
		h2         bool
	}{{"direct", direct, false}, {"gnet", via, false}, {"h2", viaTLS, true}} {
		for _, p := range []struct {
			path string
			size int64
		}{{"/hello", 0}, {"/bytes?n=1048576", 1 << 20}} {
			b.Run(fmt.Sprintf("%s%s", c.name, p.path), func(b *testing.B) {
				cl := w.client(c.h2)
				cl.Transport.(*http.Transport).MaxIdleConnsPerHost = 256
				b.ReportAllocs()
				if p.size > 0 {
					b.SetBytes(p.size)
				}
				b.SetParallelism(32)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					buf := make([]byte, 64<<10)
					for pb.Next() {
						resp, err := cl.Get(c.base + p.path)
						if err != nil {
							b.Error(err)
							return
						}
						for {
							_, err := resp.Body.Read(buf)
							if err == io.EOF {
								break
							}
							if err != nil {
								b.Error(err)
								return
							}
						}
						resp.Body.Close()
						if resp.StatusCode != 200 {
							b.Errorf("status %d", resp.StatusCode)
							return
						}
					}
				})
			})
		}
	}
	_ = net.Dial
	_ = time.Now
}

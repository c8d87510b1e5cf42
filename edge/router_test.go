package edge

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRouterSetLookupDelete(t *testing.T) {
	r := NewRouter()
	a, b := &Tunnel{Name: "a"}, &Tunnel{Name: "b"}
	r.Set("a.localhost", a)
	r.Set("b.localhost", b)
	if r.Lookup("a.localhost") != a || r.Lookup("b.localhost") != b || r.Lookup("c.localhost") != nil {
		t.Fatal("lookup")
	}
	r.Delete("a.localhost", b) // not the one routed: no effect
	if r.Lookup("a.localhost") != a {
		t.Fatal("Delete removed another tunnel's route")
	}
	r.Delete("a.localhost", a)
	if r.Lookup("a.localhost") != nil || r.Len() != 1 {
		t.Fatal("delete")
	}
}

func TestRouterConcurrent(t *testing.T) {
	r := NewRouter()
	stable := &Tunnel{Name: "stable"}
	r.Set("stable.localhost", stable)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				h := fmt.Sprintf("w%d-%d.localhost", w, i%100)
				tn := &Tunnel{Name: h}
				r.Set(h, tn)
				r.Delete(h, tn)
			}
		}()
	}
	for range 100000 {
		if r.Lookup("stable.localhost") != stable {
			t.Fatal("stable route lost during concurrent writes")
		}
	}
	stop.Store(true)
	wg.Wait()
}

// BenchmarkRouterLookup measures lookups while other goroutines bind and
// unbind names: readers never lock, so their cost should not depend on the
// writers.
func BenchmarkRouterLookup(b *testing.B) {
	for _, writers := range []int{0, 2} {
		b.Run(fmt.Sprintf("tunnels=10000/writers=%d", writers), func(b *testing.B) {
			r := NewRouter()
			hosts := make([]string, 10000)
			for i := range hosts {
				hosts[i] = fmt.Sprintf("t%d.localhost", i)
				r.Set(hosts[i], &Tunnel{Name: hosts[i]})
			}
			var stop atomic.Bool
			var wg sync.WaitGroup
			var writes atomic.Int64
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; !stop.Load(); i++ {
						h := fmt.Sprintf("churn%d-%d.localhost", w, i%1000)
						tn := &Tunnel{}
						r.Set(h, tn)
						r.Delete(h, tn)
						writes.Add(2)
					}
				}()
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if r.Lookup(hosts[i%len(hosts)]) == nil {
						b.Error("missing route")
					}
					i++
				}
			})
			b.StopTimer()
			stop.Store(true)
			wg.Wait()
			b.ReportMetric(float64(writes.Load())/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

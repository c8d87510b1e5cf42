package edge

import (
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

const routerShards = 64

// Router maps canonical hosts to tunnels. Lookups never lock: each shard
// (chosen by xxhash of the host) is an immutable map behind an atomic
// pointer, replaced whole by writers (copy-on-write). Writes lock only
// their shard, so binding one name copies 1/64th of the table.
type Router struct {
	shards [routerShards]routerShard
}

type routerShard struct {
	m  atomic.Pointer[map[string]*Tunnel]
	mu sync.Mutex // serializes writers
	_  [40]byte   // keep shards on separate cache lines
}

// NewRouter returns an empty router.
func NewRouter() *Router {
	r := &Router{}
	for i := range r.shards {
		empty := map[string]*Tunnel{}
		r.shards[i].m.Store(&empty)
	}
	return r
}

func (r *Router) shard(host string) *routerShard {
	return &r.shards[xxhash.Sum64String(host)%routerShards]
}

// Lookup returns the tunnel for a canonical host, or nil. Safe from any
// goroutine; never blocks.
func (r *Router) Lookup(host string) *Tunnel {
	return (*r.shard(host).m.Load())[host]
}

// Set routes host to t (t nil removes the route).
func (r *Router) Set(host string, t *Tunnel) {
	sh := r.shard(host)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old := *sh.m.Load()
	next := make(map[string]*Tunnel, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	if t == nil {
		delete(next, host)
	} else {
		next[host] = t
	}
	sh.m.Store(&next)
}

// Delete removes host only if it still routes to t.
func (r *Router) Delete(host string, t *Tunnel) {
	sh := r.shard(host)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old := *sh.m.Load()
	if old[host] != t {
		return
	}
	next := make(map[string]*Tunnel, len(old))
	for k, v := range old {
		if k != host {
			next[k] = v
		}
	}
	sh.m.Store(&next)
}

// Len returns the number of routes.
func (r *Router) Len() int {
	n := 0
	for i := range r.shards {
		n += len(*r.shards[i].m.Load())
	}
	return n
}

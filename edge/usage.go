package edge

import (
	"sync"
	"time"

	"github.com/wsgrok/wsgrok/control/api"
)

// usage gathers per-endpoint, per-minute counters and recent request
// events until the control-plane reporter drains them.
type usage struct {
	mu     sync.Mutex
	counts map[usageKey]*api.Usage
	events []api.RequestEvent // a ring of maxEvents once full; events[head] is the oldest
	head   int
	lost   int64 // events dropped because nobody drained them
}

type usageKey struct {
	account, endpoint string
	minute            int64
}

// maxEvents bounds the events kept between reports.
const maxEvents = 1000

// exchangeRecord is one finished public request.
type exchangeRecord struct {
	t        *Tunnel
	method   string
	path     string
	client   string
	status   int
	start    time.Time
	bytesIn  int64
	bytesOut int64
	blocked  string
}

func (u *usage) record(r exchangeRecord) {
	now := time.Now()
	dur := now.Sub(r.start)
	minute := now.Truncate(time.Minute)
	k := usageKey{r.t.Account, r.t.Name, minute.Unix()}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.counts == nil {
		u.counts = map[usageKey]*api.Usage{}
	}
	c := u.counts[k]
	if c == nil {
		c = &api.Usage{Account: r.t.Account, Endpoint: r.t.Name, Minute: minute.UTC(), Latency: make([]int64, api.NumLatencyBuckets)}
		u.counts[k] = c
	}
	c.Requests++
	c.BytesIn += r.bytesIn
	c.BytesOut += r.bytesOut
	if r.status >= 100 && r.status < 600 {
		c.Status[r.status/100-1]++
	}
	if r.blocked != "" {
		c.Blocked++
	} else {
		c.Latency[api.LatencyBucket(dur)]++
	}
	ev := api.RequestEvent{
		Time: r.start.UTC(), Account: r.t.Account, Endpoint: r.t.Name, Method: r.method, Path: r.path,
		Status: r.status, Duration: dur, Client: r.client, BytesIn: r.bytesIn, BytesOut: r.bytesOut, Blocked: r.blocked,
	}
	if len(u.events) < maxEvents {
		u.events = append(u.events, ev)
		return
	}
	// Full: overwrite the oldest. (Sliding a slice here, events[1:] then
	// append, copied all 1,000 events on every request while the control
	// service was slow or away.)
	u.events[u.head] = ev
	u.head = (u.head + 1) % maxEvents
	u.lost++
}

// drain returns and forgets what was gathered.
func (u *usage) drain() ([]api.Usage, []api.RequestEvent) {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]api.Usage, 0, len(u.counts))
	for _, c := range u.counts {
		out = append(out, *c)
	}
	clear(u.counts)
	ev := append(u.events[u.head:len(u.events):len(u.events)], u.events[:u.head]...)
	u.events, u.head = nil, 0
	return out, ev
}

// restore puts back what a failed report carried, so a control-plane
// outage loses no usage (events are best-effort and not restored).
func (u *usage) restore(counts []api.Usage) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.counts == nil {
		u.counts = map[usageKey]*api.Usage{}
	}
	for _, c := range counts {
		k := usageKey{c.Account, c.Endpoint, c.Minute.Unix()}
		if have := u.counts[k]; have != nil {
			have.Requests += c.Requests
			have.BytesIn += c.BytesIn
			have.BytesOut += c.BytesOut
			have.Blocked += c.Blocked
			for i := range have.Status {
				have.Status[i] += c.Status[i]
			}
			for i := range have.Latency {
				have.Latency[i] += c.Latency[i]
			}
			continue
		}
		c := c
		u.counts[k] = &c
	}
}

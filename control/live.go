package control

import (
	"sort"
	"sync"
	"time"

	"github.com/wsgrok/wsgrok/control/api"
)

// live is what edges report that is not worth storing: the tunnels each
// edge holds now, and the latest requests of each account. Dashboard
// pages subscribe to it.
type live struct {
	mu     sync.Mutex
	edges  map[string]edgeState // by edge name
	events map[string][]api.RequestEvent
	subs   map[*subscriber]struct{}
	closed bool
}

type edgeState struct {
	tunnels []api.Tunnel
	seen    time.Time
}

// maxAccountEvents bounds the requests kept per account for the traffic
// view's first paint.
const maxAccountEvents = 200

// edgeStale is how long after its last report an edge's tunnels are
// dropped from view.
const edgeStale = 15 * time.Second

// subscriber receives an account's live updates. Slow subscribers lose
// updates rather than holding anyone up.
type subscriber struct {
	account string
	ch      chan liveUpdate
}

type liveUpdate struct {
	kind    string // "tunnels", "request" or "usage"
	tunnels []api.Tunnel
	event   api.RequestEvent
}

func newLive() *live {
	return &live{edges: map[string]edgeState{}, events: map[string][]api.RequestEvent{}, subs: map[*subscriber]struct{}{}}
}

func (l *live) report(r api.Report, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	changed := map[string]bool{}
	for _, t := range l.edges[r.Edge].tunnels {
		changed[t.Account] = true
	}
	for _, t := range r.Tunnels {
		changed[t.Account] = true
	}
	l.edges[r.Edge] = edgeState{tunnels: r.Tunnels, seen: now}
	for _, ev := range r.Events {
		evs := append(l.events[ev.Account], ev)
		if len(evs) > maxAccountEvents {
			evs = evs[len(evs)-maxAccountEvents:]
		}
		l.events[ev.Account] = evs
		l.publishLocked(ev.Account, liveUpdate{kind: "request", event: ev})
	}
	for acct := range changed {
		l.publishLocked(acct, liveUpdate{kind: "tunnels", tunnels: l.tunnelsLocked(acct, now)})
	}
	usage := map[string]bool{}
	for _, u := range r.Usage {
		usage[u.Account] = true
	}
	for acct := range usage {
		l.publishLocked(acct, liveUpdate{kind: "usage"})
	}
}

func (l *live) publishLocked(account string, u liveUpdate) {
	for s := range l.subs {
		if s.account != account {
			continue
		}
		select {
		case s.ch <- u:
		default: // a slow page misses an update; the next one catches up
		}
	}
}

// tunnels returns an account's live tunnels over every fresh edge.
func (l *live) tunnels(account string, now time.Time) []api.Tunnel {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tunnelsLocked(account, now)
}

func (l *live) tunnelsLocked(account string, now time.Time) []api.Tunnel {
	var out []api.Tunnel
	for _, e := range l.edges {
		if now.Sub(e.seen) > edgeStale {
			continue
		}
		for _, t := range e.tunnels {
			if t.Account == account {
				out = append(out, t)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// recent returns an account's latest requests, newest last.
func (l *live) recent(account string) []api.RequestEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]api.RequestEvent(nil), l.events[account]...)
}

func (l *live) subscribe(account string) *subscriber {
	s := &subscriber{account: account, ch: make(chan liveUpdate, 64)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		close(s.ch)
		return s
	}
	l.subs[s] = struct{}{}
	return s
}

func (l *live) unsubscribe(s *subscriber) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.subs[s]; ok {
		delete(l.subs, s)
		close(s.ch)
	}
}

// close ends every subscription, so that open dashboards' event streams
// finish and the server can shut down.
func (l *live) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for s := range l.subs {
		delete(l.subs, s)
		close(s.ch)
	}
}

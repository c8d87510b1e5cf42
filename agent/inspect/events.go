package inspect

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// maxSubscribers bounds the open event streams.
const maxSubscribers = 64

// subscriber is one open event stream. Notifications coalesce: the proxy
// only marks an id as changed, and the stream's goroutine sends the
// entry's state when it gets to it. Nothing here ever blocks the proxy.
type subscriber struct {
	mu      sync.Mutex
	ids     []uint64
	set     map[uint64]struct{}
	cleared bool
	resync  bool // too far behind: the client is told to reload the list
	wake    chan struct{}
}

func (i *Inspector) subscribe() (*subscriber, bool) {
	s := &subscriber{set: map[uint64]struct{}{}, wake: make(chan struct{}, 1)}
	i.subsMu.Lock()
	defer i.subsMu.Unlock()
	if len(i.subs) >= maxSubscribers {
		return nil, false
	}
	i.subs[s] = struct{}{}
	return s, true
}

func (i *Inspector) unsubscribe(s *subscriber) {
	i.subsMu.Lock()
	delete(i.subs, s)
	i.subsMu.Unlock()
}

// notify tells every stream that exchange id changed.
func (i *Inspector) notify(id uint64) {
	i.subsMu.Lock()
	defer i.subsMu.Unlock()
	for s := range i.subs {
		s.mu.Lock()
		if _, ok := s.set[id]; !ok && !s.resync {
			if len(s.ids) >= 2*i.cfg.MaxRequests {
				s.resync, s.ids = true, nil
				clear(s.set)
			} else {
				s.set[id] = struct{}{}
				s.ids = append(s.ids, id)
			}
		}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (i *Inspector) broadcastClear() {
	i.subsMu.Lock()
	defer i.subsMu.Unlock()
	for s := range i.subs {
		s.mu.Lock()
		s.cleared, s.ids = true, nil
		clear(s.set)
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// take returns what changed since the last call.
func (s *subscriber) take() (ids []uint64, cleared, resync bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids, cleared, resync = s.ids, s.cleared, s.resync
	s.ids, s.cleared, s.resync = nil, false, false
	clear(s.set)
	return
}

// hello is the first event of every stream (and of every reconnect): the
// client (re)loads the list after it.
type hello struct {
	MaxRequests int  `json:"max_requests"`
	MaxBody     int  `json:"max_body"`
	Redact      bool `json:"redact"`
	CanReplay   bool `json:"can_replay"`
}

func (i *Inspector) hello() hello {
	return hello{MaxRequests: i.cfg.MaxRequests, MaxBody: i.cfg.MaxBody, Redact: i.cfg.Redact, CanReplay: i.agent.Load() != nil}
}

// serveEvents is GET /api/events: Server-Sent Events. "hello" first, then
// "request" with a list entry each time an exchange begins, gets its
// response or ends, "clear" when the list is cleared, and "resync" when
// the client should reload the list.
func (i *Inspector) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	s, ok := i.subscribe()
	if !ok {
		apiError(w, http.StatusServiceUnavailable, "too many open event streams")
		return
	}
	defer i.unsubscribe(s)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		return nil
	}
	if _, err := fmt.Fprint(w, "retry: 1000\n\n"); err != nil {
		return
	}
	if send("hello", i.hello()) != nil || rc.Flush() != nil {
		return
	}
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-i.closed:
			return
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-s.wake:
			ids, cleared, resync := s.take()
			if cleared && send("clear", struct{}{}) != nil {
				return
			}
			if resync && send("resync", struct{}{}) != nil {
				return
			}
			for _, id := range ids {
				e := i.get(id)
				if e == nil {
					continue // evicted or cleared meanwhile
				}
				if send("request", e.entry()) != nil {
					return
				}
			}
			if rc.Flush() != nil {
				return
			}
		}
	}
}

package tui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/wire"
)

const (
	maxRequests = 10          // requests kept for the "HTTP Requests" list
	rateSlots   = 300         // one-second buckets: the 5-minute rate window
	maxSamples  = 1024        // latest latencies kept for p50/p90
	latWindow   = time.Minute // ...and only those younger than this
)

// board is what the agent has reported, shared by the agent's goroutines
// (which write) and the screen (which takes snapshots). Every method is
// O(1) apart from snapshot, so an event never holds the agent up.
type board struct {
	mu    sync.Mutex
	start time.Time
	label func(*agent.Tunnel) string

	status    string // "" until the first Status: shown as "connecting"
	statusErr error

	fwd []forward

	reqs  [maxRequests]request // ring, reqN total written
	reqN  int
	total int64

	slotSec [rateSlots]int64 // unix second each bucket counts
	slotN   [rateSlots]int64

	lat  [maxSamples]sample // ring, latN total written
	latN int
}

type forward struct {
	t     *agent.Tunnel
	label string
	urls  []string
	local string
}

type request struct {
	at     time.Time
	method string
	path   string
	status int
	dur    time.Duration
	err    error
	tcp    bool
}

type sample struct {
	at  time.Time
	dur time.Duration
}

func newBoard(now time.Time, label func(*agent.Tunnel) string) *board {
	return &board{start: now, label: label}
}

func (b *board) setStatus(state string, err error) {
	b.mu.Lock()
	b.status, b.statusErr = state, err
	b.mu.Unlock()
}

func (b *board) forwarding(t *agent.Tunnel, urls []string) {
	label := ""
	if b.label != nil && t != nil {
		label = b.label(t)
	}
	f := forward{t: t, label: label, urls: slices.Clone(urls), local: localAddr(t)}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.fwd {
		if b.fwd[i].t == t {
			b.fwd[i] = f
			return
		}
	}
	b.fwd = append(b.fwd, f)
}

func (b *board) request(now time.Time, r agent.RequestEvent) {
	q := request{at: now, method: r.Method, path: r.Path, status: r.Status, dur: r.Duration, err: r.Err}
	if r.Tunnel != nil && r.Tunnel.Kind == wire.KindTCP {
		q.tcp, q.path = true, r.ClientAddr
		if q.method == "" {
			q.method = "TCP"
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reqs[b.reqN%maxRequests] = q
	b.reqN++
	b.total++
	sec := now.Unix()
	i := int(uint64(sec) % rateSlots)
	if b.slotSec[i] != sec {
		b.slotSec[i], b.slotN[i] = sec, 0
	}
	b.slotN[i]++
	// Latency percentiles are over HTTP exchanges that got a response: a
	// TCP connection's "duration" is its lifetime, and a failed exchange's
	// is how long the failure took.
	if !q.tcp && r.Status != 0 {
		b.lat[b.latN%maxSamples] = sample{at: now, dur: r.Duration}
		b.latN++
	}
}

// snapshot is a copy of the board for one frame.
type snapshot struct {
	status    string
	statusErr error
	fwd       []forward
	reqs      []request // newest first
	total     int64
	rt1, rt5  float64 // requests per second over the last 1 and 5 minutes
	p50, p90  time.Duration
	samples   int // latencies behind p50 and p90
}

func (b *board) snapshot(now time.Time) snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := snapshot{status: b.status, statusErr: b.statusErr, total: b.total}
	s.fwd = slices.Clone(b.fwd)
	for i := range min(b.reqN, maxRequests) {
		s.reqs = append(s.reqs, b.reqs[(b.reqN-1-i)%maxRequests])
	}
	s.rt1 = b.rate(now, 60)
	s.rt5 = b.rate(now, rateSlots)
	var durs []time.Duration
	for i := range min(b.latN, maxSamples) {
		x := b.lat[(b.latN-1-i)%maxSamples]
		if now.Sub(x.at) > latWindow {
			break // older ones are older still
		}
		durs = append(durs, x.dur)
	}
	slices.Sort(durs)
	s.samples = len(durs)
	s.p50, s.p90 = percentile(durs, 50), percentile(durs, 90)
	return s
}

// rate is the requests per second over the last window seconds (the
// current, partial second included). Until the board is window seconds
// old, it averages over the board's age instead, so that the first minute
// shows a real rate rather than one diluted by time that has not passed.
func (b *board) rate(now time.Time, window int64) float64 {
	sec := now.Unix()
	var n int64
	for i := range rateSlots {
		if s := b.slotSec[i]; s > sec-window && s <= sec {
			n += b.slotN[i]
		}
	}
	span := now.Sub(b.start).Seconds()
	span = min(max(span, 1), float64(window))
	return float64(n) / span
}

// percentile is the nearest-rank percentile of sorted durations; 0 for
// none.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[min(max(k, 1), len(sorted))-1]
}

// localAddr is where a tunnel forwards to, as the forwarding line shows it.
func localAddr(t *agent.Tunnel) string {
	if t == nil {
		return ""
	}
	if t.Kind == wire.KindTCP {
		return "tcp://" + t.Upstream
	}
	if u, err := agent.ParseUpstream(t.Upstream); err == nil {
		return u.String()
	}
	return t.Upstream
}

// errText is err for one line of a screen or log: without the "wsgrok: "
// prefix every error of the agent has.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimPrefix(err.Error(), "wsgrok: ")
}

// errShort names a failed exchange's error in a few characters.
func errShort(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "refused"
	case strings.Contains(s, "timeout"), strings.Contains(s, "deadline exceeded"):
		return "timeout"
	case errors.Is(err, context.Canceled), strings.Contains(s, "canceled"):
		return "canceled"
	case strings.Contains(s, "connection reset"), strings.Contains(s, "broken pipe"), strings.Contains(s, "EOF"):
		return "reset"
	}
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

package edge

import (
	"testing"
	"time"
)

// TestUsageEventsRing: past maxEvents the oldest events give way, drain
// returns the newest in order, and recording stays allocation-free once
// the ring is full (it used to copy the whole window on every request).
func TestUsageEventsRing(t *testing.T) {
	var u usage
	tun := &Tunnel{Name: "web", Account: "acct"}
	start := time.Unix(1_700_000_000, 0)
	rec := func(i int) {
		u.record(exchangeRecord{t: tun, method: "GET", path: "/", status: 200, start: start, bytesOut: int64(i)})
	}
	for i := range maxEvents + 500 {
		rec(i)
	}
	if allocs := testing.AllocsPerRun(100, func() { rec(0) }); allocs != 0 {
		t.Errorf("record with a full ring: %v allocations, want 0", allocs)
	}
	for i := range maxEvents { // the AllocsPerRun calls are the oldest now
		rec(maxEvents + 500 + i)
	}
	counts, ev := u.drain()
	if len(ev) != maxEvents {
		t.Fatalf("drained %d events, want %d", len(ev), maxEvents)
	}
	for k, e := range ev {
		if want := int64(maxEvents + 500 + k); e.BytesOut != want {
			t.Fatalf("event %d has bytesOut %d, want %d (oldest first)", k, e.BytesOut, want)
		}
	}
	if len(counts) != 1 || counts[0].Requests != 2*maxEvents+500+101 {
		t.Fatalf("counts %+v", counts)
	}
	if u.lost != maxEvents+500+101 {
		t.Errorf("lost %d", u.lost)
	}
	if _, ev := u.drain(); len(ev) != 0 {
		t.Errorf("second drain returned %d events", len(ev))
	}
}

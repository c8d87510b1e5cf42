package inspect

import (
	"net/http"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/agent"
)

// TestBudgetHoldsWhileInFlight: exchanges still receiving their bodies
// never take the bytes held past MaxTotalBody, not even for a moment
// between a write and a trim; the newest keeps capturing at the cost of
// the oldest, and every size stays true.
func TestBudgetHoldsWhileInFlight(t *testing.T) {
	const budget, each = 1 << 20, 1 << 20
	ins := New(Config{MaxBody: each, MaxTotalBody: budget})
	tun := &agent.Tunnel{Subdomain: "demo"}
	var cps []agent.Capture
	for range 8 {
		cp := ins.Begin(tun, &agent.ObservedRequest{Method: "POST", Path: "/up", Header: http.Header{}, Start: time.Now()})
		cp.Response(200, http.Header{}, time.Millisecond)
		cps = append(cps, cp)
	}
	chunk := make([]byte, 32<<10)
	for range each / len(chunk) {
		for _, cp := range cps {
			cp.RequestBody(chunk)
			cp.ResponseBody(chunk)
			if h := ins.held.Load(); h > budget {
				t.Fatalf("%d body bytes held, budget %d", h, budget)
			}
		}
	}
	for _, cp := range cps {
		cp.Done(nil)
	}
	list := ins.Entries()
	if len(list) != 8 {
		t.Fatalf("%d exchanges kept, want 8", len(list))
	}
	newest, _ := ins.Detail(list[0].ID)
	if newest.Response.Body.Size != each || newest.Response.Body.Captured == 0 {
		t.Errorf("newest exchange: size %d, captured %d", newest.Response.Body.Size, newest.Response.Body.Captured)
	}
}

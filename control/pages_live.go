package control

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/wsgrok/wsgrok/control/api"
)

// The live pages: tunnels and traffic, kept current by one Server-Sent
// Events stream per open page (GET /events).

// sseKeepalive is how often an idle event stream sends a comment, so that
// proxies keep it open and a logged-out session's stream ends.
const sseKeepalive = 15 * time.Second

type tunnelsData struct {
	Tunnels []api.Tunnel
}

func (u *web) tunnelsPage(w http.ResponseWriter, r *http.Request, p *principal) {
	d := tunnelsData{Tunnels: u.s.live.tunnels(p.acct.ID, u.s.cfg.now())}
	v := u.view(p, "Tunnels", "tunnels", d)
	v.Live = "tunnels"
	u.render(w, r, http.StatusOK, "tunnels.html", v)
}

type trafficData struct {
	Events    []api.RequestEvent // newest first
	Endpoints []string
}

func (u *web) trafficPage(w http.ResponseWriter, r *http.Request, p *principal) {
	evs := u.s.live.recent(p.acct.ID)
	slices.Reverse(evs)
	var eps []string
	for _, e := range evs {
		if !slices.Contains(eps, e.Endpoint) {
			eps = append(eps, e.Endpoint)
		}
	}
	for _, t := range u.s.live.tunnels(p.acct.ID, u.s.cfg.now()) {
		if !slices.Contains(eps, t.Name) {
			eps = append(eps, t.Name)
		}
	}
	slices.Sort(eps)
	v := u.view(p, "Traffic", "traffic", trafficData{Events: evs, Endpoints: eps})
	v.Live = "traffic"
	u.render(w, r, http.StatusOK, "traffic.html", v)
}

// sseEvent is the data of one event: HTML rendered by the same partial
// templates as the page, so that the script only swaps it in.
type sseEvent struct {
	HTML     string `json:"html,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	Count    int    `json:"count,omitempty"`
}

// events streams the account's live updates: "tunnels" (the whole list,
// rendered), "request" (one traffic row) and "usage" (new counters: the
// analytics page refetches its panel).
func (u *web) events(w http.ResponseWriter, r *http.Request, p *principal) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sub := u.s.live.subscribe(p.acct.ID)
	defer u.s.live.unsubscribe(sub)

	send := func(kind string, ev sseEvent) bool {
		b, _ := json.Marshal(ev)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", kind, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	sendTunnels := func(ts []api.Tunnel) bool {
		html, err := u.fragment("tunnels", tunnelsData{Tunnels: ts})
		if err != nil {
			u.s.log.Error("control: rendering tunnels", "err", err)
			return false
		}
		return send("tunnels", sseEvent{HTML: html, Count: len(ts)})
	}
	// The stream starts with the current state: what changed between the
	// page's render and the subscription is not lost.
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil || !sendTunnels(u.s.live.tunnels(p.acct.ID, u.s.cfg.now())) {
		return
	}
	tick := time.NewTicker(sseKeepalive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if _, err := u.s.st.SessionByID(r.Context(), p.sess.ID); err != nil {
				send("logout", sseEvent{})
				return
			}
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case upd, ok := <-sub.ch:
			if !ok {
				return // the service is closing
			}
			var alive bool
			switch upd.kind {
			case "tunnels":
				alive = sendTunnels(upd.tunnels)
			case "request":
				html, err := u.fragment("reqrow", upd.event)
				if err != nil {
					u.s.log.Error("control: rendering a request", "err", err)
					return
				}
				alive = send("request", sseEvent{HTML: html, Endpoint: upd.event.Endpoint})
			case "usage":
				alive = send("usage", sseEvent{})
			default:
				alive = true
			}
			if !alive {
				return
			}
		}
	}
}

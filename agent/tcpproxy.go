package agent

import (
	"net"
	"time"

	"github.com/wsgrok/wsgrok/proto"
)

// serveTCP carries one public TCP connection to the local service.
func (a *Agent) serveTCP(t *Tunnel, st *proto.Stream) {
	start := time.Now()
	ev := RequestEvent{Tunnel: t, Method: "TCP", ClientAddr: st.ClientAddr()}
	c, err := net.DialTimeout("tcp", t.Upstream, 5*time.Second)
	if err != nil {
		st.Reset(upstreamCode(err))
		ev.Err = err
		ev.Duration = time.Since(start)
		a.event(ev)
		return
	}
	ev.BytesIn, ev.BytesOut = splice(c.(*net.TCPConn), st)
	ev.Duration = time.Since(start)
	a.event(ev)
}

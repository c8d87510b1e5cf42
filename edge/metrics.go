package edge

import (
	"fmt"
	"io"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// edgeMetrics are the counters on /metrics. Each Edge has its own Set, so
// several edges in one process (tests) do not collide.
type edgeMetrics struct {
	set          *metrics.Set
	sessions     *metrics.Counter // gauge-like: Inc/Dec
	agentRefused *metrics.Counter
	bytesIn      *metrics.Counter // from public clients
	bytesOut     *metrics.Counter // to public clients
	handoffs     *metrics.Counter
	conns        *metrics.Counter
	latency      *metrics.Histogram
}

func newEdgeMetrics(streams func() float64, tunnels func() float64, rtt func() float64) *edgeMetrics {
	s := metrics.NewSet()
	m := &edgeMetrics{
		set:          s,
		sessions:     s.NewCounter("wsgrok_edge_agent_sessions"),
		agentRefused: s.NewCounter("wsgrok_edge_agent_refused_total"),
		bytesIn:      s.NewCounter("wsgrok_edge_public_bytes_in_total"),
		bytesOut:     s.NewCounter("wsgrok_edge_public_bytes_out_total"),
		handoffs:     s.NewCounter("wsgrok_edge_http_handoffs_total"),
		conns:        s.NewCounter("wsgrok_edge_public_connections"),
		latency:      s.NewHistogram("wsgrok_edge_request_duration_seconds"),
	}
	s.NewGauge("wsgrok_edge_streams", streams)
	s.NewGauge("wsgrok_edge_tunnels", tunnels)
	s.NewGauge("wsgrok_edge_agent_rtt_seconds_max", rtt)
	return m
}

// request counts one finished public request.
func (m *edgeMetrics) request(ingress string, status int, start time.Time) {
	class := "5xx"
	switch {
	case status < 200:
		class = "1xx"
	case status < 300:
		class = "2xx"
	case status < 400:
		class = "3xx"
	case status < 500:
		class = "4xx"
	}
	m.set.GetOrCreateCounter(fmt.Sprintf(`wsgrok_edge_requests_total{ingress=%q,class=%q}`, ingress, class)).Inc()
	m.latency.UpdateDuration(start)
}

func (m *edgeMetrics) write(w io.Writer) { m.set.WritePrometheus(w) }

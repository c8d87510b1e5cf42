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
	// requests holds wsgrok_edge_requests_total by ingress and status
	// class, made up front and read-only after: a Sprintf and a lookup
	// by name for every request were two of the edge's allocations.
	requests map[string]*[len(statusClasses)]*metrics.Counter
}

// statusClasses are the class labels of wsgrok_edge_requests_total.
var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// ingresses are the ingress labels of wsgrok_edge_requests_total.
var ingresses = [...]string{"http", "https"}

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
	m.requests = map[string]*[len(statusClasses)]*metrics.Counter{}
	for _, in := range ingresses {
		var cs [len(statusClasses)]*metrics.Counter
		for i, class := range statusClasses {
			cs[i] = s.NewCounter(requestsName(in, class))
		}
		m.requests[in] = &cs
	}
	s.NewGauge("wsgrok_edge_streams", streams)
	s.NewGauge("wsgrok_edge_tunnels", tunnels)
	s.NewGauge("wsgrok_edge_agent_rtt_seconds_max", rtt)
	return m
}

// request counts one finished public request.
func (m *edgeMetrics) request(ingress string, status int, start time.Time) {
	class := min(max(status/100, 1), 5) - 1
	if cs := m.requests[ingress]; cs != nil {
		cs[class].Inc()
	} else {
		m.set.GetOrCreateCounter(requestsName(ingress, statusClasses[class])).Inc()
	}
	m.latency.UpdateDuration(start)
}

func requestsName(ingress, class string) string {
	return fmt.Sprintf(`wsgrok_edge_requests_total{ingress=%q,class=%q}`, ingress, class)
}

func (m *edgeMetrics) write(w io.Writer) { m.set.WritePrometheus(w) }

package edge

import (
	"context"
	"errors"
	"time"

	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/wire"
)

// forwarder holds what both HTTP ingress paths share: routing, the hold
// for an agent that is reconnecting, the request block, and the mapping
// from stream failures to error pages.
type forwarder struct {
	usage       usage
	reportUsage bool // a control service drains usage; without one nothing is gathered
	reg         *Registry
	hold        time.Duration // how long a request waits for an offline agent
	headTimeout time.Duration // how long the agent may take to answer with a head
	m           *edgeMetrics
}

// requestMeta is what the edge tells the agent in OPEN.
func requestMeta(proto string, tls bool, start time.Time) wire.Metadata {
	m := make(wire.Metadata, 2, 3) // room for tls: one allocation, not two
	m[0] = wire.Field{Key: "proto", Value: proto}
	m[1] = wire.Field{Key: "start", Value: itoa64(start.UnixNano())}
	if tls {
		m = append(m, wire.Field{Key: "tls", Value: "1"})
	}
	return m
}

// forwardHeaders finishes a request's header list: the forwarding fields
// are the edge's own (overwriting what the client sent, which it can
// forge), and a tunnel may rewrite the authority.
func forwardHeaders(h *wire.RequestHead, client string, origHost string, stripAuth bool) {
	out := h.Header[:0]
	for _, f := range h.Header {
		switch f.Name {
		case "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded", "x-real-ip":
			continue
		case "host": // carried as :authority
			continue
		case "authorization":
			if stripAuth { // the tunnel's basic auth used it: not the app's to see
				continue
			}
		}
		out = append(out, f)
	}
	out = append(out,
		wire.HeaderField{Name: "x-forwarded-for", Value: client},
		wire.HeaderField{Name: "x-forwarded-proto", Value: h.Scheme},
		wire.HeaderField{Name: "x-forwarded-host", Value: origHost})
	h.Header = out
}

// open opens a stream on t, waiting up to the hold for an agent that is
// reconnecting.
func (f *forwarder) open(ctx context.Context, t *Tunnel, o proto.OpenOptions) (*proto.Stream, error) {
	var timer *time.Timer
	for {
		st, err := t.Open(o)
		if err == nil || !errors.Is(err, ErrAgentOffline) {
			return st, err
		}
		if timer == nil {
			timer = time.NewTimer(f.hold)
			defer timer.Stop()
		}
		select {
		case <-t.Online():
		case <-timer.C:
			return nil, ErrAgentOffline
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// failureKind maps why a stream failed before a response head to the page
// the client sees.
func failureKind(err error) errKind {
	var re *proto.ResetError
	if errors.As(err, &re) {
		switch re.Code {
		case wire.ErrCodeUpstreamRefused:
			return errUpstreamRefuse
		case wire.ErrCodeUpstreamTimeout:
			return errUpstreamTime
		case wire.ErrCodeRefusedStream:
			return errTunnelBusy
		}
		return errAgentFailed
	}
	switch {
	case errors.Is(err, ErrAgentOffline):
		return errAgentOffline
	case errors.Is(err, proto.ErrStreamLimit):
		return errTunnelBusy
	case errors.Is(err, errHeadTimeout):
		return errUpstreamTime
	}
	return errAgentOffline // the session died under the request
}

var errHeadTimeout = errors.New("wsgrok: agent sent no response head in time")

// retryable reports whether a failed stream was surely not processed by
// the agent, so that a request without a body may go to another session.
func retryable(err error) bool {
	var re *proto.ResetError
	if errors.As(err, &re) {
		return re.Code == wire.ErrCodeRefusedStream
	}
	return errors.Is(err, proto.ErrSessionClosed) || errors.Is(err, proto.ErrGoAway)
}

func itoa64(v int64) string {
	var b [20]byte
	i := len(b)
	neg := v < 0
	if neg {
		v = -v
	}
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// finish counts a finished request: metrics, usage and the traffic view.
func (f *forwarder) finish(ingress string, r exchangeRecord) {
	f.m.request(ingress, r.status, r.start)
	if r.t != nil && f.reportUsage {
		f.usage.record(r)
	}
}

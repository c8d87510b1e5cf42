package proto

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"github.com/wsgrok/wsgrok/wire"
)

// pingWaiters lets Ping callers wait for the next answered PING.
type pingWaiters struct {
	mu sync.Mutex
	ch chan struct{} // closed when the outstanding PING is answered
}

func (p *pingWaiters) wait() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ch == nil {
		p.ch = make(chan struct{})
	}
	return p.ch
}

func (p *pingWaiters) release() {
	p.mu.Lock()
	if p.ch != nil {
		close(p.ch)
		p.ch = nil
	}
	p.mu.Unlock()
}

// sendPing sends a PING unless one is outstanding.
func (s *Session) sendPing() {
	now := time.Now().UnixNano()
	if !s.pingSent.CompareAndSwap(0, now) {
		return
	}
	payload := s.pingPayload.Add(1)
	s.w.control(func(b []byte) []byte {
		f := wire.Ping{}
		binary.BigEndian.PutUint64(f.Data[:], payload)
		return f.Append(b)
	}, false)
}

func (s *Session) handlePing(f *wire.Ping) error {
	if !f.IsAck() {
		ack := wire.Ping{Flags: wire.FlagAck, Data: f.Data}
		return s.w.control(ack.Append, true)
	}
	if binary.BigEndian.Uint64(f.Data[:]) != s.pingPayload.Load() {
		return nil // not ours, or stale: ignored (spec §7)
	}
	if sent := s.pingSent.Swap(0); sent != 0 {
		s.rtt.Store(time.Now().UnixNano() - sent)
		s.pingWaiters.release()
	}
	return nil
}

// Ping measures the round-trip time now.
func (s *Session) Ping(ctx context.Context) (time.Duration, error) {
	ch := s.pingWaiters.wait()
	s.sendPing()
	select {
	case <-ch:
		return s.RTT(), nil
	case <-s.closed:
		return 0, s.closedErr()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// heartbeatLoop sends PINGs and ends the session when the peer falls
// silent or our writes stop making progress (spec §7).
func (s *Session) heartbeatLoop() {
	defer s.wg.Done()
	interval := s.cfg.HeartbeatInterval
	tick := min(interval, s.cfg.DeadPeerTimeout/4)
	t := time.NewTicker(tick)
	defer t.Stop()
	lastPing := time.Now()
	for {
		select {
		case <-s.closed:
			return
		case now := <-t.C:
			dead := s.cfg.DeadPeerTimeout
			if silent := now.Sub(time.Unix(0, s.lastRecv.Load())); silent > dead {
				s.closeWith(wire.ConnError{Code: wire.ErrCodeTimeout, Reason: "peer silent for " + silent.Round(time.Millisecond).String()},
					wire.ErrCodeTimeout, "no frame received within the dead-peer deadline")
				return
			}
			if began := s.w.writing.Load(); began != 0 {
				if stalled := now.Sub(time.Unix(0, began)); stalled > dead {
					// The peer stopped reading: a blocked write must not hold
					// the session forever (yamux GHSA-29qp-crvh-w22m).
					s.closeWith(wire.ConnError{Code: wire.ErrCodeTimeout, Reason: "writes blocked for " + stalled.Round(time.Millisecond).String()},
						wire.ErrCodeTimeout, "peer stopped reading")
					return
				}
			}
			if s.w.writing.Load() == 0 && now.Sub(time.Unix(0, s.lastRecv.Load())) > tick {
				s.w.trimIdle()
			}
			if now.Sub(lastPing) >= interval {
				lastPing = now
				if sent := s.pingSent.Load(); sent != 0 && now.Sub(time.Unix(0, sent)) > dead {
					s.pingSent.Store(0) // lost; allow a new one
				}
				s.sendPing()
			}
		}
	}
}

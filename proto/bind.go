package proto

import (
	"context"

	"github.com/wsgrok/wsgrok/wire"
)

// Bind asks the server for a tunnel (spec §11.9) and waits for its answer.
// A refusal returns the BindResult and a *PeerError with its code and
// message. Client only.
func (s *Session) Bind(ctx context.Context, b wire.Bind) (wire.BindResult, error) {
	ch := make(chan wire.BindResult, 1)
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		return wire.BindResult{}, s.closedErr()
	default:
	}
	s.nextBindID++
	b.RequestID = s.nextBindID
	s.pendingBind[b.RequestID] = ch
	s.mu.Unlock()
	if err := s.w.control(b.Append, false); err != nil {
		return wire.BindResult{}, s.closedErr()
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return wire.BindResult{}, s.closedErr()
		}
		if r.Code != wire.ErrCodeNo {
			return r, &PeerError{Code: r.Code, Message: r.Message}
		}
		return r, nil
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.pendingBind, b.RequestID)
		s.mu.Unlock()
		return wire.BindResult{}, ctx.Err()
	}
}

// Unbind releases a tunnel (client) or takes it away (server) (spec §11.11).
func (s *Session) Unbind(tunnelID uint32, code wire.ErrCode, msg string) error {
	return s.w.control((&wire.Unbind{TunnelID: tunnelID, Code: code, Message: msg}).Append, false)
}

func (s *Session) handleBind(b wire.Bind) error {
	if s.client {
		return wire.ConnError{Code: wire.ErrCodeProtocol, Reason: "BIND sent to a client"}
	}
	select {
	case s.bindSlots <- struct{}{}:
	default:
		return wire.ConnError{Code: wire.ErrCodeEnhanceYourCalm, Reason: "too many BINDs awaiting an answer"}
	}
	s.wg.Add(1)
	go s.answerBind(b)
	return nil
}

func (s *Session) answerBind(b wire.Bind) {
	defer s.wg.Done()
	defer func() { <-s.bindSlots }()
	var r wire.BindResult
	if s.cfg.OnBind != nil {
		r = s.cfg.OnBind(s, b)
	} else {
		r = wire.BindResult{Code: wire.ErrCodeInternal, Message: "this server does not bind tunnels"}
	}
	r.RequestID = b.RequestID
	if r.Code != wire.ErrCodeNo {
		r.TunnelID = 0
	} else if r.TunnelID == 0 {
		r = wire.BindResult{RequestID: b.RequestID, Code: wire.ErrCodeInternal, Message: "server bound no tunnel"}
	}
	s.w.control(r.Append, false)
}

func (s *Session) handleBindResult(r wire.BindResult) error {
	if !s.client {
		return wire.ConnError{Code: wire.ErrCodeProtocol, Reason: "BIND_RESULT sent to a server"}
	}
	s.mu.Lock()
	ch, ok := s.pendingBind[r.RequestID]
	delete(s.pendingBind, r.RequestID)
	s.mu.Unlock()
	if !ok {
		// Spec §11.10; a BIND we gave up on (ctx) is forgotten, so its late
		// answer is tolerated only if the id is one we issued.
		s.mu.RLock()
		issued := r.RequestID != 0 && r.RequestID <= s.nextBindID
		s.mu.RUnlock()
		if issued {
			return nil
		}
		return wire.ConnError{Code: wire.ErrCodeProtocol, Reason: "BIND_RESULT for no outstanding BIND"}
	}
	ch <- r
	return nil
}

package proto

import "github.com/wsgrok/wsgrok/wire"

// NextFrameIsOwn reports whether the session's reader already holds the
// header of the next frame and that frame is a DATA, HEADERS or RESET of
// this stream: a Receiver callback for st (OnData, OnHeaders or OnReset,
// the last also when the frame turns out malformed) follows at once, so
// the Receiver may hold a small write back to join it with what that
// frame brings. Call it only from a Receiver's callback (the session's
// reader goroutine); elsewhere the answer is meaningless.
func (st *Stream) NextFrameIsOwn() bool {
	h, ok := st.s.rd.Peek()
	if !ok || h.StreamID != st.id {
		return false
	}
	switch h.Type {
	case wire.FrameData, wire.FrameHeaders, wire.FrameReset:
		return true
	}
	return false
}

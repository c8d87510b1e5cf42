package proto

// ReaderBuffered returns how many octets the session's reader already
// holds past the frame it is delivering: a hint that more frames follow
// at once, so that a Receiver may hold a small write back to join it with
// the next one. Call it only from a Receiver's callback (the session's
// reader goroutine); elsewhere the answer is meaningless.
func (st *Stream) ReaderBuffered() int { return st.s.rd.Buffered() }

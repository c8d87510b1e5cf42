package wire

import "encoding/binary"

// Unbind is an UNBIND frame (spec §11.11).
type Unbind struct {
	TunnelID uint32
	Code     ErrCode
	Message  string
}

// ParseUnbind validates an UNBIND payload.
func ParseUnbind(h FrameHeader, b []byte) (Unbind, error) {
	if err := requireSession(h); err != nil {
		return Unbind{}, err
	}
	p := payload{h: h, b: b}
	f := Unbind{
		TunnelID: p.u32("tunnel identifier"),
		Code:     ErrCode(p.u32("error code")),
		Message:  p.str("message"),
	}
	if err := p.done(); err != nil {
		return Unbind{}, err
	}
	return f, nil
}

func (f *Unbind) payloadLen() int { return 4 + 4 + 2 + len(f.Message) }

func (f *Unbind) Header() FrameHeader {
	return FrameHeader{Length: uint32(f.payloadLen()), Type: FrameUnbind}
}
func (f *Unbind) Len() int { return HeaderLen + f.payloadLen() }
func (f *Unbind) Append(b []byte) []byte {
	b = AppendHeader(b, f.payloadLen(), FrameUnbind, 0, 0)
	b = binary.BigEndian.AppendUint32(b, f.TunnelID)
	b = binary.BigEndian.AppendUint32(b, uint32(f.Code))
	return appendString(b, f.Message)
}

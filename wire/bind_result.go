package wire

import "encoding/binary"

// BindResult is a BIND_RESULT frame (spec §11.10): the server's answer to
// one BIND.
type BindResult struct {
	RequestID uint32
	Code      ErrCode
	TunnelID  uint32
	Message   string
	Meta      Metadata
}

// ParseBindResult validates a BIND_RESULT payload.
func ParseBindResult(h FrameHeader, b []byte) (BindResult, error) {
	if err := requireSession(h); err != nil {
		return BindResult{}, err
	}
	p := payload{h: h, b: b}
	f := BindResult{
		RequestID: p.u32("request identifier"),
		Code:      ErrCode(p.u32("error code")),
		TunnelID:  p.u32("tunnel identifier"),
		Message:   p.str("message"),
		Meta:      p.meta("metadata"),
	}
	if err := p.done(); err != nil {
		return BindResult{}, err
	}
	if (f.Code == ErrCodeNo) != (f.TunnelID != 0) {
		// Spec §11.10: success names a tunnel, failure names none.
		return BindResult{}, connErr(ErrCodeProtocol, "BIND_RESULT with code %v and tunnel %d", f.Code, f.TunnelID)
	}
	return f, nil
}

func (f *BindResult) payloadLen() int { return 4 + 4 + 4 + 2 + len(f.Message) + f.Meta.encodedLen() }

func (f *BindResult) Header() FrameHeader {
	return FrameHeader{Length: uint32(f.payloadLen()), Type: FrameBindResult}
}
func (f *BindResult) Len() int { return HeaderLen + f.payloadLen() }
func (f *BindResult) Append(b []byte) []byte {
	b = AppendHeader(b, f.payloadLen(), FrameBindResult, 0, 0)
	b = binary.BigEndian.AppendUint32(b, f.RequestID)
	b = binary.BigEndian.AppendUint32(b, uint32(f.Code))
	b = binary.BigEndian.AppendUint32(b, f.TunnelID)
	b = appendString(b, f.Message)
	return appendMetadata(b, f.Meta)
}

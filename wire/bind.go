package wire

import "encoding/binary"

// Bind is a BIND frame (spec §11.9): the client asks for a tunnel.
type Bind struct {
	RequestID uint32
	Kind      StreamKind
	Name      string
	Options   Metadata
}

// ParseBind validates a BIND payload. The name's syntax is the server's
// to judge; it answers NAME_INVALID in BIND_RESULT.
func ParseBind(h FrameHeader, b []byte) (Bind, error) {
	if err := requireSession(h); err != nil {
		return Bind{}, err
	}
	p := payload{h: h, b: b}
	f := Bind{
		RequestID: p.u32("request identifier"),
		Kind:      StreamKind(p.u8("kind")),
		Name:      p.str("name"),
		Options:   p.meta("options"),
	}
	if err := p.done(); err != nil {
		return Bind{}, err
	}
	return f, nil
}

func (f *Bind) payloadLen() int { return 4 + 1 + 2 + len(f.Name) + f.Options.encodedLen() }

func (f *Bind) Header() FrameHeader {
	return FrameHeader{Length: uint32(f.payloadLen()), Type: FrameBind}
}
func (f *Bind) Len() int { return HeaderLen + f.payloadLen() }
func (f *Bind) Append(b []byte) []byte {
	b = AppendHeader(b, f.payloadLen(), FrameBind, 0, 0)
	b = binary.BigEndian.AppendUint32(b, f.RequestID)
	b = append(b, byte(f.Kind))
	b = appendString(b, f.Name)
	return appendMetadata(b, f.Options)
}

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

// ValidName reports whether s may be an HTTP tunnel's name, the subdomain
// label of BIND (spec §11.9): lower-case letters, digits and hyphens, 1 to
// 63 long, no hyphen at either end. The edge answers NAME_INVALID to any
// other; agents and the control service check with the same rule before
// asking.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

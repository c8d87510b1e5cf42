package wire

import (
	"encoding/binary"
	"strconv"
)

// StreamKind says what a stream or tunnel carries (spec §11.3).
type StreamKind uint8

// Stream kinds.
const (
	KindHTTP StreamKind = 0x01
	KindTCP  StreamKind = 0x02
)

func (k StreamKind) String() string {
	switch k {
	case KindHTTP:
		return "http"
	case KindTCP:
		return "tcp"
	}
	return "UNKNOWN_KIND_" + strconv.Itoa(int(k))
}

// MaxRemoteAddrLen bounds OPEN's Remote Address (spec §11.3).
const MaxRemoteAddrLen = 255

// Open is an OPEN frame (spec §11.3): it opens a stream for a tunnel.
type Open struct {
	StreamID   uint32
	TunnelID   uint32
	Kind       StreamKind
	RemoteAddr string
	Meta       Metadata
}

// ParseOpen validates an OPEN payload. Kind and TunnelID are checked by the
// session, which answers with stream errors.
func ParseOpen(h FrameHeader, b []byte) (Open, error) {
	if err := requireStream(h); err != nil {
		return Open{}, err
	}
	p := payload{h: h, b: b}
	f := Open{StreamID: h.StreamID}
	f.TunnelID = p.u32("tunnel identifier")
	f.Kind = StreamKind(p.u8("kind"))
	f.RemoteAddr = p.str("remote address")
	f.Meta = p.meta("metadata")
	if err := p.done(); err != nil {
		return Open{}, err
	}
	if len(f.RemoteAddr) > MaxRemoteAddrLen {
		return Open{}, connErr(ErrCodeProtocol, "OPEN remote address of %d octets, at most %d", len(f.RemoteAddr), MaxRemoteAddrLen)
	}
	return f, nil
}

func (f *Open) payloadLen() int { return 4 + 1 + 2 + len(f.RemoteAddr) + f.Meta.encodedLen() }

func (f *Open) Header() FrameHeader {
	return FrameHeader{Length: uint32(f.payloadLen()), Type: FrameOpen, StreamID: f.StreamID}
}
func (f *Open) Len() int { return HeaderLen + f.payloadLen() }
func (f *Open) Append(b []byte) []byte {
	b = AppendHeader(b, f.payloadLen(), FrameOpen, 0, f.StreamID)
	b = binary.BigEndian.AppendUint32(b, f.TunnelID)
	b = append(b, byte(f.Kind))
	b = appendString(b, f.RemoteAddr)
	return appendMetadata(b, f.Meta)
}

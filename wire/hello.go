package wire

import "encoding/binary"

// Hello is a HELLO frame (spec §11.8), the handshake of spec §3.
type Hello struct {
	Flags    Flags
	Versions []uint16
	Status   ErrCode
	Settings []Setting
	Meta     Metadata
}

// IsAck reports whether this is the server's answer.
func (f *Hello) IsAck() bool { return f.Flags.Has(FlagAck) }

// ParseHello validates a HELLO payload: at least one version, a zero status
// from the client, no setting twice, every known setting in range.
func ParseHello(h FrameHeader, b []byte) (Hello, error) {
	if err := requireSession(h); err != nil {
		return Hello{}, err
	}
	p := payload{h: h, b: b}
	f := Hello{Flags: h.Flags}
	nv := int(p.u8("version count"))
	if nv > 0 && len(p.b) >= 2*nv {
		f.Versions = make([]uint16, nv)
		for i := range f.Versions {
			f.Versions[i] = p.u16("versions")
		}
	} else if nv > 0 {
		p.short("versions")
	}
	f.Status = ErrCode(p.u32("status"))
	ns := int(p.u16("setting count"))
	if ns > 0 && len(p.b) >= 6*ns {
		f.Settings = make([]Setting, ns)
		for i := range f.Settings {
			f.Settings[i] = Setting{SettingID(p.u16("settings")), p.u32("settings")}
		}
	} else if ns > 0 {
		p.short("settings")
	}
	f.Meta = p.meta("metadata")
	if err := p.done(); err != nil {
		return Hello{}, err
	}
	if nv == 0 {
		return Hello{}, connErr(ErrCodeProtocol, "HELLO offers no version")
	}
	if !f.IsAck() && f.Status != ErrCodeNo {
		return Hello{}, connErr(ErrCodeProtocol, "client HELLO with status %v", f.Status)
	}
	var seen [1 << 16 / 64]uint64
	for _, s := range f.Settings {
		if seen[s.ID/64]&(1<<(s.ID%64)) != 0 {
			return Hello{}, connErr(ErrCodeProtocol, "HELLO carries setting %v twice", s.ID)
		}
		seen[s.ID/64] |= 1 << (s.ID % 64)
		if err := s.Valid(); err != nil {
			return Hello{}, err
		}
	}
	return f, nil
}

func (f *Hello) payloadLen() int {
	return 1 + 2*len(f.Versions) + 4 + 2 + 6*len(f.Settings) + f.Meta.encodedLen()
}

func (f *Hello) Header() FrameHeader {
	return FrameHeader{Length: uint32(f.payloadLen()), Type: FrameHello, Flags: f.Flags}
}
func (f *Hello) Len() int { return HeaderLen + f.payloadLen() }
func (f *Hello) Append(b []byte) []byte {
	b = AppendHeader(b, f.payloadLen(), FrameHello, f.Flags, 0)
	b = append(b, byte(len(f.Versions)))
	for _, v := range f.Versions {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(f.Status))
	b = binary.BigEndian.AppendUint16(b, uint16(len(f.Settings)))
	for _, s := range f.Settings {
		b = binary.BigEndian.AppendUint16(b, uint16(s.ID))
		b = binary.BigEndian.AppendUint32(b, s.Value)
	}
	return appendMetadata(b, f.Meta)
}

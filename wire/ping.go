package wire

// Ping is a PING frame (spec §11.6).
type Ping struct {
	Flags Flags
	Data  [8]byte
}

// ParsePing validates a PING payload.
func ParsePing(h FrameHeader, p []byte) (Ping, error) {
	if err := requireSession(h); err != nil {
		return Ping{}, err
	}
	if len(p) != 8 {
		return Ping{}, frameSizeErr(h, "length %d, must be 8", len(p))
	}
	f := Ping{Flags: h.Flags}
	copy(f.Data[:], p)
	return f, nil
}

// IsAck reports whether the PING answers one the receiver sent.
func (f *Ping) IsAck() bool { return f.Flags.Has(FlagAck) }

func (f *Ping) Header() FrameHeader {
	return FrameHeader{Length: 8, Type: FramePing, Flags: f.Flags}
}
func (f *Ping) Len() int { return HeaderLen + 8 }
func (f *Ping) Append(b []byte) []byte {
	b = AppendHeader(b, 8, FramePing, f.Flags, 0)
	return append(b, f.Data[:]...)
}

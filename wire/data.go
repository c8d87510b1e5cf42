package wire

// Data is a DATA frame (spec §11.1). Data aliases the buffer it was parsed
// from; when FlagCompressed is set it holds an S2 block (see Decompress).
type Data struct {
	StreamID uint32
	Flags    Flags
	Data     []byte
}

// ParseData validates a DATA payload. It does not allocate.
func ParseData(h FrameHeader, p []byte) (Data, error) {
	if err := requireStream(h); err != nil {
		return Data{}, err
	}
	return Data{StreamID: h.StreamID, Flags: h.Flags, Data: p}, nil
}

// EndStream reports whether the frame half-closes its stream.
func (f *Data) EndStream() bool { return f.Flags.Has(FlagEndStream) }

func (f *Data) Header() FrameHeader {
	return FrameHeader{Length: uint32(len(f.Data)), Type: FrameData, Flags: f.Flags, StreamID: f.StreamID}
}
func (f *Data) Len() int { return HeaderLen + len(f.Data) }
func (f *Data) Append(b []byte) []byte {
	return AppendData(b, f.StreamID, f.Flags, f.Data)
}

// AppendData appends a DATA frame without building a Data value; it is the
// hot path of every stream write.
func AppendData(b []byte, streamID uint32, flags Flags, data []byte) []byte {
	b = AppendHeader(b, len(data), FrameData, flags, streamID)
	return append(b, data...)
}

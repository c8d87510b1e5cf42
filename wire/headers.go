package wire

// Headers is a HEADERS frame (spec §11.2): one complete HPACK block.
// Block aliases the buffer it was parsed from.
type Headers struct {
	StreamID uint32
	Flags    Flags
	Block    []byte
}

// ParseHeaders validates a HEADERS payload. It does not allocate; decoding
// the block is HeaderDecoder's job.
func ParseHeaders(h FrameHeader, p []byte) (Headers, error) {
	if err := requireStream(h); err != nil {
		return Headers{}, err
	}
	return Headers{StreamID: h.StreamID, Flags: h.Flags, Block: p}, nil
}

// EndStream reports whether the frame half-closes its stream.
func (f *Headers) EndStream() bool { return f.Flags.Has(FlagEndStream) }

func (f *Headers) Header() FrameHeader {
	return FrameHeader{Length: uint32(len(f.Block)), Type: FrameHeaders, Flags: f.Flags, StreamID: f.StreamID}
}
func (f *Headers) Len() int { return HeaderLen + len(f.Block) }
func (f *Headers) Append(b []byte) []byte {
	b = AppendHeader(b, len(f.Block), FrameHeaders, f.Flags, f.StreamID)
	return append(b, f.Block...)
}

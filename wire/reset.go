package wire

import "encoding/binary"

// Reset is a RESET frame (spec §11.4): it closes a stream at once.
type Reset struct {
	StreamID uint32
	Code     ErrCode
}

// ParseReset validates a RESET payload.
func ParseReset(h FrameHeader, p []byte) (Reset, error) {
	if err := requireStream(h); err != nil {
		return Reset{}, err
	}
	if len(p) != 4 {
		return Reset{}, frameSizeErr(h, "length %d, must be 4", len(p))
	}
	return Reset{StreamID: h.StreamID, Code: ErrCode(binary.BigEndian.Uint32(p))}, nil
}

func (f *Reset) Header() FrameHeader {
	return FrameHeader{Length: 4, Type: FrameReset, StreamID: f.StreamID}
}
func (f *Reset) Len() int { return HeaderLen + 4 }
func (f *Reset) Append(b []byte) []byte {
	b = AppendHeader(b, 4, FrameReset, 0, f.StreamID)
	return binary.BigEndian.AppendUint32(b, uint32(f.Code))
}
